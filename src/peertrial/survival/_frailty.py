"""Shared gamma frailty for the Cox model, as ``coxph(... + frailty(g))`` (``frailty.gamma``, method "em").

For a fixed frailty variance theta the model is fitted by maximising the penalised partial
likelihood in (beta, w), w the log-frailty of each group,

    PPL = PL(beta, w) - (1 / theta) sum_i (exp(w_i) - w_i),

whose maximiser has mean(exp(w)) = 1 (the w are recentred to it at every step, as survival's
penalty function does). Newton-Raphson uses the information with the frailty block kept
diagonal (survival's "sparse" computation, used when there are more than 5 groups): the exact
diagonal, the exact frailty-by-covariate block and the covariate block, so the reported variances
(``var`` = the covariate block of H^-1 and ``var2`` = H^-1 I H^-1 with I the unpenalised
information) and degrees of freedom are survival's. With 5 groups or fewer survival fits the
frailties as ordinary penalised columns (the whole information, its q x q block of H^-1 as their
covariance, and the Wald test of the frailty term on it); so does this module then. Iterations stop at a
relative change of the penalised log-likelihood below 1e-11 (at most 100 steps, with step halving).

One evaluation of the sparse fit is O(n p) with no G x q array (G tie groups, q frailty groups):
sums over the tie groups where a row is at risk are differences of prefix sums at its first and last
tie group, and the squared per-group risk sums of the diagonal information are taken on the segments
between the change points of each group's risk set (sorted once per fit).

theta is chosen by survival's outer search (``frailty.controlgam``): theta = 0 (no frailty),
then 1, then 0.5 or 2, then a parabolic step on sqrt(theta) over the profile of the integrated
("I-") log-likelihood, PPL + sum_i [d_i + nu log nu - (nu + d_i) log(nu + d_i)
+ log Gamma(nu + d_i) - log Gamma(nu)] (nu = 1 / theta, d_i the events of group i; Therneau,
Grambsch & Pankratz 2003), until its relative change is below 1e-5 (at most 10 outer steps,
``coxph.control(outer.max = 10)``). The coefficients are those of the last theta fitted.
"""

from __future__ import annotations

import numpy as np

from peertrial.survival._coxcore import CoxData, newton

OUTER_MAX = 10
EPS_THETA = 1e-5
INNER_EPS = 1e-11
INNER_MAX = 100


def gamma_correction(d, nu):
    """The I-likelihood's correction for gamma frailty given events per group ``d`` (frailty.gammacon)."""
    d = np.asarray(d, float)
    maxd = int(d.max()) if len(d) else 0
    if nu > 1e7 * max(maxd, 1):
        term1 = float(np.sum(d * d) / nu)
    else:
        term1 = float(np.sum(d + nu * np.log(nu / (nu + d))))
    if maxd == 0:
        return term1
    k = np.arange(1, maxd + 1)
    use = k[None, :] <= d[:, None]
    ratio = np.log((nu + k[None, :] - 1) / (nu + d[:, None]))
    return term1 + float(np.sum(np.where(use, ratio, 0.0)))


