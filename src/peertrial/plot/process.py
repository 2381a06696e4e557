"""Figures for process-evaluation results: engagement, time to contact, retention, mediation, proportions."""

from __future__ import annotations

import numpy as np

from peertrial.plot._figure import panels, single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["engagement_plot", "survival_curve_plot", "mediation_plot", "implementation_plot", "dose_response_plot"]


def engagement_plot(summary, *, ax=None):
    """Sessions attended in the intervention arm (histogram) and per peer worker (mean, sorted).

    ``ax``: draw both panels in this Axes' slot. Returns the (top-level) Figure."""
    dist = summary.distribution
    col = "peer support" if "peer support" in dist.columns else dist.columns[-1]
    with style():
        fig, box, _ = panels(ax, (9, 3.6))
        ax, ax2 = box.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        ax.bar(dist.index, dist[col], color=PALETTE[0], width=0.85)
        ax.axvline(summary.threshold - 0.5, color=PALETTE[1], ls="--", lw=1)
        ax.text(summary.threshold - 0.4, dist[col].max() * 0.95, f"received (≥{summary.threshold})", color=PALETTE[1], fontsize=8)
        ax.set_xlabel("sessions attended")
        ax.set_ylabel("participants (intervention arm)")
        ax.set_title("Sessions attended")
        bw = summary.by_worker
        if len(bw):
            bw = bw.sort_values("mean")
            y = np.arange(len(bw))
            ax2.hlines(y, bw["q1"], bw["q3"], color=PALETTE[5], lw=1.2)
            ax2.plot(bw["mean"], y, "o", color=PALETTE[0], ms=3.5, label="mean")
            ax2.plot(bw["median"], y, "|", color=PALETTE[1], ms=7, label="median")
            ax2.set_yticks(y, [str(i) for i in bw.index], fontsize=6)
            ax2.set_xlabel("sessions (mean, median, IQR)")
            ax2.set_ylabel("peer worker")
            ax2.set_title("By peer worker")
            ax2.legend(loc="lower right", fontsize=7)
        else:
            ax2.axis("off")
    return fig


def survival_curve_plot(curve, cumulative: bool | None = None, ylabel: str | None = None, *, ax=None):
    """Kaplan–Meier step curves with 95% bands; ``cumulative`` plots 1 - S (default for contact curves).

    ``ax``: draw into this Axes. Returns the (top-level) Figure."""
    cumulative = curve.complement if cumulative is None else cumulative
    with style():
        fig, ax, _ = single_axes(ax, (6, 4))
        for k, (g, tab) in enumerate(curve.table.groupby("group", sort=False)):
            t = np.r_[0.0, tab["time"].to_numpy()]
            s = np.r_[1.0, tab["surv"].to_numpy()]
            lo = np.r_[1.0, tab["ci_lb"].to_numpy()]
            hi = np.r_[1.0, tab["ci_ub"].to_numpy()]
            # log-log limits are undefined (NaN, as R) where S is 0 or 1: the band closes on the curve
            lo, hi = np.where(np.isnan(lo), s, lo), np.where(np.isnan(hi), s, hi)
            if cumulative:
                s, lo, hi = 1 - s, 1 - hi, 1 - lo
            c = PALETTE[k % len(PALETTE)]
            label = None if g == "all" else str(g)
            ax.step(t, s, where="post", color=c, lw=1.5, label=label)
            ax.fill_between(t, lo, hi, step="post", color=c, alpha=0.15, lw=0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"time ({curve.time_unit})")
        default = f"cumulative proportion: {curve.event_name}" if cumulative else "proportion without " + curve.event_name
        ax.set_ylabel(ylabel or default)
        ax.set_title(curve.title)
        if curve.table["group"].nunique() > 1:
            ax.legend(loc="lower right" if cumulative else "lower left")
    return fig


