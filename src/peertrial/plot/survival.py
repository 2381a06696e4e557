"""Figures for ``peertrial.survival`` results: KM curves, cumulative incidence, Cox hazard
ratios, Schoenfeld residuals."""

from __future__ import annotations

import numpy as np
from scipy import stats

from peertrial.plot._figure import framed_axes, panels, single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["km_plot", "cuminc_plot", "cox_forest", "schoenfeld_plot"]


def _ticks(tmax: float, step: float | None):
    if step is None:
        step = 90 if tmax > 180 else (30 if tmax > 60 else max(1.0, float(np.ceil(tmax / 6))))
    return np.arange(0, tmax + 1e-9, step)


def km_plot(km, *, ci: bool = True, risk_table: bool = True, tick_step: float | None = None,
            labels: dict | None = None, xlabel: str = "Days", ylabel: str = "Proportion not readmitted",
            title: str | None = None, censor_marks: bool = True, ax=None):
    """Draw Kaplan–Meier curves with confidence bands and a numbers-at-risk table under the axis.

    One step curve per group (starting at 1 at time 0), its pointwise confidence band from the
    fit (``conf_type`` of :func:`peertrial.survival.kaplan_meier`; where R leaves a limit
    undefined, at S = 1 on the log-log scale or S = 0, the band closes on the curve), tick
    marks at censoring times, and under the axis the number at risk at each x tick.

    Parameters
    ----------
    km : KaplanMeierResult
        From :func:`peertrial.survival.kaplan_meier` (its ``table`` with ``group``, ``time``,
        ``surv``, ``lower``, ``upper``, ``n_censor``, and ``at()`` for the numbers at risk).
    ci : bool, default True
        Draw the confidence bands.
    risk_table : bool, default True
        Draw the numbers-at-risk table under the curves.
    tick_step : float, optional
        Spacing of the x ticks (and of the risk-table columns); by default 90, 30 or about a
        sixth of the follow-up, depending on its length.
    labels : dict, optional
        Group level -> legend name, e.g. ``{0: "Control", 1: "Peer support"}``.
    xlabel : str, default "Days"
        Time-axis label.
    ylabel : str, default "Proportion not readmitted"
        Survival-axis label (name the event of your data).
    title : str, optional
        Axes title.
    censor_marks : bool, default True
        Mark censoring times on the curves.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes' slot (with ``risk_table`` it is split into the curves and the
        table); by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``plot(survfit(...), conf.int = TRUE, mark.time = TRUE)``
    (``survival::plot.survfit``; survival 3.5-3); the risk table is what
    ``survminer::ggsurvplot(risk.table = TRUE)`` adds.

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.
    .. [2] Pocock, S. J., Clayton, T. C., & Altman, D. G. (2002). Survival plots of
       time-to-event outcomes in clinical trials: good practice and pitfalls. The Lancet,
       359, 1686-1689.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> km = pt.survival.kaplan_meier(df, time="readmit_time", event="readmitted_12m", group="arm")
    >>> fig = pt.plot.km_plot(km, labels={0: "Control", 1: "Peer support"})
    >>> fig.axes[1].get_title(loc="left")
    'Number at risk'
    >>> pt.plot.close(fig)
    """
    labels = labels or {}
    table = km.table
    tmax = float(table["time"].max())
    ticks = _ticks(tmax, tick_step)
    with style():
        ng = len(km.groups)
        height = 4.2 + (0.25 * ng + 0.35 if risk_table else 0)
        if risk_table:
            fig, box, _ = panels(ax, (6.4, height))
            gs = box.add_gridspec(2, 1, height_ratios=[4.2, 0.25 * ng + 0.35], hspace=0.5)
            ax = box.add_subplot(gs[0])
            axt = box.add_subplot(gs[1], sharex=ax)
        else:
            fig, ax, _ = single_axes(ax, (6.4, height))
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


