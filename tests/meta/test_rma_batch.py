"""rma_batch equals looping rma; bad input; convergence; immutability."""

import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

METHODS = ["EE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"]


def padded(seed=7, B=60, kmax=12):
    rng = np.random.default_rng(seed)
    Y = np.full((B, kmax), np.nan)
    V = np.full((B, kmax), np.nan)
    for b in range(B):
        k = int(rng.integers(1, kmax + 1))
        tau2 = rng.choice([0.0, 0.02, 0.3])
        v = rng.uniform(0.01, 0.2, k)
        Y[b, :k] = rng.normal(0.2, np.sqrt(v + tau2))
        V[b, :k] = v
    Y[3] = np.nan  # an empty analysis
    V[3] = np.nan
    return Y, V


@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("method", METHODS)
def test_batch_equals_loop(method, test):
    Y, V = padded()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pt.meta.rma_batch(Y, V, method=method, test=test)
    assert res.reason[3] and np.isnan(res.b[3]) and res.k[3] == 0
    for i in range(Y.shape[0]):
        ok = ~np.isnan(Y[i])
        if not ok.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pt.meta.rma(Y[i, ok], V[i, ok], method=method, test=test)
        got = [res.b[i], res.se[i], res.pval[i], res.ci_lb[i], res.ci_ub[i], res.tau2[i], res.se_tau2[i],
               res.I2[i], res.H2[i], res.QE[i], res.QEp[i]]
        want = [fit.b, fit.se, fit.pval, fit.ci_lb, fit.ci_ub, fit.tau2, fit.se_tau2, fit.I2, fit.H2, fit.QE,
                fit.QEp]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, equal_nan=True, err_msg=f"row {i}")
        assert res.k[i] == fit.k


def test_batch_with_shared_moderators_equals_loop():
    rng = np.random.default_rng(3)
    B, k = 25, 9
    x = np.linspace(0, 1, k)
    X = np.column_stack([np.ones(k), x])
    V = rng.uniform(0.01, 0.1, (B, k))
    Y = 0.1 + 0.5 * x + rng.normal(0, np.sqrt(V + 0.05))
    res = pt.meta.rma_batch(Y, V, mods=X, method="REML", test="knha")
    for i in range(B):
        fit = pt.meta.rma(Y[i], V[i], mods=x[:, None], method="REML", test="knha")
        np.testing.assert_allclose(res.b[i], fit.beta, rtol=1e-12)
        np.testing.assert_allclose([res.tau2[i], res.QM[i], res.QMp[i]], [fit.tau2, fit.QM, fit.QMp], rtol=1e-10)


def test_batch_to_frame_and_nonpositive_variance_row():
    Y = np.array([[0.1, 0.3, 0.2], [0.1, 0.2, np.nan]])
    V = np.array([[0.01, 0.02, 0.03], [0.01, -0.02, np.nan]])
    res = pt.meta.rma_batch(Y, V)
    frame = res.to_frame()
    assert list(frame.index) == [0, 1] and frame.loc[0, "reason"] == ""
    assert "non-positive" in frame.loc[1, "reason"] and np.isnan(frame.loc[1, "estimate"])
    assert "2 meta-analyses" in res.summary()


DATA = pd.DataFrame({"study": ["A", "B", "C", "D", "E"], "yi": [0.1, 0.3, np.nan, 0.5, 0.2],
                     "vi": [0.02, 0.03, 0.02, 0.05, 0.04], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})


def test_missing_studies_omitted_with_warning_naming_them():
    before = DATA.copy()
    with pytest.warns(UserWarning, match="'C'"):
        fit = pt.meta.rma("yi", "vi", data=DATA, slab="study")
    pd.testing.assert_frame_equal(DATA, before)
    assert fit.k == 4 and list(fit.slab) == ["A", "B", "D", "E"]
    assert "omitted" in fit.summary()


