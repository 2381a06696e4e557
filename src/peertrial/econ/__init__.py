"""Health economics: cost–benefit ratios, trial-based cost-effectiveness, decisions.

- :func:`cost_benefit_ratio`, :func:`pooled_ratio`, :func:`bed_day_savings` —
  cost–benefit arithmetic ("1:4.76") and its pooling across studies;
- :func:`one_way_sensitivity` — deterministic sensitivity (tornado plot in
  ``peertrial.plot.tornado``);
- :func:`cea` — incremental cost, effect, ICER, INMB with a vectorised
  within-arm (optionally clustered, covariate-adjusted) bootstrap; CEAC, EIB, EVPI;
- :func:`icer_table` — several strategies with dominance and extended dominance;
- :func:`discount`, :func:`present_value` — discounting beyond the first year.
"""

from peertrial.econ.cea import CEA, bootstrap_counts, cea
from peertrial.econ.cost_benefit import (
    CostBenefit,
    PooledRatio,
    bed_day_savings,
    cost_benefit_ratio,
    pooled_ratio,
)
from peertrial.econ.decision import (
    ICERTable,
    ceac_from_samples,
    ceac_strategies,
    evpi_from_nb,
    icer_table,
    quadrant,
)
from peertrial.econ.discount import NICE_RATE, discount, discount_factor, present_value
from peertrial.econ.sensitivity import OneWaySensitivity, one_way_sensitivity

calculate_icers = icer_table  # dampack's name

__all__ = [
    "CEA",
    "CostBenefit",
    "ICERTable",
    "NICE_RATE",
    "OneWaySensitivity",
    "PooledRatio",
    "bed_day_savings",
    "bootstrap_counts",
    "calculate_icers",
    "cea",
    "ceac_from_samples",
    "ceac_strategies",
    "cost_benefit_ratio",
    "discount",
    "discount_factor",
    "evpi_from_nb",
    "icer_table",
    "one_way_sensitivity",
    "pooled_ratio",
    "present_value",
    "quadrant",
]
