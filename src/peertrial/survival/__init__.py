"""Twelve-month readmission: Kaplan–Meier, log-rank, Cox, competing risks, binary and count models.

Numbers equal R's ``survival`` (survfit, survdiff, coxph, cox.zph) and ``cmprsk``
(cuminc, crr) on the fixtures in ``tests/survival/fixtures``.
"""

from peertrial.survival.cox import CoxFrailtyResult, CoxResult, cox
from peertrial.survival.km import KaplanMeierResult, kaplan_meier
from peertrial.survival.logrank import LogrankResult, logrank

__all__ = ["kaplan_meier", "KaplanMeierResult", "logrank", "LogrankResult", "cox", "CoxResult", "CoxFrailtyResult"]

from peertrial.survival.competing import (  # noqa: E402
    CumincResult,
    FineGrayResult,
    cause_specific_cox,
    cuminc,
    fine_gray,
)

__all__ += ["cuminc", "CumincResult", "fine_gray", "FineGrayResult", "cause_specific_cox"]

from peertrial.survival.readmission import (  # noqa: E402
    RatioResult,
    ReadmissionResult,
    count_ratio,
    days_ratio,
    readmission_12m,
)

__all__ += ["readmission_12m", "ReadmissionResult", "count_ratio", "days_ratio", "RatioResult"]

from peertrial.survival.concordance import ConcordanceResult, concordance  # noqa: E402
from peertrial.survival.multistate import AalenJohansenResult, aalen_johansen  # noqa: E402
from peertrial.survival.parametric import SurvregResult, survreg  # noqa: E402
from peertrial.survival.recurrent import MCFResult, counting_process, mcf, survsplit  # noqa: E402

__all__ += ["mcf", "MCFResult", "survsplit", "counting_process", "survreg", "SurvregResult", "concordance",
            "ConcordanceResult", "aalen_johansen", "AalenJohansenResult"]
