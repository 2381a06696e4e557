"""CoxResult.rmst_ci: the RMST predicted from a Cox model with its standard error.

Fixtures (tests/survival/fixtures/make_fixtures_cox_rmst.R, survival 3.5-3): R's se(rmean) of
summary(survfit(fit, newdata), rmean = tau) and a delta method hand-coded in R from survfit.coxph's curve,
its std.err and numerical derivatives of its cumulative hazard in beta.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FX = json.loads((Path(__file__).parent / "fixtures" / "cox_rmst_cases.json").read_text())
DATA = {k: pd.DataFrame(v) for k, v in FX["data"].items()}


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_lung(ties):
    c = FX["cases"][f"lung_{ties}"]
    fit = pt.survival.cox(DATA["lung"], "time", "status", ["age", "sex", "ph.ecog"], ties=ties)
    out = fit.rmst_ci(c["tau"], pd.DataFrame(c["newdata"]))
    np.testing.assert_allclose(out["rmst"], c["rmean"], rtol=1e-9)
    np.testing.assert_allclose(out["se_survfit"], c["se_rmean"], rtol=1e-8)
    np.testing.assert_allclose(out["rmst"], c["delta_rmst"], rtol=1e-9)
    np.testing.assert_allclose(out["se"], c["delta_se"], rtol=1e-8)  # R side: central differences (2e-10)
    np.testing.assert_allclose(out["rmst"], fit.rmst(c["tau"], pd.DataFrame(c["newdata"])), rtol=1e-12)
    z = 1.959963984540054
    np.testing.assert_allclose(out["ci_ub"] - out["rmst"], z * out["se"], rtol=1e-9)


def test_veteran_strata():
    c = FX["cases"]["veteran_strata"]
    fit = pt.survival.cox(DATA["veteran"], "time", "status", ["karno", "age"], strata="trt")
    nd = pd.DataFrame(c["newdata"])
    got = {}
    for s in (1, 2):
        got[s] = fit.rmst_ci(c["tau"], nd, strata=[s, s])
    # R's table rows: (trt=1, row 1), (trt=2, row 1), (trt=1, row 2), (trt=2, row 2)
    table = [got[1].iloc[0], got[2].iloc[0], got[1].iloc[1], got[2].iloc[1]]
    np.testing.assert_allclose([r["rmst"] for r in table], c["rmean"], rtol=1e-9)
    np.testing.assert_allclose([r["se_survfit"] for r in table], c["se_rmean"], rtol=1e-8)
    # delta fixture order: stratum 1 rows 1, 2 then stratum 2 rows 1, 2
    delta = [got[1].iloc[0], got[1].iloc[1], got[2].iloc[0], got[2].iloc[1]]
    np.testing.assert_allclose([r["se"] for r in delta], c["delta_se"], rtol=1e-6)


def test_bad_input():
    fit = pt.survival.cox(DATA["lung"], "time", "status", ["age", "sex"])
    with pytest.raises(ValueError, match="tau"):
        fit.rmst_ci(-1, pd.DataFrame({"age": [60], "sex": [1]}))
    with pytest.raises(ValueError, match="lacks"):
        fit.rmst_ci(100, pd.DataFrame({"age": [60]}))