def cuminc_plot(ci, *, causes=None, ci_band: bool = True, level: float = 0.95, conf_level=None,
                labels: dict | None = None, cause_labels: dict | None = None, xlabel: str = "Days",
                ylabel: str = "Cumulative incidence", title: str | None = None, ax=None):
    """Draw cumulative incidence curves of competing risks: one line style per cause, one colour per group.

    Each curve is the cumulative incidence function of one cause in one group (step function
    from 0 at time 0, carried to the group's last follow-up time), with a pointwise band
    ``est ± z * sqrt(var)`` from cmprsk's variance, clipped to [0, 1].

    Parameters
    ----------
    ci : CumincResult
        From :func:`peertrial.survival.cuminc` (its ``table`` with ``group``, ``cause``,
        ``time``, ``est``, ``var``; ``causes``, ``groups`` and ``max_time``).
    causes : sequence, optional
        Causes to draw (default: all, in the fit's order).
    ci_band : bool, default True
        Draw the pointwise confidence bands.
    level : float, default 0.95
        Confidence level of the bands, 0.95 or 95 alike.
    conf_level : float, optional
        Deprecated alias of ``level``.
    labels : dict, optional
        Group level -> legend name, e.g. ``{0: "Control", 1: "Peer support"}``.
    cause_labels : dict, optional
        Cause code -> legend name, e.g. ``{1: "readmitted", 2: "died"}`` (default "cause 1", ...).
    xlabel : str, default "Days"
        Time-axis label.
    ylabel : str, default "Cumulative incidence"
        Vertical-axis label.
    title : str, optional
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``plot(cmprsk::cuminc(...))`` (``plot.cuminc``; cmprsk 2.2-11), which draws
    the curves without bands; the bands use the variances it returns.

    References
    ----------
    .. [1] Gray, R. J. (1988). A class of K-sample tests for comparing the cumulative
       incidence of a competing risk. Annals of Statistics, 16, 1141-1154.
    .. [2] Pintilie, M. (2006). Competing Risks: A Practical Perspective. Wiley.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> ci = pt.survival.cuminc(df, time="readmit_time", status="readmit_status", group="arm")
    >>> fig = pt.plot.cuminc_plot(ci, labels={0: "Control", 1: "Peer support"})
    >>> fig.axes[0].get_ylabel()
    'Cumulative incidence'
    >>> pt.plot.close(fig)
    """
    labels, cause_labels = labels or {}, cause_labels or {}
    causes = ci.causes if causes is None else list(causes)
    from peertrial._data import confidence_level

    z = stats.norm.ppf(1 - (1 - confidence_level(level, conf_level=conf_level)) / 2)
    styles = ["-", "--", ":", "-."]
    with style():
        fig, ax, _ = single_axes(ax, (6.4, 4.2))
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


def cox_forest(cox, *, labels: dict | None = None, xlabel: str = "Hazard ratio (log scale)",
               title: str | None = None, digits: int = 2, ax=None):
    """Hazard ratios of a Cox model with their confidence intervals, on a log axis.

    The picture of ``lifelines``' ``CoxPHFitter.plot()`` and of ``survminer::ggforest`` for
    R's ``coxph``: one row per coefficient, the hazard ratio ``exp(coef)`` with its interval
    ``exp(coef ± z se)`` (the robust SE when the model was fitted with ``cluster``), the
    numbers and p-value at the right, and a reference line at 1.

    Parameters
    ----------
    cox : CoxResult
        From :func:`peertrial.survival.cox`.
    labels : dict, optional
        Display names for coefficients, e.g. ``{"arm": "Peer support vs control"}``.
    xlabel, title : str
        Axis label and title.
    digits : int
        Decimals of the printed hazard ratios.
    ax : matplotlib Axes, optional
        Draw in this Axes' slot (a subfigure with room for the labels and numbers); by
        default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none in survival 3.5-3 (``plot.coxph`` does not exist); the figure is
    ``survminer::ggforest(fit)``'s, from the ``coxph`` coefficients.

    References
    ----------
    .. [1] Cox, D. R. (1972). Regression models and life-tables. Journal of the Royal
       Statistical Society, Series B, 34, 187-220.
    .. [2] Lewis, S., & Clarke, M. (2001). Forest plots: trying to see the wood and the
       trees. BMJ, 322, 1479-1480.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> cx = pt.survival.cox(df, time="readmit_time", event="readmitted_12m", covariates=["arm", "age"])
    >>> fig = pt.plot.cox_forest(cx, labels={"arm": "Peer support vs control"})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Peer support vs control', 'age']
    >>> pt.plot.close(fig)
    """
    labels = labels or {}
    coef = np.asarray(cox.coef, dtype=float)
    se = np.asarray(cox.se, dtype=float)
    names = [str(n) for n in cox.coef.index]
    pval = np.asarray(cox.pval, dtype=float)
    level = _level(cox)
    z = stats.norm.isf((1 - level) / 2)
    hr, lo, hi = np.exp(coef), np.exp(coef - z * se), np.exp(coef + z * se)
    k = len(names)
    y = np.arange(k)[::-1]
    with style():
        height = 0.42 * k + 1.3
        fig, ax = framed_axes(ax, (7.0, height), left=0.2, right=0.62, top=1 - 0.45 / height, bottom=0.75 / height)
        ok = np.isfinite(hr) & np.isfinite(lo) & np.isfinite(hi)
        ax.hlines(y[ok], lo[ok], hi[ok], color="#333333", lw=1.2)
        ax.plot(hr[ok], y[ok], "s", color=PALETTE[0], ms=6)
        ax.axvline(1.0, color="#555555", lw=0.8, ls="--")
        ax.set_xscale("log")
        if ok.any():
            span = np.log(np.r_[lo[ok], hi[ok], 1.0])
            pad = 0.08 * max(span.max() - span.min(), 0.2)
            ax.set_xlim(np.exp(span.min() - pad), np.exp(span.max() + pad))
        _hr_ticks(ax)
        ax.set_yticks(y, [str(labels.get(n, n)) for n in names])
        ax.set_ylim(-0.7, k - 0.3)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel(xlabel)
        head = f"HR [{100 * level:g}% CI]    p"
        ax.annotate(head, xy=(1.03, k - 0.45), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                    weight="bold", annotation_clip=False)
        for yy, h, a, b, p, good in zip(y, hr, lo, hi, pval, ok):
            text = (f"{h:.{digits}f} [{a:.{digits}f}, {b:.{digits}f}]  " + _p_text(p)) if good else "not estimable"
            ax.annotate(text, xy=(1.03, yy), xycoords=("axes fraction", "data"), va="center", fontsize=8,
                        family="monospace")
        ax.set_title(title or f"Cox model: n = {cox.n}, events = {cox.nevent}", loc="left", fontsize=9)
    return fig


