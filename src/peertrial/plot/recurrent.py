"""Figures for recurrent events: the mean cumulative function by group."""

from __future__ import annotations

import numpy as np

from peertrial.plot._figure import single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["mcf_plot", "state_probability_plot"]


def mcf_plot(result, ax=None, *, ci: bool = True, labels: dict | None = None,
             xlabel: str = "Days", ylabel: str = "Mean number of events per person",
             title: str | None = None):
    """Step plot of an :class:`~peertrial.survival.MCFResult` with confidence bands.

    Parameters
    ----------
    result : MCFResult
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure when omitted.
    ci : bool
        Draw the pointwise confidence band.
    labels : dict, optional
        Group level -> legend label (e.g. ``{0: "Control", 1: "Peer support"}``).

    Returns
    -------
    matplotlib.figure.Figure
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
    """Probability of each state over time from an :class:`~peertrial.survival.AalenJohansenResult`.

    One colour per state, one line style per group; ``states`` selects and orders the
    states drawn (default: all). Returns the Figure.
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
