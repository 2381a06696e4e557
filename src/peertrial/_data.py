"""The one validation layer: every public function takes user data through here.

Rules (see ARCHITECTURE.md):
- the caller's DataFrame is never modified: we read columns, never write;
- a bad value raises ``ValueError`` naming the column and the offending rows
  (by the DataFrame's index labels, so the user can find them);
- missing values are either an error or dropped with a ``UserWarning`` naming
  the rows, as R's ``na.action = na.omit`` does, depending on the caller.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "as_frame",
    "require_columns",
    "column_or_array",
    "numeric",
    "binary",
    "check_positive",
    "check_nonnegative",
    "check_integer",
    "drop_missing",
    "row_labels",
    "as_generator",
    "is_factor",
]

_MAX_LISTED = 10


def row_labels(index: Sequence | pd.Index, mask: np.ndarray) -> str:
    """Human-readable list of the index labels where ``mask`` is true (first ten)."""
    labels = list(pd.Index(index)[np.asarray(mask, dtype=bool)])
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in labels[:_MAX_LISTED])
    more = len(labels) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def as_frame(data, *, what: str = "data") -> pd.DataFrame:
    """Check ``data`` is a DataFrame (or convertible) and return a shallow *copy*.

    The copy guarantees that nothing downstream can modify the caller's object.
    """
    if data is None:
        raise ValueError(f"{what} is required (a pandas DataFrame)")
    if isinstance(data, pd.DataFrame):
        return data.copy(deep=False)
    try:
        return pd.DataFrame(data)
    except Exception as exc:  # pragma: no cover - pandas' own message is clear
        raise ValueError(f"{what} must be a pandas DataFrame: {exc}") from exc


def require_columns(data: pd.DataFrame, columns: Iterable[str | None]) -> None:
    """Raise ``ValueError`` listing every requested column that ``data`` lacks."""
    wanted = [c for c in columns if c is not None]
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        have = ", ".join(repr(c) for c in data.columns[:20])
        raise ValueError(f"column(s) {names} not found in data; available columns: {have}")


def column_or_array(data: pd.DataFrame | None, x, name: str, n: int | None = None) -> pd.Series:
    """Resolve an R-style argument: a column name of ``data`` or an array-like.

    Returns a Series (indexed like ``data`` when given) named after the column,
    or after the argument ``name`` for arrays.
    """
    if x is None:
        raise ValueError(f"argument {name!r} is required")
    if isinstance(x, str):
        if data is None:
            raise ValueError(f"{name}={x!r} names a column but no data was given")
        require_columns(data, [x])
        return data[x]
    values = np.asarray(x)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    index = data.index if data is not None and len(data) == len(values) else None
    if n is not None and len(values) != n:
        raise ValueError(f"{name} has length {len(values)}, expected {n}")
    if data is not None and index is None:
        raise ValueError(f"{name} has length {len(values)} but data has {len(data)} rows")
    return pd.Series(values, index=index, name=name)


def numeric(series: pd.Series, name: str | None = None) -> np.ndarray:
    """Float array of ``series``; non-numeric entries raise naming column and rows.

    Missing values (None/NaN) are kept as NaN; the caller decides their fate.
    """
    name = name or str(series.name)
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        raise ValueError(
            f"column {name!r} must be numeric; non-numeric values at rows {row_labels(series.index, bad)}"
        )
    values = converted.to_numpy(dtype=float)
    if np.isinf(values).any():
        raise ValueError(
            f"column {name!r} has infinite values at rows {row_labels(series.index, np.isinf(values))}"
        )
    return values


def _check(values: np.ndarray, bad: np.ndarray, index, name: str, rule: str) -> None:
    bad = np.asarray(bad, dtype=bool) & ~np.isnan(values)
    if bad.any():
        raise ValueError(f"column {name!r} must be {rule}; violated at rows {row_labels(index, bad)}")


def check_positive(values: np.ndarray, index, name: str) -> None:
    """Raise unless every non-missing value is > 0."""
    _check(values, values <= 0, index, name, "positive")


def check_nonnegative(values: np.ndarray, index, name: str) -> None:
    """Raise unless every non-missing value is >= 0."""
    _check(values, values < 0, index, name, "non-negative")


def check_integer(values: np.ndarray, index, name: str) -> None:
    """Raise unless every non-missing value is a whole number."""
    _check(values, values != np.round(values), index, name, "whole numbers (counts)")


def binary(series: pd.Series, name: str | None = None, *, meaning: str = "0 = control, 1 = intervention") -> np.ndarray:
    """0/1 float array; booleans accepted; anything else raises naming the rows.

    ``meaning`` says what the codes stand for in the error message (the default
    fits an arm column; e.g. ``"0 = still in post, 1 = left post"`` for others).
    Missing values are kept as NaN.
    """
    name = name or str(series.name)
    values = numeric(series, name)
    bad = ~np.isin(values, (0.0, 1.0)) & ~np.isnan(values)
    if bad.any():
        seen = sorted(set(values[bad].tolist()))[:5]
        raise ValueError(
            f"column {name!r} must be coded 0/1 ({meaning}); "
            f"found {seen} at rows {row_labels(series.index, bad)}"
        )
    return values


def drop_missing(
    data: pd.DataFrame,
    columns: Iterable[str],
    *,
    unit: str = "rows",
    action: str = "omit",
    stacklevel: int = 3,
) -> pd.DataFrame:
    """Return ``data`` without rows that have a missing value in ``columns``.

    ``action="omit"`` warns naming the dropped rows (R's ``na.omit``);
    ``action="fail"`` raises instead (R's ``na.fail``).
    """
    columns = [c for c in columns if c is not None]
    require_columns(data, columns)
    missing = data[columns].isna().any(axis=1).to_numpy()
    if not missing.any():
        return data
    where = row_labels(data.index, missing)
    cols = [c for c in columns if data[c].isna().any()]
    if action == "fail":
        raise ValueError(f"missing values in column(s) {cols} at {unit} {where}")
    if action != "omit":
        raise ValueError(f"na_action must be 'omit' or 'fail', got {action!r}")
    warnings.warn(
        f"{int(missing.sum())} {unit} with missing values in {cols} omitted: {where}",
        UserWarning,
        stacklevel=stacklevel,
    )
    return data.loc[~missing]


def as_generator(seed) -> np.random.Generator:
    """``seed`` (None, int, SeedSequence or Generator) as a ``numpy.random.Generator``.

    Never touches numpy's global state.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def is_factor(series: pd.Series, name: str, factors: Sequence[str], *, fix: str | None = None) -> bool:
    """Whether a covariate column enters a model as a factor (one rule for every module).

    - a column named in ``factors``, and any categorical or boolean column, is a factor;
    - a numeric column is numeric;
    - a text column is numeric when *every* non-missing value is a number (``"42"``), a
      factor when *no* value is; a column mixing the two raises ``ValueError`` naming the
      column and the rows of the text values (``fix``: how the caller makes every value a
      level; by default, listing the column in ``factors=``).
    """
    if name in factors or isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series):
        return False
    present = series.notna().to_numpy()
    is_number = pd.to_numeric(series, errors="coerce").notna().to_numpy() & present
    if not is_number.any():
        return True
    if is_number[present].all():
        return False
    text = present & ~is_number
    examples = ", ".join(repr(v) for v in pd.unique(series[text])[:3])
    raise ValueError(
        f"covariate column {name!r} mixes numbers and text: non-numeric values ({examples}) at rows "
        f"{row_labels(series.index, text)}. Correct them, or "
        f"{fix or f'list {name!r} in factors='} to treat every value as a factor level."
    )
