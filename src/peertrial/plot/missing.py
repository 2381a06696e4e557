"""Figures for missing-data sensitivity analyses: the tipping-point plot."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from peertrial.plot._figure import single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["tipping_point_plot"]


def tipping_point_plot(tp, *, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None,
                       ax=None) -> Figure:
    """Treatment effect and its confidence interval against delta (a tipping-point plot).

    The estimate as a line, the CI as a band (at the level the analysis was run with), a line at
    no effect and a dashed vertical line at the tipping point.

    Parameters
    ----------
    tp : TippingPoint
        From :func:`peertrial.trial.tipping_point`.
    title, xlabel, ylabel : str, optional
        Replace the default title and axis labels.
    ax : matplotlib Axes, optional
        Draw into this Axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none in rbmi (users plot the pooled estimates over the deltas with ggplot2).

    References
    ----------
    .. [1] Cro, S., Morris, T. P., Kenward, M. G., & Carpenter, J. R. (2020). Sensitivity analysis
       for clinical trials with missing continuous outcome data using controlled multiple
       imputation: a practical guide. Statistics in Medicine, 39(21), 2815-2842.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> tp = pt.trial.tipping_point(trial, {"4": "hope_4", "12": "hope_12"}, m=3, seed=1,
    ...                             deltas=[-5.0, 0.0, 5.0])
    >>> fig = pt.plot.tipping_point_plot(tp)
    >>> fig.axes[0].get_title()
    'Tipping-point analysis'
    """
    t = tp.table
    delta = t.index.to_numpy(dtype=float)
    with style():
        fig, ax, _ = single_axes(ax, (6.0, 4.2))
        ax.fill_between(delta, t["ci_lb"], t["ci_ub"], color=PALETTE[0], alpha=0.2, lw=0,
                        label=f"{100 * tp.level:g}% CI (Rubin's rules)")
        ax.plot(delta, t["estimate"], color=PALETTE[0], lw=1.6, marker="o", ms=3, label="estimate")
        ax.axhline(0, color="black", lw=0.8)
        if np.isfinite(tp.tipping_delta):
            ax.axvline(tp.tipping_delta, color=PALETTE[1], lw=1.0, ls="--",
                       label=f"tipping point, delta = {tp.tipping_delta:.3g}")
        ax.set_xlabel(xlabel or f"delta added after the intercurrent event ({tp.arms} arm{'s' if tp.arms == 'both' else ''})")
        ax.set_ylabel(ylabel or f"treatment effect at visit {tp.visit}")
        ax.set_title(title or "Tipping-point analysis")
        ax.legend(loc="best", fontsize=7)
    return fig
