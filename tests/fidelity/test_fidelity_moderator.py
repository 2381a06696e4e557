"""Fidelity moderation (MixedLM, REML) against lme4::lmer (fixtures/make_fixtures.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial.fidelity as F
from peertrial._warnings import PeertrialWarning

REF = json.loads((Path(__file__).parent / "fixtures" / "fidelity_moderator.json").read_text())
TRIAL = pd.DataFrame(REF["trial"])
FID = pd.Series(REF["worker_fidelity"])
NAMES = {"(Intercept)": "(Intercept)", "fc": "fidelity", "arm": "arm", "arm:fc": "arm:fidelity", "age": "age"}


@pytest.mark.parametrize("population", ["intervention", "all"])
def test_matches_lmer_reml(population):
    with pytest.warns(PeertrialWarning, match="single participant.*PW01"):
        res = F.fidelity_moderation(TRIAL, FID, "hope_12", covariates=["age"], population=population)
    ref = REF[population]
    terms = [NAMES[t] for t in ref["fixef"]]
    np.testing.assert_allclose(res.coef.loc[terms, "estimate"], list(ref["fixef"].values()), rtol=1e-6)
    np.testing.assert_allclose(res.coef.loc[terms, "se"], list(ref["se"].values()), rtol=1e-6)
    np.testing.assert_allclose(res.var_worker, ref["var_worker"], rtol=1e-5)
    np.testing.assert_allclose(res.var_residual, ref["var_residual"], rtol=1e-6)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=1e-9)
    assert res.n == ref["n"] and res.singleton_workers == ("PW01",)
    np.testing.assert_allclose(res.fidelity_center, REF["fbar"], rtol=1e-12)
    assert "NON-RANDOMISED" in res.summary()


def test_missing_fidelity_named_and_excluded():
    fid = FID.drop(["PW03", "PW07"])
    with pytest.warns(PeertrialWarning) as rec:
        res = F.fidelity_moderation(TRIAL, fid, "hope_12")
    msg = " ".join(str(w.message) for w in rec)
    assert "'PW03', 'PW07'" in msg and "14 participants" in msg
    assert res.excluded_workers == ("PW03", "PW07") and res.n_excluded == 14
    assert res.n == 60 - 14
    assert "Excluded, no fidelity score" in res.summary()


@pytest.mark.filterwarnings("ignore:peer workers with a single participant")
def test_intervention_participant_without_worker_excluded():
    t = TRIAL.copy()
    t.loc[3, "peer_worker"] = np.nan
    with pytest.warns(PeertrialWarning, match=r"1 intervention participants with no peer worker.*rows 3"):
        res = F.fidelity_moderation(t, FID, "hope_12")
    assert res.n == 59


def test_data_untouched():
    before = TRIAL.copy(deep=True)
    with pytest.warns(PeertrialWarning):
        F.fidelity_moderation(TRIAL, FID, "hope_12", population="all")
    pd.testing.assert_frame_equal(TRIAL, before)


# ---------------------------------------------------------------- boundary (singular) fits
SING = json.loads((Path(__file__).parent / "fixtures" / "fidelity_singular.json").read_text())
SING_FID = pd.Series(SING["worker_fidelity"])


@pytest.mark.parametrize("case", [0, 1], ids=["seed1", "seed13"])
@pytest.mark.parametrize("population", ["intervention", "all"])
def test_boundary_fit_matches_lmer(case, population):
    """Variance on the boundary converges to 0 and is flagged singular, as lme4's isSingular."""
    c = SING["cases"][case]
    ref = c[population]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = F.fidelity_moderation(pd.DataFrame(c["trial"]), SING_FID, "hope_12", covariates=["age"], population=population)
    warned = any("boundary (singular) fit" in str(w.message) for w in rec)
    assert res.singular == ref["singular"] == warned
    terms = [NAMES[t] for t in ref["fixef"]]
    np.testing.assert_allclose(res.coef.loc[terms, "estimate"], list(ref["fixef"].values()), rtol=1e-6)
    np.testing.assert_allclose(res.coef.loc[terms, "se"], list(ref["se"].values()), rtol=1e-6)
    np.testing.assert_allclose(res.var_worker, ref["var_worker"], rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(res.var_residual, ref["var_residual"], rtol=1e-6)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=1e-9)
    assert res.converged and res.n == ref["n"]
    assert ("Boundary (singular) fit" in res.summary()) == ref["singular"]


@pytest.fixture(scope="module")
def shipped_like():
    """A trial simulated exactly as simulated_data/trial.csv (README: seed 2017), scored as analysis 50 does."""
    import peertrial.simulate as sim

    t = sim.simulate_trial(n=590, n_sites=7, seed=2017)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = F.score_fidelity(t.fidelity, scale=(1, 4))
    return t.data, scores


