"""Cox extras against survival::coxph (fixtures: fixtures/make_fixtures_cox_extra.R, survival 3.5)."""

import json
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
    a = np.asarray(actual, float)
    e = np.asarray(expected, float)
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
