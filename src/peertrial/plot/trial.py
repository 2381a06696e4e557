"""Figures for trial effects: effects by population, subgroup forest plot, CONSORT diagram."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from peertrial.plot._figure import framed_axes, single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["effects_forest", "subgroup_effects_forest", "consort_diagram"]

_LABELS = {"itt": "Intention to treat", "as_treated": "As treated", "per_protocol": "Per protocol",
           "cace": "CACE (2SLS)", "none": "No sessions", "low": "Low use", "high": "High use"}


def _forest_axes(ax, labels, est, lo, hi, colors, xlabel, right_text, refline=0.0):
    k = len(labels)
    ypos = np.arange(k)[::-1]
    for y, e, a, b, c in zip(ypos, est, lo, hi, colors):
        if np.isfinite(e):
            ax.plot([a, b], [y, y], color=c, lw=1.4)
            ax.plot(e, y, "s", color=c, ms=6)
    ax.axvline(refline, color="#555555", lw=0.8, ls="--")
    ax.set_yticks(ypos, labels)
    ax.set_ylim(-0.7, k - 0.3)
    ax.set_xlabel(xlabel)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    for y, t in zip(ypos, right_text):
        ax.annotate(t, xy=(1.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                    family="monospace")
    return ax


def _ci_text(e, lo, hi) -> str:
    if not np.isfinite(e):
        return "not estimable"
    return f"{e:6.2f} [{lo:6.2f}, {hi:6.2f}]"


def effects_forest(effects: pd.DataFrame, *, title: str | None = None, xlabel: str = "Effect (intervention - control)",
                   extra: pd.DataFrame | None = None, ax=None) -> Figure:
    """Draw the treatment-effect estimates of a trial by analysis population (ITT, as treated, per protocol, CACE) with their CIs.

    One row per estimate: randomised comparisons (ITT, CACE) in blue, non-randomised ones
    (as treated, per protocol, levels of use) in grey and marked "(not randomised)", with the
    estimate and CI printed at the right and a dashed line at no effect (0).

    Parameters
    ----------
    effects : pandas.DataFrame
        The table of :func:`peertrial.trial.estimate_effects`: indexed by analysis (``itt``,
        ``as_treated``, ``per_protocol``, ``cace``) with columns ``estimate``, ``ci_lb``,
        ``ci_ub`` and ``randomised`` (bool).
    title : str, optional
        Axes title.
    xlabel : str, default "Effect (intervention - control)"
        Axis label (name the outcome and its unit).
    extra : pandas.DataFrame, optional
        More rows of the same columns drawn below, e.g. :func:`peertrial.trial.effects_by_use`
        (its ``itt`` row, already drawn, is dropped).
    ax : matplotlib.axes.Axes, optional
        Draw in this Axes' slot (a subfigure with room for the labels and estimates); by
        default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none; R draws no such figure from ``lm``/``AER::ivreg`` fits (the numbers
    are those of :func:`peertrial.trial.estimate_effects`, checked against ``lm`` and
    ``AER::ivreg``).

    References
    ----------
    .. [1] Dunn, G., Maracy, M., & Tomenson, B. (2005). Estimating treatment effects from
       randomized clinical trials with noncompliance and loss to follow-up: the role of
       instrumental variable methods. Statistical Methods in Medical Research, 14, 369-395.
    .. [2] Lewis, S., & Clarke, M. (2001). Forest plots: trying to see the wood and the trees.
       BMJ, 322, 1479-1480.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> eff = pt.trial.estimate_effects(df, outcome="hope_12", arm="arm", received="received",
    ...                                 covariates=["hope_0"])
    >>> fig = pt.plot.effects_forest(eff, xlabel="Difference in hope at 12 months")
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Intention to treat', 'As treated (not randomised)', 'Per protocol (not randomised)', 'CACE (2SLS)']
    >>> pt.plot.close(fig)
    """
    frame = effects if extra is None else pd.concat([effects, extra.drop(index="itt", errors="ignore")])
    labels = [_LABELS.get(i, str(i)) + ("" if r else " (not randomised)")
              for i, r in zip(frame.index, frame["randomised"])]
    colors = [PALETTE[0] if r else PALETTE[5] for r in frame["randomised"]]
    text = [_ci_text(e, a, b) for e, a, b in zip(frame["estimate"], frame["ci_lb"], frame["ci_ub"])]
    with style():
        fig, ax = framed_axes(ax, (7.5, 0.45 * len(frame) + 1.2), left=0.33, right=0.72)
        ax = _forest_axes(ax, labels, frame["estimate"].to_numpy(float), frame["ci_lb"].to_numpy(float),
                          frame["ci_ub"].to_numpy(float), colors, xlabel, text)
        if title:
            ax.set_title(title, loc="left")
    return fig


def subgroup_effects_forest(result, *, title: str | None = None, xlabel: str | None = None, ax=None) -> Figure:
    """Draw the forest plot of a trial's subgroup analysis: the treatment effect per subgroup level and the interaction test.

    One row per level of the subgroup variable (labelled with its n), the overall effect last
    (red), each estimate with its CI printed at the right, a dashed line at no effect (0) and
    the F test of the subgroup-by-arm interaction in the footer, which (not the separate
    intervals) is the test of a differing effect.

    Parameters
    ----------
    result : SubgroupEffects
        From :func:`peertrial.trial.subgroup_effects` (its ``effects`` table with ``n``,
        ``estimate``, ``ci_lb``, ``ci_ub``, and the interaction ``F``, ``df1``, ``df2``,
        ``pval``).
    title : str, optional
        Axes title (default "Treatment effect by <subgroup>").
    xlabel : str, optional
        Axis label (default "Effect on <outcome>").
    ax : matplotlib.axes.Axes, optional
        Draw in this Axes' slot (a subfigure with room for the labels and estimates); by
        default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none; R has no plot for ``lm`` subgroup fits (the interaction F test is
    ``anova(lm(y ~ arm + g), lm(y ~ arm * g))``).

    References
    ----------
    .. [1] Wang, R., Lagakos, S. W., Ware, J. H., Hunter, D. J., & Drazen, J. M. (2007).
       Statistics in medicine: reporting of subgroup analyses in clinical trials. New England
       Journal of Medicine, 357, 2189-2194.
    .. [2] Cuzick, J. (2005). Forest plots and the interpretation of subgroups. The Lancet,
       365, 1308.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> sg = pt.trial.subgroup_effects(df, "hope_12", subgroup="diagnosis")
    >>> fig = pt.plot.subgroup_effects_forest(sg)
    >>> fig.axes[0].get_title(loc="left")
    'Treatment effect by diagnosis'
    >>> pt.plot.close(fig)
    """
    eff = result.effects
    labels = [f"{i} (n={int(n)})" for i, n in zip(eff.index, eff["n"])]
    colors = [PALETTE[1] if i == "overall" else PALETTE[0] for i in eff.index]
    text = [_ci_text(e, a, b) for e, a, b in zip(eff["estimate"], eff["ci_lb"], eff["ci_ub"])]
    with style():
        fig, ax = framed_axes(ax, (7.5, 0.45 * len(eff) + 1.5), left=0.28, right=0.72,
                              bottom=0.3 if len(eff) < 4 else 0.2)
        ax = _forest_axes(ax, labels, eff["estimate"].to_numpy(float), eff["ci_lb"].to_numpy(float),
                          eff["ci_ub"].to_numpy(float), colors, xlabel or f"Effect on {result.outcome}", text)
        p = result.pval
        ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        ax.set_title(title or f"Treatment effect by {result.subgroup}", loc="left")
        ax.annotate(f"Interaction {result.subgroup} x arm: F({result.df1}, {result.df2}) = {result.F:.2f}, {ptxt}",
                    xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
                    fontsize=8, ha="left", va="top", annotation_clip=False)
    return fig


def _box(ax, x, y, text, w=0.36, h=0.1, color="#f4f6f8"):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.005,rounding_size=0.01",
                                fc=color, ec="#333333", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, wrap=True)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "lw": 0.8, "color": "#333333"})


def consort_diagram(result, *, title: str | None = None, ax=None) -> Figure:
    """Draw the CONSORT flow diagram of a two-arm trial: randomised, allocated, intervention received, lost to follow-up, analysed.

    A box for the participants randomised, then per arm (columns) boxes for allocation,
    intervention received (in the control arm: contamination, i.e. peer support received),
    loss to follow-up (outcome missing) and the complete-case analysis, with the counts of
    :func:`peertrial.trial.consort`.

    Parameters
    ----------
    result : ConsortResult
        From :func:`peertrial.trial.consort` (its ``table`` with rows ``randomised``,
        ``received_allocated``, ``not_received_allocated``, ``lost_to_follow_up``,
        ``analysed`` and one column per arm; ``arm_labels`` and ``outcome``).
    title : str, optional
        Title at the top left (default "CONSORT flow diagram").
    ax : matplotlib.axes.Axes, optional
        Draw the diagram filling this Axes (its frame is turned off); by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none in the R packages used here (the ``consort`` package's
    ``consort_plot`` draws such diagrams from participant-level data).

    References
    ----------
    .. [1] Schulz, K. F., Altman, D. G., & Moher, D. (2010). CONSORT 2010 statement: updated
       guidelines for reporting parallel group randomised trials. BMJ, 340, c332.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> flow = pt.trial.consort(df, outcome="hope_12", received="received")
    >>> fig = pt.plot.consort_diagram(flow)
    >>> fig.axes[0].texts[0].get_text()
    'CONSORT flow diagram'
    >>> pt.plot.close(fig)
    """
    t = result.table
    c0, c1 = result.arm_labels
    total = int(t.loc["randomised"].sum())
    with style():
        if ax is None:
            fig, ax, _ = single_axes(None, (7.5, 6.0))
            ax.set_position((0, 0, 1, 1))
        else:
            fig = ax.get_figure(root=True)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.text(0.03, 0.97, title or "CONSORT flow diagram", fontsize=10, fontweight="bold", va="top")
        _box(ax, 0.5, 0.86, f"Randomised\n(n = {total})", w=0.3, h=0.08, color="#e3eef7")
        received_text = {
            c1: "Received allocated intervention (n = {received_allocated})\n"
                "Did not receive it (n = {not_received_allocated})",
            c0: "Received allocated care, no peer support (n = {received_allocated})\n"
                "Received peer support: contamination (n = {not_received_allocated})",
        }
        rows = [
            (0.68, "Allocated to {lab}\n(n = {randomised})"),
            (0.50, None),
            (0.32, "Lost to follow-up\n({outcome} missing; n = {lost_to_follow_up})"),
            (0.14, "Analysed (complete case)\n(n = {analysed})"),
        ]
        for x, lab in ((0.26, c1), (0.74, c0)):
            col = t[lab]
            values = {k: int(v) for k, v in col.items()}
            _arrow(ax, 0.5, 0.82, x, 0.68 + 0.05)
            prev = None
            for y, fmt in rows:
                fmt = fmt or received_text[lab]
                _box(ax, x, y, fmt.format(lab=lab, outcome=result.outcome, **values), w=0.44)
                if prev is not None:
                    _arrow(ax, x, prev - 0.05, x, y + 0.05)
                prev = y
        for y, stage in ((0.68, "Allocation"), (0.50, "Intervention"), (0.32, "Follow-up"), (0.14, "Analysis")):
            ax.text(0.5, y, stage, rotation=90, ha="center", va="center", fontsize=7, color=PALETTE[5])
    return fig
