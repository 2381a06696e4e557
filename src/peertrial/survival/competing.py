"""Competing risks: cumulative incidence, Gray's test, Fine–Gray regression, cause-specific Cox.

Equal to R's ``cmprsk`` (Gray 1988; Fine & Gray 1999):

- :func:`cuminc` — Aalen–Johansen cumulative incidence F_c(t) = sum_{t_j <= t} S(t_j-) d_cj / n_j
  per group and cause, with the variance of ``cmprsk::cuminc`` (Gray's delta-method
  formula, with the hypergeometric tie correction 1 - (d - 1)/(n - 1)); ``.at()`` as
  ``timepoints``. With a group, Gray's k-sample test for each cause (weights
  (1 - F(t-))^rho, strata summed).
- :func:`fine_gray` — proportional subdistribution hazards as ``cmprsk::crr``: subjects who
  failed from a competing cause stay in the risk set with weight G(t-)/G(T_i-), G the
  Kaplan–Meier estimate of the censoring distribution; Newton–Raphson from 0 with crr's
  convergence rule and line search; sandwich variance I^-1 (sum eta_i eta_i') I^-1
  including the term for the estimated censoring distribution (crr's ``crrvv``).
- :func:`cause_specific_cox` — Cox model for one cause, treating other causes as censored.

All sums over risk sets are cumulative sums over the time-sorted data (O(n p^2)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial._data import confidence_level
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_pval, format_table
from peertrial.survival import _input
from peertrial.survival.cox import cox

stats = lazy_module("scipy.stats")

__all__ = ["cuminc", "CumincResult", "fine_gray", "FineGrayResult", "cause_specific_cox"]


# --------------------------------------------------------------------------- cuminc
def _cinc(time, failed, cause):
    """Cumulative incidence and cmprsk variance at the distinct times of ``cause`` events."""
    ut, inv = np.unique(time, return_inverse=True)
    nd1 = np.bincount(inv, weights=cause, minlength=len(ut))
    nd = np.bincount(inv, weights=failed, minlength=len(ut))
    cnt = np.bincount(inv, minlength=len(ut)).astype(float)
    rs = np.cumsum(cnt[::-1])[::-1]
    ev = nd > 0
    ut, nd1, nd, rs = ut[ev], nd1[ev], nd[ev], rs[ev]
    nd2 = nd - nd1
    fkn = np.cumprod((rs - nd) / rs)
    fk = np.concatenate([[1.0], fkn[:-1]])
    F = np.cumsum(fk * nd1 / rs)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_fkn = np.where(fkn > 0, 1 / fkn, 0.0)
        # competing-cause term
        t5 = np.where(nd2 > 1, 1 - (nd2 - 1) / (rs - 1), 1.0)
        t6 = fk * fk * t5 * nd2 / (rs * rs)
        on = (nd2 > 0) & (fkn > 0)
        t3, t4 = np.where(on, inv_fkn, 0.0), np.where(on, F * inv_fkn, 0.0)
        t6 = np.where(on, t6, 0.0)
        v1, v2, v3 = t4 * t4 * t6, t3 * t4 * t6, t3 * t3 * t6
        # cause-of-interest term
        t5 = np.where(nd1 > 1, 1 - (nd1 - 1) / (rs - 1), 1.0)
        t6 = np.where(nd1 > 0, fk * fk * t5 * nd1 / (rs * rs), 0.0)
        t4 = 1 + inv_fkn * F
    v1 = np.cumsum(v1 + t4 * t4 * t6)
    v2 = np.cumsum(v2 + inv_fkn * t4 * t6)
    v3 = np.cumsum(v3 + inv_fkn * inv_fkn * t6)
    var = v1 + F * F * v3 - 2 * F * v2
    keep = nd1 > 0
    return ut[keep], F[keep], var[keep]


def _gray_stratum(time, m, g, ng, rho):
    """Score vector (first ng-1 groups) and its variance for one stratum (cmprsk's crst)."""
    ut, inv = np.unique(time, return_inverse=True)
    nt = len(ut)
    d = np.zeros((3, nt, ng))
    np.add.at(d, (m, inv, g), 1.0)
    cnt = d.sum(0)
    rs = np.cumsum(cnt[::-1], axis=0)[::-1]
    d1, d2 = d[1], d[2]
    nd1, nd2 = d1.sum(1), d2.sum(1)
    ev = (nd1 + nd2) > 0
    d1, d2, rs, nd1, nd2 = d1[ev], d2[ev], rs[ev], nd1[ev], nd2[ev]
    pos = rs > 0
    td = d1 + d2
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(pos, (rs - td) / np.where(pos, rs, 1), 1.0)
        skm = np.cumprod(factor, axis=0)
        skmm = np.vstack([np.ones((1, ng)), skm[:-1]])
        f1 = np.cumsum(np.where(pos, skmm * d1 / np.where(pos, rs, 1), 0.0), axis=0)
        f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
        t1 = np.where(pos, rs / skmm, 0.0)
        tr = t1.sum(1)
        tq = np.where(pos, rs * (1 - f1m) / skmm, 0.0).sum(1)
        f = np.cumsum(nd1 / tr)
        fm = np.concatenate([[0.0], f[:-1]])
        fb = (1 - fm) ** rho
        a = -fb[:, None, None] * t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
        idx = np.arange(ng)
        a[:, idx, idx] = fb[:, None] * t1 * (1 - t1 / tr[:, None])
        c = np.cumsum(a * (nd1 / (tr * (1 - fm)))[:, None, None], axis=0)
        s = np.where(pos, fb[:, None] * (d1 - nd1[:, None] * rs * (1 - f1m) / (skmm * tq[:, None])),
                     0.0).sum(0)
        # cause-of-interest part of the variance
        on1 = (nd1 > 0)[:, None] & pos
        t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / skm, 1.0)
        t5 = np.where((nd1 > 1)[:, None], 1 - (nd1 - 1)[:, None] / (tr[:, None] * skmm - 1), 1.0)
        t3 = np.where(on1, t5 * skmm * nd1[:, None] / (tr[:, None] * np.where(pos, rs, 1)), 0.0)
        B = a - t4[:, None, :] * c
        v = np.einsum("tik,tjk,tk->ij", B, B, t3)
        v2 = np.einsum("tik,tk,tk->ik", B, t4, t3)
        v3 = np.einsum("tk,tk->k", t4 * t4, t3)
        # competing-cause part
        on2 = (skm > 0) & (d2 > 0)
        t4b = np.where(on2, (1 - f)[:, None] / np.where(skm > 0, skm, 1), 0.0)
        t5b = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        t3b = np.where(on2, t5b * skmm**2 * d2 / np.where(pos, rs, 1) ** 2, 0.0)
        C = t4b[:, None, :] * c
        v += np.einsum("tik,tjk,tk->ij", C, C, t3b)
        v2 -= np.einsum("tik,tk,tk->ik", C, t4b, t3b)
        v3 += np.einsum("tk,tk->k", t4b * t4b, t3b)
    cf = c[-1]
    v += np.einsum("ik,jk,k->ij", cf, cf, v3) + cf @ v2.T + v2 @ cf.T
    return s[: ng - 1], v[: ng - 1, : ng - 1]


