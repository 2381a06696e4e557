"""Structured covariance matrices for the MMRM (REML) and their Satterthwaite degrees of freedom.

The visits' covariance is ``Sigma = S R(phi) S`` with ``S = diag(sd)`` (one SD for every visit,
or one per visit for the heterogeneous structures) and the correlation ``R``:

- ``cs`` / ``csh``: compound symmetry, ``R_ab = rho`` for ``a != b`` (``nlme::corCompSymm``);
- ``ar1`` / ``ar1h``: first-order autoregressive, ``R_ab = rho^|a - b|`` in visit order
  (``nlme::corAR1`` on the visit index; visits are taken as equally spaced, as mmrm's ``ar1``);
- ``toep`` / ``toeph``: Toeplitz, ``R_ab = rho_|a - b|`` (a stationary correlation of the visits;
  ``nlme::corARMA(p = T - 1, q = 0)`` spans exactly these).

``theta = (sd, phi)`` are the natural parameters. REML (deviance ``-2 l_R``, nlme's constant) is
maximised by Fisher scoring with step halving (keeping ``Sigma`` positive definite), then
polished by Newton steps on the observed Hessian, both in ``theta``; every quantity is summed
over the missing-data patterns, so no ``N x N`` matrix is formed. With ``G = dD/dSigma``,

    dD/dtheta_k      = <G, dSigma_k>,
    d2D/dtheta_k dl  = H_lin(dSigma_k, dSigma_l) + <G, d2Sigma_kl>,

``H_lin`` being the Hessian of a covariance linear in its parameters (see :mod:`._df`).
The Satterthwaite df of a contrast uses that observed Hessian (as the R package mmrm; at an
interior optimum it does not depend on the parametrisation).
"""

from __future__ import annotations

import warnings

import numpy as np

from peertrial import _data
from peertrial._warnings import ConvergenceWarning

COVARIANCES = ("us", "cs", "csh", "ar1", "ar1h", "toep", "toeph")
LABELS = {"us": "unstructured", "cs": "compound symmetry", "csh": "heterogeneous compound symmetry",
          "ar1": "AR(1)", "ar1h": "heterogeneous AR(1)", "toep": "Toeplitz", "toeph": "heterogeneous Toeplitz"}
NLME = {"us": "corSymm + varIdent", "cs": "corCompSymm", "csh": "corCompSymm + varIdent", "ar1": "corAR1",
        "ar1h": "corAR1 + varIdent", "toep": "corARMA(p = T - 1)", "toeph": "corARMA(p = T - 1) + varIdent"}


def check_covariance(covariance: str) -> str:
    c = str(covariance).lower()
    if c not in COVARIANCES:
        raise ValueError(f"covariance must be one of {COVARIANCES} (the R package mmrm's names), got {covariance!r}")
    return c


