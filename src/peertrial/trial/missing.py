"""Missing outcomes: multiple imputation by chained equations and Rubin's rules.

Imputation follows mice 3.15's chained equations with its default methods (``pmm`` for
numeric columns, ``logreg`` for two-level factors, ``polyreg`` for other factors; ``norm``
on request): each incomplete variable in turn is imputed from all the others (factors as
dummies), cycling ``n_iter`` times; each arm may be imputed separately (``by_arm=True``).
The ``m`` imputations are independent chains, drawn from one seeded generator. The engine
and the pooling are the package's one implementation in :mod:`peertrial._mi` (shared with
:func:`peertrial.econ.cea`), where the methods are described.

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

from peertrial import _data, _mi
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._mi import rubin_pool
from peertrial._results import Result, format_table
from peertrial._warnings import PeertrialWarning
from peertrial.trial._design import as_list, covariate_columns, design
from peertrial.trial._linear import ols
from peertrial.trial.effects import _arm_values

stats = lazy_module("scipy.stats")

__all__ = ["rubin_pool", "impute_norm", "multiple_imputation", "MIResult"]


def impute_norm(values: np.ndarray, m: int = 20, n_iter: int = 10, seed=None) -> np.ndarray:
    """``m`` completed copies of a numeric matrix by Bayesian linear regression (mice's ``norm``).

    Each incomplete column is imputed from all other columns by Bayesian linear regression
    (mice's ``norm``; :func:`multiple_imputation` defaults to mice's ``pmm``), cycling
    ``n_iter`` times when several columns are incomplete (chained
    equations); starting values are random draws from the observed values, as mice. This is
    the package's one imputation engine (:func:`peertrial._mi.impute`, also used by
    :func:`peertrial.econ.cea`) with ``method="norm"``.

    Parameters
    ----------
    values : array_like of float, shape (n, k)
        The data, NaN marking the values to impute; every column numeric.
    m : int, default 20
        Number of completed copies (imputations), drawn as independent chains.
    n_iter : int, default 10
        Iterations of the chained equations (mice's ``maxit``).
    seed : int or numpy.random.Generator, optional
        Random stream; the same seed gives the same imputations (the global state is never used).

    Returns
    -------
    numpy.ndarray, shape (m, n, k)
        The completed copies: observed values unchanged, missing ones imputed.

    Notes
    -----
    R equivalent: ``mice::mice(data, method = "norm", m = m, maxit = n_iter)`` and
    ``mice::complete(imp, "all")`` (mice 3.15.0). The imputations agree with mice's in
    distribution, not draw for draw (peertrial's own random streams).

    References
    ----------
    .. [1] Rubin, D. B. (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
    .. [2] van Buuren, S. (2018). Flexible Imputation of Missing Data (2nd ed.), algorithm 3.1.
       Chapman & Hall/CRC.

    Examples
    --------
    >>> v = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 8.0], [np.nan, 9.0], [6.0, 13.0]])
    >>> done = pt.trial.impute_norm(v, m=3, seed=1)
    >>> done.shape, bool(np.isnan(done).any())
    ((3, 6, 2), False)
    >>> bool((done[:, 0, :] == v[0]).all())     # observed values are kept
    True
    """
    return _mi.impute(values, m=m, n_iter=n_iter, seed=seed, method="norm")


@dataclass(frozen=True, eq=False)
class MIResult(Result):
    """Multiply imputed ANCOVA of a trial outcome, pooled by Rubin's rules, beside complete cases.

    Returned by :func:`multiple_imputation`; ``to_frame()`` is a copy of ``effect``.

    Attributes
    ----------
    pooled : pandas.DataFrame
        Rubin's rules for every term of the analysis model (index ``term``), with the columns
        of :func:`rubin_pool` (``estimate, ubar, b, t, dfcom, df, riv, lambda, fmi, se,
        statistic, pval, ci_lb, ci_ub``).
    complete_case : pandas.DataFrame
        The same model by ``lm`` on the complete cases, every term (``estimate, se, df,
        ci_lb, ci_ub, pval``).
    effect : pandas.DataFrame
        The arm's effect, rows ``multiple_imputation`` and ``complete_case``, with
        ``estimate, se, statistic, df, ci_lb, ci_ub, pval, n``.
    n_imputed : pandas.Series
        Missing outcomes imputed, per arm (index 0, 1).
    m : int
        Number of imputations.
    term : str
        The arm's term (its column name).
    method : str
        One-line description: imputation methods, m, analysis model, pooling.
    imputation_methods : dict
        The mice method used for each incomplete column (``{column: "pmm"}``).

    Notes
    -----
    R equivalent: ``summary(mice::pool(with(imp, lm(...))))`` for ``pooled`` (mice 3.15.0)
    and ``lm`` on the complete cases (R 4.2.2).

    References
    ----------
    .. [1] Rubin, D. B. (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
    .. [2] Barnard, J., & Rubin, D. B. (1999). Small-sample degrees of freedom with multiple
       imputation. Biometrika, 86, 948-955.
    .. [3] van Buuren, S. (2018). Flexible Imputation of Missing Data (2nd ed.). Chapman &
       Hall/CRC.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> mi = pt.trial.multiple_imputation(trial, "hope_12", covariates=["hope_0"], m=5, seed=1)
    >>> mi.n_imputed.to_dict(), mi.m, mi.term
    ({0: 35, 1: 26}, 5, 'arm')
    >>> mi.pooled.index.tolist()
    ['(Intercept)', 'arm', 'hope_0']
    """

    pooled: pd.DataFrame  # Rubin's rules, every term
    complete_case: pd.DataFrame  # lm on complete cases, every term
    effect: pd.DataFrame = field(repr=False)  # arm effect: rows "multiple_imputation", "complete_case"
    n_imputed: pd.Series = field(repr=False)  # missing outcomes imputed, per arm
    m: int = 0
    term: str = "arm"
    method: str = ""
    imputation_methods: dict = field(default_factory=dict, repr=False)  # column -> mice method

    def to_frame(self) -> pd.DataFrame:
        return self.effect.copy()

    def summary(self) -> str:
        imp = ", ".join(f"arm {k}: {v}" for k, v in self.n_imputed.items())
        return "\n".join([self.method, f"imputations m = {self.m}; outcomes imputed per arm: {imp}", "",
                          "Treatment effect:", format_table(self.effect), "",
                          "Pooled coefficients (Rubin's rules, Barnard-Rubin df):",
                          format_table(self.pooled[["estimate", "se", "statistic", "df", "pval", "fmi"]])])


@_data.renamed_argument("df", "data")
def multiple_imputation(data, outcome: str, arm: str = "arm", covariates=None, *, m: int = 20,
                        n_iter: int = 10, seed=None, auxiliary=None, method=None, by_arm: bool = False,
                        level: float = 0.95, conf_level=None, arm_levels=None) -> MIResult:
    """ANCOVA ``outcome ~ arm + covariates`` under multiple imputation, pooled by Rubin's rules.

    Imputation by chained equations as ``mice``: the imputation model holds the outcome,
    the arm, the covariates and any ``auxiliary`` columns (predictive of missingness or of
    the outcome but not in the analysis model); each incomplete column is imputed from all
    the others, factors entering as treatment-coded dummies. Numeric and factor covariates
    may be missing too. Reports the number imputed per arm and the complete-case estimate
    beside the pooled one. ``dfcom`` is the complete-data residual df ``n - p``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified).
    outcome : str
        Outcome column (numeric).
    arm : str, default "arm"
        Randomised arm (0 = control, 1 = intervention, or coded by ``arm_levels``); complete.
    covariates : list of str or str, optional
        Analysis-model covariates (columns or an R-style right-hand side); factor columns
        follow the package's typing rule (``_data.is_factor``).
    m : int, default 20
        Number of imputations.
    n_iter : int, default 10
        Iterations of the chained equations (mice's ``maxit``).
    seed : int or numpy.random.Generator, optional
        Random stream; the same seed gives the same imputations.
    auxiliary : list of str, optional
        Columns in the imputation model only (numeric or factor).
    method : str or dict, optional
        Imputation method: ``"pmm"`` (predictive mean matching, 5 donors), ``"norm"``
        (Bayesian linear regression), ``"logreg"`` (two-level factors), ``"polyreg"``
        (factors with more levels), or a dict ``{column: method}``. One numeric method
        (``pmm``/``norm``) applies to every numeric column, one factor method to every factor;
        the other columns keep mice's defaults: ``pmm`` for numeric columns, ``logreg`` for
        two-level factors, ``polyreg`` for the others. (Earlier releases imputed by ``norm``;
        ``method="norm"`` restores that.)
    by_arm : bool, default False
        Impute each arm separately (every interaction with the arm kept; as running ``mice``
        on each arm and stacking the completed data sets).
    level : float, default 0.95
        Confidence level, 0.95 or 95 alike.
    conf_level : float, optional
        Deprecated spelling of ``level``.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.

    Returns
    -------
    MIResult
        ``effect``: the ITT effect by multiple imputation (Rubin's rules) beside complete cases,
        with ``estimate, se, df, ci_lb, ci_ub, pval, n``; ``n_imputed`` per arm;
        ``imputation_methods``: the method of each incomplete column.

    Notes
    -----
    R equivalent: ``mice::mice(data, m = m, maxit = n_iter)`` (by arm: ``mice`` on each arm,
    stacked) then ``mice::pool(with(imp, lm(outcome ~ arm + covariates)))`` (mice 3.15.0).
    The pooling equals ``mice::pool``; the imputations use peertrial's own random streams, so
    they agree with mice's in distribution (checked against mice over many seeds), not draw
    for draw.

    References
    ----------
    .. [1] Rubin, D. B. (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
    .. [2] van Buuren, S., & Groothuis-Oudshoorn, K. (2011). mice: Multivariate imputation by
       chained equations in R. Journal of Statistical Software, 45(3), 1-67.
    .. [3] White, I. R., Daniel, R., & Royston, P. (2010). Avoiding bias due to perfect
       prediction in multiple imputation of incomplete categorical variables. Computational
       Statistics & Data Analysis, 54(10), 2267-2275.
    .. [4] Barnard, J., & Rubin, D. B. (1999). Small-sample degrees of freedom with multiple
       imputation. Biometrika, 86, 948-955.
    .. [5] van Buuren, S. (2018). Flexible Imputation of Missing Data (2nd ed.). Chapman &
       Hall/CRC.

    Examples
    --------
    >>> import peertrial as pt
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> mi = pt.trial.multiple_imputation(trial, "hope_12", covariates=["hope_0"], m=5, seed=1)
    >>> mi.effect.index.tolist()
    ['multiple_imputation', 'complete_case']
    >>> mi.imputation_methods
    {'hope_12': 'pmm'}
    """
    data = _data.code_arm(data, arm, arm_levels)
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    covariates, auxiliary = _builder.spec(covariates), as_list(auxiliary)
    cov_cols = covariate_columns(covariates)
    frame = _data.as_frame(data)
    cols = [outcome, arm, *cov_cols, *auxiliary]
    _data.require_columns(frame, cols)
    frame = frame[list(dict.fromkeys(cols))].copy()
    if frame[arm].isna().any():
        raise ValueError(f"column {arm!r} (randomised arm) has missing values at rows "
                         f"{_data.row_labels(frame.index, frame[arm].isna().to_numpy())}")
    a = _arm_values(frame, arm)
    factor_cols = set(_builder.factor_columns(frame, covariates))
    variables = [c for c in dict.fromkeys([outcome, *cov_cols, *auxiliary]) if c != arm]
    factor_cols |= {c for c in auxiliary if c != arm and _data.is_factor(frame[c], c, ())}
    if outcome in factor_cols:
        raise ValueError(f"outcome {outcome!r} must be numeric for the ANCOVA; got a factor column")
    matrix, flags, labels = _mi.frame_codes(frame, variables, factor_cols)
    methods = _mi.resolve_methods(method, variables, [0 if lev is None else len(lev) for lev in labels])
    if by_arm:
        groups = a
    else:
        matrix, flags, methods = np.column_stack([matrix, a]), [*flags, False], [*methods, "pmm"]
        groups = None
    y_missing = np.isnan(matrix[:, 0])
    if not np.isnan(matrix).any():
        warnings.warn("no missing values: multiple imputation equals the complete-data analysis",
                      PeertrialWarning, stacklevel=_data.user_stacklevel())
    completed = _mi.impute(matrix, m=m, n_iter=n_iter, seed=seed, method=methods,
                           names=[*variables, arm][:matrix.shape[1]], factor=flags, by=groups)
    # analysis model on each completed data set: one design over the stacked completed data
    # sets (every level of an imputed factor is observed, so each has the same columns), one
    # batched fit
    n = len(frame)
    stacked = _mi.frame_from_codes(pd.concat([frame] * m, ignore_index=True), variables,
                                   completed.reshape(m * n, -1), labels)
    X, names = design(stacked, [(arm, np.tile(a, m))], covariates, [])
    fit = ols(X.reshape(m, n, -1), completed[:, :, 0])
    variances = np.einsum("bii->bi", fit.vcov)
    pooled = rubin_pool(fit.coef, variances, dfcom=fit.df_resid, level=conf_level, names=names)
    cc = _complete_case(frame, outcome, arm, covariates, conf_level, names)
    effect = pd.DataFrame({
        "estimate": [pooled.loc[arm, "estimate"], cc.loc[arm, "estimate"]],
        "se": [pooled.loc[arm, "se"], cc.loc[arm, "se"]],
        "statistic": [pooled.loc[arm, "estimate"] / pooled.loc[arm, "se"], cc.loc[arm, "estimate"] / cc.loc[arm, "se"]],
        "df": [pooled.loc[arm, "df"], cc.loc[arm, "df"]],
        "ci_lb": [pooled.loc[arm, "ci_lb"], cc.loc[arm, "ci_lb"]],
        "ci_ub": [pooled.loc[arm, "ci_ub"], cc.loc[arm, "ci_ub"]],
        "pval": [pooled.loc[arm, "pval"], cc.loc[arm, "pval"]],
        "n": [len(frame), int(cc.attrs["n"])],
    }, index=pd.Index(["multiple_imputation", "complete_case"], name="analysis"))
    n_imputed = pd.Series({int(k): int(np.sum(y_missing & (a == k))) for k in (0, 1)}, name="n_imputed")
    n_imputed.index.name = arm
    used = {c: methods[j] for j, c in enumerate(variables) if np.isnan(matrix[:, j]).any()}
    described = ", ".join(f"{c} {meth}" for c, meth in used.items()) or "nothing missing"
    method_text = (f"Multiple imputation (chained equations as mice: {described}"
                   f"{'; each arm imputed separately' if by_arm else ''}; m = {m}) of "
                   f"{outcome} ~ {' + '.join(names[1:])}; Rubin's rules (mice::pool)")
    return MIResult(pooled=pooled, complete_case=cc, effect=effect, n_imputed=n_imputed, m=m, term=arm,
                    method=method_text, imputation_methods=used)


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

