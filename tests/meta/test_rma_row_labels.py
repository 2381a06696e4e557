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
    dat.loc[2, "vi"] = -0.1
    with pytest.raises(ValueError, match=r"'vi'.* 2$"):
        pt.meta.rma("yi", "vi", data=dat)
    with pytest.raises(ValueError, match=r"'p2'"):
        pt.meta.rma("yi", "vi", data=dat.set_axis([f"p{i}" for i in range(5)]))
