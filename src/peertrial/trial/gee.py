"""Generalised estimating equations for binary and count outcomes clustered by site or peer worker.

Marginal (population-averaged) models ``g(E[y_ij]) = x_ij' b`` with a working correlation
within cluster, fitted as ``geepack::geeglm`` with its defaults: Fisher scoring on

    U(b) = sum_i D_i' V_i^{-1} (y_i - mu_i) = 0,   V_i = phi A_i^{1/2} R(alpha) A_i^{1/2},

with, at each step, the Pearson residuals ``e_ij = (y_ij - mu_ij) / sqrt(v(mu_ij))``,
``phi = sum e_ij^2 / N`` and, for the exchangeable structure,
``alpha = sum_i sum_{j<k} e_ij e_ik / (phi sum_i n_i (n_i - 1) / 2)`` (geepack's moment
estimators, no degrees-of-freedom correction). The robust ("sandwich", geepack's ``san.se``)
covariance is ``H^{-1} (sum_i D_i' V_i^{-1} r_i r_i' V_i^{-1} D_i) H^{-1}`` with
``H = sum_i D_i' V_i^{-1} D_i``; Wald z tests as ``summary(geeglm)``. With few clusters (fewer
than 40) the sandwich is anti-conservative (a ``PeertrialWarning`` says so).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._warnings import ConvergenceWarning, PeertrialWarning
from peertrial.trial._design import as_list, covariate_columns, design, model_frame
from peertrial.trial.effects import _arm_values

stats = lazy_module("scipy.stats")

__all__ = ["gee"]

_FAMILIES = ("binomial", "poisson")
_CORSTR = ("exchangeable", "independence")


def gee(data, outcome: str, arm: str = "arm", cluster: str | None = None, covariates=None, *,
        family: str = "binomial", corstr: str = "exchangeable", factors=None, level: float = 0.95,
        na_action: str = "omit", arm_levels=None, max_iter: int = 100, tol: float = 1e-10) -> pd.DataFrame:
    """Marginal treatment effect on a binary (logit) or count (log) outcome clustered by ``cluster``, by GEE.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (or per participant-visit; never modified).
    outcome : str
        Column coded 0/1 (``family="binomial"``) or of non-negative counts (``"poisson"``).
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or coded by ``arm_levels``).
    cluster : str
        Column of cluster labels (site, peer worker or participant id); required.
    covariates : list of str or str, optional
        Adjustment columns or an R-style right-hand side (the one design builder, typed as in
        :func:`estimate_effects`).
    family : {"binomial", "poisson"}, default "binomial"
        ``"binomial"`` (logit link; coefficients are log odds ratios) or ``"poisson"``
        (log link; log rate ratios).
    corstr : {"exchangeable", "independence"}, default "exchangeable"
        Working correlation within a cluster.
    factors : list of str, optional
        Covariate columns to treat as factors whatever their type.
    level : float, default 0.95
        Confidence level, 0.95 or 95 alike.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"``: rows with missing values dropped with a warning naming them; ``"fail"`` raises.
    arm_levels : mapping or pair, optional
        Coding of a non-0/1 arm column, as in :func:`estimate_effects`.
    max_iter : int, default 100
        Cap on the Fisher-scoring iterations (a ``ConvergenceWarning`` when reached).
    tol : float, default 1e-10
        Convergence tolerance on the largest step.

    Returns
    -------
    pandas.DataFrame
        One row per coefficient: ``estimate, se`` (robust), ``statistic`` (Wald z), ``pval``,
        ``ci_lb, ci_ub`` and ``exp_estimate, exp_ci_lb, exp_ci_ub`` (odds or rate ratios).
        ``attrs``: ``alpha`` (working correlation), ``phi`` (scale), ``n``, ``n_clusters``,
        ``family``, ``corstr``, ``method``, ``term`` (the arm's row).

    Notes
    -----
    R equivalent: ``geepack::geeglm(outcome ~ arm + covariates, family = binomial,
    id = cluster, corstr = "exchangeable")`` with rows sorted by cluster (geepack needs each
    cluster's rows contiguous; here they may come in any order); geepack 1.3.9, R 4.2.2.

    References
    ----------
    .. [1] Liang, K.-Y., & Zeger, S. L. (1986). Longitudinal data analysis using generalized
       linear models. Biometrika, 73(1), 13-22.
    .. [2] Halekoh, U., Hojsgaard, S., & Yan, J. (2006). The R package geepack for generalized
       estimating equations. Journal of Statistical Software, 15(2), 1-11.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=300, seed=3)
    >>> fit = pt.trial.gee(trial, "readmitted_12m", cluster="site", covariates=["hope_0"])
    >>> fit.attrs["term"]
    'arm'
    """
    if cluster is None:
        raise ValueError("gee needs cluster= (the column of cluster labels, e.g. cluster='site'); it has no default")
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {_FAMILIES}, got {family!r}")
    if corstr not in _CORSTR:
        raise ValueError(f"corstr must be one of {_CORSTR}, got {corstr!r}")
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level)
    covariates, factors = _builder.spec(covariates), as_list(factors)
    frame = model_frame(data, [outcome, arm, cluster, *covariate_columns(covariates, factors)], na_action=na_action)
    if len(frame) == 0:
        raise ValueError("no complete rows left after removing missing values")
    if family == "binomial":
        y = _data.binary(frame[outcome], outcome).astype(float)
    else:
        y = _data.numeric(frame[outcome], outcome)
        _data.check_nonnegative(y, frame.index, outcome)
    a = _arm_values(frame, arm)
    X, names = design(frame, [(arm, a)], covariates, factors, what="GEE")
    codes = _data.cluster_codes(frame[cluster], cluster)
    J = int(codes.max()) + 1
    if J < 40:
        warnings.warn(f"{J} clusters in {cluster!r}: GEE's robust (sandwich) SEs with a normal reference are "
                      "anti-conservative with fewer than 40 clusters", PeertrialWarning,
                      stacklevel=_data.user_stacklevel())
    b, V, alpha, phi = _fit(X, y, codes, family, corstr, max_iter, tol)
    se = np.sqrt(np.diag(V))
    z = stats.norm.ppf(0.5 + level / 2)
    stat = b / se
    out = pd.DataFrame({"estimate": b, "se": se, "statistic": stat, "pval": 2 * stats.norm.sf(np.abs(stat)),
                        "ci_lb": b - z * se, "ci_ub": b + z * se}, index=pd.Index(names, name="term"))
    with np.errstate(over="ignore"):
        out["exp_estimate"], out["exp_ci_lb"], out["exp_ci_ub"] = np.exp(b), np.exp(b - z * se), np.exp(b + z * se)
    link = "logit" if family == "binomial" else "log"
    out.attrs.update({"alpha": alpha, "phi": phi, "n": len(y), "n_clusters": J, "family": family,
                      "corstr": corstr, "term": arm, "level": level,
                      "method": f"GEE ({family}, {link} link, {corstr} working correlation, robust SE): "
                                f"{outcome} ~ {' + '.join(names[1:])}, clusters {cluster!r}; as geepack::geeglm"})
    return out


def _fit(X, y, codes, family, corstr, max_iter, tol):
    n, p = X.shape
    order = np.argsort(codes, kind="stable")
    X, y, codes = X[order], y[order], codes[order]
    J = int(codes.max()) + 1
    bounds = np.searchsorted(codes, np.arange(J + 1))
    groups = [slice(bounds[j], bounds[j + 1]) for j in range(J)]
    npairs = float(sum((s.stop - s.start) * (s.stop - s.start - 1) / 2 for s in groups))
    # start at the independence (GLM) solution's first step from the null
    b = np.zeros(p)
    ybar = float(np.clip(y.mean(), 1e-8, 1 - 1e-8)) if family == "binomial" else max(float(y.mean()), 1e-8)
    b[0] = np.log(ybar / (1 - ybar)) if family == "binomial" else np.log(ybar)
    alpha = 0.0

    def moments(b):
        eta = X @ b
        if family == "binomial":
            mu = 1.0 / (1.0 + np.exp(-eta))
            v = mu * (1 - mu)
            dmu = v
        else:
            mu = np.exp(eta)
            v = mu
            dmu = mu
        return mu, v, dmu

    converged = False
    for _ in range(max_iter):
        mu, v, dmu = moments(b)
        e = (y - mu) / np.sqrt(v)
        phi = float(e @ e / n)
        if corstr == "exchangeable" and npairs > 0:
            s = sum((e[g].sum() ** 2 - e[g] @ e[g]) / 2 for g in groups)
            alpha = float(s / (phi * npairs))
        U, H = _score_info(X, y, mu, v, dmu, groups, alpha, phi)[:2]
        step = np.linalg.solve(H, U)
        b = b + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    if not converged:
        warnings.warn(f"GEE did not converge in {max_iter} Fisher-scoring iterations", ConvergenceWarning,
                      stacklevel=_data.user_stacklevel())
    mu, v, dmu = moments(b)
    _, H, M = _score_info(X, y, mu, v, dmu, groups, alpha, phi)
    Hi = np.linalg.inv(H)
    return b, Hi @ M @ Hi, alpha, phi


def _score_info(X, y, mu, v, dmu, groups, alpha, phi):
    p = X.shape[1]
    U = np.zeros(p)
    H = np.zeros((p, p))
    M = np.zeros((p, p))
    for g in groups:
        m = g.stop - g.start
        R = (1 - alpha) * np.eye(m) + alpha * np.ones((m, m))
        sd = np.sqrt(v[g])
        W = np.linalg.inv(phi * np.outer(sd, sd) * R)
        D = X[g] * dmu[g][:, None]
        DW = D.T @ W
        u = DW @ (y[g] - mu[g])
        U += u
        H += DW @ D
        M += np.outer(u, u)
    return U, H, M
