"""Simulated peer-support trials and meta-analyses, and power by simulation.

- :func:`trial` / :func:`simulate_trial` — a trial calibrated to ENRICH
  (590 participants, 7 sites, stratified permuted blocks, confounded
  engagement, readmission with death as a competing risk, hope, costs, QALYs,
  peer-worker clustering and fidelity ratings); every parameter in
  :class:`TrialParameters`.
- :func:`meta_analysis` — per-study summary statistics with heterogeneity and
  small-study (publication) bias.
"""

from peertrial.simulate.meta import META_COLUMNS, meta_analysis
from peertrial.simulate.trial import (
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
)

__all__ = [
    "DIAGNOSES",
    "DOMAINS",
    "ETHNICITIES",
    "FIDELITY_COLUMNS",
    "META_COLUMNS",
    "TRIAL_COLUMNS",
    "SimulatedTrial",
    "TrialParameters",
    "fidelity_ratings",
    "meta_analysis",
    "simulate_trial",
    "trial",
]
