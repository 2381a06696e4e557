"""Fidelity figures: each returns a Figure drawing the result it was given."""

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import peertrial.fidelity as F  # noqa: E402
from peertrial.plot import fidelity as fplot  # noqa: E402

FIX = Path(__file__).parent / "fixtures"
REF = json.loads((FIX / "fidelity_reliability.json").read_text())
MOD = json.loads((FIX / "fidelity_moderator.json").read_text())


def test_profile_plot_shows_every_worker_and_domain():
    scores = F.score_fidelity(pd.DataFrame(REF["ratings"]))
    fig = fplot.fidelity_profile(scores)
    ax, ax2 = fig.axes[:2]
    assert len(ax.get_yticklabels()) == 12 and len(ax.get_xticklabels()) == 5
    heat = ax.images[0].get_array()
    order = scores.by_worker().sort_values("total")
    np.testing.assert_allclose(heat, order[list(scores.domains)].to_numpy())
    np.testing.assert_allclose(ax2.lines[0].get_xdata(), order["total"])
    plt.close(fig)


def test_alpha_and_moderation_plots():
    scores = F.score_fidelity(pd.DataFrame(REF["ratings"]))
    fig = fplot.alpha_plot(F.cronbach_alpha(scores))
    assert len(fig.axes[0].get_yticklabels()) == 6
    plt.close(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = F.fidelity_moderation(pd.DataFrame(MOD["trial"]), pd.Series(MOD["worker_fidelity"]), "hope_12", covariates=["age"])
    fig = fplot.fidelity_moderation_plot(res)
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 12
    x, y = ax.lines[0].get_data()
    slope = (y[-1] - y[0]) / (x[-1] - x[0])
    np.testing.assert_allclose(slope, res.coef.loc["fidelity", "estimate"])
    plt.close(fig)
