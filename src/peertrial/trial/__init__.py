"""Trial effects: ITT, as-treated, per-protocol and CACE; adjusted, clustered and
repeated-measures models; multiple imputation; standardised effects; subgroups; CONSORT.

- :func:`estimate_effects` ITT / as-treated / per-protocol / CACE (lm, 2SLS; HC and cluster SEs)
- :func:`effects_by_use`  as-treated by level of use (none / low / high), beside the ITT
- :func:`itt_odds_ratio`  logistic ITT odds ratio for binary outcomes
- :func:`marginal_risk`   standardised risks, risk difference and risk ratio (g-computation)
- :func:`gee`             GEE for binary/count outcomes clustered by site or peer worker (geepack)
- :func:`random_intercept`, :func:`partially_nested`, :func:`mmrm` mixed models (REML)
- :func:`multiple_imputation`, :func:`rubin_pool` missing outcomes
- :func:`reference_based_mi`, :func:`tipping_point` reference-based (JR/CR/CIR) and delta-adjusted MI
- :class:`Estimand`       the ICH E9(R1) estimand an analysis targets
- :func:`hedges_g`        standardised mean difference for meta-analysis
- :func:`subgroup_effects` per-subgroup effects and interaction test
- :func:`consort`         CONSORT flow counts
"""

from peertrial.trial.consort import ConsortResult, consort
from peertrial.trial.effect_size import HedgesG, hedges_g
from peertrial.trial.effects import (
    OddsRatioResult,
    effects_by_use,
    effects_summary,
    estimate_effects,
    itt_odds_ratio,
    use_levels,
)
from peertrial.trial.estimands import Estimand
from peertrial.trial.gee import gee
from peertrial.trial.marginal import marginal_risk
from peertrial.trial.missing import MIResult, impute_norm, multiple_imputation, rubin_pool
from peertrial.trial.mixed import MixedResult, MMRMResult, mmrm, partially_nested, random_intercept
from peertrial.trial.refbased import (
    ReferenceBasedMI,
    TippingPoint,
    reference_based_mi,
    tipping_point,
)
from peertrial.trial.subgroups import SubgroupEffects, subgroup_effects

__all__ = [
    "estimate_effects", "effects_summary", "effects_by_use", "itt_odds_ratio", "OddsRatioResult", "marginal_risk", "gee", "use_levels",
    "random_intercept", "partially_nested", "mmrm", "MixedResult", "MMRMResult",
    "multiple_imputation", "rubin_pool", "impute_norm", "MIResult",
    "reference_based_mi", "tipping_point", "ReferenceBasedMI", "TippingPoint", "Estimand",
    "hedges_g", "HedgesG", "subgroup_effects", "SubgroupEffects", "consort", "ConsortResult",
]

_DEPRECATED = {"SubgroupResult": "SubgroupEffects", "dose_response": "effects_by_use"}


def __getattr__(name: str):
    """Deprecated spellings (FutureWarning): ``SubgroupResult`` (meta has its own) is
    ``SubgroupEffects``; ``dose_response`` (process has the regression on sessions) is
    ``effects_by_use``."""
    if name in _DEPRECATED:
        from peertrial import _data

        _data.warn_deprecated(f"peertrial.trial.{name} is deprecated and will be removed; use "
                              f"peertrial.trial.{_DEPRECATED[name]}")
        return globals()[_DEPRECATED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
