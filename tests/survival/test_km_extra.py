"""kaplan_meier weights, cumulative hazard (NA / FH), stype=2 and logit/arcsin limits vs R survfit."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FIX = json.loads((Path(__file__).parent / "fixtures" / "km_extra_cases.json").read_text())
CASES = [k for k in FIX if k != "versions"]
KW = {"conf.type": "conf_type", "ctype": "ctype", "stype": "stype"}


@pytest.mark.parametrize("name", CASES)
def test_km_extra_equals_survfit(name):
    c = FIX[name]
    d = pd.DataFrame(c["data"])
    kwargs = {KW[k]: v for k, v in c["args"].items() if k in KW}
    if "weights" in c["args"]:
        kwargs["weights"] = "wi" if name == "lung_integer_weights" else "w"
    km = pt.survival.kaplan_meier(d, time=c["time"], event="event", group=c.get("group") or None, **kwargs)
    got = km.to_frame()
    ref = pd.DataFrame(c["ref"]).rename(columns={"std_err": "se", "lower": "ci_lb", "upper": "ci_ub"})
    assert list(got["group"].astype(str)) == list(ref["group"].astype(str))
    for col in ("time", "n_risk", "n_event", "surv", "se", "cumhaz", "std_chaz"):
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-9, err_msg=col)
    for col in ("ci_lb", "ci_ub"):
        np.testing.assert_allclose(got[col].astype(float), ref[col].astype(float), rtol=1e-9,
                                   err_msg=col)


def test_km_rejects_unknown_types():
    d = pd.DataFrame({"t": [1, 2, 3], "e": [1, 0, 1]})
    with pytest.raises(ValueError, match="conf_type"):
        pt.survival.kaplan_meier(d, time="t", event="e", conf_type="probit")
    with pytest.raises(ValueError, match="ctype"):
        pt.survival.kaplan_meier(d, time="t", event="e", ctype=3)
