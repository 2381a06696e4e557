"""Studies whose effect size cannot be computed are NA (with a warning) and omitted, as metafor."""

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import PeertrialWarning

# metafor 3.8: escalc("ROM", ...) on these rows gives NA for rows 2 and 3 ("NaNs produced",
# "+-Inf recoded to NAs"); rma(yi, vi) omits them: k = 2, estimate 0.1784047 (REML).
DATA = pd.DataFrame(dict(m1i=[10, -2, 8, 9], sd1i=[2, 2, 2, 3], n1i=[20, 20, 30, 25],
                         m2i=[8, 7, 0, 8], sd2i=[2, 3, 2, 2], n2i=[20, 22, 30, 25]))
COLS = dict(m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")


def test_rom_non_positive_mean_is_na_with_warning():
    before = DATA.copy()
    with pytest.warns(PeertrialWarning, match=r"ROM cannot be computed for rows 1, 2"):
        es = pt.meta.escalc("ROM", DATA, **COLS)
    pd.testing.assert_frame_equal(DATA, before)
    assert np.isnan(es["yi"].iloc[[1, 2]]).all() and np.isnan(es["vi"].iloc[[1, 2]]).all()
    assert es["yi"].iloc[0] == pytest.approx(np.log(10 / 8))
    with pytest.warns(UserWarning, match="2 studies with missing values omitted"):
        fit = pt.meta.rma("yi", "vi", data=es)
    assert fit.k == 2
    assert fit.b == pytest.approx(0.1784047362650292, rel=1e-7)


def test_rom_two_negative_means_is_computed_as_metafor():
    d = DATA.assign(m1i=[-10, -2, 8, 9], m2i=[-8, -4, 7, 8])
    es = pt.meta.escalc("ROM", d, **COLS)
    assert es["yi"].iloc[0] == pytest.approx(np.log(10 / 8))
    assert es["yi"].iloc[1] == pytest.approx(np.log(0.5))


def test_smd_with_both_sds_zero_is_na():
    d = DATA.assign(sd1i=[0, 2, 2, 3], sd2i=[0, 3, 2, 2])
    with pytest.warns(PeertrialWarning, match=r"SMD cannot be computed for rows 0"):
        es = pt.meta.escalc("SMD", d, **COLS)
    assert np.isnan(es["yi"].iloc[0]) and np.isfinite(es["yi"].iloc[1:]).all()
