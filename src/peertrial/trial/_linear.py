"""Batched least squares and two-stage least squares with R's variance estimators.

Every core takes arrays with a leading batch axis: ``X`` of shape ``(B, n, p)``,
``y`` of shape ``(B, n)`` (a single fit is ``B = 1``), so simulations and
multiple imputations are fitted in one call.

Variance types follow R:

- ``"const"``: ``s^2 (X'X)^{-1}`` with ``s^2 = e'e / (n - p)`` (``vcov(lm)``, ``vcov(ivreg)``);
- ``"HC0"``–``"HC3"``: ``sandwich::vcovHC``, ``(X'X)^{-1} X' diag(w_i e_i^2) X (X'X)^{-1}`` with
  ``w = 1``, ``n/(n-p)``, ``1/(1-h_i)`` and ``1/(1-h_i)^2``;
- cluster: ``sandwich::vcovCL`` with its defaults, ``type = "HC1"`` for ``lm`` and ``"HC0"``
  for ``ivreg`` (and anything that is not ``lm``/``glm``), and ``cadjust = TRUE``:
  ``G/(G-1) * [(n-1)/(n-p)] * (X'X)^{-1} (sum_g s_g s_g') (X'X)^{-1}`` with ``s_g = sum_{i in g} x_i e_i``.

For 2SLS, ``X`` is replaced by the projected regressors ``Xhat = Z (Z'Z)^{-1} Z'X`` in the
bread, the scores and the hat values (as ``AER::ivreg`` with ``sandwich``), while the
residuals use the actual regressors.

Small-sample cluster-robust variances follow ``clubSandwich::vcovCR`` (Pustejovsky & Tipton
2018) with the identity working model of ``lm``/``ivreg``:
``V = M (sum_j X_j' A_j e_j e_j' A_j X_j) M`` with ``M = (X'X)^{-1}`` and

- ``"CR0"``: ``A_j = I``; ``"CR1"``: ``A_j = sqrt(J/(J-1)) I``; ``"CR1p"``: ``sqrt(J/(J-p)) I``;
  ``"CR1S"``: ``sqrt(J (N-1) / ((J-1)(N-p))) I`` (Stata's, equal to ``vcovCL`` type HC1);
- ``"CR2"``: ``A_j = (I - H_jj)^{-1/2}`` (bias-reduced linearisation; symmetric square root,
  eigenvalues below ``1e-12`` treated as 0 as clubSandwich's ``matrix_power``);
- ``"CR3"``: ``A_j = (I - H_jj)^{-1}`` (jackknife-like).

Each coefficient gets the Satterthwaite degrees of freedom of ``clubSandwich::coef_test``
(``test = "Satterthwaite"``): with ``u_j = A_j X_j M c`` and ``g_j = X_j' u_j`` for the unit
contrast ``c``, ``P = diag(u_j'u_j) - G M G'`` (``J x J``) and ``df = tr(P)^2 / sum(P^2)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from peertrial._warnings import PeertrialWarning

VCOV_TYPES = ("const", "HC0", "HC1", "HC2", "HC3")
CR_TYPES = ("CR0", "CR1", "CR1p", "CR1S", "CR2", "CR3")
FEW_CLUSTERS = 40


@dataclass(frozen=True, eq=False)
class LinearFit:
    """Raw output of a batched fit (internal)."""

    coef: np.ndarray  # (B, p)
    vcov: np.ndarray  # (B, p, p)
    resid: np.ndarray  # (B, n)
    df_resid: int
    vcov_type: str
    df: np.ndarray | None = None  # (B, p) per-coefficient Satterthwaite df for CR types

    def coef_df(self, b: int, k: int) -> float:
        """Degrees of freedom for the t test of coefficient ``k`` in fit ``b``."""
        return float(self.df[b, k]) if self.df is not None else float(self.df_resid)

    @property
    def se(self) -> np.ndarray:
        # a sandwich is positive semi-definite: a negative diagonal is round-off around 0
        return np.sqrt(np.maximum(np.einsum("bii->bi", self.vcov), 0.0))


def _as_batch(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim == 2:
        X = X[None]
    if y.ndim == 1:
        y = y[None]
    if y.shape[0] != X.shape[0]:
        X = np.broadcast_to(X, (y.shape[0], *X.shape[1:]))
    return X, y


def _check_df(X: np.ndarray) -> None:
    if X.shape[1] <= X.shape[2]:
        raise ValueError(f"{X.shape[1]} observations are too few for a model with {X.shape[2]} "
                         "coefficients (no residual degrees of freedom)")


def _xty(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (X.transpose(0, 2, 1) @ y[..., None])[..., 0]


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``A^{-1} b`` for ``A (B, p, p)`` and ``b (B, p)``."""
    return np.linalg.solve(A, b[..., None])[..., 0]


