"""Randomisation and concealed allocation.

- schedules: :func:`simple`, :func:`complete`, :func:`permuted_blocks`
  (stratified, random block sizes, unequal ratios), every unit's design
  probabilities in ``prob_<arm>`` columns;
- minimisation: :class:`Minimiser` (sequential) and :func:`minimise` (batch),
  Pocock–Simon with range/SD/variance imbalance, weights and a biased coin;
- cluster designs: :func:`cluster_randomise` (whole sites or caseloads) and
  :func:`constrained_randomise` (covariate-constrained, with each cluster's
  probabilities and the validity of the constrained space);
- :func:`simulate_design`: imbalance, predictability and group sizes of a
  design over many simulated trials (vectorised);
- :class:`Ledger`: the concealed schedule in SQLite with atomic, idempotent,
  hash-chained allocation (``allocate``, ``verify``, ``audit``); CLI
  ``peertrial randomise schedule|allocate|audit|verify|extend``;
- :func:`balance_table`: baseline characteristics by arm (Table 1).
"""

from peertrial.randomise.balance import balance_stats, balance_table
from peertrial.randomise.cluster import (
    ConstrainedRandomisation,
    cluster_randomise,
    constrained_randomise,
)
from peertrial.randomise.ledger import (
    Ledger,
    LedgerError,
    LedgerIntegrityError,
    StratumFullError,
    participant_id,
)
from peertrial.randomise.minimisation import Minimiser, minimise
from peertrial.randomise.schedules import complete, permuted_blocks, simple
from peertrial.randomise.simulation import DesignSimulation, simulate_design

__all__ = [
    "simple",
    "complete",
    "permuted_blocks",
    "cluster_randomise",
    "constrained_randomise",
    "ConstrainedRandomisation",
    "simulate_design",
    "DesignSimulation",
    "Minimiser",
    "minimise",
    "balance_table",
    "balance_stats",
    "Ledger",
    "LedgerError",
    "LedgerIntegrityError",
    "StratumFullError",
    "participant_id",
]
