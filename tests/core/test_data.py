import warnings

import numpy as np
import pandas as pd
import pytest

from peertrial import _data


def test_require_columns_names_missing():
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(ValueError, match="'b'"):
        _data.require_columns(df, ["a", "b"])


def test_numeric_names_column_and_row():
    s = pd.Series([1.0, "x", 3.0], index=["s1", "s2", "s3"], name="m1i")
    with pytest.raises(ValueError, match=r"'m1i'.*'s2'"):
        _data.numeric(s)


def test_binary_rejects_other_codes():
    s = pd.Series([0, 1, 2], name="arm")
    with pytest.raises(ValueError, match=r"'arm'.*0/1.*rows 2"):
        _data.binary(s)


def test_check_positive_ignores_nan():
    v = np.array([1.0, np.nan, 2.0])
    _data.check_positive(v, [0, 1, 2], "vi")
    with pytest.raises(ValueError, match=r"'vi'.*positive.*rows 1"):
        _data.check_positive(np.array([1.0, -1.0]), [0, 1], "vi")


def test_drop_missing_warns_and_does_not_modify():
    df = pd.DataFrame({"yi": [1.0, np.nan, 3.0], "vi": [1.0, 1.0, np.nan]}, index=["A", "B", "C"])
    before = df.copy()
    with pytest.warns(UserWarning, match=r"2 studies.*'B', 'C'"):
        out = _data.drop_missing(df, ["yi", "vi"], unit="studies")
    assert list(out.index) == ["A"]
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(ValueError, match="missing"):
        _data.drop_missing(df, ["yi"], action="fail")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _data.drop_missing(df.loc[["A"]], ["yi"]).shape == (1, 2)


def test_as_generator_is_reproducible():
    a = _data.as_generator(5).normal(size=3)
    b = _data.as_generator(5).normal(size=3)
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(1)
    assert _data.as_generator(g) is g
