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

from dataclasses import dataclass

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
    """Cumulative incidence curves (``table``: group, cause, time, est, var) and Gray's test."""

    table: pd.DataFrame
    groups: list
    causes: list
    max_time: pd.Series
    gray_test: pd.DataFrame | None
    group_name: str | None

    def plot(self, ax=None, **kwargs):
        """Cumulative incidence curves: one colour per group, one line style per cause.

        Draws :func:`peertrial.plot.cuminc_plot` (``kwargs`` go to it). ``ax``: a matplotlib Axes
        to draw into; by default a new figure, shown once in Jupyter. Returns the Figure.
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
        Follow-up time.
    status : str
        Cause of the event (1, 2, ...) or ``cencode`` for censoring.
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


@dataclass(frozen=True, eq=False)
class FineGrayResult(Result):
    """Fine–Gray model: ``coef``, ``se``, ``zval``, ``pval`` (Series), subdistribution HRs."""

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

    def predict(self, newdata: pd.DataFrame, times=None) -> pd.DataFrame:
        """Cumulative incidence 1 - exp(-exp(x'b) sum_{t_k <= t} dLambda_k) as ``predict.crr``.

        Indexed by ``times`` (default: the distinct times of events of the cause), one
        column per row of ``newdata``.
        """
        coef = self.coef.dropna()  # aliased (NaN) columns play no part
        names = list(coef.index)
        missing = [c for c in names if c not in newdata.columns]
        if missing:
            raise ValueError(f"newdata lacks covariate column(s) {missing}")
        lp = newdata[names].to_numpy(float) @ coef.to_numpy()
        t = self.baseline["time"].to_numpy()
        cum = np.concatenate([[0.0], np.cumsum(self.baseline["jump"].to_numpy())])
        times = t if times is None else np.atleast_1d(np.asarray(times, float))
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
              level: float = 0.95, *, conf_level=None, factors=()) -> FineGrayResult:
    """Fine–Gray subdistribution hazards regression, as ``cmprsk::crr(ftime, fstatus, cov1,
    failcode = cause, cencode = cencode)`` with one censoring group.

    ``level``: confidence level of the subdistribution hazard-ratio limits, 0.95 or 95
    alike (``conf_level`` is its deprecated alias).

    ``covariates``: a list of columns or an R-style formula (``"arm + C(site)"``), coded by
    the one design builder (:mod:`peertrial._design`) as ``model.matrix(~ ...)[, -1]`` would
    give ``cov1``. An aliased column (a linear combination of the others) is reported as NaN
    with a warning instead of making the information matrix singular.

    Returns
    -------
    FineGrayResult
        ``coef``, ``se``, ``zval``, ``pval`` (Series by covariate) of the subdistribution hazard.

    Notes
    -----
    R equivalent: ``cmprsk::crr`` (cmprsk 2.2-11).

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
    if not isinstance(covariates, str) and not list(covariates):
        raise ValueError("fine_gray needs at least one covariate")
    codes = None if causes is None else set(causes) | {cencode}
    sd = _input.prepare(data, time, status, status_codes=codes, status_name="status",
                        covariates=covariates, factors=factors)
    if not np.any(sd.status == cause):
        raise ValueError(f"no events of cause {cause!r} in column {status!r}")
    all_names = list(sd.covariates)
    for j, c in enumerate(all_names):
        if np.all(sd.X[:, j] == sd.X[0, j]):
            raise ValueError(f"covariate column {c!r} is constant in all {len(sd.X)} rows")
    kept = _builder.drop_aliased(np.column_stack([np.ones(len(sd.X)), sd.X]), ["(Intercept)", *all_names],
                                 what="fine_gray", stacklevel=3)[1:]
    covariates = [c for c, k in zip(all_names, kept) if k]
    fg = _FGData(sd.time, sd.status, sd.X[:, kept], cause, cencode)
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
    eta = fg.eta(b)
    hinv = _solve_information(info, np.eye(p), fg, it)
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
                          pd.DataFrame(dict(zip(("time", "jump"), fg.baseline_jumps(b)))))


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
    """Cause-specific Cox model: events of ``cause``; censoring and other causes censored.

    Equivalent to ``coxph(Surv(time, status == cause) ~ covariates)``; other keyword
    arguments go to :func:`peertrial.survival.cox`. ``level``: confidence level, 0.95 or
    95 alike (``conf_level`` is its deprecated alias).
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
