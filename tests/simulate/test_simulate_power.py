"""Power by simulation against closed-form power; reproducibility across workers."""

import json
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower

import peertrial.simulate as sim

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "simulate_fixtures.json").read_text())


@pytest.mark.parametrize("case", FIXTURES["power_t"], ids=lambda c: f"n{c['n']}")
def test_power_t_matches_r_power_t_test(case):
    got = sim.power_t(case["delta"], case["sd"], case["n"], alpha=case["alpha"])
    assert got == pytest.approx(case["power"], rel=1e-6)


@pytest.mark.parametrize("case", FIXTURES["power_prop"], ids=lambda c: f"n{c['n']}")
def test_pooled_two_proportions_matches_r_power_prop_test(case):
    got = sim.power_two_proportions(case["p0"], case["p1"], case["n"], pooled=True)
    assert got == pytest.approx(case["power"], rel=1e-6)


def test_unpooled_two_proportions_matches_statsmodels():
    p0, p1, n = 0.5, 0.42, 250
    es = abs(p1 - p0) / np.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / 2)
    ref = NormalIndPower().power(es, nobs1=n, alpha=0.05, ratio=1.0, alternative="two-sided")
    assert sim.power_two_proportions(p0, p1, n) == pytest.approx(ref, rel=1e-10)


def test_schoenfeld_formula():
    # 0.8 power at alpha 0.05 needs d = 4 (1.959964 + 0.841621)^2 / log(hr)^2 events
    hr = 0.7
    d = 4 * (1.959963984540054 + 0.8416212335729143) ** 2 / np.log(hr) ** 2
    assert sim.power_schoenfeld(hr, d) == pytest.approx(0.8 + 0.0, abs=2e-4)  # upper tail adds ~1e-4


def test_simulated_power_agrees_with_closed_form(closed_form):
    n, n_trials = 400, 2000
    res = sim.power(n, n_trials, seed=20240601, workers=1, progress=False, **closed_form)
    p0 = 0.5
    p1 = 1 - (1 - p0) ** 0.75
    sd12 = np.sqrt(0.45**2 * 7.0**2 + 6.0**2)
    expected = {
        "logistic": sim.power_two_proportions(p0, p1, n / 2),
        "cox": sim.power_schoenfeld(0.75, n / 2 * (p0 + p1)),
        "ttest": sim.power_t(1.5, sd12, n / 2),
    }
    for name, value in expected.items():
        assert abs(res.power[name] - value) < 3 * res.mc_se[name], (name, res.power[name], value)
    est = res.estimates.groupby("analysis")["estimate"].mean()
    # the estimators are (nearly) unbiased for the true log OR, log HR and difference
    assert est["logistic"] == pytest.approx(np.log(p1 / (1 - p1)), abs=0.02)
    assert est["cox"] == pytest.approx(np.log(0.75), abs=0.015)
    assert est["ttest"] == pytest.approx(1.5, abs=0.05)


def test_type_one_error_under_the_null(closed_form):
    closed_form.update(hr_complier=1.0, hope_effect_12=0.0)
    res = sim.power(300, 2000, seed=7, workers=1, progress=False, analyses=("logistic", "cox", "ancova"), **closed_form)
    for name in ("logistic", "cox", "ancova"):
        assert abs(res.power[name] - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 2000)


def test_adjusted_analyses_run_and_frame():
    res = sim.power(200, 60, seed=1, workers=1, progress=False, chunk_size=25,
                    analyses=("logistic", "cox", "ancova"), adjust=("age", "diagnosis", "site"))
    frame = res.to_frame()
    assert list(frame.index) == ["logistic", "cox", "ancova"]
    assert set(frame.columns) >= {"power", "mc_se", "ci_lb", "ci_ub", "mean_estimate"}
    assert (frame.ci_lb <= frame.power).all() and (frame.power <= frame.ci_ub).all()
    assert len(res.estimates) == 180
    assert "Power by simulation" in res.summary()


def test_same_seed_identical_for_one_and_two_workers():
    kw = dict(seed=99, progress=False, chunk_size=40, analyses=("logistic", "cox", "ttest"))
    one = sim.power(120, 200, workers=1, **kw)
    two = sim.power(120, 200, workers=2, **kw)
    assert one.estimates.equals(two.estimates)
    assert one.power.equals(two.power)


def test_dask_client_gives_identical_results():
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(seed=5, progress=False, chunk_size=50, analyses=("logistic", "cox"))
    local = sim.power(100, 150, workers=1, **kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = sim.power(100, 150, client=client, **kw)
    assert local.estimates.equals(remote.estimates)


def test_sample_size_close_to_closed_form(closed_form):
    # t-test: 80% power for a difference of 1.5 with SD ~6.8 needs about 2 x 323
    sd12 = np.sqrt(0.45**2 * 7.0**2 + 6.0**2)
    from statsmodels.stats.power import TTestIndPower

    n_arm = TTestIndPower().solve_power(1.5 / sd12, alpha=0.05, power=0.8)
    out = sim.sample_size(0.8, ns=[300, 450, 600, 750, 900], analysis="ttest", n_trials=400, seed=3,
                          workers=1, progress=False, **closed_form)
    assert abs(out["n"] - 2 * n_arm) / (2 * n_arm) < 0.1
    assert list(out["curve"]["n"]) == [300, 450, 600, 750, 900]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(analyses=("anova",)), "unknown analysis"),
        (dict(adjust=("height",)), "cannot adjust"),
        (dict(alpha=1.5), "alpha"),
        (dict(workers=0), "workers"),
        (dict(n_trials=0), "n_trials"),
        (dict(hr_compliers=0.5), "unknown trial parameter"),
        (dict(p_received=1.2), "p_received"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kwargs.setdefault("workers", 1)
        sim.power(100, kwargs.pop("n_trials", 10), progress=False, **kwargs)
