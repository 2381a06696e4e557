"""Standardised risks, RD and RR by g-computation vs hand-coded R (fixtures/make_marginal_fixtures.R)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import PeertrialWarning

from .conftest import FIXTURES, rel_err

TOL = 1e-6  # R fitted with glm.control(epsilon = 1e-12)


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIXTURES / "marginal_fixtures.json").read_text())


def _check(m, r):
    assert rel_err(m.loc["risk_control", "estimate"], r["risk_control"]) < TOL
    assert rel_err(m.loc["risk_intervention", "estimate"], r["risk_intervention"]) < TOL
    assert rel_err(m.loc["risk_control", "se"], r["se_control"]) < TOL
    assert rel_err(m.loc["risk_intervention", "se"], r["se_intervention"]) < TOL
    assert rel_err(m.loc["risk_difference", ["estimate", "se"]], [r["rd"], r["rd_se"]]) < TOL
    # a limit near 0 is a difference of nearly equal numbers: compare on the SE's scale
    assert np.max(np.abs(m.loc["risk_difference", ["ci_lb", "ci_ub"]].to_numpy(float) - r["rd_ci"])) < 10 * TOL * r["rd_se"]
    assert rel_err(m.loc["risk_ratio", ["estimate", "se"]], [r["rr"], r["log_rr_se"]]) < TOL
    assert rel_err(m.loc["risk_ratio", ["ci_lb", "ci_ub"]], r["rr_ci"]) < TOL


def test_real_data(ref):
    aw = pd.DataFrame(ref["awards"]["data"])
    _check(pt.trial.marginal_risk(aw, "bagrut", arm="treated", covariates="girl + siblings + father_ed"),
           ref["awards"]["ref"])
    bw = pd.DataFrame(ref["birthwt"]["data"])
    _check(pt.trial.marginal_risk(bw, "low", arm="smoke", covariates="age + lwt + race"), ref["birthwt"]["ref"])


def test_simulated_and_level(ref):
    for s in ref["simulated"]:
        d = pd.DataFrame(s["data"])
        _check(pt.trial.marginal_risk(d, "y", covariates="x + site"), s["ref"])
        _check(pt.trial.marginal_risk(d, "y", covariates="x + site", level=90), s["ref90"])


def test_beside_odds_ratio_in_estimate_effects(ref):
    d = pd.DataFrame(ref["simulated"][0]["data"]).assign(received=lambda f: f["arm"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        res = pt.trial.estimate_effects(d, "y", received="received", covariates="x + site")
    m = res.attrs["itt_marginal"]
    assert rel_err(m.loc["risk_difference", "estimate"], ref["simulated"][0]["ref"]["rd"]) < TOL
    assert res.attrs["itt_odds_ratio"]["log_or"] == pytest.approx(ref["simulated"][0]["ref"]["log_or"], rel=1e-6)
    assert "risk difference" in pt.trial.effects_summary(res)


def test_separation_on_arm_raises():
    d = pd.DataFrame({"y": [0, 0, 0, 0, 1, 1, 0, 1], "arm": [0, 0, 0, 0, 1, 1, 1, 1], "x": np.arange(8.0)})
    with pytest.raises(ValueError, match="separation.*raw proportions"):
        pt.trial.marginal_risk(d, "y")


def test_seeded_bootstrap(ref):
    d = pd.DataFrame(ref["simulated"][1]["data"])
    a = pt.trial.marginal_risk(d, "y", covariates="x + site", bootstrap=400, seed=7)
    b = pt.trial.marginal_risk(d, "y", covariates="x + site", bootstrap=400, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["bootstrap"] == 400
    # the bootstrap SE is close to the delta-method SE and the percentile CI covers the estimate
    assert a.loc["risk_difference", "boot_se"] == pytest.approx(a.loc["risk_difference", "se"], rel=0.15)
    assert a.loc["risk_ratio", "boot_se"] == pytest.approx(a.loc["risk_ratio", "se"], rel=0.15)
    for q in a.index:
        assert a.loc[q, "boot_ci_lb"] < a.loc[q, "estimate"] < a.loc[q, "boot_ci_ub"]
    c = pt.trial.marginal_risk(d, "y", covariates="x + site", bootstrap=400, seed=8)
    assert not np.allclose(a["boot_ci_lb"], c["boot_ci_lb"])
    with pytest.raises(ValueError, match="bootstrap"):
        pt.trial.marginal_risk(d, "y", bootstrap=1)
