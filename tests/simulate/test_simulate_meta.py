"""The meta-analysis generator recovers mu and tau2, and its selection model biases small studies."""

import numpy as np
import pytest
from scipy import special

import peertrial.simulate as sim


def hedges_g(d):
    """SMD with Hedges' exact correction and its large-sample variance (metafor's escalc 'SMD')."""
    m = d.n1i + d.n2i - 2
    sp = np.sqrt(((d.n1i - 1) * d.sd1i**2 + (d.n2i - 1) * d.sd2i**2) / m)
    cm = np.exp(special.gammaln(m / 2) - np.log(np.sqrt(m / 2)) - special.gammaln((m - 1) / 2))
    g = cm * (d.m1i - d.m2i) / sp
    v = 1 / d.n1i + 1 / d.n2i + g**2 / (2 * (d.n1i + d.n2i))
    return g.to_numpy(), v.to_numpy()


def dersimonian_laird(y, v):
    w = 1 / v
    fe = np.sum(w * y) / w.sum()
    q = np.sum(w * (y - fe) ** 2)
    tau2 = max(0.0, (q - (len(y) - 1)) / (w.sum() - np.sum(w**2) / w.sum()))
    ws = 1 / (v + tau2)
    return np.sum(ws * y) / ws.sum(), np.sqrt(1 / ws.sum()), tau2


def test_columns_and_types():
    d = sim.meta_analysis(k=12, seed=1)
    assert tuple(d.columns) == sim.META_COLUMNS and len(d) == 12
    assert set(d["type"]) <= {"one-to-one", "group"}
    assert d.year.is_monotonic_increasing and (d.n1i >= 10).all() and (d.sd1i > 0).all()
    assert d.equals(sim.meta_analysis(k=12, seed=1)) and not d.equals(sim.meta_analysis(k=12, seed=2))


def test_recovers_mu_and_tau2_without_bias():
    d = sim.meta_analysis(k=3000, mu=0.3, tau2=0.04, seed=11)
    y, v = hedges_g(d)
    mu, se, tau2 = dersimonian_laird(y, v)
    assert abs(mu - 0.3) < 3 * se
    assert tau2 == pytest.approx(0.04, abs=0.01)


def test_type_effect_and_truth_column():
    d = sim.meta_analysis(k=4000, mu=0.3, tau2=0.0, type_effect=-0.2, p_group=0.5, include_truth=True, seed=5)
    means = d.groupby("type").theta.mean()
    assert means["group"] == pytest.approx(0.1, abs=1e-12) and means["one-to-one"] == pytest.approx(0.3, abs=1e-12)
    y, v = hedges_g(d)
    grp = (d["type"] == "group").to_numpy()
    diff = np.average(y[grp], weights=1 / v[grp]) - np.average(y[~grp], weights=1 / v[~grp])
    se = np.sqrt(1 / np.sum(1 / v[grp]) + 1 / np.sum(1 / v[~grp]))
    assert abs(diff + 0.2) < 3 * se


def _egger_slope(d):
    """Slope of g on its SE, weighted by 1/SE² (PET / Egger's regression), and its SE."""
    y, v = hedges_g(d)
    se = np.sqrt(v)
    X = np.column_stack([np.ones_like(se), se]) / se[:, None]
    beta, res, *_ = np.linalg.lstsq(X, y / se, rcond=None)
    sigma2 = res[0] / (len(y) - 2)
    return beta[1], np.sqrt(sigma2 * np.linalg.inv(X.T @ X)[1, 1])


def test_small_study_effect_is_recovered_by_egger_regression():
    fair = sim.meta_analysis(k=2000, mu=0.1, tau2=0.0, seed=8)
    slope, se = _egger_slope(fair)
    assert abs(slope) < 3 * se
    biased = sim.meta_analysis(k=2000, mu=0.1, tau2=0.0, small_study_bias=1.5, seed=9)
    slope, se = _egger_slope(biased)
    assert abs(slope - 1.5) < 3 * se


def test_publication_bias_suppresses_null_studies_and_inflates_the_mean():
    d = sim.meta_analysis(k=2000, mu=0.1, tau2=0.0, publication_bias=0.8, seed=8, include_truth=True)
    assert d["published_of"].iloc[0] > 3000
    y, v = hedges_g(d)
    mu, se, _ = dersimonian_laird(y, v)
    assert mu - 0.1 > 5 * se
    assert (d.theta == 0.1).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(k=0), "k must"), (dict(tau2=-1.0), "tau2"), (dict(publication_bias=1.0), "publication_bias"), (dict(small_study_bias=np.inf), "small_study_bias"),
     (dict(p_group=2.0), "p_group")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.meta_analysis(seed=1, **kwargs)
