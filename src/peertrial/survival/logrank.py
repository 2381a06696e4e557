"""G-rho family of k-sample tests, as R's ``survival::survdiff``.

At each distinct event time t (within stratum) with weight w_t = S(t-)^rho, where S
is the pooled Kaplan–Meier estimate of the stratum (left-continuous), group g adds
O_g += w_t d_gt, E_g += w_t d_t n_gt / n_t and the hypergeometric covariance
V_gh += w_t^2 d_t (n_t - d_t) / (n_t^2 (n_t - 1)) n_gt (δ_gh n_t - n_ht).
Strata are summed. The statistic (O - E)' V^- (O - E) drops the first of the groups
with positive expected count; df = (number of such groups) - 1.
``rho = 0`` is the log-rank test, ``rho = 1`` the Peto & Peto modification of Gehan–Wilcoxon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial._lazy import lazy_module
from peertrial._results import Result, format_pval, format_table
from peertrial.survival import _input

stats = lazy_module("scipy.stats")

__all__ = ["logrank", "LogrankResult"]


def _stratum_sums(time, event, group, ngroup, rho):
    ut, inv = np.unique(time, return_inverse=True)
    nt = len(ut)
    d = np.zeros((nt, ngroup))
    cnt = np.zeros((nt, ngroup))
    np.add.at(d, (inv, group), event)
    np.add.at(cnt, (inv, group), 1.0)
    risk = np.cumsum(cnt[::-1], axis=0)[::-1]
    n = risk.sum(1)
    dt = d.sum(1)
    if rho != 0:
        km = np.concatenate([[1.0], np.cumprod((n - dt) / n)[:-1]])
        wt = km**rho
    else:
        wt = np.ones(nt)
    obs = (wt[:, None] * d).sum(0)
    ev = dt > 0
    exp = (wt[ev, None] * dt[ev, None] * risk[ev] / n[ev, None]).sum(0)
    use = ev & (n > 1)
    kt = wt[use] ** 2 * dt[use] * (n[use] - dt[use]) / (n[use] - 1)
    p = risk[use] / n[use, None]
    var = np.einsum("t,tj->j", kt, p)
    var = np.diag(var) - np.einsum("t,tj,tk->jk", kt, p, p)
    return obs, exp, var


@dataclass(frozen=True, eq=False)
class LogrankResult(Result):
    """Log-rank (G-rho) test of equal survival: chi-square, observed and expected events per group.

    Returned by :func:`logrank`; the fields are those of a ``survdiff`` object.

    Attributes
    ----------
    chisq : float
        The chi-square statistic, (O - E)' V^- (O - E) over the groups (summed over strata).
    df : int
        Degrees of freedom: number of groups with an expected count, minus 1.
    pval : float
        Upper-tail chi-square p-value.
    observed, expected : pandas.Series
        Observed and expected (weighted) numbers of events per group (R's ``obs``, ``exp``).
    var : pandas.DataFrame
        Variance-covariance matrix of O - E (R's ``var``), groups by groups.
    n : pandas.Series
        Number of participants per group.
    rho : float
        The G-rho weight: 0 log-rank, 1 Peto–Peto.

    Notes
    -----
    R equivalent: ``survival::survdiff`` object (survival 3.5-3); :meth:`to_frame` is the table
    ``print.survdiff`` shows.

    References
    ----------
    .. [1] Mantel, N. (1966). Evaluation of survival data and two new rank order statistics
       arising in its consideration. Cancer Chemotherapy Reports, 50, 163-170.
    .. [2] Harrington, D. P., & Fleming, T. R. (1982). A class of rank test procedures for
       censored survival data. Biometrika, 69, 553-566.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
    >>> lr = pt.survival.logrank(d, time="time", event="event", group="arm")
    >>> lr.observed.tolist(), lr.expected.round(4).tolist(), lr.df
    ([3.0, 4.0], [2.7778, 4.2222], 1)
    """

    chisq: float
    df: int
    pval: float
    observed: pd.Series
    expected: pd.Series
    var: pd.DataFrame
    n: pd.Series
    rho: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "N": self.n, "observed": self.observed, "expected": self.expected,
            "(O-E)^2/E": (self.observed - self.expected) ** 2 / self.expected,
            "(O-E)^2/V": (self.observed - self.expected) ** 2 / np.diag(self.var.to_numpy()),
        })

    def summary(self) -> str:
        name = "Log-rank test" if self.rho == 0 else f"G-rho test (rho = {self.rho:g})"
        frame = self.to_frame()
        frame["N"] = frame["N"].map(str)
        return (f"{name}\n{format_table(frame, digits=2)}\n\n"
                f" Chisq= {self.chisq:.1f}  on {self.df} degrees of freedom, p= {format_pval(self.pval)}")


def logrank(data=None, time="time", event="event", group="group", strata=None,
            rho: float = 0) -> LogrankResult:
    """Compare survival curves of two or more groups, optionally stratified (``survdiff``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    time, event : str
        Follow-up time and event indicator (1 event, 0 censored); defaults ``"time"``,
        ``"event"``.
    group : str
        The groups compared (default ``"group"``).
    strata : str, optional
        Stratified test (R's ``strata()``).
    rho : float
        G-rho family weight: 0 log-rank (default), 1 Peto-Peto.

    Returns
    -------
    LogrankResult
        ``chisq``, ``df``, ``pval`` and the observed/expected table.

    Notes
    -----
    R equivalent: ``survival::survdiff`` (survival 3.5-3).

    References
    ----------
    .. [1] Harrington, D. P., & Fleming, T. R. (1982). A class of rank test procedures for
       censored survival data. Biometrika, 69, 553-566.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "age": [50, 61, 45, 38, 70, 52, 66, 41, 59, 48]})
    >>> lr = pt.survival.logrank(d, time="time", event="event", group="arm")
    >>> round(lr.chisq, 4), round(lr.pval, 4)
    (0.0336, 0.8545)
    """
    sd = _input.prepare(data, time, event, status_codes=(0, 1), group=group, strata=strata)
    k = len(sd.group_levels)
    scodes = sd.strata if sd.strata is not None else np.zeros(len(sd.time), np.int64)
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    for s in np.unique(scodes):
        m = scodes == s
        o, e, v = _stratum_sums(sd.time[m], sd.status[m], sd.group[m], k, rho)
        obs += o
        exp += e
        var += v
    if obs.sum() == 0:
        raise ValueError(f"no events in {event if isinstance(event, str) else 'event'!r} (every row censored): the log-rank test needs at least one event")
    keep = exp > 0
    df = int(keep.sum()) - 1
    if df < 1:
        import warnings

        from .._data import user_stacklevel
        from .._warnings import PeertrialWarning

        warnings.warn("only one group has a positive expected count (the others have no one at risk when events "
                      "occur): the log-rank test has 0 degrees of freedom and no p-value", PeertrialWarning,
                      stacklevel=user_stacklevel())
        df = 0
        chisq = 0.0
    else:
        diff = (obs - exp)[keep][1:]
        vv = var[np.ix_(keep, keep)][1:, 1:]
        chisq = float(diff @ np.linalg.solve(vv, diff))
    pval = float(stats.chi2.sf(chisq, df)) if df >= 1 else np.nan
    lev = sd.group_levels
    return LogrankResult(chisq, df, pval, pd.Series(obs, index=lev), pd.Series(exp, index=lev),
                         pd.DataFrame(var, index=lev, columns=lev),
                         pd.Series(np.bincount(sd.group, minlength=k), index=lev), rho)
