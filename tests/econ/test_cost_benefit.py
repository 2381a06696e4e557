"""Cost-benefit ratio, pooled ratio (closed forms), bed-day helper, sensitivity, discounting."""

import numpy as np
import pandas as pd
import pytest

import peertrial as pt


def test_ratio_net_benefit_roi_closed_form():
    r = pt.econ.cost_benefit_ratio(cost=1000, benefit=4760, price_year=2013)
    assert r.ratio == pytest.approx(4.76)
    assert r.net_benefit == pytest.approx(3760)
    assert r.roi == pytest.approx(3.76)
    text = r.summary()
    assert "1:4.76" in text and "GBP, 2013 prices" in text
    assert r.to_frame().loc[0, "ratio"] == pytest.approx(4.76)


def test_ratio_rejects_nonpositive_cost():
    with pytest.raises(ValueError, match="cost must be a positive"):
        pt.econ.cost_benefit_ratio(cost=0, benefit=10)
    assert pt.econ.cost_benefit_ratio(cost=10, benefit=-5).ratio == pytest.approx(-0.5)


@pytest.mark.parametrize("kw, name", [({"cost": "x", "benefit": 5}, "cost"), ({"cost": 5, "benefit": "y"}, "benefit"),
                                      ({"cost": None, "benefit": 5}, "cost")])
def test_ratio_names_non_numeric_argument(kw, name):
    with pytest.raises(ValueError, match=f"^{name} must be a number, got"):
        pt.econ.cost_benefit_ratio(**kw)


def test_bed_day_savings_broadcasts_unit_cost_range():
    assert pt.econ.bed_day_savings(10, 404) == pytest.approx(4040)
    np.testing.assert_allclose(pt.econ.bed_day_savings(10, [404, 429]), [4040, 4290])
    with pytest.raises(ValueError, match="non-negative"):
        pt.econ.bed_day_savings(10, -1)


@pytest.fixture()
def studies():
    return pd.DataFrame(
        {
            "study": ["A", "B", "C", "D"],
            "cost": [10000.0, 25000.0, 5000.0, 40000.0],
            "benefit": [60000.0, 50000.0, 4000.0, 250000.0],
            "n": [50, 120, 30, 200],
        }
    )


def test_pooled_ratio_weightings_closed_form(studies):
    before = studies.copy()
    tot = pt.econ.pooled_ratio(studies, cost="cost", benefit="benefit", study="study")
    assert tot.estimate == pytest.approx(364000 / 80000)
    ratios = np.array([6.0, 2.0, 0.8, 6.25])
    eq = pt.econ.pooled_ratio(studies, weighting="equal")
    assert eq.estimate == pytest.approx(ratios.mean())
    nw = pt.econ.pooled_ratio(studies, weighting="n", n="n")
    assert nw.estimate == pytest.approx((ratios * [50, 120, 30, 200]).sum() / 400)
    # total benefit / total cost is the cost-weighted mean of the study ratios
    assert (tot.table["weight"] * tot.table["ratio"]).sum() == pytest.approx(tot.estimate)
    assert list(tot.table.index) == ["A", "B", "C", "D"]
    assert "total benefit / total cost" in tot.summary() and "1:4.55" in tot.summary()
    pd.testing.assert_frame_equal(studies, before)


def test_pooled_ratio_bootstrap_over_studies(studies):
    a = pt.econ.pooled_ratio(studies, uncertainty="bootstrap", n_boot=3000, seed=4)
    b = pt.econ.pooled_ratio(studies, uncertainty="bootstrap", n_boot=3000, seed=4)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    idx = np.random.default_rng(4).integers(0, 4, size=(3000, 4))
    c, ben = studies["cost"].to_numpy(), studies["benefit"].to_numpy()
    first = ben[idx[0]].sum() / c[idx[0]].sum()
    assert a.replicates[0] == pytest.approx(first)
    assert a.ci_lb < a.estimate < a.ci_ub


