"""Diagnostics of Mantel–Haenszel and Peto fits equal metafor 3.8's.

Reference values: fixtures/mh_diag_cases.json, written by fixtures/make_fixtures_mh_diag.R
(metadat's dat.bcg, dat.lau1992, dat.hahn2001 and dat.nielweise2007, the last two with
double-zero tables).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FIX = json.loads((Path(__file__).parent / "fixtures" / "mh_diag_cases.json").read_text())
CASES = FIX["cases"]
RTOL = 1e-6


def _arr(x):
    return np.array([np.nan if v is None else v for v in x], dtype=float)


def _fit(case):
    d = case["data"]
    df = pd.DataFrame({k: d[k] for k in ("ai", "bi", "ci", "di")})
    df["slab"] = d["slab"]
    df["year"] = d["year"]
    if case["method"] == "PETO":
        return pt.meta.rma_peto(df, ai="ai", bi="bi", ci="ci", di="di", slab="slab"), df
    return pt.meta.rma_mh(df, ai="ai", bi="bi", ci="ci", di="di", measure=case["measure"], slab="slab"), df


def _close(got, want, atol=1e-9):
    np.testing.assert_allclose(np.asarray(got, float), _arr(want), rtol=RTOL, atol=atol, equal_nan=True)


COLS = {"estimate": "estimate", "se": "se", "zval": "zval", "pval": "pval", "ci.lb": "ci_lb", "ci.ub": "ci_ub",
        "Q": "QE", "Qp": "QEp", "I2": "I2", "H2": "H2"}


def _stat_col(frame):
    return "zval" if "zval" in frame.columns else "statistic"


@pytest.mark.parametrize("name", sorted(CASES))
def test_leave1out_cumul_refit_with_the_same_method(name):
    case = CASES[name]
    fit, df = _fit(case)
    for key, frame in (("leave1out", pt.meta.leave1out(fit)), ("cumul", pt.meta.cumul(fit)),
                       ("cumul_year", pt.meta.cumul(fit, order="year"))):
        want = case[key]
        assert "tau2" not in frame.columns
        assert list(frame.index) == want["slab"]
        for r_col, col in COLS.items():
            col = _stat_col(frame) if col == "zval" else col
            _close(frame[col], want[r_col])


def test_lau1992_cumul_on_mh_fit_step3():
    fit, _ = _fit(CASES["lau1992_MH_OR"])
    assert pt.meta.cumul(fit)["estimate"].iloc[2] == pytest.approx(-0.0496408355272202, rel=1e-9)


@pytest.mark.parametrize("name", sorted(CASES))
def test_baujat(name):
    case = CASES[name]
    fit, _ = _fit(case)
    bj = pt.meta.baujat(fit)
    _close(bj["x"], case["baujat"]["x"])
    _close(bj["y"], case["baujat"]["y"], atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_regtest_ranktest_use_the_equal_effects_model(name):
    case = CASES[name]
    fit, _ = _fit(case)
    rt = pt.meta.regtest(fit)
    want = case["regtest"]
    assert want["method"] == "FE" and rt.method == "EE"
    stat = getattr(rt, "zval", None)
    stat = rt.statistic if stat is None else stat
    assert stat == pytest.approx(want["zval"], rel=RTOL)
    assert rt.pval == pytest.approx(want["pval"], rel=RTOL)
    est = getattr(rt, "est", None)
    est = rt.estimate if est is None else est
    assert est == pytest.approx(want["est"], rel=RTOL)
    rk = pt.meta.ranktest(fit)
    assert np.isfinite(rk.tau)
    assert rk.tau == pytest.approx(case["ranktest"]["tau"], rel=RTOL, abs=1e-12)
    assert rk.pval == pytest.approx(case["ranktest"]["pval"], rel=1e-5)


def test_bcg_regtest_on_mh_or_fit():
    fit, _ = _fit(CASES["bcg_MH_OR"])
    rt = pt.meta.regtest(fit)
    stat = getattr(rt, "zval", None)
    assert (rt.statistic if stat is None else stat) == pytest.approx(-5.2839930592208, rel=1e-8)


@pytest.mark.parametrize("name", ["bcg_MH_OR", "bcg_PETO_OR", "hahn2001_MH_RR"])
def test_influence_and_trimfill_raise_as_metafor(name):
    case = CASES[name]
    assert not case["influence_available"] and not case["trimfill_available"]
    fit, _ = _fit(case)
    with pytest.raises(ValueError, match="influence is not available"):
        pt.meta.influence(fit)
    with pytest.raises(ValueError, match="trimfill is not available"):
        pt.meta.trimfill(fit)


@pytest.mark.parametrize("name", sorted(FIX["uni"]))
def test_double_zero_tables_in_rma_fits(name):
    case = FIX["uni"][name]
    es = pt.meta.escalc("OR", pd.DataFrame(case["data"]), ai="ai", bi="bi", ci="ci", di="di")
    fit = pt.meta.rma("yi", "vi", data=es, method=case["method"])
    rt = pt.meta.regtest(fit)
    stat = getattr(rt, "zval", None)
    assert (rt.statistic if stat is None else stat) == pytest.approx(case["regtest"]["zval"], rel=1e-5)
    rk = pt.meta.ranktest(fit)
    assert rk.tau == pytest.approx(case["ranktest"]["tau"], rel=RTOL)
    assert rk.pval == pytest.approx(case["ranktest"]["pval"], rel=1e-5)


def test_funnel_and_revman_forest_of_mh_fit_with_double_zero_tables():
    import matplotlib

    matplotlib.use("Agg")
    fit, _ = _fit(CASES["hahn2001_MH_OR"])
    assert np.isnan(fit.yi).sum() == 3
    fig = pt.plot.funnel(fit)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections if hasattr(c, "get_offsets")) >= 9
    texts = [t.get_text() for a in pt.plot.revman_forest(fit).axes for t in a.texts]
    assert texts.count("Not estimable") == 3
