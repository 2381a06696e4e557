"""escalc, rma_mh and rma_peto against R metafor 3.8 (fixtures/make_fixtures.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

REF = json.loads((Path(__file__).parent / "fixtures" / "rma_fixtures.json").read_text())


def arr(x):
    if x is None:
        return np.array([np.nan])
    if isinstance(x, list):
        return np.array([np.nan if v is None else v for v in x], dtype=float)
    return np.atleast_1d(np.asarray(x, dtype=float))


def frame(src):
    if isinstance(src, list):  # jsonlite writes data frames as records
        return pd.DataFrame(src)
    return pd.DataFrame({k: (v if isinstance(v, list) else [v]) for k, v in src.items()})


def close(ours, ref, what):
    np.testing.assert_allclose(np.atleast_1d(np.asarray(ours, dtype=float)), arr(ref), rtol=1e-9, atol=1e-12,
                               err_msg=what, equal_nan=True)


MEANS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")


@pytest.mark.parametrize("case", REF["escalc"], ids=lambda c: f"{c['dataset']}-{c['measure']}")
def test_escalc_matches_metafor(case):
    name, measure = case["dataset"], case["measure"]
    if name in REF["means"]:
        data = frame(REF["means"][name])
        es = pt.meta.escalc(measure, data=data, **{c: c for c in MEANS})
    elif name in REF["tables"]:
        data = frame(REF["tables"][name])
        es = pt.meta.escalc(measure, data=data, ai="ai", bi="bi", ci="ci", di="di")
        # n1i/n2i instead of bi/di give the same
        alt = data.assign(n1i=data.ai + data.bi, n2i=data.ci + data.di)
        es2 = pt.meta.escalc(measure, data=alt, ai="ai", ci="ci", n1i="n1i", n2i="n2i")
        np.testing.assert_allclose(es2["yi"], es["yi"], equal_nan=True)
    else:
        g = REF["gen_ci"]
        data = pd.DataFrame(g)
        es = pt.meta.escalc("GEN", data=data, yi="yi", ci_lb="ci_lb", ci_ub="ci_ub")
        se = (data.ci_ub - data.ci_lb) / (2 * 1.959963984540054)
        es2 = pt.meta.escalc("GEN", data=data, yi="yi", sei=se.to_numpy())
        np.testing.assert_allclose(es2["vi"], es["vi"])
    close(es["yi"], case["yi"], f"{name} {measure} yi")
    close(es["vi"], case["vi"], f"{name} {measure} vi")
    assert list(es.columns[: len(data.columns)]) == list(data.columns)


@pytest.mark.parametrize("case", REF["mh"], ids=lambda c: f"{c['dataset']}-{c['measure']}")
def test_mh_peto_match_metafor(case):
    data = frame(REF["tables"][case["dataset"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["measure"] == "PETO":
            fit = pt.meta.rma_peto(data=data, ai="ai", bi="bi", ci="ci", di="di")
        else:
            fit = pt.meta.rma_mh(data=data, ai="ai", bi="bi", ci="ci", di="di", measure=case["measure"])
    for attr in ("b", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2"):
        close(getattr(fit, attr), case[attr], f"{case['dataset']} {case['measure']} {attr}")
    assert fit.k == case["k"]
    close(fit.weights_percent().to_numpy(), case["weights"], f"{case['dataset']} {case['measure']} weights")
    if case["measure"] == "OR":
        for attr in ("CMH", "CMHp", "TA", "TAp", "BD", "BDp"):
            close(getattr(fit, attr), case[attr], f"{case['dataset']} OR {attr}")
    assert "Model Results" in fit.summary()


def test_hedges_correction_exact():
    # c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)); c(2) = Gamma(1)/Gamma(1/2) = 1/sqrt(pi)
    from math import gamma, pi, sqrt

    from peertrial.meta.escalc import hedges_correction

    for m in (2, 3, 10, 57):
        expect = gamma(m / 2) / (sqrt(m / 2) * gamma((m - 1) / 2))
        assert abs(hedges_correction(m) - expect) < 1e-13
    assert np.isnan(hedges_correction(1))
    assert abs(hedges_correction(2) - 1 / sqrt(pi)) < 1e-14


BAD = pd.DataFrame({"m1i": [1.0, 2.0, 3.0], "sd1i": [1.0, -1.0, 1.0], "n1i": [10, 10, 10],
                    "m2i": [0.0, 0.0, 0.0], "sd2i": [1.0, 1.0, 1.0], "n2i": [10, 10, 0]})


def test_escalc_bad_input_names_column_and_row():
    with pytest.raises(ValueError, match=r"'sd1i'.*rows 1"):
        pt.meta.escalc("SMD", data=BAD, **{c: c for c in MEANS})
    ok = BAD.assign(sd1i=1.0)
    with pytest.raises(ValueError, match=r"'n2i'.*rows 2"):
        pt.meta.escalc("SMD", data=ok, **{c: c for c in MEANS})
    with pytest.raises(ValueError, match="not found"):
        pt.meta.escalc("SMD", data=ok.drop(columns="m2i"), **{c: c for c in MEANS})
    with pytest.raises(ValueError, match=r"'m1i' must be numeric.*rows 0"):
        pt.meta.escalc("MD", data=ok.assign(m1i=["x", 1, 2], n2i=5), **{c: c for c in MEANS})
    tab = pd.DataFrame({"ai": [3, 12], "n1i": [10, 10], "ci": [2, -1], "n2i": [10, 10]})
    with pytest.raises(ValueError, match=r"'ci'.*rows 1"):
        pt.meta.escalc("OR", data=tab, ai="ai", ci="ci", n1i="n1i", n2i="n2i")
    with pytest.raises(ValueError, match=r"'ai'.*exceeds.*'n1i'.*rows 1"):
        pt.meta.escalc("OR", data=tab.assign(ci=1), ai="ai", ci="ci", n1i="n1i", n2i="n2i")
    with pytest.raises(ValueError, match="measure"):
        pt.meta.escalc("XYZ", data=ok)


def test_escalc_does_not_modify_input_and_keeps_missing_as_nan():
    data = BAD.assign(sd1i=[1.0, np.nan, 1.0], n2i=10)
    before = data.copy()
    es = pt.meta.escalc("SMD", data=data, **{c: c for c in MEANS})
    pd.testing.assert_frame_equal(data, before)
    assert "yi" not in data.columns
    assert np.isnan(es["yi"].iloc[1]) and np.isfinite(es["yi"].iloc[[0, 2]]).all()
    assert es.attrs["measure"] == "SMD"


def test_mh_double_zero_tables_kept_for_pooling_dropped_for_q():
    d = frame(REF["tables"]["t_k7_double0"])
    fit = pt.meta.rma_mh(data=d, ai="ai", bi="bi", ci="ci", di="di")
    assert fit.k == 7 and fit.k_yi == 7 - 2
    assert "Mantel-Haenszel" in fit.summary() and "OR scale" in fit.summary()
