"""survreg against R survival::survreg on lung, ovarian, veteran and a simulated trial."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FIX = json.loads((Path(__file__).parent / "fixtures" / "survreg_cases.json").read_text())
CASES = [k for k in FIX if k != "versions"]


@pytest.mark.parametrize("name", CASES)
def test_survreg_equals_r(name):
    c = FIX[name]
    d = pd.DataFrame(c["data"])
    fit = pt.survival.survreg(d, time=c["time"], event=c["event"], covariates=c["covariates"],
                              dist=c["dist"])
    # survreg stops at a relative loglik change of 1e-9; peertrial iterates to 1e-12
    np.testing.assert_allclose(fit.coef.to_numpy(), c["coef"], rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(fit.se.to_numpy(), c["se"], rtol=2e-5)
    np.testing.assert_allclose(fit.loglik, c["loglik"], rtol=1e-8)
    np.testing.assert_allclose(fit.scale, c["scale"], rtol=2e-5)
    if c["dist"] != "exponential":
        np.testing.assert_allclose(fit.se_log_scale, c["se_log_scale"], rtol=2e-5)
    q = fit.quantile([0.25, 0.5, 0.75], newdata=d.iloc[:5]).to_numpy()
    np.testing.assert_allclose(q, np.array(c["quantile"]), rtol=5e-5)


def test_survreg_names_follow_r_for_factors():
    c = FIX["lung_ecog_factor"]
    fit = pt.survival.survreg(pd.DataFrame(c["data"]), time="time", event="event",
                              covariates=c["covariates"])
    # R names the columns of factor(x) "factor(x)3"; C(x) is a typing instruction, so "x3"
    assert list(fit.coef.index) == [n.replace("factor(ph.ecog)", "ph.ecog") for n in c["names"]]


def test_survival_and_quantile_are_inverse():
    c = FIX["lung_weibull"]
    d = pd.DataFrame(c["data"])
    fit = pt.survival.survreg(d, time="time", event="event", covariates="age + sex")
    q = fit.quantile(0.3, newdata=d.iloc[:3]).to_numpy()[:, 0]
    s = np.diag(fit.survival(q, newdata=d.iloc[:3]).to_numpy())
    np.testing.assert_allclose(s, 0.7, rtol=1e-10)
    frame = fit.to_frame()
    assert list(frame.columns) == ["estimate", "se", "statistic", "pval", "ci_lb", "ci_ub"]
    assert "Log(scale)" in frame.index


def test_survreg_bad_input():
    d = pd.DataFrame({"t": [1.0, 2, 3, 0], "e": [1, 0, 1, 1], "x": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="'t'"):
        pt.survival.survreg(d, time="t", event="e", covariates=["x"])
    with pytest.raises(ValueError, match="dist"):
        pt.survival.survreg(d.iloc[:3], time="t", event="e", dist="gamma")
    with pytest.raises(ValueError, match="no events"):
        pt.survival.survreg(d.iloc[:3].assign(e=0), time="t", event="e")
