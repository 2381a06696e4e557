"""Covariate typing rule (peertrial.trial._design) and tiny-data errors of the mixed models."""

import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.trial import mmrm, partially_nested, random_intercept


@pytest.fixture
def trial_df():
    rng = np.random.default_rng(11)
    n = 120
    arm = np.tile([0, 1], n // 2)
    d = pd.DataFrame({"arm": arm, "received": arm, "age": rng.integers(18, 70, n),
                      "site": rng.integers(1, 5, n), "y0": rng.normal(30, 5, n)})
    d["y"] = 10 + 0.5 * d["y0"] + 2 * arm + 0.05 * d["age"] + rng.normal(0, 3, n)
    d["y4"] = 8 + 0.6 * d["y0"] + arm + rng.normal(0, 3, n)
    d["worker"] = np.where(arm == 1, "PW" + pd.Series(rng.integers(1, 6, n)).astype(str), None)
    return d


def _effects(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.trial.estimate_effects(d, outcome="y", covariates=["age", "site"], **kw, received="received")


def test_text_in_numeric_covariate_names_column_and_rows(trial_df):
    d = trial_df.astype({"age": object})
    d.loc[[4, 9], "age"] = ["n/a", "forty"]
    snap = d.copy()
    with pytest.raises(ValueError, match=r"'age' mixes numbers and text.*'n/a', 'forty'.*rows 4, 9"):
        _effects(d)
    pd.testing.assert_frame_equal(d, snap)


def test_numbers_stored_as_text_are_numeric(trial_df):
    ref = _effects(trial_df)
    as_text = _effects(trial_df.astype({"age": str}))
    pd.testing.assert_frame_equal(as_text, ref)
    # listing the column in factors= still makes it a factor
    fac = _effects(trial_df.astype({"site": str}), factors=["site"])
    fac_num = _effects(trial_df, factors=["site"])
    pd.testing.assert_frame_equal(fac, fac_num)
    assert not np.allclose(fac["estimate"], ref["estimate"])


def test_mixed_types_in_declared_factor_are_levels(trial_df):
    d = trial_df.astype({"site": object})
    d.loc[d["site"] == 4, "site"] = "north"  # levels 1, 2, 3, 'north'
    res = _effects(d, factors=["site"])
    ref = _effects(trial_df, factors=["site"])  # same grouping, level 4 last in both
    pd.testing.assert_frame_equal(res, ref)


def test_text_covariate_is_factor(trial_df):
    d = trial_df.assign(site=trial_df["site"].map({1: "a", 2: "b", 3: "c", 4: "d"}))
    pd.testing.assert_frame_equal(_effects(d), _effects(trial_df, factors=["site"]))


def test_random_intercept_tiny_data(trial_df):
    with pytest.raises(ValueError, match="at least 2"):
        random_intercept(trial_df.assign(site=1), "y", group="site")
    with pytest.raises(ValueError, match="4 clusters for 4 rows"):
        random_intercept(trial_df.iloc[:4].assign(site=[1, 2, 3, 4]), "y", group="site")
    with pytest.raises(ValueError, match="too few participants: 2 complete rows"):
        random_intercept(trial_df.iloc[:2], "y", group="site")


def test_partially_nested_tiny_data(trial_df):
    d = trial_df.assign(worker=np.where(trial_df["arm"] == 1, "PW1", None))
    with pytest.raises(ValueError, match="'worker' has 1 cluster"):
        partially_nested(d, "y", cluster="worker")
    with pytest.raises(ValueError, match="too few participants: 2 complete rows"):
        partially_nested(trial_df.iloc[:2], "y", cluster="worker")


def test_mmrm_tiny_data(trial_df):
    visits = {"4": "y4", "12": "y"}
    with pytest.raises(ValueError, match="too few participants for an unstructured covariance: 4 participants"):
        mmrm(trial_df.iloc[:4], visits, covariates=["y0"])
    d = trial_df.copy()
    d.loc[d["arm"] == 0, "y4"] = np.nan
    with pytest.raises(ValueError, match="visit '4' \\(column 'y4'\\) has no observed value in arm 0"):
        mmrm(d, visits, covariates=["y0"])
    # the smallest allowed size fits
    assert np.isfinite(mmrm(trial_df.iloc[:6], visits, covariates=["y0"]).coef).all()
