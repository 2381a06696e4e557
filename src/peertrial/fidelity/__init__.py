"""Fidelity index scoring and reliability; fidelity as a moderator of the treatment effect.

- :func:`score_fidelity`  item ratings (long or wide) -> domain and total scores
- :func:`cronbach_alpha`  internal consistency per domain, Feldt CI
- :func:`icc`             inter-rater ICC in the six Shrout & Fleiss forms
- :func:`weighted_kappa`, :func:`item_kappa`  weighted kappa for ordinal items
- :func:`fidelity_moderation`  outcome on peer-worker fidelity, random peer-worker effect
  (a NON-RANDOMISED comparison)
"""

from peertrial.fidelity._moderator import FidelityModeration, fidelity_moderation
from peertrial.fidelity._reliability import (
    AlphaResult,
    ICCResult,
    KappaResult,
    cronbach_alpha,
    icc,
    item_kappa,
    weighted_kappa,
)
from peertrial.fidelity._scoring import PRINCIPLES, FidelityScores, score_fidelity

__all__ = [
    "PRINCIPLES",
    "AlphaResult",
    "FidelityModeration",
    "FidelityScores",
    "ICCResult",
    "KappaResult",
    "cronbach_alpha",
    "fidelity_moderation",
    "icc",
    "item_kappa",
    "score_fidelity",
    "weighted_kappa",
]
