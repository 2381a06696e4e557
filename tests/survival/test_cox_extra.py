"""Cox extras against survival::coxph (fixtures: fixtures/make_fixtures_cox_extra.R, survival 3.5)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

CASES = json.loads((Path(__file__).parent / "fixtures" / "cox_extra_cases.json").read_text())
DATA = {k: pd.DataFrame(v) for k, v in CASES["data"].items()}
SPECS = {
    "lung": dict(data="lung", time="time", event="status", covariates=["age", "sex", "ph.ecog"]),
    "lung_breslow": dict(data="lung", time="time", event="status", covariates=["age", "sex", "ph.ecog"],
                         ties="breslow"),
    "veteran_strata": dict(data="veteran", time="time", event="status", covariates=["karno", "age"],
                           strata="trt"),
    "cgd": dict(data="cgd", time="tstop", event="status", entry="tstart", id="id",
                covariates=["treat", "inherit", "steroids", "age"]),
    "cgd_noid": dict(data="cgd", time="tstop", event="status", entry="tstart",
                     covariates=["treat", "inherit", "steroids", "age"]),
    "heart": dict(data="heart", time="stop", event="event", entry="start", id="id",
                  covariates=["age", "transplant"]),
}
FITS = {}


def fitted(name):
    if name not in FITS:
        spec = dict(SPECS[name])
        FITS[name] = pt.survival.cox(DATA[spec.pop("data")], **spec)
    return FITS[name]


def close(actual, expected, rtol=1e-6, atol=1e-10):
    a = np.atleast_1d(np.asarray(actual, float))
    e = np.atleast_1d(np.asarray(expected, float))
    assert a.shape == e.shape, (a.shape, e.shape)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def cols(ref):
    """R matrix stored column by column -> (n, p) array; a vector -> (n,)."""
    if ref and isinstance(ref[0], list):
        return np.column_stack(ref)
    return np.asarray(ref, float)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_robust_se_when_an_id_has_several_events(name):
    res, ref = fitted(name), CASES[name]
    close(res.coef, ref["coef"])
    close(res.se, ref["se"])
    close(res.naive_se, ref["naive_se"])
    close(res.wald_test[0], ref["wald"])
    assert (res.robust_score_test is not None) == ref["robust"]
    if ref["robust"]:
        close(res.robust_score_test[0], ref["rscore"])
        assert not np.allclose(res.se, res.naive_se)


def test_cgd_andersen_gill_se_is_r_robust_not_naive():
    res = fitted("cgd")
    assert round(res.se["treat"], 4) == 0.3093 and round(res.naive_se["treat"], 4) == 0.2625


def close_scaled(actual, expected, rtol=1e-6):
    """Relative to each column's largest value (residuals cross zero)."""
    a = np.asarray(actual, float)
    e = np.asarray(expected, float).reshape(a.shape)
    scale = np.nanmax(np.abs(e), axis=0)
    assert np.array_equal(np.isnan(a), np.isnan(e))
    assert np.nanmax(np.abs(a - e) / scale) < rtol


