"""Further ``escalc`` measures (metafor 3.8 formulas; default ``vtype="LS"``).

Correlations (``ri``, ``ni``): ``"COR"`` raw correlation, ``vi = (1 - r^2)^2/(n - 1)``
(``vtype="AV"``: the sample-size weighted mean correlation in place of ``r``); ``"ZCOR"``
Fisher's z, ``vi = 1/(n - 3)``.

Single proportions (``xi`` events of ``ni``, or ``xi`` and ``mi`` non-events): ``"PR"``
``p``, ``vi = p(1 - p)/n``; ``"PLN"`` ``log p``, ``vi = 1/x - 1/n``; ``"PLO"`` ``log(x/m)``,
``vi = 1/x + 1/m``; ``"PFT"`` Freeman-Tukey double arcsine
``(asin sqrt(x/(n+1)) + asin sqrt((x+1)/(n+1)))/2``, ``vi = 1/(4n + 2)``. ``add`` (1/2; 0 for PFT
unless given) is added to ``x`` and ``m`` of rows with ``x = 0`` or ``m = 0`` (``to="only0"``);
``vtype="AV"`` uses the pooled proportion ``sum x / sum n`` in the variance.

Incidence rates (``xi`` events over person-time ``ti``): ``"IR"`` ``x/t``, ``vi = x/t^2``;
``"IRLN"`` ``log(x/t)``, ``vi = 1/x`` (``add`` to zero counts). Two groups (``x1i, t1i, x2i, t2i``): ``"IRR"`` log rate ratio,
``vi = 1/x1 + 1/x2``; ``"IRD"`` rate difference, ``vi = x1/t1^2 + x2/t2^2``.

Single means (``mi, sdi, ni``): ``"MN"``, ``vi = sd^2/n``.

Change scores of one group measured twice (``m1i``, ``m2i`` = means at the two occasions,
``sd1i``, ``sd2i``, ``ni``, ``ri`` = their correlation): ``"SMCC"`` standardised by the SD of
the change, ``d = c(n - 1) (m1 - m2)/sqrt(sd1^2 + sd2^2 - 2 r sd1 sd2)``, ``vi = 1/n + d^2/(2n)``;
``"SMCR"`` standardised by ``sd1``, ``vi = 2(1 - r)/n + d^2/(2n)``; ``c`` the exact
Hedges correction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peertrial import _data

COR_MEASURES = ("COR", "ZCOR")
PROP_MEASURES = ("PR", "PLN", "PLO", "PFT")
RATE_MEASURES = ("IR", "IRLN")
RATE2_MEASURES = ("IRR", "IRD")
MORE_MEASURES = (*COR_MEASURES, *PROP_MEASURES, *RATE_MEASURES, *RATE2_MEASURES, "MN", "SMCC", "SMCR")
_AV = ("COR", "PR", "PLN", "PLO")


def _get(frame, arg, name, measure, need=True):
    if arg is None:
        if need:
            raise ValueError(f"measure {measure!r} needs {name}")
        return None
    series = _data.column_or_array(frame, arg, name)
    return _data.numeric(series, arg if isinstance(arg, str) else name)


def _index(frame, n):
    return frame.index if frame is not None else pd.RangeIndex(n)


def compute(measure, frame, args, vtype="LS", add=None, to="only0"):
    """``(yi, vi, ni)`` for one of :data:`MORE_MEASURES` (``args``: the escalc keyword arguments).

    ``add=None`` is metafor's default: 1/2, except 0 for PFT (which needs no correction)."""
    if add is None:
        add = 0.0 if measure == "PFT" else 0.5
    vtype = str(vtype).upper()
    if vtype not in ("LS", "AV"):
        raise ValueError(f"vtype must be 'LS' or 'AV'; got {vtype!r}")
    if vtype == "AV" and measure not in _AV:
        raise ValueError(f"vtype='AV' is available for {', '.join(_AV)}; not for {measure!r}")
    if measure in COR_MEASURES:
        return _correlations(measure, frame, args, vtype)
    if measure in PROP_MEASURES:
        return _proportions(measure, frame, args, vtype, add, to)
    if measure in RATE_MEASURES:
        return _rates(measure, frame, args, vtype, add, to)
    if measure in RATE2_MEASURES:
        return _rates2(measure, frame, args, add, to)
    if measure == "MN":
        m = _get(frame, args["mi"], "mi", measure)
        s = _get(frame, args["sdi"], "sdi", measure)
        n = _get(frame, args["ni"], "ni", measure)
        idx = _index(frame, len(m))
        _data.check_nonnegative(s, idx, _lab(args["sdi"], "sdi"))
        _positive(n, idx, _lab(args["ni"], "ni"))
        return m, s**2 / n, n
    return _change(measure, frame, args)


def _lab(arg, name):
    return arg if isinstance(arg, str) else name


def _positive(x, index, label):
    with np.errstate(invalid="ignore"):
        bad = x <= 0
    if bad.any():
        raise ValueError(f"column {label!r} must be positive; not at rows {_data.row_labels(index, bad)}")


def _correlations(measure, frame, args, vtype):
    r = _get(frame, args["ri"], "ri", measure)
    n = _get(frame, args["ni"], "ni", measure)
    idx = _index(frame, len(r))
    with np.errstate(invalid="ignore"):
        bad = np.abs(r) > 1
    if bad.any():
        raise ValueError(f"correlations {_lab(args['ri'], 'ri')!r} must lie in [-1, 1]; not at rows "
                         f"{_data.row_labels(idx, bad)}")
    _positive(n, idx, _lab(args["ni"], "ni"))
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "ZCOR":
            return np.arctanh(r), 1 / (n - 3), n
        if vtype == "AV":
            ok = ~np.isnan(r) & ~np.isnan(n)
            rbar = np.sum(n[ok] * r[ok]) / np.sum(n[ok])
            return r, (1 - rbar**2) ** 2 / (n - 1), n
        return r, (1 - r**2) ** 2 / (n - 1), n


