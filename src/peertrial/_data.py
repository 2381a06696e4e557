"""The one validation layer: every public function takes user data through here.

Design matrices (covariates as a list or an R-style formula, the typing rule below in
:func:`is_factor`) are built by :mod:`peertrial._design`, part of this layer.

Rules (see ARCHITECTURE.md):
- the caller's DataFrame is never modified: we read columns, never write;
- a bad value raises ``ValueError`` naming the column and the offending rows
  (by the DataFrame's index labels, so the user can find them);
- missing values are either an error or dropped with a ``UserWarning`` naming
  the rows, as R's ``na.action = na.omit`` does, depending on the caller.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence

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
    "arm_codes",
    "code_arm",
    "read_csv",
    "cluster_codes",
    "confidence_level",
    "level_percent",
    "deprecated_keyword",
    "renamed_argument",
]

_MAX_LISTED = 10


LINE_INDEX = "line"  # index name set by read_csv: labels are the file's line numbers


def row_labels(index: Sequence | pd.Index, mask: np.ndarray) -> str:
    """Human-readable list of the index labels where ``mask`` is true (first ten).

    Rows of a file read by :func:`read_csv` are named by the file's line number
    (``line 12``, or ``line 12 (id 'P011')`` when an id column was declared).
    """
    index = pd.Index(index)
    labels = list(index[np.asarray(mask, dtype=bool)])
    if index.name == LINE_INDEX:
        shown = ", ".join(str(x) if isinstance(x, str) else f"line {x}" for x in labels[:_MAX_LISTED])
    else:
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


def equal_lengths(**arrays) -> None:
    """Raise ``ValueError`` naming the arguments when the given array-likes differ in length."""
    lengths = {name: len(np.atleast_1d(np.asarray(a, dtype=object))) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"{', '.join(lengths)} must have the same length; {shown}")


def finite_array(values, name: str) -> np.ndarray:
    """Float array of an array-like argument; non-numbers, NaN and inf raise naming the argument and positions."""
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers; got {np.asarray(values, dtype=object).ravel()[:5].tolist()}") from None
    bad = ~np.isfinite(out)
    if bad.any():
        where = ", ".join(str(i[0] if len(i) == 1 else tuple(i)) for i in np.argwhere(bad)[:10].tolist())
        raise ValueError(f"{name} has missing or infinite values at positions {where}; remove or impute them first")
    return out


def unique_index(data: pd.DataFrame, what: str = "data") -> None:
    """Raise ``ValueError`` when ``data`` has repeated index labels (rows could not be matched back)."""
    dup = data.index.duplicated(keep=False)
    if dup.any():
        raise ValueError(f"{what} has repeated index labels ({row_labels(data.index, dup)}); "
                         "give each row its own label, e.g. data.reset_index(drop=True)")


def numeric(series: pd.Series, name: str | None = None) -> np.ndarray:
    """Float array of ``series``; non-numeric entries raise naming column and rows.

    Missing values (None/NaN) are kept as NaN; the caller decides their fate.
    """
    name = name or str(series.name)
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float, na_value=np.nan)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        raise ValueError(_not_numeric_message(series, bad, name))
    values = converted.to_numpy(dtype=float, na_value=np.nan)  # nullable (Int64) columns: <NA> -> NaN
    if np.isinf(values).any():
        raise ValueError(
            f"column {name!r} has infinite values at rows {row_labels(series.index, np.isinf(values))}"
        )
    return values


_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}(,\d{3})+(\.\d*)?\s*$")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d{1,3}(\.\d{3})*,\d+\s*$")


def _not_numeric_message(series: pd.Series, bad: np.ndarray, name: str) -> str:
    """Say which values are not numbers, where, and how to fix the common causes."""
    values = pd.unique(series[bad].astype(str))
    shown = ", ".join(repr(v) for v in values[:5]) + (f" and {len(values) - 5} more" if len(values) > 5 else "")
    msg = f"column {name!r} must be numeric; non-numeric values ({shown}) at rows {row_labels(series.index, bad)}"
    if any(_THOUSANDS.match(v) for v in values):
        example = next(v for v in values if _THOUSANDS.match(v))
        msg += (f". {example!r} uses ',' as a thousands separator: read the file with "
                "pandas.read_csv(..., thousands=',') (or remove the separators)")
    elif any(_DECIMAL_COMMA.match(v) for v in values):
        example = next(v for v in values if _DECIMAL_COMMA.match(v))
        msg += (f". {example!r} uses ',' as the decimal mark: read the file with "
                "pandas.read_csv(..., decimal=',', thousands='.')")
    return msg


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

    ``action="omit"`` warns naming the dropped rows (R's ``na.omit``), at the user's line
    (``stacklevel`` is accepted for compatibility and no longer needed);
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
        stacklevel=user_stacklevel(),
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
    text = present & ~is_number
    if text.any():
        # numbers written with separators ("10,240.83") would otherwise become factor levels
        values = pd.unique(series[text].astype(str))
        separated = [v for v in values if _THOUSANDS.match(v) or _DECIMAL_COMMA.match(v)]
        if len(separated) == len(values):
            raise ValueError(_not_numeric_message(series, text, name)
                             + f"; or list {name!r} in factors= if its values are labels")
    if not is_number.any():
        return True
    if is_number[present].all():
        return False
    examples = ", ".join(repr(v) for v in pd.unique(series[text])[:3])
    raise ValueError(
        f"covariate column {name!r} mixes numbers and text: non-numeric values ({examples}) at rows "
        f"{row_labels(series.index, text)}. Correct them, or "
        f"{fix or f'list {name!r} in factors='} to treat every value as a factor level."
    )


# --------------------------------------------------------------------------- arms

_ARM_MEANING = "0 = control, 1 = intervention"


def _arm_mapping(levels, name: str) -> dict:
    """``arm_levels`` as a dict value -> 0/1 (a mapping, or a pair ``(control, intervention)``)."""
    if isinstance(levels, Mapping):
        mapping = dict(levels)
    elif isinstance(levels, (list, tuple)) and len(levels) == 2:
        mapping = {levels[0]: 0, levels[1]: 1}
    else:
        raise ValueError(
            f"arm_levels must be a mapping of the values of {name!r} to 0 (control) and 1 (intervention), "
            f"e.g. {{'Control': 0, 'Peer': 1}}, or a pair (control, intervention); got {levels!r}"
        )
    codes = set()
    for key, code in mapping.items():
        if isinstance(code, bool) or code not in (0, 1):
            raise ValueError(f"arm_levels maps {key!r} to {code!r}; every value must map to 0 (control) "
                             "or 1 (intervention)")
        codes.add(int(code))
    if codes != {0, 1}:
        raise ValueError(f"arm_levels {mapping!r} must map at least one value to 0 (control) and one to "
                         "1 (intervention)")
    return mapping


def _suggest_levels(values: list) -> str:
    if len(values) == 2:
        return f"arm_levels={{{values[0]!r}: 0, {values[1]!r}: 1}}"
    return "arm_levels={<control value>: 0, <intervention value>: 1}"


def arm_codes(series: pd.Series, name: str | None = None, levels=None) -> np.ndarray:
    """The randomised arm as a float array of 0 (control) / 1 (intervention), NaN if missing.

    ``levels`` (a function's ``arm_levels=`` argument) maps the column's values to the
    codes, e.g. ``{"Control": 0, "Peer": 1}``; a pair ``("Control", "Peer")`` means
    (control, intervention). Without it the column must hold 0/1 (or booleans; numbers
    stored as text are numbers). Otherwise ``ValueError`` shows the distinct values found,
    their rows, and the ``arm_levels=`` that would code them.
    """
    name = name or str(series.name)
    present = series.notna().to_numpy()
    if levels is not None:
        mapping = _arm_mapping(levels, name)
        keys = list(mapping)
        # compare as Python objects; numbers given as keys also match numbers stored as text
        lookup = {k: v for k, v in mapping.items()}
        lookup.update({str(k): v for k, v in mapping.items() if not isinstance(k, str)})
        raw = series.to_numpy(dtype=object)
        out = np.full(len(series), np.nan)
        unmatched = np.zeros(len(series), dtype=bool)
        for i, v in enumerate(raw):
            if not present[i]:
                continue
            key = v.item() if isinstance(v, np.generic) else v
            if key in lookup:
                out[i] = lookup[key]
            elif str(key) in lookup:
                out[i] = lookup[str(key)]
            else:
                unmatched[i] = True
        if unmatched.any():
            found = [repr(v) for v in pd.unique(series[unmatched])[:5]]
            raise ValueError(
                f"column {name!r} has values not named in arm_levels ({', '.join(found)}) at rows "
                f"{row_labels(series.index, unmatched)}; arm_levels covers {keys!r}: add them to arm_levels "
                "or correct the data"
            )
        return out
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float)
    converted = pd.to_numeric(series, errors="coerce")
    text = converted.isna().to_numpy() & present
    values = converted.to_numpy(dtype=float)
    bad = text | (~np.isin(values, (0.0, 1.0)) & present)
    if bad.any():
        distinct = sorted(pd.unique(series[present]).tolist(), key=lambda v: (str(type(v)), str(v)))
        counts = series[present].value_counts()
        shown = ", ".join(f"{v!r} ({int(counts[v])} row{'s' if counts[v] != 1 else ''})" for v in distinct[:6])
        more = f" and {len(distinct) - 6} more" if len(distinct) > 6 else ""
        raise ValueError(
            f"column {name!r} must be coded 0/1 ({_ARM_MEANING}); found values {shown}{more}; "
            f"not 0/1 at rows {row_labels(series.index, bad)}. Name the coding with "
            f"{_suggest_levels(distinct)} (the control value maps to 0), or recode the column"
        )
    return values


def code_arm(data, arm, levels=None, *, what: str = "data") -> pd.DataFrame:
    """A copy of ``data`` whose ``arm`` column is coded 0/1 by :func:`arm_codes`.

    The one entry point for an arm argument: public functions call it first, so the rest
    of the computation sees 0/1 (the caller's DataFrame is never modified). ``arm=None``
    (an optional arm) returns the copy unchanged.
    """
    frame = as_frame(data, what=what)
    if arm is None or not isinstance(arm, str):
        return frame
    require_columns(frame, [arm])
    if levels is None and pd.api.types.is_numeric_dtype(frame[arm]) and not pd.api.types.is_bool_dtype(frame[arm]):
        values = frame[arm].to_numpy(dtype=float)
        if np.isin(values[~np.isnan(values)], (0.0, 1.0)).all():
            return frame
    codes = arm_codes(frame[arm], arm, levels)
    frame[arm] = codes
    return frame


# --------------------------------------------------------------------------- files


def read_csv(path, *, id: str | None = None, **kwargs) -> pd.DataFrame:
    """Read a CSV as the command line does: rows are named by the file's line number.

    The returned DataFrame's index (named ``"line"``) holds each row's line number in
    the file (the header is line 1), so every error message names rows as a text editor
    shows them (``line 12``); with ``id`` (a column of participant or study ids) also
    the id: ``line 12 (id 'P011')``. ``kwargs`` go to :func:`pandas.read_csv` (e.g.
    ``thousands=","``).
    """
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise ValueError(f"data file {str(path)!r} not found")
    data = pd.read_csv(path, **kwargs)
    lines = _record_lines(path, len(data), kwargs)
    if id is not None:
        require_columns(data, [id])
        labels = [f"line {ln} (id {v!r})" if pd.notna(v) else f"line {ln}"
                  for ln, v in zip(lines, data[id].tolist())]
        data.index = pd.Index(labels, name=LINE_INDEX, dtype=object)
    else:
        data.index = pd.Index(lines, name=LINE_INDEX)
    return data


def _record_lines(path, n_rows: int, kwargs: dict) -> list[int]:
    """File line on which each of the ``n_rows`` records starts (quoted newlines and blank lines
    handled as pandas does with its defaults)."""
    import csv

    given = {k for k, v in kwargs.items() if v is not None}
    simple = not ({"skiprows", "header", "comment", "nrows", "sep", "delimiter", "skip_blank_lines"} & given)
    if simple:
        starts = []
        with open(path, newline="", encoding=kwargs.get("encoding") or "utf-8") as fh:
            reader = csv.reader(fh)
            prev, first = 0, True
            for row in reader:
                start, prev = prev + 1, reader.line_num
                if not row or (len(row) == 1 and row[0] == ""):
                    continue  # pandas skips blank lines
                if first:
                    first = False  # the header
                    continue
                starts.append(start)
        if len(starts) == n_rows:
            return starts
    return list(range(2, n_rows + 2))


def cluster_codes(series: pd.Series, name: str | None = None) -> np.ndarray:
    """Integer codes (0, 1, ...) of a cluster column for cluster-robust variances.

    Raises ``ValueError`` when fewer than two clusters remain: a sandwich from one cluster
    is zero up to round-off (a meaningless SE near 0 and p = 0), so no model computes it.
    """
    name = name or str(series.name)
    missing = series.isna().to_numpy()
    if missing.any():
        raise ValueError(f"cluster column {name!r} has missing values at rows {row_labels(series.index, missing)}")
    codes, uniques = pd.factorize(series, sort=True)
    if len(uniques) < 2:
        found = f"only {uniques[0]!r}" if len(uniques) else "none"
        raise ValueError(f"cluster column {name!r} needs at least 2 clusters for cluster-robust standard "
                         f"errors; found {len(uniques)} ({found}) in the {len(series)} analysed rows. "
                         "Drop cluster= (model-based SEs) or cluster by a finer unit.")
    return codes
def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` called here that points at the first frame outside
    peertrial (the user's call), however deep inside the package the warning is raised."""
    import contextlib
    import os
    import sys

    inside = (os.path.dirname(os.path.abspath(__file__)) + os.sep, os.path.abspath(contextlib.__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(inside):
        frame, level = frame.f_back, level + 1
    return level


def warn_deprecated(message: str) -> None:
    """``FutureWarning`` for a deprecated spelling, attributed to the user's line."""
    warnings.warn(message, FutureWarning, stacklevel=user_stacklevel())


def _proportion(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number (0.95 or 95 for a 95% interval), got {value!r}")
    x = float(value)
    if math.isnan(x) or not (0.0 < x < 1.0 or 1.0 <= x < 100.0):
        raise ValueError(
            f"{name} must be a proportion in (0, 1) or a percentage in [1, 100) "
            f"(0.95 and 95 both mean a 95% interval), got {value!r}"
        )
    return x if x < 1.0 else x / 100.0


def confidence_level(level, *, conf_level=None, default: float = 0.95) -> float:
    """The confidence level as a proportion: the one rule for ``level=`` everywhere.

    ``level`` may be a proportion or a percentage, as metafor reads it: values in (0, 1)
    are proportions, values in [1, 100) percentages, so ``0.95`` and ``95`` both give
    ``0.95``. Anything else (0, 100 or more, negative, NaN, booleans, text) raises
    ``ValueError`` naming ``level``. ``None`` gives ``default``.

    ``conf_level`` is the deprecated spelling: when given it is used (read by the same
    rule) with a ``FutureWarning`` pointing at the user's line. Giving both with different
    values raises ``ValueError``.

    Examples
    --------
    >>> confidence_level(95), confidence_level(0.9), confidence_level(None)
    (0.95, 0.9, 0.95)
    """
    if conf_level is not None:
        warn_deprecated("conf_level= is deprecated and will be removed; use level= (0.95 and 95 both mean 95%)")
        old = _proportion(conf_level, "conf_level")
        if level is not None and not math.isclose(_proportion(level, "level"), old) and not math.isclose(
            _proportion(level, "level"), _proportion(default, "default")
        ):
            raise ValueError(f"give level= only (conf_level= is its deprecated alias); got level={level!r} "
                             f"and conf_level={conf_level!r}")
        return old
    if level is None:
        return _proportion(default, "default")
    return _proportion(level, "level")


def level_percent(level, *, conf_level=None, default: float = 95.0) -> float:
    """:func:`confidence_level` as a percentage (metafor's convention: 95 for a 95% interval).

    ``0.95`` and ``95`` both give ``95.0`` (rounded to 10 decimals so that both spellings give
    the same float).
    """
    p = confidence_level(level, conf_level=conf_level, default=default)
    return float(round(100.0 * p, 10))


def deprecated_keyword(old: str, new: str, old_value, new_value, *, missing=None):
    """Resolve a renamed keyword argument: ``old`` is the deprecated spelling of ``new``.

    Returns the value to use. Passing ``old`` warns ``FutureWarning`` (at the user's line);
    passing both raises ``ValueError``. ``missing`` is the sentinel meaning "not given".
    """
    if old_value is missing:
        return new_value
    if new_value is not missing:
        raise ValueError(f"give {new}= only ({old}= is its deprecated alias)")
    warn_deprecated(f"{old}= is deprecated and will be removed; use {new}=")
    return old_value


def renamed_argument(old: str, new: str = "data"):
    """Decorator: ``old=`` is the deprecated keyword spelling of the parameter ``new``.

    Positional calls are unchanged; ``f(old=x)`` works as ``f(new=x)`` with a
    ``FutureWarning`` pointing at the caller; giving both raises ``TypeError`` as Python
    does for a doubled argument. ``inspect.signature`` shows the new name only.
    """

    def decorate(fn):
        params = list(inspect.signature(fn).parameters)
        position = params.index(new)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs or len(args) > position:
                    raise TypeError(f"{fn.__name__}() got {old}= and {new}= ({old}= is the deprecated "
                                    f"spelling of {new}=); give {new}= only")
                warn_deprecated(f"{fn.__name__}({old}=...) is deprecated and will be removed; use {new}=")
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        wrapper.__deprecated_arguments__ = {**getattr(fn, "__deprecated_arguments__", {}), old: new}
        return wrapper

    return decorate
