
import numpy as np
import pandas as pd
import pytest

from peertrial.trial import consort, hedges_g, multiple_imputation, rubin_pool, subgroup_effects
from peertrial.trial._linear import ols

from .conftest import rel_err

POOL_COLS = [("qbar", "estimate"), ("ubar", "ubar"), ("b", "b"), ("t", "t"), ("df", "df"),
             ("riv", "riv"), ("lambda", "lambda"), ("fmi", "fmi"), ("se", "se"),
             ("statistic", "statistic"), ("p", "pval"), ("ci_lb", "ci_lb"), ("ci_ub", "ci_ub")]


def test_rubin_pool_matches_mice_pool(r_sets):
    for s in r_sets:
        ref = s["results"]["mi"]
        pooled = rubin_pool(ref["estimates"], ref["variances"], dfcom=ref["dfcom"], names=ref["terms"])
        for rk, col in POOL_COLS:
            assert rel_err(pooled[col], ref[rk]) < 1e-8, (s["seed"], col)


def test_refit_on_mice_imputations_matches(r_sets):
    """Given mice's imputed values, our lm fits on each completed data set equal R's."""
    for s in r_sets:
        d, ref = s["frame"], s["results"]["mi"]
        imp = np.array(ref["imputed_y12"], dtype=float).reshape(len(ref["missing_rows"]), -1)
        Y = np.tile(d["y12"].to_numpy(dtype=float), (imp.shape[1], 1))
        Y[:, ref["missing_rows"]] = imp.T
        X = np.column_stack([np.ones(len(d)), d["arm"], d["y0"], d["age"]])
        fit = ols(X, Y)
        assert rel_err(fit.coef, ref["estimates"]) < 1e-8
        assert rel_err(np.einsum("bii->bi", fit.vcov), ref["variances"]) < 1e-8
        pooled = rubin_pool(fit.coef, np.einsum("bii->bi", fit.vcov), dfcom=fit.df_resid)
        assert rel_err(pooled["estimate"], ref["qbar"]) < 1e-8


def test_multiple_imputation_close_to_mice(r_sets):
    """Our chained-equation imputation (other random draws) lands near mice's pooled estimate."""
    for s in r_sets[:6]:
        res = multiple_imputation(s["frame"], "y12", covariates=["y0", "age"], m=30, seed=7, method="norm")
        ref = s["results"]["mi"]
        assert abs(res.effect.loc["multiple_imputation", "estimate"] - ref["qbar"][1]) < 0.5 * ref["se"][1]
        assert res.pooled.loc["arm", "se"] == pytest.approx(ref["se"][1], rel=0.3)  # mice used m = 5-9
        n_missing = s["frame"]["y12"].isna().groupby(s["frame"]["arm"]).sum()
        assert res.n_imputed.to_dict() == {0: int(n_missing[0]), 1: int(n_missing[1])}
        assert res.effect.loc["complete_case", "n"] == s["frame"]["y12"].notna().sum()


def test_multiple_imputation_reproducible_and_missing_covariates(r_sets):
    d = r_sets[1]["frame"].copy()
    d.loc[[1, 5, 9], "y0"] = np.nan
    before = d.copy()
    a = multiple_imputation(d, "y12", covariates=["y0", "age"], m=5, seed=3)
    b = multiple_imputation(d, "y12", covariates=["y0", "age"], m=5, seed=3)
    pd.testing.assert_frame_equal(a.pooled, b.pooled)
    pd.testing.assert_frame_equal(d, before)
    assert "Rubin" in a.summary()


def test_mi_removes_bias_under_mar():
    """Simulation (fixed seed): outcome MAR given baseline; complete cases of an unadjusted
    comparison are biased, MI with the baseline in the imputation model is not."""
    rng = np.random.default_rng(11)
    est_cc, est_mi = [], []
    for _ in range(30):
        n = 300
        arm = rng.integers(0, 2, n)
        y0 = rng.normal(size=n)
        y = 1.0 * arm + 2.0 * y0 + rng.normal(size=n)
        miss = rng.random(n) < 1 / (1 + np.exp(-(2.5 * y0 * (arm == 1) - 0.5)))
        y[miss] = np.nan
        d = pd.DataFrame({"arm": arm, "y0": y0, "y": y})
        res = multiple_imputation(d, "y", covariates=[], auxiliary=["y0"], m=10, seed=rng)
        est_mi.append(res.effect.loc["multiple_imputation", "estimate"])
        est_cc.append(res.effect.loc["complete_case", "estimate"])
    assert abs(np.mean(est_mi) - 1.0) < 0.15
    assert abs(np.mean(est_cc) - 1.0) > 0.5