def mediation_plot(res, *, ax=None):
    """Path diagram (a, b, c') with estimates and 95% CIs, beside the bootstrap distribution of a*b.

    ``ax``: draw both panels in this Axes' slot. Returns the (top-level) Figure."""
    p = res.paths

    def lab(k):
        return f"{p.loc[k, 'estimate']:.2f} [{p.loc[k, 'ci_lb']:.2f}, {p.loc[k, 'ci_ub']:.2f}]"

    with style():
        fig, box, _ = panels(ax, (10, 3.8))
        ax, ax2 = box.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 6)
        ax.axis("off")
        places = {"x": (1.3, 1.2, res.x), "m": (5, 4.6, res.mediator), "y": (8.7, 1.2, res.outcome)}
        boxes = {
            k: ax.text(bx, by, text, ha="center", va="center", fontsize=9,
                       bbox={"boxstyle": "round,pad=0.4", "fc": "#eef3f8", "ec": PALETTE[0]})
            for k, (bx, by, text) in places.items()
        }
        fig.draw_without_rendering()  # so the box patches have their size before arrows are clipped to them
        for src, dst in (("x", "m"), ("m", "y"), ("x", "y")):
            ax.annotate(
                "", xy=places[dst][:2], xytext=places[src][:2],
                arrowprops={"arrowstyle": "-|>", "color": PALETTE[0], "lw": 1.3, "shrinkA": 2, "shrinkB": 2,
                            "patchA": boxes[src].get_bbox_patch(), "patchB": boxes[dst].get_bbox_patch()},
            )
        ax.text(2.0, 3.4, "a = " + lab("a"), fontsize=8, ha="center", rotation=0)
        ax.text(8.0, 3.4, "b = " + lab("b"), fontsize=8, ha="center")
        ax.text(5, 0.55, "c' (direct) = " + lab("direct"), fontsize=8, ha="center")
        ax.text(5, 5.75, f"indirect a·b = {lab('indirect')}   total c = {lab('total')}", fontsize=8, ha="center")
        ax2.hist(res.boot, bins=40, color=PALETTE[0], alpha=0.7)
        for v in (p.loc["indirect", "ci_lb"], p.loc["indirect", "ci_ub"]):
            ax2.axvline(v, color=PALETTE[1], ls="--", lw=1)
        ax2.axvline(p.loc["indirect", "estimate"], color="black", lw=1)
        ax2.axvline(0, color=PALETTE[5], lw=0.8)
        ax2.set_xlabel("bootstrap indirect effect a·b")
        ax2.set_ylabel("resamples")
        ax2.set_title(f"{res.n_boot} resamples, 95% percentile CI")
    return fig


def implementation_plot(outcomes, *, ax=None):
    """Proportions with exact (Clopper–Pearson) and Wilson 95% CIs, one row per outcome.

    ``ax``: draw into this Axes. Returns the (top-level) Figure."""
    t = outcomes.table
    y = np.arange(len(t))[::-1]
    with style():
        fig, ax, _ = single_axes(ax, (6.5, 0.5 * len(t) + 1.3))
        ax.hlines(y + 0.12, t["exact_lb"], t["exact_ub"], color=PALETTE[0], lw=2, label="exact (Clopper-Pearson)")
        ax.hlines(y - 0.12, t["wilson_lb"], t["wilson_ub"], color=PALETTE[2], lw=2, label="Wilson")
        ax.plot(t["prop"], y, "o", color="black", ms=4)
        ax.set_yticks(y, [f"{i}  ({int(r.x)}/{int(r.n)})" for i, r in t.iterrows()])
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("proportion (95% CI)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8)
    return fig


def dose_response_plot(data, res, sessions: str = "sessions", arm: str | None = "arm", *, ax=None):
    """Outcome against sessions attended (intervention arm) with the fitted dose-response.

    ``res`` is the :func:`peertrial.process.dose_response` result fitted on
    ``data``; the line is drawn at the covariate means (gaussian) or on the
    probability scale (logistic). A NON-RANDOMISED association. ``ax``: draw into this
    Axes. Returns the (top-level) Figure.
    """
    d = data if arm is None else data[data[arm] == 1]
    d = d.dropna(subset=[res.outcome, sessions])
    coef = res.coef["estimate"]
    other = [c for c in coef.index if c not in ("(Intercept)", sessions)]
    base = coef["(Intercept)"] + sum(coef[c] * d[c].mean() for c in other if c in d)
    s = np.linspace(0, d[sessions].max(), 60)
    eta = base + coef[sessions] * s
    rng = np.random.default_rng(0)
    with style():
        fig, ax, _ = single_axes(ax, (6, 4))
        jitter = rng.uniform(-0.25, 0.25, len(d))
        yv = d[res.outcome].to_numpy(float)
        if res.family == "logistic":
            yv = yv + rng.uniform(-0.04, 0.04, len(d))
            eta = 1 / (1 + np.exp(-eta))
        ax.plot(d[sessions] + jitter, yv, ".", color=PALETTE[0], alpha=0.35, ms=4)
        ax.plot(s, eta, color=PALETTE[1], lw=1.8, label=f"fitted, slope {coef[sessions]:.3f}")
        ax.set_xlabel("sessions attended")
        ax.set_ylabel(res.outcome)
        ax.set_title("Dose-response (non-randomised)")
        ax.legend(loc="best")
    return fig
