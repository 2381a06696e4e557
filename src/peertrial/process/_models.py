"""Regression results shared by the process-evaluation functions (GLMs as R's glm/glm.nb/lm)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from peertrial import _data
from peertrial._results import Result, format_number, format_table
from peertrial._warnings import ConvergenceWarning

__all__ = ["RegressionResult", "design_matrix", "fit_regression"]

FAMILIES = ("gaussian", "poisson", "negbin", "logistic")
_R_CALL = {
    "gaussian": "lm(y ~ x)",
    "poisson": "glm(y ~ x, family = poisson)",
    "negbin": "MASS::glm.nb(y ~ x)",
    "logistic": "glm(y ~ x, family = binomial)",
}


@dataclass(frozen=True, eq=False)
class RegressionResult(Result):
    """A fitted regression with Wald inference.

    ``coef``: DataFrame indexed by term (R's names, e.g. ``diagnosisother``) with
    ``estimate, se, stat, pval, ci_lb, ci_ub`` (t for ``gaussian``, z otherwise,
    as R's ``summary``; CIs are Wald, R's ``confint.default``) and, for count and
    logistic models, ``exp_estimate, exp_ci_lb, exp_ci_ub`` (rate or odds ratios).
    ``theta``: negative binomial shape (R's ``theta``; variance mu + mu^2/theta).
    """

    coef: pd.DataFrame
    family: str
    outcome: str
    n: int
    loglik: float
    aic: float
    theta: float
    title: str
    label: str = ""

    def to_frame(self) -> pd.DataFrame:
        return self.coef.copy()

    def summary(self) -> str:
        lines = [self.title]
        if self.label:
            lines.append(f"  {self.label}")
        lines.append(f"  Model: {self.family} ({_R_CALL[self.family]} in R), outcome {self.outcome!r}, n = {self.n}")
        extra = f"log-likelihood {format_number(self.loglik)}, AIC {format_number(self.aic, 2)}"
        if np.isfinite(self.theta):
            extra += f", theta {format_number(self.theta)}"
        lines.append(f"  {extra}; Wald 95% CIs")
        return "\n".join([*lines, "", format_table(self.coef)])


def design_matrix(frame: pd.DataFrame, predictors: list[str]) -> pd.DataFrame:
    """Intercept plus predictors; text columns dummy-coded against their first sorted level (R's factors)."""
    cols = {"(Intercept)": np.ones(len(frame))}
    for p in predictors:
        s = frame[p]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            cols[p] = _data.numeric(s, p)
            continue
        levels = sorted(s.dropna().unique(), key=str)
        for lev in levels[1:]:
            cols[f"{p}{lev}"] = (s == lev).to_numpy(float)
    return pd.DataFrame(cols, index=frame.index)


def _negbin_alpha(y, x) -> float:
    """ML estimate of the NB2 dispersion alpha = 1/theta (statsmodels discrete NegativeBinomial)."""
    model = sm.NegativeBinomial(y, x, loglike_method="nb2")
    start = np.r_[sm.GLM(y, x, family=sm.families.Poisson()).fit().params, 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(start_params=start, method="bfgs", maxiter=2000, gtol=1e-10, disp=False)
        res = model.fit(start_params=res.params, method="newton", maxiter=100, tol=1e-12, disp=False)
    if not res.mle_retvals.get("converged", True):
        warnings.warn("negative binomial fit did not converge", ConvergenceWarning, stacklevel=4)
    return float(res.params[-1])


def _check_fittable(y: np.ndarray, x: pd.DataFrame, family: str, outcome: str) -> None:
    """Raise for data no model can be fitted to (statsmodels fails there with obscure errors).

    The outcome must vary, and the rows must outnumber the parameters: the
    coefficients plus the residual variance (gaussian) or theta (negbin).
    """
    extra = {"gaussian": ["sigma"], "negbin": ["theta"]}.get(family, [])
    params = [*x.columns, *extra]
    if len(y) <= len(params):
        raise ValueError(
            f"{len(y)} complete rows for outcome {outcome!r}: too few for the {family} model's "
            f"{len(params)} parameters {params}; it needs at least {len(params) + 1} rows"
        )
    if np.ptp(y) == 0:
        raise ValueError(f"no variation in outcome {outcome!r}: all {len(y)} rows equal {y[0]:g}; there is nothing to model")


def fit_regression(y: np.ndarray, x: pd.DataFrame, family: str, outcome: str, title: str, label: str = ""):
    """Fit ``family`` by statsmodels and return a :class:`RegressionResult`.

    negbin: theta is estimated by maximum likelihood (discrete NegativeBinomial,
    NB2) and the coefficients and SEs come from the GLM with theta fixed there —
    the MLE and the SEs that ``MASS::glm.nb`` reports.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    _check_fittable(y, x, family, outcome)
    xv = x.to_numpy(float)
    theta = np.nan
    if family == "gaussian":
        fit = sm.OLS(y, xv).fit()
        dist = stats.t(fit.df_resid)
        k_extra = 1  # residual variance counts as a parameter in R's AIC for lm
    else:
        if family == "poisson":
            fam = sm.families.Poisson()
        elif family == "logistic":
            fam = sm.families.Binomial()
        else:
            alpha = _negbin_alpha(y, xv)
            theta = 1.0 / alpha
            fam = sm.families.NegativeBinomial(alpha=alpha)
        fit = sm.GLM(y, xv, family=fam).fit(tol=1e-12, maxiter=200)
        dist = stats.norm()
        k_extra = 1 if family == "negbin" else 0
    est, se = np.asarray(fit.params), np.asarray(fit.bse)
    stat = est / se
    q = dist.ppf(0.975)
    coef = pd.DataFrame(
        {"estimate": est, "se": se, "stat": stat, "pval": 2 * dist.sf(np.abs(stat)), "ci_lb": est - q * se, "ci_ub": est + q * se},
        index=pd.Index(x.columns, name="term"),
    )
    if family != "gaussian":
        coef["exp_estimate"] = np.exp(est)
        coef["exp_ci_lb"] = np.exp(coef["ci_lb"])
        coef["exp_ci_ub"] = np.exp(coef["ci_ub"])
    loglik = float(fit.llf)
    aic = -2 * loglik + 2 * (len(est) + k_extra)
    return RegressionResult(coef=coef, family=family, outcome=outcome, n=len(y), loglik=loglik, aic=aic, theta=theta, title=title, label=label)
