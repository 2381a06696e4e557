"""Pocock–Simon minimisation: a published worked example, and its properties."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from peertrial.randomise import Minimiser, minimise

# Scott NW, McPherson GC, Ramsay CR, Campbell MK (2002), Control Clin Trials
# 23:662-674, worked example as tabulated in PMC3503622 (Table 3): counts so far
# (intervention, control); the seventh patient has a high baseline rate and a
# moderate covariate rate. Published marginal imbalances: 1 + 3 = 4 if
# allocated to intervention, 1 + 1 = 2 if allocated to control -> control.
SCOTT_COUNTS = {
    "baseline": {"high": [2, 2], "moderate": [2, 3], "low": [1, 1]},
    "covariate": {"high": [2, 3], "moderate": [3, 1], "low": [1, 1]},
}
LEVELS = {"baseline": ["high", "moderate", "low"], "covariate": ["high", "moderate", "low"]}


def scott(**kwargs):
    return Minimiser(LEVELS, arms=["intervention", "control"], initial_counts=SCOTT_COUNTS, **kwargs)


def test_published_worked_example_range():
    m = scott(p=1.0, seed=1)
    g = m.scores(baseline="high", covariate="moderate")
    assert g.to_dict() == {"intervention": 4.0, "control": 2.0}
    assert m.assign(baseline="high", covariate="moderate") == "control"
    # counts updated on the new patient's levels only
    assert m.counts.loc[("baseline", "high")].tolist() == [2, 3]
    assert m.counts.loc[("covariate", "moderate")].tolist() == [3, 2]


def test_worked_example_other_imbalance_measures_and_weights():
    # By hand from the same table: intervention -> (3,2) and (4,1); control -> (2,3) and (3,2).
    var = scott(imbalance="variance").scores(baseline="high", covariate="moderate")
    np.testing.assert_allclose(var.to_numpy(), [0.5 + 4.5, 0.5 + 0.5])
    sd = scott(imbalance="sd").scores(baseline="high", covariate="moderate")
    np.testing.assert_allclose(sd.to_numpy(), [np.sqrt(0.5) + np.sqrt(4.5), 2 * np.sqrt(0.5)])
    w = scott(weights={"baseline": 2.0, "covariate": 1.0}).scores(baseline="high", covariate="moderate")
    np.testing.assert_allclose(w.to_numpy(), [2 * 1 + 3, 2 * 1 + 1])


def test_biased_coin_probabilities():
    probs = scott(p=0.8).probabilities(baseline="high", covariate="moderate")
    np.testing.assert_allclose(probs.to_numpy(), [0.2, 0.8])
    three = Minimiser({"f": ["a"]}, arms=["x", "y", "z"], p=0.7, initial_counts={"f": {"a": [1, 0, 0]}})
    # y and z tie at the minimum: they share p; x gets 1 - p
    np.testing.assert_allclose(three.probabilities(f="a").to_numpy(), [0.3, 0.35, 0.35])
    # 2:1 ratio: counts are divided by the ratio, so joining x gives (1/2, 0),
    # range 1/2, joining y gives (0, 1), range 1: x is preferred.
    first = Minimiser({"f": ["a"]}, arms=["x", "y"], ratio=[2, 1], p=0.8)
    np.testing.assert_allclose(first.scores(f="a").to_numpy(), [0.5, 1.0])
    np.testing.assert_allclose(first.probabilities(f="a").to_numpy(), [0.8, 0.2])
    tie = Minimiser({"f": ["a"]}, arms=["x", "y"], ratio=[3, 1], imbalance="variance",
                    initial_counts={"f": {"a": [1, 1]}})
    # joining x: (2/3, 1) var 1/18; joining y: (1/3, 2) var 25/18 -> no tie; all-tie case:
    assert tie.scores(f="a").idxmin() == "x"
    even = Minimiser({"f": ["a"]}, arms=["x", "y", "z"], p=0.9)
    np.testing.assert_allclose(even.probabilities(f="a").to_numpy(), [1 / 3] * 3)


def test_biased_coin_follows_preferred_arm_with_probability_p():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"site": rng.integers(1, 8, 3000), "dx": rng.choice(["p", "q", "o"], 3000)})
    out = minimise(df, ["site", "dx"], arms=[0, 1], p=0.75, seed=3, return_probs=True)
    preferred = out[["prob_0", "prob_1"]].max(axis=1) == 0.75
    chose = out["arm"].to_numpy() == out[["prob_0", "prob_1"]].to_numpy().argmax(axis=1)
    k, n = int(chose[preferred].sum()), int(preferred.sum())
    assert stats.binomtest(k, n, 0.75).pvalue > 0.001


def test_deterministic_minimisation_keeps_every_level_within_one():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"site": rng.integers(1, 4, 200)})
    arms = minimise(df, ["site"], arms=["a", "b"], p=1.0, seed=2)
    table = pd.crosstab(df["site"], arms)
    assert (table["a"] - table["b"]).abs().max() <= 1


def test_batch_matches_sequential_and_does_not_modify_input():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"site": rng.integers(1, 8, 60), "dx": rng.choice(["p", "q"], 60)}, index=range(100, 160))
    before = df.copy()
    batch = minimise(df, ["site", "dx"], arms=["control", "peer"], p=0.8, seed=11)
    m = Minimiser(["site", "dx"], arms=["control", "peer"], p=0.8, seed=11)
    seq = [m.assign(site=s, dx=d) for s, d in zip(df["site"], df["dx"])]
    assert batch.tolist() == seq and batch.index.equals(df.index)
    pd.testing.assert_frame_equal(df, before)


def test_bad_input():
    m = Minimiser(LEVELS, arms=["i", "c"])
    with pytest.raises(ValueError, match="unknown level 'very high' of factor 'baseline'"):
        m.assign(baseline="very high", covariate="low")
    with pytest.raises(ValueError, match="missing \\['covariate'\\]"):
        m.assign(baseline="high")
    with pytest.raises(ValueError, match="p \\(the biased-coin probability\\)"):
        Minimiser(LEVELS, p=1.5)
    df = pd.DataFrame({"site": [1, None, 2]})
    with pytest.raises(ValueError, match="column 'site' has missing values at rows 1"):
        minimise(df, ["site"])
