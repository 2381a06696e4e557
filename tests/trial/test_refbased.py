"""Reference-based MI (JR/CR/CIR), delta adjustment, tipping points and the Estimand record.

rbmi is not installable here, so the checks are (a) the strategies' mean and covariance against
hand algebra and the closed-form expected effect under each strategy in a multivariate-normal
trial (Carpenter, Roger & Kenward 2013), (b) a seeded simulation of bias and coverage, and (c)
the MMRM inside against ``nlme::gls`` (fixtures/make_refbased_fixtures.R).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.trial import _mmrm_cov
from peertrial.trial import refbased as rb
from peertrial.trial.mixed import _UnstructuredREML

FIX = json.loads((Path(__file__).parent / "fixtures" / "refbased_fixtures.json").read_text())
VISITS = {"4": "hope_4", "12": "hope_12"}


# ---- (c) the MMRM inside against nlme::gls -----------------------------------------------

def _wide(case, covariate=None, by_visit=False):
    d = pd.DataFrame(case["data"])
    Y = d.pivot(index="id", columns="v", values="y").sort_index().to_numpy(dtype=float)
    person = d.drop_duplicates("id").set_index("id").sort_index()
    a = person["arm"].to_numpy(dtype=float)
    n, T = Y.shape
    k = 0 if covariate is None else 1
    Xs = np.zeros((n, T, 2 * T + (T * k if by_visit else k)))
    for t in range(T):
        Xs[:, t, t] = 1.0
        Xs[:, t, T + t] = a
        if by_visit:
            Xs[:, t, 2 * T + t] = person[covariate].to_numpy(dtype=float)
    if covariate is not None and not by_visit:
        Xs[:, :, 2 * T] = person[covariate].to_numpy(dtype=float)[:, None]
    return Y, Xs, a


@pytest.mark.parametrize("case, covariate", [("orthodont", None), ("simulated", "base"),
                                             ("simulated_by_visit", "base")])
def test_mmrm_matches_nlme_gls(case, covariate):
    ref = FIX[case]
    by_visit = case.endswith("by_visit")
    Y, Xs, a = _wide(FIX["simulated"] if by_visit else ref, covariate, by_visit)
    T = Y.shape[1]
    beta, V, Sigmas, _, loglik, ok = rb._mmrm_fit(Y, Xs, np.zeros(len(Y), int), 1)
    assert ok
    # R's order: visits, [covariate], visit:arm (visit:covariate last when by visit);
    # ours: visits, visit x arm, covariate(s)
    if by_visit:
        order = list(range(3 * T))
    else:
        order = list(range(T)) + ([2 * T] if covariate else []) + list(range(T, 2 * T))
    # the same objective: our REML log-likelihood at gls' estimates is gls' value
    # (the imputation MMRM is trial.mmrm's REML engine: _mmrm_cov on _UnstructuredREML's patterns)
    at = _mmrm_cov.reml_pieces(_UnstructuredREML(Y, Xs).groups, np.array(ref["sigma"]))
    np.testing.assert_allclose(-0.5 * at["dev"], ref["loglik"], rtol=1e-12)
    # and our optimum is at least as high (gls stops ~1e-5 short in the covariance parameters)
    assert loglik >= ref["loglik"] - 1e-9
    np.testing.assert_allclose(loglik, ref["loglik"], rtol=1e-9)
    np.testing.assert_allclose(beta[order], ref["coef"], rtol=2e-5, atol=1e-6)
    Vr = np.array(ref["vcov"])
    np.testing.assert_allclose(V[np.ix_(order, order)], Vr, rtol=1e-4, atol=1e-5 * np.abs(Vr).max())
    np.testing.assert_allclose(Sigmas[0], np.array(ref["sigma"]), rtol=5e-5)
    # at gls' covariance, the GLS coefficients and their covariance are gls' to rounding
    np.testing.assert_allclose(at["beta"][order], ref["coef"], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(at["V"][np.ix_(order, order)], Vr, rtol=1e-8, atol=1e-12)


def test_mmrm_covariance_per_arm_matches_separate_gls_fits():
    Y, Xs, a = _wide(FIX["orthodont"])
    _, _, Sigmas, _, _, ok = rb._mmrm_fit(Y, Xs, a.astype(int), 2)
    assert ok
    np.testing.assert_allclose(Sigmas[0], np.array(FIX["orthodont_by_arm"]["control"]["sigma"]), rtol=5e-5)
    np.testing.assert_allclose(Sigmas[1], np.array(FIX["orthodont_by_arm"]["intervention"]["sigma"]), rtol=5e-5)


# ---- (a) the strategies: hand algebra ----------------------------------------------------

SIG_A = np.array([[4.0, 2.0, 1.5], [2.0, 5.0, 2.5], [1.5, 2.5, 6.0]])
SIG_R = np.array([[3.0, 1.0, 0.5], [1.0, 4.0, 2.0], [0.5, 2.0, 5.0]])
MU_A = np.array([1.0, 3.0, 6.0])
MU_R = np.array([0.5, 1.0, 2.0])


def test_strategy_means_by_hand():
    for n_mar in (0, 1, 2, 3):
        mu, S = rb._strategy_parameters("MAR", MU_A, MU_R, SIG_A, SIG_R, n_mar)
        np.testing.assert_array_equal(mu, MU_A)
        np.testing.assert_array_equal(S, SIG_A)
        mu, S = rb._strategy_parameters("CR", MU_A, MU_R, SIG_A, SIG_R, n_mar)
        np.testing.assert_array_equal(mu, MU_R if n_mar < 3 else MU_A)
    mu, _ = rb._strategy_parameters("JR", MU_A, MU_R, SIG_A, SIG_R, 1)
    np.testing.assert_array_equal(mu, [1.0, 1.0, 2.0])
    mu, _ = rb._strategy_parameters("CIR", MU_A, MU_R, SIG_A, SIG_R, 1)
    np.testing.assert_array_equal(mu, [1.0, 1.0 + (1.0 - 0.5), 1.0 + (2.0 - 0.5)])
    mu, _ = rb._strategy_parameters("CIR", MU_A, MU_R, SIG_A, SIG_R, 2)
    np.testing.assert_array_equal(mu, [1.0, 3.0, 3.0 + (2.0 - 1.0)])
    mu, S = rb._strategy_parameters("CIR", MU_A, MU_R, SIG_A, SIG_R, 0)  # ICE before the first visit: CR
    np.testing.assert_array_equal(mu, MU_R)
    np.testing.assert_array_equal(S, SIG_R)
    # batched means (k participants) keep their shape
    mu, _ = rb._strategy_parameters("JR", np.tile(MU_A, (4, 1)), np.tile(MU_R, (4, 1)), SIG_A, SIG_R, 2)
    assert mu.shape == (4, 3)
    np.testing.assert_array_equal(mu[2], [1.0, 3.0, 2.0])


@pytest.mark.parametrize("n_mar", [1, 2])
def test_jr_cir_covariance_own_before_reference_regression_after(n_mar):
    S = rb._compute_sigma(SIG_A, SIG_R, n_mar)
    a, b = slice(0, n_mar), slice(n_mar, 3)
    np.testing.assert_allclose(S, S.T)
    assert np.all(np.linalg.eigvalsh(S) > 0)
    np.testing.assert_allclose(S[a, a], SIG_A[a, a])  # own arm before the ICE
    # regression of the later visits on the earlier ones, and its residual covariance: the reference's
    reg = lambda M: M[b, a] @ np.linalg.inv(M[a, a])  # noqa: E731
    res = lambda M: M[b, b] - reg(M) @ M[a, b]  # noqa: E731
    np.testing.assert_allclose(reg(S), reg(SIG_R), atol=1e-12)
    np.testing.assert_allclose(res(S), res(SIG_R), atol=1e-12)
    np.testing.assert_array_equal(rb._compute_sigma(SIG_A, SIG_A, n_mar), SIG_A)  # shared covariance


# ---- (a) closed-form expected effect with large n ------------------------------------------

SIGMA = np.array([[9.0, 6.0, 5.0], [6.0, 10.0, 7.5], [5.0, 7.5, 12.0]])
MU_CTL = np.array([0.0, 0.5, 1.0])
MU_INT = np.array([2.0, 4.0, 6.0])
P_ICE = {1: 0.3, 2: 0.2}  # fraction of the intervention arm whose ICE comes at visit index 1 / 2


def expected_effect(strategy: str) -> float:
    """E[Y_3 | arm 1] - E[Y_3 | arm 0] when ICEs occur completely at random (Carpenter et al. 2013).

    ICE at visit j (first j visits observed, ``o``): MAR mu_a3; JR mu_r3; CR mu_r3 + B (mu_ao - mu_ro);
    CIR mu_a,j + mu_r3 - mu_r,j; with ``B = Sigma_3o Sigma_oo^-1`` and a shared covariance.
    """
    total = (1 - sum(P_ICE.values())) * MU_INT[2]
    for j, p in P_ICE.items():
        o = slice(0, j)
        B = SIGMA[2, o] @ np.linalg.inv(SIGMA[o, o])
        e = {"MAR": MU_INT[2], "JR": MU_CTL[2], "CR": MU_CTL[2] + B @ (MU_INT[o] - MU_CTL[o]),
             "CIR": MU_INT[j - 1] + MU_CTL[2] - MU_CTL[j - 1]}[strategy]
        total += p * e
    return total - MU_CTL[2]


def simulate(n_per_arm, rng, p_ice=P_ICE, ctl_drop=0.25):
    a = np.repeat([0, 1], n_per_arm)
    mu = np.where(a[:, None] == 1, MU_INT, MU_CTL)
    Y = mu + rng.standard_normal((2 * n_per_arm, 3)) @ np.linalg.cholesky(SIGMA).T
    u = rng.random(2 * n_per_arm)
    ice = np.full(2 * n_per_arm, 3)
    cut1, cut2 = p_ice[1], p_ice[1] + p_ice[2]
    ice[(a == 1) & (u < cut1)] = 1
    ice[(a == 1) & (u >= cut1) & (u < cut2)] = 2
    ice[(a == 0) & (u < ctl_drop)] = 2
    for t in range(3):
        Y[ice <= t, t] = np.nan
    return pd.DataFrame({"arm": a, "y1": Y[:, 0], "y2": Y[:, 1], "y3": Y[:, 2]})


VIS3 = {"1": "y1", "2": "y2", "3": "y3"}


@pytest.fixture(scope="module")
def big():
    return simulate(5000, np.random.default_rng(11))


def test_closed_form_effects_differ():
    values = {s: expected_effect(s) for s in rb.STRATEGIES}
    assert values["MAR"] > values["CIR"] > values["CR"] > values["JR"] > 0  # well separated for the check


@pytest.mark.parametrize("strategy", ["MAR", "JR", "CR", "CIR"])
def test_large_n_estimate_converges_to_closed_form(big, strategy):
    fit = pt.trial.reference_based_mi(big, VIS3, strategy=strategy, m=4, seed=2)
    est = fit.effects.loc["3", "estimate"]
    # SE of the difference in means with n = 5000 per arm is about 0.07
    assert abs(est - expected_effect(strategy)) < 0.25, (strategy, est, expected_effect(strategy))


# ---- (b) seeded simulation: bias and coverage -----------------------------------------------

def test_simulated_bias_and_coverage_jr():
    """Small version of the notes' run: 40 trials of 80 per arm, m = 10, J2R, truth from the closed form."""
    rng = np.random.default_rng(20261128)
    truth = expected_effect("JR")
    est, cover = [], []
    for r in range(40):
        d = simulate(80, rng)
        e = pt.trial.reference_based_mi(d, VIS3, strategy="JR", m=10, seed=r).effects.loc["3"]
        est.append(e["estimate"])
        cover.append(e["ci_lb"] <= truth <= e["ci_ub"])
    est = np.array(est)
    assert abs(est.mean() - truth) < 3 * est.std(ddof=1) / np.sqrt(len(est))
    assert np.mean(cover) >= 0.85  # Rubin's variance is conservative under J2R: coverage at or above 95%


