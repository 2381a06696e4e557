"""Cluster randomisation: whole sites, teams or peer-worker caseloads.

- :func:`cluster_randomise` — complete randomisation of clusters (optionally
  within blocks of clusters, e.g. region); every unit of a cluster gets the
  cluster's arm and P(arm j) = r_j / sum(r) (randomizr's ``cluster_ra`` /
  ``block_and_cluster_ra``).
- :func:`constrained_randomise` — restricted (covariate-constrained)
  randomisation for trials with few clusters (Raab & Butcher 2001, Stat Med
  20:351-365; Moulton 2004, Clin Trials 1:297-305; Li et al. 2016, Stat Med
  35:1565-1579). Every allocation of clusters to arms with near-ratio group
  sizes is scored by the balance metric

      B = sum_k sum_j (xbar_jk - xbar_k)^2 / s_k^2      ("l2")
      B = sum_k sum_j |xbar_jk - xbar_k| / s_k          ("l1")

  over cluster-level covariates k (s_k their SD across clusters); the
  allocations with B at or below the ``quantile`` of its distribution form the
  constrained space and one is drawn at random. Each cluster's probability of
  each arm is its frequency over the constrained space, and the pairwise
  co-assignment matrix shows whether the space is still "valid" (no pair of
  clusters always or never together).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import factorial, prod

import numpy as np
import pandas as pd

from peertrial._data import as_frame, numeric, require_columns, row_labels
from peertrial._results import Result, format_table
from peertrial.randomise._streams import RawDraws, canonical_label, root_sequence, stratum_stream
from peertrial.randomise.design import check_arms, check_ratio, prob_column
from peertrial.randomise.schedules import _madow_counts

__all__ = ["cluster_randomise", "constrained_randomise", "ConstrainedRandomisation"]


def _sorted_unique(values) -> list:
    uniq = pd.unique(pd.Series(values))
    try:
        return sorted(uniq.tolist())
    except TypeError:
        return sorted(uniq.tolist(), key=canonical_label)


def cluster_randomise(clusters, data=None, arms=None, ratio=None, blocks=None, seed=None) -> pd.DataFrame:
    """Randomise whole clusters (sites, teams, caseloads); one row per unit, aligned with ``data``.

    Within a block, exactly N r_j / sum(r) clusters go to arm j when whole; otherwise the
    remainder is allocated so that each cluster keeps P(arm j) = r_j / sum(r).

    Parameters
    ----------
    clusters : str or array-like
        A column of ``data`` or an array of cluster ids, one per unit.
    data : pandas.DataFrame, optional
        The units, when ``clusters``/``blocks`` name columns.
    arms : sequence or int, optional
        Arm labels (default ``[0, 1]``; an int k means ``0..k-1``).
    ratio : sequence of int, optional
        Integer weights per arm (default equal).
    blocks : str or array-like, optional
        Each unit's block of clusters (constant within cluster, e.g. region); blocks are
        randomised separately.
    seed : int or numpy.random.SeedSequence, optional
        Seed of the allocation (platform-stable, as the schedules).

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``cluster``, ``block`` (if given), ``arm`` and ``prob_<arm>``.

    Notes
    -----
    R equivalent: ``randomizr::cluster_ra`` / ``randomizr::block_and_cluster_ra`` (the same
    design; the random streams differ).

    References
    ----------
    .. [1] Donner, A., & Klar, N. (2000). Design and Analysis of Cluster Randomization Trials
       in Health Research. Arnold.

    Examples
    --------
    >>> units = pd.DataFrame({"team": ["a", "a", "b", "b", "c", "c", "d", "d"]})
    >>> alloc = pt.randomise.cluster_randomise("team", data=units, arms=["control", "peer"], seed=7)
    >>> alloc["arm"].tolist()
    ['control', 'control', 'peer', 'peer', 'peer', 'peer', 'control', 'control']
    """
    arms = check_arms(arms)
    ratio = check_ratio(ratio, len(arms))
    frame = as_frame(data) if data is not None else None
    cl = _column(frame, clusters, "clusters")
    if cl.isna().any():
        raise ValueError(f"cluster ids are missing at rows {row_labels(cl.index, cl.isna().to_numpy())}")
    bl = _column(frame, blocks, "blocks") if blocks is not None else pd.Series("all", index=cl.index)
    per_cluster = pd.DataFrame({"cluster": cl.to_numpy(), "block": bl.to_numpy()}).drop_duplicates()
    if per_cluster["cluster"].duplicated().any():
        bad = per_cluster.loc[per_cluster["cluster"].duplicated(), "cluster"].tolist()
        raise ValueError(f"blocks must be constant within cluster; clusters {bad[:10]} span several blocks")
    root = root_sequence(seed)
    arm_of = {}
    for block in _sorted_unique(per_cluster["block"]):
        members = _sorted_unique(per_cluster.loc[per_cluster["block"] == block, "cluster"])
        draws = RawDraws(stratum_stream(root, canonical_label(block), "cluster"))
        counts = _madow_counts(len(members), ratio, draws)
        codes = draws.shuffled([j for j, c in enumerate(counts) for _ in range(c)])
        arm_of.update({canonical_label(c): arms[j] for c, j in zip(members, codes)})
    out = pd.DataFrame({"cluster": cl.to_numpy()}, index=cl.index)
    if blocks is not None:
        out["block"] = bl.to_numpy()
    out["arm"] = pd.Series([arm_of[canonical_label(c)] for c in cl], index=cl.index).infer_objects()
    for arm, r in zip(arms, ratio):
        out[prob_column(arm)] = r / sum(ratio)
    return out


def _column(frame, x, name) -> pd.Series:
    if isinstance(x, str):
        if frame is None:
            raise ValueError(f"{name}={x!r} names a column but no data was given")
        require_columns(frame, [x])
        return frame[x]
    values = pd.Series(np.asarray(x), index=frame.index if frame is not None and len(frame) == len(x) else None)
    if frame is not None and len(values) != len(frame):
        raise ValueError(f"{name} has length {len(values)} but data has {len(frame)} rows")
    return values


# -- restricted randomisation -------------------------------------------------------------------


def _group_sizes(n: int, ratio: list[int]) -> list[tuple[int, ...]]:
    """Every vector of arm sizes with each entry floor or ceil of n r_j / sum(r), summing to n."""
    total = sum(ratio)
    options = [sorted({n * r // total, -(-n * r // total)}) for r in ratio]
    return [s for s in itertools.product(*options) if sum(s) == n]


def _count_allocations(n: int, sizes: list[tuple[int, ...]]) -> int:
    return sum(factorial(n) // prod(factorial(s) for s in size) for size in sizes)


def _fill(free: tuple, arm: int, current: np.ndarray, size: tuple, out: list) -> None:
    """Append every way of giving the ``free`` clusters arms ``arm``, ``arm + 1``, ... with ``size``."""
    if arm == len(size) - 1:
        done = current.copy()
        done[list(free)] = arm
        out.append(done)
        return
    for chosen in itertools.combinations(free, size[arm]):
        nxt = current.copy()
        nxt[list(chosen)] = arm
        _fill(tuple(i for i in free if i not in chosen), arm + 1, nxt, size, out)


def _enumerate(n: int, sizes: list[tuple[int, ...]]) -> np.ndarray:
    """All assignments (rows) of n clusters to arms with the given arm sizes."""
    if all(len(s) == 2 for s in sizes):  # two arms: one combination per allocation, vectorised
        blocks = []
        for size in sizes:
            idx = np.array(list(itertools.combinations(range(n), size[0])), dtype=np.intp).reshape(-1, size[0])
            alloc = np.ones((len(idx), n), dtype=np.int16)
            np.put_along_axis(alloc, idx, 0, axis=1)
            blocks.append(alloc)
        return np.concatenate(blocks)
    out: list[np.ndarray] = []
    for size in sizes:
        _fill(tuple(range(n)), 0, np.full(n, -1, dtype=np.int16), size, out)
    return np.array(out, dtype=np.int16)


def _sample(n: int, sizes: list[tuple[int, ...]], count: int, rng: np.random.Generator) -> np.ndarray:
    weights = np.array([factorial(n) // prod(factorial(s) for s in size) for size in sizes], dtype=float)
    which = rng.choice(len(sizes), size=count, p=weights / weights.sum())
    base = np.array([np.repeat(np.arange(len(s)), s) for s in sizes], dtype=np.int16)[which]
    keys = rng.random(base.shape)
    return np.take_along_axis(base, np.argsort(keys, axis=1), axis=1)


def balance_scores(allocations: np.ndarray, x: np.ndarray, n_arms: int, metric: str = "l2") -> np.ndarray:
    """Balance metric B for each allocation row (see module docstring)."""
    x = np.asarray(x, dtype=float)
    sd = x.std(axis=0, ddof=1)
    sd[sd == 0] = 1.0
    z = (x - x.mean(axis=0)) / sd
    onehot = allocations[..., None] == np.arange(n_arms)  # (A, N, K)
    counts = onehot.sum(axis=1)  # (A, K)
    means = np.einsum("ank,np->akp", onehot, z) / counts[..., None]
    if metric == "l2":
        return (means**2).sum(axis=(1, 2))
    if metric == "l1":
        return np.abs(means).sum(axis=(1, 2))
    raise ValueError(f"metric must be 'l2' or 'l1', got {metric!r}")


@dataclass(frozen=True, eq=False)
class ConstrainedRandomisation(Result):
    """The chosen allocation and the properties of the constrained space (from :func:`constrained_randomise`).

    ``assign(data, cluster)`` gives each unit its cluster's arm.

    Attributes
    ----------
    allocation : pandas.DataFrame
        One row per cluster: ``cluster``, the covariates, ``arm`` and ``prob_<arm>`` (its
        frequency over the constrained space).
    arms : list
        Arm labels.
    covariates : list of str
        Cluster-level covariates balanced.
    metric : str
        ``"l2"`` or ``"l1"`` balance score.
    score : float
        Balance score B of the chosen allocation.
    threshold : float
        The ``quantile`` of B that bounds the constrained space.
    n_allocations : int
        Allocations with the required arm sizes.
    n_considered : int
        Allocations scored (all of them when ``enumerated``, else a sample).
    n_accepted : int
        Allocations in the constrained space.
    enumerated : bool
        Whether every allocation was scored.
    together : pandas.DataFrame
        P(clusters i and j in the same arm) over the constrained space (validity).
    scores : numpy.ndarray
        B for every allocation considered.

    Notes
    -----
    R equivalent: none in the packages used here (``cvcrand::cvcrand`` implements the same
    method); the balance score is written from its definition.

    References
    ----------
    .. [1] Raab, G. M., & Butcher, I. (2001). Balance in cluster randomized trials. Statistics
       in Medicine, 20, 351-365.
    .. [2] Li, F., Lokhnygina, Y., Murray, D. M., Heagerty, P. J., & DeLong, E. R. (2016). An
       evaluation of constrained randomization for the design and analysis of
       group-randomized trials. Statistics in Medicine, 35, 1565-1579.

    Examples
    --------
    >>> sites = pd.DataFrame({"cluster": range(1, 9), "size": [40, 55, 38, 60, 45, 52, 48, 41],
    ...                       "urban": [1, 0, 1, 0, 1, 1, 0, 0]})
    >>> res = pt.randomise.constrained_randomise(sites, ["size", "urban"], seed=1)
    >>> res.n_allocations, res.n_accepted, res.enumerated
    (70, 14, True)
    """

    allocation: pd.DataFrame  # one row per cluster: covariates, arm, prob_<arm>
    arms: list
    covariates: list
    metric: str
    score: float
    threshold: float
    n_allocations: int
    n_considered: int
    n_accepted: int
    enumerated: bool
    together: pd.DataFrame  # P(clusters i and j in the same arm) over the constrained space
    scores: np.ndarray  # B for every allocation considered

    def summary(self) -> str:
        lines = [
            "Covariate-constrained randomisation of clusters",
            f"  covariates: {', '.join(self.covariates)}; balance metric {self.metric}",
            f"  allocations: {self.n_allocations} possible, {self.n_considered} "
            f"{'enumerated' if self.enumerated else 'sampled'}, {self.n_accepted} in the constrained space "
            f"(B <= {self.threshold:.4g})",
            f"  chosen allocation: B = {self.score:.4g}",
        ]
        off = self.together.to_numpy()[~np.eye(len(self.together), dtype=bool)]
        always = int(np.sum(off >= 1 - 1e-12)) // 2
        never = int(np.sum(off <= 1e-12)) // 2
        lines.append(f"  validity: {always} pair(s) always together, {never} pair(s) never together")
        lines.append("")
        lines.append(format_table(self.allocation.astype({"arm": str}).set_index("cluster"), digits=3))
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        return self.allocation.copy()

    def assign(self, data, cluster: str) -> pd.Series:
        """Each unit's arm, from its cluster (Series aligned with ``data``)."""
        frame = as_frame(data)
        require_columns(frame, [cluster])
        lookup = {canonical_label(c): a for c, a in zip(self.allocation["cluster"], self.allocation["arm"])}
        labels = frame[cluster].map(canonical_label)
        bad = ~labels.isin(list(lookup)).to_numpy()
        if bad.any():
            raise ValueError(f"column {cluster!r} has clusters not in the allocation at rows {row_labels(frame.index, bad)}")
        return labels.map(lookup).rename("arm")


