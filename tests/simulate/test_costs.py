import numpy as np
import pytest

import peertrial as pt
from peertrial.simulate import BED_USE_COLUMNS, bed_use_studies


def test_columns_and_reproducible():
    a = bed_use_studies(seed=3)
    assert tuple(a.columns) == BED_USE_COLUMNS
    assert a.equals(bed_use_studies(seed=3))
    np.testing.assert_allclose(a["benefit"], a["bed_days_saved"] * 415.0, atol=0.01)


def test_pooled_ratio_recovers_target_in_large_samples():
    # E[sum benefit] / E[sum cost] = target_ratio because n, pay and bed days are independent
    studies = bed_use_studies(k=4000, target_ratio=4.76, seed=11)
    pooled = pt.econ.pooled_ratio(studies, cost="cost", benefit="benefit")
    assert pooled.estimate == pytest.approx(4.76, rel=0.03)


def test_standard_errors_match_the_spread_of_estimates():
    # with no heterogeneity, bed days saved per person vary only by sampling error
    studies = bed_use_studies(k=4000, tau=0.0, n_range=(100, 100), seed=5)
    per_person = studies["bed_days_saved"] / studies["n"]
    assert per_person.std() == pytest.approx((studies["bed_days_saved_se"] / studies["n"]).mean(), rel=0.05)


def test_rejects_no_studies():
    with pytest.raises(ValueError, match="k must be at least 1"):
        bed_use_studies(k=0)
