"""Reference-based multiple imputation of longitudinal outcomes, delta adjustment, tipping points.

Carpenter, Roger & Kenward (2013) impute the visits after an intercurrent event (ICE; e.g.
stopping peer support) under an assumption about how the participant's outcomes behave
afterwards, expressed through the estimated means and covariance of their own arm and of the
reference (control) arm. Each imputation follows R's rbmi ``method_approxbayes``:

1. a bootstrap sample of participants, stratified by arm;
2. an MMRM on it by REML (:func:`peertrial.trial.mmrm`'s engine): ``y_it = visit_t +
   visit_t x arm + covariates``, unstructured covariance between visits (one shared, rbmi's
   default ``same_cov = TRUE``, or one per arm, the mmrm package's ``us(visit | arm / id)``),
   fitted on the observed values, with observed values after an ICE handled by a
   reference-based strategy left out (as rbmi);
3. for each participant of the original data, the joint normal distribution of their visits
   under the strategy (below), and one draw of the missing visits from its conditional
   distribution given the participant's observed values.

With ``mu_a``, ``Sigma_a`` the participant's own-arm mean and covariance, ``mu_r``,
``Sigma_r`` the reference arm's (for the participant's covariates), and the visits split into
those before the ICE (``1``) and from the ICE on (``2``):

- ``MAR``: ``(mu_a, Sigma_a)``;
- ``CR`` (copy reference): ``(mu_r, Sigma_r)``;
- ``JR`` (jump to reference): mean ``(mu_a1, mu_r2)``;
- ``CIR`` (copy increments in reference): mean ``mu_a1`` before, and after it
  ``mu_a,k + (mu_r,t - mu_r,k)`` with ``k`` the last visit before the ICE (``CR`` when the
  ICE precedes the first visit);
- covariance for ``JR`` and ``CIR``: ``Sigma_a`` before the ICE and the reference arm's
  regression of the later visits on the earlier ones, ``S11 = Sigma_a,11``,
  ``S21 = Sigma_r,21 Sigma_r,11^-1 S11``,
  ``S22 = Sigma_r,22 - Sigma_r,21 Sigma_r,11^-1 (Sigma_r,11 - S11) Sigma_r,11^-1 Sigma_r,12``
  (rbmi's ``compute_sigma``; equal to ``Sigma_a`` when the arms share one covariance).

Each completed data set is analysed by ANCOVA at each visit (``y_t ~ arm + covariates``, as
rbmi's ``ancova``) and the results pooled by Rubin's rules with Barnard–Rubin degrees of
freedom (:func:`peertrial._mi.rubin_pool`, ``dfcom = n - p``). For reference-based strategies
Rubin's variance is conservative (it targets the variance under the imputation model, not the
repeated-sampling variance of the reference-based estimator): coverage exceeds the nominal
level (Seaman, White & Leacy 2014; Bartlett 2023).

Delta adjustment (rbmi's ``delta_template``/``apply_delta``) adds ``delta`` to the values
imputed after the ICE; :func:`tipping_point` scans it to find where the conclusion changes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._mi import rubin_pool
from peertrial._results import Result, format_number, format_table
from peertrial._warnings import ConvergenceWarning, PeertrialWarning
from peertrial.trial import _mmrm_cov
from peertrial.trial import mixed as _mixed
from peertrial.trial._design import as_list, covariate_columns, design, model_frame
from peertrial.trial._linear import ols
from peertrial.trial.effects import _arm_values
from peertrial.trial.estimands import Estimand

stats = lazy_module("scipy.stats")

__all__ = ["reference_based_mi", "tipping_point", "ReferenceBasedMI", "TippingPoint", "STRATEGIES"]

#: Imputation strategies after an intercurrent event (rbmi's names).
STRATEGIES = ("MAR", "JR", "CR", "CIR")
_MAX_REDRAWS = 100  # bootstrap samples whose MMRM cannot be fitted are redrawn, at most this many times


# ---- the strategies ---------------------------------------------------------------------

def _compute_sigma(sigma_own: np.ndarray, sigma_ref: np.ndarray, n_mar: int) -> np.ndarray:
    """Joint covariance for JR/CIR: own arm before the ICE, reference regression after it."""
    T = len(sigma_own)
    if n_mar >= T:
        return sigma_own
    if n_mar <= 0:
        return sigma_ref
    a, b = slice(0, n_mar), slice(n_mar, T)
    S11 = sigma_own[a, a]
    R11, R21, R22 = sigma_ref[a, a], sigma_ref[b, a], sigma_ref[b, b]
    B = np.linalg.solve(R11, R21.T).T  # R21 R11^-1
    out = np.empty((T, T))
    out[a, a] = S11
    out[b, a] = B @ S11
    out[a, b] = out[b, a].T
    out[b, b] = R22 - B @ (R11 - S11) @ B.T
    return out


def _strategy_parameters(strategy: str, mu_own, mu_ref, sigma_own, sigma_ref, n_mar: int):
    """``(mu, sigma)`` of the visits under ``strategy`` when the first ``n_mar`` visits precede the ICE.

    ``mu_own``/``mu_ref``: ``(T,)`` or ``(k, T)`` means of the participant(s) in their own arm and
    in the reference arm; ``sigma_own``/``sigma_ref``: ``(T, T)``. Returns the mean with the
    shape of ``mu_own`` and the ``(T, T)`` covariance.
    """
    mu_own, mu_ref = np.asarray(mu_own, dtype=float), np.asarray(mu_ref, dtype=float)
    T = mu_own.shape[-1]
    n_mar = int(min(max(n_mar, 0), T))
    if strategy == "MAR" or n_mar == T:
        return mu_own.copy(), np.asarray(sigma_own, dtype=float)
    if strategy == "CR" or (strategy == "CIR" and n_mar == 0):
        return mu_ref.copy(), np.asarray(sigma_ref, dtype=float)
    mu = mu_own.copy()
    if strategy == "JR":
        mu[..., n_mar:] = mu_ref[..., n_mar:]
    elif strategy == "CIR":
        k = n_mar - 1
        mu[..., n_mar:] = mu_own[..., k:k + 1] + mu_ref[..., n_mar:] - mu_ref[..., k:k + 1]
    else:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    return mu, _compute_sigma(np.asarray(sigma_own, dtype=float), np.asarray(sigma_ref, dtype=float), n_mar)


# ---- the MMRM inside (REML, unstructured covariance, optionally one per arm) ---------------

def _mmrm_fit(Y, Xs, cov_group, n_groups, S0=None):
    """The imputation MMRM by REML through :func:`trial.mmrm`'s engine (:mod:`._mmrm_cov`):
    unstructured covariance, one per ``cov_group`` when ``n_groups > 1`` (mmrm's
    ``us(visit | group / id)``). ``S0``: a starting ``G T x G T`` block-diagonal covariance (the
    full-data fit, for the bootstrap refits). Returns ``(beta, V, Sigmas, Sigma, loglik, converged)``
    with ``Sigmas`` the ``T x T`` covariance of each group and ``Sigma`` their block-diagonal stack.
    Raises ``LinAlgError`` when the covariance is not estimable."""
    T = Y.shape[1]
    core = _mixed._UnstructuredREML(Y, Xs, cov_group if n_groups > 1 else None)
    if not core.groups:
        raise np.linalg.LinAlgError("no observed values")
    us = _mmrm_cov.Unstructured(T)
    structure = _mmrm_cov.Grouped(us, n_groups) if n_groups > 1 else us
    if S0 is None:
        S0 = _mixed._start_covariance(Y, Xs, cov_group, n_groups)
    th, pieces = _mmrm_cov.fit_structured(core.groups, structure, S0, warn=False)
    Sigma = structure.sigma(th, derivatives=False)
    Sigmas = [Sigma[g * T:(g + 1) * T, g * T:(g + 1) * T] for g in range(n_groups)]
    ok = bool(pieces["converged"] and np.all(np.isfinite(pieces["beta"])))
    return pieces["beta"], pieces["V"], Sigmas, Sigma, -0.5 * pieces["dev"], ok


# ---- data ---------------------------------------------------------------------------------

@dataclass
class _Prepared:
    Y: np.ndarray  # (n, T) outcomes, NaN missing
    a: np.ndarray  # (n,) 0/1 arm
    X: np.ndarray  # (n, k) ANCOVA design [1, arm, covariates]
    names: list
    Xs: np.ndarray  # (n, T, p) MMRM design, own arm
    Xs_ref: np.ndarray  # (n, T, p) MMRM design with the arm set to the reference
    ice: np.ndarray  # (n,) index of the first visit affected by the ICE (T = none)
    strat: np.ndarray  # (n,) strategy per participant
    labels: list
    index: pd.Index
    arm: str
    outcome: str


def _long_to_wide(frame: pd.DataFrame, visit: str, outcome: str, id: str, person_cols: list[str]):
    _data.require_columns(frame, [visit, outcome, id, *person_cols])
    if frame[id].isna().any() or frame[visit].isna().any():
        col = id if frame[id].isna().any() else visit
        raise ValueError(f"column {col!r} has missing values at rows "
                         f"{_data.row_labels(frame.index, frame[col].isna().to_numpy())}; every row needs "
                         "a participant and a visit")
    dup = frame.duplicated([id, visit]).to_numpy()
    if dup.any():
        raise ValueError(f"more than one row per participant and visit ({id!r}, {visit!r}) at rows "
                         f"{_data.row_labels(frame.index, dup)}")
    v = frame[visit]
    if isinstance(v.dtype, pd.CategoricalDtype):
        order = [x for x in v.cat.categories if x in set(v)]
    else:
        order = sorted(pd.unique(v), key=lambda x: (not isinstance(x, (int, float, np.number)), x))
    for c in person_cols:
        varying = frame.groupby(id, sort=False)[c].nunique(dropna=False) > 1
        if varying.any():
            raise ValueError(f"column {c!r} must be constant within each participant ({id!r}); it varies for "
                             f"participant(s) {list(varying.index[varying.to_numpy()])[:10]}")
    wide = frame.pivot(index=id, columns=visit, values=outcome).reindex(columns=order)
    person = frame.drop_duplicates(id).set_index(id)[person_cols].reindex(wide.index)
    cols = [f"{outcome}@{lab}" for lab in order]
    wide.columns = cols
    return pd.concat([person, wide], axis=1), dict(zip([str(x) for x in order], cols))


def _prepare(data, visits, arm, covariates, factors, strategy, ice_visit, arm_levels, outcome, id,
             by_visit: bool = False, visit=None) -> _Prepared:
    if isinstance(strategy, str) and strategy.upper() in STRATEGIES:
        strategy_all, strategy_col = strategy.upper(), None
    elif isinstance(strategy, str):
        strategy_all, strategy_col = None, strategy
    else:
        raise ValueError(f"strategy must be one of {STRATEGIES} or the name of a column holding one per participant, "
                         f"got {strategy!r}")
    covariates, factors = _builder.spec(covariates), as_list(factors)
    person_cols = [arm, *covariate_columns(covariates, factors), *([ice_visit] if ice_visit else []),
                   *([strategy_col] if strategy_col else [])]
    frame = _data.as_frame(data)
    long = {"outcome": outcome, "id": id, "visit": visit}
    if visits is None:  # long format: one row per participant and visit
        if any(v is None for v in long.values()):
            raise ValueError("long data needs outcome=, id= and visit= (the outcome, participant and visit columns); "
                             f"missing: {[k for k, v in long.items() if v is None]}. Wide data: visits= maps visit "
                             "labels to outcome columns")
        frame, visits = _long_to_wide(frame, visit, outcome, id, list(dict.fromkeys(person_cols)))
    elif any(v is not None for v in long.values()):
        raise ValueError("outcome=, id= and visit= are for long data; with wide data visits= maps visit labels to "
                         "columns (give one or the other)")
    if not isinstance(visits, dict) or len(visits) < 2:
        raise ValueError("visits must be a dict of at least two visit labels -> outcome columns (wide data); for long "
                         "data give outcome=, id= and visit= instead")
    labels, cols = [str(k) for k in visits], list(visits.values())
    _data.unique_index(frame)
    frame = _data.code_arm(frame, arm, arm_levels)
    _data.require_columns(frame, cols + [c for c in (ice_visit, strategy_col) if c])
    full = frame
    frame = model_frame(full, [arm, *covariate_columns(covariates, factors)], stacklevel=4)
    Y = np.column_stack([_data.numeric(full.loc[frame.index, c], c) for c in cols])
    a = _arm_values(frame, arm)
    X, names = design(frame, [(arm, a)], covariates, factors)
    n, T = Y.shape
    k = X.shape[1]
    c = k - 2  # covariate columns
    p = 2 * T + (T * c if by_visit else c)
    Xs = np.zeros((n, T, p))
    for t in range(T):
        Xs[:, t, t] = 1.0
        Xs[:, t, T + t] = a
        if by_visit:  # one slope per visit: y ~ visit + visit:arm + visit:covariates
            Xs[:, t, 2 * T + t * c:2 * T + (t + 1) * c] = X[:, 2:]
    if not by_visit:
        Xs[:, :, 2 * T:] = X[:, None, 2:]
    Xs_ref = Xs.copy()
    Xs_ref[:, :, T:2 * T] = 0.0
    obs = ~np.isnan(Y)
    if ice_visit is None:  # the ICE is dropout: first visit after the last observed one
        last = np.where(obs.any(axis=1), T - 1 - np.argmax(obs[:, ::-1], axis=1), -1)
        ice = np.where(last < T - 1, last + 1, T)
    else:
        raw = full.loc[frame.index, ice_visit]
        lab = raw.map(lambda v: None if pd.isna(v) else (str(int(v)) if isinstance(v, float) and float(v).is_integer()
                                                           else str(v)))
        bad = lab.notna() & ~lab.isin(labels)
        if bad.any():
            raise ValueError(f"column {ice_visit!r} (first visit affected by the intercurrent event) has values "
                             f"{sorted(set(raw[bad].astype(str)))[:5]} that are not visit labels {labels} at rows "
                             f"{_data.row_labels(frame.index, bad.to_numpy())}; leave it missing when there is no ICE")
        ice = np.array([T if v is None else labels.index(v) for v in lab])
    if strategy_col is None:
        strat = np.full(n, strategy_all, dtype=object)
    else:
        raw = full.loc[frame.index, strategy_col]
        s = raw.map(lambda v: "MAR" if pd.isna(v) else str(v).strip().upper())
        bad = ~s.isin(STRATEGIES)
        if bad.any():
            raise ValueError(f"column {strategy_col!r} has strategies {sorted(set(raw[bad].astype(str)))[:5]} at rows "
                             f"{_data.row_labels(frame.index, bad.to_numpy())}; use one of {STRATEGIES} "
                             "(missing = MAR)")
        strat = s.to_numpy(dtype=object)
    for t, (lab, col) in enumerate(zip(labels, cols)):
        fit_obs = obs[:, t] & ((t < ice) | (strat == "MAR"))
        for arm_value in (0, 1):
            if not np.any(fit_obs & (a == arm_value)):
                raise ValueError(f"visit {lab!r} (column {col!r}) has no value in arm {arm_value} before an "
                                 "intercurrent event; the imputation model's visit-by-arm mean is not estimable")
    kv = 2 + (c if by_visit else 0)  # coefficients per visit, as a multivariate regression
    if n < max(k, kv) + T:
        raise ValueError(f"too few participants for an unstructured covariance: {n} participants, {T} visits and "
                         f"{max(k, kv)} coefficients per visit need at least {max(k, kv) + T}")
    return _Prepared(Y=Y, a=a, X=X, names=names, Xs=Xs, Xs_ref=Xs_ref, ice=ice, strat=strat, labels=labels,
                     index=frame.index, arm=arm, outcome=outcome or "/".join(cols))


# ---- imputation -----------------------------------------------------------------------------

def _impute_groups(P: _Prepared) -> dict:
    """Participants with missing visits grouped by (arm, ICE visit, strategy, missing pattern)."""
    miss = np.isnan(P.Y)
    keys: dict = {}
    for i in np.flatnonzero(miss.any(axis=1)):
        keys.setdefault((int(P.a[i]), int(P.ice[i]), P.strat[i], tuple(miss[i])), []).append(i)
    return {k: np.asarray(v) for k, v in keys.items()}


def _impute_once(P: _Prepared, groups: dict, beta, Sigmas, same_cov: bool, rng) -> np.ndarray:
    """One completed ``(n, T)`` outcome matrix given MMRM parameters."""
    Y = P.Y.copy()
    mu_own = np.einsum("ntp,p->nt", P.Xs, beta)
    mu_ref = np.einsum("ntp,p->nt", P.Xs_ref, beta)
    for (arm_value, ice, strat, pat), rows in groups.items():
        s_own = Sigmas[0 if same_cov else arm_value]
        mu, S = _strategy_parameters(strat, mu_own[rows], mu_ref[rows], s_own, Sigmas[0], ice)
        mis, obs = np.asarray(pat), ~np.asarray(pat)
        if obs.any():
            s_oo, s_mo = S[np.ix_(obs, obs)], S[np.ix_(mis, obs)]
            B = np.linalg.solve(s_oo, s_mo.T).T
            cmean = mu[:, mis] + (Y[np.ix_(rows, np.flatnonzero(obs))] - mu[:, obs]) @ B.T
            ccov = S[np.ix_(mis, mis)] - B @ s_mo.T
        else:
            cmean, ccov = mu[:, mis], S[np.ix_(mis, mis)]
        ccov = (ccov + ccov.T) / 2
        L = np.linalg.cholesky(ccov + 1e-12 * np.eye(len(ccov)) * max(np.trace(ccov), 1.0))
        Y[np.ix_(rows, np.flatnonzero(mis))] = cmean + rng.standard_normal((len(rows), int(mis.sum()))) @ L.T
    return Y


def _impute(P: _Prepared, m: int, same_cov: bool, seed) -> np.ndarray:
    """``(m, n, T)`` completed outcomes by approximate Bayesian (bootstrap) MI, as rbmi's method_approxbayes."""
    rng = _data.as_generator(seed)
    T = P.Y.shape[1]
    nmar = (np.arange(T)[None, :] >= P.ice[:, None]) & (P.strat != "MAR")[:, None]
    Yfit = np.where(nmar, np.nan, P.Y)  # post-ICE values under a reference-based strategy leave the fit
    G = 1 if same_cov else 2
    cov_group = np.zeros(len(P.a), dtype=int) if same_cov else P.a.astype(int)
    try:
        _, _, _, x_full, _, ok = _mmrm_fit(Yfit, P.Xs, cov_group, G)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"the imputation model's unstructured {T} x {T} covariance is not estimable: too few "
                         f"participants observed at each visit or pair of visits ({exc})") from exc
    if not ok:
        warnings.warn("the imputation MMRM (REML) did not converge on the full data", ConvergenceWarning,
                      stacklevel=_data.user_stacklevel())
    arms = [np.flatnonzero(P.a == 0), np.flatnonzero(P.a == 1)]
    groups = _impute_groups(P)
    out = np.empty((m, *P.Y.shape))
    failures = 0
    i = 0
    while i < m:
        idx = np.concatenate([rng.choice(r, size=len(r), replace=True) for r in arms])
        try:
            beta, _, Sigmas, _, _, ok = _mmrm_fit(Yfit[idx], P.Xs[idx], cov_group[idx], G, S0=x_full)
            if not (ok and np.all(np.isfinite(beta))):
                raise np.linalg.LinAlgError("REML did not converge")
            _check_estimable(Yfit[idx], P.Xs[idx])
        except np.linalg.LinAlgError:
            failures += 1
            if failures > _MAX_REDRAWS:
                raise ValueError(f"more than {_MAX_REDRAWS} bootstrap samples gave an MMRM that could not be fitted "
                                 "(too few participants observed at some visit in an arm, or REML not converging)"
                                 ) from None
            continue
        out[i] = _impute_once(P, groups, beta, Sigmas, same_cov, rng)
        i += 1
    if failures:
        warnings.warn(f"{failures} bootstrap sample(s) gave no usable MMRM fit (a visit without values in an arm, or "
                      "REML not converging) and were redrawn, as rbmi does", PeertrialWarning,
                      stacklevel=_data.user_stacklevel())
    return out


