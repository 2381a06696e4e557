import numpy as np
import pandas as pd
import pytest

import peertrial as pt

from .survival_refs import READM, arr, close

CASES = sorted(READM)


def data(name):
    return pd.DataFrame(READM[name]["data"])


@pytest.mark.parametrize("name", CASES)
def test_proportions_rd_rr_or(name):
    ref = READM[name]
    res = pt.survival.readmission_12m(data(name), "readmitted_12m", covariates="C(site) + C(diagnosis)")
    close(res.arms.loc[1, ["ci_lb", "ci_ub"]], ref["p_ci1"])
    close(res.arms.loc[0, ["ci_lb", "ci_ub"]], ref["p_ci0"])
    close(res.effects.loc["risk_difference", ["ci_lb", "ci_ub"]], ref["rd_ci"])
    close(res.rr, ref["rr"])
    close(res.effects.loc["risk_ratio", ["ci_lb", "ci_ub"]], ref["rr_ci"])
    close(res.coefficients["estimate"], ref["glm_coef"])
    close(res.coefficients["se"], ref["glm_se"])
    close(res.effects.loc["adjusted_odds_ratio", ["ci_lb", "ci_ub"]], ref["or_ci"])


@pytest.mark.parametrize("name", CASES)
def test_site_random_effect_matches_glmer(name):
    ref = READM[name]
    res = pt.survival.readmission_12m(data(name), "readmitted_12m", covariates="C(site) + C(diagnosis)", random="site")
    # lme4 stops its optimiser early (~1e-5 in the estimates) and takes SEs from a coarse
    # finite-difference Hessian (~1% noise), so agreement is checked at that level, and
    # the Laplace deviance at our optimum must be no worse than lme4's.
    close(res.coefficients["estimate"], ref["glmer_coef"], rtol=1e-3, atol=1e-4)
    close(res.coefficients["se"], ref["glmer_se"], rtol=1e-2)
    close(res.site_sd, ref["glmer_theta"], rtol=1e-3)
    assert res.extra["deviance"] <= ref["glmer_deviance"] + 1e-8
    close(res.extra["deviance"], ref["glmer_deviance"], rtol=1e-7)


@pytest.mark.parametrize("name", CASES)
def test_negative_binomial_matches_glm_nb(name):
    ref = READM[name]
    res = pt.survival.count_ratio(data(name), "readmissions", "arm", exposure="followup_days")
    close(res.coefficients["estimate"], ref["nb_coef"])
    close(res.coefficients["se"], ref["nb_se"])
    close(res.extra["theta"], ref["nb_theta"])
    # glm.nb reports SE(theta) from the information at its last-but-one theta.ml iterate
    close(res.extra["se_theta"], ref["nb_se_theta"], rtol=5e-4)
    close(res.extra["loglik"], ref["nb_loglik"], rtol=1e-9)
    close(res.estimate, np.exp(arr(ref["nb_coef"])[1]))


@pytest.mark.parametrize("name", CASES)
def test_two_part_days_matches_glm(name):
    ref = READM[name]
    res = pt.survival.days_ratio(data(name), "bed_days", "arm", model="two-part")
    est = res.coefficients["estimate"].to_numpy()
    se = res.coefficients["se"].to_numpy()
    close(est[:2], ref["tp_logit_coef"])
    close(se[:2], ref["tp_logit_se"])
    close(est[2:], ref["tp_gamma_coef"])
    close(se[2:], ref["tp_gamma_se"])
    close(res.extra["dispersion"], ref["tp_dispersion"])
    # ratio of overall means equals the ratio of the fitted arm means (saturated in arm)
    d = data(name)
    m = d.groupby("arm")["bed_days"].mean()
    close(res.estimate, m[1] / m[0], rtol=1e-9)


def test_readmission_rejects_single_arm_and_keeps_input():
    d = data("trial1")
    before = d.copy()
    pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site) + C(diagnosis)")
    pd.testing.assert_frame_equal(d, before)
    with pytest.raises(ValueError, match="'arm'.*one level"):
        pt.survival.readmission_12m(d[d["arm"] == 1], "readmitted_12m", covariates="C(site) + C(diagnosis)")
    assert "Readmission" in pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site) + C(diagnosis)").summary()


