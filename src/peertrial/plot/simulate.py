"""Figures for simulation studies: power curves."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from peertrial.plot._figure import single_axes
from peertrial.plot._style import PALETTE, style

_LABELS = {"logistic": "12-month readmission (logistic)", "cox": "time to readmission (Cox)",
           "ttest": "hope at 12 months (t-test)", "ancova": "hope at 12 months (ANCOVA)"}


def power_curve_plot(curve: pd.DataFrame, *, target: float | None = 0.8, title: str | None = None,
                     ax=None) -> Figure:
    """Simulated power against trial size, one line per analysis, with 95% Monte Carlo bands.

    ``curve`` is the DataFrame of :func:`peertrial.simulate.power_curve`
    (columns ``n``, ``analysis``, ``power``, ``ci_lb``, ``ci_ub``). ``ax``: draw into this
    Axes. Returns the (top-level) Figure.
    """
    missing = {"n", "analysis", "power", "ci_lb", "ci_ub"} - set(curve.columns)
    if missing:
        raise ValueError(f"power curve table lacks column(s) {sorted(missing)}")
    with style():
        fig, ax, _ = single_axes(ax, (6, 4))
        for colour, (analysis, rows) in zip(PALETTE, curve.groupby("analysis", sort=False)):
            rows = rows.sort_values("n")
            ax.plot(rows["n"], rows["power"], marker="o", color=colour, label=_LABELS.get(analysis, analysis))
            ax.fill_between(rows["n"], rows["ci_lb"], rows["ci_ub"], color=colour, alpha=0.15, linewidth=0)
        if target is not None:
            ax.axhline(target, color="0.4", linestyle="--", linewidth=0.8)
        ax.set_ylim(0, 1)
        ax.set_xlabel("Participants randomised")
        ax.set_ylabel("Power (two-sided alpha = 0.05)")
        ax.legend(loc="upper left")  # power rises to the right: the upper left stays clear
        if title:
            ax.set_title(title)
    return fig
