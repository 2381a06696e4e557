"""Shared gamma frailty in cox() against R's coxph(... + frailty(g)) (survival 3.5-3, frailty.gamma "em").

Fixtures from tests/survival/fixtures/make_fixtures_frailty.R on rats (litter), kidney (id) and a simulated
clustered readmission trial in counting-process form. R's inner Newton stops at a relative change of the
penalised log-likelihood of 1e-9 and its theta search at 1e-5, so coefficients agree to R's convergence
(about 1e-5 relative) while theta, the integrated log-likelihood and the variances agree more closely.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.survival._frailty import gamma_correction, parabolic_step

FX = json.loads((Path(__file__).parent / "fixtures" / "frailty_cases.json").read_text())

CASES = {
    "rats": ("rats", dict(time="time", event="event", covariates="rx + frailty(litter)")),
    "rats_breslow": ("rats", dict(time="time", event="event", covariates=["rx", "male"], frailty="litter",
                                  ties="breslow")),
    "rats_strata": ("rats", dict(time="time", event="event", covariates="rx + frailty(litter)", strata="sex")),
    "rats_only": ("rats", dict(time="time", event="event", covariates="frailty(litter)")),
    "rats_theta1": ("rats", dict(time="time", event="event", covariates="rx + frailty(litter, theta = 1)")),
    "kidney": ("kidney", dict(time="time", event="event", covariates="age + sex + frailty(id)")),
    "kidney_disease": ("kidney", dict(time="time", event="event", covariates="age + sex + disease + frailty(id)")),
    "sim": ("sim", dict(entry="start", time="stop", event="event", covariates="arm + age", frailty="id")),
    # 4 groups: survival's non-sparse fit (the whole frailty information); R's search stops at outer.max = 10
    "veteran_dense": ("veteran", dict(time="time", event="event", covariates="karno + frailty(celltype)")),
    "shipped": ("shipped", dict(entry="start", time="stop", event="readmission", covariates="arm + age + frailty(id)")),
}
SHIPPED = Path(__file__).resolve().parents[2] / "simulated_data"


def _data(name):
    if name == "shipped":  # every readmission of the shipped trial: 590 participants, 1,122 (start, stop] rows
        trial = pd.read_csv(SHIPPED / "trial.csv")
        long = pd.read_csv(SHIPPED / "readmissions_long.csv")
        return pt.survival.counting_process(long[["id", "day", "readmission"]].merge(trial[["id", "arm", "age"]], on="id"),
                                            id="id", time="day", event="readmission")
    d = pd.DataFrame(FX["data"][name])
    if "status" in d:
        d = d.rename(columns={"status": "event"})
    return d


@pytest.fixture(scope="module")
def fits():
    out = {}
    for case, (dname, kw) in CASES.items():
        if case == "veteran_dense":
            with pytest.warns(pt.ConvergenceWarning, match="iteration cap"):
                out[case] = pt.survival.cox(_data(dname), **kw)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out[case] = pt.survival.cox(_data(dname), **kw)
    return out


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


@pytest.mark.parametrize("case", list(CASES))
def test_theta_and_likelihoods(fits, case):
    f, r = fits[case], FX[case]
    assert f.theta == pytest.approx(r["theta"], rel=1e-6, abs=1e-9)
    assert f.i_loglik == pytest.approx(r["c_loglik"], rel=1e-8)
    assert _rel(f.loglik, r["loglik"]) < 1e-5
    if r["history_theta"] is not None:
        assert len(f.history) == len(r["history_theta"])
        np.testing.assert_allclose(f.history["theta"], r["history_theta"], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(f.history["i_loglik"], r["history_cloglik"], rtol=1e-7)  # R: 1e-9 inner


@pytest.mark.parametrize("case", list(CASES))
def test_coefficients_and_variances(fits, case):
    f, r = fits[case], FX[case]
    if not r["coef"]:  # ~ frailty(litter) alone
        assert len(f.coef) == 0 and list(f.df.index) == ["frailty(litter)"]
    else:
        assert list(f.coef.index) == list(np.atleast_1d(r["names"]))
        assert _rel(f.coef, r["coef"]) < 5e-5
        assert _rel(f.se, r["se"]) < 5e-6
        assert _rel(f.se2, r["se2"]) < 5e-6
    np.testing.assert_allclose(f.df.to_numpy(), r["df"], rtol=5e-6, atol=1e-6)
    np.testing.assert_allclose(f.frail_var, r["fvar"], rtol=5e-5)
    # log-frailties: R's inner tolerance leaves about 1e-5 of their spread
    scale = np.max(np.abs(r["frail"])) if np.max(np.abs(r["frail"])) > 0 else 1.0
    assert np.max(np.abs(f.frail.to_numpy() - r["frail"])) / scale < 5e-4
    assert f.penalty == pytest.approx(r["penalty"][1], rel=1e-4, abs=1e-6)


def test_dense_frailty_wald_test(fits):
    f, r = fits["veteran_dense"], FX["veteran_dense"]
    assert f.frailty_test[0] == pytest.approx(r["frailty_chisq"], rel=1e-6)  # coxph.wtest on the q x q block
    assert list(f.frail.index) == r["frail_names"]
    assert f.iter[0] == 10 and not f.converged


def test_rats_printed_values(fits):
    f = fits["rats"]  # print(coxph(Surv(time, status) ~ rx + frailty(litter), rats))
    assert round(float(f.coef["rx"]), 3) == 0.727 and round(float(f.se["rx"]), 3) == 0.318
    assert round(float(f.se2["rx"]), 3) == 0.313 and round(float(f.chisq["rx"]), 3) == 5.219
    assert round(f.frailty_test[0], 3) == 63.046 and round(f.frailty_test[1], 1) == 47.7
    assert round(f.lr_test[0], 1) == 88.5 and round(f.lr_test[1], 1) == 48.6
    assert f.frail.index.name == "litter" and len(f.frail) == 100
    assert np.mean(np.exp(f.frail)) == pytest.approx(1.0, rel=1e-12)  # recentred as survival's pfun


def test_keyword_and_formula_agree():
    d = _data("rats")
    a = pt.survival.cox(d, "time", "event", "rx + frailty(litter)")
    b = pt.survival.cox(d, "time", "event", ["rx"], frailty="litter")
    c = pt.survival.cox(d, "time", "event", "rx", frailty="litter", frailty_theta=1.0)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    assert c.theta == 1.0 and c.iter[0] == 1


def test_result_surface(fits):
    f = fits["kidney"]
    frame = f.to_frame()
    assert list(frame.columns[:6]) == ["estimate", "se", "statistic", "pval", "ci_lb", "ci_ub"]
    assert "Variance of random effect" in f.summary() and "frailty(id)" in f.summary()
    f90 = pt.survival.cox(_data("kidney"), "time", "event", "age + sex + frailty(id)", level=90)
    assert (f90.hr_ci_ub < f.hr_ci_ub).all()


def test_bad_input():
    d = _data("rats")
    with pytest.raises(ValueError, match="two or more"):
        pt.survival.cox(d[d.litter == 5], "time", "event", ["rx"], frailty="litter")
    with pytest.raises(ValueError, match="weights"):
        pt.survival.cox(d.assign(w=1.0), "time", "event", ["rx"], frailty="litter", weights="w")
    with pytest.raises(ValueError, match="exact"):
        pt.survival.cox(d, "time", "event", ["rx"], frailty="litter", ties="exact")
    with pytest.raises(ValueError, match="disagree"):
        pt.survival.cox(d, "time", "event", "rx + frailty(litter)", frailty="sex")
    with pytest.raises(ValueError, match="positive"):
        pt.survival.cox(d, "time", "event", ["rx"], frailty="litter", frailty_theta=-1)
    with pytest.raises(ValueError, match="litter2"):
        pt.survival.cox(d, "time", "event", ["rx"], frailty="litter2")


def test_helpers_against_r_formulas():
    # frailty.gammacon: term1 + sum_i [lgamma(nu + d_i) - lgamma(nu) - d_i log(nu + d_i)]
    from math import lgamma, log
    d = np.array([0, 1, 3, 2, 0, 5])
    nu = 0.7
    ref = sum(di + nu * log(nu / (nu + di)) + lgamma(nu + di) - lgamma(nu) - di * log(nu + di) for di in d)
    assert gamma_correction(d, nu) == pytest.approx(ref, rel=1e-12)
    # a parabola's vertex is found in one step
    x = np.array([0.0, 1.0, 2.0])
    assert parabolic_step(x, -(x - 1.2) ** 2) == pytest.approx(1.2)
