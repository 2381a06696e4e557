"""Missing outcomes: multiple imputation by chained equations and Rubin's rules.

Imputation follows mice's ``method = "norm"`` (Bayesian linear regression; van Buuren 2018,
*Flexible Imputation of Missing Data*, algorithm 3.1): for each incomplete variable in turn,
regress it on all the others among its observed rows, draw ``sigma*^2 = RSS / chi^2_{n_obs - p}``
and ``beta* ~ N(beta_hat, sigma*^2 (X'X)^{-1})``, and impute ``X beta* + sigma* e``. With more
than one incomplete variable the cycle is repeated ``n_iter`` times (chained equations).
The ``m`` imputations are independent chains, drawn from one seeded generator.

Pooling is Rubin's rules as ``mice::pool`` (mice 3.x), with the Barnard–Rubin (1999)
degrees of freedom:

    qbar = mean(Q_l);  ubar = mean(U_l);  b = var(Q_l);  t = ubar + (1 + 1/m) b
    riv = (1 + 1/m) b / ubar;  lambda = (1 + 1/m) b / t   (floored at 1e-4 for the df)
    df_old = (m - 1) / lambda^2;  df_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda)
    df = df_old df_obs / (df_old + df_obs);  fmi = (riv + 2 / (df + 3)) / (riv + 1)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from peertrial import _data
from peertrial._results import Result, format_table
from peertrial._warnings import PeertrialWarning
from peertrial import _design as _builder
from peertrial.trial._design import as_list, covariate_columns, covariate_matrix, design
from peertrial.trial._linear import ols
from peertrial.trial.effects import _arm_values

__all__ = ["rubin_pool", "impute_norm", "multiple_imputation", "MIResult"]


def rubin_pool(estimates, variances, dfcom: float = np.inf, conf_level: float = 0.95,
               names=None) -> pd.DataFrame:
    """Pool ``m`` completed-data estimates (``(m, p)``) and their variances by Rubin's rules.

    Returns a DataFrame (one row per parameter) with the columns of ``mice::pool``'s
    ``pooled`` table and ``summary``: ``estimate, ubar, b, t, dfcom, df, riv, lambda, fmi,
    se, statistic, pval, ci_lb, ci_ub``.
    """
    Q = np.atleast_2d(np.asarray(estimates, dtype=float))
    U = np.atleast_2d(np.asarray(variances, dtype=float))
    if Q.shape != U.shape:
        raise ValueError(f"estimates {Q.shape} and variances {U.shape} must have the same shape (m, p)")
    m = Q.shape[0]
    if m < 2:
        raise ValueError("Rubin's rules need at least 2 imputations")
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


def _norm_draw(y_obs: np.ndarray, X_obs: np.ndarray, X_mis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of mice's ``norm`` imputation (ridge 1e-5 on X'X as mice's ``.norm.draw``)."""
    xtx = X_obs.T @ X_obs
    xtx = xtx + np.diag(np.diag(xtx)) * 1e-5
    v = np.linalg.inv(xtx)
    v = (v + v.T) / 2
    coef = v @ (X_obs.T @ y_obs)
    resid = y_obs - X_obs @ coef
    df = max(len(y_obs) - X_obs.shape[1], 1)
    sigma = np.sqrt(resid @ resid / rng.chisquare(df))
    beta = coef + sigma * (np.linalg.cholesky(v) @ rng.standard_normal(len(coef)))
    return X_mis @ beta + sigma * rng.standard_normal(X_mis.shape[0])


def impute_norm(values: np.ndarray, m: int = 20, n_iter: int = 10, seed=None) -> np.ndarray:
    """``m`` completed copies (``(m, n, k)``) of the numeric matrix ``values`` (NaN = missing).

    Each incomplete column is imputed from all other columns by Bayesian linear regression,
    cycling ``n_iter`` times when several columns are incomplete (chained equations).
    Starting values are random draws from the observed values, as mice.
    """
    rng = _data.as_generator(seed)
    values = np.asarray(values, dtype=float)
    miss = np.isnan(values)
    incomplete = [j for j in range(values.shape[1]) if miss[:, j].any()]
    for j in incomplete:
        if miss[:, j].all():
            raise ValueError(f"column {j} has no observed values to impute from")
    n_iter = n_iter if len(incomplete) > 1 else 1
    out = np.empty((m, *values.shape))
    for i in range(m):
        filled = values.copy()
        for j in incomplete:
            obs = filled[~miss[:, j], j]
            filled[miss[:, j], j] = rng.choice(obs, size=miss[:, j].sum())
        for _ in range(n_iter):
            for j in incomplete:
                others = np.column_stack([np.ones(len(filled)), np.delete(filled, j, axis=1)])
                o = ~miss[:, j]
                filled[~o, j] = _norm_draw(filled[o, j], others[o], others[~o], rng)
        out[i] = filled
    return out


@dataclass(frozen=True, eq=False)
class MIResult(Result):
    """Multiply imputed ANCOVA of a trial outcome with the complete-case comparison."""

    pooled: pd.DataFrame  # Rubin's rules, every term
    complete_case: pd.DataFrame  # lm on complete cases, every term
    effect: pd.DataFrame = field(repr=False)  # arm effect: rows "multiple_imputation", "complete_case"
    n_imputed: pd.Series = field(repr=False)  # missing outcomes imputed, per arm
    m: int = 0
    term: str = "arm"
    method: str = ""

    def to_frame(self) -> pd.DataFrame:
        return self.effect.copy()

    def summary(self) -> str:
        imp = ", ".join(f"arm {k}: {v}" for k, v in self.n_imputed.items())
        return "\n".join([self.method, f"imputations m = {self.m}; outcomes imputed per arm: {imp}", "",
                          "Treatment effect:", format_table(self.effect), "",
                          "Pooled coefficients (Rubin's rules, Barnard-Rubin df):",
                          format_table(self.pooled[["estimate", "se", "statistic", "df", "pval", "fmi"]])])