def _gram(A: np.ndarray) -> np.ndarray:
    """Batched ``A'A`` for ``A (B, n, p)`` (BLAS matmul)."""
    return np.matmul(A.transpose(0, 2, 1), A)


def _sandwich(bread: np.ndarray, scores: np.ndarray, hat: np.ndarray | None, df_resid: int,
              vcov_type: str, cluster_codes: np.ndarray | None) -> np.ndarray:
    """``bread (sum of score outer products) bread`` with R's small-sample factors."""
    n = scores.shape[1]
    if cluster_codes is not None:
        n_groups = int(cluster_codes.max()) + 1
        onehot = np.zeros((n, n_groups))
        onehot[np.arange(n), cluster_codes] = 1.0
        sums = onehot.T @ scores  # (B, G, p)
        meat = _gram(sums) * n_groups / (n_groups - 1)
        if vcov_type == "HC1":
            meat = meat * (n - 1) / df_resid
        elif vcov_type != "HC0":
            raise ValueError(f"cluster-robust SEs support robust='HC0' or 'HC1', got {vcov_type!r}")
    else:
        if vcov_type == "HC0":
            w = np.ones(scores.shape[:2])
        elif vcov_type == "HC1":
            w = np.full(scores.shape[:2], n / df_resid)
        elif vcov_type in ("HC2", "HC3"):
            # sandwich::meatHC: an observation with hat value 1 has residual 0 (set exactly to 0
            # there), so it contributes nothing; its weight would be 0/0, so it is set to 0
            with np.errstate(divide="ignore"):
                w = 1.0 / (1.0 - hat) ** (1 if vcov_type == "HC2" else 2)
            w = np.where(hat > 1.0 - np.sqrt(np.finfo(float).eps), 0.0, w)
        else:
            raise ValueError(f"robust must be one of {VCOV_TYPES[1:]}, got {vcov_type!r}")
        meat = _gram(scores * np.sqrt(w)[:, :, None])
    return bread @ meat @ bread


def _vcov(Xv: np.ndarray, resid: np.ndarray, df_resid: int, vcov_type: str,
          cluster_codes: np.ndarray | None, X_left: np.ndarray | None = None) -> np.ndarray:
    bread = np.linalg.inv(_gram(Xv))
    if vcov_type == "const":
        s2 = np.einsum("bn,bn->b", resid, resid) / df_resid
        return bread * s2[:, None, None]
    hat = None
    if vcov_type in ("HC2", "HC3") and cluster_codes is None:
        # 2SLS hat values as AER's hatvalues.ivreg: x_i' (Xhat'Xhat)^{-1} xhat_i
        hat = np.sum(((Xv if X_left is None else X_left) @ bread) * Xv, axis=-1)
        high = hat > 1.0 - np.sqrt(np.finfo(float).eps)
        if high.any():
            rows = np.flatnonzero(high.any(axis=0))
            shown = ", ".join(str(i) for i in rows[:10]) + (", ..." if rows.size > 10 else "")
            warnings.warn(
                f"{vcov_type}: {rows.size} observation(s) have hat value 1 (positions {shown}, e.g. the only "
                "participant of a site with site fixed effects); their residual is 0 and they contribute "
                "nothing to the sandwich (as sandwich::vcovHC, which warns that the covariance is "
                "numerically unstable there)", PeertrialWarning, stacklevel=4)
    scores = Xv * resid[:, :, None]
    return _sandwich(bread, scores, hat, df_resid, vcov_type, cluster_codes)