# ---- data handling: wide/long, per-participant ICE, delta -----------------------------------------

@pytest.fixture(scope="module")
def trial():
    return pt.simulate.trial(n=200, seed=1)


def test_long_data_equals_wide(trial):
    wide = pt.trial.reference_based_mi(trial, VISITS, covariates=["hope_0"], strategy="CIR", m=3, seed=5)
    long = trial.melt(id_vars=["id", "arm", "hope_0"], value_vars=["hope_4", "hope_12"], var_name="week",
                      value_name="hope")
    long["week"] = long["week"].str.replace("hope_", "").astype(int)
    fit = pt.trial.reference_based_mi(long.sample(frac=1, random_state=1), covariates=["hope_0"],
                                      strategy="CIR", m=3, seed=5, outcome="hope", id="id", visit="week")
    pd.testing.assert_frame_equal(fit.effects, wide.effects)


def test_strategy_and_ice_columns(trial):
    d = trial.copy()
    d["ice"] = np.where(d["hope_12"].isna(), np.where(d["hope_4"].isna(), "4", "12"), None)
    d["strat"] = np.where(d["site"] % 2 == 0, "JR", "cir")
    by_col = pt.trial.reference_based_mi(d, VISITS, covariates=["hope_0"], strategy="strat", ice_visit="ice",
                                         m=3, seed=4)
    assert set(by_col.ice.index.get_level_values("strategy")) == {"JR", "CIR"}
    # one strategy for all, from columns or from the default (ICE = dropout), give the same imputations
    d["all_jr"] = "JR"
    a = pt.trial.reference_based_mi(d, VISITS, covariates=["hope_0"], strategy="all_jr", ice_visit="ice", m=3, seed=4)
    b = pt.trial.reference_based_mi(d, VISITS, covariates=["hope_0"], strategy="JR", m=3, seed=4)
    np.testing.assert_array_equal(a.imputations, b.imputations)
    with pytest.raises(ValueError, match="not visit labels"):
        pt.trial.reference_based_mi(d.assign(ice="8"), VISITS, covariates=["hope_0"], ice_visit="ice", m=2)
    with pytest.raises(ValueError, match="strategies"):
        pt.trial.reference_based_mi(d.assign(strat="J2R"), VISITS, covariates=["hope_0"], strategy="strat", m=2)


