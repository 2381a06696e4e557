"""Randomisation and concealed allocation.

- schedules: :func:`simple`, :func:`complete`, :func:`permuted_blocks`
  (stratified, random block sizes, unequal ratios), every unit's design
  probabilities in ``prob_<arm>`` columns;
- minimisation: :class:`Minimiser` (sequential) and :func:`minimise` (batch),
  Pocock–Simon with range/SD/variance imbalance, weights and a biased coin;
- :class:`Ledger`: the concealed schedule in SQLite with atomic, idempotent,
  hash-chained allocation (``allocate``, ``verify``, ``audit``).
"""

from peertrial.randomise.cluster import ConstrainedRandomisation, cluster_randomise, constrained_randomise
from peertrial.randomise.ledger import Ledger, LedgerError, LedgerIntegrityError, StratumFullError
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
    "Ledger",
    "LedgerError",
    "LedgerIntegrityError",
    "StratumFullError",
]
