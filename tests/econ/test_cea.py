"""Trial-based CEA: R reference values (base R, sandwich), closed forms, bootstrap properties."""

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import peertrial as pt
from peertrial.econ.cea import _draw, _gamma_fit, _gram

FIX = Path(__file__).parent / "fixtures"
REF = json.loads((FIX / "cea_reference.json").read_text())
RTOL = 1e-6


@pytest.fixture(scope="module")
def trial():
    return pd.read_csv(FIX / "cea_data.csv")


@pytest.fixture(scope="module")
def basic(trial):
    return pt.econ.cea(trial, cost="cost", effect="qaly", arm="arm", n_boot=4000, seed=11)


# ---------------------------------------------------------------- against R


def test_unadjusted_increments_match_r(basic):
    assert basic.delta_cost == pytest.approx(REF["delta_cost"], rel=RTOL)
    assert basic.delta_effect == pytest.approx(REF["delta_effect"], rel=RTOL)
    assert basic.se_delta_cost == pytest.approx(REF["se_delta_cost"], rel=RTOL)
    assert basic.se_delta_effect == pytest.approx(REF["se_delta_effect"], rel=RTOL)
    assert basic.cov[0, 1] == pytest.approx(REF["cov_delta"], rel=RTOL)


def test_icer_and_inmb_closed_form(basic):
    assert basic.icer == pytest.approx(REF["delta_cost"] / REF["delta_effect"], rel=RTOL)
    assert basic.quadrant == "NE"
    for w in (0.0, 20000.0, 30000.0):
        assert basic.nmb(w) == pytest.approx(w * REF["delta_effect"] - REF["delta_cost"], rel=RTOL)
        var = w**2 * REF["se_delta_effect"] ** 2 + REF["se_delta_cost"] ** 2 - 2 * w * REF["cov_delta"]
        assert basic.nmb_se(w) == pytest.approx(np.sqrt(var), rel=RTOL)
    np.testing.assert_allclose(basic.nmb([0, 1e4]), [-REF["delta_cost"], 1e4 * REF["delta_effect"] - REF["delta_cost"]])


def test_clustered_se_matches_r_vcovcl(trial):
    ce = pt.econ.cea(trial, cost="cost", effect="qaly", cluster="peer_worker", n_boot=200, seed=1)
    assert ce.se_delta_cost == pytest.approx(REF["cluster_se_delta_cost"], rel=RTOL)
    assert ce.se_delta_effect == pytest.approx(REF["cluster_se_delta_effect"], rel=RTOL)


def test_sur_increments_match_r_lm(trial):
    ce = pt.econ.cea(trial, cost="cost", effect="qaly", covariates=["age", "female"], n_boot=200, seed=1)
    assert ce.delta_cost == pytest.approx(REF["ols_delta_cost"], rel=RTOL)
    assert ce.delta_effect == pytest.approx(REF["ols_delta_effect"], rel=RTOL)
    assert ce.se_delta_cost == pytest.approx(REF["ols_se_delta_cost"], rel=RTOL)
    assert ce.se_delta_effect == pytest.approx(REF["ols_se_delta_effect"], rel=RTOL)
    assert ce.cov[0, 1] == pytest.approx(REF["ols_cov_delta"], rel=RTOL)
    clustered = pt.econ.cea(
        trial, cost="cost", effect="qaly", covariates=["age", "female"], cluster="peer_worker", n_boot=200, seed=1
    )
    assert clustered.se_delta_cost == pytest.approx(REF["ols_cluster_se_delta_cost"], rel=RTOL)
    assert clustered.se_delta_effect == pytest.approx(REF["ols_cluster_se_delta_effect"], rel=RTOL)


def test_sur_equals_equation_by_equation_ols(trial):
    """Zellner's result, checked by explicit feasible GLS on the stacked system."""
    X = sm.add_constant(trial[["arm", "age", "female"]].to_numpy(float))
    Y = trial[["cost", "qaly"]].to_numpy(float)
    B_ols = np.linalg.lstsq(X, Y, rcond=None)[0]
    U = Y - X @ B_ols
    sigma = U.T @ U / len(Y)
    omega_inv = np.kron(np.linalg.inv(sigma), np.eye(len(Y)))
    Xs = np.kron(np.eye(2), X)
    ys = Y.T.ravel()
    b_gls = np.linalg.solve(Xs.T @ omega_inv @ Xs, Xs.T @ omega_inv @ ys)
    ce = pt.econ.cea(trial, cost="cost", effect="qaly", covariates=["age", "female"], n_boot=50, seed=1)
    assert b_gls[1] == pytest.approx(ce.delta_cost, rel=1e-9)
    assert b_gls[X.shape[1] + 1] == pytest.approx(ce.delta_effect, rel=1e-9)