def _check_estimable(Y, Xs):
    obs = ~np.isnan(Y)
    if np.linalg.matrix_rank(Xs[obs]) < Xs.shape[2]:
        raise np.linalg.LinAlgError("a visit-by-arm mean is not estimable in this bootstrap sample")


# ---- delta adjustment and analysis ------------------------------------------------------------

def _post_ice_imputed(P: _Prepared) -> np.ndarray:
    """``(n, T)`` mask of the values imputed after a participant's ICE (where delta applies)."""
    T = P.Y.shape[1]
    return np.isnan(P.Y) & (np.arange(T)[None, :] >= P.ice[:, None])


def _delta_matrix(delta, P: _Prepared) -> np.ndarray:
    """``(n, T)`` delta per participant and visit from a scalar, a per-visit sequence or an arm dict."""
    T = len(P.labels)
    out = np.zeros((len(P.a), T))
    if delta is None:
        return out

    def per_visit(value, what):
        v = np.asarray(value, dtype=float)
        if v.ndim == 0:
            v = np.full(T, float(v))
        if v.shape != (T,) or not np.isfinite(v).all():
            raise ValueError(f"delta{what} must be a finite number or one number per visit ({T}), got {value!r}")
        return v

    if isinstance(delta, dict):
        unknown = set(delta) - {0, 1}
        if unknown:
            raise ValueError(f"delta as a dict maps arm codes 0 (control) and 1 (intervention) to deltas; got keys "
                             f"{sorted(map(str, unknown))}")
        for arm_value, value in delta.items():
            out[P.a == arm_value] = per_visit(value, f"[{arm_value}]")
    else:
        out[P.a == 1] = per_visit(delta, "")
    return out * _post_ice_imputed(P)