def constrained_randomise(
    clusters: pd.DataFrame,
    covariates,
    cluster: str = "cluster",
    arms=None,
    ratio=None,
    quantile: float = 0.1,
    metric: str = "l2",
    max_allocations: int = 200_000,
    seed=None,
) -> ConstrainedRandomisation:
    """Randomise clusters under a covariate-balance constraint (one row of ``clusters`` each).

    Enumerates every allocation with arm sizes floor/ceil of N r_j / sum(r)
    (or samples ``max_allocations`` of them when there are more), keeps those
    with balance score B no larger than its ``quantile`` and draws one at random.
    See the module docstring for B.

    Parameters
    ----------
    clusters : pandas.DataFrame
        One row per cluster with the ``cluster`` column and the covariates.
    covariates : str or list of str
        Numeric cluster-level covariates to balance (no missing values).
    cluster : str, default "cluster"
        Column of cluster ids (each listed once).
    arms : sequence or int, optional
        Arm labels (default ``[0, 1]``).
    ratio : sequence of int, optional
        Integer weights per arm (default equal).
    quantile : float, default 0.1
        Share of the best-balanced allocations forming the constrained space, in (0, 1].
    metric : {"l2", "l1"}, default "l2"
        Balance score: squared or absolute standardised differences of arm means.
    max_allocations : int, default 200000
        Above this many possible allocations, this many are sampled instead.
    seed : int or numpy.random.SeedSequence, optional
        Seed of the draw.

    Returns
    -------
    ConstrainedRandomisation
        The chosen allocation, each cluster's probability of each arm over the constrained
        space, and the pairwise co-assignment matrix.

    Notes
    -----
    R equivalent: none in the packages used here (``cvcrand::cvcrand`` implements the same
    method); the balance score is written from its definition.

    References
    ----------
    .. [1] Raab, G. M., & Butcher, I. (2001). Balance in cluster randomized trials. Statistics
       in Medicine, 20, 351-365.
    .. [2] Moulton, L. H. (2004). Covariate-based constrained randomization of
       group-randomized trials. Clinical Trials, 1, 297-305.

    Examples
    --------
    >>> sites = pd.DataFrame({"cluster": range(1, 9), "size": [40, 55, 38, 60, 45, 52, 48, 41],
    ...                       "urban": [1, 0, 1, 0, 1, 1, 0, 0]})
    >>> res = pt.randomise.constrained_randomise(sites, ["size", "urban"], seed=1)
    >>> res.allocation["arm"].tolist(), round(res.score, 4)
    ([1, 0, 0, 1, 1, 0, 1, 0], 0.0251)
    """
    frame = as_frame(clusters, what="clusters")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    require_columns(frame, [cluster, *covariates])
    if frame[cluster].duplicated().any():
        raise ValueError(f"column {cluster!r} must list each cluster once; repeated at rows "
                         f"{row_labels(frame.index, frame[cluster].duplicated().to_numpy())}")
    x = np.column_stack([numeric(frame[c], c) for c in covariates])
    if np.isnan(x).any():
        raise ValueError(f"cluster covariates have missing values at rows "
                         f"{row_labels(frame.index, np.isnan(x).any(axis=1))}")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    arms = check_arms(arms)
    ratio = check_ratio(ratio, len(arms))
    n = len(frame)
    if n < len(arms):
        raise ValueError(f"{n} clusters cannot fill {len(arms)} arms")
    sizes = _group_sizes(n, ratio)
    total = _count_allocations(n, sizes)
    root = root_sequence(seed)
    enumerated = total <= max_allocations
    if enumerated:
        allocs = _enumerate(n, sizes)
    else:
        rng = np.random.Generator(stratum_stream(root, "sample", "constrained"))
        allocs = np.unique(_sample(n, sizes, max_allocations, rng), axis=0)
    scores = balance_scores(allocs, x, len(arms), metric)
    threshold = float(np.quantile(scores, quantile, method="inverted_cdf"))
    keep = scores <= threshold + 1e-12 * max(1.0, abs(threshold))
    space = allocs[keep]
    pick = RawDraws(stratum_stream(root, "choose", "constrained")).below(len(space))
    chosen = space[pick]
    probs = (space[..., None] == np.arange(len(arms))).mean(axis=0)  # (N, K)
    together = (space[:, :, None] == space[:, None, :]).mean(axis=0)
    labels = frame[cluster].tolist()
    allocation = frame[[cluster, *covariates]].rename(columns={cluster: "cluster"}).reset_index(drop=True)
    allocation["arm"] = pd.Series([arms[j] for j in chosen]).infer_objects()
    for j, arm in enumerate(arms):
        allocation[prob_column(arm)] = probs[:, j]
    return ConstrainedRandomisation(
        allocation=allocation,
        arms=arms,
        covariates=covariates,
        metric=metric,
        score=float(scores[keep][pick]),
        threshold=threshold,
        n_allocations=int(total),
        n_considered=len(allocs),
        n_accepted=int(keep.sum()),
        enumerated=enumerated,
        together=pd.DataFrame(together, index=labels, columns=labels),
        scores=scores,
    )


def n_allocations(n_clusters: int, n_arms: int = 2) -> int:
    """Number of equal-as-possible allocations of clusters to arms (for planning)."""
    return _count_allocations(n_clusters, _group_sizes(n_clusters, [1] * n_arms))

