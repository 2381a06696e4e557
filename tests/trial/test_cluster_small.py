"""Small-sample cluster-robust inference against clubSandwich (fixtures/make_cr2_fixtures.R)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import PeertrialWarning
from peertrial.trial._linear import ols, tsls

from .conftest import FIXTURES, rel_err

TYPES = ["CR0", "CR1", "CR1p", "CR1S", "CR2", "CR3"]
pytestmark = pytest.mark.filterwarnings("ignore:contamination:peertrial.PeertrialWarning")


@pytest.fixture(scope="module")
def cr():
    d = json.loads((FIXTURES / "cr2_fixtures.json").read_text())
    d["star"]["frame"] = pd.DataFrame(d["star"]["data"])
    d["awards"]["frame"] = pd.DataFrame(d["awards"]["data"])
    for s in d["simulated"]:
        s["frame"] = pd.DataFrame(s["data"])
    return d


def _codes(x):
    return np.unique(np.asarray(x), return_inverse=True)[1]


def _check(fit, ref, types, tol=1e-6):
    for t in types:
        r = ref[t]
        est, se, df = fit[t]
        assert rel_err(est, r["estimate"]) < tol, t
        assert rel_err(se, r["se"]) < tol, t
        assert rel_err(df, r["df"]) < tol, t


def _fits(fitter, types):
    out = {}
    for t in types:
        f = fitter(t)
        out[t] = (f.coef[0], f.se[0], f.df[0])
    return out


def test_star_lm_all_coefficients(cr):
    """AER's STAR (grade 1, 76 schools): every coefficient's SE and Satterthwaite df, six CR types."""
    f = cr["star"]["frame"]
    X = np.column_stack([np.ones(len(f)), f[["small", "aide", "girl", "freelunch"]].to_numpy(float)])
    codes = _codes(f["school"])
    _check(_fits(lambda t: ols(X, f["math1"].to_numpy(float), t, codes), TYPES), cr["star"]["itt"], TYPES)


def test_awards_lm_and_ivreg(cr):
    """clubSandwich's AchievementAwardsRCT (2001, 40 schools): lm and ivreg (projected regressors)."""
    f = cr["awards"]["frame"]
    cov = f[["girl", "siblings", "father_ed"]].to_numpy(float)
    one = np.ones((len(f), 1))
    X = np.column_stack([one, f["treated"], cov])
    Xr = np.column_stack([one, f["attempted"], cov])
    y = f["bagrut"].to_numpy(float)
    codes = _codes(f["school"])
    _check(_fits(lambda t: ols(X, y, t, codes), TYPES), cr["awards"]["itt"], TYPES)
    _check(_fits(lambda t: tsls(Xr, X, y, t, codes), TYPES), cr["awards"]["cace"], TYPES)


def test_estimate_effects_cr2_simulated(cr):
    """estimate_effects(cluster=, robust=CR*) ITT and CACE rows on 6 simulated 7-site trials."""
    for s in cr["simulated"]:
        f = s["frame"]
        for t in ["CR0", "CR1", "CR1S", "CR2"]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PeertrialWarning)
                res = pt.trial.estimate_effects(f, "y", arm="arm", received="received", covariates="y0 + C(site)",
                                                cluster="site", robust=t)
            for pop, key in (("itt", "itt_fe"), ("cace", "cace_fe")):
                r = s[key][t]
                assert rel_err(res.loc[pop, "se"], r["se"][1]) < 1e-6
                assert rel_err(res.loc[pop, "df"], r["df"][1]) < 1e-6
                assert rel_err(res.loc[pop, "pval"], r["pval"][1]) < 1e-6
        res = pt.trial.estimate_effects(f, "y", arm="arm", received="received", covariates=["y0"], cluster="site",
                                        robust="CR2")
        assert rel_err(res.loc["itt", "se"], s["itt"]["CR2"]["se"][1]) < 1e-6
        assert rel_err(res.loc["itt", "df"], s["itt"]["CR2"]["df"][1]) < 1e-6
        # vcovCL(type = "HC2") is CR2
        res2 = pt.trial.estimate_effects(f, "y", arm="arm", received="received", covariates=["y0"], cluster="site",
                                         robust="HC2")
        assert rel_err(res2.loc["itt", "se"], s["itt"]["CR2"]["se"][1]) < 1e-10


def test_few_clusters_warning(cr):
    f = cr["simulated"][0]["frame"]
    with pytest.warns(PeertrialWarning, match="7 clusters.*robust='CR2'"):
        pt.trial.estimate_effects(f, "y", arm="arm", received="received", covariates=["y0"], cluster="site")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pt.trial.estimate_effects(f, "y", arm="arm", received="received", covariates=["y0"], cluster="site",
                                        robust="CR2")
    assert not [w for w in caught if "clusters" in str(w.message)]
    assert np.all(res["df"] < 7)


def test_cr_needs_cluster_and_cr3_singular(cr):
    f = cr["simulated"][0]["frame"]
    with pytest.raises(ValueError, match="cluster="):
        pt.trial.estimate_effects(f, "y", arm="arm", received="received", robust="CR2")
    with pytest.raises(ValueError, match="CR3.*singular.*CR2"):
        pt.trial.estimate_effects(f, "y", arm="arm", received="received", covariates="y0 + C(site)",
                                  cluster="site", robust="CR3")


def test_hc2_hc3_hat_value_one(cr):
    """A site with one participant and site fixed effects (hat value 1): R's vcovHC gives NaN for every SE
    (0/0); here that observation contributes 0 (vcovHC with its omega set to 0), with a warning."""
    for s in cr["simulated"]:
        f = s["frame"]
        for t in ("HC2", "HC3"):
            with pytest.warns(PeertrialWarning, match="hat value 1"):
                res = pt.trial.estimate_effects(f, "y", arm="arm", received="received", covariates="y0 + C(site)",
                                                robust=t)
            assert np.isfinite(res.loc["itt", "se"])
            assert rel_err(res.loc["itt", "se"], s["hc"][t]["se"][1]) < 1e-6
