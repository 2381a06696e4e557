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
import statsmodels.api as sm
from scipy import stats

from peertrial import _data
from peertrial._results import Result, format_number, format_table
from peertrial._warnings import ConvergenceWarning, PeertrialWarning
from peertrial.fidelity._scoring import FidelityScores

__all__ = ["FidelityModeration", "fidelity_moderation"]

NON_RANDOMISED = (
    "NON-RANDOMISED comparison: fidelity was not randomised, so its association with the "
    "outcome may be confounded by peer-worker and participant characteristics."
)
_CONTROL_GROUP = "__control__"


@dataclass(frozen=True, eq=False)
class FidelityModeration(Result):
    """Linear mixed model of an outcome on peer-worker fidelity (REML).

    ``coef``: DataFrame indexed by term with ``estimate, se, zval, pval, ci_lb,
    ci_ub`` (Wald, normal reference). ``var_worker``: variance of the random
    peer-worker effect; ``var_residual``: residual variance; ``icc`` their ratio
    to the total; ``loglik``: REML log-likelihood (as lme4's ``logLik(fit)``).
    ``fidelity_center``: the mean peer-worker score subtracted from fidelity.
    ``workers``: per peer worker ``fidelity``, ``n`` and ``mean_outcome`` of their
    analysed participants; ``covariate_means``: means of the covariates analysed
    (for drawing the fitted line).
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
    workers: pd.DataFrame
    covariate_means: pd.Series
    label: str = NON_RANDOMISED

    def to_frame(self) -> pd.DataFrame:
        return self.coef.copy()

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
        if not self.converged:
            lines.append("  WARNING: the optimiser did not report convergence")
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
) -> FidelityModeration:
    """Outcome on the peer worker's fidelity score, with a random peer-worker effect.

    ``population="intervention"``: intervention participants (``arm == 1``) only,
    ``y = b0 + b1 (f - fbar) + covariates + u_worker + e`` (lme4:
    ``lmer(y ~ fc + ..., REML=TRUE)`` with ``(1 | peer_worker)``).
    ``population="all"``: every participant in a partially nested model,
    ``y = b0 + b_arm arm + b_int arm (f - fbar) + covariates + arm u_worker + e``
    (lme4: ``(0 + arm | peer_worker)``); ``b_arm`` is the treatment effect for a
    peer worker of average fidelity and ``b_int`` its change per unit of fidelity.
    Fitted by ``statsmodels.MixedLM`` (REML). ``fbar`` is the mean score of the
    peer workers analysed (each counted once).

    Intervention participants with no peer worker (never seen) are excluded
    with a warning naming the rows. Peer workers without a fidelity score are
    named in a warning and their participants excluded; peer workers with a single participant are warned
    about and kept (they inform the fixed effects, barely the variance).
    """
    if population not in ("intervention", "all"):
        raise ValueError(f"population must be 'intervention' or 'all', got {population!r}")
    covariates = list(covariates or [])
    frame = _data.as_frame(data)
    _data.require_columns(frame, [outcome, peer_worker, arm, *covariates])
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
    for c in covariates:
        work[c] = _data.numeric(frame[c], c)
    work["_worker"], work["_fid"], work["_arm"] = worker, fid, treated.astype(float)
    work = _data.drop_missing(work, [outcome, *covariates], unit="participants", stacklevel=3)
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
    center = float(np.mean([score_map[w] for w in counts.index]))
    fc = np.where(in_arm, fid - center, 0.0)
    n = len(work)
    if population == "intervention":
        names = ["(Intercept)", "fidelity"]
        cols = [np.ones(n), fc]
        exog_re = np.ones((n, 1))
    else:
        names = ["(Intercept)", "arm", "arm:fidelity"]
        cols = [np.ones(n), arm01, fc]
        exog_re = arm01[:, None]
    names += covariates
    cols += [work[c].to_numpy() for c in covariates]
    exog = np.column_stack(cols)
    fit, converged = _fit_reml(work[outcome].to_numpy(), exog, worker, exog_re)
    se = _fixed_se(exog, worker, exog_re, np.asarray(fit.cov_re, float), float(fit.scale))
    res = _result(fit, se, names, converged, population, outcome, n, counts, singletons, excluded, int(unscored.sum()), center)
    treated_rows = work.loc[in_arm]
    workers = treated_rows.groupby("_worker", sort=True).agg(fidelity=("_fid", "first"), n=("_fid", "size"), mean_outcome=(outcome, "mean"))
    workers.index.name = peer_worker
    means = work[covariates].mean() if covariates else pd.Series(dtype=float)
    return dataclasses.replace(res, workers=workers, covariate_means=means)


def _fit_reml(y, exog, groups, exog_re):
    model = sm.MixedLM(y, exog, groups=groups, exog_re=exog_re)
    # start from OLS and a moderate variance ratio: MixedLM's default start can hit a
    # singular system when some groups (the controls) carry no random effect
    start = np.r_[np.linalg.lstsq(exog, y, rcond=None)[0], 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(reml=True, start_params=start, method=["bfgs", "lbfgs", "nm"], maxiter=5000, gtol=1e-12)
    converged = bool(getattr(fit, "converged", True))
    if not converged:
        warnings.warn("MixedLM did not converge for the fidelity model", ConvergenceWarning, stacklevel=3)
    return fit, converged


def _fixed_se(exog, groups, exog_re, cov_re, scale) -> np.ndarray:
    """sqrt(diag((X' V^-1 X)^-1)), V_g = scale I + Z_g G Z_g' (the SEs lme4's vcov reports).

    statsmodels' ``bse_fe`` instead inverts the full Hessian including the
    variance parameters, which differs from lme4/nlme under REML.
    """
    xtvx = np.zeros((exog.shape[1], exog.shape[1]))
    for g in pd.unique(groups):
        rows = groups == g
        x, z = exog[rows], exog_re[rows]
        v = scale * np.eye(rows.sum()) + z @ cov_re @ z.T
        xtvx += x.T @ np.linalg.solve(v, x)
    return np.sqrt(np.diag(np.linalg.inv(xtvx)))


def _result(fit, se, names, converged, population, outcome, n, counts, singletons, excluded, n_excluded, center):
    est = np.asarray(fit.fe_params, float)
    z = est / se
    q = stats.norm.ppf(0.975)
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
    var_res = float(fit.scale)
    var_w = float(np.asarray(fit.cov_re)[0, 0])
    return FidelityModeration(
        coef=coef,
        var_worker=var_w,
        var_residual=var_res,
        icc=var_w / (var_w + var_res),
        loglik=float(fit.llf),
        n=int(n),
        n_workers=int(len(counts)),
        singleton_workers=singletons,
        excluded_workers=excluded,
        n_excluded=n_excluded,
        population=population,
        outcome=outcome,
        fidelity_center=center,
        converged=converged,
        workers=pd.DataFrame(),
        covariate_means=pd.Series(dtype=float),
    )