def test_gamma_glm_marginal_cost_matches_r(trial):
    ce = pt.econ.cea(
        trial, cost="cost", effect="qaly", covariates=["age", "female"], cost_model="gamma", n_boot=300, seed=2
    )
    assert ce.delta_cost == pytest.approx(REF["gamma_delta_cost"], rel=1e-6)
    assert ce.se_delta_cost == pytest.approx(REF["gamma_se_delta_cost"], rel=1e-5)
    assert ce.delta_effect == pytest.approx(REF["ols_delta_effect"], rel=RTOL)
    assert ce.cost_model == "gamma"


def test_batched_irls_equals_statsmodels_with_frequency_weights(trial):
    X = sm.add_constant(trial[["arm", "age", "female"]].to_numpy(float))
    y = trial["cost"].to_numpy(float)
    rng = np.random.default_rng(5)
    W = rng.integers(0, 3, size=(3, len(y))).astype(float)
    beta = _gamma_fit(W, X, y, _gram(W, X), np.array(REF["gamma_coef"]))
    for b in range(3):
        ref = sm.GLM(y, X, family=sm.families.Gamma(sm.families.links.Log()), freq_weights=W[b]).fit(tol=1e-12)
        np.testing.assert_allclose(beta[b], ref.params, rtol=1e-7)


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_reproducible_with_seed(trial):
    a = pt.econ.cea(trial, n_boot=500, seed=42, effect="qaly")
    b = pt.econ.cea(trial, n_boot=500, seed=42, effect="qaly")
    c = pt.econ.cea(trial, n_boot=500, seed=43, effect="qaly")
    np.testing.assert_array_equal(a.boot_delta_cost, b.boot_delta_cost)
    np.testing.assert_array_equal(a.boot_delta_effect, b.boot_delta_effect)
    assert not np.array_equal(a.boot_delta_cost, c.boot_delta_cost)


def test_bootstrap_replicates_equal_a_plain_loop(trial):
    """Same draws, evaluated one replicate at a time by pandas: resample rows within arm."""
    ce = pt.econ.cea(trial, effect="qaly", n_boot=30, seed=7)
    draws = _draw(trial["arm"].to_numpy(float), 30, np.random.default_rng(7))
    control, treated = trial[trial["arm"] == 0], trial[trial["arm"] == 1]
    for b in range(30):
        s0 = control.iloc[draws[0][1][b]]
        s1 = treated.iloc[draws[1][1][b]]
        assert ce.boot_delta_cost[b] == pytest.approx(s1["cost"].mean() - s0["cost"].mean(), rel=1e-12)
        assert ce.boot_delta_effect[b] == pytest.approx(s1["qaly"].mean() - s0["qaly"].mean(), rel=1e-12)


def test_bootstrap_se_matches_analytic_within_monte_carlo_error(basic, trial):
    """The bootstrap variance of a mean is exactly s^2 (ddof=0) / n in expectation;
    the SD of B replicates has relative Monte Carlo SE about 1/sqrt(2B) (1.1% at B=4000)."""
    n1, n0 = (trial["arm"] == 1).sum(), (trial["arm"] == 0).sum()
    for col, reps in (("cost", basic.boot_delta_cost), ("qaly", basic.boot_delta_effect)):
        v1 = trial.loc[trial["arm"] == 1, col].var(ddof=0) / n1
        v0 = trial.loc[trial["arm"] == 0, col].var(ddof=0) / n0
        analytic = np.sqrt(v1 + v0)
        assert reps.std(ddof=1) == pytest.approx(analytic, rel=4 / np.sqrt(2 * basic.n_boot))
    # the bootstrap cloud is centred on the point estimate (MC SE of the mean = SE / sqrt(B))
    assert basic.boot_delta_cost.mean() == pytest.approx(basic.delta_cost, abs=4 * basic.se_delta_cost / np.sqrt(4000))


