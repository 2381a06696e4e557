import matplotlib

matplotlib.use("Agg")
import pandas as pd
import pytest

from peertrial.plot.simulate import power_curve_plot


def test_power_curve_one_line_per_analysis():
    curve = pd.DataFrame({
        "n": [100, 200, 100, 200], "analysis": ["cox", "cox", "ttest", "ttest"],
        "power": [0.2, 0.4, 0.3, 0.5], "ci_lb": [0.1, 0.3, 0.2, 0.4], "ci_ub": [0.3, 0.5, 0.4, 0.6],
    })
    fig = power_curve_plot(curve)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines[:2]] == ["time to readmission (Cox)", "hope at 12 months (t-test)"]
    assert list(ax.lines[0].get_ydata()) == [0.2, 0.4]


def test_power_curve_names_missing_columns():
    with pytest.raises(ValueError, match="ci_lb"):
        power_curve_plot(pd.DataFrame({"n": [1], "analysis": ["cox"], "power": [0.1], "ci_ub": [0.2]}))
