"""Doctests run by ``pytest --doctest-modules src/peertrial/...`` see what the test suite gives them.

``tests/core/test_docstrings.py`` runs every docstring example with ``np``, ``pd`` and ``pt``
already imported (the documentation's convention); this gives ``--doctest-modules`` the same
namespace (its option flags, ELLIPSIS and NORMALIZE_WHITESPACE, are in pyproject.toml).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _doctest_globals(doctest_namespace):
    import numpy as np
    import pandas as pd

    import peertrial as pt

    doctest_namespace.update(np=np, pd=pd, pt=pt)
