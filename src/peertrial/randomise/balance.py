"""Baseline characteristics by arm: the usual "Table 1".

Continuous variables as mean (SD) or, for those listed in ``nonnormal``,
median [Q1, Q3] (R's default quantile type 7); 0/1 variables as the count and
percentage of 1s; other categorical variables as a count and percentage per
level (percentages of non-missing values). Missing values are counted on a
separate row. With two arms the standardised mean difference (SMD) is given,
as R's ``tableone`` computes it (absolute value): |m1 - m0| / sqrt((s1^2 + s0^2) / 2) for
continuous variables and, for categorical ones, Yang & Dalton's (2012)
sqrt((p1 - p0)' S^-1 (p1 - p0)) over all levels but the first, with
S = [diag(p1(1 - p1) + p0(1 - p0)) - (p1 p1' + p0 p0')] / 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peertrial._data import as_frame, require_columns, row_labels

__all__ = ["balance_table", "smd_continuous", "smd_categorical"]


def smd_continuous(x1, x0) -> float:
    """(mean1 - mean0) / sqrt((var1 + var0) / 2), NaNs ignored."""
    x1, x0 = np.asarray(x1, float), np.asarray(x0, float)
    x1, x0 = x1[~np.isnan(x1)], x0[~np.isnan(x0)]
    pooled = np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
    return float((x1.mean() - x0.mean()) / pooled) if pooled > 0 else np.nan


def smd_categorical(p1, p0) -> float:
    """Yang–Dalton SMD from level proportions (all levels; the first is dropped)."""
    p1, p0 = np.asarray(p1, float)[1:], np.asarray(p0, float)[1:]
    if p1.size == 0:
        return np.nan
    d = p1 - p0
    s = -(np.outer(p1, p1) + np.outer(p0, p0)) / 2
    np.fill_diagonal(s, (p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    if np.allclose(d, 0):
        return 0.0
    try:
        return float(np.sqrt(d @ np.linalg.solve(s, d)))
    except np.linalg.LinAlgError:
        return np.nan


def _fmt(x: float, digits: int) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.{digits}f}"


def _is_binary(s: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return False
    vals = set(pd.unique(s.dropna()).tolist())
    return bool(vals) and vals <= {0, 1}


def balance_table(
    data,
    arm: str = "arm",
    variables=None,
    categorical=None,
    nonnormal=None,
    arm_labels=None,
    digits: int = 1,
    overall: bool = True,
    smd: bool = True,
) -> pd.DataFrame:
    """Table 1: baseline characteristics by arm as a DataFrame of formatted cells.

    ``variables`` defaults to every column but ``arm``; ``categorical`` forces
    columns to be tabulated by level; ``nonnormal`` columns are summarised by
    median [IQR]. ``arm_labels`` maps arm codes to column names. Columns: one
    per arm (in sorted order), ``Overall`` and, with two arms, ``SMD``.
    """
    df = as_frame(data)
    require_columns(df, [arm])
    bad = df[arm].isna().to_numpy()
    if bad.any():
        raise ValueError(f"column {arm!r} (arm) is missing at rows {row_labels(df.index, bad)}")
    variables = [c for c in df.columns if c != arm] if variables is None else list(variables)
    categorical, nonnormal = set(categorical or []), set(nonnormal or [])
    require_columns(df, [*variables, *categorical, *nonnormal])
    arms = sorted(pd.unique(df[arm]).tolist())
    names = [str((arm_labels or {}).get(a, a)) for a in arms]
    groups = [df[df[arm] == a] for a in arms]
    cols = names + (["Overall"] if overall else [])
    parts = [*groups, df] if overall else groups
    show_smd = smd and len(arms) == 2
    rows: dict[str, list] = {"n": [str(len(g)) for g in parts] + ([""] if show_smd else [])}

    def add(label, cells, smd_value=None):
        rows[label] = cells + ([_fmt(smd_value, 3) if smd_value is not None else ""] if show_smd else [])

    for var in variables:
        s = df[var]
        if var in categorical or not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            levels = sorted(pd.unique(s.dropna()).tolist(), key=str)
            props = []
            cells_by_level = {lev: [] for lev in levels}
            for g in parts:
                x = g[var].dropna()
                p = np.array([(x == lev).mean() if len(x) else np.nan for lev in levels])
                props.append(p)
                for lev, pl in zip(levels, p):
                    cells_by_level[lev].append(f"{int((x == lev).sum())} ({_fmt(100 * pl, digits)}%)")
            add(f"{var}, n (%)", [""] * len(parts), smd_categorical(props[1], props[0]) if show_smd else None)
            for lev in levels:
                add(f"  {lev}", cells_by_level[lev])
        elif _is_binary(s) and var not in nonnormal:
            cells, props = [], []
            for g in parts:
                x = g[var].dropna().astype(float)
                p = x.mean() if len(x) else np.nan
                props.append(p)
                cells.append(f"{int(x.sum())} ({_fmt(100 * p, digits)}%)")
            value = smd_categorical([1 - props[1], props[1]], [1 - props[0], props[0]]) if show_smd else None
            add(f"{var} = 1, n (%)", cells, value)
        else:
            cells = []
            for g in parts:
                x = g[var].dropna().astype(float).to_numpy()
                if var in nonnormal:
                    q = np.quantile(x, [0.25, 0.5, 0.75]) if len(x) else [np.nan] * 3
                    cells.append(f"{_fmt(q[1], digits)} [{_fmt(q[0], digits)}, {_fmt(q[2], digits)}]")
                else:
                    sd = x.std(ddof=1) if len(x) > 1 else np.nan
                    cells.append(f"{_fmt(x.mean() if len(x) else np.nan, digits)} ({_fmt(sd, digits)})")
            stat = "median [IQR]" if var in nonnormal else "mean (SD)"
            add(f"{var}, {stat}", cells, abs(smd_continuous(groups[1][var], groups[0][var])) if show_smd else None)
        n_missing = [int(g[var].isna().sum()) for g in parts]
        if any(n_missing):
            add(f"  {var} missing, n", [str(m) for m in n_missing])
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=cols + (["SMD"] if show_smd else []))
    frame.index.name = "characteristic"
    return frame
