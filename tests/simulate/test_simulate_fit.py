"""Batched fits against R's glm() and coxph(ties = "breslow") on data drawn in R."""

import json
from pathlib import Path

import numpy as np
import pytest

from peertrial import ConvergenceWarning
from peertrial.simulate.fit import cox_batch, logistic_batch, ols_batch

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "simulate_fixtures.json").read_text())


def rel_err(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))


@pytest.mark.parametrize("k", range(len(FIXTURES["fits"])))
def test_logistic_batch_matches_glm(k):
    s = FIXTURES["fits"][k]
    n = len(s["y"])
    X = np.column_stack([np.ones(n), s["arm"], s["age"]])[None]
    coef, se, conv = logistic_batch(np.asarray(s["y"], float)[None], X)
    assert conv.all()
    assert rel_err(coef[0], s["glm_coef"]) < 1e-6
    assert rel_err(se[0], s["glm_se"]) < 1e-6


@pytest.mark.parametrize("k", range(len(FIXTURES["fits"])))
def test_cox_batch_matches_coxph_breslow(k):
    s = FIXTURES["fits"][k]
    X = np.column_stack([s["arm"], s["age"]])[None]
    coef, se, conv = cox_batch(np.asarray(s["time"])[None], np.asarray(s["event"])[None], X, ties="breslow")
    assert conv.all()
    assert rel_err(coef[0], s["cox_coef"]) < 1e-6
    assert rel_err(se[0], s["cox_se"]) < 1e-6


@pytest.mark.parametrize("k", range(len(FIXTURES["fits"])))
def test_cox_batch_matches_coxph_efron(k):
    s = FIXTURES["fits"][k]
    X = np.column_stack([s["arm"], s["age"]])[None]
    coef, se, conv = cox_batch(np.asarray(s["time"])[None], np.asarray(s["event"])[None], X)
    assert conv.all()
    assert rel_err(coef[0], s["efron_coef"]) < 1e-6
    assert rel_err(se[0], s["efron_se"]) < 1e-6
    if not s["tied"]:  # without ties Efron and Breslow agree
        assert rel_err(coef[0], s["cox_coef"]) < 1e-9


def test_batch_rows_are_independent_fits():
    """Fitting all R datasets of equal size together gives each one's own fit."""
    s = [f for f in FIXTURES["fits"] if f["tied"]][0]
    X = np.column_stack([s["arm"], s["age"]])
    t, e = np.asarray(s["time"]), np.asarray(s["event"])
    perm = np.random.default_rng(0).permutation(len(t))
    coef, se, _ = cox_batch(np.stack([t, t[perm]]), np.stack([e, e[perm]]), np.stack([X, X[perm]]))
    assert rel_err(coef[1], s["efron_coef"]) < 1e-6 and rel_err(se[1], s["efron_se"]) < 1e-6
    assert rel_err(coef[0], coef[1]) < 1e-10


def test_ols_batch_is_pooled_t_test_with_missing_dropped():
    from scipy import stats

    rng = np.random.default_rng(3)
    y = rng.normal(size=(2, 60))
    arm = np.tile(np.repeat([0.0, 1.0], 30), (2, 1))
    y[0, :5] = np.nan
    coef, se, df = ols_batch(y, np.stack([np.ones_like(arm), arm], axis=-1))
    for b in range(2):
        ok = np.isfinite(y[b])
        res = stats.ttest_ind(y[b][ok & (arm[b] == 1)], y[b][ok & (arm[b] == 0)])
        assert coef[b, 1] / se[b, 1] == pytest.approx(res.statistic, rel=1e-10)
        assert df[b] == ok.sum() - 2


def test_separation_warns():
    y = np.array([[0, 0, 0, 1, 1, 1.0]])
    X = np.stack([np.ones(6), [0, 0, 0, 1, 1, 1.0]], axis=-1)[None]
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        _, _, conv = logistic_batch(y, X, max_iter=10)
    assert not conv[0]


def test_shape_errors():
    with pytest.raises(ValueError, match="shape"):
        logistic_batch(np.zeros((2, 5)), np.zeros((2, 4, 2)))


def test_logistic_and_cox_share_one_newton_loop(monkeypatch):
    """One Newton loop (simulate.fit._newton) serves both batched ML fits, with its cap."""
    import warnings as _w

    from peertrial import ConvergenceWarning
    from peertrial.simulate import fit as F

    calls = []
    real = F._newton

    def spy(score_info, beta, **kw):
        calls.append(kw)
        return real(score_info, beta, **kw)

    monkeypatch.setattr(F, "_newton", spy)
    rng = np.random.default_rng(4)
    X = np.concatenate([np.ones((3, 80, 1)), rng.normal(size=(3, 80, 1))], axis=-1)
    y = (rng.random((3, 80)) < 0.4).astype(float)
    F.logistic_batch(y, X)
    F.cox_batch(rng.exponential(size=(3, 80)), y, X[..., 1:])
    assert [c["max_iter"] for c in calls] == [30, 30]
    with _w.catch_warnings(record=True) as rec:
        _w.simplefilter("always")
        _, _, conv = F.cox_batch(rng.exponential(size=(3, 80)), y, 3 * X[..., 1:], max_iter=1)
    assert not conv.all() and any(issubclass(r.category, ConvergenceWarning) for r in rec)