def _analyse(P: _Prepared, completed: np.ndarray, level: float):
    """Per-visit ANCOVA of each completed set, pooled: (effects, means) DataFrames."""
    m, n, T = completed.shape
    k = P.X.shape[1]
    Xb = np.broadcast_to(P.X, (m * T, n, k))
    ys = np.moveaxis(completed, 2, 1).reshape(m * T, n)  # (m*T, n): imputation-major, then visit
    fit = ols(Xb, ys)
    coef = fit.coef.reshape(m, T, k)
    V = fit.vcov.reshape(m, T, k, k)
    xbar = P.X.mean(axis=0)
    rows, means = [], []
    for t in range(T):
        pooled = rubin_pool(coef[:, t, 1:2], V[:, t, 1, 1][:, None], dfcom=float(n - k), level=level)
        rows.append(pooled.iloc[0])
        Ls = []
        for arm_value in (0, 1):
            x = xbar.copy()
            x[1] = arm_value
            Ls.append(x)
        Lm = np.array(Ls)
        est = coef[:, t, :] @ Lm.T
        var = np.einsum("jp,ipq,jq->ij", Lm, V[:, t], Lm)
        mp = rubin_pool(est, var, dfcom=float(n - k), level=level)
        means.append(mp.assign(visit=P.labels[t], arm=[0, 1]))
    eff = pd.DataFrame(rows)[["estimate", "se", "statistic", "df", "pval", "ci_lb", "ci_ub", "fmi"]]
    eff.index = pd.Index(P.labels, name="visit")
    lsm = pd.concat(means).set_index(["visit", "arm"])[["estimate", "se", "df", "ci_lb", "ci_ub"]]
    return eff, lsm


