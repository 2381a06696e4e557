"""Kaplan–Meier estimator, as R's ``survival::survfit(Surv(time, event) ~ group)``.

At each distinct time t_j (events or censorings) with n_j at risk and d_j events,
S(t) = prod_{t_j <= t} (1 - d_j / n_j). Greenwood's variance of log S is
sum_{t_j <= t} d_j / (n_j (n_j - d_j)) (R's ``std.err`` of the cumulative hazard);
the standard error of S reported by :meth:`KaplanMeierResult.at` is S times its
square root, as ``summary.survfit``. Confidence intervals:

- ``"log"`` (R's default): S exp(±z se_log)
- ``"log-log"``: exp(-exp(log(-log S) ∓ z se_log / log S)) (undefined, NaN, where S is 0 or 1, as R)
- ``"plain"``: S ± z S se_log, truncated to [0, 1]

With ``entry=`` (late entry / left truncation) a subject is at risk on (entry, time].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import CONF_LEVEL_ALIAS, Result, format_table
from peertrial.survival import _input

stats = lazy_module("scipy.stats")

__all__ = ["kaplan_meier", "KaplanMeierResult", "km_table"]

_TOL = np.finfo(float).eps ** 0.5
CONF_TYPES = ("log", "log-log", "plain", "logit", "arcsin")


def km_table(time, event, entry=None, weights=None, ctype: int = 1, robust: bool = False):
    """KM table at every distinct time: time, n_risk, n_event, n_censor, surv, cumvar.

    ``cumvar`` is Greenwood's cumulative variance of log S (Inf once S reaches 0);
    ``cumhaz`` and ``std_chaz`` the Nelson–Aalen (``ctype=1``) or Fleming–Harrington
    (``ctype=2``) cumulative hazard and its standard error, as survfit's. With ``robust=True``
    both variances are the infinitesimal jackknife (each row its own cluster), as
    ``survfit(..., robust = TRUE)`` (Nelson–Aalen only).
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    w = np.ones_like(time) if weights is None else np.asarray(weights, float)
    ut, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=w * event, minlength=len(ut))
    c = np.bincount(inv, weights=w * (1 - event), minlength=len(ut))
    at_or_after = np.cumsum((d + c)[::-1])[::-1]
    if entry is not None:
        entry = np.asarray(entry, float)
        # subjects with entry >= t are not yet at risk at t
        order = np.sort(entry)
        cw = np.concatenate([[0.0], np.cumsum(w[np.argsort(entry)])])
        pos = np.searchsorted(order, ut, side="left")
        n_late = cw[-1] - cw[pos]
        n_risk = at_or_after - n_late
    else:
        n_risk = at_or_after
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_risk > 0, 1 - d / n_risk, 1.0)
        surv = np.cumprod(factor)
        inc = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
        if ctype == 1:  # Nelson-Aalen
            dh = np.where(d > 0, d / n_risk, 0.0)
            dv = np.where(d > 0, d / n_risk**2, 0.0)
        else:  # Fleming-Harrington: tied events leave the risk set one at a time
            m = np.bincount(inv, weights=event, minlength=len(ut))  # unweighted tie counts
            dh, dv = _fleming_harrington(n_risk, d, m)
    cumvar = np.cumsum(inc)
    std_chaz = np.sqrt(np.cumsum(dv))
    if robust:
        with np.errstate(divide="ignore", invalid="ignore"):
            jump_km = np.where(n_risk - d > 0, 1 / (n_risk - d), np.inf)
            jump_na = np.where(n_risk > 0, 1 / n_risk, 0.0)
        cumvar = _ij_variance(inv, event, w, entry, ut, inc, jump_km)
        std_chaz = np.sqrt(_ij_variance(inv, event, w, entry, ut, dv, jump_na))
    return pd.DataFrame({"time": ut, "n_risk": n_risk, "n_event": d, "n_censor": c,
                         "surv": surv, "cumvar": cumvar, "cumhaz": np.cumsum(dh),
                         "std_chaz": std_chaz})


