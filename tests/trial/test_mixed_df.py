"""Satterthwaite df for random-intercept, partially nested and MMRM fits (fixtures/make_df_fixtures.R)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.trial import _df
from peertrial.trial.mixed import _random_intercept_fit, _UnstructuredREML

from .conftest import FIXTURES, rel_err

# lme4 stops at its optimiser tolerance (variance components to ~1e-7), which moves lmerTest's df
# by about as much; the df at identical variance components agree to 1e-8
TOL = 2e-6


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIXTURES / "df_fixtures.json").read_text())


@pytest.mark.parametrize("name", ["sleepstudy", "orthodont", "bodyweight"])
def test_lmertest_satterthwaite_real_data(ref, name):
    r = ref[name]
    X, y = np.asarray(r["X"], float), np.asarray(r["y"], float)
    codes = np.asarray(r["group"]) - 1
    fit = _random_intercept_fit(y, X, r["terms"], codes, r["terms"][1], "", len(set(codes)))
    assert rel_err(fit.coef, r["estimate"]) < 1e-6
    assert rel_err(fit.df, r["df"]) < TOL
    assert rel_err(np.log(fit.pval), np.log(r["pval"])) < 1e-5  # tiny p-values amplify the df tolerance
    # at lme4's own variance components the formula lands on lmerTest's numDeriv Hessian
    assert rel_err(_df.random_intercept_satterthwaite(X, y, codes, r["tau2"], r["sigma2"]), r["df"]) < 1e-7


def test_orthodont_public_and_df_methods(ref):
    d = pd.DataFrame(ref["orthodont"]["data"])
    fit = pt.trial.random_intercept(d, "distance", arm="female", group="Subject", covariates=["age"])
    assert rel_err(fit.df, ref["orthodont"]["df"]) < TOL
    assert fit.pval["female"] == pytest.approx(0.0054, abs=1e-4)  # vs Wald z 0.0023
    frame = fit.to_frame()
    assert list(frame.columns) == ["estimate", "se", "statistic", "df", "pval", "ci_lb", "ci_ub"]
    z = pt.trial.random_intercept(d, "distance", arm="female", group="Subject", covariates=["age"],
                                  df_method="asymptotic")
    assert z.df is None and z.pval["female"] == pytest.approx(0.0023, abs=1e-4)
    res = pt.trial.random_intercept(d, "distance", arm="female", group="Subject", covariates=["age"],
                                    df_method="residual")
    assert np.all(res.df == len(d) - 3)
    assert "satterthwaite df" in fit.summary()
    with pytest.raises(ValueError, match="df_method must be"):
        pt.trial.random_intercept(d, "distance", arm="female", group="Subject", df_method="bogus")


def test_simulated_site_and_peer_worker(ref):
    for s in ref["simulated"]:
        d = pd.DataFrame(s["data"])
        fit = pt.trial.random_intercept(d, "y", arm="arm", group="site", covariates=["y0"])
        r = s["random_intercept"]
        assert rel_err(fit.df, r["df"]) < 1e-5  # boundary fits too (test_mixed_df_singular.py)
        pn = pt.trial.partially_nested(d, "y", arm="arm", cluster="peer_worker", covariates=["y0"])
        assert rel_err(pn.coef, s["partially_nested"]["estimate"]) < 1e-6
        assert rel_err(pn.df, s["partially_nested"]["df"]) < 1e-5


def _wide_orthodont(ref):
    d = pd.DataFrame(ref["orthodont"]["data"])
    w = d.pivot(index="Subject", columns="age", values="distance")
    w.columns = [f"d{int(c)}" for c in w.columns]
    w["female"] = d.groupby("Subject")["female"].first()
    return w.reset_index()


def test_mmrm_satterthwaite_from_definition(ref):
    """Potthoff-Roy (Orthodont) and simulated dropout: df from the definition (R, numDeriv)."""
    cases = [(_wide_orthodont(ref), {"8": "d8", "10": "d10", "12": "d12", "14": "d14"}, "female",
              ref["mmrm"]["orthodont"])]
    for s in ref["mmrm"]["simulated"]:
        cases.append((pd.DataFrame(s["data"]).replace({None: np.nan}), {"4": "y4", "8": "y8", "12": "y12"}, "arm", s))
    for w, visits, arm, r in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fit = pt.trial.mmrm(w, visits, arm=arm)
        assert rel_err(fit.effects["estimate"], r["effect"]) < 2e-5
        # our REML optimum and gls's differ by ~1e-5 in the covariance (gls stops earlier: our
        # log-likelihood is never lower), which moves the df by up to a few 1e-4
        assert rel_err(fit.effects["df"], r["df"]) < 1e-3
        # the same covariance gives the same df to numDeriv's accuracy
        T = len(visits)
        Y = np.column_stack([pd.to_numeric(w[c]).to_numpy(float) for c in visits.values()])
        a = w[arm].to_numpy(float)
        p = 2 * T
        Xs = np.zeros((len(w), T, p))
        Xs[:, :, 0] = 1
        for t in range(1, T):
            Xs[:, t, t] = 1
            Xs[:, t, T + t] = a
        Xs[:, :, T] = a[:, None]
        core = _UnstructuredREML(Y, Xs)
        Sigma = np.asarray(r["Sigma"], float)
        beta = core.gls(Sigma)[0]
        L = np.zeros((T, p))
        L[:, T] = 1
        for t in range(1, T):
            L[t, T + t] = 1
        got = _df.unstructured_satterthwaite(core.groups, beta, Sigma, L)
        if arm == "female":
            # complete balanced data: the exact df is N - 2 = 25 at every visit; numDeriv's Hessian in
            # 10 covariance entries lands within 2e-4 of it, the analytic Hessian within 1e-5
            assert rel_err(got, 25.0) < 1e-5
            assert rel_err(got, r["df"]) < 1e-3
        else:
            assert rel_err(got, r["df"]) < 2e-6
    assert fit.effects["df"].iloc[-1] < fit.df_resid


def test_mmrm_df_methods(ref):
    w = _wide_orthodont(ref)
    visits = {"8": "d8", "10": "d10", "12": "d12", "14": "d14"}
    sat = pt.trial.mmrm(w, visits, arm="female")
    assert sat.effects.loc["14", "df"] == pytest.approx(25.0, rel=1e-6)
    res = pt.trial.mmrm(w, visits, arm="female", df_method="residual")
    assert np.all(res.effects["df"] == res.df_resid)
    assert res.effects.loc["14", "pval"] < sat.effects.loc["14", "pval"]
    with pytest.raises(ValueError, match="df_method must be"):
        pt.trial.mmrm(w, visits, arm="female", df_method="kenward")
    kr = pt.trial.mmrm(w, visits, arm="female", df_method="kenward-roger")
    assert kr.effects.loc["14", "df"] == pytest.approx(25.0, rel=1e-6)
