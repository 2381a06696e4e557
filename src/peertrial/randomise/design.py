"""Checking and normalising the pieces every design shares: arms, ratio, strata."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from fractions import Fraction
from math import gcd

import numpy as np

#: Schedule columns that are not stratum factors.
RESERVED_COLUMNS = ("seq", "block", "block_size", "arm", "cluster", "unit")
PROB_PREFIX = "prob_"


def check_arms(arms) -> list:
    """Arm labels as a list of at least two distinct labels (an int ``k`` means ``0..k-1``)."""
    if arms is None:
        arms = [0, 1]
    elif isinstance(arms, (int, np.integer)) and not isinstance(arms, bool):
        arms = list(range(int(arms)))
    elif isinstance(arms, str):
        raise ValueError(f"arms must be a list of labels, got the string {arms!r}")
    arms = [a.item() if isinstance(a, np.generic) else a for a in arms]
    if len(arms) < 2:
        raise ValueError(f"at least two arms are needed, got {arms!r}")
    if len({str(a) for a in arms}) != len(arms):
        raise ValueError(f"arm labels must be distinct, got {arms!r}")
    return arms


def check_ratio(ratio, n_arms: int) -> list[int]:
    """Allocation ratio as positive integers, one per arm (default 1:1:...)."""
    if ratio is None:
        return [1] * n_arms
    ratio = list(ratio)
    if len(ratio) != n_arms:
        raise ValueError(f"ratio {ratio!r} has {len(ratio)} entries but there are {n_arms} arms")
    out = []
    for r in ratio:
        if isinstance(r, bool) or not float(r).is_integer() or r <= 0:
            raise ValueError(f"ratio entries must be positive whole numbers, got {ratio!r}")
        out.append(int(r))
    return out


def check_probs(prob, ratio, n_arms: int) -> np.ndarray:
    """Per-arm probabilities from ``prob`` (summing to 1) or from ``ratio``."""
    if prob is not None and ratio is not None:
        raise ValueError("give either prob or ratio, not both")
    if prob is None:
        r = np.asarray(check_ratio(ratio, n_arms), dtype=float)
        return r / r.sum()
    p = np.asarray(prob, dtype=float)
    if p.shape != (n_arms,) or np.any(~np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
        raise ValueError(f"prob must be {n_arms} non-negative numbers summing to 1, got {prob!r}")
    return p


def check_block_sizes(block_sizes, ratio: list[int]) -> list[int]:
    """Block sizes as positive integers, each a multiple of the ratio sum."""
    if isinstance(block_sizes, (int, np.integer)):
        block_sizes = [block_sizes]
    sizes = list(block_sizes)
    if not sizes:
        raise ValueError("block_sizes must name at least one block size")
    total = sum(ratio)
    out = []
    for b in sizes:
        if isinstance(b, bool) or not float(b).is_integer() or b <= 0:
            raise ValueError(f"block sizes must be positive whole numbers, got {sizes!r}")
        if int(b) % total:
            raise ValueError(
                f"block size {int(b)} is not a multiple of the ratio sum {total} "
                f"(ratio {':'.join(map(str, ratio))}); every block must hold whole replicates of the ratio"
            )
        out.append(int(b))
    return out


def check_strata(strata) -> tuple[list[str], list[list]]:
    """Factor names and their levels from ``{factor: levels}`` (None: unstratified)."""
    if strata is None:
        return [], []
    if not isinstance(strata, Mapping):
        raise ValueError("strata must be a dict of factor name -> list of levels")
    factors, levels = [], []
    for name, lev in strata.items():
        name = str(name)
        if name in RESERVED_COLUMNS or name.startswith(PROB_PREFIX):
            raise ValueError(f"stratum factor name {name!r} is reserved; rename the factor")
        if isinstance(lev, (str, bytes)) or not isinstance(lev, Sequence | np.ndarray | range):
            raise ValueError(f"levels of stratum factor {name!r} must be a list, got {lev!r}")
        lev = [v.item() if isinstance(v, np.generic) else v for v in lev]
        if not lev:
            raise ValueError(f"stratum factor {name!r} has no levels")
        from peertrial.randomise._streams import canonical_label

        labels = [canonical_label(v) for v in lev]
        if len(set(labels)) != len(labels):
            raise ValueError(f"levels of stratum factor {name!r} must be distinct, got {lev!r}")
        factors.append(name)
        levels.append(lev)
    return factors, levels


def strata_product(levels: list[list]) -> list[tuple]:
    """Every combination of levels, the first factor varying slowest."""
    return list(itertools.product(*levels)) if levels else [()]


def check_n(n, what: str = "n") -> int:
    if isinstance(n, bool) or not float(n).is_integer() or n < 1:
        raise ValueError(f"{what} must be a positive whole number, got {n!r}")
    return int(n)


def prob_column(arm) -> str:
    return f"{PROB_PREFIX}{arm}"


def reduced_ratio(ratio: list[int]) -> list[int]:
    g = 0
    for r in ratio:
        g = gcd(g, r)
    return [r // g for r in ratio]


def fraction_probs(ratio: list[int]) -> list[Fraction]:
    total = sum(ratio)
    return [Fraction(r, total) for r in ratio]