def parabolic_step(x, y, lower=0.0):
    """Next trial point of survival's ``frailty.brent``: a parabola through the best point and its
    neighbours, with golden-section-like fallbacks and extrapolation at the ends."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = len(x)
    if n < 3:
        return float(x.mean())
    order = np.argsort(x, kind="stable")
    xx, yy = x[order], y[order]
    best = np.flatnonzero(yy == y.max())
    if len(best) > 1:
        raise ValueError("frailty: the integrated likelihood is tied at its maximum over theta; "
                         "give the variance with frailty_theta=")
    b = int(best[0])
    if b == 0:
        new = xx[0] - 3 * (xx[1] - xx[0])
        if new < lower:
            new = lower + (xx[xx > lower].min() - lower) / 10
        return float(new)
    if b == n - 1:
        return float(xx[-1] + 3 * (xx[-1] - xx[-2]))
    x1, x2, x3 = xx[b - 1:b + 2]
    y1, y2, y3 = yy[b - 1:b + 2]
    t1 = (x2 - x1) ** 2 * (y2 - y3) - (x2 - x3) ** 2 * (y2 - y1)
    t2 = (x2 - x1) * (y2 - y3) - (x2 - x3) * (y2 - y1)
    new = x2 - 0.5 * t1 / t2
    if new < x1 or new > x3 or (n > 4 and (new - x[n - 1]) > 0.5 * abs(x[n - 2] - x[n - 3])):
        return float(x2 - 0.38 * (x2 - x1) if (x2 - x1) > (x3 - x2) else x2 + 0.32 * (x3 - x2))
    return float(new)


class FrailtyModel:
    """Penalised partial likelihood of a Cox model with one log-frailty per group."""

    def __init__(self, cd: CoxData, groups: np.ndarray, q: int, dense: bool = False):
        self.cd = cd
        self.dense = dense  # full frailty information (survival's non-sparse fit, 5 groups or fewer)
        self.g = np.asarray(groups, np.int64)
        self.q = q
        self.base_offset = np.zeros(cd.n) if cd.offset is None else cd.offset.copy()
        ev = cd.ev_rows
        self.dead_w = np.bincount(self.g[ev], weights=cd.w[ev], minlength=q)
        self.d = np.bincount(self.g[ev], minlength=q).astype(float)
        self._setup_sparse()

    def _by_group(self, vals):
        """Risk-set sums per (tie group, frailty group) of the columns of ``vals`` (n x m): a list of m
        arrays G x q, and the same over the dead rows of each tie group."""
        cd, q = self.cd, self.q
        ev = cd.ev_rows
        lin_stop = cd.inv_stop * q + self.g
        lin_start = None if cd.entry is None else cd.inv_start * q + self.g
        lin_ev = cd.ev_group * q + self.g[ev]

        def suffix(lin, col, K, pos, end):  # sums over keys pos .. end-1 (time >= t within the stratum)
            cs = np.empty((K + 1, q))
            cs[0] = 0.0
            np.cumsum(np.bincount(lin, weights=col, minlength=K * q).reshape(K, q), axis=0, out=cs[1:])
            return cs[end] - cs[pos]

        S, E = [], []
        for j in range(vals.shape[1]):
            col = vals[:, j]
            Sj = suffix(lin_stop, col, cd.K, cd.pos, cd.end)
            if lin_start is not None:
                Sj -= suffix(lin_start, col, cd.K2, cd.pos2, cd.end2)
            S.append(Sj)
            E.append(np.bincount(lin_ev, weights=col[ev], minlength=cd.G * q).reshape(cd.G, q))
        return S, E

    def _setup_sparse(self):
        """Index arrays, fixed for the whole fit, of the O(n p^2) evaluation.

        Row i is at risk at the tie groups lo_i <= k < hi_i (tie groups in (stratum, time) order), so
        a risk-set sum over rows is a reverse cumulative sum over tie groups of the rows' sums per hi
        minus the same per lo. The risk-set sum of frailty group m at tie group k, S0_km, is a step
        function of k that changes only where a row of m enters or leaves; its change points, sorted
        by (group, tie group), give S0_km on each segment by one cumulative sum, so sums over k of
        S0_km^2 cost O(n), not O(G q).
        """
        cd, n, G, p = self.cd, self.cd.n, self.cd.G, self.cd.p
        self.lo = np.searchsorted(cd.gkey, np.broadcast_to(cd.key_start, (n,)), side="right")
        self.hi = np.searchsorted(cd.gkey, cd.key_stop, side="right")
        # columns [1, x, x x' (upper triangle)] and their flat bincount indices per tie group
        self.Z = np.concatenate([np.ones((n, 1)), cd.X, cd.XX], axis=1)
        m = self.Z.shape[1]
        self.m = m
        cols = np.arange(m)
        self.idx_hi = (self.hi[:, None] * m + cols).ravel()
        self.idx_lo = None if not np.any(self.lo) else (self.lo[:, None] * m + cols).ravel()
        ev = cd.ev_rows
        self.idx_ev = (cd.ev_group[:, None] * m + cols).ravel()
        self.Zev = self.Z[ev]
        self.eta_ev_w = cd.w[ev]
        self.gp = (self.g[:, None] * p + np.arange(p)).ravel()
        self.gp_ev = (self.g[ev][:, None] * p + np.arange(p)).ravel()
        self.g_ev = self.g[ev]
        span = G + 1
        keys = np.concatenate([self.g * span + self.lo, self.g * span + self.hi])
        order = np.argsort(keys, kind="stable")
        ks = keys[order]
        self.ch_order = order  # change points: rows entering (first n) then leaving (last n)
        self.ch_k = ks % span
        gc = ks // span
        same = np.r_[gc[1:] == gc[:-1], False]
        self.ch_next = np.where(same, np.r_[self.ch_k[1:], 0], self.ch_k)  # a group's last segment is empty
        first = np.r_[True, ~same[:-1]]
        self.ch_start = np.maximum.accumulate(np.where(first, np.arange(len(ks)), 0))
        self.ch_row = order % n
        self.ch_sign = np.where(order < n, 1.0, -1.0)
        self.cs = np.zeros(2 * n + 1)
        self.terms = np.empty((len(cd.frac), 5))
        self.prefix = np.zeros((G + 1, 2 + p))  # prefix sums of c0, q0 and t0 (p columns)
        full = np.zeros((p, p), np.int64)  # p x p from the upper triangle (CoxData.iu order)
        full[cd.iu] = np.arange(len(cd.iu[0]))
        full.T[cd.iu] = np.arange(len(cd.iu[0]))
        self.full_idx = full
        self.ch_g = gc
        pair = self.g_ev * span + cd.ev_group  # (frailty group, tie group) of each event row
        upair, self.pair_inv = np.unique(pair, return_inverse=True)
        self.pair_idx = np.searchsorted(ks, upair, side="right") - 1  # its segment among the change points
        self.pair_g = upair // span
        self.pair_k = upair % span
        self.npair = len(upair)

    def evaluate(self, beta, w, nu):
        """Partial log-likelihood, score and information in beta, and the pieces of the penalised
        score and information of the frailties.

        With a_ki = (S0_ki - f_k E0_ki) / den_k the share of frailty group i in virtual death k (Efron's
        fraction f_k; S0, E0 the group's risk and tied-death sums), the frailty score is
        d_i - sum_k mw_k a_ki and the diagonal information sum_k mw_k (a_ki - a_ki^2). Efron's sums
        are expanded into per-tie-group scalars (c0 = sum mw / den, c1 = sum mw f / den, q0, q1, q2
        with den^2), and sums over tie groups of a row's risk become differences of prefix sums at
        the row's first and last tie group, so one evaluation is O(n p^2) plus O(n) for the squares.
        """
        cd, p, G, m, q = self.cd, self.cd.p, self.cd.G, self.m, self.q
        ev, eg = cd.ev_rows, cd.ev_group
        off = self.base_offset + w[self.g]
        cd.offset = off
        eta = cd.X @ beta + off
        v = cd.w * np.exp(eta)
        M = v[:, None] * self.Z
        # risk-set sums at each tie group: rows with hi > k, minus rows with lo > k
        A = np.bincount(self.idx_hi, M.ravel(), (G + 1) * m).reshape(G + 1, m)
        if self.idx_lo is not None:
            A -= np.bincount(self.idx_lo, M.ravel(), (G + 1) * m).reshape(G + 1, m)
        S = np.cumsum(A[:0:-1], axis=0)[::-1]
        vev = v[ev]
        E = np.bincount(self.idx_ev, (vev[:, None] * self.Zev).ravel(), G * m).reshape(G, m)
        f, mw = cd.frac, cd.meanwt
        den = S[cd.vg, 0] - f * E[cd.vg, 0]
        T = self.terms
        i1 = np.divide(mw, den, out=T[:, 0])
        np.multiply(f, i1, out=T[:, 1])
        np.divide(i1, den, out=T[:, 2])
        np.multiply(f, T[:, 2], out=T[:, 3])
        np.multiply(f, T[:, 3], out=T[:, 4])
        c0, c1, q0, q1, q2 = np.add.reduceat(T, cd.vfirst, axis=0).T
        pl = float(self.eta_ev_w @ eta[ev] - mw @ np.log(den))
        S1, E1 = S[:, 1:1 + p], E[:, 1:1 + p]
        u = cd.wx_dead - c0 @ S1 + c1 @ E1
        # prefix sums over tie groups of c0, q0 and t0 = sum_k mw (S1 - f_k E1) / den_k^2
        P = self.prefix
        np.cumsum(q0, out=P[1:, 1])
        np.cumsum(c0, out=P[1:, 0])
        t0 = S1 * q0[:, None] - E1 * q1[:, None]
        np.cumsum(t0, axis=0, out=P[1:, 2:])
        t1 = S1 * q1[:, None] - E1 * q2[:, None]
        info = (c0 @ S[:, 1 + p:] - c1 @ E[:, 1 + p:])[self.full_idx] - (S1.T @ t0 - E1.T @ t1)
        # the frailty score and diagonal information; R: sums over the tie groups where each row is at risk
        R = P[self.hi] if self.idx_lo is None else P[self.hi] - P[self.lo]  # P[0] = 0: lo = 0 needs no term
        h0 = R[:, 0]
        c1ev = c1[eg]
        lin = np.bincount(self.g, v * h0, q) - np.bincount(self.g_ev, vev * c1ev, q)  # sum_k mw_k a_ki
        # S0_ik on the segments between change points of each group, and the sum of S0^2 q0 over them
        cs = self.cs
        np.cumsum(v[self.ch_row] * self.ch_sign, out=cs[1:])
        seg = cs[1:] - cs[self.ch_start]
        Q0 = P[:, 1]
        sq = np.bincount(self.ch_g, seg * seg * (Q0[self.ch_next] - Q0[self.ch_k]), q)
        e0 = np.bincount(self.pair_inv, vev, self.npair)  # E0 per (group, tie group)
        kk = self.pair_k
        sq += np.bincount(self.pair_g, e0 * (e0 * q2[kk] - 2 * seg[self.pair_idx] * q1[kk]), q)
        uf = self.dead_w - lin
        D = lin - sq
        # frailty x covariate block: sum_k mw_k d a_ki / d beta
        if p:
            H0 = R[:, 2:]
            vx = M[:, 1:1 + p]
            B = (np.bincount(self.gp, (vx * h0[:, None] - v[:, None] * H0).ravel(), q * p)
                 - np.bincount(self.gp_ev, (vx[ev] * c1ev[:, None] - vev[:, None] * t1[eg]).ravel(),
                               q * p)).reshape(q, p)
        else:
            B = np.zeros((q, 0))
        F = self._dense_block(v, lin, q0, q1, q2) if self.dense else None
        return pl, u, info, uf, D, B, F

    def _dense_block(self, v, lin, q0, q1, q2):
        """The whole frailty information (q x q; the non-sparse fit, 5 groups or fewer):
        diag(sum_k mw a_ki) - sum_k mw a_ki a_kj, from the G x q risk-set sums of each group."""
        S, E = self._by_group(v[:, None])
        S0, E0 = S[0], E[0]
        return np.diag(lin) - (S0.T @ (S0 * q0[:, None]) - S0.T @ (E0 * q1[:, None])
                               - E0.T @ (S0 * q1[:, None]) + E0.T @ (E0 * q2[:, None]))

    def fit(self, nu, beta0, w0, parts0=None):
        """Maximise the penalised partial likelihood at 1 / theta = ``nu``, starting from (``beta0``,
        ``w0``). ``parts0``: :meth:`evaluate` at that start when known (the end of an earlier fit: the
        partial likelihood and its derivatives do not depend on nu, only the penalty does)."""
        q = self.q
        beta = np.asarray(beta0, float).copy()
        w = np.asarray(w0, float).copy()

        def centred(ww):  # recentred to mean(exp(w)) = 1, as survival's penalty function; and exp(w)
            ww = ww - np.log(np.exp(ww).sum() / q)
            return ww, np.exp(ww)

        def objective(b, ww, eww):
            parts = self.evaluate(b, ww, nu)
            return parts[0] - nu * (eww.sum() - ww.sum()), parts

        if parts0 is None:
            w, ew = centred(w)
            obj, parts = objective(beta, w, ew)
        else:  # w0 is already recentred
            ew = np.exp(w)
            parts = parts0
            obj = parts[0] - nu * (ew.sum() - w.sum())
        converged = False
        it = 0
        for it in range(1, INNER_MAX + 1):  # noqa: B007 (it is the count reported)
            halving = 0
            _, u, info, uf, D, B, F = parts
            pen = nu * ew
            gf = uf - (pen - nu)
            if F is None:
                sb, sf = _block_solve(D + pen, B, info, gf, u)
            else:
                step = _solve_full(_full_h(F + np.diag(pen), B, info), np.concatenate([gf, u]))
                sf, sb = step[:q], step[q:]
            new_b = beta + sb
            new_w, new_ew = centred(w + sf)
            new_obj, new_parts = objective(new_b, new_w, new_ew)
            while (not np.isfinite(new_obj) or new_obj < obj - 1e-12 * abs(obj)) and halving < 30:
                halving += 1
                new_b = (new_b + beta) / 2
                new_w, new_ew = centred((new_w + w) / 2)
                new_obj, new_parts = objective(new_b, new_w, new_ew)
            done = abs(1 - obj / new_obj) < INNER_EPS
            beta, w, ew, obj, parts = new_b, new_w, new_ew, new_obj, new_parts
            if done:
                converged = True
                break
        pl = parts[0]
        return dict(beta=beta, w=w, pl=pl, loglik=pl + nu * w.sum(), parts=parts, iter=it,
                    converged=converged)

    def variance(self, fit, nu):
        """var (covariate block of H^-1), var2 = H^-1 I H^-1, per-group H^-1 diagonal and the
        frailty term's degrees of freedom, with H the penalised information (frailty block diagonal)."""
        _, _, info, _, D, B, F = fit["parts"]
        pen = nu * np.exp(fit["w"])
        q = self.q
        if F is not None:  # non-sparse: H^-1 of the whole information; df as coxpenal.df's ptype 2
            H = _full_h(F + np.diag(pen), B, info)
            Hinv = np.linalg.inv(H)
            P = np.zeros_like(H)
            P[:q, :q] = np.diag(pen)
            V2 = Hinv @ (H - P) @ Hinv
            fvar_full = Hinv[:q, :q]
            df_frail = float(np.trace(np.linalg.solve(fvar_full, V2[:q, :q])))
            return Hinv[q:, q:], V2[q:, q:], fvar_full, df_frail
        Dp = D + pen
        BD = B / Dp[:, None]
        S = info - B.T @ BD
        C = np.linalg.inv(S)
        Hfb = -BD @ C  # frailty x covariate block of H^-1
        fvar = 1 / Dp + np.einsum("im,mk,ik->i", BD, C, BD)
        var2 = C - Hfb.T @ (pen[:, None] * Hfb)
        df_frail = self.q - float(np.sum(fvar * pen))
        return C, var2, fvar, df_frail


def _full_h(Hff, B, info):
    """[[Hff, B], [B', info]] (frailties first)."""
    return np.block([[Hff, B], [B.T, info]])


def _solve_full(H, g):
    try:
        return np.linalg.solve(H, g)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(H, g, rcond=None)[0]


def _block_solve(Dp, B, info, gf, gb):
    """Solve [[diag(Dp), B], [B', info]] [sf; sb] = [gf; gb] by the Schur complement."""
    BD = B / Dp[:, None]
    S = info - B.T @ BD
    rhs = gb - BD.T @ gf
    if len(rhs) == 1 and S[0, 0] != 0:  # what LAPACK's solve does for 1 x 1, without its call overhead
        sb = rhs / S[0, 0]
    else:
        try:
            sb = np.linalg.solve(S, rhs)
        except np.linalg.LinAlgError:
            sb = np.linalg.lstsq(S, rhs, rcond=None)[0]
    sf = (gf - B @ sb) / Dp
    return sb, sf


def fit_gamma_frailty(cd: CoxData, groups, q, theta=None, eps=1e-9, iter_max=20, dense=False):
    """The outer search on theta (or one fit at a given ``theta``). Returns a dict; with ``dense`` the
    frailty variance ``fvar`` is the q x q block of H^-1 (survival's non-sparse fit)."""
    model = FrailtyModel(cd, groups, q, dense=dense)
    p = cd.p
    history = []
    saved = []  # (theta, beta, w, evaluation there) for warm starts, as coxpenal.fit
    fixed = theta is not None
    cur = float(theta) if fixed else 0.0
    done = False
    outer = 0
    newton_total = 0
    last = None
    for outer in range(1, OUTER_MAX + 1):
        if saved:
            k = min(range(len(saved)), key=lambda i: (saved[i][0] - cur) ** 2)  # the first nearest
            b0, w0, parts0 = saved[k][1:]
        else:
            b0, w0, parts0 = np.zeros(p), np.zeros(q), None
        if cur == 0:
            cd.offset = model.base_offset.copy()
            nf = newton(cd, init=b0, eps=eps, iter_max=iter_max)
            res = dict(beta=nf["beta"], w=np.zeros(q), pl=nf["loglik"], loglik=nf["loglik"], iter=nf["iter"],
                       converged=nf["converged"], parts=None)
            correct = 0.0
        else:
            res = model.fit(1 / cur, b0, w0, parts0)
            correct = gamma_correction(model.d, 1 / cur)
        newton_total += res["iter"]
        clog = res["loglik"] + correct
        history.append((cur, res["loglik"], clog))
        saved.append((cur, res["beta"], res["w"], res["parts"]))
        last = (cur, res, clog)
        if fixed:
            done = True
            break
        xs = np.array([h[0] for h in history])
        ys = np.array([h[2] for h in history])
        if outer == 1:
            cur = 1.0
        elif outer == 2:
            cur = float(xs[:2].mean()) if ys[1] < ys[0] + 1 else 2 * xs[1]
        else:
            done = abs(1 - ys[-1] / ys[-2]) < EPS_THETA
            if ys[-1] == ys.max() and xs[-1] == xs.max():
                cur = 2 * xs.max()
            else:
                cur = parabolic_step(np.sqrt(xs), ys, lower=0.0) ** 2
        if done:
            break
    theta_fit, res, clog = last
    if theta_fit == 0:
        raise ValueError("frailty: the fit stopped at theta = 0 (no frailty)")
    nu = 1 / theta_fit
    var, var2, fvar, df_frail = model.variance(res, nu)
    # the unpenalised partial likelihood at beta = 0, w = 0 (coxph's loglik[1])
    cd.offset = model.base_offset.copy()
    ll0 = cd.evaluate(np.zeros(p))[0]
    cd.offset = model.base_offset + res["w"][model.g]
    return dict(beta=res["beta"], w=res["w"], theta=theta_fit, i_loglik=clog, loglik=(float(ll0), float(res["pl"])),
                penalty=float(-nu * np.sum(res["w"])), var=var, var2=var2, fvar=fvar, df_frail=df_frail,
                history=history, outer=outer, newton=newton_total, converged=done and res["converged"],
                inner_converged=res["converged"], d=model.d)
