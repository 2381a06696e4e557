"""Allocation schedules for individually randomised trials.

Every generator returns a DataFrame with one row per slot: the stratum columns
(first factor varying slowest), ``seq`` (1, 2, ... within stratum), design
columns, ``arm``, and one ``prob_<arm>`` column per arm holding the unit's
design probability of that arm (as R's randomizr reports ``condition_prob``):

- ``simple``: independent draws, P(arm j) = p_j;
- ``complete``: exactly n p_j per arm when whole (remainder by Madow's
  systematic sampling, so every unit still has P(arm j) = p_j exactly);
- ``permuted_blocks``: blocks of sizes drawn from ``block_sizes``, each
  holding the arms in the ratio and randomly permuted; P(arm j) = r_j / sum(r).

Schedules are reproducible byte for byte from ``seed`` on any platform and
numpy version (see ``_streams``); each stratum has its own stream, so
stratum schedules are independent and a schedule for larger ``n`` extends the
one for smaller ``n`` (the first ``n`` rows agree).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from peertrial.randomise._streams import RawDraws, root_sequence, stratum_key, stratum_stream
from peertrial.randomise.design import (
    check_arms,
    check_block_sizes,
    check_n,
    check_probs,
    check_ratio,
    check_strata,
    prob_column,
    strata_product,
)

__all__ = ["simple", "complete", "permuted_blocks"]


def _assemble(factors, combos, per_stratum: list[dict], arms, probs) -> pd.DataFrame:
    """Stack per-stratum column dicts into the schedule DataFrame."""
    sizes = [len(cols["seq"]) for cols in per_stratum]
    columns = {}
    for i, f in enumerate(factors):
        values = [combo[i] for combo in combos]
        columns[f] = pd.Series(np.repeat(np.array(values, dtype=object), sizes)).infer_objects().to_numpy()
    for col in ("seq", "block", "block_size"):
        if col in per_stratum[0]:
            columns[col] = np.concatenate([c[col] for c in per_stratum]).astype(np.int64)
    codes = np.concatenate([c["arm_code"] for c in per_stratum]).astype(np.intp)
    columns["arm"] = pd.Series(np.asarray(arms, dtype=object)[codes]).infer_objects().to_numpy()
    total = len(codes)
    for arm, p in zip(arms, probs):
        columns[prob_column(arm)] = np.full(total, float(p))
    return pd.DataFrame(columns)


def _setup(n, arms, strata, seed):
    n = check_n(n)
    arms = check_arms(arms)
    factors, levels = check_strata(strata)
    return n, arms, factors, strata_product(levels), root_sequence(seed)


def simple(n, arms=None, prob=None, strata=None, ratio=None, seed=None) -> pd.DataFrame:
    """Generate a simple (unrestricted) randomisation schedule: each unit independently, P(arm j) = p_j.

    Parameters
    ----------
    n : int
        Slots per stratum.
    arms : sequence or int, optional
        Arm labels (default ``[0, 1]``; an int k means ``0..k-1``).
    prob : sequence of float, optional
        Arm probabilities (summing to 1); alternative to ``ratio``.
    strata : dict, optional
        Factor name -> levels, e.g. ``{"site": range(1, 8)}``; every combination of levels
        is a stratum with its own schedule of ``n`` rows (default one stratum).
    ratio : sequence of int, optional
        Integer weights per arm (default equal), e.g. ``[2, 1]``.
    seed : int or numpy.random.SeedSequence, optional
        Seed of the schedule (record it in the protocol); the same seed gives the same
        schedule on any platform and numpy version.

    Returns
    -------
    pandas.DataFrame
        One row per slot: the stratum columns, ``seq`` (1..n within stratum), ``arm`` and
        ``prob_<arm>``, each arm's design probability.

    Notes
    -----
    R equivalent: ``randomizr::simple_ra`` (the same design and ``condition_prob``; the
    random streams differ, so the allocations do too).

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Generation of allocation sequences in
       randomised trials: chance, not choice. The Lancet, 359, 515-519.

    Examples
    --------
    >>> s = pt.randomise.simple(10, arms=["control", "peer"], seed=2017)
    >>> s["arm"].tolist()
    ['peer', 'control', 'peer', 'peer', 'control', 'peer', 'peer', 'control', 'control', 'peer']
    >>> s["prob_peer"].unique().tolist()
    [0.5]
    """
    n, arms, factors, combos, root = _setup(n, arms, strata, seed)
    p = check_probs(prob, ratio, len(arms))
    cum = np.cumsum(p)
    cum[-1] = 1.0
    out = []
    for combo in combos:
        draws = RawDraws(stratum_stream(root, stratum_key(factors, combo), "simple"))
        u = np.array([draws.uniform() for _ in range(n)])
        codes = np.searchsorted(cum, u, side="right")
        out.append({"seq": np.arange(1, n + 1), "arm_code": codes})
    return _assemble(factors, combos, out, arms, p)


def _madow_counts(n: int, ratio: list[int], draws: RawDraws) -> list[int]:
    """Arm counts summing to n with E[count_j] = n r_j / sum(r) exactly.

    Each arm gets floor(n p_j); the leftover units go to arms chosen by
    systematic (Madow) sampling with inclusion probability equal to the
    fractional part of n p_j.
    """
    total = sum(ratio)
    expected = [Fraction(n * r, total) for r in ratio]
    counts = [int(e) for e in expected]
    frac = [e - c for e, c in zip(expected, counts)]
    leftover = n - sum(counts)
    if leftover:
        start = Fraction(draws.words(1)[0] >> 11, 2**53)
        points = [start + k for k in range(leftover)]
        edge = Fraction(0)
        for j, f in enumerate(frac):
            if any(edge <= q < edge + f for q in points):
                counts[j] += 1
            edge += f
    return counts


def complete(n, arms=None, ratio=None, strata=None, seed=None) -> pd.DataFrame:
    """Generate a complete randomisation schedule: a random order of exactly n r_j / sum(r) units per arm.

    When n p_j is not whole, the remainder is allocated by Madow's systematic sampling so
    that every unit still has P(arm j) = r_j / sum(r) (randomizr's ``complete_ra`` does
    the same).

    Parameters
    ----------
    n : int
        Slots per stratum.
    arms : sequence or int, optional
        Arm labels (default ``[0, 1]``; an int k means ``0..k-1``).
    ratio : sequence of int, optional
        Integer weights per arm (default equal), e.g. ``[2, 1]``.
    strata : dict, optional
        Factor name -> levels, e.g. ``{"site": range(1, 8)}``; every combination of levels
        is a stratum with its own schedule of ``n`` rows (default one stratum).
    seed : int or numpy.random.SeedSequence, optional
        Seed of the schedule (record it in the protocol); the same seed gives the same
        schedule on any platform and numpy version.

    Returns
    -------
    pandas.DataFrame
        One row per slot: the stratum columns, ``seq`` (1..n within stratum), ``arm`` and
        ``prob_<arm>``, each arm's design probability.

    Notes
    -----
    R equivalent: ``randomizr::complete_ra`` (the same design and ``condition_prob``; the
    random streams differ, so the allocations do too).

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Generation of allocation sequences in
       randomised trials: chance, not choice. The Lancet, 359, 515-519.
    .. [2] Madow, W. G. (1949). On the theory of systematic sampling, II. Annals of
       Mathematical Statistics, 20, 333-354.

    Examples
    --------
    >>> s = pt.randomise.complete(9, arms=["control", "peer"], seed=2017)
    >>> s["arm"].value_counts().sort_index().tolist(), s["prob_peer"].unique().tolist()
    ([5, 4], [0.5])
    """
    n, arms, factors, combos, root = _setup(n, arms, strata, seed)
    ratio = check_ratio(ratio, len(arms))
    out = []
    for combo in combos:
        draws = RawDraws(stratum_stream(root, stratum_key(factors, combo), "complete"))
        counts = _madow_counts(n, ratio, draws)
        pool = [j for j, c in enumerate(counts) for _ in range(c)]
        out.append({"seq": np.arange(1, n + 1), "arm_code": np.array(draws.shuffled(pool), dtype=int)})
    return _assemble(factors, combos, out, arms, np.array(ratio) / sum(ratio))


def _stratum_blocks(n: int, sizes: list[int], weights, ratio: list[int], draws: RawDraws) -> dict:
    """One stratum's permuted blocks, truncated to ``n`` slots.

    Blocks are drawn one at a time (size, then the permutation), so the
    schedule for a larger ``n`` extends this one.
    """
    total = sum(ratio)
    seq_block, seq_size, codes = [], [], []
    block = 0
    while len(codes) < n:
        block += 1
        size = sizes[_weighted_index(weights, draws)] if weights is not None else sizes[draws.below(len(sizes))]
        reps = size // total
        pattern = [j for j, r in enumerate(ratio) for _ in range(r * reps)]
        codes.extend(draws.shuffled(pattern))
        seq_block.extend([block] * size)
        seq_size.extend([size] * size)
    return {
        "seq": np.arange(1, n + 1),
        "block": np.array(seq_block[:n]),
        "block_size": np.array(seq_size[:n]),
        "arm_code": np.array(codes[:n], dtype=int),
    }


def _weighted_index(cum_weights: list[Fraction], draws: RawDraws) -> int:
    u = Fraction(draws.words(1)[0] >> 11, 2**53)
    for i, edge in enumerate(cum_weights):
        if u < edge:
            return i
    return len(cum_weights) - 1


def _check_block_weights(block_weights, n_sizes: int):
    if block_weights is None:
        return None
    w = [Fraction(str(x)) for x in block_weights]
    if len(w) != n_sizes or any(x < 0 for x in w) or sum(w) == 0:
        raise ValueError(f"block_weights must be {n_sizes} non-negative numbers, not all zero; got {block_weights!r}")
    total = sum(w)
    cum, acc = [], Fraction(0)
    for x in w:
        acc += x / total
        cum.append(acc)
    return cum


def permuted_blocks(
    n,
    arms=None,
    block_sizes=(2, 4, 6),
    strata=None,
    ratio=None,
    seed=None,
    block_weights=None,
) -> pd.DataFrame:
    """Stratified randomisation in permuted blocks of randomly varying size.

    Parameters
    ----------
    n : slots per stratum (every combination of stratum levels gets ``n`` rows).
    arms : arm labels (default ``[0, 1]``; an int k means ``0..k-1``).
    block_sizes : sizes to draw from at random for each block (default 2, 4, 6);
        each must be a multiple of ``sum(ratio)``.
    strata : dict of factor name -> levels, e.g.
        ``{"site": range(1, 8), "diagnosis": ["psychotic", "personality", "other"]}``.
    ratio : integer weights per arm (default equal), e.g. ``[2, 1]``.
    seed : int (recommended: record it in the protocol) or SeedSequence.
    block_weights : probabilities of the block sizes (default equal).

    Returns
    -------
    DataFrame with the stratum columns, ``seq`` (1..n within stratum),
    ``block`` (1, 2, ... within stratum), ``block_size``, ``arm`` and
    ``prob_<arm>`` = r_j / sum(r), the design probability of each arm. The last
    block of a stratum is truncated when ``n`` falls inside it.

    Notes
    -----
    R equivalent: none in base R; ``blockrand::blockrand`` gives the same design (the random
    streams differ).

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Generation of allocation sequences in
       randomised trials: chance, not choice. The Lancet, 359, 515-519.

    Examples
    --------
    >>> s = pt.randomise.permuted_blocks(n=8, arms=["control", "peer"], block_sizes=[2, 4], seed=2017)
    >>> s["arm"].tolist()
    ['control', 'peer', 'control', 'peer', 'control', 'peer', 'peer', 'control']
    >>> s["block_size"].tolist()
    [2, 2, 2, 2, 2, 2, 4, 4]
    """
    n, arms, factors, combos, root = _setup(n, arms, strata, seed)
    ratio = check_ratio(ratio, len(arms))
    sizes = check_block_sizes(block_sizes, ratio)
    weights = _check_block_weights(block_weights, len(sizes))
    out = []
    for combo in combos:
        draws = RawDraws(stratum_stream(root, stratum_key(factors, combo), "permuted_blocks"))
        out.append(_stratum_blocks(n, sizes, weights, ratio, draws))
    return _assemble(factors, combos, out, arms, np.array(ratio) / sum(ratio))
