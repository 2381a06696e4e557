"""Platform-independent random streams for allocation schedules.

A schedule must be reproducible byte for byte from its seed on every machine
and numpy version, because it is the trial's concealed allocation list. So the
schedule generators use only what numpy guarantees to be stable (NEP 19):
``SeedSequence`` and the raw 64-bit output of the ``PCG64`` bit generator. The
conversion of raw words to choices is done here with integer arithmetic (no
``Generator.integers``/``permutation``, whose algorithms numpy may change).

Each stratum gets its own stream, keyed by a SHA-256 digest of the stratum's
labels, so a stratum's schedule depends only on the seed and its own labels:
adding a site or a diagnostic group never changes the other strata.
"""

from __future__ import annotations

import hashlib
import json
import secrets

import numpy as np

_MASK32 = (1 << 32) - 1


def root_sequence(seed) -> np.random.SeedSequence:
    """``seed`` (int, SeedSequence, Generator or None) as a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return seed.bit_generator.seed_seq.spawn(1)[0]
    if seed is None:  # 256 bits from the operating system (see stratum_stream for the pool size)
        return np.random.SeedSequence(secrets.randbits(256))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, SeedSequence or Generator, got {seed!r}")
    return np.random.SeedSequence(int(seed))


def canonical_label(value) -> str:
    """A level as text: integers (also 3.0 and numpy ints) as digits, the rest as ``str``."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def stratum_key(factors, levels) -> str:
    """Canonical text naming one stratum, e.g. ``[["site","3"],["diagnosis","other"]]``."""
    return json.dumps([[str(f), canonical_label(v)] for f, v in zip(factors, levels)], separators=(",", ":"))


def stratum_stream(root: np.random.SeedSequence, key: str, purpose: str) -> np.random.PCG64:
    """An independent PCG64 stream for one stratum and purpose, derived from ``root``."""
    digest = hashlib.sha256(f"{purpose}\x00{key}".encode()).digest()
    words = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    # seeds beyond 128 bits (the default of seed=None: 256) keep all their bits in a 256-bit pool;
    # smaller seeds use numpy's default pool, so their schedules are unchanged
    big = isinstance(root.entropy, int) and root.entropy.bit_length() > 128
    seq = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + words, pool_size=8 if big else 4)
    return np.random.PCG64(seq)


class RawDraws:
    """Integer-arithmetic draws from a PCG64 stream (stable across numpy versions)."""

    def __init__(self, bitgen: np.random.PCG64):
        self._bitgen = bitgen

    def words(self, k: int) -> list[int]:
        return [int(w) for w in self._bitgen.random_raw(k)]

    def below(self, k: int) -> int:
        """Uniform integer in ``0..k-1`` (multiply-shift on 32 bits; bias < k / 2**32)."""
        word = int(self._bitgen.random_raw())
        return (((word >> 32) & _MASK32) * k) >> 32

    def uniform(self) -> float:
        """Uniform float in [0, 1) with 53 random bits (exact in IEEE arithmetic)."""
        return (int(self._bitgen.random_raw()) >> 11) * 2.0**-53

    def shuffled(self, items: list) -> list:
        """``items`` in random order: sort by one random 64-bit key each (ties by position)."""
        keys = self.words(len(items))
        order = sorted(range(len(items)), key=lambda i: (keys[i], i))
        return [items[i] for i in order]