class Structure:
    """``Sigma(theta)`` with its first and second derivatives for one structure and ``T`` visits."""

    def __init__(self, name: str, T: int):
        self.name, self.T = name, T
        self.kind = {"cs": "cs", "csh": "cs", "ar1": "ar1", "ar1h": "ar1", "toep": "toep", "toeph": "toep"}[name]
        self.hetero = name in ("csh", "ar1h", "toeph")
        self.n_sd = T if self.hetero else 1
        self.m = T - 1 if self.kind == "toep" else 1
        self.q = self.n_sd + self.m
        self.lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))

    def names(self) -> list[str]:
        sd = [f"sd{t + 1}" for t in range(self.T)] if self.hetero else ["sd"]
        phi = [f"rho{k + 1}" for k in range(self.m)] if self.kind == "toep" else ["rho"]
        return sd + phi

    def corr(self, phi):
        lag, T, m = self.lag, self.T, self.m
        if self.kind == "cs":
            R = np.where(lag == 0, 1.0, phi[0])
            dR = (lag > 0).astype(float)[None]
            d2R = np.zeros((1, 1, T, T))
        elif self.kind == "ar1":
            r = phi[0]
            R = r ** lag
            dR = np.where(lag >= 1, lag * r ** np.maximum(lag - 1, 0), 0.0)[None]
            d2R = np.where(lag >= 2, lag * (lag - 1) * r ** np.maximum(lag - 2, 0), 0.0)[None, None]
        else:
            R = np.eye(T)
            dR = np.zeros((m, T, T))
            for k in range(m):
                R = R + phi[k] * (lag == k + 1)
                dR[k] = lag == k + 1
            d2R = np.zeros((m, m, T, T))
        return R, dR, d2R

    def sigma(self, theta, derivatives: bool = True):
        T, ns, q = self.T, self.n_sd, self.q
        sd, phi = np.asarray(theta[:ns], float), np.asarray(theta[ns:], float)
        R, dR, d2R = self.corr(phi)
        s = sd if self.hetero else np.full(T, sd[0])
        ss = np.outer(s, s)
        Sigma = ss * R
        if not derivatives:
            return Sigma
        d1 = np.zeros((q, T, T))
        d2 = np.zeros((q, q, T, T))
        if self.hetero:
            E = np.eye(T)
            es = np.einsum("ka,b->kab", E, s)
            Dsd = es + np.swapaxes(es, 1, 2)                     # d(s s')/d s_k
            d1[:ns] = Dsd * R
            EE = np.einsum("ka,lb->klab", E, E)
            d2[:ns, :ns] = (EE + np.swapaxes(EE, 2, 3)) * R     # d2(s s')/ds_k ds_l
            for k in range(T):
                d2[k, ns:] = Dsd[k] * dR
                d2[ns:, k] = Dsd[k] * dR
        else:
            d1[0] = 2.0 * sd[0] * R
            d2[0, 0] = 2.0 * R
            d2[0, 1:] = 2.0 * sd[0] * dR
            d2[1:, 0] = 2.0 * sd[0] * dR
        d1[ns:] = ss * dR
        d2[ns:, ns:] = ss * d2R
        return Sigma, d1, d2

    def start(self, S0: np.ndarray) -> np.ndarray:
        """Starting ``theta`` from a rough covariance (pairwise OLS residual covariance)."""
        v = np.maximum(np.diag(S0), 1e-8 * max(np.max(np.diag(S0)), 1e-300))
        C = S0 / np.sqrt(np.outer(v, v))
        sd = np.sqrt(v) if self.hetero else np.array([np.sqrt(np.mean(v))])
        T = self.T
        if self.kind == "cs":
            phi = np.array([np.clip(np.mean(C[self.lag > 0]), -0.5 / max(T - 1, 1), 0.9)])
        elif self.kind == "ar1":
            phi = np.array([np.clip(np.mean(C[self.lag == 1]), -0.8, 0.9)])
        else:
            phi = np.array([np.mean(C[self.lag == k + 1]) for k in range(self.m)])
            for shrink in (1.0, 0.8, 0.5, 0.2, 0.0):
                if _is_pd(self.corr(shrink * phi)[0]):
                    phi = shrink * phi
                    break
        return np.concatenate([sd, phi])

    def valid(self, theta) -> bool:
        sd = theta[:self.n_sd]
        return bool(np.all(sd > 0) and np.all(np.isfinite(theta)) and _is_pd(self.corr(theta[self.n_sd:])[0]))


