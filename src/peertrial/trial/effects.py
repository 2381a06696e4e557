"""Intention-to-treat, as-treated, per-protocol and complier-average (CACE) effects.

All four are linear models fitted by least squares, as R's ``lm`` and ``AER::ivreg``:

- ITT: ``y ~ arm + covariates`` (the randomised comparison);
- as-treated: ``y ~ received + covariates`` (treatment received; not randomised);
- per-protocol: ``y ~ arm + covariates`` among participants who followed their
  allocation (``received == arm``: controls without peer support and intervention
  participants who received it; not randomised);
- CACE: two-stage least squares ``y ~ received + covariates | arm + covariates``, the
  effect among compliers under the exclusion restriction and monotonicity (no defiers).

Binary outcomes (0/1) give risk differences from the linear probability model with a
robust SE (``robust`` defaults to ``"HC3"``, sandwich's ``vcovHC`` default) and, for
ITT, the odds ratio from logistic regression (``glm(binomial)``) in ``attrs``.

Inference follows ``lmtest::coeftest``: ``t = estimate / se`` on the residual degrees
of freedom, CI ``estimate +- t_{df, 1 - alpha/2} se``, for every variance type.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_table
from peertrial._warnings import PeertrialWarning, relayed
from peertrial.trial._design import (
    as_list,
    check_full_rank,
    covariate_columns,
    covariate_matrix,
    design,
    model_frame,
)
from peertrial.trial._linear import CR_TYPES, VCOV_TYPES, ols, tsls, warn_few_clusters

stats = lazy_module("scipy.stats")

__all__ = ["estimate_effects", "effects_by_use", "itt_odds_ratio", "OddsRatioResult", "use_levels", "effects_summary"]

_DEPRECATED = {"dose_response": "effects_by_use"}

POPULATIONS = ("itt", "as_treated", "per_protocol", "cace")
_METHOD = {
    "itt": "lm: outcome ~ arm (randomised)",
    "as_treated": "lm: outcome ~ received (not randomised)",
    "per_protocol": "lm: outcome ~ arm among received == arm (not randomised)",
    "cace": "2SLS: received instrumented by arm (randomised)",
}


def _arm_values(frame: pd.DataFrame, arm: str) -> np.ndarray:
    a = _data.binary(frame[arm], arm)
    if len(np.unique(a)) < 2:
        raise ValueError(f"column {arm!r} must contain both arms (0 = control, 1 = intervention); found only {np.unique(a)}")
    return a


def _cluster_codes(frame: pd.DataFrame, cluster: str | None) -> np.ndarray | None:
    if cluster is None:
        return None
    return _data.cluster_codes(frame[cluster], cluster)


def _resolve_vcov(robust, cluster, binary: bool, is_iv: bool) -> str:
    if robust is not None and robust not in VCOV_TYPES[1:] + CR_TYPES:
        raise ValueError(f"robust must be None or one of {VCOV_TYPES[1:] + CR_TYPES}, got {robust!r}")
    if robust in CR_TYPES and cluster is None:
        raise ValueError(f"robust={robust!r} is a cluster-robust variance (clubSandwich::vcovCR): name the "
                         "cluster column with cluster=")
    if robust in ("HC2", "HC3") and cluster is not None:
        # sandwich::vcovCL(type = "HC2"/"HC3") is clubSandwich's CR2/CR3 (the G/(G-1) cancels)
        return "CR2" if robust == "HC2" else "CR3"
    if cluster is not None:
        # sandwich::vcovCL default: HC1 for lm, HC0 for other classes (ivreg)
        return robust or ("HC0" if is_iv else "HC1")
    if robust is not None:
        return robust
    return "HC3" if binary else "const"


def _row(fit, term_index: int, n: int, conf_level: float, method: str, randomised: bool) -> dict:
    est = float(fit.coef[0, term_index])
    se = float(fit.se[0, term_index])
    df = fit.coef_df(0, term_index)  # residual df, or clubSandwich's Satterthwaite df for CR types
    with np.errstate(divide="ignore", invalid="ignore"):  # a perfect fit (se 0) gives t = +-inf, as lm
        tval = float(np.float64(est) / se)
    q = stats.t.ppf(0.5 + conf_level / 2, df)
    return {"estimate": est, "se": se, "statistic": tval, "df": df, "ci_lb": est - q * se,
            "ci_ub": est + q * se, "pval": float(2 * stats.t.sf(abs(tval), df)), "n": n,
            "randomised": randomised, "method": method}


def _nan_row(n: int, method: str, randomised: bool) -> dict:
    return {"estimate": np.nan, "se": np.nan, "statistic": np.nan, "df": np.nan, "ci_lb": np.nan,
            "ci_ub": np.nan, "pval": np.nan, "n": n, "randomised": randomised, "method": method}


def _is_binary_outcome(y: np.ndarray, outcome_type: str, outcome: str) -> bool:
    if outcome_type == "auto":
        return bool(np.isin(y, (0.0, 1.0)).all())
    if outcome_type == "binary":
        _data.binary(pd.Series(y), outcome)
        return True
    if outcome_type == "continuous":
        return False
    raise ValueError(f"outcome_type must be 'auto', 'continuous' or 'binary', got {outcome_type!r}")


@_data.renamed_argument("df", "data")
def estimate_effects(data, outcome: str, arm: str = "arm", received: str | None = None, covariates=None,
                     robust: str | None = None, cluster: str | None = None, *, factors=None,
                     outcome_type: str = "auto", level: float = 0.95,
                     na_action: str = "omit", conf_level=None, arm_levels=None) -> pd.DataFrame:
    """ITT, as-treated, per-protocol and CACE estimates side by side.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified), with the columns named below.
    outcome : str
        Column of the outcome: numeric, or 0/1 for a binary outcome (risk differences).
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``).
    received : str
        Column coded 0/1, 1 = received the intervention (e.g. attended at least two
        sessions). Required (no default): the as-treated, per-protocol and CACE estimates need it.
    covariates : list of str or str, optional
        Adjustment columns (baseline score for ANCOVA, stratification factors),
        as a list of columns or an R-style formula such as ``"C(site) + diagnosis + hope_0"``.
        One typing rule (``peertrial._design``): numeric columns, including numbers stored
        as text, enter as one column (a linear trend: ``["site"]`` with site coded 1..7 is a
        trend, write ``C(site)`` or ``factors=["site"]`` for site fixed effects); other text,
        booleans, categoricals, ``C()`` and ``factors`` are treatment-coded factors named as
        R names them (``site2``); a column mixing numbers and text raises. Aliased covariate
        columns are dropped with a warning (R's ``NA``).
    robust : str, optional
        ``None`` (model-based SE), ``"HC0"``, ``"HC1"``, ``"HC2"`` or ``"HC3"``
        (``sandwich::vcovHC``). Binary outcomes default to ``"HC3"``. An observation with hat
        value 1 (e.g. the only participant of a site entered as a fixed effect) contributes
        nothing to HC2/HC3, as sandwich, with a ``PeertrialWarning``. With ``cluster=``:
        ``"CR2"`` (recommended for few clusters), ``"CR0"``, ``"CR1"``, ``"CR1p"``, ``"CR1S"``
        or ``"CR3"`` as ``clubSandwich::vcovCR``, each coefficient then tested on its
        Satterthwaite degrees of freedom as ``clubSandwich::coef_test`` (the ``df`` column).
    cluster : str, optional
        Column of cluster labels (site, peer worker). Without a CR type, ``sandwich::vcovCL`` with its
        defaults (``type="HC1"`` for the linear models, ``"HC0"`` for 2SLS, ``cadjust=TRUE``)
        on the residual degrees of freedom; ``robust="HC0"``/``"HC1"`` overrides the type.
        With fewer than 40 clusters and any type but CR2/CR3 a ``PeertrialWarning`` recommends
        ``robust="CR2"``. ``robust="HC2"``/``"HC3"`` with ``cluster=`` is ``vcovCL``'s
        type HC2/HC3, which equals CR2/CR3 (and is reported as such, with Satterthwaite df).
    factors : list of str, optional
        Covariate columns to enter as treatment-coded factors whatever their type (as ``C(x)``).
    outcome_type : {"auto", "continuous", "binary"}, default "auto"
        ``"auto"`` treats an outcome whose every value is 0 or 1 as binary (risk difference,
        HC3 SE, the logistic odds ratio in ``attrs``); ``"binary"`` insists (0/1 checked).
    level : float, default 0.95
        Confidence level of the intervals, 0.95 or 95 alike.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"`` drops rows with a missing outcome/arm/received/covariate with a
        warning naming them (R's ``na.omit``); ``"fail"`` raises.
    conf_level : float, optional
        Deprecated spelling of ``level``.
    arm_levels : mapping or pair, optional
        Coding of a text (or e.g. 1/2) ``arm`` column: ``{"Control": 0, "Peer": 1}`` or
        ``(control, intervention)``; without it ``arm`` must be 0/1 (else ``ValueError``
        listing the values found and this fix).

    Returns
    -------
    pandas.DataFrame
        DataFrame indexed ``itt, as_treated, per_protocol, cace`` with ``estimate, se,
        statistic, df, ci_lb, ci_ub, pval, n, randomised, method``. ``attrs`` holds
        ``first_stage_F`` (weak-instrument F of ``arm`` in ``received ~ arm + covariates``,
        as ``summary(ivreg, diagnostics=TRUE)``), ``first_stage_pval``, with robust or cluster
        SEs also ``first_stage_F_robust`` (squared robust t of the arm in the first stage), ``compliance_rate``
        (share of the intervention arm that received it), ``control_uptake``,
        ``complier_share`` (difference of the two), ``contamination`` (number of controls
        with ``received == 1``) and ``contamination_rows``, ``vcov``, ``outcome_type`` and, for
        binary outcomes, ``itt_odds_ratio`` (the :class:`OddsRatioResult` of :func:`itt_odds_ratio`).

    Notes
    -----
    Controls who received peer support (contamination) are kept in every analysis (ITT is
    by randomised arm; CACE treats them as always-takers) and reported with a
    ``PeertrialWarning``; they are not dropped.

    R equivalent: ``stats::lm`` (ITT, as-treated, per-protocol) and ``AER::ivreg`` (CACE;
    AER 1.2-10), with ``sandwich::vcovHC``/``vcovCL`` (sandwich 3.0-2) for ``robust``/``cluster``.

    References
    ----------
    .. [1] Angrist, J. D., Imbens, G. W., & Rubin, D. B. (1996). Identification of causal effects
       using instrumental variables. Journal of the American Statistical Association, 91, 444-455.
    .. [2] Zeileis, A. (2004). Econometric computing with HC and HAC covariance matrix
       estimators. Journal of Statistical Software, 11(10).
    .. [3] White, H. (1980). A heteroskedasticity-consistent covariance matrix estimator and a
       direct test for heteroskedasticity. Econometrica, 48, 817-838.
    .. [4] MacKinnon, J. G., & White, H. (1985). Some heteroskedasticity-consistent covariance
       matrix estimators with improved finite sample properties. Journal of Econometrics, 29,
       305-325.
    .. [5] Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
       regression with multi-stage samples. Survey Methodology, 28, 169-181.
    .. [6] Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for cluster-robust
       variance estimation and hypothesis testing in fixed effects models. Journal of Business
       & Economic Statistics, 36, 672-683.

    Examples
    --------
    >>> import warnings
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")    # rows without the outcome are dropped, with a warning
    ...     eff = pt.trial.estimate_effects(trial, outcome="hope_12", received="received", covariates=["hope_0"])
    >>> eff.index.tolist()
    ['itt', 'as_treated', 'per_protocol', 'cace']
    >>> eff.loc["itt", ["estimate", "se"]].astype(float).round(3).tolist()
    [-0.896, 1.08]
    """
    if received is None:
        raise ValueError("estimate_effects needs received= (a 0/1 column: 1 = received the intervention) for the "
                         "as-treated, per-protocol and CACE estimates; it has no default")
    data = _data.code_arm(data, arm, arm_levels)
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    covariates = _builder.spec(covariates)
    factors = as_list(factors)
    cov_cols = covariate_columns(covariates, factors)
    for name, col in (("arm", arm), ("received", received), ("outcome", outcome)):
        if col in cov_cols:
            raise ValueError(f"{name} column {col!r} must not also be a covariate")
    frame = model_frame(data, [outcome, arm, received, *cov_cols, cluster], na_action=na_action)
    if len(frame) == 0:
        raise ValueError("no complete rows left after removing missing values")
    y = _data.numeric(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    r = _data.binary(frame[received], received)
    binary = _is_binary_outcome(y, outcome_type, outcome)
    if binary:
        _require_events(y, outcome)
    elif np.all(y == y[0]):
        raise ValueError(f"outcome {outcome!r} is constant ({y[0]:g}) in all {len(y)} analysed rows; "
                         "there is no effect to estimate")

    contaminated = (a == 0) & (r == 1)
    attrs = _compliance(a, r, frame.index, contaminated, arm, received)
    rows = {}
    # ITT
    block = covariate_matrix(frame, covariates, factors)
    X, names = design(frame, [(arm, a)], covariates, factors, covariate_block=block, what="ITT lm")
    codes = _cluster_codes(frame, cluster)
    v = _resolve_vcov(robust, cluster, binary, is_iv=False)
    warn_few_clusters(codes, v, f" in {cluster!r}" if cluster else "")
    rows["itt"] = _row(ols(X, y, v, codes), 1, len(y), conf_level, _METHOD["itt"], True)
    # first stage
    first = ols(X, r, "const")
    with np.errstate(invalid="ignore", divide="ignore"):
        f_stat = float(first.coef[0, 1] ** 2 / first.vcov[0, 1, 1]) if np.unique(r).size > 1 else np.nan
    attrs["first_stage_F"] = f_stat
    attrs["first_stage_pval"] = float(stats.f.sf(f_stat, 1, first.df_resid))
    if v != "const" and np.unique(r).size > 1:
        # Wald F of the instrument with the same robust/cluster variance (first stage is an lm)
        first_rob = ols(X, r, v, codes)
        with np.errstate(invalid="ignore", divide="ignore"):
            attrs["first_stage_F_robust"] = float(np.float64(first_rob.coef[0, 1]) ** 2 / first_rob.vcov[0, 1, 1])
    no_compliers = not np.any((a == 1) & (r == 1))
    if no_compliers:
        warnings.warn(
            f"no compliers: nobody in the intervention arm ({arm} = 1) has {received} = 1, so the "
            "per-protocol and CACE effects are not estimable (NaN)", PeertrialWarning, stacklevel=_data.user_stacklevel())
    elif f_stat < 10:
        warnings.warn(f"weak instrument: first-stage F = {f_stat:.2f} < 10; the CACE estimate "
                      "and its SE are unreliable", PeertrialWarning, stacklevel=_data.user_stacklevel())
    # as-treated
    if np.unique(r).size < 2:
        rows["as_treated"] = _nan_row(len(y), _METHOD["as_treated"], False)
    else:
        Xr, _ = design(frame, [(received, r)], covariates, factors, covariate_block=block,
                       what="as-treated lm")
        rows["as_treated"] = _row(ols(Xr, y, v, codes), 1, len(y), conf_level, _METHOD["as_treated"], False)
    if no_compliers:
        rows["per_protocol"] = _nan_row(int(np.sum(r == a)), _METHOD["per_protocol"], False)
        rows["cace"] = _nan_row(len(y), _METHOD["cace"], True)
    else:
        keep = r == a
        sub = frame.loc[keep]
        Xp, _ = design(sub, [(arm, a[keep])], covariates, factors, what="per-protocol lm")
        codes_p = _cluster_codes(sub, cluster)
        rows["per_protocol"] = _row(ols(Xp, y[keep], v, codes_p), 1, int(keep.sum()), conf_level,
                                    _METHOD["per_protocol"], False)
        Xr, _ = design(frame, [(received, r)], covariates, factors, check=False, covariate_block=block)
        v_iv = _resolve_vcov(robust, cluster, binary, is_iv=True)
        rows["cace"] = _row(tsls(Xr, X, y, v_iv, codes), 1, len(y), conf_level, _METHOD["cace"], True)
    out = pd.DataFrame.from_dict(rows, orient="index").loc[list(POPULATIONS)]
    out.index.name = "population"
    attrs.update({"vcov": _vcov_label(v, cluster), "outcome_type": "binary" if binary else "continuous",
                  "outcome": outcome, "covariates": covariates, "level": conf_level, "conf_level": conf_level})
    if binary:
        attrs["itt_odds_ratio"] = itt_odds_ratio(frame, outcome, arm, covariates, factors=factors,
                                                 level=conf_level)
        if not attrs["itt_odds_ratio"].separation:
            from peertrial.trial.marginal import marginal_risk

            attrs["itt_marginal"] = marginal_risk(frame, outcome, arm, covariates, factors=factors, level=conf_level)
    out.attrs.update(attrs)
    return out


def _vcov_label(v: str, cluster) -> str:
    if cluster is not None and v in CR_TYPES:
        return (f"cluster-robust {v} by {cluster!r} (clubSandwich::vcovCR; Satterthwaite df as "
                "clubSandwich::coef_test)")
    if cluster is not None:
        return f"cluster-robust by {cluster!r} (sandwich::vcovCL, type {v} for lm; HC0 for 2SLS unless given)"
    return "model-based" if v == "const" else f"heteroskedasticity-robust {v} (sandwich::vcovHC)"


def _compliance(a, r, index, contaminated, arm, received) -> dict:
    if contaminated.any():
        warnings.warn(
            f"contamination: {int(contaminated.sum())} control participant(s) ({arm} = 0) have "
            f"{received} = 1 at rows {_data.row_labels(index, contaminated)}; they are kept "
            "(ITT by randomised arm; always-takers for CACE; excluded from per-protocol)",
            PeertrialWarning, stacklevel=_data.user_stacklevel())
    comp = float(r[a == 1].mean())
    uptake = float(r[a == 0].mean())
    return {"compliance_rate": comp, "control_uptake": uptake, "complier_share": comp - uptake,
            "contamination": int(contaminated.sum()),
            "contamination_rows": list(index[contaminated])}


@_data.renamed_argument("df", "data")
def itt_odds_ratio(data, outcome: str, arm: str = "arm", covariates=None, *, factors=None,
                   level: float = 0.95, na_action: str = "omit", conf_level=None, arm_levels=None) -> OddsRatioResult:
    """ITT odds ratio by logistic regression of a 0/1 outcome on the arm (Wald z inference).

    The model is ``glm(outcome ~ arm + covariates, family = binomial)``; the odds ratio is
    ``exp`` of the arm's coefficient, its CI ``exp(log_or +- z se)`` as
    ``exp(confint.default(fit))``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified).
    outcome : str
        Column of the binary outcome, coded 0/1 (1 = event).
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``).
    covariates : list of str or str, optional
        Adjustment columns, a list or an R-style right-hand side (``"C(site) + age"``), typed
        by the package's one rule (see :func:`estimate_effects`).
    factors : list of str, optional
        Covariate columns to enter as treatment-coded factors whatever their type.
    level : float, default 0.95
        Confidence level of the Wald interval, 0.95 or 95 alike.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"`` drops rows with a missing outcome, arm or covariate with a warning naming
        them (R's ``na.omit``); ``"fail"`` raises.
    conf_level : float, optional
        Deprecated spelling of ``level``.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.

    Returns
    -------
    OddsRatioResult
        ``log_or, se, z, pval, odds_ratio, ci_lb, ci_ub`` (CI on the OR scale), ``n`` and
        ``separation`` (bool); ``res["ci_lb"]`` item access still works.

    Notes
    -----
    Sparse outcomes:

    - no events (all 0) or no non-events (all 1) among the analysed rows: ``ValueError``
      (nothing to compare; R's glm would return a meaningless fit);
    - an empty arm-by-outcome cell (e.g. no events in one arm): the maximum-likelihood log
      OR is infinite. R's glm stops at a huge estimate (abs(log OR) ~ 20-40, SE ~ 1e4+) with
      "fitted probabilities numerically 0 or 1 occurred"; we report the limit instead:
      ``log_or = +-inf``, ``odds_ratio = inf`` or ``0``, ``se, z, pval, ci_lb, ci_ub`` NaN,
      ``separation = True``, with a ``PeertrialWarning`` naming the empty cell. Use exact
      or penalised (Firth) logistic regression for a finite estimate;
    - separation by the covariates only (fitted probabilities within ``10 * eps`` of 0 or 1,
      R's check): the fit is reported as glm reports it, ``separation = True``, with a
      ``PeertrialWarning`` that the odds ratio and its SE are unreliable.

    R equivalent: ``stats::glm`` with ``family = binomial`` and ``confint.default`` (R 4.2.2).

    References
    ----------
    .. [1] Hosmer, D. W., Lemeshow, S., & Sturdivant, R. X. (2013). Applied Logistic Regression
       (3rd ed.). Wiley.
    .. [2] Albert, A., & Anderson, J. A. (1984). On the existence of maximum likelihood estimates
       in logistic regression models. Biometrika, 71, 1-10.
    .. [3] Heinze, G., & Schemper, M. (2002). A solution to the problem of separation in logistic
       regression. Statistics in Medicine, 21, 2409-2419.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.trial.itt_odds_ratio(trial, outcome="readmitted_12m", covariates=["prev_admissions"])
    >>> round(res.odds_ratio, 3), round(res.ci_lb, 3), round(res.ci_ub, 3), res.n
    (0.949, 0.541, 1.667, 200)
    """
    data = _data.code_arm(data, arm, arm_levels)
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    covariates = _builder.spec(covariates)
    factors = as_list(factors)
    frame = model_frame(data, [outcome, arm, *covariate_columns(covariates, factors)], na_action=na_action)
    if len(frame) == 0:
        raise ValueError("no complete rows left after removing missing values")
    y = _data.binary(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    _require_events(y, outcome)
    empty = _empty_cells(y, a, arm, outcome)
    if empty:
        # +inf when the intervention arm has no non-events or the control arm no events
        sign = 1.0 if (1, 0) in empty or (0, 1) in empty else -1.0
        warnings.warn(
            f"separation: {'; '.join(empty[c] for c in empty)}, so the maximum-likelihood log odds "
            f"ratio of {arm!r} is {'+' if sign > 0 else '-'}inf (R's glm would report a huge estimate "
            "with a huge SE); odds_ratio is reported as "
            f"{'inf' if sign > 0 else '0'} with NaN SE, CI and p-value. Consider exact or Firth logistic "
            "regression.", PeertrialWarning, stacklevel=_data.user_stacklevel())
        nan = float("nan")
        return OddsRatioResult(log_or=sign * np.inf, se=nan, z=nan, pval=nan,
                               odds_ratio=np.inf if sign > 0 else 0.0, ci_lb=nan, ci_ub=nan, n=len(y),
                               separation=True, level=conf_level)
    X, names = design(frame, [(arm, a)], covariates, factors, what="logistic glm")
    with relayed("", expected=[PerfectSeparationWarning]):  # separation is checked below with glm.fit's own criterion
        fit = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100)
    mu = np.asarray(fit.fittedvalues)
    eps = 10 * np.finfo(float).eps  # glm.fit's "fitted probabilities numerically 0 or 1" check
    extreme = (mu < eps) | (mu > 1 - eps)
    if extreme.any():
        warnings.warn(
            f"separation by the covariates: fitted probabilities numerically 0 or 1 at rows "
            f"{_data.row_labels(frame.index, extreme)} (as R's glm warns); the odds ratio of {arm!r} "
            "and its SE are unreliable", PeertrialWarning, stacklevel=_data.user_stacklevel())
    b, se = float(fit.params[1]), float(fit.bse[1])
    z = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(over="ignore"):  # a separated fit's huge SE overflows exp to inf, as in R
        ci = (float(np.exp(b - z * se)), float(np.exp(b + z * se)))
    return OddsRatioResult(log_or=b, se=se, z=b / se, pval=float(2 * stats.norm.sf(abs(b / se))),
                           odds_ratio=float(np.exp(b)), ci_lb=ci[0], ci_ub=ci[1], n=len(y),
                           separation=bool(extreme.any()), level=conf_level)


@dataclass(frozen=True, eq=False)
class OddsRatioResult(Result):
    """ITT odds ratio of a logistic regression, returned by :func:`itt_odds_ratio`.

    Item access (``res["ci_lb"]``) works as with the dict this function used to return.
    ``to_frame()`` has the package's columns: ``estimate`` (the odds ratio), ``se`` (log
    scale), ``statistic``, ``pval``, ``ci_lb``, ``ci_ub``, plus ``log_or`` and ``n``.

    Attributes
    ----------
    log_or : float
        Log odds ratio of the arm (the logistic coefficient); ``+-inf`` under separation by arm.
    se : float
        Standard error of ``log_or`` (NaN under separation by arm).
    z : float
        Wald statistic ``log_or / se`` (also ``statistic``).
    pval : float
        Two-sided normal p-value.
    odds_ratio : float
        ``exp(log_or)``.
    ci_lb, ci_ub : float
        Confidence limits on the odds-ratio scale, ``exp(log_or -+ z_{1-alpha/2} se)``.
    n : int
        Number of participants analysed.
    separation : bool
        True when the fit separated (an empty arm-by-outcome cell, or fitted probabilities
        numerically 0 or 1); the estimate is then at its limit or unreliable.
    level : float, default 0.95
        Confidence level of ``ci_lb``/``ci_ub`` (a proportion).

    Notes
    -----
    R equivalent: the arm's row of ``summary(glm(..., family = binomial))$coefficients`` and
    ``exp(confint.default(fit))`` (``stats``, R 4.2.2).

    References
    ----------
    .. [1] Hosmer, D. W., Lemeshow, S., & Sturdivant, R. X. (2013). Applied Logistic Regression
       (3rd ed.). Wiley.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.trial.itt_odds_ratio(trial, outcome="readmitted_12m")
    >>> type(res).__name__, res.separation
    ('OddsRatioResult', False)
    >>> res.to_frame().columns.tolist()[:6]
    ['estimate', 'se', 'statistic', 'pval', 'ci_lb', 'ci_ub']
    """

    log_or: float
    se: float
    z: float
    pval: float
    odds_ratio: float
    ci_lb: float
    ci_ub: float
    n: int
    separation: bool
    level: float = 0.95

    @property
    def statistic(self) -> float:
        return self.z

    def __getitem__(self, key: str):
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def keys(self):
        return ("log_or", "se", "z", "pval", "odds_ratio", "ci_lb", "ci_ub", "n", "separation")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": [self.odds_ratio], "se": [self.se], "statistic": [self.z],
                             "pval": [self.pval], "ci_lb": [self.ci_lb], "ci_ub": [self.ci_ub],
                             "log_or": [self.log_or], "n": [self.n]}, index=["odds_ratio"])

    def summary(self) -> str:
        note = "\n(separation: the odds ratio is at its limit or unreliable)" if self.separation else ""
        return (f"ITT odds ratio (logistic regression, Wald z; {100 * self.level:g}% CI on the OR scale), "
                f"n = {self.n}\n" + format_table(self.to_frame()) + note)


def _require_events(y: np.ndarray, outcome: str) -> None:
    events = int(y.sum())
    if events == 0 or events == len(y):
        which = "no events (all 0)" if events == 0 else "no non-events (all 1)"
        raise ValueError(f"binary outcome {outcome!r} has {which} among the {len(y)} analysed rows; "
                         "the odds ratio is not estimable")


def _empty_cells(y: np.ndarray, a: np.ndarray, arm: str, outcome: str) -> dict:
    """``{(arm value, outcome value): description}`` for arm-by-outcome cells with no rows."""
    out = {}
    for arm_value in (0, 1):
        for y_value in (0, 1):
            if not np.any((a == arm_value) & (y == y_value)):
                out[(arm_value, y_value)] = (f"no participant with {arm} = {arm_value} has "
                                             f"{outcome} = {y_value}")
    return out


def use_levels(sessions: np.ndarray, arm: np.ndarray, cuts=(0, 3), labels=("none", "low", "high")) -> np.ndarray:
    """Level of use of each participant: ``"control"`` in the control arm, else a band of sessions.

    In the intervention arm the level is ``labels[k]`` for ``cuts[k-1] < sessions <= cuts[k]``
    (intervals closed on the right; the first label at or below the first cut, the last
    label above the last cut).

    Parameters
    ----------
    sessions : array_like of float
        Number of sessions (or any dose of use) per participant.
    arm : array_like of int
        Randomised arm per participant, 0 = control, 1 = intervention; same length as ``sessions``.
    cuts : sequence of float, default (0, 3)
        Increasing upper bounds of the bands but the last.
    labels : sequence of str, default ("none", "low", "high")
        One label per band: ``len(cuts) + 1`` of them.

    Returns
    -------
    numpy.ndarray of object
        The level of each participant: one of ``labels``, or ``"control"``.

    Notes
    -----
    R equivalent: ``base::cut(sessions, c(-Inf, cuts, Inf), labels = labels)`` (R 4.2.2, whose
    intervals are also closed on the right), with control participants set to ``"control"``.

    References
    ----------
    .. [1] Dunn, G., Maracy, M., & Tomenson, B. (2005). Estimating treatment effects from
       randomized clinical trials with noncompliance and loss to follow-up: the role of
       instrumental variable methods. Statistical Methods in Medical Research, 14, 369-395.

    Examples
    --------
    >>> pt.trial.use_levels(np.array([0, 2, 5, 4]), np.array([1, 1, 1, 0])).tolist()
    ['none', 'low', 'high', 'control']
    """
    if len(labels) != len(cuts) + 1:
        raise ValueError(f"need len(labels) == len(cuts) + 1, got {len(labels)} labels and {len(cuts)} cuts")
    from .._data import equal_lengths

    equal_lengths(sessions=sessions, arm=arm)
    k = np.searchsorted(np.asarray(cuts, dtype=float), sessions, side="left")
    lev = np.asarray(labels, dtype=object)[k]
    return np.where(arm == 1, lev, "control")


@_data.renamed_argument("df", "data")
def effects_by_use(data, outcome: str, arm: str = "arm", sessions: str = "sessions", covariates=None,
                  *, cuts=(0, 3), labels=("none", "low", "high"), robust: str | None = None,
                  factors=None, level: float = 0.95, na_action: str = "omit", conf_level=None, arm_levels=None) -> pd.DataFrame:
    """As-treated effects by level of use (e.g. none / low / high sessions) beside the ITT.

    Each level of the intervention arm is compared with the whole control arm in one model
    ``y ~ use + covariates`` (``use`` a factor with reference ``control``). These contrasts
    are **not randomised** (people choose how much to engage): compare with the ITT row and
    with the CACE from :func:`estimate_effects`. Control participants with sessions
    (contamination) stay in the control group, as randomised.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified).
    outcome : str
        Column of the (numeric) outcome.
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``).
    sessions : str, default "sessions"
        Column of the number of sessions attended (non-negative); cut into levels by
        :func:`use_levels`.
    covariates : list of str or str, optional
        Adjustment columns, a list or an R-style right-hand side, typed as in
        :func:`estimate_effects`.
    cuts : sequence of float, default (0, 3)
        Upper bounds of the use levels but the last (``sessions <= 0`` is ``"none"``,
        ``0 < sessions <= 3`` ``"low"``, above ``"high"`` by default).
    labels : sequence of str, default ("none", "low", "high")
        Names of the levels, ``len(cuts) + 1`` of them. A level nobody reached is a NaN row
        with a ``PeertrialWarning``.
    robust : str, optional
        ``None`` (model-based SE) or ``"HC0"``-``"HC3"`` (``sandwich::vcovHC``).
    factors : list of str, optional
        Covariate columns to enter as treatment-coded factors whatever their type.
    level : float, default 0.95
        Confidence level of the intervals, 0.95 or 95 alike.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"`` drops rows with missing values with a warning naming them; ``"fail"`` raises.
    conf_level : float, optional
        Deprecated spelling of ``level``.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.

    Returns
    -------
    pandas.DataFrame
        Indexed ``itt`` then the labels (index name ``comparison``), with ``estimate, se,
        statistic, df, ci_lb, ci_ub, pval, n, randomised, method``; ``attrs`` holds ``cuts``,
        ``labels``, ``vcov`` and a ``note``.

    Notes
    -----
    R equivalent: ``stats::lm(outcome ~ use + covariates)`` with ``use`` a factor whose
    reference level is ``control`` (R 4.2.2), with ``sandwich::vcovHC`` (sandwich 3.0-2) for
    ``robust``; the ITT row is ``lm(outcome ~ arm + covariates)``.

    References
    ----------
    .. [1] Dunn, G., Maracy, M., & Tomenson, B. (2005). Estimating treatment effects from
       randomized clinical trials with noncompliance and loss to follow-up: the role of
       instrumental variable methods. Statistical Methods in Medical Research, 14, 369-395.
    .. [2] Hernán, M. A., & Hernández-Díaz, S. (2012). Beyond the intention-to-treat in
       comparative effectiveness research. Clinical Trials, 9, 48-55.

    Examples
    --------
    >>> import warnings
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")    # rows without the outcome are dropped, with a warning
    ...     use = pt.trial.effects_by_use(trial, outcome="hope_12", covariates=["hope_0"])
    >>> use.index.tolist(), use["n"].tolist()
    (['itt', 'none', 'low', 'high'], [139, 17, 10, 45])
    >>> use["estimate"].round(2).tolist()
    [-0.9, -1.69, -4.54, 0.26]
    """
    data = _data.code_arm(data, arm, arm_levels)
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    covariates = _builder.spec(covariates)
    factors = as_list(factors)
    frame = model_frame(data, [outcome, arm, sessions, *covariate_columns(covariates, factors)],
                        na_action=na_action)
    y = _data.numeric(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    s = _data.numeric(frame[sessions], sessions)
    _data.check_nonnegative(s, frame.index, sessions)
    v = robust or "const"
    X, _ = design(frame, [(arm, a)], covariates, factors)
    rows = {"itt": _row(ols(X, y, v), 1, len(y), conf_level, _METHOD["itt"], True)}
    use = use_levels(s, a, cuts, labels)
    present = [lab for lab in labels if np.any(use == lab)]
    for lab in labels:
        if lab not in present:
            warnings.warn(f"no intervention participant at use level {lab!r}", PeertrialWarning, stacklevel=_data.user_stacklevel())
    lead = [(f"use{lab}", (use == lab).astype(float)) for lab in present]
    Xd, names = design(frame, lead, covariates, factors)
    check_full_rank(Xd, names)
    fit = ols(Xd, y, v)
    for j, lab in enumerate(present, start=1):
        rows[lab] = _row(fit, j, int(np.sum(use == lab)), conf_level,
                         f"lm: use level {lab!r} vs control (not randomised)", False)
    for lab in labels:
        if lab not in present:
            rows[lab] = _nan_row(0, f"use level {lab!r}: no participants", False)
    out = pd.DataFrame.from_dict(rows, orient="index").loc[["itt", *labels]]
    out.index.name = "comparison"
    out.attrs.update({"cuts": tuple(cuts), "labels": tuple(labels), "vcov": _vcov_label(v, None),
                      "note": "use-level contrasts are as-treated (non-randomised) comparisons"})
    return out


def effects_summary(effects: pd.DataFrame, digits: int = 4) -> str:
    """R-print-like text of an :func:`estimate_effects` result.

    The text holds the table, the variance used, compliance, contamination, the first-stage F
    and (binary outcomes) the ITT odds ratio and the standardised risk difference and ratio.

    Parameters
    ----------
    effects : pandas.DataFrame
        The table returned by :func:`estimate_effects` (its ``attrs`` are read).
    digits : int, default 4
        Decimal places of the table.

    Returns
    -------
    str
        The report, lines separated by newlines.

    Notes
    -----
    R equivalent: none as one call; R users print ``summary(lm(...))`` and
    ``summary(AER::ivreg(...), diagnostics = TRUE)`` (AER 1.2-10), whose weak-instrument F is
    the first-stage F reported here.

    References
    ----------
    .. [1] Angrist, J. D., Imbens, G. W., & Rubin, D. B. (1996). Identification of causal effects
       using instrumental variables. Journal of the American Statistical Association, 91, 444-455.
    .. [2] Staiger, D., & Stock, J. H. (1997). Instrumental variables regression with weak
       instruments. Econometrica, 65, 557-586.

    Examples
    --------
    >>> import warnings
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")    # rows without the outcome are dropped, with a warning
    ...     eff = pt.trial.estimate_effects(trial, outcome="hope_12", received="received", covariates=["hope_0"])
    >>> text = pt.trial.effects_summary(eff)
    >>> text.splitlines()[0]
    'Treatment effects on hope_12 (continuous; SE: model-based)'
    >>> "first-stage F = 129.55" in text
    True
    """
    from peertrial._results import format_number, format_table

    a = effects.attrs
    cols = ["estimate", "se", "statistic", "df", "ci_lb", "ci_ub", "pval", "n"]
    lines = [f"Treatment effects on {a.get('outcome', 'the outcome')} ({a.get('outcome_type', '')}; "
             f"SE: {a.get('vcov', '')})", format_table(effects[cols], digits), ""]
    lines.append("as_treated and per_protocol are not randomised comparisons; cace is the complier-average "
                 "effect (2SLS, arm as instrument).")
    if "compliance_rate" in a:
        lines.append(f"compliance (intervention arm) = {format_number(a['compliance_rate'])}, "
                     f"uptake in control = {format_number(a['control_uptake'])}, "
                     f"contamination = {a['contamination']}, first-stage F = {format_number(a['first_stage_F'], 2)}")
    if "itt_odds_ratio" in a:
        o = a["itt_odds_ratio"]
        lines.append(f"ITT odds ratio (logistic) = {format_number(o['odds_ratio'])} "
                     f"[{format_number(o['ci_lb'])}, {format_number(o['ci_ub'])}], p = {format_number(o['pval'])}")
    if "itt_marginal" in a:
        m = a["itt_marginal"]
        rd, rr = m.loc["risk_difference"], m.loc["risk_ratio"]
        lines.append(f"standardised (g-computation, same adjusted model): risk difference = "
                     f"{format_number(rd['estimate'])} [{format_number(rd['ci_lb'])}, {format_number(rd['ci_ub'])}], "
                     f"risk ratio = {format_number(rr['estimate'])} [{format_number(rr['ci_lb'])}, "
                     f"{format_number(rr['ci_ub'])}]")
    return "\n".join(lines)


def __getattr__(name: str):
    """Deprecated spellings (FutureWarning): dose_response -> effects_by_use (process.dose_response is the regression on sessions)."""
    if name in _DEPRECATED:
        new = _DEPRECATED[name]
        _data.warn_deprecated(f"{__name__}.{name} is deprecated and will be removed; use {new}")
        return globals()[new.rsplit(".", 1)[-1]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