def test_confounded_factors_are_na_as_in_r():
    # glm(y ~ arm + factor(site) + factor(region)): every region column is NA, the rest as without it
    d = data("trial1")
    d = d.assign(region=d["site"])
    with pytest.warns(pt.PeertrialWarning, match=r"\['region2'.*not estimable"):
        res = pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site) + C(region)")
    ref = pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site)")
    region = [c for c in res.coefficients.index if c.startswith("region")]
    assert region and res.coefficients.loc[region].isna().all().all()
    pd.testing.assert_frame_equal(res.coefficients.drop(region), ref.coefficients)
    assert res.effects.loc["adjusted_odds_ratio", "estimate"] == ref.effects.loc["adjusted_odds_ratio", "estimate"]


def test_numeric_covariate_is_a_trend_as_in_trial():
    # one typing rule: covariates=["site"] (site coded 1..7) is a linear trend in both modules
    d = data("trial1")
    res = pt.survival.readmission_12m(d, "readmitted_12m", covariates=["site"])
    assert "site" in res.coefficients.index and "site2" not in res.coefficients.index
    ref = pt.trial.itt_odds_ratio(d, "readmitted_12m", "arm", covariates=["site"])
    assert res.effects.loc["adjusted_odds_ratio", "estimate"] == pytest.approx(ref["odds_ratio"], rel=1e-8)
    fac = pt.survival.readmission_12m(d, "readmitted_12m", covariates=["site"], factors=["site"])
    assert fac.effects.loc["adjusted_odds_ratio", "estimate"] == pytest.approx(
        pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site)").effects.loc["adjusted_odds_ratio", "estimate"], rel=1e-12)


def test_no_trial_specific_defaults():
    """Outcome and covariates are named by the caller: a trial without ``diagnosis`` works."""
    d = data("trial1").drop(columns=["diagnosis"]).rename(columns={"readmitted_12m": "readmitted"})
    res = pt.survival.readmission_12m(d, "readmitted")
    assert list(res.coefficients.index) == ["(Intercept)", "arm"]  # unadjusted by default
    with pytest.raises(TypeError):
        pt.survival.readmission_12m(d)  # no default outcome column
    with_site = pt.survival.readmission_12m(d, "readmitted", covariates="C(site)")
    assert len(with_site.coefficients) > 2
    counts = pt.survival.count_ratio(d, "readmissions")
    assert "offset" not in counts.model  # no default exposure column


def test_count_ratio_exposure_out_of_hospital_equals_offset_of_the_difference():
    """not_at_risk: the offset is log(follow-up - days in hospital), the time at risk of readmission."""
    rng = np.random.default_rng(8)
    n = 300
    d = pd.DataFrame({"arm": np.repeat([0, 1], n // 2), "followup": rng.integers(200, 366, n)})
    d["bed"] = rng.integers(0, 60, n)
    d["readmissions"] = rng.poisson(0.004 * (d["followup"] - d["bed"]) * np.exp(-0.3 * d["arm"]))
    got = pt.survival.count_ratio(d, "readmissions", exposure="followup", not_at_risk="bed")
    ref = pt.survival.count_ratio(d.assign(at_risk=d["followup"] - d["bed"]), "readmissions",
                                  exposure="at_risk")
    assert (got.estimate, got.se, got.ci_lb, got.ci_ub) == (ref.estimate, ref.se, ref.ci_lb, ref.ci_ub)
    assert "followup - bed" in got.model
    with pytest.raises(ValueError, match="exposure"):
        pt.survival.count_ratio(d, "readmissions", not_at_risk="bed")
    with pytest.raises(ValueError, match="must be positive"):
        pt.survival.count_ratio(d.assign(bed=d["followup"]), "readmissions", exposure="followup",
                                not_at_risk="bed")


def test_adjusted_model_reports_standardised_rd_and_rr_beside_the_or():
    """Marginal RD/RR (g-computation) from the same adjusted logistic model as trial.marginal_risk."""
    d = pt.simulate.trial(n=300, seed=4)
    res = pt.survival.readmission_12m(d, "readmitted_12m", covariates="C(site) + C(diagnosis)", level=90)
    ref = pt.trial.marginal_risk(d, "readmitted_12m", "arm", "C(site) + C(diagnosis)", level=0.9)
    for name in ("risk_difference", "risk_ratio"):
        np.testing.assert_allclose(res.effects.loc[f"adjusted_{name}"].to_numpy(),
                                   ref.loc[name, ["estimate", "se", "ci_lb", "ci_ub", "pval"]].to_numpy())
    unadjusted = pt.survival.readmission_12m(d, "readmitted_12m")
    assert "adjusted_risk_ratio" not in unadjusted.effects.index