@dataclass(frozen=True, eq=False)
class CumincResult(Result):
    """Cumulative incidence of each competing cause per group, with Gray's K-sample test.

    Returned by :func:`cuminc`; the fields hold what ``cmprsk::cuminc`` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        The step functions: one row per group, cause and jump time, columns ``group, cause,
        time, est, var`` (cmprsk's estimate and its variance).
    groups : list
        The group levels (one level without ``group``).
    causes : list
        The causes reported.
    max_time : pandas.Series
        Last follow-up time per group (:meth:`at` is NaN beyond it, as ``timepoints``).
    gray_test : pandas.DataFrame or None
        Gray's test per cause (index ``cause``; columns ``stat, pval, df``); None with one group.
    group_name : str or None
        The grouping column's name.

    Notes
    -----
    R equivalent: a ``cmprsk::cuminc`` object, with ``cmprsk::timepoints`` as :meth:`at`
    (cmprsk 2.2-11).

    References
    ----------
    .. [1] Kalbfleisch, J. D., & Prentice, R. L. (2002). The Statistical Analysis of Failure
       Time Data (2nd ed.), ch. 8. Wiley.
    .. [2] Gray, R. J. (1988). A class of K-sample tests for comparing the cumulative incidence
       of a competing risk. Annals of Statistics, 16, 1141-1154.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "status": [1, 2, 0, 1, 1, 0, 2, 1, 0, 1]})   # 1 readmission, 2 death, 0 censored
    >>> ci = pt.survival.cuminc(d, time="time", status="status", group="arm")
    >>> ci.causes, ci.max_time.tolist()
    ([1, 2], [34.0, 40.0])
    >>> ci.gray_test["pval"].round(4).tolist()
    [0.8472, 0.9079]
    """

    table: pd.DataFrame
    groups: list
    causes: list
    max_time: pd.Series
    gray_test: pd.DataFrame | None
    group_name: str | None

    def plot(self, ax=None, **kwargs):
        """Cumulative incidence curves: one colour per group, one line style per cause.

        Draws :func:`peertrial.plot.cuminc_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.cuminc_plot`: ``causes``, ``ci_band``, ``level``,
            ``labels``, ``cause_labels``, ``xlabel``, ``ylabel``, ``title``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.cuminc_plot : what is drawn, with an example.
        """
        from peertrial.plot.survival import cuminc_plot

        return cuminc_plot(self, ax=ax, **kwargs)

    def at(self, times) -> pd.DataFrame:
        """Estimates and variances at ``times`` as ``cmprsk::timepoints`` (NaN beyond follow-up)."""
        times = np.sort(np.unique(np.atleast_1d(np.asarray(times, float))))
        rows = []
        for g in self.groups:
            tmax = self.max_time[g]
            for c in self.causes:
                cur = self.table[(self.table["group"] == g) & (self.table["cause"] == c)]
                t = cur["time"].to_numpy()
                i = np.searchsorted(t, times, side="right") - 1
                est = np.where(i >= 0, cur["est"].to_numpy()[np.maximum(i, 0)] if len(t) else 0.0, 0.0)
                var = np.where(i >= 0, cur["var"].to_numpy()[np.maximum(i, 0)] if len(t) else 0.0, 0.0)
                beyond = times > tmax
                est, var = np.where(beyond, np.nan, est), np.where(beyond, np.nan, var)
                rows += [(g, c, tt, e, v) for tt, e, v in zip(times, est, var)]
        return pd.DataFrame(rows, columns=["group", "cause", "time", "est", "var"])

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        last = self.at([self.max_time.min()])
        text = "Cumulative incidence (cmprsk variance)\n" + format_table(
            last.set_index(last["group"].astype(str) + " " + last["cause"].astype(str))
            .drop(columns=["group", "cause"]), digits=5)
        if self.gray_test is not None:
            text += "\n\nGray's test\n" + format_table(self.gray_test, digits=4)
        return text


def _no_censoring_hint(codes: np.ndarray, cencode, status: str) -> None:
    """Warn when no row carries the censoring code: a status coded as R's ``Surv`` (1 =
    censored, 2 = event, as in survival's ``lung``) read with ``cencode=0`` makes every
    censored row an event of "cause 1", silently (cmprsk does the same)."""
    if len(codes) and not np.any(codes == cencode):
        import warnings

        from peertrial._data import user_stacklevel
        from peertrial._warnings import PeertrialWarning

        found = sorted({float(c) for c in np.unique(codes)})
        warnings.warn(f"no row of {status!r} has the censoring code {_num(cencode)} (values found: "
                      f"{', '.join(str(_num(c)) for c in found[:6])}), so every row is read as an event; if one "
                      "of these codes means censored (e.g. 1 in survival's lung, where 2 = dead), pass "
                      "cencode= that code (command line: --cencode)", PeertrialWarning,
                      stacklevel=user_stacklevel())


