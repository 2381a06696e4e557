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

from peertrial._data import as_frame, is_factor, numeric, require_columns, row_labels
from peertrial._design import factor_levels

__all__ = ["balance_table", "balance_stats", "smd_continuous", "smd_categorical"]


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


def _fmt(x, digits: int) -> str:
    x = np.nan if x is None else float(x)
    return "NA" if not np.isfinite(x) else f"{x:.{digits}f}"


def _is_binary(s: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return False
    vals = set(pd.unique(s.dropna()).tolist())
    return bool(vals) and vals <= {0, 1}  # True == 1, False == 0


def _kind(s: pd.Series, var: str, categorical: set, nonnormal: set) -> str:
    """The one typing rule (:func:`peertrial._data.is_factor`): numbers, including numbers
    stored as text, are numeric; other text and categoricals are categorical; a column
    mixing numbers and text raises naming the rows. 0/1 and boolean columns are binary."""
    if pd.api.types.is_bool_dtype(s) and var not in categorical:
        return "binary"
    if is_factor(s, var, list(categorical), fix=f"list {var!r} in categorical="):
        return "categorical"
    s = pd.Series(numeric(s, var), index=s.index)
    if _is_binary(s) and var not in nonnormal:
        return "binary"
    return "nonnormal" if var in nonnormal else "continuous"


_STATS = ["variable", "kind", "level", "group", "n", "missing", "count", "percent",
          "mean", "sd", "q1", "median", "q3", "smd"]


def balance_stats(data, arm: str = "arm", variables=None, categorical=None, nonnormal=None) -> pd.DataFrame:
    """The numbers behind :func:`balance_table`, one row per variable (level) and group.

    Columns: ``variable``, ``kind`` (continuous, nonnormal, binary,
    categorical), ``level`` (categorical levels; "1" for 0/1 variables),
    ``group`` (each arm, then "Overall"), ``n`` (non-missing), ``missing``,
    ``count`` and ``percent`` (of non-missing) for categorical rows, ``mean``,
    ``sd``, ``q1``, ``median``, ``q3`` (R quantile type 7) for numeric ones, and
    ``smd`` (two arms; the same on every row of a variable).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the ``arm`` column and the variables.
    arm : str, default "arm"
        Column of the arm (any codes; sorted for the column order; no missing values).
    variables : list of str, optional
        Columns to describe (default every column but ``arm``).
    categorical : list of str, optional
        Columns tabulated by level even if numeric.
    nonnormal : list of str, optional
        Numeric columns summarised by median [Q1, Q3] instead of mean (SD).

    Returns
    -------
    pandas.DataFrame
        The long table of numbers described above.

    Notes
    -----
    R equivalent: ``tableone::CreateTableOne`` with ``tableone::ExtractSmd`` (not installed on
    the fixture machine; the fixtures write the same quantities in base R 4.2.2:
    ``mean``, ``sd``, ``quantile(type = 7)`` and the SMD formulas).

    References
    ----------
    .. [1] Yang, D., & Dalton, J. E. (2012). A unified approach to measuring the effect size
       between two groups using SAS. SAS Global Forum 2012, paper 335.
    .. [2] Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
       covariates between treatment groups in propensity-score matched samples. Statistics in
       Medicine, 28, 3083-3107.
    .. [3] Hyndman, R. J., & Fan, Y. (1996). Sample quantiles in statistical packages.
       The American Statistician, 50, 361-365.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> stats = pt.randomise.balance_stats(d, arm="arm", variables=["age", "female", "diagnosis"])
    >>> stats.groupby("variable")["smd"].first().round(3).to_dict()
    {'age': 0.058, 'diagnosis': 0.027, 'female': 0.161}
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
    parts = [(a, df[df[arm] == a]) for a in arms] + [("Overall", df)]
    rows = []
    for var in variables:
        kind = _kind(df[var], var, categorical, nonnormal)
        if kind != "categorical" and not pd.api.types.is_bool_dtype(df[var]):
            df = df.assign(**{var: numeric(df[var], var)})  # numbers stored as text: numbers
            parts = [(a, df[df[arm] == a]) for a in arms] + [("Overall", df)]
        smd = np.nan
        if kind in ("categorical", "binary"):
            levels = [1] if kind == "binary" else factor_levels(df[var].dropna())
            all_levels = [0, 1] if kind == "binary" else levels
            props = {}
            for g, part in parts:
                x = part[var].dropna()
                props[g] = np.array([(x == lev).mean() if len(x) else np.nan for lev in all_levels])
                for lev in levels:
                    k = int((x == lev).sum())
                    rows.append({"variable": var, "kind": kind, "level": str(lev), "group": g, "n": len(x),
                                 "missing": int(part[var].isna().sum()), "count": k,
                                 "percent": 100 * k / len(x) if len(x) else np.nan})
            if len(arms) == 2:
                smd = smd_categorical(props[arms[1]], props[arms[0]])
        else:
            for g, part in parts:
                x = part[var].dropna().astype(float).to_numpy()
                q = np.quantile(x, [0.25, 0.5, 0.75]) if len(x) else [np.nan] * 3
                rows.append({"variable": var, "kind": kind, "level": None, "group": g, "n": len(x),
                             "missing": int(part[var].isna().sum()), "mean": x.mean() if len(x) else np.nan,
                             "sd": x.std(ddof=1) if len(x) > 1 else np.nan, "q1": q[0], "median": q[1], "q3": q[2]})
            if len(arms) == 2:
                smd = abs(smd_continuous(parts[1][1][var], parts[0][1][var]))
        for r in rows:
            if r["variable"] == var:
                r["smd"] = smd
    return pd.DataFrame(rows, columns=_STATS)


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
    """Tabulate baseline characteristics by arm (Table 1) as a DataFrame of formatted cells.

    ``variables`` defaults to every column but ``arm``; ``categorical`` forces
    columns to be tabulated by level; ``nonnormal`` columns are summarised by
    median [Q1, Q3]. ``arm_labels`` maps arm codes to column names. Columns: one
    per arm (in sorted order), ``Overall`` and, with two arms, ``SMD``. The
    numbers are those of :func:`balance_stats`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the ``arm`` column and the variables.
    arm : str, default "arm"
        Column of the arm (any codes; sorted for the column order; no missing values).
    variables : list of str, optional
        Columns to describe (default every column but ``arm``).
    categorical : list of str, optional
        Columns tabulated by level even if numeric.
    nonnormal : list of str, optional
        Numeric columns summarised by median [Q1, Q3] instead of mean (SD).
    arm_labels : dict, optional
        Arm code -> column name (e.g. ``{0: "Control", 1: "Peer support"}``).
    digits : int, default 1
        Decimals shown for means, SDs, quartiles and percentages.
    overall : bool, default True
        Add an ``Overall`` column.
    smd : bool, default True
        Add the ``SMD`` column (two arms only).

    Returns
    -------
    pandas.DataFrame
        Indexed by characteristic (``n``, then one row per variable and per level), one
        column of text cells per arm, ``Overall`` and ``SMD``.

    Notes
    -----
    R equivalent: ``print(tableone::CreateTableOne(..., strata = "arm"), smd = TRUE)`` (not
    installed on the fixture machine; the numbers are checked against base R 4.2.2).

    References
    ----------
    .. [1] Yang, D., & Dalton, J. E. (2012). A unified approach to measuring the effect size
       between two groups using SAS. SAS Global Forum 2012, paper 335.
    .. [2] Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
       covariates between treatment groups in propensity-score matched samples. Statistics in
       Medicine, 28, 3083-3107.
    .. [3] Hyndman, R. J., & Fan, Y. (1996). Sample quantiles in statistical packages.
       The American Statistician, 50, 361-365.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> t1 = pt.randomise.balance_table(d, arm="arm", variables=["age", "female", "diagnosis"],
    ...                                 arm_labels={0: "Control", 1: "Peer"})
    >>> list(t1.columns)
    ['Control', 'Peer', 'Overall', 'SMD']
    >>> t1.loc["age, mean (SD)"].tolist()
    ['37.9 (10.4)', '38.6 (11.4)', '38.2 (10.9)', '0.058']
    """
    stats = balance_stats(data, arm=arm, variables=variables, categorical=categorical, nonnormal=nonnormal)
    df = as_frame(data)
    arms = sorted(pd.unique(df[arm]).tolist())
    groups = [*arms, "Overall"] if overall else list(arms)
    names = [str((arm_labels or {}).get(a, a)) for a in arms] + (["Overall"] if overall else [])
    show_smd = smd and len(arms) == 2
    rows: dict[str, list] = {"n": [str(int((df[arm] == a).sum())) for a in arms] + ([str(len(df))] if overall else [])}

    def add(label, cells, value=None):
        rows[label] = cells + ([_fmt(value, 3) if value is not None else ""] if show_smd else [])

    for var, block in stats.groupby("variable", sort=False):
        by_group = {g: block[block["group"] == g] for g in groups}
        kind, smd_value = block["kind"].iat[0], block["smd"].iat[0]
        if kind == "categorical":
            add(f"{var}, n (%)", [""] * len(groups), smd_value)
            for lev in block["level"].drop_duplicates():
                add(f"  {lev}", [_count(by_group[g], lev, digits) for g in groups])
        elif kind == "binary":
            add(f"{var} = 1, n (%)", [_count(by_group[g], "1", digits) for g in groups], smd_value)
        elif kind == "nonnormal":
            cells = [f"{_fmt(r['median'], digits)} [{_fmt(r['q1'], digits)}, {_fmt(r['q3'], digits)}]"
                     for r in (by_group[g].iloc[0] for g in groups)]
            add(f"{var}, median [IQR]", cells, smd_value)
        else:
            cells = [f"{_fmt(r['mean'], digits)} ({_fmt(r['sd'], digits)})" for r in (by_group[g].iloc[0] for g in groups)]
            add(f"{var}, mean (SD)", cells, smd_value)
        missing = [int(by_group[g]["missing"].iat[0]) for g in groups]
        if any(missing):
            add(f"  {var} missing, n", [str(m) for m in missing])
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=names + (["SMD"] if show_smd else []))
    frame.index.name = "characteristic"
    return frame


def _count(rows: pd.DataFrame, level: str, digits: int) -> str:
    r = rows[rows["level"] == level].iloc[0]
    return f"{int(r['count'])} ({_fmt(r['percent'], digits)}%)"
