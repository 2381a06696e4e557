"""Regression results shared by the process-evaluation functions (GLMs as R's glm/glm.nb/lm)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _design as _builder
from peertrial._glm import negbin_fit
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_table

sm = lazy_module("statsmodels.api")
stats = lazy_module("scipy.stats")

__all__ = ["RegressionResult", "design_matrix", "columns", "fit_regression"]

FAMILIES = ("gaussian", "poisson", "negbin", "logistic")
_R_CALL = {
    "gaussian": "lm(y ~ x)",
    "poisson": "glm(y ~ x, family = poisson)",
    "negbin": "MASS::glm.nb(y ~ x)",
    "logistic": "glm(y ~ x, family = binomial)",
}


@dataclass(frozen=True, eq=False)
class RegressionResult(Result):
    """A fitted regression with Wald inference (from :func:`engagement_model` and :func:`dose_response`).

    Attributes
    ----------
    coef : pandas.DataFrame
        Indexed by term (R's names, e.g. ``diagnosisother``) with ``estimate, se, stat,
        pval, ci_lb, ci_ub`` (t for ``gaussian``, z otherwise, as R's ``summary``; CIs are
        Wald, R's ``confint.default``) and, for count and logistic models,
        ``exp_estimate, exp_ci_lb, exp_ci_ub`` (rate or odds ratios).
    family : str
        ``"gaussian"``, ``"poisson"``, ``"negbin"`` or ``"logistic"``.
    outcome : str
        The outcome column.
    n : int
        Rows fitted.
    loglik, aic : float
        Log-likelihood and AIC as R's ``logLik`` and ``AIC``.
    theta : float
        Negative binomial shape (R's ``theta``; variance mu + mu^2/theta); NaN otherwise.
    title, label : str
        Heading and note (e.g. the non-randomised warning) of the summary.
    level : float
        Confidence level, as a proportion.

    Notes
    -----
    R equivalent: ``summary()`` of ``stats::lm``, ``stats::glm`` (R 4.2.2) or
    ``MASS::glm.nb`` (MASS 7.3-58.2), with ``confint.default`` limits.

    References
    ----------
    .. [1] McCullagh, P., & Nelder, J. A. (1989). Generalized Linear Models (2nd ed.).
       Chapman & Hall.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.process.dose_response(d, outcome="hope_12", covariates=["hope_0"])
    >>> fit.family, fit.n, list(fit.coef.index)
    ('gaussian', 72, ['(Intercept)', 'sessions', 'hope_0'])
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
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """``coef`` with the package's column names (``statistic`` for ``stat``)."""
        return self.coef.rename(columns={"stat": "statistic"})

    def summary(self) -> str:
        lines = [self.title]
        if self.label:
            lines.append(f"  {self.label}")
        lines.append(f"  Model: {self.family} ({_R_CALL[self.family]} in R), outcome {self.outcome!r}, n = {self.n}")
        extra = f"log-likelihood {format_number(self.loglik)}, AIC {format_number(self.aic, 2)}"
        if np.isfinite(self.theta):
            extra += f", theta {format_number(self.theta)}"
        lines.append(f"  {extra}; Wald {100 * self.level:g}% CIs")
        return "\n".join([*lines, "", format_table(self.coef)])


def design_matrix(frame: pd.DataFrame, predictors, covariates=None) -> pd.DataFrame:
    """Intercept, ``predictors`` then ``covariates`` (lists of columns or an R-style formula),
    from the one design builder (:mod:`peertrial._design`): numeric columns, including
    numbers stored as text, are numeric; other text, booleans, categoricals and ``C(x)``
    are treatment-coded factors named as R names them (``diagnosisother``)."""
    spec = _builder.join(predictors, covariates)
    if not _builder.variables(spec):
        return pd.DataFrame({"(Intercept)": np.ones(len(frame))}, index=frame.index)
    d = _builder.build(frame, spec, intercept=True)
    return pd.DataFrame(d.X, index=frame.index, columns=d.names)


def columns(predictors, covariates=None) -> list[str]:
    """Data columns used by ``predictors`` and ``covariates`` (lists or formulas)."""
    return list(dict.fromkeys([*_builder.variables(_builder.spec(predictors)),
                               *_builder.variables(_builder.spec(covariates))]))


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


def fit_regression(y: np.ndarray, x: pd.DataFrame, family: str, outcome: str, title: str, label: str = "",
                   level: float = 0.95):
    """Fit ``family`` and return a :class:`RegressionResult`.

    gaussian, poisson, logistic: statsmodels OLS/GLM (R's ``lm``/``glm``). negbin: maximum
    likelihood in (beta, theta) as ``MASS::glm.nb`` (:func:`peertrial._glm.negbin_fit`, the
    package's one NB fit).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    all_terms = x.columns
    x = x.loc[:, _builder.drop_aliased(x.to_numpy(float), list(all_terms), what=title, stacklevel=4)]
    _check_fittable(y, x, family, outcome)
    xv = x.to_numpy(float)
    theta = np.nan
    dist = stats.norm()
    k_extra = 0  # parameters beyond the coefficients, for R's AIC
    if family == "gaussian":
        fit = sm.OLS(y, xv).fit()
        est, se, loglik = np.asarray(fit.params), np.asarray(fit.bse), float(fit.llf)
        dist = stats.t(fit.df_resid)
        k_extra = 1  # the residual variance
    elif family == "negbin":
        nb = negbin_fit(x, y, stacklevel=3)
        est, se, loglik, theta = nb.coef, nb.se, nb.loglik, nb.theta
        k_extra = 1  # theta
    else:
        fam = sm.families.Poisson() if family == "poisson" else sm.families.Binomial()
        fit = sm.GLM(y, xv, family=fam).fit(tol=1e-12, maxiter=200)
        est, se, loglik = np.asarray(fit.params), np.asarray(fit.bse), float(fit.llf)
    stat = est / se
    q = dist.ppf(0.5 + level / 2)
    coef = pd.DataFrame(
        {"estimate": est, "se": se, "stat": stat, "pval": 2 * dist.sf(np.abs(stat)), "ci_lb": est - q * se, "ci_ub": est + q * se},
        index=pd.Index(x.columns, name="term"),
    )
    if family != "gaussian":
        coef["exp_estimate"] = np.exp(est)
        coef["exp_ci_lb"] = np.exp(coef["ci_lb"])
        coef["exp_ci_ub"] = np.exp(coef["ci_ub"])
    coef = coef.reindex(pd.Index(all_terms, name="term"))  # aliased terms NaN, as R's NA
    aic = -2 * loglik + 2 * (len(est) + k_extra)
    return RegressionResult(coef=coef, family=family, outcome=outcome, n=len(y), loglik=loglik, aic=aic, theta=theta, title=title, label=label,
                            level=level)
