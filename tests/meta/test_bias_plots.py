"""Funnel plots: plain, contour-enhanced and with trim-and-fill points hollow."""

import numpy as np
from matplotlib.figure import Figure

import peertrial as pt


def hackshaw_fit():
    df = pt.datasets.load("hackshaw1998")
    return pt.meta.rma("yi", "vi", data=df, method="DL", slab="author")


def test_funnel_plain_has_pseudo_ci_and_one_point_per_study():
    fit = hackshaw_fit()
    fig = pt.plot.funnel(fit)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    offsets = np.vstack([c.get_offsets() for c in ax.collections if hasattr(c, "get_offsets") and len(c.get_offsets())
                         and c.get_offsets().shape[0] == fit.k])
    np.testing.assert_allclose(np.sort(offsets[:, 1]), np.sort(np.sqrt(fit.vi)))
    lo, hi = ax.get_ylim()
    assert lo > hi == 0.0  # standard error axis inverted, 0 at the top


def test_funnel_trimfill_points_hollow():
    tf = pt.meta.trimfill(hackshaw_fit())
    assert tf.k0 == 7 and tf.side == "left"
    ax = pt.plot.funnel(tf).axes[0]
    hollow = [c for c in ax.collections if len(c.get_offsets()) == tf.k0]
    assert hollow and np.allclose(hollow[0].get_facecolor()[0][:3], 1.0)
    np.testing.assert_allclose(np.sort(hollow[0].get_offsets()[:, 0]), np.sort(tf.yi[tf.fill]))


def test_contour_enhanced_funnel_has_bands_and_legend(tmp_path):
    fit = hackshaw_fit()
    fig = pt.plot.funnel(fit, contours=(0.90, 0.95, 0.99))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "0.01 < p < 0.05" in labels and "0 < p < 0.01" in labels
    a = pt.plot.save(fig, tmp_path / "a.png").read_bytes()
    b = pt.plot.save(pt.plot.funnel(fit, contours=(0.90, 0.95, 0.99)), tmp_path / "b.png").read_bytes()
    assert a == b


def test_funnel_of_meta_regression_plots_residuals_around_zero():
    # metafor's funnel.rma for a model with moderators: residuals yi - X b against their SEs,
    # centred on 0, x label "Residual Value" (R: funnel(rma(yi, vi, mods = ~ ablat)) on dat.bcg
    # gives x = 0.1396975, -0.2362616, -0.3772677 for the first three studies)
    bcg = pt.datasets.load("bcg")
    es = pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    fit = pt.meta.rma("yi", "vi", data=es, mods="~ ablat")
    ax = pt.plot.funnel(fit).axes[0]
    pts = [c.get_offsets() for c in ax.collections if len(c.get_offsets()) == fit.k][0]
    np.testing.assert_allclose(pts[:3, 0], [0.1396975, -0.2362616, -0.3772677], atol=1e-6)
    assert [ln.get_xdata()[0] for ln in ax.lines if ln.get_xdata()[0] == ln.get_xdata()[-1]] == [0.0]
    assert ax.get_xlabel() == "Residual value"


def test_funnel_vertical_line_at_refline():
    fit = hackshaw_fit()
    ax = pt.plot.funnel(fit, refline=0.0).axes[0]
    assert [ln.get_xdata()[0] for ln in ax.lines if ln.get_xdata()[0] == ln.get_xdata()[-1]] == [0.0]


def test_rma_mods_as_list_of_columns_equals_formula():
    bcg = pt.datasets.load("bcg")
    es = pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    a = pt.meta.rma("yi", "vi", data=es, mods=["ablat", "year"])
    b = pt.meta.rma("yi", "vi", data=es, mods="~ ablat + year")
    np.testing.assert_allclose(np.ravel(a.b), np.ravel(b.b))
