"""Trial effects: ITT, as-treated, per-protocol and CACE; adjusted, clustered and
repeated-measures models; multiple imputation; standardised effects; subgroups; CONSORT."""

from peertrial.trial.effects import dose_response, estimate_effects, itt_odds_ratio, use_levels
from peertrial.trial.mixed import MixedResult, MMRMResult, mmrm, partially_nested, random_intercept

__all__ = ["estimate_effects", "dose_response", "itt_odds_ratio", "use_levels",
           "random_intercept", "partially_nested", "mmrm", "MixedResult", "MMRMResult"]
