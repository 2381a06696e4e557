"""Figures for process-evaluation results: engagement, time to contact, retention, mediation, proportions."""

from __future__ import annotations

import numpy as np

from peertrial.plot._figure import panels, single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["engagement_plot", "survival_curve_plot", "mediation_plot", "implementation_plot", "dose_response_plot"]


def engagement_plot(summary, *, ax=None):
    """Draw engagement with the intervention: sessions attended in the intervention arm and by peer worker.

    Left: the number of intervention participants by sessions attended, with a dashed line at
    the threshold for "received" the intervention. Right (when peer workers were given): each
    worker's participants' mean (dot) and median (tick) sessions with the interquartile
    range, workers sorted by mean.

    Parameters
    ----------
    summary : EngagementSummary
        From :func:`peertrial.process.engagement_summary` (its ``distribution`` table of
        counts by sessions and arm, ``threshold``, and ``by_worker`` table with ``mean``,
        ``median``, ``q1``, ``q3``).
    ax : matplotlib.axes.Axes, optional
        Draw both panels in this Axes' slot; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none; a descriptive display (``barplot(table(sessions))`` in base R).

    References
    ----------
    .. [1] Moore, G. F., Audrey, S., Barker, M., et al. (2015). Process evaluation of complex
       interventions: Medical Research Council guidance. BMJ, 350, h1258.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> eng = pt.process.engagement_summary(df, sessions="sessions", arm="arm", peer_worker="peer_worker")
    >>> fig = pt.plot.engagement_plot(eng)
    >>> [a.get_title() for a in fig.axes]
    ['Sessions attended', 'By peer worker']
    >>> pt.plot.close(fig)
    """
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
    """Draw Kaplan–Meier step curves of a process measure (e.g. time to first peer contact) with their confidence bands.

    One curve per group with its pointwise band (log-log scale, the curve's level; where the
    limit is undefined, at S = 0 or 1, the band closes on the curve). With ``cumulative`` the
    curve is ``1 - S``, the cumulative proportion who had the event, the natural reading for
    contact curves.

    Parameters
    ----------
    curve : SurvivalCurve
        From :func:`peertrial.process.time_to_first_contact`,
        :func:`peertrial.process.worker_retention` or :func:`peertrial.process.km_curve` (its
        ``table`` with ``group``, ``time``, ``surv``, ``ci_lb``, ``ci_ub``; ``complement``,
        ``time_unit``, ``event_name`` and ``title``).
    cumulative : bool, optional
        Draw ``1 - S`` (default: the curve's ``complement``, True for contact curves).
    ylabel : str, optional
        Vertical-axis label (default from the curve's event name).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``plot(survfit(Surv(time, event) ~ group, conf.type = "log-log"))``
    (``survival::plot.survfit``; survival 3.5-3), with ``fun = "event"`` for the cumulative
    proportion.

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> contact = pt.process.time_to_first_contact(df, time="contact_days", arm="arm", horizon=365)
    >>> fig = pt.plot.survival_curve_plot(contact)
    >>> fig.axes[0].get_ylabel()
    'cumulative proportion: first peer contact'
    >>> pt.plot.close(fig)
    """
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
    """Draw a mediation analysis: the path diagram with estimates and CIs beside the bootstrap distribution of the indirect effect.

    Left: boxes for the randomised arm (x), the mediator (m) and the outcome (y), arrows
    labelled with the a path (x to m), the b path (m to y given x) and the direct effect c',
    and above them the indirect effect a·b and the total effect c, each with its CI. Right: the
    histogram of the bootstrap indirect effects with the estimate (solid), the percentile CI
    (dashed) and 0. Intervals are at the result's ``level``.

    Parameters
    ----------
    res : MediationResult
        From :func:`peertrial.process.mediation` (its ``paths`` table with rows ``a``, ``b``,
        ``direct``, ``indirect``, ``total`` and columns ``estimate``, ``ci_lb``, ``ci_ub``;
        ``boot``, ``n_boot``, ``level`` and the variable names ``x``, ``mediator``,
        ``outcome``).
    ax : matplotlib.axes.Axes, optional
        Draw both panels in this Axes' slot; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none as a figure; the paths equal ``stats::lm`` fits of the mediator and
    outcome models (and ``lavaan::sem``'s ML estimates).

    References
    ----------
    .. [1] Baron, R. M., & Kenny, D. A. (1986). The moderator-mediator variable distinction in
       social psychological research. Journal of Personality and Social Psychology, 51,
       1173-1182.
    .. [2] Preacher, K. J., & Hayes, A. F. (2008). Asymptotic and resampling strategies for
       assessing and comparing indirect effects in multiple mediator models. Behavior
       Research Methods, 40, 879-891.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.process.mediation(df, "arm", "hope_4", "hope_12", ["hope_0"], n_boot=200, seed=1)
    >>> fig = pt.plot.mediation_plot(res)
    >>> fig.axes[1].get_title()
    '200 resamples, 95% percentile CI'
    >>> pt.plot.close(fig)
    """
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
        ax2.set_title(f"{res.n_boot} resamples, {100 * res.level:g}% percentile CI")
    return fig


