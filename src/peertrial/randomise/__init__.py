"""Randomisation and concealed allocation.

- schedules: :func:`simple`, :func:`complete`, :func:`permuted_blocks`
  (stratified, random block sizes, unequal ratios), every unit's design
  probabilities in ``prob_<arm>`` columns;
- minimisation: :class:`Minimiser` (sequential) and :func:`minimise` (batch),
  Pocock–Simon with range/SD/variance imbalance, weights and a biased coin;
"""

from peertrial.randomise.minimisation import Minimiser, minimise
from peertrial.randomise.schedules import complete, permuted_blocks, simple

__all__ = ["simple", "complete", "permuted_blocks", "Minimiser", "minimise"]
