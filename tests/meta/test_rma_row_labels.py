"""rma names bad rows by the user's own index labels (integers stay integers)."""

import numpy as np
import pandas as pd
import pytest

import peertrial as pt


@pytest.fixture
def dat():
    return pd.DataFrame({"yi": [0.1, 0.3, -0.2, 0.5, 0.2], "vi": [0.04, 0.05, 0.03, 0.06, 0.05]})


def test_missing_rows_named_with_integer_labels(dat):
    dat.loc[[1, 3], "yi"] = np.nan
    with pytest.warns(UserWarning, match=r"omitted from model fitting: 1, 3$"):
        pt.meta.rma("yi", "vi", data=dat)


def test_nonpositive_variance_named_with_integer_label(dat):
    dat.loc[2, "vi"] = -0.1  # as metafor: constrained to 0 with warnings naming the row
    for frame, label in ((dat, "2"), (dat.set_axis([f"p{i}" for i in range(5)]), "'p2'")):
        with pytest.warns(UserWarning) as record:
            try:
                pt.meta.rma("yi", "vi", data=frame)
            except ValueError as exc:  # tau2 = 0 with a zero variance: division by zero, as metafor
                assert "division by zero" in str(exc)
        messages = [str(w.message) for w in record]
        assert any(f"'vi' at rows {label})" in m for m in messages)
        assert any("constrained to zero" in m for m in messages)