def test_observed_values_kept_and_post_ice_observed_left_out_of_fit(trial):
    fit = pt.trial.reference_based_mi(trial, VISITS, covariates=["hope_0"], m=3, seed=1)
    obs = trial[["hope_4", "hope_12"]].to_numpy(dtype=float, na_value=np.nan)  # Int64 columns with NA (pandas 2.1)
    keep = ~np.isnan(obs)
    for i in range(3):
        np.testing.assert_array_equal(fit.imputations[i][keep], obs[keep])
    assert not np.isnan(fit.imputations).any()


def test_delta_shifts_effect_by_fraction_imputed():
    d = simulate(150, np.random.default_rng(3))
    base = pt.trial.reference_based_mi(d, VIS3, strategy="JR", m=5, seed=9)
    shifted = pt.trial.reference_based_mi(d, VIS3, strategy="JR", m=5, seed=9, delta=-2.0)
    both = pt.trial.reference_based_mi(d, VIS3, strategy="JR", m=5, seed=9, delta={0: -2.0, 1: -2.0})
    frac = d.loc[d["arm"] == 1, "y3"].isna().mean()
    frac0 = d.loc[d["arm"] == 0, "y3"].isna().mean()
    np.testing.assert_allclose(shifted.effects.loc["3", "estimate"] - base.effects.loc["3", "estimate"], -2 * frac)
    np.testing.assert_allclose(both.effects.loc["3", "estimate"] - base.effects.loc["3", "estimate"],
                               -2 * (frac - frac0))
    per_visit = pt.trial.reference_based_mi(d, VIS3, strategy="JR", m=5, seed=9, delta=[0, 0, -2.0])
    np.testing.assert_allclose(per_visit.effects.loc["3", "estimate"], shifted.effects.loc["3", "estimate"])
    np.testing.assert_allclose(per_visit.effects.loc["2", "estimate"], base.effects.loc["2", "estimate"])
    assert "Delta added" in shifted.summary()
    with pytest.raises(ValueError, match="one number per visit"):
        pt.trial.reference_based_mi(d, VIS3, m=2, delta=[1, 2])
    with pytest.raises(ValueError, match="arm codes"):
        pt.trial.reference_based_mi(d, VIS3, m=2, delta={"a": 1})


