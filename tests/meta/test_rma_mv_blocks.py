"""rma_mv's block-diagonal algebra (independent clusters factored one by one, no k x k matrix per
evaluation) gives the dense algebra's fit: same iterates, estimates to rounding."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from tests.meta import test_rma_mv, test_rma_mv_ranef

MV2 = json.loads((Path(__file__).parent / "fixtures" / "mv2_cases.json").read_text())["cases"]
PICK = [(test_rma_mv, "knapp2017_vcalc_difficulty"), (test_rma_mv, "konstantopoulos2011_crossed"),
        (test_rma_mv, "kalaian1996_un_tau2_fixed"), (test_rma_mv_ranef, "berkey1998_un"),
        (test_rma_mv_ranef, "obrien2003_gen_id_ml"), (test_rma_mv_ranef, "ishak2007_car"),
        (test_rma_mv, "konstantopoulos2011_year_ml_t")]


def _fit(mod, case, blocks):
    sp = case["spec"]
    kw = {n: sp[n] for n in ("sigma2", "tau2", "rho") if sp.get(n) is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("error", pt.ConvergenceWarning)
        return pt.meta.rma_mv("yi", np.asarray(case["data"]["V"], dtype=float), data=mod.frame(case),
                              random=sp.get("random"), mods=np.asarray(case["data"]["X"], dtype=float),
                              intercept=False, method=sp["method"], test=sp.get("test", "z"),
                              struct=sp.get("struct", "CS"), control={"blocks": blocks}, **kw)


def _same(a, b):
    assert b.spec.model.blocks is not None and a.spec.model.blocks is None
    assert a.iterations == b.iterations
    np.testing.assert_allclose(b.loglik, a.loglik, rtol=1e-12)
    np.testing.assert_allclose(np.atleast_1d(b.b), np.atleast_1d(a.b), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.vb.to_numpy(), a.vb.to_numpy(), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(b.M, a.M, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(b.QE, a.QE, rtol=1e-10)
    np.testing.assert_allclose(b.fitstats().to_numpy(), a.fitstats().to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("mod,name", PICK, ids=[n for _, n in PICK])
def test_blocks_equal_dense(mod, name):
    case = mod.CASES[name]
    _same(_fit(mod, case, False), _fit(mod, case, True))


def test_default_uses_blocks_for_many_clusters_and_profile_agrees():
    rng = np.random.default_rng(20)
    n_study = 80
    sizes = rng.integers(1, 6, n_study)
    study = np.repeat(np.arange(n_study), sizes)
    k = len(study)
    vi = rng.uniform(0.01, 0.1, k)
    yi = 0.3 + rng.normal(0, 0.2, n_study)[study] + rng.normal(0, 0.1, k) + rng.normal(0, np.sqrt(vi))
    d = pd.DataFrame({"yi": yi, "vi": vi, "study": study, "es": np.arange(k), "x": rng.normal(size=k)})
    assert k >= 200
    kw = dict(data=d, random="~ 1 | study/es", mods="~ x")
    auto = pt.meta.rma_mv("yi", "vi", **kw)
    dense = pt.meta.rma_mv("yi", "vi", control={"blocks": False}, **kw)
    _same(dense, auto)
    # profile likelihood (confint's building block) with the first component held at twice its estimate
    from peertrial.meta.rma_mv import _profile_ll

    prof = [_profile_ll(f.spec.model, f.spec.params, 0, 2 * f.sigma2[0], f.spec.params.values(f.spec.theta(f)))
            for f in (auto, dense)]
    np.testing.assert_allclose(prof[0], prof[1], rtol=1e-10)
    assert prof[0] < auto.loglik
    one = pt.meta.rma_mv("yi", "vi", data=d.assign(g=1), random="~ 1 | g", control={"blocks": True})
    assert one.spec.model.blocks is None  # one cluster: dense algebra
