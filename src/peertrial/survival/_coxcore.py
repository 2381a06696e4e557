"""Vectorised Cox partial likelihood (Efron/Breslow ties, strata, weights, late entry).

Risk-set sums are sorted cumulative sums: with rows sorted by (stratum, stop time), the
sum over {stop >= t, same stratum} is a difference of one reverse cumulative sum, and
late entry subtracts the same over {entry >= t}. One Newton step costs O(n p^2) with no
Python loop over times. Tied events with d deaths at t (Efron) use denominators
S0 - (k/d) E0, k = 0..d-1, where E0 sums the risk of the tied deaths; each term carries
the mean case weight of the deaths (Therneau & Grambsch 2000, sec. 3.3; R's coxfit6).
"""

from __future__ import annotations

import numpy as np


class CoxData:
    """Sorted design and the index arrays that turn cumulative sums into risk-set sums."""

    def __init__(self, stop, event, X, strata=None, weights=None, entry=None, efron=True):
        n, p = X.shape
        self.n, self.p = n, p
        self.stop = np.asarray(stop, float)
        self.event = np.asarray(event, float) > 0
        self.strata = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
        self.w = np.ones(n) if weights is None else np.asarray(weights, float)
        self.entry = None if entry is None else np.asarray(entry, float)
        self.center = X.mean(0)
        self.X = X - self.center
        self.efron = efron
        self.iu = np.triu_indices(p)
        grid = np.unique(self.stop if entry is None else np.concatenate([self.stop, self.entry]))
        span = len(grid) + 2
        self.key_stop = self.strata * span + np.searchsorted(grid, self.stop) + 1
        if entry is None:
            self.key_start = self.strata * span
        else:
            self.key_start = self.strata * span + np.searchsorted(grid, self.entry) + 1
        self.order = np.lexsort((self.key_stop,))
        ks_sorted = self.key_stop[self.order]
        ev_rows = np.flatnonzero(self.event)
        ev_rows = ev_rows[np.argsort(self.key_stop[ev_rows], kind="stable")]
        self.ev_rows = ev_rows
        gkey, first, ginv, dcount = np.unique(self.key_stop[ev_rows], return_index=True,
                                              return_inverse=True, return_counts=True)
        self.gkey, self.gfirst, self.ginv, self.dcount = gkey, first, ginv, dcount
        gstrat = gkey // span
        self.gstrat = gstrat
        self.gtime = grid[gkey % span - 1] if len(gkey) else np.zeros(0)
        self.pos = np.searchsorted(ks_sorted, gkey, side="left")
        self.end = np.searchsorted(ks_sorted, (gstrat + 1) * span, side="left")
        if entry is not None:
            self.order2 = np.argsort(self.key_start, kind="stable")
            kst_sorted = self.key_start[self.order2]
            self.pos2 = np.searchsorted(kst_sorted, gkey, side="left")
            self.end2 = np.searchsorted(kst_sorted, (gstrat + 1) * span, side="left")
        # rank of each death within its tie group -> Efron fraction k/d
        k = np.arange(len(ev_rows)) - first[ginv]
        self.frac = k / dcount[ginv] if efron else np.zeros(len(ev_rows))
        wd = self.w[ev_rows]
        self.dw = np.bincount(ginv, weights=wd, minlength=len(gkey))
        self.meanwt = (self.dw / dcount)[ginv]
        self.wx_dead = (wd[:, None] * self.X[ev_rows]).sum(0)
        self.span = span

    def _moments(self, v):
        """Columns [1, x, x x'(upper)] times v (n x m)."""
        X = self.X
        return np.concatenate([v[:, None], v[:, None] * X,
                               v[:, None] * (X[:, self.iu[0]] * X[:, self.iu[1]])], axis=1)

    def _riskset(self, M):
        # reverse cumulative sum: C[i] = sum_{j >= i} M[order][j]
        C = np.zeros((self.n + 1, M.shape[1]))
        C[:-1] = np.cumsum(M[self.order][::-1], axis=0)[::-1]
        S = C[self.pos] - C[self.end]
        if self.entry is not None:
            D = np.zeros((self.n + 1, M.shape[1]))
            D[:-1] = np.cumsum(M[self.order2][::-1], axis=0)[::-1]
            S -= D[self.pos2] - D[self.end2]
        return S

    def _full(self, upper):
        """Rebuild symmetric p x p matrices from their upper triangles (last axis)."""
        p = self.p
        out = np.zeros(upper.shape[:-1] + (p, p))
        out[..., self.iu[0], self.iu[1]] = upper
        out[..., self.iu[1], self.iu[0]] = upper
        return out

    def evaluate(self, beta, detail=False):
        """Log partial likelihood, score and information at ``beta`` (centred covariates)."""
        p = self.p
        eta = self.X @ beta
        r = np.exp(eta)
        M = self._moments(self.w * r)
        S = self._riskset(M)
        ev = self.ev_rows
        if len(ev) == 0:
            zero = np.zeros(p)
            out = (0.0, zero, np.zeros((p, p)))
            return out if not detail else out + (dict(eta=eta, r=r, den=np.zeros(0), a=np.zeros((0, p)),
                                                      s2=np.zeros((0, len(self.iu[0])))),)
        E = np.add.reduceat(M[ev], self.gfirst, axis=0)
        f = self.frac[:, None]
        Se = S[self.ginv] - f * E[self.ginv]
        den = Se[:, 0]
        a = Se[:, 1:1 + p] / den[:, None]
        mw = self.meanwt
        loglik = float(self.w[ev] @ eta[ev] - mw @ np.log(den))
        u = self.wx_dead - mw @ a
        s2 = Se[:, 1 + p:] / den[:, None] - a[:, self.iu[0]] * a[:, self.iu[1]]
        info = self._full(mw @ s2)
        if not detail:
            return loglik, u, info
        return loglik, u, info, dict(eta=eta, r=r, den=den, a=a, s2=s2)

    def group_sums(self, values):
        """Sum per-death values (deaths x m) within tie groups."""
        if len(values) == 0:
            return values
        return np.add.reduceat(values, self.gfirst, axis=0)

    def score_residuals(self, beta, det):
        """Score residuals (unweighted, n x p) as R's ``residuals(fit, "score")``."""
        p = self.p
        ev, r, a, den = self.ev_rows, det["r"], det["a"], det["den"]
        h = self.meanwt / den
        frac = self.frac
        H = self.group_sums(h[:, None])[:, 0]
        A = self.group_sums(h[:, None] * a)
        Hf = self.group_sums((frac * h)[:, None])[:, 0]
        Af = self.group_sums((frac * h)[:, None] * a)
        cumH = np.concatenate([[0.0], np.cumsum(H)])
        cumA = np.vstack([np.zeros((1, p)), np.cumsum(A, axis=0)])
        hi = np.searchsorted(self.gkey, self.key_stop, side="right")
        lo = np.searchsorted(self.gkey, self.key_start, side="right")
        Hs = cumH[hi] - cumH[lo]
        As = cumA[hi] - cumA[lo]
        X = self.X
        resid = -r[:, None] * (X * Hs[:, None] - As)
        abar = self.group_sums(a) / self.dcount[:, None]
        g = self.ginv
        resid[ev] += (X[ev] - abar[g]) + r[ev, None] * (X[ev] * Hf[g][:, None] - Af[g])
        return resid

    def hazard_increments(self, det):
        """Baseline hazard jump at each tie group for centred covariates (R's survfit ctype)."""
        return self.group_sums((self.meanwt / det["den"])[:, None])[:, 0]


