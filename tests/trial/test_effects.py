import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import PeertrialWarning
from peertrial.trial.effects import effects_by_use

from .conftest import rel_err

VARIANTS = [("const", None, None), ("HC0", "HC0", None), ("HC1", "HC1", None),
            ("HC2", "HC2", None), ("HC3", "HC3", None), ("cluster", None, "site"),
            ("cluster_HC0", "HC0", "site"), ("cluster_HC1", "HC1", "site")]
MODELS = {"unadjusted": ([], "y"), "adjusted": (["y0", "age", "diagnosis", "site"], "y"),
          "binary": (["y0"], "yb")}
POPS = ["itt", "as_treated", "per_protocol", "cace"]


def _fit(frame, key, robust, cluster):
    cov, out = MODELS[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        return pt.trial.estimate_effects(frame, outcome=out, arm="arm", received="received",
                                         covariates=cov, factors=["site"], robust=robust,
                                         cluster=cluster, outcome_type="continuous")


@pytest.mark.parametrize("key", list(MODELS))
@pytest.mark.parametrize("vtype,robust,cluster", VARIANTS)
def test_matches_lm_ivreg_sandwich(r_sets, key, vtype, robust, cluster):
    """lm / AER::ivreg with vcov, vcovHC(type) and vcovCL(cluster = site) defaults, 24 datasets."""
    assert len(r_sets) >= 20
    for s in r_sets:
        res = _fit(s["frame"], key, robust, cluster)
        ref = s["results"][key]
        for pop in POPS:
            assert rel_err(res.loc[pop, "estimate"], ref[pop][vtype]["estimate"]) < 1e-6
            assert rel_err(res.loc[pop, "se"], ref[pop][vtype]["se"]) < 1e-6
            assert res.loc[pop, "n"] == ref[pop]["n"]
            assert res.loc[pop, "df"] == ref[pop]["df_resid"]


def test_first_stage_F_and_ci(r_sets):
    for s in r_sets:
        res = _fit(s["frame"], "adjusted", None, None)
        assert rel_err(res.attrs["first_stage_F"], s["results"]["adjusted"]["first_stage_F"]) < 1e-8
        row = res.loc["cace"]
        from scipy import stats
        q = stats.t.ppf(0.975, row["df"])
        assert row["ci_lb"] == pytest.approx(row["estimate"] - q * row["se"], rel=1e-12)
        assert row["pval"] == pytest.approx(2 * stats.t.sf(abs(row["estimate"] / row["se"]), row["df"]), rel=1e-12)


def test_binary_defaults_to_hc3_and_logistic_or(r_sets):
    for s in r_sets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PeertrialWarning)
            res = pt.trial.estimate_effects(s["frame"], outcome="yb", covariates=["y0"], received="received")
        assert res.attrs["outcome_type"] == "binary"
        ref = s["results"]["binary"]
        for pop in POPS:
            assert rel_err(res.loc[pop, "se"], ref[pop]["HC3"]["se"]) < 1e-6
        lo = res.attrs["itt_odds_ratio"]
        assert rel_err(lo["log_or"], s["results"]["logistic"]["estimate"]) < 1e-6
        assert rel_err(lo["se"], s["results"]["logistic"]["se"]) < 1e-8
        # R's default glm.control(epsilon = 1e-8) stops one IRLS step short
        assert rel_err(lo["se"], s["results"]["logistic"]["se_default_control"]) < 1e-4
        assert lo["odds_ratio"] == pytest.approx(np.exp(lo["log_or"]))


def test_dose_response_matches_lm(r_sets):
    for s in r_sets:
        res = effects_by_use(s["frame"], outcome="y", sessions="sessions", covariates=["y0"], cuts=(0, 3))
        ref = s["results"]["dose"]
        idx = [i for i, t in enumerate(ref["terms"]) if t.startswith("use")]
        labels = [ref["terms"][i][3:] for i in idx]
        assert len(labels) == 3
        assert rel_err(res.loc[labels, "estimate"], np.take(ref["estimate"], idx)) < 1e-6
        assert rel_err(res.loc[labels, "se"], np.take(ref["se"], idx)) < 1e-6
        assert not res.loc[labels, "randomised"].any() and res.loc["itt", "randomised"]


