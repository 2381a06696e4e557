"""leave1out, influence and cumul against metafor 3.8 (fixtures: make_fixtures_ext.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

CASES = json.loads((Path(__file__).parent / "fixtures" / "ext_cases.json").read_text())
RTOL, ATOL = 1e-6, 1e-9
COLUMNS = ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "tau2", "I2", "H2"]


def fit_case(e, slab=None):
    d = e["data"]
    mods = np.asarray(d["x"])[:, None] if e["mods"] else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.meta.rma(np.asarray(d["yi"]), np.asarray(d["vi"]), mods=mods, method=e["method"], test=e["test"],
                           slab=slab)


def close(actual, expected, what):
    expected = np.asarray([np.nan if x is None else x for x in np.atleast_1d(expected)], dtype=float)
    np.testing.assert_allclose(np.asarray(actual, dtype=float), expected, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("name", sorted(n for n in CASES if "leave1out" in CASES[n]))
def test_leave1out(name):
    e = CASES[name]
    out = pt.meta.leave1out(fit_case(e))
    assert list(out.columns) == COLUMNS
    for c in COLUMNS:
        close(out[c], e["leave1out"][c], c)


@pytest.mark.parametrize("name", sorted(n for n in CASES if "cumul" in CASES[n]))
def test_cumul(name):
    e = CASES[name]
    k = e["fit"]["k"]
    out = pt.meta.cumul(fit_case(e, slab=[f"s{i}" for i in range(1, k + 1)]), order=np.asarray(e["data"]["order"]))
    assert list(out.index) == [f"s{i}" for i in e["cumul"]["order"]]
    assert out["k"].tolist() == list(range(1, k + 1))
    for c in COLUMNS:
        close(out[c], e["cumul"][c], c)


@pytest.mark.parametrize("name", sorted(CASES))
def test_influence(name):
    e = CASES[name]
    out = pt.meta.influence(fit_case(e))
    ref = e["influence"]
    for c in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight"):
        close(out[c], ref[c], c)
    assert out["inf"].tolist() == ref["inf"]
    dfbs = [c for c in out.columns if c.startswith("dfbs")]
    refs = [v for key, v in ref["dfbs"].items() if key not in ("slab", "digits")]
    assert len(dfbs) == len(refs)
    for c, v in zip(dfbs, refs):
        close(out[c], v, c)


@pytest.mark.parametrize("name", sorted(CASES))
def test_baujat(name):
    e = CASES[name]
    out = pt.meta.baujat(fit_case(e))
    close(out["x"], e["baujat"]["x"], "x")
    close(out["y"], e["baujat"]["y"], "y")


def test_influence_flags_something_somewhere():
    flagged = sum(any(e["influence"]["inf"]) for e in CASES.values())
    assert 5 <= flagged < len(CASES)


def test_cumul_order_by_column_name_and_decreasing():
    e = CASES["bcg_rr"]
    df = pd.DataFrame({k: e["data"][k] for k in ("yi", "vi", "order")})
    fit = pt.meta.rma("yi", "vi", data=df)
    up = pt.meta.cumul(fit, order=df["order"].to_numpy())
    down = pt.meta.cumul(fit, order=df["order"].to_numpy(), decreasing=True)
    assert up["estimate"].iloc[-1] == pytest.approx(down["estimate"].iloc[-1], rel=1e-10)
    assert up.index[0] == down.index[-1] or df["order"].duplicated().any()
    by_name = pt.meta.cumul(fit, order="order", data=df)
    pd.testing.assert_frame_equal(by_name, up)
    with pytest.raises(ValueError, match="order"):
        pt.meta.cumul(fit, order=[1, 2, 3])
    # the fit keeps its data, so the column name alone is enough (as metafor's cumul)
    pd.testing.assert_frame_equal(pt.meta.cumul(fit, order="order"), up)
    array_fit = pt.meta.rma(df["yi"].to_numpy(), df["vi"].to_numpy())
    with pytest.raises(ValueError, match="data="):
        pt.meta.cumul(array_fit, order="order")


def test_bad_input():
    mods_fit = fit_case(CASES["k8_mods"])
    with pytest.raises(ValueError, match="without moderators"):
        pt.meta.leave1out(mods_fit)
    with pytest.raises(ValueError, match="without moderators"):
        pt.meta.cumul(mods_fit)
    with pytest.raises(ValueError, match="rma fit"):
        pt.meta.influence(pd.DataFrame({"yi": [1.0]}))
    with pytest.raises(ValueError, match="at least 2"):
        pt.meta.leave1out(pt.meta.rma([0.1], [0.01]))


def test_leave1out_equals_refitting_without_each_study():
    e = CASES["k12_ties_dl"]
    fit = fit_case(e)
    out = pt.meta.leave1out(fit)
    for i in range(fit.k):
        mask = np.ones(fit.k, bool)
        mask[i] = False
        r = fit.refit(mask)
        assert out["estimate"].iloc[i] == pytest.approx(r.b, rel=1e-10)
        assert out["tau2"].iloc[i] == pytest.approx(r.tau2, rel=1e-8, abs=1e-12)


def test_nonconvergence_of_a_deleted_fit_falls_back_to_the_maximum():
    e = CASES["k20_reml"]
    d = e["data"]
    with pytest.warns(pt.ConvergenceWarning, match="bracketed"):
        fit = pt.meta.rma(np.asarray(d["yi"]), np.asarray(d["vi"]), control={"maxiter": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error", pt.ConvergenceWarning)
        out = pt.meta.leave1out(fit)
    ref = pt.meta.leave1out(pt.meta.rma(np.asarray(d["yi"]), np.asarray(d["vi"]), control={"threshold": 1e-12}))
    np.testing.assert_allclose(out["tau2"], ref["tau2"], rtol=1e-7, atol=1e-12)
