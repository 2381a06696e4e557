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
    """Draw simulated power against trial size, one line per analysis, with 95% Monte Carlo bands.

    Each analysis's power (proportion of simulated trials with p < 0.05) at each trial size,
    its Monte Carlo confidence band, and a dashed line at the target power.

    Parameters
    ----------
    curve : pandas.DataFrame
        The table of :func:`peertrial.simulate.power_curve`: columns ``n``, ``analysis``,
        ``power``, ``ci_lb`` and ``ci_ub``, one row per analysis and size.
    target : float or None, default 0.8
        Target power drawn as a horizontal line (``None``: no line).
    title : str, optional
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Raises
    ------
    ValueError
        If ``curve`` lacks one of the columns above.

    Notes
    -----
    R equivalent: none; simulated power curves have no R function (``stats::power.t.test``
    gives the analytic curve of a t-test, :func:`peertrial.simulate.power_t`).

    References
    ----------
    .. [1] Burton, A., Altman, D. G., Royston, P., & Holder, R. L. (2006). The design of
       simulation studies in medical statistics. Statistics in Medicine, 25, 4279-4292.
    .. [2] Morris, T. P., White, I. R., & Crowther, M. J. (2019). Using simulation studies to
       evaluate statistical methods. Statistics in Medicine, 38, 2074-2102.

    Examples
    --------
    >>> import pandas as pd
    >>> import peertrial as pt
    >>> curve = pd.DataFrame({"n": [100, 200, 100, 200], "analysis": ["cox", "cox", "ttest", "ttest"],
    ...                       "power": [0.42, 0.71, 0.55, 0.86], "ci_lb": [0.38, 0.67, 0.51, 0.83],
    ...                       "ci_ub": [0.46, 0.75, 0.59, 0.89]})
    >>> fig = pt.plot.power_curve_plot(curve, target=0.8)
    >>> fig.axes[0].get_xlabel()
    'Participants randomised'
    >>> pt.plot.close(fig)
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
