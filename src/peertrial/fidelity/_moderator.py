"""Fidelity as a moderator: outcome by the fidelity of the participant's peer worker.

Fidelity is not randomised — peer workers with high fidelity may differ in
other ways, and may be matched with different participants — so every result
here is labelled a NON-RANDOMISED comparison.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_table
from peertrial._warnings import PeertrialWarning
from peertrial.fidelity._scoring import FidelityScores
from peertrial.trial._linear import rank_deficient_columns
from peertrial.trial.mixed import ProfiledREML

stats = lazy_module("scipy.stats")

__all__ = ["FidelityModeration", "fidelity_moderation"]

NON_RANDOMISED = (
    "NON-RANDOMISED comparison: fidelity was not randomised, so its association with the "
    "outcome may be confounded by peer-worker and participant characteristics."
)
_CONTROL_GROUP = "__control__"


@dataclass(frozen=True, eq=False)
class FidelityModeration(Result):
    """Linear mixed model of an outcome on peer-worker fidelity, REML (from :func:`fidelity_moderation`).

    Attributes
    ----------
    coef : pandas.DataFrame
        Indexed by term with ``estimate, se, zval, pval, ci_lb, ci_ub`` (Wald, normal
        reference).
    var_worker, var_residual : float
        Variance of the random peer-worker effect and residual variance.
    icc : float
        ``var_worker / (var_worker + var_residual)``.
    loglik : float
        REML log-likelihood (as lme4's ``logLik(fit)``).
    n, n_workers : int
        Participants and peer workers analysed.
    singleton_workers, excluded_workers : tuple
        Peer workers with one participant (kept) and without a fidelity score (excluded).
    n_excluded : int
        Participants excluded with those peer workers.
    population : str
        ``"intervention"`` or ``"all"`` (partially nested).
    outcome : str
        The outcome column.
    fidelity_center : float
        The mean peer-worker score subtracted from fidelity.
    converged : bool
        False when ``sd(worker) / sd(residual)`` reached the search bound (50).
    singular : bool
        The peer-worker variance is on the boundary (``sd(worker) / sd(residual) < 1e-4``,
        lme4's ``isSingular``), so the fit is (nearly) a linear model without the
        peer-worker effect.
    workers : pandas.DataFrame
        Per peer worker ``fidelity``, ``n`` and ``mean_outcome`` of their analysed
        participants.
    covariate_means : pandas.Series
        Means of the covariates analysed (for drawing the fitted line).
    label : str
        The non-randomised-comparison note.

    Notes
    -----
    R equivalent: ``lme4::lmer(y ~ fc + covariates + (1 | peer_worker), REML = TRUE)``
    (lme4 1.1-31).

    References
    ----------
    .. [1] Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
       models using lme4. Journal of Statistical Software, 67(1), 1-48.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> scores = pt.fidelity.score_fidelity(pt.simulate.fidelity_ratings(n=200, seed=1))
    >>> fit = pt.fidelity.fidelity_moderation(d, scores, outcome="hope_12", covariates=["hope_0"])
    >>> fit.n, fit.n_workers, fit.singular
    (55, 27, False)
    """

    coef: pd.DataFrame
    var_worker: float
    var_residual: float
    icc: float
    loglik: float
    n: int
    n_workers: int
    singleton_workers: tuple
    excluded_workers: tuple
    n_excluded: int
    population: str
    outcome: str
    fidelity_center: float
    converged: bool
    singular: bool
    workers: pd.DataFrame
    covariate_means: pd.Series
    label: str = NON_RANDOMISED

    def plot(self, ax=None, **kwargs):
        """Outcome against peer-worker fidelity: with the fitted mixed-model line (non-randomised).

        Draws :func:`peertrial.plot.fidelity_moderation_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.fidelity_moderation_plot` (it takes no other options).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.fidelity_moderation_plot : what is drawn, with an example.
        """
        from peertrial.plot.fidelity import fidelity_moderation_plot

        return fidelity_moderation_plot(self, ax=ax, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        return self.coef.rename(columns={"zval": "statistic"})

    def summary(self) -> str:
        design = (
            "intervention-arm participants only; random intercept per peer worker"
            if self.population == "intervention"
            else "all participants, partially nested: random peer-worker effect on the arm term (intervention arm only)"
        )
        lines = [
            f"Fidelity moderation of {self.outcome!r} — {self.label}",
            f"  Linear mixed model (REML), {design}",
            f"  n = {self.n} participants, {self.n_workers} peer workers; fidelity centred at {self.fidelity_center:.4f}",
            f"  Random effects: peer worker variance {format_number(self.var_worker)}, residual {format_number(self.var_residual)}, "
            f"ICC {format_number(self.icc, 3)}; REML log-likelihood {format_number(self.loglik)}",
        ]
        if self.singleton_workers:
            lines.append(f"  Peer workers with one participant (kept): {list(self.singleton_workers)}")
        if self.excluded_workers:
            lines.append(
                f"  Excluded, no fidelity score: peer workers {list(self.excluded_workers)} ({self.n_excluded} participants)"
            )
        if self.singular:
            lines.append("  Boundary (singular) fit: peer-worker variance estimated as 0 (as lme4's isSingular)")
        if not self.converged:
            lines.append("  WARNING: the variance ratio reached its search bound; the fit is unreliable")
        return "\n".join([*lines, "", format_table(self.coef)])


def _as_worker_scores(fidelity) -> pd.Series:
    if isinstance(fidelity, FidelityScores):
        return fidelity.worker_scores()
    if isinstance(fidelity, pd.Series):
        return fidelity
    if isinstance(fidelity, Mapping):
        return pd.Series(dict(fidelity))
    raise ValueError("fidelity must be a FidelityScores, a Series indexed by peer worker, or a mapping")


def _key(values) -> np.ndarray:
    """Peer-worker identifiers as strings so that 3, 3.0 and '3' link alike."""
    out = []
    for v in values:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(str(v))
    return np.array(out, dtype=object)


def fidelity_moderation(
    data: pd.DataFrame,
    fidelity,
    outcome: str,
    *,
    peer_worker: str = "peer_worker",
    arm: str = "arm",
    covariates: list[str] | None = None,
    population: str = "intervention",
    arm_levels=None,
    level: float = 0.95,
) -> FidelityModeration:
    """Fit the outcome on the peer worker's fidelity score, with a random peer-worker effect.

    ``population="intervention"``: intervention participants (``arm == 1``) only,
    ``y = b0 + b1 (f - fbar) + covariates + u_worker + e`` (lme4:
    ``lmer(y ~ fc + ..., REML=TRUE)`` with ``(1 | peer_worker)``).
    ``population="all"``: every participant in a partially nested model,
    ``y = b0 + b_arm arm + b_int arm (f - fbar) + covariates + arm u_worker + e``
    (lme4: ``(0 + arm | peer_worker)``); ``b_arm`` is the treatment effect for a
    peer worker of average fidelity and ``b_int`` its change per unit of fidelity.
    ``fbar`` is the mean score of the peer workers analysed (each counted once).

    Fitted by REML with the variance ratio profiled out, the criterion ``lmer``
    minimises, searched over ``theta = sd(u) / sd(e)`` including 0. When the
    peer-worker variance is on the boundary (few peer workers, little clustering)
    the fit converges to variance 0 as lme4's does, is flagged ``singular`` and
    warned about; estimates and SEs then equal those of ``lm``. A design with no
    fit raises ``ValueError`` naming the problem: every participant with a
    different peer worker, fidelity identical for every peer worker, no control
    participants (``population="all"``), collinear terms, too few participants,
    or an outcome with no residual variation.

    ``covariates``: a list of columns or an R-style formula (``"hope_0 + C(site)"``), coded by
    the one design builder (``peertrial._design``): numbers, including numbers stored as
    text, are numeric; other text, booleans and ``C()`` are treatment-coded factors.

    Intervention participants with no peer worker (never seen) are excluded
    with a warning naming the rows. Peer workers without a fidelity score are
    named in a warning and their participants excluded; peer workers with a single participant are warned
    about and kept (they inform the fixed effects, barely the variance).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the ``outcome``, ``peer_worker``, ``arm`` and
        covariate columns.
    fidelity : FidelityScores, pandas.Series or mapping
        Each peer worker's fidelity score: scored ratings (their ``worker_scores()``), or
        scores indexed by peer worker.
    outcome : str
        Column of the (continuous) outcome.
    peer_worker : str, default "peer_worker"
        Column of the participant's peer worker (empty for controls and never-seen
        participants).
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention.
    covariates : list of str or str, optional
        Adjustment columns or an R-style right-hand side.
    population : {"intervention", "all"}, default "intervention"
        Intervention participants only, or everyone in a partially nested model.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    level : float, default 0.95
        Confidence level of the Wald limits, 0.95 or 95 alike.

    Returns
    -------
    FidelityModeration
        Fixed effects (``fidelity`` per unit of score, or ``arm`` and ``arm:fidelity``),
        variance components, ICC and the per-worker table; labelled NON-RANDOMISED.

    Notes
    -----
    R equivalent: ``lme4::lmer(y ~ fc + covariates + (1 | peer_worker), REML = TRUE)``, or
    ``(0 + arm | peer_worker)`` for ``population="all"`` (lme4 1.1-31).

    References
    ----------
    .. [1] Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
       models using lme4. Journal of Statistical Software, 67(1), 1-48.
    .. [2] Bauer, D. J., Sterba, S. K., & Hallfors, D. D. (2008). Evaluating group-based
       interventions when control participants are ungrouped. Multivariate Behavioral
       Research, 43, 210-236.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> scores = pt.fidelity.score_fidelity(pt.simulate.fidelity_ratings(n=200, seed=1))
    >>> fit = pt.fidelity.fidelity_moderation(d, scores, outcome="hope_12", covariates=["hope_0"])
    >>> fit.coef["estimate"].round(3).tolist(), round(fit.icc, 3)
    ([17.064, 1.751, 0.496], 0.18)
    """
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level)
    if population not in ("intervention", "all"):
        raise ValueError(f"population must be 'intervention' or 'all', got {population!r}")
    covariates = _builder.spec(covariates)
    cov_cols = _builder.variables(covariates)
    frame = _data.as_frame(data)
    _data.require_columns(frame, [outcome, peer_worker, arm, *cov_cols])
    scores = _as_worker_scores(fidelity).dropna()
    treated = _data.binary(frame[arm], arm) == 1
    no_worker = treated & frame[peer_worker].isna().to_numpy()
    if no_worker.any():
        warnings.warn(
            f"{int(no_worker.sum())} intervention participants with no peer worker in column {peer_worker!r} "
            f"(never seen) are excluded: rows {_data.row_labels(frame.index, no_worker)}",
            PeertrialWarning,
            stacklevel=2,
        )
        frame, treated = frame.loc[~no_worker], treated[~no_worker]
    if population == "intervention":
        frame = frame.loc[treated]
        treated = np.ones(len(frame), bool)
    score_map = dict(zip(_key(scores.index), scores.to_numpy(float)))
    worker = np.where(treated, _key(frame[peer_worker].where(treated, 0)), _CONTROL_GROUP)
    fid = np.array([score_map.get(w, np.nan) for w in worker])
    unscored = treated & np.isnan(fid)
    excluded = tuple(sorted(set(worker[unscored])))
    if excluded:
        warnings.warn(
            f"peer workers {list(excluded)} have no fidelity score; their {int(unscored.sum())} participants "
            "are excluded from the fidelity analysis",
            PeertrialWarning,
            stacklevel=2,
        )
    keep = ~unscored
    frame, worker, fid, treated = frame.loc[keep], worker[keep], fid[keep], treated[keep]
    work = pd.DataFrame({outcome: _data.numeric(frame[outcome], outcome)}, index=frame.index)
    for c in cov_cols:
        work[c] = frame[c]  # coded below by the one design builder (numbers, text numbers, factors)
    work["_worker"], work["_fid"], work["_arm"] = worker, fid, treated.astype(float)
    work = _data.drop_missing(work, [outcome, *cov_cols], unit="participants", stacklevel=3)
    block = _builder.build(work, covariates, intercept="drop") if cov_cols else None
    worker, fid, arm01 = work["_worker"].to_numpy(), work["_fid"].to_numpy(), work["_arm"].to_numpy()
    in_arm = arm01 == 1
    counts = pd.Series(worker[in_arm]).value_counts()
    singletons = tuple(sorted(counts.index[counts == 1]))
    if singletons:
        warnings.warn(
            f"peer workers with a single participant (kept in the model): {list(singletons)}",
            PeertrialWarning,
            stacklevel=2,
        )
    if len(counts) < 2:
        raise ValueError("fewer than two peer workers with fidelity scores and outcomes; no random effect can be fitted")
    analysed_scores = np.array([score_map[w] for w in counts.index])
    if np.ptp(analysed_scores) == 0:
        raise ValueError(
            f"all {len(counts)} peer workers analysed have the same fidelity score ({analysed_scores[0]:g}): "
            "fidelity has no variation to relate to the outcome"
        )
    if population == "all" and in_arm.all():
        raise ValueError(f"population='all' needs control participants (column {arm!r} == 0) with an outcome; there are none")
    center = float(np.mean(analysed_scores))
    fc = np.where(in_arm, fid - center, 0.0)
    n = len(work)
    if population == "intervention":
        names = ["(Intercept)", "fidelity"]
        cols = [np.ones(n), fc]
    else:
        names = ["(Intercept)", "arm", "arm:fidelity"]
        cols = [np.ones(n), arm01, fc]
    if block is not None:
        names += block.names
        cols += list(block.X.T)
    exog = np.column_stack(cols)
    y = work[outcome].to_numpy()
    codes = np.full(n, -1)  # controls (population "all") belong to no peer worker
    codes[in_arm] = pd.factorize(worker[in_arm], sort=True)[0]
    _check_design(y, exog, names, codes, population, outcome)
    fit = _fit_reml(y, exog, codes)
    res = _result(fit, names, population, outcome, n, counts, singletons, excluded, int(unscored.sum()), center,
                  level)
    if res.singular:
        warnings.warn(
            f"boundary (singular) fit: the peer-worker variance is estimated as 0 (sd ratio {fit[0]:.3g} < 1e-4, "
            "lme4's isSingular); the model reduces to a linear model without the peer-worker effect",
            PeertrialWarning,
            stacklevel=2,
        )
    treated_rows = work.loc[in_arm]
    workers = treated_rows.groupby("_worker", sort=True).agg(fidelity=("_fid", "first"), n=("_fid", "size"), mean_outcome=(outcome, "mean"))
    workers.index.name = peer_worker
    means = pd.Series(block.X.mean(axis=0), index=block.names) if block is not None else pd.Series(dtype=float)
    return dataclasses.replace(res, workers=workers, covariate_means=means)


_THETA_MAX = 50.0  # search bound on theta = sd(peer worker) / sd(residual)
_SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance on theta


def _check_design(y, exog, names, codes, population, outcome) -> None:
    """Raise ``ValueError`` for a design whose REML fit is not defined (never a LinAlgError)."""
    n, p = exog.shape
    levels = int(codes.max()) + 1 + (population == "all")  # lme4 counts the controls as one level
    if levels >= n:
        raise ValueError(
            f"{levels} peer-worker groups for {n} participants: each participant has a peer worker of their own, "
            "so the peer-worker variance cannot be told apart from the residual variance (lme4: the number of "
            "levels of a grouping factor must be < the number of observations)"
        )
    if n <= p:
        raise ValueError(f"{n} participants for {p} fixed effects {names}: too few to estimate a residual variance")
    bad = rank_deficient_columns(exog, names)
    if bad:
        raise ValueError(
            f"fixed-effect design is rank deficient: term(s) {bad} are linear combinations of the terms before "
            f"them in {names} (e.g. a covariate constant among the participants analysed); remove or recode them"
        )
    resid = y - exog @ np.linalg.lstsq(exog, y, rcond=None)[0]
    if resid @ resid <= 1e-20 * max(y @ y, 1e-300):
        raise ValueError(
            f"outcome {outcome!r} has no residual variation: it is constant or an exact linear function of {names}"
        )


def _fit_reml(y, exog, codes):
    """REML fit of ``y = X b + z u_worker + e`` by lme4's profiled criterion.

    ``theta = sd(u) / sd(e) >= 0`` is found by bounded search including the
    boundary ``theta = 0`` (``peertrial.trial.mixed``, the criterion
    ``lmer`` minimises), so a peer-worker variance on the boundary converges to 0
    as in lme4 instead of breaking the solver. Returns ``theta, beta, vcov,
    sigma2, loglik, converged``; ``vcov = sigma2 (X' V^-1 X)^-1`` is lme4's
    ``vcov(fit)``.
    """
    theta, beta, vcov, sigma2, loglik = ProfiledREML(y, exog, codes).fit(_THETA_MAX)
    return theta, beta, vcov, float(sigma2), float(loglik), theta < 0.999 * _THETA_MAX

def _result(fit, names, population, outcome, n, counts, singletons, excluded, n_excluded, center, level=0.95):
    theta, est, vcov, var_res, loglik, converged = fit
    se = np.sqrt(np.diag(vcov))
    z = est / se
    q = stats.norm.ppf(0.5 + level / 2)
    coef = pd.DataFrame(
        {
            "estimate": est,
            "se": se,
            "zval": z,
            "pval": 2 * stats.norm.sf(np.abs(z)),
            "ci_lb": est - q * se,
            "ci_ub": est + q * se,
        },
        index=pd.Index(names, name="term"),
    )
    var_w = float(theta**2 * var_res)
    return FidelityModeration(
        coef=coef,
        var_worker=var_w,
        var_residual=var_res,
        icc=var_w / (var_w + var_res),
        loglik=loglik,
        n=int(n),
        n_workers=int(len(counts)),
        singleton_workers=singletons,
        excluded_workers=excluded,
        n_excluded=n_excluded,
        population=population,
        outcome=outcome,
        fidelity_center=center,
        converged=bool(converged),
        singular=bool(theta < _SINGULAR_TOL),
        workers=pd.DataFrame(),
        covariate_means=pd.Series(dtype=float),
    )
