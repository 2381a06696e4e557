"""Batch core of the normal-normal (random-effects) meta-analysis model.

Every function works on a leading batch axis: ``Y``/``V`` are ``(B, k)`` with
padding where ``valid`` is false, ``X`` is ``(B, k, p)``. Padded entries get weight
zero, so each row is the meta-analysis of its own valid studies, exactly as if
fitted alone. The algorithms are metafor's (``rma.uni``, version 3.8):

- ``tau2`` estimators: DerSimonian–Laird, Hedges (HE), Hunter–Schmidt, Sidik–Jonkman,
  ML / REML / empirical Bayes by Fisher scoring with step halving (start: the HE
  estimate truncated at 0; stop when the change in tau2 is below ``threshold``),
  Paule–Mandel as the root of the generalised Q statistic (Brent, R's tolerance);
- ``b = (X'WX)^-1 X'W y`` with ``W = diag(1/(v + tau2))`` (or user weights ``A``:
  ``b = (X'AX)^-1 X'A y``, ``Var b = (X'AX)^-1 X'A M A X (X'AX)^-1``);
- Knapp–Hartung: ``Var b`` scaled by ``s2w = y'P y/(k - p)``, t and F reference
  distributions with ``k - p`` degrees of freedom;
- ``QE = y'P_FE y``; ``I2 = 100 tau2/(vt + tau2)``, ``H2 = tau2/vt + 1`` with the
  typical within-study variance ``vt = (k - p)/tr(P_FE)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from peertrial._lazy import lazy_module
from peertrial.meta._zeroin import zeroin, zeroin_scalar

special = lazy_module("scipy.special")

METHODS = ("EE", "FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
TESTS = ("z", "knha")
EPS = np.finfo(float).eps


@dataclass
class Control:
    """Settings of the iterative estimators (metafor's ``control`` list)."""

    threshold: float = 1e-5
    maxiter: int = 100
    tau2_init: float | None = None
    tau2_min: float = 0.0
    tau2_max: float | None = None  # default: max(100, 10 * mad(yi)^2) per meta-analysis
    tol: float = EPS**0.25  # uniroot tolerance (PM)
    stepadj: float = 1.0
    ll0check: bool = True

    @classmethod
    def from_any(cls, control) -> Control:
        if control is None:
            return cls()
        if isinstance(control, Control):
            return control
        names = {f for f in cls.__dataclass_fields__}
        unknown = set(control) - names
        if unknown:
            raise ValueError(f"unknown control setting(s) {sorted(unknown)}; known: {sorted(names)}")
        return cls(**dict(control))


@dataclass
class CoreFit:
    """Arrays of one batch fit (leading axis = meta-analyses)."""

    b: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    tau2: np.ndarray
    se_tau2: np.ndarray
    k: np.ndarray
    p: int
    QE: np.ndarray
    QEp: np.ndarray
    I2: np.ndarray
    H2: np.ndarray
    vt: np.ndarray
    QM: np.ndarray
    QMp: np.ndarray
    dfs: np.ndarray
    s2w: np.ndarray
    crit: np.ndarray
    weights: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    reason: np.ndarray
    test: np.ndarray  # per row: "z" or "knha" (k = 1 falls back to z, as metafor)
    ll_ML: np.ndarray = None  # metafor's fit.stats: ML and REML log-likelihoods, ML deviance
    ll_REML: np.ndarray = None
    dev_ML: np.ndarray = None
    algorithm: np.ndarray = None  # per row: how tau2 was found ("Fisher scoring", a fallback, "fixed", "")
    warnings: list = field(default_factory=list)


def _inv_xtwx(w, X):
    """``(X'WX)^-1`` for diagonal weights ``w`` (B, k); NaN where singular."""
    return _safe_inv(np.einsum("bki,bk,bkj->bij", X, w, X))


def _xdx(X, d):
    """``X' diag(d) X`` row by row (B, p, p)."""
    return np.einsum("bki,bk,bkj->bij", X, d, X)


def _resid(w, X, y, inv=None):
    """Weighted least-squares residuals ``y - X b`` with ``b = (X'WX)^-1 X'W y``;
    ``P y = w * resid`` for ``P = W - W X (X'WX)^-1 X'W``."""
    if inv is None:
        inv = _inv_xtwx(w, X)
    beta = np.einsum("bij,bkj,bk->bi", inv, X, w * y)
    return y - np.einsum("bkj,bj->bk", X, beta)


def _tr_pd(w, X, inv, d=None):
    """``tr(P D)`` for diagonal ``D`` (identity when ``d`` is None) without forming P."""
    wd = w if d is None else w * d
    return wd.sum(1) - np.einsum("bij,bji->b", inv, _xdx(X, w * wd))


def _tr_pdpe(w, X, inv, d=None, e=None):
    """``tr(P D P E)`` for diagonal ``D``, ``E`` (identity when None) in O(k p^2):
    ``sum w^2 d e - 2 tr(A X' W^3 D E X) + tr(A X' W^2 D X A X' W^2 E X)``."""
    d = np.ones_like(w) if d is None else d
    e = np.ones_like(w) if e is None else e
    w2 = w * w
    Md = _xdx(X, w2 * d)
    Me = Md if e is d else _xdx(X, w2 * e)
    t1 = (w2 * d * e).sum(1)
    t2 = np.einsum("bij,bji->b", inv, _xdx(X, w2 * w * d * e))
    t3 = np.einsum("bij,bjk,bkl,bli->b", inv, Md, inv, Me)
    return t1 - 2 * t2 + t3


def _safe_inv(A):
    if A.shape[1] == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(A > 0, 1.0 / np.where(A > 0, A, 1.0), np.nan)
    out = np.full(A.shape, np.nan)
    ok = np.all(np.isfinite(A), axis=(1, 2))
    if ok.any():
        try:
            out[ok] = np.linalg.inv(A[ok])
        except np.linalg.LinAlgError:
            for i in np.flatnonzero(ok):
                try:
                    out[i] = np.linalg.inv(A[i])
                except np.linalg.LinAlgError:
                    pass
    return out


def _mad(Y, valid):
    """R's ``mad`` (scaled median absolute deviation) of every row's valid entries."""
    some = valid.any(axis=1)  # rows with no valid entry give NaN without nanmedian's all-NaN warning
    Yn = np.where(valid, Y, np.nan)[some]
    med = np.nanmedian(Yn, axis=1)
    out = np.full(Y.shape[0], np.nan)
    out[some] = 1.4826 * np.nanmedian(np.abs(Yn - med[:, None]), axis=1)
    return out


def _qe(tau2, Ymc, V, X, valid):
    """Generalised Q: ``y'P y`` with weights ``1/(v + tau2)`` (metafor's ``.QE.func``)."""
    w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
    res = _resid(w, X, Ymc)
    return (w * res * res).sum(1)


def estimate_tau2(method, Ymc, V, X, valid, k, p, ctrl, Yraw):
    """tau2, its SE, convergence flags, iteration counts, notes and the algorithm used per row.

    Works in O(k p^2) memory per row: the traces and quadratic forms of
    ``P = W - W X (X'WX)^-1 X'W`` are expanded so no k x k matrix is formed.
    """
    B = Ymc.shape[0]
    kp = k - p
    tau2 = np.zeros(B)
    se_tau2 = np.full(B, np.nan)
    conv = np.ones(B, dtype=bool)
    iters = np.zeros(B, dtype=int)
    notes = np.full(B, "", dtype=object)
    algo = np.full(B, "", dtype=object)
    maskf = valid.astype(float)
    Vd = np.where(valid, V, 0.0)
    if method in ("EE", "FE"):
        return tau2, se_tau2, conv, iters, notes, algo
    w_fe = np.where(valid, 1.0 / V, 0.0)
    if method in ("HS", "DL"):
        inv = _inv_xtwx(w_fe, X)
        res = _resid(w_fe, X, Ymc, inv)
        RSS = (w_fe * res * res).sum(1)
        sw = w_fe.sum(1)
        trP = _tr_pd(w_fe, X, inv)
        sPP = _tr_pdpe(w_fe, X, inv)
        if method == "HS":
            tau2 = (RSS - k) / sw
            t = np.maximum(tau2, 0)
            se_tau2 = np.sqrt(1 / sw**2 * (2 * kp + 4 * t * trP + 2 * t**2 * sPP))
        else:
            tau2 = (RSS - kp) / trP
            t = np.maximum(tau2, 0)
            se_tau2 = np.sqrt(1 / trP**2 * (2 * kp + 4 * t * trP + 2 * t**2 * sPP))
    elif method == "SJ":
        n = valid.sum(1)
        mean = (Ymc * maskf).sum(1) / n
        tau2_0 = ((Ymc - mean[:, None]) ** 2 * maskf).sum(1) / n
        if ctrl.tau2_init is not None:
            tau2_0 = np.full(B, float(ctrl.tau2_init))
        w = np.where(valid, 1.0 / (V + tau2_0[:, None]), 0.0)
        inv = _inv_xtwx(w, X)
        res = _resid(w, X, Ymc, inv)
        RSS = (w * res * res).sum(1)
        tau2 = tau2_0 * RSS / kp
        t = np.maximum(tau2, 0)
        se_tau2 = np.sqrt(
            tau2_0**2 / kp**2
            * (2 * _tr_pdpe(w, X, inv, Vd, Vd) + 4 * t * _tr_pdpe(w, X, inv, Vd, None)
               + 2 * t**2 * _tr_pdpe(w, X, inv))
        )
    elif method == "PM":
        tau2, conv, notes = _paule_mandel(Ymc, V, X, valid, kp, ctrl, Yraw)
        w = np.where(valid, 1.0 / (V + np.maximum(tau2, ctrl.tau2_min)[:, None]), 0.0)
        se_tau2 = np.sqrt(2 * k**2 / kp / w.sum(1) ** 2)
    else:
        inv1 = _inv_xtwx(maskf, X)
        res1 = _resid(maskf, X, Ymc, inv1)
        tau2_he = ((maskf * res1 * res1).sum(1) - _tr_pd(maskf, X, inv1, Vd)) / kp
        if method == "HE":
            tau2 = tau2_he
            t = np.maximum(tau2, 0)
            se_tau2 = np.sqrt(
                1 / kp**2 * (2 * _tr_pdpe(maskf, X, inv1, Vd, Vd) + 4 * t * _tr_pd(maskf, X, inv1, Vd)
                             + 2 * t**2 * kp)
            )
        else:
            start = np.maximum(np.maximum(0.0, tau2_he), ctrl.tau2_min)
            if ctrl.tau2_init is not None:
                start = np.full(B, float(ctrl.tau2_init))
            tau2, conv, iters = _fisher_scoring(method, start, Ymc, V, X, valid, k, p, ctrl)
            algo[:] = "Fisher scoring"
            if method in ("ML", "REML") and ctrl.ll0check:
                stuck = _ll0check(method, tau2, conv, Ymc, V, X, valid, k, p, ctrl)
                stuck &= ~(valid & (V <= 0)).any(1)  # as metafor: only when every vi > 0
                if stuck.any():
                    tau2 = np.where(stuck, 0.0, tau2)
                    notes = np.where(stuck, "Fisher scoring may have got stuck at a local maximum; tau2 set to 0", notes)
            failed = np.flatnonzero(~conv & (kp >= 1) & np.all(np.isfinite(np.where(valid, Ymc, 0.0)), axis=1))
            for r in failed:
                rs = slice(r, r + 1)
                if method == "EB":
                    t_r, ok = _eb_root(Ymc[rs], V[rs], X[rs], valid[rs], k[r], p, ctrl, Yraw[rs])
                    how = "root of the empirical Bayes equation (Brent)"
                else:
                    t_r, ok = _maximise_bracketed(method, Ymc[rs], V[rs], X[rs], valid[rs], p, ctrl, Yraw[rs])
                    how = "bracketed maximisation of the " + ("restricted " if method == "REML" else "") + "likelihood"
                if ok:
                    tau2[r], conv[r] = t_r, True
                    algo[r] = how
                    notes[r] = (f"Fisher scoring did not converge in {ctrl.maxiter} iterations; tau2 is from "
                                f"{how} instead")
                else:  # never report an unconverged iterate as an estimate
                    tau2[r] = np.nan
                    notes[r] = f"{method} estimation of tau2 did not converge"
                    algo[r] = ""

            w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
            if method == "ML":
                se_tau2 = np.sqrt(2 / (w**2).sum(1))
            elif method == "REML":
                se_tau2 = np.sqrt(2 / _tr_pdpe(w, X, _inv_xtwx(w, X)))
            else:
                se_tau2 = np.sqrt(2 * k**2 / kp / w.sum(1) ** 2)
    tau2 = np.maximum(ctrl.tau2_min, tau2)
    return tau2, se_tau2, conv, iters, notes, algo


def _se_tau2_at(method, tau2, V, X, valid, k, p):
    """SE of tau2 at a given value (ML, REML, EB information; NaN for other methods)."""
    w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "ML":
            return np.sqrt(2 / (w**2).sum(1))
        if method == "REML":
            return np.sqrt(2 / _tr_pdpe(w, X, _inv_xtwx(w, X)))
        if method == "EB":
            return np.sqrt(2 * k**2 / (k - p) / w.sum(1) ** 2)
    return np.full(len(tau2), np.nan)


def _score(method, tau2, Ymc, V, X, valid):
    """d loglik / d tau2 (ML or REML) for every row, in O(k p^2)."""
    w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
    inv = _inv_xtwx(w, X)
    Py = w * _resid(w, X, Ymc, inv)
    yPPy = (Py * Py).sum(1)
    if method == "ML":
        return 0.5 * (yPPy - w.sum(1))
    return 0.5 * (yPPy - _tr_pd(w, X, inv))


def _upper_bracket(method, Ymc, V, X, valid, ctrl, Yraw):
    """An upper end for tau2 beyond which the (restricted) likelihood only falls."""
    if ctrl.tau2_max is not None:
        return float(ctrl.tau2_max)
    hi = float(max(100.0, 10 * _mad(Yraw, valid)[0] ** 2))
    for _ in range(60):
        if not _score(method, np.array([hi]), Ymc, V, X, valid)[0] > 0:
            break
        hi *= 10
    return hi


def _grid_eval(fun, grid, Ymc, V, X, valid, chunk_cells=2_000_000):
    """``fun`` at every tau2 in ``grid`` for one meta-analysis (rows of a temporary batch)."""
    k = Ymc.shape[1]
    step = max(1, chunk_cells // max(k, 1))
    out = np.empty(grid.size)
    for s in range(0, grid.size, step):
        g = grid[s:s + step]
        n = g.size
        out[s:s + step] = fun(g, np.broadcast_to(Ymc, (n, k)), np.broadcast_to(V, (n, k)),
                              np.broadcast_to(X, (n, *X.shape[1:])), np.broadcast_to(valid, (n, k)))
    return out


def _maximise_bracketed(method, Ymc, V, X, valid, p, ctrl, Yraw, n_grid=160):
    """Global maximum of the ML/REML log-likelihood in tau2 for one meta-analysis.

    A grid (0 and log-spaced points up to an upper end where the score is negative)
    locates the highest point; the maximum is then the root of the score between the
    grid neighbours (Brent's zero-in, as R's ``uniroot``) or, without a sign change,
    a bounded golden-section search. Both are guaranteed to converge on the bracket.
    Returns ``(tau2, ok)``.
    """
    from scipy.optimize import minimize_scalar

    lo0 = float(ctrl.tau2_min)
    hi = _upper_bracket(method, Ymc, V, X, valid, ctrl, Yraw)
    grid = lo0 + np.concatenate([[0.0], np.geomspace(hi * 1e-10, hi - lo0 if hi > lo0 else hi, n_grid)])
    ll = _grid_eval(lambda g, *a: _loglik(method, g, *a, p), grid, Ymc, V, X, valid)
    if not np.isfinite(ll).any():
        return np.nan, False
    i = int(np.nanargmax(ll))
    lo, up = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]

    def score(t):
        return float(_score(method, np.array([t]), Ymc, V, X, valid)[0])

    s_lo, s_up = score(lo), score(up)
    if i == 0 and s_lo <= 0:
        return lo0, True
    if s_lo > 0 > s_up:
        root, ok = zeroin_scalar(score, lo, up, s_lo, s_up, tol=4 * EPS * up, maxiter=1000)
        if ok:
            return float(root), True
    res = minimize_scalar(lambda t: -float(_loglik(method, np.array([t]), Ymc, V, X, valid, p)[0]),
                          bounds=(lo, up), method="bounded", options={"xatol": 1e-12 * max(up, 1e-8), "maxiter": 1000})
    return float(res.x), bool(res.success)


def _eb_root(Ymc, V, X, valid, k, p, ctrl, Yraw):
    """Empirical Bayes tau2 as the root of ``y'P y k/(k - p) = k`` (decreasing in tau2)."""
    def f(t):
        return float(_qe(np.array([t]), Ymc, V, X, valid)[0] * k / (k - p) - k)

    lo = float(ctrl.tau2_min)
    f_lo = f(lo)
    if f_lo <= 0:
        return lo, True
    hi = float(max(100.0, 10 * _mad(Yraw, valid)[0] ** 2)) if ctrl.tau2_max is None else float(ctrl.tau2_max)
    for _ in range(60):
        if f(hi) < 0:
            break
        hi *= 10
    root, ok = zeroin_scalar(f, lo, hi, f_lo, f(hi), tol=4 * EPS * hi, maxiter=1000)
    return float(root), bool(ok)


def _fisher_scoring(method, tau2, Ymc, V, X, valid, k, p, ctrl):
    """ML, REML or EB by Fisher scoring with step halving (metafor's loop, row by row).

    Every loop is capped: at most ``maxiter`` scoring steps, at most 100 halvings of a
    step (a step that still leaves tau2 below ``tau2_min`` is then taken to ``tau2_min``)."""
    B = len(tau2)
    tau2 = tau2.astype(float).copy()
    conv = np.ones(B, dtype=bool)
    iters = np.zeros(B, dtype=int)
    active = np.ones(B, dtype=bool)
    for _ in range(int(ctrl.maxiter) + 2):
        if not active.any():
            break
        rows = np.flatnonzero(active)
        t = tau2[rows]
        vr, val = V[rows], valid[rows]
        w = np.where(val, 1.0 / (vr + t[:, None]), 0.0)
        Xr = X[rows]
        inv = _inv_xtwx(w, Xr)
        y = Ymc[rows]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            Py = w * _resid(w, Xr, y, inv)
            if method == "EB":
                adj = ((Py * y).sum(1) * k[rows] / (k[rows] - p) - k[rows]) / w.sum(1)
            else:
                yPPy = (Py * Py).sum(1)
                if method == "ML":
                    adj = (yPPy - w.sum(1)) / (w**2).sum(1)
                else:
                    adj = (yPPy - _tr_pd(w, Xr, inv)) / _tr_pdpe(w, Xr, inv)
            adj = adj * ctrl.stepadj
        adj = np.where(np.isfinite(adj), adj, 0.0)
        low = t + adj < ctrl.tau2_min
        for _ in range(100):
            if not low.any():
                break
            adj = np.where(low, adj / 2, adj)
            low = t + adj < ctrl.tau2_min
        new = np.where(low, ctrl.tau2_min, t + adj)
        change = np.abs(t - new)
        tau2[rows] = new
        iters[rows] += 1
        over = iters[rows] > ctrl.maxiter
        conv[rows[over]] = False
        active[rows[(change <= ctrl.threshold) | over]] = False
    return tau2, conv, iters


def _loglik(method, tau2, Ymc, V, X, valid, p):
    """ML or REML log-likelihood at ``tau2`` per row, up to metafor's constant
    ``+ 1/2 log|X'X|`` (REML; added by :func:`fit_stats`)."""
    w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
    inv = _inv_xtwx(w, X)
    res = _resid(w, X, Ymc, inv)
    RSS = (w * res**2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.where(valid, np.log(np.where(valid, V + tau2[:, None], 1.0)), 0.0).sum(1)
    k = valid.sum(1)
    if method == "ML":
        return -0.5 * k * np.log(2 * np.pi) - 0.5 * logv - 0.5 * RSS
    logdet = np.linalg.slogdet(np.einsum("bki,bk,bkj->bij", X, w, X))[1]
    return -0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * logv - 0.5 * logdet - 0.5 * RSS


def _ll0check(method, tau2, conv, Ymc, V, X, valid, k, p, ctrl):
    """metafor's guard: if the likelihood at tau2 = 0 is higher, the scoring got stuck."""
    ll0 = _loglik(method, np.zeros_like(tau2), Ymc, V, X, valid, p)
    ll = _loglik(method, tau2, Ymc, V, X, valid, p)
    return conv & (ll0 - ll > ctrl.tol) & (tau2 > ctrl.threshold)


def _paule_mandel(Ymc, V, X, valid, kp, ctrl, Yraw):
    B = Ymc.shape[0]
    tau2 = np.full(B, ctrl.tau2_min, dtype=float)
    conv = np.ones(B, dtype=bool)
    notes = np.full(B, "", dtype=object)
    tmax = ctrl.tau2_max
    if tmax is None:
        tmax_arr = np.maximum(100.0, 10 * _mad(Yraw, valid) ** 2)
    else:
        tmax_arr = np.full(B, float(tmax))
    lo = np.full(B, float(ctrl.tau2_min))
    q_lo = _qe(lo, Ymc, V, X, valid) - kp
    q_hi = _qe(tmax_arr, Ymc, V, X, valid) - kp
    search = ~(q_lo < 0)
    too_low = search & (q_hi > 0)
    tau2[too_low] = np.nan
    conv[too_low] = False
    notes[too_low] = "tau2_max too low for the Paule-Mandel estimator"
    search &= ~too_low
    rows = np.flatnonzero(search)
    if rows.size:
        def f(x, sub):
            r = rows[sub]
            return _qe(x, Ymc[r], V[r], X[r], valid[r]) - kp[r]

        if rows.size == 1:
            r0, ok0 = zeroin_scalar(lambda x: float(f(np.array([x]), np.array([0]))[0]), float(lo[rows[0]]),
                                    float(tmax_arr[rows[0]]), float(q_lo[rows[0]]), float(q_hi[rows[0]]),
                                    ctrl.tol, ctrl.maxiter)
            root, ok = np.array([r0]), np.array([ok0])
        else:
            root, ok = zeroin(f, lo[rows], tmax_arr[rows], q_lo[rows], q_hi[rows], ctrl.tol, ctrl.maxiter)
        tau2[rows] = root
        conv[rows] = ok
    return tau2, conv, notes


def fit_core(Y, V, X, valid=None, method="REML", test="z", A=None, level=95.0, control=None,
             intercept_col=None, tau2_fixed=None):
    """Fit ``B`` meta-analyses at once; see the module docstring for the formulas.

    ``Y``, ``V``: (B, k); ``X``: (B, k, p) or (k, p); ``A``: optional user weights (B, k).
    ``tau2_fixed``: a value (or one per row) at which tau2 is held instead of estimated
    (metafor's ``tau2=`` argument; ignored for EE).
    Invalid rows (k = 0, k < p, non-positive variances, failed estimation) are NaN
    with their ``reason`` set.
    """
    method = "EE" if method == "FE" else method
    ctrl = Control.from_any(control)
    Y = np.asarray(Y, dtype=float)
    V = np.asarray(V, dtype=float)
    if Y.ndim == 1:
        Y, V = Y[None, :], V[None, :]
    B, K = Y.shape
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = np.broadcast_to(X, (B, *X.shape))
    p = X.shape[2]
    if valid is None:
        valid = ~np.isnan(Y) & ~np.isnan(V) & ~np.isnan(X).any(axis=2)
        if A is not None:
            valid &= ~np.isnan(A)
    reason = np.full(B, "", dtype=object)
    k = valid.sum(1).astype(float)
    nonpos = (valid & ~(V >= 0)).any(1)
    reason[nonpos] = "non-positive sampling variance (negative)"
    # vi = 0 (metafor accepts it for HE, SJ, ML, REML, EB, and for EE with user weights and a z test;
    # tau2 > 0 is then needed for the weights 1/(vi + tau2))
    zero_v = (valid & (V == 0)).any(1) & ~nonpos
    if method in ("DL", "HS", "PM"):
        reason[zero_v] = f"{method} estimator cannot be used when there are non-positive sampling variances"
    elif method == "EE" and (A is None or test == "knha"):
        reason[zero_v] = "division by zero when computing the inverse variance weights (sampling variances of 0)"
    reason[k < 1] = "no studies (k = 0)"
    reason[(k < p) & (k >= 1)] = "fewer studies than coefficients"
    if method != "EE":  # tau2 is one more parameter (metafor stops when p + 1 > k, except k = p = 1)
        reason[(k == p) & (k > 1)] = "fewer studies than coefficients plus tau2"
    bad = reason != ""
    valid = valid & ~bad[:, None]
    Vs = np.where(valid, V, 1.0)
    Ys = np.where(valid, Y, 0.0)
    Xs = np.where(valid[:, :, None], X, 0.0)
    keff = np.where(bad, np.nan, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = Ys.sum(1) / np.where(k > 0, k, 1)
    Ymc = np.where(valid, Ys - mean[:, None], 0.0)
    if intercept_col is None:
        intercept_col = _intercept_column(X, valid)
    k1 = (k == 1) & ~bad
    fixed = tau2_fixed is not None and method != "EE"
    if fixed:
        tau2 = np.broadcast_to(np.asarray(tau2_fixed, dtype=float), (B,)).copy()
        se_tau2 = _se_tau2_at(method, tau2, Vs, Xs, valid, np.where(bad, np.nan, k), p)
        conv = np.ones(B, dtype=bool)
        iters = np.zeros(B, dtype=int)
        notes = np.full(B, "", dtype=object)
        algo = np.full(B, "fixed", dtype=object)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            tau2, se_tau2, conv, iters, notes, algo = estimate_tau2(
                method, Ymc, Vs, Xs, valid, np.where(bad, np.nan, k), p, ctrl, np.where(valid, Y, np.nan)
            )
        tau2 = np.where(k1, 0.0, tau2)
    if method != "EE":  # weights 1/(vi + tau2) are infinite when tau2 = 0 and some vi = 0
        divzero = zero_v & ~bad & ~(tau2 > 0) & ((A is None) | (test == "knha"))
        reason[divzero] = "division by zero when computing the inverse variance weights (sampling variances of 0 and tau2 = 0)"
        bad = bad | divzero
    se_tau2 = np.where(k1 | bad, np.nan, se_tau2)
    tau2 = np.where(bad, np.nan, tau2)
    reason = np.where(~bad & (notes != ""), notes, reason)
    failed = ~bad & np.isnan(tau2)
    bad = bad | failed
    knha = np.full(B, test == "knha") & ~k1
    with np.errstate(invalid="ignore", divide="ignore"):  # vi = 0 with user weights: 1/vi is not used
        out = _fixed_part(Ys, Vs, Xs, valid, tau2, A, knha, keff, p, level, intercept_col)
    with np.errstate(invalid="ignore", divide="ignore"):
        het = _heterogeneity(Ymc, Vs, Xs, valid, keff, p, tau2, method)
    if zero_v.any():  # Q, I2, H2 need 1/vi (metafor: "Cannot compute Q-test, I^2, or H^2 ...")
        het = {key: np.where(zero_v, np.nan, val) for key, val in het.items()}
    conv = conv & ~bad
    with np.errstate(invalid="ignore", divide="ignore"):
        stats_ = _fit_stats(Ys, Vs, Xs, valid, tau2, out["b"], keff, p)
    return CoreFit(
        tau2=tau2, se_tau2=se_tau2, k=k.astype(int), p=p, converged=np.where(k1, True, conv),
        iterations=iters, reason=reason, test=np.where(knha, "knha", "z"), algorithm=algo, **out, **het,
        **stats_,
    )


def _fit_stats(Y, V, X, valid, tau2, beta, k, p):
    """metafor's ``fit.stats``: ML and REML log-likelihoods at the estimates and the ML
    deviance (against the saturated model), row by row in O(k p^2)."""
    t = np.nan_to_num(tau2)
    w = np.where(valid, 1.0 / (V + t[:, None]), 0.0)
    res = np.where(valid, Y - np.einsum("bkj,bj->bk", X, np.nan_to_num(beta)), 0.0)
    RSS = (w * res * res).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.where(valid, np.log(np.where(valid, V + t[:, None], 1.0)), 0.0).sum(1)
        logv0 = np.where(valid, np.log(np.where(valid, V, 1.0)), 0.0).sum(1)
        ll_ml = -0.5 * k * np.log(2 * np.pi) - 0.5 * logv - 0.5 * RSS
        ld_xx = np.linalg.slogdet(_xdx(X, valid.astype(float)))[1]
        ld_xwx = np.linalg.slogdet(_xdx(X, w))[1]
        ll_reml = -0.5 * (k - p) * np.log(2 * np.pi) + 0.5 * ld_xx - 0.5 * logv - 0.5 * ld_xwx - 0.5 * RSS
        sat = -0.5 * k * np.log(2 * np.pi) - 0.5 * logv0
        dev_ml = np.where(k > p, -2 * (ll_ml - sat), 0.0)
    nan = np.isnan(tau2)
    return dict(ll_ML=np.where(nan, np.nan, ll_ml), ll_REML=np.where(nan, np.nan, ll_reml),
                dev_ML=np.where(nan, np.nan, dev_ml))


def _intercept_column(X, valid):
    """Index of a column of ones (metafor's ``int.incl``), or -1."""
    for j in range(X.shape[2]):
        col = np.where(valid, X[:, :, j], 1.0)
        if np.all(col == 1.0):
            return j
    return -1


def _fixed_part(Y, V, X, valid, tau2, A, knha, k, p, level, icol):
    w = np.where(valid, 1.0 / (V + np.nan_to_num(tau2)[:, None]), 0.0)
    inv_w = _inv_xtwx(w, X)
    beta_w = np.einsum("bij,bkj,bk->bi", inv_w, X, w * Y)
    RSS_knha = (w * (Y - np.einsum("bkj,bj->bk", X, beta_w)) ** 2).sum(1)
    if A is None:
        beta, vb, used = beta_w, inv_w, w
    else:
        Aw = np.where(valid, A, 0.0)
        inv_a = _inv_xtwx(Aw, X)
        beta = np.einsum("bij,bkj,bk->bi", inv_a, X, Aw * Y)
        M = np.where(valid, V + np.nan_to_num(tau2)[:, None], 0.0)
        AX = Aw[:, :, None] * X
        meat = np.einsum("bki,bk,bkj->bij", AX, M, AX)
        vb = inv_a @ meat @ inv_a
        used = Aw
    with np.errstate(invalid="ignore", divide="ignore"):
        s2w_knha = np.where(RSS_knha <= EPS, 0.0, RSS_knha / (k - p))
    s2w = np.where(knha, s2w_knha, 1.0)
    vb = vb * s2w[:, None, None]
    nanrow = np.isnan(tau2)
    beta = np.where(nanrow[:, None], np.nan, beta)
    vb = np.where(nanrow[:, None, None], np.nan, vb)
    se = np.sqrt(np.einsum("bii->bi", vb))
    with np.errstate(invalid="ignore", divide="ignore"):
        zval = beta / se
    dfs = np.where(knha, k - p, np.nan)
    alpha = 1 - level / 100
    with np.errstate(invalid="ignore"):
        df_ok = np.where(dfs > 0, dfs, 1.0)
        crit_t = special.stdtrit(df_ok, 1 - alpha / 2)
        crit = np.where(knha, np.where(dfs > 0, crit_t, np.nan), -special.ndtri(alpha / 2))
        pval_t = 2 * special.stdtr(df_ok[:, None], -np.abs(zval))
        pval = np.where(knha[:, None], np.where((dfs > 0)[:, None], pval_t, np.nan), 2 * special.ndtr(-np.abs(zval)))
    ci_lb = beta - crit[:, None] * se
    ci_ub = beta + crit[:, None] * se
    btt = [j for j in range(p) if j != icol] if (icol >= 0 and p > 1) else list(range(p))
    m = len(btt)
    QM = _wald(beta[:, btt], vb[:, btt][:, :, btt])
    with np.errstate(invalid="ignore"):
        QM_knha = QM / m
        QMp_knha = np.where(dfs > 0, special.fdtrc(m, df_ok, QM_knha), np.nan)
        QMp = np.where(knha, QMp_knha, special.chdtrc(m, QM))
        QM = np.where(knha, QM_knha, QM)
    return dict(b=beta, vb=vb, se=se, zval=zval, pval=pval, ci_lb=ci_lb, ci_ub=ci_ub, QM=QM, QMp=QMp,
                dfs=dfs, s2w=s2w, crit=crit, weights=used)


def _wald(b, vb):
    out = np.full(b.shape[0], np.nan)
    ok = np.all(np.isfinite(vb), axis=(1, 2))
    if ok.any():
        try:
            L = np.linalg.cholesky(vb[ok])
            z = np.linalg.solve(L, b[ok][:, :, None])[:, :, 0]
            out[ok] = (z**2).sum(1)
        except np.linalg.LinAlgError:
            for i in np.flatnonzero(ok):
                try:
                    out[i] = float(b[i] @ np.linalg.solve(vb[i], b[i]))
                except np.linalg.LinAlgError:
                    pass
    return out


def _heterogeneity(Ymc, V, X, valid, k, p, tau2, method):
    w = np.where(valid, 1.0 / V, 0.0)
    inv = _inv_xtwx(w, X)
    res = _resid(w, X, Ymc, inv)
    with np.errstate(invalid="ignore", divide="ignore"):
        QE = np.maximum(0.0, (w * res * res).sum(1))
        df = k - p
        QEp = special.chdtrc(np.where(df > 0, df, 1.0), QE)
        vt = df / _tr_pd(w, X, inv)
        if method in ("EE", "FE"):
            I2 = np.maximum(0.0, 100 * (QE - df) / QE)
            H2 = QE / df
        else:
            I2 = 100 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1
    none = df == 0
    QE = np.where(none, 0.0, QE)
    QEp = np.where(none, 1.0, QEp)
    I2 = np.where(none, 0.0, I2)
    H2 = np.where(none, 1.0, H2)
    vt = np.where(none, 0.0, vt)
    nan = np.isnan(tau2)
    return dict(QE=np.where(nan, np.nan, QE), QEp=np.where(nan, np.nan, QEp), I2=np.where(nan, np.nan, I2),
                H2=np.where(nan, np.nan, H2), vt=np.where(nan, np.nan, vt))


def r2_batch(fit_full: CoreFit, Y, V, X, valid, method, test, A, control, icol, tau2_fixed=None):
    """metafor's pseudo-R2: ``100 * max(0, (tau2_RE - tau2)/tau2_RE)`` against the
    intercept-only model with tau2 estimated (also when the full model's tau2 is fixed);
    ``tau2_fixed`` is accepted for symmetry and not used. Against the
    intercept-only model; for equal-effects models the adjusted R2 of the weighted
    least-squares regression."""
    B = Y.shape[0]
    if icol < 0 or fit_full.p == 1:
        return np.full(B, np.nan)
    method = "EE" if method == "FE" else method
    if method == "EE":
        return _r2_fixed(Y, V, X, valid, A, fit_full)
    Xi = np.ones((B, Y.shape[1], 1))
    red = fit_core(Y, V, Xi, valid=valid, method=method, test=test, A=A, control=control, intercept_col=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.maximum(0.0, 100 * (red.tau2 - fit_full.tau2) / red.tau2)
    return np.where(red.tau2 == 0, 0.0, r2)


def _r2_fixed(Y, V, X, valid, A, fit):
    w = np.where(valid, 1.0 / V, 0.0) if A is None else np.where(valid, A, 0.0)
    Yv = np.where(valid, Y, 0.0)
    Xv = np.where(valid[:, :, None], X, 0.0)
    inv = _inv_xtwx(w, Xv)
    beta = np.einsum("bij,bkj,bk->bi", inv, Xv, w * Yv)
    f = np.einsum("bkj,bj->bk", Xv, beta)
    res = Yv - f
    rss = (w * res**2).sum(1)
    fm = (w * f).sum(1) / w.sum(1)
    mss = (w * (f - fm[:, None]) ** 2).sum(1)
    k = valid.sum(1)
    p = X.shape[2]
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = mss / (mss + rss)
        adj = 1 - (1 - r2) * (k - 1) / (k - p)
    Ym = np.where(valid, Y, np.nan)
    const = np.nanmax(Ym, axis=1) == np.nanmin(Ym, axis=1)
    return np.where(const, 0.0, np.maximum(0.0, 100 * adj))
