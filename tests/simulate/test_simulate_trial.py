"""The trial generator: structure, calibration and recovery of its parameters."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter

import peertrial.simulate as sim
from peertrial.simulate import TRIAL_COLUMNS


@pytest.fixture(scope="module")
def shipped_like():
    return sim.simulate_trial(590, 7, seed=2017)


def test_columns_and_codes(shipped_like):
    d = shipped_like.data
    assert tuple(d.columns) == TRIAL_COLUMNS
    assert len(d) == 590 and d["id"].tolist() == list(range(1, 591))
    assert set(d.site) == set(range(1, 8))
    assert set(d.diagnosis) == {"psychotic", "personality", "other"}
    assert set(d.arm) == {0, 1} and set(d.female) <= {0, 1}
    assert (d.prev_admissions >= 1).all() and d.age.between(18, 80).all()
    assert set(d.readmit_status) <= {0, 1, 2}
    assert d.readmit_time.between(1, 365).all() and d.followup_days.between(1, 365).all()
    assert (d.readmit_time <= d.followup_days).all()
    assert d.hope_0.between(12, 48).all() and d.hope_12.dropna().between(12, 48).all()
    assert d.empowerment_0.between(1, 4).all()


def test_engagement_and_worker_structure(shipped_like):
    d = shipped_like.data
    control, peer = d[d.arm == 0], d[d.arm == 1]
    assert (control.sessions == 0).all() and control.peer_worker.isna().all() and (control.cost_intervention == 0).all()
    assert (d.received == (d.sessions >= 2)).all()
    assert (peer.peer_worker.isna() == (peer.sessions == 0)).all()
    assert (d.contact_days.isna() == (d.sessions == 0)).all()
    # 32 peer workers, each nested within one site
    assert peer.peer_worker.dropna().nunique() <= 32 and peer.peer_worker.max() <= 32
    assert (peer.dropna(subset=["peer_worker"]).groupby("peer_worker").site.nunique() == 1).all()
    assert (peer.loc[peer.sessions > 0, "cost_intervention"] > 0).all()


def test_outcome_consistency(shipped_like):
    d = shipped_like.data
    assert (d.readmitted_12m == (d.readmit_status == 1)).all()
    assert ((d.readmissions >= 1) == (d.readmitted_12m == 1)).all()
    assert (d.loc[d.readmitted_12m == 0, "bed_days"] == 0).all()
    assert (d.bed_days <= d.followup_days - d.readmit_time + 1).all()
    assert (d.cost_total >= d.cost_intervention + 415 * d.bed_days - 1e-6).all()
    died = d.readmit_status == 2
    assert d.loc[died, "hope_12"].isna().all()  # no questionnaire after death
    assert (d.empowerment_12.isna() == d.hope_12.isna()).all()


def test_stratified_permuted_blocks(shipped_like):
    """Within every site x diagnosis stratum the arms differ by at most 3 (half the largest block)."""
    d = shipped_like.data
    counts = d.groupby(["site", "diagnosis"]).arm.agg(["sum", "count"])
    assert ((2 * counts["sum"] - counts["count"]).abs() <= 3).all()


def test_calibrated_to_enrich(shipped_like):
    d = shipped_like.data
    assert 0.40 < d.loc[d.arm == 0, "readmitted_12m"].mean() < 0.60
    assert 0.55 < d.loc[d.arm == 1, "received"].mean() < 0.75
    assert 0.05 < d.hope_12.isna().mean() < 0.40 and 0.05 < d.hope_4.isna().mean() < 0.35


def test_reproducible_and_seed_dependent():
    a, b, c = sim.trial(150, seed=1), sim.trial(150, seed=1), sim.trial(150, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_fidelity_ratings(shipped_like):
    f = shipped_like.fidelity
    assert tuple(f.columns) == sim.FIDELITY_COLUMNS
    assert set(f.score) <= {1, 2, 3, 4} and set(f.rater) == {"A", "B"}
    assert f.domain.nunique() == 5 and f.groupby("domain").item.nunique().eq(3).all()
    a = f[f.rater == "A"].groupby(["peer_worker", "session"]).size()
    assert (a == 15).all() and len(a) == 32 * 4
    b = f[f.rater == "B"][["peer_worker", "session"]].drop_duplicates()
    assert 0 < len(b) < len(a)  # a subset of sessions is double-rated
    # the ratings track the workers' latent fidelity
    mean_score = f.groupby("peer_worker").score.mean()
    latent = shipped_like.workers.set_index("peer_worker").fidelity
    assert np.corrcoef(mean_score, latent.loc[mean_score.index])[0, 1] > 0.7


def test_fidelity_correlates_with_engagement():
    res = sim.simulate_trial(6000, seed=3)
    d = res.data[res.data.arm == 1].dropna(subset=["peer_worker"])
    sessions = d.groupby("peer_worker").sessions.mean()
    score = res.fidelity.groupby("peer_worker").score.mean().loc[sessions.index]
    assert np.corrcoef(sessions, score)[0, 1] > 0.3


def test_intercepts_hit_their_targets():
    """p_readmit_control and p_received are hit in a large sample (binomial error)."""
    n = 40_000
    d = sim.trial(n, seed=21, site_sd=0.0, compliance_fidelity=0.0, p_death_12m=0.0, p_withdraw_12m=0.0)
    ctrl = d[d.arm == 0].readmitted_12m
    assert abs(ctrl.mean() - 0.5) < 3.5 * np.sqrt(0.25 / len(ctrl)) + 0.005  # + calibration sample error
    rec = d[d.arm == 1].received
    assert abs(rec.mean() - 0.65) < 3.5 * np.sqrt(0.65 * 0.35 / len(rec)) + 0.005


def test_recovers_hazard_ratio(closed_form):
    """With everyone engaged, a Cox fit on arm recovers hr_complier (adjusting for the covariates)."""
    kw = dict(closed_form, readmit_age=-0.1, readmit_prev=0.4, readmit_diagnosis=(0.0, 0.2, -0.2),
              p_death_12m=0.02, p_withdraw_12m=0.05)  # fmt: skip
    d = sim.trial(12_000, seed=31, hr_complier=0.7, **kw)
    X = pd.DataFrame({"arm": d.arm, "age10": (d.age - 38) / 10, "logprev": np.log(d.prev_admissions),
                      "pers": (d.diagnosis == "personality") * 1.0, "oth": (d.diagnosis == "other") * 1.0})  # fmt: skip
    X["t"], X["e"] = d.readmit_time, (d.readmit_status == 1).astype(int)
    fit = CoxPHFitter().fit(X, "t", "e")
    b, se = fit.params_["arm"], fit.standard_errors_["arm"]
    assert abs(b - np.log(0.7)) < 3 * se
    assert abs(fit.params_["logprev"] - 0.4) < 3 * fit.standard_errors_["logprev"]


def test_recovers_odds_ratio_and_binary_cace(closed_form):
    """Closed form: control risk 0.5, complier risk under peer support 1 - 0.5**hr.

    With compliance independent of risk (no severity, no covariate effects), the
    ITT risk difference is p_received x (p1 - p0) and the Wald (IV) estimator
    recovers p1 - p0; with everyone engaged, logistic regression recovers the OR.
    """
    hr, p0 = 0.7, 0.5
    p1 = 1 - (1 - p0) ** hr
    true_log_or = np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))
    d = sim.trial(12_000, seed=41, hr_complier=hr, **closed_form)
    fit = sm.Logit(d.readmitted_12m, sm.add_constant(d.arm.astype(float))).fit(disp=0)
    assert abs(fit.params["arm"] - true_log_or) < 3 * fit.bse["arm"]

    kw = dict(closed_form, p_received=0.6, compliance_age=0.0, compliance_female=0.0,
              compliance_diagnosis=(0.0, 0.0, 0.0), compliance_prev=0.0, compliance_frailty=0.0)  # fmt: skip
    d = sim.trial(30_000, seed=42, hr_complier=hr, **kw)
    cace, se = _wald(d, "readmitted_12m")
    assert abs(cace - (p1 - p0)) < 3 * se


def _wald(d, y):
    """IV (Wald) estimator of the CACE and its delta-method SE."""
    d = d.dropna(subset=[y])
    z = d.arm.to_numpy()
    yv, r = d[y].to_numpy(float), d.received.to_numpy(float)
    itt = yv[z == 1].mean() - yv[z == 0].mean()
    fs = r[z == 1].mean() - r[z == 0].mean()
    cace = itt / fs
    resid = yv - cace * r
    se = np.sqrt(resid[z == 1].var(ddof=1) / (z == 1).sum() + resid[z == 0].var(ddof=1) / (z == 0).sum()) / fs
    return cace, se


def test_cace_recovers_complier_effect_and_as_treated_is_biased():
    """Confounded engagement (sicker people engage less): IV recovers the truth; as-treated does not."""
    d = sim.trial(20_000, seed=51, round_scores=False, worker_sd_hope=0.0, miss_intercept=(-60.0, -60.0),
                  p_death_12m=0.0)  # fmt: skip
    cace, se = _wald(d, "hope_12")
    assert abs(cace - 1.5) < 3 * se
    at = sm.OLS(d.hope_12, sm.add_constant(d.received.astype(float))).fit()
    assert at.params["received"] - 1.5 > 3 * at.bse["received"]  # biased towards benefit
    itt = d[d.arm == 1].hope_12.mean() - d[d.arm == 0].hope_12.mean()
    assert itt < cace  # diluted by never-takers


def test_parameter_errors():
    with pytest.raises(ValueError, match="unknown trial parameter"):
        sim.trial(50, seed=1, hr=0.5)
    with pytest.raises(ValueError, match="p_readmit_control"):
        sim.trial(50, seed=1, p_readmit_control=1.0)
    with pytest.raises(ValueError, match="hope_mean must have 3"):
        sim.trial(50, seed=1, hope_mean=(1, 2))
    with pytest.raises(ValueError, match="n_peer_workers"):
        sim.trial(50, n_sites=7, seed=1, n_peer_workers=5)
    with pytest.raises(ValueError, match="n must be"):
        sim.trial(1, seed=1)


def test_other_site_counts_and_params_object():
    p = sim.TrialParameters().replace(hr_complier=0.6, n_peer_workers=12)
    d = sim.trial(200, n_sites=4, seed=3, params=p)
    assert set(d.site) == {1, 2, 3, 4} and d.peer_worker.max() <= 12
    assert "Simulated peer-support trial" in sim.simulate_trial(100, seed=1).summary()


def test_true_effects_closed_form(closed_form):
    hr = 0.7
    kw = dict(closed_form, p_received=0.6, compliance_frailty=0.0)
    truth = sim.true_effects(size=100_000, hr_complier=hr, **kw)
    p1 = 1 - 0.5**hr
    se = np.sqrt(0.25 / 100_000)
    assert abs(truth["risk_control"] - 0.5) < 4 * se + 0.003  # + intercept calibration error
    assert abs(truth["cace_risk_difference"] - (p1 - 0.5)) < 4 * se * 2
    assert truth["cace_hope_12"] == pytest.approx(1.5, abs=1e-9)  # potential outcomes are coupled
    assert truth["cace_hope_4"] == pytest.approx(2.0, abs=1e-9)
    assert truth["itt_hope_12"] == pytest.approx(1.5 * truth["p_complier"], abs=1e-9)


def test_trial_estimates_agree_with_true_effects():
    """A large default trial (all biases on) estimates the population ITT odds ratio given by true_effects."""
    truth = sim.true_effects(size=100_000)
    d = sim.trial(20_000, seed=61, site_sd=0.0)  # many sites' worth of people; site effects off
    fit = sm.Logit(d.readmitted_12m, sm.add_constant(d.arm.astype(float))).fit(disp=0)
    truth_site0 = sim.true_effects(size=100_000, site_sd=0.0)
    assert abs(fit.params["arm"] - np.log(truth_site0["itt_odds_ratio"])) < 3 * fit.bse["arm"]
    assert 0.75 < truth["itt_odds_ratio"] < 0.9 and 0.4 < truth["risk_control"] < 0.6


def test_seed_may_be_a_generator_or_seedsequence():
    a = sim.trial(80, seed=np.random.default_rng(5))
    b = sim.trial(80, seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)
    c = sim.trial(80, seed=np.random.SeedSequence(5))
    pd.testing.assert_frame_equal(c, sim.trial(80, seed=5))
    with pytest.raises(ValueError, match="seed must be"):
        sim.trial(80, seed="abc")


def test_every_parameter_is_documented():
    import dataclasses

    doc = sim.TrialParameters.__doc__
    missing = [f.name for f in dataclasses.fields(sim.TrialParameters) if f.name not in doc]
    assert not missing
