"""Degenerate outcomes (no events, separation, too few rows): clear errors or documented warnings.

Each case reproduces a reviewer's finding (hang, raw LinAlgError, silent huge numbers,
pandas' "No objects to concatenate", numpy reprs in messages).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import ConvergenceWarning, PeertrialWarning


@pytest.fixture
def trial():
    rng = np.random.default_rng(11)
    n = 120
    arm = np.tile([0, 1], n // 2)
    return pd.DataFrame({
        "arm": arm, "site": rng.integers(1, 5, n), "diagnosis": rng.choice(["a", "b"], n),
        "readmitted_12m": rng.binomial(1, 0.4, n), "readmissions": rng.negative_binomial(2, 0.5, n),
        "followup_days": rng.uniform(200, 365, n).round(), "bed_days": rng.negative_binomial(1, 0.1, n),
        "time": rng.uniform(1, 365, n).round(), "status": rng.integers(0, 3, n), "age": rng.normal(40, 10, n),
    }, index=[f"p{i}" for i in range(n)])


def _unchanged(before, after):
    pd.testing.assert_frame_equal(before, after)


# ------------------------------------------------------------------ count_ratio / days_ratio
def test_count_ratio_all_zero_is_an_error_not_a_hang(trial):
    d = trial.assign(readmissions=0)
    snap = d.copy()
    with pytest.raises(ValueError, match=r"'readmissions' is 0 in all 120 rows"):
        pt.survival.count_ratio(d, "readmissions", exposure="followup_days")
    _unchanged(snap, d)


def test_count_ratio_zero_in_one_arm_names_arm_and_rows(trial):
    d = trial.assign(readmissions=trial["readmissions"] * trial["arm"])
    with pytest.raises(ValueError, match=r"'readmissions' is 0 in every row of arm = 0 \(rows 'p0', 'p2'.*not estimable"):
        pt.survival.count_ratio(d, "readmissions", exposure="followup_days")


def test_negative_binomial_without_overdispersion_stops_and_warns():
    # under-dispersed counts: theta -> infinity (MASS::glm.nb warns "iteration limit reached")
    d = pd.DataFrame({"y": [1, 2, 1, 2] * 10, "arm": np.repeat([0, 1], 20)})
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = pt.survival.count_ratio(d, outcome="y", exposure=None)
    assert res.estimate == pytest.approx(1.0, abs=1e-6)  # both arms have mean 1.5
    assert res.extra["theta"] > 1e6


@pytest.mark.parametrize("model", ["nb", "two-part"])
def test_days_ratio_all_zero_is_an_error(trial, model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"'bed_days' is 0 in all 120 rows"):
            pt.survival.days_ratio(trial.assign(bed_days=0), "bed_days", model=model)


def test_two_part_needs_residual_df_for_gamma(trial):
    d = trial.assign(bed_days=0)
    d.loc[["p0", "p1"], "bed_days"] = [3, 5]
    with pytest.raises(ValueError, match=r"only 2 positive values"):
        pt.survival.days_ratio(d, "bed_days", model="two-part")


# ------------------------------------------------------------------ readmission_12m
@pytest.mark.parametrize("value, what", [(0, "no events"), (1, "no non-events")])
@pytest.mark.parametrize("random", [None, "site"])
def test_readmission_without_events_is_an_error(trial, value, what, random):
    with pytest.raises(ValueError, match=rf"'readmitted_12m' is {value} in all 120 rows \({what}\)"):
        pt.survival.readmission_12m(trial.assign(readmitted_12m=value), "readmitted_12m", covariates="C(site) + C(diagnosis)", random=random)


@pytest.mark.parametrize("random", [None, "site"])
def test_readmission_zero_events_in_one_arm_reports_rd_only(trial, random):
    d = trial.assign(readmitted_12m=trial["readmitted_12m"] * trial["arm"])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site) + C(diagnosis)", random=random)
    assert [w.category for w in rec] == [PeertrialWarning]
    assert "arm = 0 has no events" in str(rec[0].message) and "not estimable" in str(rec[0].message)
    n1, e1 = res.arms.loc[1, "n"], res.arms.loc[1, "events"]
    p1 = e1 / n1
    assert res.rd == pytest.approx(p1)
    assert res.effects.at["risk_difference", "se"] == pytest.approx(np.sqrt(p1 * (1 - p1) / n1))
    assert res.rr == np.inf and res.odds_ratio == np.inf  # arm 0 has no events: limits, as itt_odds_ratio
    assert res.effects.loc[["risk_ratio", "adjusted_odds_ratio"], ["se", "ci_lb", "ci_ub", "pval"]].isna().all().all()
    assert "not estimable" in res.model


def test_readmission_all_events_in_one_arm_keeps_rr(trial):
    d = trial.copy()
    d.loc[d["arm"] == 1, "readmitted_12m"] = 1
    with pytest.warns(PeertrialWarning, match=r"arm = 1 has only events.*odds ratio is not estimable"):
        res = pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site) + C(diagnosis)")
    p0 = res.arms.loc[0, "proportion"]
    assert res.rr == pytest.approx(1 / p0)
    assert res.odds_ratio == np.inf and np.isnan(res.effects.at["adjusted_odds_ratio", "se"])


def test_readmission_six_rows_random_site_has_no_raw_linalg_error(trial):
    d = trial.iloc[:6].copy()
    d["readmitted_12m"] = [1, 0, 1, 0, 1, 1]  # arm 0 (rows 0, 2, 4) all readmitted
    with pytest.warns(PeertrialWarning, match="separation"):
        res = pt.survival.readmission_12m(d, "readmitted_12m", covariates=(), random="site")
    assert res.odds_ratio == 0.0  # arm 0 only events: the odds ratio's limit is 0


def test_readmission_separation_by_site_warns(trial):
    d = trial.copy()
    d.loc[d["site"] == 3, "readmitted_12m"] = 0
    with pytest.warns(PeertrialWarning, match=r"constant within site = 3"):
        res = pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site) + C(diagnosis)")
    assert np.isfinite(res.odds_ratio)


def test_readmission_empty_frame(trial):
    with pytest.raises(ValueError, match="no rows"):
        pt.survival.readmission_12m(trial.iloc[:0], "readmitted_12m", covariates="C(site) + C(diagnosis)")


# ------------------------------------------------------------------ competing risks, cox
def test_fine_gray_singular_information_is_a_value_error(trial):
    d = trial.iloc[:2].assign(status=[1, 0])
    with pytest.raises(ValueError, match=r"information matrix is singular.*1 events of the cause in 2 rows"):
        pt.survival.fine_gray(d, "time", "status", ["arm", "age"])


def test_cuminc_without_events_is_an_error(trial):
    # cmprsk::cuminc(ftime, rep(0, n), group) fails ("NAs in foreign function call")
    for group in (None, "arm"):
        with pytest.raises(ValueError, match=r"'status' is 0 \(censored\) in all 120 rows"):
            pt.survival.cuminc(trial.assign(status=0), "time", "status", group)


def test_cox_constant_covariate_message_prints_plain_number(trial):
    with pytest.raises(ValueError, match=r"'age' is constant \(one level: 5\) in all 120 rows") as err:
        pt.survival.cox(trial.assign(age=5.0, event=trial["status"] == 1), "time", "event", ["age"])
    assert "np." not in str(err.value)


def test_cause_specific_cox_without_events_names_status_column(trial):
    with pytest.raises(ValueError, match=r"no events of cause 1 in column 'status'"):
        pt.survival.cause_specific_cox(trial.assign(status=2), "time", "status", ["arm"])


def test_two_part_all_positive_arm_warns_and_matches_closed_form(trial):
    d = trial.copy()
    d.loc[d["arm"] == 1, "bed_days"] += 1
    with pytest.warns(PeertrialWarning, match=r"positive in every row of arm = 1"):
        res = pt.survival.days_ratio(d, "bed_days", model="two-part")
    # saturated logistic part: P(any) per arm is the observed proportion (1 in arm 1)
    y, a = d["bed_days"].to_numpy(), d["arm"].to_numpy()
    p0 = np.mean(y[a == 0] > 0)
    mean_pos = [y[(a == g) & (y > 0)].mean() for g in (0, 1)]
    assert res.estimate == pytest.approx(1 / p0 * mean_pos[1] / mean_pos[0], rel=1e-6)


def test_status_without_the_censoring_code_gets_a_hint():
    # survival's lung codes status 1 = censored, 2 = dead; read with cencode=0 every row is an event
    d = pd.DataFrame({"time": [5, 8, 12, 20, 25, 30], "status": [2, 1, 2, 1, 2, 1], "g": [0, 0, 0, 1, 1, 1]})
    with pytest.warns(UserWarning, match=r"no row of 'status' has the censoring code 0 \(values found: 1, 2\)"):
        pt.survival.cuminc(d, group="g")
    with pytest.warns(UserWarning, match="pass cencode="):
        pt.survival.fine_gray(d, covariates=["g"], cause=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pt.survival.cuminc(d, group="g", cencode=1)