def test_rubin_pool_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        rubin_pool([[1.0]], [[0.1]])
    with pytest.raises(ValueError, match="same shape"):
        rubin_pool([[1.0], [2.0]], [[0.1]])


def test_hedges_g_matches_escalc(r_sets):
    import peertrial as pt

    for s in r_sets:
        g = hedges_g(s["frame"], "y")
        assert rel_err(g.yi, s["results"]["smd"]["yi"]) < 1e-10
        assert rel_err(g.vi, s["results"]["smd"]["vi"]) < 1e-10
        es = pt.meta.escalc("SMD", data=g.to_escalc_frame(), m1i="m1i", sd1i="sd1i", n1i="n1i",
                            m2i="m2i", sd2i="sd2i", n2i="n2i")
        assert es["yi"].iloc[0] == pytest.approx(g.yi, rel=1e-12)


def test_hedges_g_near_pingouin(r_sets):
    import pingouin as pg

    d = r_sets[4]["frame"]
    g = hedges_g(d, "y")
    pg_g = pg.compute_effsize(d.loc[d.arm == 1, "y"], d.loc[d.arm == 0, "y"], eftype="hedges")
    assert g.yi == pytest.approx(pg_g, rel=1e-3)


def test_subgroups_match_lm_and_anova(r_sets):
    for s in r_sets:
        res = subgroup_effects(s["frame"], "y", subgroup="diagnosis")
        ref = s["results"]["subgroup"]
        assert list(res.effects.index[:-1]) == ref["levels"]
        assert rel_err(res.effects["estimate"].iloc[:-1], ref["estimate"]) < 1e-8
        assert rel_err(res.effects["se"].iloc[:-1], ref["se"]) < 1e-8
        assert list(res.effects["n"].iloc[:-1]) == ref["n"]
        assert rel_err(res.F, ref["F"]) < 1e-8 and rel_err(res.pval, ref["p"]) < 1e-7
        assert (res.df1, res.df2) == (ref["df1"], ref["df2"])


def test_subgroup_single_arm_level():
    d = pd.DataFrame({"arm": [0, 1, 0, 1, 0, 1, 0, 1, 1, 1], "g": list("aaaabbbbcc"), "y": np.arange(10.0)})
    with pytest.raises(ValueError, match="'g' = 'c' has participants in only one arm"):
        subgroup_effects(d, "y", subgroup="g")


def test_consort_counts(r_sets):
    d = r_sets[2]["frame"]  # dataset with contamination (seed 1003)
    c = consort(d, outcome="y12", received="received")
    t = c.table
    for k, lab in enumerate(["control", "peer support"]):
        sub = d[d.arm == k]
        assert t.loc["randomised", lab] == len(sub)
        assert t.loc["received_allocated", lab] == (sub.received == k).sum()
        assert t.loc["lost_to_follow_up", lab] == sub.y12.isna().sum()
        assert t.loc["randomised", lab] == t.loc["lost_to_follow_up", lab] + t.loc["analysed", lab]
        assert t.loc["randomised", lab] == t.loc["received_allocated", lab] + t.loc["not_received_allocated", lab]
    assert t.loc["not_received_allocated", "control"] == ((d.arm == 0) & (d.received == 1)).sum() > 0
    assert "CONSORT" in c.summary()


def test_too_few_observations():
    d = pd.DataFrame({"arm": [0, 1, 0, 1, 0, 1], "g": list("aabbbb"), "y": np.arange(6.0)})
    with pytest.raises(ValueError, match="too few"):
        subgroup_effects(d, "y", subgroup="g")
