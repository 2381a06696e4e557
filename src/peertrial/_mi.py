"""The one multiple-imputation engine: chained equations and Rubin's rules.

Used by :func:`peertrial.trial.multiple_imputation` (missing outcomes and covariates) and
:func:`peertrial.econ.cea` (missing costs and effects); nothing else imputes.

Imputation by chained equations as mice (van Buuren 2018, *Flexible Imputation of
Missing Data*, 2nd ed., sections 3.2 and 4.5): each incomplete column in turn is drawn
from a Bayesian linear regression on all other columns among its observed rows
(mice's ``.norm.draw``: ``sigma*^2 = RSS / chi^2_{n_obs - p}``,
``beta* ~ N(beta_hat, sigma*^2 (X'X)^{-1})`` with a 1e-5 ridge on ``X'X``), then

- ``method="norm"`` (mice ``norm``, algorithm 3.1) imputes ``X beta* + sigma* e``;
- ``method="pmm"`` (mice ``pmm``, predictive mean matching with type-1 matching and 5
  donors) predicts the observed rows with ``beta_hat`` and the missing rows with
  ``beta*``, and imputes the observed value of one of the 5 observed rows whose prediction
  is closest, drawn at random. Imputations are then always values that occur in the
  data (no negative costs, no impossible scores).

Starting values are random draws from each column's observed values; with more than one
incomplete column the cycle is repeated ``n_iter`` times. The ``m`` imputations are
independent chains drawn from one generator, so a seed reproduces them.

Rubin's rules as ``mice::pool`` (mice 3.x) with the Barnard–Rubin (1999) degrees of
freedom::

    qbar = mean(Q_l);  ubar = mean(U_l);  b = var(Q_l);  t = ubar + (1 + 1/m) b
    riv = (1 + 1/m) b / ubar;  lambda = (1 + 1/m) b / t   (floored at 1e-4 for the df)
    df_old = (m - 1) / lambda^2;  df_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda)
    df = df_old df_obs / (df_old + df_obs);  fmi = (riv + 2 / (df + 3)) / (riv + 1)

For a vector of estimates with covariance matrices ``U_l`` the total covariance is
``T = Ubar + (1 + 1/m) B`` with ``B`` the between-imputation covariance (Rubin 1987,
*Multiple Imputation for Nonresponse in Surveys*, section 3.1); :func:`rubin_cov`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module

stats = lazy_module("scipy.stats")

__all__ = ["impute", "rubin_pool", "rubin_cov", "METHODS"]

METHODS = ("norm", "pmm")
_DONORS = 5  # mice's default number of donors for pmm


def _moments(estimates, variances):
    """``(m, p)`` estimates and ``(m, p)`` variances or ``(m, p, p)`` covariances as arrays."""
    Q = np.atleast_2d(np.asarray(estimates, dtype=float))
    U = np.asarray(variances, dtype=float)
    U = np.atleast_2d(U) if U.ndim < 3 else U
    if U.shape[:2] != Q.shape or (U.ndim == 3 and U.shape[2] != Q.shape[1]):
        raise ValueError(f"estimates {Q.shape} and variances {U.shape} must have the same shape (m, p) "
                         "(or (m, p, p) covariance matrices)")
    m = Q.shape[0]
    if m < 2:
        raise ValueError("Rubin's rules need at least 2 imputations")
    return Q, U, m


def rubin_cov(estimates, covariances) -> tuple[np.ndarray, np.ndarray]:
    """Pooled estimate and total covariance ``Ubar + (1 + 1/m) B`` of ``m`` completed-data fits.

    ``estimates``: ``(m, p)``; ``covariances``: ``(m, p, p)``. Returns ``(qbar, T)``.
    """
    Q, U, m = _moments(estimates, covariances)
    if U.ndim != 3:
        raise ValueError("covariances must have shape (m, p, p)")
    between = np.atleast_2d(np.cov(Q.T, ddof=1))
    return Q.mean(axis=0), U.mean(axis=0) + (1 + 1 / m) * between


def rubin_pool(estimates, variances, dfcom: float = np.inf, level: float = 0.95,
               names=None, *, conf_level=None) -> pd.DataFrame:
    """Pool ``m`` completed-data estimates (``(m, p)``) and their variances by Rubin's rules.

    Equals ``mice::pool`` (and its ``summary``): Barnard–Rubin degrees of freedom from the
    complete-data residual df ``dfcom`` (``inf`` for large-sample tests).

    Parameters
    ----------
    estimates, variances : array-like, shape (m, p)
        Estimates of the ``p`` parameters and their squared SEs in each of ``m >= 2``
        completed data sets.
    dfcom : float
        Complete-data degrees of freedom (``n - p`` for a linear model).
    level : float
        Level of the t-based confidence intervals, 0.95 or 95 alike (``conf_level`` is its
        deprecated alias).
    names : sequence, optional
        Parameter names (the index of the result).

    Returns
    -------
    DataFrame
        One row per parameter with ``estimate, ubar, b, t, dfcom, df, riv, lambda, fmi, se,
        statistic, pval, ci_lb, ci_ub``.

    Examples
    --------
    >>> from peertrial._mi import rubin_pool
    >>> rubin_pool([[1.0], [1.2], [0.9]], [[0.04], [0.05], [0.04]], dfcom=50)["df"].round(2).tolist()
    [8.13]
    """
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    Q, U, m = _moments(estimates, variances)
    if U.ndim == 3:
        U = np.diagonal(U, axis1=1, axis2=2)
    if not np.isfinite(Q).all():
        raise ValueError("estimates has missing or infinite values; Rubin's rules need every imputation's estimate")
    if not np.isfinite(U).all() or (U < 0).any():
        raise ValueError("variances must be finite and non-negative in every imputation (a negative or missing "
                         "variance means that imputation's fit failed)")
    if not (dfcom > 0):
        raise ValueError(f"dfcom must be positive (the complete-data residual df, or inf); got {dfcom!r}")
    qbar, ubar, b = Q.mean(axis=0), U.mean(axis=0), Q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / ubar
    lam = (1 + 1 / m) * b / t
    df = _barnard_rubin(m, lam, dfcom)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    se = np.sqrt(t)
    q = stats.t.ppf(0.5 + conf_level / 2, df)
    index = pd.Index(names if names is not None else range(Q.shape[1]), name="term")
    return pd.DataFrame({"estimate": qbar, "ubar": ubar, "b": b, "t": t, "dfcom": float(dfcom), "df": df,
                         "riv": riv, "lambda": lam, "fmi": fmi, "se": se, "statistic": qbar / se,
                         "pval": 2 * stats.t.sf(np.abs(qbar / se), df), "ci_lb": qbar - q * se,
                         "ci_ub": qbar + q * se}, index=index)


def _barnard_rubin(m: int, lam: np.ndarray, dfcom: float) -> np.ndarray:
    lam = np.maximum(lam, 1e-4)
    dfold = (m - 1) / lam**2
    if not np.isfinite(dfcom):
        return dfold
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


def _norm_fit(y_obs: np.ndarray, X_obs: np.ndarray, rng: np.random.Generator):
    """mice's ``.norm.draw``: ``(beta_hat, beta*, sigma*)`` (ridge 1e-5 on the diagonal of X'X)."""
    xtx = X_obs.T @ X_obs
    xtx = xtx + np.diag(np.diag(xtx)) * 1e-5
    v = np.linalg.inv(xtx)
    v = (v + v.T) / 2
    coef = v @ (X_obs.T @ y_obs)
    resid = y_obs - X_obs @ coef
    df = max(len(y_obs) - X_obs.shape[1], 1)
    sigma = np.sqrt(resid @ resid / rng.chisquare(df))
    beta = coef + sigma * (np.linalg.cholesky(v) @ rng.standard_normal(len(coef)))
    return coef, beta, sigma


def _norm_draw(y_obs, X_obs, X_mis, rng) -> np.ndarray:
    _, beta, sigma = _norm_fit(y_obs, X_obs, rng)
    return X_mis @ beta + sigma * rng.standard_normal(X_mis.shape[0])


def _pmm_draw(y_obs, X_obs, X_mis, rng) -> np.ndarray:
    coef, beta, _ = _norm_fit(y_obs, X_obs, rng)
    yhat_obs, yhat_mis = X_obs @ coef, X_mis @ beta
    k = min(_DONORS, len(y_obs))
    dist = np.abs(yhat_mis[:, None] - yhat_obs[None, :])
    donors = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < len(y_obs) else np.tile(np.arange(k), (len(X_mis), 1))
    pick = donors[np.arange(len(X_mis)), rng.integers(0, k, size=len(X_mis))]
    return y_obs[pick]


_DRAW = {"norm": _norm_draw, "pmm": _pmm_draw}


def impute(values, m: int = 20, n_iter: int = 10, seed=None, method="norm", names=None) -> np.ndarray:
    """``m`` completed copies (``(m, n, k)``) of the numeric matrix ``values`` (NaN = missing).

    Parameters
    ----------
    values : array-like, shape (n, k)
        Every column predicts every other; NaN marks a value to impute.
    m : int
        Number of imputations (independent chains).
    n_iter : int
        Cycles of the chained equations when several columns are incomplete (one otherwise).
    seed : int, Generator or None
        Random stream (``_data.as_generator``).
    method : ``"norm"`` or ``"pmm"``, or one of them per column
        Imputation model of each incomplete column (see the module docstring).
    names : sequence of str, optional
        Column names for error messages.

    Returns
    -------
    ndarray, shape (m, n, k)
        The completed data sets; observed values are unchanged.
    """
    rng = _data.as_generator(seed)
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be a matrix (n, k), got shape {values.shape}")
    k = values.shape[1]
    methods = [method] * k if isinstance(method, str) else list(method)
    if len(methods) != k or any(x not in METHODS for x in methods):
        raise ValueError(f"method must be one of {METHODS} (or one per column), got {method!r}")
    if int(m) < 1 or int(n_iter) < 1:
        raise ValueError(f"m and n_iter must be at least 1, got m={m}, n_iter={n_iter}")
    names = list(names) if names is not None else [f"column {j}" for j in range(k)]
    miss = np.isnan(values)
    incomplete = [j for j in range(k) if miss[:, j].any()]
    for j in incomplete:
        if miss[:, j].all():
            raise ValueError(f"{names[j]} has no observed values to impute from")
    n_iter = n_iter if len(incomplete) > 1 else 1
    out = np.empty((int(m), *values.shape))
    for i in range(int(m)):
        filled = values.copy()
        for j in incomplete:
            obs = filled[~miss[:, j], j]
            filled[miss[:, j], j] = rng.choice(obs, size=miss[:, j].sum())
        for _ in range(n_iter):
            for j in incomplete:
                others = np.column_stack([np.ones(len(filled)), np.delete(filled, j, axis=1)])
                o = ~miss[:, j]
                filled[~o, j] = _DRAW[methods[j]](filled[o, j], others[o], others[~o], rng)
        out[i] = filled
    return out
