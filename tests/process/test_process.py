"""Engagement, dose-response, mediation, KM and proportions against R (fixtures/make_fixtures.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial.process as P
from peertrial._warnings import PeertrialWarning

REF = json.loads((Path(__file__).parent / "fixtures" / "process.json").read_text())
DATA = pd.DataFrame(REF["data"])
TI = DATA[DATA["arm"] == 1]
RTOL = 1e-6
PRED = ["age", "female", "prev_admissions", "diagnosis"]


def _check_coef(res, ref, rtol=RTOL):
    assert list(res.coef.index) == ref["terms"]
    for col in ("estimate", "se", "stat"):
        np.testing.assert_allclose(res.coef[col], ref[col], rtol=rtol, err_msg=col)
    # tiny p-values (1e-20) amplify the last digits of z; glm.nb stops theta at its own tolerance
    np.testing.assert_allclose(res.coef["pval"], ref["pval"], rtol=10 * rtol, err_msg="pval")


@pytest.mark.parametrize("family,outcome", [("negbin", "sessions"), ("poisson", "sessions"), ("logistic", "received")])
def test_engagement_models_match_glm(family, outcome):
    res = P.engagement_model(TI, outcome, PRED, family=family)
    ref = REF["engagement"][family]
    _check_coef(res, ref)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=1e-9)
    np.testing.assert_allclose(res.aic, ref["aic"], rtol=1e-9)
    if family == "negbin":
        np.testing.assert_allclose(res.theta, ref["theta"], rtol=RTOL)
    np.testing.assert_allclose(res.coef["exp_estimate"], np.exp(ref["estimate"]), rtol=RTOL)


def test_engagement_count_must_be_whole():
    bad = TI.astype({"sessions": float})
    bad.loc[bad.index[2], "sessions"] = 2.5
    with pytest.raises(ValueError, match=r"'sessions'.*whole"):
        P.engagement_model(bad, "sessions", ["age"])


def test_engagement_summary_by_arm_and_worker():
    df = DATA.assign(peer_worker=np.where(DATA["arm"] == 1, DATA.index % 7 + 1, np.nan))
    res = P.engagement_summary(df, peer_worker="peer_worker")
    s = TI["sessions"]
    row = res.by_arm.loc["peer support"]
    assert row["n"] == len(s) and row["any"] == (s >= 1).sum() and row["received"] == (s >= 2).sum()
    np.testing.assert_allclose([row["mean"], row["sd"], row["median"]], [s.mean(), s.std(), s.median()])
    # R quantile type 7 is numpy's default 'linear'
    np.testing.assert_allclose(row["q3"], np.percentile(s, 75))
    assert res.by_worker["n"].sum() == len(s) and len(res.by_worker) == 7
    assert res.distribution["peer support"].sum() == len(s)
    assert res.by_arm.loc["control", "mean"] == 0


def test_dose_response_lm_and_glm():
    with pytest.warns(UserWarning, match="missing values in \\['hope_12'\\]"):
        lin = P.dose_response(DATA, "hope_12", covariates=["hope_0"])
    ref = REF["dose"]["gaussian"]
    _check_coef(lin, ref)
    assert lin.n == ref["n"]
    np.testing.assert_allclose(lin.coef["ci_lb"], ref["ci_lb"], rtol=RTOL)  # lm confint: t quantiles
    np.testing.assert_allclose(lin.loglik, ref["loglik"], rtol=1e-9)
    np.testing.assert_allclose(lin.aic, ref["aic"], rtol=1e-9)
    logit = P.dose_response(DATA, "readmitted_12m", covariates=["age"], family="logistic")
    _check_coef(logit, REF["dose"]["logistic"])
    for res in (lin, logit):
        assert "NON-RANDOMISED" in res.summary()


def test_mediation_paths_match_lm_and_lavaan():
    with pytest.warns(UserWarning, match="missing"):
        res = P.mediation(DATA, "arm", "hope_4", "hope_12", ["hope_0"], n_boot=500, seed=11)
    ref = REF["mediation"]
    assert res.n == ref["n"]
    # a: arm coefficient of hope_4 ~ arm + hope_0 ; b: hope_4 coefficient of hope_12 ~ arm + hope_4 + hope_0
    for path, model, j in [("a", "a", 1), ("b", "b", 2), ("direct", "b", 1), ("total", "total", 1)]:
        row = res.paths.loc[path]
        np.testing.assert_allclose([row["estimate"], row["se"], row["pval"]], [ref[model]["estimate"][j], ref[model]["se"][j], ref[model]["pval"][j]], rtol=RTOL, err_msg=path)
    np.testing.assert_allclose(res.paths.loc["a", ["ci_lb", "ci_ub"]], [ref["a"]["ci_lb"][1], ref["a"]["ci_ub"][1]], rtol=RTOL)
    np.testing.assert_allclose(res.paths.loc["indirect", "estimate"], ref["lavaan_ab"], rtol=RTOL)
    np.testing.assert_allclose(res.paths.loc["total", "estimate"], ref["lavaan_total"], rtol=RTOL)
    lo, hi = res.paths.loc["indirect", ["ci_lb", "ci_ub"]]
    assert lo < ref["lavaan_ab"] < hi
    assert "Assumptions" in res.summary() and "NOT given by randomisation" in res.summary()


def test_mediation_bootstrap_equals_lm_refits_on_the_same_resamples():
    # R refits both lm's on pingouin's resamples for this seed (indices: fixtures/make_boot_indices.py)
    ref = REF["mediation"]["boot"]
    with pytest.warns(UserWarning, match="missing"):
        res = P.mediation(DATA, "arm", "hope_4", "hope_12", ["hope_0"], n_boot=ref["n_boot"], seed=ref["seed"])
    np.testing.assert_allclose(res.boot, ref["ab"], rtol=RTOL)
    np.testing.assert_allclose(res.paths.loc["indirect", "se"], ref["se"], rtol=RTOL)  # R sd(): ddof = 1
    np.testing.assert_allclose(res.paths.loc["indirect", ["ci_lb", "ci_ub"]], ref["ci"], rtol=RTOL)  # quantile type 7


def test_mediation_seeded_reproducible_and_checks():
    sub = DATA.dropna(subset=["hope_4", "hope_12"])
    r1 = P.mediation(sub, "arm", "hope_4", "hope_12", n_boot=200, seed=3)
    r2 = P.mediation(sub, "arm", "hope_4", "hope_12", n_boot=200, seed=3)
    np.testing.assert_array_equal(r1.boot, r2.boot)
    with pytest.raises(ValueError, match="mediator column 'received' is binary"):
        P.mediation(sub, "arm", "received", "hope_12", n_boot=200)
    with pytest.raises(ValueError, match="'arm' takes a single value"):
        P.mediation(sub[sub["arm"] == 1], "arm", "hope_4", "hope_12", n_boot=200)
    with pytest.warns(PeertrialWarning, match="risk-difference"):
        P.mediation(sub, "arm", "hope_4", "readmitted_12m", n_boot=200, seed=1)


def test_time_to_first_contact_matches_survfit():
    with pytest.warns(PeertrialWarning, match="2 first contacts after the 120-day horizon"):
        res = P.time_to_first_contact(DATA, time="contact_days")
    ref = REF["contact"]
    tab = res.table
    np.testing.assert_allclose(tab["time"], ref["time"])
    np.testing.assert_allclose(tab["n_risk"], ref["n_risk"])
    np.testing.assert_allclose(tab["n_event"], ref["n_event"])
    np.testing.assert_allclose(tab["surv"], ref["surv"], rtol=RTOL)
    ok = np.isfinite(np.asarray(ref["lower"], float))
    np.testing.assert_allclose(tab["ci_lb"][ok], np.asarray(ref["lower"], float)[ok], rtol=1e-5)
    np.testing.assert_allclose(tab["ci_ub"][ok], np.asarray(ref["upper"], float)[ok], rtol=1e-5)
    assert res.medians.iloc[0] == ref["median"]
    at = res.at([7, 30])
    np.testing.assert_allclose(at["cum"], 1 - at["surv"])


def test_worker_retention_matches_survfit():
    ref = REF["retention"]
    w = pd.DataFrame(ref["data"])
    res = P.worker_retention(w, group="band")
    np.testing.assert_allclose(res.table["time"], ref["time"])
    np.testing.assert_allclose(res.table["n_risk"], ref["n_risk"])
    np.testing.assert_allclose(res.table["surv"], ref["surv"], rtol=RTOL)
    lower = np.asarray([np.nan if v == "NA" else v for v in ref["lower"]], float)
    ok = np.isfinite(lower)
    np.testing.assert_allclose(res.table["ci_lb"].to_numpy()[ok], lower[ok], rtol=1e-5)
    med = [np.nan if m == "NA" else m for m in ref["median"]]
    np.testing.assert_allclose(res.medians.to_numpy(float), med)


def test_proportions_equal_binom_test_and_prop_test():
    ref = REF["proportions"]
    res = P.proportion_ci(ref["x"], ref["n"])
    for col in ("exact_lb", "exact_ub", "wilson_lb", "wilson_ub"):
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-9, atol=1e-15, err_msg=col)


def test_implementation_outcomes_stirrup():
    res = P.implementation_outcomes({"completed training": (10, 28), "in post at 2 years": (7, 7)})
    ref = REF["proportions"]
    np.testing.assert_allclose(res.table.loc["completed training", "exact_lb"], ref["exact_lb"][0], rtol=1e-9)
    assert res.table.loc["in post at 2 years", "exact_ub"] == 1.0
    # 7 of 7: the exact lower bound is (alpha/2)^(1/n) in closed form
    np.testing.assert_allclose(res.table.loc["in post at 2 years", "exact_lb"], 0.025 ** (1 / 7), rtol=1e-12)
    with pytest.raises(ValueError, match="0 <= x <= n"):
        P.proportion_ci([11], [10])
    frame = pd.DataFrame({"outcome": ["a"], "x": [3], "n": [40]})
    assert P.implementation_outcomes(frame).table.loc["a", "x"] == 3


def test_inputs_untouched():
    before = DATA.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P.engagement_summary(DATA, peer_worker=None)
        P.engagement_model(DATA[DATA.arm == 1], "sessions", PRED)
        P.dose_response(DATA, "hope_12")
        P.time_to_first_contact(DATA, time="contact_days")
        P.mediation(DATA, "arm", "hope_4", "hope_12", n_boot=100, seed=1)
    pd.testing.assert_frame_equal(DATA, before)


def test_engagement_bad_input_named():
    bad = DATA.assign(sessions=DATA["sessions"].astype(float))
    bad.loc[4, "sessions"] = -1
    with pytest.raises(ValueError, match=r"'sessions'.*non-negative.*rows 4"):
        P.engagement_summary(bad, peer_worker=None)
    bad.loc[4, "sessions"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in column\(s\) \['sessions'\]"):
        P.engagement_summary(bad, peer_worker=None)
    with pytest.raises(ValueError, match="family must be one of"):
        P.engagement_model(TI, "sessions", ["age"], family="gamma")


def test_contact_curve_by_group_splits_participants():
    with pytest.warns(PeertrialWarning):
        res = P.time_to_first_contact(DATA, group="female", time="contact_days")
    assert res.n.sum() == len(TI) and set(res.n.index) == {0, 1}
    events = (TI["contact_days"] <= 120).groupby(TI["female"]).sum()
    assert res.events.sort_index().tolist() == events.sort_index().tolist()


def test_contact_at_times_follows_survfit_steps():
    with pytest.warns(PeertrialWarning):
        res = P.time_to_first_contact(DATA, time="contact_days")
    ref = REF["contact"]
    t_ref = np.asarray(ref["time"], float)
    times = [0.5, 7, 30, 119.5]
    at = res.at(times)
    for k, t in enumerate(times):
        i = np.searchsorted(t_ref, t, side="right") - 1  # summary(survfit, times=) carries the last step forward
        expect = (1.0, 1.0) if i < 0 else (ref["surv"][i], ref["lower"][i])
        np.testing.assert_allclose([at["surv"][k], at["ci_lb"][k]], expect, rtol=RTOL)
    np.testing.assert_allclose(at["cum_ub"], 1 - at["ci_lb"])


def test_median_exactly_half_is_midpoint_as_survfit():
    # S = 3/4, 1/2, 1/4, 0: the curve sits at 0.5 on [2, 3), so print.survfit reports (2 + 3) / 2
    res = P.km_curve([1, 2, 3, 4], [1, 1, 1, 1])
    assert res.medians["all"] == 2.5
    np.testing.assert_allclose(res.table["surv"], [0.75, 0.5, 0.25, 0.0])
    assert np.isnan(res.table["ci_lb"].iloc[-1])  # log-log limits undefined at S = 0, NA in R


def test_single_level_group_equals_ungrouped():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        one = P.time_to_first_contact(DATA.assign(unit="ward A"), group="unit", time="contact_days")
        all_ = P.time_to_first_contact(DATA, time="contact_days")
    assert list(one.n.index) == ["ward A"] and list(one.table["group"].unique()) == ["ward A"]
    np.testing.assert_array_equal(one.table["surv"], all_.table["surv"])
    assert one.medians["ward A"] == all_.medians["all"]


def test_mediation_arm_must_be_zero_one():
    # arm coded 0/2 would silently halve a, c and c'
    sub = DATA.dropna(subset=["hope_12"])
    with pytest.raises(ValueError, match=r"column 'arm' must be coded 0/1.*found values 0 \(\d+ rows\), 2 .* at rows 120, 121, .*arm_levels=\{0: 0, 2: 1\}"):
        P.mediation(sub.assign(arm=2 * sub["arm"]), "arm", "hope_4", "hope_12", n_boot=100, seed=1)


def test_mediation_too_few_complete_rows():
    sub = DATA.dropna(subset=["hope_12"])
    few = pd.concat([sub[sub["arm"] == 0].iloc[:3], sub[sub["arm"] == 1].iloc[:2]])
    with pytest.raises(ValueError, match=r"only 5 complete rows .* at least 6"):
        P.mediation(few, "arm", "hope_4", "hope_12", n_boot=100, seed=1)
    six = pd.concat([few, sub[sub["arm"] == 1].iloc[2:3]])
    with pytest.raises(ValueError, match=r"only 6 complete rows .* at least 7 .*6 coefficients"):
        P.mediation(six, "arm", "hope_4", "hope_12", ["hope_0", "age", "female"], n_boot=100, seed=1)


def test_models_reject_constant_outcome_and_too_few_rows():
    with pytest.raises(ValueError, match=r"no variation in outcome 'sessions': all 120 rows equal 0"):
        P.engagement_model(TI.assign(sessions=0), "sessions", ["age"])
    with pytest.raises(ValueError, match=r"2 complete rows for outcome 'sessions'.*\['\(Intercept\)', 'age', 'theta'\].*at least 4"):
        P.engagement_model(TI.iloc[:2], "sessions", ["age"])
    with pytest.raises(ValueError, match=r"3 complete rows for outcome 'hope_0'.*gaussian.*'sigma'"):
        P.dose_response(TI.iloc[:3], "hope_0", covariates=["age"])
    with pytest.raises(ValueError, match="no variation in outcome 'received'"):
        P.engagement_model(TI.assign(received=1), "received", ["age"], family="logistic")


def test_zero_one_messages_fit_the_column():
    w = pd.DataFrame({"months_in_post": [3, 5, 12, 24], "left": [1, 2, 0, 0]})
    with pytest.raises(ValueError, match=r"'left' must be coded 0/1 \(0 = still in post, 1 = left post\); found \[2.0\] at rows 1$"):
        P.worker_retention(w)
    with pytest.raises(ValueError, match=r"'received' must be coded 0/1 \(0 = did not engage, 1 = engaged\)"):
        P.engagement_model(TI.assign(received=TI["received"] * 3), "received", ["age"], family="logistic")
    with pytest.raises(ValueError, match=r"violated at positions \[0, 2\]$"):
        P.proportion_ci([12, 3, 1], [10, 10, 0])
