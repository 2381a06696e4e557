import numpy as np
import pandas as pd
import pytest

import peertrial as pt

from .survival_refs import SURV, arr, close, frame

CONF = ["log", "log-log", "plain"]


@pytest.mark.parametrize("conf_type", CONF)
@pytest.mark.parametrize("name", sorted(SURV))
def test_km_matches_survfit(name, conf_type):
    case = SURV[name]
    df = frame(case)
    ref = case["km"][conf_type]
    km = pt.survival.kaplan_meier(df, "time", "event", "arm", conf_type=conf_type,
                                  entry="entry" if "entry" in df else None)
    at = km.at([30, 90, 180, 270, 365])
    close(at["surv"], ref["surv"])
    close(at["std_err"], ref["std_err"])
    close(at["lower"], ref["lower"])
    close(at["upper"], ref["upper"])
    close(at["n_risk"], ref["n_risk"])
    med = km.median(ci=True)
    close(med["median"], ref["median"])
    close(med["lower"], ref["median_lcl"])
    close(med["upper"], ref["median_ucl"])
    if conf_type == "log":
        rm = km.rmst(365)
        close(rm["rmst"], ref["rmean"])
        close(rm["se"], ref["rmean_se"])
        diff = km.rmst_diff(365)
        rmean, se = arr(ref["rmean"]), arr(ref["rmean_se"])
        close(diff["estimate"], rmean[1:] - rmean[0])
        close(diff["se"], np.hypot(se[1:], se[0]))


def test_km_without_group_and_median_series():
    df = frame(SURV["basic"])
    km = pt.survival.kaplan_meier(df, "time", "event")
    assert list(km.median().index) == ["all"]
    assert km.at([0.0])["surv"].iloc[0] == 1.0
    assert "Kaplan-Meier" in km.summary()
    assert isinstance(km.to_frame(), pd.DataFrame)


def test_km_does_not_modify_input():
    df = frame(SURV["ties_days"])
    before = df.copy()
    pt.survival.kaplan_meier(df, "time", "event", "arm")
    pd.testing.assert_frame_equal(df, before)
