"""rma against R metafor 3.8 on the fixtures written by fixtures/make_fixtures.R."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

FIXTURES = Path(__file__).parent / "fixtures"
REF = json.loads((FIXTURES / "rma_fixtures.json").read_text())
RTOL = 1e-6


def arr(x):
    if x is None:
        return np.array([np.nan])
    if isinstance(x, list):
        return np.array([np.nan if v is None else v for v in x], dtype=float)
    return np.atleast_1d(np.asarray(x, dtype=float))


def close(ours, ref, what, rtol=RTOL, atol=1e-10):
    ours = np.atleast_1d(np.asarray(ours, dtype=float))
    if ref is None:  # R gave NULL/NA: ours must be undefined too
        assert np.isnan(ours).all(), f"{what}: expected NaN, got {ours}"
        return
    ref = arr(ref)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs {ref.shape}"
    both_nan = np.isnan(ours) & np.isnan(ref)
    assert not (np.isnan(ours) ^ np.isnan(ref)).any(), f"{what}: NaN pattern {ours} vs {ref}"
    o, r = ours[~both_nan], ref[~both_nan]
    if o.size and not np.all(np.abs(o - r) <= atol + rtol * np.abs(r)):
        np.testing.assert_allclose(o, r, rtol=rtol, atol=atol, err_msg=what)


def dataset(name):
    src = REF["yivi"].get(name) or REF["meta_regression"].get(name.removeprefix("mr_"))
    frame = pd.DataFrame({k: (v if isinstance(v, list) else [v]) for k, v in src.items()})
    return frame


def fit_case(case):
    data = dataset(case["dataset"])
    kwargs = {}
    if case.get("user_weights") is not None:
        kwargs["weights"] = arr(case["user_weights"])
    if case.get("level") is not None:
        kwargs["level"] = case["level"]
    mods = case["mods"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.meta.rma("yi", "vi", data=data, method=case["method"], test=case["test"],
                           mods=mods if isinstance(mods, str) else None, **kwargs)


CASES = [c for c in REF["rma"] if not c.get("error")]
ERRORS = [c for c in REF["rma"] if c.get("error")]


def case_id(c):
    extra = "_w" if c.get("user_weights") else ("_l90" if c.get("level") else "")
    mods = c["mods"] if isinstance(c["mods"], str) else ""
    return f"{c['dataset']}-{c['method']}-{c['test']}{mods.replace(' ', '')}{extra}"


def by_name(fit, values, names):
    """Our coefficient values in R's order (looked up by name)."""
    cols = list(fit.X.columns)
    order = [cols.index(n) for n in np.atleast_1d(names)]
    return np.atleast_1d(np.asarray(values, dtype=float))[order]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rma_matches_metafor(case):
    fit = fit_case(case)
    names = case["names"]
    assert list(fit.X.columns) == list(np.atleast_1d(names)), "coefficient names and order as metafor"
    for attr in ("b", "se", "zval", "pval", "ci_lb", "ci_ub"):
        close(by_name(fit, getattr(fit, attr), names), case[attr], f"{case_id(case)} {attr}")
    for attr in ("tau2", "se_tau2", "I2", "H2", "QE", "QEp", "QM", "QMp", "s2w"):
        close(getattr(fit, attr), case[attr], f"{case_id(case)} {attr}")
    assert fit.k == case["k"]
    close(fit.dfs, case["dfs"], f"{case_id(case)} dfs")
    if case["R2"] is not None or fit.p > 1:
        close(fit.R2, case["R2"], f"{case_id(case)} R2")
    close(fit.weights_percent().to_numpy(), case["weights"], f"{case_id(case)} weights")
    check_predict(fit, case)
    if case.get("confint") is not None:
        check_confint(fit, case)


def check_predict(fit, case):
    pr = fit.predict()
    for ours, ref in (("pred", "pred"), ("se", "pred_se"), ("ci_lb", "pred_ci_lb"), ("ci_ub", "pred_ci_ub"),
                      ("pi_lb", "pi_lb"), ("pi_ub", "pi_ub")):
        close(getattr(pr, ours), case[ref], f"{case_id(case)} predict {ours}")
    if case.get("new_x") is not None:
        xcol = list(fit.X.columns).index("x")
        new = arr(case["new_x"])
        pn = fit.predict(newmods=new) if fit.p == 2 else None
        assert xcol == 1
        for ours, ref in (("pred", "new_pred"), ("se", "new_se"), ("ci_lb", "new_ci_lb"),
                          ("ci_ub", "new_ci_ub"), ("pi_lb", "new_pi_lb"), ("pi_ub", "new_pi_ub")):
            close(getattr(pn, ours), case[ref], f"{case_id(case)} newmods {ours}")


def check_confint(fit, case):
    ci = fit.confint()
    assert list(ci.index) == ["tau2", "tau", "I2", "H2"]
    assert list(ci.columns) == ["estimate", "ci_lb", "ci_ub"]
    for col in ("estimate", "ci_lb", "ci_ub"):
        close(ci[col].to_numpy(), case["confint"][col], f"{case_id(case)} confint {col}")


def test_fixture_coverage():
    """The fixtures span what the issue asks: k = 1, 2, 3, large; tau2 = 0 and large; all methods and tests."""
    ks = {c["k"] for c in CASES}
    assert {1, 2, 3}.issubset(ks) and max(ks) >= 60
    assert {c["method"] for c in CASES} == {"EE", "FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"}
    assert {c["test"] for c in CASES} == {"z", "knha"}
    assert any(c["tau2"] == 0 for c in CASES if c["method"] == "REML")
    assert any(c["tau2"] > 0.5 for c in CASES if c["method"] == "REML")
    n_data = len(REF["yivi"]) + len(REF["meta_regression"]) + len(REF["means"]) + len(REF["tables"])
    assert n_data >= 30
    assert sum(c.get("confint") is not None for c in CASES) > 300
    assert sum(isinstance(c["mods"], str) for c in CASES) >= 150
