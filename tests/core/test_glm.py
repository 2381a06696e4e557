"""The package's one negative binomial fit (peertrial._glm.negbin_fit).

Agreement with MASS::glm.nb is checked on R fixtures by its callers (tests/survival:
count_ratio with an offset; tests/process: engagement_model with factors). Here: the
likelihood against scipy's NB pmf, the score at the estimate, statsmodels as a peer, and
bad input.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import peertrial as pt
from peertrial._glm import negbin_fit
from peertrial._warnings import ConvergenceWarning


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(20261123)
    n = 300
    X = pd.DataFrame({"(Intercept)": 1.0, "arm": rng.integers(0, 2, n).astype(float), "age": rng.normal(40, 10, n)})
    exposure = rng.uniform(100, 365, n)
    mu = exposure * np.exp(-5 + 0.3 * X["arm"] + 0.01 * X["age"])
    y = rng.negative_binomial(1.5, 1.5 / (1.5 + mu)).astype(float)
    return X, y, np.log(exposure)


def _scipy_loglik(X, y, offset, beta, theta):
    mu = np.exp(X @ beta + offset)
    return stats.nbinom.logpmf(y, theta, theta / (theta + mu)).sum()


def test_loglik_is_nb2_and_the_estimate_is_its_maximum(counts):
    X, y, off = counts
    Xv = X.to_numpy()
    fit = negbin_fit(X, y, off)
    assert fit.converged
    assert fit.loglik == pytest.approx(_scipy_loglik(Xv, y, off, fit.coef, fit.theta), rel=1e-12)
    par = np.r_[fit.coef, np.log(fit.theta)]
    f = lambda p: _scipy_loglik(Xv, y, off, p[:-1], np.exp(p[-1]))  # noqa: E731
    grad = np.array([(f(par + e) - f(par - e)) / 2e-7 for e in 1e-7 * np.eye(len(par))])
    # the age coefficient's curvature is ~2e5, so 1e-4 detects an error of ~5e-10 in it
    assert np.max(np.abs(grad)) < 1e-4


def test_agrees_with_statsmodels_negative_binomial(counts):
    X, y, off = counts
    fit = negbin_fit(X, y, off)
    model = sm.NegativeBinomial(y, X.to_numpy(), loglike_method="nb2", offset=off)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = np.r_[sm.GLM(y, X.to_numpy(), family=sm.families.Poisson(), offset=off).fit().params, 0.5]
        res = model.fit(start_params=start, method="bfgs", maxiter=2000, gtol=1e-10, disp=False)
        res = model.fit(start_params=res.params, method="newton", maxiter=100, tol=1e-12, disp=False)
    np.testing.assert_allclose(fit.coef, res.params[:-1], rtol=1e-6)
    assert 1 / fit.theta == pytest.approx(res.params[-1], rel=1e-6)
    # glm.nb's SEs: the GLM information at fixed theta (statsmodels GLM, NB family, scale 1)
    glm = sm.GLM(y, X.to_numpy(), family=sm.families.NegativeBinomial(alpha=1 / fit.theta), offset=off).fit(tol=1e-13)
    np.testing.assert_allclose(fit.se, glm.bse, rtol=1e-6)


def test_offset_shift_moves_only_the_intercept(counts):
    X, y, off = counts
    a, b = negbin_fit(X, y, off), negbin_fit(X, y, off + 2.0)
    assert b.coef[0] == pytest.approx(a.coef[0] - 2.0, rel=1e-9)
    np.testing.assert_allclose(b.coef[1:], a.coef[1:], rtol=1e-8)
    assert b.theta == pytest.approx(a.theta, rel=1e-8)


def test_survival_and_process_share_the_fit(counts):
    X, y, _ = counts
    d = pd.DataFrame({"y": y, "arm": X["arm"].astype(int), "age": X["age"]})
    surv = pt.survival.count_ratio(d, "y", "arm", exposure=None, covariates=["age"])
    proc = pt.process.engagement_model(d, "y", ["arm", "age"], family="negbin")
    np.testing.assert_array_equal(surv.coefficients["estimate"].to_numpy(), proc.coef["estimate"].to_numpy())
    np.testing.assert_array_equal(surv.coefficients["se"].to_numpy(), proc.coef["se"].to_numpy())
    assert surv.extra["theta"] == proc.theta
    assert surv.extra["loglik"] == proc.loglik


def test_no_overdispersion_stops_and_warns():
    y = np.array([1, 2, 1, 2] * 10, float)
    X = np.c_[np.ones(40), np.repeat([0.0, 1.0], 20)]
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = negbin_fit(X, y)
    assert not fit.converged
    assert fit.theta > 1e6
    np.testing.assert_allclose(np.exp(fit.coef), [1.5, 1.0], rtol=1e-6)


def test_bad_input_raises_clear_errors(counts):
    X, y, off = counts
    snap = X.copy()
    with pytest.raises(ValueError, match="outcome is 0 in all 300 rows"):
        negbin_fit(X, np.zeros(300))
    with pytest.raises(ValueError, match=r"non-negative counts; found \[-1.0\] at positions \[3\]"):
        negbin_fit(X, np.where(np.arange(300) == 3, -1.0, y))
    with pytest.raises(ValueError, match=r"design \[.*'arm2'\] is rank-deficient \(rank 3 < 4"):
        negbin_fit(X.assign(arm2=2 * X["arm"]), y)
    with pytest.raises(ValueError, match="design has 300 rows but the outcome has 299"):
        negbin_fit(X, y[:-1])
    pd.testing.assert_frame_equal(X, snap)