def _inv_sqrt_psd(S: np.ndarray, power: float, tol: float = 1e-12) -> np.ndarray:
    """``S^power`` of a symmetric matrix with eigenvalues ``<= tol`` set to 0 (clubSandwich's ``matrix_power``)."""
    val, vec = np.linalg.eigh(S)
    with np.errstate(divide="ignore", invalid="ignore"):
        vp = np.where(val > tol, np.abs(val) ** power, 0.0)
    return (vec * vp) @ vec.T


def cluster_cr(Xv: np.ndarray, resid: np.ndarray, cluster_codes: np.ndarray,
               vcov_type: str) -> tuple[np.ndarray, np.ndarray]:
    """clubSandwich's ``vcovCR`` of type CR0/CR1/CR1p/CR1S/CR2/CR3 and the Satterthwaite df of each coefficient.

    ``Xv (B, n, p)`` is the design (the projected regressors for 2SLS), ``resid (B, n)``.
    Returns ``(V (B, p, p), df (B, p))``.
    """
    if vcov_type not in CR_TYPES:
        raise ValueError(f"robust must be one of {CR_TYPES} for clubSandwich cluster-robust SEs, got {vcov_type!r}")
    B, n, p = Xv.shape
    J = int(cluster_codes.max()) + 1
    order = np.argsort(cluster_codes, kind="stable")
    bounds = np.searchsorted(cluster_codes[order], np.arange(J + 1))
    groups = [order[bounds[j]:bounds[j + 1]] for j in range(J)]
    if vcov_type == "CR1p" and J <= p:
        raise ValueError(f"robust='CR1p' needs more clusters ({J}) than coefficients ({p}); use robust='CR2'")
    scale = {"CR1": J / (J - 1), "CR1p": J / (J - p) if J > p else np.nan,
             "CR1S": J * (n - 1) / ((J - 1) * (n - p))}.get(vcov_type, 1.0)
    V = np.empty((B, p, p))
    df = np.empty((B, p))
    for b in range(B):
        X = Xv[b]
        M = np.linalg.inv(X.T @ X)
        S = np.empty((J, p))       # X_j' A_j e_j
        nrm = np.empty((J, p))     # ||u_j||^2 for each coefficient's unit contrast
        G = np.empty((J, p, p))    # g_j = X_j' u_j, [j, :, k]
        for j, idx in enumerate(groups):
            Xj = X[idx]
            ej = resid[b, idx]
            XjM = Xj @ M
            if vcov_type in ("CR2", "CR3"):
                IH = np.eye(idx.size) - XjM @ Xj.T
                if vcov_type == "CR3" and np.linalg.eigvalsh(IH)[0] <= 1e-12:
                    raise ValueError(
                        f"robust='CR3': I - H is singular in cluster {j + 1} (e.g. a cluster absorbed by its own "
                        "fixed effect or with one participant), so (I - H)^-1 does not exist (clubSandwich stops "
                        "too); use robust='CR2'")
                A = _inv_sqrt_psd(IH, -0.5 if vcov_type == "CR2" else -1.0)
                U = A @ XjM
                S[j] = Xj.T @ (A @ ej)
            else:
                U = XjM
                S[j] = Xj.T @ ej
            nrm[j] = np.sum(U * U, axis=0)
            G[j] = Xj.T @ U
        V[b] = M @ (S.T @ S) @ M * scale
        # P_k = diag(nrm[:, k]) - G_k M G_k' with G_k[j, :] = G[j, :, k]
        GMG = np.einsum("jak,ab,lbk->kjl", G, M, G)
        P = -GMG
        idx = np.arange(J)
        P[:, idx, idx] += nrm.T
        with np.errstate(divide="ignore", invalid="ignore"):
            df[b] = np.trace(P, axis1=1, axis2=2) ** 2 / np.sum(P * P, axis=(1, 2))
    return V, df


