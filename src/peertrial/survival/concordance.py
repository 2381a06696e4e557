"""Harrell's concordance with its infinitesimal-jackknife standard error, as R's ``concordance()``.

A pair (i, j) is comparable when i has the event and j is still followed after t_i
(t_j > t_i, or t_j = t_i with j censored), both in the same stratum. With case weights
the pair counts w_i w_j. For a predictor x where larger values mean *longer* survival
(``reverse=False``), the pair is concordant when x_i < x_j, discordant when x_i > x_j,
tied on x when x_i = x_j; a risk score (a Cox linear predictor) uses ``reverse=True``.

    C = (concordant + tied / 2) / (concordant + discordant + tied)

The variance is the infinitesimal jackknife sum over observations of (dC/dw_k)^2, which
is the ``var`` of ``survival::concordance`` (version 3) with its default ``timewt = "n"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_table

stats = lazy_module("scipy.stats")

__all__ = ["concordance", "ConcordanceResult"]

_BLOCK = 4_000_000  # pair cells evaluated at once (memory bound of the dense sweep)


@dataclass(frozen=True, eq=False)
class ConcordanceResult(Result):
    """Harrell's concordance statistic C with its pair counts and infinitesimal-jackknife SE.

    Returned by :func:`concordance`. Also ``ci_lb``, ``ci_ub`` (Wald limits at ``level`` on the
    logit scale, back-transformed, so they stay inside (0, 1); R's ``concordance`` gives the
    SE only) and
    ``somers_d`` (2C - 1) as properties.

    Attributes
    ----------
    estimate : float
        C: (concordant + tied_x / 2) / (concordant + discordant + tied_x).
    se : float
        Its standard error (survival's infinitesimal-jackknife ``var``).
    concordant, discordant : float
        (Weighted) numbers of concordant and discordant comparable pairs.
    tied_x, tied_y : float
        Comparable pairs tied on the predictor; pairs tied on time (both events).
    n : int
        Number of observations.
    level : float
        Confidence level, as a proportion.

    Notes
    -----
    R equivalent: ``survival::concordance`` (``timewt = "n"``; survival 3.5-3): ``count``
    holds the pair counts and ``var`` the squared SE.

    References
    ----------
    .. [1] Harrell, F. E., Lee, K. L., & Mark, D. B. (1996). Multivariable prognostic models:
       issues in developing models, evaluating assumptions and adequacy, and measuring and
       reducing errors. Statistics in Medicine, 15, 361-387.
    .. [2] Therneau, T. M., & Atkinson, E. (2023). The concordance statistic. Vignette of the R
       package survival.

    Examples
    --------
    >>> r = pt.survival.concordance(time=[5, 8, 12, 20], event=[1, 1, 0, 1], predictor=[1, 3, 2, 4])
    >>> r.concordant, r.discordant, round(r.se, 4), round(r.somers_d, 4)
    (4.0, 1.0, 0.204, 0.6)
    """

    estimate: float
    se: float
    concordant: float
    discordant: float
    tied_x: float
    tied_y: float
    n: int
    level: float

    def _limits(self) -> tuple[float, float]:
        """Wald limits on the logit scale, ``expit(logit C +- z SE / (C (1 - C)))``, so they stay in
        (0, 1) (a C-scale Wald interval passes 1 for a good predictor in a small sample)."""
        c = self.estimate
        if not 0 < c < 1:
            return c, c
        half = stats.norm.ppf(0.5 + self.level / 2) * self.se / (c * (1 - c))
        logit = np.log(c / (1 - c))
        return float(1 / (1 + np.exp(-(logit - half)))), float(1 / (1 + np.exp(-(logit + half))))

    @property
    def ci_lb(self) -> float:
        return self._limits()[0]

    @property
    def ci_ub(self) -> float:
        return self._limits()[1]

    @property
    def somers_d(self) -> float:
        """Somers' d = 2C - 1."""
        return 2 * self.estimate - 1

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": [self.estimate], "se": [self.se], "ci_lb": [self.ci_lb],
                             "ci_ub": [self.ci_ub], "concordant": [self.concordant],
                             "discordant": [self.discordant], "tied_x": [self.tied_x],
                             "tied_y": [self.tied_y], "n": [self.n]}, index=["concordance"])

    def summary(self) -> str:
        return (f"Concordance (Harrell's C), n = {self.n}\n"
                + format_table(self.to_frame()[["estimate", "se", "ci_lb", "ci_ub"]])
                + f"\nconcordant {self.concordant:g}, discordant {self.discordant:g}, "
                  f"tied on x {self.tied_x:g}, tied on y {self.tied_y:g}")


