"""Satterthwaite and Kenward-Roger df at boundary (singular) fits (fixtures/make_df_singular_fixtures.R).

lmerTest differentiates in ``(theta = sd ratio, sigma)``; at ``theta = 0`` the variance of a contrast
does not move with ``theta``, so the boundary component drops out (a random intercept at 0 gives
``n - p``). The variance-scale Hessian gives other df there (e.g. 474 instead of 136 on the simulated
trial), so these tests fail on that parametrisation."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.trial.mixed import _random_intercept_fit

from .conftest import FIXTURES, rel_err

TOL = 1e-6


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIXTURES / "df_singular_fixtures.json").read_text())


def _sim(seed):
    return pd.read_csv(FIXTURES / f"singular_sim{seed}.csv")


def _check(fit, r, tol=TOL):
    assert fit.singular == r["singular"]
    assert rel_err(fit.coef, r["estimate"]) < 1e-6
    assert rel_err(fit.se, r["se"]) < 1e-5
    assert rel_err(fit.df, r["df"]) < tol
    assert rel_err(fit.pval, r["pval"]) < 1e-5


@pytest.mark.parametrize("df_method", ["satterthwaite", "kenward-roger"])
def test_dyestuff2(ref, df_method):
    """lme4's Dyestuff2: Yield ~ 1 + (1 | Batch), the classic singular fit (lmerTest df 29 = n - 1)."""
    r = ref["dyestuff2"]
    d = pd.DataFrame(r["data"])
    y = d["Yield"].to_numpy(float)
    codes = pd.factorize(d["Batch"], sort=True)[0]
    fit = _random_intercept_fit(y, np.ones((len(y), 1)), ["(Intercept)"], codes, "(Intercept)", "", 6,
                                df_method=df_method)
    assert fit.tau2 == 0.0 and fit.singular
    if df_method == "satterthwaite":
        _check(fit, r)
        assert fit.df.iloc[0] == pytest.approx(29.0, rel=1e-10)
    else:
        assert rel_err(fit.se, r["kr_se"]) < 1e-6
        assert rel_err(fit.df, r["kr_df"]) < 1e-6


@pytest.mark.parametrize("seed", [1, 2, 6])
def test_simulated_random_intercept(ref, seed):
    """Seed 1 is singular (df = n - p = 136 for every coefficient); 2 and 6 are interior."""
    r = ref[f"sim{seed}"]["random_intercept"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows with a missing outcome omitted
        fit = pt.trial.random_intercept(_sim(seed), "hope_12", arm="arm", group="site", covariates=["hope_0"])
        kr = pt.trial.random_intercept(_sim(seed), "hope_12", arm="arm", group="site", covariates=["hope_0"],
                                       df_method="kenward-roger")
    _check(fit, r, 1e-6 if r["singular"] else 1e-5)
    if r["singular"]:
        assert np.allclose(fit.df, r["nobs"] - 3, rtol=1e-10)
    assert rel_err(kr.df, r["kr_df"]) < 1e-5
    assert rel_err(kr.se, r["kr_se"]) < 1e-5


@pytest.mark.parametrize("seed", [1, 2, 6])
def test_simulated_partially_nested(ref, seed):
    """Seed 2 has the peer-worker variance at 0 (df = n - p = 127); 1 and 6 are interior."""
    r = ref[f"sim{seed}"]["partially_nested"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fit = pt.trial.partially_nested(_sim(seed), "hope_12", arm="arm", cluster="peer_worker",
                                        covariates=["hope_0"], unassigned="drop")
        kr = pt.trial.partially_nested(_sim(seed), "hope_12", arm="arm", cluster="peer_worker",
                                       covariates=["hope_0"], unassigned="drop", df_method="kenward-roger")
    _check(fit, r, 1e-6 if r["singular"] else 1e-5)
    if r["singular"]:
        assert np.allclose(fit.df, r["nobs"] - 3, rtol=1e-10)
        # the F test pools the rotated contrasts' df, all n - p here (lmerTest::contest)
        assert fit.ftest(["arm", "hope_0"])["df"] == pytest.approx(r["nobs"] - 3, rel=1e-10)
    assert rel_err(kr.df, r["kr_df"]) < 1e-5
    assert rel_err(kr.se, r["kr_se"]) < 1e-5