# ---- results ----------------------------------------------------------------------------------

def _estimand_check(estimand):
    if estimand is not None and not isinstance(estimand, Estimand):
        raise ValueError(f"estimand must be a peertrial.trial.Estimand, got {type(estimand).__name__}")
    return estimand


@dataclass(frozen=True, eq=False)
class ReferenceBasedMI(Result):
    """Reference-based multiple imputation of a longitudinal outcome, pooled ANCOVA per visit.

    Returned by :func:`reference_based_mi`; printing it prints :meth:`summary` (the estimand
    first when one was given).

    Attributes
    ----------
    effects : DataFrame
        Treatment effect (intervention - control) per visit: ``estimate, se, statistic, df,
        pval, ci_lb, ci_ub, fmi`` (Rubin's rules, Barnard-Rubin df).
    means : DataFrame
        Pooled least-squares means per visit and arm, covariates at their mean.
    ice : DataFrame
        Participants with an intercurrent event, per arm and strategy, and the values imputed
        after it.
    delta : DataFrame
        The delta added after the ICE, per visit (rows) and arm (columns).
    m, level, method, estimand
        Number of imputations, confidence level, description, and the :class:`Estimand`.
    imputations : ndarray
        The ``(m, n, T)`` completed outcomes (delta included).

    Notes
    -----
    R equivalent: the ``pool()`` object of rbmi (``rbmi::pool(analyse(impute(draws(...))))``).

    References
    ----------
    .. [1] Carpenter, J. R., Roger, J. H., & Kenward, M. G. (2013). Analysis of longitudinal trials
       with protocol deviation. Journal of Biopharmaceutical Statistics, 23(6), 1352-1371.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.trial.reference_based_mi(trial, {"4": "hope_4", "12": "hope_12"}, m=3, seed=1)
    >>> list(fit.to_frame().columns[:3])
    ['estimate', 'se', 'statistic']
    """

    effects: pd.DataFrame  # treatment effect per visit (Rubin's rules)
    means: pd.DataFrame = field(repr=False)  # pooled least-squares means per visit and arm
    ice: pd.DataFrame = field(repr=False)  # participants with an ICE and values imputed after it, per arm/strategy
    delta: pd.DataFrame = field(repr=False)  # delta added after the ICE, per arm and visit
    m: int = 0
    level: float = 0.95
    method: str = ""
    estimand: Estimand | None = None
    imputations: np.ndarray = field(default=None, repr=False)  # (m, n, T) completed outcomes

    def to_frame(self) -> pd.DataFrame:
        return self.effects.copy()

    def summary(self) -> str:
        head = [self.estimand.summary(), ""] if self.estimand is not None else []
        lines = head + [self.method, f"imputations m = {self.m}; confidence level {format_number(self.level, 2)}", "",
                        "Intercurrent events (participants; values imputed after the event):",
                        format_table(_ice_display(self.ice)) if len(self.ice) else "  none"]
        if np.any(self.delta.to_numpy() != 0):
            lines += ["", "Delta added to values imputed after the event:", format_table(self.delta)]
        lines += ["", "Treatment effect at each visit (ANCOVA, Rubin's rules, Barnard-Rubin df):",
                  format_table(self.effects)]
        if len(self.ice) and (self.ice.index.get_level_values("strategy") != "MAR").any():
            lines += ["", "Rubin's variance is conservative for reference-based imputation (coverage above nominal)."]
        return "\n".join(lines)