def _ij_variance(inv, event, w, entry, ut, a, jump):
    """Infinitesimal-jackknife variance sum_i w_i^2 U_i(t)^2 at every distinct time.

    U_i(t) = A(min(t, T_i)) - A(e_i) - event_i 1[T_i <= t] jump(T_i), the derivative in w_i of log S
    (a = d / (n (n - d)), jump = 1 / (n - d)) or of the Nelson–Aalen hazard (a = d / n^2,
    jump = 1 / n), row i at risk on (e_i, T_i]. Rows still at risk contribute
    w^2 (A(t) - A(e))^2, summed as A^2 S0 - 2 A S1 + S2 over the risk set, so the cost is O(n log n).
    """
    K = len(ut)
    with np.errstate(invalid="ignore"):
        A = np.cumsum(a)
    w2 = w * w
    if entry is None:
        Ae = np.zeros(len(inv))
    else:
        pos = np.searchsorted(ut, entry, side="right") - 1  # last time <= entry
        Ae = np.where(pos >= 0, A[np.maximum(pos, 0)], 0.0)
    with np.errstate(invalid="ignore"):
        u = A[inv] - Ae - np.where(event > 0, jump[inv], 0.0)
        done = np.cumsum(np.bincount(inv, weights=w2 * u * u, minlength=K))  # rows with T_i <= t
    # rows with T_i > t and e_i < t
    sums = []
    for m in (np.ones(len(inv)), Ae, Ae * Ae):
        later = np.concatenate([np.cumsum(np.bincount(inv, weights=w2 * m, minlength=K)[::-1])[::-1][1:], [0.0]])
        if entry is not None:  # remove rows not yet entered (e_i >= t); they all have T_i > t
            order = np.argsort(entry, kind="stable")
            cm = np.concatenate([[0.0], np.cumsum((w2 * m)[order])])
            first = np.searchsorted(entry[order], ut, side="left")
            later = later - (cm[-1] - cm[first])
        sums.append(later)
    S0, S1, S2 = sums
    with np.errstate(invalid="ignore"):
        return done + A * A * S0 - 2 * A * S1 + S2


def _fleming_harrington(n_risk, d, count):
    """Hazard and variance increments sum_{k<d} 1/(n - k) and 1/(n - k)^2 (R's ctype = 2).

    With case weights the d tied events are spread as survfit does: k/d of the event
    weight has left the risk set at the k-th term.
    """
    dh = np.zeros_like(n_risk)
    dv = np.zeros_like(n_risk)
    whole = np.round(count).astype(int)
    for m in np.unique(whole[d > 0]):
        rows = np.flatnonzero((whole == m) & (d > 0))
        k = np.arange(m)[None, :] / m * d[rows, None]
        denom = n_risk[rows, None] - k
        dh[rows] = np.sum(d[rows, None] / m / denom, axis=1)
        dv[rows] = np.sum((d[rows, None] / m) / denom**2, axis=1)
    return dh, dv


