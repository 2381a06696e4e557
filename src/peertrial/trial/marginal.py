"""Marginal (standardised) risks, risk difference and risk ratio from an adjusted logistic model.

G-computation: fit ``glm(outcome ~ arm + covariates, family = binomial)``, predict every
analysed participant's risk with ``arm`` set to 1 and to 0, and average:
``r_a = mean_i expit(x_i(a)' b)``. The risk difference is ``r_1 - r_0`` and the risk ratio
``r_1 / r_0``. Delta-method SEs treat the covariates as fixed (as
``marginaleffects::avg_comparisons`` with the model's ``vcov``):
``grad r_a = mean_i p_i(a) (1 - p_i(a)) x_i(a)``, ``var = grad' V grad`` with ``V`` the
model-based covariance of ``b``; the risk ratio's CI is ``exp(log RR +- z se(log RR))``.
Reported beside the adjusted odds ratio by :func:`peertrial.trial.estimate_effects` for
binary outcomes (``attrs["itt_marginal"]``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._warnings import PeertrialWarning, relayed
from peertrial.trial._design import as_list, covariate_columns, design, model_frame
from peertrial.trial.effects import _arm_values, _empty_cells, _require_events

stats = lazy_module("scipy.stats")

__all__ = ["marginal_risk"]


def marginal_risk(data, outcome: str, arm: str = "arm", covariates=None, *, factors=None, level: float = 0.95,
                  na_action: str = "omit", arm_levels=None, bootstrap: int = 0, seed=None) -> pd.DataFrame:
    """Standardised risks, risk difference and risk ratio of ``arm`` from the covariate-adjusted logistic model.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified).
    outcome : str
        Column of the binary outcome, coded 0/1 (1 = event).
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or coded by ``arm_levels``).
    covariates : list of str or str, optional
        Adjustment columns or an R-style right-hand side (the one design builder, typed as in
        :func:`estimate_effects`).
    factors : list of str, optional
        Covariate columns to treat as factors whatever their type.
    level : float, default 0.95
        Confidence level, 0.95 or 95 alike.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"``: rows with missing values dropped with a warning naming them; ``"fail"`` raises.
    arm_levels : mapping or pair, optional
        Coding of a non-0/1 arm column, as in :func:`estimate_effects`.
    bootstrap : int, default 0
        Number of bootstrap replicates (0: none). Participants are resampled with
        replacement within each arm (the arm sizes are fixed by design), every replicate's
        logistic model is refitted (one batched Newton fit) and standardised again.
    seed : int or numpy.random.Generator, optional
        Seed of the bootstrap (the global random state is never used).

    Returns
    -------
    pandas.DataFrame
        Rows ``risk_control``, ``risk_intervention``, ``risk_difference``, ``risk_ratio`` with
        ``estimate, se, statistic, pval, ci_lb, ci_ub`` (Wald z; for the risk ratio ``se`` is the
        SE of ``log RR``, the statistic tests ``log RR = 0`` and the CI is on the ratio scale; the
        risks are tested against 0 only formally). ``attrs``: ``n``, ``level``, ``method``.
        With ``bootstrap > 0`` also ``boot_se`` (SD of the replicates; of ``log RR`` for the
        ratio) and percentile limits ``boot_ci_lb``, ``boot_ci_ub``; ``attrs["bootstrap"]``
        counts the replicates used (those whose fit did not converge, e.g. separation in a
        resample, are dropped with a ``PeertrialWarning``).

    Notes
    -----
    R equivalent (hand-coded, ``tests/trial/fixtures/make_marginal_fixtures.R``): ``glm`` with
    ``family = binomial``, ``predict(type = "response")`` on the data with ``arm`` set to 1 and
    0, delta-method SEs from ``vcov(fit)`` (the definition ``marginaleffects::avg_comparisons``
    uses; stdReg's SEs also carry the covariates' sampling variance and are slightly larger);
    fixtures made with R 4.2.2.

    An empty arm-by-outcome cell (separation on the arm) raises ``ValueError``: the logistic
    model has no finite estimate there; compare raw proportions instead.

    References
    ----------
    .. [1] Robins, J. (1986). A new approach to causal inference in mortality studies with a
       sustained exposure period. Mathematical Modelling, 7, 1393-1512.
    .. [2] Permutt, T. (2020). Do covariates change the estimand? Statistics in
       Biopharmaceutical Research, 12(1), 45-53.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=300, seed=2)
    >>> m = pt.trial.marginal_risk(trial, "readmitted_12m", covariates=["hope_0"])
    >>> list(m.index)
    ['risk_control', 'risk_intervention', 'risk_difference', 'risk_ratio']
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level)
    covariates, factors = _builder.spec(covariates), as_list(factors)
    frame = model_frame(data, [outcome, arm, *covariate_columns(covariates, factors)], na_action=na_action)
    if len(frame) == 0:
        raise ValueError("no complete rows left after removing missing values")
    y = _data.binary(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    _require_events(y, outcome)
    empty = _empty_cells(y, a, arm, outcome)
    if empty:
        raise ValueError(f"separation: {'; '.join(empty.values())}; the logistic model has no finite estimate, "
                         "so standardised risks from it are not defined; report the raw proportions")
    X, names = design(frame, [(arm, a)], covariates, factors, what="logistic glm")
    with relayed("", expected=[PerfectSeparationWarning]):  # separation is checked below with glm.fit's own criterion
        fit = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100)
    b = np.asarray(fit.params)
    V = np.asarray(fit.cov_params())
    mu = np.asarray(fit.fittedvalues)
    eps = 10 * np.finfo(float).eps
    if np.any((mu < eps) | (mu > 1 - eps)):
        warnings.warn("separation by the covariates: fitted probabilities numerically 0 or 1 (as R's glm "
                      "warns); the standardised risks and their SEs are unreliable", PeertrialWarning,
                      stacklevel=_data.user_stacklevel())
    risks, grads = [], []
    for value in (0.0, 1.0):
        Xa = X.copy()
        Xa[:, 1] = value
        p = 1.0 / (1.0 + np.exp(-(Xa @ b)))
        risks.append(float(p.mean()))
        grads.append((p * (1 - p)) @ Xa / len(p))
    r0, r1 = risks
    g0, g1 = grads
    z = stats.norm.ppf(0.5 + level / 2)
    rows = {}

    def wald(est, grad, null=0.0):
        se = float(np.sqrt(grad @ V @ grad))
        stat = (est - null) / se
        return {"estimate": est, "se": se, "statistic": stat, "pval": float(2 * stats.norm.sf(abs(stat))),
                "ci_lb": est - z * se, "ci_ub": est + z * se}

    rows["risk_control"] = wald(r0, g0)
    rows["risk_intervention"] = wald(r1, g1)
    rows["risk_difference"] = wald(r1 - r0, g1 - g0)
    log_rr = wald(np.log(r1 / r0), g1 / r1 - g0 / r0)
    rows["risk_ratio"] = {"estimate": r1 / r0, "se": log_rr["se"], "statistic": log_rr["statistic"],
                          "pval": log_rr["pval"], "ci_lb": float(np.exp(log_rr["ci_lb"])),
                          "ci_ub": float(np.exp(log_rr["ci_ub"]))}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "quantity"
    if bootstrap:
        out = _bootstrap(out, X, y, int(bootstrap), seed, level)
    out.attrs.update({"n": len(y), "level": level, "outcome": outcome,
                      "method": "g-computation from glm(binomial): " + " + ".join(names[1:])
                      + "; delta-method SEs (covariates fixed; se of log RR for the ratio)"})
    return out


