"""Kenward-Roger for random-intercept and partially nested fits (fixtures/make_kr_fixtures.R: pbkrtest
0.5.2 vcovAdj / KRmodcomp and lmerTest 3.1.3 summary(ddf = "Kenward-Roger"))."""

import json

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.trial import _df
from peertrial.trial.mixed import _random_intercept_fit

from .conftest import FIXTURES, rel_err

# lme4 stops at its optimiser tolerance (variance components to ~1e-7; on BodyWeight our REML deviance
# is 2e-10 lower than at lme4's theta, which moves the KR SEs by 2e-6); at lme4's own variance
# components the KR pieces agree with pbkrtest to ~1e-13
TOL = 3e-6


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIXTURES / "kr_fixtures.json").read_text())


@pytest.mark.parametrize("name", ["sleepstudy", "orthodont", "bodyweight"])
def test_pbkrtest_real_data(ref, name):
    r = ref[name]
    X, y = np.asarray(r["X"], float), np.asarray(r["y"], float)
    codes = np.asarray(r["group"]) - 1
    # at lme4's variance components: vcovAdj, the SEs and Lb_ddf to rounding
    Phi, PhiA, P, Wkr = _df.random_intercept_kr(X, codes, r["tau2"], r["sigma2"])
    PhiA_r = np.asarray(r["PhiA"], float)
    assert np.max(np.abs(PhiA - PhiA_r)) < 1e-10 * np.max(np.abs(PhiA_r))  # some entries are 0 (1e-17)
    assert rel_err(_df.kr_coef_ddf(Phi, P, Wkr), r["df"]) < 1e-10
    # end to end through our REML fit
    fit = _random_intercept_fit(y, X, r["terms"], codes, r["terms"][1], "", len(set(codes)),
                                df_method="kenward-roger")
    assert rel_err(fit.coef, r["estimate"]) < 1e-6
    assert rel_err(fit.se, r["se"]) < TOL
    assert rel_err(fit.vcov_unadjusted.to_numpy().diagonal() ** 0.5, r["se_unadjusted"]) < TOL
    assert rel_err(fit.df, r["df"]) < TOL
    assert rel_err(np.log(fit.pval), np.log(r["pval"])) < 1e-5
    for ft in r["ftests"]:
        got = fit.ftest(np.asarray(ft["L"], float))
        assert rel_err(got["statistic"], ft["F"]) < TOL
        assert rel_err(got["df"], ft["ddf"]) < TOL
        assert rel_err(got["scaling"], ft["scaling"]) < TOL
        assert rel_err(got["pval"], ft["pval"]) < 1e-5
        assert got["ndf"] == ft["ndf"]
    sat = _random_intercept_fit(y, X, r["terms"], codes, r["terms"][1], "", len(set(codes)))
    for ft in r["ftests"]:  # lmerTest::contest(ddf = "Satterthwaite")
        got = sat.ftest(np.asarray(ft["L"], float))
        assert rel_err(got["statistic"], ft["sat_F"]) < TOL
        assert rel_err(got["df"], ft["sat_ddf"]) < TOL
        assert rel_err(np.log(got["pval"]), np.log(ft["sat_pval"])) < 1e-5
        assert got["ndf"] == ft["sat_ndf"]


