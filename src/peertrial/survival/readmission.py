"""Binary 12-month readmission, readmission counts and days in hospital.

- :func:`readmission_12m` — proportion readmitted per arm (exact Clopper–Pearson CI, as R's
  ``binom.test``); risk difference with Wald CI (as ``prop.test(correct = FALSE)``); risk ratio
  with a Wald CI on the log scale, se = sqrt((1-p1)/(n1 p1) + (1-p0)/(n0 p0)) (equal to
  ``glm(y ~ arm, binomial(link = "log"))`` with ``confint.default``); adjusted odds ratio from
  logistic regression with the stratification factors as covariates
  (``glm(y ~ arm + factor(site) + factor(diagnosis), binomial)``, Wald CI =
  ``confint.default``) or, with ``random="site"``, a random intercept for site fitted by the
  Laplace approximation (as ``lme4::glmer(..., nAGQ = 1)``; SEs from a finite-difference
  Hessian of the Laplace deviance over (sigma, beta), as lme4's default ``use.hessian``).
- :func:`count_ratio` — negative binomial (NB2) regression with log(exposure) offset, fitted by
  maximum likelihood in (beta, theta) as ``MASS::glm.nb``; SEs from the IRLS information
  X'WX, W = mu / (1 + mu / theta), as ``summary(glm.nb)``; rate ratio with Wald CI.
- :func:`days_ratio` — days in hospital: the same NB model, or ``model="two-part"``:
  logistic regression for any stay and a Gamma GLM with log link for the days of those
  with a stay (``glm(..., Gamma(link = "log"))``, Pearson dispersion); the ratio of overall
  means (P(any) x mean | any) has a delta-method CI from the two independent parts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._glm import negbin_fit
from peertrial._lazy import lazy_module
from peertrial._results import CONF_LEVEL_ALIAS, Result, format_table
from peertrial._warnings import PeertrialWarning

optimize = lazy_module("scipy.optimize")
special = lazy_module("scipy.special")
stats = lazy_module("scipy.stats")

__all__ = ["readmission_12m", "ReadmissionResult", "count_ratio", "days_ratio", "RatioResult"]


def _z(level):
    return stats.norm.ppf(1 - (1 - level) / 2)


def _design(frame: pd.DataFrame, arm: str, covariates, factors=()) -> pd.DataFrame:
    """Intercept, arm, then the covariate columns of the one builder (:mod:`peertrial._design`:
    list or formula, numbers numeric, text/``C()``/``factors`` treatment-coded as R)."""
    cols = {"(Intercept)": np.ones(len(frame)), arm: frame[arm].to_numpy(float)}
    if _builder.variables(covariates, factors):
        block = _builder.build(frame, covariates, factors, intercept="drop")
        for j, name in enumerate(block.names):
            if name != arm:
                cols[name] = block.X[:, j]
    return pd.DataFrame(cols, index=frame.index)


def _estimable(X: pd.DataFrame, arm: str, what: str) -> np.ndarray:
    """Columns to fit: aliased ones are dropped with a warning naming them (NaN, as R's NA)."""
    return _builder.drop_aliased(X.to_numpy(), list(X.columns), what=what, protect=[arm], stacklevel=4)


def _logistic(X: np.ndarray, y: np.ndarray, what: str = "logistic regression"):
    """Logistic regression (statsmodels GLM, IRLS to 1e-13); returns (beta, model-based cov).

    statsmodels' perfect-separation warning is re-issued as a :class:`PeertrialWarning`
    saying which model it concerns (R's glm: "fitted probabilities numerically 0 or 1").
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PerfectSeparationWarning)
        res = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-13, maxiter=100)
    separated = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    for w in caught:  # numpy's divide-by-zero noise is a symptom of the separation reported below
        if not issubclass(w.category, (PerfectSeparationWarning, *((RuntimeWarning,) if separated else ()))):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if separated:
        warnings.warn(f"{what}: fitted probabilities numerically 0 or 1 (separation: some covariate "
                      "level has only events or only non-events); coefficients and SEs of the "
                      "separated terms are not reliable", PeertrialWarning, stacklevel=3)
    return np.asarray(res.params), np.asarray(res.cov_params())


def _cluster_vcov(X, y, beta, bread, codes):
    """``sandwich::vcovCL`` default for a logistic glm (HC0 with G/(G-1)): bread (U_g' U_g) bread * G/(G-1)."""
    k = X.shape[1]
    mu = 1.0 / (1.0 + np.exp(-(X @ beta)))
    groups = np.unique(codes, return_inverse=True)[1]
    G = int(groups.max()) + 1
    if G < 2:
        raise ValueError("cluster= needs at least two clusters")
    U = np.zeros((G, k))
    np.add.at(U, groups, X * (y - mu)[:, None])
    return bread @ (U.T @ U) @ bread * (G / (G - 1))


# ----------------------------------------------------------------- glmer (Laplace)
def _laplace_deviance(par, X, y, site, nsite, return_modes=False, u0=None):
    """lme4's Laplace deviance for a logistic random-intercept model, par = (theta, beta)."""
    theta, beta = par[0], par[1:]
    eta0 = X @ beta
    u = np.zeros(nsite) if u0 is None else u0.copy()
    th2 = theta * theta
    for _ in range(100):  # Newton per site on the spherical random effect u = b / theta
        mu = special.expit(eta0 + theta * u[site])
        g = theta * np.bincount(site, weights=y - mu, minlength=nsite) - u
        h = th2 * np.bincount(site, weights=mu * (1 - mu), minlength=nsite) + 1
        step = g / h
        u += step
        if np.max(np.abs(step)) < 1e-12:
            break
    eta = eta0 + theta * u[site]
    mu = special.expit(eta)
    w = mu * (1 - mu)
    ll = np.sum(y * eta - np.logaddexp(0, eta))
    ld = np.sum(np.log(th2 * np.bincount(site, weights=w, minlength=nsite) + 1))
    dev = -2 * ll + u @ u + ld
    return (dev, u) if return_modes else dev


def _glmer(X, y, site, nsite):
    beta0, _ = _logistic(X, y)
    par0 = np.concatenate([[1.0], beta0])
    f = lambda p: _laplace_deviance(np.concatenate([[abs(p[0])], p[1:]]), X, y, site, nsite)  # noqa: E731
    res = optimize.minimize(f, par0, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 40000, "maxfev": 40000})
    res = optimize.minimize(f, res.x, method="BFGS", options={"gtol": 1e-9})
    par = np.concatenate([[abs(res.x[0])], res.x[1:]])
    H = _num_hessian(lambda p: _laplace_deviance(p, X, y, site, nsite), par)
    if not np.all(np.isfinite(H)) or np.any(np.linalg.eigvalsh(H) <= 1e-10 * np.abs(H).max()):
        raise ValueError(f"the random-intercept model is not estimable: the Hessian of the Laplace "
                         f"deviance is singular at the optimum (n = {len(y)}, {int(y.sum())} events, "
                         f"{nsite} sites); use more data or random=None")
    cov = 2 * np.linalg.inv(H)
    return par, cov[1:, 1:], float(res.fun)


def _num_hessian(f, x, rel=1e-4):
    k = len(x)
    h = rel * np.maximum(np.abs(x), 1e-2)
    H = np.zeros((k, k))
    f0 = f(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return H


@dataclass(frozen=True, eq=False)
class ReadmissionResult(Result):
    """Proportion readmitted per arm with the risk difference, risk ratio and adjusted odds ratio.

    Returned by :func:`readmission_12m`. Also ``rd``, ``rr`` and ``odds_ratio``: the three
    main estimates as floats (properties).

    Attributes
    ----------
    arms : pandas.DataFrame
        Index ``arm`` (0, 1); columns ``n, events, proportion, ci_lb, ci_ub`` (exact
        Clopper–Pearson interval).
    effects : pandas.DataFrame
        Index ``effect``: ``risk_difference``, ``risk_ratio``, ``adjusted_odds_ratio`` and, when
        the logistic model has covariates (no ``random``/``cluster``), the standardised
        ``adjusted_risk_difference`` and ``adjusted_risk_ratio``; columns ``estimate, se, ci_lb,
        ci_ub, pval`` (``se`` of the log for ratios).
    model : str
        How the adjusted odds ratio was obtained (or why it is not estimable).
    coefficients : pandas.DataFrame
        The logistic model's coefficients: ``estimate, se, zval, pval`` (log odds; NaN where
        aliased).
    site_sd : float or None
        SD of the random intercept with ``random=``; None otherwise.
    level : float
        Confidence level, as a proportion (``conf_level`` is a deprecated alias).
    extra : dict
        Further fit statistics (``deviance`` of the mixed model).

    Notes
    -----
    R equivalent: ``stats::binom.test`` per arm, ``stats::prop.test(correct = FALSE)`` for the
    RD, ``glm(binomial(link = "log"))`` + ``confint.default`` for the RR, and
    ``stats::glm(family = binomial)`` (R 4.2.2) or ``lme4::glmer`` (lme4 1.1-31) for the OR.

    References
    ----------
    .. [1] Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits
       illustrated in the case of the binomial. Biometrika, 26, 404-413.
    .. [2] Agresti, A. (2013). Categorical Data Analysis (3rd ed.). Wiley.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.survival.readmission_12m(trial, "readmitted_12m", "arm")
    >>> res.arms["events"].tolist(), round(res.rd, 4), round(res.rr, 4), round(res.odds_ratio, 4)
    ([47, 44], -0.0118, 0.9744, 0.9535)
    """

    arms: pd.DataFrame
    effects: pd.DataFrame
    model: str
    coefficients: pd.DataFrame
    site_sd: float | None = None
    level: float = 0.95
    extra: dict = field(default_factory=dict)

    conf_level = CONF_LEVEL_ALIAS

    @property
    def rd(self) -> float:
        return float(self.effects.at["risk_difference", "estimate"])

    @property
    def rr(self) -> float:
        return float(self.effects.at["risk_ratio", "estimate"])

    @property
    def odds_ratio(self) -> float:
        return float(self.effects.at["adjusted_odds_ratio", "estimate"])

    def to_frame(self) -> pd.DataFrame:
        return self.effects.copy()

    def summary(self) -> str:
        arms = self.arms.assign(n=self.arms["n"].map(str), events=self.arms["events"].map(str))
        text = ("Readmission within 12 months\n" + format_table(arms) + "\n\n"
                + format_table(self.effects) + f"\n\nadjusted OR: {self.model}")
        if self.site_sd is not None:
            text += f"; site random-intercept SD = {self.site_sd:.4f}"
        return text


def readmission_12m(data, outcome: str, arm: str = "arm",
                    covariates=None, random: str | None = None,
                    level: float = 0.95, *, factors=(), arm_levels=None, conf_level=None,
                    cluster: str | None = None) -> ReadmissionResult:
    """Proportion readmitted per arm, risk difference, risk ratio and adjusted odds ratio.

    Methods: see the module docstring (:mod:`peertrial.survival.readmission`).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    outcome : str
        The 0/1 column of readmission (1 = readmitted within the period); required.
    arm : str
        The randomised arm, 0 = control, 1 = intervention (default ``"arm"``; see ``arm_levels``).
    covariates : list of str or str, optional
        The adjustment terms of the logistic model, a list of columns or an R-style formula;
        the default (none) gives the unadjusted odds ratio; for a trial stratified by site and
        diagnosis write ``covariates="C(site) + C(diagnosis)"`` to enter the stratification
        factors as factors. The typing rule is that of every model (:mod:`peertrial._design`):
        a numeric column in a list (``["site"]`` with site coded 1..7) is a linear trend, as in
        :func:`peertrial.trial.estimate_effects`; write ``C(site)`` or ``factors=["site"]`` for
        a factor. Aliased covariate columns are reported as NaN with a warning (R's ``NA``).
    random : str, optional
        A column whose groups get a random intercept (e.g. ``"site"``): its terms are removed
        from ``covariates`` and the other terms stay fixed (``glmer``, Laplace).
    level : float
        Confidence level, 0.95 or 95 alike (default 0.95); ``conf_level`` is its deprecated alias.
    factors : sequence of str
        Columns to treat as factors.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    cluster : str, optional
        A column of cluster labels (e.g. site); the adjusted odds ratio then has a
        cluster-robust (sandwich) SE as R's ``sandwich::vcovCL(fit)`` with its defaults for a
        ``glm`` (type ``"HC0"``: scores summed per cluster, times ``G/(G-1)``), z-based CI and
        p-value as ``lmtest::coeftest(fit, vcov = vcovCL(fit, cluster = ~site))``. Not with
        ``random=``; the RD and RR stay unclustered.

    Returns
    -------
    ReadmissionResult
        Proportions per arm (``arms``), the risk difference ``rd``, risk ratio ``rr`` and
        adjusted ``odds_ratio``; ``summary()``, ``to_frame()``.

    Raises
    ------
    ValueError
        When the outcome has no events (or no non-events) at all, ``arm`` has one level, or
        both ``random`` and ``cluster`` are given.

    Notes
    -----
    R equivalent: ``stats::glm(family = binomial)`` for the adjusted odds ratio, or
    ``lme4::glmer`` with ``random=`` (lme4 1.1-31); Wald intervals for RD and RR; with
    ``cluster=``, ``sandwich::vcovCL`` (sandwich 3.0.2).

    Separation: if one arm has no events or only events, the maximum-likelihood odds ratio
    is 0 or infinite (R's glm stops at huge coefficients and SEs): as
    :func:`peertrial.trial.itt_odds_ratio` does, the adjusted model is not fitted, the OR is
    reported at its limit (0 or ``inf``) with NaN SE, CI and p-value, and a
    :class:`peertrial.PeertrialWarning` says so. The risk difference is reported as usual; so
    is the risk ratio, which is 0 or ``inf`` (NaN SE, CI, p) when an arm has no events.
    Separation by another covariate level gives a warning and the fit as R would report it.

    References
    ----------
    .. [1] Agresti, A. (2013). Categorical Data Analysis (3rd ed.). Wiley.
    .. [2] Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits
       illustrated in the case of the binomial. Biometrika, 26, 404-413.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.survival.readmission_12m(trial, "readmitted_12m", "arm", covariates="C(site) + C(diagnosis)")
    >>> res.effects["estimate"].round(4).to_dict()
    {'risk_difference': -0.0118, 'risk_ratio': 0.9744, 'adjusted_odds_ratio': 0.981, 'adjusted_risk_difference': -0.0044, 'adjusted_risk_ratio': 0.9904}
    """
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level, conf_level=conf_level)
    frame = _data.as_frame(data)
    covariates, factors = _builder.spec(covariates), _builder.as_list(factors)
    if random:
        covariates, factors = _builder.without(covariates, random, factors)
    cov_cols = _builder.variables(covariates, factors)
    if cluster is not None and random:
        raise ValueError("give either random= (random intercept) or cluster= (cluster-robust SE), not both")
    cols = [outcome, arm, *cov_cols] + ([random] if random else []) + (
        [cluster] if cluster is not None and cluster not in cov_cols else [])
    _data.require_columns(frame, cols)
    frame = _data.drop_missing(frame, cols, stacklevel=3)
    y = _data.binary(frame[outcome], outcome)
    a = _data.binary(frame[arm], arm)
    if len(y) == 0:
        raise ValueError(f"no rows to analyse (data has no rows with {outcome!r} and {arm!r})")
    if len(np.unique(a)) < 2:
        raise ValueError(f"column {arm!r} has one level only ({a[0]:g}) in rows "
                         f"{_data.row_labels(frame.index, np.ones(len(a), bool))}; two arms are needed")
    if np.all(y == y[0]):
        raise ValueError(f"column {outcome!r} is {y[0]:g} in all {len(y)} rows (no "
                         f"{'events' if y[0] == 0 else 'non-events'}); no effect is estimable")
    z = _z(level)
    rows = []
    for g in (0, 1):
        m = a == g
        n, e = int(m.sum()), int(y[m].sum())
        ci = stats.binomtest(e, n).proportion_ci(level, method="exact")
        rows.append((g, n, e, e / n, ci.low, ci.high))
    arms = pd.DataFrame(rows, columns=["arm", "n", "events", "proportion", "ci_lb", "ci_ub"]).set_index("arm")
    (n0, e0, p0), (n1, e1, p1) = [(arms.at[g, "n"], arms.at[g, "events"], arms.at[g, "proportion"]) for g in (0, 1)]
    rd = p1 - p0
    se_rd = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    no_events = [g for g in (0, 1) if arms.at[g, "events"] == 0]
    separated = [g for g in (0, 1) if arms.at[g, "events"] in (0, arms.at[g, "n"])]
    with np.errstate(divide="ignore", invalid="ignore"):
        lrr = np.log(p1 / p0)  # -inf or +inf when an arm has no events
        se_lrr = np.sqrt((1 - p1) / (n1 * p1) + (1 - p0) / (n0 * p0)) if not no_events else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        p_rd = 2 * stats.norm.sf(abs(rd / se_rd))
    eff = [("risk_difference", rd, se_rd, rd - z * se_rd, rd + z * se_rd, p_rd),
           ("risk_ratio", np.exp(lrr), se_lrr, np.exp(lrr - z * se_lrr), np.exp(lrr + z * se_lrr),
            2 * stats.norm.sf(abs(lrr / se_lrr)))]
    Xf = _design(frame, arm, covariates, factors)
    keep = _estimable(Xf, arm, "adjusted logistic regression")
    all_columns, Xf = Xf.columns, Xf.loc[:, keep]
    site_sd = None
    extra = {}
    if separated:
        what = "; ".join(f"{arm} = {g} has {'no events' if arms.at[g, 'events'] == 0 else 'only events'} "
                         f"({arms.at[g, 'events']} of {arms.at[g, 'n']})" for g in separated)
        infinite = arms.at[0, "events"] == 0 or arms.at[1, "events"] == arms.at[1, "n"]
        limit = np.inf if infinite else 0.0
        warnings.warn(f"column {outcome!r}: {what}; the odds ratio"
                      f"{' and risk ratio are' if no_events else ' is'} not estimable (separation): "
                      f"reported at the limit {limit:g} with NaN SE, CI and p-value; the risk "
                      "difference is reported as usual", PeertrialWarning, stacklevel=2)
        eff.append(("adjusted_odds_ratio", limit, np.nan, np.nan, np.nan, np.nan))
        effects = pd.DataFrame(eff, columns=["effect", "estimate", "se", "ci_lb", "ci_ub", "pval"]).set_index("effect")
        coefs = pd.DataFrame(np.nan, index=all_columns, columns=["estimate", "se", "zval", "pval"])
        return ReadmissionResult(arms, effects, f"not estimable: {what} (separation)", coefs, None,
                                 level, extra)
    _warn_separated_levels(frame, y, _builder.factor_columns(frame, covariates, factors), outcome)
    if random is None:
        beta, cov = _logistic(Xf.to_numpy(), y, "adjusted logistic regression")
        model = "logistic regression, stratification factors as covariates (Wald CI)"
        if cluster is not None:
            cov = _cluster_vcov(Xf.to_numpy(), y, beta, cov, _data.cluster_codes(frame[cluster], cluster))
            model += f", cluster-robust SE by {cluster} (sandwich::vcovCL)"
    else:
        codes = pd.Categorical(frame[random]).codes.astype(np.int64)
        par, cov, dev = _glmer(Xf.to_numpy(), y, codes, codes.max() + 1)
        extra["deviance"] = dev
        beta, site_sd = par[1:], float(par[0])
        model = f"logistic mixed model, random intercept for {random} (Laplace, Wald CI)"
    se = np.sqrt(np.diag(cov))
    coefs = pd.DataFrame({"estimate": beta, "se": se, "zval": beta / se,
                          "pval": 2 * stats.norm.sf(np.abs(beta / se))}, index=Xf.columns).reindex(all_columns)
    b, s = coefs.at[arm, "estimate"], coefs.at[arm, "se"]
    eff.append(("adjusted_odds_ratio", np.exp(b), s, np.exp(b - z * s), np.exp(b + z * s),
                coefs.at[arm, "pval"]))
    if random is None and cluster is None and Xf.shape[1] > 2:
        eff += _standardised(frame, outcome, arm, covariates, factors, level)
    effects = pd.DataFrame(eff, columns=["effect", "estimate", "se", "ci_lb", "ci_ub", "pval"]).set_index("effect")
    return ReadmissionResult(arms, effects, model, coefs, site_sd, level, extra)


def _standardised(frame, outcome, arm, covariates, factors, level):
    """Marginal (g-computation) RD and RR from the same adjusted logistic model, beside its OR."""
    from peertrial.trial.marginal import marginal_risk

    m = marginal_risk(frame, outcome, arm, covariates, factors=factors, level=level)
    return [(f"adjusted_{name}", *m.loc[name, ["estimate", "se", "ci_lb", "ci_ub", "pval"]].to_numpy())
            for name in ("risk_difference", "risk_ratio")]


def _warn_separated_levels(frame, y, factors, outcome):
    """Warn for covariate levels with only events or only non-events (quasi-separation)."""
    for f in factors:
        lev = pd.Series(y, index=frame.index).groupby(frame[f].to_numpy(), sort=True).agg(["min", "max"])
        bad = lev.index[lev["min"] == lev["max"]].tolist()
        if bad:
            warnings.warn(f"column {outcome!r} is constant within {f} = {', '.join(map(str, bad))} "
                          "(separation): the coefficients of those levels diverge and their SEs are "
                          "not meaningful (R's glm warns 'fitted probabilities numerically 0 or 1')",
                          PeertrialWarning, stacklevel=3)


# ----------------------------------------------------------------- count and days ratios (NB fit: peertrial._glm)
@dataclass(frozen=True, eq=False)
class RatioResult(Result):
    """A rate ratio or ratio of means, arm 1 vs 0, with its CI and the fitted model.

    Returned by :func:`count_ratio` and :func:`days_ratio`.

    Attributes
    ----------
    estimate : float
        The ratio, arm 1 vs arm 0.
    se : float
        SE of its logarithm.
    ci_lb, ci_ub : float
        Wald limits at ``level`` (exponentiated from the log scale).
    pval : float
        Two-sided z-test p-value of log ratio = 0.
    model : str
        The model fitted (offset, cluster-robust SE or the two-part model).
    coefficients : pandas.DataFrame
        The model's coefficients (log scale): ``estimate, se, zval, pval``; the two-part model
        prefixes them ``any:`` (logistic part) and ``days|any:`` (Gamma part).
    extra : dict
        NB model: ``theta`` (the NB2 shape), ``se_theta``, ``loglik``; two-part model:
        ``dispersion`` (Gamma, Pearson), ``odds_ratio_any``, ``mean_ratio_positive``.
    level : float
        Confidence level, as a proportion.

    Notes
    -----
    R equivalent: ``MASS::glm.nb`` (MASS 7.3-58.2) with ``confint.default`` for the NB ratio;
    ``glm(binomial)`` and ``glm(Gamma(link = "log"))`` (R 4.2.2) for the two parts.

    References
    ----------
    .. [1] Venables, W. N., & Ripley, B. D. (2002). Modern Applied Statistics with S (4th ed.),
       sec. 7.4. Springer.
    .. [2] Mihaylova, B., Briggs, A., O'Hagan, A., & Thompson, S. G. (2011). Review of
       statistical methods for analysing healthcare resources and costs. Health Economics,
       20, 897-916.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.survival.count_ratio(trial, "readmissions", "arm", exposure="followup_days")
    >>> round(res.estimate, 4), round(res.ci_lb, 4), round(res.ci_ub, 4), round(res.extra["theta"], 4)
    (0.9585, 0.6517, 1.4099, 1.5443)
    """

    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    pval: float
    model: str
    coefficients: pd.DataFrame
    extra: dict = field(default_factory=dict)
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """``estimate`` (the ratio), ``se`` (of its log), ``statistic`` (z), ``pval``, ``ci_lb``, ``ci_ub``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log(self.estimate) / self.se
        return pd.DataFrame({"estimate": [self.estimate], "se": [self.se], "statistic": [z], "pval": [self.pval],
                             "ci_lb": [self.ci_lb], "ci_ub": [self.ci_ub]}, index=["ratio"])

    def summary(self) -> str:
        extra = "".join(f"\n{k} = {v:.4f}" for k, v in self.extra.items() if np.isscalar(v))
        return (f"{self.model}\n{format_table(self.coefficients)}\n\nratio (arm 1 vs 0)\n"
                f"{format_table(self.to_frame())}{extra}")


def _prep_counts(data, outcome, arm, exposure, covariates, factors, not_at_risk=None):
    frame = _data.as_frame(data)
    covariates, factors = _builder.spec(covariates), _builder.as_list(factors)
    # factors= names factor terms (placed first) as well as typing them, as before
    extra = [f for f in factors if f not in _builder.variables(covariates)]
    covariates = _builder.combine(extra, covariates)
    if not_at_risk is not None and not exposure:
        raise ValueError(f"not_at_risk={not_at_risk!r} is subtracted from the exposure: give exposure= too "
                         "(e.g. exposure='followup_days', not_at_risk='bed_days')")
    cols = [outcome, arm, *_builder.variables(covariates, factors)] + ([exposure] if exposure else []) \
        + ([not_at_risk] if not_at_risk else [])
    _data.require_columns(frame, cols)
    frame = _data.drop_missing(frame, cols, stacklevel=4)
    if len(frame) == 0:
        raise ValueError(f"no rows to analyse: data is empty or every row misses one of {cols}")
    y = _data.numeric(frame[outcome], outcome)
    _data.check_nonnegative(y, frame.index, outcome)
    _data.check_integer(y, frame.index, outcome)
    a = _data.binary(frame[arm], arm)
    if len(np.unique(a)) < 2:
        raise ValueError(f"column {arm!r} has one level only ({a[0]:g}) in rows "
                         f"{_data.row_labels(frame.index, np.ones(len(a), bool))}; two arms are needed")
    if not np.any(y > 0):
        raise ValueError(f"column {outcome!r} is 0 in all {len(y)} rows (no positive counts); the ratio is not "
                         "estimable (MASS::glm.nb fails on an all-zero outcome)")
    off = np.zeros(len(y))
    if exposure:
        e = _data.numeric(frame[exposure], exposure)
        _data.check_positive(e, frame.index, exposure)
        if not_at_risk:
            away = _data.numeric(frame[not_at_risk], not_at_risk)
            _data.check_nonnegative(away, frame.index, not_at_risk)
            e = e - away
            bad = e <= 0
            if bad.any():
                raise ValueError(f"{exposure!r} minus {not_at_risk!r} must be positive (time at risk); it is "
                                 f"not at rows {_data.row_labels(frame.index, bad)}")
        off = np.log(e)
    X = _design(frame, arm, covariates, factors)
    return frame, y, X, off


def count_ratio(data, outcome: str, arm: str = "arm",
                exposure: str | None = None, covariates=(), factors=(),
                level: float = 0.95, *, conf_level=None, arm_levels=None,
                not_at_risk: str | None = None, cluster: str | None = None) -> RatioResult:
    """Rate ratio of event counts, arm 1 vs 0, by negative binomial regression with an exposure offset.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    outcome : str
        Column of counts (e.g. readmissions); non-negative integers.
    arm : str
        The randomised arm, 0/1 (default ``"arm"``; see ``arm_levels``).
    exposure : str, optional
        Column of follow-up time, e.g. ``exposure="followup_days"``, entered as the offset
        ``log(exposure)`` so that the ratio compares rates (default: none, equal follow-up).
    covariates : list of str or str
        Adjustment terms: columns or an R-style right-hand side (``"C(site) + age"``).
    factors : sequence of str
        Columns to treat as factors.
    level : float
        Confidence level, 0.95 or 95 alike (default 0.95); ``conf_level`` is its deprecated alias.
    arm_levels : mapping or pair, optional
        The coding of a text (or e.g. 1/2) ``arm`` column, ``{"Control": 0, "Peer": 1}`` or a
        pair ``(control, intervention)``; without it ``arm`` must be 0/1.
    not_at_risk : str, optional
        Column of time within the exposure when no new event can start, e.g. days already in
        hospital: the offset is then ``log(exposure - not_at_risk)``, the time alive and out of
        hospital, so that readmission rates are not diluted by time spent as an inpatient.
        Needs ``exposure``.
    cluster : str, optional
        A column of cluster labels (e.g. site); the SEs are then cluster-robust as
        ``sandwich::vcovCL(fit, cluster = ~site)`` with its defaults for a ``glm.nb`` fit (HC0
        scores at the fitted theta summed per cluster, times ``G/(G-1)``; z-based CI and
        p-value as ``lmtest::coeftest``). A missing cluster label raises ``ValueError``.

    Returns
    -------
    RatioResult
        The rate ratio (``estimate``, ``ci_lb``, ``ci_ub``, ``pval``), the NB coefficients and
        ``extra["theta"]``.

    Raises
    ------
    ValueError
        When the outcome is 0 in every row, or in every row of one arm (the ratio is not
        estimable), or when ``exposure - not_at_risk`` is not positive.

    Notes
    -----
    R equivalent: ``MASS::glm.nb(y ~ arm + covariates + offset(log(exposure)))`` (MASS
    7.3-58.2), Wald CI as ``confint.default``; with ``cluster``, ``sandwich::vcovCL``
    (sandwich 3.0.2). NB2 fitted by maximum likelihood in (beta, theta); SEs from the IRLS
    information X'WX, W = mu / (1 + mu / theta), as ``summary(glm.nb)``.

    References
    ----------
    .. [1] Lawless, J. F. (1987). Negative binomial and mixed Poisson regression. Canadian
       Journal of Statistics, 15, 209-225.
    .. [2] Venables, W. N., & Ripley, B. D. (2002). Modern Applied Statistics with S (4th ed.),
       sec. 7.4. Springer.
    .. [3] Zeileis, A., Köll, S., & Graham, N. (2020). Various versatile variances: an
       object-oriented implementation of clustered covariances in R. Journal of Statistical
       Software, 95(1), 1-36.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.survival.count_ratio(trial, "readmissions", "arm", exposure="followup_days",
    ...                               not_at_risk="bed_days")
    >>> round(res.estimate, 4)
    0.9265
    """
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level, conf_level=conf_level)
    frame, y, X, off = _prep_counts(data, outcome, arm, exposure, covariates, factors, not_at_risk)
    if cluster is not None:
        _data.require_columns(frame, [cluster])
        codes = _data.cluster_codes(frame[cluster], cluster)
    a = X[arm].to_numpy()
    for g in (0, 1):
        if not np.any(y[a == g] > 0):
            raise ValueError(f"column {outcome!r} is 0 in every row of {arm} = {g} (rows "
                             f"{_data.row_labels(frame.index, a == g)}); the rate ratio is "
                             f"{'0' if g == 1 else 'infinite'} and not estimable (glm.nb diverges)")
    all_columns = X.columns
    X = X.loc[:, _estimable(X, arm, "negative binomial regression")]
    nb = negbin_fit(X, y, off, stacklevel=2)
    beta, se = nb.coef, nb.se
    if cluster is not None:
        Xn = X.to_numpy(dtype=float)
        mu = np.exp(Xn @ beta + off)
        G = int(codes.max()) + 1
        U = np.zeros((G, Xn.shape[1]))
        np.add.at(U, codes, Xn * ((y - mu) / (1 + mu / nb.theta))[:, None])
        se = np.sqrt(np.diag(nb.cov @ (U.T @ U) @ nb.cov * (G / (G - 1))))
    coefs = pd.DataFrame({"estimate": beta, "se": se, "zval": beta / se,
                          "pval": 2 * stats.norm.sf(np.abs(beta / se))}, index=X.columns).reindex(all_columns)
    b, s = coefs.at[arm, "estimate"], coefs.at[arm, "se"]
    z = _z(level)
    return RatioResult(float(np.exp(b)), float(s), float(np.exp(b - z * s)), float(np.exp(b + z * s)),
                       float(coefs.at[arm, "pval"]),
                       "negative binomial (NB2) regression"
                       + (f", offset log({exposure}{' - ' + not_at_risk if not_at_risk else ''})" if exposure else "")
                       + (f", cluster-robust SE by {cluster} (sandwich::vcovCL)" if cluster is not None else ""),
                       coefs, {"theta": nb.theta, "se_theta": nb.se_theta, "loglik": nb.loglik}, level)


def _gamma_glm(X, y):
    """Gamma GLM with log link (statsmodels); Pearson dispersion as R's ``summary.glm``."""
    import statsmodels.api as sm

    fam = sm.families.Gamma(link=sm.families.links.Log())
    res = sm.GLM(y, X, family=fam).fit(tol=1e-13, maxiter=100, scale="X2")
    return np.asarray(res.params), np.asarray(res.cov_params()), float(res.scale)


def days_ratio(data, outcome: str, arm: str = "arm", exposure: str | None = None,
               model: str = "nb", covariates=(), factors=(), level: float = 0.95, *,
               conf_level=None, arm_levels=None) -> RatioResult:
    """Ratio of mean days in hospital, arm 1 vs 0: negative binomial regression or a two-part model.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    outcome : str
        Column of days (e.g. ``"bed_days"``); non-negative integers.
    arm : str
        The randomised arm, 0/1 (default ``"arm"``; see ``arm_levels``).
    exposure : str, optional
        Column of follow-up time for the NB model's offset ``log(exposure)`` (default none);
        not used by the two-part model.
    model : {"nb", "two-part"}
        ``"nb"`` (default): :func:`count_ratio`'s negative binomial model. ``"two-part"``:
        logistic regression for any stay and a Gamma GLM with log link for the days of those
        with a stay; the ratio of overall means (P(any) x mean | any) has a delta-method CI
        from the two independent parts. Arm only (no covariates).
    covariates : list of str or str
        Adjustment terms (NB model only): columns or an R-style right-hand side.
    factors : sequence of str
        Columns to treat as factors.
    level : float
        Confidence level, 0.95 or 95 alike (default 0.95); ``conf_level`` is its deprecated alias.
    arm_levels : mapping or pair, optional
        The coding of a text (or e.g. 1/2) ``arm`` column, ``{"Control": 0, "Peer": 1}`` or a
        pair ``(control, intervention)``; without it ``arm`` must be 0/1.

    Returns
    -------
    RatioResult
        The ratio of means (``estimate``, ``ci_lb``, ``ci_ub``, ``pval``) and the fitted
        model's coefficients.

    Raises
    ------
    ValueError
        For an unknown ``model``, covariates with the two-part model, or too few positive
        values (in one arm only, or fewer than 3) for the Gamma part.

    Notes
    -----
    R equivalent: ``MASS::glm.nb`` (MASS 7.3-58.2) for ``model="nb"``; for the two-part model
    ``glm(any ~ arm, binomial)`` and ``glm(days ~ arm, Gamma(link = "log"), subset = days > 0)``
    (R 4.2.2, Pearson dispersion as ``summary.glm``) combined by the delta method (no single R
    function; ``twopartm::tpm`` fits the same two parts).

    References
    ----------
    .. [1] Duan, N., Manning, W. G., Morris, C. N., & Newhouse, J. P. (1983). A comparison of
       alternative models for the demand for medical care. Journal of Business & Economic
       Statistics, 1, 115-126.
    .. [2] Mihaylova, B., Briggs, A., O'Hagan, A., & Thompson, S. G. (2011). Review of
       statistical methods for analysing healthcare resources and costs. Health Economics,
       20, 897-916.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> res = pt.survival.days_ratio(trial, "bed_days", "arm", model="two-part")
    >>> round(res.estimate, 4), round(res.ci_lb, 4), round(res.ci_ub, 4)
    (0.8531, 0.5539, 1.314)
    >>> round(res.extra["odds_ratio_any"], 4), round(res.extra["mean_ratio_positive"], 4)
    (0.9535, 0.8755)
    """
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level, conf_level=conf_level)
    if model == "nb":
        res = count_ratio(data, outcome, arm, exposure, covariates, factors, level)
        return res
    if model != "two-part":
        raise ValueError(f"model must be 'nb' or 'two-part', got {model!r}")
    frame, y, X, _ = _prep_counts(data, outcome, arm, None, covariates, factors)
    if X.shape[1] > 2:
        raise ValueError("the two-part ratio of means is implemented for arm only (no covariates)")
    any_ = (y > 0).astype(float)
    Xn = X.to_numpy()
    pos = y > 0
    if len(np.unique(Xn[pos, 1])) < 2:
        raise ValueError(f"column {outcome!r}: positive values occur in one arm only (arm "
                         f"{Xn[pos, 1][0]:g}); the ratio of means is not estimable")
    if pos.sum() <= Xn.shape[1]:
        raise ValueError(f"column {outcome!r} has only {int(pos.sum())} positive values; the Gamma part "
                         "needs more than 2 (no residual degrees of freedom for its dispersion)")
    for g in (0, 1):
        if np.all(pos[Xn[:, 1] == g]):
            warnings.warn(f"column {outcome!r} is positive in every row of {arm} = {g}: P(any stay) = 1 "
                          "there (separation in the logistic part, whose variance contribution is 0)",
                          PeertrialWarning, stacklevel=2)
    b1, c1 = _logistic(Xn, any_, "two-part model, any-stay logistic part")
    b2, c2, phi = _gamma_glm(Xn[pos], y[pos])
    # log ratio of overall means: log p1 - log p0 + gamma_arm
    p0, p1 = special.expit(b1[0]), special.expit(b1[0] + b1[1])
    grad = np.array([(1 - p1) - (1 - p0), 1 - p1])  # d/d(b0, b1) of log p1 - log p0
    lr = np.log(p1) - np.log(p0) + b2[1]
    se = float(np.sqrt(grad @ c1 @ grad + c2[1, 1]))
    z = _z(level)
    coefs = pd.DataFrame({
        "estimate": np.concatenate([b1, b2]), "se": np.sqrt(np.concatenate([np.diag(c1), np.diag(c2)]))},
        index=[f"any: {c}" for c in X.columns] + [f"days|any: {c}" for c in X.columns])
    coefs["zval"] = coefs["estimate"] / coefs["se"]
    coefs["pval"] = 2 * stats.norm.sf(np.abs(coefs["zval"]))
    return RatioResult(float(np.exp(lr)), se, float(np.exp(lr - z * se)), float(np.exp(lr + z * se)),
                       float(2 * stats.norm.sf(abs(lr / se))),
                       "two-part model: logistic (any stay) x Gamma GLM, log link (days | stay)",
                       coefs, {"dispersion": float(phi), "odds_ratio_any": float(np.exp(b1[1])),
                               "mean_ratio_positive": float(np.exp(b2[1]))}, level)
