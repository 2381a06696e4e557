"""One multiple-imputation engine (peertrial._mi) with one Rubin's-rules pooling, for trial and econ."""

import sys

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import _mi


def _frame(n=160, seed=2):
    rng = np.random.default_rng(seed)
    arm = np.repeat([0, 1], n // 2)
    age = rng.integers(20, 70, n).astype(float)
    y0 = rng.normal(30, 5, n)
    y = y0 * 0.7 + arm * 1.5 + rng.normal(0, 4, n)
    cost = rng.gamma(2.0, 800.0, n) + 300 * arm
    qaly = rng.normal(0.7, 0.08, n)
    d = pd.DataFrame({"arm": arm, "age": age, "y0": y0, "y": y, "cost": cost, "qaly": qaly})
    d.loc[rng.choice(n, 25, replace=False), "y"] = np.nan
    d.loc[rng.choice(n, 20, replace=False), "cost"] = np.nan
    return d


def test_trial_and_econ_impute_through_the_one_engine(monkeypatch):
    calls = []
    real = _mi.impute

    def spy(values, **kw):
        calls.append(kw["method"])
        return real(values, **kw)

    monkeypatch.setattr(_mi, "impute", spy)
    d = _frame()
    pt.trial.multiple_imputation(d, "y", covariates=["y0"], m=3, seed=1)
    pt.econ.cea(d, cost="cost", effect="qaly", missing="mi", n_imputations=3, n_boot=30, seed=1)
    # the trial analysis uses mice's default methods (pmm for the numeric outcome, arm last); cea pmm
    assert calls == [["pmm", "pmm", "pmm"], "pmm"]


def test_cea_imputation_needs_no_statsmodels_mice(monkeypatch):
    """statsmodels 0.14's MICEData has no rng= argument; the engine does not use statsmodels."""
    monkeypatch.setitem(sys.modules, "statsmodels.imputation.mice", None)
    monkeypatch.setitem(sys.modules, "statsmodels.imputation", None)
    d = _frame()
    a = pt.econ.cea(d, cost="cost", effect="qaly", missing="mi", n_imputations=4, n_boot=40, seed=3)
    b = pt.econ.cea(d, cost="cost", effect="qaly", missing="mi", n_imputations=4, n_boot=40, seed=3)
    assert a.delta_cost == b.delta_cost and np.isfinite(a.se_delta_cost)
    assert "mice 'pmm'" in a.summary()


def test_pmm_imputes_observed_values_and_norm_keeps_observed():
    d = _frame()
    values = d[["cost", "qaly", "arm"]].to_numpy(float)
    done = _mi.impute(values, m=4, seed=5, method="pmm")
    observed = values[~np.isnan(values[:, 0]), 0]
    assert np.isin(done[:, :, 0], observed).all()  # donors' values only: no negative costs
    done = _mi.impute(values, m=2, seed=5, method="norm")
    ok = ~np.isnan(values)
    assert (done[:, ok] == values[ok]).all() and not np.isnan(done).any()
    with pytest.raises(ValueError, match="method must be one of"):
        _mi.impute(values, method="mean")
    with pytest.raises(ValueError, match="cost has no observed values"):
        _mi.impute(np.column_stack([np.full(5, np.nan), np.arange(5.0)]), names=["cost", "x"])


def test_rubin_cov_agrees_with_rubin_pool():
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(6, 2))
    A = rng.normal(size=(6, 2, 2))
    U = A @ A.transpose(0, 2, 1) + np.eye(2)
    qbar, T = _mi.rubin_cov(Q, U)
    pooled = _mi.rubin_pool(Q, np.diagonal(U, axis1=1, axis2=2))
    np.testing.assert_allclose(qbar, pooled["estimate"])
    np.testing.assert_allclose(np.diag(T), pooled["t"])
    np.testing.assert_allclose(T - U.mean(axis=0), (1 + 1 / 6) * np.cov(Q.T, ddof=1))
    assert pt.trial.rubin_pool is _mi.rubin_pool


def _donors_brute(yhat_obs, yhat_mis, donors=5):
    """Reference: the full missing x observed distance search pmm_donors replaced (nearest first,
    equal distances to the earlier observed row)."""
    dist = np.abs(np.asarray(yhat_mis, float)[:, None] - np.asarray(yhat_obs, float)[None, :])
    return np.argsort(dist, axis=1, kind="stable")[:, : min(donors, len(yhat_obs))]


def _draw_pmm_brute(x, y, ry, rng):
    """Reference: _mi._draw_pmm with the full distance search (shuffled observed rows, so equal
    distances break at random; nearest first, equal distances in shuffled order)."""
    X = _mi._with_intercept(x)
    y_obs = y[ry]
    coef, beta, _ = _mi._norm_fit(y_obs, X[ry], rng)
    yhat_obs, yhat_mis = X[ry] @ coef, X[~ry] @ beta
    shuffle = rng.permutation(len(y_obs))
    donors = _donors_brute(yhat_obs[shuffle], yhat_mis)
    pick = donors[np.arange(len(donors)), rng.integers(0, donors.shape[1], size=len(donors))]
    return y_obs[shuffle][pick]


@pytest.mark.parametrize("grid", [0.0, 1.0, 0.5, 0.25])
def test_pmm_donors_sorted_search_equals_full_search(grid):
    """The sorted (searchsorted + window) donor search returns the full search's donors, in its
    order, also with many ties (values on a coarse grid, where differences are exact) and at the
    edges (missing predictions beyond every observed one, fewer observed rows than donors)."""
    rng = np.random.default_rng(int(grid * 8) + 1)
    for _ in range(60):
        n_obs, n_mis = int(rng.integers(1, 120)), int(rng.integers(1, 60))
        if grid:
            obs = rng.integers(-6, 7, n_obs) * grid
            mis = rng.integers(-9, 10, n_mis) * grid / 2  # midpoints: equal distances both sides
        else:
            obs, mis = rng.normal(size=n_obs), rng.normal(scale=2, size=n_mis)
        for k in (1, 5):
            np.testing.assert_array_equal(_mi.pmm_donors(obs, mis, k), _donors_brute(obs, mis, k))


@pytest.mark.parametrize("ties", [False, True])
def test_pmm_draw_equals_full_search_draw(ties):
    """Seeded pmm draws equal the full-search draw's, with continuous predictors and with
    integer-valued ones (many observed rows share a prediction)."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        n = 400 if seed else 9  # seed 0: about as many observed rows as donors
        x = rng.integers(0, 3, size=(n, 2)).astype(float) if ties else rng.normal(size=(n, 3))
        y = x @ ([1.0, -0.5] if ties else [1.0, -0.5, 0.3]) + rng.normal(size=n)
        ry = rng.random(n) > 0.3
        new = _mi._draw_pmm(x, y, ry, np.random.default_rng(100 + seed))
        old = _draw_pmm_brute(x, y, ry, np.random.default_rng(100 + seed))
        np.testing.assert_array_equal(new, old)
