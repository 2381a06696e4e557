"""Figures for fidelity results: per-peer-worker profile, reliability, moderation."""

from __future__ import annotations

import numpy as np

from peertrial.plot._figure import panels, single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["fidelity_profile", "alpha_plot", "fidelity_moderation_plot"]


def _short(domain: str) -> str:
    return domain.replace("_", "\n")


def fidelity_profile(scores, sort: bool = True, *, ax=None):
    """Draw each peer worker's fidelity profile: a heat map of domain means beside the worker's total score.

    Left: the mean score of each peer worker (rows) in each fidelity domain (columns) over
    their rated sessions, on the index scale (printed in the cells for up to 40 workers).
    Right: the worker's mean total with the range of their session totals. Workers are sorted
    by total, so those who may need supervision are at the bottom.

    Parameters
    ----------
    scores : FidelityScores
        From :func:`peertrial.fidelity.score_fidelity` (its ``by_worker()`` table, ``domains``
        and ``scale``).
    sort : bool, default True
        Sort workers by their mean total (else in the order of ``by_worker()``).
    ax : matplotlib.axes.Axes, optional
        Draw both panels (and the colour bar) in this Axes' slot; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none; a descriptive display of the scores (the reliability statistics
    behind them equal ``psych``'s).

    References
    ----------
    .. [1] Bellg, A. J., Borrelli, B., Resnick, B., et al. (2004). Enhancing treatment fidelity
       in health behavior change studies: best practices and recommendations from the NIH
       Behavior Change Consortium. Health Psychology, 23, 443-451.

    Examples
    --------
    >>> import peertrial as pt
    >>> ratings = pt.simulate.fidelity_ratings(n=200, seed=1)
    >>> scores = pt.fidelity.score_fidelity(ratings, scale=(1, 4))
    >>> fig = pt.plot.fidelity_profile(scores)
    >>> [a.get_title() for a in fig.axes[:2]]
    ['Mean domain score', 'Total fidelity']
    >>> pt.plot.close(fig)
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
    """Draw Cronbach's alpha with its Feldt confidence interval for each fidelity domain and the total scale.

    One row per domain (and the total), the point estimate and its interval, and a dotted
    line at 0.7, the usual threshold for acceptable internal consistency. Domains without an
    alpha (a single item) are left out.

    Parameters
    ----------
    alpha : AlphaResult
        From :func:`peertrial.fidelity.cronbach_alpha` (its ``table`` with ``alpha``,
        ``ci_lb``, ``ci_ub``, indexed by domain; ``level``).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none as a figure; the values equal ``psych::alpha`` (``raw_alpha``; psych
    2.2.9).

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
       Psychometrika, 16, 297-334.
    .. [2] Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for
       coefficient alpha. Applied Psychological Measurement, 11, 93-103.

    Examples
    --------
    >>> import peertrial as pt
    >>> ratings = pt.simulate.fidelity_ratings(n=200, seed=1)
    >>> alpha = pt.fidelity.cronbach_alpha(pt.fidelity.score_fidelity(ratings, scale=(1, 4)))
    >>> fig = pt.plot.alpha_plot(alpha)
    >>> fig.axes[0].get_xlabel()
    "Cronbach's alpha (95% Feldt CI)"
    >>> pt.plot.close(fig)
    """
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
    """Draw peer workers' mean participant outcome against their fidelity score, with the fitted mixed-model line.

    One point per peer worker (area proportional to the number of participants), and the
    model's fixed-effect prediction over the range of fidelity at the covariate means (for the
    intervention-arm model; with ``population="all"`` the intervention arm's line). The
    association is not randomised: workers with higher fidelity may differ in other ways.

    Parameters
    ----------
    res : FidelityModeration
        From :func:`peertrial.fidelity.fidelity_moderation` (its ``workers`` table with
        ``fidelity``, ``mean_outcome``, ``n``; ``coef``, ``covariate_means``,
        ``fidelity_center``, ``population``, ``singular`` and ``outcome``).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none as a figure; the model (intervention arm) equals ``lme4::lmer(outcome ~
    fidelity + covariates + (1 | peer_worker), REML = TRUE)`` (fidelity centred).

    References
    ----------
    .. [1] Durlak, J. A., & DuPre, E. P. (2008). Implementation matters: a review of research
       on the influence of implementation on program outcomes and the factors affecting
       implementation. American Journal of Community Psychology, 41, 327-350.
    .. [2] Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear
       mixed-effects models using lme4. Journal of Statistical Software, 67(1), 1-48.

    Examples
    --------
    >>> import peertrial as pt
    >>> sim = pt.simulate.simulate_trial(n=200, seed=1)
    >>> scores = pt.fidelity.score_fidelity(sim.fidelity, scale=(1, 4))
    >>> res = pt.fidelity.fidelity_moderation(sim.data, scores, "hope_12", covariates=["hope_0"])
    >>> fig = pt.plot.fidelity_moderation_plot(res)
    >>> fig.axes[0].get_xlabel()
    "peer worker's fidelity score"
    >>> pt.plot.close(fig)
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
