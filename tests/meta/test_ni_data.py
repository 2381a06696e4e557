"""Sample sizes carried from escalc to rma, the fit's data, subset= and the meta-regression
forest plot, against metafor 3.8 (fixtures: ni_cases.json from make_fixtures_ext.R)."""

import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Polygon

import peertrial as pt
from peertrial.plot.meta import forest

matplotlib.use("Agg")

CASES = json.loads((Path(__file__).parent / "fixtures" / "ni_cases.json").read_text())
RTOL, ATOL = 1e-6, 1e-9
REGTESTS = [(m, p) for m in ("rma", "lm") for p in ("ni", "ninv")]


def close(actual, expected, what):
    expected = np.asarray([np.nan if x is None else x for x in np.atleast_1d(expected)], dtype=float)
    np.testing.assert_allclose(np.atleast_1d(np.asarray(actual, dtype=float)), expected, rtol=RTOL, atol=ATOL,
                               err_msg=what)


def check_regtests(fit, ref):
    for model, predictor in REGTESTS:
        r = pt.meta.regtest(fit, model=model, predictor=predictor)
        e = ref[f"{model}_{predictor}"]
        close(r.zval, e["zval"], f"{model} {predictor} zval")
        close(r.pval, e["pval"], f"{model} {predictor} pval")
        close(r.dfs, e["dfs"], f"{model} {predictor} dfs")


