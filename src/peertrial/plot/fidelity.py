"""Figures for fidelity results: per-peer-worker profile, reliability, moderation."""

from __future__ import annotations

import numpy as np

from peertrial.plot._figure import panels, single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["fidelity_profile", "alpha_plot", "fidelity_moderation_plot"]


def _short(domain: str) -> str:
    return domain.replace("_", "\n")


def fidelity_profile(scores, sort: bool = True, *, ax=None):
    """Per-peer-worker fidelity profile: heat map of domain means, and each worker's total.

    Left: mean domain score of each peer worker (rows) over their rated
    sessions, on the index scale. Right: the worker's mean total with the range
    of their session totals. ``scores`` is a :class:`~peertrial.fidelity.FidelityScores`.
    ``ax``: draw both panels (and the colour bar) in this Axes' slot. Returns the
    (top-level) Figure.
    """
    prof = scores.by_worker()
    if sort:
        prof = prof.sort_values("total")
    lo, hi = scores.scale
    domains = list(scores.domains)
    n = len(prof)
    with style():
        fig, box, _ = panels(ax, (8.5, max(3.0, 0.24 * n + 1.6)))
        ax, ax2 = box.subplots(1, 2, gridspec_kw={"width_ratios": [len(domains), 2.2]}, sharey=True)
        im = ax.imshow(prof[domains].to_numpy(), aspect="auto", cmap="RdYlBu", vmin=lo, vmax=hi, origin="lower")
        ax.set_xticks(range(len(domains)), [_short(d) for d in domains], fontsize=7)
        ax.set_yticks(range(n), [str(i) for i in prof.index], fontsize=7)
        ax.set_ylabel("peer worker (sorted by total)" if sort else "peer worker")
        if n <= 40:
            for i in range(n):
                for j, d in enumerate(domains):
                    v = prof[d].iloc[i]
                    if np.isfinite(v):
                        dark = abs(v - (lo + hi) / 2) > 0.35 * (hi - lo)
                        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6, color="white" if dark else "black")
        ax.set_title("Mean domain score")
        y = np.arange(n)
        ax2.hlines(y, prof["total_min"], prof["total_max"], color=PALETTE[5], lw=1.2)
        ax2.plot(prof["total"], y, "o", color=PALETTE[0], ms=4)
        ax2.set_xlim(lo - 0.1, hi + 0.1)
        ax2.set_xlabel("total (mean; range over sessions)")
        ax2.set_title("Total fidelity")
        ax2.grid(axis="x", color="#dddddd", lw=0.6)
        box.colorbar(im, ax=[ax, ax2], shrink=0.6, pad=0.02, label=f"score ({lo:g}-{hi:g})")
    return fig


def alpha_plot(alpha, *, ax=None):
    """Cronbach's alpha with its Feldt CI for each domain and the total scale. ``ax``: draw
    into this Axes. Returns the (top-level) Figure."""
    t = alpha.table.dropna(subset=["alpha"])
    with style():
        fig, ax, _ = single_axes(ax, (5.5, 0.35 * len(t) + 1.2))
        y = np.arange(len(t))[::-1]
        ax.hlines(y, t["ci_lb"], t["ci_ub"], color=PALETTE[0])
        ax.plot(t["alpha"], y, "s", color=PALETTE[0])
        ax.set_yticks(y, [s.replace("_", " ") for s in t.index])
        ax.axvline(0.7, color=PALETTE[5], ls=":", lw=1)
        ax.set_xlabel(f"Cronbach's alpha ({alpha.level:.0%} Feldt CI)")
        ax.set_xlim(min(0.0, float(t["ci_lb"].min())), 1.0)
    return fig


def fidelity_moderation_plot(res, *, ax=None):
    """Peer workers' mean outcome against their fidelity score, with the fitted REML line.

    Marker area is proportional to the number of participants; the line is the
    model's fixed-effect prediction at the covariate means (intervention-arm
    model) — a NON-RANDOMISED association. ``ax``: draw into this Axes. Returns the
    (top-level) Figure.
    """
    w = res.workers
    coef = res.coef["estimate"]
    with style():
        fig, ax, _ = single_axes(ax, (5.5, 4))
        ax.scatter(w["fidelity"], w["mean_outcome"], s=12 * w["n"], color=PALETTE[0], alpha=0.6, edgecolor="white")
        f = np.linspace(w["fidelity"].min(), w["fidelity"].max(), 50)
        cov = sum(coef[c] * m for c, m in res.covariate_means.items())
        if res.population == "intervention":
            line = coef["(Intercept)"] + coef["fidelity"] * (f - res.fidelity_center) + cov
        else:
            line = coef["(Intercept)"] + coef["arm"] + coef["arm:fidelity"] * (f - res.fidelity_center) + cov
        label = "fitted (mixed model; singular fit, peer-worker variance 0)" if res.singular else "fitted (mixed model)"
        ax.plot(f, line, color=PALETTE[1], lw=1.5, label=label)
        ax.set_xlabel("peer worker's fidelity score")
        ax.set_ylabel(f"mean {res.outcome} of their participants")
        ax.set_title("Outcome by peer-worker fidelity (non-randomised)")
        ax.legend(loc="best")
    return fig