def _ice_display(ice: pd.DataFrame) -> pd.DataFrame:
    """The ICE table with rows named "arm = 0, JR" (not the MultiIndex tuples) for summaries."""
    shown = ice.astype(int).astype(str)
    shown.index = [f"{ice.index.names[0]} = {a}, {s}" for a, s in ice.index]
    return shown


def _ice_table(P: _Prepared, strategy_label) -> pd.DataFrame:
    post = _post_ice_imputed(P)
    has = P.ice < len(P.labels)
    rows = []
    for arm_value in (0, 1):
        for s in STRATEGIES:
            sel = has & (P.a == arm_value) & (P.strat == s)
            if sel.any():
                rows.append({P.arm: arm_value, "strategy": s, "participants": int(sel.sum()),
                             "imputed_after_ice": int(post[sel].sum())})
    if not rows:
        return pd.DataFrame({P.arm: [], "strategy": [], "participants": [], "imputed_after_ice": []})
    return pd.DataFrame(rows).set_index([P.arm, "strategy"])


def _delta_table(D: np.ndarray, P: _Prepared) -> pd.DataFrame:
    post = _post_ice_imputed(P)
    out = {}
    for arm_value in (0, 1):
        sel = (P.a == arm_value)[:, None] & post
        vals = []
        for t in range(len(P.labels)):
            col = D[sel[:, t], t]
            vals.append(float(col[0]) if len(col) else 0.0)
        out[arm_value] = vals
    return pd.DataFrame(out, index=pd.Index(P.labels, name="visit")).rename_axis(columns=P.arm)