def _pair_sums(time, event, x, strata, w):
    """Weighted pair counts and each observation's share of them (for the jackknife)."""
    n = len(time)
    num_k = np.zeros(n)  # d(concordant + tied/2)/dw_k up to the weight factor
    den_k = np.zeros(n)
    totals = np.zeros(4)  # concordant, discordant, tied on x, tied on y
    events = np.flatnonzero(event)
    step = max(1, _BLOCK // max(n, 1))
    for lo in range(0, len(events), step):
        i = events[lo:lo + step]
        later = (time[None, :] > time[i, None]) | ((time[None, :] == time[i, None]) & ~event[None, :])
        same = strata[None, :] == strata[i, None]
        comp = later & same
        ww = w[i, None] * w[None, :] * comp
        conc = ww * (x[i, None] < x[None, :])
        disc = ww * (x[i, None] > x[None, :])
        tie = ww * (x[i, None] == x[None, :])
        num = conc + tie / 2
        den = conc + disc + tie
        totals += (conc.sum(), disc.sum(), tie.sum(), 0.0)
        # derivative of a weighted pair sum with respect to w_k: the pair's value over w_k
        np.add.at(num_k, i, num.sum(1) / w[i])
        np.add.at(den_k, i, den.sum(1) / w[i])
        num_k += num.sum(0) / w
        den_k += den.sum(0) / w
        tied_y = ((time[None, :] == time[i, None]) & event[None, :] & same
                  & (x[i, None] != x[None, :]))
        totals[3] += (w[i, None] * w[None, :] * tied_y).sum() / 2  # each pair seen from both ends
    return totals, num_k, den_k


def concordance(data=None, time="time", event="event", predictor=None, strata=None, weights=None,
                reverse: bool = False, level: float = 0.95, fit=None) -> ConcordanceResult:
    """Harrell's C of a predictor (or of a fitted Cox model) with its standard error.

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Holds the named columns (or give arrays).
    time, event : str or array-like
        Follow-up time and 0/1 event indicator (defaults ``"time"``, ``"event"``).
    predictor : str or array-like
        The score to assess; larger values predict longer survival unless ``reverse``.
    strata : str or array-like, optional
        Pairs are compared within strata only.
    weights : str or array-like, optional
        Case weights (a pair counts w_i w_j).
    reverse : bool
        True when larger predictor values mean shorter survival (a risk score); default False.
    level : float
        Confidence level for ``ci_lb``/``ci_ub`` (0.95 or 95).
    fit : CoxResult, optional
        A fitted :func:`peertrial.survival.cox` model: its linear predictor, strata and
        weights are used with ``reverse=True``, as ``concordance(coxph_fit)``.

    Returns
    -------
    ConcordanceResult
        ``estimate``, ``se``, ``ci_lb``, ``ci_ub``, the pair counts, ``somers_d``.

    Notes
    -----
    R equivalent: ``survival::concordance(Surv(time, event) ~ predictor)`` (survival 3.5-3,
    ``timewt = "n"``); for a Cox model, ``concordance(fit)``. The pair sweep is dense in
    blocks: time O(n x events), memory bounded.

    References
    ----------
    .. [1] Harrell, F. E., Lee, K. L., & Mark, D. B. (1996). Multivariable prognostic models:
       issues in developing models, evaluating assumptions and adequacy, and measuring and
       reducing errors. Statistics in Medicine, 15, 361-387.
    .. [2] Therneau, T. M., & Atkinson, E. (2023). The concordance statistic. Vignette of the R
       package survival.

    Examples
    --------
    >>> r = pt.survival.concordance(time=[5, 8, 12, 20], event=[1, 1, 0, 1], predictor=[1, 3, 2, 4])
    >>> round(r.estimate, 4)
    0.8
    """
    lev = _data.confidence_level(level)
    if fit is not None:
        d = fit._data
        x = d.X @ fit.coef.fillna(0.0).to_numpy()
        time_, event_ = d.stop, d.event.astype(bool)
        strata_ = np.zeros(len(x), np.int64) if d.strata is None else d.strata
        w = d.w
        if d.entry is not None:
            raise ValueError("concordance of a Cox model with (entry, time] rows is not supported")
        reverse = True
    else:
        if predictor is None:
            raise ValueError("give predictor= (a column or array) or fit= (a Cox model)")
        frame = None if data is None else _data.as_frame(data)
        cols = {"time": time, "event": event, "predictor": predictor, "strata": strata,
                "weights": weights}
        series = {k: _data.column_or_array(frame, v, k) for k, v in cols.items() if v is not None}
        n = len(series["time"])
        for k, s in series.items():
            if len(s) != n:
                raise ValueError(f"{k} has length {len(s)} but time has {n}")
        aligned = pd.DataFrame({k: s.to_numpy() for k, s in series.items()},
                               index=series["time"].index)
        aligned = _data.drop_missing(aligned, list(aligned.columns), stacklevel=3)
        time_ = _data.numeric(aligned["time"], time if isinstance(time, str) else "time")
        event_ = _data.binary(aligned["event"], event if isinstance(event, str) else "event",
                              meaning="1 = event, 0 = censored").astype(bool)
        x = _data.numeric(aligned["predictor"], predictor if isinstance(predictor, str) else "predictor")
        strata_ = (pd.factorize(aligned["strata"])[0] if strata is not None
                   else np.zeros(len(x), np.int64))
        w = (_data.numeric(aligned["weights"], "weights") if weights is not None
             else np.ones(len(x)))
        if weights is not None:
            _data.check_positive(w, aligned.index, weights if isinstance(weights, str) else "weights")
    if reverse:
        x = -x
    totals, num_k, den_k = _pair_sums(np.asarray(time_, float), np.asarray(event_, bool),
                                      np.asarray(x, float), np.asarray(strata_), np.asarray(w, float))
    conc, disc, tie, tied_y = totals
    N, D = conc + tie / 2, conc + disc + tie
    if D == 0:
        raise ValueError("no comparable pairs (no event is followed by a longer follow-up time); "
                         "the concordance is not defined")
    influence = (num_k * D - N * den_k) / D**2
    se = float(np.sqrt(np.sum(w * influence**2 * w)))
    return ConcordanceResult(float(N / D), se, float(conc), float(disc), float(tie), float(tied_y),
                             len(x), lev)
