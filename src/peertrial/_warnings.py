"""Warning classes raised by peertrial, and the one way inner warnings reach the user."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped without meeting its convergence criterion."""


class PeertrialWarning(UserWarning):
    """A documented, non-fatal handling of the user's data (dropped rows, corrections)."""


@contextmanager
def relayed(context: str, *, expected: Sequence[str | type[Warning]] = ()) -> Iterator[None]:
    """Re-issue the warnings of the calls inside, once each, prefixed with ``context``.

    A function that runs many inner fits (a RevMan re-run, subgroups, leave-one-out) must
    neither flood the user with repeats nor hide what went wrong: every distinct warning
    comes out once, saying where it arose, attributed to the user's line. ``expected``
    holds what the caller already checks and reports itself (regular expressions of
    messages, or warning categories); only those are dropped. Exceptions pass through
    unchanged.
    """
    from peertrial._data import user_stacklevel

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[tuple[type, str]] = set()
    for w in caught:
        message = str(w.message)
        key = (w.category, message)
        if key in seen or any(issubclass(w.category, p) if isinstance(p, type) else re.search(p, message)
                              for p in expected):
            continue
        seen.add(key)
        warnings.warn(f"{context}: {message}" if context else message, w.category, stacklevel=user_stacklevel())