def _method(P, strategy, same_cov):
    cov = "one unstructured covariance" if same_cov else "unstructured covariance per arm"
    if P.Xs.shape[2] > 2 * len(P.labels) + P.X.shape[1] - 2:
        cov += ", covariate slopes per visit"
    return (f"Reference-based multiple imputation (approximate Bayesian: bootstrap + MMRM by REML, {cov}; as "
            f"rbmi::method_approxbayes) of {P.outcome}; strategy after the intercurrent event: {strategy}; "
            f"reference arm: {P.arm} = 0; analysis: ANCOVA y_visit ~ {' + '.join(P.names[1:])} at each visit")


def _check_m(m):
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"m (number of imputations) must be an integer of at least 2, got {m!r}")
    return int(m)


def reference_based_mi(data, visits=None, arm: str = "arm", covariates=None, *, strategy: str = "JR", ice_visit=None,
                       m: int = 20, seed=None, delta=None, same_cov: bool = True, covariates_by_visit: bool = False,
                       factors=None, outcome=None, id=None, visit=None, level: float = 0.95, arm_levels=None,
                       estimand=None) -> ReferenceBasedMI:
    """Reference-based multiple imputation (MAR, JR, CR, CIR) with ANCOVA per visit and Rubin's rules.

    Missing visits after a participant's intercurrent event (ICE) are imputed under
    ``strategy``; missing visits before it under MAR. The imputation follows Carpenter, Roger &
    Kenward (2013) with rbmi's approximate Bayesian method (a bootstrap sample stratified by arm
    per imputation, an MMRM with unstructured covariance by REML on it, one conditional
    multivariate-normal draw of each participant's missing visits); the module docstring
    (:mod:`peertrial.trial.refbased`) gives each strategy's mean and covariance. The control
    arm (``arm`` = 0) is the reference.

    Parameters
    ----------
    data : DataFrame
        Wide data (one row per participant, with ``visits``) or long data (one row per
        participant and visit, with ``outcome``, ``id`` and ``visit``), as :func:`peertrial.trial.mmrm`.
    visits : dict, optional
        Wide data: visit labels -> outcome columns in time order, e.g. ``{"4": "hope_4", "12":
        "hope_12"}``.
    arm : str, default "arm"
        Randomised arm, 0 = control (the reference), 1 = intervention (or ``arm_levels``).
    covariates : list or formula, optional
        Baseline covariates of the imputation MMRM (common slope across visits) and of the
        ANCOVA, e.g. ``["hope_0"]``. Participants with a missing covariate are dropped with a
        warning.
    strategy : str, default "JR"
        ``"JR"`` (jump to reference, default), ``"CR"`` (copy reference), ``"CIR"`` (copy
        increments in reference) or ``"MAR"`` for every participant with an ICE; or the name
        of a column giving each participant's strategy (missing = MAR), as rbmi's ``data_ice``.
    ice_visit : str, optional
        Column holding the label of the first visit affected by the participant's ICE
        (missing = no ICE), as the visit of rbmi's ``data_ice``. Default: the ICE is dropout,
        i.e. the visit after the participant's last observed one when their last visit is
        missing; intermittent missing visits before it are MAR. Observed values after an ICE
        under JR/CR/CIR are left out of the imputation model and kept in the analysis (rbmi).
    m : int, default 20
        Number of imputations (bootstrap samples).
    seed : int or Generator, optional
        Random stream (``_data.as_generator``); a seed reproduces the result.
    delta : float, sequence, or dict, optional
        Added to the values imputed after the ICE (rbmi's ``delta_template`` +
        ``apply_delta``): a number or one number per visit for the intervention arm, or
        ``{0: ..., 1: ...}`` per arm. Values observed, or imputed before the ICE, are unchanged.
    same_cov : bool, default True
        One covariance shared by the arms (rbmi's default) or one per arm.
    covariates_by_visit : bool, default False
        Give the imputation MMRM one slope per visit for each covariate (``visit:covariate``,
        as rbmi's usual ``covariates = c("BASVAL*VISIT", ...)``) instead of a common slope.
    factors : list, optional
        Covariate columns to treat as factors.
    outcome, id, visit : str, optional
        Long data only: the outcome, participant and visit columns (visits in the order of the
        column's categories, else sorted; participant-level columns must be constant within a
        participant; a missing row or outcome is a missing visit).
    level : float, default 0.95
        Confidence level, 0.95 or 95 alike.
    arm_levels : mapping or pair, optional
        How ``arm`` codes the arms when it is not 0/1.
    estimand : Estimand, optional
        The estimand this analysis targets; printed at the head of the summary.

    Returns
    -------
    ReferenceBasedMI
        ``effects``: per visit ``estimate, se, statistic, df, pval, ci_lb, ci_ub, fmi``;
        ``means``: pooled least-squares means per visit and arm (covariates at their mean);
        ``ice``: participants with an ICE and values imputed after it; ``imputations``: the
        ``(m, n, T)`` completed outcomes.

    Notes
    -----
    R equivalent: ``rbmi::draws(method = method_approxbayes(n_samples = m))``, ``impute(references =
    c(Intervention = "Control"))``, ``analyse(fun = ancova, delta = ...)`` and ``pool()`` (rbmi
    1.x). rbmi is not installable here, so the imputation is checked against the closed-form
    expected effect under each strategy in a multivariate-normal model and by simulation; its
    MMRM against ``nlme::gls`` (tests/trial/test_refbased.py).

    References
    ----------
    .. [1] Carpenter, J. R., Roger, J. H., & Kenward, M. G. (2013). Analysis of longitudinal trials
       with protocol deviation: a framework for relevant, accessible assumptions, and inference via
       multiple imputation. Journal of Biopharmaceutical Statistics, 23(6), 1352-1371.
    .. [2] Gower-Page, C., Noci, A., & Wolbers, M. (2022). rbmi: A R package for standard and
       reference-based multiple imputation methods. Journal of Open Source Software, 7(74), 4251.
    .. [3] Seaman, S. R., White, I. R., & Leacy, F. P. (2014). Comment on "Analysis of longitudinal
       trials with protocol deviations". Journal of Biopharmaceutical Statistics, 24(6), 1358-1362.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.trial.reference_based_mi(trial, {"4": "hope_4", "12": "hope_12"},
    ...                                   covariates=["hope_0"], strategy="JR", m=5, seed=1)
    >>> fit.effects.index.tolist()
    ['4', '12']
    """
    conf_level = _data.confidence_level(level)
    m = _check_m(m)
    _estimand_check(estimand)
    P = _prepare(data, visits, arm, covariates, factors, strategy, ice_visit, arm_levels, outcome, id,
                 bool(covariates_by_visit), visit)
    D = _delta_matrix(delta, P)
    completed = _impute(P, m, bool(same_cov), seed)
    completed = completed + D[None]
    effects, means = _analyse(P, completed, conf_level)
    label = strategy.upper() if strategy.upper() in STRATEGIES else f"per participant (column {strategy!r})"
    return ReferenceBasedMI(effects=effects, means=means, ice=_ice_table(P, label), delta=_delta_table(D, P),
                            m=m, level=conf_level, method=_method(P, label, same_cov), estimand=estimand,
                            imputations=completed)