def test_caller_frame_untouched(r_sets):
    frame = r_sets[2]["frame"].copy()
    frame.loc[3, "y"] = np.nan
    before = frame.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pt.trial.estimate_effects(frame, outcome="y", covariates=["y0", "diagnosis"], cluster="site", received="received")
        effects_by_use(frame, outcome="y", covariates=["y0"])
    pd.testing.assert_frame_equal(frame, before)


# ---- bad input -------------------------------------------------------------------------

def _small(seed=3, n=60):
    rng = np.random.default_rng(seed)
    arm = np.repeat([0, 1], n // 2)
    rec = np.where(arm == 1, rng.random(n) < 0.7, 0).astype(int)
    return pd.DataFrame({"arm": arm, "received": rec, "x": rng.normal(size=n),
                         "y": rng.normal(size=n) + rec})


def test_arm_not_binary():
    df = _small()
    df.loc[5, "arm"] = 2
    with pytest.raises(ValueError, match=r"'arm' must be coded 0/1.*rows 5"):
        pt.trial.estimate_effects(df, outcome="y", received="received")


def test_single_arm():
    df = _small()
    df["arm"] = 1
    with pytest.raises(ValueError, match="both arms"):
        pt.trial.estimate_effects(df, outcome="y", received="received")


def test_contamination_flagged_and_kept():
    df = _small()
    df.loc[[2, 7], "received"] = 1
    with pytest.warns(PeertrialWarning, match=r"contamination: 2 control.*rows 2, 7"):
        res = pt.trial.estimate_effects(df, outcome="y", received="received")
    assert res.attrs["contamination"] == 2 and res.attrs["contamination_rows"] == [2, 7]
    assert res.loc["itt", "n"] == len(df) and res.loc["cace", "n"] == len(df)
    assert res.loc["per_protocol", "n"] == len(df) - 2 - int(((df.arm == 1) & (df.received == 0)).sum())


def test_no_compliers():
    df = _small()
    df["received"] = 0
    with pytest.warns(PeertrialWarning, match="no compliers"):
        res = pt.trial.estimate_effects(df, outcome="y", received="received")
    assert np.isnan(res.loc[["as_treated", "per_protocol", "cace"], "estimate"]).all()
    assert np.isfinite(res.loc["itt", "estimate"])


def test_weak_instrument_warns():
    df = _small()
    df["received"] = 0
    df.loc[[40], "received"] = 1
    with pytest.warns(PeertrialWarning, match="weak instrument"):
        pt.trial.estimate_effects(df, outcome="y", received="received")


def test_perfect_collinearity_is_na_as_in_r():
    # R's lm reports NA for x2 (aliased with the intercept and x) and the arm as without it
    df = _small()
    df["x2"] = 2 * df["x"] + 1
    with pytest.warns(PeertrialWarning, match=r"\['x2'\] not estimable"):
        res = pt.trial.estimate_effects(df, outcome="y", covariates=["x", "x2"], received="received")
    ref = pt.trial.estimate_effects(df, outcome="y", covariates=["x"], received="received")
    cols = ["estimate", "se", "df", "pval"]
    pd.testing.assert_frame_equal(res[cols], ref[cols])


def test_missing_covariate_warns_with_rows_or_fails():
    df = _small()
    df.loc[[4, 9], "x"] = np.nan
    with pytest.warns(UserWarning, match=r"2 rows with missing values in \['x'\] omitted: 4, 9"):
        res = pt.trial.estimate_effects(df, outcome="y", covariates=["x"], received="received")
    assert res.loc["itt", "n"] == len(df) - 2
    with pytest.raises(ValueError, match=r"missing values in column\(s\) \['x'\] at rows 4, 9"):
        pt.trial.estimate_effects(df, outcome="y", covariates=["x"], na_action="fail", received="received")


def test_bad_robust_type():
    with pytest.raises(ValueError, match="robust must be"):
        pt.trial.estimate_effects(_small(), outcome="y", robust="HC9", received="received")


def test_cluster_with_hc2_is_cr2(r_sets):
    """sandwich::vcovCL(type = "HC2") is clubSandwich's CR2 (fixtures in test_cluster_small)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        hc2 = pt.trial.estimate_effects(r_sets[0]["frame"], outcome="y", robust="HC2", cluster="site",
                                        received="received")
        cr2 = pt.trial.estimate_effects(r_sets[0]["frame"], outcome="y", robust="CR2", cluster="site",
                                        received="received")
    pd.testing.assert_frame_equal(hc2, cr2, check_like=True, obj="HC2 vs CR2")
    assert "CR2" in hc2.attrs["vcov"]


def test_other_functions_leave_caller_frame_untouched(r_sets):
    d = r_sets[4]["frame"].copy()
    before = d.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pt.trial.mmrm(d, {"4": "y4", "12": "y12"}, covariates=["y0"])
        pt.trial.subgroup_effects(d, "y12", subgroup="diagnosis", covariates=["y0"])
        pt.trial.consort(d, "y12", received="received")
        pt.trial.hedges_g(d, "y12")
        pt.trial.random_intercept(d, "y12", covariates=["y0"], group="site")
        pt.trial.itt_odds_ratio(d, "yb", covariates=["y0"])
    pd.testing.assert_frame_equal(d, before)


def test_robust_first_stage_F(r_sets):
    for s in r_sets[:10]:
        ref = s["results"]["adjusted"]
        hc3 = _fit(s["frame"], "adjusted", "HC3", None)
        cl = _fit(s["frame"], "adjusted", None, "site")
        assert rel_err(hc3.attrs["first_stage_F_robust"], ref["first_stage_F_HC3"]) < 1e-8
        assert rel_err(cl.attrs["first_stage_F_robust"], ref["first_stage_F_cluster"]) < 1e-8


def test_effects_summary_text(r_sets):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        res = pt.trial.estimate_effects(r_sets[2]["frame"], outcome="yb", covariates=["y0"], received="received")
    text = pt.trial.effects_summary(res)
    assert "not randomised" in text and "ITT odds ratio" in text
    assert f"contamination = {res.attrs['contamination']}" in text


def test_cace_is_wald_ratio_without_covariates(r_sets):
    """Closed form: with no covariates 2SLS equals the Wald estimator ITT_y / ITT_received."""
    for s in r_sets[:10]:
        d = s["frame"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PeertrialWarning)
            res = pt.trial.estimate_effects(d, outcome="y", received="received")
        g = d.groupby("arm")
        wald = (g["y"].mean()[1] - g["y"].mean()[0]) / (g["received"].mean()[1] - g["received"].mean()[0])
        assert res.loc["cace", "estimate"] == pytest.approx(wald, rel=1e-10)
        assert res.attrs["complier_share"] == pytest.approx(g["received"].mean()[1] - g["received"].mean()[0])


def test_received_not_binary_and_outcome_not_numeric():
    df = _small()
    df.loc[3, "received"] = 2
    with pytest.raises(ValueError, match=r"'received' must be coded 0/1.*rows 3"):
        pt.trial.estimate_effects(df, outcome="y", received="received")
    df = _small().astype({"y": object})
    df.loc[8, "y"] = "high"
    with pytest.raises(ValueError, match=r"'y' must be numeric.*rows 8"):
        pt.trial.estimate_effects(df, outcome="y", received="received")


def test_missing_column_named():
    with pytest.raises(ValueError, match=r"'hope' not found"):
        pt.trial.estimate_effects(_small(), outcome="hope", received="received")
