import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).parent / "fixtures"


def _num(x):
    if isinstance(x, str):
        return {"NA": math.nan, "NaN": math.nan, "Inf": math.inf, "-Inf": -math.inf}.get(x, x)
    if isinstance(x, list):
        return [_num(v) for v in x]
    if isinstance(x, dict):
        return {k: _num(v) for k, v in x.items()}
    return x


def load(name):
    return _num(json.loads((FIXTURES / name).read_text()))


SURV = load("survival_cases.json")
READM = load("readmission_cases.json")


def frame(case):
    return pd.DataFrame(case["data"])


def arr(x):
    return np.atleast_1d(np.asarray(x, dtype=float))


def close(actual, expected, rtol=1e-6, atol=1e-9):
    np.testing.assert_allclose(arr(actual), arr(expected), rtol=rtol, atol=atol, equal_nan=True)


