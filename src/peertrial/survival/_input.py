"""Validation of survival data: times, event codes, groups, strata, covariates.

Every check raises ``ValueError`` naming the column and the offending rows
(index labels of the caller's DataFrame); the caller's data are never modified.

What is detected for *time-varying covariates passed as constants*:

- a covariate cell holding a sequence (list/array of values over time) instead of
  a scalar: the covariate must be split into counting-process rows
  ``(entry, time]`` with one value per row;
- with ``id=``: an identifier repeated on several rows without ``entry=`` (the rows
  would be counted as separate subjects at risk from time 0), and rows of one
  identifier whose ``(entry, time]`` intervals overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder


@dataclass(frozen=True)
class SurvData:
    """Validated survival data (rows with missing values already removed)."""

    index: pd.Index
    time: np.ndarray
    status: np.ndarray  # 0/1 events, or competing-risk codes
    entry: np.ndarray | None
    group: np.ndarray | None  # integer codes 0..k-1
    group_levels: list
    strata: np.ndarray | None  # integer codes 0..s-1
    strata_levels: list
    X: np.ndarray | None
    covariates: list
    weights: np.ndarray | None
    cluster: np.ndarray | None
    design: object = None  # peertrial._design.Design of the covariates (names, terms, new data)
    id: np.ndarray | None = None  # values of id= per row


def _times(frame: pd.DataFrame, col, what: str) -> np.ndarray:
    series = _data.column_or_array(frame, col, what)
    values = _data.numeric(series, what if not isinstance(col, str) else col)
    name = col if isinstance(col, str) else what
    _data.check_nonnegative(values, frame.index, name)
    return values


def _codes(series: pd.Series) -> tuple[np.ndarray, list]:
    cat = pd.Categorical(series)
    return cat.codes.astype(np.int64), list(cat.categories)


def _check_scalar_cells(frame: pd.DataFrame, col: str) -> None:
    series = frame[col]
    if series.dtype == object:
        seq = series.map(lambda v: isinstance(v, (list, tuple, np.ndarray, pd.Series))).to_numpy()
        if seq.any():
            raise ValueError(
                f"column {col!r} holds sequences at rows {_data.row_labels(frame.index, seq)}: "
                "a time-varying covariate must be given in counting-process form, one row per "
                "(entry, time] interval with a constant value (use entry= and id=)"
            )


def _check_ids(frame: pd.DataFrame, id_col: str, entry, time) -> None:
    ids = frame[id_col].to_numpy()
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    if entry is None:
        raise ValueError(
            f"column {id_col!r} repeats identifiers at rows {_data.row_labels(frame.index, dup)} "
            "but no entry= column was given: several rows per subject describe a time-varying "
            "covariate and need (entry, time] intervals"
        )
    order = np.lexsort((entry, ids))
    same = ids[order][1:] == ids[order][:-1]
    overlap = same & (entry[order][1:] < time[order][:-1])
    if overlap.any():
        bad = np.zeros(len(ids), dtype=bool)
        bad[order[1:][overlap]] = True
        bad[order[:-1][overlap]] = True
        raise ValueError(
            f"column {id_col!r}: (entry, time] intervals of one subject overlap at rows "
            f"{_data.row_labels(frame.index, bad)}"
        )


def prepare(
    data,
    time,
    status,
    *,
    status_codes: Sequence | None = None,
    status_name: str = "event",
    group=None,
    min_group_levels: int = 2,
    strata=None,
    covariates=None,
    factors=(),
    weights=None,
    cluster=None,
    entry=None,
    id=None,
) -> SurvData:
    """Validate and extract survival columns; rows with missing values are dropped with a warning
    naming them (R's ``na.omit``), whether the value missing is a time, a status or a covariate.

    ``status_codes``: the declared set of allowed status values (e.g. ``{0, 1}``).
    """
    frame = _data.as_frame(data) if data is not None else None
    if frame is None:
        _data.equal_lengths(**{k: v for k, v in {"time": time, status_name: status, "group": group, "strata": strata,
                                                  "weights": weights, "cluster": cluster, "entry": entry,
                                                  "id": id}.items() if v is not None and not isinstance(v, str)})
        frame = pd.DataFrame({"time": _data.numeric(pd.Series(np.asarray(time, dtype=object)), "time")})
        frame["status"] = np.asarray(status)
        time, status = "time", "status"
    cols = {"time": time, status_name: status, "group": group, "strata": strata,
            "weights": weights, "cluster": cluster, "entry": entry, "id": id}
    # array-likes become temporary columns of the (copied) frame
    for key, val in list(cols.items()):
        if val is not None and not isinstance(val, str):
            series = _data.column_or_array(frame, val, key)
            frame = frame.assign(**{f"__{key}": series.to_numpy()})
            cols[key] = f"__{key}"
    spec = _builder.spec(covariates)
    covariates = _builder.variables(spec, factors)
    _data.require_columns(frame, [c for c in cols.values() if c is not None] + covariates)
    for c in covariates:
        _check_scalar_cells(frame, c)
    # rows with a missing time, status or covariate are dropped with a warning naming
    # them, as R's na.omit does for Surv(time, status) ~ ...
    others = [cols[k] for k in ("time", status_name, "entry", "group", "strata", "weights",
                                "cluster")] + covariates
    frame = _data.drop_missing(frame, [c for c in others if c is not None], stacklevel=4)
    t = _data.numeric(frame[cols["time"]], _show(cols["time"]))
    _data.check_nonnegative(t, frame.index, _show(cols["time"]))
    st = _data.numeric(frame[cols[status_name]], _show(cols[status_name]))
    if status_codes is not None:
        bad = ~np.isin(st, list(status_codes))
        if bad.any():
            seen = sorted(set(st[bad].tolist()))[:5]
            raise ValueError(
                f"column {_show(cols[status_name])!r} must take values in {sorted(status_codes)}; "
                f"found {seen} at rows {_data.row_labels(frame.index, bad)}"
            )
    ent = None
    if cols["entry"] is not None:
        ent = _data.numeric(frame[cols["entry"]], _show(cols["entry"]))
        _data.check_nonnegative(ent, frame.index, _show(cols["entry"]))
        bad = ent >= t
        if bad.any():
            raise ValueError(
                f"column {_show(cols['entry'])!r} must be before {_show(cols['time'])!r} "
                f"(entry < time); violated at rows {_data.row_labels(frame.index, bad)}"
            )
    if cols["id"] is not None:
        _check_ids(frame, cols["id"], ent, t)
    g = glev = None
    if cols["group"] is not None:
        g, glev = _codes(frame[cols["group"]])
        if len(glev) < min_group_levels:
            raise ValueError(
                f"column {_show(cols['group'])!r} must have at least {min_group_levels} levels "
                f"to compare groups; found only {glev} in rows {_data.row_labels(frame.index, np.ones(len(g), bool))}"
            )
    s = slev = None
    if cols["strata"] is not None:
        s, slev = _codes(frame[cols["strata"]])
    X = design = None
    if covariates:
        design = _builder.build(frame, spec, factors, intercept="drop")
        X, covariates = design.X, list(design.names)
    w = None
    if cols["weights"] is not None:
        w = _data.numeric(frame[cols["weights"]], _show(cols["weights"]))
        _data.check_positive(w, frame.index, _show(cols["weights"]))
    cl = None
    if cols["cluster"] is not None:
        cl = _data.cluster_codes(frame[cols["cluster"]], _show(cols["cluster"]))
    ids = None
    if cols["id"] is not None:
        ids = frame[cols["id"]].to_numpy()
    return SurvData(frame.index, t, st, ent, g, glev or [], s, slev or [], X, covariates, w, cl, design, ids)


def _show(col: str) -> str:
    return col[2:] if col.startswith("__") else col
