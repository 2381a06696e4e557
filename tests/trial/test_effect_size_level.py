"""HedgesG states the confidence level its interval was computed at."""

import pandas as pd
import pytest

import peertrial as pt

D = pd.DataFrame({"arm": [0, 0, 0, 0, 1, 1, 1, 1], "y": [3.0, 5.0, 4.0, 6.0, 6.0, 8.0, 7.0, 5.0]})


@pytest.mark.parametrize("level, label", [(0.95, "95% CI"), (0.9, "90% CI"), (99, "99% CI")])
def test_hedges_g_summary_states_its_level(level, label):
    g = pt.trial.hedges_g(D, "y", level=level)
    assert g.level == pytest.approx(level if level < 1 else level / 100)
    assert label in g.summary()
    assert sum(s in g.summary() for s in ("90% CI", "95% CI", "99% CI")) == 1
    z = {0.95: 1.959963984540054, 0.9: 1.6448536269514722, 99: 2.5758293035489004}[level]
    assert g.ci_ub - g.yi == pytest.approx(z * g.se, rel=1e-12)
