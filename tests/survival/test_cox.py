import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import ConvergenceWarning

from .survival_refs import SURV, arr, close, frame

VARIANTS = {
    "efron": dict(ties="efron"),
    "breslow": dict(ties="breslow"),
    "strata_efron": dict(ties="efron", strata="stratum"),
    "strata_breslow": dict(ties="breslow", strata="stratum"),
    "cluster_efron": dict(ties="efron", cluster="site"),
    "cluster_breslow": dict(ties="breslow", cluster="site"),
    "strata_cluster_efron": dict(ties="efron", strata="stratum", cluster="site"),
}


def fit(df, variant, **extra):
    kw = dict(VARIANTS[variant])
    covs = ["arm", "age"] if "strata" in kw else ["arm", "age", "x2"]
    entry = "entry" if "entry" in df else None
    weights = "wt" if (df["wt"] != 1).any() else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pt.survival.cox(df, "time", "event", covs, entry=entry, weights=weights, **kw, **extra)
    return res, caught


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(SURV))
def test_cox_matches_coxph(name, variant):
    case = SURV[name]
    ref = case["cox"][variant]
    res, caught = fit(frame(case), variant)
    monotone = ref["warning"] != ""
    # monotone likelihood: the same Newton path as R gives the same (huge) estimates; the
    # SE of a diverging coefficient (~e^10) is ill-conditioned, so it gets a looser bound
    rtol = 1e-6
    close(res.coef, ref["coef"], rtol=rtol)
    close(res.se, ref["se"], rtol=1e-5 if monotone else 1e-6)
    close(res.loglik, ref["loglik"], rtol=1e-8)
    close(res.score_test[0], ref["score"])
    close(res.wald_test[0], ref["wald"], rtol=1e-5 if monotone else 1e-6)
    assert res.iter == ref["iter"]
    if "naive_se" in ref:
        close(res.naive_se, ref["naive_se"], rtol=1e-5 if monotone else 1e-6)
        close(res.robust_score_test[0], ref["rscore"])
    if monotone:
        assert any(issubclass(w.category, ConvergenceWarning) and "infinite" in str(w.message) for w in caught)
        assert abs(res.coef["arm"]) > 10
    else:
        assert not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    hr = res.hr.to_numpy()
    assert np.allclose(hr, np.exp(arr(ref["coef"])), rtol=rtol)


ZPH = sorted(k for k, v in SURV.items() if "zph" in v)


@pytest.mark.parametrize("name", ZPH)
def test_test_ph_matches_cox_zph(name):
    case = SURV[name]
    df = frame(case)
    efron, _ = fit(df, "efron")
    table = efron.test_ph()
    close(table["chisq"], case["zph"]["chisq"])
    close(table["df"], case["zph"]["df"])
    close(table["pval"], case["zph"]["p"])
    breslow, _ = fit(df, "breslow")
    close(breslow.test_ph()["chisq"], case["zph_breslow"]["chisq"])
    strat, _ = fit(df, "strata_efron")
    close(strat.test_ph()["chisq"], case["zph_strata"]["chisq"])


@pytest.mark.parametrize("name", ZPH)
def test_baseline_and_predicted_survival(name):
    case = SURV[name]
    df = frame(case)
    for variant, key in (("efron", "basehaz"), ("breslow", "basehaz_breslow")):
        res, _ = fit(df, variant)
        base = res.baseline_hazard()
        t, h = arr(case[key]["time"]), arr(case[key]["hazard"])
        idx = np.searchsorted(base["time"].to_numpy(), t, side="right") - 1
        mine = np.where(idx >= 0, base["cumhaz"].to_numpy()[np.maximum(idx, 0)], 0.0)
        close(mine, h)
    res, _ = fit(df, "efron")
    pred = case["predict"]
    nd = pd.DataFrame(pred["newdata"])
    surv = res.predict_survival(nd, arr(pred["times"]))
    close(surv.to_numpy(), np.asarray(pred["surv"], float))
    ci = res.predict_survival_ci(nd, arr(pred["times"]))
    for col in ("std_err", "lower", "upper"):
        mine = ci.pivot(index="time", columns="row", values=col).to_numpy()
        close(mine, np.asarray(pred[col], float))


@pytest.mark.parametrize("name", ZPH)
def test_predicted_survival_robust_and_stratified(name):
    case = SURV[name]
    df = frame(case)
    res, _ = fit(df, "cluster_efron")
    ref = case["predict_cluster"]
    ci = res.predict_survival_ci(pd.DataFrame(ref["newdata"]), [30, 90, 180, 270, 365])
    close(ci.pivot(index="time", columns="row", values="surv").to_numpy(), np.asarray(ref["surv"], float))
    close(ci.pivot(index="time", columns="row", values="std_err").to_numpy(), np.asarray(ref["std_err"], float))
    res, _ = fit(df, "strata_efron")
    ref = case["predict_strata"]
    nd = pd.DataFrame(ref["newdata"])
    ci = res.predict_survival_ci(nd, [30, 90, 180, 270, 365], strata=nd["stratum"])
    close(ci["surv"], ref["surv"])
    close(ci["std_err"], ref["std_err"])
    with pytest.raises(ValueError, match="stratified"):
        res.predict_survival(nd, [30])


def test_cox_summary_and_frame():
    res, _ = fit(frame(SURV["basic"]), "cluster_efron")
    text = res.summary()
    assert "Robust score test" in text and "Likelihood ratio" in text
    assert list(res.to_frame().index) == ["arm", "age", "x2"]
    sch = res.schoenfeld()
    assert len(sch) == res.nevent


def test_cox_does_not_modify_input():
    df = frame(SURV["weights"])
    before = df.copy()
    fit(df, "cluster_efron")
    pd.testing.assert_frame_equal(df, before)
