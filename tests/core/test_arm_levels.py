"""Errors that say how to fix: text arms (``arm_levels=``), thousands separators, file lines."""

import inspect

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import _data
from peertrial.cli import main

MODULES = ("trial", "survival", "econ", "process", "fidelity")


def _public_functions():
    import importlib

    for name in MODULES:
        mod = importlib.import_module(f"peertrial.{name}")
        for attr in getattr(mod, "__all__", dir(mod)):
            obj = getattr(mod, attr)
            if inspect.isfunction(obj):
                yield f"{name}.{attr}", obj


def test_every_function_taking_an_arm_accepts_arm_levels():
    """A new public function with a 0/1 arm column cannot slip past without arm_levels=."""
    taking = []
    for qual, fn in _public_functions():
        params = inspect.signature(fn).parameters
        if "arm" in params and (params["arm"].default is None or isinstance(params["arm"].default, str)):
            taking.append(qual)
            assert "arm_levels" in params, f"{qual} takes an arm column but not arm_levels="
            assert "arm_levels" in (fn.__doc__ or ""), f"{qual} does not document arm_levels="
    assert {"trial.estimate_effects", "survival.readmission_12m", "econ.cea", "process.engagement_summary"} <= set(taking)
    assert "arm_levels" in inspect.signature(pt.process.mediation).parameters


def test_text_arm_error_shows_values_and_the_fix():
    s = pd.Series(["Peer", "Control", "Peer", None], name="group")
    with pytest.raises(ValueError) as err:
        _data.arm_codes(s)
    msg = str(err.value)
    assert "'Control' (1 row)" in msg and "'Peer' (2 rows)" in msg
    assert "arm_levels={'Control': 0, 'Peer': 1}" in msg and "rows 0, 1, 2" in msg


def test_arm_levels_mapping_pair_and_numbers():
    s = pd.Series(["Peer", "Control", None, "Peer"])
    np.testing.assert_array_equal(_data.arm_codes(s, "a", {"Control": 0, "Peer": 1}), [1, 0, np.nan, 1])
    np.testing.assert_array_equal(_data.arm_codes(s, "a", ("Control", "Peer")), [1, 0, np.nan, 1])
    # numbers 1/2 (e.g. exported from other software), also when stored as text
    np.testing.assert_array_equal(_data.arm_codes(pd.Series([2, 1]), "a", {1: 0, 2: 1}), [1, 0])
    np.testing.assert_array_equal(_data.arm_codes(pd.Series(["2", "1"]), "a", {1: 0, 2: 1}), [1, 0])
    with pytest.raises(ValueError, match=r"'a'.*1 \(1 row\), 2 \(1 row\).*arm_levels=\{1: 0, 2: 1\}"):
        _data.arm_codes(pd.Series([2, 1]), "a")
    with pytest.raises(ValueError, match=r"not named in arm_levels \('peer'\) at rows 1"):
        _data.arm_codes(pd.Series(["Peer", "peer"]), "a", {"Control": 0, "Peer": 1})
    with pytest.raises(ValueError, match="at least one value to 0"):
        _data.arm_codes(s, "a", {"Control": 1, "Peer": 1})
    with pytest.raises(ValueError, match="map to 0"):
        _data.arm_codes(s, "a", {"Control": "0", "Peer": 1})


def _trial(seed=3, n=120):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    return pd.DataFrame({
        "arm": arm, "age": rng.integers(20, 70, n), "received": arm * (rng.random(n) < 0.7),
        "sessions": arm * rng.integers(0, 8, n), "y0": rng.normal(30, 5, n),
        "y": rng.normal(30, 5, n) + arm, "event": rng.integers(0, 2, n), "cost": rng.gamma(2, 500, n),
        "qaly": rng.normal(0.7, 0.1, n), "site": rng.integers(1, 4, n), "count": rng.poisson(1 + arm, n),
    })


@pytest.mark.parametrize("call", [
    lambda d, **k: pt.trial.estimate_effects(d, "y", received="received", covariates=["y0"], **k),
    lambda d, **k: pt.trial.hedges_g(d, "y", **k).to_frame(),
    lambda d, **k: pt.survival.readmission_12m(d, "event", covariates=(), **k).to_frame(),
    lambda d, **k: pt.survival.count_ratio(d, "count", exposure=None, **k).to_frame(),
    lambda d, **k: pt.econ.cea(d, cost="cost", effect="qaly", n_boot=50, seed=1, **k).to_frame(),
    lambda d, **k: pt.process.mediation(d, "arm", "y0", "y", n_boot=100, seed=1, **k).to_frame(),
])
def test_text_arm_with_arm_levels_equals_numeric(call):
    d = _trial()
    text = d.assign(arm=d["arm"].map({0: "Control", 1: "Peer"}))
    before = text.copy()
    expected = call(d)
    got = call(text, arm_levels={"Control": 0, "Peer": 1})
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(text, before)  # the caller's data is not recoded in place
    with pytest.raises(ValueError, match=r"arm_levels=\{'Control': 0, 'Peer': 1\}"):
        call(text)