def test_bad_arguments(trial):
    with pytest.raises(ValueError, match="at least 2"):
        pt.trial.reference_based_mi(trial, VISITS, m=1)
    with pytest.raises(ValueError, match="strategy"):
        pt.trial.reference_based_mi(trial, VISITS, strategy=3, m=2)
    with pytest.raises(ValueError, match="level"):
        pt.trial.reference_based_mi(trial, VISITS, m=2, level=150)
    with pytest.raises(ValueError, match="long data needs outcome="):
        pt.trial.reference_based_mi(trial, outcome="hope_12", m=2)
    with pytest.raises(ValueError, match="one or the other"):
        pt.trial.reference_based_mi(trial, VISITS, visit="week", m=2)
    with pytest.raises(ValueError, match="Estimand"):
        pt.trial.reference_based_mi(trial, VISITS, m=2, estimand="hypothetical")


def test_covariates_by_visit_design(trial):
    P = rb._prepare(trial, VISITS, "arm", ["hope_0", "age"], None, "JR", None, None, None, None, True)
    assert P.Xs.shape[2] == 2 * 2 + 2 * 2
    np.testing.assert_array_equal(P.Xs[:, 0, 4:6], P.X[:, 2:])
    np.testing.assert_array_equal(P.Xs[:, 0, 6:8], 0.0)
    np.testing.assert_array_equal(P.Xs[:, 1, 6:8], P.X[:, 2:])
    fit = pt.trial.reference_based_mi(trial, VISITS, covariates=["hope_0"], m=3, seed=1, covariates_by_visit=True)
    assert "slopes per visit" in fit.method


