"""Table 1 by arm."""

import statistics

import numpy as np
import pandas as pd
import pytest

from peertrial.randomise import balance_table
from peertrial.randomise.balance import smd_categorical, smd_continuous


@pytest.fixture
def df():
    return pd.DataFrame({
        "arm": [0, 0, 0, 0, 1, 1, 1, 1, 1],
        "age": [30.0, 40, 50, 60, 25, 35, 45, 55, np.nan],
        "female": [1, 0, 1, 1, 0, 0, 1, 0, 1],
        "ethnicity": ["White", "Black", "White", "Asian", "Asian", "White", "White", "Black", None],
        "admissions": [1, 2, 2, 7, 0, 1, 3, 4, 9],
    })


def test_cells_and_smd_by_hand(df):
    before = df.copy()
    t = balance_table(df, arm="arm", nonnormal=["admissions"], arm_labels={0: "control", 1: "peer"})
    pd.testing.assert_frame_equal(df, before)
    assert list(t.columns) == ["control", "peer", "Overall", "SMD"]
    assert t.loc["n"].tolist()[:3] == ["4", "5", "9"]
    # mean (SD) with the statistics module
    assert t.loc["age, mean (SD)", "control"] == f"{statistics.mean([30, 40, 50, 60]):.1f} ({statistics.stdev([30, 40, 50, 60]):.1f})"
    assert t.loc["age, mean (SD)", "peer"] == "40.0 (12.9)"
    assert t.loc["  age missing, n"].tolist()[:3] == ["0", "1", "1"]
    assert t.loc["female = 1, n (%)", "control"] == "3 (75.0%)"
    assert t.loc["female = 1, n (%)", "peer"] == "2 (40.0%)"
    # median [Q1, Q3], R type 7: control 1,2,2,7 -> 2.0 [1.75, 3.25]
    assert t.loc["admissions, median [IQR]", "control"] == "2.0 [1.8, 3.2]"
    assert t.loc["ethnicity, n (%)", "control"] == ""
    assert t.loc["  White", "peer"] == "2 (50.0%)"  # of the 4 non-missing
    # SMDs: continuous and binary by hand
    sd0, sd1 = np.std([30, 40, 50, 60], ddof=1), np.std([25, 35, 45, 55], ddof=1)
    assert float(t.loc["age, mean (SD)", "SMD"]) == pytest.approx(abs(40 - 45) / np.sqrt((sd0**2 + sd1**2) / 2), abs=5e-4)
    p1, p0 = 0.4, 0.75
    assert float(t.loc["female = 1, n (%)", "SMD"]) == pytest.approx(
        abs(p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2), abs=5e-4)


def test_yang_dalton_reduces_to_binary_formula_and_is_label_invariant():
    p1, p0 = 0.3, 0.55
    binary = abs(p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert smd_categorical([1 - p1, p1], [1 - p0, p0]) == pytest.approx(binary)
    a, b = np.array([0.2, 0.5, 0.3]), np.array([0.4, 0.4, 0.2])
    # dropping a different reference level gives the same multivariate SMD
    assert smd_categorical(a, b) == pytest.approx(smd_categorical(a[[2, 0, 1]], b[[2, 0, 1]]))
    assert smd_continuous([1, 2, 3], [1, 2, 3]) == 0


def test_bad_input(df):
    with pytest.raises(ValueError, match="column\\(s\\) 'group' not found"):
        balance_table(df, arm="group")
    bad = df.assign(arm=[0, 1, None, 0, 1, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="column 'arm' \\(arm\\) is missing at rows 2"):
        balance_table(bad)


def test_numbers_match_base_r_fixture():
    """balance_stats against base R (tests/randomise/fixtures/make_fixtures.R)."""
    import json
    from pathlib import Path

    from peertrial.randomise import balance_stats

    here = Path(__file__).parent / "fixtures"
    ref = json.loads((here / "balance.json").read_text())
    data = pd.read_csv(here / "balance_data.csv")
    stats = balance_stats(data, arm="arm", nonnormal=["admissions"])
    stats["group"] = stats["group"].astype(str)
    checked = 0
    for row in ref["rows"]:
        mask = (stats["variable"] == row["variable"]) & (stats["group"] == row["group"])
        if "level" in row:
            mask &= stats["level"] == row["level"]
        got = stats[mask]
        assert len(got) == 1, row
        for key in ("n", "missing", "mean", "sd", "q1", "median", "q3", "count", "percent"):
            if key in row:
                assert got[key].iat[0] == pytest.approx(row[key], rel=1e-10), (row, key)
                checked += 1
    for var, value in ref["smd"].items():
        got = stats.loc[stats["variable"] == var, "smd"].unique()
        assert len(got) == 1 and got[0] == pytest.approx(value, rel=1e-10)
        checked += 1
    assert checked == 82
