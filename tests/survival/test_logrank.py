import pytest

import peertrial as pt

from .survival_refs import SURV, close, frame

CASES = sorted(k for k, v in SURV.items() if "logrank" in v)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("key", ["rho0", "rho1", "strat0", "strat1"])
def test_logrank_matches_survdiff(name, key):
    case = SURV[name]
    ref = case["logrank"][key]
    res = pt.survival.logrank(frame(case), "time", "event", "arm",
                              strata="stratum" if key.startswith("strat") else None,
                              rho=1 if key.endswith("1") else 0)
    close(res.chisq, ref["chisq"])
    close(res.observed, ref["obs"])
    close(res.expected, ref["exp"])
    assert res.df == len(res.observed) - 1


def test_logrank_summary_text():
    res = pt.survival.logrank(frame(SURV["three_groups"]), "time", "event", "arm")
    assert res.df == 2
    assert "Chisq" in res.summary()