def cuminc(data=None, time="time", status="status", group=None, strata=None, cencode=0,
           causes=None, rho: float = 0) -> CumincResult:
    """Cumulative incidence functions per group and cause, as ``cmprsk::cuminc``.

    ``status`` holds ``cencode`` for censoring and a cause code otherwise; ``causes``
    declares the allowed codes (values outside it raise). ``strata`` stratifies Gray's test.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    time : str
        Follow-up time column (default ``"time"``).
    status : str
        Column of the cause of the event (1, 2, ...) or ``cencode`` for censoring (default
        ``"status"``).
    group : str, optional
        Curves and Gray's test per level of this column.
    strata : str, optional
        Strata for Gray's test.
    cencode : int
        The censoring code (default 0).
    causes : list, optional
        The causes to report (default all).
    rho : float
        Weight of Gray's test (default 0).

    Returns
    -------
    CumincResult
        ``at(times)`` (estimates and variances), ``gray_test``, ``summary()``, ``to_frame()``.

    Notes
    -----
    R equivalent: ``cmprsk::cuminc`` and ``cmprsk::timepoints`` (cmprsk 2.2-11).

    References
    ----------
    .. [1] Gray, R. J. (1988). A class of K-sample tests for comparing the cumulative incidence
       of a competing risk. Annals of Statistics, 16, 1141-1154.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "age": [50, 61, 45, 38, 70, 52, 66, 41, 59, 48]})
    >>> d["status"] = [1, 2, 0, 1, 1, 0, 2, 1, 0, 1]   # 1 readmission, 2 competing event, 0 censored
    >>> ci = pt.survival.cuminc(d, time="time", status="status", group="arm")
    >>> ci.at([20])["est"].round(4).tolist()
    [0.4667, 0.0, 0.2, 0.2]
    """
    codes = None if causes is None else set(causes) | {cencode}
    sd = _input.prepare(data, time, status, status_codes=codes, status_name="status",
                        group=group, strata=strata)
    if causes is None:
        bad = (sd.status != cencode) & ((sd.status != np.round(sd.status)) | (sd.status < 0))
        if bad.any():
            from peertrial._data import row_labels
            raise ValueError(f"column {status!r}: cause codes must be non-negative whole numbers; "
                             f"found {sorted(set(sd.status[bad].tolist()))[:5]} at rows "
                             f"{row_labels(sd.index, bad)}")
    _no_censoring_hint(sd.status, cencode, status)
    failed = (sd.status != cencode).astype(float)
    if not failed.any():
        raise ValueError(f"column {status!r} is {_num(cencode)} (censored) in all {len(failed)} rows; "
                         "with no events there is no cumulative incidence to estimate "
                         "(cmprsk::cuminc fails too)")
    cause_levels = sorted(set(sd.status[failed > 0].tolist()))
    gcodes = sd.group if sd.group is not None else np.zeros(len(sd.time), np.int64)
    glevels = sd.group_levels if sd.group is not None else [1]
    parts = []
    max_time = {}
    for k, g in enumerate(glevels):
        m = gcodes == k
        max_time[g] = sd.time[m].max()
        for c in cause_levels:
            t, est, var = _cinc(sd.time[m], failed[m], (sd.status[m] == c).astype(float))
            parts.append(pd.DataFrame({"group": g, "cause": _num(c), "time": t, "est": est, "var": var}))
    table = pd.concat(parts, ignore_index=True)
    gray = None
    if sd.group is not None:
        ng = len(glevels)
        scodes = sd.strata if sd.strata is not None else np.zeros(len(sd.time), np.int64)
        rows = []
        for c in cause_levels:
            m = np.where(sd.status == c, 1, np.where(failed > 0, 2, 0))
            s = np.zeros(ng - 1)
            v = np.zeros((ng - 1, ng - 1))
            for st in np.unique(scodes):
                sel = scodes == st
                s_, v_ = _gray_stratum(sd.time[sel], m[sel], sd.group[sel], ng, rho)
                s += s_
                v += v_
            if np.linalg.matrix_rank(v) == ng - 1:
                stat = float(s @ np.linalg.solve(v, s))
            else:
                stat = -1.0
            rows.append((_num(c), stat, float(stats.chi2.sf(stat, ng - 1)) if stat >= 0 else 1.0, ng - 1))
        gray = pd.DataFrame(rows, columns=["cause", "stat", "pval", "df"]).set_index("cause")
    gname = group if isinstance(group, str) else None
    return CumincResult(table, glevels, [_num(c) for c in cause_levels], pd.Series(max_time), gray, gname)


def _num(c):
    return int(c) if float(c).is_integer() else c


