"""regtest, ranktest, trimfill and fsn against metafor 3.8 (fixtures: make_fixtures_ext.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

CASES = json.loads((Path(__file__).parent / "fixtures" / "ext_cases.json").read_text())
RTOL, ATOL = 1e-6, 1e-9


def fit_case(e):
    d = e["data"]
    mods = np.asarray(d["x"])[:, None] if e["mods"] else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.meta.rma(np.asarray(d["yi"]), np.asarray(d["vi"]), mods=mods, method=e["method"], test=e["test"])


def close(actual, expected, what):
    expected = np.asarray([np.nan if x is None else x for x in np.atleast_1d(expected)], dtype=float)
    np.testing.assert_allclose(np.atleast_1d(np.asarray(actual, dtype=float)), expected, rtol=RTOL, atol=ATOL,
                               err_msg=what)


def test_fixture_coverage():
    assert len(CASES) >= 30
    ks = {e["fit"]["k"] for e in CASES.values()}
    assert 3 in ks and max(ks) >= 50
    assert any(e["fit"]["tau2"] == 0 for e in CASES.values())
    sides = {tf["side"] for e in CASES.values() for tf in e.get("trimfill", {}).values() if tf["k0"] > 0}
    assert sides == {"left", "right"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ranktest(name):
    e = CASES[name]
    r = pt.meta.ranktest(fit_case(e))
    close(r.tau, e["ranktest"]["tau"], "tau")
    close(r.pval, e["ranktest"]["pval"], "pval")


def test_ranktest_uses_normal_approximation_with_ties():
    e = CASES["k10_ties"]
    r = pt.meta.ranktest(np.asarray(e["data"]["yi"]), np.asarray(e["data"]["vi"]))
    assert not r.exact
    close(r.pval, e["ranktest"]["pval"], "pval")
    assert "Kendall's tau" in r.summary()


@pytest.mark.parametrize("name", sorted(CASES))
def test_regtest(name):
    e = CASES[name]
    fit = fit_case(e)
    ni = np.asarray(e["data"]["ni"], dtype=float)
    for key, ref in e["regtest"].items():
        model, predictor = key.split("_")
        r = pt.meta.regtest(fit, model=model, predictor=predictor, ni=ni)
        for f in ("zval", "pval", "dfs", "est", "ci_lb", "ci_ub"):
            close(getattr(r, f), ref[f], f"{key} {f}")


def test_regtest_from_columns_matches_fit():
    e = CASES["bcg_rr"]
    df = pd.DataFrame({k: e["data"][k] for k in ("yi", "vi", "ni")})
    before = df.copy()
    r = pt.meta.regtest("yi", "vi", data=df, ni="ni", predictor="ninv")
    close(r.zval, e["regtest"]["rma_ninv"]["zval"], "zval")
    pd.testing.assert_frame_equal(df, before)
    assert "Funnel Plot Asymmetry" in r.summary()


def test_regtest_ni_column_skips_rows_the_fit_omitted():
    e = CASES["k20_reml"]
    df = pd.DataFrame({k: e["data"][k] for k in ("yi", "vi", "ni")})
    df.loc[3, "yi"] = np.nan
    with pytest.warns(UserWarning, match="omitted"):
        fit = pt.meta.rma("yi", "vi", data=df)
    r = pt.meta.regtest(fit, predictor="ni", ni="ni", data=df)
    complete = df.dropna()
    ref = pt.meta.regtest(pt.meta.rma("yi", "vi", data=complete), predictor="ni", ni=complete["ni"].to_numpy())
    assert r.zval == pytest.approx(ref.zval, rel=1e-12)


@pytest.mark.parametrize("name", sorted(n for n in CASES if "trimfill" in CASES[n]))
def test_trimfill(name):
    e = CASES[name]
    fit = fit_case(e)
    for key, ref in e["trimfill"].items():
        side = {"L0_left": "left", "L0_right": "right", "R0_right": "right"}.get(key)
        r = pt.meta.trimfill(fit, side=side, estimator=key[:2])
        assert (r.k0, r.side) == (ref["k0"], ref["side"]), key
        for f in ("se_k0", "b", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "QE", "yi", "vi"):
            close(getattr(r, f), ref[f], f"{key} {f}")
        if ref["p_k0"] is not None:
            close(r.p_k0, ref["p_k0"], "p_k0")
        assert r.fill.tolist() == ref["fill"]
        if r.k0 > 0:
            assert r.fit.k == ref["k"]
            close(r.fit.b, ref["b"], "filled fit b")


@pytest.mark.parametrize("name", sorted(CASES))
def test_fsn(name):
    e = CASES[name]
    yi, vi = np.asarray(e["data"]["yi"]), np.asarray(e["data"]["vi"])
    options = {"Rosenthal": {}, "Orwin": {"type": "Orwin"}, "Orwin_target": {"type": "Orwin", "target": 0.05},
               "Orwin_weighted": {"type": "Orwin", "weighted": True}, "Rosenberg": {"type": "Rosenberg"}}
    for key, ref in e["fsn"].items():
        r = pt.meta.fsn(yi, vi, **options[key])
        for f, v in ref.items():
            close(getattr(r, f), v, f"{key} {f}")


def test_fsn_orwin_needs_no_variances_and_leaves_data_alone():
    df = pd.DataFrame({"yi": [0.2, 0.4, 0.1, 0.5]})
    before = df.copy()
    r = pt.meta.fsn("yi", data=df, type="Orwin")
    # mean 0.3, target 0.15: N = 4 (0.3 - 0.15) / 0.15 = 4
    assert r.fsnum == 4 and r.meanes == pytest.approx(0.3)
    pd.testing.assert_frame_equal(df, before)


def test_bad_input():
    fit3 = pt.meta.rma([0.1, 0.3], [0.01, 0.02])
    with pytest.raises(ValueError, match="at least 3 studies"):
        pt.meta.trimfill(fit3)
    with pytest.raises(ValueError, match="at least 3 studies"):
        pt.meta.regtest(fit3)
    with pytest.raises(ValueError, match="without moderators"):
        pt.meta.trimfill(fit_case(CASES["k8_mods"]))
    with pytest.raises(ValueError, match="sample sizes"):
        pt.meta.regtest(fit_case(CASES["k10_reml"]), predictor="ni")
    with pytest.raises(ValueError, match="model must be"):
        pt.meta.regtest(fit_case(CASES["k10_reml"]), model="glm")
    with pytest.raises(ValueError, match="type must be"):
        pt.meta.fsn([0.1, 0.2], [0.1, 0.1], type="REM")
    with pytest.raises(ValueError, match="positive"):
        pt.meta.ranktest([0.1, 0.2, 0.3], [0.1, -0.1, 0.2])
    with pytest.warns(UserWarning, match="omitted"):
        r = pt.meta.ranktest(pd.Series([0.1, 0.2, np.nan, 0.4, 0.3]), np.array([0.1, 0.2, 0.1, 0.3, 0.05]))
    assert r.k == 4


def test_summaries_and_frames():
    fit = fit_case(CASES["hackshaw1998_dl"])
    tf = pt.meta.trimfill(fit)
    assert "missing studies on the left side: 7" in tf.summary()
    frame = tf.to_frame()
    assert frame["filled"].sum() == 7 and len(frame) == fit.k + 7
    assert frame["slab"].iloc[-1] == "Filled 7"
    r0 = pt.meta.trimfill(fit, estimator="R0")
    assert "no missing studies" in r0.summary()
    rt = pt.meta.regtest(fit, model="lm")
    assert "t = " in rt.summary() and "Limit Estimate" in rt.summary()
    assert list(rt.to_frame().columns) == ["model", "predictor", "statistic", "df", "pval", "estimate", "ci_lb", "ci_ub"]
    for t in ("Rosenthal", "Orwin", "Rosenberg"):
        f = pt.meta.fsn(fit, type=t)
        assert f"{t} Approach" in f.summary() and f.to_frame()["fsnum"].iloc[0] == f.fsnum


@pytest.mark.parametrize("name", ["k20_bias_left", "k60_bias_right", "hackshaw1998_dl", "bcg_rr"])
def test_trimfill_mirrors_under_sign_flip(name):
    e = CASES[name]
    d = e["data"]
    yi, vi = np.asarray(d["yi"]), np.asarray(d["vi"])
    a = pt.meta.trimfill(pt.meta.rma(yi, vi, method=e["method"]))
    b = pt.meta.trimfill(pt.meta.rma(-yi, vi, method=e["method"]))
    assert a.k0 == b.k0 and {a.side, b.side} == {"left", "right"}
    assert a.b == pytest.approx(-b.b, rel=1e-8)
    np.testing.assert_allclose(np.sort(a.yi), np.sort(-b.yi), rtol=1e-10)
