import json
from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def r_sets():
    """Datasets simulated in R with R's results (see fixtures/make_fixtures.R)."""
    sets = json.loads((FIXTURES / "trial_fixtures.json").read_text())
    for s in sets:
        s["frame"] = pd.DataFrame(s["data"])
    return sets


def rel_err(a, b):
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))
