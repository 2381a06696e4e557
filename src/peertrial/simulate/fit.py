"""Batched model fits for simulated trials: one call fits thousands of datasets.

Every function takes arrays with a leading batch axis ``B`` (one simulated
trial per row) and returns per-trial coefficients and standard errors, so a
power simulation never loops over trials in Python.

Both maximum-likelihood fits run the one batched Newton loop :func:`_newton` (each trial
steps by its own score and information until converged, at most ``max_iter`` steps).

* :func:`logistic_batch` — maximum likelihood logistic regression by Newton's
  method (iteratively reweighted least squares, as R's ``glm``), Wald SEs from
  the inverse observed information.
* :func:`cox_batch` — Cox proportional-hazards partial likelihood by Newton's
  method, Efron's (R's default) or Breslow's handling of tied event times
  (with continuous times, as in the power simulations, they coincide with the
  exact partial likelihood), SEs from the inverse information (as R's ``coxph``).
* :func:`ols_batch` — least squares with per-row weights 0/1 (missing outcomes
  dropped), classical SEs on ``n - p`` degrees of freedom; with the design
  ``[1, arm]`` this is the pooled two-sample t-test.
"""

from __future__ import annotations

import warnings

import numpy as np

from peertrial._lazy import lazy_module
from peertrial._warnings import ConvergenceWarning

special = lazy_module("scipy.special")

__all__ = ["logistic_batch", "cox_batch", "ols_batch"]


