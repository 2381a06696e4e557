"""vcalc and aggregate against metafor 3.8 vcalc / aggregate.escalc
(fixtures/vcalc_cases.json written by fixtures/make_fixtures_vcalc.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

REF = json.loads((Path(__file__).parent / "fixtures" / "vcalc_cases.json").read_text())


@pytest.mark.parametrize("name", sorted(REF["vcalc"]))
def test_vcalc(name):
    case = REF["vcalc"][name]
    d = pd.DataFrame(case["data"])
    args = dict(case["args"])
    if isinstance(args.get("rho"), list):
        args["rho"] = list(args["rho"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not positive definite notes, as metafor's
        V = pt.meta.vcalc(args.pop("vi"), args.pop("cluster"), data=d, **args)
    np.testing.assert_allclose(V, np.asarray(case["V"], dtype=float), rtol=1e-12, atol=1e-15)


def test_vcalc_warns_like_metafor_and_checks_input():
    case = REF["vcalc"]["knapp_shared_groups"]
    d = pd.DataFrame(case["data"])
    with pytest.warns(UserWarning, match="not positive definite"):
        pt.meta.vcalc("vi", "study", data=d, grp1="group1", grp2="group2", w1="n_sz", w2="n_hc")
    with pytest.raises(ValueError, match="rho"):
        pt.meta.vcalc("vi", "study", data=d, obs="group1")
    with pytest.raises(ValueError, match="phi"):
        pt.meta.vcalc("vi", "study", data=d, time1="n_sz")


def frame(which):
    return pd.DataFrame(REF[which])


@pytest.mark.parametrize("name", sorted(REF["aggregate"]))
def test_aggregate(name):
    case = REF["aggregate"][name]
    d = frame("ishak" if name.startswith("ishak") else "assink")
    a = pt.meta.aggregate(d, **case["args"])
    assert a["study"].tolist() == case["study"]
    np.testing.assert_allclose(a["yi"], case["yi"], rtol=1e-12)
    np.testing.assert_allclose(a["vi"], case["vi"], rtol=1e-12)
    if "year" in case:
        np.testing.assert_allclose(a["year"], case["year"], rtol=1e-12)
        assert a["deltype"].tolist() == case["deltype"]
    if "ki" in case:
        assert a["ki"].tolist() == case["ki"]


def test_aggregate_with_vcalc_matrix_equals_struct():
    d = frame("assink")
    V = pt.meta.vcalc("vi", "study", data=d, obs="esid", rho=0.6)
    a = pt.meta.aggregate(d, "study", V=V)
    b = pt.meta.aggregate(d, "study", rho=0.6)
    np.testing.assert_allclose(a["yi"], b["yi"], rtol=1e-12)
    np.testing.assert_allclose(a["vi"], b["vi"], rtol=1e-12)


def test_vcalc_nearpd_equals_metafor():
    """vcalc(nearpd=True) and the nearest correlation matrix against Matrix::nearPD(corr = TRUE)
    (fixtures/nearpd_cases.json, make_fixtures_mv2.R)."""
    import json
    from pathlib import Path

    from peertrial.meta.dependence import _nearest_correlation

    ref = json.loads((Path(__file__).parent / "fixtures" / "nearpd_cases.json").read_text())
    d = pd.DataFrame({k: [np.nan if v is None else v for v in vals] for k, vals in ref["data"].items()})
    with pytest.warns(UserWarning, match="not positive definite in cluster"):
        pt.meta.vcalc("vi", "study", data=d, rvars=["r1", "r2", "r3", "r4"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        V = pt.meta.vcalc("vi", "study", data=d, rvars=["r1", "r2", "r3", "r4"], nearpd=True)
    np.testing.assert_allclose(V, np.asarray(ref["V"]), rtol=1e-8, atol=1e-12)
    assert np.linalg.eigvalsh(V).min() > 0
    for case in ref["nearpd"]:
        np.testing.assert_allclose(_nearest_correlation(np.asarray(case["x"])), np.asarray(case["mat"]),
                                   rtol=1e-8, atol=1e-10)
