"""Meta-regression moderators through the one design builder, against metafor
(fixtures/make_fixtures_design.R -> design_cases.json): a year stored as text is numeric
(2 coefficients, not a 13-level factor), text moderators are factors, and a redundant
moderator is dropped with a warning as metafor drops it."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

REF = json.loads((Path(__file__).parent / "fixtures" / "design_cases.json").read_text())
DATA = pd.DataFrame(REF["data"])
KEYS = ["b", "se", "zval", "pval", "ci_lb", "ci_ub"]


def _num(x):
    return np.array([math.nan if v == "NA" else v for v in np.atleast_1d(x)], dtype=float)


def _check(fit, ref):
    assert list(fit.b.index) == ref["names"]
    for key in KEYS:
        np.testing.assert_allclose(getattr(fit, key).to_numpy(), _num(ref[key]), rtol=1e-6, err_msg=key)
    for key in ("tau2", "QE", "QM", "QMp", "R2"):
        np.testing.assert_allclose(getattr(fit, key), _num(ref[key])[0], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("case", ["year_text", "alloc_factor"])
def test_text_numbers_are_numeric_text_is_a_factor(case):
    assert DATA["year_text"].map(type).eq(str).all()
    ref = REF[case]
    _check(pt.meta.rma("yi", "vi", data=DATA, mods=ref["mods"]), ref)


def test_year_as_text_gives_two_coefficients_not_a_factor():
    fit = pt.meta.rma("yi", "vi", data=DATA, mods="~ year_text")
    assert fit.p == 2
    as_factor = pt.meta.rma("yi", "vi", data=DATA, mods="~ C(year_text)", method="EE")
    assert as_factor.p == DATA["year_text"].nunique()


def test_redundant_moderator_is_dropped_as_metafor():
    ref = REF["redundant"]
    with pytest.warns(pt.PeertrialWarning, match=r"Redundant predictors dropped.*\['lat2'\]"):
        fit = pt.meta.rma("yi", "vi", data=DATA, mods=ref["mods"], test=ref["test"])
    _check(fit, ref)
    new = pd.DataFrame({"ablat": [20, 50], "lat2": [41, 101], "year_text": ["1950", "1980"]})
    pred = fit.predict(newmods=new)
    b = fit.b.to_numpy()
    np.testing.assert_allclose(pred.pred, [b[0] + 20 * b[1] + 1950 * b[2], b[0] + 50 * b[1] + 1980 * b[2]])


def test_rma_mv_drops_a_redundant_moderator_too():
    with pytest.warns(pt.PeertrialWarning, match=r"Redundant predictors dropped.*\['lat2'\]"):
        fit = pt.meta.rma_mv("yi", "vi", data=DATA, random="~ 1 | trial", mods="~ ablat + lat2")
    ref = pt.meta.rma_mv("yi", "vi", data=DATA, random="~ 1 | trial", mods="~ ablat")
    np.testing.assert_allclose(fit.b, ref.b, rtol=1e-10)