def test_cluster_bootstrap_counts_resample_within_arm():
    counts = pt.econ.bootstrap_counts(np.array([0.0] * 100 + [1.0] * 12), 50, seed=3)
    assert counts[:, :100].sum(axis=1).tolist() == [100] * 50
    assert counts[:, 100:].sum(axis=1).tolist() == [12] * 50


def test_cluster_bootstrap_sd_matches_r_cluster_variance(trial):
    """Resampling whole clusters within arm estimates the linearised cluster variance of each
    arm mean without the small-sample factor: R's ``vcovCL(lm(y ~ 1), type="HC0")`` times
    ``(G-1)/G`` per arm (12 peer workers in arm 1, 100 individuals in arm 0), computed in
    make_fixtures.R. Tolerance: 4 Monte Carlo SEs of a SD from B replicates,
    ``sd * sqrt((kurtosis - 1) / (4 B))`` (0.16% at B = 200000), plus 0.3% for the O(1/G)
    non-linearity of a mean over clusters of unequal size (seeds 1-6 deviated by at most
    0.44%, mean +0.16%). R's default ``cadjust=TRUE`` SE
    (the factor not applied) lies 1.8% (QALY) and 3.1% (cost) away and must fail."""
    B = 200_000
    ce = pt.econ.cea(trial, effect="qaly", cluster="peer_worker", n_boot=B, seed=3)
    for reps, key in ((ce.boot_delta_cost, "cost"), (ce.boot_delta_effect, "effect")):
        sd = reps.std(ddof=1)
        z = (reps - reps.mean()) / sd
        tol = 4 * np.sqrt((np.mean(z**4) - 1) / (4 * B)) + 0.003
        ref = REF[f"cluster_boot_se_delta_{key}"]
        assert sd == pytest.approx(ref, rel=tol)
        assert abs(sd / REF[f"cluster_se_delta_{key}"] - 1) > tol  # the factor matters at this precision


def test_ceac_limits_and_bounds(basic):
    dc, de = basic.boot_delta_cost, basic.boot_delta_effect
    curve = basic.ceac([0.0, 1e12])
    assert curve["prob_cost_effective"].iloc[0] == np.mean(dc < 0)
    assert curve["prob_cost_effective"].iloc[1] == np.mean(de > 0)
    full = basic.ceac(np.linspace(0, 1e6, 200))
    assert full["prob_cost_effective"].between(0, 1).all()
    assert list(full.columns) == ["wtp", "prob_cost_effective"]


def test_ceac_monotone_when_every_replicate_gains_effect():
    rng = np.random.default_rng(0)
    de = np.abs(rng.normal(0.05, 0.02, 5000)) + 1e-6
    dc = rng.normal(500, 800, 5000)
    p = pt.econ.ceac_from_samples(dc, de, np.linspace(0, 200000, 300))
    assert np.all(np.diff(p) >= 0)
    # and the curve is P(INB > 0) computed replicate by replicate
    assert p[150] == np.mean(np.linspace(0, 200000, 300)[150] * de - dc > 0)


def test_eib_and_evpi(basic):
    w = np.array([0.0, 5000.0, 20000.0])
    inb = w[:, None] * basic.boot_delta_effect - basic.boot_delta_cost
    np.testing.assert_allclose(basic.eib(w)["eib"], inb.mean(axis=1))
    expected = np.maximum(inb, 0).mean(axis=1) - np.maximum(inb.mean(axis=1), 0)
    np.testing.assert_allclose(basic.evpi(w)["evpi"], expected, atol=1e-9)
    assert (basic.evpi(w)["evpi"] >= 0).all()
    table = basic.decision_table(w)
    assert list(table.columns) == ["wtp", "inmb", "se", "ci_lb", "ci_ub", "prob_cost_effective", "eib", "evpi"]


def test_quadrant_shares_sum_to_one(basic):
    assert basic.quadrant_shares().sum() == pytest.approx(1.0)


# ---------------------------------------------------------------- bad input and handling


def test_negative_costs_need_flag(trial):
    bad = trial.copy()
    bad.loc[[3, 150], "cost"] = -10.0
    with pytest.raises(ValueError, match=r"negative costs.*rows 3, 150.*allow_negative_costs"):
        pt.econ.cea(bad, effect="qaly", n_boot=10, seed=1)
    ce = pt.econ.cea(bad, effect="qaly", n_boot=10, seed=1, allow_negative_costs=True)
    assert ce.delta_cost == pytest.approx(bad.loc[bad.arm == 1, "cost"].mean() - bad.loc[bad.arm == 0, "cost"].mean())


