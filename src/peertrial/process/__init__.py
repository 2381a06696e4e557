"""Process evaluation of a peer-support trial.

- engagement: :func:`engagement_summary`, :func:`engagement_model` (glm / glm.nb),
  :func:`time_to_first_contact` (Kaplan–Meier)
- :func:`dose_response`   outcome on sessions attended (a NON-RANDOMISED comparison)
- :func:`mediation`       product of coefficients, bootstrap percentile CI
- implementation: :func:`proportion_ci`, :func:`implementation_outcomes`
  (Clopper–Pearson and Wilson), :func:`worker_retention`
"""

from peertrial.process._dose import dose_response
from peertrial.process._engagement import (
    EngagementSummary,
    SurvivalCurve,
    engagement_model,
    engagement_summary,
    km_curve,
    time_to_first_contact,
)
from peertrial.process._implementation import (
    ImplementationOutcomes,
    implementation_outcomes,
    proportion_ci,
    worker_retention,
)
from peertrial.process._mediation import ASSUMPTIONS, MediationResult, mediation
from peertrial.process._models import RegressionResult

__all__ = [
    "ASSUMPTIONS",
    "EngagementSummary",
    "ImplementationOutcomes",
    "MediationResult",
    "RegressionResult",
    "SurvivalCurve",
    "dose_response",
    "engagement_model",
    "engagement_summary",
    "implementation_outcomes",
    "km_curve",
    "mediation",
    "proportion_ci",
    "time_to_first_contact",
    "worker_retention",
]
