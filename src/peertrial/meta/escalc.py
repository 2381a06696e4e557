"""Effect sizes and their sampling variances, as metafor's ``escalc``.

Two-group means (``m1i, sd1i, n1i, m2i, sd2i, n2i``; group 1 = intervention):

- ``"MD"``   raw mean difference, ``vi = sd1^2/n1 + sd2^2/n2``;
- ``"SMD"``  Hedges' g: ``d = (m1 - m2)/s_pooled`` times the exact correction
  ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``, ``m = n1 + n2 - 2``;
  ``vi = 1/n1 + 1/n2 + g^2 / (2 (n1 + n2))`` (metafor's default ``vtype="LS"``);
- ``"SMDH"`` SMD with heteroscedastic variances (Bonett 2009), ``s = sqrt((sd1^2+sd2^2)/2)``;
- ``"ROM"``  log ratio of means, ``vi = sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2)``.

2x2 tables (``ai, bi, ci, di`` = events/non-events in group 1 and 2; ``n1i``/``n2i``
may replace ``bi``/``di``): ``"OR"`` log odds ratio, ``"RR"`` log risk ratio,
``"RD"`` risk difference. As metafor (``add=1/2, to="only0", drop00=FALSE``),
``add`` is added to all four cells of any table with a zero cell.

Generic (``"GEN"``): ``yi`` with ``vi``, ``sei`` (``vi = sei^2``), or a 95% CI on the
analysis scale (``sei = (ci_ub - ci_lb) / (2 * 1.959964)``; ``yi`` defaults to the
midpoint when not given).

Sample sizes: as metafor's ``attr(yi, "ni")``, the total sample size of every study
(``ni = n1i + n2i``; for 2x2 tables before any ``add``) is kept in
``out.attrs["ni"]``, a dict from row label to ``ni`` (a list in row order when the
index has duplicate labels), so the returned frame still has exactly the input
columns plus ``yi`` and ``vi``. Being keyed by label, it survives row selection
(``es[es.year > 1990]``); ``rma(..., data=es)`` picks it up (``fit.ni``), so
``regtest(fit, predictor="ni")`` needs no ``ni=``. Generic input (``"GEN"``) has
no sample sizes unless ``ni=`` is given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial.meta import escalc_more
from peertrial.meta.escalc_more import MORE_MEASURES

__all__ = ["escalc", "hedges_correction", "MEASURES"]

MEANS_MEASURES = ("MD", "SMD", "SMDH", "ROM")
TABLE_MEASURES = ("OR", "RR", "RD")
MEASURES = (*MEANS_MEASURES, *TABLE_MEASURES, "GEN", *MORE_MEASURES)


def hedges_correction(m) -> np.ndarray:
    """Exact small-sample correction ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``.

    NaN for ``m <= 1`` (as metafor's ``.cmicalc``).
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        from scipy.special import gammaln  # on first use: importing scipy.special costs ~0.1 s

        out = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
    return np.where(m <= 1, np.nan, out)


def _column(data, arg, name):
    series = _data.column_or_array(data, arg, name)
    return _data.numeric(series, arg if isinstance(arg, str) else name)


def _label(arg, name):
    return arg if isinstance(arg, str) else name


def escalc(
    measure: str,
    data: pd.DataFrame | None = None,
    *,
    m1i=None, sd1i=None, n1i=None, m2i=None, sd2i=None, n2i=None,
    ai=None, bi=None, ci=None, di=None,
    yi=None, vi=None, sei=None, ci_lb=None, ci_ub=None, ni=None,
    add: float | None = None, to: str = "only0", drop00: bool = False,
    var_names=("yi", "vi"),
    ri=None, xi=None, mi=None, sdi=None, ti=None, x1i=None, x2i=None, t1i=None, t2i=None,
    vtype: str = "LS",
) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc``).

    Column arguments name columns of ``data`` (or are array-likes). Returns a new
    DataFrame: ``data`` (or the given arrays) plus ``yi`` and ``vi``; the caller's
    frame is never modified. Missing inputs give NaN ``yi``/``vi`` for that row
    (``rma`` then omits the study with a warning); invalid values (negative SDs or
    counts, counts above group size, group size <= 0) raise ``ValueError`` naming
    the column and rows. Studies whose effect size cannot be computed from valid
    inputs (ROM with means of different signs or a zero mean, SMD with both SDs 0, ...)
    get NA ``yi``/``vi`` with a ``PeertrialWarning`` naming them, as metafor's escalc
    ("NaNs produced", "+-Inf recoded to NAs"). ``out.attrs["ni"]`` holds the studies' total sample sizes
    (see the module docstring); ``ni`` (column or array) sets them for ``"GEN"``.

    Further measures (see :mod:`peertrial.meta.escalc_more` for the formulas): ``"COR"``,
    ``"ZCOR"`` (``ri``, ``ni``); ``"PR"``, ``"PLN"``, ``"PLO"``, ``"PFT"`` (``xi`` with ``ni`` or
    ``mi``); ``"IR"``, ``"IRLN"`` (``xi``, ``ti``); ``"IRR"``, ``"IRD"`` (``x1i``, ``t1i``, ``x2i``,
    ``t2i``); ``"MN"`` (``mi``, ``sdi``, ``ni``); ``"SMCC"`` (``m1i``, ``m2i``, ``sd1i``, ``sd2i``,
    ``ni``, ``ri``) and ``"SMCR"`` (``m1i``, ``m2i``, ``sd1i``, ``ni``, ``ri``). ``vtype="AV"``
    (COR, PR, PLN, PLO, IR, IRLN) uses the pooled correlation/proportion/rate in the variance.

    Parameters
    ----------
    measure : str
        The effect size: ``"SMD"`` (Hedges' g), ``"SMDH"``, ``"MD"``, ``"ROM"``, ``"OR"``,
        ``"RR"``, ``"RD"``, ``"PETO"``, ``"GEN"`` (given ``yi`` with ``vi``/``sei``/CI), and the
        further measures listed above.
    data : pandas.DataFrame, optional
        One row per study. Without it, the column arguments are array-likes.
    m1i, sd1i, n1i, m2i, sd2i, n2i : str or array-like, optional
        Means, standard deviations and sizes of group 1 (intervention) and group 2 (control).
    ai, bi, ci, di : str or array-like, optional
        2x2 table cells: events and non-events in group 1 (``ai``, ``bi``) and group 2
        (``ci``, ``di``); ``n1i``/``n2i`` may replace ``bi``/``di``.
    yi, vi, sei, ci_lb, ci_ub : str or array-like, optional
        Effect sizes with their variances, standard errors or confidence limits (``"GEN"``).
    ni : str or array-like, optional
        Total sample size per study.
    add : float, optional
        Added to the cells of 2x2 tables (default 1/2), as metafor's ``add``.
    to : {"only0", "all", "if0all", "none"}
        Which tables get ``add`` (default: only those with a zero cell).
    drop00 : bool
        Drop studies with no events in either group (default False).
    var_names : tuple of str
        Names of the two added columns (default ``("yi", "vi")``).
    ri, xi, mi, sdi, ti, x1i, x2i, t1i, t2i : str or array-like, optional
        Inputs of the further measures listed above.
    vtype : str
        Variance type (``"LS"`` large-sample; ``"AV"`` averaged).

    Returns
    -------
    pandas.DataFrame
        A new frame: the input columns plus ``yi`` and ``vi``; ``attrs["ni"]`` holds the
        sample sizes.

    Notes
    -----
    R equivalent: ``metafor::escalc`` (metafor 3.8-1), with the same defaults (exact Hedges'
    correction for ``"SMD"``; ``add=1/2, to="only0"`` for 2x2 tables).

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and
       related estimators. Journal of Educational Statistics, 6(2), 107-128.

    Examples
    --------
    >>> bcg = pt.datasets.load("bcg")
    >>> es = pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> es[["yi", "vi"]].head(3).round(4)
           yi      vi
    0 -0.8893  0.3256
    1 -1.5854  0.1946
    2 -1.3481  0.4154
    """
    measure = str(measure).upper()
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}; got {measure!r}")
    if to not in ("only0", "all", "if0all", "none"):
        raise ValueError(f"to must be 'only0', 'all', 'if0all' or 'none'; got {to!r}")
    frame = _data.as_frame(data) if data is not None else None
    if measure in MORE_MEASURES:  # correlations, proportions, rates, single means, change scores
        more = dict(ri=ri, xi=xi, mi=mi, sdi=sdi, ti=ti, x1i=x1i, x2i=x2i, t1i=t1i, t2i=t2i, ni=ni, m1i=m1i,
                    m2i=m2i, sd1i=sd1i, sd2i=sd2i)
        y, v, n = escalc_more.compute(measure, frame, more, vtype=vtype, add=add, to=to)
        ni = None  # for these measures ni is an input (the sample size), kept in attrs["ni"]
    elif measure in MEANS_MEASURES:
        y, v, n = _means(measure, frame, m1i, sd1i, n1i, m2i, sd2i, n2i)
    elif measure in TABLE_MEASURES:
        y, v, n = _table(measure, frame, ai, bi, ci, di, n1i, n2i, 0.5 if add is None else add, to, drop00)
    else:
        y, v = _generic(frame, yi, vi, sei, ci_lb, ci_ub)
        n = None
    if measure != "GEN":
        y, v = _not_computable(y, v, frame.index if frame is not None else pd.RangeIndex(len(y)), measure)
    if ni is not None:
        n = _column(frame, ni, "ni")
        if len(n) != len(y):
            raise ValueError(f"ni has {len(n)} values but there are {len(y)} studies")
    if frame is None:
        frame = pd.DataFrame(index=pd.RangeIndex(len(y)))
    out = frame.copy()
    out[var_names[0]] = y
    out[var_names[1]] = v
    out.attrs["measure"] = measure
    if n is not None:
        n = [float(x) for x in n]
        out.attrs["ni"] = dict(zip(out.index, n)) if out.index.is_unique else n
    return out


def _not_computable(y, v, index, measure):
    """Studies whose effect size cannot be computed (NaN or +-Inf from valid inputs,
    e.g. ROM with means of different signs or a zero mean, SMD with both SDs 0) are set
    to NA with a warning naming them, as metafor's escalc (``rma`` then omits them)."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    bad = ~(np.isfinite(y) & np.isfinite(v)) & ~(np.isnan(y) & np.isnan(v))
    bad |= np.isinf(y) | np.isinf(v)
    if bad.any():
        import warnings

        from peertrial._warnings import PeertrialWarning

        hint = " (ROM needs two means of the same sign, neither 0)" if measure == "ROM" else ""
        warnings.warn(
            f"{measure} cannot be computed for rows {_data.row_labels(index, bad)}{hint}; "
            "their yi and vi are set to NA (as metafor's escalc) and rma omits them",
            PeertrialWarning,
            stacklevel=3,
        )
        y = np.where(bad, np.nan, y)
        v = np.where(bad, np.nan, v)
    return y, v


def sample_sizes(frame: pd.DataFrame) -> np.ndarray | None:
    """The ``ni`` that :func:`escalc` stored in ``frame.attrs``, aligned with ``frame``'s rows
    (NaN for rows it does not know), or None when there are none."""
    stored = frame.attrs.get("ni")
    if isinstance(stored, dict):
        return np.array([stored.get(i, np.nan) for i in frame.index], dtype=float)
    if isinstance(stored, (list, tuple)) and len(stored) == len(frame):
        return np.asarray(stored, dtype=float)
    return None


def _means(measure, frame, m1i, sd1i, n1i, m2i, sd2i, n2i):
    args = {"m1i": m1i, "sd1i": sd1i, "n1i": n1i, "m2i": m2i, "sd2i": sd2i, "n2i": n2i}
    missing = [k for k, a in args.items() if a is None]
    if missing:
        raise ValueError(f"measure {measure!r} needs {', '.join(missing)}")
    values = {k: _column(frame, a, k) for k, a in args.items()}
    index = frame.index if frame is not None else pd.RangeIndex(len(values["n1i"]))
    for key in ("sd1i", "sd2i"):
        _data.check_nonnegative(values[key], index, _label(args[key], key))
    for key in ("n1i", "n2i"):
        _data.check_positive(values[key], index, _label(args[key], key))
    m1, s1, n1, m2, s2, n2 = (values[k] for k in args)
    y, v = _mean_effects(measure, index, args, m1, s1, n1, m2, s2, n2)
    return y, v, n1 + n2


def _mean_effects(measure, index, args, m1, s1, n1, m2, s2, n2):
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MD":
            return m1 - m2, s1**2 / n1 + s2**2 / n2
        if measure == "ROM":
            # as metafor: log(m1/m2) is NaN when the means differ in sign and +-Inf when one is 0;
            # escalc() sets such studies to NA with a warning
            return np.log(m1 / m2), s1**2 / (n1 * m1**2) + s2**2 / (n2 * m2**2)
        m = n1 + n2 - 2
        c = hedges_correction(m)
        if measure == "SMD":
            s_pooled = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / m)
            y = c * (m1 - m2) / s_pooled
            return y, 1 / n1 + 1 / n2 + y**2 / (2 * (n1 + n2))
        # SMDH (Bonett 2009), metafor's vtype="LS"
        s2sum = s1**2 + s2**2
        y = c * (m1 - m2) / np.sqrt(s2sum / 2)
        v = y**2 * (s1**4 / (n1 - 1) + s2**4 / (n2 - 1)) / (2 * s2sum**2) + (
            s1**2 / (n1 - 1) + s2**2 / (n2 - 1)
        ) / (s2sum / 2)
        return y, c**2 * v