def test_zero_incremental_effect_icer_undefined():
    df = pd.DataFrame({"arm": [0, 0, 1, 1], "cost": [100.0, 200.0, 50.0, 150.0], "qaly": [0.5, 0.7, 0.7, 0.5]})
    with pytest.warns(pt.PeertrialWarning, match="ICER is undefined"):
        ce = pt.econ.cea(df, effect="qaly", n_boot=100, seed=1)
    assert np.isnan(ce.icer)
    assert ce.quadrant == "undefined"
    assert "ICER: undefined" in ce.summary()
    assert ce.nmb(20000) == pytest.approx(50.0)  # decision by INMB: cheaper, same effect


def test_missing_costs_error_names_rows_per_arm(trial):
    bad = trial.copy()
    bad.loc[[5, 120, 130], "cost"] = np.nan
    with pytest.raises(ValueError, match=r"\['cost'\] \(arm 0: rows 5; arm 1: rows 120, 130\)"):
        pt.econ.cea(bad, effect="qaly", n_boot=10, seed=1)
    with pytest.warns(UserWarning, match=r"3 rows with missing values in \['cost'\]"):
        cc = pt.econ.cea(bad, effect="qaly", n_boot=10, seed=1, missing="drop")
    kept = bad.dropna(subset=["cost"])
    assert cc.delta_cost == pytest.approx(kept.loc[kept.arm == 1, "cost"].mean() - kept.loc[kept.arm == 0, "cost"].mean())


def test_multiple_imputation_by_explicit_choice(trial):
    bad = trial.copy()
    rows = np.random.default_rng(1).choice(len(bad), 20, replace=False)
    bad.loc[rows, "cost"] = np.nan
    a = pt.econ.cea(bad, effect="qaly", n_boot=400, seed=9, missing="mi", n_imputations=5)
    b = pt.econ.cea(bad, effect="qaly", n_boot=400, seed=9, missing="mi", n_imputations=5)
    assert a.n_imputations == 5 and a.boot_delta_cost.size == 400
    assert a.delta_cost == b.delta_cost  # reproducible with the seed
    # Rubin's rules: total variance at least the complete-data-like within variance
    assert a.se_delta_cost > 0.9 * REF["se_delta_cost"]
    assert abs(a.delta_cost - REF["delta_cost"]) < 2 * REF["se_delta_cost"]
    assert "imputations" in a.summary()


def test_caller_frame_not_modified(trial):
    before = trial.copy()
    pt.econ.cea(trial, effect="qaly", covariates=["age"], cluster="peer_worker", n_boot=20, seed=1)
    pd.testing.assert_frame_equal(trial, before)


def test_arm_must_be_binary(trial):
    bad = trial.assign(arm=trial["arm"].replace({1: 2}))
    with pytest.raises(ValueError, match="'arm'.*0/1"):
        pt.econ.cea(bad, effect="qaly", n_boot=10)


def test_per_year_columns_are_discounted():
    df = pd.DataFrame(
        {
            "arm": [0, 0, 1, 1],
            "c1": [100.0, 200.0, 300.0, 400.0],
            "c2": [1035.0, 0.0, 2070.0, 0.0],
            "q1": [0.5, 0.6, 0.7, 0.8],
            "q2": [0.0, 0.0, 0.0, 0.0],
        }
    )
    ce = pt.econ.cea(df, cost=["c1", "c2"], effect=["q1", "q2"], n_boot=10, seed=1)
    # year-2 costs at 3.5%: 1035 / 1.035 = 1000 and 2070 / 1.035 = 2000
    assert ce.delta_cost == pytest.approx((300 + 2000 + 400) / 2 - (100 + 1000 + 200) / 2)
    assert "3.5%" in ce.summary()


def test_summary_states_currency_price_year_and_method(trial):
    ce = pt.econ.cea(trial, effect="qaly", n_boot=50, seed=1, price_year=2024, currency="GBP")
    text = ce.summary()
    assert "GBP, 2024 prices" in text and "ICER" in text and "NE quadrant" in text
    frame = ce.to_frame()
    assert {"delta_cost", "delta_effect", "icer"} <= set(frame.index)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ce.delta_cost = 0.0