@pytest.mark.filterwarnings("ignore:1 studies with missing")
@pytest.mark.filterwarnings("ignore:Cannot compute Q-test")
def test_bad_input_raises_naming_column_and_row():
    # vi = 0 is accepted by REML as in metafor (with its warnings; metafor 3.8: 0.298182267235, tau2 0.000221047449)
    with pytest.warns(UserWarning, match=r"non-positive sampling variances \('vi' at rows 'B'\)"):
        fit = pt.meta.rma("yi", "vi", data=DATA.assign(vi=[0.02, 0.0, 0.02, 0.05, 0.04]), slab="study")
    assert fit.b == pytest.approx(0.298182267235, abs=1e-9) and np.isnan(fit.QE)
    with pytest.warns(UserWarning, match="non-positive"), pytest.raises(ValueError, match="DL estimator cannot"):
        pt.meta.rma("yi", "vi", data=DATA.assign(vi=[0.02, 0.0, 0.02, 0.05, 0.04]), method="DL")
    with pytest.raises(ValueError, match="not found"):
        pt.meta.rma("yi", "variance", data=DATA)
    with pytest.raises(ValueError, match=r"'yi' must be numeric.*rows 1"):
        pt.meta.rma("yi", "vi", data=DATA.assign(yi=["0.1", "a", 0.2, 0.5, 0.2]))
    with pytest.raises(ValueError, match="method"):
        pt.meta.rma("yi", "vi", data=DATA, method="XX")
    with pytest.raises(ValueError, match="test"):
        pt.meta.rma("yi", "vi", data=DATA, test="t")
    with pytest.raises(ValueError, match="coefficients"):
        pt.meta.rma([0.1, 0.2], [0.01, 0.02], mods=np.array([[0.0], [1.0]]))
    # one study, a moderator redundant with the intercept: metafor drops it and fits the intercept
    with pytest.warns(pt.PeertrialWarning, match=r"Redundant predictors dropped.*\['X1'\]"):
        fit = pt.meta.rma([0.1], [0.01], mods=np.array([[1.0]]), method="EE")
    assert fit.b == pytest.approx(0.1) and fit.se == pytest.approx(0.1)


def test_nonconvergence_falls_back_to_the_maximum_and_is_reported():
    rng = np.random.default_rng(2)
    v = rng.uniform(0.01, 0.1, 15)
    y = rng.normal(0, np.sqrt(v + 0.2))
    with pytest.warns(pt.ConvergenceWarning, match="bracketed maximisation"):
        fit = pt.meta.rma(y, v, method="REML", control={"maxiter": 1})
    assert fit.converged and fit.algorithm.startswith("bracketed")
    assert "Fisher scoring did not converge" in fit.summary()
    ok = pt.meta.rma(y, v, method="REML", control={"threshold": 1e-12})
    assert ok.converged and ok.iterations > 1 and ok.algorithm == "Fisher scoring"
    assert fit.tau2 == pytest.approx(ok.tau2, rel=1e-8)
    with pytest.warns(pt.ConvergenceWarning):
        res = pt.meta.rma_batch(y[None], v[None], method="REML", control={"maxiter": 1})
    assert res.converged[0] and res.tau2[0] == pytest.approx(ok.tau2, rel=1e-8)


def test_refit_subset_equals_fit_on_subset():
    rng = np.random.default_rng(5)
    v = rng.uniform(0.01, 0.1, 10)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    fit = pt.meta.rma(y, v)
    mask = np.arange(10) != 4
    sub = fit.refit(mask)
    direct = pt.meta.rma(y[mask], v[mask])
    assert sub.b == direct.b and sub.tau2 == direct.tau2
    dl = fit.refit(method="DL", test="knha")
    assert dl.method == "DL" and dl.test == "knha" and dl.k == 10