def _table(measure, frame, ai, bi, ci, di, n1i, n2i, add, to, drop00):
    if ai is None or ci is None or (bi is None and n1i is None) or (di is None and n2i is None):
        raise ValueError(f"measure {measure!r} needs ai and ci, plus bi and di (or n1i and n2i)")
    a = _column(frame, ai, "ai")
    c = _column(frame, ci, "ci")
    n = len(a)
    index = frame.index if frame is not None else pd.RangeIndex(n)
    for arr, arg, key in ((a, ai, "ai"), (c, ci, "ci")):
        _data.check_nonnegative(arr, index, _label(arg, key))
    b = _counts_or_rest(frame, index, a, bi, n1i, "bi", "n1i", _label(ai, "ai"))
    d = _counts_or_rest(frame, index, c, di, n2i, "di", "n2i", _label(ci, "ci"))
    if drop00:
        both = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
        a, b, c, d = (np.where(both, np.nan, x) for x in (a, b, c, d))
    with np.errstate(invalid="ignore"):
        zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    if to == "all":
        zero = np.ones(n, dtype=bool)
    elif to == "if0all":
        zero = np.full(n, bool(zero.any()))
    elif to == "none":
        zero = np.zeros(n, dtype=bool)
    ni = a + b + c + d  # before the continuity correction, as metafor
    a, b, c, d = (np.where(zero, x + add, x) for x in (a, b, c, d))
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            return np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d, ni
        if measure == "RR":
            return np.log(p1) - np.log(p2), 1 / a - 1 / n1 + 1 / c - 1 / n2, ni
        return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2, ni


