"""The one multiple-imputation engine: chained equations and Rubin's rules.

Used by :func:`peertrial.trial.multiple_imputation` (missing outcomes and covariates) and
:func:`peertrial.econ.cea` (missing costs and effects); nothing else imputes.

Imputation by chained equations as mice 3.15 (van Buuren 2018, *Flexible Imputation of
Missing Data*, 2nd ed., sections 3.2-3.6 and 4.5). Each incomplete column in turn is imputed
from all the other columns (numeric as they are, factors as treatment-coded dummies, as
``model.matrix``), among its observed rows, after mice's ``remove.lindep`` screening
(:func:`remove_lindep`). Methods (mice's names; ``method=None`` gives mice's defaults,
:func:`default_methods`):

- ``"pmm"`` (default for numeric columns): predictive mean matching. mice's ``.norm.draw``
  (``estimice`` by QR, :func:`norm_estimate`; ``sigma*^2 = RSS / chi^2_{n_obs - p}``,
  ``beta* ~ N(beta_hat, sigma*^2 (X'X)^{-1})``; the 1e-5 ridge only when ``X'X`` is
  singular), then type-1 matching: observed rows predicted with ``beta_hat``, missing rows
  with ``beta*``, and the observed value of one of the 5 closest rows drawn at random
  (ties broken at random, as ``matchindex``). Imputations are values that occur in the data.
- ``"norm"``: Bayesian linear regression, ``X beta* + sigma* e`` (algorithm 3.1).
- ``"logreg"`` (default for two-level factors): logistic regression on the observed rows plus
  mice's augmented rows (:func:`augment`; White, Daniel & Royston 2010, so a fit exists under
  perfect prediction), fitted as ``glm.fit(family = quasibinomial)`` with the augmented
  rows' weights; ``beta* ~ N(beta_hat, cov.unscaled)``; the category is 1 when a uniform
  draw is at most ``plogis(x beta*)``.
- ``"polyreg"`` (default for factors with more levels): multinomial logit (``nnet::multinom``,
  first level the baseline) on the augmented, weighted rows; each missing value is drawn from
  the fitted class probabilities (as mice: no draw of the coefficients).

Starting values are random draws from each column's observed values; with more than one
incomplete column the cycle is repeated ``n_iter`` times (mice's ``maxit``). The ``m``
imputations are independent chains drawn from one generator, so a seed reproduces them;
``by=`` imputes groups (arms) separately. The draws cannot equal mice's (another random
stream); tests/trial/test_mi_mice.py checks the deterministic pieces against mice's own
functions and the pooled estimates against mice's over many seeds.

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

from collections.abc import Sequence

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module

stats = lazy_module("scipy.stats")

__all__ = ["impute", "rubin_pool", "rubin_cov", "METHODS", "default_methods"]

METHODS = ("pmm", "norm", "logreg", "polyreg")
_DONORS = 5  # mice's default number of donors for pmm
_RIDGE = 1e-5  # mice's ridge, used only when X'X is singular


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
    dfcom : float, default inf
        Complete-data degrees of freedom (``n - p`` for a linear model).
    level : float, default 0.95
        Level of the t-based confidence intervals, 0.95 or 95 alike.
    names : sequence, optional
        Parameter names (the index of the result).
    conf_level : float, optional
        Deprecated spelling of ``level``.

    Returns
    -------
    pandas.DataFrame
        One row per parameter with ``estimate, ubar, b, t, dfcom, df, riv, lambda, fmi, se,
        statistic, pval, ci_lb, ci_ub``.

    Notes
    -----
    R equivalent: ``mice::pool`` and ``summary(pool(...), conf.int = TRUE)`` (mice 3.15.0);
    for one parameter also ``mice::pool.scalar(Q, U, n = dfcom + 1, k = 1)``.

    References
    ----------
    .. [1] Rubin, D. B. (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
    .. [2] Barnard, J., & Rubin, D. B. (1999). Small-sample degrees of freedom with multiple
       imputation. Biometrika, 86, 948-955.
    .. [3] van Buuren, S. (2018). Flexible Imputation of Missing Data (2nd ed.). Chapman &
       Hall/CRC.

    Examples
    --------
    >>> pooled = pt.trial.rubin_pool([[1.0], [1.2], [0.9]], [[0.04], [0.05], [0.04]], dfcom=50)
    >>> pooled[["estimate", "t", "df", "fmi"]].round(4).iloc[0].tolist()     # as mice::pool.scalar
    [1.0333, 0.0744, 8.128, 0.5225]
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


# --------------------------------------------------------------------------- imputation models
# Each ``_draw_*`` takes the predictors ``x`` (n, q; no intercept; after ``_remove_lindep``),
# the current (filled) column ``y`` (n,), the observed mask ``ry`` and the generator, and
# returns the imputations of the rows ``~ry``. Factor columns hold integer codes.

def _sym(a: np.ndarray) -> np.ndarray:
    return (a + a.T) / 2


def norm_estimate(X: np.ndarray, y: np.ndarray):
    """mice's ``estimice`` (``ls.meth = "qr"``): ``(beta_hat, V, residuals, df)``.

    ``beta_hat`` and ``V = (X'X)^{-1}`` from the QR decomposition (``lm.fit``); only when
    ``X'X`` is singular is the 1e-5 ridge added to its diagonal, as mice does.
    ``df = max(n - p, 1)``.
    """
    n, p = X.shape
    q, r = np.linalg.qr(X)
    d = np.abs(np.diag(r))
    if p and d.min() > 1e-7 * d.max():
        coef = np.linalg.solve(r, q.T @ y)
        rinv = np.linalg.inv(r)
        v = rinv @ rinv.T
    else:
        xtx = X.T @ X
        v = np.linalg.inv(xtx + np.diag(np.diag(xtx) * _RIDGE))
        coef = v @ (X.T @ y)
    return coef, v, y - X @ coef, max(n - p, 1)


def _norm_fit(y_obs: np.ndarray, X_obs: np.ndarray, rng: np.random.Generator):
    """mice's ``.norm.draw``: ``(beta_hat, beta*, sigma*)`` with ``sigma*^2 = RSS / chi^2_df``
    and ``beta* = beta_hat + sigma* chol(V) z``."""
    coef, v, resid, df = norm_estimate(X_obs, y_obs)
    sigma = np.sqrt(resid @ resid / rng.chisquare(df))
    beta = coef + sigma * (_root(_sym(v)) @ rng.standard_normal(len(coef)))
    return coef, beta, sigma


def _root(v: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a covariance (``t(chol(v))``); a symmetric square root when
    ``v`` is only semi-definite (an aliased predictor)."""
    try:
        return np.linalg.cholesky(v)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(v)
        return vectors * np.sqrt(np.clip(values, 0, None))


def _with_intercept(x: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(x)), x])


