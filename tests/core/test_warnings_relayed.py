"""Library code sets no process-wide warning filters or third-party options, and the
warnings of inner fits reach the user once each, saying where they arose."""

import ast
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial._warnings import PeertrialWarning, relayed

SRC = pathlib.Path(pt.__file__).parent


def _ignore_filters(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("simplefilter", "filterwarnings") and node.args
                and isinstance(node.args[0], ast.Constant) and node.args[0].value == "ignore"):
            yield f"{path.relative_to(SRC)}:{node.lineno}"


def test_no_ignore_filters_in_library_code():
    found = [hit for path in sorted(SRC.rglob("*.py")) for hit in _ignore_filters(path)]
    assert found == []


def test_relayed_says_where_and_says_it_once():
    with pytest.warns(PeertrialWarning) as record:
        with relayed("refit 3"):
            for _ in range(3):
                warnings.warn("no events", PeertrialWarning, stacklevel=1)
            warnings.warn("other", PeertrialWarning, stacklevel=1)
    assert [str(w.message) for w in record] == ["refit 3: no events", "refit 3: other"]
    assert record[0].filename == __file__


def test_relayed_drops_only_what_the_caller_reports_itself():
    with pytest.warns(RuntimeWarning, match="^ctx: kept$") as record:
        with relayed("ctx", expected=[r"^handled", PeertrialWarning]):
            warnings.warn("handled here", RuntimeWarning, stacklevel=1)
            warnings.warn("a documented handling", PeertrialWarning, stacklevel=1)
            warnings.warn("kept", RuntimeWarning, stacklevel=1)
    assert len(record) == 1


def test_subgroup_relays_a_subgroup_fit_warning_with_its_name():
    d = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5], "vi": [0.01, 0.02, 0.015, 0.03], "g": ["a", "a", "a", "b"]})
    with pytest.warns(UserWarning, match=r"subgroup 'b': test=\"knha\" needs k > 1"):
        pt.meta.subgroup(d, by="g", test="knha")


def test_icc_and_alpha_leave_pingouin_alone():
    code = ("import sys, pandas as pd, peertrial as pt\n"
            "d = pd.DataFrame({'s': [1, 2, 3, 4, 5, 6] * 2, 'r': ['A'] * 6 + ['B'] * 6,\n"
            "                  't': [3.1, 2.5, 3.8, 2.2, 3.0, 3.5, 3.3, 2.9, 4.0, 2.6, 3.4, 3.6]})\n"
            "pt.fidelity.icc(d, targets='s', raters='r', ratings='t')\n"
            "pt.fidelity.cronbach_alpha(pd.DataFrame({'i1': [3, 4, 2, 5], 'i2': [2, 4, 2, 5], 'i3': [3, 5, 1, 4]}))\n"
            "assert 'pingouin' not in sys.modules, 'pingouin imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mh_leave1out_names_the_refits_that_cannot_be_computed():
    # one study's removal leaves only double-zero tables: metafor gives NA there
    fit = pt.meta.rma_mh(ai=[0, 2], bi=[10, 8], ci=[0, 1], di=[10, 9], measure="OR")
    with pytest.warns(UserWarning, match="leave1out without") as record:
        out = pt.meta.leave1out(fit)
    assert np.isnan(out["estimate"].iloc[1]) and np.isfinite(out["estimate"].iloc[0])
    assert any("leave1out without" in str(w.message) for w in record)