def test_summary_layout_like_metafor():
    rng = np.random.default_rng(5)
    v = rng.uniform(0.01, 0.1, 10)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    text = pt.meta.rma(y, v).summary()
    assert text.startswith("Random-Effects Model (k = 10; tau^2 estimator: REML)")
    for line in ("tau^2 (estimated amount of total heterogeneity):", "Test for Heterogeneity:",
                 "Q(df = 9) =", "Model Results:", "estimate", "ci.lb"):
        assert line in text
    knha = pt.meta.rma(y, v, test="knha").summary()
    assert "tval" in knha and " df " in knha
    ee = pt.meta.rma(y, v, method="EE").summary()
    assert ee.startswith("Equal-Effects Model (k = 10)") and "tau^2" not in ee
    assert list(pt.meta.rma(y, v).to_frame().columns) == ["estimate", "se", "statistic", "pval", "ci_lb", "ci_ub"]


def test_predict_transf_back_transforms():
    rng = np.random.default_rng(9)
    v = rng.uniform(0.01, 0.1, 8)
    y = rng.normal(-0.3, np.sqrt(v + 0.05))
    fit = pt.meta.rma(y, v)
    p, pe = fit.predict(), fit.predict(transf=np.exp)
    assert pe.pred == pytest.approx(np.exp(p.pred)) and pe.pi_ub == pytest.approx(np.exp(p.pi_ub))
    assert np.isnan(pe.se)


def test_batch_user_weights_and_level_equal_loop():
    rng = np.random.default_rng(8)
    B, k = 12, 7
    V = rng.uniform(0.01, 0.1, (B, k))
    Y = rng.normal(0.2, np.sqrt(V + 0.03))
    W = rng.uniform(1, 5, (B, k))
    res = pt.meta.rma_batch(Y, V, method="DL", test="knha", weights=W, level=90)
    for i in range(B):
        fit = pt.meta.rma(Y[i], V[i], method="DL", test="knha", weights=W[i], level=90)
        np.testing.assert_allclose([res.b[i], res.se[i], res.ci_lb[i], res.ci_ub[i], res.tau2[i]],
                                   [fit.b, fit.se, fit.ci_lb, fit.ci_ub, fit.tau2], rtol=1e-12)


def test_sei_equals_vi():
    rng = np.random.default_rng(1)
    v = rng.uniform(0.01, 0.1, 6)
    y = rng.normal(0.2, np.sqrt(v + 0.03))
    a = pt.meta.rma(y, v)
    b = pt.meta.rma(y, sei=np.sqrt(v))
    assert a.b == pytest.approx(b.b, rel=1e-13) and a.tau2 == pytest.approx(b.tau2, rel=1e-12)


def test_formula_newmods_frame_equals_array():
    rng = np.random.default_rng(4)
    d = pd.DataFrame({"yi": rng.normal(0.3, 0.3, 12), "vi": rng.uniform(0.01, 0.05, 12),
                      "year": np.arange(2000, 2012), "type": ["group", "one-to-one"] * 6})
    fit = pt.meta.rma("yi", "vi", data=d, mods="~ year + type")
    assert list(fit.X.columns) == ["intrcpt", "year", "typeone-to-one"]
    a = fit.predict(newmods=pd.DataFrame({"year": [2005, 2010], "type": ["group", "one-to-one"]}))
    b = fit.predict(newmods=[[2005, 0], [2010, 1]])
    np.testing.assert_allclose(a.to_frame(), b.to_frame(), rtol=1e-12)


def test_too_few_studies_for_coefficients_and_tau2():
    y, v = np.array([0.1, 0.4]), np.array([0.01, 0.02])
    with pytest.raises(ValueError, match="tau2"):
        pt.meta.rma(y, v, mods=np.array([1.0, 2.0]))
    assert pt.meta.rma(y, v, mods=np.array([1.0, 2.0]), method="EE").k == 2
    res = pt.meta.rma_batch(y[None], v[None], mods=np.array([[1.0, 1.0], [1.0, 2.0]]))
    assert "tau2" in res.reason[0] and np.isnan(res.tau2[0])
