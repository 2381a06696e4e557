"""Process models use the one design builder: formulas, C(), numbers stored as text."""

import numpy as np
import pandas as pd
import pytest

import peertrial as pt


def _data():
    rng = np.random.default_rng(11)
    n = 120
    d = pd.DataFrame({"arm": np.repeat([0, 1], n // 2), "sessions": rng.integers(0, 12, n),
                      "age": rng.integers(18, 70, n), "site": rng.integers(1, 4, n),
                      "dx": rng.choice(["other", "psychotic", "personality"], n)})
    d["hope"] = 30 + 0.4 * d["sessions"] + 0.05 * d["age"] + rng.normal(0, 3, n)
    return d


def test_dose_response_formula_equals_list_and_text_numbers_are_numeric():
    d = _data()
    a = pt.process.dose_response(d, "hope", covariates=["age", "site"], )
    b = pt.process.dose_response(d.astype({"age": str}), "hope", covariates="age + site")
    pd.testing.assert_frame_equal(a.coef, b.coef)
    assert list(a.coef.index) == ["(Intercept)", "sessions", "age", "site"]
    f = pt.process.dose_response(d, "hope", covariates="age + C(site)")
    assert list(f.coef.index) == ["(Intercept)", "sessions", "age", "site2", "site3"]


def test_engagement_model_aliased_predictor_is_nan():
    d = _data().assign(age2=lambda x: 2 * x["age"])
    with pytest.warns(pt.PeertrialWarning, match=r"\['age2'\] not estimable"):
        fit = pt.process.engagement_model(d, "sessions", predictors="age + age2 + dx", family="poisson")
    assert np.isnan(fit.coef.loc["age2", "estimate"])
    ref = pt.process.engagement_model(d, "sessions", predictors=["age", "dx"], family="poisson")
    pd.testing.assert_frame_equal(fit.coef.drop("age2"), ref.coef)