def _draw_norm(x, y, ry, rng) -> np.ndarray:
    X = _with_intercept(x)
    _, beta, sigma = _norm_fit(y[ry], X[ry], rng)
    return X[~ry] @ beta + sigma * rng.standard_normal(int((~ry).sum()))


def pmm_donors(yhat_obs, yhat_mis, donors: int = _DONORS) -> np.ndarray:
    """Indices ``(n_mis, donors)`` of the observed rows whose predictions are closest to each
    missing row's (mice's ``matchindex``), nearest first; equal distances go to the earlier
    observed row.

    O((n_mis + n_obs) log n_obs): the observed predictions are sorted once and each missing
    prediction is located with ``searchsorted``; its ``donors`` nearest lie among the
    ``donors`` sorted neighbours on each side. The left-hand neighbours are read from a second
    order that sorts equal predictions by decreasing row, so a run of equal predictions
    crossing the window's edge contributes its earliest rows, as the full search would.
    """
    yhat_obs, yhat_mis = np.asarray(yhat_obs, float), np.asarray(yhat_mis, float)
    n = len(yhat_obs)
    k = min(int(donors), n)
    rows = np.arange(n)
    up = np.lexsort((rows, yhat_obs))  # prediction up, row up: read rightwards from the match
    down = np.lexsort((-rows, yhat_obs))  # prediction up, row down: read leftwards
    pos = np.searchsorted(yhat_obs[up], yhat_mis, side="left")
    step = np.arange(k)
    right, left = pos[:, None] + step, pos[:, None] - 1 - step
    cand = np.concatenate([up[np.minimum(right, n - 1)], down[np.maximum(left, 0)]], axis=1)
    inside = np.concatenate([right < n, left >= 0], axis=1)
    dist = np.where(inside, np.abs(yhat_mis[:, None] - yhat_obs[cand]), np.inf)
    order = np.lexsort((np.where(inside, cand, n), dist), axis=1)[:, :k]
    return np.take_along_axis(cand, order, axis=1)


