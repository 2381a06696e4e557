"""Satterthwaite degrees of freedom for fixed effects of REML-fitted linear mixed models.

For a contrast ``c`` of the fixed effects with ``V(theta) = (X' Sigma(theta)^{-1} X)^{-1}``,

    df = 2 (c' V c)^2 / (g' A g),   g_i = c' (dV / d theta_i) c,   A = 2 H^{-1},

where ``H`` is the observed Hessian of the REML deviance ``-2 l_R`` in the variance
parameters ``theta`` at the estimate (Satterthwaite 1946; Kuznetsova, Brockhoff &
Christensen 2017, lmerTest; Christensen 2018 for the MMRM definition used by the R
package mmrm). ``df`` does not depend on how ``theta`` is parametrised when the REML
gradient vanishes (an interior optimum), so we use the covariance entries themselves:
``Sigma = sum_i theta_i Sigma_i`` with constant ``Sigma_i``, for which

    dV/dtheta_i  = V X' W Sigma_i W X V,
    H_ij         = -tr(P Sigma_i P Sigma_j) + 2 y' P Sigma_i P Sigma_j P y,

``W = Sigma^{-1}`` and ``P = W - W X V X' W``. lmerTest takes ``H`` by numerical
differentiation (numDeriv) in its own parameters; the analytic form lands on the same value.
At a boundary fit (a variance estimated at 0) the REML gradient does not vanish and the
parametrisation matters: for random-intercept models the pieces are moved to lmerTest's
``(theta = sd ratio, sigma)`` (``lmertest_varpar``), where the boundary component drops out.
"""

from __future__ import annotations

import numpy as np

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual", "asymptotic")


def check_df_method(df_method: str) -> str:
    m = str(df_method).lower().replace("_", "-").replace(" ", "-")
    if m == "kr":
        m = "kenward-roger"
    if m not in DF_METHODS:
        raise ValueError(f"df_method must be one of {DF_METHODS}, got {df_method!r}")
    return m


def satterthwaite(X: np.ndarray, y: np.ndarray, W: np.ndarray, dSigma: list[np.ndarray],
                  L: np.ndarray) -> np.ndarray:
    """Satterthwaite df of the contrasts ``L (k, p)`` for ``Sigma = sum theta_i dSigma[i]``.

    ``W`` is ``Sigma^{-1}`` at the REML estimate (``n x n``), ``dSigma`` the constant
    derivative matrices (``n x n`` each).
    """
    WX = W @ X
    V = np.linalg.inv(X.T @ WX)
    P = W - WX @ V @ WX.T
    u = P @ y
    q = len(dSigma)
    PS = [P @ S for S in dSigma]
    Su = [S @ u for S in dSigma]
    H = np.empty((q, q))
    for i in range(q):
        for j in range(i, q):
            H[i, j] = H[j, i] = -np.sum(PS[i] * PS[j].T) + 2.0 * Su[i] @ (P @ Su[j])
    A = 2.0 * np.linalg.pinv(H)
    LV = L @ V
    G = np.empty((L.shape[0], q))
    for i, S in enumerate(dSigma):
        B = LV @ WX.T  # (k, n)
        G[:, i] = np.einsum("kn,nm,km->k", B, S, B)
    var = np.einsum("kp,kp->k", LV, L)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var**2 / np.einsum("ki,ij,kj->k", G, A, G)