def _check_batch(X: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = X[..., None]
    if X.ndim != 3:
        raise ValueError(f"X must have shape (batch, n, p), got {X.shape}")
    for a in arrays:
        if np.shape(a) != X.shape[:2]:
            raise ValueError(f"outcome arrays must have shape {X.shape[:2]}, got {np.shape(a)}")
    return X


def _solve(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.linalg.solve(H, g[..., None])[..., 0]


def _newton(score_info, beta: np.ndarray, *, max_iter: int, tol: float):
    """The one batched Newton–Raphson loop (logistic and Cox fits).

    ``score_info(beta) -> (U, info)`` gives the score ``(B, p)`` and the information
    ``(B, p, p)`` at ``beta``; every trial steps ``info^-1 U`` (a 1e-12 ridge keeps a singular
    information solvable) until its largest step is below ``tol * (1 + max|beta|)``; converged
    trials stop moving. At most ``max_iter`` steps. Returns ``(beta, se, converged)`` with SEs
    from the inverse information at the final ``beta``.
    """
    B, p = beta.shape
    ridge = 1e-12 * np.eye(p)
    converged = np.zeros(B, dtype=bool)
    for _ in range(max_iter):
        U, info = score_info(beta)
        step = _solve(info + ridge, U)
        step = np.where(converged[:, None], 0.0, step)
        beta += step
        converged |= np.abs(step).max(axis=1) < tol * (1.0 + np.abs(beta).max(axis=1))
        if converged.all():
            break
    _, info = score_info(beta)
    se = np.sqrt(np.diagonal(np.linalg.inv(info + ridge), axis1=1, axis2=2))
    return beta, se, converged


def logistic_batch(y, X, *, max_iter: int = 30, tol: float = 1e-10):
    """Fit ``logit P(y=1) = X b`` for every batch row.

    Parameters
    ----------
    y : (B, n) 0/1 outcomes.  X : (B, n, p) design, intercept included.

    Returns ``(coef, se, converged)`` with shapes (B, p), (B, p), (B,).
    Trials whose Newton iterations do not converge (e.g. complete separation)
    keep their last iterate and are reported with a ``ConvergenceWarning``.
    """
    X = _check_batch(X, y)
    y = np.asarray(y, dtype=float)
    B, n, p = X.shape
    beta = np.zeros((B, p))
    # start at the intercept-only MLE, as glm's starting values, for fewer iterations
    ybar = np.clip(y.mean(axis=1), 0.5 / n, 1 - 0.5 / n)
    beta[:, 0] = special.logit(ybar)

    def score_info(beta):
        mu = special.expit(np.einsum("bnp,bp->bn", X, beta))
        return np.einsum("bnp,bn->bp", X, y - mu), np.einsum("bnp,bn,bnq->bpq", X, mu * (1.0 - mu), X)

    beta, se, converged = _newton(score_info, beta, max_iter=max_iter, tol=tol)
    _warn_unconverged(converged, "logistic")
    return beta, se, converged


def _tie_bounds(t_desc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For times sorted in decreasing order: indices of the first and last row tied with each row."""
    B, n = t_desc.shape
    idx = np.broadcast_to(np.arange(n), (B, n))
    change = np.ones((B, n + 1), dtype=bool)
    change[:, 1:-1] = t_desc[:, :-1] != t_desc[:, 1:]
    first = np.maximum.accumulate(np.where(change[:, :-1], idx, 0), axis=1)
    last = np.minimum.accumulate(np.where(change[:, 1:], idx, n)[:, ::-1], axis=1)[:, ::-1]
    return first, last


def _group_sum(values: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each row's tie group (along axis 1; trailing axes kept)."""
    cs = np.cumsum(values, axis=1)
    zero = np.zeros_like(cs[:, :1])
    before = np.concatenate([zero, cs], axis=1)  # before[k] = sum of values[:k]
    idx_hi = (last + 1).reshape(last.shape + (1,) * (values.ndim - 2))
    idx_lo = first.reshape(first.shape + (1,) * (values.ndim - 2))
    return np.take_along_axis(before, idx_hi, axis=1) - np.take_along_axis(before, idx_lo, axis=1)


def cox_batch(time, event, X, *, ties: str = "efron", max_iter: int = 30, tol: float = 1e-9):
    """Fit a Cox model for every batch row (R's ``coxph``; Efron or Breslow ties).

    Parameters
    ----------
    time : (B, n) follow-up times.  event : (B, n) 1 event, 0 censored.
    X : (B, n, p) covariates (no intercept).
    ties : ``"efron"`` (R's default) or ``"breslow"``; identical without tied event times.

    Returns ``(coef, se, converged)``. For the ``k``-th of ``m`` events tied at
    a time, Efron's denominator is ``D = S0 - (k/m)·E0`` (``S0`` the risk-set
    sum of ``exp(xb)``, ``E0`` the sum over the tied events; Breslow: ``D = S0``);
    score ``U = Σ d_i (x_i - x̄_i)``, ``x̄_i = (S1 - (k/m)E1)/D`` and
    information ``Σ d_i [(S2 - (k/m)E2)/D - x̄_i x̄_i']``. Risk-set sums are
    cumulative sums over rows sorted by decreasing time, and the ``S2`` terms
    are regrouped per row (``Σ_j r_j x_j x_j' w_j``), so a Newton step costs
    O(B·n·p²) time and O(B·n·p) memory.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    X = _check_batch(X, time, event)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    B, n, p = X.shape
    order = np.argsort(-time, axis=1, kind="stable")
    t = np.take_along_axis(time, order, axis=1)
    d = np.take_along_axis(event, order, axis=1)
    Xs = np.take_along_axis(X, order[..., None], axis=1)
    first, last = _tie_bounds(t)
    if ties == "efron":
        # rank k (0, 1, ...) of each event among the events of its tie group, and their number m
        k = np.cumsum(d, axis=1) - d - np.take_along_axis(np.concatenate([np.zeros((B, 1)), np.cumsum(d, axis=1)], axis=1), first, axis=1)
        m = _group_sum(d, first, last)
        frac = np.where(d > 0, k / np.maximum(m, 1.0), 0.0)
    else:
        frac = np.zeros((B, n))
    tied = bool(frac.any())  # no tied events: Efron = Breslow, skip the tie-group sums
    def score_info(beta):
        eta = np.einsum("bnp,bp->bn", Xs, beta)
        r = np.exp(eta - eta.max(axis=1, keepdims=True))
        rx = r[..., None] * Xs
        s0 = np.take_along_axis(np.cumsum(r, axis=1), last, axis=1)
        s1 = np.take_along_axis(np.cumsum(rx, axis=1), last[..., None], axis=1)
        if tied:
            den = s0 - frac * _group_sum(d * r, first, last)
            xbar = (s1 - frac[..., None] * _group_sum(d[..., None] * rx, first, last)) / den[..., None]
        else:
            den, xbar = s0, s1 / s0[..., None]
        U = np.einsum("bn,bnp->bp", d, Xs - xbar)
        # sum_i d_i (S2_i - a_i E2_i) / D_i = sum_j r_j x_j x_j' w_j with
        # w_j = (sum of d_i / D_i over events whose risk set holds j: every shorter time and
        #        j's own tie group) - d_j (sum of d_i a_i / D_i over the events tied with j)
        inv = d / den
        c = np.cumsum(inv[:, ::-1], axis=1)[:, ::-1]
        c = np.take_along_axis(c, first, axis=1)
        w = c - d * _group_sum(inv * frac, first, last) if tied else c
        info = np.einsum("bn,bnp,bnq->bpq", r * w, Xs, Xs) - np.einsum("bn,bnp,bnq->bpq", d, xbar, xbar)
        return U, info

    beta, se, converged = _newton(score_info, np.zeros((B, p)), max_iter=max_iter, tol=tol)
    _warn_unconverged(converged, "Cox")
    return beta, se, converged


def ols_batch(y, X, weight=None):
    """Least squares for every batch row; rows with weight 0 (or NaN ``y``) are left out.

    Returns ``(coef, se, df)`` with ``df = n_used - p`` per trial.
    """
    X = _check_batch(X, y)
    y = np.asarray(y, dtype=float)
    w = np.isfinite(y).astype(float) if weight is None else np.asarray(weight, dtype=float) * np.isfinite(y)
    y0 = np.where(w > 0, y, 0.0)
    XtX = np.einsum("bnp,bn,bnq->bpq", X, w, X)
    Xty = np.einsum("bnp,bn->bp", X, w * y0)
    coef = _solve(XtX, Xty)
    resid = y0 - np.einsum("bnp,bp->bn", X, coef)
    df = w.sum(axis=1) - X.shape[2]
    sigma2 = np.einsum("bn,bn->b", w, resid**2) / df
    se = np.sqrt(sigma2[:, None] * np.diagonal(np.linalg.inv(XtX), axis1=1, axis2=2))
    return coef, se, df


def _warn_unconverged(converged: np.ndarray, what: str) -> None:
    if not converged.all():
        warnings.warn(
            f"{what} fit did not converge in {int((~converged).sum())} of {converged.size} simulated "
            "trials (e.g. complete separation); their estimates are the last iterate",
            ConvergenceWarning,
            stacklevel=3,
        )