def _draw_pmm(x, y, ry, rng) -> np.ndarray:
    X = _with_intercept(x)
    y_obs = y[ry]
    coef, beta, _ = _norm_fit(y_obs, X[ry], rng)
    # type-1 matching: observed rows predicted with beta_hat, missing rows with beta*
    yhat_obs, yhat_mis = X[ry] @ coef, X[~ry] @ beta
    shuffle = rng.permutation(len(y_obs))  # random tie-breaking among equal distances, as matchindex
    donors = pmm_donors(yhat_obs[shuffle], yhat_mis)
    pick = donors[np.arange(len(donors)), rng.integers(0, donors.shape[1], size=len(donors))]
    return y_obs[shuffle][pick]


def augment(x, y, ry, classes=None):
    """mice's ``augment``: extra weighted rows so a logistic or multinomial fit always exists.

    For each of the ``q`` predictors and each of the ``k`` categories, two rows at the
    predictor's mean +/- half its SD (clipped to its range), every other predictor at its
    mean, with weight ``(q + 1) / (2 q k)`` (White, Daniel & Royston 2010). Returns
    ``(x, y, ry, w)`` with the rows appended (none when ``q = 0`` or exactly one value is
    missing).
    """
    x, y, ry = np.asarray(x, float), np.asarray(y, float), np.asarray(ry, bool)
    n, q = x.shape
    if classes is None:
        classes = np.unique(y[~np.isnan(y)])
    k = len(classes)
    if q == 0 or int((~ry).sum()) == 1:
        return x, y, ry, np.ones(n)
    nr = 2 * q * k
    mean, sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    pattern = np.resize(np.concatenate([np.tile([0.5, -0.5], k), np.zeros(nr)]), nr * q).reshape(q, nr).T
    d = np.clip(mean + pattern * sd, x.min(axis=0), x.max(axis=0))
    e = np.tile(np.repeat(classes, 2), q)
    return (np.vstack([x, d]), np.concatenate([y, e]), np.concatenate([ry, np.ones(nr, bool)]),
            np.concatenate([np.ones(n), np.full(nr, (q + 1) / nr)]))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


