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
    """Tornado plot of a :class:`~peertrial.econ.OneWaySensitivity`: one bar per
    parameter from the output at its low value to the output at its high value,
    largest swing on top, a line at the base case. ``ax``: draw into this Axes.
    Returns the (top-level) Figure."""
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
    """Cost-effectiveness plane: bootstrap cloud of (dE, dC), the point estimate,
    and the willingness-to-pay line ``dC = wtp * dE`` (points below it are
    cost-effective at that WTP). ``ax``: draw into this Axes. Returns the (top-level) Figure."""
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
    """Cost-effectiveness acceptability curve.

    ``result`` is a :class:`~peertrial.econ.CEA` (then ``wtps`` defaults to 0 to
    50,000 in 500 steps) or a DataFrame with ``wtp`` and
    ``prob_cost_effective`` (and optionally ``strategy`` for several curves).
    Vertical lines mark ``mark_wtp``: by default (``"nice"``) NICE's 20,000-30,000 GBP
    per QALY range when the effect is QALYs, and nothing for other effect measures.
    ``ax``: draw into this Axes. Returns the (top-level) Figure.
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
    """Strategies on the cost-effectiveness plane (:class:`~peertrial.econ.ICERTable`),
    the efficient frontier joined by a line; markers by status (ND, ED, D). ``ax``: draw into
    this Axes. Returns the (top-level) Figure."""
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