@pytest.mark.filterwarnings("ignore:62 intervention participants with no peer worker", "ignore:.*participants with missing values")
@pytest.mark.parametrize("population", ["intervention", "all"])
def test_shipped_like_trial_boundary_fit_equals_ols(shipped_like, population):
    """statsmodels MixedLM raised LinAlgError here; the REML fit is singular, so it equals lm."""
    import statsmodels.api as sm

    trial, scores = shipped_like
    with pytest.warns(PeertrialWarning, match="boundary \\(singular\\) fit"):
        res = F.fidelity_moderation(trial, scores, "hope_12", covariates=["hope_0"], population=population)
    assert res.singular and res.var_worker == 0.0 and res.icc == 0.0
    # the same rows and design by hand: intervention participants seen by a peer worker, hope_12 observed
    fid = scores.worker_scores()
    seen = trial["peer_worker"].notna() & (trial["arm"] == 1)
    rows = trial[(seen | (trial["arm"] == 0) if population == "all" else seen) & trial["hope_12"].notna()]
    f = rows["peer_worker"].map(fid).fillna(0.0).to_numpy()
    arm = rows["arm"].to_numpy(float)
    fc = arm * (f - fid.loc[rows.loc[arm == 1, "peer_worker"].unique()].mean())
    cols = [np.ones(len(rows)), fc] if population == "intervention" else [np.ones(len(rows)), arm, fc]
    ols = sm.OLS(rows["hope_12"].to_numpy(float), np.column_stack([*cols, rows["hope_0"].to_numpy(float)])).fit()
    np.testing.assert_allclose(res.coef["estimate"], ols.params, rtol=1e-9)
    np.testing.assert_allclose(res.coef["se"], ols.bse, rtol=1e-9)
    np.testing.assert_allclose(res.var_residual, ols.scale, rtol=1e-9)
    assert res.n == len(rows)


# ---------------------------------------------------------------- degenerate designs
def _fit(data, fid=FID, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        return F.fidelity_moderation(data, fid, "hope_12", **kw)


def test_identical_fidelity_is_a_clear_error():
    with pytest.raises(ValueError, match="all 12 peer workers analysed have the same fidelity score \\(3\\)"):
        _fit(TRIAL, FID * 0 + 3)


def test_one_participant_per_worker_is_a_clear_error():
    one_each = TRIAL[TRIAL["arm"] == 1].groupby("peer_worker").head(1)
    with pytest.raises(ValueError, match="12 peer-worker groups for 12 participants"):
        _fit(one_each)
    # with controls the residual variance is identified: the partially nested model fits
    assert _fit(pd.concat([one_each, TRIAL[TRIAL["arm"] == 0]]), population="all").n == 52


def test_no_controls_for_partially_nested_is_a_clear_error():
    with pytest.raises(ValueError, match="population='all' needs control participants \\(column 'arm' == 0\\)"):
        _fit(TRIAL[TRIAL["arm"] == 1], population="all")


@pytest.mark.parametrize("population", ["intervention", "all"])
def test_collinear_covariate_is_a_clear_error(population):
    t = TRIAL.assign(const=5.0, age2=2 * TRIAL["age"])
    with pytest.raises(ValueError, match="rank deficient: term\\(s\\) \\['const'\\]"):
        _fit(t, covariates=["const"], population=population)
    with pytest.raises(ValueError, match="rank deficient: term\\(s\\) \\['age2'\\]"):
        _fit(t, covariates=["age", "age2"], population=population)


def test_outcome_without_residual_variation_is_a_clear_error():
    with pytest.raises(ValueError, match="outcome 'hope_12' has no residual variation"):
        _fit(TRIAL.assign(hope_12=30.0))
    exact = TRIAL.assign(hope_12=TRIAL["peer_worker"].map(FID).fillna(0) * 2 + 1)
    with pytest.raises(ValueError, match="no residual variation"):
        _fit(exact)


@pytest.mark.filterwarnings("ignore:peer workers with a single participant")
def test_covariates_by_formula_and_numbers_as_text():
    # the one design builder: a formula equals the list, numbers stored as text are numeric
    ref = F.fidelity_moderation(TRIAL, FID, "hope_12", covariates=["age"], population="all")
    got = F.fidelity_moderation(TRIAL.astype({"age": str}), FID, "hope_12", covariates="~ age", population="all")
    pd.testing.assert_frame_equal(got.coef, ref.coef)
    pd.testing.assert_series_equal(got.covariate_means, ref.covariate_means)