_HR_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4, 5, 10, 20,
             50, 100)


def _hr_ticks(ax):
    """At most seven readable ratio ticks on a log axis, always including 1."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    lo, hi = ax.get_xlim()
    ticks = [t for t in _HR_TICKS if lo <= t <= hi]
    while len(ticks) > 7:
        ticks = [t for i, t in enumerate(ticks) if t == 1 or i % 2 == 0]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _p_text(p):
    if not np.isfinite(p):
        return "NA"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _level(result) -> float:
    """The result's confidence level as a proportion (0.95), whether stored as 0.95 or 95."""
    for name in ("level", "conf_level"):
        v = getattr(result, name, None)
        if v is not None:
            v = float(v)
            return v / 100 if v >= 1 else v
    return 0.95


def schoenfeld_plot(cox, covariates=None, *, frac: float = 0.6, ax=None):
    """Draw scaled Schoenfeld residuals against transformed time, one panel per covariate, to check proportional hazards.

    Each panel shows the scaled residuals (an estimate of beta(t)) against the
    Kaplan–Meier-transformed event time, a lowess smooth (statsmodels) of them, the fitted
    coefficient as a dashed line and the ``cox.zph`` score-test p-value in the title. A smooth
    that drifts away from the dashed line suggests a hazard ratio that changes over time.

    Parameters
    ----------
    cox : CoxResult
        From :func:`peertrial.survival.cox` (its ``schoenfeld()`` residuals and ``test_ph()``).
    covariates : sequence of str, optional
        Coefficient names to draw (default: all).
    frac : float, default 0.6
        Fraction of the points in each lowess window (statsmodels' ``frac``).
    ax : matplotlib.axes.Axes, optional
        Draw the panels side by side in this Axes' slot; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: ``plot(survival::cox.zph(fit))`` (``plot.cox.zph``; survival 3.5-3), with the
    default ``transform = "km"``; R smooths with a natural spline where this uses lowess.

    References
    ----------
    .. [1] Grambsch, P. M., & Therneau, T. M. (1994). Proportional hazards tests and
       diagnostics based on weighted residuals. Biometrika, 81, 515-526.
    .. [2] Therneau, T. M., & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox
       Model. Springer.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> cx = pt.survival.cox(df, time="readmit_time", event="readmitted_12m", covariates=["arm", "age"])
    >>> fig = pt.plot.schoenfeld_plot(cx)
    >>> [a.get_ylabel() for a in fig.axes]
    ['Beta(t) for arm', 'Beta(t) for age']
    >>> pt.plot.close(fig)
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    res = cox.schoenfeld()
    test = cox.test_ph()
    covariates = list(cox.coef.index) if covariates is None else list(covariates)
    k = len(covariates)
    with style():
        fig, box, owned = panels(ax, (3.3 * k, 3.2))
        axes = box.subplots(1, k, squeeze=False, gridspec_kw=None if owned else {"wspace": 0.45})
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
        if owned:
            fig.tight_layout()
    return fig