# --------------------------------------------------------------------------- Fine-Gray
class _FGData:
    """Time-sorted data and index arrays for the subdistribution partial likelihood."""

    def __init__(self, time, status, X, cause, cencode):
        order = np.argsort(time, kind="stable")
        self.t = time[order]
        st = status[order]
        self.X = X[order]
        self.n, self.p = self.X.shape
        self.c1 = st == cause
        self.c0 = st == cencode
        self.c2 = ~self.c1 & ~self.c0
        ut, first, inv, cnt = np.unique(self.t, return_index=True, return_inverse=True, return_counts=True)
        self.ut, self.first, self.inv = ut, first, inv
        # KM of the censoring distribution, G(t-) for each row
        cens = np.bincount(inv, weights=self.c0.astype(float), minlength=len(ut))
        nrisk = (self.n - first).astype(float)
        G = np.cumprod(1 - cens / nrisk)
        Gm = np.concatenate([[1.0], G[:-1]])
        self.Gm_row = Gm[inv]
        self.nrisk_u, self.cens_u = nrisk, cens
        # cause-1 failure times
        d = np.bincount(inv, weights=self.c1.astype(float), minlength=len(ut))
        self.kt = np.flatnonzero(d > 0)  # indices into ut
        self.d = d[self.kt]
        self.Gk = Gm[self.kt]
        self.kfirst = first[self.kt]  # first sorted row with time >= t_k
        self.iu = np.triu_indices(self.p)

    def _sums(self, beta):
        X = self.X
        r = np.exp(X @ beta)
        M = np.concatenate([r[:, None], r[:, None] * X,
                            r[:, None] * X[:, self.iu[0]] * X[:, self.iu[1]]], axis=1)
        rev = np.zeros((self.n + 1, M.shape[1]))
        rev[:-1] = np.cumsum(M[::-1], axis=0)[::-1]
        A = rev[self.kfirst]  # T_j >= t_k
        M2 = np.where(self.c2[:, None], M / self.Gm_row[:, None], 0.0)
        fwd = np.zeros((self.n + 1, M.shape[1]))
        fwd[1:] = np.cumsum(M2, axis=0)
        B = fwd[self.kfirst]  # T_j < t_k, competing failures
        S = A + self.Gk[:, None] * B
        return r, S, M2, fwd

    def evaluate(self, beta):
        p = self.p
        r, S, _, _ = self._sums(beta)
        eta1 = (self.X[self.c1] @ beta).sum()
        S0 = S[:, 0]
        xbar = S[:, 1:1 + p] / S0[:, None]
        loglik = eta1 - self.d @ np.log(S0)
        u = self.X[self.c1].sum(0) - self.d @ xbar
        s2 = S[:, 1 + p:] / S0[:, None] - xbar[:, self.iu[0]] * xbar[:, self.iu[1]]
        up = self.d @ s2
        info = np.zeros((p, p))
        info[self.iu] = up
        info[self.iu[1], self.iu[0]] = up
        return float(loglik), u, info

    def baseline_jumps(self, beta):
        """d_k / S0(t_k): jumps of the baseline subdistribution hazard (crr's ``bfitj``)."""
        _, S, _, _ = self._sums(beta)
        return self.ut[self.kt], self.d / S[:, 0]

    def loglik(self, beta):
        r, S, _, _ = self._sums(beta)
        return float((self.X[self.c1] @ beta).sum() - self.d @ np.log(S[:, 0]))

    def eta(self, beta):
        """Per-subject influence terms (crr's crrvv): score part plus censoring part."""
        p, X = self.p, self.X
        r, S, _, _ = self._sums(beta)
        S0 = S[:, 0]
        xbar = S[:, 1:1 + p] / S0[:, None]
        h = self.d / S0  # d Lambda at each cause-1 time (x 1)
        hx = h[:, None] * xbar
        # at risk (T_i >= t_k): sum_{t_k <= T_i}
        kt_time = self.ut[self.kt]
        upto = np.searchsorted(kt_time, self.t, side="right")  # number of t_k <= T_i
        cH = np.concatenate([[0.0], np.cumsum(h)])
        cHx = np.vstack([np.zeros((1, p)), np.cumsum(hx, axis=0)])
        st1 = -r[:, None] * (X * cH[upto][:, None] - cHx[upto])
        # competing failures keep weight G(t_k-)/G(T_i-) for t_k > T_i
        gh, ghx = self.Gk * h, self.Gk[:, None] * hx
        rH = np.concatenate([np.cumsum(gh[::-1])[::-1], [0.0]])
        rHx = np.vstack([np.cumsum(ghx[::-1], axis=0)[::-1], np.zeros((1, p))])
        c2 = self.c2
        w2 = r[c2] / self.Gm_row[c2]
        st1[c2] -= w2[:, None] * (X[c2] * rH[upto[c2]][:, None] - rHx[upto[c2]])
        # dN part for cause-1 failures
        kidx = np.searchsorted(kt_time, self.t[self.c1])
        st1[self.c1] += X[self.c1] - xbar[kidx]
        # censoring part psi: q(t) at each distinct time with censoring
        M2r = np.where(c2[:, None], np.concatenate([r[:, None], r[:, None] * X], 1) / self.Gm_row[:, None], 0.0)
        fwd = np.vstack([np.zeros((1, p + 1)), np.cumsum(M2r, axis=0)])
        ut = self.ut
        cidx = np.flatnonzero(self.cens_u > 0)
        C = fwd[self.first[cidx]]  # competing failures with T < t
        from_k = np.searchsorted(kt_time, ut[cidx], side="left")  # t_k >= t
        g0 = np.concatenate([np.cumsum(gh[::-1])[::-1], [0.0]])
        g1 = np.vstack([np.cumsum(ghx[::-1], axis=0)[::-1], np.zeros((1, p))])
        qu = C[:, 1:] * g0[from_k][:, None] - C[:, :1] * g1[from_k]
        Y = self.nrisk_u[cidx]
        inc = -qu * (self.cens_u[cidx] / Y**2)[:, None]
        cum = np.zeros((len(ut), p))
        cum[cidx] = inc
        cum = np.cumsum(cum, axis=0)
        psi = cum[self.inv]
        qrow = np.zeros((len(ut), p))
        qrow[cidx] = qu / Y[:, None]
        psi[self.c0] += qrow[self.inv[self.c0]]
        return st1 + psi