def test_public_orthodont_bodyweight(ref):
    d = pd.DataFrame(ref["orthodont"]["data"])
    fit = pt.trial.random_intercept(d, "distance", arm="female", group="Subject", covariates=["age"],
                                    df_method="Kenward-Roger")
    r = ref["orthodont"]
    assert rel_err(fit.se, r["se"]) < TOL and rel_err(fit.df, r["df"]) < TOL
    ft = fit.ftest(["female", "age"])
    assert rel_err(ft["statistic"], r["ftests"][0]["F"]) < TOL
    assert fit.ftest({"female": 1.0})["df"] == pytest.approx(fit.df["female"], rel=1e-10)
    assert "kenward-roger df" in fit.summary()
    # the KR adjustment only inflates the REML covariance here
    assert np.all(fit.se >= np.sqrt(np.diag(fit.vcov_unadjusted)) - 1e-12)
    bw = pd.DataFrame(ref["bodyweight"]["data"])
    bw = bw.assign(diet2=(bw["Diet"] == "2").astype(int), diet3=(bw["Diet"] == "3").astype(int))
    b = pt.trial.random_intercept(bw, "weight", arm="diet2", group="Rat", covariates=["Time", "diet3"],
                                  df_method="kr")
    rb = ref["bodyweight"]  # R's order: (Intercept), Time, Diet2, Diet3
    order = ["(Intercept)", "Time", "diet2", "diet3"]
    assert rel_err(b.se[order], rb["se"]) < TOL and rel_err(b.df[order], rb["df"]) < TOL
    assert rel_err(b.ftest({"diet2": 1, "diet3": -1})["df"], rb["ftests"][1]["ddf"]) < TOL
    res = pt.trial.random_intercept(d, "distance", arm="female", group="Subject", covariates=["age"],
                                    df_method="residual")
    with pytest.raises(ValueError, match="kenward-roger"):
        res.ftest(["female"])
    sat = pt.trial.random_intercept(d, "distance", arm="female", group="Subject", covariates=["age"])
    one = sat.ftest({"female": 1.0})  # one row: F = t^2 on the coefficient's Satterthwaite df
    assert one["statistic"] == pytest.approx(sat.zval["female"] ** 2, rel=1e-10)
    assert one["df"] == pytest.approx(sat.df["female"], rel=1e-10)
    with pytest.raises(ValueError, match="unknown term"):
        fit.ftest(["sex"])
    with pytest.raises(ValueError, match="one column per coefficient"):
        fit.ftest(np.ones((1, 2)))


def test_simulated_site_and_peer_worker(ref):
    for s in ref["simulated"]:
        d = pd.DataFrame(s["data"])
        ri = pt.trial.random_intercept(d, "y", arm="arm", group="site", covariates=["y0"],
                                       df_method="kenward-roger")
        r = s["random_intercept"]
        assert rel_err(ri.coef, r["estimate"]) < 1e-6
        assert rel_err(ri.se, r["se"]) < 1e-5
        assert rel_err(ri.df, r["df"]) < 1e-5
        got = ri.ftest(np.asarray(r["ftests"][0]["L"], float))
        assert rel_err([got["statistic"], got["df"]], [r["ftests"][0]["F"], r["ftests"][0]["ddf"]]) < 1e-5
        sat = pt.trial.random_intercept(d, "y", arm="arm", group="site", covariates=["y0"]).ftest(
            np.asarray(r["ftests"][0]["L"], float))
        assert rel_err([sat["statistic"], sat["df"]], [r["ftests"][0]["sat_F"], r["ftests"][0]["sat_ddf"]]) < 1e-5
        pn = pt.trial.partially_nested(d, "y", arm="arm", cluster="peer_worker", covariates=["y0"],
                                       df_method="kenward-roger")
        r = s["partially_nested"]
        assert rel_err(pn.coef, r["estimate"]) < 1e-6
        assert rel_err(pn.se, r["se"]) < 1e-5
        assert rel_err(pn.df, r["df"]) < 1e-5


def test_cluster_sums_equal_dense(ref):
    """The fits use the cluster-sum algebra (no n x n matrix); it equals the dense formulas."""
    for r in [ref["sleepstudy"], ref["bodyweight"]]:
        X, y = np.asarray(r["X"], float), np.asarray(r["y"], float)
        codes = np.asarray(r["group"]) - 1
        codes[::7] = -1  # some rows in no cluster, as controls in the partially nested model
        for dense, fast in zip(_df.random_intercept_kr(X, codes, r["tau2"], r["sigma2"]),
                               _df.random_intercept_kr_fast(X, codes, r["tau2"], r["sigma2"], y)):
            assert np.max(np.abs(dense - fast)) < 1e-10 * np.max(np.abs(dense))
        assert rel_err(_df.random_intercept_satterthwaite_fast(X, y, codes, r["tau2"], r["sigma2"]),
                       _df.random_intercept_satterthwaite(X, y, codes, r["tau2"], r["sigma2"])) < 1e-10