class Unstructured:
    """``Sigma`` parametrised by its distinct entries (linear: ``d2Sigma = 0``), the same interface."""

    name = "us"

    def __init__(self, T: int):
        self.T = T
        self.pairs = [(a, b) for a in range(T) for b in range(a + 1)]
        self.q = len(self.pairs)
        self.D = np.zeros((self.q, T, T))
        for i, (a, b) in enumerate(self.pairs):
            self.D[i, a, b] = self.D[i, b, a] = 1.0
        self.d2 = np.zeros((self.q, self.q, T, T))

    def names(self) -> list[str]:
        return [f"sigma{a + 1}{b + 1}" for a, b in self.pairs]

    def sigma(self, theta, derivatives: bool = True):
        Sigma = np.einsum("k,kab->ab", np.asarray(theta, float), self.D)
        return (Sigma, self.D, self.d2) if derivatives else Sigma

    def start(self, S0: np.ndarray) -> np.ndarray:
        return np.array([S0[a, b] for a, b in self.pairs])

    def valid(self, theta) -> bool:
        return bool(np.all(np.isfinite(theta)) and _is_pd(self.sigma(theta, derivatives=False)))


class Grouped:
    """One covariance of the same structure per group (the mmrm package's ``us(visit | group / id)``),
    the same interface: ``Sigma`` is block diagonal over the groups (``G T x G T``) and a participant
    of group ``g`` observed at visits ``S`` enters through rows ``g T + S`` (``_UnstructuredREML(...,
    cov_group=)`` builds such patterns); ``theta`` stacks the groups' parameters."""

    def __init__(self, structure, G: int):
        self.base, self.G, self.T = structure, int(G), structure.T
        self.name = structure.name
        self.q = self.G * structure.q
        self.linear = isinstance(structure, Unstructured)

    def names(self) -> list[str]:
        return [f"{nm}[{g}]" for g in range(self.G) for nm in self.base.names()]

    def block(self, M: np.ndarray, g: int) -> np.ndarray:
        T = self.T
        return M[g * T:(g + 1) * T, g * T:(g + 1) * T]

    def sigma(self, theta, derivatives: bool = True):
        T, qb, GT = self.T, self.base.q, self.G * self.T
        theta = np.asarray(theta, float)
        Sigma = np.zeros((GT, GT))
        d1 = np.zeros((self.q, GT, GT)) if derivatives else None
        d2 = None if (self.linear or not derivatives) else np.zeros((self.q, self.q, GT, GT))
        for g in range(self.G):
            rows, pars = slice(g * T, (g + 1) * T), slice(g * qb, (g + 1) * qb)
            out = self.base.sigma(theta[pars], derivatives)
            if not derivatives:
                Sigma[rows, rows] = out
                continue
            Sigma[rows, rows] = out[0]
            d1[pars, rows, rows] = out[1]
            if d2 is not None:
                d2[pars, pars, rows, rows] = out[2]
        return (Sigma, d1, d2) if derivatives else Sigma

    def start(self, S0: np.ndarray) -> np.ndarray:
        return np.concatenate([self.base.start(self.block(S0, g)) for g in range(self.G)])

    def valid(self, theta) -> bool:
        qb = self.base.q
        return all(self.base.valid(theta[g * qb:(g + 1) * qb]) for g in range(self.G))