class _FGDense:
    """The subdistribution partial likelihood with covariates that change with time (crr's
    ``cov2 * tf(t)``) and case weights, over the (rows x cause-failure times) risk-set matrix.

    Columns of ``Z`` are [cov1, cov2]; at failure time t_k a row's covariate vector is Z * s_k with
    s_k = [1, ..., 1, tf(t_k)]. A row's weight at t_k is its case weight times 1 while T >= t_k
    and G(t_k-)/G(T-) after a competing failure at T (0 otherwise). ``rule="crr"`` takes G as
    crr does (Kaplan-Meier of the censorings, failures at a censoring time still at risk);
    ``rule="finegray"`` as survival's ``finegray()`` (failures at a tied time leave first).
    Costs O(n K p^2) time and O(n K p) memory (K the number of distinct failure times).
    """

    MAX_CELLS = 30_000_000

    def __init__(self, time, status, Z, cause, cencode, tfs=None, n_tf=0, weights=None, rule="crr"):
        order = np.argsort(time, kind="stable")
        self.order = order
        self.t = time[order]
        st = status[order]
        self.Z = Z[order]
        self.n, self.p = self.Z.shape
        self.w = np.ones(self.n) if weights is None else np.asarray(weights, float)[order]
        self.c1 = st == cause
        self.c0 = st == cencode
        self.c2 = ~self.c1 & ~self.c0
        ut, first, inv = np.unique(self.t, return_index=True, return_inverse=True)
        self.ut, self.first, self.inv = ut, first, inv
        cens = np.bincount(inv, weights=self.c0.astype(float), minlength=len(ut))
        nrisk = (self.n - first).astype(float)
        if rule == "finegray":  # failures at a tied time are not at risk of the censoring there
            nrisk_c = nrisk - np.bincount(inv, weights=(~self.c0).astype(float), minlength=len(ut))
        else:
            nrisk_c = nrisk
        with np.errstate(divide="ignore", invalid="ignore"):
            G = np.cumprod(np.where(cens > 0, 1 - cens / np.where(nrisk_c > 0, nrisk_c, 1), 1.0))
        Gm = np.concatenate([[1.0], G[:-1]])
        self.Gm_row = Gm[inv]
        self.nrisk_u, self.cens_u = nrisk, cens
        d = np.bincount(inv, weights=self.c1.astype(float), minlength=len(ut))
        self.kt = np.flatnonzero(d > 0)
        self.K = len(self.kt)
        if self.n * self.K * max(self.p, 1) > self.MAX_CELLS:
            raise ValueError(f"fine_gray with time-varying covariates or weights works on the rows x failure-times "
                             f"matrix ({self.n} x {self.K}); this data is too large for it")
        self.tk = ut[self.kt]
        self.Gk = Gm[self.kt]
        self.d = d[self.kt]
        self.dw = np.bincount(inv[self.c1], weights=self.w[self.c1], minlength=len(ut))[self.kt]
        self.k_of_c1 = np.searchsorted(self.tk, self.t[self.c1])
        s = np.ones((self.K, self.p))
        if n_tf:
            s[:, self.p - n_tf:] = tfs
        self.s = s
        at_risk = self.t[:, None] >= self.tk[None, :]
        comp = self.c2[:, None] & ~at_risk
        self.W = self.w[:, None] * np.where(at_risk, 1.0, np.where(comp, self.Gk[None, :] / self.Gm_row[:, None], 0.0))
        self.ZZ = np.einsum("ni,nj->nij", self.Z, self.Z).reshape(self.n, -1)

    def _sums(self, b):
        E = self.Z @ (self.s * b).T  # n x K linear predictors
        R = np.exp(E)
        A = self.W * R
        S0 = A.sum(0)
        S1 = (A.T @ self.Z) * self.s
        return R, A, S0, S1

    def loglik(self, b):
        _, _, S0, _ = self._sums(b)
        x1 = self.Z[self.c1] * self.s[self.k_of_c1]
        return float(self.w[self.c1] @ (x1 @ b) - self.dw @ np.log(S0))

    def evaluate(self, b):
        p = self.p
        R, A, S0, S1 = self._sums(b)
        x1 = self.Z[self.c1] * self.s[self.k_of_c1]
        xbar = S1 / S0[:, None]
        loglik = float(self.w[self.c1] @ (x1 @ b) - self.dw @ np.log(S0))
        u = self.w[self.c1] @ x1 - self.dw @ xbar
        S2 = (A.T @ self.ZZ).reshape(self.K, p, p) * self.s[:, :, None] * self.s[:, None, :]
        info = np.einsum("k,kij->ij", self.dw / S0, S2) - np.einsum("k,ki,kj->ij", self.dw, xbar, xbar)
        return loglik, u, info

    def baseline_jumps(self, b):
        _, _, S0, _ = self._sums(b)
        return self.tk, self.d / S0

    def scores(self, b):
        """Per-row score terms sum_k of (x_i(t_k) - xbar_k) dM_ik, case-weighted (time-sorted rows)."""
        R, A, S0, S1 = self._sums(b)
        xbar = S1 / S0[:, None]
        h = self.dw / S0
        Ah = A * h
        st = -(self.Z * (Ah @ self.s) - Ah @ xbar)
        k = self.k_of_c1
        st[self.c1] += self.w[self.c1, None] * (self.Z[self.c1] * self.s[k] - xbar[k])
        return st, R, xbar, h

    def eta(self, b):
        """crr's influence terms (crrvv): the score terms plus the censoring-distribution part."""
        st1, R, xbar, h = self.scores(b)
        p = self.p
        Rc = np.where(self.c2[:, None], R / self.Gm_row[:, None], 0.0)  # n x K
        cum0 = np.vstack([np.zeros((1, self.K)), np.cumsum(Rc, axis=0)])
        cumZ = np.concatenate([np.zeros((1, self.K, p)), np.cumsum(Rc[:, :, None] * self.Z[:, None, :], axis=0)])
        cidx = np.flatnonzero(self.cens_u > 0)
        rows = self.first[cidx]  # competing failures with T < u: the rows before the first at u
        C0, CZ = cum0[rows], cumZ[rows]  # U x K, U x K x p
        live = (self.tk[None, :] >= self.ut[cidx][:, None]) * (self.Gk * h)[None, :]
        qu = np.einsum("uk,ukp->up", live, CZ * self.s[None, :, :]) - (live * C0) @ xbar
        Y = self.nrisk_u[cidx]
        cum = np.zeros((len(self.ut), p))
        cum[cidx] = -qu * (self.cens_u[cidx] / Y**2)[:, None]
        psi = np.cumsum(cum, axis=0)[self.inv]
        qrow = np.zeros((len(self.ut), p))
        qrow[cidx] = qu / Y[:, None]
        psi[self.c0] += qrow[self.inv[self.c0]]
        return st1 + psi


