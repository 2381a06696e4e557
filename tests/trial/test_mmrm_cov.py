"""MMRM covariance structures and long-format input (fixtures/make_mmrm_cov_fixtures.R: nlme::gls REML with
corCompSymm / corAR1 / corARMA(p = T - 1) with and without varIdent, and Satterthwaite df computed in R
from the definition with numDeriv)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.trial import _df, _mmrm_cov, mixed

from .conftest import FIXTURES, rel_err


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIXTURES / "mmrm_cov_fixtures.json").read_text())


def _cases(ref):
    out = [("orthodont", ref["orthodont"], None), ("bodyweight", ref["bodyweight"], None)]
    out += [(f"simulated{k}", s, ["y0"]) for k, s in enumerate(ref["simulated"])]
    return out


def _abs_rel(a, b):
    """Largest difference relative to the largest reference value (coefficients may be ~0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_structures_match_gls_and_df_definition(ref):
    for name, s, cov in _cases(ref):
        d = pd.DataFrame(s["data"])
        for r in s["fits"]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                fit = pt.trial.mmrm(d, outcome="y", id="id", visit="visit", arm="arm", covariates=cov,
                                    covariance=r["struct"])
            what = f"{name} {r['struct']}"
            # our REML optimum is never below gls's (gls stops at its optimiser tolerance)
            assert fit.loglik >= r["loglik"] - 1e-9, what
            assert fit.loglik - r["loglik"] < 5e-8, what
            # gls stops where the REML surface is flat: its log-likelihood is up to 3e-8 below ours and
            # its covariance up to ~1e-3 (relative) away, which moves the fixed effects, SEs and df by
            # up to a few 1e-5 (test_df_at_gls_covariance_is_the_definition compares at gls's covariance)
            assert _abs_rel(fit.coef, r["coef"]) < 2e-5, what
            assert rel_err(fit.se, r["se"]) < 5e-5, what
            assert rel_err(fit.effects["se"], r["effect_se"]) < 5e-5, what
            assert rel_err(fit.sigma.to_numpy(), r["Sigma"]) < 2e-3, what
            if "df" in r:
                assert rel_err(fit.effects["df"], r["df"]) < 1e-4, what
                assert rel_err(fit.theta, r["theta"]) < 2e-3, what


def test_df_at_gls_covariance_is_the_definition(ref):
    """At gls's own covariance the analytic Satterthwaite df equal R's numDeriv ones to its accuracy."""
    for name, s, cov in _cases(ref)[:3]:
        d = pd.DataFrame(s["data"]).sort_values(["id", "visit"])
        w = d.pivot(index="id", columns="visit", values="y")
        a = d.groupby("id")["arm"].first().to_numpy(float)
        Y, T = w.to_numpy(float), w.shape[1]
        k = 0 if cov is None else 1
        p = 2 * T + k
        Xs = np.zeros((len(Y), T, p))
        Xs[:, :, 0] = 1
        for t in range(1, T):
            Xs[:, t, t] = 1
            Xs[:, t, T + k + t] = a
        Xs[:, :, T] = a[:, None]
        if k:
            Xs[:, :, T + 1] = d.groupby("id")["y0"].first().to_numpy(float)[:, None]
        core = mixed._UnstructuredREML(Y, Xs)
        L = np.zeros((T, p))
        L[:, T] = 1
        for t in range(1, T):
            L[t, T + k + t] = 1
        for r in s["fits"]:
            if "df" not in r:
                continue
            st = _mmrm_cov.Structure(r["struct"], T)
            S, d1, d2 = st.sigma(np.asarray(r["theta"], float))
            pieces = _mmrm_cov.reml_pieces(core.groups, S, d1, d2, hessian=True)
            assert abs(pieces["dev"] - r["dev_at_gls"]) < 1e-8 * abs(r["dev_at_gls"])
            # numDeriv's accuracy: 1e-7-1e-6 on most fits, 1.5e-5 on the first simulated Toeplitz fit (where
            # central differences of our deviance agree with the analytic df to 3e-7); BodyWeight's
            # (11 visits, correlations ~0.97) Hessians have condition numbers ~1e6-1e8
            tol = 5e-5 if name == "bodyweight" else 2e-5
            assert rel_err(_mmrm_cov.satterthwaite(pieces, L), r["df"]) < tol, f"{name} {r['struct']}"


def test_analytic_derivatives():
    """Gradient and observed Hessian of the REML deviance against central differences."""
    rng = np.random.default_rng(4)
    n, T, p = 30, 4, 5
    Xs = np.concatenate([np.ones((n, T, 1)), rng.normal(size=(n, T, p - 1))], axis=2)
    Y = Xs @ rng.normal(size=p) + rng.multivariate_normal(np.zeros(T), 0.5 + 0.5 * np.eye(T), size=n)
    Y[:5, 3] = np.nan
    Y[5:8, 2:] = np.nan
    core = mixed._UnstructuredREML(Y, Xs)
    for name in _mmrm_cov.COVARIANCES[1:]:
        st = _mmrm_cov.Structure(name, T)
        th = st.start(mixed._start_covariance(Y, Xs)) * 0.97
        S, d1, d2 = st.sigma(th)
        pc = _mmrm_cov.reml_pieces(core.groups, S, d1, d2, hessian=True)

        def dev(t, st=st):
            return _mmrm_cov.reml_pieces(core.groups, st.sigma(t, derivatives=False))["dev"]

        h = 1e-4
        E = np.eye(len(th)) * h
        g = np.array([(dev(th + e) - dev(th - e)) / (2 * h) for e in E])
        H = np.array([[(dev(th + e + f) - dev(th + e - f) - dev(th - e + f) + dev(th - e - f)) / (4 * h * h)
                       for f in E] for e in E])
        assert np.max(np.abs(g - pc["grad"])) < 1e-5 * np.max(np.abs(g)), name
        assert np.max(np.abs(H - pc["hessian"])) < 1e-5 * np.max(np.abs(H)), name


def test_grouped_covariance_derivatives_and_fit():
    """One covariance per group (mmrm's ``us(visit | group / id)``, used by reference-based MI):
    analytic gradient/Hessian against central differences; with a design that is separate per group
    the joint REML fit equals the two groups' own fits."""
    rng = np.random.default_rng(7)
    n, T = 40, 3
    grp = np.repeat([0, 1], n // 2)
    Xs = np.zeros((n, T, 2 * T))
    for t in range(T):
        Xs[:, t, t] = grp == 0
        Xs[:, t, T + t] = grp == 1
    S1 = np.array([[2.0, 1.0, 0.5], [1.0, 3.0, 1.5], [0.5, 1.5, 4.0]])
    Y = rng.multivariate_normal(np.zeros(T), S1, size=n) * np.where(grp == 1, 1.5, 1.0)[:, None] + 2.0
    Y[:4, 2] = np.nan
    Y[25:28, 1:] = np.nan
    core = mixed._UnstructuredREML(Y, Xs, grp)
    S0 = mixed._start_covariance(Y, Xs, grp, 2)
    for base in (_mmrm_cov.Unstructured(T), _mmrm_cov.Structure("csh", T)):
        st = _mmrm_cov.Grouped(base, 2)
        th = st.start(S0) * 0.97
        S, d1, d2 = st.sigma(th)
        pc = _mmrm_cov.reml_pieces(core.groups, S, d1, d2, hessian=True)

        def dev(t, st=st):
            return _mmrm_cov.reml_pieces(core.groups, st.sigma(t, derivatives=False))["dev"]

        h = 1e-4
        E = np.eye(len(th)) * h
        g = np.array([(dev(th + e) - dev(th - e)) / (2 * h) for e in E])
        H = np.array([[(dev(th + e + f) - dev(th + e - f) - dev(th - e + f) + dev(th - e - f)) / (4 * h * h)
                       for f in E] for e in E])
        assert np.max(np.abs(g - pc["grad"])) < 1e-5 * np.max(np.abs(g)), base.name
        assert np.max(np.abs(H - pc["hessian"])) < 1e-5 * np.max(np.abs(H)), base.name
    st = _mmrm_cov.Grouped(_mmrm_cov.Unstructured(T), 2)
    th, pc = _mmrm_cov.fit_structured(core.groups, st, S0)
    assert pc["converged"]
    Sigma = st.sigma(th, derivatives=False)
    for g_ in (0, 1):
        k = grp == g_
        own = mixed._UnstructuredREML(Y[k], Xs[k][:, :, g_ * T:(g_ + 1) * T])
        th_g, _ = _mmrm_cov.fit_structured(own.groups, _mmrm_cov.Unstructured(T), mixed._start_covariance(
            Y[k], Xs[k][:, :, g_ * T:(g_ + 1) * T]))
        np.testing.assert_allclose(st.block(Sigma, g_), _mmrm_cov.Unstructured(T).sigma(th_g, False), rtol=1e-6)
        assert np.all(Sigma[g_ * T:(g_ + 1) * T, (1 - g_) * T:(2 - g_) * T] == 0)


def test_wide_equals_long_and_row_order(ref):
    """Potthoff-Roy wide (one row per child) and long (nlme's Orthodont) give the same fit."""
    d = pd.DataFrame(ref["orthodont"]["data"])
    w = d.pivot(index="id", columns="visit", values="y")
    w.columns = [f"d{c}" for c in w.columns]
    w = w.join(d.groupby("id")["arm"].first()).reset_index()
    visits = {"8": "d8", "10": "d10", "12": "d12", "14": "d14"}
    for cov in ("us", "cs", "ar1h"):
        wide = pt.trial.mmrm(w, visits, arm="arm", covariance=cov)
        long = pt.trial.mmrm(d.sample(frac=1, random_state=3), outcome="y", id="id", visit="visit", arm="arm",
                             covariance=cov)
        assert list(long.effects.index) == ["8", "10", "12", "14"]
        assert rel_err(wide.coef, long.coef) < 1e-6
        assert rel_err(wide.effects["df"], long.effects["df"]) < 1e-4
        assert long.covariance == cov and _mmrm_cov.LABELS[cov] in long.method
    fit = pt.trial.mmrm(d, outcome="y", id="id", visit="visit", arm="arm", covariance="toeph")
    assert fit.theta.index.tolist() == ["sd1", "sd2", "sd3", "sd4", "rho1", "rho2", "rho3"]
    assert "Heterogeneous toeplitz covariance of the visits" in fit.summary()


def test_long_input_errors(ref):
    d = pd.DataFrame(ref["orthodont"]["data"])
    with pytest.raises(ValueError, match="repeat at rows"):
        pt.trial.mmrm(pd.concat([d, d.iloc[[0]]], ignore_index=True), outcome="y", id="id", visit="visit",
                      arm="arm")
    bad = d.copy()
    bad.loc[0, "arm"] = 1 - bad.loc[0, "arm"]
    with pytest.raises(ValueError, match="changes within participant"):
        pt.trial.mmrm(bad, outcome="y", id="id", visit="visit", arm="arm")
    with pytest.raises(ValueError, match="missing: visit="):
        pt.trial.mmrm(d, outcome="y", id="id", arm="arm")
    with pytest.raises(ValueError, match="not both"):
        pt.trial.mmrm(d, {"8": "y", "10": "y"}, outcome="y", id="id", visit="visit", arm="arm")
    with pytest.raises(ValueError, match="covariance must be one of"):
        pt.trial.mmrm(d, outcome="y", id="id", visit="visit", arm="arm", covariance="exchangeable")
    # a missing outcome is a missing visit; a participant with none is dropped with a warning
    miss = d.copy()
    miss.loc[miss["id"] == miss["id"].iloc[0], "y"] = np.nan
    with pytest.warns(UserWarning, match="no observed outcome"):
        fit = pt.trial.mmrm(miss, outcome="y", id="id", visit="visit", arm="arm", covariance="cs")
    assert fit.n_subjects == d["id"].nunique() - 1


def _layout(d, cov):
    d = d.sort_values(["id", "visit"])
    w = d.pivot(index="id", columns="visit", values="y")
    a = d.groupby("id")["arm"].first().to_numpy(float)
    Y, T = w.to_numpy(float), w.shape[1]
    k = 0 if cov is None else 1
    p = 2 * T + k
    Xs = np.zeros((len(Y), T, p))
    Xs[:, :, 0] = 1
    for t in range(1, T):
        Xs[:, t, t] = 1
        Xs[:, t, T + k + t] = a
    Xs[:, :, T] = a[:, None]
    if k:
        Xs[:, :, T + 1] = d.groupby("id")["y0"].first().to_numpy(float)[:, None]
    L = np.zeros((T, p))
    L[:, T] = 1
    for t in range(1, T):
        L[t, T + k + t] = 1
    return mixed._UnstructuredREML(Y, Xs), L, T


def _natural(struct, S):
    T = S.shape[0]
    if struct == "us":
        st = _mmrm_cov.Unstructured(T)
        return st, np.array([S[a, b] for a, b in st.pairs])
    st = _mmrm_cov.Structure(struct, T)
    sd = np.sqrt(np.diag(S))
    R = S / np.outer(sd, sd)
    rho = R[0, 1:] if st.kind == "toep" else R[0, 1:2]
    return st, np.concatenate([sd if st.hetero else sd[:1], rho])


def test_mmrm_kenward_roger_definition(ref):
    """mmrm's Kenward-Roger (and -Linear) at gls's covariance vs R from the definition
    (fixtures/make_mmrm_kr_fixtures.R: numDeriv derivatives in mmrm's parametrisation)."""
    kr = json.loads((FIXTURES / "mmrm_kr_fixtures.json").read_text())
    for name, data, cov in [("orthodont", ref["orthodont"]["data"], None),
                            ("simulated", ref["simulated"][0]["data"], ["y0"])]:
        core, L, T = _layout(pd.DataFrame(data), cov)
        for r in kr[name]:
            st, th = _natural(r["struct"], np.asarray(r["Sigma"], float))
            V, PhiA, Pk, W = _mmrm_cov.kenward_roger(core.groups, st, th)
            PhiL = _mmrm_cov.kenward_roger(core.groups, st, th, linear=True)[1]
            what = f"{name} {r['struct']}"
            # numDeriv's accuracy: ~1e-8 for the SEs, ~1e-6 for the df (2e-6 / 5e-6 on the simulated toep)
            assert rel_err(np.sqrt(np.einsum("tp,pq,tq->t", L, PhiA, L)), r["se_kr"]) < 5e-6, what
            assert rel_err(np.sqrt(np.einsum("tp,pq,tq->t", L, PhiL, L)), r["se_krl"]) < 5e-6, what
            assert rel_err(np.sqrt(np.diag(PhiA)), r["coef_se_kr"]) < 5e-6, what
            df = [_df.kr_ddf(L[[t]], V, Pk, W)[0] for t in range(T)]
            assert rel_err(df, r["df"]) < 1e-5, what
            # F tests of several contrasts (mmrm's df_md): the visit-by-arm interaction, the arm at every visit
            # (numDeriv's accuracy again: 1e-6 or better except 1.4e-5 on the simulated Toeplitz fit)
            S, d1, d2 = st.sigma(th)
            pc = _mmrm_cov.reml_pieces(core.groups, S, d1, d2, hessian=True)
            assert rel_err(pc["beta"], r["beta"]) < 1e-8, what
            for md in r["md"]:
                Lr = np.atleast_2d(np.asarray(md["L"], float))
                fk = _df.f_test(Lr, pc["beta"], None, "kenward-roger", kr=(V, PhiA, Pk, W))
                assert rel_err([fk["statistic"], fk["df"]], [md["kr"]["F"], md["kr"]["ddf"]]) < 2e-5, what
                sat = _df.f_test(Lr, pc["beta"], None, "satterthwaite", V=pc["V"],
                                 df_rows=lambda rows, pc=pc: _mmrm_cov.satterthwaite(pc, rows))
                assert rel_err([sat["statistic"], sat["df"]], [md["sat"]["F"], md["sat"]["ddf"]]) < 2e-5, what


def test_mmrm_kenward_roger_public(ref):
    d = pd.DataFrame(ref["simulated"][0]["data"])
    args = dict(outcome="y", id="id", visit="visit", arm="arm", covariates=["y0"], covariance="ar1h")
    sat = pt.trial.mmrm(d, **args)
    kr = pt.trial.mmrm(d, **args, df_method="kenward-roger")
    krl = pt.trial.mmrm(d, **args, df_method="Kenward-Roger-Linear")
    # one-dimensional contrasts: KR's df is the Satterthwaite df (Kenward & Roger 1997, sec. 4)
    assert rel_err(kr.effects["df"], sat.effects["df"]) < 1e-8
    # the linear adjustment inflates the SEs; with mmrm's second-derivative term (log SDs, rho = phi /
    # sqrt(1 + phi^2)) they can come out below the REML ones, as here
    assert np.all(krl.effects["se"] > sat.effects["se"]) and np.all(kr.effects["se"] < krl.effects["se"])
    assert rel_err(np.sqrt(np.diag(kr.vcov_unadjusted)), sat.se) < 1e-12
    assert rel_err(kr.effects["estimate"], sat.effects["estimate"]) < 1e-12
    inter = ["visit4:arm", "visit8:arm", "visit12:arm"]
    for fit in (sat, kr):
        F = fit.ftest(inter)
        assert F["ndf"] == 3 and 0 < F["pval"] < 1 and F["df"] > 2
    assert "scaling" in kr.ftest(inter) and "scaling" not in sat.ftest(inter)
    with pytest.raises(ValueError, match="df_method='satterthwaite' or 'kenward-roger'"):
        pt.trial.mmrm(d, **args, df_method="residual").ftest(inter)
    with pytest.raises(ValueError, match="kenward-roger-linear"):
        pt.trial.random_intercept(d, "y", group="id", df_method="kenward-roger-linear")


def test_cs_correlation_at_its_bound():
    """Compound symmetry with the REML optimum at rho = -1/(T - 1) (every participant observed at 2 of
    3 visits, so no observed block is singular there; fixture make_mmrm_boundary_fixtures.R). The fit
    stops on the boundary without a ConvergenceWarning and the Satterthwaite df leave rho out, the
    limit of mmrm's df (its rho = expit(phi)(1 + a) - a puts the bound at phi = -inf): here N - p = 174
    (R from the definition, numDeriv: 174.00001). The variance-scale Hessian gave negative df."""
    r = json.loads((FIXTURES / "mmrm_boundary_fixtures.json").read_text())
    d = pd.read_csv(FIXTURES / "mmrm_cs_boundary.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = pt.trial.mmrm(d, outcome="y", id="id", visit="visit", arm="arm", covariance="cs")
    assert fit.theta["rho"] == pytest.approx(-0.5, abs=1e-6)
    assert fit.theta["sd"] == pytest.approx(r["sd"], rel=1e-6)
    assert fit.loglik == pytest.approx(r["loglik"], abs=1e-5)  # stops within 1e-7 of the bound
    assert rel_err(fit.effects["estimate"], r["estimate"]) < 1e-6
    assert rel_err(fit.effects["se"], r["se"]) < 1e-6
    assert rel_err(fit.effects["df"], r["df"]) < 1e-6
    assert np.all(np.diff(r["profile_dev"]) > 0) and r["profile_dev"][0] > r["dev"]  # optimum at the bound
    assert fit.ftest(np.eye(len(fit.coef))[[3]])["df"] == pytest.approx(fit.effects["df"].iloc[0], rel=1e-8)
