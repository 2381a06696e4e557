"""Sampling variances of 0 are handled as metafor 3.8 does (fixtures/vi0_cases.json from
make_fixtures_vi0.R: dat.pritz1997 with escalc("PR", add=0), two studies with vi = 0)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import PeertrialWarning

FIX = json.loads((Path(__file__).parent / "fixtures" / "vi0_cases.json").read_text())
DATA = pd.DataFrame(FIX["data"])
CASES = {
    "HE": dict(method="HE"), "SJ": dict(method="SJ"), "ML": dict(method="ML"), "REML": dict(method="REML"),
    "EB": dict(method="EB"), "REML_knha": dict(method="REML", test="knha"),
    "EE_weights": dict(method="EE", weights="ni"), "REML_weights": dict(method="REML", weights="ni"),
}


def test_fixture_has_zero_variances():
    assert (DATA["vi"] == 0).sum() == 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_estimators_metafor_fits_with_zero_variances(name):
    want = FIX["fits"][name]
    with pytest.warns(PeertrialWarning, match="non-positive sampling variances"):
        fit = pt.meta.rma("yi", "vi", data=DATA, **CASES[name])
    assert fit.b == pytest.approx(want["b"], rel=1e-6)
    assert fit.se == pytest.approx(want["se"], rel=1e-6)
    assert fit.tau2 == pytest.approx(want["tau2"], rel=1e-6, abs=1e-12)
    assert fit.ci_lb == pytest.approx(want["ci_lb"], rel=1e-6)
    assert want["QE"] is None and np.isnan(fit.QE) and np.isnan(fit.I2)


@pytest.mark.parametrize("name", ["EE", "DL", "HS", "PM"])
def test_estimators_metafor_refuses_raise(name):
    assert "error" in FIX["fits"][name]
    with pytest.warns(PeertrialWarning), pytest.raises(ValueError, match="division by zero|cannot be used"):
        pt.meta.rma("yi", "vi", data=DATA, method=name)


def test_escalc_pr_gives_the_zero_variances():
    es = pt.meta.escalc("PR", DATA[["xi", "ni"]], xi="xi", ni="ni", add=0)
    np.testing.assert_allclose(es["vi"], DATA["vi"], rtol=1e-12, atol=0)


def test_negative_variance_constrained_to_zero():
    d = DATA.assign(vi=DATA["vi"].where(DATA["vi"] > 0, -0.001))
    with pytest.warns(PeertrialWarning, match="constrained to zero"):
        fit = pt.meta.rma("yi", "vi", data=d)
    assert fit.b == pytest.approx(FIX["fits"]["REML"]["b"], rel=1e-6)
