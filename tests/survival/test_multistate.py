"""Aalen-Johansen state probabilities and IJ standard errors against R survfit (multi-state)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FIX = json.loads((Path(__file__).parent / "fixtures" / "multistate_cases.json").read_text())


def _compare(fit, ref):
    ref = pd.DataFrame(ref)
    got = fit.to_frame()
    got["group"] = got["group"].astype(str)
    ref["group"] = ref["group"].astype(str)
    merged = ref.merge(got, on=["group", "time", "state"], suffixes=("_r", ""), how="left")
    assert len(merged) == len(ref) and merged["estimate"].notna().all()
    for col in ("estimate", "se", "ci_lb", "ci_ub"):
        np.testing.assert_allclose(merged[col].astype(float), merged[col + "_r"].astype(float),
                                   rtol=1e-8, atol=1e-14, err_msg=col)


def test_competing_risks_mgus2():
    c = FIX["mgus2"]
    d = pd.DataFrame(c["data"])
    fit = pt.survival.aalen_johansen(d, id="id", start="start", stop="etime", event="event",
                                     group="sex", censor="censor")
    _compare(fit, c["ref"])


def test_readmission_with_return_and_death():
    c = FIX["readmission"]
    d = pd.DataFrame(c["data"])
    fit = pt.survival.aalen_johansen(d, id="id", start="start", stop="stop", event="event",
                                     istate="istate", group="arm", censor="censor")
    _compare(fit, c["ref"])
    # without istate the states follow from the previous row's event
    inferred = pt.survival.aalen_johansen(d, id="id", start="start", stop="stop", event="event",
                                          group="arm", censor="censor", initial="home")
    np.testing.assert_allclose(inferred.at([100, 300])["estimate"], fit.at([100, 300])["estimate"])


def test_probabilities_sum_to_one_and_bad_input():
    c = FIX["readmission"]
    d = pd.DataFrame(c["data"])
    fit = pt.survival.aalen_johansen(d, id="id", start="start", stop="stop", event="event", istate="istate",
                                     censor="censor", level=90)
    sums = fit.to_frame().groupby("time")["estimate"].sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="'start' must be before 'stop'"):
        pt.survival.aalen_johansen(d.assign(start=d["stop"]), id="id", start="start", stop="stop",
                                   event="event", censor="censor")
