"""Economic figures: they draw what the results hold."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import peertrial as pt
from peertrial.plot import econ as pe


def _ce():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"arm": np.repeat([0, 1], 60), "cost": rng.gamma(2, 500, 120), "qaly": rng.normal(0.6, 0.1, 120)}
    )
    return pt.econ.cea(df, effect="qaly", n_boot=300, seed=1)


def test_ce_plane_draws_every_replicate_and_wtp_line():
    ce = _ce()
    fig = pe.ce_plane(ce, wtp=20000)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    cloud = ax.collections[0].get_offsets()
    np.testing.assert_allclose(cloud[:, 0], ce.boot_delta_effect)
    np.testing.assert_allclose(cloud[:, 1], ce.boot_delta_cost)
    x, y = ax.lines[-1].get_data()
    np.testing.assert_allclose(np.asarray(y), 20000 * np.asarray(x))


def test_ceac_plot_traces_the_curve():
    ce = _ce()
    fig = pe.ceac(ce, np.linspace(0, 40000, 50))
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_allclose(y, ce.ceac(np.linspace(0, 40000, 50))["prob_cost_effective"])


def test_tornado_one_bar_pair_per_parameter():
    sens = pt.econ.one_way_sensitivity(
        lambda a, b: a * b, {"a": 2.0, "b": 3.0}, {"a": (1, 4), "b": (2, 3.5)}, output_name="product"
    )
    fig = pe.tornado(sens)
    widths = sorted(abs(p.get_width()) for p in fig.axes[0].patches if p.get_height() > 0)
    assert len(widths) == 4
    np.testing.assert_allclose(sorted(widths), sorted([3.0, 6.0, 2.0, 1.0]))


def test_frontier_plot_has_all_strategies():
    res = pt.econ.icer_table([0, 1000, 1500, 1600], [0.0, 0.02, 0.1, 0.05], ["A", "B", "C", "D"])
    fig = pe.ce_frontier(res)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert texts == {"A", "B", "C", "D"}
