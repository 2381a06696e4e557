"""balance_table follows the one typing rule: numbers stored as text are numeric."""

import numpy as np
import pandas as pd
import pytest

import peertrial as pt


def _data():
    rng = np.random.default_rng(5)
    n = 40
    return pd.DataFrame({"arm": np.repeat([0, 1], n // 2), "age": rng.integers(18, 70, n),
                         "site": rng.integers(1, 12, n), "dx": rng.choice(["a", "b"], n)})


def test_numbers_stored_as_text_are_numeric():
    d = _data()
    ref = pt.randomise.balance_stats(d, variables=["age", "dx"])
    got = pt.randomise.balance_stats(d.astype({"age": str}), variables=["age", "dx"])
    pd.testing.assert_frame_equal(got, ref)
    assert set(got.loc[got.variable == "age", "kind"]) == {"continuous"}


def test_categorical_levels_in_r_order_and_mixed_text_raises():
    d = _data()
    stats = pt.randomise.balance_stats(d, variables=["site"], categorical=["site"])
    levels = list(dict.fromkeys(stats["level"]))
    assert levels == [str(v) for v in sorted(d["site"].unique())]  # 10 after 9, as factor()
    bad = d.astype({"age": object})
    bad.loc[[3, 7], "age"] = "unknown"
    with pytest.raises(ValueError, match=r"'age' mixes numbers and text.*rows 3, 7.*categorical="):
        pt.randomise.balance_stats(bad, variables=["age"])