def newton(data: CoxData, init=None, eps=1e-9, iter_max=20):
    """Newton–Raphson with step halving exactly as R's coxph (coxfit6): returns dict."""
    p = data.p
    beta = np.zeros(p) if init is None else np.asarray(init, float)
    ll0, u0, i0 = data.evaluate(beta)
    null = (ll0, u0, i0)
    loglik, u, info = ll0, u0, i0
    if p == 0 or iter_max == 0:
        return dict(beta=beta, loglik=loglik, u=u, info=info, iter=0, converged=True, null=null)
    step = _solve(info, u)
    newbeta = beta + step
    halving = False
    converged = False
    it = 0
    for it in range(1, iter_max + 1):
        new_ll, new_u, new_info = data.evaluate(newbeta)
        if np.isfinite(new_ll) and abs(1 - loglik / new_ll) <= eps and not halving:
            beta, loglik, u, info = newbeta, new_ll, new_u, new_info
            converged = True
            break
        if it == iter_max:
            # R (coxfit6) reports the last evaluated beta when iterations run out
            beta, loglik, u, info = newbeta, new_ll, new_u, new_info
            break
        if not np.isfinite(new_ll) or new_ll < loglik:
            halving = True
            newbeta = (newbeta + beta) / 2
        else:
            halving = False
            beta, loglik, u, info = newbeta, new_ll, new_u, new_info
            newbeta = beta + _solve(info, u)
    return dict(beta=beta, loglik=loglik, u=u, info=info, iter=it, converged=converged, null=null)


def _solve(info, u):
    try:
        return np.linalg.solve(info, u)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(info, u, rcond=None)[0]