def test_thousands_separator_shows_value_and_suggests_thousands():
    s = pd.Series(["1200.5", "10,240.83", "3,000"], name="cost_total")
    with pytest.raises(ValueError) as err:
        _data.numeric(s)
    msg = str(err.value)
    assert "'10,240.83'" in msg and "rows 1, 2" in msg and "thousands=','" in msg
    with pytest.raises(ValueError, match="decimal=','"):
        _data.numeric(pd.Series(["1,5", "2"], name="x"))
    with pytest.raises(ValueError) as err:
        _data.numeric(pd.Series(["abc", "2"], name="x"))
    assert "'abc'" in str(err.value) and "thousands" not in str(err.value)


def test_read_csv_names_rows_by_file_line_and_id(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,note,cost\nP1,a,"10,240.83"\nP2,b,12\n\nP3,"note\nover two lines","1,000"\nP4,c,5\n')
    d = _data.read_csv(path)
    assert list(d.index) == [2, 3, 5, 7]
    with pytest.raises(ValueError, match=r"rows line 2, line 5\b"):
        _data.numeric(d["cost"], "cost")
    d = _data.read_csv(path, id="id")
    with pytest.raises(ValueError, match=r"rows line 2 \(id 'P1'\), line 5 \(id 'P3'\)"):
        _data.numeric(d["cost"], "cost")
    assert _data.read_csv(path, thousands=",").loc[2, "cost"] == 10240.83


def test_cli_names_file_lines_and_takes_arm_levels(tmp_path, capsys):
    d = _trial(n=80)
    path = tmp_path / "trial.csv"
    text = d.assign(arm=d["arm"].map({0: "Control", 1: "Peer"}), id=[f"P{i:03d}" for i in range(len(d))])
    text.to_csv(path, index=False)
    assert main(["econ", "cea", str(path), "--cost", "cost", "--effect", "qaly", "--seed", "1",
                 "--n-boot", "20"]) == 1
    err = capsys.readouterr().err
    assert "line 2, line 3" in err and "arm_levels=" in err
    assert main(["econ", "cea", str(path), "--cost", "cost", "--effect", "qaly", "--seed", "1",
                 "--n-boot", "20", "--arm-levels", "Control", "Peer"]) == 0
    bad = text.assign(cost=text["cost"].map("{:,.2f}".format))
    bad.to_csv(path, index=False)
    assert main(["survival", "readmission", str(path), "--outcome", "cost", "--covariates", "--id", "id",
                 "--arm-levels", "Control", "Peer"]) == 1
    err = capsys.readouterr().err
    assert "thousands=','" in err and "(id 'P" in err and "line " in err and "--thousands ," in err
    assert main(["econ", "cea", str(path), "--cost", "cost", "--effect", "qaly", "--seed", "1", "--n-boot", "20",
                 "--arm-levels", "Control", "Peer", "--thousands", ","]) == 0


def test_covariate_with_thousands_separators_is_not_silently_a_factor():
    """A numeric covariate read as text ("12,000") raises with the fix, not 3 factor levels."""
    income = pd.Series(["12,000", "8,500", "1,250,000", None], name="income")
    with pytest.raises(ValueError, match=r"'income' must be numeric.*'12,000'.*thousands=','.*factors="):
        _data.is_factor(income, "income", [])
    assert _data.is_factor(income, "income", ["income"])  # named as a factor: its values are labels
    mixed = pd.Series(["12000", "8,500"], name="income")
    with pytest.raises(ValueError, match="thousands=','"):
        _data.is_factor(mixed, "income", [])
    assert _data.is_factor(pd.Series(["a", "b,c"]), "x", [])  # ordinary text stays a factor
    d = _trial().assign(cost=lambda f: f["cost"].map("{:,.2f}".format))
    with pytest.raises(ValueError, match="thousands=','"):
        pt.trial.estimate_effects(d, "y", received="received", covariates=["cost"])
