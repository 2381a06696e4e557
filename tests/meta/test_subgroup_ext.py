"""subgroup() against metafor 3.8: per-group rma fits, fixed-effect Q-between, moderator test."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

CASES = json.loads((Path(__file__).parent / "fixtures" / "ext_cases.json").read_text())
NAMES = sorted(n for n in CASES if "subgroup" in CASES[n])
RTOL, ATOL = 1e-6, 1e-9


def close(actual, expected, what):
    np.testing.assert_allclose(float(actual), float(expected), rtol=RTOL, atol=ATOL, err_msg=what)


def frame(e):
    return pd.DataFrame({k: e["data"][k] for k in ("yi", "vi", "group")})


def check(r, ref):
    for g in ref["groups"]:
        row = r.groups.loc[g["group"]]
        assert row["k"] == g["k"]
        for c in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "I2", "QE", "QEp"):
            close(row[c], g[c], f"{g['group']} {c}")
    for c in ("Qb", "Qb_pval", "QM", "QMp", "QE", "QEp", "tau2"):
        close(getattr(r, c), ref[c], c)
    assert r.Qb_df == ref["Qb_df"]
    assert list(r.QM_df) == [x for x in ref["QMdf"] if x is not None]


@pytest.mark.parametrize("name", NAMES)
def test_subgroup_from_data(name):
    e = CASES[name]
    df = frame(e)
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = pt.meta.subgroup(df, by="group", method=e["method"], test=e["test"])
    check(r, e["subgroup"])
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("name", NAMES[:6])
def test_subgroup_from_fit(name):
    e = CASES[name]
    df = frame(e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pt.meta.rma("yi", "vi", data=df, method=e["method"], test=e["test"])
        r = pt.meta.subgroup(fit, by=df["group"].to_numpy())
    check(r, e["subgroup"])


def test_coverage_and_summary():
    assert len(NAMES) >= 25
    assert any(CASES[n]["test"] == "knha" for n in NAMES)
    e = CASES["bcg_rr"]
    r = pt.meta.subgroup(frame(e), by="group")
    text = r.summary()
    assert "Q-between" in text and "QM(df = 2)" in text
    assert list(r.to_frame().index) == ["alternate", "random", "systematic"]
    assert len(r) == 3 and r["k"].sum() == 13 and r.loc["random", "k"] == 7
    assert {"k", "estimate", "se", "ci_lb", "ci_ub", "tau2", "I2"} <= set(r.columns)


def test_missing_subgroup_rows_are_dropped_with_warning():
    df = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4], "vi": [0.01, 0.02, 0.015, 0.03, 0.02],
                       "type": ["a", "a", None, "b", "b"]})
    with pytest.warns(UserWarning, match="omitted"):
        r = pt.meta.subgroup(df, by="type")
    assert r.k == 4
    with pytest.raises(ValueError, match="at least 2 subgroups"):
        pt.meta.subgroup(df.assign(type="a"), by="type")
    with pytest.raises(ValueError, match="not found"):
        pt.meta.subgroup(df, by="kind")
