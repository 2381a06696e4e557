import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import peertrial as pt  # noqa: E402
from peertrial.plot import survival as ps  # noqa: E402

from .survival_refs import SURV, frame  # noqa: E402


def test_km_plot_has_curves_bands_and_risk_table():
    df = frame(SURV["ties_days"])
    km = pt.survival.kaplan_meier(df, "time", "event", "arm")
    fig = ps.km_plot(km, labels={0: "Control", 1: "Peer support"})
    ax, axt = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Control", "Peer support"]
    assert len(ax.collections) == 2  # one CI band per arm
    counts = [t.get_text() for t in axt.texts]
    expected = km.at([0, 90, 180, 270, 360])["n_risk"].round().astype(int).astype(str).tolist()
    assert counts == expected
    plt.close(fig)


def test_cuminc_and_schoenfeld_plots():
    df = frame(SURV["basic"])
    ci = pt.survival.cuminc(df, "time", "status", "arm")
    fig = ps.cuminc_plot(ci)
    assert len(fig.axes[0].get_legend().get_texts()) == 4
    plt.close(fig)
    cx = pt.survival.cox(df, "time", "event", ["arm", "age"])
    fig = ps.schoenfeld_plot(cx)
    assert len(fig.axes) == 2
    assert "PH test" in fig.axes[0].get_title()
    plt.close(fig)


def test_plots_registered_in_plot_namespace():
    assert pt.plot.km_plot is ps.km_plot
