"""Model frames and design matrices built the way R's ``lm`` builds them.

Which covariates are factors (one rule for every trial function):

- a column named in ``factors=``, and any categorical or boolean column, is a factor;
- a numeric column is numeric;
- a text (object/string) column is numeric when *every* non-missing value is a number,
  including numbers stored as text (``"42"``), converted as outcomes are; it is a factor
  when *no* value is a number; a column mixing numbers and text raises ``ValueError``
  naming the column and the rows of the text values (list it in ``factors=`` to make every
  value a level).

Factors enter as treatment-coded dummies with the first sorted level as reference (R's
``factor()`` default; levels of mixed Python types sort by their text), named
``<column><level>`` as R names them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._data import is_factor
from peertrial.trial._linear import rank_deficient_columns


def as_list(columns) -> list[str]:
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    return list(columns)


def factor_levels(values: np.ndarray) -> list:
    """Sorted distinct values (R's ``factor()`` order); mixed types sort by their text."""
    levels = list(pd.unique(values))
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def model_frame(data, columns: Sequence[str], *, na_action: str = "omit", stacklevel: int = 4) -> pd.DataFrame:
    """The needed columns of ``data`` (a copy), rows with a missing value dropped with a warning."""
    frame = _data.as_frame(data)
    columns = list(dict.fromkeys(c for c in columns if c is not None))
    _data.require_columns(frame, columns)
    frame = frame[columns].copy()
    return _data.drop_missing(frame, columns, action=na_action, stacklevel=stacklevel)


def covariate_matrix(frame: pd.DataFrame, covariates: Sequence[str], factors: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Columns for ``covariates`` (dummies for factors), and their R-style names."""
    blocks, names = [], []
    for col in covariates:
        s = frame[col]
        if is_factor(s, col, factors):
            values = s.to_numpy()
            levels = factor_levels(values)
            for level in levels[1:]:
                blocks.append((values == level).astype(float))
                names.append(f"{col}{level}")
        else:
            blocks.append(_data.numeric(s, col))
            names.append(col)
    if not blocks:
        return np.empty((len(frame), 0)), []
    return np.column_stack(blocks), names


def design(frame: pd.DataFrame, lead: Sequence[tuple[str, np.ndarray]], covariates: Sequence[str],
           factors: Sequence[str], *, check: bool = True, covariate_block=None) -> tuple[np.ndarray, list[str]]:
    """``[1, lead columns..., covariates...]``; raises on perfect collinearity, naming the columns.

    ``covariate_block``: a precomputed ``covariate_matrix`` result for the same rows.
    """
    C, cnames = covariate_block or covariate_matrix(frame, covariates, factors)
    cols = [np.ones(len(frame))] + [np.asarray(v, dtype=float) for _, v in lead]
    X = np.column_stack(cols + ([C] if C.shape[1] else []))
    names = ["(Intercept)"] + [n for n, _ in lead] + cnames
    if check:
        check_full_rank(X, names)
    return X, names


def check_full_rank(X: np.ndarray, names: list[str]) -> None:
    bad = rank_deficient_columns(X, names)
    if bad:
        raise ValueError(
            f"perfect collinearity: design column(s) {bad} are linear combinations of the "
            f"columns before them ({[n for n in names if n not in bad]}); R's lm would report NA "
            "for them. Remove or recode the covariate(s)."
        )