def random_intercept_satterthwaite(X: np.ndarray, y: np.ndarray, codes: np.ndarray, tau2: float,
                                   sigma2: float, L: np.ndarray | None = None) -> np.ndarray:
    """Satterthwaite df (as lmerTest) for ``y = X b + Z u + e``, ``Z`` the cluster indicator of ``codes``
    (``-1`` = in no cluster), ``Var(u) = tau2``, ``Var(e) = sigma2``; one df per row of ``L``
    (default: each coefficient), with ``A`` in lmerTest's ``(theta, sigma)`` (``lmertest_varpar``).
    Dense (``n x n``): the reference for the cluster-sum version ``random_intercept_satterthwaite_fast``
    that the fits use."""
    n = len(y)
    ZZ = random_intercept_design(codes, n)
    S = [ZZ, np.eye(n)]
    W = np.linalg.inv(sigma2 * np.eye(n) + tau2 * ZZ)
    WX = W @ X
    V = np.linalg.inv(X.T @ WX)
    Pm = W - WX @ V @ WX.T
    u = Pm @ y
    H = np.array([[-np.sum((Pm @ Si) * (Pm @ Sj).T) + 2.0 * (Si @ u) @ Pm @ (Sj @ u) for Sj in S] for Si in S])
    grad = np.array([np.sum(Pm * Si) - u @ Si @ u for Si in S])
    L = np.eye(X.shape[1]) if L is None else np.atleast_2d(L)
    B = L @ V @ WX.T
    G = np.stack([np.einsum("kn,nm,km->k", B, Si, B) for Si in S], axis=1)
    A, G = lmertest_varpar(H, grad, G, tau2, sigma2)
    var = np.einsum("kp,kp->k", L @ V, L)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var**2 / np.einsum("ki,ij,kj->k", G, A, G)


