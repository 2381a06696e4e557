"""Figures for health economics: tornado, cost-effectiveness plane, CEAC, frontier."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from peertrial.plot._figure import single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["tornado", "ce_plane", "ceac", "ce_frontier"]


def tornado(sens, *, title: str | None = None, xlabel: str | None = None, ax=None) -> Figure:
    """Draw a tornado plot of a one-way sensitivity analysis: the output's range as each parameter moves alone.

    One horizontal bar per parameter, from the model output with the parameter at its low
    value (blue) to the output at its high value (red), both starting at the base-case output
    (vertical line); each bar end is labelled with the parameter value. Parameters are sorted
    by swing, largest on top, so the inputs that matter most stand out.

    Parameters
    ----------
    sens : OneWaySensitivity
        From :func:`peertrial.econ.one_way_sensitivity` (its ``table`` with ``low``, ``high``,
        ``output_low``, ``output_high``, ``swing``; ``base_output`` and ``output_name``).
    title : str, optional
        Axes title (default "One-way sensitivity of <output> (base <value>)").
    xlabel : str, optional
        Axis label (default the output name).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none in the R packages used here (``dampack``'s ``owsa_tornado`` draws the
    same picture of a one-way sensitivity analysis).

    References
    ----------
    .. [1] Briggs, A., Claxton, K., & Sculpher, M. (2006). Decision Modelling for Health
       Economic Evaluation. Oxford University Press.

    Examples
    --------
    >>> import peertrial as pt
    >>> sens = pt.econ.one_way_sensitivity(
    ...     lambda wtp, qaly, cost: wtp * qaly - cost,
    ...     {"wtp": 20000, "qaly": 0.05, "cost": 600},
    ...     {"wtp": (15000, 30000), "qaly": (0.01, 0.09), "cost": (400, 900)},
    ...     output_name="net monetary benefit")
    >>> fig = pt.plot.tornado(sens)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['qaly', 'wtp', 'cost']
    >>> pt.plot.close(fig)
    """
    table = sens.table
    with style():
        fig, ax, _ = single_axes(ax, (6.0, 0.5 * len(table) + 1.4))
        y = np.arange(len(table))[::-1]
        base = sens.base_output
        for yi, (_, row) in zip(y, table.iterrows()):
            for value, out, colour in ((row["low"], row["output_low"], PALETTE[0]), (row["high"], row["output_high"], PALETTE[1])):
                ax.barh(yi, out - base, left=base, color=colour, height=0.6)
                ax.annotate(
                    f"{value:g}", (out, yi), xytext=(3 if out >= base else -3, 0), textcoords="offset points",
                    ha="left" if out >= base else "right", va="center", fontsize=7,
                )
        ax.axvline(base, color="black", lw=0.8)
        ax.set_yticks(y, list(table.index))
        ax.set_xlabel(xlabel or sens.output_name)
        ax.set_title(title or f"One-way sensitivity of {sens.output_name} (base {base:.3g})")
        handles = [Patch(color=PALETTE[0]), Patch(color=PALETTE[1])]
        ax.legend(handles, ["parameter at low value", "parameter at high value"], loc="lower right", fontsize=7)
        pad = 0.15 * max(float(table["swing"].max()), 1e-12)
        lo = min(table[["output_low", "output_high"]].min().min(), base) - pad
        hi = max(table[["output_low", "output_high"]].max().max(), base) + pad
        ax.set_xlim(lo, hi)
    return fig


def ce_plane(ce, *, wtp: float | None = None, max_points: int = 5000, title: str | None = None, ax=None) -> Figure:
    """Draw the cost-effectiveness plane: the bootstrap cloud of incremental effects and costs, the point estimate and the willingness-to-pay line.

    Each bootstrap replicate of :func:`peertrial.econ.cea` is a point (incremental effect,
    incremental cost); the point estimate is the red dot; the dashed line ``dC = wtp * dE``
    separates replicates that are cost-effective at that willingness to pay (below it) from
    the others. Quadrants: south-east dominant, north-west dominated.

    Parameters
    ----------
    ce : CEA
        From :func:`peertrial.econ.cea` (its ``boot_delta_effect``, ``boot_delta_cost``,
        ``delta_effect``, ``delta_cost``, ``wtp``, ``currency`` and ``effect_label``).
    wtp : float, optional
        Willingness to pay per unit of effect for the line (default the fit's ``wtp``; no line
        when it is not finite).
    max_points : int, default 5000
        At most this many replicates are drawn (thinned evenly and deterministically).
    title : str, optional
        Axes title (default "Cost-effectiveness plane").
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``BCEA::ceplane.plot`` (BCEA 2.4; not installed here, so the figure is not
    compared with it) on the same bootstrap samples.

    References
    ----------
    .. [1] Black, W. C. (1990). The CE plane: a graphic representation of cost-effectiveness.
       Medical Decision Making, 10, 212-214.
    .. [2] Glick, H. A., Doshi, J. A., Sonnad, S. S., & Polsky, D. (2014). Economic Evaluation
       in Clinical Trials (2nd ed.). Oxford University Press.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> ce = pt.econ.cea(df, cost="cost_total", effect="qaly", arm="arm", n_boot=200, seed=1)
    >>> fig = pt.plot.ce_plane(ce, wtp=20000)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('Incremental effect (QALY)', 'Incremental cost (GBP)')
    >>> pt.plot.close(fig)
    """
    wtp = ce.wtp if wtp is None else float(wtp)
    de, dc = ce.boot_delta_effect, ce.boot_delta_cost
    if de.size > max_points:  # thin evenly, deterministically
        keep = np.linspace(0, de.size - 1, max_points).astype(int)
        de, dc = de[keep], dc[keep]
    with style():
        fig, ax, _ = single_axes(ax, (6.0, 4.6))
        ax.scatter(de, dc, s=4, alpha=0.25, color=PALETTE[0], lw=0, label=f"bootstrap replicates (n = {ce.n_boot})")
        ax.scatter([ce.delta_effect], [ce.delta_cost], s=40, color=PALETTE[1], zorder=3, label="point estimate")
        ax.axhline(0, color="black", lw=0.7)
        ax.axvline(0, color="black", lw=0.7)
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        xs = np.array([x0, x1])
        if np.isfinite(wtp):  # no line when the effect measure has no threshold (see cea's wtp)
            ax.plot(xs, wtp * xs, color=PALETTE[2], lw=1.2, ls="--", label=f"WTP {wtp:,.0f} {ce.currency} per {ce.effect_label}")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel(f"Incremental effect ({ce.effect_label})")
        ax.set_ylabel(f"Incremental cost ({ce.currency})")
        ax.set_title(title or "Cost-effectiveness plane")
        ax.legend(loc="best", fontsize=7)
    return fig


def ceac(result, wtps=None, *, title: str | None = None, mark_wtp="nice", ax=None) -> Figure:
    """Draw the cost-effectiveness acceptability curve: the probability that the intervention is cost-effective at each willingness to pay.

    For each willingness to pay the proportion of bootstrap replicates (or probabilistic
    sensitivity analysis draws) with a positive incremental net benefit, one curve per
    strategy. Vertical lines mark reference thresholds.

    Parameters
    ----------
    result : CEA or pandas.DataFrame
        A :class:`~peertrial.econ.CEA` from :func:`peertrial.econ.cea` (its ``ceac(wtps)`` is
        drawn), or a table with columns ``wtp`` and ``prob_cost_effective`` (and optionally
        ``strategy`` for several curves), e.g. from :func:`peertrial.econ.ceac_strategies`.
    wtps : array-like, optional
        Willingness-to-pay values for a ``CEA`` (default 500 values from 0 to 50,000).
    title : str, optional
        Axes title (default "Cost-effectiveness acceptability curve").
    mark_wtp : "nice" or sequence of float, default "nice"
        Thresholds drawn as dotted lines: ``"nice"`` marks NICE's 20,000-30,000 GBP per QALY
        range when the effect is QALYs (nothing for other effect measures); a sequence marks
        those values; ``()`` none.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``BCEA::ceac.plot`` (BCEA 2.4; not installed here, so the figure is not
    compared with it); the probabilities equal ``BCEA::ceac`` on the same samples.

    References
    ----------
    .. [1] van Hout, B. A., Al, M. J., Gordon, G. S., & Rutten, F. F. H. (1994). Costs, effects
       and C/E-ratios alongside a clinical trial. Health Economics, 3, 309-319.
    .. [2] Fenwick, E., Claxton, K., & Sculpher, M. (2001). Representing uncertainty: the role
       of cost-effectiveness acceptability curves. Health Economics, 10, 779-787.

    Examples
    --------
    >>> import numpy as np
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> ce = pt.econ.cea(df, cost="cost_total", effect="qaly", arm="arm", n_boot=200, seed=1)
    >>> fig = pt.plot.ceac(ce, np.linspace(0, 40000, 41))
    >>> fig.axes[0].get_xlabel()
    'Willingness to pay (GBP per QALY)'
    >>> pt.plot.close(fig)
    """
    if isinstance(mark_wtp, str) and mark_wtp == "nice":
        per_qaly = isinstance(result, pd.DataFrame) or getattr(result, "effect_label", "QALY") == "QALY"
        mark_wtp = (20000, 30000) if per_qaly else ()
    if isinstance(result, pd.DataFrame):
        frame, label = result, "Willingness to pay per unit effect"
    else:
        wtps = np.linspace(0, 50000, 500) if wtps is None else wtps
        frame = result.ceac(wtps)
        label = f"Willingness to pay ({result.currency} per {result.effect_label})"
    with style():
        fig, ax, _ = single_axes(ax, (6.0, 4.0))
        groups = frame.groupby("strategy", sort=False) if "strategy" in frame else [(None, frame)]
        for i, (name, g) in enumerate(groups):
            ax.plot(g["wtp"], g["prob_cost_effective"], color=PALETTE[i % len(PALETTE)], lw=1.6, label=name)
        for w in mark_wtp or ():
            if frame["wtp"].min() <= w <= frame["wtp"].max():
                ax.axvline(w, color=PALETTE[5], lw=0.8, ls=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(label)
        ax.set_ylabel("Probability cost-effective")
        ax.set_title(title or "Cost-effectiveness acceptability curve")
        if "strategy" in frame:
            ax.legend(loc="best")
    return fig


def ce_frontier(icers, *, title: str | None = None, ax=None) -> Figure:
    """Draw strategies on the cost-effectiveness plane with the efficient frontier joining the non-dominated ones.

    Each strategy is a point (effect, cost) labelled with its name; the marker shows its status
    in the incremental analysis: on the efficient frontier (ND, joined by a line in order of
    cost), extendedly dominated (ED) or dominated (D). The slopes of the frontier's segments
    are the ICERs.

    Parameters
    ----------
    icers : ICERTable
        From :func:`peertrial.econ.icer_table` (its ``table`` with ``strategy``, ``cost``,
        ``effect`` and ``status``; ``currency`` and ``effect_label``).
    title : str, optional
        Axes title (default "Cost-effectiveness frontier").
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``plot()`` of a ``dampack::calculate_icers`` table, or ``BCEA::ceef.plot``
    (neither installed here, so the figure is not compared with them); the statuses equal
    ``dampack::calculate_icers``.

    References
    ----------
    .. [1] Cantor, S. B. (1994). Cost-effectiveness analysis, extended dominance, and ethics:
       a quantitative assessment. Medical Decision Making, 14, 259-265.
    .. [2] Drummond, M. F., Sculpher, M. J., Claxton, K., Stoddart, G. L., & Torrance, G. W.
       (2015). Methods for the Economic Evaluation of Health Care Programmes (4th ed.).
       Oxford University Press.

    Examples
    --------
    >>> import peertrial as pt
    >>> icers = pt.econ.icer_table([0.0, 100.0, 300.0, 250.0], [1.0, 1.2, 1.3, 1.1], ["A", "B", "C", "D"])
    >>> fig = pt.plot.ce_frontier(icers)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['efficient frontier', 'dominated']
    >>> pt.plot.close(fig)
    """
    t = icers.table
    with style():
        fig, ax, _ = single_axes(ax, (6.0, 4.4))
        marks = {"ND": ("o", PALETTE[0], "efficient frontier"), "ED": ("s", PALETTE[3], "extendedly dominated"), "D": ("x", PALETTE[1], "dominated")}
        for status, (marker, colour, label) in marks.items():
            sub = t[t["status"] == status]
            if len(sub):
                ax.scatter(sub["effect"], sub["cost"], marker=marker, color=colour, label=label, zorder=3)
        nd = t[t["status"] == "ND"].sort_values("cost")
        ax.plot(nd["effect"], nd["cost"], color=PALETTE[0], lw=1)
        for _, row in t.iterrows():
            ax.annotate(str(row["strategy"]), (row["effect"], row["cost"]), xytext=(4, 2), textcoords="offset points", fontsize=7)
        ax.set_xlabel(f"Effect ({icers.effect_label})")
        ax.set_ylabel(f"Cost ({icers.currency})")
        ax.set_title(title or "Cost-effectiveness frontier")
        ax.legend(loc="best")
    return fig
