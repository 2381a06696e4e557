"""Vectorised Cox partial likelihood (Efron/Breslow ties, strata, weights, late entry).

Risk-set sums are cumulative sums over distinct (stratum, time) keys: the sum over
{stop >= t, same stratum} is a difference of one reverse cumulative sum, and late entry
subtracts the same over {entry >= t}. One Newton step costs O(n p^2) with no
Python loop over times. Tied events with d deaths at t (Efron) use denominators
S0 - (k/d) E0, k = 0..d-1, where E0 sums the risk of the tied deaths; each term carries
the mean case weight of the deaths (Therneau & Grambsch 2000, sec. 3.3; R's coxfit6).
"""

from __future__ import annotations

import numpy as np


class CoxData:
    """Design, index arrays and tie-group bookkeeping for the partial likelihood.

    Rows are never sorted: each row gets the rank of its (stratum, time) key, rows are
    summed per key with ``bincount`` and one reverse cumulative sum over keys gives the
    risk-set sums. Tied deaths are represented per tie group by "virtual deaths"
    k = 0..d-1 (only their count matters for Efron's sums), so no per-row ordering is needed.
    """

    def __init__(self, stop, event, X, strata=None, weights=None, entry=None, efron=True, offset=None,
                 exact=False):
        n, p = X.shape
        self.offset = None if offset is None else np.asarray(offset, float)
        self.exact = exact
        efron = efron and not exact
        self.n, self.p = n, p
        self.stop = np.asarray(stop, float)
        self.event = np.asarray(event, float) > 0
        self.strata = None if strata is None else np.asarray(strata, np.int64)
        self.w = np.ones(n) if weights is None else np.asarray(weights, float)
        self.entry = None if entry is None else np.asarray(entry, float)
        self.center = X.mean(0)
        self.X = X - self.center
        self.efron = efron
        self.iu = np.triu_indices(p)
        if entry is None:
            grid, rank = np.unique(self.stop, return_inverse=True)
            rank_stop, rank_start = rank, None
        else:
            grid, rank = np.unique(np.concatenate([self.stop, self.entry]), return_inverse=True)
            rank_stop, rank_start = rank[:n], rank[n:]
        span = len(grid) + 2
        base = 0 if self.strata is None else self.strata * span
        key_stop = base + rank_stop + 1
        self.key_stop = key_stop
        self.key_start = base + (0 if rank_start is None else rank_start + 1)
        if self.strata is None and entry is None:
            ukeys, self.inv_stop = np.arange(len(grid)) + 1, rank_stop
        else:
            ukeys, self.inv_stop = np.unique(key_stop, return_inverse=True)
        self.K = len(ukeys)
        ev_rows = np.flatnonzero(self.event)
        self.ev_rows = ev_rows
        cnt = np.bincount(self.inv_stop[ev_rows], minlength=self.K)
        has = cnt > 0
        gid = np.cumsum(has) - 1
        self.ev_group = gid[self.inv_stop[ev_rows]]  # tie group of each event row
        self.pos = np.flatnonzero(has)  # index of each tie group's key in ukeys
        self.gkey = ukeys[has]
        self.dcount = cnt[has]
        G = len(self.gkey)
        self.G = G
        gstrat = self.gkey // span
        self.gstrat = gstrat
        self.gtime = grid[self.gkey % span - 1] if G else np.zeros(0)
        self.end = np.searchsorted(ukeys, (gstrat + 1) * span, side="left")
        if entry is not None:
            ukeys2, self.inv_start = np.unique(self.key_start, return_inverse=True)
            self.K2 = len(ukeys2)
            self.pos2 = np.searchsorted(ukeys2, self.gkey, side="left")
            self.end2 = np.searchsorted(ukeys2, (gstrat + 1) * span, side="left")
        self.XX = self.X[:, self.iu[0]] * self.X[:, self.iu[1]]
        self.ev_cols = np.concatenate([self.X[ev_rows], self.XX[ev_rows]], axis=1)
        self.w_ev = self.w[ev_rows]
        # virtual deaths: group vg, Efron fraction vf = k / d
        self.vg = np.repeat(np.arange(G), self.dcount)
        first = np.concatenate([[0], np.cumsum(self.dcount)[:-1]]) if G else np.zeros(0, np.int64)
        self.vfirst = first
        k = np.arange(len(ev_rows)) - first[self.vg] if G else np.zeros(0)
        self.frac = k / self.dcount[self.vg] if efron else np.zeros(len(ev_rows))
        self.dw = np.bincount(self.ev_group, weights=self.w_ev, minlength=G)
        self.meanwt_g = self.dw / np.maximum(self.dcount, 1)
        self.meanwt = self.meanwt_g[self.vg]
        self.wx_dead = self.w_ev @ self.X[ev_rows]
        self.span = span

    def _moments(self, v, rows=slice(None)):
        """Columns [1, x, x x'(upper)] of ``rows`` times v (len(v) x m)."""
        return np.concatenate([v[:, None], v[:, None] * self.X[rows], v[:, None] * self.XX[rows]], axis=1)

    def _riskset(self, v):
        """Risk-set sums of [1, x, x x'] weighted by ``v`` at each tie group (G x m).

        Rows are first summed per distinct (stratum, time) key, then a reverse cumulative
        sum over keys gives sums over {time >= t}; late entry subtracts {entry >= t}.
        """
        cols = [v] + [v * self.X[:, j] for j in range(self.p)] + [v * self.XX[:, j] for j in range(self.XX.shape[1])]
        S = self._suffix(cols, self.inv_stop, self.K, self.pos, self.end)
        if self.entry is not None:
            S -= self._suffix(cols, self.inv_start, self.K2, self.pos2, self.end2)
        return S

    @staticmethod
    def _suffix(cols, inv, K, pos, end):
        agg = np.empty((K + 1, len(cols)))
        agg[K] = 0.0
        for j, c in enumerate(cols):
            agg[:K, j] = np.bincount(inv, weights=c, minlength=K)
        C = np.cumsum(agg[::-1], axis=0)[::-1]
        return C[pos] - C[end]

    def _full(self, upper):
        """Rebuild symmetric p x p matrices from their upper triangles (last axis)."""
        p = self.p
        out = np.zeros(upper.shape[:-1] + (p, p))
        out[..., self.iu[0], self.iu[1]] = upper
        out[..., self.iu[1], self.iu[0]] = upper
        return out

    def evaluate(self, beta, detail=False):
        """Log partial likelihood, score and information at ``beta`` (centred covariates).

        Efron's sums over k = 0..d-1 are expanded algebraically, e.g.
        sum_k (S1 - f_k E1) / den_k = S1 sum_k 1/den_k - E1 sum_k f_k/den_k, so only the
        scalar denominators are computed per death and the p x p work is per tie group.
        """
        p = self.p
        eta = self.X @ beta
        if self.offset is not None:
            eta = eta + self.offset
        if self.exact and not detail:
            return self._evaluate_exact(beta, eta)
        r = np.exp(eta)
        ev = self.ev_rows
        if len(ev) == 0:
            zero = np.zeros(p)
            out = (0.0, zero, np.zeros((p, p)))
            return out if not detail else out + (dict(eta=eta, r=r, den=np.zeros(0), a=np.zeros((0, p)),
                                                      s2=np.zeros((0, len(self.iu[0])))),)
        v = self.w * r
        S = self._riskset(v)
        G = self.G
        vev = v[ev]
        E = np.empty((G, 1 + self.ev_cols.shape[1]))
        E[:, 0] = np.bincount(self.ev_group, vev, G)
        for j in range(self.ev_cols.shape[1]):
            E[:, j + 1] = np.bincount(self.ev_group, vev * self.ev_cols[:, j], G)
        if detail:
            return self._evaluate_detail(eta, r, S, E)
        f, vg = self.frac, self.vg
        den = S[vg, 0] - f * E[vg, 0]
        mwg = self.meanwt_g
        inv = 1 / den
        inv2 = inv * inv
        if self.efron:
            fi2 = f * inv2
            terms = np.column_stack([inv, f * inv, inv2, fi2, f * fi2])
            c0, c1, q0, q1, q2 = np.add.reduceat(terms, self.vfirst, axis=0).T
        else:  # Breslow: one denominator per tie group
            c0 = self.dcount / S[:, 0]
            q0 = c0 / S[:, 0]
            c1 = q1 = q2 = np.zeros(G)
        loglik = float(self.w_ev @ eta[ev] - self.meanwt @ np.log(den))
        S1, E1 = S[:, 1:1 + p], E[:, 1:1 + p]
        u = self.wx_dead - mwg @ (S1 * c0[:, None] - E1 * c1[:, None])
        i0, i1 = self.iu
        s2 = (S[:, 1 + p:] * c0[:, None] - E[:, 1 + p:] * c1[:, None]
              - (S1[:, i0] * S1[:, i1] * q0[:, None]
                 - (S1[:, i0] * E1[:, i1] + E1[:, i0] * S1[:, i1]) * q1[:, None]
                 + E1[:, i0] * E1[:, i1] * q2[:, None]))
        info = self._full(mwg @ s2)
        return loglik, u, info

    def _evaluate_exact(self, beta, eta):
        """Exact (discrete, conditional-logistic) partial likelihood, R's ``ties = "exact"``.

        Tie groups with one death are Breslow's terms. For d >= 2 tied deaths the denominator
        is the sum over all d-subsets of the risk set of exp(sum of their eta), the elementary
        symmetric polynomial e_d(r); it and its first and second derivatives in beta follow the
        recursion B_k(m) = B_k(m-1) + r_m B_{k-1}(m-1), written as one cumulative sum over the
        risk set per k (k = 1..d), so the work is O(d n_risk p^2) per tied group.
        """
        loglik, u, info = self._breslow_at(eta)
        p = self.p
        r_all = np.exp(eta - eta.max())
        for g in np.flatnonzero(self.dcount > 1):
            d = int(self.dcount[g])
            t, st = self.gtime[g], self.gstrat[g]
            risk = self.stop >= t
            if self.entry is not None:
                risk &= self.entry < t
            if self.strata is not None:
                risk &= self.strata == st
            rows = np.flatnonzero(risk)
            x = self.X[rows]
            r = r_all[rows] / r_all[rows].max()
            # Breslow's term for this group (to be replaced)
            s0 = r.sum()
            s1 = r @ x
            s2 = np.einsum("m,mi,mj->ij", r, x, x)
            a = s1 / s0
            loglik += d * np.log(s0)
            u -= -d * a
            info -= d * (s2 / s0 - np.outer(a, a))
            # exact term: B_k, G_k (gradient), H_k (Hessian) of e_k(r) over the risk set
            m = len(rows)
            B = np.ones(m)
            G = np.zeros((m, p))
            H = np.zeros((m, p, p))
            xx = np.einsum("mi,mj->mij", x, x)
            for k in range(d):  # B_k(m) = sum_{j <= m} r_j B_{k-1}(j - 1); e_0 of no rows is 1
                Bs = np.concatenate([[1.0 if k == 0 else 0.0], B[:-1]])
                Gs = np.vstack([np.zeros((1, p)), G[:-1]])
                Hs = np.concatenate([np.zeros((1, p, p)), H[:-1]])
                Hn = np.cumsum(r[:, None, None] * (Hs + np.einsum("mi,mj->mij", x, Gs)
                                                   + np.einsum("mi,mj->mij", Gs, x) + xx * Bs[:, None, None]), axis=0)
                Gn = np.cumsum(r[:, None] * (Gs + x * Bs[:, None]), axis=0)
                B = np.cumsum(r * Bs)
                G, H = Gn, Hn
            bd, gd, hd = B[-1], G[-1], H[-1]
            mean = gd / bd
            # r was rescaled by one constant c: -log e_d and Breslow's -d log S0 both gain -d log c,
            # which cancels in (exact - Breslow)
            loglik += -np.log(bd)
            u += -mean
            info += hd / bd - np.outer(mean, mean)
        return loglik, u, info

    def _breslow_at(self, eta):
        """Breslow log partial likelihood, score and information at the linear predictor ``eta``."""
        r = np.exp(eta)
        v = self.w * r
        S = self._riskset(v)
        p = self.p
        ev = self.ev_rows
        c0 = self.dcount / S[:, 0]
        q0 = c0 / S[:, 0]
        mwg = self.meanwt_g
        loglik = float(self.w_ev @ eta[ev] - mwg @ (self.dcount * np.log(S[:, 0])))
        S1 = S[:, 1:1 + p]
        u = self.wx_dead - mwg @ (S1 * c0[:, None])
        i0, i1 = self.iu
        s2 = S[:, 1 + p:] * c0[:, None] - S1[:, i0] * S1[:, i1] * q0[:, None]
        return loglik, u, self._full(mwg @ s2)

    def _evaluate_detail(self, eta, r, S, E):
        """As :meth:`evaluate`, also returning per-virtual-death denominators and means."""
        p = self.p
        f = self.frac[:, None]
        Se = S[self.vg] - f * E[self.vg]
        den = Se[:, 0]
        a = Se[:, 1:1 + p] / den[:, None]
        mw = self.meanwt
        loglik = float(self.w_ev @ eta[self.ev_rows] - mw @ np.log(den))
        u = self.wx_dead - mw @ a
        s2 = Se[:, 1 + p:] / den[:, None] - a[:, self.iu[0]] * a[:, self.iu[1]]
        info = self._full(mw @ s2)
        return loglik, u, info, dict(eta=eta, r=r, den=den, a=a, s2=s2)

    def group_sums(self, values):
        """Sum per-virtual-death values (deaths x m) within tie groups (G x m)."""
        return self._sum_by(self.vg, values)

    def row_group_sums(self, values):
        """Sum per-event-row values (event rows x m) within tie groups (G x m)."""
        return self._sum_by(self.ev_group, values)

    def _sum_by(self, idx, values):
        values = np.asarray(values, float)
        out = np.empty((self.G,) + values.shape[1:])
        flat = values.reshape(len(values), -1)
        outf = out.reshape(self.G, -1)
        for j in range(flat.shape[1]):
            outf[:, j] = np.bincount(idx, flat[:, j], self.G)
        return out

    def score_residuals(self, beta, det):
        """Score residuals (unweighted, n x p) as R's ``residuals(fit, "score")``."""
        p = self.p
        ev, r, a, den = self.ev_rows, det["r"], det["a"], det["den"]
        h = self.meanwt / den
        frac = self.frac
        H = self.group_sums(h)
        A = self.group_sums(h[:, None] * a)
        Hf = self.group_sums(frac * h)
        Af = self.group_sums((frac * h)[:, None] * a)
        # tie groups are in increasing (stratum, time) key order
        cumH = np.concatenate([[0.0], np.cumsum(H)])
        cumA = np.vstack([np.zeros((1, p)), np.cumsum(A, axis=0)])
        hi = np.searchsorted(self.gkey, self.key_stop, side="right")
        lo = np.searchsorted(self.gkey, self.key_start, side="right")
        Hs = cumH[hi] - cumH[lo]
        As = cumA[hi] - cumA[lo]
        X = self.X
        resid = -r[:, None] * (X * Hs[:, None] - As)
        abar = self.group_sums(a) / self.dcount[:, None]
        g = self.ev_group
        resid[ev] += (X[ev] - abar[g]) + r[ev, None] * (X[ev] * Hf[g][:, None] - Af[g])
        return resid

    def hazard_increments(self, det):
        """Baseline hazard jump at each tie group for centred covariates (R's survfit ctype)."""
        return self.group_sums(self.meanwt / det["den"])


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