def implementation_plot(outcomes, *, ax=None):
    """Draw implementation outcomes as proportions with exact (Clopper–Pearson) and Wilson confidence intervals.

    One row per outcome (labelled with x/n): the observed proportion, its exact interval
    (blue, above) and its Wilson score interval (green, below), so the two can be compared at
    small n (at the result's ``level``).

    Parameters
    ----------
    outcomes : ImplementationOutcomes
        From :func:`peertrial.process.implementation_outcomes` (its ``table`` with ``x``,
        ``n``, ``prop``, ``exact_lb``, ``exact_ub``, ``wilson_lb``, ``wilson_ub``, indexed by
        outcome; ``level``).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none as a figure; the intervals equal ``stats::binom.test(x, n)$conf.int``
    (exact) and ``stats::prop.test(x, n, correct = FALSE)$conf.int`` (Wilson).

    References
    ----------
    .. [1] Proctor, E., Silmere, H., Raghavan, R., et al. (2011). Outcomes for implementation
       research: conceptual distinctions, measurement challenges, and research agenda.
       Administration and Policy in Mental Health, 38, 65-76.
    .. [2] Brown, L. D., Cai, T. T., & DasGupta, A. (2001). Interval estimation for a binomial
       proportion. Statistical Science, 16, 101-133.

    Examples
    --------
    >>> import peertrial as pt
    >>> out = pt.process.implementation_outcomes({"trained": (10, 28), "employed": (7, 10)})
    >>> fig = pt.plot.implementation_plot(out)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['trained  (10/28)', 'employed  (7/10)']
    >>> pt.plot.close(fig)
    """
    t = outcomes.table
    y = np.arange(len(t))[::-1]
    with style():
        fig, ax, _ = single_axes(ax, (6.5, 0.5 * len(t) + 1.3))
        ax.hlines(y + 0.12, t["exact_lb"], t["exact_ub"], color=PALETTE[0], lw=2, label="exact (Clopper-Pearson)")
        ax.hlines(y - 0.12, t["wilson_lb"], t["wilson_ub"], color=PALETTE[2], lw=2, label="Wilson")
        ax.plot(t["prop"], y, "o", color="black", ms=4)
        ax.set_yticks(y, [f"{i}  ({int(r.x)}/{int(r.n)})" for i, r in t.iterrows()])
        ax.set_xlim(0, 1.02)
        ax.set_xlabel(f"proportion ({100 * outcomes.level:g}% CI)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8)
    return fig


def dose_response_plot(data, res, sessions: str = "sessions", arm: str | None = "arm", *, ax=None):
    """Draw the outcome against sessions attended in the intervention arm, with the fitted dose-response line.

    Participants' outcomes (jittered) against their sessions attended, and the fitted line of
    the :func:`peertrial.process.dose_response` model over 0 to the largest number of
    sessions, at the covariate means of the drawn data (gaussian) or on the probability scale
    (logistic). The association is not randomised: participants who attend more may differ in
    other ways; the randomised effect of the offer is the ITT estimate.

    Parameters
    ----------
    data : pandas.DataFrame
        The data the model was fitted on (its outcome, ``sessions`` and covariate columns).
    res : RegressionResult
        From :func:`peertrial.process.dose_response` fitted on ``data`` (its ``coef``,
        ``outcome`` and ``family``).
    sessions : str, default "sessions"
        Column of the number of sessions attended (as in the fit).
    arm : str or None, default "arm"
        Column of the arm: only rows with ``arm == 1`` are drawn (``None``: every row).
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none as a figure; the model equals ``stats::lm(outcome ~ sessions +
    covariates)`` (or ``glm(family = binomial)``) in the intervention arm.

    References
    ----------
    .. [1] Emsley, R., Dunn, G., & White, I. R. (2010). Mediation and moderation of treatment
       effects in randomised controlled trials of complex interventions. Statistical Methods
       in Medical Research, 19, 237-270.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.process.dose_response(df, "hope_12", sessions="sessions", covariates=["hope_0"], arm="arm")
    >>> fig = pt.plot.dose_response_plot(df, res, sessions="sessions", arm="arm")
    >>> fig.axes[0].get_title()
    'Dose-response (non-randomised)'
    >>> pt.plot.close(fig)
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
