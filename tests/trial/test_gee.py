"""GEE against geepack::geeglm (fixtures/make_gee_fixtures.R)."""

import json
import warnings

import pandas as pd
import pytest

import peertrial as pt
from peertrial import PeertrialWarning

from .conftest import FIXTURES, rel_err

TOL = 1e-6


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIXTURES / "gee_fixtures.json").read_text())


def _check(fit, r):
    assert rel_err(fit["estimate"], r["estimate"]) < TOL
    assert rel_err(fit["se"], r["se"]) < TOL
    assert rel_err(fit.attrs["phi"], r["phi"]) < TOL
    if r["alpha"]:
        assert rel_err(fit.attrs["alpha"], r["alpha"]) < TOL


@pytest.mark.parametrize("corstr", ["exchangeable", "independence"])
def test_real_data(ref, corstr):
    resp = pd.DataFrame(ref["respiratory"]["data"])
    fit = pt.trial.gee(resp, "outcome", arm="trt", cluster="cid", covariates="baseline + age + visit", corstr=corstr)
    _check(fit, ref["respiratory"]["ref"][corstr])
    ep = pd.DataFrame(ref["epil"]["data"])
    fit = pt.trial.gee(ep, "y", arm="trt", cluster="subject", covariates="lbase + lage + period", family="poisson",
                       corstr=corstr)
    _check(fit, ref["epil"]["ref"][corstr])


def test_simulated_peer_workers(ref):
    for s in ref["simulated"]:
        d = pd.DataFrame(s["data"]).sample(frac=1.0, random_state=1)  # row order does not matter
        for corstr in ("exchangeable", "independence"):
            with pytest.warns(PeertrialWarning, match="24 clusters"):
                b = pt.trial.gee(d, "y", cluster="pw", covariates=["x"], corstr=corstr)
            _check(b, s["binomial"][corstr])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PeertrialWarning)
                c = pt.trial.gee(d, "count", cluster="pw", covariates=["x"], family="poisson", corstr=corstr)
            _check(c, s["poisson"][corstr])


def test_bad_arguments(ref):
    d = pd.DataFrame(ref["simulated"][0]["data"])
    with pytest.raises(ValueError, match="cluster="):
        pt.trial.gee(d, "y")
    with pytest.raises(ValueError, match="family"):
        pt.trial.gee(d, "y", cluster="pw", family="gamma")
    with pytest.raises(ValueError, match="corstr"):
        pt.trial.gee(d, "y", cluster="pw", corstr="ar1")
