"""robust(): CR1 as metafor's robust() and CR2 + Satterthwaite/HTZ as clubSandwich (via metafor's
clubSandwich=TRUE), for rma and rma_mv fits (fixtures/mv_cases.json, make_fixtures_mv.R)."""

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from tests.meta.test_rma_mv import CASES, REF, fit_case, frame

ROBUST = sorted(n for n, c in CASES.items() if c["robust"])


def close(ours, ref, what, rtol):
    np.testing.assert_allclose(np.atleast_1d(np.asarray(ours, dtype=float)), np.atleast_1d(np.asarray(ref, float)),
                               rtol=rtol, atol=1e-12, err_msg=what)


def check(r, ref, rtol):
    close(r.se, ref["se"], "se", rtol)
    close(r.zval, ref["zval"], "t", rtol)
    close(r.df, ref["df"], "df", rtol)
    close(r.pval, ref["pval"], "pval", 10 * rtol)
    close(r.ci_lb, ref["ci_lb"], "ci_lb", rtol)
    close(r.ci_ub, ref["ci_ub"], "ci_ub", rtol)
    close(r.vb.to_numpy(), ref["vb"], "vb", 10 * rtol)
    close(r.QM, ref["QM"], "QM", rtol)
    close(r.QMdf, ref["QMdf"], "QMdf", rtol)
    close(r.QMp, ref["QMp"], "QMp", 10 * rtol)


@pytest.mark.parametrize("estimator", ["cr1", "cr2"])
def test_rma_uni(estimator):
    ru = REF["robust_uni"]
    fit = pt.meta.rma("yi", "vi", data=pd.DataFrame(ru["data"]), mods="~ ablat")
    r = pt.meta.robust(fit, cluster="cl", clubsandwich=estimator == "cr2")
    check(r, ru[estimator], 1e-10)
    assert list(r.to_frame().columns) == ["estimate", "se", "statistic", "df", "pval", "ci_lb", "ci_ub"]
    assert "clusters" in r.summary()


def test_rma_uni_one_cluster_per_study():
    ru = REF["robust_uni"]
    fit = pt.meta.rma("yi", "vi", data=pd.DataFrame(ru["data"]), mods="~ ablat")
    check(pt.meta.robust(fit, cluster=np.arange(fit.k)), ru["cr1_study"], 1e-10)


@pytest.mark.parametrize("name", ROBUST)
@pytest.mark.parametrize("estimator", ["cr1", "cr2"])
def test_rma_mv(name, estimator):
    case = CASES[name]
    fit = fit_case(case)
    cl = frame(case)[case["robust"]["cluster"]].to_numpy()
    r = pt.meta.robust(fit, cluster=cl, clubsandwich=estimator == "cr2")
    # the fits themselves agree with metafor to its optimiser tolerance (see test_rma_mv)
    check(r, case["robust"][estimator], 2e-5 if name in ("berkey1998_un", "tannersmith2016_age") else 2e-6)


def test_errors():
    ru = REF["robust_uni"]
    fit = pt.meta.rma("yi", "vi", data=pd.DataFrame(ru["data"]), mods="~ ablat")
    with pytest.raises(ValueError, match="clusters"):
        pt.meta.robust(fit, cluster=[1, 2] * 6 + [1])
    with pytest.raises(ValueError, match="values"):
        pt.meta.robust(fit, cluster=[1, 2, 3])
    with pytest.raises(ValueError, match="column"):
        pt.meta.robust(fit, cluster="nosuch")
    case = CASES["konstantopoulos2011_3level"]
    mv = fit_case(case)
    with pytest.raises(ValueError, match="nested"):
        pt.meta.robust(mv, cluster=frame(case)["school"].to_numpy(), clubsandwich=True)


@pytest.mark.parametrize("case", ["", "_intercept"])
@pytest.mark.parametrize("estimator", ["cr1", "cr2"])
def test_rma_uni_user_weights(case, estimator):
    """rma(..., weights = n): CR1 as metafor's robust(), CR2 as clubSandwich (weights not inverse-variance,
    target vi + tau2); fixtures/robust_weighted.json from make_fixtures_mv2.R."""
    import json
    from pathlib import Path

    ref = json.loads((Path(__file__).parent / "fixtures" / "robust_weighted.json").read_text())
    mods = "~ ablat" if case == "" else None
    fit = pt.meta.rma("yi", "vi", data=pd.DataFrame(ref["data"]), mods=mods, weights="n")
    if case == "":
        close(fit.tau2, ref["tau2"], "tau2", 1e-8)
        close(fit.beta, ref["b"], "b", 1e-8)
    r = pt.meta.robust(fit, cluster="cl", clubsandwich=estimator == "cr2")
    want = dict(ref[estimator + case])
    if estimator == "cr2" and case == "":
        # clubSandwich's Wald_test(test = "HTZ") returns NaN (df_denom Inf) for non-inverse-variance
        # weights; with one constraint HTZ is the Satterthwaite t test of coef_test: F = t^2 on (1, df)
        assert want["QM"] is None
        want.update(QM=want["zval"][1] ** 2, QMdf=[1, want["df"][1]], QMp=want["pval"][1])
    check(r, want, 1e-8)
