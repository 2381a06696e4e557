"""Figures for ``peertrial.survival`` results: KM curves, cumulative incidence, Schoenfeld residuals."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from peertrial.plot._style import PALETTE, style

__all__ = ["km_plot", "cuminc_plot", "schoenfeld_plot"]


def _ticks(tmax: float, step: float | None):
    if step is None:
        step = 90 if tmax > 180 else (30 if tmax > 60 else max(1.0, float(np.ceil(tmax / 6))))
    return np.arange(0, tmax + 1e-9, step)


def km_plot(km, *, ci: bool = True, risk_table: bool = True, tick_step: float | None = None,
            labels: dict | None = None, xlabel: str = "Days", ylabel: str = "Proportion not readmitted",
            title: str | None = None, censor_marks: bool = True):
    """Kaplan–Meier curves with confidence bands and a numbers-at-risk table under the axis.

    ``km`` is a :class:`peertrial.survival.KaplanMeierResult`; ``labels`` maps group
    levels to legend names (e.g. ``{0: "Control", 1: "Peer support"}``).
    """
    labels = labels or {}
    table = km.table
    tmax = float(table["time"].max())
    ticks = _ticks(tmax, tick_step)
    with style():
        ng = len(km.groups)
        height = 4.2 + (0.25 * ng + 0.35 if risk_table else 0)
        fig = plt.figure(figsize=(6.4, height))
        if risk_table:
            gs = fig.add_gridspec(2, 1, height_ratios=[4.2, 0.25 * ng + 0.35], hspace=0.5)
            ax = fig.add_subplot(gs[0])
            axt = fig.add_subplot(gs[1], sharex=ax)
        else:
            ax = fig.add_subplot(111)
        for i, g in enumerate(km.groups):
            cur = table[table["group"] == g]
            color = PALETTE[i % len(PALETTE)]
            t = np.concatenate([[0.0], cur["time"].to_numpy()])
            s = np.concatenate([[1.0], cur["surv"].to_numpy()])
            ax.step(t, s, where="post", color=color, lw=1.6, label=str(labels.get(g, g)))
            if ci:
                lo = np.concatenate([[1.0], cur["lower"].to_numpy()])
                hi = np.concatenate([[1.0], cur["upper"].to_numpy()])
                # R leaves the limits undefined where S is 1 (log-log) or 0; draw them at S
                lo, hi = np.where(np.isnan(lo), s, lo), np.where(np.isnan(hi), s, hi)
                ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.18, lw=0)
            if censor_marks:
                cens = cur[(cur["n_censor"] > 0)]
                ax.plot(cens["time"], cens["surv"], "|", color=color, ms=5, mew=0.8)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, tmax * 1.02)
        ax.set_ylabel(ylabel)
        ax.set_xticks(ticks)
        ax.legend(loc="lower left")
        if title:
            ax.set_title(title)
        if risk_table:
            at = km.at(ticks)
            for i, g in enumerate(km.groups):
                row = at[at["group"] == g]
                y = ng - 1 - i
                for t, n in zip(row["time"], row["n_risk"]):
                    axt.text(t, y, f"{int(round(n))}", ha="center", va="center", fontsize=8,
                             color=PALETTE[i % len(PALETTE)])
            axt.set_ylim(-0.6, ng - 0.4)
            axt.set_yticks(range(ng))
            axt.set_yticklabels([str(labels.get(g, g)) for g in km.groups][::-1], fontsize=8)
            axt.tick_params(axis="y", length=0, pad=14)
            axt.tick_params(axis="x", bottom=False, labelbottom=False)
            for side in ("left", "top", "right", "bottom"):
                axt.spines[side].set_visible(False)
            axt.set_title("Number at risk", fontsize=8, loc="left")
            ax.set_xlabel(xlabel)
        else:
            ax.set_xlabel(xlabel)
    return fig


def cuminc_plot(ci, *, causes=None, ci_band: bool = True, conf_level: float = 0.95,
                labels: dict | None = None, cause_labels: dict | None = None, xlabel: str = "Days",
                ylabel: str = "Cumulative incidence", title: str | None = None):
    """Cumulative incidence curves (one line style per cause, one colour per group).

    Bands are pointwise est ± z sqrt(var) with cmprsk's variance, clipped to [0, 1].
    """
    labels, cause_labels = labels or {}, cause_labels or {}
    causes = ci.causes if causes is None else list(causes)
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    styles = ["-", "--", ":", "-."]
    with style():
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for i, g in enumerate(ci.groups):
            color = PALETTE[i % len(PALETTE)]
            for j, c in enumerate(causes):
                cur = ci.table[(ci.table["group"] == g) & (ci.table["cause"] == c)]
                tmax = float(ci.max_time[g])
                t = np.concatenate([[0.0], cur["time"].to_numpy(), [tmax]])
                est = cur["est"].to_numpy()
                e = np.concatenate([[0.0], est, [est[-1] if len(est) else 0.0]])
                v = cur["var"].to_numpy()
                v = np.concatenate([[0.0], v, [v[-1] if len(v) else 0.0]])
                name = f"{labels.get(g, g)}: {cause_labels.get(c, f'cause {c}')}"
                ax.step(t, e, where="post", color=color, ls=styles[j % len(styles)], lw=1.6, label=name)
                if ci_band:
                    sd = np.sqrt(np.maximum(v, 0))
                    ax.fill_between(t, np.clip(e - z * sd, 0, 1), np.clip(e + z * sd, 0, 1),
                                    step="post", color=color, alpha=0.12, lw=0)
        ax.set_xlim(0, None)
        ax.set_ylim(0, None)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left")
        if title:
            ax.set_title(title)
    return fig


def schoenfeld_plot(cox, covariates=None, *, frac: float = 0.6):
    """Scaled Schoenfeld residuals against KM-transformed time, one panel per covariate.

    Each panel shows the residuals, a lowess smooth (statsmodels) of beta(t), the fitted
    coefficient as a dashed line, and the ``cox.zph`` test p-value in the title.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    res = cox.schoenfeld()
    test = cox.test_ph()
    covariates = list(cox.coef.index) if covariates is None else list(covariates)
    k = len(covariates)
    with style():
        fig, axes = plt.subplots(1, k, figsize=(3.3 * k, 3.2), squeeze=False)
        x = res["transformed_time"].to_numpy()
        for ax, name in zip(axes[0], covariates):
            y = res[name].to_numpy()
            ax.plot(x, y, "o", ms=2.5, color=PALETTE[5], alpha=0.5)
            sm = lowess(y, x, frac=frac, return_sorted=True)
            ax.plot(sm[:, 0], sm[:, 1], color=PALETTE[0], lw=1.8)
            ax.axhline(cox.coef[name], color=PALETTE[1], ls="--", lw=1)
            ax.set_xlabel("1 - KM(t-)  (transformed time)")
            ax.set_ylabel(f"Beta(t) for {name}")
            ax.set_title(f"{name}: PH test p = {test.at[name, 'pval']:.3g}")
        fig.tight_layout()
    return fig
