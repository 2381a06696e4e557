"""Several strategies (dominance, extended dominance), quadrants, EVPI, multi-strategy CEAC."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import peertrial as pt

FIX = Path(__file__).parent / "fixtures"


def test_icer_table_reproduces_dampack_cdiff_vignette():
    """dampack 'Basic Cost Effectiveness Analysis' vignette, example 2: 11 treatment
    strategies for C. difficile infection (Rajasingham et al. 2020, Clin Infect Dis
    70:754-762); dampack's published calculate_icers() output is the fixture
    (vignettes/cdiff_icers.csv): 6 ND, 1 ED (s39), 4 D."""
    ref = pd.read_csv(FIX / "dampack_cdiff_icers.csv")
    shuffled = ref.sample(frac=1, random_state=3)[["Strategy", "Cost", "Effect"]]
    res = pt.econ.icer_table("Cost", "Effect", "Strategy", data=shuffled)
    got = res.table.set_index("strategy")
    exp = ref.set_index("Strategy")
    assert list(got.index) == list(exp.index)  # order ND, ED, D by cost, as dampack
    assert (got["status"] == exp["Status"]).all()
    for a, b in (("inc_cost", "Inc_Cost"), ("inc_effect", "Inc_Effect"), ("icer", "ICER")):
        np.testing.assert_allclose(got[a].to_numpy(float), exp[b].to_numpy(float), rtol=1e-9)
    assert res.frontier == ["s3", "s27", "s33", "s31", "s43", "s44"]


def test_icer_table_hiv_screening_example():
    """dampack vignette example 1 (Paltiel et al. 2006, Ann Intern Med 145:797-806):
    annual screening is strongly dominated; ICERs by hand: 1000/(0.32/12) = 37500,
    1020/(0.21/12) = 58285.71, 420/(0.05/12) = 100800."""
    names = ["status quo", "one time", "5yr", "3yr", "annual"]
    cost = [26000, 27000, 28020, 28440, 29440]
    qaly = np.array([277.25, 277.57, 277.78, 277.83, 277.76]) / 12
    t = pt.econ.calculate_icers(cost, qaly, names).table.set_index("strategy")
    assert t.loc["annual", "status"] == "D"
    np.testing.assert_allclose(t.loc[["one time", "5yr", "3yr"], "icer"], [37500, 1020 * 12 / 0.21, 100800], rtol=1e-9)
    assert np.isnan(t.loc["status quo", "icer"])


def test_extended_dominance_textbook_triangle():
    """B lies above the line joining A and C: a mix of A and C dominates it."""
    t = pt.econ.icer_table([0, 1000, 1500], [0.0, 0.02, 0.1], ["A", "B", "C"]).table.set_index("strategy")
    assert t.loc["B", "status"] == "ED"
    assert t.loc["C", "icer"] == pytest.approx(15000)


def test_icer_table_rejects_duplicates_and_missing():
    with pytest.raises(ValueError, match="unique"):
        pt.econ.icer_table([1, 2], [1, 2], ["a", "a"])
    with pytest.raises(ValueError, match="missing"):
        pt.econ.icer_table([1, np.nan], [1, 2], ["a", "b"])


@pytest.mark.parametrize(
    "dc, de, q", [(-1, 1, "dominant"), (1, -1, "dominated"), (1, 1, "NE"), (-1, -1, "SW"), (5, 0, "undefined"), (0, 1, "dominant")]
)
def test_quadrant(dc, de, q):
    assert pt.econ.quadrant(dc, de) == q


def test_evpi_matches_normal_closed_form():
    """INB ~ N(mu, s^2): EVPI = E[max(INB, 0)] - max(mu, 0) = mu Phi(mu/s) + s phi(mu/s) - max(mu, 0)."""
    rng = np.random.default_rng(1)
    mu, s = 150.0, 400.0
    x = rng.normal(mu, s, 400_000)
    nb = np.stack([np.zeros_like(x), x], axis=-1)
    exact = mu * stats.norm.cdf(mu / s) + s * stats.norm.pdf(mu / s) - mu
    assert pt.econ.evpi_from_nb(nb) == pytest.approx(exact, rel=0.02)


@pytest.mark.parametrize("nb", [[1.0, 2.0, 3.0], 5.0, np.empty((0, 2))])
def test_evpi_rejects_wrong_shape(nb):
    with pytest.raises(ValueError, match=r"shape \(\.\.\., samples, strategies\)"):
        pt.econ.evpi_from_nb(nb)


def test_evpi_rejects_text_and_nan():
    with pytest.raises(ValueError, match="nb must be a numeric array"):
        pt.econ.evpi_from_nb([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="NaN"):
        pt.econ.evpi_from_nb([[0.0, 1.0], [0.0, np.nan]])


def test_ceac_strategies_two_arm_case_equals_incremental_ceac():
    rng = np.random.default_rng(2)
    c = np.column_stack([rng.normal(1000, 100, 3000), rng.normal(1200, 150, 3000)])
    e = np.column_stack([rng.normal(0.6, 0.02, 3000), rng.normal(0.62, 0.02, 3000)])
    w = np.linspace(0, 50000, 11)
    frame = pt.econ.ceac_strategies(c, e, w, ["control", "peer"])
    peer = frame[frame.strategy == "peer"]["prob_cost_effective"].to_numpy()
    np.testing.assert_allclose(peer, pt.econ.ceac_from_samples(c[:, 1] - c[:, 0], e[:, 1] - e[:, 0], w))
    sums = frame.groupby("wtp")["prob_cost_effective"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert frame.groupby("wtp")["on_frontier"].sum().eq(1).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=9), st.integers(min_value=0, max_value=10_000))
def test_frontier_strategies_maximise_net_benefit_between_their_icers(k, seed):
    """Independent characterisation: between consecutive frontier ICERs, the frontier
    strategy has the highest net benefit lambda*E - C among all strategies."""
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 10000, k)
    effect = rng.uniform(0, 1, k)
    t = pt.econ.icer_table(cost, effect, [f"s{i}" for i in range(k)]).table
    nd = t[t["status"] == "ND"]
    icers = nd["icer"].to_numpy()[1:]
    assert np.all(np.diff(icers) > 0)
    bounds = np.concatenate([[0.0], icers, [icers[-1] * 2 + 1 if icers.size else 1.0]])
    for j, name in enumerate(nd["strategy"]):
        lam = (bounds[j] + bounds[j + 1]) / 2
        nb = lam * effect - cost
        assert f"s{int(np.argmax(nb))}" == name
