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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VCOV_TYPES = ("const", "HC0", "HC1", "HC2", "HC3")


@dataclass(frozen=True, eq=False)
class LinearFit:
    """Raw output of a batched fit (internal)."""

    coef: np.ndarray  # (B, p)
    vcov: np.ndarray  # (B, p, p)
    resid: np.ndarray  # (B, n)
    df_resid: int
    vcov_type: str

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
        elif vcov_type == "HC2":
            w = 1.0 / (1.0 - hat)
        elif vcov_type == "HC3":
            w = 1.0 / (1.0 - hat) ** 2
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
    scores = Xv * resid[:, :, None]
    return _sandwich(bread, scores, hat, df_resid, vcov_type, cluster_codes)


def ols(X, y, vcov_type: str = "const", cluster_codes=None) -> LinearFit:
    """Ordinary least squares for a batch of designs ``X (B, n, p)`` and outcomes ``y (B, n)``."""
    X, y = _as_batch(X, y)
    _check_df(X)
    coef = _solve(_gram(X), _xty(X, y))
    resid = y - (X @ coef[..., None])[..., 0]
    df_resid = X.shape[1] - X.shape[2]
    V = _vcov(X, resid, df_resid, vcov_type, cluster_codes)
    return LinearFit(coef, V, resid, df_resid, vcov_type)


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
    V = _vcov(Xhat, resid, df_resid, vcov_type, cluster_codes, X_left=X)
    return LinearFit(coef, V, resid, df_resid, vcov_type)


def rank_deficient_columns(X: np.ndarray, names: list[str], tol: float = 1e-7) -> list[str]:
    """Names of columns that are linear combinations of the columns before them (R's ``NA`` coefficients).

    The one aliasing rule of the design builder (:func:`peertrial._design.aliased`, as R's
    ``lm`` with ``tol = 1e-7``).
    """
    from peertrial._design import aliased

    return [names[j] for j in np.flatnonzero(aliased(X, tol))]
