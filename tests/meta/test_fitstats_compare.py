"""Fit statistics, fixed tau2, anova (Wald, LRT), blup/ranef and permutest against metafor 3.8
(fixtures/fitstats_cases.json written by fixtures/make_fixtures_fitstats.R)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

REF = json.loads((Path(__file__).parent / "fixtures" / "fitstats_cases.json").read_text())
BCG = pd.DataFrame(REF["bcg"])
RTOL = 1e-6


def close(ours, ref, what, rtol=RTOL, atol=1e-10):
    ours = np.atleast_1d(np.asarray(ours, dtype=float))
    ref = np.atleast_1d(np.asarray([np.nan if x is None else x for x in np.atleast_1d(ref)], dtype=float))
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol, err_msg=what, equal_nan=True)


def fit_case(args, data=BCG):
    kw = {"method": args["method"], "mods": args.get("mods")}
    if args.get("tau2") is not None:
        kw["tau2"] = args["tau2"]
    if args.get("test"):
        kw["test"] = args["test"]
    return pt.meta.rma("yi", "vi", data=data, **kw)


@pytest.mark.parametrize("name", sorted(REF["cases"]))
def test_fitstats_and_coefficients(name):
    case = REF["cases"][name]
    fit = fit_case(case["args"])
    close(fit.b, case["b"], f"{name} b")
    close(fit.se, case["se"], f"{name} se")
    close(fit.pval, case["pval"], f"{name} pval")
    close(fit.tau2, case["tau2"], f"{name} tau2", atol=1e-9)
    if case["args"]["method"] in ("REML", "ML", "EE"):
        close(fit.se_tau2, case["se_tau2"], f"{name} se_tau2")
    close(fit.QE, case["QE"], f"{name} QE")
    close(fit.QM, case["QM"], f"{name} QM")
    close(fit.R2, case["R2"], f"{name} R2", atol=1e-6)
    assert fit.parms == case["fitstats"]["parms"]
    close(fit.fitstats(REML=False).to_numpy(), case["fitstats"]["ML"], f"{name} fitstats ML")
    close(fit.fitstats(REML=True).to_numpy(), case["fitstats"]["REML"], f"{name} fitstats REML")
    which = "REML" if case["args"]["method"] == "REML" else "ML"
    ll, dev, aic, bic, aicc = case["fitstats"][which]
    close([fit.loglik, fit.deviance, fit.aic, fit.bic, fit.aicc], [ll, dev, aic, bic, aicc], f"{name} attrs")


def test_tau2_fixed_is_not_estimated():
    fit = pt.meta.rma("yi", "vi", data=BCG, tau2=0.1)
    assert fit.tau2 == 0.1 and fit.algorithm == "fixed" and fit.parms == 1
    with pytest.raises(ValueError, match="tau2"):
        pt.meta.rma("yi", "vi", data=BCG, tau2=-1)
    assert fit.refit(np.arange(fit.k) != 0).tau2 == 0.1


def test_wald_btt_and_X():
    full = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat + alloc")
    assert list(full.X.columns) == ["intrcpt", "ablat", "allocrandom", "allocsystematic"]
    w = pt.meta.anova(full, btt=[2, 3])
    ref = REF["wald"]["btt"]
    close([w.QM, w.QMp], [ref["QM"], ref["QMp"]], "btt")
    assert w.QMdf == (2,)
    assert pt.meta.anova(full, btt=["allocrandom", "allocsystematic"]).QM == pytest.approx(w.QM, rel=1e-12)
    L = [[1, 30, 0, 0], [0, 0, 1, -1]]
    w = pt.meta.anova(full, X=L)
    ref = REF["wald"]["X"]
    t = w.to_frame()
    close(t["estimate"], ref["Xb"], "Xb")
    close(t["se"], ref["se"], "se")
    close(t["statistic"], ref["zval"], "zval")
    close(t["pval"], ref["pval"], "pval")
    close([w.QM, w.QMp], [ref["QM"], ref["QMp"]], "QM")
    fk = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat + alloc", test="knha")
    w = pt.meta.anova(fk, btt=1)
    ref = REF["wald"]["knha_btt"]
    close([w.QM, w.QMp], [ref["QM"], ref["QMp"]], "knha btt")
    assert w.QMdf == tuple(ref["QMdf"])
    w = pt.meta.anova(fk, X=L)
    ref = REF["wald"]["knha_X"]
    close(w.to_frame()["se"], ref["se"], "knha X se")
    close(w.to_frame()["pval"], ref["pval"], "knha X pval")
    close([w.QM, w.QMp], [ref["QM"], ref["QMp"]], "knha X QM")
    assert "Hypotheses" in w.summary()
    with pytest.raises(ValueError, match="columns"):
        pt.meta.anova(full, X=[[1, 0]])
    with pytest.raises(ValueError, match="btt"):
        pt.meta.anova(full, btt=7)


def test_likelihood_ratio_tests():
    mlf = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat + year", method="ML")
    mlr = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat", method="ML")
    ref = REF["lrt"]["ml"]
    for a, b in ((mlf, mlr), (mlr, mlf)):  # order does not matter
        r = pt.meta.anova(a, b)
        close([r.LRT, r.pval, r.df], [ref["LRT"], ref["pval"], ref["df"]], "ML LRT")
        close(r.fitstats_full.to_numpy(), ref["fit_full"], "full fitstats")
        close(r.fitstats_reduced.to_numpy(), ref["fit_reduced"], "reduced fitstats")
        close([r.QE_full, r.QE_reduced], ref["QE"], "QE")
        close(r.R2, ref["R2"], "R2")
    rf = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat")
    rr = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat", method="EE")
    r = pt.meta.anova(rf, rr)
    ref = REF["lrt"]["reml_vs_ee"]
    close([r.LRT, r.pval, r.df], [ref["LRT"], ref["pval"], ref["df"]], "REML vs EE")
    close(r.fitstats_reduced.to_numpy(), ref["fit_reduced"], "EE fitstats (REML)")
    assert list(r.to_frame().index) == ["full", "reduced"]
    reml_full = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat + year")
    with pytest.raises(ValueError, match="different fixed effects"):
        pt.meta.anova(reml_full, rf)
    with pytest.raises(ValueError, match="ML"):
        pt.meta.anova(mlf, reml_full)
    with pytest.raises(ValueError, match="same data"):
        pt.meta.anova(mlf, pt.meta.rma("yi", "vi", data=BCG.iloc[:10], method="ML"))


@pytest.mark.parametrize("which", ["blup", "blup0"])
def test_blup_ranef(which):
    ref = REF[which]
    fit = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat" if which == "blup" else None)
    b = pt.meta.blup(fit)
    close(b.pred, ref["pred"], "blup pred")
    close(b.se, ref["se"], "blup se")
    close(b.pi_lb, ref["pi_lb"], "blup pi_lb")
    close(b.pi_ub, ref["pi_ub"], "blup pi_ub")
    r = pt.meta.ranef(fit)
    close(r.pred, ref["ranef"], "ranef")
    close(r.se, ref["ranef_se"], "ranef se")
    close(r.pi_ub, ref["ranef_ub"], "ranef ub")
    assert list(b.to_frame().columns) == ["estimate", "se", "pi_lb", "pi_ub"]
    with pytest.raises(ValueError, match="random-effects"):
        pt.meta.blup(pt.meta.rma("yi", "vi", data=BCG, method="EE"))


def test_permutest_exact():
    ref = REF["permutest"]
    d = pd.DataFrame(ref["data"])
    p = pt.meta.permutest(pt.meta.rma("yi", "vi", data=d))
    assert p.exact and p.iter == 64
    close([p.pval, p.QMp], [ref["int"]["pval"], ref["int"]["QMp"]], "intercept")
    p = pt.meta.permutest(pt.meta.rma("yi", "vi", data=d, mods="~ ablat"))
    assert p.exact and p.iter == 360  # distinct orders of the moderator (ablat has a tie)
    # metafor's Fisher scoring fails on one permutation and drops it; ours keeps it at the REML maximum
    assert p.fallback.sum() == 1
    keep = ~p.fallback
    z_obs = np.asarray(p.zval_perm[0])
    pv = np.mean(np.abs(p.zval_perm[keep]) >= np.abs(z_obs) - 1.5e-8, axis=0)
    close(pv, ref["mods"]["pval"], "mods pval (metafor's permutation set)")
    close(np.mean(p.QM_perm[keep] >= p.QM_perm[0] - 1.5e-8), ref["mods"]["QMp"], "mods QMp")
    close(p.pval, np.mean(np.abs(p.zval_perm) >= np.abs(z_obs) - 1.5e-8, axis=0), "all permutations")
    p = pt.meta.permutest(pt.meta.rma("yi", "vi", data=d, mods="~ ablat", test="knha"))
    keep = ~p.fallback
    pv = np.mean(np.abs(p.zval_perm[keep]) >= np.abs(p.zval_perm[0]) - 1.5e-8, axis=0)
    close(pv, ref["mods_knha"]["pval"], "knha pval")
    close(np.mean(p.QM_perm[keep] >= p.QM_perm[0] - 1.5e-8), ref["mods_knha"]["QMp"], "knha QMp")


def test_permutest_random_is_seeded():
    fit = pt.meta.rma("yi", "vi", data=BCG, mods="~ ablat")
    a = pt.meta.permutest(fit, iter=200, seed=3)
    b = pt.meta.permutest(fit, iter=200, seed=3)
    assert not a.exact and a.iter == 200
    assert a.QMp == b.QMp and np.array_equal(a.pval, b.pval)
    assert 0 < a.QMp < 0.05  # ablat is a strong moderator in the BCG data


@pytest.mark.parametrize("name,kw", [("reml", {}), ("ml_mods", {"mods": "~ ablat", "method": "ML"}),
                                     ("reml_mods", {"mods": "~ ablat + year"})])
def test_confint_profile_likelihood(name, kw):
    ref = REF["confint_pl"][name]
    ci = pt.meta.rma("yi", "vi", data=BCG, **kw).confint(type="PL")
    assert list(ci.index) == ["tau2", "tau", "I2", "H2"]
    for col in ("estimate", "ci_lb", "ci_ub"):
        close(ci[col], ref[col], f"{name} {col}", rtol=1e-8)
    with pytest.raises(ValueError, match="ML"):
        pt.meta.rma("yi", "vi", data=BCG, method="DL").confint(type="PL")
    with pytest.raises(ValueError, match="type"):
        pt.meta.rma("yi", "vi", data=BCG).confint(type="XX")