def normand():
    d = pd.DataFrame(CASES["normand_smd"]["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = pt.meta.escalc("SMD", data=d, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    return d, es


def bcg(measure="OR"):
    d = pd.DataFrame(CASES["bcg_or"]["data"])
    if measure == "OR":
        return d, pt.meta.escalc("OR", data=d, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    return d, pt.meta.escalc(measure, data=d.assign(n1=d.tpos + d.tneg, n2=d.cpos + d.cneg), ai="tpos",
                             n1i="n1", ci="cpos", n2i="n2")


def fit_quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.meta.rma(*args, **kw)


def test_escalc_keeps_ni_in_attrs_not_as_a_column():
    d, es = normand()
    assert list(es.columns) == [*d.columns, "yi", "vi"]
    close(pd.Series(es.attrs["ni"]).to_numpy(), CASES["normand_smd"]["ni"], "ni (means)")
    _, es_or = bcg()
    close(list(es_or.attrs["ni"].values()), CASES["bcg_or"]["ni"], "ni (2x2 table)")
    _, es_n = bcg("RR")
    close(list(es_n.attrs["ni"].values()), CASES["bcg_or"]["ni"], "ni (from n1i, n2i)")


def test_regtest_ni_from_escalc_with_an_omitted_study():
    _, es = normand()
    fit = fit_quiet("yi", "vi", data=es)
    assert fit.k == 8 and fit.ni.size == 8
    close(fit.ni, np.delete(CASES["normand_smd"]["ni"], 2), "fit.ni")
    close(fit.b, CASES["normand_smd"]["b"], "b")
    check_regtests(fit, CASES["normand_smd"]["regtest"])


def test_regtest_ni_from_escalc_2x2_tables_and_meta_regression():
    e = CASES["bcg_or"]
    _, es = bcg()
    check_regtests(pt.meta.rma("yi", "vi", data=es), e["regtest"])
    check_regtests(pt.meta.rma("yi", "vi", data=es, mods="~ ablat"), e["regtest_mods"])
    _, es_rr = bcg("RR")
    check_regtests(pt.meta.rma("yi", "vi", data=es_rr, method="DL"), e["regtest_rr_n_dl"])


def test_ni_explicit_overrides_and_follows_row_selection():
    d, es = bcg()
    n = d[["tpos", "tneg", "cpos", "cneg"]].sum(axis=1).to_numpy()
    by_attr = pt.meta.rma("yi", "vi", data=es)
    by_arg = pt.meta.rma("yi", "vi", data=es.assign(n=n), ni="n")
    np.testing.assert_array_equal(by_arg.ni, by_attr.ni)
    doubled = pt.meta.rma("yi", "vi", data=es, ni=2 * n)
    np.testing.assert_array_equal(doubled.ni, 2 * n)
    selected = es[es["alloc"] == "random"]  # attrs keyed by row label survive the selection
    fit_sel = pt.meta.rma("yi", "vi", data=selected)
    np.testing.assert_array_equal(fit_sel.ni, n[d["alloc"] == "random"])
    with pytest.raises(ValueError, match="ni has length 3"):
        pt.meta.rma("yi", "vi", data=es, ni=[1, 2, 3])
    plain = pt.meta.rma(es["yi"].to_numpy(), es["vi"].to_numpy())
    assert plain.ni is None and plain.data is None
    with pytest.raises(ValueError, match="ni="):
        pt.meta.regtest(plain, predictor="ni")


def test_cumul_by_column_of_the_fits_data():
    e = CASES["bcg_or"]["cumul_year"]
    _, es = bcg()
    fit = pt.meta.rma("yi", "vi", data=es)
    out = pt.meta.cumul(fit, order="year")
    for col in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "I2"):
        close(out[col], e[col], f"cumul {col}")
    assert [int(s) + 1 for s in out.index] == [int(s) for s in e["slab"]]


def test_subset_mask_or_column_as_metafor():
    e = CASES["bcg_or"]
    d, es = bcg()
    before = es.copy()
    for subset in (es["alloc"] == "random", (es["alloc"] == "random").to_numpy()):
        fit = pt.meta.rma("yi", "vi", data=es, subset=subset)
        ref = e["subset_random"]
        assert fit.k == ref["k"]
        for key in ("b", "se", "tau2", "QE"):
            close(getattr(fit, key), ref[key], f"subset {key}")
        assert fit.omitted == []
    fit = pt.meta.rma("yi", "vi", data=es.assign(rand=es["alloc"] == "random"), subset="rand")
    close(fit.b, e["subset_random"]["b"], "subset by column name")
    cm = pt.meta.cumul(fit, order="year")
    for col in ("estimate", "se", "tau2", "I2"):
        close(cm[col], e["cumul_year_sub"][col], f"cumul after subset {col}")
    assert [int(s) + 1 for s in cm.index] == [int(s) for s in e["cumul_year_sub"]["slab"]]
    pd.testing.assert_frame_equal(es, before)
    with pytest.raises(ValueError, match="'alloc' must be a boolean mask"):
        pt.meta.rma("yi", "vi", data=es, subset="alloc")
    with pytest.raises(ValueError, match="subset has length 2"):
        pt.meta.rma("yi", "vi", data=es, subset=[True, False])
    with pytest.raises(ValueError, match="boolean mask"):
        pt.meta.rma(es["yi"].to_numpy(), es["vi"].to_numpy(), subset=[1, 0] * 6 + [1])


def test_fit_data_is_a_copy_of_the_rows_used_and_refit_follows():
    _, es = normand()
    fit = fit_quiet("yi", "vi", data=es)
    assert list(fit.data.index) == [i for i in es.index if i != 2]
    pd.testing.assert_frame_equal(fit.data, es.drop(index=2))
    fit.data.loc[0, "m1i"] = -1.0
    assert es.loc[0, "m1i"] != -1.0
    mask = np.arange(fit.k) != 0
    sub = fit.refit(mask)
    np.testing.assert_array_equal(sub.ni, fit.ni[mask])
    assert list(sub.data.index) == list(fit.data.index[mask])


def test_forest_meta_regression_draws_fitted_values():
    e = CASES["bcg_or"]["fitted_mods"]
    _, es = bcg()
    fit = pt.meta.rma("yi", "vi", data=es, mods="~ ablat", slab="author")
    fig = forest(fit)
    ax = fig.axes[1]
    diamonds = [p for p in ax.patches if isinstance(p, Polygon) and p.get_label() == "fitted value"]
    assert len(diamonds) == fit.k
    # vertices (lb, y), (pred, y + h), (ub, y), (pred, y - h) on the odds-ratio axis, rows top-down
    xy = np.array([p.get_xy()[:4, 0] for p in diamonds])
    close(np.log(xy[:, 1]), e["pred"], "fitted values")
    close(np.log(xy[:, 0]), e["ci_lb"], "fitted ci_lb")
    close(np.log(xy[:, 2]), e["ci_ub"], "fitted ci_ub")
    texts = [t.get_text() for t in fig.texts]
    assert any("Test of moderators: QM(1)" in t and "R²" in t for t in texts)
    assert not any("Random-effects model" in t.get_text() for a in fig.axes for t in a.texts)


def test_generic_ni_and_duplicate_labels():
    d = pd.DataFrame({"y": [0.1, 0.3, -0.2, 0.5], "v": [0.04, 0.02, 0.05, 0.03], "n": [100, 200, 80, 150]},
                     index=[1, 1, 2, 3])
    es = pt.meta.escalc("GEN", data=d, yi="y", vi="v", ni="n")
    assert es.attrs["ni"] == [100.0, 200.0, 80.0, 150.0]  # duplicate labels: kept in row order
    fit = pt.meta.rma("yi", "vi", data=es)
    np.testing.assert_array_equal(fit.ni, d["n"].to_numpy(float))
    ref = pt.meta.regtest(pt.meta.rma(d["y"].to_numpy(), d["v"].to_numpy()), predictor="ninv", ni=d["n"].to_numpy())
    assert pt.meta.regtest(fit, predictor="ninv").zval == ref.zval
    assert "ni" not in pt.meta.escalc("GEN", data=d, yi="y", vi="v").attrs
