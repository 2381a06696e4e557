"""Cluster and covariate-constrained randomisation."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from peertrial.randomise import cluster_randomise, constrained_randomise


def test_whole_clusters_share_an_arm_and_counts_follow_the_ratio():
    rng = np.random.default_rng(2)
    units = pd.DataFrame({"worker": rng.integers(0, 9, 200), "region": 0})
    units["region"] = np.where(units["worker"] < 6, "north", "south")
    before = units.copy()
    out = cluster_randomise("worker", data=units, arms=["control", "peer"], ratio=[2, 1], blocks="region", seed=4)
    pd.testing.assert_frame_equal(units, before)
    assert out.index.equals(units.index)
    assert (out.groupby("cluster")["arm"].nunique() == 1).all()
    per_cluster = out.drop_duplicates("cluster")
    assert per_cluster.query("block == 'north'")["arm"].value_counts().to_dict() == {"control": 4, "peer": 2}
    assert per_cluster.query("block == 'south'")["arm"].value_counts().to_dict() == {"control": 2, "peer": 1}
    assert (out["prob_control"] == 2 / 3).all()


def test_cluster_probabilities_match_frequencies_with_a_remainder():
    # 5 clusters 1:1 -> 2 or 3 per arm, yet each cluster has P = 1/2. 1500
    # blocks of 5 clusters are 1500 independent replicates (one stream each).
    n = 1500
    cluster = np.arange(5 * n)
    out = cluster_randomise(cluster, arms=[0, 1], blocks=cluster // 5, seed=8)
    hits = out["arm"].to_numpy().reshape(n, 5).sum(axis=0)
    chi2 = ((hits - n / 2) ** 2 / (n / 4)).sum()
    assert stats.chi2.sf(chi2, 5) > 0.001
    assert set(out.groupby("block")["arm"].sum()) == {2, 3}


def _brute_force_l2(x, alloc):
    z = (x - x.mean(0)) / x.std(0, ddof=1)
    return sum(((z[alloc == j].mean(0)) ** 2).sum() for j in (0, 1))


def test_constrained_space_scores_probabilities_and_validity():
    x = np.array([[20.0, 0.3], [35, 0.5], [28, 0.7], [40, 0.4], [18, 0.6], [25, 0.2]])
    clusters = pd.DataFrame({"site": list("ABCDEF"), "beds": x[:, 0], "share": x[:, 1]})
    res = constrained_randomise(clusters, ["beds", "share"], cluster="site", quantile=0.25, seed=9)
    # every allocation of 6 clusters into 3 + 3, scored independently here
    allocs = []
    for chosen in itertools.combinations(range(6), 3):
        a = np.ones(6, dtype=int)
        a[list(chosen)] = 0
        allocs.append(a)
    brute = np.array([_brute_force_l2(x, a) for a in allocs])
    assert res.n_allocations == 20 and res.enumerated
    np.testing.assert_allclose(np.sort(res.scores), np.sort(brute), rtol=1e-12)
    accepted = [a for a, b in zip(allocs, brute) if b <= np.quantile(brute, 0.25, method="inverted_cdf") + 1e-12]
    assert res.n_accepted == len(accepted)
    chosen = (res.allocation["arm"].to_numpy() == 1).astype(int)
    assert any((chosen == a).all() for a in accepted)
    p1 = np.mean(accepted, axis=0)
    np.testing.assert_allclose(res.allocation["prob_1"], p1)
    together = np.mean([np.equal.outer(a, a) for a in accepted], axis=0)
    np.testing.assert_allclose(res.together.to_numpy(), together)
    assert "validity" in res.summary()
    arms = res.assign(pd.DataFrame({"site": ["B", "B", "F"]}), cluster="site")
    assert arms.tolist() == [res.allocation.set_index("cluster").loc[s, "arm"] for s in "BBF"]


def test_constrained_probabilities_match_frequencies_over_seeds():
    clusters = pd.DataFrame({"c": range(7), "x": [1.0, 4, 2, 8, 5, 7, 3]})
    first = constrained_randomise(clusters, "x", cluster="c", quantile=0.3, seed=0)
    p = first.allocation["prob_1"].to_numpy()
    n = 300
    hits = np.zeros(7)
    for seed in range(n):
        res = constrained_randomise(clusters, "x", cluster="c", quantile=0.3, seed=seed)
        hits += res.allocation["arm"].to_numpy()
    ok = (p > 0) & (p < 1)
    chi2 = (((hits - n * p) ** 2 / (n * p * (1 - p)))[ok]).sum()
    assert stats.chi2.sf(chi2, ok.sum()) > 0.001
    assert np.all(hits[~ok] == n * p[~ok])


def test_sampling_when_too_many_allocations_and_bad_input():
    clusters = pd.DataFrame({"c": range(16), "x": np.arange(16.0)})
    res = constrained_randomise(clusters, "x", cluster="c", max_allocations=2000, seed=1)
    assert not res.enumerated and res.n_allocations == 12870 and res.n_considered <= 2000
    with pytest.raises(ValueError, match="column 'c' must list each cluster once"):
        constrained_randomise(pd.concat([clusters, clusters.iloc[:1]]), "x", cluster="c")
    with pytest.raises(ValueError, match="not found"):
        constrained_randomise(clusters, "beds", cluster="c")


def test_three_arm_enumeration_counts_every_allocation_once():
    clusters = pd.DataFrame({"c": range(6), "x": [3.0, 1, 4, 1, 5, 9]})
    res = constrained_randomise(clusters, "x", cluster="c", arms=["a", "b", "c"], quantile=1.0, seed=1)
    assert res.n_allocations == 90 and res.n_considered == 90 and res.n_accepted == 90  # 6! / (2! 2! 2!)
    np.testing.assert_allclose(res.allocation[["prob_a", "prob_b", "prob_c"]].to_numpy(), 1 / 3)
    np.testing.assert_allclose(np.diag(res.together.to_numpy()), 1)
    np.testing.assert_allclose(res.together.to_numpy()[0, 1], 1 / 5)  # partner among the other 5
