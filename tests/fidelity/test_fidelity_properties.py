"""Invariances of the fidelity scores and reliability (hypothesis), and remaining bad input."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import peertrial.fidelity as F

REF = json.loads((Path(__file__).parent / "fixtures" / "fidelity_reliability.json").read_text())
RATINGS = pd.DataFrame(REF["ratings"])
BASE = F.score_fidelity(RATINGS)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_scores_and_alpha_ignore_row_order(seed):
    shuffled = RATINGS.sample(frac=1.0, random_state=np.random.RandomState(seed % 2**32))
    s = F.score_fidelity(shuffled)
    pd.testing.assert_frame_equal(s.by_worker(), BASE.by_worker())
    np.testing.assert_allclose(F.cronbach_alpha(s).table["alpha"], F.cronbach_alpha(BASE).table["alpha"], rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.floats(-5, 5), st.floats(0.2, 5))
def test_icc_invariant_to_linear_rescaling(shift, scale):
    long = BASE.occasions[["total"]].reset_index()
    res = F.icc(long, targets=["peer_worker", "session"], raters="rater", ratings="total")
    moved = F.icc(long.assign(total=shift + scale * long["total"]), targets=["peer_worker", "session"], raters="rater", ratings="total")
    np.testing.assert_allclose(moved.table["icc"], res.table["icc"], rtol=1e-9)


def test_kappa_perfect_agreement_is_one():
    df = pd.DataFrame({"a": [1, 2, 3, 4, 2, 3], "b": [1, 2, 3, 4, 2, 3]})
    res = F.weighted_kappa(df, "a", "b", weights="linear")
    np.testing.assert_allclose(res.table[["kappa", "weighted_kappa"]].to_numpy(), 1.0)
    assert res.table["se_weighted"].iloc[0] == 0.0 and res.table["se_kappa"].iloc[0] == 0.0


def test_bad_arguments_are_named():
    df = pd.DataFrame({"a": [1, 2, 3], "b": [1, 3, 2]})
    with pytest.raises(ValueError, match="weights must be"):
        F.weighted_kappa(df, "a", "b", weights="cubic")
    with pytest.raises(ValueError, match="single category"):
        F.weighted_kappa(pd.DataFrame({"a": [2, 2], "b": [2, 2]}), "a", "b")
    one = pd.DataFrame({"s": [1, 2, 3], "r": ["A"] * 3, "y": [1.0, 2, 3]})
    with pytest.raises(ValueError, match="ICC needs two or more"):
        F.icc(one, targets="s", raters="r", ratings="y")
    with pytest.raises(ValueError, match="column\\(s\\) 'domain' not found"):
        F.score_fidelity(RATINGS.drop(columns="domain"))
    clash = RATINGS.copy()
    clash.loc[0, "domain"] = "reciprocity_mutuality"
    with pytest.raises(ValueError, match="more than one domain"):
        F.score_fidelity(clash)
    with pytest.raises(ValueError, match="min_present"):
        F.score_fidelity(RATINGS, min_present=0)
    with pytest.raises(ValueError, match="not 'total' or a domain"):
        F.icc(BASE, ratings="nope")


@st.composite
def _small_trials(draw):
    """Tiny, tie-heavy designs: singleton and boundary fits, constant columns, few controls."""
    k = draw(st.integers(2, 5))
    sizes = draw(st.lists(st.integers(1, 4), min_size=k, max_size=k))
    fid = draw(st.lists(st.sampled_from([1.0, 2.0, 3.5]), min_size=k, max_size=k))
    n_ctl = draw(st.integers(0, 5))
    n = sum(sizes) + n_ctl
    y = draw(st.lists(st.sampled_from([10.0, 11.0, 13.0]), min_size=n, max_size=n))
    x = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
    workers = [f"W{j}" for j, s in enumerate(sizes) for _ in range(s)] + [None] * n_ctl
    data = pd.DataFrame({"peer_worker": workers, "arm": [1] * sum(sizes) + [0] * n_ctl, "y": y, "x": x})
    return data, pd.Series(fid, index=[f"W{j}" for j in range(k)]), draw(st.sampled_from(["intervention", "all"]))


@settings(max_examples=60, deadline=None)
@given(_small_trials())
def test_moderation_fits_or_names_the_problem(case):
    """Every design either fits (variance >= 0, finite estimates; a boundary fit equals least squares)
    or raises ValueError — never a LinAlgError from the solver."""
    import warnings

    data, fid, population = case
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = F.fidelity_moderation(data, fid, "y", covariates=["x"], population=population)
    except ValueError:
        return
    assert res.var_worker >= 0 and res.var_residual > 0
    assert np.isfinite(res.coef[["estimate", "se"]].to_numpy()).all()
    if res.var_worker == 0:
        rows = data if population == "all" else data[data["arm"] == 1]
        f = rows["peer_worker"].map(fid).fillna(0.0).to_numpy()
        arm = rows["arm"].to_numpy(float)
        fc = arm * (f - fid.loc[rows.loc[arm == 1, "peer_worker"].unique()].mean())
        cols = [np.ones(len(rows)), fc] if population == "intervention" else [np.ones(len(rows)), arm, fc]
        X = np.column_stack([*cols, rows["x"]])
        np.testing.assert_allclose(res.coef["estimate"], np.linalg.lstsq(X, rows["y"].to_numpy(), rcond=None)[0], rtol=1e-7, atol=1e-9)
