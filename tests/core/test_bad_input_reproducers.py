"""The reproducers of issue "Nothing silent, nothing hangs", one test each (each failed before its fix)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import PeertrialWarning


@pytest.fixture(scope="module")
def trial():
    return pt.simulate.trial(n=80, seed=2)


def test_cea_warns_about_a_missing_cluster_in_a_clustered_arm(trial):
    d = trial.assign(site=trial["site"].astype(float))
    d.loc[d.index[0], "site"] = np.nan
    with pytest.warns(PeertrialWarning, match=r"no 'site' \(rows 0\).*cluster of one"):
        pt.econ.cea(d, cost="cost_total", effect="qaly", cluster="site", n_boot=20, seed=1)


def test_fidelity_item_scored_minus_4_is_rejected():
    f = pt.simulate.simulate_trial(n=40, seed=2).fidelity.copy()
    f.loc[f.index[0], "score"] = -4
    with pytest.raises(ValueError, match="negative scores.*'SE1'"):
        pt.fidelity.score_fidelity(f)


@pytest.mark.parametrize(("est", "var", "dfcom", "match"), [
    ([[1.0], [1.2], [0.9]], [[0.1], [-0.2], [0.1]], np.inf, "variances"),
    ([[1.0], [np.nan], [0.9]], [[0.1], [0.2], [0.1]], np.inf, "estimates"),
    ([[1.0], [1.2], [0.9]], [[0.1], [0.2], [0.1]], 0, "dfcom"),
])
def test_rubin_pool_rejects_what_it_cannot_pool(est, var, dfcom, match):
    with pytest.raises(ValueError, match=match):
        pt.trial.rubin_pool(est, var, dfcom=dfcom)


def test_ceac_from_samples_rejects_nan_and_mismatched_lengths():
    with pytest.raises(ValueError, match="delta_cost has missing or infinite values at positions 1"):
        pt.econ.ceac_from_samples([1, np.nan, 3], [0.1, 0.2, 0.3], [1000])
    with pytest.raises(ValueError, match="same length"):
        pt.econ.ceac_from_samples([1, 2, 3], [0.1, 0.2], [1000])


def test_discount_mismatched_lengths_name_the_arguments():
    with pytest.raises(ValueError, match="values.*years"):
        pt.econ.discount([100, 200, 300], [0, 1])
    with pytest.raises(ValueError, match="by_year"):
        pt.econ.present_value([100, np.nan])


def test_logrank_without_events_raises():
    with pytest.raises(ValueError, match="no events"):
        pt.survival.logrank(time=[1, 2, 3, 4], event=[0, 0, 0, 0], group=[0, 0, 1, 1])


def test_kaplan_meier_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="time, event must have the same length; time has 3, event has 2"):
        pt.survival.kaplan_meier(time=[1, 2, 3], event=[1, 0])


def test_balance_stats_with_inf_age_names_the_column(trial):
    d = trial.assign(age=trial["age"].astype(float))
    d.loc[d.index[0], "age"] = np.inf
    with pytest.raises(ValueError, match="'age' has infinite values"):
        pt.randomise.balance_stats(d, variables=["age"])


def test_rma_mh_all_double_zero_warns():
    with pytest.warns(PeertrialWarning, match="not estimable"):
        res = pt.meta.rma_mh(ai=[0, 0], bi=[10, 12], ci=[0, 0], di=[11, 9])
    assert np.isnan(res.b)


def test_rma_mh_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        pt.meta.rma_mh(ai=[1, 2, 3], bi=[10, 12], ci=[3, 1], di=[11, 9])


def test_implementation_outcomes_needs_pairs():
    with pytest.raises(ValueError, match=r"outcomes\['trained'\] must be a pair"):
        pt.process.implementation_outcomes({"trained": [10, 28, 5]})
    assert pt.process.implementation_outcomes({"trained": [10, 28]}).table["n"].iloc[0] == 28


@pytest.mark.parametrize("fn", [
    lambda d: pt.survival.count_ratio(d, "readmissions"),
    lambda d: pt.survival.days_ratio(d, "bed_days"),
    lambda d: pt.process.time_to_first_contact(d, "contact_days"),
    lambda d: pt.process.worker_retention(d, "readmit_time", "readmit_status"),
])
def test_empty_frames_give_a_clear_error(fn, trial):
    with pytest.raises(ValueError, match="no (rows|participants)"):
        fn(trial.iloc[:0])


@pytest.mark.parametrize("fn", [
    lambda d: pt.trial.partially_nested(d, "hope_12", cluster="peer_worker", unassigned="drop"),
    lambda d: pt.trial.mmrm(d, {"4": "hope_4", "12": "hope_12"}),
    lambda d: pt.survival.cause_specific_cox(d, "readmit_time", "readmit_status", ["arm"]),
])
def test_duplicate_index_labels_give_a_clear_error(fn, trial):
    d = trial.set_axis(np.repeat(np.arange(len(trial) // 2), 2), axis=0)
    with pytest.raises(ValueError, match="repeated index labels"):
        fn(d)


def test_use_levels_mismatched_lengths():
    with pytest.raises(ValueError, match="sessions, arm must have the same length"):
        pt.trial.use_levels(np.array([1, 2, 3]), np.array([0, 1]))


def test_bed_day_savings_nan():
    with pytest.raises(ValueError, match="bed_days_saved"):
        pt.econ.bed_day_savings(np.nan, 400)
    assert pt.econ.bed_day_savings(2, 400) == 800


def test_progress_bars_stay_off_when_stderr_is_not_a_terminal(capsys):
    pt.simulate.power(60, 10, analyses=("ttest",), seed=1, workers=1)
    pt.randomise.simulate_design(1000, reps=300, seed=1)
    assert capsys.readouterr().err == ""


def test_power_does_not_depend_on_chunk_size_or_workers():
    kw = dict(analyses=("ttest", "logistic"), seed=7, workers=1, progress=False)
    a = pt.simulate.power(80, 120, chunk_size=50, **kw)
    b = pt.simulate.power(80, 120, chunk_size=250, **kw)
    c = pt.simulate.power(80, 120, chunk_size=7, **kw)
    d = pt.simulate.power(80, 120, chunk_size=30, **{**kw, "workers": 2})
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    pd.testing.assert_frame_equal(a.estimates, c.estimates)
    pd.testing.assert_frame_equal(a.estimates, d.estimates)


def test_mediation_leaves_the_warning_filters_alone(monkeypatch):
    import os
    import sys
    import warnings

    pkg = os.path.dirname(pt.__file__)
    calls, real = [], warnings.simplefilter

    def spy(*a, **k):  # filters set by peertrial's own code (libraries underneath are not ours)
        if sys._getframe(1).f_code.co_filename.startswith(pkg):
            calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(warnings, "simplefilter", spy)
    d = pt.simulate.trial(n=120, seed=1)
    pt.process.mediation(d.dropna(subset=["hope_4", "hope_12"]), "arm", "hope_4", "hope_12", n_boot=100, seed=1)
    assert calls == []