def _confint(surv, se_log, conf_type: str, conf_level: float):
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    surv = np.asarray(surv, float)
    se_log = np.asarray(se_log, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            lower = np.where(surv == 0, np.nan, surv * np.exp(-z * se_log))
            upper = np.where(surv == 0, np.nan, np.minimum(surv * np.exp(z * se_log), 1.0))
        elif conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            se2 = z * se_log / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        elif conf_type == "plain":
            se = se_log * surv
            lower = np.where(surv == 0, np.nan, np.maximum(surv - z * se, 0.0))
            upper = np.where(surv == 0, np.nan, np.minimum(surv + z * se, 1.0))
        elif conf_type == "logit":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            half = z * se_log / (1 - xx)
            centre = np.log(xx / (1 - xx))
            lower = 1 - 1 / (1 + np.exp(centre - half))
            upper = 1 - 1 / (1 + np.exp(centre + half))
        elif conf_type == "arcsin":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            centre = np.arcsin(np.sqrt(xx))
            half = 0.5 * z * se_log * np.sqrt(xx / (1 - xx))
            lower = np.sin(np.maximum(0.0, centre - half)) ** 2
            upper = np.sin(np.minimum(np.pi / 2, centre + half)) ** 2
        else:
            raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")
    return lower, upper


def _minmin(y, x):
    """First time the curve y drops to 0.5 or below (R's survmean rule, averaging at exact 0.5)."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return np.nan
    x, y = x[keep], y[keep]
    if abs(y[0] - 0.5) < _TOL and (y < y[0]).any():
        return (x[0] + x[np.argmax(y < y[0])]) / 2
    return x[0]


def _rmean(tab: pd.DataFrame, tau: float, start: float = 0.0):
    """Restricted mean and its SE as R's ``print.survfit(rmean=tau)`` (survmean)."""
    time, surv = tab["time"].to_numpy(), tab["surv"].to_numpy()
    n, d = tab["n_risk"].to_numpy(), tab["n_event"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    keep = time <= tau
    if not keep.any():
        return float(tau - start + start), 0.0
    tt = np.append(time[keep], tau)
    ss = np.append(surv[keep], surv[keep][-1])
    hh = np.append(hh[keep], 0.0)
    delta = np.diff(np.concatenate([[start], tt]))
    rect = delta * np.concatenate([[1.0], ss[:-1]])
    varmean = np.sum(np.cumsum(rect[1:][::-1]) ** 2 * hh[::-1][1:])
    return float(rect.sum() + start), float(np.sqrt(varmean))


@dataclass(frozen=True, eq=False)
class KaplanMeierResult(Result):
    """Kaplan–Meier survival curves by group, with their variance and confidence limits.

    Returned by :func:`kaplan_meier`; the fields hold what ``survfit`` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group and distinct time: ``group, time, n_risk, n_event, n_censor, surv,
        cumhaz, std_chaz, std_err, lower, upper`` (``std_err`` is the SE of S(t), as
        ``summary.survfit``'s ``std.err``; ``cumhaz``/``std_chaz`` the Nelson–Aalen or
        Fleming–Harrington hazard and its SE).
    groups : list
        The group levels, in sorted order (``[None]``-like single level without ``group``).
    conf_type : str
        Scale of the limits: ``"log"``, ``"log-log"``, ``"plain"``, ``"logit"`` or ``"arcsin"``.
    level : float
        Confidence level, as a proportion (``conf_level`` is a deprecated alias).
    group_name : str or None
        The grouping column's name.
    n : pandas.Series
        Number of rows (participants) per group.
    variance : str
        ``"greenwood"`` (weighted Greenwood) or ``"robust"`` (infinitesimal jackknife,
        survfit's ``robust = TRUE``).

    Notes
    -----
    R equivalent: ``survival::survfit`` object, with ``summary.survfit(times=)`` as :meth:`at`,
    ``print.survfit``'s median as :meth:`median` and ``print(fit, rmean=)`` as :meth:`rmst`
    (survival 3.5-3).

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.
    .. [2] Greenwood, M. (1926). The natural duration of cancer. Reports on Public Health and
       Medical Subjects, 33, 1-26. HMSO, London.
    .. [3] Therneau, T. M., & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox
       Model. Springer.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
    >>> km = pt.survival.kaplan_meier(d, time="time", event="event", group="arm")
    >>> km.groups, km.n.tolist(), km.variance
    ([0, 1], [5, 5], 'greenwood')
    >>> km.median().tolist()
    [27.0, 30.0]
    >>> km.rmst(40)["rmst"].round(4).tolist()
    [24.2, 25.0]
    """

    table: pd.DataFrame
    groups: list
    conf_type: str
    level: float
    group_name: str | None
    n: pd.Series
    variance: str = "greenwood"  # or "robust" (infinitesimal jackknife, survfit's robust = TRUE)

    def plot(self, ax=None, **kwargs):
        """Kaplan-Meier curves: confidence bands, censoring marks and a numbers-at-risk table.

        Draws :func:`peertrial.plot.km_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.km_plot`: ``ci``, ``risk_table``, ``tick_step``,
            ``labels``, ``xlabel``, ``ylabel``, ``title``, ``censor_marks``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.km_plot : what is drawn, with an example.
        """
        from peertrial.plot.survival import km_plot

        return km_plot(self, ax=ax, **kwargs)
    conf_level = CONF_LEVEL_ALIAS

    def _curve(self, g) -> pd.DataFrame:
        return self.table[self.table["group"] == g]

    def at(self, times) -> pd.DataFrame:
        """Survival at ``times`` as ``summary(survfit, times=, extend=TRUE)``.

        ``n_risk`` is the number at risk at the first observed time >= t (0 beyond
        the last observed time); surv, std_err and limits are those of the last
        time <= t (1, 0 and 1 before the first time).
        """
        times = np.atleast_1d(np.asarray(times, float))
        rows = []
        for g in self.groups:
            cur = self._curve(g)
            t = cur["time"].to_numpy()
            idx = np.searchsorted(t, times, side="right") - 1
            nxt = np.searchsorted(t, times, side="left")
            for k, tt in enumerate(times):
                i = idx[k]
                n_risk = cur["n_risk"].iat[nxt[k]] if nxt[k] < len(t) else 0.0
                if i < 0:
                    rows.append((g, tt, 1.0, 0.0, 1.0, 1.0, n_risk))
                else:
                    r = cur.iloc[i]
                    rows.append((g, tt, r["surv"], r["std_err"], r["lower"], r["upper"], n_risk))
        return pd.DataFrame(rows, columns=["group", "time", "surv", "std_err", "lower", "upper", "n_risk"])

    def median(self, ci: bool = False):
        """Median survival per group (NaN where not reached), as ``print.survfit``.

        With ``ci=True`` a DataFrame with columns median, lower, upper: the times at
        which the lower and upper confidence curves reach 0.5.
        """
        out = {}
        for g in self.groups:
            cur = self._curve(g)
            t = cur["time"].to_numpy()
            out[g] = (_minmin(cur["surv"].to_numpy(), t), _minmin(cur["lower"].to_numpy(), t),
                      _minmin(cur["upper"].to_numpy(), t))
        frame = pd.DataFrame(out, index=["median", "lower", "upper"]).T
        frame.index.name = "group"
        return frame if ci else frame["median"]

    def rmst(self, tau: float) -> pd.DataFrame:
        """Restricted mean survival time up to ``tau`` with R's ``rmean`` standard error.

        RMST = integral_0^tau S(t) dt; its variance sums, over event times t_j <= tau,
        (integral_{t_j}^tau S)^2 d_j / (n_j (n_j - d_j)) (``survival:::survmean``).
        """
        rows = [(g, *_rmean(self._curve(g), float(tau))) for g in self.groups]
        return pd.DataFrame(rows, columns=["group", "rmst", "se"])

    def rmst_diff(self, tau: float, reference=None) -> pd.DataFrame:
        """Difference in RMST of every group against ``reference`` (default: first level).

        Groups are independent, so se = sqrt(se_g^2 + se_ref^2); Wald CI and p-value.
        """
        tab = self.rmst(tau).set_index("group")
        ref = self.groups[0] if reference is None else reference
        z = stats.norm.ppf(1 - (1 - self.level) / 2)
        rows = []
        for g in self.groups:
            if g == ref:
                continue
            est = tab.at[g, "rmst"] - tab.at[ref, "rmst"]
            se = float(np.hypot(tab.at[g, "se"], tab.at[ref, "se"]))
            p = 2 * stats.norm.sf(abs(est / se)) if se > 0 else np.nan
            rows.append((f"{g} - {ref}", est, se, est - z * se, est + z * se, p))
        return pd.DataFrame(rows, columns=["contrast", "estimate", "se", "ci_lb", "ci_ub", "pval"]).set_index("contrast")

    def to_frame(self) -> pd.DataFrame:
        """``table`` with the package's column names: ``se`` (of S, R's ``std.err``), ``ci_lb``,
        ``ci_ub`` (R's ``lower``/``upper``, as :meth:`at` keeps them)."""
        return self.table.rename(columns={"std_err": "se", "lower": "ci_lb", "upper": "ci_ub"})

    def summary(self) -> str:
        med = self.median(ci=True)
        frame = pd.DataFrame({
            "n": [str(int(v)) for v in self.n.reindex(self.groups)],
            "events": [f"{self._curve(g)['n_event'].sum():g}" for g in self.groups],
            "median": med["median"].to_numpy(),
            f"{self.level:g}LCL": med["lower"].to_numpy(),
            f"{self.level:g}UCL": med["upper"].to_numpy(),
        }, index=[f"{self.group_name}={g}" if self.group_name else "all" for g in self.groups])
        var = "Greenwood" if self.variance == "greenwood" else "infinitesimal-jackknife"
        return (f"Kaplan-Meier estimate ({var} variance, conf.type = {self.conf_type!r})\n"
                + format_table(frame, digits=2))


def kaplan_meier(data=None, time="time", event="event", group=None, conf_type: str = "log",
                 level: float = 0.95, entry=None, weights=None, stype: int = 1, ctype: int = 1, *,
                 robust: bool | None = None, conf_level=None) -> KaplanMeierResult:
    """Kaplan–Meier curves with Greenwood variance, as ``survfit(Surv(time, event) ~ group)``.

    ``event`` is 1 for the event and 0 for censoring; ``entry`` gives late-entry times
    (R's ``Surv(entry, time, event)``). The table also holds the cumulative hazard
    ``cumhaz`` and its ``std_chaz`` (survfit's).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    time : str
        Follow-up time column (default ``"time"``).
    event : str
        Event column, 1 for the event, 0 for censoring (default ``"event"``).
    group : str, optional
        Curves per level of this column.
    conf_type : {"log", "log-log", "plain", "logit", "arcsin"}
        Scale of the confidence interval (R's ``conf.type``; default "log").
    level : float
        Confidence level, 0.95 or 95 alike (default 0.95); ``conf_level`` is its deprecated alias.
    entry : str, optional
        Late-entry (left-truncation) times.
    weights : str, optional
        Case weights (survfit's ``weights=``). With integer weights the variance is the
        weighted Greenwood formula; with non-integer weights it is the infinitesimal jackknife
        (``robust``), as survfit's defaults.
    robust : bool, optional
        Infinitesimal-jackknife (IJ) variance: sum over rows of (w_i dlog S(t)/dw_i)^2 (and
        the same for the Nelson–Aalen hazard), as ``survfit(..., robust = TRUE)`` with each
        row its own cluster. Default (None): True exactly when some weight is not an integer,
        as survfit; ``robust=False`` keeps the weighted Greenwood variance. Not with ``ctype=2``
        (there the default falls back to the Greenwood variance with a warning).
    stype : {1, 2}
        1: Kaplan–Meier; 2: exp(-cumulative hazard), with ``std_chaz`` as the SE of log S.
    ctype : {1, 2}
        Cumulative hazard: 1 Nelson–Aalen; 2 Fleming–Harrington (tied events leave the
        risk set one at a time).

    Returns
    -------
    KaplanMeierResult
        The curves, with ``at(times)``, ``median()``, ``rmst(tau)``, ``summary()``, ``to_frame()``.

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(time, event) ~ group)`` (survival 3.5-3).

    References
    ----------
    .. [1] Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete
       observations. Journal of the American Statistical Association, 53, 457-481.
    .. [2] Therneau, T. M., & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox
       Model. Springer.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "age": [50, 61, 45, 38, 70, 52, 66, 41, 59, 48]})
    >>> km = pt.survival.kaplan_meier(d, time="time", event="event", group="arm")
    >>> km.at([25])["surv"].round(4).tolist()
    [0.5333, 0.6]
    """
    level = _data.confidence_level(level, conf_level=conf_level)
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")
    if stype not in (1, 2) or ctype not in (1, 2):
        raise ValueError(f"stype and ctype must be 1 or 2 (as survfit), got stype={stype!r}, ctype={ctype!r}")
    if robust not in (None, True, False):
        raise ValueError(f"robust must be True, False or None (survfit's default), got {robust!r}")
    sd = _input.prepare(data, time, event, status_codes=(0, 1), group=group, entry=entry,
                        weights=weights)
    if robust is None:
        robust = sd.weights is not None and bool(np.any(sd.weights != np.floor(sd.weights)))
        if robust and ctype == 2:
            import warnings

            from peertrial._warnings import PeertrialWarning

            warnings.warn("non-integer weights with ctype=2: the variance is the weighted Greenwood / "
                          "Fleming-Harrington one (survfit would use its infinitesimal jackknife, which "
                          "peertrial gives for ctype=1 only)", PeertrialWarning, stacklevel=2)
            robust = False
    if robust and ctype == 2:
        raise ValueError("the robust (infinitesimal-jackknife) variance is available with ctype=1 (Nelson-Aalen) "
                         "only; give robust=False for the Fleming-Harrington hazard")
    codes = sd.group if sd.group is not None else np.zeros(len(sd.time), dtype=np.int64)
    levels = sd.group_levels if sd.group is not None else ["all"]
    parts = []
    for k, g in enumerate(levels):
        m = codes == k
        tab = km_table(sd.time[m], sd.status[m], None if sd.entry is None else sd.entry[m],
                       None if sd.weights is None else sd.weights[m], ctype=ctype, robust=robust)
        if stype == 2:
            tab["surv"] = np.exp(-tab["cumhaz"].to_numpy())
            se_log = tab["std_chaz"].to_numpy()
        else:
            se_log = np.sqrt(tab["cumvar"].to_numpy())
        lower, upper = _confint(tab["surv"], se_log, conf_type, level)
        with np.errstate(invalid="ignore"):
            std_err = se_log * tab["surv"].to_numpy()
        tab = tab.drop(columns="cumvar").assign(std_err=std_err, lower=lower, upper=upper)
        tab.insert(0, "group", g)
        parts.append(tab)
    table = pd.concat(parts, ignore_index=True)
    n = pd.Series(np.bincount(codes, minlength=len(levels)), index=levels)
    gname = group if isinstance(group, str) else ("group" if group is not None else None)
    return KaplanMeierResult(table, levels, conf_type, level, gname, n, "robust" if robust else "greenwood")


def __getattr__(name: str):
    """``km_curve`` is the deprecated spelling of :func:`km_table` (``peertrial.process.km_curve``
    is the public curve from arrays)."""
    if name == "km_curve":
        _data.warn_deprecated("peertrial.survival.km.km_curve is deprecated and will be removed; use km_table")
        return km_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
