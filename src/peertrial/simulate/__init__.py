"""Simulated peer-support trials and meta-analyses, and power by simulation.

- :func:`trial` / :func:`simulate_trial` — a trial calibrated to ENRICH
  (590 participants, 7 sites, stratified permuted blocks, confounded
  engagement, readmission with death as a competing risk, hope, costs, QALYs,
  peer-worker clustering and fidelity ratings); every parameter in
  :class:`TrialParameters` (module :mod:`peertrial.simulate.trial_model`).
- :func:`readmission_episodes` — the simulated trial's readmissions in long form
  (one row per readmission), for the mean cumulative function.
- :func:`meta_analysis` — per-study summary statistics with heterogeneity and
  small-study (publication) bias.
- :func:`bed_use_studies` — study-level costs and bed days saved for pooling
  cost–benefit ratios (calibrated to Trachtenberg et al. 2013).
- :func:`power`, :func:`power_curve`, :func:`sample_size` — power of the
  logistic, Cox and continuous-outcome analyses by simulation, vectorised over
  trials (:mod:`peertrial.simulate.fit`), locally or on a Dask cluster; the
  closed forms :func:`power_two_proportions`, :func:`power_schoenfeld`,
  :func:`power_t` for comparison.
"""

from peertrial.simulate.costs import BED_USE_COLUMNS, bed_use_studies
from peertrial.simulate.meta import META_COLUMNS, meta_analysis
from peertrial.simulate.power import (
    ADJUSTMENTS,
    ANALYSES,
    PowerResult,
    analyse_batch,
    power,
    power_curve,
    power_schoenfeld,
    power_t,
    power_two_proportions,
    sample_size,
    simulate_batch,
)
from peertrial.simulate.recurrent import readmission_episodes
from peertrial.simulate.trial_model import (
    DIAGNOSES,
    DOMAINS,
    ETHNICITIES,
    FIDELITY_COLUMNS,
    TRIAL_COLUMNS,
    SimulatedTrial,
    TrialParameters,
    fidelity_ratings,
    simulate_trial,
    trial,
    true_effects,
)

__all__ = [
    "readmission_episodes",
    "ADJUSTMENTS",
    "BED_USE_COLUMNS",
    "bed_use_studies",
    "ANALYSES",
    "DIAGNOSES",
    "DOMAINS",
    "ETHNICITIES",
    "FIDELITY_COLUMNS",
    "META_COLUMNS",
    "TRIAL_COLUMNS",
    "PowerResult",
    "SimulatedTrial",
    "TrialParameters",
    "analyse_batch",
    "fidelity_ratings",
    "meta_analysis",
    "power",
    "power_curve",
    "power_schoenfeld",
    "power_t",
    "power_two_proportions",
    "sample_size",
    "simulate_batch",
    "simulate_trial",
    "trial",
    "true_effects",
]