def unstructured_satterthwaite(groups, beta: np.ndarray, Sigma: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Satterthwaite df (the definition above) for an MMRM with unstructured ``Sigma (T x T)``.

    ``groups`` are the missing-data patterns of ``_UnstructuredREML``: ``(S, Y (m, |S|),
    X (m, |S|, p))`` with ``S`` the observed visits. The variance parameters are the
    ``T (T + 1) / 2`` distinct entries of ``Sigma``; all sums run subject by subject (``W`` is
    block diagonal), so no ``N x N`` matrix is formed.
    """
    T = Sigma.shape[0]
    pairs = [(a, b) for a in range(T) for b in range(a + 1)]
    q = len(pairs)
    D = np.zeros((q, T, T))
    for i, (a, b) in enumerate(pairs):
        D[i, a, b] = D[i, b, a] = 1.0
    p = len(beta)
    A = np.zeros((p, p))
    for S, _, Xg in groups:
        W = np.linalg.inv(Sigma[np.ix_(S, S)])
        A += np.einsum("isp,st,itq->pq", Xg, W, Xg)
    V = np.linalg.inv(A)
    t1 = np.zeros((q, q))
    Q = np.zeros((q, p, p))
    R = np.zeros((q, q, p, p))
    a2 = np.zeros((q, q))
    b = np.zeros((q, p))
    for S, Yg, Xg in groups:
        m = len(Yg)
        W = np.linalg.inv(Sigma[np.ix_(S, S)])
        Ds = D[:, S][:, :, S]                                   # (q, s, s)
        WD = np.einsum("st,qtu->qsu", W, Ds)                    # W D_i
        WDW = np.einsum("qsu,uv->qsv", WD, W)                   # W D_i W
        U = (Yg - np.einsum("isp,p->is", Xg, beta)) @ W         # u_s = W r_s (W symmetric)
        t1 += m * np.einsum("ist,jts->ij", WD, WD)
        Q += np.einsum("isp,qst,itr->qpr", Xg, WDW, Xg)
        WDWD_W = np.einsum("qsu,jut->qjst", WDW, np.einsum("jut,tv->juv", Ds, W))  # W D_i W D_j W
        R += np.einsum("nsp,qjst,ntr->qjpr", Xg, WDWD_W, Xg)
        DWD = np.einsum("qsu,jut->qjst", np.einsum("qst,tu->qsu", Ds, W), Ds)      # D_i W D_j
        a2 += np.einsum("ns,qjst,nt->qj", U, DWD, U)
        b += np.einsum("nsp,qst,nt->qp", Xg, WD, U)
    trVR = np.einsum("pr,qjrp->qj", V, R)
    VQ = np.einsum("pr,qrs->qps", V, Q)
    trVQVQ = np.einsum("ips,jsp->ij", VQ, VQ)
    H = -(t1 - 2.0 * trVR + trVQVQ) + 2.0 * (a2 - np.einsum("ip,pr,jr->ij", b, V, b))
    H = 0.5 * (H + H.T)
    Acov = 2.0 * np.linalg.pinv(H)
    L = np.atleast_2d(L)
    LV = L @ V
    G = np.einsum("kp,ipr,kr->ki", LV, Q, LV)                   # c' V Q_i V c
    var = np.einsum("kp,kp->k", LV, L)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var**2 / np.einsum("ki,ij,kj->k", G, Acov, G)


# ---- Kenward-Roger ------------------------------------------------------------------------

def kr_pieces(X: np.ndarray, W: np.ndarray, dSigma: list[np.ndarray]):
    """Kenward & Roger's (1997) adjusted covariance for ``Sigma = sum theta_i dSigma[i]`` (dense).

    Returns ``(Phi, PhiA, P, Wkr)`` as ``pbkrtest::vcovAdj``: ``Phi = (X'WX)^{-1}``,
    ``P_i = -X'W S_i W X``, ``Q_ij = X'W S_i W S_j W X``, the expected information
    ``I_ij = tr(W S_i W S_j) - 2 tr(Phi Q_ij) + tr(Phi P_i Phi P_j)`` (``= tr(Pm S_i Pm S_j)``
    with ``Pm`` the REML projection), ``Wkr = 2 I^{-1}`` and
    ``PhiA = Phi + 2 Phi [sum_ij Wkr_ij (Q_ij - P_i Phi P_j)] Phi``.
    """
    WX = W @ X
    Phi = np.linalg.inv(X.T @ WX)
    HS = np.stack([S @ W for S in dSigma])                   # S_i W
    SWX = HS @ X                                             # S_i W X  (q, n, p)
    P = -np.swapaxes(SWX, 1, 2) @ WX
    WSWX = W @ SWX
    Q = np.einsum("inp,jnr->ijpr", SWX, WSWX, optimize=True)
    Kt = np.einsum("inm,jmn->ij", HS, HS, optimize=True)
    return _kr_from(Phi, P, Q, Kt)


def _kr_from(Phi, P, Q, Kt):
    PP = P @ Phi                                             # P_i Phi
    IE = Kt - 2.0 * np.einsum("pr,ijrp->ij", Phi, Q) + np.einsum("ipr,jrp->ij", PP, PP)
    IE = 0.5 * (IE + IE.T)
    ev = np.linalg.eigvalsh(IE)
    Wkr = 2.0 * (np.linalg.inv(IE) if np.min(np.abs(ev)) > 1e-10 else np.linalg.pinv(IE))
    U = np.einsum("ij,ijpr->pr", Wkr, Q) - np.einsum("ij,ipr,jrs->ps", Wkr, PP, P, optimize=True)
    PhiA = Phi + 2.0 * Phi @ U @ Phi
    return Phi, 0.5 * (PhiA + PhiA.T), P, Wkr


def kr_ddf(L: np.ndarray, Phi: np.ndarray, P: np.ndarray, Wkr: np.ndarray, rank: int | None = None):
    """Kenward-Roger denominator df of the hypothesis ``L b = 0`` (``L`` (q, p)) and the
    F scaling factor, as ``pbkrtest::Lb_ddf`` / ``.KR_adjust``."""
    L = np.atleast_2d(L)
    q = L.shape[0] if rank is None else rank
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    u = (Theta @ Phi) @ P @ Phi                              # Theta Phi P_i Phi
    tr = np.einsum("ipp->i", u)
    A1 = tr @ Wkr @ tr
    A2 = np.einsum("ij,ipr,jrp->", Wkr, u, u)
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    den = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
    V0, V1, V2 = 1 + c1 * B, 1 - c2 * B, 1 - c3 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    ratio = (1 - A2 / q) / V1 if V1 != 0 else 0.0
    rho = ratio**2 * V0 / V2 / q
    ddf = 4.0 + (q + 2) / (q * rho - 1)
    scale = 1.0 if abs(ddf - 2) < 0.01 else ddf * (1 - A2 / q) / (ddf - 2)
    return float(ddf), float(scale)


def kr_coef_ddf(Phi, P, Wkr) -> np.ndarray:
    """KR df of each coefficient (``lmerTest::summary(ddf = "Kenward-Roger")``)."""
    p = Phi.shape[0]
    return np.array([kr_ddf(np.eye(p)[[j]], Phi, P, Wkr)[0] for j in range(p)])


def random_intercept_design(codes: np.ndarray, n: int):
    """``Z Z'`` of the cluster indicator of ``codes`` (``-1`` = in no cluster)."""
    inc = codes >= 0
    same = (codes[:, None] == codes[None, :]) & inc[:, None] & inc[None, :]
    return same.astype(float)


def random_intercept_kr(X: np.ndarray, codes: np.ndarray, tau2: float, sigma2: float):
    """KR pieces for ``Var(y) = tau2 Z Z' + sigma2 I`` (pbkrtest's ``get_SigmaG`` order:
    the random-effect variance, then the residual variance)."""
    n = X.shape[0]
    ZZ = random_intercept_design(codes, n)
    W = np.linalg.inv(sigma2 * np.eye(n) + tau2 * ZZ)
    return kr_pieces(X, W, [ZZ, np.eye(n)])


# ---- F tests of several contrasts --------------------------------------------------------

def f_test(Lm: np.ndarray, beta: np.ndarray, rhs, method: str, *, V=None, df_rows=None, kr=None) -> dict:
    """F test of ``L b = rhs`` on Satterthwaite or Kenward-Roger denominator df.

    ``"satterthwaite"`` (lmerTest's ``contestMD``, the mmrm package's ``df_md``): with
    ``L V L' = P diag(d) P'``, ``F = sum_m (P_m'(Lb - rhs))^2 / d_m / q`` and the df of the
    ``q`` rotated contrasts ``nu_m`` (``df_rows(P'L)``) pooled as ``2E / (E - q)``,
    ``E = sum nu_m / (nu_m - 2)`` (2 when some ``nu_m <= 2``; their common value when equal).
    ``"kenward-roger"``: ``kr = (Phi, PhiA, P, Wkr)``; ``F = lambda (Lb - rhs)'(L PhiA L')^{-1}(Lb - rhs) / q``
    on KR's ddf (``pbkrtest::KRmodcomp``, mmrm's ``h_df_md_kr``).
    """
    Lm = np.atleast_2d(np.asarray(Lm, float))
    diff = Lm @ beta - (np.zeros(len(Lm)) if rhs is None else np.broadcast_to(np.asarray(rhs, float), (len(Lm),)))
    if method == "kenward-roger":
        Phi, PhiA, P, Wkr = kr
        q = int(np.linalg.matrix_rank(Lm))
        ddf, scale = kr_ddf(Lm, Phi, P, Wkr, rank=q)
        wald = float(diff @ np.linalg.solve(Lm @ PhiA @ Lm.T, diff))
        return {"statistic": scale * wald / q, "ndf": float(q), "df": ddf, "scaling": scale,
                "statistic_unscaled": wald / q}
    d, Pv = np.linalg.eigh(Lm @ V @ Lm.T)
    order = np.argsort(d)[::-1]
    d, Pv = d[order], Pv[:, order]
    keep = d > max(np.finfo(float).eps * d[0], 0.0)
    q = int(keep.sum())
    PtL = (Pv.T @ Lm)[:q]
    F = float(np.sum((Pv.T @ diff)[:q] ** 2 / d[:q]) / q)
    nu = np.asarray(df_rows(PtL), float)
    if q == 1 or np.all(np.abs(nu - nu.mean()) < 1e-8):
        ddf = float(nu.mean())
    elif np.any(nu <= 2):
        ddf = 2.0
    else:
        E = float(np.sum(nu / (nu - 2)))
        ddf = 2 * E / (E - q)
    return {"statistic": F, "ndf": float(q), "df": ddf}


# ---- random intercept by cluster sums (no n x n matrix) -----------------------------------

def _ri_blocks(X: np.ndarray, y: np.ndarray, codes: np.ndarray):
    """Rows grouped into blocks: the clusters, then each unclustered row (code -1) on its own.

    Returns block index per row, block sizes ``n``, an indicator ``g`` (1 for a real cluster: its
    ``Z Z'`` block is ``J``; 0 for an unclustered row, whose ``Z Z'`` block is 0)."""
    J = int(codes.max()) + 1 if np.any(codes >= 0) else 0
    block = codes.copy()
    single = codes < 0
    block[single] = J + np.arange(int(single.sum()))
    nb = J + int(single.sum())
    n = np.bincount(block, minlength=nb).astype(float)
    g = np.r_[np.ones(J), np.zeros(nb - J)]
    return block, n, g


def random_intercept_pieces(X: np.ndarray, y: np.ndarray, codes: np.ndarray, tau2: float, sigma2: float,
                            with_gradient: bool = False):
    """The REML pieces of ``Var(y) = tau2 Z Z' + sigma2 I`` (parameters ``(tau2, sigma2)``), by blocks.

    Every block of ``W``, ``Z Z'`` and their products is ``a I + b J`` (``J`` the block's all-ones
    matrix), so ``X' M X = sum_rows a x x' + sum_blocks b s s'`` with ``s`` the block's column sums.
    Returns ``Phi``, ``P`` (``-X'W G_r W X``), ``Q`` (``X'W G_r W G_s W X``), ``Kt`` (``tr(W G_r W G_s)``)
    and the observed Hessian of the REML deviance; with ``with_gradient`` also its gradient.
    """
    block, n, g = _ri_blocks(X, y, codes)
    nb = len(n)
    sX = np.zeros((nb, X.shape[1]))
    np.add.at(sX, block, X)
    sy = np.bincount(block, weights=y, minlength=nb)

    def mul(A, B):
        (a, b), (c, d) = A, B
        return a * c, a * d + b * c + n * b * d

    def xmx(M):                                                # X' M X for M = (a, b) per block
        a, b = M
        return np.einsum("i,ip,iq->pq", a[block], X, X) + np.einsum("j,jp,jq->pq", b, sX, sX)

    gam = tau2 / (sigma2 + n * g * tau2)
    Wm = (np.full(nb, 1.0 / sigma2), -g * gam / sigma2)
    G = [(np.zeros(nb), g.astype(float)), (np.ones(nb), np.zeros(nb))]
    Phi = np.linalg.inv(xmx(Wm))
    WG = [mul(Wm, Gr) for Gr in G]
    WGW = [mul(M, Wm) for M in WG]
    q = 2
    P = np.stack([-xmx(M) for M in WGW])
    Q = np.empty((q, q) + Phi.shape)
    Kt = np.empty((q, q))
    for r in range(q):
        for s in range(q):
            Q[r, s] = xmx(mul(WG[r], WGW[s]))
            a, b = mul(WG[r], WG[s])
            Kt[r, s] = np.sum(n * (a + b))
    # observed Hessian: -tr(Pm G_r Pm G_s) + 2 u' G_r Pm G_s u, u = W (y - X beta)
    beta = Phi @ (np.einsum("i,ip,i->p", Wm[0][block], X, y) + np.einsum("j,jp,j->p", Wm[1], sX, sy))
    r_ = y - X @ beta
    sr = np.bincount(block, weights=r_, minlength=nb)
    u = Wm[0][block] * r_ + (Wm[1] * sr)[block]
    su = np.bincount(block, weights=u, minlength=nb)
    Gu = [G[k][0][block] * u + (G[k][1] * su)[block] for k in range(q)]   # G_r u
    sGu = [np.bincount(block, weights=v, minlength=nb) for v in Gu]
    WGu = [Wm[0][block] * Gu[k] + (Wm[1] * sGu[k])[block] for k in range(q)]
    bvec = np.stack([X.T @ v for v in WGu])                     # X'W G_r u
    PhiP = Phi @ P
    info = Kt - 2.0 * np.einsum("pr,ijrp->ij", Phi, Q) + np.einsum("ipr,jrp->ij", PhiP, PhiP)
    a2 = np.array([[Gu[r] @ WGu[s] for s in range(q)] for r in range(q)])
    H = -info + 2.0 * (a2 - bvec @ Phi @ bvec.T)
    if not with_gradient:
        return Phi, P, Q, Kt, 0.5 * (H + H.T)
    # REML gradient: tr(Pm G_r) - u' G_r u, with tr(Pm G_r) = tr(W G_r) + tr(Phi P_r)
    trWG = np.array([np.sum(n * (a + b)) for a, b in WG])
    grad = trWG + np.einsum("pr,irp->i", Phi, P) - np.array([u @ v for v in Gu])
    return Phi, P, Q, Kt, 0.5 * (H + H.T), grad


def lmertest_varpar(H: np.ndarray, grad: np.ndarray, G: np.ndarray, tau2: float, sigma2: float,
                    tol: float = 1e-8):
    """Move the Satterthwaite pieces from ``(tau2, sigma2)`` to lmerTest's ``(theta, sigma)``.

    ``H``/``grad``: Hessian/gradient of the REML deviance in ``(tau2, sigma2)``; ``G (k, 2)``: the
    gradients of the contrasts' variances. With ``tau2 = theta^2 sigma^2`` and ``sigma2 = sigma^2``
    (Jacobian ``J``), ``H_phi = J' H J + sum_i grad_i d2v_i`` and ``G_phi = G J``; ``A = 2 H_phi^+``
    keeping eigenvalues above ``tol`` (lmerTest's ``as_lmerModLT``). At an interior optimum
    ``grad = 0`` and the df do not depend on the parametrisation; at a boundary fit (``theta = 0``)
    ``G_phi``'s theta column vanishes, so the boundary component drops out as in lmerTest.
    Returns ``(A, G_phi)``.
    """
    sigma = np.sqrt(sigma2)
    theta = np.sqrt(max(tau2, 0.0) / sigma2)
    J = np.array([[2 * theta * sigma2, 2 * theta**2 * sigma], [0.0, 2 * sigma]])
    d2_tau = np.array([[2 * sigma2, 4 * theta * sigma], [4 * theta * sigma, 2 * theta**2]])
    d2_sig = np.array([[0.0, 0.0], [0.0, 2.0]])
    Hp = J.T @ H @ J + grad[0] * d2_tau + grad[1] * d2_sig
    ev, vec = np.linalg.eigh(0.5 * (Hp + Hp.T))
    pos = ev > tol
    A = 2.0 * (vec[:, pos] / ev[pos]) @ vec[:, pos].T
    return A, G @ J


def random_intercept_satterthwaite_fast(X, y, codes, tau2, sigma2, L=None) -> np.ndarray:
    """``random_intercept_satterthwaite`` by cluster sums, with lmerTest's parametrisation
    ``(theta = sqrt(tau2 / sigma2), sigma)`` for ``A`` (``lmertest_varpar``): the same df at an
    interior optimum, and lmerTest's at a boundary (singular) fit, where the dense reference in
    ``(tau2, sigma2)`` differs."""
    Phi, P, _, _, H, grad = random_intercept_pieces(X, y, codes, tau2, sigma2, with_gradient=True)
    L = np.eye(X.shape[1]) if L is None else np.atleast_2d(L)
    LV = L @ Phi
    G = np.einsum("kp,ipr,kr->ki", LV, P, LV)
    A, G = lmertest_varpar(H, grad, G, tau2, sigma2)
    var = np.einsum("kp,kp->k", LV, L)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var**2 / np.einsum("ki,ij,kj->k", G, A, G)


def random_intercept_kr_fast(X, codes, tau2, sigma2, y=None):
    """``random_intercept_kr`` by cluster sums."""
    y = np.zeros(X.shape[0]) if y is None else y
    Phi, P, Q, Kt, _ = random_intercept_pieces(X, y, codes, tau2, sigma2)
    return _kr_from(Phi, P, Q, Kt)
