"""Engagement with peer support: sessions attended, its predictors, time to first contact."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._results import Result, format_table
from peertrial._warnings import PeertrialWarning
from peertrial.process._models import RegressionResult, columns, design_matrix, fit_regression
from peertrial.survival import KaplanMeierResult, kaplan_meier

__all__ = [
    "EngagementSummary",
    "SurvivalCurve",
    "engagement_model",
    "engagement_summary",
    "km_curve",
    "time_to_first_contact",
]


@dataclass(frozen=True, eq=False)
class EngagementSummary(Result):
    """Sessions attended by arm and by peer worker (returned by :func:`engagement_summary`).

    ``by_arm`` and ``by_worker``: ``n, mean, sd, median, q1, q3, max, any`` (number
    with >= 1 session), ``prop_any``, ``received`` (>= ``threshold`` sessions),
    ``prop_received``. Quartiles are R's default (type 7) quantiles.
    ``distribution``: counts of each number of sessions by arm.

    Attributes
    ----------
    by_arm : pandas.DataFrame
        One row per arm (``control``, ``peer support``), the columns above.
    by_worker : pandas.DataFrame
        One row per peer worker (intervention participants only); empty when no
        ``peer_worker`` column was given.
    distribution : pandas.DataFrame
        Number of participants with each session count (rows) by arm (columns).
    threshold : int
        Sessions needed to count as having received peer support.
    no_worker : int
        Intervention participants without a peer worker recorded.

    Notes
    -----
    R equivalent: none as one function (a descriptive table); the columns equal ``mean``,
    ``sd`` and ``stats::quantile(type = 7)`` by arm in R 4.2.2.

    References
    ----------
    .. [1] Hyndman, R. J., & Fan, Y. (1996). Sample quantiles in statistical packages.
       The American Statistician, 50, 361-365.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> es = pt.process.engagement_summary(d, sessions="sessions", arm="arm")
    >>> es.by_arm["prop_received"].round(3).tolist()
    [0.0, 0.673]
    """

    by_arm: pd.DataFrame
    by_worker: pd.DataFrame
    distribution: pd.DataFrame
    threshold: int
    no_worker: int

    def plot(self, ax=None, **kwargs):
        """Sessions attended: histogram and by peer worker.

        Draws :func:`peertrial.plot.engagement_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.engagement_plot` (it takes no other options).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.engagement_plot : what is drawn, with an example.
        """
        from peertrial.plot.process import engagement_plot

        return engagement_plot(self, ax=ax, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        return self.by_arm.copy()

    def summary(self) -> str:
        return "\n".join(
            [
                f"Engagement: sessions attended (received = at least {self.threshold} sessions)",
                "",
                format_table(self.by_arm, digits=2),
                "",
                f"By peer worker (intervention participants with a peer worker; {self.no_worker} never seen):",
                "  spread across peer workers of each worker's participants' figures",
                format_table(
                    self.by_worker[["n", "mean", "median", "prop_received"]].describe().T[["mean", "std", "min", "50%", "max"]],
                    digits=2,
                ),
            ]
        )


def _describe(sessions: pd.Series, threshold: int) -> dict:
    x = sessions.to_numpy(float)
    return {
        "n": len(x),
        "mean": x.mean(),
        "sd": x.std(ddof=1) if len(x) > 1 else np.nan,
        "median": np.median(x),
        "q1": np.quantile(x, 0.25),
        "q3": np.quantile(x, 0.75),
        "max": x.max(),
        "any": int((x >= 1).sum()),
        "prop_any": (x >= 1).mean(),
        "received": int((x >= threshold).sum()),
        "prop_received": (x >= threshold).mean(),
    }


def engagement_summary(
    data: pd.DataFrame,
    sessions: str = "sessions",
    arm: str = "arm",
    peer_worker: str | None = None,
    threshold: int = 2,
    *,
    arm_levels=None,
) -> EngagementSummary:
    """Describe the distribution of sessions attended, by arm and by peer worker.

    Participants with a missing session count raise ``ValueError`` (the count
    is known from service records; impute it explicitly if need be).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant, with the ``sessions`` and ``arm`` columns (and
        ``peer_worker`` if given).
    sessions : str, default "sessions"
        Column of sessions attended (whole numbers >= 0, no missing values).
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (see ``arm_levels``).
    peer_worker : str, optional
        Column naming who delivered the sessions, for the per-worker table
        (intervention arm only; empty cells are counted in ``no_worker``).
    threshold : int, default 2
        Sessions needed to count as having "received" peer support.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.

    Returns
    -------
    EngagementSummary
        ``by_arm``, ``by_worker`` and ``distribution`` tables; ``.plot()`` draws them.

    Notes
    -----
    R equivalent: none as one function (a descriptive table); the figures equal ``mean``,
    ``sd`` and ``stats::quantile(type = 7)`` by arm in R 4.2.2.

    References
    ----------
    .. [1] Hyndman, R. J., & Fan, Y. (1996). Sample quantiles in statistical packages.
       The American Statistician, 50, 361-365.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> es = pt.process.engagement_summary(d, sessions="sessions", arm="arm", peer_worker="peer_worker")
    >>> es.by_arm["n"].tolist(), round(float(es.by_arm.loc["peer support", "mean"]), 3)
    ([102.0, 98.0], 5.194)
    """
    data = _data.code_arm(data, arm, arm_levels)
    frame = _data.as_frame(data)
    _data.require_columns(frame, [sessions, arm, peer_worker])
    s = _data.numeric(frame[sessions], sessions)
    _data.drop_missing(frame.assign(**{sessions: s}), [sessions], action="fail", unit="participants")
    _data.check_nonnegative(s, frame.index, sessions)
    _data.check_integer(s, frame.index, sessions)
    a = _data.binary(frame[arm], arm)
    work = pd.DataFrame({"sessions": s, "arm": a}, index=frame.index)
    by_arm = pd.DataFrame({lab: _describe(work.loc[a == v, "sessions"], threshold) for v, lab in [(0, "control"), (1, "peer support")] if (a == v).any()}).T
    by_arm.index.name = "arm"
    no_worker = 0
    by_worker = pd.DataFrame()
    if peer_worker is not None:
        treated = a == 1
        pw = frame.loc[treated, peer_worker]
        no_worker = int(pw.isna().sum())
        # ids read from CSV with empty cells come back as floats (3.0): show them as 3
        pw = pw.map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
        w = work.loc[treated].assign(pw=pw).dropna(subset=["pw"])
        by_worker = pd.DataFrame({k: _describe(g["sessions"], threshold) for k, g in w.groupby("pw", sort=True)}).T
        by_worker.index.name = peer_worker
    dist = pd.crosstab(work["sessions"].astype(int), work["arm"].map({0.0: "control", 1.0: "peer support"}))
    dist.index.name = "sessions"
    dist.columns.name = None
    return EngagementSummary(by_arm=by_arm, by_worker=by_worker, distribution=dist, threshold=threshold, no_worker=no_worker)


def engagement_model(
    data: pd.DataFrame,
    outcome: str = "sessions",
    predictors: list[str] | None = None,
    family: str = "negbin",
    *,
    level: float = 0.95,
) -> RegressionResult:
    """Fit predictors of engagement: a count model for sessions or a logistic model for any engagement.

    Rows with missing values are dropped with a warning (R's ``na.omit``). Pass the
    intervention arm only to study engagement with peer support.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the ``outcome`` and predictor columns.
    outcome : str, default "sessions"
        Column modelled: a count of sessions (``negbin``, ``poisson``) or a 0/1
        indicator such as ``received`` (``logistic``).
    predictors : list of str or str, optional
        Columns or an R-style right-hand side (``"age + C(site) + diagnosis"``), coded by
        the one design builder: numbers, including numbers stored as text, are numeric;
        other text, booleans and ``C()`` are factors against their first sorted level, as
        in R. Default: intercept only.
    family : {"negbin", "poisson", "logistic"}, default "negbin"
        ``"negbin"`` (``MASS::glm.nb``), ``"poisson"`` (``glm`` poisson) for a session
        count, ``"logistic"`` (``glm`` binomial) for a 0/1 outcome.
    level : float, default 0.95
        Confidence level of the Wald limits, 0.95 or 95 alike.

    Returns
    -------
    RegressionResult
        Coefficients with Wald SEs, z statistics, p-values and limits, and the rate or
        odds ratios (``exp_estimate``); ``theta`` for the negative binomial.

    Notes
    -----
    R equivalent: ``MASS::glm.nb`` (MASS 7.3-58.2), ``stats::glm(family = poisson)`` or
    ``stats::glm(family = binomial)`` (R 4.2.2), with ``confint.default`` limits.

    References
    ----------
    .. [1] Venables, W. N., & Ripley, B. D. (2002). Modern Applied Statistics with S
       (4th ed.), section 7.4. Springer.
    .. [2] McCullagh, P., & Nelder, J. A. (1989). Generalized Linear Models (2nd ed.).
       Chapman & Hall.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.process.engagement_model(d[d["arm"] == 1], outcome="sessions",
    ...                                   predictors=["age", "prev_admissions"])
    >>> fit.coef["estimate"].round(2).tolist(), round(fit.theta, 3)
    ([1.27, 0.01, 0.05], 0.935)
    """
    level = _data.confidence_level(level)
    pred_cols = columns(predictors)
    frame = _data.as_frame(data)
    _data.require_columns(frame, [outcome, *pred_cols])
    frame = _data.drop_missing(frame, [outcome, *pred_cols], unit="participants")
    y = _data.numeric(frame[outcome], outcome)
    if family == "logistic":
        y = _data.binary(frame[outcome], outcome, meaning="0 = did not engage, 1 = engaged")
    elif family in ("poisson", "negbin"):
        _data.check_nonnegative(y, frame.index, outcome)
        _data.check_integer(y, frame.index, outcome)
    x = design_matrix(frame, predictors)
    return fit_regression(y, x, family, outcome, f"Predictors of engagement ({outcome})", level=level)


# --------------------------------------------------------------------------- KM curves
@dataclass(frozen=True, eq=False)
class SurvivalCurve(Result):
    """Kaplan–Meier curve(s) from :func:`peertrial.survival.kaplan_meier`.

    Returned by :func:`km_curve`, :func:`time_to_first_contact` and
    :func:`worker_retention`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group and distinct time with ``group, time, n_risk, n_event,
        n_censor, surv, std_err, ci_lb, ci_ub`` (Greenwood variance; CI on the
        log(-log S) scale, R ``survfit(conf.type = "log-log")``, NaN where S is 0 or 1
        as in R).
    medians : pandas.Series
        Median time by group (R's rule; NaN where the curve stays above 0.5).
    n, events : pandas.Series
        Participants and events by group.
    event_name : str
        What the curve counts down to (e.g. "first peer contact").
    time_unit : str
        Unit of ``time`` in summaries and plots.
    title : str
        Heading of the summary and plot.
    complement : bool
        Whether the natural reading is the cumulative proportion ``1 - S`` (``at`` then
        adds ``cum, cum_lb, cum_ub``).
    km : peertrial.survival.KaplanMeierResult
        The underlying fit (``rmst``, ``median(ci=True)``).

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(time, event) ~ group, conf.type = "log-log")``
    (survival 3.5-3).

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.

    Examples
    --------
    >>> curve = pt.process.km_curve([2, 3, 3, 5, 8, 9], [1, 1, 0, 1, 0, 1])
    >>> curve.table["surv"].round(3).tolist(), curve.medians.tolist()
    ([0.833, 0.667, 0.444, 0.444, 0.0], [5.0])
    """

    table: pd.DataFrame
    medians: pd.Series
    n: pd.Series
    events: pd.Series
    event_name: str
    time_unit: str
    title: str
    complement: bool = False
    km: KaplanMeierResult | None = field(default=None, repr=False)

    def plot(self, ax=None, **kwargs):
        """Kaplan-Meier curve(s) of this process outcome, with confidence bands at the curve's level.

        Draws :func:`peertrial.plot.survival_curve_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.survival_curve_plot` (``cumulative``, ``ylabel``).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.survival_curve_plot : what is drawn, with an example.
        """
        from peertrial.plot.process import survival_curve_plot

        return survival_curve_plot(self, ax=ax, **kwargs)

    def at(self, times) -> pd.DataFrame:
        """Survival at ``times`` by group (``summary(survfit, times=)``): ``group, time, surv,
        std_err, ci_lb, ci_ub, n_risk``; for ``complement`` curves also the cumulative
        proportion ``cum, cum_lb, cum_ub`` (1 - S and its limits)."""
        out = self.km.at(times).rename(columns={"lower": "ci_lb", "upper": "ci_ub"})
        if self.complement:
            out["cum"] = 1 - out["surv"]
            out["cum_lb"], out["cum_ub"] = 1 - out["ci_ub"], 1 - out["ci_lb"]
        return out

    def to_frame(self) -> pd.DataFrame:
        """``table`` with the package's column names (``se`` for ``std_err``)."""
        return self.table.rename(columns={"std_err": "se"})

    def summary(self) -> str:
        head = pd.DataFrame({"n": self.n, "events": self.events, "median": self.medians})
        return "\n".join(
            [
                self.title,
                f"  Kaplan-Meier to {self.event_name} ({self.time_unit}); 95% CI log-log (R survfit conf.type='log-log')",
                "",
                format_table(head, digits=1),
            ]
        )


def km_curve(time, event, group=None, *, event_name="event", time_unit="days", title="Kaplan-Meier", complement=False,
             level: float = 0.95) -> SurvivalCurve:
    """Estimate Kaplan–Meier curves by group from arrays, with log-log pointwise limits.

    Computed by :func:`peertrial.survival.kaplan_meier` with ``conf_type="log-log"``.

    Parameters
    ----------
    time : array-like of float
        Follow-up times (>= 0).
    event : array-like of 0/1
        1 = the event happened at ``time``, 0 = censored there. Same length as ``time``.
    group : array-like, optional
        Group of each row (one curve per distinct value); default one curve.
    event_name : str, default "event"
        What the curve counts down to, for summaries and plots.
    time_unit : str, default "days"
        Unit of ``time``, for summaries and plots.
    title : str, default "Kaplan-Meier"
        Heading of the summary and plot.
    complement : bool, default False
        Read the curve as the cumulative proportion with the event (``1 - S``).
    level : float, default 0.95
        Confidence level of the pointwise limits, 0.95 or 95 alike.

    Returns
    -------
    SurvivalCurve
        The curve table, medians, numbers at risk and events by group.

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(time, event) ~ group, conf.type = "log-log")``
    (survival 3.5-3).

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.
    .. [2] Kalbfleisch, J. D., & Prentice, R. L. (2002). The Statistical Analysis of Failure
       Time Data (2nd ed.). Wiley.

    Examples
    --------
    >>> curve = pt.process.km_curve([2, 3, 3, 5, 8, 9], [1, 1, 0, 1, 0, 1], event_name="relapse")
    >>> curve.n.tolist(), curve.events.tolist(), curve.medians.tolist()
    ([6], [4], [5.0])
    """
    level = _data.confidence_level(level)
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    if time.size == 0:
        raise ValueError("no participants to analyse: time is empty (check the data and any arm or row filter)")
    levels = None if group is None else pd.unique(np.asarray(group))
    if levels is not None and len(levels) == 1:
        km = kaplan_meier(None, time, event, conf_type="log-log", level=level)
        km = dataclasses.replace(km, table=km.table.assign(group=levels[0]), groups=[levels[0]], n=km.n.set_axis(levels))
    else:
        km = kaplan_meier(None, time, event, None if group is None else np.asarray(group), conf_type="log-log",
                          level=level)
    table = km.table.rename(columns={"lower": "ci_lb", "upper": "ci_ub"})
    table = table[["group", "time", "n_risk", "n_event", "n_censor", "surv", "std_err", "ci_lb", "ci_ub"]]
    events = table.groupby("group", sort=False)["n_event"].sum().reindex(km.groups).astype(int)
    return SurvivalCurve(
        table=table,
        medians=km.median().rename("median"),
        n=km.n.rename("n"),
        events=events.rename("events"),
        event_name=event_name,
        time_unit=time_unit,
        title=title,
        complement=complement,
        km=km,
    )


def time_to_first_contact(
    data: pd.DataFrame,
    time: str | None = None,
    arm: str = "arm",
    horizon: float = 120.0,
    group: str | None = None,
    *,
    arm_levels=None,
    level: float = 0.95,
) -> SurvivalCurve:
    """Estimate the Kaplan–Meier curve of days to first peer contact in the intervention arm.

    Participants with no contact (``time`` empty) are censored at ``horizon``;
    contact after the horizon is censored there too (with a warning), so the curve
    describes contact within the offer period. The result's ``at`` gives the
    cumulative proportion contacted (``cum``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the ``time`` and ``arm`` columns (and ``group``).
    time : str
        Required: column of days from randomisation to first contact, empty when there
        was none (e.g. ``time="contact_days"``).
    arm : str, default "arm"
        Column of the randomised arm; only rows with ``arm == 1`` are used.
    horizon : float, default 120.0
        End of the offer period in days (the four-month intervention window).
    group : str, optional
        Column splitting the curve (e.g. ``"site"``).
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    level : float, default 0.95
        Confidence level of the pointwise limits, 0.95 or 95 alike.

    Returns
    -------
    SurvivalCurve
        With ``complement=True``: ``at(times)`` adds the cumulative proportion contacted.

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(pmin(days, horizon), contacted) ~ 1,
    conf.type = "log-log")`` on the intervention arm (survival 3.5-3).

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> contact = pt.process.time_to_first_contact(d, time="contact_days")
    >>> contact.n.tolist(), contact.events.tolist(), contact.medians.tolist()
    ([98], [73], [14.0])
    >>> contact.at([30, 60])["cum"].round(3).tolist()
    [0.735, 0.745]
    """
    if time is None:
        raise ValueError("time_to_first_contact needs time= (the column of days to first contact, empty when "
                         "none); it has no default")
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level)
    frame = _data.as_frame(data)
    _data.require_columns(frame, [time, arm, group])
    treated = _data.binary(frame[arm], arm) == 1
    frame = frame.loc[treated]
    if len(frame) == 0:
        raise ValueError(f"no participants in the intervention arm of {arm!r} (arm = 1): time to first contact is "
                         "measured in the intervention arm only")
    t = _data.numeric(frame[time], time)
    _data.check_nonnegative(t, frame.index, time)
    contacted = np.isfinite(t) & (t <= horizon)
    late = np.isfinite(t) & (t > horizon)
    if late.any():
        warnings.warn(
            f"{int(late.sum())} first contacts after the {horizon:g}-day horizon censored at the horizon",
            PeertrialWarning,
            stacklevel=2,
        )
    tt = np.where(contacted, t, horizon)
    g = None if group is None else frame[group].to_numpy()
    return km_curve(tt, contacted.astype(float), g, event_name="first peer contact", title="Time to first peer contact (intervention arm)", complement=True,
                    level=level)