def _bootstrap(out: pd.DataFrame, X: np.ndarray, y: np.ndarray, B: int, seed, level: float) -> pd.DataFrame:
    """Percentile bootstrap (resampling within arm) of the standardised risks, RD and RR."""
    from peertrial.simulate.fit import logistic_batch

    if B < 2:
        raise ValueError(f"bootstrap must be 0 or at least 2 replicates, got {B}")
    rng = _data.as_generator(seed)
    arm = X[:, 1]
    idx = np.empty((B, len(y)), dtype=int)
    for value in (0.0, 1.0):
        rows = np.flatnonzero(arm == value)
        idx[:, rows] = rows[rng.integers(0, rows.size, size=(B, rows.size))]
    Xb, yb = X[idx], y[idx]
    # non-converged replicates are counted and dropped just below, in the bootstrap's own words
    with relayed("bootstrap", expected=(r"did not converge in \d+ of \d+ simulated",)):
        coef, _, converged = logistic_batch(yb, Xb, max_iter=100, tol=1e-10)
    ok = converged & np.all(np.isfinite(coef), axis=1)
    if not ok.all():
        warnings.warn(f"{int((~ok).sum())} of {B} bootstrap replicates did not converge (e.g. separation in the "
                      "resample) and are dropped", PeertrialWarning, stacklevel=_data.user_stacklevel())
    coef, Xb = coef[ok], Xb[ok]
    r = []
    for value in (0.0, 1.0):
        Xa = Xb.copy()
        Xa[:, :, 1] = value
        r.append((1.0 / (1.0 + np.exp(-np.einsum("bnp,bp->bn", Xa, coef)))).mean(axis=1))
    r0, r1 = r
    draws = {"risk_control": r0, "risk_intervention": r1, "risk_difference": r1 - r0, "risk_ratio": r1 / r0}
    alpha = 1.0 - level
    out = out.copy()
    for name, d in draws.items():
        out.loc[name, "boot_se"] = float(np.std(np.log(d) if name == "risk_ratio" else d, ddof=1))
        out.loc[name, "boot_ci_lb"], out.loc[name, "boot_ci_ub"] = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    out.attrs["bootstrap"] = int(ok.sum())
    return out
