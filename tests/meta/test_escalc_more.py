"""New escalc measures against metafor 3.8 escalc (fixtures/escalc_more_cases.json written by
fixtures/make_fixtures_escalc_more.R): COR, ZCOR, PR, PLN, PLO, PFT, IR, IRLN, IRR, IRD, MN, SMCC, SMCR."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

REF = json.loads((Path(__file__).parent / "fixtures" / "escalc_more_cases.json").read_text())


def kwargs_for(case):
    a = dict(case["args"])
    m = a.pop("measure")
    kw = {k: a[k] for k in ("vtype", "add", "to") if k in a}
    cols = case["data"].keys()
    if m in ("COR", "ZCOR"):
        kw.update(ri="ri", ni="ni")
    elif m in ("PR", "PLN", "PLO", "PFT"):
        kw.update(xi="xi", **({"mi": "mi"} if a.get("use_mi") else {"ni": "ni"}))
    elif m in ("IR", "IRLN"):
        kw.update(xi="x1i", ti="t1i")
    elif m in ("IRR", "IRD"):
        kw.update(x1i="x1i", t1i="t1i", x2i="x2i", t2i="t2i")
    elif m == "MN":
        kw.update(mi="mi", sdi="sdi", ni="ni")
    else:
        kw.update(m1i="m1i", m2i="m2i", sd1i="sd1i", ni="ni", ri="ri")
        if m == "SMCC":
            kw["sd2i"] = "sd2i"
    assert all(v in cols for k, v in kw.items() if k not in ("vtype", "add", "to"))
    return m, kw


@pytest.mark.parametrize("name", sorted(REF))
def test_measure_equals_metafor(name):
    case = REF[name]
    m, kw = kwargs_for(case)
    d = pd.DataFrame(case["data"])
    es = pt.meta.escalc(m, data=d, **kw)
    np.testing.assert_allclose(es["yi"], np.array(case["yi"], dtype=float), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(es["vi"], np.array(case["vi"], dtype=float), rtol=1e-12, atol=1e-18)
    assert list(es.columns) == [*d.columns, "yi", "vi"]
    assert es.attrs["measure"] == m


def test_sample_sizes_kept_and_rma_runs():
    case = REF["ZCOR"]
    d = pd.DataFrame(case["data"])
    es = pt.meta.escalc("ZCOR", data=d, ri="ri", ni="ni")
    fit = pt.meta.rma("yi", "vi", data=es)
    np.testing.assert_allclose(fit.ni, d["ni"])


def test_bad_input():
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        pt.meta.escalc("COR", ri=[0.2, 1.3], ni=[20, 30])
    with pytest.raises(ValueError, match="exceed"):
        pt.meta.escalc("PR", xi=[5, 12], ni=[10, 10])
    with pytest.raises(ValueError, match="needs ti"):
        pt.meta.escalc("IR", xi=[5, 12])
    with pytest.raises(ValueError, match="vtype"):
        pt.meta.escalc("ZCOR", ri=[0.2], ni=[20], vtype="AV")
    with pytest.raises(ValueError, match="vtype"):
        pt.meta.escalc("IR", xi=[2], ti=[100.0], vtype="AV")