def test_no_warnings_on_clean_data(trial):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pt.econ.cea(trial, effect="qaly", n_boot=50, seed=1)


def test_fieller_limits_are_where_the_inmb_interval_reaches_zero(trial):
    # make the effect clearly significant so the Fieller set is bounded
    strong = trial.assign(qaly=trial["qaly"] + 0.08 * trial["arm"])
    ce = pt.econ.cea(strong, effect="qaly", n_boot=100, seed=1)
    lb, ub = ce.icer_ci()
    z = 1.959963984540054
    for r in (lb, ub):
        assert abs(ce.nmb(r)) == pytest.approx(z * ce.nmb_se(r), rel=1e-9)
    assert lb < ce.icer < ub
    # not significantly non-zero effect: unbounded, reported as NaN
    weak = pt.econ.cea(trial.assign(qaly=trial["qaly"] - 0.04 * trial["arm"]), effect="qaly", n_boot=100, seed=1)
    assert np.isnan(weak.icer_ci()[0]) and "unbounded" in weak.summary()


def test_lower_is_better_counts_events_avoided(trial):
    events = trial.assign(readmitted=(trial["qaly"] < 0.6).astype(int))
    ce = pt.econ.cea(events, effect="readmitted", lower_is_better=True, n_boot=50, seed=1,
                     effect_label="readmission avoided")
    p1 = events.loc[events.arm == 1, "readmitted"].mean()
    p0 = events.loc[events.arm == 0, "readmitted"].mean()
    assert ce.delta_effect == pytest.approx(p0 - p1)
    assert ce.icer == pytest.approx(REF["delta_cost"] / (p0 - p1))
    assert "events avoided" in ce.summary()


def test_covariate_typing_follows_the_trial_rule(trial):
    """Numbers stored as text are numeric (same fit); numbers mixed with text raise naming rows."""
    ref = pt.econ.cea(trial, effect="qaly", covariates=["age", "female"], n_boot=20, seed=1)
    as_text = pt.econ.cea(trial.astype({"age": str}), effect="qaly", covariates=["age", "female"], n_boot=20, seed=1)
    assert as_text.delta_cost == ref.delta_cost and as_text.se_delta_effect == ref.se_delta_effect
    bad = trial.astype({"age": object})
    bad.loc[[5, 8], "age"] = "old"
    with pytest.raises(ValueError, match=r"'age' mixes numbers and text: .*'old'.* rows 5, 8.*C\(age\)"):
        pt.econ.cea(bad, effect="qaly", covariates=["age"], n_boot=20, seed=1)


def test_thresholds_and_units_follow_the_effect_measure(trial):
    """No 'per QALY' threshold for a non-QALY effect; the caller names the unit."""
    events = trial.assign(readmitted_12m=(trial["qaly"] < 0.6).astype(int))
    ce = pt.econ.cea(events, effect="readmitted_12m", lower_is_better=True, n_boot=50, seed=1,
                     effect_label="readmission")
    text = ce.summary()
    assert ce.effect_label == "readmission avoided" and "per readmission avoided" in text
    assert "QALY" not in text.replace("per QALY)", "")  # only "NICE's are per QALY" may mention it
    assert np.isnan(ce.wtp) and not any(i.startswith("inmb") for i in ce.to_frame().index)
    assert "pass wtp=" in text
    # the caller's value of one readmission avoided gives the INMB in that unit
    valued = pt.econ.cea(events, effect="readmitted_12m", lower_is_better=True, n_boot=50, seed=1,
                         effect_label="readmission", wtp=5000)
    assert "INMB at 5,000 GBP per readmission avoided" in valued.summary()
    assert "inmb_5000" in valued.to_frame().index
    # default unit: the column's name; QALY columns keep NICE's threshold
    plain = pt.econ.cea(events, effect="readmitted_12m", lower_is_better=True, n_boot=50, seed=1)
    assert plain.effect_label == "readmitted_12m avoided"
    qaly = pt.econ.cea(trial, effect="qaly", n_boot=50, seed=1)
    assert qaly.effect_label == "QALY" and qaly.wtp == 20000.0 and "inmb_20000" in qaly.to_frame().index
    with pytest.raises(ValueError, match="wtp must be a non-negative number"):
        pt.econ.cea(trial, effect="qaly", n_boot=50, seed=1, wtp=-1)