def _counts_or_rest(frame, index, events, cells, total, cell_name, total_name, events_label):
    """Non-events: the given column, or group size minus events (checked)."""
    if cells is not None:
        out = _column(frame, cells, cell_name)
        _data.check_nonnegative(out, index, _label(cells, cell_name))
        if total is not None:
            n = _column(frame, total, total_name)
            bad = ~np.isnan(n) & ~np.isnan(out) & ~np.isnan(events) & (n != events + out)
            if bad.any():
                raise ValueError(
                    f"column {_label(total, total_name)!r} must equal {events_label} + "
                    f"{_label(cells, cell_name)}; violated at rows {_data.row_labels(index, bad)}"
                )
        return out
    n = _column(frame, total, total_name)
    label = _label(total, total_name)
    _data.check_nonnegative(n, index, label)
    with np.errstate(invalid="ignore"):
        bad = events > n
    if bad.any():
        raise ValueError(
            f"column {events_label!r} (events) exceeds group size {label!r} at rows "
            f"{_data.row_labels(index, bad)}"
        )
    return n - events


def _generic(frame, yi, vi, sei, ci_lb, ci_ub):
    if vi is not None:
        y = _column(frame, yi, "yi") if yi is not None else None
        v = _column(frame, vi, "vi")
    elif sei is not None:
        y = _column(frame, yi, "yi") if yi is not None else None
        v = _column(frame, sei, "sei")
        _data.check_nonnegative(v, frame.index if frame is not None else pd.RangeIndex(len(v)), _label(sei, "sei"))
        v = v**2
    elif ci_lb is not None and ci_ub is not None:
        lb = _column(frame, ci_lb, "ci_lb")
        ub = _column(frame, ci_ub, "ci_ub")
        index = frame.index if frame is not None else pd.RangeIndex(len(lb))
        with np.errstate(invalid="ignore"):
            bad = ub < lb
        if bad.any():
            raise ValueError(
                f"column {_label(ci_ub, 'ci_ub')!r} is below {_label(ci_lb, 'ci_lb')!r} at rows "
                f"{_data.row_labels(index, bad)}"
            )
        v = ((ub - lb) / (2 * 1.959963984540054)) ** 2
        y = _column(frame, yi, "yi") if yi is not None else (lb + ub) / 2
    else:
        raise ValueError("measure 'GEN' needs yi with vi, sei, or ci_lb and ci_ub")
    if y is None:
        raise ValueError("measure 'GEN' needs yi")
    return y, v
