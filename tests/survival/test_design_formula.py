"""Cox, Fine–Gray and logistic models with factors given by formula, and a covariate aliased with the
Cox strata, against R (fixtures/make_fixtures_design.R -> design_cases.json)."""

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

from .survival_refs import close, load

CASES = load("design_cases.json")
COX = ["rats_strata", "lung_factor", "veteran_text"]


def _fit(name):
    c = CASES[name]
    d = pd.DataFrame(c["data"])
    event = "status" if "status" in d else "event"
    strata = "litter" if "litter" in d else None
    return c, pt.survival.cox(d, time="time", event=event, covariates=c["formula"], strata=strata)


@pytest.mark.filterwarnings("ignore:cox. coefficient")
@pytest.mark.parametrize("name", COX)
def test_cox_formula_equals_coxph(name):
    c, fit = _fit(name)
    assert list(fit.coef.index) == c["names"]
    close(fit.coef, c["coef"], rtol=1e-6)
    close(fit.se, c["se"], rtol=1e-6)
    close(fit.loglik, c["loglik"], rtol=1e-8)
    for ours, ref in ((fit.lr_test, "logtest"), (fit.score_test, "sctest"), (fit.wald_test, "waldtest")):
        close(ours[0], c[ref][0], rtol=1e-6)
        assert ours[1] == c[ref][1]
        close(ours[2], c[ref][2], rtol=1e-5)
    zph = fit.test_ph()
    assert list(zph.index) == c["zph"]["terms"]
    close(zph["chisq"], c["zph"]["chisq"], rtol=1e-5)
    close(zph["df"], c["zph"]["df"])
    close(zph["pval"], c["zph"]["p"], rtol=1e-5)


def test_cox_column_constant_within_strata_is_na_with_warning():
    c = CASES["rats_strata"]
    d = pd.DataFrame(c["data"])
    with pytest.warns(pt.PeertrialWarning, match=r"\['male'\] not estimable.*strata"):
        fit = pt.survival.cox(d, "time", "status", covariates=["rx", "male"], strata="litter")
    assert np.isnan(fit.coef["male"]) and np.isnan(fit.se["male"]) and np.isnan(fit.hr["male"])
    assert fit.lr_test[1] == fit.score_test[1] == fit.wald_test[1] == 1
    assert "male" not in fit.schoenfeld().columns
    surv = fit.predict_survival(pd.DataFrame({"rx": [0, 1], "male": [0, 0]}), [60, 90], strata=[1, 1])
    assert np.all(np.isfinite(surv.to_numpy()))


def test_cox_formula_newdata_in_raw_columns():
    c, fit = _fit("veteran_text")
    new = pd.DataFrame({"trt": [0, 1], "celltype": ["adeno", "squamous"], "karno": [60, 60]})
    coded = pd.DataFrame({"trt": [0, 1], "celltypelarge": [0, 0], "celltypesmallcell": [0, 0],
                          "celltypesquamous": [0, 1], "karno": [60, 60]})
    np.testing.assert_allclose(fit.predict_survival(new, [30, 100]), fit.predict_survival(coded, [30, 100]))


def test_cox_single_cluster_is_an_error():
    c = CASES["lung_factor"]
    d = pd.DataFrame(c["data"]).assign(site=1)
    with pytest.raises(ValueError, match=r"cluster column 'site' needs at least 2 clusters.*found 1"):
        pt.survival.cox(d, "time", "event", covariates="age + sex", cluster="site")
    with pytest.raises(ValueError, match="at least 2 clusters"):
        pt.trial.estimate_effects(d.assign(arm=d["sex"] - 1, received=d["sex"] - 1), outcome="age",
                                  received="received", cluster="site")


@pytest.mark.parametrize("how", ["formula", "factors"])
def test_logistic_factor_by_formula_equals_glm(how):
    c = CASES["birthwt_logistic"]
    d = pd.DataFrame(c["data"])
    kw = ({"covariates": c["formula"]} if how == "formula"
          else {"covariates": ["race", "age", "lwt"], "factors": ["race"]})
    res = pt.survival.readmission_12m(d, outcome="low", arm="smoke", **kw)
    assert list(res.coefficients.index) == c["names"]
    close(res.coefficients["estimate"], c["coef"], rtol=1e-6)
    close(res.coefficients["se"], c["se"], rtol=1e-6)
    o = pt.trial.itt_odds_ratio(d, "low", arm="smoke", **kw)
    close([o["ci_lb"], o["ci_ub"]], c["ci"], rtol=1e-6)
    close(o["log_or"], c["coef"][1], rtol=1e-6)


def test_logistic_aliased_factor_is_na_as_glm():
    c = CASES["birthwt_aliased"]
    d = pd.DataFrame(c["data"])
    with pytest.warns(pt.PeertrialWarning, match=r"\['ethnic2', 'ethnic3'\] not estimable"):
        res = pt.survival.readmission_12m(d, outcome="low", arm="smoke", covariates=c["formula"])
    assert list(res.coefficients.index) == c["names"]
    close(res.coefficients["estimate"], c["coef"], rtol=1e-6)
    close(res.coefficients["se"], c["se"], rtol=1e-6)


def test_fine_gray_factor_by_formula_equals_crr():
    c = CASES["fine_gray_factor"]
    d = pd.DataFrame(c["data"])
    fit = pt.survival.fine_gray(d, "time", "status", covariates=c["formula"], cause=1, cencode=0)
    assert list(fit.coef.index) == c["names"]
    close(fit.coef, c["coef"], rtol=1e-6)
    close(fit.se, c["se"], rtol=1e-6)
