import numpy as np
import pandas as pd
import pytest

import peertrial as pt

from .survival_refs import SURV, close, frame

CASES = sorted(k for k, v in SURV.items() if "cuminc" in v)
CRR = sorted(k for k, v in SURV.items() if "crr" in v)


@pytest.mark.parametrize("name", CASES)
def test_cuminc_matches_cmprsk(name):
    case = SURV[name]
    ref = case["cuminc"]
    ci = pt.survival.cuminc(frame(case), "time", "status", "arm", cencode=0)
    at = ci.at([30, 90, 180, 270, 365])
    est = np.asarray(ref["est"], float)
    var = np.asarray(ref["var"], float)
    # cmprsk orders curves cause-major ("0 1", "1 1", "0 2", ...)
    for row, label in enumerate(ref["rows"] if isinstance(ref["rows"], list) else [ref["rows"]]):
        g, c = label.split()
        sel = at[(at["group"] == int(g)) & (at["cause"] == int(c))]
        close(sel["est"], est[row])
        close(sel["var"], var[row], atol=1e-12)
    close(ci.gray_test["stat"], ref["tests"])
    close(ci.gray_test["pval"], ref["pv"], atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_gray_test_strata_rho1(name):
    case = SURV[name]
    ci = pt.survival.cuminc(frame(case), "time", "status", "arm", strata="stratum", rho=1)
    close(ci.gray_test["stat"], case["cuminc_strata_rho1"]["tests"])


@pytest.mark.parametrize("name", CRR)
def test_fine_gray_matches_crr(name):
    case = SURV[name]
    df = frame(case)
    ref = case["crr"]
    fg = pt.survival.fine_gray(df, "time", "status", ["arm", "age", "x2"], cause=1, cencode=0)
    close(fg.coef, ref["coef"])
    close(fg.se, ref["se"])
    close(fg.loglik, ref["loglik"], rtol=1e-9)
    close(fg.loglik_null, ref["loglik_null"], rtol=1e-9)
    assert fg.converged == bool(ref["converged"])
    nd = pd.DataFrame({"arm": [0, 1], "age": [40, 50], "x2": [0, 1]})
    pred = fg.predict(nd)
    close(pred.index.to_numpy(), ref["pred_time"])
    close(pred.to_numpy(), np.asarray(ref["pred_cif"], float))
    fg2 = pt.survival.fine_gray(df, "time", "status", ["arm", "age"], cause=2)
    close(fg2.coef, case["crr_cause2"]["coef"])
    close(fg2.se, case["crr_cause2"]["se"])


def test_cause_specific_cox_equals_cox_on_indicator():
    df = frame(SURV["basic"])
    cs = pt.survival.cause_specific_cox(df, "time", "status", ["arm", "age"], cause=2)
    ref = pt.survival.cox(df.assign(ev2=(df["status"] == 2).astype(int)), "time", "ev2", ["arm", "age"])
    close(cs.coef, ref.coef, rtol=1e-12)
    close(cs.se, ref.se, rtol=1e-12)


def test_cuminc_without_group_and_summary():
    df = frame(SURV["ties_days"])
    ci = pt.survival.cuminc(df, "time", "status")
    assert ci.gray_test is None
    assert set(ci.at([100])["cause"]) == {1, 2}
    assert "Cumulative incidence" in ci.summary()
    fg = pt.survival.fine_gray(df, "time", "status", ["arm"])
    assert "Fine-Gray" in fg.summary()


def test_cuminc_beyond_follow_up_is_nan():
    df = frame(SURV["small"])
    ci = pt.survival.cuminc(df, "time", "status", "arm")
    assert ci.at([1e6])["est"].isna().all()


def test_competing_does_not_modify_input():
    df = frame(SURV["basic"])
    before = df.copy()
    pt.survival.cuminc(df, "time", "status", "arm")
    pt.survival.fine_gray(df, "time", "status", ["arm"])
    pd.testing.assert_frame_equal(df, before)
