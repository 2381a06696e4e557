"""Negative binomial (NB2) regression by maximum likelihood, as ``MASS::glm.nb``.

The one NB fit of the package (used by ``survival.count_ratio``/``days_ratio`` and
``process.engagement_model``/``dose_response``). Model: ``log mu = X beta + offset``,
``Var(y) = mu + mu^2 / theta``. As ``glm.nb``, the fit alternates

- IRLS for beta at fixed theta: weights ``W = mu / (1 + mu / theta)``, working response
  ``eta - offset + (y - mu) / mu``;
- Newton-Raphson for theta at fixed mu (``MASS::theta.ml``), started from the method of
  moments ``n / sum((y / mu - 1)^2)``,

until theta changes by less than ``tol`` (relative). The covariance of beta is
``(X' W X)^-1`` at the estimate (``summary.glm.nb``, dispersion 1); SE(theta) is
``1 / sqrt(I(theta))`` with the observed information of ``theta.ml``.

Hand-written rather than statsmodels' ``NegativeBinomial``: that route (ML for alpha, then a
GLM with alpha fixed) agrees with ``glm.nb`` only to ~1e-7 in the coefficients, takes no
offset in the refit without care, and returns a finite alpha without any warning when there is
no overdispersion (theta -> infinity), where ``glm.nb`` warns "iteration limit reached".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial._lazy import lazy_module
from peertrial._warnings import ConvergenceWarning

special = lazy_module("scipy.special")

__all__ = ["NegbinFit", "negbin_fit"]


@dataclass(frozen=True, eq=False)
class NegbinFit:
    """An NB2 fit: ``coef`` (beta), ``cov`` (its covariance), ``theta``, ``se_theta``, ``loglik``."""

    coef: np.ndarray
    cov: np.ndarray
    theta: float
    se_theta: float
    loglik: float
    converged: bool

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


def negbin_fit(X, y, offset=None, *, tol: float = 1e-12, maxit: int = 200, stacklevel: int = 2) -> NegbinFit:
    """Fit NB2 regression of counts ``y`` on design ``X`` (with intercept column) by ML.

    Both loops are bounded (as ``glm.nb``'s ``maxit``); a fit that stops without meeting the
    tolerance warns with :class:`peertrial.ConvergenceWarning` (R: "iteration limit reached")
    and has ``converged=False``; ``stacklevel`` points that warning at the user's call.

    Raises ``ValueError`` for an all-zero outcome (the ML fit diverges), negative or
    non-finite counts, and a rank-deficient design.
    """
    names = list(X.columns) if isinstance(X, pd.DataFrame) else None
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    offset = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=float)
    _check_inputs(X, y, offset, names)
    beta = np.linalg.lstsq(X, np.log(y + 0.5) - offset, rcond=None)[0]
    mu = np.exp(X @ beta + offset)
    theta, ok_theta = _theta_ml(y, mu)
    converged = False
    for _ in range(maxit):
        beta, ok_beta = _irls(X, y, offset, theta, beta, tol)
        mu = np.exp(X @ beta + offset)
        new_theta, ok_theta = _theta_ml(y, mu, theta)
        if abs(new_theta - theta) < tol * (1 + theta):
            theta = new_theta
            converged = ok_beta
            break
        theta = new_theta
    converged = converged and ok_theta
    if not converged:
        warnings.warn(f"negative binomial fit did not converge (theta = {theta:.4g}; "
                      "a very large theta means no overdispersion: consider a Poisson model)",
                      ConvergenceWarning, stacklevel=stacklevel + 1)
    mu = np.exp(X @ beta + offset)
    w = mu / (1 + mu / theta)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    info_theta = _theta_information(y, mu, theta)
    se_theta = 1 / np.sqrt(info_theta) if info_theta > 0 else np.nan
    return NegbinFit(beta, cov, float(theta), float(se_theta), float(_loglik(y, mu, theta)), converged)


def _check_inputs(X, y, offset, names) -> None:
    n, k = X.shape
    if len(y) != n or len(offset) != n:
        raise ValueError(f"design has {n} rows but the outcome has {len(y)} and the offset {len(offset)}")
    bad = ~np.isfinite(y) | (y < 0)
    if bad.any():
        raise ValueError(f"the outcome must be non-negative counts; found {y[bad][:5].tolist()} at positions "
                         f"{np.flatnonzero(bad)[:10].tolist()}")
    if not np.all(np.isfinite(X)) or not np.all(np.isfinite(offset)):
        raise ValueError("the design and the offset must be finite")
    if not np.any(y > 0):
        raise ValueError(f"the outcome is 0 in all {n} rows (no positive counts): the negative binomial "
                         "fit diverges (MASS::glm.nb fails on an all-zero outcome)")
    rank = np.linalg.matrix_rank(X)
    if rank < k:
        cols = f" {names}" if names is not None else ""
        raise ValueError(f"the design{cols} is rank-deficient (rank {rank} < {k} columns: a column is "
                         "constant or confounded with others); drop or merge terms")


def _irls(X, y, offset, theta, beta, tol, maxit=100):
    """IRLS for beta at fixed theta (log link); returns (beta, converged)."""
    for _ in range(maxit):
        eta = X @ beta + offset
        mu = np.exp(eta)
        w = mu / (1 + mu / theta)
        zz = eta - offset + (y - mu) / mu
        new = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * zz))
        done = np.max(np.abs(new - beta)) < tol * (1 + np.max(np.abs(new)))
        beta = new
        if done:
            return beta, True
    return beta, False


def _theta_score(y, mu, theta):
    return np.sum(special.digamma(y + theta) - special.digamma(theta) + np.log(theta) + 1
                  - np.log(theta + mu) - (y + theta) / (mu + theta))


def _theta_information(y, mu, theta):
    """Observed information for theta, minus d2 loglik / d theta2 (as ``theta.ml``)."""
    return -np.sum(special.polygamma(1, y + theta) - special.polygamma(1, theta) + 1 / theta
                   - 2 / (mu + theta) + (y + theta) / (mu + theta) ** 2)


def _theta_ml(y, mu, theta=None, maxit=200):
    """Newton-Raphson for the NB2 shape theta given mu (``MASS::theta.ml``); (theta, converged)."""
    if theta is None:
        theta = len(y) / np.sum((y / mu - 1) ** 2)
    for _ in range(maxit):
        with np.errstate(divide="ignore", invalid="ignore"):
            step = _theta_score(y, mu, theta) / _theta_information(y, mu, theta)
        if not np.isfinite(step):
            return theta, False
        new = theta + step
        for _ in range(60):  # halve steps that would leave theta > 0
            if new > 0:
                break
            step /= 2
            new = theta + step
        else:
            return theta, False
        theta = new
        if abs(step) < 1e-13 * (1 + theta):
            return theta, True
    return theta, False


def _loglik(y, mu, theta):
    """NB2 log-likelihood, sum log Gamma(y+theta)/(Gamma(theta) y!) (theta/(theta+mu))^theta (mu/(theta+mu))^y."""
    return np.sum(special.gammaln(y + theta) - special.gammaln(theta) - special.gammaln(y + 1)
                  + theta * np.log(theta) + y * np.log(mu) - (y + theta) * np.log(theta + mu))
