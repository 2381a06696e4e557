"""The one design builder (peertrial._design): typing rule, R names and order, aliasing."""

import numpy as np
import pandas as pd
import pytest

from peertrial import _design


@pytest.fixture
def frame():
    return pd.DataFrame({
        "arm": [0, 1, 0, 1, 0, 1, 0, 1],
        "site": [1, 2, 3, 1, 2, 3, 3, 10],
        "dx": list("bacbcabc"),
        "age": [31.0, 42, 35, 50, 28, 61, 44, 39],
        "year": ["2001", "2002", "1999", "2000", "2001", "2002", "2003", "2004"],
        "flag": [True, False] * 4,
    })


def test_list_and_formula_give_the_same_design(frame):
    a = _design.build(frame, ["arm", "site", "dx", "age"], factors=["site"])
    b = _design.build(frame, "arm + C(site) + dx + age")
    c = _design.build(frame, "~ arm + C(site) + dx + age")
    assert a.names == b.names == c.names == ["arm", "site2", "site3", "site10", "dxb", "dxc", "age"]
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(b.X, c.X)


def test_typing_rule(frame):
    # numbers (also stored as text) are one numeric column; text, booleans are factors
    d = _design.build(frame, ["site", "year", "flag", "dx"])
    assert d.names == ["site", "year", "flagTRUE", "dxb", "dxc"]
    np.testing.assert_array_equal(d.X[:, 1], frame["year"].astype(float))
    # C() on text numbers: R's factor() levels (sorted as text)
    assert _design.build(frame, "C(year)").names == ["year2000", "year2001", "year2002", "year2003", "year2004"]
    # numeric factor levels sort numerically (10 after 3) and print as R prints them
    assert _design.build(frame.assign(site=frame["site"].astype(float)), "C(site)").names == [
        "site2", "site3", "site10"]


def test_mixed_numbers_and_text_raise_naming_rows(frame):
    bad = frame.assign(site=[1, 2, "x", 1, 2, 3, "y", 1])
    with pytest.raises(ValueError, match=r"'site' mixes numbers and text.*rows 2, 6.*C\(site\)"):
        _design.build(bad, ["site"])
    assert _design.build(bad, "C(site)").names[:2] == ["site2", "site3"]


def test_r_term_order_and_interaction_names(frame):
    # R: main effects first (in the order written), then interactions; first factor varies fastest
    d = _design.build(frame, "dx:age + arm + dx", intercept=True)
    assert d.names == ["(Intercept)", "arm", "dxb", "dxc", "dxa:age", "dxb:age", "dxc:age"]
    assert _design.build(frame, "arm * dx").names == ["arm", "dxb", "dxc", "arm:dxb", "arm:dxc"]
    # without an intercept the first factor has every level (R's "- 1")
    assert _design.build(frame, "dx + arm", intercept=False).names == ["dxa", "dxb", "dxc", "arm"]


def test_categorical_keeps_its_level_order_and_drops_unused(frame):
    cat = pd.Categorical(frame["dx"], categories=["c", "b", "a", "z"])
    assert _design.build(frame.assign(dx=cat), ["dx"]).names == ["dxb", "dxa"]


def test_new_data_uses_the_fitted_levels(frame):
    d = _design.build(frame, "C(site) + age", intercept=True)
    new = pd.DataFrame({"site": [10, 1], "age": [40.0, 50.0]})
    np.testing.assert_array_equal(d.new(new), [[1, 0, 0, 1, 40], [1, 0, 0, 0, 50]])
    with pytest.raises(ValueError, match=r"level\(s\) \[7\] not seen"):
        d.new(pd.DataFrame({"site": [7], "age": [1.0]}))


def test_errors_name_the_problem(frame):
    with pytest.raises(ValueError, match=r"column\(s\) 'nope' not found"):
        _design.build(frame, "arm + nope")
    with pytest.raises(ValueError, match="missing values at rows 3"):
        _design.build(frame.assign(age=[1, 2, 3, np.nan, 5, 6, 7, 8]), ["age"])
    assert _design.variables("arm + C(site) + np.log(age)") == ["arm", "site", "age"]


def test_without_removes_terms_of_a_column(frame):
    spec, factors = _design.without("C(site) + dx + site:age + age", "site")
    assert _design.build(frame, spec, factors).names == ["dxb", "dxc", "age"]
    assert _design.without(["site", "dx"], "site") == (["dx"], [])


def test_aliased_columns_follow_lm():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20)
    X = np.column_stack([np.ones(20), x, 2 * x + 1, rng.normal(size=20), np.zeros(20)])
    np.testing.assert_array_equal(_design.aliased(X), [False, False, True, False, True])
    with pytest.warns(UserWarning, match=r"\['c', 'e'\] not estimable"):
        keep = _design.drop_aliased(X, list("abcde"))
    np.testing.assert_array_equal(keep, [True, True, False, True, False])
    with pytest.raises(ValueError, match=r"\['c'\] is a linear combination"):
        _design.drop_aliased(X, list("abcde"), protect=["c"])
