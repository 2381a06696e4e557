"""Discounting of costs and effects that accrue beyond the first year.

NICE's reference case discounts both costs and health effects at 3.5% a year
(NICE health technology evaluations manual, 2022, section 4.5.1); values in the
first year are not discounted. A value accruing in year ``t`` (``t = 0`` for
the first twelve months) is worth ``value / (1 + r)**t`` today.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NICE_RATE", "discount_factor", "discount", "present_value"]

NICE_RATE = 0.035


def _check_rate(rate: float) -> float:
    rate = float(rate)
    if not np.isfinite(rate) or rate < 0 or rate >= 1:
        raise ValueError(f"discount rate must be in [0, 1), got {rate!r} (e.g. 0.035 for 3.5%)")
    return rate


def discount_factor(years, rate: float = NICE_RATE, *, method: str = "annual") -> np.ndarray:
    """Discount factor ``(1 + rate) ** -t`` for time ``years`` since baseline.

    ``method="annual"`` (default) uses whole years elapsed, ``t = floor(years)``,
    so anything in the first twelve months is undiscounted (the usual convention
    in trial-based evaluations); ``method="continuous"`` uses ``t = years``.

    Parameters
    ----------
    years : float or array-like
        Time since baseline, in years (non-negative).
    rate : float, default 0.035
        Annual discount rate in [0, 1) (NICE's 3.5%).
    method : {"annual", "continuous"}, default "annual"
        Whole years elapsed or exact time.

    Returns
    -------
    numpy.ndarray
        One factor per entry of ``years``.

    Notes
    -----
    R equivalent: none (arithmetic: ``x / (1 + rate)^floor(t)``, as written in R models).

    References
    ----------
    .. [1] National Institute for Health and Care Excellence (2022). NICE health technology
       evaluations: the manual (PMG36), section 4.5 (discounting at 3.5% a year).
    .. [2] Drummond, M. F., Sculpher, M. J., Claxton, K., Stoddart, G. L., & Torrance, G. W.
       (2015). Methods for the Economic Evaluation of Health Care Programmes (4th ed.),
       chapter 4. Oxford University Press.

    Examples
    --------
    >>> pt.econ.discount_factor([0, 1, 2]).round(4).tolist()
    [1.0, 0.9662, 0.9335]
    """
    rate = _check_rate(rate)
    t = np.asarray(years, dtype=float)
    if np.any(t < 0):
        raise ValueError("years since baseline must be non-negative")
    if method == "annual":
        t = np.floor(t)
    elif method != "continuous":
        raise ValueError(f"method must be 'annual' or 'continuous', got {method!r}")
    return (1.0 + rate) ** -t


def discount(values, years, rate: float = NICE_RATE, *, method: str = "annual"):
    """Discounted values: ``values * (1 + rate) ** -t`` element-wise (see :func:`discount_factor`).

    Parameters
    ----------
    values : array-like
        Costs or effects.
    years : array-like
        Time since baseline of each value, in years.
    rate : float
        Annual discount rate (default 0.035, NICE's).
    method : {"annual", "continuous"}
        Whole years elapsed (default) or exact time, as :func:`discount_factor`.

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    R equivalent: none (arithmetic: ``x / (1 + rate)^floor(t)``, as written in R models).

    References
    ----------
    .. [1] National Institute for Health and Care Excellence (2022). NICE health technology
       evaluations: the manual (PMG36), section 4.5 (discounting at 3.5% a year).
    .. [2] Drummond, M. F., Sculpher, M. J., Claxton, K., Stoddart, G. L., & Torrance, G. W.
       (2015). Methods for the Economic Evaluation of Health Care Programmes (4th ed.),
       chapter 4. Oxford University Press.

    Examples
    --------
    >>> pt.econ.discount([1000, 1000], [1, 2]).round(2).tolist()
    [966.18, 933.51]
    """
    from .._data import finite_array

    x = finite_array(values, "values")
    factors = discount_factor(years, rate, method=method)
    try:
        np.broadcast_shapes(x.shape, np.shape(factors))
    except ValueError:
        raise ValueError(f"values (shape {x.shape}) and years (shape {np.shape(factors)}) do not match: give one "
                         "year per value (or a single year for all)") from None
    return x * factors


def present_value(by_year, rate: float = NICE_RATE):
    """Present value of amounts per year of follow-up: ``sum_t x_t / (1 + rate)**t``.

    ``by_year`` has the years on its last axis, the first year (``t = 0``)
    first; a 2-D array (participants x years) gives one value per participant.

    Parameters
    ----------
    by_year : array-like
        Amounts for follow-up years 0, 1, 2, ...
    rate : float
        Annual discount rate (default 0.035).

    Returns
    -------
    float

    Notes
    -----
    R equivalent: none (arithmetic: ``x / (1 + rate)^floor(t)``, as written in R models).

    References
    ----------
    .. [1] National Institute for Health and Care Excellence (2022). NICE health technology
       evaluations: the manual (PMG36), section 4.5 (discounting at 3.5% a year).
    .. [2] Drummond, M. F., Sculpher, M. J., Claxton, K., Stoddart, G. L., & Torrance, G. W.
       (2015). Methods for the Economic Evaluation of Health Care Programmes (4th ed.),
       chapter 4. Oxford University Press.

    Examples
    --------
    >>> round(float(pt.econ.present_value([1000, 1000, 1000])), 2)
    2899.69
    """
    from .._data import finite_array

    x = finite_array(by_year, "by_year")
    factors = discount_factor(np.arange(x.shape[-1]), rate)
    return x @ factors
