"""Baujat and cumulative forest plots draw the numbers of pt.meta.baujat / pt.meta.cumul."""

import numpy as np
from matplotlib.figure import Figure

import peertrial as pt


def bcg():
    df = pt.datasets.load("bcg")
    es = pt.meta.escalc("RR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    return df, pt.meta.rma("yi", "vi", data=es, slab="author")


def test_baujat_plot_points_are_the_coordinates():
    _, fit = bcg()
    fig = pt.plot.baujat_plot(fit, label=3)
    assert isinstance(fig, Figure)
    xy = pt.meta.baujat(fit)
    pts = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(pts[:, 0], xy["x"])
    np.testing.assert_allclose(pts[:, 1], xy["y"])
    assert len(fig.axes[0].texts) == 3


def test_cumulative_forest_one_row_per_step():
    df, fit = bcg()
    cu = pt.meta.cumul(fit, order=df["year"].to_numpy())
    fig = pt.plot.cumul_forest(cu, transf=np.exp, xlabel="Risk ratio")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Aronson" and labels[-1] == "+ TPT Madras" and len(labels) == fit.k
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(np.sort(ax.collections[-1].get_offsets()[:, 0]), np.sort(np.exp(cu["estimate"])))
