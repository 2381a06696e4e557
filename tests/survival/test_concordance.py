"""Harrell's C and its infinitesimal-jackknife SE against R survival::concordance."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FIX = json.loads((Path(__file__).parent / "fixtures" / "concordance_cases.json").read_text())
DIRECT = ["lung_age", "lung_age_strata", "lung_ecog_reverse", "veteran_karno", "simulated_ties"]


def _check(res, ref):
    np.testing.assert_allclose(res.estimate, ref["estimate"], rtol=1e-10)
    np.testing.assert_allclose(res.se, ref["se"], rtol=1e-8)
    c = ref["count"]
    assert (res.concordant, res.discordant, res.tied_x) == (c["concordant"], c["discordant"], c["tied.x"])
    assert res.tied_y == c["tied.y"]


@pytest.mark.parametrize("name", DIRECT)
def test_concordance_of_a_predictor(name):
    c = FIX[name]
    res = pt.survival.concordance(pd.DataFrame(c["data"]), time=c.get("time", "time"),
                                  event=c.get("event", "event"), predictor=c["predictor"],
                                  strata=c.get("strata"), reverse=c["reverse"])
    _check(res, c["ref"])


@pytest.mark.parametrize("name", ["lung_cox", "lung_cox_strata"])
def test_concordance_of_a_cox_model(name):
    c = FIX[name]
    fit = pt.survival.cox(pd.DataFrame(c["data"]), time="time", event="event",
                          covariates=c["covariates"], strata=c.get("strata"))
    _check(pt.survival.concordance(fit=fit), c["ref"])


def test_concordance_limits_and_errors():
    r = pt.survival.concordance(time=[5, 8, 12, 20], event=[1, 1, 0, 1], predictor=[1, 3, 2, 4])
    assert r.estimate == pytest.approx(0.8)
    r95 = pt.survival.concordance(time=[5, 8, 12, 20], event=[1, 1, 0, 1], predictor=[1, 3, 2, 4], level=95)
    assert (r95.ci_lb, r95.ci_ub) == (r.ci_lb, r.ci_ub)
    with pytest.raises(ValueError, match="comparable"):
        pt.survival.concordance(time=[5, 8], event=[0, 0], predictor=[1, 2])
    with pytest.raises(ValueError, match="length"):
        pt.survival.concordance(time=[5, 8, 9], event=[0, 1], predictor=[1, 2])
    with pytest.raises(ValueError, match="predictor"):
        pt.survival.concordance(time=[5, 8], event=[0, 1])


def test_limits_stay_inside_0_1_for_a_good_predictor_in_a_small_sample():
    r = pt.survival.concordance(time=[5, 8, 12, 20], event=[1, 1, 0, 1], predictor=[1, 3, 2, 4])
    assert 0 < r.ci_lb < r.estimate < r.ci_ub < 1
    z = 1.959963984540054
    logit = np.log(r.estimate / (1 - r.estimate))
    assert r.ci_ub == pytest.approx(1 / (1 + np.exp(-(logit + z * r.se / (r.estimate * (1 - r.estimate))))))
