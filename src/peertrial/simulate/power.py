"""Power and sample size by simulation, checked against closed-form power.

:func:`power` simulates ``n_trials`` trials from the model of
:mod:`peertrial.simulate.trial_model` (all its parameters can be overridden) and
analyses every one of them at once with the batched fits of
:mod:`peertrial.simulate.fit`:

=============  =========================================================  ==================
analysis       model (ITT, randomised arm)                                test
=============  =========================================================  ==================
``logistic``   ``readmitted_12m ~ arm (+ adjust)``                        Wald z on log OR
``cox``        time to first readmission, death and withdrawal censored   Wald z on log HR
               (cause-specific hazard), ``~ arm (+ adjust)``
``ttest``      ``hope_12 ~ arm`` on complete cases (pooled two-sample t)  t on n - 2 df
``ancova``     ``hope_12 ~ arm + hope_0 (+ adjust)`` on complete cases    t on n - p df
=============  =========================================================  ==================

Power is the fraction of trials with two-sided p < ``alpha``, with its Monte
Carlo standard error ``sqrt(P(1-P)/n_trials)``.

Trials are simulated in chunks of ``chunk_size``; chunk ``i`` draws from
``SeedSequence(seed).spawn(n_chunks)[i]``. Chunks run in this process
(``workers=1``), in local processes (:mod:`concurrent.futures`), or on a Dask
cluster (``client=``); the chunking never depends on where chunks run, so the
same seed gives identical results everywhere.

Power simulations allocate exactly ``n // 2`` participants per trial to peer
support by complete randomisation (rather than stratified blocks; this changes
power negligibly) and keep event times continuous (no ties).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_table
from peertrial.simulate.fit import cox_batch, logistic_batch, ols_batch
from peertrial.simulate.trial_model import (
    TrialParameters,
    _draw_outcomes,
    _draw_population,
    _parameters,
    seed_sequence,
)

stats = lazy_module("scipy.stats")

__all__ = [
    "ANALYSES",
    "ADJUSTMENTS",
    "PowerResult",
    "power",
    "power_curve",
    "sample_size",
    "simulate_batch",
    "analyse_batch",
    "power_two_proportions",
    "power_schoenfeld",
    "power_t",
]

ANALYSES = ("logistic", "cox", "ttest", "ancova")
#: Covariates the models may adjust for (site and diagnosis enter as dummies).
ADJUSTMENTS = ("age", "female", "prev_admissions", "diagnosis", "site")


# --------------------------------------------------------------------------- closed form


def _z(alpha: float) -> float:
    return stats.norm.isf(alpha / 2.0)


def _number(value, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if np.isnan(x):
        raise ValueError(f"{name} must be a number, got NaN")
    return x


def _probability(value, name: str) -> float:
    """A probability strictly between 0 and 1."""
    x = _number(value, name)
    if not 0 < x < 1:
        raise ValueError(f"{name} must be a probability strictly between 0 and 1, got {value!r}")
    return x


def _at_least(value, name: str, low: float, what: str) -> float:
    x = _number(value, name)
    if not (x >= low and np.isfinite(x)):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return x


def _positive(value, name: str) -> float:
    x = _number(value, name)
    if not (x > 0 and np.isfinite(x)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return x


def power_two_proportions(
    p0: float, p1: float, n0: float, n1: float | None = None, alpha: float = 0.05, *, pooled: bool = False
) -> float:
    """Power of the two-sided two-proportion z-test (normal approximation).

    With ``V1 = p0(1-p0)/n0 + p1(1-p1)/n1`` (the variance of the difference)
    and ``V0`` the variance under the null — ``V1`` itself when
    ``pooled=False`` (Wald test, as the logistic-regression Wald test), or
    ``p̄(1-p̄)(1/n0 + 1/n1)`` when ``pooled=True`` (R's
    ``power.prop.test(strict = TRUE)`` for equal arms) —
    power ``= Φ((|Δ| - z sqrt(V0))/sqrt(V1)) + Φ((-|Δ| - z sqrt(V0))/sqrt(V1))``.

    ``p0``, ``p1`` and ``alpha`` must lie strictly in (0, 1) and the arm sizes be at
    least 1 (as ``power.prop.test``); otherwise ``ValueError``. ``p1 == p0`` gives ``alpha``.

    Parameters
    ----------
    p0, p1 : float
        Event probabilities in the control and intervention arms.
    n0, n1 : float
        Participants per arm (``n1`` defaults to ``n0``).
    alpha : float
        Two-sided significance level.
    pooled : bool
        Use the pooled variance under the null in the test statistic.

    Returns
    -------
    float
        Power of the two-sided normal-approximation test.

    Notes
    -----
    R equivalent: ``stats::power.prop.test`` (R 4.2.2) gives nearly the same figure for equal
    arms (it uses the pooled variance; ``pooled=True`` here).

    References
    ----------
    .. [1] Fleiss, J. L., Levin, B., & Paik, M. C. (2003). Statistical Methods for Rates and
       Proportions (3rd ed.). Wiley.

    Examples
    --------
    >>> round(pt.simulate.power_two_proportions(0.5, 0.4, 400), 4)
    0.8152
    """
    p0, p1, alpha = _probability(p0, "p0"), _probability(p1, "p1"), _probability(alpha, "alpha")
    n0 = _at_least(n0, "n0", 1, "at least 1 per arm")
    n1 = n0 if n1 is None else _at_least(n1, "n1", 1, "at least 1 per arm")
    diff = abs(p1 - p0)
    v1 = p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1
    if pooled:
        pbar = (n0 * p0 + n1 * p1) / (n0 + n1)
        v0 = pbar * (1 - pbar) * (1 / n0 + 1 / n1)
    else:
        v0 = v1
    z = _z(alpha) * np.sqrt(v0)
    return float(stats.norm.cdf((diff - z) / np.sqrt(v1)) + stats.norm.cdf((-diff - z) / np.sqrt(v1)))


def power_schoenfeld(hr: float, events: float, p_treated: float = 0.5, alpha: float = 0.05) -> float:
    """Power of the log-rank / Cox test for hazard ratio ``hr`` (Schoenfeld 1983).

    With ``d`` expected events and a fraction ``π`` allocated to treatment,
    ``z = |log hr| sqrt(d π (1-π))``; power ``= Φ(z - z_{1-α/2}) + Φ(-z - z_{1-α/2})``.
    At ``hr = 1`` (no effect) this is ``2 Φ(-z_{1-α/2}) = α``.

    ``hr`` and ``events`` must be positive and finite, ``p_treated`` and ``alpha`` in
    (0, 1); otherwise ``ValueError``.

    Parameters
    ----------
    hr : float
        True hazard ratio.
    events : float
        Expected number of events.
    p_treated : float
        Proportion allocated to the intervention.
    alpha : float
        Two-sided significance level.

    Returns
    -------
    float
        Power of the log-rank test.

    Notes
    -----
    R equivalent: none in base R (``gsDesign::nEvents`` inverts the same formula).

    References
    ----------
    .. [1] Schoenfeld, D. (1981). The asymptotic properties of nonparametric tests for comparing
       survival distributions. Biometrika, 68, 316-319.

    Examples
    --------
    >>> round(pt.simulate.power_schoenfeld(0.8, 300), 4)
    0.4891
    """
    hr, events = _positive(hr, "hr"), _positive(events, "events")
    p_treated, alpha = _probability(p_treated, "p_treated"), _probability(alpha, "alpha")
    z = abs(np.log(hr)) * np.sqrt(events * p_treated * (1 - p_treated))
    return float(stats.norm.cdf(z - _z(alpha)) + stats.norm.cdf(-z - _z(alpha)))


def power_t(delta: float, sd: float, n0: float, n1: float | None = None, alpha: float = 0.05) -> float:
    """Exact power of the two-sided pooled two-sample t-test (noncentral t).

    Noncentrality ``λ = delta / (sd sqrt(1/n0 + 1/n1))`` on ``n0 + n1 - 2`` df.
    ``sd`` must be positive, each arm at least 2 (as ``power.t.test``), ``delta`` finite
    and ``alpha`` in (0, 1); otherwise ``ValueError``.

    Parameters
    ----------
    delta : float
        True difference in means (intervention minus control).
    sd : float
        Common standard deviation.
    n0, n1 : float
        Participants per arm (``n1`` defaults to ``n0``).
    alpha : float
        Two-sided significance level.

    Returns
    -------
    float
        Power of the two-sided two-sample t-test.

    Notes
    -----
    R equivalent: ``stats::power.t.test(n, delta, sd, sig.level, strict = TRUE)`` (R 4.2.2) for
    equal arms.

    References
    ----------
    .. [1] Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences (2nd ed.).
       Erlbaum.

    Examples
    --------
    >>> round(pt.simulate.power_t(1.0, 2.0, 64), 4)
    0.8015
    """
    delta = _number(delta, "delta")
    if not np.isfinite(delta):
        raise ValueError(f"delta must be finite, got {delta!r}")
    sd, alpha = _positive(sd, "sd"), _probability(alpha, "alpha")
    n0 = _at_least(n0, "n0", 2, "at least 2 per arm")
    n1 = n0 if n1 is None else _at_least(n1, "n1", 2, "at least 2 per arm")
    df = n0 + n1 - 2
    ncp = delta / (sd * np.sqrt(1 / n0 + 1 / n1))
    crit = stats.t.isf(alpha / 2, df)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))


# --------------------------------------------------------------------------- simulation


def simulate_batch(n: int, n_trials: int, seed=None, *, n_sites: int = 7, params: TrialParameters | None = None, **overrides) -> dict:
    """Simulate ``n_trials`` trials of ``n`` participants as arrays of shape (n_trials, n).

    Exactly ``n // 2`` participants per trial are allocated to peer support by complete
    randomisation; event times are continuous.

    Parameters
    ----------
    n : int
        Participants per trial.
    n_trials : int
        Trials.
    seed : int, numpy.random.SeedSequence or None
        The same seed gives the same trials.
    n_sites : int, default 7
        Sites of each simulated trial.
    params : TrialParameters, optional
        The generating model (default: calibrated to ENRICH).
    **overrides
        Fields of :class:`TrialParameters` to change.

    Returns
    -------
    dict of str to numpy.ndarray
        The baseline covariates (``site``, ``diagnosis``, ``age``, ``female``, ``prev``),
        ``arm``, ``readmit_time`` (continuous days), ``readmit_status`` (0/1/2),
        ``readmitted_12m``, ``hope0`` and ``hope12`` (NaN when missing), ``complier`` and
        ``sessions``, each of shape (n_trials, n).

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Arnold, B. F., Hogan, D. R., Colford, J. M., & Hubbard, A. E. (2011). Simulation
       methods to estimate design power: an overview for applied research. BMC Medical
       Research Methodology, 11, 94.

    Examples
    --------
    >>> sim = pt.simulate.simulate_batch(100, 20, seed=1)
    >>> sim["arm"].shape, sim["arm"].sum(axis=1)[:3].tolist()
    ((20, 100), [50, 50, 50])
    """
    p = _parameters(params, overrides)
    rng = np.random.default_rng(seed_sequence(seed))
    shape = (n_trials, n)
    pop = _draw_population(rng, shape, p, n_sites)
    arm = (np.argsort(rng.random(shape), axis=1) < n // 2).astype(np.int64)
    out = _draw_outcomes(rng, pop, arm, p, n_sites)
    hope12 = np.where(out["miss12"], np.nan, out["hope12"])
    return dict(
        site=pop["site"], diagnosis=pop["diagnosis"], age=pop["age"], female=pop["female"],
        prev=pop["prev"], arm=arm, readmit_time=out["readmit_time"],
        readmit_status=out["readmit_status"], readmitted_12m=(out["readmit_status"] == 1).astype(float),
        hope0=out["hope0"], hope12=hope12, complier=out["complier"], sessions=out["sessions"],
    )  # fmt: skip


def _design(sim: dict, adjust, n_sites: int) -> np.ndarray:
    """Columns ``arm`` then the adjustment covariates, shape (B, n, p)."""
    cols = [sim["arm"].astype(float)]
    for name in adjust:
        if name == "age":
            cols.append((sim["age"] - 38.0) / 10.0)
        elif name == "female":
            cols.append(sim["female"].astype(float))
        elif name == "prev_admissions":
            cols.append(np.log(sim["prev"]))
        elif name == "diagnosis":
            cols += [(sim["diagnosis"] == k).astype(float) for k in (1, 2)]
        elif name == "site":
            cols += [(sim["site"] == k).astype(float) for k in range(1, n_sites)]
        elif name == "hope_0":
            cols.append((sim["hope0"] - 29.0) / 7.0)
    return np.stack(cols, axis=-1)


def analyse_batch(sim: dict, analyses=("logistic", "cox", "ttest"), adjust=(), n_sites: int = 7) -> dict:
    """Fit each ITT analysis to every simulated trial at once (batched fits).

    Parameters
    ----------
    sim : dict
        Trials from :func:`simulate_batch`.
    analyses : sequence of str, default ("logistic", "cox", "ttest")
        Any of ``"logistic"``, ``"cox"``, ``"ttest"``, ``"ancova"`` (see the module
        docstring).
    adjust : sequence of str, default ()
        Covariates from :data:`ADJUSTMENTS` for the logistic, Cox and ANCOVA models.
    n_sites : int, default 7
        Sites of the simulated trials (for the site dummies).

    Returns
    -------
    dict
        ``{analysis: (estimate, se, pval)}``, each an array over trials: the log odds
        ratio, log hazard ratio or mean difference of the arm.

    Notes
    -----
    R equivalent: per trial, ``stats::glm(readmitted_12m ~ arm, family = binomial)``,
    ``survival::coxph(Surv(time, status == 1) ~ arm)`` (survival 3.5-3; Efron ties) and
    ``stats::lm(hope_12 ~ arm)`` (R 4.2.2), checked in ``tests/simulate``.

    References
    ----------
    .. [1] Arnold, B. F., Hogan, D. R., Colford, J. M., & Hubbard, A. E. (2011). Simulation
       methods to estimate design power: an overview for applied research. BMC Medical
       Research Methodology, 11, 94.

    Examples
    --------
    >>> sim = pt.simulate.simulate_batch(100, 20, seed=1)
    >>> fits = pt.simulate.analyse_batch(sim, analyses=("logistic", "ttest"))
    >>> sorted(fits), fits["logistic"][0].shape
    (['logistic', 'ttest'], (20,))
    """
    X = _design(sim, adjust, n_sites)
    ones = np.ones(X.shape[:2] + (1,))
    out = {}
    for name in analyses:
        if name == "logistic":
            coef, se, _ = logistic_batch(sim["readmitted_12m"], np.concatenate([ones, X], axis=-1))
            est, s = coef[:, 1], se[:, 1]
            p = 2 * stats.norm.sf(np.abs(est / s))
        elif name == "cox":
            coef, se, _ = cox_batch(sim["readmit_time"], (sim["readmit_status"] == 1).astype(float), X)
            est, s = coef[:, 0], se[:, 0]
            p = 2 * stats.norm.sf(np.abs(est / s))
        elif name == "ttest":
            coef, se, df = ols_batch(sim["hope12"], np.concatenate([ones, X[..., :1]], axis=-1))
            est, s = coef[:, 1], se[:, 1]
            p = 2 * stats.t.sf(np.abs(est / s), df)
        elif name == "ancova":
            Xa = np.concatenate([ones, X, _design(sim, ("hope_0",), n_sites)[..., 1:]], axis=-1)
            coef, se, df = ols_batch(sim["hope12"], Xa)
            est, s = coef[:, 1], se[:, 1]
            p = 2 * stats.t.sf(np.abs(est / s), df)
        else:
            raise ValueError(f"unknown analysis {name!r}; choose from {', '.join(ANALYSES)}")
        out[name] = (est, s, p)
    return out


def _run_chunk(task: tuple) -> dict:
    """Simulate and analyse one chunk (top level so that processes and Dask can pickle it)."""
    n, size, blocks, n_sites, params, analyses, adjust = task
    parts = [analyse_batch(simulate_batch(n, b, ss, n_sites=n_sites, params=params), analyses, adjust, n_sites)
             for b, ss in blocks]
    return {name: tuple(np.concatenate([part[name][j] for part in parts]) for j in range(3)) for name in parts[0]}


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class PowerResult(Result):
    """Power by simulation: one row per analysis (returned by :func:`power`).

    Attributes
    ----------
    power : pandas.Series
        By analysis: the fraction of simulated trials with p < ``alpha``.
    mc_se : pandas.Series
        Its Monte Carlo SE ``sqrt(P(1 - P) / n_trials)``.
    ci_lb, ci_ub : pandas.Series
        Its Wilson interval at ``level``.
    estimates : pandas.DataFrame
        Every trial's ``trial, analysis, estimate, se, pval``.
    n, n_trials : int
        Participants per trial and trials simulated.
    alpha : float
        Two-sided significance level.
    adjust : tuple
        Adjustment covariates.
    seed : object
        The seed given.
    params : TrialParameters
        The generating model.
    level : float
        Confidence level of the Wilson interval.

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Arnold, B. F., Hogan, D. R., Colford, J. M., & Hubbard, A. E. (2011). Simulation
       methods to estimate design power: an overview for applied research. BMC Medical
       Research Methodology, 11, 94.

    Examples
    --------
    >>> res = pt.simulate.power(300, 50, seed=1, workers=1)
    >>> list(res.power.index), res.estimates.shape
    (['logistic', 'cox', 'ttest'], (150, 5))
    """

    power: pd.Series
    mc_se: pd.Series
    ci_lb: pd.Series
    ci_ub: pd.Series
    estimates: pd.DataFrame
    n: int
    n_trials: int
    alpha: float
    adjust: tuple
    seed: object
    params: TrialParameters = field(repr=False)
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        est = self.estimates.groupby("analysis", sort=False)
        return pd.DataFrame(
            {
                "power": self.power,
                "mc_se": self.mc_se,
                "ci_lb": self.ci_lb,
                "ci_ub": self.ci_ub,
                "mean_estimate": est["estimate"].mean(),
                "sd_estimate": est["estimate"].std(),
                "mean_se": est["se"].mean(),
            }
        ).rename_axis("analysis")

    def summary(self) -> str:
        adj = ", ".join(self.adjust) if self.adjust else "none"
        head = (
            f"Power by simulation: {self.n_trials} trials of n = {self.n}, two-sided alpha = {self.alpha}\n"
            f"adjusted for: {adj}; seed: {self.seed}\n"
            "estimates: log odds ratio (logistic), log hazard ratio (cox), mean difference (ttest, ancova)\n"
        )
        return head + format_table(self.to_frame(), digits=4)


# --------------------------------------------------------------------------- drivers


SEED_BLOCK = 25  # trials per spawned seed (fixed: results must not depend on chunk_size)


def _tasks(n, n_trials, seed, n_sites, params, analyses, adjust, chunk_size):
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    # the trials are drawn in fixed blocks of SEED_BLOCK, one spawned seed each, so the result for a seed does
    # not depend on chunk_size or the number of workers; a chunk runs whole blocks
    sizes = [SEED_BLOCK] * (n_trials // SEED_BLOCK) + ([n_trials % SEED_BLOCK] if n_trials % SEED_BLOCK else [])
    blocks = list(zip(sizes, seed_sequence(seed).spawn(len(sizes))))
    per = max(1, -(-chunk_size // SEED_BLOCK))
    chunks = [tuple(blocks[i : i + per]) for i in range(0, len(blocks), per)]
    return [(n, sum(b for b, _ in c), c, n_sites, params, tuple(analyses), tuple(adjust)) for c in chunks]


def _execute(tasks, workers, client, progress, desc):
    """Run the chunks (here, in processes or on Dask) and return results in chunk order."""
    from peertrial._progress import progress_bar

    tqdm = progress_bar()
    total = sum(t[1] for t in tasks)
    results = [None] * len(tasks)
    if progress is None:
        import sys

        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    with tqdm(total=total, disable=not progress, desc=desc, unit="trial") as bar:
        if client is not None:
            from dask.distributed import as_completed as dask_completed

            futures = client.map(_run_chunk, tasks, pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in dask_completed(futures):
                i = index[fut.key]
                results[i] = fut.result()
                bar.update(tasks[i][1])
        elif workers == 1 or len(tasks) == 1:
            for i, task in enumerate(tasks):
                results[i] = _run_chunk(task)
                bar.update(task[1])
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(_run_chunk, task): i for i, task in enumerate(tasks)}
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    bar.update(tasks[i][1])
    return results


def _check_options(analyses, adjust, alpha, workers):
    bad = [a for a in analyses if a not in ANALYSES]
    if bad or not analyses:
        raise ValueError(f"unknown analysis {bad}; choose from {', '.join(ANALYSES)}")
    bad = [a for a in adjust if a not in ADJUSTMENTS]
    if bad:
        raise ValueError(f"cannot adjust for {bad}; choose from {', '.join(ADJUSTMENTS)}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if workers is not None and (not isinstance(workers, (int, np.integer)) or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")


def power(
    n: int = 590,
    n_trials: int = 1000,
    *,
    analyses=("logistic", "cox", "ttest"),
    alpha: float = 0.05,
    adjust=(),
    seed=None,
    n_sites: int = 7,
    params: TrialParameters | None = None,
    workers: int | None = None,
    client=None,
    chunk_size: int = 250,
    progress: bool | None = None,
    level: float = 0.95,
    **overrides,
) -> PowerResult:
    """Power of the ITT analyses of a trial of ``n`` participants, by simulation.

    Parameters
    ----------
    n : int, default 590
        Participants per trial (``n // 2`` allocated to peer support).
    n_trials : int, default 1000
        Number of simulated trials.
    analyses : sequence of str, default ("logistic", "cox", "ttest")
        Any of ``"logistic"``, ``"cox"``, ``"ttest"``, ``"ancova"`` (see the module docstring).
    alpha : float, default 0.05
        Two-sided significance level.
    adjust : sequence of str, default ()
        Covariates for the logistic, Cox and ANCOVA models, from
        ``"age", "female", "prev_admissions", "diagnosis", "site"``.
    seed : int, numpy.random.SeedSequence or None
        The same seed gives the same result for any ``workers``/``client``.
    n_sites : int, default 7
        Sites of each simulated trial.
    params : TrialParameters, optional
        The trial model (default: calibrated to ENRICH).
    workers : int, optional
        Local processes (default: all cores, at most one per chunk); 1 runs in this process.
    client : dask.distributed.Client, optional
        Chunks then run on its cluster.
    chunk_size : int, default 250
        Trials simulated and fitted per batch (memory ~ chunk_size x n), rounded up to whole
        blocks of 25 trials; each block of 25 has its own seed (``SeedSequence.spawn``), so
        results for a given seed do not depend on ``chunk_size``, ``workers`` or ``client``.
    progress : bool, optional
        Show a tqdm progress bar on stderr; default (None): only when stderr is a terminal.
    level : float, default 0.95
        Confidence level of the Wilson interval for the power, 0.95 or 95 alike.
    **overrides
        Fields of :class:`TrialParameters` to change, e.g. ``hr_complier=0.7, p_received=0.8``.

    Returns
    -------
    PowerResult
        Power of each analysis with its Monte Carlo SE and Wilson interval, and every
        trial's estimate.

    Notes
    -----
    R equivalent: none for the simulation; each trial's fit equals R's (see
    :func:`analyse_batch`), and the closed forms :func:`power_two_proportions`,
    :func:`power_schoenfeld` and :func:`power_t` (``stats::power.prop.test``,
    ``stats::power.t.test``) check it.

    References
    ----------
    .. [1] Arnold, B. F., Hogan, D. R., Colford, J. M., & Hubbard, A. E. (2011). Simulation
       methods to estimate design power: an overview for applied research. BMC Medical
       Research Methodology, 11, 94.

    Examples
    --------
    >>> res = pt.simulate.power(300, 50, seed=1, workers=1, analyses=("logistic",))
    >>> res.n_trials, float(res.power["logistic"]) == float((res.estimates["pval"] < 0.05).mean())
    (50, True)
    """
    level = _data.confidence_level(level)
    analyses, adjust = tuple(analyses), tuple(adjust)
    _check_options(analyses, adjust, alpha, workers)
    if not isinstance(n, (int, np.integer)) or n < 4:
        raise ValueError(f"n must be an integer >= 4, got {n!r}")
    p = _parameters(params, overrides)
    tasks = _tasks(n, n_trials, seed, n_sites, p, analyses, adjust, chunk_size)
    if workers is None:
        workers = min(os.cpu_count() or 1, len(tasks))
    results = _execute(tasks, workers, client, progress, desc=f"power n={n}")
    return _collect(results, analyses, n, n_trials, alpha, adjust, seed, p, level)


def _collect(results, analyses, n, n_trials, alpha, adjust, seed, p, level=0.95) -> PowerResult:
    frames = []
    for name in analyses:
        est = np.concatenate([r[name][0] for r in results])
        se = np.concatenate([r[name][1] for r in results])
        pv = np.concatenate([r[name][2] for r in results])
        frames.append(pd.DataFrame({"trial": np.arange(1, n_trials + 1), "analysis": name,
                                    "estimate": est, "se": se, "pval": pv}))  # fmt: skip
    estimates = pd.concat(frames, ignore_index=True)
    hits = estimates.assign(sig=estimates["pval"] < alpha).groupby("analysis", sort=False)["sig"]
    pw = hits.mean().astype(float)
    mc_se = np.sqrt(pw * (1 - pw) / n_trials)
    z = stats.norm.isf((1 - level) / 2)
    centre = (pw + z**2 / (2 * n_trials)) / (1 + z**2 / n_trials)
    half = z / (1 + z**2 / n_trials) * np.sqrt(pw * (1 - pw) / n_trials + z**2 / (4 * n_trials**2))
    return PowerResult(power=pw, mc_se=mc_se, ci_lb=centre - half, ci_ub=centre + half, estimates=estimates,
                       n=int(n), n_trials=int(n_trials), alpha=float(alpha), adjust=tuple(adjust),
                       seed=seed, params=p, level=level)  # fmt: skip


def power_curve(ns, n_trials: int = 1000, *, seed=None, **kwargs) -> pd.DataFrame:
    """Simulate power at each trial size in ``ns``.

    Each size draws from its own ``SeedSequence(seed).spawn(len(ns))`` stream.

    Parameters
    ----------
    ns : sequence of int
        Trial sizes.
    n_trials : int, default 1000
        Trials simulated per size.
    seed : int, numpy.random.SeedSequence or None
        Seed of the whole curve.
    **kwargs
        Other arguments of :func:`power` (``analyses``, ``alpha``, ``adjust``, ``workers``,
        model overrides, ...).

    Returns
    -------
    pandas.DataFrame
        One row per size and analysis: ``n, analysis, power, mc_se, ci_lb, ci_ub``.

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Arnold, B. F., Hogan, D. R., Colford, J. M., & Hubbard, A. E. (2011). Simulation
       methods to estimate design power: an overview for applied research. BMC Medical
       Research Methodology, 11, 94.

    Examples
    --------
    >>> curve = pt.simulate.power_curve([200, 400], 50, seed=1, workers=1, analyses=("logistic",))
    >>> curve.columns.tolist(), curve["n"].tolist()
    (['n', 'analysis', 'power', 'mc_se', 'ci_lb', 'ci_ub'], [200, 400])
    """
    ns = [int(x) for x in ns]
    if not ns:
        raise ValueError("ns must list at least one trial size")
    root = seed_sequence(seed)
    rows = []
    for size, ss in zip(ns, root.spawn(len(ns))):
        res = power(size, n_trials, seed=ss, **kwargs)
        frame = res.to_frame()[["power", "mc_se", "ci_lb", "ci_ub"]].reset_index()
        frame.insert(0, "n", size)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def sample_size(target: float = 0.8, ns=None, *, analysis: str = "logistic", n_trials: int = 1000,
                seed=None, **kwargs) -> dict:  # fmt: skip
    """Smallest trial size reaching ``target`` power for one analysis, by simulation.

    Power is simulated on the grid ``ns`` (default 200 to 1400 by 100), a
    probit-linear curve ``Φ⁻¹(power) = a + b·sqrt(n)`` (the form of every
    normal-approximation power formula) is fitted by least squares to the grid
    points, and solved for ``target``.

    Parameters
    ----------
    target : float, default 0.8
        Power wanted, in (0, 1).
    ns : sequence of int, optional
        Grid of trial sizes (default 200 to 1400 by 100).
    analysis : str, default "logistic"
        One of ``"logistic"``, ``"cox"``, ``"ttest"``, ``"ancova"``.
    n_trials : int, default 1000
        Trials simulated per grid point.
    seed : int, numpy.random.SeedSequence or None
        Seed of the whole search.
    **kwargs
        Other arguments of :func:`power` (``alpha``, ``adjust``, ``workers``, model
        overrides, ...).

    Returns
    -------
    dict
        ``{"n": int, "curve": pandas.DataFrame}``: the size (even, equal arms) and the
        simulated power curve of :func:`power_curve`.

    Notes
    -----
    R equivalent: none for the simulation (``stats::power.t.test`` and
    ``stats::power.prop.test`` give the closed-form answer for the t-test and the
    proportions).

    References
    ----------
    .. [1] Arnold, B. F., Hogan, D. R., Colford, J. M., & Hubbard, A. E. (2011). Simulation
       methods to estimate design power: an overview for applied research. BMC Medical
       Research Methodology, 11, 94.

    Examples
    --------
    >>> res = pt.simulate.sample_size(0.8, ns=[300, 600, 900], analysis="ttest", n_trials=50, seed=1, workers=1)
    >>> res["n"] % 2, res["curve"].shape
    (0, (3, 6))
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be a power in (0, 1), got {target!r}")
    ns = list(range(200, 1401, 100)) if ns is None else list(ns)
    curve = power_curve(ns, n_trials, seed=seed, analyses=(analysis,), **kwargs)
    pw = curve["power"].clip(0.5 / n_trials, 1 - 0.5 / n_trials).to_numpy()
    x = np.sqrt(curve["n"].to_numpy(dtype=float))
    b, a = np.polyfit(x, stats.norm.ppf(pw), 1)
    if b <= 0:
        raise ValueError("simulated power does not increase with n on this grid; widen ns or add trials")
    n_needed = ((stats.norm.ppf(target) - a) / b) ** 2
    n_needed = int(2 * np.ceil(n_needed / 2))  # equal arms
    return {"n": n_needed, "curve": curve}

