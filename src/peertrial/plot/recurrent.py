"""Figures for recurrent events: the mean cumulative function by group."""

from __future__ import annotations

import numpy as np

from peertrial.plot._figure import single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["mcf_plot", "state_probability_plot"]


def mcf_plot(result, ax=None, *, ci: bool = True, labels: dict | None = None,
             xlabel: str = "Days", ylabel: str = "Mean number of events per person",
             title: str | None = None):
    """Draw the mean cumulative function of recurrent events: a step plot per group with confidence bands.

    The mean number of events per person up to each time (0 at time 0, carried to the end of
    the group's follow-up), with its pointwise (robust) confidence band.

    Parameters
    ----------
    result : MCFResult
        From :func:`peertrial.survival.mcf` (its ``table`` with ``group``, ``time``,
        ``estimate``, ``ci_lb``, ``ci_ub``; ``groups`` and ``followup_end``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    ci : bool, default True
        Draw the pointwise confidence band.
    labels : dict, optional
        Group level -> legend label (e.g. ``{0: "Control", 1: "Peer support"}``).
    xlabel : str, default "Days"
        Time-axis label.
    ylabel : str, default "Mean number of events per person"
        Vertical-axis label.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``plot(survfit(Surv(start, stop, event) ~ group, id = id), cumhaz = TRUE)``
    (survival 3.5-3), whose cumulative hazard of the recurrent events is the MCF without a
    terminal event.

    References
    ----------
    .. [1] Nelson, W. B. (2003). Recurrent Events Data Analysis for Product Repairs, Disease
       Recurrences, and Other Applications. ASA-SIAM.
    .. [2] Lawless, J. F., & Nadeau, C. (1995). Some simple robust methods for the analysis of
       recurrent events. Technometrics, 37, 158-168.

    Examples
    --------
    >>> import pandas as pd
    >>> import peertrial as pt
    >>> d = pd.DataFrame({"id": [1, 1, 1, 2, 2, 3], "days": [30, 90, 365, 200, 365, 365],
    ...                   "readmit": [1, 1, 0, 1, 0, 0]})
    >>> fit = pt.survival.mcf(d, id="id", time="days", event="readmit")
    >>> fig = pt.plot.mcf_plot(fit)
    >>> fig.axes[0].get_ylabel()
    'Mean number of events per person'
    >>> pt.plot.close(fig)
    """
    labels = labels or {}
    fig, ax, _ = single_axes(ax, (6.4, 4.2))
    with style():
        tmax = 0.0
        for i, g in enumerate(result.groups):
            cur = result.table[result.table["group"] == g]
            color = PALETTE[i % len(PALETTE)]
            end = float(result.followup_end.get(g, cur["time"].max() if len(cur) else 0.0))
            t = np.concatenate([[0.0], cur["time"].to_numpy(), [end]])
            y = np.concatenate([[0.0], cur["estimate"].to_numpy()])
            y = np.append(y, y[-1])
            ax.step(t, y, where="post", color=color, lw=1.6, label=str(labels.get(g, g)))
            if ci and len(cur):
                lo = np.concatenate([[0.0], cur["ci_lb"].to_numpy()])
                hi = np.concatenate([[0.0], cur["ci_ub"].to_numpy()])
                ax.fill_between(t, np.append(lo, lo[-1]), np.append(hi, hi[-1]), step="post",
                                color=color, alpha=0.18, lw=0)
            tmax = max(tmax, end)
        if tmax > 0:
            from peertrial.plot.survival import _ticks

            ax.set_xticks(_ticks(tmax, None))  # the Kaplan-Meier plot's ticks (90 days for a year)
        ax.set_xlim(0, tmax * 1.02 if tmax > 0 else 1)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        if len(result.groups) > 1 or labels:
            ax.legend(loc="upper left")
    return fig


def state_probability_plot(result, ax=None, *, states=None, labels: dict | None = None,
                           xlabel: str = "Days", ylabel: str = "Probability of being in state",
                           title: str | None = None, ci: bool = True):
    """Draw the probability of being in each state over time from a multi-state (Aalen–Johansen) fit.

    One colour per state and one line style per group; each curve starts at the initial state
    distribution and steps at the transition times, with its pointwise (robust) confidence
    band.

    Parameters
    ----------
    result : AalenJohansenResult
        From :func:`peertrial.survival.aalen_johansen` (its ``table`` and ``initial`` tables
        with ``group``, ``state``, ``time``, ``estimate``, ``ci_lb``, ``ci_ub``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    states : sequence, optional
        States to draw, in legend order (default: all).
    labels : dict, optional
        State or group -> legend name.
    xlabel : str, default "Days"
        Time-axis label.
    ylabel : str, default "Probability of being in state"
        Vertical-axis label.
    title : str, optional
        Axes title.
    ci : bool, default True
        Draw the pointwise confidence bands.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``plot(survfit(Surv(start, stop, event) ~ group, id = id, istate = istate))``
    (``survival::plot.survfitms``; survival 3.5-3).

    References
    ----------
    .. [1] Aalen, O. O., & Johansen, S. (1978). An empirical transition matrix for
       non-homogeneous Markov chains based on censored observations. Scandinavian Journal of
       Statistics, 5, 141-150.
    .. [2] Putter, H., Fiocco, M., & Geskus, R. B. (2007). Tutorial in biostatistics:
       competing risks and multi-state models. Statistics in Medicine, 26, 2389-2430.

    Examples
    --------
    >>> import pandas as pd
    >>> import peertrial as pt
    >>> d = pd.DataFrame({"id": [1, 1, 2, 3], "start": [0, 10, 0, 0], "stop": [10, 30, 20, 30],
    ...                   "state": ["home", "ward", "home", "home"],
    ...                   "to": ["ward", "home", 0, "dead"]})
    >>> fit = pt.survival.aalen_johansen(d, id="id", start="start", stop="stop", event="to", istate="state")
    >>> fig = pt.plot.state_probability_plot(fit, states=["home", "ward"])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['home', 'ward']
    >>> pt.plot.close(fig)
    """
    labels = labels or {}
    states = list(result.states if states is None else states)
    styles = ("-", "--", ":", "-.")
    fig, ax, _ = single_axes(ax, (6.4, 4.2))
    with style():
        for gi, g in enumerate(result.groups):
            for si, s in enumerate(states):
                cur = result.table[(result.table["group"] == g) & (result.table["state"] == s)]
                start = result.initial[(result.initial["group"] == g) & (result.initial["state"] == s)]
                t = np.concatenate([start["time"].to_numpy(), cur["time"].to_numpy()])
                y = np.concatenate([start["estimate"].to_numpy(), cur["estimate"].to_numpy()])
                color = PALETTE[si % len(PALETTE)]
                name = str(labels.get(s, s)) + (f" ({labels.get(g, g)})" if len(result.groups) > 1 else "")
                ax.step(t, y, where="post", color=color, ls=styles[gi % len(styles)], lw=1.5, label=name)
                if ci:
                    lo = np.concatenate([y[:1], cur["ci_lb"].fillna(cur["estimate"]).to_numpy()])
                    hi = np.concatenate([y[:1], cur["ci_ub"].fillna(cur["estimate"]).to_numpy()])
                    ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.10, lw=0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return fig
