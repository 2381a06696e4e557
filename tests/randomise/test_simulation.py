"""simulate_design: closed-form predictability, block bounds, binomial group
sizes, and agreement of the vectorised minimisation with the Minimiser."""

import numpy as np
import pytest

from peertrial.randomise import Minimiser, simulate_design

ENRICH = {"site": list(range(1, 8)), "diagnosis": ["psychotic", "personality", "other"]}


def test_blocks_of_two_are_guessed_three_quarters_of_the_time_exactly():
    # convergence strategy: first of a pair is a coin flip, the second is certain
    sim = simulate_design(40, design="blocks", block_sizes=[2], reps=50, seed=1)
    np.testing.assert_allclose(sim.predictability, 0.75)
    assert (sim.imbalance == 0).all()


def test_blocks_of_four_match_blackwell_hodges_expectation():
    # block AABB-type of 4: expected correct guesses 1/2 + 2/3 + 2/3 + 1 = 17/6 per block
    sim = simulate_design(40, design="blocks", block_sizes=[4], reps=2000, seed=2)
    se = sim.predictability.std(ddof=1) / np.sqrt(sim.reps)
    assert abs(sim.predictability.mean() - 17 / 24) < 4 * se


def test_stratified_blocks_bound_every_stratum_imbalance():
    sim = simulate_design(300, design="blocks", strata=ENRICH, block_sizes=[2, 4, 6], reps=200, seed=3)
    assert sim.stratum_imbalance.shape == (200, 21)
    assert sim.stratum_imbalance.max() <= 3  # half the largest block
    assert sim.stratum_imbalance.max() == 3
    ratio = simulate_design(90, design="blocks", ratio=[2, 1], block_sizes=[3, 6], reps=200, seed=4)
    # a truncated block of 6 holds at most 4 of arm 0 or 2 of arm 1: n0/(4/3) - n1/(2/3) in [-3, 3]
    assert ratio.imbalance.max() <= 3 + 1e-9


def test_simple_randomisation_group_sizes_are_binomial():
    n, reps = 101, 4000
    sim = simulate_design(n, design="simple", reps=reps, seed=5)
    n1 = sim.group_sizes[:, 1]
    assert abs(n1.mean() - n / 2) < 4 * np.sqrt(n / 4 / reps)
    # variance of a binomial: n p (1 - p); SE of a sample variance ~ sqrt(2 / reps) * var (near normal)
    assert abs(n1.var(ddof=1) - n / 4) < 4 * np.sqrt(2 / reps) * n / 4
    se = sim.predictability.std(ddof=1) / np.sqrt(reps)
    assert abs(sim.predictability.mean() - 0.5) < 4 * se


def test_vectorised_minimisation_agrees_with_the_sequential_minimiser():
    sim = simulate_design(60, design="minimisation", strata={"site": [1, 2, 3], "dx": ["a", "b"]}, p=0.8,
                          imbalance="variance", reps=5, seed=6, keep_allocations=True)
    for r in range(sim.reps):
        m = Minimiser({"site": [1, 2, 3], "dx": ["a", "b"]}, arms=[0, 1], p=0.8, imbalance="variance")
        credits = []
        for arm, (s, d) in zip(sim.allocations[r], sim.participants[r]):
            levels = {"site": [1, 2, 3][s], "dx": ["a", "b"][d]}
            g = m.scores(**levels).to_numpy()
            assert m.probabilities(**levels).to_numpy()[arm] > 0
            best = np.isclose(g, g.min())
            credits.append(best[arm] / best.sum())
            m.record(arm, **levels)
        np.testing.assert_allclose(np.mean(credits), sim.predictability[r])
        counts = m.counts.to_numpy()
        np.testing.assert_allclose((counts.max(1) - counts.min(1))[:3], sim.margin_imbalance["site"][r])


def test_minimisation_balances_margins_better_than_simple():
    kw = dict(strata=ENRICH, reps=100, seed=7)
    mini = simulate_design(200, design="minimisation", **kw)
    simp = simulate_design(200, design="simple", **kw)
    assert mini.margin_imbalance["site"].mean() < simp.margin_imbalance["site"].mean() / 2
    frame = mini.to_frame()
    assert "predictability (convergence guess)" in frame.index and "minimisation" in mini.summary()
    assert len(mini.stratum_table()) == 21 and len(mini.margin_table()) == 10
    assert mini.group_size_table()["mean"].sum() == pytest.approx(200)


def test_progress_bar_and_bad_input(capsys):
    simulate_design(10, reps=30, chunk=10, seed=1, progress=True)
    assert "simulating blocks" in capsys.readouterr().err
    with pytest.raises(ValueError, match="design must be one of"):
        simulate_design(10, design="urn")
    with pytest.raises(ValueError, match="minimisation needs stratum factors"):
        simulate_design(10, design="minimisation")
    with pytest.raises(ValueError, match="level_probs\\['site'\\]"):
        simulate_design(10, strata={"site": [1, 2]}, level_probs={"site": [0.5, 0.6]})
