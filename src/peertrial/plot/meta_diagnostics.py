"""Diagnostic figures for meta-analyses: funnel (plain, contour-enhanced, trim and fill),
Baujat, cumulative forest and subgroup forest plots.

Each function takes a result (an ``rma`` fit, a ``trimfill`` result, a ``cumul``
table or a ``subgroup`` result) and returns the ``matplotlib.figure.Figure``; the
numbers come from :mod:`peertrial.meta`, nothing is fitted here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from peertrial.plot._figure import single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["funnel", "baujat_plot", "cumul_forest", "leave1out_forest", "subgroup_forest"]

_GREYS = ("#ffffff", "#e6e6e6", "#bfbfbf", "#999999")


def _new_axes(ax, size):
    fig, ax, _ = single_axes(ax, size)
    return fig, ax


def funnel(result, *, contours=None, refline=None, level: float = 95.0, ax=None, xlabel: str | None = None,
           legend: bool = True) -> Figure:
    """Draw a funnel plot: study effect sizes against their standard errors (0 at the top).

    For a meta-regression (a fit with moderators) the points are the residuals ``yi - X b``,
    centred on 0, as metafor draws them.
    The pseudo-confidence region ``refline ± z * se`` is shaded, ``z`` the normal quantile of
    ``level``. With ``contours`` the funnel is contour-enhanced (Peters et al. 2008): centred on
    ``refline`` (default 0), shaded bands show where a study would be significant at two-sided
    ``p < 0.10, 0.05, 0.01``. Given a trim-and-fill result, filled-in studies are hollow points
    and the vertical line is the filled-in estimate. Studies without an estimate (e.g.
    double-zero tables of a Mantel–Haenszel fit) are left out.

    Parameters
    ----------
    result : RMAResult, MHResult or TrimFill
        A fit from :func:`peertrial.meta.rma` (or ``rma_mh``/``rma_peto``), or a
        :func:`peertrial.meta.trimfill` result (its ``yi``, ``vi``, ``fill`` and ``b``).
    contours : sequence of float, optional
        Up to three confidence levels, e.g. ``(0.90, 0.95, 0.99)``, for a contour-enhanced
        funnel.
    refline : float, optional
        Centre of the funnel and its vertical line (default: the pooled estimate; 0 with
        ``contours`` or for a meta-regression).
    level : float, default 95.0
        Level of the pseudo-confidence region, 95 or 0.95 alike (unused with ``contours``).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.
    xlabel : str, optional
        Axis label; by default the effect measure of the fit (e.g. "Log odds ratio").
    legend : bool, default True
        Show the legend of contours and filled studies (when there are any).

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Raises
    ------
    ValueError
        If more than three ``contours`` are given.

    Notes
    -----
    R equivalent: ``metafor::funnel`` (``funnel.rma`` and ``funnel.trimfill.rma``; metafor
    3.8-1), with ``yaxis = "sei"``; ``level`` and ``contours`` match its ``level`` argument.

    References
    ----------
    .. [1] Light, R. J., & Pillemer, D. B. (1984). Summing Up: The Science of Reviewing
       Research. Harvard University Press.
    .. [2] Sterne, J. A. C., & Egger, M. (2001). Funnel plots for detecting bias in
       meta-analysis: guidelines on choice of axis. Journal of Clinical Epidemiology, 54,
       1046-1055.
    .. [3] Peters, J. L., Sutton, A. J., Jones, D. R., Abrams, K. R., & Rushton, L. (2008).
       Contour-enhanced meta-analysis funnel plots help distinguish publication bias from
       other causes of asymmetry. Journal of Clinical Epidemiology, 61, 991-996.
    .. [4] Duval, S., & Tweedie, R. (2000). Trim and fill: a simple funnel-plot-based method
       of testing and adjusting for publication bias in meta-analysis. Biometrics, 56,
       455-463.

    Examples
    --------
    >>> import peertrial as pt
    >>> bcg = pt.datasets.load("bcg")
    >>> es = pt.meta.escalc("OR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es)
    >>> fig = pt.plot.funnel(fit, contours=(0.90, 0.95, 0.99))
    >>> fig.axes[0].get_ylabel()
    'Standard error'
    >>> fig2 = pt.plot.funnel(pt.meta.trimfill(fit))
    >>> pt.plot.close(fig); pt.plot.close(fig2)
    """
    yi = np.asarray(result.yi, dtype=float)
    sei = np.sqrt(np.asarray(result.vi, dtype=float))
    # a meta-regression: residuals yi - X b around 0, as metafor's funnel.rma does for models with moderators
    regression = getattr(result, "int_only", True) is False and getattr(result, "X", None) is not None
    if regression:
        yi = yi - np.asarray(result.X, dtype=float) @ np.ravel(np.asarray(result.b, dtype=float))
    if xlabel is None:
        from peertrial.plot.meta import _default_label

        fit = getattr(result, "fit", None) or result
        measure = getattr(fit, "measure", None) or "GEN"
        xlabel = ("Residual value" if regression else "Observed outcome" if measure == "GEN"
                  else _default_label(measure, False, getattr(fit, "method", "")))
    filled = np.asarray(getattr(result, "fill", np.zeros(yi.size, bool)), dtype=bool)
    shown = np.isfinite(yi) & np.isfinite(sei)  # studies without an estimate (double-zero tables) are not drawn
    yi, sei, filled = yi[shown], sei[shown], filled[shown]
    if refline is None:
        refline = 0.0 if contours or regression else float(np.ravel(result.b)[0])
    top = 0.0
    bottom = float(sei.max()) * 1.08
    se_grid = np.linspace(top, bottom, 100)
    with style():
        fig, ax = _new_axes(ax, (5.0, 4.0))
        if contours:
            levels = sorted(contours, reverse=True)  # e.g. 0.99, 0.95, 0.90: outermost band first
            if len(levels) > 3:
                raise ValueError("contours takes at most three levels, e.g. (0.90, 0.95, 0.99)")
            shades = _GREYS[: len(levels) + 1][::-1]  # darkest outside (smallest p)
            span = max(np.abs(yi - refline).max(), stats.norm.isf((1 - levels[0]) / 2) * bottom) * 1.1
            ax.fill_between([refline - span, refline + span], top, bottom, color=shades[0], lw=0)
            for shade, c in zip(shades[1:], levels):
                zc = stats.norm.isf((1 - c) / 2)
                ax.fill_betweenx(se_grid, refline - zc * se_grid, refline + zc * se_grid, color=shade, lw=0)
            ax.set_xlim(refline - span, refline + span)
            alphas = [1 - c for c in levels]  # 0.01, 0.05, 0.10
            bounds = [0.0, *alphas, 1.0]
            handles = [_patch(shades[i], f"{bounds[i]:g} < p < {bounds[i + 1]:g}") for i in range(len(shades))][::-1]
        else:
            from peertrial._data import confidence_level

            zc = stats.norm.isf((1 - confidence_level(level)) / 2)
            ax.fill_betweenx(se_grid, refline - zc * se_grid, refline + zc * se_grid, color="#f2f2f2", lw=0)
            ax.plot(refline - zc * se_grid, se_grid, color="#7f7f7f", lw=0.8, ls="--")
            ax.plot(refline + zc * se_grid, se_grid, color="#7f7f7f", lw=0.8, ls="--")
            handles = []
        ax.axvline(refline, color="#333333", lw=0.9)
        ax.scatter(yi[~filled], sei[~filled], s=22, color=PALETTE[0], edgecolor=PALETTE[0], zorder=3,
                   label="studies")
        if filled.any():
            ax.scatter(yi[filled], sei[filled], s=22, facecolor="white", edgecolor=PALETTE[0], zorder=3,
                       label=f"filled ({int(filled.sum())}, trim and fill)")
        ax.set_ylim(bottom, top)
        ax.set_ylabel("Standard error")
        ax.set_xlabel(xlabel)
        if legend and (handles or filled.any()):
            from matplotlib.lines import Line2D

            pts = [Line2D([], [], ls="", marker="o", color=PALETTE[0], label="studies")]
            if filled.any():
                pts.append(Line2D([], [], ls="", marker="o", markerfacecolor="white", color=PALETTE[0],
                                  label="filled (trim and fill)"))
            ax.legend(handles=handles + pts, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    return fig


def _patch(color, label):
    from matplotlib.patches import Patch

    return Patch(facecolor=color, edgecolor="#999999", lw=0.5, label=label)


def baujat_plot(fit, *, label: str | int = "all", ax=None) -> Figure:
    """Draw a Baujat plot: each study's contribution to heterogeneity against its influence on the pooled result.

    The coordinates come from :func:`peertrial.meta.baujat`: x is the study's squared Pearson
    residual ``(yi - fitted)² / (vi + tau2)`` (its contribution to Cochran's Q for an
    equal-effects model), y the squared change of its fitted value when the study is left
    out, divided by the variance of the fitted value without it. Studies in the top right both drive heterogeneity and move the result.

    Parameters
    ----------
    fit : RMAResult
        A fit from :func:`peertrial.meta.rma` (or ``rma_mh``/``rma_peto``).
    label : "all" or int, default "all"
        ``"all"`` labels every study with its label (``slab``); an int labels only that many
        of the most extreme studies (largest sum of the two scaled coordinates).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``metafor::baujat`` (``baujat.rma``; metafor 3.8-1), which returns the same
    coordinates and draws this picture.

    References
    ----------
    .. [1] Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for
       exploring heterogeneity in meta-analyses: application to a meta-analysis of 65 trials.
       Statistics in Medicine, 21, 2641-2652.

    Examples
    --------
    >>> import peertrial as pt
    >>> bcg = pt.datasets.load("bcg")
    >>> es = pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, slab=bcg["author"])
    >>> fig = pt.plot.baujat_plot(fit, label=3)
    >>> fig.axes[0].get_ylabel()
    'Influence on overall result'
    >>> pt.plot.close(fig)
    """
    from peertrial.meta import baujat as coordinates

    xy = coordinates(fit)
    with style():
        fig, ax = _new_axes(ax, (5.0, 4.0))
        ax.scatter(xy["x"], xy["y"], s=18, color=PALETTE[0])
        x, yv = xy["x"].to_numpy(), xy["y"].to_numpy()
        if label == "all":
            show = np.arange(len(xy))
        else:
            show = np.argsort(-(x / x.max() + yv / yv.max()), kind="stable")[: int(label)]
        for i in show:
            ax.annotate(str(xy.index[i]), (x[i], yv[i]), xytext=(3, 3), textcoords="offset points", fontsize=7)
        equal = str(getattr(fit, "method", "")) in ("EE", "FE")
        ax.set_xlabel("Contribution to overall heterogeneity" if equal else "Squared Pearson residual")
        ax.set_ylabel("Influence on overall result")
    return fig


def _forest_rows(ax, y, est, lb, ub, *, sizes=None, color=PALETTE[0]):
    ax.hlines(y, lb, ub, color="#333333", lw=0.8)
    s = 30 if sizes is None else sizes
    ax.scatter(est, y, marker="s", s=s, color=color, zorder=3)


def _diamond(ax, y, est, lb, ub, color="#333333", height=0.35):
    ax.fill([lb, est, ub, est], [y, y + height, y, y - height], color=color, lw=0)


def _log_axis_for_ratios(ax, transf):
    """Ratios (``transf=np.exp``) on a log axis, so that CIs stay symmetric."""
    if transf is np.exp:
        from matplotlib.ticker import FormatStrFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))


def _ci_text(est, lb, ub, transf):
    f = transf or (lambda v: v)
    return f"{f(est):.2f} [{f(lb):.2f}, {f(ub):.2f}]"


def cumul_forest(cumulative: pd.DataFrame, *, transf=None, xlabel: str = "Cumulative estimate", ax=None) -> Figure:
    """Draw the forest plot of a cumulative meta-analysis: the pooled estimate as each study is added.

    One row per step, labelled by the study added ("+ name" after the first), with the pooled
    estimate (diamond marker) and its CI, and the numbers at the right.

    Parameters
    ----------
    cumulative : pandas.DataFrame
        The table of :func:`peertrial.meta.cumul`: columns ``estimate``, ``ci_lb`` and
        ``ci_ub``, one row per step in order, indexed by the study added.
    transf : callable, optional
        Back-transformation, e.g. ``numpy.exp`` for odds or risk ratios (then drawn on a log
        axis with the reference line at 1).
    xlabel : str, default "Cumulative estimate"
        Axis label.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``metafor::forest`` on a ``cumul`` result (``forest.cumul.rma``; metafor
    3.8-1).

    References
    ----------
    .. [1] Lau, J., Antman, E. M., Jimenez-Silva, J., Kupelnick, B., Mosteller, F., &
       Chalmers, T. C. (1992). Cumulative meta-analysis of therapeutic trials for myocardial
       infarction. New England Journal of Medicine, 327, 248-254.

    Examples
    --------
    >>> import numpy as np
    >>> import peertrial as pt
    >>> bcg = pt.datasets.load("bcg")
    >>> es = pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, slab=bcg["author"])
    >>> fig = pt.plot.cumul_forest(pt.meta.cumul(fit), transf=np.exp, xlabel="Risk ratio")
    >>> len(fig.axes[0].get_yticks())
    13
    >>> pt.plot.close(fig)
    """
    n = len(cumulative)
    est = cumulative["estimate"].to_numpy(dtype=float)
    lb = cumulative["ci_lb"].to_numpy(dtype=float)
    ub = cumulative["ci_ub"].to_numpy(dtype=float)
    f = transf or (lambda v: v)
    y = np.arange(n, 0, -1)
    with style():
        fig, ax = _new_axes(ax, (6.5, 0.3 * n + 1.2))
        ax.hlines(y, f(lb), f(ub), color="#333333", lw=0.8)
        ax.scatter(f(est), y, marker="D", s=18, color=PALETTE[0], zorder=3)
        ax.axvline(f(0.0) if transf else 0.0, color="#999999", lw=0.7, ls=":")
        labels = [f"+ {s}" if i else str(s) for i, s in enumerate(cumulative.index)]
        ax.set_yticks(y, labels)
        ax.set_ylim(0.3, n + 0.7)
        for yy, e, lo, hi in zip(y, est, lb, ub):
            ax.annotate(_ci_text(e, lo, hi, transf), (1.01, yy), xycoords=("axes fraction", "data"), va="center",
                        fontsize=7)
        ax.set_xlabel(xlabel)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        _log_axis_for_ratios(ax, transf)
    return fig


def leave1out_forest(table: pd.DataFrame, fit=None, *, transf=None, xlabel: str = "Estimate without the study",
                     ax=None) -> Figure:
    """Forest plot of a leave-one-out analysis (the table of :func:`peertrial.meta.leave1out`):
    one row per omitted study with the pooled estimate and CI of the remaining studies.

    Parameters
    ----------
    table : DataFrame
        ``pt.meta.leave1out(fit)`` (columns ``estimate``, ``ci_lb``, ``ci_ub``; index: study).
    fit : RMAResult, optional
        The full fit: its estimate is drawn as a dotted line and its diamond at the bottom, so
        a study whose omission moves the estimate outside the full CI stands out.
    transf : callable, optional
        E.g. ``np.exp`` for odds or risk ratios (then drawn on a log axis).
    xlabel : str
    ax : matplotlib Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none as one call; metafor (3.8-1) has no ``forest`` method for
    ``leave1out`` results, and ``forest(x$estimate, ci.lb = x$ci.lb, ci.ub = x$ci.ub)``
    (``forest.default``) draws the same rows from its table.

    References
    ----------
    .. [1] Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
       meta-analysis. Research Synthesis Methods, 1, 112-125.

    Examples
    --------
    >>> import peertrial as pt
    >>> fit = pt.meta.rma([0.1, 0.3, 0.2, 0.5], [0.01, 0.02, 0.015, 0.03])
    >>> fig = pt.plot.leave1out_forest(pt.meta.leave1out(fit), fit)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()][-1]
    'All studies (k = 4)'
    >>> pt.plot.close(fig)
    """
    n = len(table)
    est = table["estimate"].to_numpy(dtype=float)
    lb = table["ci_lb"].to_numpy(dtype=float)
    ub = table["ci_ub"].to_numpy(dtype=float)
    f = transf or (lambda v: v)
    extra = 2 if fit is not None else 0
    y = np.arange(n, 0, -1) + extra
    with style():
        fig, ax = _new_axes(ax, (6.5, 0.3 * (n + extra) + 1.2))
        ok = np.isfinite(est)
        ax.hlines(y[ok], f(lb[ok]), f(ub[ok]), color="#333333", lw=0.8)
        ax.scatter(f(est[ok]), y[ok], marker="s", s=18, color=PALETTE[0], zorder=3)
        ax.axvline(f(0.0) if transf else 0.0, color="#999999", lw=0.7, ls=":")
        labels = [f"omitting {s}" for s in table.index]
        rows = [(yy, _ci_text(e, lo, hi, transf) if np.isfinite(e) else "not estimable")
                for yy, e, lo, hi in zip(y, est, lb, ub)]
        ticks = list(y)
        if fit is not None:
            b, cl, cu = float(np.ravel(fit.b)[0]), float(fit.ci_lb), float(fit.ci_ub)
            ax.axvline(f(b), color=PALETTE[1], lw=0.8, ls="--")
            _diamond(ax, 1, f(b), f(cl), f(cu), color=PALETTE[1])
            ax.axhline(1.9, color="#bbbbbb", lw=0.6)
            labels.append(f"All studies (k = {getattr(fit, 'k', n)})")
            rows.append((1, _ci_text(b, cl, cu, transf)))
            ticks.append(1)
        ax.set_yticks(ticks, labels)
        ax.set_ylim(0.3, n + extra + 0.7)
        for yy, text in rows:
            ax.annotate(text, (1.01, yy), xycoords=("axes fraction", "data"), va="center", fontsize=7)
        ax.set_xlabel(xlabel)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        _log_axis_for_ratios(ax, transf)
    return fig


def subgroup_forest(result, *, transf=None, xlabel: str = "Observed outcome", ax=None) -> Figure:
    """Draw the forest plot of a meta-analytic subgroup analysis, with subtotals and the test for subgroup differences.

    Studies are listed under a header per subgroup (square sized by the random-effects weight
    ``1 / (vi + tau2)`` of the overall model), each subgroup closes with its subtotal diamond
    (k and I² in the label), then the overall diamond; the title gives the test for subgroup
    differences (Q between, its df and p-value). Study intervals are normal intervals at the
    analysis's ``level``, as the subtotals.

    Parameters
    ----------
    result : SubgroupResult
        From :func:`peertrial.meta.subgroup` (its ``studies`` table with ``group``, ``yi`` and
        ``vi``; its ``groups`` table with ``estimate``, ``ci_lb``, ``ci_ub``, ``k`` and ``I2``;
        the ``overall`` fit and ``Qb``, ``Qb_df``, ``Qb_pval``).
    transf : callable, optional
        Back-transformation, e.g. ``numpy.exp`` for odds or risk ratios (then drawn on a log
        axis).
    xlabel : str, default "Observed outcome"
        Axis label.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none as a single call. metafor (3.8-1) draws the same picture with
    ``forest(res, rows = ...)`` plus one ``addpoly()`` per subgroup model fitted with
    ``subset``; :func:`peertrial.plot.revman_forest` gives RevMan's layout of it.

    References
    ----------
    .. [1] Borenstein, M., & Higgins, J. P. T. (2013). Meta-analysis and subgroups.
       Prevention Science, 14, 134-143.
    .. [2] Lewis, S., & Clarke, M. (2001). Forest plots: trying to see the wood and the trees.
       BMJ, 322, 1479-1480.

    Examples
    --------
    >>> import peertrial as pt
    >>> bcg = pt.datasets.load("bcg")
    >>> es = pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> sg = pt.meta.subgroup(es, by="alloc")
    >>> fig = pt.plot.subgroup_forest(sg, xlabel="Log risk ratio")
    >>> fig.axes[0].get_title(loc="left")
    'Test for subgroup differences: Q = 1.86, df = 2, p = 0.394'
    >>> pt.plot.close(fig)
    """
    studies = result.studies
    f = transf or (lambda v: v)
    z = stats.norm.isf((1 - float(result.overall.level) / 100) / 2)  # the subtotals' level (metafor's percent)
    rows, labels = [], []
    layout = []  # (kind, payload...)
    for g, row in result.groups.iterrows():
        layout.append(("header", g))
        for name, st in studies[studies["group"] == str(g)].iterrows():
            layout.append(("study", name, st))
        layout.append(("subtotal", g, row))
        layout.append(("gap",))
    layout.append(("overall",))
    n = len(layout)
    with style():
        fig, ax = _new_axes(ax, (7.0, 0.28 * n + 1.6))
        y = n
        weights = 1 / (studies["vi"] + result.overall.tau2)
        wmax = float(weights.max())
        for item in layout:
            kind = item[0]
            if kind == "header":
                labels.append((y, f"{result.by}: {item[1]}", True))
            elif kind == "study":
                _, name, st = item
                se = np.sqrt(st["vi"])
                lo, hi = st["yi"] - z * se, st["yi"] + z * se
                size = 12 + 50 * float(1 / (st["vi"] + result.overall.tau2)) / wmax
                _forest_rows(ax, [y], f(np.array([st["yi"]])), f(np.array([lo])), f(np.array([hi])), sizes=size)
                labels.append((y, f"  {name}", False))
                rows.append((y, _ci_text(st["yi"], lo, hi, transf)))
            elif kind == "subtotal":
                _, g, row = item
                _diamond(ax, y, f(row["estimate"]), f(row["ci_lb"]), f(row["ci_ub"]), color=PALETTE[1])
                labels.append((y, f"  Subtotal (k = {int(row['k'])}, I\u00b2 = {row['I2']:.0f}%)", True))
                rows.append((y, _ci_text(row["estimate"], row["ci_lb"], row["ci_ub"], transf)))
            elif kind == "overall":
                o = result.overall
                _diamond(ax, y, f(o.b), f(o.ci_lb), f(o.ci_ub))
                labels.append((y, f"Overall ({o.method}, k = {o.k})", True))
                rows.append((y, _ci_text(o.b, o.ci_lb, o.ci_ub, transf)))
            y -= 1
        ax.axvline(f(0.0) if transf else 0.0, color="#999999", lw=0.7, ls=":")
        ax.set_yticks([t[0] for t in labels], [t[1] for t in labels])
        for tick, (_, _, b) in zip(ax.get_yticklabels(), labels):
            tick.set_fontweight("bold" if b else "normal")
        for yy, text in rows:
            ax.annotate(text, (1.01, yy), xycoords=("axes fraction", "data"), va="center", fontsize=7)
        ax.set_ylim(0.3, n + 0.7)
        ax.set_xlabel(xlabel)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        _log_axis_for_ratios(ax, transf)
        p = result.Qb_pval
        ax.set_title(
            f"Test for subgroup differences: Q = {result.Qb:.2f}, df = {result.Qb_df}, "
            f"p {'< 0.001' if p < 0.001 else f'= {p:.3f}'}",
            fontsize=8, loc="left",
        )
    return fig


def __getattr__(name: str):
    """``baujat`` is the deprecated spelling of :func:`baujat_plot` (``peertrial.meta.baujat``
    computes the coordinates; the figure has its own name)."""
    if name == "baujat":
        from peertrial._data import warn_deprecated

        warn_deprecated("peertrial.plot.baujat is deprecated and will be removed; use peertrial.plot.baujat_plot "
                        "(peertrial.meta.baujat gives the coordinates)")
        return baujat_plot
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
