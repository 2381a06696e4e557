"""Scoring, alpha, ICC and weighted kappa against psych (fixtures/make_fixtures.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial.fidelity as F
from peertrial._warnings import PeertrialWarning

REF = json.loads((Path(__file__).parent / "fixtures" / "fidelity_reliability.json").read_text())
RTOL = 1e-6


@pytest.fixture(scope="module")
def ratings():
    return pd.DataFrame(REF["ratings"])


@pytest.fixture(scope="module")
def scores(ratings):
    return F.score_fidelity(ratings)


def test_domains_follow_principles_order(scores):
    assert scores.domains == tuple(F.PRINCIPLES)
    assert scores.scale == (1.0, 4.0)


def test_worker_fidelity_matches_r(scores):
    got = scores.worker_scores()
    want = pd.Series(REF["worker_fidelity"])
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-12)


def test_wide_format_gives_same_scores(ratings, scores):
    wide = ratings.pivot_table(index=["peer_worker", "rater", "session"], columns="item", values="score").reset_index()
    items = {d: [i for i, dd in zip(REF["items"], REF["item_domain"]) if dd == d] for d in F.PRINCIPLES}
    sw = F.score_fidelity(wide, items=items)
    pd.testing.assert_frame_equal(sw.by_worker(), scores.by_worker())


def test_single_rater_without_rater_column(ratings):
    only_a = ratings[ratings["rater"] == "A"].drop(columns="rater")
    s = F.score_fidelity(only_a, rater=None)
    want = F.score_fidelity(ratings[ratings["rater"] == "A"]).by_worker()
    pd.testing.assert_frame_equal(s.by_worker(), want)


def test_alpha_matches_psych_raw_alpha_and_feldt(scores):
    res = F.cronbach_alpha(scores)
    for scale, ref in REF["alpha"].items():
        row = res.table.loc[scale]
        assert row["n_items"] == ref["n_items"] and row["n"] == ref["n"]
        np.testing.assert_allclose(row["alpha"], ref["raw_alpha"], rtol=RTOL)
        np.testing.assert_allclose(row["ci_lb"], ref["feldt_lower"], rtol=RTOL)
        np.testing.assert_allclose(row["ci_ub"], ref["feldt_upper"], rtol=RTOL)
    assert "Feldt" in res.summary()


def test_alpha_pairwise_missing_matches_psych(scores):
    # rows in the R script's order: worker, session, rater
    x = scores.items.reorder_levels([0, 2, 1]).sort_index().reset_index(drop=True)[REF["items"]].copy()
    for r, c in REF["alpha_missing"]["na_cells"]:
        x.iat[r, c] = np.nan
    res = F.cronbach_alpha(x)
    np.testing.assert_allclose(res.table.loc["total", "alpha"], REF["alpha_missing"]["raw_alpha"], rtol=RTOL)


def _check_icc(res, ref_rows):
    ref = pd.DataFrame(ref_rows).set_index("type")
    table = res.table.set_index("psych")
    for col, rcol in [("icc", "icc"), ("F", "F"), ("df1", "df1"), ("df2", "df2"), ("pval", "p"), ("ci_lb", "lower"), ("ci_ub", "upper")]:
        np.testing.assert_allclose(table.loc[ref.index, col].to_numpy(float), ref[rcol].to_numpy(float), rtol=RTOL, err_msg=col)


def test_icc_of_total_matches_psych(scores):
    res = F.icc(scores)
    _check_icc(res, REF["icc"])
    assert res.n_targets == 36 and res.n_raters == 2
    assert "ICC(2,1)" in res.table.index and "ICC(3,k)" in res.table.index
    assert res["ICC(2,1)"]["description"].startswith("two-way random, absolute")


def test_icc_shrout_fleiss_example_matches_psych():
    sf = np.array(REF["sf"])
    long = pd.DataFrame(
        [(t, j, sf[t, j]) for t in range(sf.shape[0]) for j in range(sf.shape[1])], columns=["target", "judge", "y"]
    )
    res = F.icc(long, targets="target", raters="judge", ratings="y")
    _check_icc(res, REF["sf_icc"])
    # Shrout & Fleiss (1979) Table 4: ICC(1,1)=.17, ICC(2,1)=.29, ICC(3,1)=.71
    np.testing.assert_allclose(res.table["icc"].iloc[:3].round(2), [0.17, 0.29, 0.71])


def test_icc_raters_without_overlap_raise():
    df = pd.DataFrame({"s": [1, 2, 3, 4], "r": ["A", "A", "B", "B"], "y": [1.0, 2, 3, 4]})
    with pytest.raises(ValueError, match="no overlap"):
        F.icc(df, targets="s", raters="r", ratings="y")


def test_icc_incomplete_targets_named_and_dropped():
    df = pd.DataFrame({"s": [1, 1, 2, 2, 3, 3, 4], "r": ["A", "B"] * 3 + ["A"], "y": [1.0, 2, 3, 3, 4, 5, 2]})
    with pytest.warns(PeertrialWarning, match="4"):
        res = F.icc(df, targets="s", raters="r", ratings="y")
    assert res.n_targets == 3 and res.dropped_targets == (4,)


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_item_kappa_matches_psych(scores, weights):
    res = F.item_kappa(scores, weights=weights)
    for item, ref in REF["kappa"].items():
        row = res.table.loc[item]
        np.testing.assert_allclose(row["weighted_kappa"], ref[weights], rtol=RTOL)
        np.testing.assert_allclose(row["kappa"], ref["kappa"], rtol=RTOL)
        np.testing.assert_allclose(row["se_kappa"] ** 2, ref["var_kappa"], rtol=RTOL)
        # weighted SE: Fleiss, Cohen & Everitt (1969), written out in the R script
        np.testing.assert_allclose(row["se_weighted"] ** 2, ref[f"{weights}_var_fce"], rtol=RTOL)


def test_weighted_kappa_two_columns_and_levels():
    a = REF["ratings"]
    df = pd.DataFrame(a)
    item = REF["items"][0]
    sub = df[df["item"] == item].pivot(index=["peer_worker", "session"], columns="rater", values="score")
    res = F.weighted_kappa(sub, "A", "B", weights="linear", levels=[1, 2, 3, 4])
    np.testing.assert_allclose(res.table["weighted_kappa"].iloc[0], REF["kappa"][item]["linear"], rtol=RTOL)
    with pytest.raises(ValueError, match="outside levels"):
        F.weighted_kappa(sub, "A", "B", levels=[1, 2, 3])


def test_item_kappa_no_shared_session_raises(ratings):
    r = ratings.copy()
    r.loc[r["rater"] == "B", "session"] += 10
    with pytest.raises(ValueError, match="no overlap"):
        F.item_kappa(F.score_fidelity(r))


def test_items_on_different_scales_named(ratings):
    r = ratings.copy()
    odd = REF["items"][4]
    r.loc[r["item"] == odd, "score"] *= 25  # a percentage item among 1-4 items
    with pytest.raises(ValueError, match=f"different scales: '{odd}'"):
        F.score_fidelity(r)
    with pytest.raises(ValueError, match=f"outside the scale 1-4: '{odd}'"):
        F.score_fidelity(r, scale=(1, 4))


def test_missing_item_rule_prorates_half_or_more(ratings):
    r = ratings.copy()
    occ = (r["peer_worker"] == "PW03") & (r["rater"] == "A") & (r["session"] == 1)
    # experiential_knowledge has 2 items: drop one (50% present -> prorated)
    r1 = r[~(occ & (r["item"] == "experiential_knowledge_1"))]
    s1 = F.score_fidelity(r1)
    keep = r[occ & (r["item"] == "experiential_knowledge_2")]["score"].iloc[0]
    assert s1.occasions.loc[("PW03", "A", 1), "experiential_knowledge"] == keep
    # strengths_connections has 4 items: drop three (25% present -> missing, total missing)
    drop = occ & r["item"].isin([f"strengths_connections_{i}" for i in (1, 2, 3)])
    with pytest.warns(PeertrialWarning, match="1 domain score"):
        s2 = F.score_fidelity(r[~drop])
    assert np.isnan(s2.occasions.loc[("PW03", "A", 1), "strengths_connections"])
    assert np.isnan(s2.occasions.loc[("PW03", "A", 1), "total"])
    assert s2.by_worker().loc["PW03", "n_occasions"] == 5


def test_duplicate_and_non_numeric_ratings_named(ratings):
    dup = pd.concat([ratings, ratings.iloc[[5]]])
    with pytest.raises(ValueError, match="duplicate ratings"):
        F.score_fidelity(dup)
    bad = ratings.copy().astype({"score": object})
    bad.loc[7, "score"] = "high"
    with pytest.raises(ValueError, match=r"'score'.*rows 7"):
        F.score_fidelity(bad)


def test_caller_data_untouched(ratings):
    before = ratings.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = F.score_fidelity(ratings)
        F.cronbach_alpha(s)
        F.icc(s)
        F.item_kappa(s)
    pd.testing.assert_frame_equal(ratings, before)
    assert "PW01" in s.summary() and "psych::alpha" in F.cronbach_alpha(s).summary()


def test_alpha_needs_two_rows_and_two_items():
    wide = pd.DataFrame({"a": [1, 2, 3, 4.0], "b": [2, 3, 4, 5.0], "c": [1, 3, 2, 5.0]})
    with pytest.raises(ValueError, match=r"scale 'total' .* 1 rated unit.* at least 2 rows"):
        F.cronbach_alpha(wide.iloc[:1])
    with pytest.raises(ValueError, match=r"scale 'short' .* 1 rated unit"):
        F.cronbach_alpha(wide.assign(c=[1.0, np.nan, np.nan, np.nan]), items={"short": ["a", "c"]}, nan_policy="listwise")
    with pytest.raises(ValueError, match=r"at least 2 items per scale.*'total': \['a'\]"):
        F.cronbach_alpha(wide[["a"]])


def test_alpha_single_item_domain_is_nan_with_warning(ratings):
    wide = ratings.pivot_table(index=["peer_worker", "rater", "session"], columns="item", values="score").reset_index()
    items = {d: [i for i, dd in zip(REF["items"], REF["item_domain"]) if dd == d] for d in F.PRINCIPLES}
    first = list(F.PRINCIPLES)[0]
    items[first] = items[first][:1]
    s = F.score_fidelity(wide.drop(columns=[c for c in REF["items"] if c not in sum(items.values(), [])]), items=items)
    with pytest.warns(PeertrialWarning, match=f"domain '{first}' has a single item"):
        res = F.cronbach_alpha(s)
    assert np.isnan(res.table.loc[first, "alpha"]) and np.isfinite(res.table.loc["total", "alpha"])


def test_icc_missing_rating_drops_that_target_by_name():
    long = pd.DataFrame({"t": np.repeat([1, 2, 3, 4], 2), "rater": ["A", "B"] * 4, "total": [1, 2, 3, 3, 5, 6, 2, 2.5]})
    full = F.icc(long.iloc[2:], targets="t")
    with pytest.warns(PeertrialWarning, match=r"missing 'total'\) left out of the ICC: 1$"):
        res = F.icc(long.assign(total=[1, np.nan, 3, 3, 5, 6, 2, 2.5]), targets="t")
    assert res.n_targets == 3 and res.dropped_targets == (1,)
    pd.testing.assert_frame_equal(res.table, full.table)
    with pytest.warns(PeertrialWarning), pytest.raises(ValueError, match=r"only 2 target\(s\).*4 ratings.*at least 5"):
        F.icc(long.iloc[:6].assign(total=[1, np.nan, 3, 3, 5, 6]), targets="t")


def test_icc_of_scores_with_a_missing_total_names_the_session(ratings, scores):
    occ = (ratings["peer_worker"] == "PW03") & (ratings["rater"] == "A") & (ratings["session"] == 1)
    drop = occ & ratings["item"].isin([f"strengths_connections_{i}" for i in (1, 2, 3)])
    with pytest.warns(PeertrialWarning, match="1 domain score"):
        s = F.score_fidelity(ratings[~drop])
    with pytest.warns(PeertrialWarning, match=r"missing 'total'\) left out of the ICC: .*'PW03', 1"):
        res = F.icc(s)
    assert ("PW03", 1) in res.dropped_targets
    assert res.n_targets == F.icc(scores).n_targets - 1
