"""kaplan_meier weights, cumulative hazard (NA / FH), stype=2 and logit/arcsin limits vs R survfit."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FIX = json.loads((Path(__file__).parent / "fixtures" / "km_extra_cases.json").read_text())
CASES = [k for k in FIX if k != "versions"]
KW = {"conf.type": "conf_type", "ctype": "ctype", "stype": "stype", "robust": "robust"}


@pytest.mark.parametrize("name", CASES)
def test_km_extra_equals_survfit(name):
    c = FIX[name]
    d = pd.DataFrame(c["data"])
    kwargs = {KW[k]: v for k, v in c["args"].items() if k in KW}
    if "weights" in c["args"]:
        kwargs["weights"] = "wi" if "integer" in name else "w"
    if c.get("entry"):
        kwargs["entry"] = c["entry"]
    km = pt.survival.kaplan_meier(d, time=c["time"], event="event", group=c.get("group") or None, **kwargs)
    got = km.to_frame()
    ref = pd.DataFrame(c["ref"]).rename(columns={"std_err": "se", "lower": "ci_lb", "upper": "ci_ub"})
    assert list(got["group"].astype(str)) == list(ref["group"].astype(str))
    if name == "lung_weights_ij_stype2":
        # survival 3.5-3 stores the IJ se of H = -log S as std.err with logse = FALSE (the S scale) and
        # builds its limits from it as if it were se(S); peertrial keeps se(S) = S se(H) and log limits
        # S exp(-/+ z se(H)), from R's std.chaz
        z = 1.959963984540054
        ref["se"] = ref["surv"] * ref["std_chaz"]
        ref["ci_lb"] = ref["surv"] * np.exp(-z * ref["std_chaz"])
        ref["ci_ub"] = np.minimum(1.0, ref["surv"] * np.exp(z * ref["std_chaz"]))
    for col in ("time", "n_risk", "n_event", "surv", "se", "cumhaz", "std_chaz"):
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-9, err_msg=col)
    for col in ("ci_lb", "ci_ub"):
        np.testing.assert_allclose(got[col].astype(float), ref[col].astype(float), rtol=1e-9,
                                   err_msg=col)


def test_robust_default_follows_the_weights():
    c = FIX["lung_weights_ij"]
    d = pd.DataFrame(c["data"])
    ij = pt.survival.kaplan_meier(d, time="time", event="event", group="sex", weights="w").to_frame()
    gw = pt.survival.kaplan_meier(d, time="time", event="event", group="sex", weights="w", robust=False).to_frame()
    ref = pd.DataFrame(FIX["lung_weights"]["ref"])
    np.testing.assert_allclose(gw["se"], ref["std_err"], rtol=1e-9)
    assert not np.allclose(ij["se"], gw["se"])
    with pytest.raises(ValueError, match="ctype=1"):
        pt.survival.kaplan_meier(d, time="time", event="event", weights="w", ctype=2, robust=True)
    with pytest.warns(pt.PeertrialWarning, match="Greenwood"):
        fh = pt.survival.kaplan_meier(d, time="time", event="event", weights="w", ctype=2).to_frame()
    np.testing.assert_allclose(fh["std_chaz"], FIX["lung_weights_fh"]["ref"]["std_chaz"], rtol=1e-9)
    with pytest.raises(ValueError, match="robust"):
        pt.survival.kaplan_meier(d, time="time", event="event", weights="w", robust="yes")


def test_km_rejects_unknown_types():
    d = pd.DataFrame({"t": [1, 2, 3], "e": [1, 0, 1]})
    with pytest.raises(ValueError, match="conf_type"):
        pt.survival.kaplan_meier(d, time="t", event="e", conf_type="probit")
    with pytest.raises(ValueError, match="ctype"):
        pt.survival.kaplan_meier(d, time="t", event="e", ctype=3)
