"""Randomisation figures return matplotlib Figures built from the results."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from peertrial.plot import randomise as rplot
from peertrial.randomise import simulate_design

STRATA = {"site": [1, 2, 3], "diagnosis": ["psychotic", "personality", "other"]}


@pytest.fixture(scope="module")
def sims():
    kw = dict(strata=STRATA, reps=40, seed=1)
    return {"blocks": simulate_design(60, design="blocks", **kw), "simple": simulate_design(60, design="simple", **kw)}


def test_design_imbalance(sims):
    fig = rplot.design_imbalance(sims)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    ecdf = fig.axes[0].lines[0].get_xdata()
    assert np.array_equal(np.sort(sims["blocks"].imbalance), ecdf)
    bars = [p.get_width() for p in fig.axes[2].patches]
    np.testing.assert_allclose(bars, [sims["blocks"].predictability.mean(), sims["simple"].predictability.mean()])


def test_stratum_heatmap(sims):
    fig = rplot.stratum_imbalance(sims["simple"])
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (3, 3)
    np.testing.assert_allclose(shown[0, 0], sims["simple"].stratum_imbalance[:, 0].mean())
    with pytest.raises(ValueError, match="exactly two stratum factors"):
        rplot.stratum_imbalance(simulate_design(10, reps=2, seed=1))


def test_allocation_sequence():
    df = pd.DataFrame({"id": [3, 1, 2, 4], "arm": [1, 1, 0, 0], "site": [1, 1, 2, 2]})
    fig = rplot.allocation_sequence(df)
    assert list(fig.axes[0].lines[0].get_ydata()) == [1, 0, 1, 0]  # ids 1, 2, 3, 4
    fig = rplot.allocation_sequence(df, by="site")
    assert [list(ax.lines[0].get_ydata()) for ax in fig.axes] == [[1, 2], [-1, -2]]  # site 1: ids 1, 3; site 2: 2, 4