@pytest.mark.parametrize("type_", ["martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta",
                                   "dfbetas"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_residuals_match_residuals_coxph(name, type_):
    res, ref = fitted(name), CASES[name]["residuals"]
    out = res.residuals(type_)
    close_scaled(out.to_numpy(), cols(ref[type_]))
    if type_ in ("schoenfeld", "scaledsch"):
        close(out.index.to_numpy(), ref["schoenfeld_time"])
        assert list(out.columns) == SPECS[name]["covariates"]
    else:
        assert out.index.equals(DATA[SPECS[name]["data"]].index)


@pytest.mark.parametrize("type_", ["martingale", "deviance", "score", "dfbeta", "dfbetas"])
def test_residuals_collapsed_by_id_as_r(type_):
    res = fitted("cgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = res.residuals(type_, collapse=True)
    close_scaled(out.to_numpy(), cols(CASES["cgd"]["residuals"][type_ + "_collapsed"]))
    assert out.index.tolist() == sorted(DATA["cgd"]["id"].unique())
    again = res.residuals(type_ if type_ != "deviance" else "martingale", collapse=DATA["cgd"]["id"].to_numpy())
    assert again.shape[0] == out.shape[0]


def test_residual_argument_errors():
    with pytest.raises(ValueError, match="type must be one of"):
        fitted("lung").residuals("pearson")
    with pytest.raises(ValueError, match="fit the model with id="):
        fitted("lung").residuals("martingale", collapse=True)
    with pytest.raises(ValueError, match="Schoenfeld"):
        fitted("cgd").residuals("schoenfeld", collapse=True)


@pytest.mark.parametrize("type_", ["lp", "risk", "expected"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_predict_matches_predict_coxph(name, type_):
    out = fitted(name).predict(type=type_)
    close(out, CASES[name]["predict"][type_], rtol=1e-9, atol=1e-12)


def test_predict_and_rmst_for_new_rows():
    res, ref = fitted("lung"), CASES["lung_new"]
    new = pd.DataFrame(ref["newdata"])
    for type_ in ("lp", "risk", "expected"):
        close(res.predict(new, type_), ref[type_], rtol=1e-9)
    close(res.rmst(365, new), ref["rmst365"], rtol=1e-9)
    close(res.rmst(800, new), ref["rmst800"], rtol=1e-9)
    with pytest.raises(ValueError, match="needs newdata column"):
        res.predict(new.drop(columns="time"), "expected")
    with pytest.raises(ValueError, match="tau must be"):
        res.rmst(0, new)


def test_predict_new_rows_stratified_and_counting_process():
    res, ref = fitted("veteran_strata"), CASES["veteran_new"]
    new = DATA["veteran"].iloc[:6]
    with pytest.raises(ValueError, match="strata="):
        res.predict(new, "lp")
    close(res.predict(new, "lp", strata=new["trt"]), ref["lp"], rtol=1e-9)
    close(res.predict(new, "expected", strata=new["trt"]), ref["expected"], rtol=1e-9)
    new = DATA["cgd"].iloc[:6]
    close(fitted("cgd").predict(new, "expected"), CASES["cgd_new"]["expected"], rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("transform", ["km", "identity", "rank", "log"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_test_ph_transforms_match_cox_zph(name, transform):
    ref = CASES[name]["zph"][transform]
    out = fitted(name).test_ph(transform=transform)
    close(out["chisq"], ref["chisq"], rtol=1e-8)
    close(out["pval"], ref["p"], rtol=1e-6, atol=1e-300)
    assert out["df"].tolist() == ref["df"]
    sch = fitted(name).schoenfeld(transform=transform)
    close(np.sort(sch["transformed_time"].to_numpy()), np.sort(ref["x"]), rtol=1e-10)


def test_test_ph_rejects_unknown_transform():
    with pytest.raises(ValueError, match="transform must be"):
        fitted("lung").test_ph(transform="sqrt")


EXTRA = {
    "lung_exact": dict(data="lung", time="time", event="status", covariates=["age", "sex", "ph.ecog"],
                       ties="exact"),
    "veteran_exact": dict(data="veteran", time="time", event="status", covariates=["karno", "age"],
                          strata="trt", ties="exact"),
    "rats_exact": dict(data="rats", time="time", event="status", covariates=["rx"], ties="exact"),
    "rats_efron": dict(data="rats", time="time", event="status", covariates=["rx"]),
    "lung_offset": dict(data="lung", time="time", event="status", covariates=["age", "ph.ecog"], offset="off"),
    "lung_offset_breslow": dict(data="lung", time="time", event="status", covariates=["age", "ph.ecog"],
                                offset="off", ties="breslow"),
    "cgd_offset": dict(data="cgd", time="tstop", event="status", entry="tstart", id="id",
                       covariates=["treat", "inherit", "steroids"], offset="off"),
}


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_exact_ties_and_offset_match_coxph(name):
    spec, ref = dict(EXTRA[name]), CASES[name]
    res = pt.survival.cox(DATA[spec.pop("data")], **spec)
    close(res.coef, ref["coef"], rtol=1e-8)
    close(res.se, ref["se"], rtol=1e-8)
    close(res.loglik, ref["loglik"], rtol=1e-10)
    close(res.wald_test[0], ref["wald"], rtol=1e-8)
    close(res.score_test[0], ref["score"], rtol=1e-8)
    assert res.iter == ref["iter"]
    close(res.predict(type="lp"), ref["lp"], rtol=1e-9, atol=1e-12)
    close(res.residuals("martingale"), ref["martingale"], rtol=1e-9, atol=1e-12)


def test_exact_differs_from_efron_with_many_ties():
    # rats (coarsened times, up to 9 deaths at one time): the three likelihoods differ
    assert abs(CASES["rats_exact"]["coef"] - CASES["rats_efron"]["coef"]) > 0.01


def test_offset_as_array_and_in_newdata():
    lung = DATA["lung"]
    by_col = pt.survival.cox(lung, "time", "status", ["age", "ph.ecog"], offset="off")
    by_arr = pt.survival.cox(lung, "time", "status", ["age", "ph.ecog"], offset=lung["off"].to_numpy())
    close(by_arr.coef, by_col.coef, rtol=1e-12)
    new = lung.iloc[:5]
    close(by_col.predict(new, "lp"), CASES["lung_offset"]["lp"][:5], rtol=1e-9)
    close(by_col.predict(new, "expected"), by_col.predict(type="expected").iloc[:5].to_numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="offset column"):
        by_col.predict(new.drop(columns="off"), "lp")
    bad = lung.assign(off=lung["off"].where(lung.index != lung.index[3]))
    with pytest.raises(ValueError, match="finite"):
        pt.survival.cox(bad, "time", "status", ["age"], offset="off")


def test_exact_rejects_what_r_does_not_define():
    lung = DATA["lung"]
    with pytest.raises(ValueError, match="weights"):
        pt.survival.cox(lung, "time", "status", ["age"], ties="exact", weights="sex")
    res = pt.survival.cox(lung, "time", "status", ["age"], ties="exact")
    with pytest.raises(ValueError, match="not available for ties='exact'"):
        res.residuals("score")
    with pytest.raises(ValueError, match="ties must be"):
        pt.survival.cox(lung, "time", "status", ["age"], ties="discrete")


def _ttf(x, t):
    return x * np.log(t + 20)


TT = {
    "lung_tt": dict(data="lung", time="time", event="status", covariates=["ph.ecog"], tt={"age": _ttf}),
    "veteran_tt": dict(data="veteran", time="time", event="status", covariates=["trt"], tt={"karno": _ttf}),
    "veteran_tt_strata": dict(data="veteran", time="time", event="status", covariates=["age"], strata="trt",
                              ties="breslow", tt={"karno": _ttf}),
}


@pytest.mark.parametrize("name", sorted(TT))
def test_tt_matches_coxph_tt(name):
    spec, ref = dict(TT[name]), CASES[name]
    res = pt.survival.cox(DATA[spec.pop("data")], **spec)
    assert res.coef.index.tolist() == ref["names"]
    close(res.coef, ref["coef"], rtol=1e-8)
    close(res.se, ref["se"], rtol=1e-8)
    close(res.loglik, ref["loglik"], rtol=1e-10)
    close(res.wald_test[0], ref["wald"], rtol=1e-8)
    close(res.score_test[0], ref["score"], rtol=1e-8)
    assert (res.iter, res.n, res.nevent) == (ref["iter"], ref["n"], ref["nevent"])
    with pytest.raises(ValueError, match="not available for a fit with tt="):
        res.residuals()
    with pytest.raises(ValueError, match="not available for a fit with tt="):
        res.test_ph()


def test_tt_only_and_constant_tt_equals_plain_fit():
    lung = DATA["lung"]
    plain = pt.survival.cox(lung, "time", "status", ["age"])
    same = pt.survival.cox(lung, "time", "status", (), tt={"age": lambda x, t: x})
    close(same.coef, plain.coef, rtol=1e-10)
    close(same.se, plain.se, rtol=1e-10)
    with pytest.raises(ValueError, match="one finite value"), np.errstate(divide="ignore", invalid="ignore"):
        pt.survival.cox(lung, "time", "status", ["sex"], tt={"age": lambda x, t: np.log(x - 60)})
    with pytest.raises(ValueError, match="tt= must be a dict"):
        pt.survival.cox(lung, "time", "status", ["sex"], tt=_ttf)