def multiple_imputation(df, outcome: str, arm: str = "arm", covariates=None, *, m: int = 20,
                        n_iter: int = 10, seed=None, auxiliary=None, conf_level: float = 0.95, arm_levels=None) -> MIResult:
    """ANCOVA ``outcome ~ arm + covariates`` under multiple imputation, pooled by Rubin's rules.

    The imputation model holds the outcome, the arm, the covariates and any ``auxiliary``
    numeric columns (predictive of missingness or outcome but not in the analysis model).
    Numeric covariates may be missing too (imputed by chained equations); text/factor
    covariates must be complete. Reports the number imputed per arm and the complete-case
    estimate beside the pooled one. ``dfcom`` is the complete-data residual df ``n - p``.

    ``arm_levels``: how the ``arm`` column codes the arms when it is not 0/1, as a mapping
    ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
    non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    """
    df = _data.code_arm(df, arm, arm_levels)
    covariates, auxiliary = _builder.spec(covariates), as_list(auxiliary)
    cov_cols = covariate_columns(covariates)
    frame = _data.as_frame(df)
    cols = [outcome, arm, *cov_cols, *auxiliary]
    _data.require_columns(frame, cols)
    frame = frame[list(dict.fromkeys(cols))].copy()
    if frame[arm].isna().any():
        raise ValueError(f"column {arm!r} (randomised arm) has missing values at rows "
                         f"{_data.row_labels(frame.index, frame[arm].isna().to_numpy())}")
    a = _arm_values(frame, arm)
    factor_cols = _builder.factor_columns(frame, covariates)
    for c in factor_cols:
        if frame[c].isna().any():
            raise ValueError(f"factor covariate {c!r} has missing values at rows "
                             f"{_data.row_labels(frame.index, frame[c].isna().to_numpy())}; only numeric "
                             "columns are imputed")
    numeric_cols = [c for c in dict.fromkeys([outcome, *cov_cols, *auxiliary]) if c not in factor_cols]
    num = np.column_stack([_data.numeric(frame[c], c) for c in numeric_cols])
    dummies, _ = covariate_matrix(frame, factor_cols, factor_cols)
    matrix = np.column_stack([num, a, dummies]) if dummies.shape[1] else np.column_stack([num, a])
    y_missing = np.isnan(num[:, 0])
    if not np.isnan(matrix).any():
        warnings.warn("no missing values: multiple imputation equals the complete-data analysis",
                      PeertrialWarning, stacklevel=2)
    completed = impute_norm(matrix, m=m, n_iter=n_iter, seed=seed)
    # analysis model on each completed data set, fitted as one batch
    Xs, names = [], None
    for i in range(m):
        comp = frame.copy()
        for j, c in enumerate(numeric_cols):
            comp[c] = completed[i, :, j]
        X, names = design(comp, [(arm, a)], covariates, [], check=(i == 0))
        Xs.append(X)
    fit = ols(np.stack(Xs), completed[:, :, 0])
    variances = np.einsum("bii->bi", fit.vcov)
    pooled = rubin_pool(fit.coef, variances, dfcom=fit.df_resid, conf_level=conf_level, names=names)
    cc = _complete_case(frame, outcome, arm, covariates, conf_level, names)
    effect = pd.DataFrame({
        "estimate": [pooled.loc[arm, "estimate"], cc.loc[arm, "estimate"]],
        "se": [pooled.loc[arm, "se"], cc.loc[arm, "se"]],
        "df": [pooled.loc[arm, "df"], cc.loc[arm, "df"]],
        "ci_lb": [pooled.loc[arm, "ci_lb"], cc.loc[arm, "ci_lb"]],
        "ci_ub": [pooled.loc[arm, "ci_ub"], cc.loc[arm, "ci_ub"]],
        "pval": [pooled.loc[arm, "pval"], cc.loc[arm, "pval"]],
        "n": [len(frame), int(cc.attrs["n"])],
    }, index=pd.Index(["multiple_imputation", "complete_case"], name="analysis"))
    n_imputed = pd.Series({int(k): int(np.sum(y_missing & (a == k))) for k in (0, 1)}, name="n_imputed")
    n_imputed.index.name = arm
    method = (f"Multiple imputation (chained equations, Bayesian linear regression as mice 'norm'; "
              f"m = {m}) of {outcome} ~ {' + '.join(names[1:])}; Rubin's rules (mice::pool)")
    return MIResult(pooled=pooled, complete_case=cc, effect=effect, n_imputed=n_imputed, m=m, term=arm,
                    method=method)


def _complete_case(frame, outcome, arm, covariates, conf_level, names) -> pd.DataFrame:
    cc = frame.dropna(subset=[outcome, arm, *covariate_columns(covariates)])
    X, cnames = design(cc, [(arm, _data.binary(cc[arm], arm))], covariates, [])
    fit = ols(X, _data.numeric(cc[outcome], outcome))
    est, se = fit.coef[0], fit.se[0]
    q = stats.t.ppf(0.5 + conf_level / 2, fit.df_resid)
    out = pd.DataFrame({"estimate": est, "se": se, "df": float(fit.df_resid), "ci_lb": est - q * se,
                        "ci_ub": est + q * se,
                        "pval": 2 * stats.t.sf(np.abs(est / se), fit.df_resid)},
                       index=pd.Index(cnames, name="term"))
    out.attrs["n"] = len(cc)
    return out