# ---- tipping point -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class TippingPoint(Result):
    """Delta-adjusted reference-based MI over a range of deltas, and the delta where the conclusion changes.

    Returned by :func:`tipping_point`; ``.plot(ax=)`` draws the estimate and CI against delta.

    Attributes
    ----------
    table : DataFrame
        Per delta (the index): ``estimate, se, statistic, df, pval, ci_lb, ci_ub, significant``.
    tipping_delta : float
        The delta where the p-value crosses ``1 - level`` (and the CI crosses 0), to within
        ``tol``; NaN when the conclusion does not change within the deltas scanned.
    tol, visit, arms, level, method, estimand
        Bisection tolerance, visit analysed, arm(s) shifted, confidence level, description,
        and the :class:`Estimand`.

    Notes
    -----
    R equivalent: a loop over ``rbmi::delta_template`` / ``analyse(delta =)`` / ``pool``.

    References
    ----------
    .. [1] Cro, S., Morris, T. P., Kenward, M. G., & Carpenter, J. R. (2020). Sensitivity analysis
       for clinical trials with missing continuous outcome data using controlled multiple
       imputation: a practical guide. Statistics in Medicine, 39(21), 2815-2842.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> tp = pt.trial.tipping_point(trial, {"4": "hope_4", "12": "hope_12"}, m=3, seed=1,
    ...                             deltas=[-5.0, 0.0, 5.0])
    >>> tp.to_frame().index.tolist()
    [-5.0, 0.0, 5.0]
    """

    table: pd.DataFrame  # per delta: estimate, se, statistic, df, pval, ci_lb, ci_ub, significant
    tipping_delta: float = float("nan")
    tol: float = 0.0
    visit: str = ""
    arms: str = "intervention"
    level: float = 0.95
    method: str = ""
    estimand: Estimand | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        alpha = 1 - self.level
        head = [self.estimand.summary(), ""] if self.estimand is not None else []
        if np.isfinite(self.tipping_delta):
            tip = (f"Tipping point: delta = {format_number(self.tipping_delta)} (to within {self.tol:g}); there the "
                   f"p-value crosses {alpha:g} and the {format_number(100 * self.level, 0)}% CI crosses 0")
        else:
            tip = "No tipping point within the deltas scanned: the conclusion is the same throughout"
        shown = self.table.copy()
        shown["significant"] = np.where(shown["significant"], "yes", "no")
        shown.index = [format_number(d) for d in shown.index]
        shown.index.name = "delta"
        return "\n".join(head + [self.method, f"visit {self.visit}; delta added to values imputed after the "
                                 f"intercurrent event in: {self.arms}", "", format_table(shown), "", tip])

    def plot(self, ax=None, **kwargs):
        """Estimate and CI against delta, with the tipping point.

        Draws :func:`peertrial.plot.tipping_point_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.tipping_point_plot`: ``title``, ``xlabel``, ``ylabel``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.tipping_point_plot : what is drawn, with an example.
        """
        from peertrial.plot.missing import tipping_point_plot

        return tipping_point_plot(self, ax=ax, **kwargs)