def test_same_cov_false_runs_and_differs(trial):
    a = pt.trial.reference_based_mi(trial, VISITS, covariates=["hope_0"], m=3, seed=1)
    b = pt.trial.reference_based_mi(trial, VISITS, covariates=["hope_0"], m=3, seed=1, same_cov=False)
    assert not np.allclose(a.effects["estimate"], b.effects["estimate"])
    assert "per arm" in b.method


# ---- tipping point -------------------------------------------------------------------------

def test_tipping_point_brackets_alpha():
    d = simulate(60, np.random.default_rng(8))
    tp = pt.trial.tipping_point(d, VIS3, strategy="MAR", m=5, seed=1, tol=1e-4)
    assert tp.table.loc[0.0, "significant"]
    assert np.isfinite(tp.tipping_delta)
    lo = pt.trial.reference_based_mi(d, VIS3, strategy="MAR", m=5, seed=1, delta=tp.tipping_delta + 1e-3)
    hi = pt.trial.reference_based_mi(d, VIS3, strategy="MAR", m=5, seed=1, delta=tp.tipping_delta - 1e-3)
    # the same imputations, so the p-values either side of the tipping point straddle alpha = 0.05
    assert lo.effects.loc["3", "pval"] < 0.05 < hi.effects.loc["3", "pval"]
    assert "Tipping point: delta" in tp.summary()
    assert tp.visit == "3" and "visit 3;" in tp.summary()
    # a grid that stays on one side warns and reports NaN
    with pytest.warns(pt.PeertrialWarning, match="does not change"):
        none = pt.trial.tipping_point(d, VIS3, strategy="MAR", m=5, seed=1, deltas=[0.0, 0.1])
    assert np.isnan(none.tipping_delta)
    with pytest.raises(ValueError, match="arms"):
        pt.trial.tipping_point(d, VIS3, m=2, arms="active")
    with pytest.raises(ValueError, match="visit"):
        pt.trial.tipping_point(d, VIS3, m=2, analysis_visit="9")


def test_tipping_point_plot():
    import matplotlib

    matplotlib.use("Agg")
    d = simulate(60, np.random.default_rng(8))
    tp = pt.trial.tipping_point(d, VIS3, strategy="JR", m=3, seed=1, deltas=np.linspace(-4, 0, 5))
    fig = tp.plot()
    assert fig.axes and fig.axes[0].get_xlabel().startswith("delta")


# ---- Estimand -----------------------------------------------------------------------------

def test_estimand_record_and_summary(trial):
    e = pt.trial.Estimand(population="adults discharged", treatment="peer support vs usual care",
                          variable="hope at 12 months",
                          intercurrent_events=[("stopped peer support", "Hypothetical"),
                                               ("readmission", "treatment_policy")],
                          summary_measure="difference in means", description="JR imputation")
    assert e.intercurrent_events == (("stopped peer support", "hypothetical"), ("readmission", "treatment policy"))
    assert "readmission: treatment policy strategy" in e.summary()
    with pytest.raises(ValueError, match="ICH E9"):
        pt.trial.Estimand("p", "t", "v", {"x": "last observation carried forward"}, "mean")
    with pytest.raises(ValueError, match="population"):
        pt.trial.Estimand("", "t", "v", {}, "mean")
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        e.population = "x"
    fit = pt.trial.reference_based_mi(trial, VISITS, covariates=["hope_0"], m=2, seed=1, estimand=e)
    assert fit.summary().startswith("Estimand (ICH E9(R1))")


def test_summary_names_arm_and_strategy_of_each_ice_row(trial):
    # the table of intercurrent events printed its rows as Python tuples, "(0, 'JR')"
    text = pt.trial.reference_based_mi(trial, VISITS, covariates=["hope_0"], strategy="JR", m=2, seed=1).summary()
    assert "(0, 'JR')" not in text
    assert "arm = 0, JR" in text and "arm = 1, JR" in text
