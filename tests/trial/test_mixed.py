import warnings

import numpy as np
import pandas as pd
import pytest

from peertrial.trial import mmrm, partially_nested, random_intercept

from .conftest import rel_err

# lme4 stops at its optimiser tolerance (bobyqa, rhoend 1e-10); the log-likelihoods agree
# to 1e-9 and the estimates to its tolerance (~3e-7). nlme::gls: see the MMRM test.
LME4_TOL = 1e-6


def test_site_random_intercept_matches_lmer(r_sets):
    for s in r_sets:
        fit = random_intercept(s["frame"], "y", arm="arm", group="site", covariates=["y0"])
        ref = s["results"]["site_random"]
        assert list(fit.coef.index) == ref["terms"]
        assert rel_err(fit.coef, ref["estimate"]) < LME4_TOL
        assert rel_err(fit.se, ref["se"]) < LME4_TOL
        assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-8)
        assert fit.tau2 == pytest.approx(ref["group_var"], rel=1e-5, abs=1e-10)
        assert fit.sigma2 == pytest.approx(ref["resid_var"], rel=1e-6)
        assert fit.singular == ref["singular"]


def test_site_random_intercept_agrees_with_statsmodels_mixedlm(r_sets):
    import statsmodels.api as sm

    for s in r_sets[2:6]:
        d = s["frame"]
        fit = random_intercept(d, "y", covariates=["y0"], group="site")
        X = np.column_stack([np.ones(len(d)), d["arm"], d["y0"]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm_fit = sm.MixedLM(d["y"].to_numpy(), X, groups=d["site"].to_numpy()).fit(reml=True)
        assert rel_err(fit.coef, sm_fit.fe_params) < 1e-4
        assert fit.tau2 == pytest.approx(float(np.asarray(sm_fit.cov_re)[0, 0]), rel=1e-3)


def test_partially_nested_matches_lmer(r_sets):
    for s in r_sets:
        fit = partially_nested(s["frame"], "y", arm="arm", cluster="peer_worker")
        ref = s["results"]["partially_nested"]
        assert rel_err(fit.coef, ref["estimate"]) < LME4_TOL
        assert rel_err(fit.se, ref["se"]) < LME4_TOL
        assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-8)
        assert fit.icc == pytest.approx(ref["icc"], abs=1e-7)
        assert fit.singular == ref["singular"]
        assert fit.n_groups == s["frame"]["peer_worker"].nunique()


def test_partially_nested_bad_input(r_sets):
    d = r_sets[3]["frame"].copy()
    d.loc[d.index[d["arm"] == 1][:2], "peer_worker"] = None
    with pytest.raises(ValueError, match="'peer_worker' is missing for intervention participants"):
        partially_nested(d, "y", cluster="peer_worker")
    d = r_sets[3]["frame"].copy()
    d.loc[d.index[d["arm"] == 0][0], "peer_worker"] = "PW1"
    before = d.copy()
    with pytest.warns(UserWarning, match="control participant"):
        partially_nested(d, "y", cluster="peer_worker")
    pd.testing.assert_frame_equal(d, before)


def test_mmrm_matches_gls(r_sets):
    """nlme::gls (corSymm + varIdent, REML; optim BFGS, the tightest gls optimiser): our REML
    log-likelihood is never lower than gls's and the estimates agree to ~5e-6."""
    for s in r_sets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fit = mmrm(s["frame"], {"4": "y4", "12": "y12"}, arm="arm", covariates=["y0"])
        ref = s["results"]["mmrm"]
        assert list(fit.coef.index) == ref["terms"]
        assert fit.nobs == ref["nobs"]
        assert fit.loglik >= ref["loglik"] - 1e-9
        assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-7)
        assert rel_err(fit.coef, ref["coef"]) < 2e-5
        assert rel_err(fit.se, ref["se"]) < 2e-5
        assert rel_err(fit.effects["estimate"], ref["visit_effect"]) < 2e-5
        assert rel_err(fit.effects["se"], ref["visit_se"]) < 2e-5
        assert rel_err(fit.sigma.to_numpy(), np.array(ref["sigma"])) < 2e-5


def test_mmrm_summary_and_bad_visits(r_sets):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fit = mmrm(r_sets[0]["frame"], {"4": "y4", "12": "y12"}, covariates=["y0"])
    assert "Treatment effect at each visit" in fit.summary()
    assert list(fit.to_frame().index) == ["4", "12"]
    with pytest.raises(ValueError, match="at least two"):
        mmrm(r_sets[0]["frame"], {"12": "y12"})


def test_partially_nested_unassigned_options(r_sets):
    d = r_sets[5]["frame"].copy()
    rows = d.index[d["arm"] == 1][:3]
    d.loc[rows, "peer_worker"] = None
    from peertrial import PeertrialWarning

    with pytest.warns(PeertrialWarning, match="3 intervention participant.*dropped"):
        dropped = partially_nested(d, "y", unassigned="drop", cluster="peer_worker")
    assert dropped.n == len(d) - 3
    with pytest.warns(PeertrialWarning, match="cluster of one"):
        own = partially_nested(d, "y", unassigned="own_cluster", cluster="peer_worker")
    assert own.n == len(d) and own.n_groups == d["peer_worker"].nunique() + 3
    with pytest.raises(ValueError, match="unassigned must be"):
        partially_nested(d, "y", unassigned="x", cluster="peer_worker")


def test_mmrm_baseline_as_response_matches_gls(r_sets):
    """Three visits (baseline 0, 4, 12) as responses, arm x visit, unstructured (gls)."""
    for s in r_sets[:12]:
        fit = mmrm(s["frame"], {"0": "y0", "4": "y4", "12": "y12"}, arm="arm")
        ref = s["results"]["mmrm3"]
        assert list(fit.coef.index) == ref["terms"]
        assert fit.nobs == ref["nobs"]
        assert fit.loglik >= ref["loglik"] - 1e-9
        assert rel_err(fit.coef, ref["coef"]) < 2e-5
        assert rel_err(fit.se, ref["se"]) < 2e-5
        assert list(fit.effects.index) == ["0", "4", "12"]


def test_mixed_summary_and_frame(r_sets):
    fit = partially_nested(r_sets[3]["frame"], "y", cluster="peer_worker")
    text = fit.summary()
    assert "ICC" in text and "(0 + arm | peer_worker)" in text
    frame = fit.to_frame()
    assert list(frame.columns) == ["estimate", "se", "statistic", "df", "pval", "ci_lb", "ci_ub"]
    assert frame.loc["arm", "estimate"] == fit.estimate