def tipping_point(data, visits=None, arm: str = "arm", covariates=None, *, deltas=None, arms: str = "intervention",
                  analysis_visit=None, tol: float = 1e-3, strategy: str = "JR", ice_visit=None, m: int = 20, seed=None,
                  same_cov: bool = True, covariates_by_visit: bool = False, factors=None, outcome=None, id=None,
                  visit=None, level: float = 0.95, arm_levels=None, estimand=None) -> TippingPoint:
    """Tipping-point analysis: the delta at which the delta-adjusted MI's conclusion changes.

    Imputes once (:func:`reference_based_mi` with ``strategy``, ``m`` and ``seed``), then for
    each delta adds it to the values imputed after the intercurrent event in ``arms`` and
    re-analyses (ANCOVA at ``visit``, Rubin's rules). The conclusion is significance at
    ``1 - level`` (equivalently whether the CI excludes 0) at ``analysis_visit``. After the grid, the first change
    nearest delta = 0 is located by bisection to within ``tol``.

    Parameters
    ----------
    data, visits, arm, covariates, strategy, ice_visit, m, seed, same_cov, covariates_by_visit, factors, outcome, id, visit, arm_levels
        As :func:`reference_based_mi`.
    deltas : sequence of float, optional
        Deltas to scan (0 is added). Default: 21 values from 0 towards the null, far enough to
        move the estimate 3 SEs past 0 (the pooled estimate is linear in delta).
    arms : {"intervention", "control", "both"}, default "intervention"
        Where delta is added: ``"intervention"`` (default), ``"control"`` or ``"both"``.
    analysis_visit : str, optional
        Visit label of the analysis (default: the last visit).
    tol : float, default 1e-3
        Width of the final bisection bracket around the tipping point.
    level : float, default 0.95
        Confidence level; the significance level is ``1 - level``.
    estimand : Estimand, optional
        Printed at the head of the summary.

    Returns
    -------
    TippingPoint
        ``table``: per delta ``estimate, se, statistic, df, pval, ci_lb, ci_ub, significant``;
        ``tipping_delta`` (NaN with a warning when the conclusion does not change within the
        deltas); ``.plot(ax=)``.

    Notes
    -----
    R equivalent: ``rbmi::delta_template`` + ``analyse(delta = ...)`` + ``pool`` over a grid of
    deltas (the tipping-point loop is written by the user in R; rbmi 1.x).

    References
    ----------
    .. [1] Cro, S., Morris, T. P., Kenward, M. G., & Carpenter, J. R. (2020). Sensitivity analysis
       for clinical trials with missing continuous outcome data using controlled multiple
       imputation: a practical guide. Statistics in Medicine, 39(21), 2815-2842.
    .. [2] Ratitch, B., O'Kelly, M., & Tosiello, R. (2013). Missing data in clinical trials: from
       clinical assumptions to statistical analysis using pattern mixture models. Pharmaceutical
       Statistics, 12(6), 337-347.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> tp = pt.trial.tipping_point(trial, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"],
    ...                             strategy="MAR", m=5, seed=1, deltas=[-10, -5, 0, 5, 10])
    >>> tp.table.index.name
    'delta'
    """
    conf_level = _data.confidence_level(level)
    m = _check_m(m)
    _estimand_check(estimand)
    if arms not in ("intervention", "control", "both"):
        raise ValueError(f"arms must be 'intervention', 'control' or 'both', got {arms!r}")
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    P = _prepare(data, visits, arm, covariates, factors, strategy, ice_visit, arm_levels, outcome, id,
                 bool(covariates_by_visit), visit)
    avisit = P.labels[-1] if analysis_visit is None else str(analysis_visit)
    if avisit not in P.labels:
        raise ValueError(f"analysis_visit {avisit!r} is not one of the visits {P.labels}")
    t = P.labels.index(avisit)
    post = _post_ice_imputed(P)
    which = {"intervention": P.a == 1, "control": P.a == 0, "both": np.ones(len(P.a), bool)}[arms]
    mask = (post & which[:, None])[:, t]
    if not mask.any():
        raise ValueError(f"no values are imputed after an intercurrent event at visit {avisit!r} in the {arms} arm(s); "
                         "a delta there changes nothing")
    completed = _impute(P, m, bool(same_cov), seed)
    base = completed[:, :, t]
    alpha = 1 - conf_level
    cache: dict = {}

    def at(d: float) -> pd.Series:
        d = float(d)
        if d not in cache:
            y = base + d * mask[None, :]
            eff, _ = _analyse(_one_visit(P, t), y[:, :, None], conf_level)
            cache[d] = eff.iloc[0]
        return cache[d]

    if deltas is None:
        e0, s0 = at(0.0)["estimate"], at(0.0)["se"]
        slope = at(1.0)["estimate"] - e0
        if not np.isfinite(slope) or abs(slope) < 1e-12:
            raise ValueError("the delta does not move the estimate (the shifted values cancel between the arms); "
                             "choose arms='intervention' or 'control'")
        sign = np.sign(e0) if e0 != 0 else 1.0
        end = -(e0 + sign * 3 * s0) / slope
        grid = np.linspace(0.0, end, 21)
    else:
        grid = np.asarray(deltas, dtype=float).ravel()
        if grid.size == 0 or not np.isfinite(grid).all():
            raise ValueError(f"deltas must be finite numbers, got {deltas!r}")
    grid = np.unique(np.append(grid, 0.0))
    rows = [at(d) for d in grid]
    sig = np.array([r["pval"] < alpha for r in rows])
    tipping = float("nan")
    changes = np.flatnonzero(sig[1:] != sig[:-1])
    if changes.size:
        j = changes[np.argmin(np.minimum(np.abs(grid[changes]), np.abs(grid[changes + 1])))]
        lo, hi = grid[j], grid[j + 1]
        s_lo = at(lo)["pval"] < alpha
        for _ in range(200):
            if hi - lo <= tol:
                break
            mid = (lo + hi) / 2
            if (at(mid)["pval"] < alpha) == s_lo:
                lo = mid
            else:
                hi = mid
        tipping = (lo + hi) / 2
    else:
        warnings.warn(f"the conclusion does not change for deltas in [{grid.min():g}, {grid.max():g}]; widen deltas",
                      PeertrialWarning, stacklevel=_data.user_stacklevel())
    table = pd.DataFrame(rows)[["estimate", "se", "statistic", "df", "pval", "ci_lb", "ci_ub"]]
    table.index = pd.Index(grid, name="delta")
    table["significant"] = sig
    label = strategy.upper() if strategy.upper() in STRATEGIES else f"per participant (column {strategy!r})"
    return TippingPoint(table=table, tipping_delta=tipping, tol=float(tol), visit=avisit, arms=arms,
                        level=conf_level, method=_method(P, label, same_cov) + "; delta-adjusted",
                        estimand=estimand)


def _one_visit(P: _Prepared, t: int) -> _Prepared:
    """``P`` restricted to visit ``t`` (for the ANCOVA of that visit only)."""
    return _Prepared(Y=P.Y[:, t:t + 1], a=P.a, X=P.X, names=P.names, Xs=P.Xs[:, t:t + 1], Xs_ref=P.Xs_ref[:, t:t + 1],
                     ice=np.minimum(P.ice - t, 1).clip(0), strat=P.strat, labels=[P.labels[t]], index=P.index,
                     arm=P.arm, outcome=P.outcome)