@dataclass(frozen=True, eq=False)
class FineGrayResult(Result):
    """Fitted Fine–Gray model: log subdistribution hazard ratios of one cause, SEs and tests.

    Returned by :func:`fine_gray`. Coefficient attributes are Series indexed by covariate
    (``cov2`` terms named ``"col*tf1"``, ...); an aliased coefficient is NaN.

    Attributes
    ----------
    coef, se, zval, pval : pandas.Series
        Log subdistribution hazard ratios, their SEs (crr's sandwich with the censoring term,
        or the robust SE with ``weights=``), z statistics and two-sided p-values.
    shr, shr_ci_lb, shr_ci_ub : pandas.Series
        Subdistribution hazard ratios exp(coef) and their limits at ``level``.
    var : pandas.DataFrame
        Variance matrix of ``coef`` (crr's ``var``).
    loglik, loglik_null : float
        Log pseudo-likelihood at the fit and at beta = 0 (crr's ``loglik``, ``loglik.null``).
    converged : bool
        Whether the Newton iterations met ``gtol`` within ``maxiter``.
    iter : int
        Iterations used.
    n : int
        Number of rows used.
    cause : object
        The status code of the event of interest.
    baseline : pandas.DataFrame
        Jumps of the baseline subdistribution hazard (covariates 0): ``time, jump`` (crr's
        ``uftime`` and ``bfitj``), used by :meth:`predict`.
    naive_se : pandas.Series or None
        With ``weights=``, coxph's model-based SE; None otherwise.
    variance : str
        ``"crr"`` (with the term for the estimated censoring distribution) or ``"robust"``
        (``finegray`` + ``coxph``, cluster = row).

    Notes
    -----
    R equivalent: a ``cmprsk::crr`` fit (cmprsk 2.2-11), :meth:`predict` as ``predict.crr``;
    with ``weights``, ``survival::finegray`` + ``survival::coxph`` (survival 3.5-3).

    References
    ----------
    .. [1] Fine, J. P., & Gray, R. J. (1999). A proportional hazards model for the
       subdistribution of a competing risk. Journal of the American Statistical Association,
       94, 496-509.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "status": [1, 2, 0, 1, 1, 0, 2, 1, 0, 1]})   # 1 readmission, 2 death, 0 censored
    >>> fg = pt.survival.fine_gray(d, time="time", status="status", covariates=["arm"], cause=1)
    >>> fg.shr.round(4).tolist(), fg.converged
    ([1.0672], True)
    >>> fg.predict(pd.DataFrame({"arm": [0, 1]}), times=[20]).round(4).values.tolist()
    [[0.2911, 0.3073]]
    """

    coef: pd.Series
    se: pd.Series
    zval: pd.Series
    pval: pd.Series
    shr: pd.Series
    shr_ci_lb: pd.Series
    shr_ci_ub: pd.Series
    var: pd.DataFrame
    loglik: float
    loglik_null: float
    converged: bool
    iter: int
    n: int
    cause: object
    baseline: pd.DataFrame  # time, jump: baseline subdistribution hazard jumps (covariates 0)
    naive_se: pd.Series | None = None  # with weights=: the model-based SE (coxph's naive.var)
    variance: str = "crr"  # "crr" (with the censoring term) or "robust" (finegray + coxph, cluster = row)
    _tfs: np.ndarray | None = field(default=None, repr=False)  # tf(t_k) of the cov2 columns at baseline times
    _ncov2: int = field(default=0, repr=False)

    def predict(self, newdata: pd.DataFrame, times=None) -> pd.DataFrame:
        """Cumulative incidence 1 - exp(-exp(x'b) sum_{t_k <= t} dLambda_k) as ``predict.crr``.

        Indexed by ``times`` (default: the distinct times of events of the cause), one
        column per row of ``newdata``.
        """
        coef = self.coef.dropna()  # aliased (NaN) columns play no part
        names = list(coef.index)
        cols = [c.split("*tf")[0] if j >= len(names) - self._ncov2 else c for j, c in enumerate(names)]
        missing = [c for c in dict.fromkeys(cols) if c not in newdata.columns]
        if missing:
            raise ValueError(f"newdata lacks covariate column(s) {missing}")
        t = self.baseline["time"].to_numpy()
        times = t if times is None else np.atleast_1d(np.asarray(times, float))
        jump = self.baseline["jump"].to_numpy()
        z = np.column_stack([newdata[c].to_numpy(float) for c in cols])
        if self._ncov2:  # cov2 * tf(t): the linear predictor changes at each baseline time (predict.crr)
            sc = np.ones((len(t), len(cols)))
            sc[:, len(cols) - self._ncov2:] = self._tfs
            lp = z @ (sc * coef.to_numpy()).T  # rows x times
            cumr = np.hstack([np.zeros((len(z), 1)), np.cumsum(jump * np.exp(lp), axis=1)])
            H = cumr[:, np.searchsorted(t, times, side="right")].T
            cif = 1 - np.exp(-H)
            return pd.DataFrame(cif, index=pd.Index(times, name="time"), columns=newdata.index)
        lp = z @ coef.to_numpy()
        cum = np.concatenate([[0.0], np.cumsum(jump)])
        H = cum[np.searchsorted(t, times, side="right")]
        cif = 1 - np.exp(-np.outer(H, np.exp(lp)))
        return pd.DataFrame(cif, index=pd.Index(times, name="time"), columns=newdata.index)

    def _coef_table(self) -> pd.DataFrame:
        return pd.DataFrame({"coef": self.coef, "shr": self.shr, "se": self.se, "zval": self.zval,
                             "pval": self.pval, "shr_ci_lb": self.shr_ci_lb, "shr_ci_ub": self.shr_ci_ub})

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: ``estimate`` (log subdistribution hazard ratio), ``se``,
        ``statistic`` (z), ``pval``, ``ci_lb``, ``ci_ub`` (log scale), then ``shr``,
        ``shr_ci_lb``, ``shr_ci_ub``."""
        with np.errstate(divide="ignore"):
            lb, ub = np.log(self.shr_ci_lb.astype(float)), np.log(self.shr_ci_ub.astype(float))
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.zval, "pval": self.pval,
                             "ci_lb": lb, "ci_ub": ub, "shr": self.shr, "shr_ci_lb": self.shr_ci_lb,
                             "shr_ci_ub": self.shr_ci_ub})

    def summary(self) -> str:
        lr = 2 * (self.loglik - self.loglik_null)
        return (f"Fine-Gray competing-risks regression (cause {self.cause}), n = {self.n}\n"
                f"{format_table(self._coef_table())}\n"
                f"Pseudo likelihood ratio test = {lr:.3f} on {int(self.coef.notna().sum())} df, "
                f"p = {format_pval(stats.chi2.sf(lr, int(self.coef.notna().sum())))}"
                + ("" if self.converged else "\n(did not converge)"))


def fine_gray(data=None, time="time", status="status", covariates=(), cause=1, cencode=0,
              causes=None, gtol: float = 1e-6, maxiter: int = 10,
              level: float = 0.95, *, conf_level=None, factors=(), cov2=None, tf=None,
              weights=None) -> FineGrayResult:
    """Fine–Gray subdistribution hazards regression, as ``cmprsk::crr(ftime, fstatus, cov1,
    failcode = cause, cencode = cencode)`` with one censoring group.

    ``level``: confidence level of the subdistribution hazard-ratio limits, 0.95 or 95
    alike (``conf_level`` is its deprecated alias).

    ``covariates``: a list of columns or an R-style formula (``"arm + C(site)"``), coded by
    the one design builder (:mod:`peertrial._design`) as ``model.matrix(~ ...)[, -1]`` would
    give ``cov1``. An aliased column (a linear combination of the others) is reported as NaN
    with a warning instead of making the information matrix singular.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    time, status : str
        Follow-up time and status column (``cause`` = the event of interest, ``cencode`` =
        censored, any other value a competing event); defaults ``"time"``, ``"status"``.
    covariates : list of str or str
        Fixed covariates (crr's ``cov1``).
    cause, cencode : int
        Status codes of the event of interest (default 1) and of censoring (default 0).
    causes : list, optional
        The allowed status codes besides ``cencode``; a status outside them raises
        ``ValueError`` (default: any value allowed).
    factors : sequence of str
        Columns to treat as factors (as ``C(x)`` in a formula).
    cov2 : list of str, optional
        Covariates whose effect changes with time, as crr's ``cov2``: column j enters as
        ``cov2[j] * tf(t)[:, j]`` with its own coefficient, named ``"col*tf1"``, ``"col*tf2"``...
    tf : callable, optional
        ``tf(times)`` -> array of shape (len(times),) or (len(times), len(cov2)), as crr's ``tf``
        (e.g. ``lambda t: np.log(t)``); evaluated at the distinct failure times of ``cause``.
    weights : str or array-like, optional
        Case weights. crr has none: the fit is then survival's
        ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, cluster = id, ties = "breslow")``
        on ``finegray(Surv(time, status) ~ ., weights = w)`` data, i.e. the weighted
        subdistribution likelihood with G the (unweighted) censoring Kaplan-Meier taking
        failures before censorings at tied times; ``se`` is that robust SE (it has no term for
        the estimated censoring distribution) and ``naive_se`` coxph's model-based SE. Not
        combined with ``cov2``.
    gtol, maxiter : float, int
        crr's convergence tolerance and iteration cap (defaults 1e-6 and 10, as crr).
    level : float
        Confidence level, 0.95 or 95 alike.

    Returns
    -------
    FineGrayResult
        ``coef``, ``se``, ``zval``, ``pval`` (Series by covariate) of the subdistribution hazard.

    Notes
    -----
    R equivalent: ``cmprsk::crr`` (cmprsk 2.2-11); with ``weights``, ``survival::finegray`` +
    ``survival::coxph`` (survival 3.5). With ``cov2`` or ``weights`` the risk sets are held as a
    rows x failure-times matrix (O(n K) memory).

    References
    ----------
    .. [1] Fine, J. P., & Gray, R. J. (1999). A proportional hazards model for the
       subdistribution of a competing risk. Journal of the American Statistical Association,
       94, 496-509.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "age": [50, 61, 45, 38, 70, 52, 66, 41, 59, 48]})
    >>> d["status"] = [1, 2, 0, 1, 1, 0, 2, 1, 0, 1]   # 1 readmission, 2 competing event, 0 censored
    >>> fg = pt.survival.fine_gray(d, time="time", status="status", covariates=["arm"], cause=1)
    >>> fg.coef.round(4).tolist()
    [0.065]
    """
    level = confidence_level(level, conf_level=conf_level)
    import warnings

    from peertrial import _design as _builder
    from peertrial._warnings import ConvergenceWarning

    if isinstance(covariates, str) and not covariates.strip().lstrip("~").strip():
        covariates = ()
    cov2 = [cov2] if isinstance(cov2, str) else (None if cov2 is None else list(cov2))
    if (cov2 is None) != (tf is None) or (cov2 is not None and not cov2):
        raise ValueError("cov2= and tf= go together (as crr): cov2 names the columns, tf(times) gives their "
                         "multipliers at each failure time")
    if tf is not None and not callable(tf):
        raise ValueError("tf= must be a function of the failure times, e.g. tf=lambda t: np.log(t)")
    if cov2 is not None and weights is not None:
        raise ValueError("weights= with cov2= is not supported (crr has no case weights; finegray + coxph "
                         "would need tt()); use one of them")
    no_cov1 = not isinstance(covariates, str) and not list(covariates)
    if no_cov1 and cov2 is None:
        raise ValueError("fine_gray needs at least one covariate")
    codes = None if causes is None else set(causes) | {cencode}
    sd = _input.prepare(data, time, status, status_codes=codes, status_name="status",
                        covariates=None if no_cov1 else covariates, factors=factors, weights=weights)
    if not np.any(sd.status == cause):
        raise ValueError(f"no events of cause {cause!r} in column {status!r}")
    _no_censoring_hint(sd.status, cencode, status)
    X = sd.X if not no_cov1 else np.zeros((len(sd.time), 0))
    all_names = [] if no_cov1 else list(sd.covariates)
    for j, c in enumerate(all_names):
        if np.all(X[:, j] == X[0, j]):
            raise ValueError(f"covariate column {c!r} is constant in all {len(X)} rows")
    kept = np.ones(0, bool)
    if all_names:
        kept = _builder.drop_aliased(np.column_stack([np.ones(len(X)), X]), ["(Intercept)", *all_names],
                                     what="fine_gray", stacklevel=3)[1:]
    tfs = None
    if cov2 is not None:
        from peertrial import _data as _pdata

        frame = _pdata.as_frame(data)
        _pdata.require_columns(frame, cov2)
        Z2 = np.column_stack([_pdata.numeric(frame.loc[sd.index, c], c) for c in cov2])
        bad = ~np.isfinite(Z2).all(axis=1)
        if bad.any():
            raise ValueError(f"cov2 column(s) {cov2} missing or infinite at rows {_pdata.row_labels(sd.index, bad)}; "
                             "drop those rows first")
        tk = np.unique(sd.time[sd.status == cause])
        try:
            tfs = np.asarray(tf(tk.copy()), float)
        except Exception as exc:  # the user's function failed: say where
            raise ValueError(f"tf(times) failed on the {len(tk)} failure times: {exc}") from exc
        tfs = tfs.reshape(len(tk), -1) if tfs.ndim == 1 else tfs
        if tfs.shape != (len(tk), len(cov2)) or not np.isfinite(tfs).all():
            raise ValueError(f"tf(times) must return {len(tk)} finite values per cov2 column (shape ({len(tk)},) or "
                             f"({len(tk)}, {len(cov2)})), got shape {tfs.shape}")
        X = np.column_stack([X, Z2])
        kept = np.concatenate([kept, np.ones(len(cov2), bool)])
        all_names = all_names + [f"{c}*tf{j + 1}" for j, c in enumerate(cov2)]
    covariates = [c for c, k in zip(all_names, kept) if k]
    if cov2 is not None or sd.weights is not None:
        fg = _FGDense(sd.time, sd.status, X[:, kept], cause, cencode, tfs=tfs, n_tf=0 if cov2 is None else len(cov2),
                      weights=sd.weights, rule="crr" if sd.weights is None else "finegray")
    else:
        fg = _FGData(sd.time, sd.status, X[:, kept], cause, cencode)
    p = len(covariates)
    b = np.zeros(p)
    converged = False
    it = 0
    for it in range(maxiter + 1):
        ll, u, info = fg.evaluate(b)
        f, s = -ll, -u
        if np.max(np.abs(s) * np.maximum(np.abs(b), 1)) < max(abs(f), 1) * gtol:
            converged = True
            break
        if it == maxiter:
            break
        sc = _solve_information(info, u, fg, it)
        bn = b + sc
        fbn = -fg.loglik(bn)
        i = 0
        while not np.isfinite(fbn) or fbn > f + 1e-4 * np.sum(sc * s):
            i += 1
            sc = sc * 0.5
            bn = b + sc
            fbn = -fg.loglik(bn)
            if i > 20:
                break
        if i > 20:
            break
        b = bn
    if not converged:
        warnings.warn("crr did not converge", ConvergenceWarning, stacklevel=2)
    ll, u, info = fg.evaluate(b)
    hinv = _solve_information(info, np.eye(p), fg, it)
    naive = None
    if sd.weights is not None:  # coxph(weights = fgwt, cluster = id) on finegray's rows: robust, no censoring term
        eta = fg.scores(b)[0]
        naive = np.sqrt(np.diag(hinv))
    else:
        eta = fg.eta(b)
    var = hinv @ (eta.T @ eta) @ hinv.T
    se = np.sqrt(np.diag(var))
    z = stats.norm.ppf(1 - (1 - level) / 2)
    idx = pd.Index(all_names)

    def ser(v):  # NaN for aliased columns (R's NA)
        out = np.full(len(all_names), np.nan)
        out[kept] = np.asarray(v, float)
        return pd.Series(out, index=idx)

    full_var = np.full((len(all_names), len(all_names)), np.nan)
    full_var[np.ix_(kept, kept)] = var
    return FineGrayResult(ser(b), ser(se), ser(b / se), ser(2 * stats.norm.sf(np.abs(b / se))),
                          ser(np.exp(b)), ser(np.exp(b - z * se)), ser(np.exp(b + z * se)),
                          pd.DataFrame(full_var, index=idx, columns=idx), float(ll), fg.loglik(np.zeros(p)),
                          converged, it, len(sd.time), cause,
                          pd.DataFrame(dict(zip(("time", "jump"), fg.baseline_jumps(b)))),
                          naive_se=None if naive is None else ser(naive),
                          variance="crr" if naive is None else "robust", _tfs=tfs,
                          _ncov2=0 if cov2 is None else len(cov2))


def _solve_information(info, rhs, fg, it):
    """info^-1 rhs, or a ValueError when the information matrix is (numerically) singular."""
    ok = np.all(np.isfinite(info))
    if ok:
        ev = np.linalg.eigvalsh(info)
        ok = ev.min() > 1e-10 * max(ev.max(), 1e-300)
    if not ok:
        raise ValueError(f"the Fine-Gray information matrix is singular at iteration {it} "
                         f"({int(fg.d.sum())} events of the cause in {fg.n} rows): too few events or "
                         "covariates constant among those at risk; the model is not estimable")
    return np.linalg.solve(info, rhs)


def cause_specific_cox(data=None, time="time", status="status", covariates=(), cause=1,
                       cencode=0, causes=None, level: float = 0.95, *, conf_level=None, **kwargs):
    """Cause-specific hazard ratios: a Cox model of one cause, other causes and censoring censored.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    time : str
        Follow-up time column (default ``"time"``).
    status : str
        Status column (default ``"status"``): ``cause`` for the event of interest, ``cencode``
        for censoring, any other code a competing event (censored here).
    covariates : list of str or str
        Columns, or an R-style right-hand side such as ``"arm + C(site)"`` (as :func:`cox`).
    cause : scalar
        Status code of the event of interest (default 1).
    cencode : scalar
        Status code of censoring (default 0).
    causes : list, optional
        The allowed cause codes; a status outside ``causes`` and ``cencode`` raises
        ``ValueError`` (default: any value allowed).
    level : float
        Confidence level, 0.95 or 95 alike (default 0.95); ``conf_level`` is its deprecated alias.
    **kwargs
        Passed to :func:`cox` (``ties``, ``strata``, ``cluster``, ``weights``, ``entry``,
        ``factors``, ...).

    Returns
    -------
    CoxResult
        The Cox fit of the cause-specific hazard (``hr``, ``hr_ci_lb``, ``hr_ci_ub``, ...).

    Raises
    ------
    ValueError
        When no row has ``status == cause`` (the model is not estimable).

    Notes
    -----
    R equivalent: ``survival::coxph(Surv(time, status == cause) ~ covariates)`` (survival 3.5-3).
    The cause-specific hazard ratio answers a different question than the Fine–Gray
    subdistribution hazard ratio (:func:`fine_gray`): the effect on the rate of the cause
    among those still free of any event.

    References
    ----------
    .. [1] Prentice, R. L., Kalbfleisch, J. D., Peterson, A. V., Flournoy, N., Farewell, V. T.,
       & Breslow, N. E. (1978). The analysis of failure times in the presence of competing
       risks. Biometrics, 34, 541-554.
    .. [2] Putter, H., Fiocco, M., & Geskus, R. B. (2007). Tutorial in biostatistics: competing
       risks and multi-state models. Statistics in Medicine, 26, 2389-2430.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "status": [1, 2, 0, 1, 1, 0, 2, 1, 0, 1]})   # 1 readmission, 2 death, 0 censored
    >>> cs = pt.survival.cause_specific_cox(d, time="time", status="status", covariates=["arm"], cause=1)
    >>> cs.hr.round(4).tolist(), cs.nevent
    ([0.8431], 5)
    """
    level = confidence_level(level, conf_level=conf_level)
    codes = None if causes is None else set(causes) | {cencode}
    if isinstance(data, pd.DataFrame):
        from peertrial._data import unique_index

        unique_index(data)
    frame = _input.prepare(data, time, status, status_codes=codes, status_name="status")
    event = (frame.status == cause).astype(float)
    if not event.any():
        raise ValueError(f"no events of cause {cause!r} in column {status!r} ({len(event)} rows); "
                         "the cause-specific Cox model is not estimable")
    if data is None:
        raise ValueError("cause_specific_cox needs data (a DataFrame)")
    from peertrial import _data
    d = _data.as_frame(data)
    d = d.loc[frame.index].assign(__cs_event=event)
    return cox(d, time=time, event="__cs_event", covariates=covariates, level=level, **kwargs)