def logistic_fit(X, t, w, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by IRLS as ``glm.fit(family = quasibinomial)``:
    ``(beta_hat, cov.unscaled)``, the latter ``(X' W X)^{-1}`` (mice's ``.logreg`` draws
    ``beta* ~ N(beta_hat, cov.unscaled)``)."""
    mu = (w * t + 0.5) / (w + 1)  # glm's binomial mustart
    eta = np.log(mu / (1 - mu))
    beta = np.zeros(X.shape[1])
    dev_old = np.inf
    for _ in range(max_iter):
        var = mu * (1 - mu)
        z = eta + (t - mu) / var
        ww = w * var
        xtw = X.T * ww
        beta = _solve(xtw @ X, xtw @ z)
        eta = X @ beta
        mu = 1 / (1 + np.exp(-eta))
        mu = np.clip(mu, 1e-15, 1 - 1e-15)
        dev = -2 * np.sum(w * (t * np.log(mu) + (1 - t) * np.log1p(-mu)))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-12:
            break
        dev_old = dev
    xtwx = (X.T * (w * mu * (1 - mu))) @ X
    return beta, _sym(np.linalg.pinv(xtwx))


def multinomial_fit(X, codes, w, n_classes: int, max_iter: int = 100) -> np.ndarray:
    """Weighted multinomial logit MLE (``nnet::multinom``, first class the baseline) by Newton
    with step-halving; returns the coefficients ``(p, n_classes - 1)``."""
    n, p = X.shape
    K = n_classes
    Y = np.zeros((n, K))
    Y[np.arange(n), codes] = 1.0
    B = np.zeros((p, K - 1))

    def loglik(B):
        eta = np.column_stack([np.zeros(n), X @ B])
        eta -= eta.max(axis=1, keepdims=True)
        logp = eta - np.log(np.exp(eta).sum(axis=1, keepdims=True))
        return np.sum(w[:, None] * Y * logp), np.exp(logp)

    ll, P = loglik(B)
    for _ in range(max_iter):
        g = (X.T @ (w[:, None] * (Y - P)[:, 1:])).ravel(order="F")
        H = np.empty((p * (K - 1), p * (K - 1)))
        for a in range(1, K):
            for b in range(1, K):
                c = w * P[:, a] * ((a == b) - P[:, b])
                H[(a - 1) * p:a * p, (b - 1) * p:b * p] = (X.T * c) @ X
        step = _solve(H, g).reshape((p, K - 1), order="F")
        t = 1.0
        for _half in range(30):
            ll_new, P_new = loglik(B + t * step)
            if ll_new >= ll - 1e-12 * abs(ll):
                break
            t /= 2
        B = B + t * step
        done = abs(ll_new - ll) < 1e-12 * (abs(ll) + 0.1)
        ll, P = ll_new, P_new
        if done:
            break
    return B


def _draw_logreg(x, y, ry, rng) -> np.ndarray:
    classes = np.unique(y[ry])
    n_mis = int((~ry).sum())
    if len(classes) == 1:
        return np.full(n_mis, classes[0])
    xa, ya, rya, w = augment(x, y, ry, np.unique(y))
    X = _with_intercept(xa)
    t = (ya == classes[1]).astype(float)
    beta, v = logistic_fit(X[rya], t[rya], w[rya])
    beta_star = beta + _root(v) @ rng.standard_normal(len(beta))
    p = 1 / (1 + np.exp(-(_with_intercept(x[~ry]) @ beta_star)))
    return np.where(rng.uniform(size=n_mis) <= p, classes[1], classes[0])


def _draw_polyreg(x, y, ry, rng) -> np.ndarray:
    classes = np.unique(y[ry])
    n_mis = int((~ry).sum())
    if len(classes) == 1:
        return np.full(n_mis, classes[0])
    xa, ya, rya, w = augment(x, y, ry, np.unique(y))
    X = _with_intercept(xa)
    codes = np.searchsorted(classes, ya[rya])
    B = multinomial_fit(X[rya], codes, w[rya], len(classes))
    eta = np.column_stack([np.zeros(n_mis), _with_intercept(x[~ry]) @ B])
    post = np.exp(eta - eta.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    u = rng.uniform(size=n_mis)
    idx = (u[:, None] > np.cumsum(post, axis=1)).sum(axis=1)
    return classes[np.minimum(idx, len(classes) - 1)]


_DRAW = {"norm": _draw_norm, "pmm": _draw_pmm, "logreg": _draw_logreg, "polyreg": _draw_polyreg}


def remove_lindep(x, y, ry, eps: float = 1e-4, maxcor: float = 0.99) -> np.ndarray:
    """mice's ``remove.lindep``: which predictors enter a column's imputation model.

    Among the observed rows, drops predictors with variance ``<= eps`` or correlation with
    the column ``>= maxcor``, then (while the smallest eigenvalue of their correlation matrix
    is below ``eps`` times the largest) the predictor loading most on the smallest
    eigenvector (of two loading equally, as with an exact copy, the later one); none enter when the column's observed variance is below ``eps``.
    """
    x, y, ry = np.asarray(x, float), np.asarray(y, float), np.asarray(ry, bool)
    q = x.shape[1]
    if q == 0 or not ry.any():
        return np.ones(q, bool)
    xobs, yobs = x[ry], y[ry]
    if len(yobs) < 2 or np.var(yobs, ddof=1) < eps:
        return np.zeros(q, bool)
    keep = np.var(xobs, axis=0, ddof=1) > eps
    if keep.any():
        xc = xobs[:, keep] - xobs[:, keep].mean(axis=0)
        yc = yobs - yobs.mean()
        cor = (xc.T @ yc) / np.sqrt((xc**2).sum(axis=0) * (yc @ yc))
        sub = np.flatnonzero(keep)
        keep[sub[~(cor < maxcor)]] = False
    k = int(keep.sum())
    if k <= 1:
        return keep
    cx = np.atleast_2d(np.corrcoef(xobs[:, keep], rowvar=False))
    values = np.linalg.eigvalsh(cx)
    if values[0] / values[-1] >= eps:
        return keep
    values, vectors = np.linalg.eigh(cx)
    values, vectors = values[::-1], vectors[:, ::-1]
    # as mice: the eigen-decomposition of the first correlation matrix is reused on each pass
    while k > 1 and values[k - 1] / values[0] < eps:
        load = np.abs(vectors[:, k - 1])
        # exact collinearity makes loadings tie up to rounding: drop the later column
        j = int(np.flatnonzero(load >= load.max() * (1 - 1e-6))[-1])
        kept = np.flatnonzero(keep)
        keep[kept[min(j, len(kept) - 1)]] = False
        k -= 1
    return keep


def _predictors(filled: np.ndarray, j: int, n_levels: list[int]) -> np.ndarray:
    """Every column but ``j``: numeric as is, factors as treatment-coded dummies (first level
    the reference), as mice's ``model.matrix``."""
    parts = []
    for v in range(filled.shape[1]):
        if v == j:
            continue
        if n_levels[v]:
            parts.append(filled[:, [v]] == np.arange(1, n_levels[v])[None, :])
        else:
            parts.append(filled[:, [v]])
    return np.column_stack(parts).astype(float) if parts else np.empty((len(filled), 0))


def default_methods(n_levels: Sequence[int]) -> list[str]:
    """mice's defaults: ``pmm`` for numeric columns (``n_levels`` 0), ``logreg`` for
    two-level factors, ``polyreg`` for factors with more levels."""
    return ["pmm" if L == 0 else "logreg" if L <= 2 else "polyreg" for L in n_levels]


def _chains(values, n_levels, methods, m, n_iter, rng, names) -> np.ndarray:
    miss = np.isnan(values)
    incomplete = [j for j in range(values.shape[1]) if miss[:, j].any()]
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
                ry = ~miss[:, j]
                x = _predictors(filled, j, n_levels)
                x = x[:, remove_lindep(x, filled[:, j], ry)]
                filled[~ry, j] = _DRAW[methods[j]](x, filled[:, j], ry, rng)
        out[i] = filled
    return out


def impute(values, m: int = 20, n_iter: int = 10, seed=None, method="norm", names=None, *,
           factor=None, by=None) -> np.ndarray:
    """``m`` completed copies (``(m, n, k)``) of the matrix ``values`` (NaN = missing).

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
    method : str, sequence of str or None
        Imputation model: one of ``"pmm"``, ``"norm"``, ``"logreg"``, ``"polyreg"`` for
        every column, or one per column; ``None`` gives mice's defaults
        (:func:`default_methods`). The default ``"norm"`` keeps this function's original
        behaviour; the public functions default to ``None``.
    names : sequence of str, optional
        Column names for error messages.
    factor : sequence of bool, optional
        Which columns are factors: their values are category labels (numbers), dummy-coded
        as predictors and imputed by ``logreg``/``polyreg``.
    by : array-like, shape (n,), optional
        Group labels: each group is imputed separately (as ``mice`` run on each arm).

    Returns
    -------
    ndarray, shape (m, n, k)
        The completed data sets; observed values are unchanged.
    """
    rng = _data.as_generator(seed)
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be a matrix (n, k), got shape {values.shape}")
    n, k = values.shape
    names = list(names) if names is not None else [f"column {j}" for j in range(k)]
    factor = [False] * k if factor is None else [bool(f) for f in factor]
    if len(factor) != k:
        raise ValueError(f"factor must have one entry per column ({k}), got {len(factor)}")
    if int(m) < 1 or int(n_iter) < 1:
        raise ValueError(f"m and n_iter must be at least 1, got m={m}, n_iter={n_iter}")
    # factor columns as codes 0..L-1 (back to their labels at the end)
    codes, labels, n_levels = values.copy(), [], []
    for j in range(k):
        if factor[j]:
            lev = np.unique(values[~np.isnan(values[:, j]), j])
            ok = ~np.isnan(values[:, j])
            codes[ok, j] = np.searchsorted(lev, values[ok, j])
            labels.append(lev)
            n_levels.append(max(len(lev), 1))
        else:
            labels.append(None)
            n_levels.append(0)
    methods = default_methods(n_levels) if method is None else (
        [method] * k if isinstance(method, str) else list(method))
    if len(methods) != k or any(x not in METHODS for x in methods):
        raise ValueError(f"method must be one of {METHODS} (or one per column), got {method!r}")
    miss = np.isnan(values)
    for j in range(k):
        if not miss[:, j].any():
            continue
        if factor[j] and methods[j] in ("norm", "pmm"):
            raise ValueError(f"{names[j]} is a factor: impute it with 'logreg' (two levels) or 'polyreg', "
                             f"not {methods[j]!r}")
        if not factor[j] and methods[j] in ("logreg", "polyreg"):
            lev = np.unique(values[~miss[:, j], j])
            if methods[j] == "logreg" and len(lev) > 2:
                raise ValueError(f"{names[j]} has {len(lev)} distinct values; 'logreg' imputes a binary column")
            factor[j] = True  # a numeric 0/1 (or coded) column imputed as categories
            ok = ~miss[:, j]
            codes[ok, j] = np.searchsorted(lev, values[ok, j])
            labels[j] = lev
            n_levels[j] = max(len(lev), 1)
        if methods[j] == "logreg" and factor[j] and len(labels[j]) > 2:
            raise ValueError(f"{names[j]} has {len(labels[j])} levels; 'logreg' imputes a two-level factor "
                             "(use 'polyreg')")
    if by is None:
        done = _chains(codes, n_levels, methods, m, n_iter, rng, names)
    else:
        groups = np.asarray(by)
        if groups.shape != (n,):
            raise ValueError(f"by must have one label per row ({n}), got shape {groups.shape}")
        if pd.isna(groups).any():
            raise ValueError("by has missing values; every row needs a group to be imputed within")
        done = np.empty((int(m), n, k))
        for g in pd.unique(groups):
            rows = groups == g
            done[:, rows] = _chains(codes[rows], n_levels, methods, m, n_iter, rng,
                                    [f"{nm} (in group {g})" for nm in names])
    for j in range(k):
        if labels[j] is not None:
            done[:, :, j] = labels[j][done[:, :, j].astype(int)]
    return done


# --------------------------------------------------------------------------- data frames

def frame_codes(frame: pd.DataFrame, columns: Sequence[str], factor_columns) -> tuple[np.ndarray, list, list]:
    """The ``columns`` of ``frame`` as one float matrix for :func:`impute`: numeric columns as
    numbers (validated), factor columns as codes ``0..L-1`` of their observed levels
    (categories in their order, other labels sorted). Returns ``(matrix, factor flags,
    labels)``, ``labels[j]`` the levels of a factor column (``None`` for numeric ones)."""
    parts, flags, labels = [], [], []
    for c in columns:
        col = frame[c]
        if c in factor_columns:
            present = col.notna().to_numpy()
            if isinstance(col.dtype, pd.CategoricalDtype):
                levels = [v for v in col.cat.categories if (col == v).any()]
            else:
                levels = sorted(pd.unique(col[present]), key=lambda v: (str(type(v)), v))
            lookup = {v: i for i, v in enumerate(levels)}
            codes = np.full(len(col), np.nan)
            codes[present] = [lookup[v] for v in col[present]]
            parts.append(codes)
            flags.append(True)
            labels.append(levels)
        else:
            parts.append(_data.numeric(col, c))
            flags.append(False)
            labels.append(None)
    return np.column_stack(parts), flags, labels


def frame_from_codes(frame: pd.DataFrame, columns: Sequence[str], completed: np.ndarray, labels) -> pd.DataFrame:
    """A copy of ``frame`` with ``columns`` replaced by one completed matrix from :func:`impute`."""
    out = frame.copy()
    for j, c in enumerate(columns):
        if labels[j] is None:
            out[c] = completed[:, j]
        else:
            values = np.asarray(labels[j], dtype=object)[completed[:, j].astype(int)]
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                out[c] = pd.Categorical(values, categories=frame[c].cat.categories,
                                        ordered=frame[c].cat.ordered)
            else:
                out[c] = pd.Series(values, index=frame.index).astype(frame[c].dtype
                                                                      if frame[c].dtype != object else object)
    return out


def resolve_methods(method, columns: Sequence[str], n_levels: Sequence[int]) -> list[str]:
    """One imputation method per column from ``method`` (None, a string or ``{column: method}``).

    ``None`` gives mice's defaults (``pmm`` numeric, ``logreg`` two-level factors, ``polyreg``
    other factors). A numeric method (``pmm``/``norm``) given as one string applies to the
    numeric columns, a factor method (``logreg``/``polyreg``) to the factor columns; the
    others keep their defaults. ``n_levels``: 0 for a numeric column, the number of levels
    of a factor. A dict names columns; naming a column that is not in the
    imputation model, or an unknown method, raises ``ValueError``.
    """
    columns = list(columns)
    factor = [L > 0 for L in n_levels]
    out = default_methods(n_levels)
    if method is None:
        return out
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or a dict {{column: method}}, got {method!r}")
        numeric_method = method in ("pmm", "norm")
        return [method if bool(f) != numeric_method else out[j] for j, f in enumerate(factor)]
    if not isinstance(method, dict):
        raise ValueError(f"method must be one of {METHODS} or a dict {{column: method}}, got {method!r}")
    for c, meth in method.items():
        if c not in columns:
            raise ValueError(f"method names column {c!r}, which is not in the imputation model "
                             f"(columns: {', '.join(map(str, columns))})")
        if meth not in METHODS:
            raise ValueError(f"method for column {c!r} must be one of {METHODS}, got {meth!r}")
        out[columns.index(c)] = meth
    return out
