"""Forest plot of a fitted meta-analysis (in the manner of metafor's ``forest.rma``)."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Polygon
from scipy import stats

from peertrial.plot._figure import height_inches, panels
from peertrial.plot._style import PALETTE, style

__all__ = ["forest"]

_RATIO_MEASURES = {"OR": "Odds ratio", "RR": "Risk ratio", "ROM": "Ratio of means", "PETO": "Odds ratio"}
_LABELS = {"SMD": "Standardised mean difference", "SMDH": "Standardised mean difference",
           "MD": "Mean difference", "RD": "Risk difference", "GEN": "Effect size"}


def forest(
    fit,
    *,
    transf=None,
    xlabel: str | None = None,
    title: str | None = None,
    show_weights: bool = True,
    show_pi: bool = True,
    refline: float | None = None,
    digits: int = 2,
    order=None,
    favours: tuple[str, str] | None = None,
    width: float = 9.0,
    ilab=None,
    ax=None,
):
    """Draw the forest plot of a fitted meta-analysis: study estimates with CIs and the pooled diamond.

    One row per study (estimate and confidence interval, square sized by the study's weight),
    then the pooled estimate as a diamond, its prediction interval and a footer with the
    heterogeneity statistics. For a meta-regression (moderators) there is no single pooled
    effect: as metafor's ``forest.rma``, each study row also shows its fitted value with its
    confidence interval as a grey diamond, and the footer gives the residual heterogeneity and
    the test of moderators. Study intervals use the fit's ``level`` and the normal quantile.

    Parameters
    ----------
    fit : RMAResult or MHResult
        From :func:`peertrial.meta.rma`, :func:`peertrial.meta.rma_mh` or
        :func:`peertrial.meta.rma_peto` (its ``yi``, ``vi``, ``slab`` and pooled estimate are
        drawn). Labels are the fit's ``slab``; when those are row numbers, a ``study``,
        ``author`` or ``trial`` column of the fit's data is used if there is one.
    transf : callable or False, optional
        Back-transformation of estimates and bounds. Default: ``numpy.exp`` for OR, RR, ROM
        and Peto fits (drawn on a log axis), none otherwise; ``False`` keeps the analysis
        scale for ratio measures.
    xlabel : str, optional
        Axis label; by default the measure's name (e.g. "Risk ratio (log scale)").
    title : str, optional
        Title at the top left.
    show_weights : bool, default True
        Print each study's weight (percent) in a column at the right.
    show_pi : bool, default True
        Draw the prediction interval under the pooled diamond (random-effects models).
    refline : float, optional
        Position of the dashed reference line, on the drawn scale (default 1 on a ratio
        axis, else 0).
    digits : int, default 2
        Decimals of the printed estimates and bounds.
    order : {"yi", "weight"} or array-like of int, optional
        Row order: by estimate, by decreasing weight, or a permutation of ``0..k-1``
        (default: the fit's order).
    favours : tuple of (str, str), optional
        Labels for the two sides of the reference line, e.g. ``("control", "peer support")``.
    width : float, default 9.0
        Figure width in inches (the height follows the number of studies).
    ilab : pandas.DataFrame, optional
        Extra data columns beside the study labels (metafor's ``ilab``): one row per study of
        ``fit``, the column names as headers (e.g. :func:`peertrial.meta.arm_columns` for
        events/total or mean/SD/n per arm; see :func:`peertrial.plot.revman_forest` for RevMan's
        whole layout).
    ax : matplotlib.axes.Axes, optional
        Draw into the slot of this Axes (it is replaced by a subfigure holding the label, plot
        and estimate columns); by default a new figure of ``width`` inches.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Raises
    ------
    ValueError
        If ``order`` is not "yi", "weight" or a permutation, or ``ilab`` has a row count other
        than the number of studies.

    Notes
    -----
    R equivalent: ``metafor::forest`` (``forest.rma``; metafor 3.8-1).

    References
    ----------
    .. [1] Lewis, S., & Clarke, M. (2001). Forest plots: trying to see the wood and the trees.
       BMJ, 322, 1479-1480.
    .. [2] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.

    Examples
    --------
    >>> import peertrial as pt
    >>> bcg = pt.datasets.load("bcg")
    >>> es = pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, slab=bcg["author"])
    >>> fig = pt.plot.forest(fit, favours=("vaccine", "control"))
    >>> fig.axes[1].get_xlabel()
    'Risk ratio (log scale)'
    >>> pt.plot.close(fig)
    """
    measure = getattr(fit, "measure", "GEN") or "GEN"
    method = getattr(fit, "method", "")
    ratio = measure in _RATIO_MEASURES or method == "PETO"
    if transf is None:
        transf = np.exp if ratio else None
    elif transf is False:
        transf, ratio = None, False
    log_axis = transf is np.exp
    tf = transf if transf is not None else (lambda a: a)

    yi, vi = np.asarray(fit.yi, dtype=float), np.asarray(fit.vi, dtype=float)
    labels = [str(s) for s in fit.slab]
    if all(s.lstrip("-").isdigit() for s in labels):  # default labels: row numbers
        data = getattr(fit, "data", None)
        column = next((c for c in ("study", "author", "trial") if data is not None and c in data.columns), None)
        if column is not None and len(data) == len(labels):
            from peertrial.meta._labels import make_unique

            labels = list(make_unique(data[column]))  # a study column of the data, unique as metafor
        else:
            labels = [f"Study {s}" for s in labels]
    level = float(getattr(fit, "level", 95.0))
    crit = stats.norm.isf((1 - level / 100) / 2)
    lo, hi = yi - crit * np.sqrt(vi), yi + crit * np.sqrt(vi)
    w = _weights_percent(fit)
    idx = _order(order, yi, w)
    k = len(idx)
    if ilab is not None:
        import pandas as pd

        ilab = pd.DataFrame(ilab).reset_index(drop=True)
        if len(ilab) != len(yi):
            raise ValueError(f"ilab has {len(ilab)} rows but the fit has {len(yi)} studies")
    n_ilab = 0 if ilab is None else ilab.shape[1]
    left = 2.3 + 0.75 * n_ilab

    pooled = _pooled(fit)
    fitted = _fitted(fit)
    n_rows = k + (3 if pooled else 1)
    height = 1.2 + 0.26 * n_rows
    with style():
        fig, box, _ = panels(ax, (width, height))
        h_in = height_inches(box)
        top = 1 - (0.15 if not title else 0.45) / h_in
        bottom = (0.95 if pooled else (1.05 if fitted is not None else 0.6)) / h_in
        gs = box.add_gridspec(1, 3, width_ratios=[left, 4.0, 2.9 if show_weights else 2.2], wspace=0.02,
                              left=0.01, right=0.99, top=top, bottom=bottom)
        ax_l, ax, ax_r = (box.add_subplot(gs[0, j]) for j in range(3))
        ys = np.arange(k, 0, -1, dtype=float)
        y_pool = -1.0
        ylim = (y_pool - 1.6 if pooled else 0.0, k + (1.9 if n_ilab else 1.4))
        for a in (ax_l, ax_r):
            a.set_axis_off()
            a.set_ylim(*ylim)
            a.set_xlim(0, 1)
        ax.set_ylim(*ylim)

        # study rows
        colour = PALETTE[0]
        sizes = 20 + 180 * (w[idx] / np.nanmax(w)) if np.isfinite(w).any() else np.full(k, 60.0)
        ok = np.isfinite(yi[idx])
        ax.hlines(ys[ok], tf(lo[idx][ok]), tf(hi[idx][ok]), color="#333333", lw=1.0, zorder=2)
        ax.scatter(tf(yi[idx][ok]), ys[ok], s=sizes[ok], marker="s", color=colour, zorder=3, linewidths=0)
        for y, j in zip(ys, idx):
            ax_l.text(0.0, y, labels[j], va="center", ha="left")
            for c in range(n_ilab):
                v = ilab.iloc[j, c]
                text = v if isinstance(v, str) else ("" if v is None or not np.isfinite(float(v)) else
                                                     f"{float(v):g}")
                ax_l.text((2.3 + 0.75 * (c + 1) - 0.08) / left, y, text, va="center", ha="right",
                          family="monospace", fontsize=8)
            est = _fmt_ci(tf(yi[j]), tf(lo[j]), tf(hi[j]), digits) if np.isfinite(yi[j]) else "not estimable"
            ax_r.text(1.0, y, est, va="center", ha="right", family="monospace")
            if show_weights:
                ax_r.text(0.02, y, f"{w[j]:5.1f}%" if np.isfinite(w[j]) else "", va="center", ha="left",
                          family="monospace")
        head_y = k + 0.9
        ax_l.text(0.0, head_y, "Study", va="center", ha="left", weight="bold")
        if n_ilab:
            _ilab_headers(ax_l, [(2.3 + 0.75 * (c + 1) - 0.08) / left for c in range(n_ilab)], ilab.columns,
                          head_y, 0.75 / left)
        if show_weights:
            ax_r.text(0.02, head_y, "Weight", va="center", ha="left", weight="bold")
        est_head = (("Peto OR" if method == "PETO" else measure) if log_axis else "Estimate") + f" [{level:g}% CI]"
        ax_r.text(1.0, head_y, est_head, va="center", ha="right", weight="bold")
        ax.axhline(k + 0.5, color="#999999", lw=0.6)
        if fitted is not None:
            pred, f_lb, f_ub = (tf(a[idx]) for a in fitted)
            for y, b, cl, cu in zip(ys, pred, f_lb, f_ub):
                ax.add_patch(Polygon([(cl, y), (b, y + 0.3), (cu, y), (b, y - 0.3)], closed=True,
                                     facecolor="#9a9a9a", edgecolor="#7a7a7a", lw=0.5, alpha=0.8, zorder=2.5,
                                     label="fitted value"))
            box.text(0.01, 0.12 / h_in, _heterogeneity_text(fit) + "\n" + _moderator_text(fit), ha="left",
                     va="bottom", fontsize=8, color="#333333")

        # pooled estimate, prediction interval, heterogeneity
        if pooled:
            b, cl, cu, pl, pu, name = pooled
            ax.axhline(0.0, color="#999999", lw=0.6)
            diamond = Polygon([(tf(cl), y_pool), (tf(b), y_pool + 0.35), (tf(cu), y_pool), (tf(b), y_pool - 0.35)],
                              closed=True, color=PALETTE[1], zorder=3)
            ax.add_patch(diamond)
            ax_l.text(0.0, y_pool, name, va="center", ha="left", weight="bold")
            ax_r.text(1.0, y_pool, _fmt_ci(tf(b), tf(cl), tf(cu), digits), va="center", ha="right",
                      family="monospace", weight="bold")
            if show_weights:
                ax_r.text(0.02, y_pool, "100.0%", va="center", ha="left", family="monospace", weight="bold")
            if show_pi and np.isfinite(pl) and np.isfinite(pu):
                y_pi = y_pool - 0.8
                ax.hlines(y_pi, tf(pl), tf(pu), color=PALETTE[1], lw=1.2)
                ax.vlines([tf(pl), tf(pu)], y_pi - 0.15, y_pi + 0.15, color=PALETTE[1], lw=1.2)
                ax_l.text(0.0, y_pi, f"{level:g}% prediction interval", va="center", ha="left", style="italic")
                ax_r.text(1.0, y_pi, _fmt_ci(None, tf(pl), tf(pu), digits), va="center", ha="right",
                          family="monospace", style="italic")
            box.text(0.01, 0.12 / h_in, _heterogeneity_text(fit), ha="left", va="bottom", fontsize=8,
                     color="#333333")

        # axis
        ref = (1.0 if log_axis else 0.0) if refline is None else refline
        ax.axvline(ref, color="#555555", lw=0.8, ls="--", zorder=1)
        if log_axis:
            ax.set_xscale("log")
            _ratio_ticks(ax)
        else:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(xlabel or _default_label(measure, log_axis, method))
        if favours:
            # x in data coordinates, y just above the axis line
            tr = ax.get_xaxis_transform()
            left, right = favours
            ax.text(ref, 1.0, f"← Favours {left}  ", transform=tr, ha="right", va="bottom", fontsize=8,
                    color="#555555")
            ax.text(ref, 1.0, f"  Favours {right} →", transform=tr, ha="left", va="bottom", fontsize=8,
                    color="#555555")
        if title:
            box.suptitle(title, x=0.01, y=1 - 0.12 / h_in, ha="left", va="top", fontsize=10, weight="bold")
    return fig


def _ilab_headers(ax, xs, columns, y, step):
    """Headers of ``ilab`` columns: "<group>\\n<name>" puts the group once over its columns."""
    parts = [str(h).split("\n", 1) if "\n" in str(h) else ["", str(h)] for h in columns]
    j = 0
    while j < len(parts):
        j2 = j
        while j2 + 1 < len(parts) and parts[j2 + 1][0] == parts[j][0]:
            j2 += 1
        if parts[j][0]:
            ax.text((xs[j] - 0.8 * step + xs[j2]) / 2, y + 0.55, parts[j][0], va="center", ha="center",
                    weight="bold", fontsize=8)
            ax.plot([xs[j] - 0.85 * step, xs[j2]], [y + 0.3] * 2, color="#777777", lw=0.6)
        for jj in range(j, j2 + 1):
            ax.text(xs[jj], y, parts[jj][1], va="center", ha="right", weight="bold", fontsize=8)
        j = j2 + 1


def _weights_percent(fit):
    if hasattr(fit, "weights_percent"):
        return np.asarray(fit.weights_percent(), dtype=float)
    vi = np.asarray(fit.vi, dtype=float)
    w = np.where(np.isfinite(vi), 1 / vi, np.nan)
    return 100 * w / np.nansum(w)


def _order(order, yi, w):
    k = len(yi)
    if order is None:
        return np.arange(k)
    if isinstance(order, str):
        if order == "yi":
            return np.argsort(yi, kind="stable")
        if order == "weight":
            return np.argsort(-w, kind="stable")
        raise ValueError("order must be 'yi', 'weight' or an array of positions")
    idx = np.asarray(order, dtype=int)
    if sorted(idx.tolist()) != list(range(k)):
        raise ValueError(f"order must be a permutation of 0..{k - 1}")
    return idx


def _pooled(fit):
    """(b, ci_lb, ci_ub, pi_lb, pi_ub, label) for an intercept-only model, else None."""
    if getattr(fit, "int_only", True) is False:
        return None
    b, cl, cu = float(fit.b), float(fit.ci_lb), float(fit.ci_ub)
    pl = pu = np.nan
    method = fit.method
    if hasattr(fit, "predict"):
        pr = fit.predict()
        pl, pu = pr.pi_lb, pr.pi_ub
    if method in ("EE", "FE", "MH", "PETO"):
        names = {"MH": "Mantel-Haenszel", "PETO": "Peto", "FE": "Fixed-effects", "EE": "Equal-effects"}
        label = f"{names[method]} model"
    else:
        label = f"Random-effects model ({method})"
    return b, cl, cu, pl, pu, label


def _fitted(fit):
    """Fitted values with their CI bounds ``(pred, ci_lb, ci_ub)`` of a meta-regression, else None."""
    if getattr(fit, "int_only", True) is not False or not hasattr(fit, "predict"):
        return None
    pr = fit.predict()
    return tuple(np.atleast_1d(np.asarray(a, dtype=float)) for a in (pr.pred, pr.ci_lb, pr.ci_ub))


def _moderator_text(fit):
    df1 = fit.p - 1 if fit.intercept else fit.p
    p = fit.QMp
    ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    stat = f"F({df1}, {fit.dfs:g})" if fit.test == "knha" else f"QM({df1})"
    r2 = f"; R² = {fit.R2:.1f}%" if np.isfinite(fit.R2) else ""
    return f"Test of moderators: {stat} = {fit.QM:.2f}, {ptxt}{r2}. Grey diamonds: fitted values [{fit.level:g}% CI]"


def _heterogeneity_text(fit):
    k = fit.k
    parts = []
    if fit.method not in ("EE", "FE", "MH", "PETO"):
        parts.append(f"τ² = {fit.tau2:.3f}")
    if k > 1:
        df = k - getattr(fit, "p", 1) if fit.method not in ("MH", "PETO") else getattr(fit, "k_yi", k) - 1
        p = fit.QEp
        ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        parts += [f"I² = {fit.I2:.1f}%", f"Q({df}) = {fit.QE:.2f}, {ptxt}"]
    if getattr(fit, "test", "z") == "knha":
        parts.append(f"Knapp–Hartung t({fit.dfs:g})")
    return "Heterogeneity: " + "; ".join(parts) if parts else ""


def _fmt(x, digits):
    s = f"{x:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s  # no "-0.00"


def _fmt_ci(est, lo, hi, digits):
    ci = f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]"
    return ci if est is None else f"{_fmt(est, digits)} {ci}"


def _ratio_ticks(ax):
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    lo, hi = ax.get_xlim()
    candidates = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20, 50, 100]
    ticks = [t for t in candidates if lo <= t <= hi]
    if len(ticks) > 7:
        ticks = [t for t in ticks if t in (0.01, 0.1, 0.25, 0.5, 1, 2, 4, 10, 100)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))


def _default_label(measure, log_axis, method):
    if method == "PETO" or measure in _RATIO_MEASURES:
        name = _RATIO_MEASURES.get(measure, "Odds ratio")
        return f"{name} (log scale)" if log_axis else f"Log {name.lower()}"
    return _LABELS.get(measure, "Effect size")
