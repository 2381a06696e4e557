"""fine_gray with time-varying covariates (cmprsk::crr(cov2 =, tf =)) and case weights
(survival::finegray(weights =) + coxph(weights = fgwt, cluster = id, ties = "breslow")).

Fixtures: tests/survival/fixtures/make_fixtures_finegray.R on R survival's mgus2 (progression vs death)
and a simulated readmission trial with death competing.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FX = json.loads((Path(__file__).parent / "fixtures" / "finegray_cases.json").read_text())
MG = pd.DataFrame(FX["data"]["mgus2"])
SIM = pd.DataFrame(FX["data"]["sim"])

TF = {
    "mgus_tf": (MG, "etime", "event", ["age", "male"], ["age"], lambda t: np.log(t), 1),
    "mgus_tf2": (MG, "etime", "event", ["hgb"], ["male", "age"], lambda t: np.column_stack([t / 100, t > 120]), 1),
    "mgus_cov2only": (MG, "etime", "event", [], ["male"], lambda t: t / 100, 1),
    "mgus_death_tf": (MG, "etime", "event", ["age"], ["male"], lambda t: np.log(t), 2),
    "sim_tf": (SIM, "time", "status", ["arm", "age"], ["arm"], lambda t: (t > 180).astype(float), 1),
}
W = {
    "mgus_w": (MG, "etime", "event", 1, True),
    "mgus_w1": (MG, "etime", "event", 1, False),
    "mgus_death_w": (MG, "etime", "event", 2, True),
    "sim_w": (SIM, "time", "status", 1, True),
    "sim_w1": (SIM, "time", "status", 1, False),
}


def _close(a, b, rtol):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol)


@pytest.mark.parametrize("case", list(TF))
def test_time_varying_covariates_equal_crr(case):
    d, t, s, cov1, cov2, tf, cause = TF[case]
    fit = pt.survival.fine_gray(d, t, s, cov1, cause=cause, cov2=cov2, tf=tf)
    r = FX[case]
    assert list(fit.coef.index) == list(np.atleast_1d(r["names"]))
    _close(fit.coef, r["coef"], 1e-6)
    _close(fit.se, r["se"], 1e-6)
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-9)
    assert fit.loglik_null == pytest.approx(r["loglik_null"], rel=1e-9)
    _close(fit.baseline["time"], r["uftime"], 1e-12)
    _close(fit.baseline["jump"], r["bfitj"], 1e-6)


def test_predict_with_cov2_equals_predict_crr():
    d, t, s, cov1, cov2, tf, cause = TF["sim_tf"]
    fit = pt.survival.fine_gray(d, t, s, cov1, cov2=cov2, tf=tf)
    r = FX["sim_tf"]["predict"]
    pred = fit.predict(pd.DataFrame({"arm": [0, 1], "age": [45, 45]}))
    _close(pred.index, r["time"], 1e-12)
    _close(pred.iloc[:, 0], r["cif0"], 1e-6)
    _close(pred.iloc[:, 1], r["cif1"], 1e-6)


def test_constant_tf_equals_fixed_covariate():
    d = SIM
    a = pt.survival.fine_gray(d, "time", "status", ["arm", "age"])
    b = pt.survival.fine_gray(d, "time", "status", ["age"], cov2=["arm"], tf=lambda t: np.ones_like(t))
    _close(b.coef.to_numpy()[[1, 0]], a.coef, 1e-9)
    _close(b.se.to_numpy()[[1, 0]], a.se, 1e-9)


@pytest.mark.parametrize("case", list(W))
def test_weights_equal_finegray_coxph(case):
    d, t, s, cause, wt = W[case]
    cov = ["age", "male"] if d is MG else ["arm", "age"]
    fit = pt.survival.fine_gray(d, t, s, cov, cause=cause, weights="w" if wt else np.ones(len(d)))
    r = FX[case]
    _close(fit.coef, r["coef"], 1e-6)
    _close(fit.se, r["se"], 1e-6)
    _close(fit.naive_se, r["naive_se"], 1e-6)
    assert fit.loglik == pytest.approx(r["loglik"][1], rel=1e-9)
    assert fit.loglik_null == pytest.approx(r["loglik"][0], rel=1e-9)
    assert fit.variance == "robust"


def test_bad_input():
    with pytest.raises(ValueError, match="go together"):
        pt.survival.fine_gray(SIM, "time", "status", ["age"], cov2=["arm"])
    with pytest.raises(ValueError, match="shape"):
        pt.survival.fine_gray(SIM, "time", "status", ["age"], cov2=["arm"], tf=lambda t: np.ones((len(t), 2)))
    with pytest.raises(ValueError, match="tf\\(times\\) failed"):
        pt.survival.fine_gray(SIM, "time", "status", ["age"], cov2=["arm"], tf=lambda t: 1 / "x")
    with pytest.raises(ValueError, match="not supported"):
        pt.survival.fine_gray(SIM, "time", "status", ["age"], cov2=["arm"], tf=np.log, weights="w")
    with pytest.raises(ValueError, match="'w' must be positive"):
        pt.survival.fine_gray(SIM.assign(w=-1.0), "time", "status", ["age"], weights="w")