def _is_pd(M: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(M)
        return True
    except np.linalg.LinAlgError:
        return False


def reml_pieces(groups, Sigma, d1=None, d2=None, hessian: bool = False):
    """REML deviance at ``Sigma``, and (with ``d1``) its gradient and expected information in the
    parameters, (with ``hessian``) the observed Hessian and ``P_k = X'W dSigma_k W X``.

    ``groups``: ``(S, Y (m, s), X (m, s, p))`` per missing-data pattern (observed visits ``S``).
    """
    p = groups[0][2].shape[2]
    A = np.zeros((p, p))
    c = np.zeros(p)
    logdet = 0.0
    Ws = []
    nobs = 0
    for S, Yg, Xg in groups:
        Sig = Sigma[np.ix_(S, S)]
        W = np.linalg.inv(Sig)
        Ws.append(W)
        logdet += len(Yg) * np.linalg.slogdet(Sig)[1]
        WX = np.einsum("st,itp->isp", W, Xg)
        A += np.einsum("isp,isq->pq", Xg, WX)
        c += np.einsum("isp,is->p", WX, Yg)
        nobs += Yg.size
    V = np.linalg.inv(A)
    beta = V @ c
    quad = 0.0
    Us = []
    for (_, Yg, Xg), W in zip(groups, Ws):
        U = (Yg - Xg @ beta) @ W                                 # u_i = W r_i
        Us.append(U)
        quad += np.einsum("is,is->", U, Yg - Xg @ beta)
    dev = logdet + quad + np.linalg.slogdet(A)[1] + (nobs - p) * np.log(2 * np.pi)
    out = {"dev": dev, "beta": beta, "V": V}
    if d1 is None:
        return out
    q = d1.shape[0]
    T = Sigma.shape[0]
    G = np.zeros((T, T))
    t1 = np.zeros((q, q))                                        # sum tr(W Di W Dj) - 2 tr(Di W Dj K)
    Pk = np.zeros((q, p, p))
    a2 = np.zeros((q, q))
    b = np.zeros((q, p))
    for (S, Yg, Xg), W, U in zip(groups, Ws, Us):
        m = len(Yg)
        WX = np.einsum("st,itp->isp", W, Xg)
        K = np.einsum("isp,pq,itq->st", WX, V, WX)               # sum_i W X_i V X_i' W
        UU = U.T @ U
        G[np.ix_(S, S)] += m * W - UU - K
        D = d1[:, S][:, :, S]                                    # (q, s, s)
        WD = W @ D                                               # W D_i
        DW = D @ W
        t1 += m * np.einsum("ist,jts->ij", WD, WD) - 2.0 * np.einsum("ist,jtu,us->ij", DW, D, K, optimize=True)
        Pk += np.einsum("isp,kst,itr->kpr", WX, D, WX, optimize=True)
        if hessian:
            a2 += np.einsum("ist,jtu,us->ij", DW, D, UU, optimize=True)
            b += np.einsum("isp,kst,it->kp", WX, D, U, optimize=True)
    grad = np.einsum("st,kst->k", G, d1)
    VP = V @ Pk                                                  # (q, p, p)
    info = t1 + np.einsum("ipr,jrp->ij", VP, VP)                 # tr(P D_i P D_j): expected information
    out.update(grad=grad, info=0.5 * (info + info.T), Pk=Pk)
    if hessian:
        H = -info + 2.0 * (a2 - np.einsum("ip,pr,jr->ij", b, V, b))
        if d2 is not None:
            H = H + np.einsum("st,klst->kl", G, d2)
        out["hessian"] = 0.5 * (H + H.T)
    return out


def fit_structured(groups, structure: Structure, S0: np.ndarray, max_iter: int = 200, warn: bool = True):
    """REML fit: Fisher scoring with step halving, then Newton steps on the observed Hessian once
    the predicted decrease of the deviance is small; returns ``(theta, pieces)`` (pieces with the
    observed Hessian, for the df, and ``converged``). Stops when the predicted decrease falls below
    1e-12; otherwise warns (unless ``warn=False``: the caller checks ``pieces["converged"]``)."""
    theta = structure.start(S0)
    Sigma, d1, d2 = structure.sigma(theta)
    cur = reml_pieces(groups, Sigma, d1)
    pred = np.inf
    converged = False
    for _ in range(max_iter):
        H = cur["info"]
        if pred < 1e-2:
            cur = reml_pieces(groups, Sigma, d1, d2, hessian=True)
            if np.min(np.linalg.eigvalsh(cur["hessian"])) > 0:
                H = cur["hessian"]
        step = -np.linalg.lstsq(H, cur["grad"], rcond=None)[0]
        blocked = np.zeros(len(theta), bool)
        if not structure.valid(theta + step):
            blocked = _blocked(structure, theta, step)
            if blocked.any():                              # active set: the others move, these stay
                free = ~blocked
                step = np.zeros(len(theta))
                step[free] = -np.linalg.lstsq(H[np.ix_(free, free)], cur["grad"][free], rcond=None)[0]
        pred = -cur["grad"] @ step
        if pred < 1e-12:
            converged = True
            break
        t = 1.0
        for _ in range(60):
            cand = theta + t * step
            if structure.valid(cand):
                try:
                    dev_c = reml_pieces(groups, structure.sigma(cand, derivatives=False))["dev"]
                except np.linalg.LinAlgError:
                    dev_c = np.inf
                if dev_c <= cur["dev"] + 1e-13 * abs(cur["dev"]):
                    break
            t *= 0.5
        else:
            break
        theta = cand
        Sigma, d1, d2 = structure.sigma(theta)
        cur = reml_pieces(groups, Sigma, d1)
    if not converged and warn:
        warnings.warn(f"MMRM REML ({LABELS[structure.name]} covariance) did not converge in {max_iter} "
                      f"iterations (predicted deviance decrease {pred:.2e})", ConvergenceWarning,
                      stacklevel=_data.user_stacklevel())
    pieces = reml_pieces(groups, Sigma, d1, d2, hessian=True)
    pieces["converged"] = converged
    pieces["boundary"] = blocked if converged else np.zeros(len(theta), bool)
    return theta, pieces


def _blocked(structure, theta, step) -> np.ndarray:
    """Parameters at the edge of the valid region (``Sigma`` positive definite) in the direction the
    step pushes them: a move of ``1e-7`` (relative) along that component alone leaves the region."""
    out = np.zeros(len(theta), bool)
    for k in np.flatnonzero(step):
        e = np.zeros(len(theta))
        e[k] = np.sign(step[k]) * 1e-7 * max(1.0, abs(theta[k]))
        out[k] = not structure.valid(theta + e)
    return out


def satterthwaite(pieces, L: np.ndarray) -> np.ndarray:
    """Satterthwaite df of the rows of ``L`` from ``reml_pieces(..., hessian=True)``.

    Parameters at the boundary of the parameter space (``pieces["boundary"]`` from ``fit_structured``,
    e.g. a compound-symmetry correlation at ``-1/(T - 1)``) are left out, as fixed: the limit of the
    R package mmrm's df, whose parametrisation (e.g. ``rho = expit(phi)(1 + a) - a``) sends the
    boundary to ``phi = -inf``, where the variance of a contrast stops moving with ``phi``."""
    V, Pk, H = pieces["V"], pieces["Pk"], pieces["hessian"]
    free = ~np.asarray(pieces.get("boundary", np.zeros(len(Pk), bool)))
    Pk, H = Pk[free], H[np.ix_(free, free)]
    Acov = 2.0 * np.linalg.pinv(H)
    LV = np.atleast_2d(L) @ V
    G = np.einsum("kp,ipr,kr->ki", LV, Pk, LV)                   # c'V P_i V c = -dc'Vc/dtheta_i
    var = np.einsum("kp,kp->k", LV, np.atleast_2d(L))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var**2 / np.einsum("ki,ij,kj->k", G, Acov, G)


# ---- Kenward-Roger in the mmrm package's parametrisation ----------------------------------

def mmrm_derivatives(structure, theta: np.ndarray):
    """``(Sigma, dSigma, d2Sigma)`` in the R package mmrm's variance parameters ``phi``.

    mmrm uses ``log(sd)`` for standard deviations, ``rho = phi / sqrt(1 + phi^2)`` for the
    AR(1) and Toeplitz correlations, ``rho = expit(phi) (1 + a) - a`` with ``a = 1 / (T - 1)``
    for compound symmetry, and for ``us`` the Cholesky factor ``L = D Lt`` (``D`` diagonal,
    ``phi = log diag D``; ``Lt`` unit lower triangular, its entries filled row-wise). The
    Kenward-Roger ``R_ij`` term uses these second derivatives; the linear variant and the df
    do not depend on the parametrisation.
    """
    if structure.name == "us":
        Sigma = structure.sigma(theta, derivatives=False)
        T = structure.T
        Lc = np.linalg.cholesky(Sigma)
        sd = np.diag(Lc).copy()
        low = [(i, j) for i in range(T) for j in range(i)]
        q = T + len(low)
        dL = np.zeros((q, T, T))
        d2L = np.zeros((q, q, T, T))
        for k in range(T):
            dL[k, k] = Lc[k]                                     # d L / d log sd_k: row k of L
            d2L[k, k, k] = Lc[k]
        for m, (i, j) in enumerate(low):
            dL[T + m, i, j] = sd[i]                              # d L / d l_ij = sd_i E_ij
            d2L[i, T + m, i, j] = d2L[T + m, i, i, j] = sd[i]
        d1 = dL @ Lc.T
        d1 = d1 + np.swapaxes(d1, 1, 2)
        cross = np.einsum("aik,bjk->abij", dL, dL)
        d2 = d2L @ Lc.T
        d2 = d2 + np.swapaxes(d2, 2, 3) + cross + np.swapaxes(cross, 0, 1)
        return Sigma, d1, d2
    Sigma, d1, d2 = structure.sigma(theta)
    ns, T = structure.n_sd, structure.T
    j1 = np.empty(structure.q)
    j2 = np.empty(structure.q)
    sd, rho = np.asarray(theta[:ns], float), np.asarray(theta[ns:], float)
    j1[:ns] = j2[:ns] = sd                                       # sd = exp(phi)
    if structure.kind == "cs":
        a = 1.0 / (T - 1)
        pr = (rho + a) / (1 + a)
        j1[ns:] = (1 + a) * pr * (1 - pr)
        j2[ns:] = j1[ns:] * (1 - 2 * pr)
    else:
        j1[ns:] = (1 - rho**2) ** 1.5
        j2[ns:] = -3.0 * rho * (1 - rho**2) ** 2
    d2p = np.einsum("k,l,klab->klab", j1, j1, d2)
    d2p[np.arange(structure.q), np.arange(structure.q)] += j2[:, None, None] * d1
    return Sigma, j1[:, None, None] * d1, d2p


def kenward_roger(groups, structure, theta: np.ndarray, linear: bool = False):
    """mmrm's Kenward-Roger: ``(Phi, Phi_A, P, W)`` with ``W`` the inverse observed Hessian of the REML
    objective ``-l_R`` in mmrm's parameters and

        Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi

    (``R_ij = X'W d2Sigma_ij W X``, left out by ``linear``, "Kenward-Roger-Linear")."""
    Sigma, d1, d2 = mmrm_derivatives(structure, theta)
    pc = reml_pieces(groups, Sigma, d1, d2, hessian=True)
    V, Pk = pc["V"], pc["Pk"]
    Wkr = 2.0 * np.linalg.pinv(pc["hessian"])
    p = V.shape[0]
    SQ = np.zeros((p, p))
    SR = np.zeros((p, p))
    for S, _, Xg in groups:
        W = np.linalg.inv(Sigma[np.ix_(S, S)])
        D = d1[:, S][:, :, S]
        WX = np.einsum("st,itp->isp", W, Xg)
        MQ = np.einsum("ij,ist,tu,juv->sv", Wkr, D, W, D, optimize=True)
        SQ += np.einsum("isp,st,itr->pr", WX, MQ, WX, optimize=True)
        if not linear:
            MR = np.einsum("ij,ijst->st", Wkr, d2[:, :, S][:, :, :, S])
            SR += np.einsum("isp,st,itr->pr", WX, MR, WX, optimize=True)
    SPVP = np.einsum("ij,ipr,rs,jsq->pq", Wkr, Pk, V, Pk, optimize=True)
    PhiA = V + 2.0 * V @ (SQ - SPVP - 0.25 * SR) @ V
    return V, 0.5 * (PhiA + PhiA.T), Pk, Wkr
