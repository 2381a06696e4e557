"""A simulated peer-support discharge trial, calibrated to ENRICH (Gillard et al. 2022).

The data-generating model (every number below is a documented, overridable
parameter of :class:`TrialParameters`):

* **Population.** Participants are recruited at ``n_sites`` sites (unequal
  sizes), each with a diagnostic group (psychotic / personality / other), age,
  sex, ethnicity and the number of previous admissions in the preceding two
  years (at least one, as ENRICH's inclusion criterion). An unobserved
  severity ``u ~ N(0, frailty_sd²)`` raises the readmission hazard, lowers
  hope and lowers engagement with peer support; it is what makes the
  as-treated comparison biased.
* **Randomisation.** 1:1, stratified by site × diagnosis, permuted blocks of
  randomly varying size 2, 4 or 6 (:func:`peertrial.randomise.permuted_blocks`).
* **Peer workers.** ``n_peer_workers`` workers are spread over the sites; each
  intervention participant is allocated one from their site. Each worker has a
  latent fidelity ``f ~ N(0, 1)`` (seen through the fidelity ratings) which
  raises engagement, and a random effect on hope among the participants they
  support (clustering in the intervention arm only: a partially nested design).
* **Engagement (principal strata).** Every participant has a compliance type
  ``C`` — would receive at least two sessions if offered peer support —
  with ``logit P(C = 1) = c0 + covariates + compliance_frailty·u +
  compliance_fidelity·f``; ``c0`` is solved so that a fraction ``p_received``
  of the population are compliers. Compliers attend ``2 + NegBin`` sessions;
  never-takers attend 0 or 1. Only compliers offered peer support benefit, so
  the complier-average causal effect (CACE) is the effect parameter itself and
  the ITT effect is diluted by the complier fraction.
* **Readmission.** Cause-specific Weibull hazard
  ``h(t) = exp(lp)·shape/365·(t/365)^(shape-1)`` with
  ``lp = b0 + covariates + site effect + u + log(hr_complier)·C·arm``; ``b0``
  is solved so that a fraction ``p_readmit_control`` of control participants
  would be readmitted within 365 days in the absence of death and withdrawal.
  Death (constant hazard) is a competing risk; withdrawal (constant hazard)
  and day 365 censor. Further readmissions follow a Poisson process at
  ``recur_rate`` per year at risk (times ``exp(u)`` and the treatment effect);
  each stay lasts a negative binomial number of days.
* **Hope and empowerment.** Herth Hope Index (12–48) at baseline, 4 and 12
  months; Empowerment Scale (mean item score, 1–4) at baseline and 12 months.
  Follow-up scores regress on baseline, fall with severity and rise by
  ``hope_effect_4`` / ``hope_effect_12`` (+ the peer worker's random effect)
  in compliers offered peer support. Missing at random: the probability that a
  follow-up is missing depends only on observed data (age, previous
  admissions, baseline hope, arm, earlier missingness, readmission); scores are
  also missing after death.
* **Costs and QALYs.** Intervention cost = sessions × ``session_hours`` × the
  hourly cost of the peer worker's Agenda for Change band (3 or 4, mid-point
  salary × on-costs / productive hours) + ``supervision_cost`` per allocated
  participant. Total cost = intervention + bed days × ``bed_day_cost`` +
  community care (gamma). QALYs over the year = mean EQ-5D utility (which
  rises with hope) × the fraction of the year alive, less a decrement for
  days in hospital.
* **Fidelity ratings.** Each peer worker has ``fidelity_sessions`` audio-recorded
  sessions rated on the five peer-support principles (``fidelity_items`` items
  each, scored 1–4) by rater ``"A"``; a random fraction ``p_second_rater`` of
  sessions is rated independently by rater ``"B"`` for inter-rater reliability.

All randomness flows from one ``seed`` through :class:`numpy.random.SeedSequence`
streams (population, randomisation, outcomes, fidelity), so the same seed gives
the same trial on every platform.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial._lazy import lazy_module
from peertrial._results import Result

optimize = lazy_module("scipy.optimize")
special = lazy_module("scipy.special")

__all__ = [
    "TrialParameters",
    "SimulatedTrial",
    "simulate_trial",
    "trial",
    "fidelity_ratings",
    "true_effects",
    "DIAGNOSES",
    "ETHNICITIES",
    "DOMAINS",
    "TRIAL_COLUMNS",
    "FIDELITY_COLUMNS",
]

DIAGNOSES = ("psychotic", "personality", "other")
ETHNICITIES = ("White", "Black", "Asian", "Mixed", "Other")
#: The five principles of peer support (Gillard et al. 2017), the fidelity domains.
DOMAINS = (
    "shared_experience",
    "reciprocity_mutuality",
    "experiential_knowledge",
    "choice_control",
    "strengths_connections",
)
_DOMAIN_CODES = ("SE", "RM", "EK", "CC", "SC")

TRIAL_COLUMNS = (
    "id", "site", "diagnosis", "arm", "age", "female", "ethnicity", "prev_admissions",
    "peer_worker", "sessions", "received", "contact_days", "hope_0", "hope_4", "hope_12",
    "empowerment_0", "empowerment_12", "readmit_time", "readmit_status", "readmitted_12m",
    "readmissions", "followup_days", "bed_days", "cost_intervention", "cost_total", "qaly",
)  # fmt: skip
FIDELITY_COLUMNS = ("peer_worker", "rater", "session", "domain", "item", "score")

_DAYS = 365.0


@dataclass(frozen=True)
class TrialParameters:
    """Parameters of the simulated trial (defaults calibrated to ENRICH and the literature).

    =========================  =================  ==========================================================
    parameter                  default            meaning
    =========================  =================  ==========================================================
    *population*
    site_weights               None               relative site sizes (None: 7-site ENRICH-like unequal mix,
                                                  equal for other ``n_sites``)
    diagnosis_probs            (.45, .25, .30)    psychotic, personality, other
    age_mean, age_sd           38, 12             age in years, truncated to [18, 80]
    p_female                   0.5                proportion female
    ethnicity_probs            (.58,.20,.12,      White, Black, Asian, Mixed, Other
                               .05,.05)
    prev_admissions_mean       1.3                mean extra admissions beyond the first (negative binomial)
    prev_admissions_size       2.0                negative-binomial size of the above
    frailty_sd                 0.5                SD of the unobserved severity u (log-hazard scale)
    *engagement*
    n_peer_workers             32                 peer workers (spread over sites by size, ≥1 per site)
    p_received                 0.65               fraction of the population who are compliers (≥2 sessions)
    compliance_age             0.15               log-odds of compliance per 10 years of age
    compliance_female          0.2                log-odds, female
    compliance_diagnosis       (0, -0.3, 0.2)     log-odds by diagnosis
    compliance_prev            -0.2               log-odds per log(previous admissions)
    compliance_frailty         -2.0               log-odds per unit of u (sicker engage less)
    compliance_fidelity        0.4                log-odds per SD of the worker's fidelity
    sessions_mean              9.0                mean sessions attended by compliers
    sessions_size              3.0                negative-binomial size of sessions beyond 2
    sessions_fidelity          0.15               log mean sessions per SD of worker fidelity
    max_sessions               30                 cap on sessions
    p_one_session              0.35               P(one session) for never-takers (else 0)
    contact_days_mean          12.0               mean days from randomisation to first contact (gamma, shape 1.5)
    *readmission*
    p_readmit_control          0.50               P(readmitted ≤365 d) in control without death/withdrawal
    hr_complier                0.75               hazard ratio of readmission among compliers offered peer
                                                  support (CACE on the log-hazard scale)
    weibull_shape              0.8                shape of the baseline Weibull hazard
    readmit_age                -0.1               log-hazard per 10 years of age
    readmit_female             0.0                log-hazard, female
    readmit_diagnosis          (0, 0.2, -0.2)     log-hazard by diagnosis
    readmit_prev               0.4                log-hazard per log(previous admissions)
    site_sd                    0.15               SD of site effects on the log-hazard
    worker_sd_readmit          0.1                SD of peer-worker effects on the complier log-hazard
    p_death_12m                0.02               12-month risk of death (constant hazard; no questionnaires after)
    p_withdraw_12m             0.03               12-month risk of withdrawal (constant hazard, censors)
    recur_rate                 1.0                further readmissions per year at risk (× exp(u) × effect)
    los_mean, los_size         32, 1.5            length of stay per admission (negative binomial)
    *hope and empowerment*
    hope_mean                  (29, 30, 30.5)     control mean Herth Hope Index at 0, 4, 12 months
    hope_sd                    7.0                SD of baseline hope (severity, site and individual parts)
    hope_frailty               -4.0               baseline hope per unit of u (half as much added at follow-ups)
    hope_rho                   (0.55, 0.45)       regression of 4- and 12-month hope on baseline
    hope_resid_sd              (5.5, 6.0)         residual SD at 4 and 12 months
    hope_effect_4              2.0                effect on 4-month hope among compliers (CACE)
    hope_effect_12             1.5                effect on 12-month hope among compliers (CACE)
    worker_sd_hope             1.5                SD of peer-worker effects on complier hope
    site_sd_hope               1.0                SD of site effects on hope (shared by all waves)
    empowerment_mean           2.75               mean Empowerment Scale score (1–4)
    empowerment_sd             0.35               its SD at baseline
    empowerment_rho            0.5                regression of 12-month on baseline score
    empowerment_hope           0.02               empowerment per point of hope
    empowerment_effect         0.08               effect on 12-month empowerment among compliers
    empowerment_resid_sd       0.25               residual SD of 12-month empowerment
    round_scores               True               hope to whole points, empowerment to 2 decimals
    *missingness (MAR)*
    miss_intercept             (-1.6, -1.9)       log-odds of a missing 4- and 12-month follow-up
    miss_age                   -0.15              per 10 years of age
    miss_prev                  0.3                per log(previous admissions)
    miss_hope0                 -0.25              per 7 points of baseline hope
    miss_arm                   -0.2               peer support arm
    miss_after_miss            2.0                12-month, when 4-month was missing
    miss_readmitted            0.4                12-month, when readmitted within the year
    *costs and QALYs*
    session_hours              2.0                peer-worker hours per session (contact, travel, notes)
    band_salary                (24872.5, 27822)   Agenda for Change 2024/25 band 3 and 4 mid-points (£/year)
    p_band4                    0.5                fraction of peer workers on band 4
    oncost                     1.29               employer on-costs (NI, pension)
    hours_per_year             1650               productive hours per year
    supervision_cost           150.0              training/supervision per allocated participant (£)
    bed_day_cost               415.0              acute inpatient bed day (£)
    community_cost_mean        1500.0             community care cost per year (gamma, shape 2, × exp(u/2))
    utility_mean               0.65               mean EQ-5D utility over the year
    utility_hope               0.012              utility per point of 12-month hope
    utility_sd                 0.10               SD of individual mean utility
    utility_inpatient          0.10               utility decrement per day in hospital (÷365)
    *fidelity*
    fidelity_sessions          4                  rated sessions per peer worker
    fidelity_items             3                  items per domain (scored 1–4)
    p_second_rater             0.3                fraction of sessions also rated by rater B
    fidelity_mean              0.2                mean latent item score (cut-points -1, 0, 1 give scores 1-4)
    fidelity_loading           0.8                latent item score per SD of worker fidelity
    fidelity_session_sd        0.4                session-to-session SD within worker
    fidelity_item_sd           0.3                SD of item difficulties
    fidelity_rater_b_bias      0.15               rater B's systematic offset
    fidelity_noise_sd          0.5                item-level noise
    =========================  =================  ==========================================================

    Parameters
    ----------
    **fields
        Any field of the table above, by keyword (e.g. ``hr_complier=0.6``); the others keep
        their defaults. Unknown names raise ``ValueError``.

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Gillard, S., Bremner, S., Patel, A., et al. (2022). Peer support for discharge from
       inpatient mental health care versus care as usual in England (ENRICH): a parallel,
       two-group, individually randomised controlled trial. The Lancet Psychiatry, 9, 125-136.
    .. [2] Bender, R., Augustin, T., & Blettner, M. (2005). Generating survival times to
       simulate Cox proportional hazards models. Statistics in Medicine, 24, 1713-1723.
    .. [3] Angrist, J. D., Imbens, G. W., & Rubin, D. B. (1996). Identification of causal
       effects using instrumental variables. Journal of the American Statistical
       Association, 91, 444-455.

    Examples
    --------
    >>> p = pt.simulate.TrialParameters(hr_complier=0.6)
    >>> p.hr_complier, p.p_received
    (0.6, 0.65)
    >>> pt.simulate.trial(n=50, seed=1, params=p).shape
    (50, 26)
    """

    site_weights: tuple | None = None
    diagnosis_probs: tuple = (0.45, 0.25, 0.30)
    age_mean: float = 38.0
    age_sd: float = 12.0
    p_female: float = 0.5
    ethnicity_probs: tuple = (0.58, 0.20, 0.12, 0.05, 0.05)
    prev_admissions_mean: float = 1.3
    prev_admissions_size: float = 2.0
    frailty_sd: float = 0.5
    # engagement
    n_peer_workers: int = 32
    p_received: float = 0.65
    compliance_age: float = 0.15
    compliance_female: float = 0.2
    compliance_diagnosis: tuple = (0.0, -0.3, 0.2)
    compliance_prev: float = -0.2
    compliance_frailty: float = -2.0
    compliance_fidelity: float = 0.4
    sessions_mean: float = 9.0
    sessions_size: float = 3.0
    sessions_fidelity: float = 0.15
    max_sessions: int = 30
    p_one_session: float = 0.35
    contact_days_mean: float = 12.0
    # readmission
    p_readmit_control: float = 0.50
    hr_complier: float = 0.75
    weibull_shape: float = 0.8
    readmit_age: float = -0.1
    readmit_female: float = 0.0
    readmit_diagnosis: tuple = (0.0, 0.2, -0.2)
    readmit_prev: float = 0.4
    site_sd: float = 0.15
    worker_sd_readmit: float = 0.1
    p_death_12m: float = 0.02
    p_withdraw_12m: float = 0.03
    recur_rate: float = 1.0
    los_mean: float = 32.0
    los_size: float = 1.5
    # hope and empowerment
    hope_mean: tuple = (29.0, 30.0, 30.5)
    hope_sd: float = 7.0
    hope_frailty: float = -4.0
    hope_rho: tuple = (0.55, 0.45)
    hope_resid_sd: tuple = (5.5, 6.0)
    hope_effect_4: float = 2.0
    hope_effect_12: float = 1.5
    worker_sd_hope: float = 1.5
    site_sd_hope: float = 1.0
    empowerment_mean: float = 2.75
    empowerment_sd: float = 0.35
    empowerment_rho: float = 0.5
    empowerment_hope: float = 0.02
    empowerment_effect: float = 0.08
    empowerment_resid_sd: float = 0.25
    round_scores: bool = True
    # missingness
    miss_intercept: tuple = (-1.6, -1.9)
    miss_age: float = -0.15
    miss_prev: float = 0.3
    miss_hope0: float = -0.25
    miss_arm: float = -0.2
    miss_after_miss: float = 2.0
    miss_readmitted: float = 0.4
    # costs and QALYs
    session_hours: float = 2.0
    band_salary: tuple = (24872.5, 27822.0)
    p_band4: float = 0.5
    oncost: float = 1.29
    hours_per_year: float = 1650.0
    supervision_cost: float = 150.0
    bed_day_cost: float = 415.0
    community_cost_mean: float = 1500.0
    utility_mean: float = 0.65
    utility_hope: float = 0.012
    utility_sd: float = 0.10
    utility_inpatient: float = 0.10
    # fidelity
    fidelity_sessions: int = 4
    fidelity_items: int = 3
    p_second_rater: float = 0.3
    fidelity_mean: float = 0.2
    fidelity_loading: float = 0.8
    fidelity_session_sd: float = 0.4
    fidelity_item_sd: float = 0.3
    fidelity_rater_b_bias: float = 0.15
    fidelity_noise_sd: float = 0.5

    def __post_init__(self):
        for f in dataclasses.fields(self):  # lists/arrays -> tuples, so parameters stay hashable
            value = getattr(self, f.name)
            if isinstance(value, (list, np.ndarray)):
                object.__setattr__(self, f.name, tuple(np.asarray(value).tolist()))
        for name in ("p_female", "p_received", "p_readmit_control", "p_death_12m",
                     "p_withdraw_12m", "p_one_session", "p_band4", "p_second_rater"):  # fmt: skip
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if not 0.0 < self.p_readmit_control < 1.0:
            raise ValueError(f"p_readmit_control must lie strictly between 0 and 1, got {self.p_readmit_control!r}")
        for name in ("hr_complier", "weibull_shape", "sessions_mean", "los_mean", "los_size",
                     "sessions_size", "prev_admissions_size", "hope_sd", "age_sd"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.sessions_mean < 2:
            raise ValueError(f"sessions_mean must be at least 2 (compliers attend >= 2), got {self.sessions_mean!r}")
        for name in ("frailty_sd", "site_sd", "worker_sd_readmit", "worker_sd_hope", "site_sd_hope",
                     "recur_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        for name, k in (("diagnosis_probs", 3), ("ethnicity_probs", 5), ("compliance_diagnosis", 3),
                        ("readmit_diagnosis", 3), ("hope_mean", 3), ("hope_rho", 2),
                        ("hope_resid_sd", 2), ("miss_intercept", 2), ("band_salary", 2)):  # fmt: skip
            if len(getattr(self, name)) != k:
                raise ValueError(f"{name} must have {k} entries, got {getattr(self, name)!r}")
        if self.n_peer_workers < 1 or self.fidelity_sessions < 1 or self.fidelity_items < 1:
            raise ValueError("n_peer_workers, fidelity_sessions and fidelity_items must be at least 1")

    def replace(self, **changes) -> TrialParameters:
        """A copy with ``changes``; unknown names raise ``ValueError`` listing the valid ones."""
        return dataclasses.replace(self, **_check_names(changes))


def _check_names(changes: dict) -> dict:
    valid = {f.name for f in dataclasses.fields(TrialParameters)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise ValueError(
            f"unknown trial parameter(s) {unknown}; valid parameters: {', '.join(sorted(valid))}"
        )
    return {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}


def _parameters(params: TrialParameters | None, overrides: dict) -> TrialParameters:
    base = params if params is not None else TrialParameters()
    return base.replace(**overrides) if overrides else base


def seed_sequence(seed) -> np.random.SeedSequence:
    """``seed`` (None, int, SeedSequence or Generator) as a SeedSequence to spawn streams from.

    A Generator is advanced (four 63-bit draws seed the sequence), never reused.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(seed.integers(0, 2**63, size=4).tolist())
    try:
        return np.random.SeedSequence(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seed must be None, a non-negative int, a SeedSequence or a Generator; got {seed!r}") from exc


# --------------------------------------------------------------------------- population


def _site_weights(p: TrialParameters, n_sites: int) -> np.ndarray:
    if p.site_weights is not None:
        w = np.asarray(p.site_weights, dtype=float)
        if w.shape != (n_sites,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"site_weights must be {n_sites} non-negative numbers, got {p.site_weights!r}")
    elif n_sites == 7:
        w = np.array([0.20, 0.17, 0.15, 0.14, 0.12, 0.12, 0.10])
    else:
        w = np.ones(n_sites)
    return w / w.sum()


def _workers_per_site(p: TrialParameters, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder split of the peer workers over sites, at least one each."""
    n_sites = len(weights)
    if p.n_peer_workers < n_sites:
        raise ValueError(f"n_peer_workers ({p.n_peer_workers}) must be at least n_sites ({n_sites})")
    extra = p.n_peer_workers - n_sites
    quota = weights * extra
    counts = np.floor(quota).astype(int)
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[: extra - counts.sum()]] += 1
    return counts + 1


def _negbin(rng, mean, size, shape):
    """Negative binomial draws with the given mean and size (gamma–Poisson)."""
    mean = np.broadcast_to(np.asarray(mean, dtype=float), shape)
    lam = rng.gamma(size, 1.0, size=shape) * (mean / size)
    return rng.poisson(lam)


def _draw_population(rng, shape, p: TrialParameters, n_sites: int) -> dict:
    """Baseline covariates and latent severity, arrays of ``shape`` (batch, n)."""
    weights = _site_weights(p, n_sites)
    site = rng.choice(n_sites, size=shape, p=weights)
    diagnosis = rng.choice(3, size=shape, p=np.asarray(p.diagnosis_probs) / np.sum(p.diagnosis_probs))
    age = np.clip(np.floor(rng.normal(p.age_mean, p.age_sd, size=shape)), 18, 80)
    female = (rng.random(shape) < p.p_female).astype(np.int64)
    ethnicity = rng.choice(5, size=shape, p=np.asarray(p.ethnicity_probs) / np.sum(p.ethnicity_probs))
    prev = 1 + _negbin(rng, p.prev_admissions_mean, p.prev_admissions_size, shape)
    u = rng.normal(0.0, 1.0, size=shape) * p.frailty_sd
    return dict(site=site, diagnosis=diagnosis, age=age, female=female,
                ethnicity=ethnicity, prev=prev, u=u)  # fmt: skip


def _compliance_lp(pop: dict, p: TrialParameters, fidelity: np.ndarray) -> np.ndarray:
    return (
        p.compliance_age * (pop["age"] - 38.0) / 10.0
        + p.compliance_female * pop["female"]
        + np.asarray(p.compliance_diagnosis)[pop["diagnosis"]]
        + p.compliance_prev * np.log(pop["prev"])
        + p.compliance_frailty * pop["u"]
        + p.compliance_fidelity * fidelity
    )


def _readmit_lp(pop: dict, p: TrialParameters) -> np.ndarray:
    return (
        p.readmit_age * (pop["age"] - 38.0) / 10.0
        + p.readmit_female * pop["female"]
        + np.asarray(p.readmit_diagnosis)[pop["diagnosis"]]
        + p.readmit_prev * np.log(pop["prev"])
        + pop["u"]
    )


_CALIBRATION_SIZE = 40_000
_CALIBRATION_SEED = 20_220_201  # fixed: the intercepts are a deterministic function of the parameters


@functools.lru_cache(maxsize=64)
def _intercepts(p: TrialParameters, n_sites: int) -> tuple[float, float]:
    """Intercepts of compliance and readmission that hit ``p_received`` and ``p_readmit_control``.

    Solved on a fixed calibration population (``_CALIBRATION_SIZE`` draws from
    the population model, site and worker effects at their mean of zero except
    worker fidelity, drawn N(0, 1)), so they depend on the parameters only.
    """
    rng = np.random.default_rng(_CALIBRATION_SEED)
    pop = _draw_population(rng, (_CALIBRATION_SIZE,), p, n_sites)
    fidelity = rng.normal(size=_CALIBRATION_SIZE)
    clp = _compliance_lp(pop, p, fidelity)
    rlp = _readmit_lp(pop, p)

    def comply_gap(c0):
        return special.expit(c0 + clp).mean() - p.p_received

    def readmit_gap(b0):
        return (-np.expm1(-np.exp(b0 + rlp))).mean() - p.p_readmit_control

    if p.p_received <= 0.0:
        c0 = -np.inf
    elif p.p_received >= 1.0:
        c0 = np.inf
    else:
        c0 = optimize.brentq(comply_gap, -40.0, 40.0, xtol=1e-12)
    b0 = optimize.brentq(readmit_gap, -40.0, 40.0, xtol=1e-12)
    return float(c0), float(b0)


# --------------------------------------------------------------------------- outcomes


def _draw_outcomes(rng, pop: dict, arm: np.ndarray, p: TrialParameters, n_sites: int) -> dict:
    """Engagement, readmission, hope, costs for arrays of shape (batch, n).

    ``arm`` is 0/1 of the same shape. Worker- and site-level effects are drawn
    per batch row. The order and shapes of the draws are fixed, and the only
    draws whose distribution depends on ``arm`` (further readmissions and
    lengths of stay; Poisson and gamma samplers consume a variable number of
    random numbers) come last, so two calls from the same generator state
    with different ``arm`` give the same people, compliance types, event-time
    and score noise: potential outcomes (used by :func:`true_effects`).
    """
    shape = arm.shape
    batch = shape[0]
    c0, b0 = _intercepts(p, n_sites)
    weights = _site_weights(p, n_sites)
    per_site = _workers_per_site(p, weights)
    first = np.concatenate([[0], np.cumsum(per_site)[:-1]])
    n_workers = int(per_site.sum())

    # cluster-level effects
    site_eff = rng.normal(size=(batch, n_sites)) * p.site_sd
    w_fid = rng.normal(size=(batch, n_workers))
    w_hope = rng.normal(size=(batch, n_workers)) * p.worker_sd_hope
    w_readmit = rng.normal(size=(batch, n_workers)) * p.worker_sd_readmit
    w_band4 = rng.random((batch, n_workers)) < p.p_band4

    # everyone gets a (potential) worker at their site, so compliance types are
    # defined in both arms and balanced by randomisation
    site = pop["site"]
    worker = first[site] + np.floor(rng.random(shape) * per_site[site]).astype(np.int64)
    fid = np.take_along_axis(w_fid, worker, axis=1)
    complier = rng.random(shape) < special.expit(c0 + _compliance_lp(pop, p, fid))
    treated = complier & (arm == 1)

    # sessions: compliers 2 + NB, never-takers 0/1; controls 0
    extra_mean = (p.sessions_mean - 2.0) * np.exp(p.sessions_fidelity * fid)
    c_sessions = np.minimum(2 + _negbin(rng, extra_mean, p.sessions_size, shape), p.max_sessions)
    n_sessions = (rng.random(shape) < p.p_one_session).astype(np.int64)
    sessions = np.where(arm == 1, np.where(complier, c_sessions, n_sessions), 0)
    contact = np.ceil(rng.gamma(1.5, p.contact_days_mean / 1.5, size=shape))
    contact_days = np.where(sessions > 0, contact, np.nan)

    # readmission, death, withdrawal (cause-specific hazards, days)
    log_hr = treated * (np.log(p.hr_complier) + np.take_along_axis(w_readmit, worker, axis=1))
    lp = b0 + _readmit_lp(pop, p) + np.take_along_axis(site_eff, site, axis=1) + log_hr
    t_readmit = _DAYS * (rng.exponential(size=shape) * np.exp(-lp)) ** (1.0 / p.weibull_shape)
    t_death = _exponential_times(rng, p.p_death_12m, shape)
    t_withdraw = _exponential_times(rng, p.p_withdraw_12m, shape)
    t_end = np.minimum(np.minimum(t_death, t_withdraw), _DAYS)
    readmitted = t_readmit <= t_end
    died = ~readmitted & (t_death <= np.minimum(t_withdraw, _DAYS))
    time = np.where(readmitted, t_readmit, t_end)
    status = np.where(readmitted, 1, np.where(died, 2, 0))

    # hope (Herth Hope Index 12-48) and empowerment (1-4)
    h_mean = np.asarray(p.hope_mean)
    site_hope = rng.normal(size=(batch, n_sites)) * p.site_sd_hope
    sh = np.take_along_axis(site_hope, site, axis=1)
    # baseline SD is hope_sd in total: severity + site + individual parts
    e0_sd = np.sqrt(max(p.hope_sd**2 - (p.hope_frailty * p.frailty_sd) ** 2 - p.site_sd_hope**2, 1.0))
    hope0 = h_mean[0] + sh + p.hope_frailty * pop["u"] + rng.normal(size=shape) * e0_sd
    wh = np.take_along_axis(w_hope, worker, axis=1)
    hope4 = (h_mean[1] + sh + p.hope_rho[0] * (hope0 - h_mean[0]) + 0.5 * p.hope_frailty * pop["u"]
             + treated * (p.hope_effect_4 + wh) + rng.normal(size=shape) * p.hope_resid_sd[0])  # fmt: skip
    hope12 = (h_mean[2] + sh + p.hope_rho[1] * (hope0 - h_mean[0]) + 0.5 * p.hope_frailty * pop["u"]
              + treated * (p.hope_effect_12 + wh) + rng.normal(size=shape) * p.hope_resid_sd[1])  # fmt: skip
    emp0 = (p.empowerment_mean + p.empowerment_hope * (hope0 - h_mean[0])
            + rng.normal(size=shape) * np.sqrt(max(p.empowerment_sd**2 - (p.empowerment_hope * p.hope_sd) ** 2, 1e-4)))  # fmt: skip
    emp12 = (p.empowerment_mean + p.empowerment_rho * (emp0 - p.empowerment_mean)
             + p.empowerment_hope * (hope12 - h_mean[2]) + treated * p.empowerment_effect
             + rng.normal(size=shape) * p.empowerment_resid_sd)  # fmt: skip

    # missing at random: depends on observed data only (and death)
    base = (p.miss_age * (pop["age"] - 38.0) / 10.0 + p.miss_prev * np.log(pop["prev"])
            + p.miss_hope0 * (hope0 - h_mean[0]) / 7.0 + p.miss_arm * arm)  # fmt: skip
    miss4 = (rng.random(shape) < special.expit(p.miss_intercept[0] + base)) | (t_death <= 120.0)
    lp12 = p.miss_intercept[1] + base + p.miss_after_miss * miss4 + p.miss_readmitted * readmitted
    miss12 = (rng.random(shape) < special.expit(lp12)) | (t_death <= _DAYS)

    community = rng.gamma(2.0, p.community_cost_mean / 2.0, size=shape) * np.exp(pop["u"] / 2.0 - p.frailty_sd**2 / 8.0)
    utility_noise = rng.normal(size=shape) * p.utility_sd

    # further readmissions and bed days over the follow-up: the only draws whose
    # distribution depends on the arm, so they come last
    followup = np.maximum(np.ceil(t_end), 1.0)
    readmit_day = np.clip(np.ceil(time), 1.0, followup)
    at_risk = np.where(readmitted, followup - readmit_day, 0.0)
    rate = p.recur_rate * np.exp(pop["u"] + log_hr) / _DAYS
    readmissions = readmitted + rng.poisson(rate * at_risk) * readmitted
    stay_total = _negbin(rng, readmissions * p.los_mean, np.maximum(readmissions, 1) * p.los_size, shape)
    bed_days = np.where(readmitted, np.minimum(stay_total, followup - readmit_day + 1), 0)

    # costs and QALYs
    hourly = np.asarray(p.band_salary, dtype=float) * p.oncost / p.hours_per_year
    rate_w = np.where(w_band4, hourly[1], hourly[0])
    has_worker = sessions > 0
    cost_int = np.where(
        has_worker,
        sessions * p.session_hours * np.take_along_axis(rate_w, worker, axis=1) + p.supervision_cost,
        0.0,
    )
    cost_total = cost_int + bed_days * p.bed_day_cost + community
    alive = np.minimum(t_death, _DAYS) / _DAYS
    utility = np.clip(p.utility_mean + p.utility_hope * (hope12 - h_mean[2]) + utility_noise, -0.3, 1.0)
    qaly = utility * alive - p.utility_inpatient * bed_days / _DAYS

    return dict(
        worker=worker, complier=complier, sessions=sessions, contact_days=contact_days,
        readmit_time=time, readmit_status=status, readmissions=readmissions,
        followup_days=followup, bed_days=bed_days, hope0=hope0, hope4=hope4, hope12=hope12,
        emp0=emp0, emp12=emp12, miss4=miss4, miss12=miss12, cost_intervention=cost_int,
        cost_total=cost_total, qaly=qaly, worker_fidelity=w_fid, worker_band4=w_band4,
        worker_hope=w_hope,
    )  # fmt: skip


def _exponential_times(rng, risk_12m: float, shape) -> np.ndarray:
    e = rng.exponential(size=shape)
    if risk_12m <= 0.0:
        return np.full(shape, np.inf)
    if risk_12m >= 1.0:
        return np.zeros(shape)
    return e * _DAYS / -np.log1p(-risk_12m)


# --------------------------------------------------------------------------- randomisation


def _randomise(seed: int, site: np.ndarray, diagnosis: np.ndarray, n_sites: int) -> np.ndarray:
    """Arms from :func:`peertrial.randomise.permuted_blocks`, 1:1, blocks of 2/4/6.

    One schedule per site × diagnosis stratum; participants take the next
    slot of their stratum in order of enrolment (``id``).
    """
    from peertrial.randomise import permuted_blocks

    stratum = pd.DataFrame({"site": site + 1, "diagnosis": np.asarray(DIAGNOSES, dtype=object)[diagnosis]})
    stratum["seq"] = stratum.groupby(["site", "diagnosis"]).cumcount() + 1
    schedule = permuted_blocks(
        n=int(stratum["seq"].max()),
        arms=[0, 1],
        block_sizes=[2, 4, 6],
        strata={"site": list(range(1, n_sites + 1)), "diagnosis": list(DIAGNOSES)},
        seed=seed,
    )
    merged = stratum.merge(schedule[["site", "diagnosis", "seq", "arm"]], on=["site", "diagnosis", "seq"],
                           how="left", validate="one_to_one")  # fmt: skip
    return merged["arm"].to_numpy(dtype=np.int64)


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True, eq=False)
class SimulatedTrial(Result):
    """A simulated trial: participant data, fidelity ratings, peer workers, and the truth.

    Returned by :func:`simulate_trial`.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per participant, the columns of :data:`TRIAL_COLUMNS`.
    fidelity : pandas.DataFrame
        Fidelity ratings in long format, the columns of :data:`FIDELITY_COLUMNS`.
    workers : pandas.DataFrame
        One row per peer worker: ``peer_worker, site, band, fidelity`` (latent) and
        ``hope_effect`` (random effect on hope).
    params : TrialParameters
        The generating model.
    seed : int or None
        The seed, when an int was given.
    truth : dict
        The effect parameters the data were generated with (and the randomisation seed).

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Gillard, S., Bremner, S., Patel, A., et al. (2022). Peer support for discharge from
       inpatient mental health care versus care as usual in England (ENRICH): a parallel,
       two-group, individually randomised controlled trial. The Lancet Psychiatry, 9, 125-136.

    Examples
    --------
    >>> st = pt.simulate.simulate_trial(n=100, seed=1)
    >>> st.data.shape, st.fidelity.shape, st.workers.shape, st.truth["hr_complier"]
    ((100, 26), (2550, 6), (32, 5), 0.75)
    """

    data: pd.DataFrame
    fidelity: pd.DataFrame
    workers: pd.DataFrame
    params: TrialParameters
    seed: int | None
    truth: dict = field(default_factory=dict)

    def summary(self) -> str:
        d = self.data
        by_arm = d.groupby("arm")
        lines = [
            "Simulated peer-support trial",
            f"  participants: {len(d)} ({int((d.arm == 0).sum())} control, {int((d.arm == 1).sum())} peer support)"
            f" at {d.site.nunique()} sites; {len(self.workers)} peer workers; seed {self.seed}",
            f"  received >= 2 sessions (peer arm): {d.loc[d.arm == 1, 'received'].mean():.3f}",
            "  readmitted within 12 months: "
            + ", ".join(f"arm {a}: {g.readmitted_12m.mean():.3f}" for a, g in by_arm),
            f"  truth: HR among compliers {self.truth['hr_complier']}, hope CACE at 12 months "
            f"{self.truth['hope_effect_12']}",
        ]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        return self.data.copy()


def simulate_trial(
    n: int = 590,
    n_sites: int = 7,
    seed=None,
    *,
    params: TrialParameters | None = None,
    **overrides,
) -> SimulatedTrial:
    """Simulate one trial: participant data plus fidelity ratings and worker table.

    The model is described in :mod:`peertrial.simulate.trial_model` and
    :class:`TrialParameters`.

    Parameters
    ----------
    n : int, default 590
        Participants randomised.
    n_sites : int, default 7
        Recruiting sites (strata with the three diagnostic groups).
    seed : int, numpy.random.SeedSequence or None
        The same seed gives the same trial on every platform.
    params : TrialParameters, optional
        The generating model (default: calibrated to ENRICH).
    **overrides
        Fields of :class:`TrialParameters` to change, e.g. ``hr_complier=0.6``.

    Returns
    -------
    SimulatedTrial
        ``data``, ``fidelity``, ``workers``, ``params`` and the ``truth``.

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Gillard, S., Bremner, S., Patel, A., et al. (2022). Peer support for discharge from
       inpatient mental health care versus care as usual in England (ENRICH): a parallel,
       two-group, individually randomised controlled trial. The Lancet Psychiatry, 9, 125-136.
    .. [2] Bender, R., Augustin, T., & Blettner, M. (2005). Generating survival times to
       simulate Cox proportional hazards models. Statistics in Medicine, 24, 1713-1723.
    .. [3] Angrist, J. D., Imbens, G. W., & Rubin, D. B. (1996). Identification of causal
       effects using instrumental variables. Journal of the American Statistical
       Association, 91, 444-455.

    Examples
    --------
    >>> st = pt.simulate.simulate_trial(n=100, seed=1, hr_complier=0.6)
    >>> st.truth["hr_complier"], list(st.data.columns[:4])
    (0.6, ['id', 'site', 'diagnosis', 'arm'])
    """
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not isinstance(n_sites, (int, np.integer)) or n_sites < 1:
        raise ValueError(f"n_sites must be a positive integer, got {n_sites!r}")
    p = _parameters(params, overrides)
    ss = seed_sequence(seed)
    pop_ss, rand_ss, out_ss, fid_ss = ss.spawn(4)

    pop = _draw_population(np.random.default_rng(pop_ss), (1, n), p, n_sites)
    randomisation_seed = int(rand_ss.generate_state(1)[0])
    arm = _randomise(randomisation_seed, pop["site"][0], pop["diagnosis"][0], n_sites)[None, :]
    out = _draw_outcomes(np.random.default_rng(out_ss), pop, arm, p, n_sites)
    data = _assemble(pop, arm, out, p)
    workers = _worker_table(out, p, n_sites)
    fidelity = _fidelity_table(np.random.default_rng(fid_ss), workers, p)
    truth = {
        "hr_complier": p.hr_complier,
        "hope_effect_4": p.hope_effect_4,
        "hope_effect_12": p.hope_effect_12,
        "empowerment_effect": p.empowerment_effect,
        "p_received": p.p_received,
        "p_readmit_control": p.p_readmit_control,
        "randomisation_seed": randomisation_seed,
    }
    return SimulatedTrial(data=data, fidelity=fidelity, workers=workers, params=p,
                          seed=seed if isinstance(seed, (int, np.integer)) else None, truth=truth)  # fmt: skip


def trial(n: int = 590, n_sites: int = 7, seed=None, *, params=None, **overrides) -> pd.DataFrame:
    """Simulated participant data (one row per participant); see :func:`simulate_trial`.

    Parameters
    ----------
    n : int
        Participants.
    n_sites : int
        Sites.
    seed : int or numpy.random.Generator, optional
        The same seed gives the same data on every platform.
    params : TrialParameters, optional
        The generating model (default: calibrated to ENRICH).
    **overrides
        Fields of :class:`TrialParameters` to change.

    Returns
    -------
    pandas.DataFrame
        One row per participant (columns as ``simulated_data/trial.csv``).

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Gillard, S., Bremner, S., Patel, A., et al. (2022). Peer support for discharge from
       inpatient mental health care versus care as usual in England (ENRICH): a parallel,
       two-group, individually randomised controlled trial. The Lancet Psychiatry, 9, 125-136.

    Examples
    --------
    >>> pt.simulate.trial(n=20, seed=1).shape
    (20, 26)
    """
    return simulate_trial(n, n_sites, seed, params=params, **overrides).data


def fidelity_ratings(n: int = 590, n_sites: int = 7, seed=None, *, params=None, **overrides) -> pd.DataFrame:
    """Simulate the fidelity ratings belonging to ``trial(n, n_sites, seed, ...)`` (long format).

    Parameters
    ----------
    n : int, default 590
        Participants randomised.
    n_sites : int, default 7
        Recruiting sites (strata with the three diagnostic groups).
    seed : int, numpy.random.SeedSequence or None
        The same seed gives the same trial on every platform.
    params : TrialParameters, optional
        The generating model (default: calibrated to ENRICH).
    **overrides
        Fields of :class:`TrialParameters` to change, e.g. ``hr_complier=0.6``.

    Returns
    -------
    pandas.DataFrame
        One row per rated item: ``peer_worker, rater, session, domain, item, score`` (the
        input of :func:`peertrial.fidelity.score_fidelity`).

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Gillard, S., Bremner, S., Patel, A., et al. (2022). Peer support for discharge from
       inpatient mental health care versus care as usual in England (ENRICH): a parallel,
       two-group, individually randomised controlled trial. The Lancet Psychiatry, 9, 125-136.

    Examples
    --------
    >>> ratings = pt.simulate.fidelity_ratings(n=100, seed=1)
    >>> list(ratings.columns), sorted(ratings["rater"].unique())
    (['peer_worker', 'rater', 'session', 'domain', 'item', 'score'], ['A', 'B'])
    """
    return simulate_trial(n, n_sites, seed, params=params, **overrides).fidelity


def true_effects(n_sites: int = 7, *, params: TrialParameters | None = None, size: int = 400_000,
                 seed=20_220_201, **overrides) -> pd.Series:  # fmt: skip
    """Compute the population ITT and complier effects implied by the parameters (by simulation).

    Simulates ``size`` people (in 100 groups, each with its own sites and peer
    workers) twice from the same random state — everyone in control, then
    everyone offered peer support — and compares their outcomes, free of
    missing data. Returns a Series:

    ``p_complier``; ``risk_control``, ``risk_peer`` (readmitted within 12
    months, death competing), ``itt_risk_difference``, ``itt_odds_ratio``;
    ``cace_risk_difference`` (compliers' risk difference); ``itt_hazard_ratio``
    (Cox fit to both potential outcomes: a population-average hazard ratio;
    the hazards are not proportional, see ``hr_complier``); ``hr_complier``;
    ``itt_hope_12``, ``cace_hope_12``, ``itt_hope_4``, ``cace_hope_4``
    (differences in mean Herth Hope Index). The Monte Carlo SE of each
    proportion is below 0.001 at the default ``size``.

    Parameters
    ----------
    n_sites : int, default 7
        Sites of the simulated population.
    params : TrialParameters, optional
        The generating model (default: calibrated to ENRICH).
    size : int, default 400000
        People simulated.
    seed : int, default 20220201
        Seed of the population (fixed, so the truth is one number).
    **overrides
        Fields of :class:`TrialParameters` to change.

    Returns
    -------
    pandas.Series
        The effects listed above, indexed by name.

    Notes
    -----
    R equivalent: none (it simulates data from this package's trial model; no R function
    draws the same trials).

    References
    ----------
    .. [1] Angrist, J. D., Imbens, G. W., & Rubin, D. B. (1996). Identification of causal
       effects using instrumental variables. Journal of the American Statistical
       Association, 91, 444-455.

    Examples
    --------
    >>> truth = pt.simulate.true_effects(size=20000)
    >>> round(float(truth["p_complier"]), 2), float(truth["hr_complier"])
    (0.65, 0.75)
    """
    from peertrial.simulate.fit import cox_batch

    p = _parameters(params, overrides)
    groups = 100
    shape = (groups, max(size // groups, 2))
    outcomes = []
    for a in (0, 1):
        rng = np.random.default_rng(seed)
        pop = _draw_population(rng, shape, p, n_sites)
        outcomes.append(_draw_outcomes(rng, pop, np.full(shape, a), p, n_sites))
    c0, c1 = outcomes
    complier = c0["complier"]
    r0, r1 = (o["readmit_status"] == 1 for o in (c0, c1))
    risk0, risk1 = r0.mean(), r1.mean()
    odds = lambda r: r / (1 - r)  # noqa: E731
    time = np.concatenate([c0["readmit_time"], c1["readmit_time"]]).reshape(1, -1)
    event = np.concatenate([r0, r1]).reshape(1, -1).astype(float)
    arm = np.concatenate([np.zeros(r0.size), np.ones(r1.size)]).reshape(1, -1, 1)
    log_hr = cox_batch(time, event, arm)[0][0, 0]
    values = {
        "p_complier": complier.mean(),
        "risk_control": risk0,
        "risk_peer": risk1,
        "itt_risk_difference": risk1 - risk0,
        "itt_odds_ratio": odds(risk1) / odds(risk0),
        "cace_risk_difference": r1[complier].mean() - r0[complier].mean(),
        "itt_hazard_ratio": float(np.exp(log_hr)),
        "hr_complier": p.hr_complier,
    }
    for wave in ("12", "4"):
        key = f"hope{wave}"
        values[f"itt_hope_{wave}"] = c1[key].mean() - c0[key].mean()
        values[f"cace_hope_{wave}"] = c1[key][complier].mean() - c0[key][complier].mean()
    return pd.Series(values, dtype=float, name="truth")


def _assemble(pop: dict, arm: np.ndarray, out: dict, p: TrialParameters) -> pd.DataFrame:
    a = arm[0]
    n = a.shape[0]
    sessions = out["sessions"][0]
    hope = [out["hope0"][0], out["hope4"][0], out["hope12"][0]]
    emp = [out["emp0"][0], out["emp12"][0]]
    if p.round_scores:
        hope = [np.clip(np.round(h), 12, 48) for h in hope]
        emp = [np.clip(np.round(e, 2), 1.0, 4.0) for e in emp]
    hope[1] = np.where(out["miss4"][0], np.nan, hope[1])
    hope[2] = np.where(out["miss12"][0], np.nan, hope[2])
    emp[1] = np.where(out["miss12"][0], np.nan, emp[1])
    status = out["readmit_status"][0]
    worker = np.where(sessions > 0, out["worker"][0] + 1, -1)
    frame = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "site": pop["site"][0] + 1,
            "diagnosis": np.asarray(DIAGNOSES, dtype=object)[pop["diagnosis"][0]],
            "arm": a.astype(np.int64),
            "age": pop["age"][0].astype(np.int64),
            "female": pop["female"][0],
            "ethnicity": np.asarray(ETHNICITIES, dtype=object)[pop["ethnicity"][0]],
            "prev_admissions": pop["prev"][0],
            "peer_worker": _int_or_na(np.where(worker > 0, worker, np.nan)),
            "sessions": sessions,
            "received": (sessions >= 2).astype(np.int64),
            "contact_days": _int_or_na(out["contact_days"][0]),
            "hope_0": hope[0] if not p.round_scores else _int_or_na(hope[0]),
            "hope_4": hope[1] if not p.round_scores else _int_or_na(hope[1]),
            "hope_12": hope[2] if not p.round_scores else _int_or_na(hope[2]),
            "empowerment_0": emp[0],
            "empowerment_12": emp[1],
            "readmit_time": np.clip(np.ceil(out["readmit_time"][0]), 1, 365).astype(np.int64),
            "readmit_status": status.astype(np.int64),
            "readmitted_12m": (status == 1).astype(np.int64),
            "readmissions": out["readmissions"][0].astype(np.int64),
            "followup_days": out["followup_days"][0].astype(np.int64),
            "bed_days": out["bed_days"][0].astype(np.int64),
            "cost_intervention": np.round(out["cost_intervention"][0], 2),
            "cost_total": np.round(out["cost_total"][0], 2),
            "qaly": np.round(out["qaly"][0], 4),
        }
    )
    return frame[list(TRIAL_COLUMNS)]


def _int_or_na(x: np.ndarray) -> pd.arrays.IntegerArray:
    """Whole numbers with NaN as <NA> (written as an empty CSV field)."""
    x = np.asarray(x, dtype=float)
    missing = np.isnan(x)
    return pd.arrays.IntegerArray(np.where(missing, 0, x).astype(np.int64), missing)


def _worker_table(out: dict, p: TrialParameters, n_sites: int) -> pd.DataFrame:
    per_site = _workers_per_site(p, _site_weights(p, n_sites))
    return pd.DataFrame(
        {
            "peer_worker": np.arange(1, per_site.sum() + 1),
            "site": np.repeat(np.arange(1, n_sites + 1), per_site),
            "band": np.where(out["worker_band4"][0], 4, 3),
            "fidelity": out["worker_fidelity"][0],
            "hope_effect": out["worker_hope"][0],
        }
    )


def _fidelity_table(rng, workers: pd.DataFrame, p: TrialParameters) -> pd.DataFrame:
    """Ordinal (1-4) item ratings: latent = loading·f + session + item + rater + noise."""
    n_w, n_s, n_d, n_i = len(workers), p.fidelity_sessions, len(DOMAINS), p.fidelity_items
    f = workers["fidelity"].to_numpy()
    session_eff = rng.normal(size=(n_w, n_s)) * p.fidelity_session_sd
    item_eff = rng.normal(size=(n_d, n_i)) * p.fidelity_item_sd
    second = rng.random((n_w, n_s)) < p.p_second_rater
    rows = []
    cuts = np.array([-1.0, 0.0, 1.0])
    for r, rater in enumerate(("A", "B")):
        noise = rng.normal(size=(n_w, n_s, n_d, n_i)) * p.fidelity_noise_sd
        latent = (p.fidelity_mean + p.fidelity_loading * f[:, None, None, None] + session_eff[:, :, None, None]
                  + item_eff[None, None] + r * p.fidelity_rater_b_bias + noise)  # fmt: skip
        score = 1 + (latent[..., None] > cuts).sum(axis=-1)
        w, s, d, i = np.meshgrid(np.arange(n_w), np.arange(n_s), np.arange(n_d), np.arange(n_i), indexing="ij")
        keep = np.ones(score.shape, dtype=bool) if r == 0 else np.broadcast_to(second[:, :, None, None], score.shape)
        rows.append(
            pd.DataFrame(
                {
                    "peer_worker": workers["peer_worker"].to_numpy()[w[keep]],
                    "rater": rater,
                    "session": s[keep] + 1,
                    "domain": np.asarray(DOMAINS, dtype=object)[d[keep]],
                    "item": [f"{_DOMAIN_CODES[dd]}{ii + 1}" for dd, ii in zip(d[keep], i[keep])],
                    "score": score[keep].astype(np.int64),
                }
            )
        )
    table = pd.concat(rows, ignore_index=True)
    return table.sort_values(["peer_worker", "session", "rater"], kind="stable").reset_index(drop=True)