def warn_few_clusters(cluster_codes: np.ndarray | None, vcov_type: str, what: str = "", stacklevel: int = 3) -> None:
    """PeertrialWarning when a CR0/CR1-type cluster-robust SE is used with fewer than 40 clusters."""
    if cluster_codes is None or vcov_type in ("CR2", "CR3"):
        return
    J = int(cluster_codes.max()) + 1
    if J < FEW_CLUSTERS:
        warnings.warn(
            f"{J} clusters{what}: a {vcov_type} cluster-robust SE with a large-sample reference distribution "
            f"is anti-conservative with fewer than {FEW_CLUSTERS} clusters; use robust='CR2' (bias-reduced, with "
            "Satterthwaite degrees of freedom as clubSandwich::coef_test)", PeertrialWarning, stacklevel=stacklevel)


def ols(X, y, vcov_type: str = "const", cluster_codes=None) -> LinearFit:
    """Ordinary least squares for a batch of designs ``X (B, n, p)`` and outcomes ``y (B, n)``."""
    X, y = _as_batch(X, y)
    _check_df(X)
    coef = _solve(_gram(X), _xty(X, y))
    resid = y - (X @ coef[..., None])[..., 0]
    df_resid = X.shape[1] - X.shape[2]
    if vcov_type in CR_TYPES:
        V, df = cluster_cr(X, resid, _require_codes(cluster_codes, vcov_type), vcov_type)
        return LinearFit(coef, V, resid, df_resid, vcov_type, df)
    V = _vcov(X, resid, df_resid, vcov_type, cluster_codes)
    return LinearFit(coef, V, resid, df_resid, vcov_type)


def _require_codes(cluster_codes, vcov_type):
    if cluster_codes is None:
        raise ValueError(f"robust={vcov_type!r} is a cluster-robust variance: name the clusters with cluster=")
    return np.asarray(cluster_codes)


def tsls(X, Z, y, vcov_type: str = "const", cluster_codes=None) -> LinearFit:
    """Two-stage least squares: regressors ``X (B, n, p)``, instruments ``Z (B, n, q)``, ``q >= p``.

    ``beta = (Xhat'Xhat)^{-1} Xhat'y`` with ``Xhat = Z (Z'Z)^{-1} Z'X``; residuals ``y - X beta``.
    """
    X, y = _as_batch(X, y)
    _check_df(X)
    Z, _ = _as_batch(Z, y)
    Xhat = Z @ np.linalg.solve(_gram(Z), np.matmul(Z.transpose(0, 2, 1), X))
    coef = _solve(_gram(Xhat), _xty(Xhat, y))
    resid = y - (X @ coef[..., None])[..., 0]
    df_resid = X.shape[1] - X.shape[2]
    if vcov_type in CR_TYPES:
        # clubSandwich's ivreg method: the projected regressors as model matrix, actual residuals
        V, df = cluster_cr(Xhat, resid, _require_codes(cluster_codes, vcov_type), vcov_type)
        return LinearFit(coef, V, resid, df_resid, vcov_type, df)
    V = _vcov(Xhat, resid, df_resid, vcov_type, cluster_codes, X_left=X)
    return LinearFit(coef, V, resid, df_resid, vcov_type)


def rank_deficient_columns(X: np.ndarray, names: list[str], tol: float = 1e-7) -> list[str]:
    """Names of columns that are linear combinations of the columns before them (R's ``NA`` coefficients).

    The one aliasing rule of the design builder (:func:`peertrial._design.aliased`, as R's
    ``lm`` with ``tol = 1e-7``).
    """
    from peertrial._design import aliased

    return [names[j] for j in np.flatnonzero(aliased(X, tol))]
