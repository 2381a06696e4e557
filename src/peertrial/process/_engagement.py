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
    """Sessions attended by arm and by peer worker.

    ``by_arm`` and ``by_worker``: ``n, mean, sd, median, q1, q3, max, any`` (number
    with >= 1 session), ``prop_any``, ``received`` (>= ``threshold`` sessions),
    ``prop_received``. Quartiles are R's default (type 7) quantiles.
    ``distribution``: counts of each number of sessions by arm.
    """

    by_arm: pd.DataFrame
    by_worker: pd.DataFrame
    distribution: pd.DataFrame
    threshold: int
    no_worker: int

    def plot(self, ax=None, **kwargs):
        """Sessions attended: histogram and by peer worker.

        Draws :func:`peertrial.plot.engagement_plot` (``kwargs`` go to it). ``ax``: a matplotlib Axes
        to draw into; by default a new figure, shown once in Jupyter. Returns the Figure.
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
    """Distribution of sessions attended by arm and by peer worker.

    ``sessions`` (default ``"sessions"``): sessions attended; ``arm`` (default ``"arm"``);
    ``peer_worker`` (default none): the column of who delivered the sessions, for the
    per-worker table.

    Participants with a missing session count raise ``ValueError`` (the count
    is known from service records; impute it explicitly if need be).

    ``arm_levels``: how the ``arm`` column codes the arms when it is not 0/1, as a mapping
    ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
    non-0/1 ``arm`` raises ``ValueError`` listing the values found.
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
    """Predictors of engagement: a count model for sessions or a logistic model for any engagement.

    ``family``: ``"negbin"`` (MASS::glm.nb), ``"poisson"`` (glm poisson) for a
    session count, ``"logistic"`` (glm binomial) for a 0/1 outcome such as
    ``received``. ``predictors``: a list of columns or an R-style formula
    (``"age + C(site) + diagnosis"``), coded by the one design builder
    (``peertrial._design``): numbers, including numbers stored as text, are numeric; other
    text, booleans and ``C()`` are factors against their first sorted level, as R's. Rows with missing values are dropped with a warning
    (R's na.omit). Pass the intervention arm only to study engagement with
    peer support. ``level``: confidence level of the Wald limits, 0.95 or 95 alike.
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

    ``table``: one row per group and distinct time with ``group, time, n_risk,
    n_event, n_censor, surv, std_err, ci_lb, ci_ub`` (Greenwood variance; 95% CI
    on the log(-log S) scale, R ``survfit(conf.type = "log-log")``, NaN where S
    is 0 or 1 as in R). ``medians``: median time by group (R's rule; NaN where the
    curve stays above 0.5). ``km``: the underlying
    :class:`~peertrial.survival.KaplanMeierResult` (``rmst``, ``median(ci=True)``).
    ``event_name`` says what the curve counts down to (e.g. "first contact").
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
        """Kaplan-Meier curve(s) of this process outcome: with 95% bands.

        Draws :func:`peertrial.plot.survival_curve_plot` (``kwargs`` go to it). ``ax``: a matplotlib Axes
        to draw into; by default a new figure, shown once in Jupyter. Returns the Figure.
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
    """Kaplan–Meier by group (arrays of equal length; ``group`` optional), by
    :func:`peertrial.survival.kaplan_meier` with ``conf_type="log-log"``; ``level`` as there."""
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
    """Kaplan–Meier of days to first peer contact in the intervention arm.

    ``time`` (required) is the column of days from randomisation to first contact (empty
    when there was none), e.g. ``time="contact_days"``.

    Participants with no contact (``time`` empty) are censored at ``horizon``
    (default 120 days, the four-month intervention window); contact after the
    horizon is censored there too, so the curve describes contact within the
    offer period. ``group`` (e.g. ``"site"``) splits the curve. The result's
    ``at`` gives the cumulative proportion contacted (``cum``).

    ``arm_levels``: how the ``arm`` column codes the arms when it is not 0/1, as a mapping
    ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
    non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    ``at`` gives the cumulative proportion contacted (``cum``). ``level``: confidence
    level of the pointwise limits, 0.95 or 95 alike.
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
