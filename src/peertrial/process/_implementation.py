"""Implementation outcomes: proportions with exact and Wilson CIs; peer-worker retention."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_function
from peertrial._results import CONF_LEVEL_ALIAS, Result, format_table
from peertrial.process._engagement import SurvivalCurve, km_curve

proportion_confint = lazy_function("statsmodels.stats.proportion", "proportion_confint")

__all__ = ["ImplementationOutcomes", "implementation_outcomes", "proportion_ci", "worker_retention"]


@dataclass(frozen=True, eq=False)
class ImplementationOutcomes(Result):
    """Proportions with Clopper–Pearson (exact) and Wilson score CIs (from :func:`implementation_outcomes`).

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by outcome, columns ``x, n, prop, exact_lb, exact_ub`` (R ``binom.test``)
        and ``wilson_lb, wilson_ub`` (R ``prop.test(correct = FALSE)``).
    level : float
        Confidence level, as a proportion.

    Notes
    -----
    R equivalent: ``stats::binom.test(x, n)$conf.int`` and ``stats::prop.test(x, n,
    correct = FALSE)$conf.int`` (R 4.2.2), one row each.

    References
    ----------
    .. [1] Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits
       illustrated in the case of the binomial. Biometrika, 26, 404-413.
    .. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
       inference. Journal of the American Statistical Association, 22, 209-212.

    Examples
    --------
    >>> res = pt.process.implementation_outcomes({"completed training": (10, 28)})
    >>> res.table[["prop", "exact_lb", "exact_ub"]].round(3).iloc[0].tolist()
    [0.357, 0.186, 0.559]
    """

    table: pd.DataFrame
    level: float

    conf_level = CONF_LEVEL_ALIAS

    def plot(self, ax=None, **kwargs):
        """Implementation proportions: with exact and Wilson CIs.

        Draws :func:`peertrial.plot.implementation_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.implementation_plot` (it takes no other options).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.implementation_plot : what is drawn, with an example.
        """
        from peertrial.plot.process import implementation_plot

        return implementation_plot(self, ax=ax, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        return "\n".join(
            [
                f"Implementation outcomes: proportions with {100 * self.level:g}% CIs",
                "  exact = Clopper-Pearson (R binom.test); wilson = score interval (R prop.test, correct = FALSE)",
                "",
                format_table(self.table, digits=3),
            ]
        )


def proportion_ci(x, n, level: float = 0.95, *, conf_level=None) -> pd.DataFrame:
    """Clopper–Pearson and Wilson intervals for ``x`` successes of ``n`` (scalars or arrays).

    Exact: Beta(a/2; x, n-x+1) and Beta(1-a/2; x+1, n-x) quantiles, with 0 and 1
    at x = 0 and x = n (statsmodels ``proportion_confint(method="beta")``).
    Wilson: (x + z^2/2 ± z sqrt(x(n-x)/n + z^2/4)) / (n + z^2) (``method="wilson"``).
    ``level``: 0.95 or 95 alike (``conf_level`` is its deprecated alias).

    Parameters
    ----------
    x : int or array-like
        Successes (e.g. sessions delivered as planned).
    n : int or array-like
        Trials.
    level : float
        Confidence level (0.95 or 95).
    conf_level : float, optional
        Deprecated spelling of ``level``.

    Returns
    -------
    pandas.DataFrame
        ``x, n, prop`` with the exact (Clopper-Pearson) and Wilson intervals.

    Notes
    -----
    R equivalent: ``stats::binom.test(x, n)$conf.int`` (exact) and ``stats::prop.test(x, n,
    correct = FALSE)$conf.int`` (Wilson) (R 4.2.2).

    References
    ----------
    .. [1] Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits
       illustrated in the case of the binomial. Biometrika, 26, 404-413.
    .. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
       inference. Journal of the American Statistical Association, 22, 209-212.

    Examples
    --------
    >>> ci = pt.process.proportion_ci(12, 40)
    >>> ci[["prop", "exact_lb", "exact_ub"]].round(4).iloc[0].tolist()
    [0.3, 0.1656, 0.4653]
    """
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    x = np.atleast_1d(np.asarray(x, float))
    n = np.atleast_1d(np.asarray(n, float))
    if x.shape != n.shape:
        raise ValueError(f"x and n must have the same length, got {x.shape} and {n.shape}")
    bad = (n <= 0) | (x < 0) | (x > n) | (x != np.round(x)) | (n != np.round(n))
    if bad.any():
        raise ValueError(f"x and n must be whole numbers with 0 <= x <= n and n > 0; violated at positions {[int(i) for i in np.flatnonzero(bad)]}")
    a = 1 - conf_level
    elb, eub = proportion_confint(x, n, alpha=a, method="beta")
    elb = np.where(x == 0, 0.0, elb)
    eub = np.where(x == n, 1.0, eub)
    wlb, wub = proportion_confint(x, n, alpha=a, method="wilson")
    return pd.DataFrame({"x": x, "n": n, "prop": x / n, "exact_lb": elb, "exact_ub": eub, "wilson_lb": wlb, "wilson_ub": wub})


def implementation_outcomes(outcomes, level: float = 0.95, *, conf_level=None) -> ImplementationOutcomes:
    """Tabulate implementation proportions with exact and Wilson confidence intervals.

    Parameters
    ----------
    outcomes : mapping or pandas.DataFrame
        A mapping name -> (x, n), e.g.
        ``{"completed training": (10, 28), "in post at 2 years": (7, 7)}``
        (Stirrup et al. 2021), or a DataFrame with columns ``outcome, x, n``.
    level : float, default 0.95
        Confidence level, 0.95 or 95 alike.
    conf_level : float, optional
        Deprecated spelling of ``level``.

    Returns
    -------
    ImplementationOutcomes
        ``table`` with ``x, n, prop`` and the exact and Wilson limits per outcome.

    Notes
    -----
    R equivalent: ``stats::binom.test(x, n)$conf.int`` (exact) and ``stats::prop.test(x, n,
    correct = FALSE)$conf.int`` (Wilson) (R 4.2.2), row by row.

    References
    ----------
    .. [1] Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits
       illustrated in the case of the binomial. Biometrika, 26, 404-413.
    .. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
       inference. Journal of the American Statistical Association, 22, 209-212.
    .. [3] Proctor, E., Silmere, H., Raghavan, R., et al. (2011). Outcomes for implementation
       research. Administration and Policy in Mental Health, 38, 65-76.

    Examples
    --------
    >>> res = pt.process.implementation_outcomes({"completed training": (10, 28), "in post at 2 years": (7, 7)})
    >>> res.table["wilson_lb"].round(3).tolist()
    [0.207, 0.646]
    """
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    if isinstance(outcomes, Mapping):
        names = list(outcomes)
        for k in names:
            pair = outcomes[k]
            if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise ValueError(f"outcomes[{k!r}] must be a pair (x, n): events and denominator; got {pair!r}")
        x = [outcomes[k][0] for k in names]
        n = [outcomes[k][1] for k in names]
    else:
        frame = _data.as_frame(outcomes, what="outcomes")
        _data.require_columns(frame, ["outcome", "x", "n"])
        names = list(frame["outcome"])
        x = _data.numeric(frame["x"], "x")
        n = _data.numeric(frame["n"], "n")
    table = proportion_ci(x, n, conf_level)
    table.index = pd.Index(names, name="outcome")
    return ImplementationOutcomes(table=table, level=conf_level)


def worker_retention(
    data: pd.DataFrame,
    time: str = "months_in_post",
    left: str = "left",
    group: str | None = None,
    time_unit: str = "months",
    *,
    level: float = 0.95,
) -> SurvivalCurve:
    """Estimate the Kaplan–Meier retention of peer workers: time in post until leaving.

    The curve is the proportion still in post. Rows with missing values are dropped
    with a warning.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per peer worker.
    time : str, default "months_in_post"
        Column of time in post (>= 0) until leaving or the last known date.
    left : str, default "left"
        Column: 1 if they left (the event), 0 if still in post (censored).
    group : str, optional
        Column splitting the curve (e.g. pay band or site).
    time_unit : str, default "months"
        Unit of ``time``, for summaries and plots.
    level : float, default 0.95
        Confidence level of the pointwise limits, 0.95 or 95 alike.

    Returns
    -------
    SurvivalCurve
        The retention curve(s) with log-log pointwise limits and median time in post.

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(months_in_post, left) ~ group, conf.type =
    "log-log")`` (survival 3.5-3).

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.

    Examples
    --------
    >>> workers = pd.DataFrame({"months_in_post": [3, 8, 12, 12, 20, 24, 24, 30],
    ...                         "left": [1, 1, 0, 1, 1, 0, 0, 0]})
    >>> ret = pt.process.worker_retention(workers)
    >>> ret.table["surv"].round(3).tolist(), ret.medians.tolist()
    ([0.875, 0.75, 0.625, 0.469, 0.469, 0.469], [20.0])
    """
    level = _data.confidence_level(level)
    frame = _data.as_frame(data)
    _data.require_columns(frame, [time, left, group])
    frame = _data.drop_missing(frame, [time, left], unit="peer workers")
    t = _data.numeric(frame[time], time)
    _data.check_nonnegative(t, frame.index, time)
    e = _data.binary(frame[left], left, meaning="0 = still in post, 1 = left post")
    g = None if group is None else frame[group].to_numpy()
    return km_curve(t, e, g, event_name="leaving post", time_unit=time_unit, title="Peer-worker retention (proportion still in post)",
                    level=level)
