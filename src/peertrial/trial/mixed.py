"""Mixed models for trials: site random intercept, partially nested peer-worker clustering,
and the mixed model for repeated measures (MMRM).

Random-intercept models (``random_intercept``, ``partially_nested``) are fitted by REML with
the variance ratio ``gamma = tau^2 / sigma^2`` profiled out, exactly the criterion lme4
minimises for ``lmer(y ~ x + (1 | g))`` and ``lmer(y ~ arm + (0 + arm | peer_worker))``:

    -2 l_R(gamma) = log|I + gamma Z'Z| + log|X' V^{-1} X| + (n - p) (1 + log(2 pi r'V^{-1}r / (n - p)))

with ``V = I + gamma Z Z'``. Because ``Z`` is a cluster indicator, ``V^{-1}`` has the closed
form ``I - sum_j gamma / (1 + gamma n_j) 1_j 1_j'`` and each evaluation costs O(J p^2).
``gamma`` is found by bounded Brent search on ``theta = sqrt(gamma)`` (lme4's parameter),
including the boundary ``theta = 0``; ``singular`` is ``theta < 1e-4`` as lme4's ``isSingular``.

In the partially nested model only intervention participants belong to a peer-worker
cluster; controls contribute independent residuals with the same variance (Bauer et al.
2008, *Psychological Methods* 13:230; lme4 ``(0 + arm | peer_worker)``). The ICC is
``tau^2 / (tau^2 + sigma^2)`` within the intervention arm.

Tests of the fixed effects use ``t = estimate / se`` on Satterthwaite degrees of freedom by
default (``df_method="satterthwaite"``, as ``lmerTest``; with few clusters the normal reference
is anti-conservative), or the residual df ``n - p`` (``"residual"``) or the normal reference
(``"asymptotic"``, lme4's Wald z). See :mod:`peertrial.trial._df`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_table
from peertrial._warnings import ConvergenceWarning, PeertrialWarning
from peertrial.trial import _df, _mmrm_cov
from peertrial.trial._design import as_list, covariate_columns, design, model_frame
from peertrial.trial.effects import _arm_values

optimize = lazy_module("scipy.optimize")
stats = lazy_module("scipy.stats")

__all__ = ["MixedResult", "MMRMResult", "random_intercept", "partially_nested", "mmrm"]



@dataclass(frozen=True, eq=False)
class MixedResult(Result):
    """A linear mixed model with one random intercept per cluster, fitted by REML.

    Returned by :func:`random_intercept` and :func:`partially_nested`. Coefficient attributes
    are Series indexed by term (R's names). ``to_frame()`` has ``estimate, se, statistic, df``
    (absent for Wald z), ``pval, ci_lb, ci_ub``; ``estimate`` is the arm's coefficient;
    ``ftest(L)`` tests several contrasts at once.

    Attributes
    ----------
    coef, se : pandas.Series
        Fixed effects and their standard errors (Kenward-Roger: from the adjusted covariance).
    zval, pval : pandas.Series
        Wald statistics ``coef / se`` and their p-values (t on ``df``, or normal).
    ci_lb, ci_ub : pandas.Series
        Confidence limits at ``level`` (t on ``df``, or normal).
    tau2 : float
        Variance of the random intercepts (between clusters); 0 for a singular fit.
    sigma2 : float
        Residual variance.
    icc : float
        Intraclass correlation ``tau2 / (tau2 + sigma2)``.
    loglik : float
        REML log-likelihood (lme4's ``logLik(fit)``).
    n : int
        Observations analysed.
    n_groups : int
        Number of clusters of the random intercept.
    term : str
        The arm's term.
    singular : bool
        True when ``tau2`` is estimated at 0 (lme4's "boundary (singular) fit").
    method : str
        One-line description of the model.
    vcov : pandas.DataFrame
        Covariance of the fixed effects (Kenward-Roger: pbkrtest's adjusted ``vcovAdj``).
    level : float, default 0.95
        Confidence level of the limits (a proportion).
    df : pandas.Series or None
        Denominator degrees of freedom per coefficient; None for Wald z (``"asymptotic"``).
    df_method : str
        ``"satterthwaite"``, ``"kenward-roger"``, ``"residual"`` or ``"asymptotic"``.
    vcov_unadjusted : pandas.DataFrame or None
        The REML covariance ``(X' V^-1 X)^-1`` when ``vcov`` is Kenward-Roger's.

    Notes
    -----
    R equivalent: ``summary(lmerTest::lmer(...))`` coefficients (lme4 1.1-31, lmerTest 3.1-3;
    ``ddf = "Kenward-Roger"`` through pbkrtest 0.5.2), ``VarCorr(fit)`` for ``tau2`` and
    ``sigma2``, ``logLik(fit)``.

    References
    ----------
    .. [1] Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
       models using lme4. Journal of Statistical Software, 67(1), 1-48.
    .. [2] Kuznetsova, A., Brockhoff, P. B., & Christensen, R. H. B. (2017). lmerTest package: tests in
       linear mixed effects models. Journal of Statistical Software, 82(13), 1-26.
    .. [3] Kenward, M. G., & Roger, J. H. (1997). Small sample inference for fixed effects from
       restricted maximum likelihood. Biometrics, 53(3), 983-997.
    .. [4] Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
       components. Biometrics Bulletin, 2(6), 110-114.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.trial.random_intercept(trial, "hope_12", group="site", covariates=["hope_0"])
    >>> fit.n, fit.n_groups, fit.df_method
    (139, 7, 'satterthwaite')
    >>> fit.to_frame().columns.tolist()
    ['estimate', 'se', 'statistic', 'df', 'pval', 'ci_lb', 'ci_ub']
    >>> round(fit.sigma2, 2), fit.singular       # the sites add no variance here
    (39.75, True)
    """

    coef: pd.Series
    se: pd.Series
    zval: pd.Series
    pval: pd.Series
    ci_lb: pd.Series
    ci_ub: pd.Series
    tau2: float
    sigma2: float
    icc: float
    loglik: float
    n: int
    n_groups: int
    term: str
    singular: bool
    method: str
    vcov: pd.DataFrame = field(repr=False)
    level: float = 0.95
    df: pd.Series | None = None  # per-coefficient df of the t tests (None: Wald z)
    df_method: str = "asymptotic"
    vcov_unadjusted: pd.DataFrame | None = field(default=None, repr=False)  # REML (X'V^-1X)^-1 when vcov is KR's
    _inference: tuple | None = field(default=None, repr=False)  # what ftest needs (method, pieces)

    @property
    def estimate(self) -> float:
        """The treatment effect (coefficient of the arm)."""
        return float(self.coef[self.term])

    def ftest(self, L, rhs=None) -> pd.Series:
        """F test of ``L b = rhs`` on the fit's denominator df (Satterthwaite or Kenward-Roger).

        Parameters
        ----------
        L : array-like or dict
            The restriction matrix, one row per hypothesis and one column per coefficient (in the
            order of ``coef``), or a dict ``{term: weight}`` for a single row; a list of term
            names tests that those coefficients are all zero.
        rhs : array-like, optional
            The hypothesised values of ``L b`` (default 0).

        Returns
        -------
        pandas.Series
            ``statistic`` (F), ``ndf``, ``df`` (denominator df), ``pval``; for Kenward-Roger also
            ``scaling`` (KR's F scaling factor) and ``statistic_unscaled``.

        Notes
        -----
        R equivalent: ``lmerTest::contest(fit, L, ddf = "Satterthwaite")`` (lmerTest 3.1.3: the
        rotated contrasts' df pooled as ``2E / (E - q)``) for ``df_method="satterthwaite"``;
        ``pbkrtest::KRmodcomp(fit, L)`` (pbkrtest 0.5.2: the Wald statistic on the adjusted covariance
        ``Phi_A``, divided by the rank of ``L`` and scaled, on KR's df) for ``"kenward-roger"``.

        References
        ----------
        .. [1] Kenward, M. G., & Roger, J. H. (1997). Small sample inference for fixed effects from
           restricted maximum likelihood. Biometrics, 53(3), 983-997.
        .. [2] Halekoh, U., & Højsgaard, S. (2014). A Kenward-Roger approximation and parametric
           bootstrap methods for tests in linear mixed models - the R package pbkrtest. Journal of
           Statistical Software, 59(9), 1-30.
        .. [3] Kuznetsova, A., Brockhoff, P. B., & Christensen, R. H. B. (2017). lmerTest package: tests
           in linear mixed effects models. Journal of Statistical Software, 82(13), 1-26.

        Examples
        --------
        >>> trial = pt.simulate.trial(n=200, seed=1)
        >>> fit = pt.trial.random_intercept(trial, "hope_12", group="site", covariates=["hope_0"],
        ...                                 df_method="kenward-roger")
        >>> test = fit.ftest(["arm", "hope_0"])
        >>> print(f"F = {test['statistic']:.2f} on {test['ndf']:.0f} and {test['df']:.1f} df")
        F = 18.83 on 2 and 134.9 df
        """
        return _ftest_result(self, L, rhs)

    def to_frame(self) -> pd.DataFrame:
        if self.df is None:
            return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.zval, "pval": self.pval,
                                 "ci_lb": self.ci_lb, "ci_ub": self.ci_ub})
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.zval, "df": self.df,
                             "pval": self.pval, "ci_lb": self.ci_lb, "ci_ub": self.ci_ub})

    def summary(self) -> str:
        lines = [self.method, "",
                 f"Random effects: tau^2 = {format_number(self.tau2)}, sigma^2 = {format_number(self.sigma2)}, "
                 f"ICC = {format_number(self.icc)}  ({self.n_groups} clusters, n = {self.n})",
                 f"REML log-likelihood = {format_number(self.loglik)}"
                 + ("   (singular fit: tau^2 = 0)" if self.singular else ""), "",
                 ("Fixed effects (Wald z):" if self.df is None else
                  f"Fixed effects (t, {self.df_method} df):"), format_table(self.to_frame())]
        return "\n".join(lines)


def _restriction_matrix(L, names: list) -> np.ndarray:
    """A restriction matrix from an array (rows x coefficients), a dict {term: weight} or a list of terms."""
    p = len(names)
    if isinstance(L, dict):
        unknown = [k for k in L if k not in names]
        if unknown:
            raise ValueError(f"L names unknown term(s) {unknown}; the coefficients are {names}")
        return np.array([[float(L.get(t, 0.0)) for t in names]])
    if isinstance(L, (list, tuple)) and L and all(isinstance(t, str) for t in L):
        unknown = [k for k in L if k not in names]
        if unknown:
            raise ValueError(f"L names unknown term(s) {unknown}; the coefficients are {names}")
        return np.eye(p)[[names.index(t) for t in L]]
    Lm = np.atleast_2d(np.asarray(L, dtype=float))
    if Lm.ndim != 2 or Lm.shape[1] != p:
        raise ValueError(f"L must have one column per coefficient ({p}: {names}); got shape {Lm.shape}")
    if not np.all(np.isfinite(Lm)) or np.linalg.matrix_rank(Lm) == 0:
        raise ValueError("L must be finite with at least one non-zero row")
    return Lm


def _ftest_result(res, L, rhs) -> pd.Series:
    """``ftest`` of a mixed or MMRM result from its stored ``_inference`` pieces."""
    if res._inference is None:
        raise ValueError("ftest needs a fit with df_method='satterthwaite' or 'kenward-roger' (their F tests: "
                         f"lmerTest/mmrm contest and pbkrtest/mmrm KR); this fit used df_method={res.df_method!r}")
    names = list(res.coef.index)
    Lm = _restriction_matrix(L, names)
    beta = res.coef.to_numpy()
    if not np.all(np.isfinite(Lm @ np.nan_to_num(beta))) or np.any(Lm[:, ~np.isfinite(beta)] != 0):
        raise ValueError("L puts weight on a coefficient that is not estimable (NaN)")
    method, pieces = res._inference
    keep = np.isfinite(beta)
    Lk, bk = Lm[:, keep], beta[keep]
    if method == "kenward-roger":
        out = _df.f_test(Lk, bk, rhs, method, kr=pieces)
    else:
        V, df_rows = pieces
        out = _df.f_test(Lk, bk, rhs, method, V=V, df_rows=df_rows)
    out["pval"] = float(stats.f.sf(out["statistic"], out["ndf"], out["df"]))
    order = ["statistic", "ndf", "df", "pval", "scaling", "statistic_unscaled"]
    return pd.Series({k: out[k] for k in order if k in out})


def _cluster_sums(v: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of rows of ``v`` (n, ...) within each cluster; rows with code -1 are skipped."""
    keep = codes >= 0
    out = np.zeros((n_groups, *v.shape[1:]))
    np.add.at(out, codes[keep], v[keep])
    return out


class ProfiledREML:
    """REML criterion for ``y = X b + Z u + e`` with ``Z`` a cluster indicator (codes -1 = no cluster)."""

    def __init__(self, y: np.ndarray, X: np.ndarray, codes: np.ndarray):
        self.n, self.p = X.shape
        n_groups = int(codes.max()) + 1
        self.nj = np.bincount(codes[codes >= 0], minlength=n_groups).astype(float)
        self.XtX, self.Xty, self.yty = X.T @ X, X.T @ y, y @ y
        self.sX = _cluster_sums(X, codes, n_groups)  # (J, p)
        self.sy = _cluster_sums(y, codes, n_groups)  # (J,)
        self.n_groups = n_groups

    def parts(self, theta: float):
        g = theta * theta
        w = g / (1.0 + g * self.nj)
        A = self.XtX - np.einsum("j,jp,jq->pq", w, self.sX, self.sX)
        c = self.Xty - np.einsum("j,jp,j->p", w, self.sX, self.sy)
        beta = np.linalg.solve(A, c)
        # r'V^{-1}r = y'V^{-1}y - c'beta
        yVy = self.yty - np.sum(w * self.sy**2)
        rss = yVy - c @ beta
        return beta, A, rss, np.sum(np.log1p(g * self.nj))

    def deviance(self, theta: float) -> float:
        _, A, rss, logdet = self.parts(theta)
        df = self.n - self.p
        return logdet + np.linalg.slogdet(A)[1] + df * (1.0 + np.log(2 * np.pi * rss / df))

    def fit(self, theta_max: float = 50.0):
        res = optimize.minimize_scalar(self.deviance, bounds=(0.0, theta_max), method="bounded",
                                       options={"xatol": 1e-11, "maxiter": 2000})
        theta = float(res.x)
        if self.deviance(0.0) <= res.fun + 1e-9:  # boundary optimum (Brent never lands on 0)
            theta = 0.0
        if theta > 0.999 * theta_max:
            warnings.warn("random-effect variance ratio at the search bound; fit unreliable",
                          ConvergenceWarning, stacklevel=_data.user_stacklevel())
        beta, A, rss, _ = self.parts(theta)
        sigma2 = rss / (self.n - self.p)
        return theta, beta, sigma2 * np.linalg.inv(A), sigma2, -0.5 * self.deviance(theta)


def _check_random_intercept_size(n: int, p: int, n_groups: int, group: str) -> None:
    """lme4's checks: >= 2 clusters, fewer clusters than rows; REML also needs n > p."""
    if n <= p:
        raise ValueError(f"too few participants: {n} complete rows for {p} fixed-effect coefficients; "
                         "REML needs more rows than coefficients")
    if n_groups < 2:
        raise ValueError(f"column {group!r} has {n_groups} cluster(s) among the analysed rows; a random "
                         "intercept needs at least 2 (as lme4)")
    if n_groups >= n:
        raise ValueError(f"column {group!r} has {n_groups} clusters for {n} rows; the number of clusters "
                         "must be smaller than the number of rows (as lme4), or the cluster and residual "
                         "variances are not separable")


def _t_or_z(coef: pd.Series, se: pd.Series, df, level: float = 0.95):
    """Statistic, p-value and CI limits on ``df`` (None: normal reference)."""
    stat = coef / se
    if df is None:
        q = stats.norm.ppf(0.5 + level / 2)
        return stat, pd.Series(2 * stats.norm.sf(np.abs(stat)), index=coef.index), coef - q * se, coef + q * se
    q = stats.t.ppf(0.5 + level / 2, df)
    return stat, pd.Series(2 * stats.t.sf(np.abs(stat), df), index=coef.index), coef - q * se, coef + q * se


def _random_intercept_fit(y, X, names, codes, term, method, n_groups_label, level=0.95,
                          df_method: str = "satterthwaite") -> MixedResult:
    df_method = _df.check_df_method(df_method)
    if df_method == "kenward-roger-linear":
        raise ValueError("df_method='kenward-roger-linear' is the mmrm package's variant (for mmrm); the "
                         "random-intercept covariance is linear in its variances, so use 'kenward-roger' (pbkrtest)")
    core = ProfiledREML(y, X, codes)
    theta, beta, V, sigma2, loglik = core.fit()
    tau2 = theta**2 * sigma2
    coef = pd.Series(beta, index=names)
    se = pd.Series(np.sqrt(np.diag(V)), index=names)
    singular = theta < 1e-4
    inference, V0 = None, None
    if df_method == "asymptotic":
        df = None
    elif df_method == "residual":
        df = pd.Series(float(len(y) - X.shape[1]), index=names)
    elif df_method == "kenward-roger":
        Phi, PhiA, P, Wkr = _df.random_intercept_kr_fast(X, codes, tau2, sigma2, y)
        inference, V0, V = ("kenward-roger", (Phi, PhiA, P, Wkr)), pd.DataFrame(V, index=names, columns=names), PhiA
        se = pd.Series(np.sqrt(np.diag(V)), index=names)
        df = pd.Series(_df.kr_coef_ddf(Phi, P, Wkr), index=names)
    else:
        df = pd.Series(_df.random_intercept_satterthwaite_fast(X, y, codes, tau2, sigma2), index=names)
        inference = ("satterthwaite", (V, lambda rows: _df.random_intercept_satterthwaite_fast(X, y, codes, tau2, sigma2,
                                                                                          rows)))
    z, pval, lb, ub = _t_or_z(coef, se, None if df is None else df.to_numpy(), level)
    if df is not None:
        method = f"{method}; t tests on {df_method} df" + {
            "satterthwaite": " (lmerTest)",
            "kenward-roger": " with KR-adjusted SEs (pbkrtest; lmerTest ddf='Kenward-Roger')"}.get(df_method, "")
    return MixedResult(coef=coef, se=se, zval=z, pval=pval,
                       ci_lb=lb, ci_ub=ub, tau2=float(tau2),
                       sigma2=float(sigma2), icc=float(tau2 / (tau2 + sigma2)), loglik=float(loglik),
                       n=len(y), n_groups=n_groups_label, term=term, singular=singular,
                       method=method, vcov=pd.DataFrame(V, index=names, columns=names), level=level, df=df,
                       df_method=df_method, vcov_unadjusted=V0, _inference=inference)


@_data.renamed_argument("df", "data")
def random_intercept(data, outcome: str, arm: str = "arm", group: str | None = None, covariates=None, *,
                     factors=None, na_action: str = "omit", level: float = 0.95, arm_levels=None,
                     df_method: str = "satterthwaite") -> MixedResult:
    """Treatment effect with a random intercept for ``group`` (e.g. site), REML.

    Equals ``lme4::lmer(outcome ~ arm + covariates + (1 | group), REML = TRUE)``; the site
    fixed-effect alternative is ``estimate_effects(..., covariates=[..., "site"], factors=["site"])``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified).
    outcome : str
        Column of the numeric outcome.
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``).
    group : str
        Column of the random intercept's clusters, e.g. ``group="site"``. Required (no default).
    covariates : list of str or str, optional
        Adjustment columns, a list or an R-style right-hand side, typed as in
        :func:`estimate_effects`.
    factors : list of str, optional
        Covariate columns to enter as treatment-coded factors whatever their type.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"`` drops rows with missing values with a warning naming them; ``"fail"`` raises.
    level : float, default 0.95
        Confidence level of the limits, 0.95 or 95 alike.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    df_method : {"satterthwaite", "kenward-roger", "residual", "asymptotic"}, default "satterthwaite"
        ``"satterthwaite"``: t tests as ``lmerTest::summary``; ``"kenward-roger"`` (Kenward &
        Roger 1997 as ``pbkrtest``): the SEs come from the adjusted covariance ``Phi_A``
        (``pbkrtest::vcovAdj``, kept in ``vcov``; the REML one is in ``vcov_unadjusted``) and
        each coefficient gets KR's df, as ``lmerTest::summary(fit, ddf = "Kenward-Roger")``;
        ``ftest(L)`` gives ``pbkrtest::KRmodcomp``; ``"residual"``: ``n - p``;
        ``"asymptotic"``: Wald z, lme4's ``t value`` on a normal reference. The result's ``df``
        holds the degrees of freedom of each coefficient.

    Returns
    -------
    MixedResult
        The treatment ``estimate`` and, by term, ``coef``, ``se``, ``ci_lb``, ``ci_ub``, ``pval``;
        variance components ``tau2`` (between groups) and ``sigma2``, ``icc``, ``n_groups``, ``n``.

    Notes
    -----
    R equivalent: ``lme4::lmer(outcome ~ arm + covariates + (1 | group), REML = TRUE)``
    (lme4 1.1-31) with ``lmerTest`` 3.1-3 (Satterthwaite) or ``pbkrtest`` 0.5.2 (Kenward-Roger).

    References
    ----------
    .. [1] Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
       models using lme4. Journal of Statistical Software, 67(1), 1-48.
    .. [2] Kuznetsova, A., Brockhoff, P. B., & Christensen, R. H. B. (2017). lmerTest package: tests in
       linear mixed effects models. Journal of Statistical Software, 82(13), 1-26.
    .. [3] Kenward, M. G., & Roger, J. H. (1997). Small sample inference for fixed effects from
       restricted maximum likelihood. Biometrics, 53(3), 983-997.
    .. [4] Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
       components. Biometrics Bulletin, 2(6), 110-114.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.trial.random_intercept(trial, "hope_12", group="site", covariates=["hope_0"])
    >>> round(fit.estimate, 3)
    -0.896
    """
    if group is None:
        raise ValueError("random_intercept needs group= (the column whose levels get a random intercept, "
                         "e.g. group='site'); it has no default")
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level)
    covariates, factors = _builder.spec(covariates), as_list(factors)
    frame = model_frame(data, [outcome, arm, group, *covariate_columns(covariates, factors)], na_action=na_action)
    y = _data.numeric(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    X, names = design(frame, [(arm, a)], covariates, factors)
    codes, uniq = pd.factorize(frame[group], sort=True)
    _check_random_intercept_size(len(y), X.shape[1], len(uniq), group)
    method = (f"Linear mixed model (REML): {outcome} ~ {' + '.join(names[1:])} + (1 | {group}); "
              "as lme4::lmer")
    return _random_intercept_fit(y, X, names, codes, arm, method, len(uniq), level, df_method)


@_data.renamed_argument("df", "data")
def partially_nested(data, outcome: str, arm: str = "arm", cluster: str | None = None, covariates=None, *,
                     factors=None, unassigned: str = "error", na_action: str = "omit",
                     level: float = 0.95, arm_levels=None, df_method: str = "satterthwaite") -> MixedResult:
    """Partially nested model: random ``cluster`` (peer-worker) intercept in the intervention arm only.

    Equals ``lme4::lmer(outcome ~ arm + covariates + (0 + arm | cluster), REML = TRUE)`` with
    control participants in a cluster of their own (their random-effect column is 0).
    ``cluster`` (required) names the intervention-arm cluster column, e.g. the peer worker.
    ``icc`` is ``tau^2 / (tau^2 + sigma^2)``. Intervention participants without a recorded
    peer worker raise ``ValueError`` naming them unless ``unassigned="own_cluster"`` (each is a
    cluster of one: unclustered, but with the intervention arm's variance) or ``"drop"`` (both
    warn). A peer worker recorded for a control participant is ignored with a warning.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified; its index labels must be unique).
    outcome : str
        Column of the numeric outcome.
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``).
    cluster : str
        Column of the intervention-arm clusters, e.g. the peer worker. Required (no default);
        ignored (with a warning) in the control arm.
    covariates : list of str or str, optional
        Adjustment columns, a list or an R-style right-hand side, typed as in
        :func:`estimate_effects`.
    factors : list of str, optional
        Covariate columns to enter as treatment-coded factors whatever their type.
    unassigned : {"error", "own_cluster", "drop"}, default "error"
        What to do with intervention participants without a ``cluster`` value: raise, make
        each a cluster of one, or drop them (both with a warning).
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"`` drops rows with a missing outcome, arm or covariate with a warning naming
        them; ``"fail"`` raises.
    level : float, default 0.95
        Confidence level of the limits, 0.95 or 95 alike.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    df_method : {"satterthwaite", "kenward-roger", "residual", "asymptotic"}, default "satterthwaite"
        As in :func:`random_intercept`: ``lmerTest``'s Satterthwaite df, ``pbkrtest``'s
        Kenward-Roger (adjusted SEs, KR df and ``ftest``), ``n - p``, or Wald z.

    Returns
    -------
    MixedResult
        The treatment ``estimate`` and, by term, ``coef``, ``se``, ``ci_lb``, ``ci_ub``, ``pval``;
        ``tau2`` (between peer workers, intervention arm), ``sigma2``, ``icc``, ``n_groups``
        (clusters of the intervention arm), ``n``.

    Notes
    -----
    R equivalent: ``lme4::lmer(outcome ~ arm + covariates + (0 + arm | cluster), REML = TRUE)``
    with the controls' cluster set to one level of their own (lme4 1.1-31; df from lmerTest
    3.1-3 or pbkrtest 0.5.2).

    References
    ----------
    .. [1] Roberts, C., & Roberts, S. A. (2005). Design and analysis of clinical trials with
       clustering effects due to treatment. Clinical Trials, 2(2), 152-162.
    .. [2] Bauer, D. J., Sterba, S. K., & Hallfors, D. D. (2008). Evaluating group-based
       interventions when control participants are ungrouped. Multivariate Behavioral Research,
       43(2), 210-236.
    .. [3] Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
       models using lme4. Journal of Statistical Software, 67(1), 1-48.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.trial.partially_nested(trial, "hope_12", cluster="peer_worker", covariates=["hope_0"],
    ...                                 unassigned="own_cluster")
    >>> round(fit.estimate, 3), fit.n, fit.n_groups
    (-0.862, 139, 44)
    >>> round(fit.tau2, 2), round(fit.icc, 3)
    (6.7, 0.156)
    """
    if cluster is None:
        raise ValueError("partially_nested needs cluster= (the column of the intervention-arm clusters, e.g. "
                         "cluster='peer_worker'); it has no default")
    data = _data.code_arm(data, arm, arm_levels)
    _data.unique_index(data)
    level = _data.confidence_level(level)
    covariates, factors = _builder.spec(covariates), as_list(factors)
    frame = model_frame(data, [outcome, arm, *covariate_columns(covariates, factors)], na_action=na_action)
    _data.require_columns(_data.as_frame(data), [cluster])
    y = _data.numeric(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    worker = _data.as_frame(data).loc[frame.index, cluster].astype(object)
    no_worker = (a == 1) & worker.isna().to_numpy()
    if no_worker.any():
        where = _data.row_labels(frame.index, no_worker)
        if unassigned == "error":
            raise ValueError(f"column {cluster!r} is missing for intervention participants at rows {where}; "
                             "pass unassigned='own_cluster' (each forms a cluster of one) or 'drop'")
        if unassigned == "drop":
            warnings.warn(f"{int(no_worker.sum())} intervention participant(s) without {cluster!r} dropped: "
                          f"rows {where}", PeertrialWarning, stacklevel=_data.user_stacklevel())
            keep = ~no_worker
            frame, y, a, worker = frame.loc[keep], y[keep], a[keep], worker[keep]
        elif unassigned == "own_cluster":
            warnings.warn(f"{int(no_worker.sum())} intervention participant(s) without {cluster!r} each form "
                          f"a cluster of one: rows {where}", PeertrialWarning, stacklevel=_data.user_stacklevel())
            worker = worker.copy()
            worker[no_worker] = [f"__own_{i}" for i in frame.index[no_worker]]
        else:
            raise ValueError(f"unassigned must be 'error', 'own_cluster' or 'drop', got {unassigned!r}")
    ctl_worker = (a == 0) & worker.notna().to_numpy()
    if ctl_worker.any():
        warnings.warn(f"{cluster!r} recorded for {int(ctl_worker.sum())} control participant(s); "
                      "ignored (controls are not clustered)", UserWarning, stacklevel=_data.user_stacklevel())
    codes = np.full(len(y), -1)
    codes[a == 1], uniq = pd.factorize(worker[a == 1], sort=True)
    X, names = design(frame, [(arm, a)], covariates, factors)
    _check_random_intercept_size(len(y), X.shape[1], len(uniq), cluster)
    method = (f"Partially nested mixed model (REML): {outcome} ~ {' + '.join(names[1:])} + "
              f"(0 + {arm} | {cluster}); random {cluster} effect in the intervention arm only; as lme4::lmer")
    return _random_intercept_fit(y, X, names, codes, arm, method, len(uniq), level, df_method)


# ---- MMRM ------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class MMRMResult(Result):
    """Mixed model for repeated measures fitted by REML, with the treatment effect at each visit.

    Returned by :func:`mmrm`: fitted as ``nlme::gls``, with the visits' covariance ``sigma`` of
    the structure named in ``covariance`` (the R package mmrm's names). ``to_frame()`` is a copy
    of ``effects``; ``ftest(L)`` tests several contrasts at once.

    Attributes
    ----------
    coef, se : pandas.Series
        Fixed effects (``(Intercept)``, ``visit<v>``, ``arm``, covariates, ``visit<v>:arm``)
        and their standard errors (Kenward-Roger: from the adjusted covariance).
    vcov : pandas.DataFrame
        Covariance of the fixed effects (Kenward-Roger: the adjusted ``Phi_A``).
    effects : pandas.DataFrame
        The arm difference at each visit (index ``visit``): ``estimate, se, statistic, df,
        pval, ci_lb, ci_ub`` on ``df_method`` degrees of freedom, with ``n_control`` and
        ``n_intervention`` observed at that visit.
    sigma : pandas.DataFrame
        Estimated covariance matrix of the visits (visits by visits).
    loglik : float
        REML log-likelihood (nlme's constant).
    nobs : int
        Observed outcome values analysed.
    n_subjects : int
        Participants analysed.
    df_resid : int
        ``nobs - p``, the df of ``summary()``'s coefficient t tests (as ``summary(gls)``).
    method : str
        One-line description of the model.
    covariance : str
        The covariance structure: ``"us"``, ``"cs"``, ``"csh"``, ``"ar1"``, ``"ar1h"``,
        ``"toep"`` or ``"toeph"``.
    theta : pandas.Series or None
        SDs and correlation parameters of a structured covariance (None for ``"us"``).
    vcov_unadjusted : pandas.DataFrame or None
        The REML covariance when ``vcov`` is Kenward-Roger's.
    df_method : str
        ``"satterthwaite"``, ``"kenward-roger"``, ``"kenward-roger-linear"``, ``"residual"``
        or ``"asymptotic"``.

    Notes
    -----
    R equivalent: ``nlme::gls(..., method = "REML")`` (nlme 3.1-162) with ``corSymm`` +
    ``varIdent`` for ``"us"``; the effect at each visit is the contrast ``b_arm + b_{visit x arm}``
    of its coefficients (``L %*% coef(fit)``, SE from ``L %*% vcov(fit) %*% t(L)``). The df follow
    the definitions of the R package mmrm, which is not installed on the fixture machine (checked
    against R code written from the definitions; emmeans' df for gls differ).

    References
    ----------
    .. [1] Mallinckrodt, C. H., Lane, P. W., Schnell, D., Peng, Y., & Mancuso, J. P. (2008).
       Recommendations for the primary analysis of continuous endpoints in longitudinal clinical
       trials. Drug Information Journal, 42(4), 303-319.
    .. [2] Kenward, M. G., & Roger, J. H. (1997). Small sample inference for fixed effects from
       restricted maximum likelihood. Biometrics, 53(3), 983-997.
    .. [3] Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
       components. Biometrics Bulletin, 2(6), 110-114.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.trial.mmrm(trial, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"])
    >>> fit.coef.index.tolist()
    ['(Intercept)', 'visit12', 'arm', 'hope_0', 'visit12:arm']
    >>> fit.nobs, fit.n_subjects, fit.covariance
    (292, 167, 'us')
    >>> fit.effects["estimate"].round(3).tolist()
    [0.178, -0.793]
    """

    coef: pd.Series
    se: pd.Series
    vcov: pd.DataFrame = field(repr=False)
    effects: pd.DataFrame = field(repr=False)  # treatment effect at each visit
    sigma: pd.DataFrame = field(repr=False)  # estimated covariance of the visits
    loglik: float = float("nan")
    nobs: int = 0
    n_subjects: int = 0
    df_resid: int = 0
    method: str = ""
    covariance: str = "us"
    theta: pd.Series | None = field(default=None, repr=False)  # SDs and correlation parameters (not "us")
    vcov_unadjusted: pd.DataFrame | None = field(default=None, repr=False)  # REML vcov when vcov is KR's
    df_method: str = "satterthwaite"
    _inference: tuple | None = field(default=None, repr=False)  # what ftest needs (method, pieces)

    def ftest(self, L, rhs=None) -> pd.Series:
        """F test of ``L b = rhs`` on the fit's denominator df (Satterthwaite or Kenward-Roger), e.g.
        ``fit.ftest([f"visit{v}:arm" for v in later_visits])`` for the visit-by-arm interaction.

        Parameters
        ----------
        L : array-like or dict
            The restriction matrix (one column per coefficient, in the order of ``coef``), a dict
            ``{term: weight}`` for one row, or a list of terms tested to be all zero.
        rhs : array-like, optional
            The hypothesised values of ``L b`` (default 0).

        Returns
        -------
        pandas.Series
            ``statistic`` (F), ``ndf``, ``df``, ``pval``; for Kenward-Roger also ``scaling`` and
            ``statistic_unscaled``.

        Notes
        -----
        R equivalent: ``mmrm::df_md(fit, L)`` (the mmrm package's multi-dimensional contrasts:
        Satterthwaite pooled over the rotated contrasts as lmerTest's ``contestMD``; Kenward-Roger as
        its ``h_df_md_kr``, with the F scaling ``lambda``).

        References
        ----------
        .. [1] Kenward, M. G., & Roger, J. H. (1997). Small sample inference for fixed effects from
           restricted maximum likelihood. Biometrics, 53(3), 983-997.
        .. [2] Christensen, R. H. B. (2018). Satterthwaite's method for degrees of freedom in linear
           mixed models. https://github.com/runehaubo/lmerTestR/blob/master/pkg_notes/Satterthwaite_for_LMMs.pdf

        Examples
        --------
        >>> trial = pt.simulate.trial(n=200, seed=1)
        >>> fit = pt.trial.mmrm(trial, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"], covariance="cs")
        >>> test = fit.ftest(["arm", "visit12:arm"])
        >>> int(test["ndf"])
        2
        """
        return _ftest_result(self, L, rhs)

    def to_frame(self) -> pd.DataFrame:
        return self.effects.copy()

    def summary(self) -> str:
        t = self.coef / self.se
        table = pd.DataFrame({"estimate": self.coef, "se": self.se, "tval": t,
                              "pval": 2 * stats.t.sf(np.abs(t), self.df_resid)})
        extra = [] if self.theta is None else ["", "Covariance parameters:", format_table(self.theta.to_frame("estimate"))]
        return "\n".join([
            self.method, f"{self.nobs} observations of {self.n_subjects} participants; "
            f"REML log-likelihood = {format_number(self.loglik)}", "",
            "Coefficients (t on the residual df, as gls" + ("; Kenward-Roger-adjusted SEs" if
                                                            self.vcov_unadjusted is not None else "") + "):",
            format_table(table), "",
            f"Treatment effect at each visit ({self.df_method} df):", format_table(self.effects), "",
            f"{_mmrm_cov.LABELS[self.covariance].capitalize()} covariance of the visits:",
            format_table(self.sigma), *extra])


class _UnstructuredREML:
    """Missing-data patterns of ``y_i ~ N(X_i b, Sigma[S_i, S_i])`` (subject-specific observed visits
    ``S_i``) and the GLS fit at a given ``Sigma``; REML is fitted by :mod:`._mmrm_cov`.

    With ``cov_group`` (0..G-1 per participant) each group has its own covariance
    (``_mmrm_cov.Grouped``): a participant of group ``g`` enters through rows ``g T + S_i`` of the
    block-diagonal ``G T x G T`` covariance."""

    def __init__(self, Y: np.ndarray, Xs: np.ndarray, cov_group: np.ndarray | None = None):
        # Y (n, T) with NaN for missing visits; Xs (n, T, p) design rows per visit
        self.T, self.p = Xs.shape[1], Xs.shape[2]
        obs = ~np.isnan(Y)
        cg = np.zeros(len(Y), dtype=int) if cov_group is None else np.asarray(cov_group, dtype=int)
        patterns = {}
        for i, row in enumerate(obs):
            if row.any():
                patterns.setdefault((int(cg[i]), tuple(row)), []).append(i)
        self.groups = []
        for (g, pat), rows in patterns.items():
            S = np.flatnonzero(pat)
            self.groups.append((g * self.T + S, Y[np.ix_(rows, S)], Xs[rows][:, S, :]))
        self.nobs = int(obs.sum())
        self.n_subjects = sum(len(g[1]) for g in self.groups)

    def gls(self, Sigma: np.ndarray):
        A = np.zeros((self.p, self.p))
        c = np.zeros(self.p)
        logdet = 0.0
        invs = []
        for S, Yg, Xg in self.groups:
            Si = np.linalg.inv(Sigma[np.ix_(S, S)])
            invs.append(Si)
            logdet += len(Yg) * np.linalg.slogdet(Sigma[np.ix_(S, S)])[1]
            A += np.einsum("isp,st,itq->pq", Xg, Si, Xg)
            c += np.einsum("isp,st,it->p", Xg, Si, Yg)
        beta = np.linalg.solve(A, c)
        quad = 0.0
        for (_, Yg, Xg), Si in zip(self.groups, invs):
            r = Yg - np.einsum("isp,p->is", Xg, beta)
            quad += np.einsum("is,st,it->", r, Si, r)
        return beta, A, logdet, quad


@_data.renamed_argument("df", "data")
def mmrm(data, visits: dict | None = None, arm: str = "arm", covariates=None, *, outcome: str | None = None,
         id: str | None = None, visit: str | None = None, covariance: str = "us", factors=None,
         level: float = 0.95, conf_level=None, arm_levels=None, df_method: str = "satterthwaite") -> MMRMResult:
    """Mixed model for repeated measures (MMRM), REML, from wide or long data.

    Model: ``y_it = visit_t + arm + covariates + visit_t x arm`` with a covariance between the
    visits of one participant, fitted by REML on every observed value (missing visits are
    missing at random given the model); participants are independent.

    Parameters
    ----------
    data : pandas.DataFrame
        Wide (one row per participant, with ``visits``) or long (one row per participant-visit,
        with ``outcome``, ``id`` and ``visit``) data.
    visits : dict, optional
        Wide input: visit labels -> outcome columns in time order, e.g.
        ``{"4": "hope_4", "12": "hope_12"}``; the baseline score goes in ``covariates``.
    arm : str, default "arm"
        The 0/1 arm column (constant within a participant in long data).
    covariates : list of str or str, optional
        Covariate columns or an R-style right-hand side; in long data they may vary by visit.
    outcome, id, visit : str, optional
        Long input: the outcome, participant and visit columns. Visits are ordered as sorted values
        (the category order for an ordered categorical); a missing outcome is a missing visit.
    covariance : str, default "us"
        ``"us"`` (unstructured, default), ``"cs"`` (compound symmetry), ``"csh"`` (heterogeneous
        compound symmetry), ``"ar1"``, ``"ar1h"`` (AR(1), homogeneous or heterogeneous variances;
        equally spaced visits in visit order), ``"toep"``, ``"toeph"`` (Toeplitz), the R package
        mmrm's names. See :mod:`peertrial.trial._mmrm_cov`.
    factors : list of str, optional
        Covariates to treat as factors.
    level : float, default 0.95
        Confidence level of the visit effects' intervals, 0.95 or 95 alike.
    conf_level : float, optional
        Deprecated spelling of ``level``.
    arm_levels : mapping or pair, optional
        How ``arm`` codes the arms when it is not 0/1 (``{"Control": 0, "Peer": 1}`` or
        ``(control, intervention)``).
    df_method : str, default "satterthwaite"
        ``"satterthwaite"`` (default; as the R package mmrm defines it, from the observed REML
        Hessian of the covariance parameters, see :mod:`peertrial.trial._df`),
        ``"kenward-roger"`` / ``"kenward-roger-linear"`` (as mmrm's ``method = "Kenward-Roger"`` /
        ``"Kenward-Roger-Linear"``: the SEs come from the adjusted covariance ``Phi_A``, kept in
        ``vcov`` with the REML one in ``vcov_unadjusted``, with mmrm's inverse observed Hessian of
        its variance parameters; the linear variant leaves out the second derivatives of the
        covariance), ``"residual"`` (``N_obs - p``, as ``summary(gls)``) or ``"asymptotic"``
        (normal reference).

    Returns
    -------
    MMRMResult
        ``effects``: the arm difference at each visit, ``b_arm + b_{visit x arm}``, with SE from
        ``L V L'``, its t test and CI on ``df_method`` degrees of freedom (``df``); ``coef``,
        ``se``, ``vcov``; ``sigma`` (the visits' covariance), ``theta`` (SDs and correlations of a
        structured covariance), ``loglik`` (REML, nlme's constant).

    Notes
    -----
    R equivalent: ``nlme::gls(y ~ visit * arm + covariates, correlation = corSymm(form = ~ v | id),
    weights = varIdent(form = ~ 1 | visit), method = "REML")`` for ``"us"``; ``corCompSymm``,
    ``corAR1``, ``corARMA(p = T - 1, q = 0)`` without/with ``varIdent`` for the others (nlme
    3.1-162); ``mmrm::mmrm(y ~ visit * arm + us(visit | id))`` and its ``cs``, ``csh``, ``ar1``,
    ``ar1h``, ``toep``, ``toeph`` (the mmrm package is not installed on the fixture machine: its
    df definitions were checked against R code written from them). Participants with no observed visit, or a missing covariate, are dropped
    with a warning naming them.

    References
    ----------
    .. [1] Mallinckrodt, C. H., Lane, P. W., Schnell, D., Peng, Y., & Mancuso, J. P. (2008).
       Recommendations for the primary analysis of continuous endpoints in longitudinal clinical
       trials. Drug Information Journal, 42(4), 303-319.
    .. [2] Christensen, R. H. B. (2018). Satterthwaite's method for degrees of freedom in linear
       mixed models. https://github.com/runehaubo/lmerTestR/blob/master/pkg_notes/Satterthwaite_for_LMMs.pdf
    .. [3] Potthoff, R. F., & Roy, S. N. (1964). A generalized multivariate analysis of variance
       model useful especially for growth curve problems. Biometrika, 51(3-4), 313-326.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.trial.mmrm(trial, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"], covariance="cs")
    >>> fit.effects.index.tolist()
    ['4', '12']
    >>> long = pd.DataFrame({"pid": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6],
    ...                      "week": [4, 12] * 5 + [4],
    ...                      "score": [10, 12, 9, 8, 14, 16, 11, 15, 9, 13, 12],
    ...                      "arm": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]})
    >>> long_fit = pt.trial.mmrm(long, outcome="score", id="pid", visit="week", covariance="ar1")
    >>> long_fit.n_subjects, long_fit.nobs
    (6, 11)
    """
    df_method = _df.check_df_method(df_method)
    covariance = _mmrm_cov.check_covariance(covariance)
    data = _data.code_arm(data, arm, arm_levels)
    _data.unique_index(data)
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    covariates, factors = _builder.spec(covariates), as_list(factors)
    long_args = {"outcome": outcome, "id": id, "visit": visit}
    if visits is not None:
        given = [k for k, v in long_args.items() if v is not None]
        if given:
            raise ValueError(f"give either visits= (wide data) or outcome=, id=, visit= (long data), not both "
                             f"(got visits= and {', '.join(k + '=' for k in given)})")
        labels, cols, Y, a, C, cnames = _mmrm_wide(data, visits, arm, covariates, factors)
    else:
        lacking = [k for k, v in long_args.items() if v is None]
        if lacking:
            raise ValueError("mmrm needs visits= (a dict of visit label -> outcome column, wide data) or "
                             f"outcome=, id= and visit= (long data, one row per visit); missing: "
                             f"{', '.join(k + '=' for k in lacking)}")
        labels, cols, Y, a, C, cnames = _mmrm_long(data, outcome, id, visit, arm, covariates, factors)
    T, n, kc = len(labels), len(Y), C.shape[2]
    names = ["(Intercept)"] + [f"visit{lab}" for lab in labels[1:]] + [arm] + cnames + \
        [f"visit{lab}:{arm}" for lab in labels[1:]]
    p = len(names)
    Xs = np.zeros((n, T, p))
    Xs[:, :, 0] = 1.0
    for t in range(1, T):
        Xs[:, t, t] = 1.0
        Xs[:, t, T + kc + t] = a
    Xs[:, :, T] = a[:, None]
    Xs[:, :, T + 1:T + 1 + kc] = C
    _check_mmrm_size(Y, a, labels, cols, kc + 2, covariance, p)
    core = _UnstructuredREML(Y, Xs)
    structure = _mmrm_cov.Unstructured(T) if covariance == "us" else _mmrm_cov.Structure(covariance, T)
    try:
        th, pieces = _mmrm_cov.fit_structured(core.groups, structure, _start_covariance(Y, Xs))
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"the {_mmrm_cov.LABELS[covariance]} {T} x {T} covariance is not estimable from {n} "
                         f"participants ({core.nobs} observed values): too few participants observed at each "
                         f"visit or pair of visits ({exc})") from exc
    beta, V, loglik = pieces["beta"], pieces["V"], -0.5 * pieces["dev"]
    Sigma = structure.sigma(th, derivatives=False)
    theta = None if covariance == "us" else pd.Series(th, index=structure.names(), name="theta")
    df_resid = core.nobs - p
    Lmat = np.zeros((T, p))
    Lmat[:, T] = 1.0
    for t in range(1, T):
        Lmat[t, T + kc + t] = 1.0
    V0 = None
    if df_method.startswith("kenward-roger"):
        Phi, PhiA, Pk, Wkr = _mmrm_cov.kenward_roger(core.groups, structure, th,
                                                     linear=df_method == "kenward-roger-linear")
        V0, V = pd.DataFrame(V, index=names, columns=names), PhiA
    coef = pd.Series(beta, index=names)
    se = pd.Series(np.sqrt(np.diag(V)), index=names)
    est = Lmat @ beta
    ese = np.sqrt(np.einsum("tp,pq,tq->t", Lmat, V, Lmat))
    inference = None
    if df_method == "satterthwaite":
        dfs = _mmrm_cov.satterthwaite(pieces, Lmat)
        inference = ("satterthwaite", (V, lambda rows: _mmrm_cov.satterthwaite(pieces, rows)))
    elif V0 is not None:
        dfs = np.array([_df.kr_ddf(Lmat[[t]], Phi, Pk, Wkr)[0] for t in range(T)])
        inference = ("kenward-roger", (Phi, PhiA, Pk, Wkr))
    else:
        dfs = np.full(T, np.inf if df_method == "asymptotic" else float(df_resid))
    q = stats.t.ppf(0.5 + conf_level / 2, dfs)
    tval = est / ese
    effects = pd.DataFrame({"estimate": est, "se": ese, "statistic": tval, "df": dfs,
                            "pval": 2 * stats.t.sf(np.abs(tval), dfs),
                            "ci_lb": est - q * ese, "ci_ub": est + q * ese,
                            "n_control": [int(np.sum(~np.isnan(Y[:, t]) & (a == 0))) for t in range(T)],
                            "n_intervention": [int(np.sum(~np.isnan(Y[:, t]) & (a == 1))) for t in range(T)]},
                           index=pd.Index(labels, name="visit"))
    method = (f"MMRM (REML, {_mmrm_cov.LABELS[covariance]} covariance): outcome ~ visit * {arm}"
              + (f" + {_builder.describe(covariates)}" if covariate_columns(covariates, factors) else "")
              + f"; as nlme::gls with {_mmrm_cov.NLME[covariance]}; visit effects on {df_method} df")
    return MMRMResult(coef=coef, se=se, vcov=pd.DataFrame(V, index=names, columns=names), effects=effects,
                      sigma=pd.DataFrame(Sigma, index=labels, columns=labels), loglik=float(loglik),
                      nobs=core.nobs, n_subjects=core.n_subjects, df_resid=df_resid, method=method,
                      covariance=covariance, theta=theta, vcov_unadjusted=V0, df_method=df_method,
                      _inference=inference)


def _mmrm_wide(data, visits, arm, covariates, factors):
    """Wide layout: labels, outcome columns, Y (n, T), arm (n,), covariates (n, T, k), names."""
    if not isinstance(visits, dict) or len(visits) < 2:
        raise ValueError("visits must be a dict of at least two visit labels -> outcome columns")
    labels, cols = [str(k) for k in visits], list(visits.values())
    frame = model_frame(data, [arm, *covariate_columns(covariates, factors)], stacklevel=4)
    full = _data.as_frame(data)
    _data.require_columns(full, cols)
    Y = np.column_stack([_data.numeric(full.loc[frame.index, c], c) for c in cols])
    none = np.isnan(Y).all(axis=1)
    if none.any():
        warnings.warn(f"{int(none.sum())} participant(s) with no observed visit dropped: rows "
                      f"{_data.row_labels(frame.index, none)}", UserWarning, stacklevel=_data.user_stacklevel())
        frame, Y = frame.loc[~none], Y[~none]
    a = _arm_values(frame, arm)
    Xc, cnames = design(frame, [(arm, a)], covariates, factors)  # [1, arm, covariates]
    C = np.repeat(Xc[:, None, 2:], len(labels), axis=1)
    return labels, cols, Y, a, C, cnames[2:]


def _visit_label(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _mmrm_long(data, outcome, id_col, visit, arm, covariates, factors):
    """Long layout (one row per participant-visit) -> the wide arrays of :func:`_mmrm_wide`."""
    frame = model_frame(data, [id_col, visit, arm, *covariate_columns(covariates, factors)], stacklevel=4)
    full = _data.as_frame(data)
    _data.require_columns(full, [outcome])
    y = _data.numeric(full.loc[frame.index, outcome], outcome)
    dup = frame.duplicated([id_col, visit], keep=False).to_numpy()
    if dup.any():
        raise ValueError(f"participant-visit pairs ({id_col!r}, {visit!r}) repeat at rows "
                         f"{_data.row_labels(frame.index, dup)}; long data needs one row per participant and visit")
    vcol = frame[visit]
    if isinstance(vcol.dtype, pd.CategoricalDtype):
        levels = [c for c in vcol.cat.categories if (vcol == c).any()]
    else:
        try:
            levels = sorted(vcol.unique())
        except TypeError as exc:
            raise ValueError(f"column {visit!r} mixes values that cannot be ordered; use one type "
                             "(numbers or text) or an ordered categorical") from exc
    if len(levels) < 2:
        raise ValueError(f"column {visit!r} has {len(levels)} distinct visit(s); an MMRM needs at least two")
    vcode = pd.Index(levels).get_indexer(vcol)
    pid, uniq = pd.factorize(frame[id_col], sort=True)
    arm_rows = _arm_values(frame, arm)
    arm_by_id = pd.Series(arm_rows).groupby(pid).agg(["min", "max"])
    mixed_arm = (arm_by_id["min"] != arm_by_id["max"]).to_numpy()
    if mixed_arm.any():
        bad = [str(u) for u in uniq[mixed_arm][:10]]
        raise ValueError(f"column {arm!r} changes within participant(s) {', '.join(bad)} (column {id_col!r}); "
                         "the arm must be constant within a participant")
    Xc, cnames = design(frame, [(arm, arm_rows)], covariates, factors)
    n, T = len(uniq), len(levels)
    Y = np.full((n, T), np.nan)
    Y[pid, vcode] = y
    C = np.zeros((n, T, Xc.shape[1] - 2))
    C[pid, vcode] = Xc[:, 2:]
    a = arm_by_id["min"].to_numpy(float)
    none = np.isnan(Y).all(axis=1)
    if none.any():
        bad = ", ".join(str(u) for u in uniq[none][:10])
        warnings.warn(f"{int(none.sum())} participant(s) with no observed outcome dropped ({id_col} {bad})",
                      UserWarning, stacklevel=_data.user_stacklevel())
        Y, C, a = Y[~none], C[~none], a[~none]
    labels = [_visit_label(v) for v in levels]
    return labels, [f"{outcome} at {visit} {lab}" for lab in labels], Y, a, C, cnames[2:]


def _check_mmrm_size(Y: np.ndarray, a: np.ndarray, labels, cols, k: int, covariance: str = "us",
                     p: int = 0) -> None:
    """Each visit needs values in both arms (visit-by-arm means); an unstructured T x T
    covariance needs at least ``k + T`` participants when each visit has ``k`` coefficients
    (as a multivariate regression, whose residual covariance is singular below that)."""
    for t, (lab, col) in enumerate(zip(labels, cols)):
        for arm_value in (0, 1):
            if not np.any(~np.isnan(Y[:, t]) & (a == arm_value)):
                raise ValueError(f"visit {lab!r} (column {col!r}) has no observed value in arm {arm_value}; "
                                 "the visit-by-arm effect is not estimable")
    T, n = len(labels), len(Y)
    nobs = int(np.sum(~np.isnan(Y)))
    if nobs <= p:
        raise ValueError(f"too few observed values: {nobs} for {p} coefficients (REML needs more)")
    if covariance == "us" and n < k + T:
        raise ValueError(f"too few participants for an unstructured covariance: {n} participants, {T} visits "
                         f"and {k} coefficients per visit need at least {k + T}")


def _start_covariance(Y: np.ndarray, Xs: np.ndarray, cov_group: np.ndarray | None = None,
                      n_groups: int = 1) -> np.ndarray:
    """Starting value: pairwise covariance of OLS residuals (positive definite by shrinkage); with
    ``cov_group``, one block per group (``G T x G T``, block diagonal, for ``_mmrm_cov.Grouped``)."""
    obs = ~np.isnan(Y)
    X = Xs[obs]
    beta = np.linalg.lstsq(X, Y[obs], rcond=None)[0]
    R = np.where(obs, Y - np.einsum("ntp,p->nt", Xs, beta), np.nan)
    T = Y.shape[1]
    cg = np.zeros(len(Y), dtype=int) if cov_group is None else np.asarray(cov_group, dtype=int)
    out = np.zeros((n_groups * T, n_groups * T))
    fallback = np.nanvar(R) if np.any(obs) and np.isfinite(np.nanvar(R)) and np.nanvar(R) > 0 else 1.0
    for g in range(n_groups):
        S = pd.DataFrame(R[cg == g]).cov().to_numpy()
        S = np.where(np.isfinite(S), S, 0.0)
        d = np.diag(S).copy()
        if n_groups > 1:  # a visit without two values in a group: the overall residual variance
            d = np.where(d > 0, d, fallback)
            S[np.diag_indices(T)] = d
        out[g * T:(g + 1) * T, g * T:(g + 1) * T] = 0.9 * S + 0.1 * np.diag(d) + 1e-8 * np.eye(T)
    return out