def test_pooled_ratio_propagation_delta_method(studies):
    se = studies.assign(cost_se=[500.0, 1000.0, 400.0, 2000.0], benefit_se=[8000.0, 9000.0, 3000.0, 30000.0])
    res = pt.econ.pooled_ratio(
        se, uncertainty="propagate", cost_se="cost_se", benefit_se="benefit_se", n_boot=40000, seed=1
    )
    R = 364000 / 80000
    var = (se["benefit_se"] ** 2).sum() / 80000**2 + R**2 * (se["cost_se"] ** 2).sum() / 80000**2
    assert res.se == pytest.approx(np.sqrt(var), rel=1e-12)
    # Monte Carlo propagation agrees with the delta method for small relative errors
    assert res.replicates.std() == pytest.approx(res.se, rel=0.05)
    # intervals instead of SEs: SE = (ub - lb) / (2 * 1.959964)
    z = 1.959963984540054
    ci = se.assign(
        b_lb=se.benefit - z * se.benefit_se, b_ub=se.benefit + z * se.benefit_se,
        c_lb=se.cost - z * se.cost_se, c_ub=se.cost + z * se.cost_se,
    )
    res2 = pt.econ.pooled_ratio(
        ci, uncertainty="propagate", benefit_lb="b_lb", benefit_ub="b_ub", cost_lb="c_lb", cost_ub="c_ub", seed=1
    )
    assert res2.se == pytest.approx(res.se, rel=1e-9)


def test_pooled_ratio_bad_input(studies):
    bad = studies.copy()
    bad.loc[2, "cost"] = -5.0
    with pytest.raises(ValueError, match=r"'cost' must be positive.*rows 2"):
        pt.econ.pooled_ratio(bad)
    with pytest.raises(ValueError, match="weighting"):
        pt.econ.pooled_ratio(studies, weighting="median")
    with pytest.raises(ValueError, match="n="):
        pt.econ.pooled_ratio(studies, weighting="n")
    miss = studies.copy()
    miss.loc[1, "benefit"] = np.nan
    with pytest.raises(ValueError, match=r"missing.*'benefit'.*1"):
        pt.econ.pooled_ratio(miss)


def test_one_way_sensitivity_closed_form():
    def ratio(cost, days, unit):
        return days * unit / cost

    res = pt.econ.one_way_sensitivity(
        ratio, {"cost": 1000.0, "days": 11.5, "unit": 416.5}, {"unit": (404, 429), "days": (5, 20)}, output_name="ratio"
    )
    t = res.table
    assert list(t.index) == ["days", "unit"]  # largest swing first
    assert t.loc["unit", "output_low"] == pytest.approx(11.5 * 404 / 1000)
    assert t.loc["days", "output_high"] == pytest.approx(20 * 416.5 / 1000)
    assert res.base_output == pytest.approx(11.5 * 416.5 / 1000)
    with pytest.raises(ValueError, match="no base value"):
        pt.econ.one_way_sensitivity(ratio, {"cost": 1.0}, {"x": (1, 2)})


def test_discounting_closed_form():
    assert pt.econ.discount_factor(0.5) == pytest.approx(1.0)
    assert pt.econ.discount_factor(1.5) == pytest.approx(1 / 1.035)
    assert pt.econ.discount_factor(1.5, method="continuous") == pytest.approx(1.035**-1.5)
    assert pt.econ.present_value([100.0, 103.5, 1071.225]) == pytest.approx(100 + 100 + 1000)
    np.testing.assert_allclose(pt.econ.present_value([[1.0, 1.035], [2.0, 0.0]], rate=0.035), [2.0, 2.0])
    assert pt.econ.discount(1000.0, 2.0, rate=0.0) == pytest.approx(1000.0)
    with pytest.raises(ValueError, match="rate"):
        pt.econ.discount_factor(1, rate=3.5)
