"""Process figures: each returns a Figure drawing the result it was given."""

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import peertrial.process as P  # noqa: E402
from peertrial.plot import process as pplot  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures" / "process.json").read_text())
DATA = pd.DataFrame(REF["data"])


def test_engagement_plot_bars_are_the_distribution():
    df = DATA.assign(peer_worker=np.where(DATA["arm"] == 1, DATA.index % 5 + 1, np.nan))
    summ = P.engagement_summary(df, peer_worker="peer_worker")
    fig = pplot.engagement_plot(summ)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == list(summ.distribution["peer support"])
    assert len(fig.axes[1].get_yticklabels()) == 5
    plt.close(fig)


def test_curve_plots_follow_km():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        contact = P.time_to_first_contact(DATA, time="contact_days")
    fig = pplot.survival_curve_plot(contact)
    y = fig.axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(y[1:], 1 - contact.table["surv"])  # cumulative proportion contacted
    plt.close(fig)
    ret = P.worker_retention(pd.DataFrame(REF["retention"]["data"]), group="band")
    fig = pplot.survival_curve_plot(ret, ylabel="proportion still in post")
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_ylabel() == "proportion still in post"
    plt.close(fig)


def test_mediation_implementation_and_dose_plots():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        med = P.mediation(DATA, "arm", "hope_4", "hope_12", n_boot=200, seed=2)
        dose = P.dose_response(DATA, "hope_12")
    fig = pplot.mediation_plot(med)
    assert sum(p.get_height() for p in fig.axes[1].patches) == 200
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert f"{med.paths.loc['a', 'estimate']:.2f}" in texts
    plt.close(fig)
    imp = P.implementation_outcomes({"completed": (10, 28), "in post": (7, 7)})
    fig = pplot.implementation_plot(imp)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), [10 / 28, 1.0])
    plt.close(fig)
    fig = pplot.dose_response_plot(DATA, dose)
    x, y = fig.axes[0].lines[1].get_data()
    np.testing.assert_allclose((y[-1] - y[0]) / (x[-1] - x[0]), dose.coef.loc["sessions", "estimate"])
    plt.close(fig)


def test_mediation_and_implementation_plots_state_the_results_level():
    # the titles said "95%" whatever level the result was computed at
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        med = P.mediation(DATA, "arm", "hope_4", "hope_12", n_boot=100, seed=2, level=0.9)
    fig = pplot.mediation_plot(med)
    assert fig.axes[1].get_title() == "100 resamples, 90% percentile CI"
    lo, hi = (line.get_xdata()[0] for line in fig.axes[1].lines[:2])
    assert (lo, hi) == (med.paths.loc["indirect", "ci_lb"], med.paths.loc["indirect", "ci_ub"])
    plt.close(fig)
    fig = pplot.implementation_plot(P.implementation_outcomes({"trained": (10, 28)}, level=0.9))
    assert fig.axes[0].get_xlabel() == "proportion (90% CI)"
    plt.close(fig)
