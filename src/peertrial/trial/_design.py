"""Model frames and design matrices of the trial models (``lm``-style ``[1, arm, covariates]``).

The covariate columns come from the one builder, :mod:`peertrial._design` (a list of
columns or an R-style formula such as ``"C(site) + age"``; one typing rule: numbers,
including numbers stored as text, are numeric -- a linear trend --, other text, booleans,
categoricals, ``C(x)`` and columns in ``factors=`` are treatment-coded factors named
``site2`` as R names them; a column mixing numbers and text raises naming the rows).

Aliased covariate columns (linear combinations of the columns before them) are dropped
from the fit with a :class:`~peertrial.PeertrialWarning` naming them, as R reports their
coefficients ``NA``; the arm itself must be estimable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._design import as_list, factor_levels

__all__ = ["as_list", "factor_levels", "covariate_columns", "model_frame", "covariate_matrix",
           "design", "check_full_rank"]


def covariate_columns(covariates, factors=()) -> list[str]:
    """Data columns needed by ``covariates`` (list or formula)."""
    return _builder.variables(covariates, factors)


def model_frame(data, columns: Sequence[str], *, na_action: str = "omit", stacklevel: int = 4) -> pd.DataFrame:
    """The needed columns of ``data`` (a copy), rows with a missing value dropped with a warning."""
    frame = _data.as_frame(data)
    columns = list(dict.fromkeys(c for c in columns if c is not None))
    _data.require_columns(frame, columns)
    frame = frame[columns].copy()
    return _data.drop_missing(frame, columns, action=na_action, stacklevel=stacklevel)


def covariate_matrix(frame: pd.DataFrame, covariates, factors=()) -> tuple[np.ndarray, list[str]]:
    """Columns for ``covariates`` (dummies for factors, coded as with an intercept), R-style names."""
    if not covariate_columns(covariates, factors) and not isinstance(covariates, str):
        return np.empty((len(frame), 0)), []
    d = _builder.build(frame, covariates, factors, intercept="drop")
    return d.X, d.names


def design(frame: pd.DataFrame, lead: Sequence[tuple[str, np.ndarray]], covariates, factors=(), *,
           check: bool = True, covariate_block=None, what: str = "model") -> tuple[np.ndarray, list[str]]:
    """``[1, lead columns..., covariates...]`` without aliased columns.

    Aliased covariate columns are dropped (with a warning naming them when ``check``); a lead
    column (the arm) that is aliased raises. Covariate terms that repeat a lead column (e.g.
    ``arm`` in a formula) are skipped. ``covariate_block``: a precomputed
    ``covariate_matrix`` result for the same rows.
    """
    C, cnames = covariate_block or covariate_matrix(frame, covariates, factors)
    lead_names = [n for n, _ in lead]
    keep_c = [j for j, n in enumerate(cnames) if n not in lead_names]
    C, cnames = C[:, keep_c], [cnames[j] for j in keep_c]
    cols = [np.ones(len(frame))] + [np.asarray(v, dtype=float) for _, v in lead]
    X = np.column_stack(cols + ([C] if C.shape[1] else []))
    names = ["(Intercept)"] + lead_names + cnames
    bad = _builder.aliased(X)
    if bad.any():
        if check:
            keep = _builder.drop_aliased(X, names, what=what, protect=lead_names, stacklevel=4)
        else:
            keep = ~bad
        X, names = X[:, keep], [n for n, k in zip(names, keep) if k]
    return X, names


def check_full_rank(X: np.ndarray, names: list[str]) -> None:
    """Raise if a column of ``X`` is aliased (for designs whose every column is reported)."""
    bad = _builder.aliased(X)
    if bad.any():
        hit = [n for n, b in zip(names, bad) if b]
        raise ValueError(
            f"perfect collinearity: design column(s) {hit} are linear combinations of the "
            f"columns before them ({[n for n in names if n not in hit]}); R's lm would report NA "
            "for them. Remove or recode the covariate(s)."
        )
