"""itt_odds_ratio against R glm(binomial) + confint.default, and its sparse-data handling."""

import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial._warnings import PeertrialWarning

KEYS = ("log_or", "se", "z", "pval", "odds_ratio", "ci_lb", "ci_ub")


@pytest.mark.parametrize("model, covariates", [("unadjusted", []),
                                                ("adjusted", ["y0", "age", "diagnosis", "site"])])
def test_itt_odds_ratio_matches_glm(r_sets, model, covariates):
    for s in r_sets:
        ref = s["results"]["odds_ratio"][model]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no separation on these data: no warning at all
            res = pt.trial.itt_odds_ratio(s["frame"], outcome="yb", covariates=covariates, factors=["site"])
            res90 = pt.trial.itt_odds_ratio(s["frame"], outcome="yb", covariates=covariates, factors=["site"],
                                            level=0.9)
        for k in KEYS:
            # log_or and z can be ~1e-15 (balanced 2x2 tables): relative error is meaningless there
            np.testing.assert_allclose(res[k], ref[k], rtol=1e-6, atol=1e-10, err_msg=f"{s['seed']} {model} {k}")
        np.testing.assert_allclose([res90["ci_lb"], res90["ci_ub"]], [ref["ci_lb_90"], ref["ci_ub_90"]], rtol=1e-6)
        assert res["n"] == ref["n"] and res["separation"] is False


def _data(n=60, seed=3):
    rng = np.random.default_rng(seed)
    arm = np.tile([0, 1], n // 2)
    received = arm * (np.arange(n) % 6 != 1)  # a few non-compliers
    return pd.DataFrame({"arm": arm, "received": received, "y": rng.integers(0, 2, n), "x": rng.normal(size=n)})


@pytest.mark.parametrize("value, word", [(0, "no events"), (1, "no non-events")])
def test_no_events_raise(value, word):
    d = _data().assign(y=value)
    with pytest.raises(ValueError, match=f"'y' has {word}"):
        pt.trial.itt_odds_ratio(d, outcome="y")
    with pytest.raises(ValueError, match=f"'y' has {word}"):
        pt.trial.estimate_effects(d, outcome="y", received="received")


def test_constant_continuous_outcome_raises():
    with pytest.raises(ValueError, match="outcome 'y' is constant"):
        pt.trial.estimate_effects(_data().assign(y=2.5), outcome="y", received="received")


@pytest.mark.parametrize("y_of_arm, expect_or, cell", [
    (lambda a, y: a, np.inf, "arm = 0 has y = 1"),                   # complete separation
    (lambda a, y: np.where(a == 0, 0, y), np.inf, "arm = 0 has y = 1"),  # no events in control
    (lambda a, y: np.where(a == 1, 0, y), 0.0, "arm = 1 has y = 1"),     # no events with peer support
    (lambda a, y: np.where(a == 0, 1, y), 0.0, "arm = 0 has y = 0"),     # all events in control
])
def test_empty_cell_gives_infinite_or_with_warning(y_of_arm, expect_or, cell):
    d = _data()
    d["y"] = y_of_arm(d["arm"].to_numpy(), d["y"].to_numpy())
    snap = d.copy()
    with pytest.warns(PeertrialWarning, match=f"separation: .*{cell}"):
        res = pt.trial.itt_odds_ratio(d, outcome="y", covariates=["x"])
    assert res["odds_ratio"] == expect_or
    assert res["log_or"] == (np.inf if expect_or else -np.inf)
    assert res["separation"] is True
    assert all(np.isnan(res[k]) for k in ("se", "z", "pval", "ci_lb", "ci_ub"))
    pd.testing.assert_frame_equal(d, snap)
    # estimate_effects attaches the same handling
    with pytest.warns(PeertrialWarning, match="separation"):
        eff = pt.trial.estimate_effects(d, outcome="y", received="received")
    assert eff.attrs["itt_odds_ratio"]["odds_ratio"] == expect_or


def test_separation_by_covariate_warns_and_flags():
    d = _data(n=80)
    d["x"] = d["y"] * 100 + d["x"]  # x separates y perfectly; arm does not
    with pytest.warns(PeertrialWarning, match="separation by the covariates"):
        res = pt.trial.itt_odds_ratio(d, outcome="y", covariates=["x"])
    assert res["separation"] is True


def test_no_raw_statsmodels_warning_on_separation():
    d = _data()
    d["y"] = d["arm"]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        pt.trial.itt_odds_ratio(d, outcome="y")
    assert rec and all(issubclass(w.category, PeertrialWarning) for w in rec)
