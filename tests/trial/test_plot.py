import warnings

import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from peertrial import PeertrialWarning  # noqa: E402
from peertrial.plot.trial import consort_diagram, effects_forest, subgroup_effects_forest  # noqa: E402
from peertrial.trial import consort, effects_by_use, estimate_effects, subgroup_effects  # noqa: E402


def _texts(fig):
    out = []
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts] + [t.get_text() for t in ax.get_yticklabels()]
    return out + [t.get_text() for t in fig.texts]


def test_effects_forest_marks_non_randomised(r_sets, tmp_path):
    d = r_sets[2]["frame"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        eff = estimate_effects(d, outcome="y", covariates=["y0"], received="received")
    fig = effects_forest(eff, extra=effects_by_use(d, outcome="y"))
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    assert "As treated (not randomised)" in texts and "CACE (2SLS)" in texts
    assert "High use (not randomised)" in texts
    from peertrial.plot import save

    assert save(fig, tmp_path / "e.png").stat().st_size > 1000


def test_subgroup_forest_shows_interaction(r_sets):
    res = subgroup_effects(r_sets[0]["frame"], "y", subgroup="diagnosis")
    texts = _texts(subgroup_effects_forest(res))
    assert any(t.startswith("Interaction diagnosis x arm: F(2,") for t in texts)
    assert any(t.startswith("overall (n=") for t in texts)


def test_consort_diagram_counts(r_sets):
    c = consort(r_sets[2]["frame"], outcome="y12", received="received")
    texts = " ".join(_texts(consort_diagram(c)))
    assert f"Randomised\n(n = {int(c.table.loc['randomised'].sum())})" in texts
    n_cont = int(c.table.loc["not_received_allocated", "control"])
    assert f"contamination (n = {n_cont})" in texts


@pytest.mark.parametrize("fn", [effects_forest])
def test_effects_forest_handles_nan(fn):
    import pandas as pd

    df = pd.DataFrame({"estimate": [1.0, float("nan")], "ci_lb": [0.0, float("nan")], "ci_ub": [2.0, float("nan")],
                       "randomised": [True, True]}, index=["itt", "cace"])
    assert "not estimable" in _texts(fn(df))