def _zero_rows(zero, n, to):
    if to == "all":
        return np.ones(n, dtype=bool)
    if to == "if0all":
        return np.full(n, bool(np.any(zero)))
    if to == "none":
        return np.zeros(n, dtype=bool)
    return zero


def _proportions(measure, frame, args, vtype, add, to):
    x = _get(frame, args["xi"], "xi", measure)
    if args.get("mi") is not None:
        m = _get(frame, args["mi"], "mi", measure)
        n = x + m
    else:
        n = _get(frame, args["ni"], "ni (or mi)", measure)
        m = n - x
    idx = _index(frame, len(x))
    _data.check_nonnegative(x, idx, _lab(args["xi"], "xi"))
    with np.errstate(invalid="ignore"):
        bad = m < 0
    if bad.any():
        raise ValueError(f"events {_lab(args['xi'], 'xi')!r} exceed the sample size at rows {_data.row_labels(idx, bad)}")
    n_raw = n.copy()
    with np.errstate(invalid="ignore"):
        zero = _zero_rows((x == 0) | (m == 0), len(x), to)
    x = np.where(zero, x + add, x)
    m = np.where(zero, m + add, m)
    n = x + m
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        if vtype == "AV":
            ok = ~np.isnan(x) & ~np.isnan(n)
            pbar = np.sum(x[ok]) / np.sum(n[ok])
        if measure == "PR":
            v = (pbar * (1 - pbar) if vtype == "AV" else p * (1 - p)) / n
            return p, v, n_raw
        if measure == "PLN":
            v = 1 / (pbar * n) - 1 / n if vtype == "AV" else 1 / x - 1 / n
            return np.log(p), v, n_raw
        if measure == "PLO":
            v = 1 / (pbar * n) + 1 / ((1 - pbar) * n) if vtype == "AV" else 1 / x + 1 / m
            return np.log(x / m), v, n_raw
        y = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
        return y, 1 / (4 * n + 2), n_raw


def _rates(measure, frame, args, vtype, add, to):
    x = _get(frame, args["xi"], "xi", measure)
    t = _get(frame, args["ti"], "ti", measure)
    idx = _index(frame, len(x))
    _data.check_nonnegative(x, idx, _lab(args["xi"], "xi"))
    _positive(t, idx, _lab(args["ti"], "ti"))
    with np.errstate(invalid="ignore"):
        zero = _zero_rows(x == 0, len(x), to)
    x = np.where(zero, x + add, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        ir = x / t
        if measure == "IR":
            return ir, x / t**2, None
        return np.log(ir), 1 / x, None


def _rates2(measure, frame, args, add, to):
    x1 = _get(frame, args["x1i"], "x1i", measure)
    t1 = _get(frame, args["t1i"], "t1i", measure)
    x2 = _get(frame, args["x2i"], "x2i", measure)
    t2 = _get(frame, args["t2i"], "t2i", measure)
    idx = _index(frame, len(x1))
    for a, arg, nm in ((x1, args["x1i"], "x1i"), (x2, args["x2i"], "x2i")):
        _data.check_nonnegative(a, idx, _lab(arg, nm))
    for a, arg, nm in ((t1, args["t1i"], "t1i"), (t2, args["t2i"], "t2i")):
        _positive(a, idx, _lab(arg, nm))
    with np.errstate(invalid="ignore"):
        zero = _zero_rows((x1 == 0) | (x2 == 0), len(x1), to)
    x1 = np.where(zero, x1 + add, x1)
    x2 = np.where(zero, x2 + add, x2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "IRR":
            return np.log(x1 / t1) - np.log(x2 / t2), 1 / x1 + 1 / x2, None
        return x1 / t1 - x2 / t2, x1 / t1**2 + x2 / t2**2, None


def _change(measure, frame, args):
    from peertrial.meta.escalc import hedges_correction

    m1 = _get(frame, args["m1i"], "m1i", measure)
    m2 = _get(frame, args["m2i"], "m2i", measure)
    s1 = _get(frame, args["sd1i"], "sd1i", measure)
    n = _get(frame, args["ni"], "ni", measure)
    r = _get(frame, args["ri"], "ri", measure)
    idx = _index(frame, len(m1))
    _data.check_nonnegative(s1, idx, _lab(args["sd1i"], "sd1i"))
    _positive(n, idx, _lab(args["ni"], "ni"))
    with np.errstate(invalid="ignore"):
        bad = np.abs(r) > 1
    if bad.any():
        raise ValueError(f"correlations {_lab(args['ri'], 'ri')!r} must lie in [-1, 1]; not at rows "
                         f"{_data.row_labels(idx, bad)}")
    c = hedges_correction(n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "SMCC":
            s2 = _get(frame, args["sd2i"], "sd2i", measure)
            _data.check_nonnegative(s2, idx, _lab(args["sd2i"], "sd2i"))
            sd = np.sqrt(s1**2 + s2**2 - 2 * r * s1 * s2)
            d = c * (m1 - m2) / sd
            return d, 1 / n + d**2 / (2 * n), n
        d = c * (m1 - m2) / s1
        return d, 2 * (1 - r) / n + d**2 / (2 * n), n
