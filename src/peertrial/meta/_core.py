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

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from peertrial.meta._zeroin import zeroin, zeroin_scalar

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
    warnings: list = field(default_factory=list)


def _quad(u, M, w=None):
    """``u' M w`` row by row."""
    return np.einsum("bi,bij,bj->b", u, M, u if w is None else w)


def _hat_parts(w, X):
    """``(X'WX)^-1`` and ``P = W - W X (X'WX)^-1 X'W`` for weights ``w`` (B, k)."""
    WX = w[:, :, None] * X
    XtWX = np.matmul(X.transpose(0, 2, 1), WX)
    inv = _safe_inv(XtWX)
    P = -np.matmul(np.matmul(WX, inv), WX.transpose(0, 2, 1))
    idx = np.arange(w.shape[1])
    P[:, idx, idx] += w
    return inv, P


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


def _trace(M):
    return np.einsum("bii->b", M)


def _mad(Y, valid):
    """R's ``mad`` (scaled median absolute deviation) of every row's valid entries."""
    Yn = np.where(valid, Y, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        med = np.nanmedian(Yn, axis=1)
        return 1.4826 * np.nanmedian(np.abs(Yn - med[:, None]), axis=1)


def _qe(tau2, Ymc, V, X, valid):
    """Generalised Q: ``y'P y`` with weights ``1/(v + tau2)`` (metafor's ``.QE.func``)."""
    w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
    _, P = _hat_parts(w, X)
    return _quad(Ymc, P)


def estimate_tau2(method, Ymc, V, X, valid, k, p, ctrl, Yraw):
    """tau2, its SE, convergence flags and iteration counts for every row."""
    B = Ymc.shape[0]
    kp = k - p
    tau2 = np.zeros(B)
    se_tau2 = np.full(B, np.nan)
    conv = np.ones(B, dtype=bool)
    iters = np.zeros(B, dtype=int)
    notes = np.full(B, "", dtype=object)
    maskf = valid.astype(float)
    Vd = np.where(valid, V, 0.0)
    if method in ("EE", "FE"):
        return tau2, se_tau2, conv, iters, notes
    w_fe = np.where(valid, 1.0 / V, 0.0)
    if method in ("HS", "DL"):
        _, P = _hat_parts(w_fe, X)
        RSS = _quad(Ymc, P)
        sw = w_fe.sum(1)
        trP = _trace(P)
        sPP = np.einsum("bij,bij->b", P, P)
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
        _, P = _hat_parts(w, X)
        RSS = _quad(Ymc, P)
        tau2 = tau2_0 * RSS / kp
        PV = P * Vd[:, None, :]
        t = np.maximum(tau2, 0)
        se_tau2 = np.sqrt(
            tau2_0**2 / kp**2
            * (2 * np.einsum("bij,bji->b", PV, PV) + 4 * t * np.einsum("bij,bij->b", PV, P)
               + 2 * t**2 * np.einsum("bij,bij->b", P, P))
        )
    elif method == "PM":
        tau2, conv, notes = _paule_mandel(Ymc, V, X, valid, kp, ctrl, Yraw)
        w = np.where(valid, 1.0 / (V + np.maximum(tau2, ctrl.tau2_min)[:, None]), 0.0)
        se_tau2 = np.sqrt(2 * k**2 / kp / w.sum(1) ** 2)
    else:
        tau2_he, PV_he, P_he = _hedges(Ymc, Vd, X, maskf, kp)
        if method == "HE":
            tau2 = tau2_he
            t = np.maximum(tau2, 0)
            se_tau2 = np.sqrt(
                1 / kp**2 * (2 * np.einsum("bij,bji->b", PV_he, PV_he) + 4 * t * _trace(PV_he) + 2 * t**2 * kp)
            )
        else:
            start = np.maximum(np.maximum(0.0, tau2_he), ctrl.tau2_min)
            if ctrl.tau2_init is not None:
                start = np.full(B, float(ctrl.tau2_init))
            tau2, conv, iters = _fisher_scoring(method, start, Ymc, V, X, valid, k, p, ctrl)
            if method in ("ML", "REML") and ctrl.ll0check:
                stuck = _ll0check(method, tau2, conv, Ymc, V, X, valid, k, p, ctrl)
                if stuck.any():
                    tau2 = np.where(stuck, 0.0, tau2)
                    notes = np.where(stuck, "Fisher scoring may have got stuck at a local maximum; tau2 set to 0", notes)
            w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
            if method == "ML":
                se_tau2 = np.sqrt(2 / (w**2).sum(1))
            elif method == "REML":
                _, P = _hat_parts(w, X)
                se_tau2 = np.sqrt(2 / np.einsum("bij,bij->b", P, P))
            else:
                se_tau2 = np.sqrt(2 * k**2 / kp / w.sum(1) ** 2)
    tau2 = np.maximum(ctrl.tau2_min, tau2)
    return tau2, se_tau2, conv, iters, notes


def _hedges(Ymc, Vd, X, maskf, kp):
    """Hedges' (HE) estimator from OLS residuals; also returns ``P V`` and ``P``."""
    _, P = _hat_parts(maskf, X)
    RSS = _quad(Ymc, P)
    PV = P * Vd[:, None, :]
    return (RSS - _trace(PV)) / kp, PV, P


def _fisher_scoring(method, tau2, Ymc, V, X, valid, k, p, ctrl):
    """ML, REML or EB by Fisher scoring with step halving (metafor's loop, row by row)."""
    B = len(tau2)
    tau2 = tau2.astype(float).copy()
    conv = np.ones(B, dtype=bool)
    iters = np.zeros(B, dtype=int)
    active = np.ones(B, dtype=bool)
    while active.any():
        rows = np.flatnonzero(active)
        t = tau2[rows]
        vr, val = V[rows], valid[rows]
        w = np.where(val, 1.0 / (vr + t[:, None]), 0.0)
        _, P = _hat_parts(w, X[rows])
        y = Ymc[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            if method == "EB":
                adj = (_quad(y, P) * k[rows] / (k[rows] - p) - k[rows]) / w.sum(1)
            else:
                Py = np.einsum("bij,bj->bi", P, y)
                yPPy = np.einsum("bi,bi->b", Py, Py)
                if method == "ML":
                    adj = (yPPy - w.sum(1)) / (w**2).sum(1)
                else:
                    adj = (yPPy - _trace(P)) / np.einsum("bij,bij->b", P, P)
        adj = adj * ctrl.stepadj
        adj = np.where(np.isnan(adj), 0.0, adj)
        low = t + adj < ctrl.tau2_min
        while low.any():
            adj = np.where(low, adj / 2, adj)
            low = t + adj < ctrl.tau2_min
        new = t + adj
        change = np.abs(t - new)
        tau2[rows] = new
        iters[rows] += 1
        over = iters[rows] > ctrl.maxiter
        conv[rows[over]] = False
        active[rows[(change <= ctrl.threshold) | over]] = False
    return tau2, conv, iters


def _loglik(method, tau2, Ymc, V, X, valid, p):
    w = np.where(valid, 1.0 / (V + tau2[:, None]), 0.0)
    inv, _ = _hat_parts(w, X)
    beta = np.einsum("bij,bkj,bk->bi", inv, X, w * Ymc)
    res = Ymc - np.einsum("bkj,bj->bk", X, beta)
    RSS = (w * res**2).sum(1)
    logv = np.where(valid, np.log(np.where(valid, V + tau2[:, None], 1.0)), 0.0).sum(1)
    k = valid.sum(1)
    if method == "ML":
        return -0.5 * k * np.log(2 * np.pi) - 0.5 * logv - 0.5 * RSS
    XtWX = np.einsum("bki,bk,bkj->bij", X, w, X)
    logdet = np.linalg.slogdet(XtWX)[1]
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
             intercept_col=None):
    """Fit ``B`` meta-analyses at once; see the module docstring for the formulas.

    ``Y``, ``V``: (B, k); ``X``: (B, k, p) or (k, p); ``A``: optional user weights (B, k).
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
    nonpos = (valid & ~(V > 0)).any(1)
    reason[nonpos] = "non-positive sampling variance"
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
    with np.errstate(invalid="ignore", divide="ignore"):
        tau2, se_tau2, conv, iters, notes = estimate_tau2(
            method, Ymc, Vs, Xs, valid, np.where(bad, np.nan, k), p, ctrl, np.where(valid, Y, np.nan)
        )
    tau2 = np.where(k1, 0.0, tau2)
    se_tau2 = np.where(k1 | bad, np.nan, se_tau2)
    tau2 = np.where(bad, np.nan, tau2)
    reason = np.where(~bad & (notes != ""), notes, reason)
    failed = ~bad & np.isnan(tau2)
    bad = bad | failed
    knha = np.full(B, test == "knha") & ~k1
    out = _fixed_part(Ys, Vs, Xs, valid, tau2, A, knha, keff, p, level, intercept_col)
    het = _heterogeneity(Ymc, Vs, Xs, valid, keff, p, tau2, method)
    conv = conv & ~bad
    return CoreFit(
        tau2=tau2, se_tau2=se_tau2, k=k.astype(int), p=p, converged=np.where(k1, True, conv),
        iterations=iters, reason=reason, test=np.where(knha, "knha", "z"), **out, **het,
    )


def _intercept_column(X, valid):
    """Index of a column of ones (metafor's ``int.incl``), or -1."""
    for j in range(X.shape[2]):
        col = np.where(valid, X[:, :, j], 1.0)
        if np.all(col == 1.0):
            return j
    return -1


def _fixed_part(Y, V, X, valid, tau2, A, knha, k, p, level, icol):
    w = np.where(valid, 1.0 / (V + np.nan_to_num(tau2)[:, None]), 0.0)
    inv_w, _ = _hat_parts(w, X)
    beta_w = np.einsum("bij,bkj,bk->bi", inv_w, X, w * Y)
    RSS_knha = (w * (Y - np.einsum("bkj,bj->bk", X, beta_w)) ** 2).sum(1)
    if A is None:
        beta, vb, used = beta_w, inv_w, w
    else:
        Aw = np.where(valid, A, 0.0)
        inv_a, _ = _hat_parts(Aw, X)
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
    _, P = _hat_parts(w, X)
    with np.errstate(invalid="ignore", divide="ignore"):
        QE = np.maximum(0.0, _quad(Ymc, P))
        df = k - p
        QEp = special.chdtrc(np.where(df > 0, df, 1.0), QE)
        vt = df / _trace(P)
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


def r2_batch(fit_full: CoreFit, Y, V, X, valid, method, test, A, control, icol):
    """metafor's pseudo-R2: ``100 * max(0, (tau2_RE - tau2)/tau2_RE)`` against the
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
    inv, _ = _hat_parts(w, Xv)
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
