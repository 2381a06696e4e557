"""Cost–benefit arithmetic: ratios, pooled ratios across studies, bed-day savings.

The cost:benefit ratio quoted for peer support (Trachtenberg et al. 2013,
Centre for Mental Health) is written "1:x": every unit of currency spent on
the intervention returns ``x`` in benefits (bed days saved, valued at their
unit cost), so ``x = benefit / cost``. Net benefit is ``benefit - cost`` and
return on investment ``(benefit - cost) / cost``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_table

stats = lazy_module("scipy.stats")

__all__ = [
    "CostBenefit",
    "PooledRatio",
    "cost_benefit_ratio",
    "pooled_ratio",
    "bed_day_savings",
    "money_label",
]

WEIGHTINGS = {
    "total": "total benefit / total cost (each study's ratio weighted by its cost)",
    "equal": "unweighted mean of the study ratios",
    "n": "mean of the study ratios weighted by the number of participants",
}


def money_label(currency: str, price_year) -> str:
    """E.g. ``"GBP, 2024 prices"``; the price year is omitted when unknown."""
    return f"{currency}, {price_year} prices" if price_year is not None else f"{currency} (price year not stated)"


def _ratio_text(ratio: float) -> str:
    return f"1:{ratio:.2f}" if np.isfinite(ratio) else "1:NA"


@dataclass(frozen=True, eq=False)
class CostBenefit(Result):
    """Cost–benefit of one programme: ``ratio = benefit / cost`` (printed ``1:ratio``).

    Returned by :func:`cost_benefit_ratio`.

    Attributes
    ----------
    cost, benefit : float
        Cost of the programme and the monetary value of its benefits.
    ratio : float
        ``benefit / cost``.
    net_benefit : float
        ``benefit - cost``.
    roi : float
        Return on investment ``(benefit - cost) / cost``.
    currency : str
        Currency label.
    price_year : int or None
        Price year of the figures, when known.

    Notes
    -----
    R equivalent: none (arithmetic); as reported by Trachtenberg et al. (2013).

    References
    ----------
    .. [1] Trachtenberg, M., Parsonage, M., Shepherd, G., & Boardman, J. (2013). Peer support in
       mental health care: is it good value for money? Centre for Mental Health, London.

    Examples
    --------
    >>> cb = pt.econ.cost_benefit_ratio(cost=1000, benefit=4760, price_year=2013)
    >>> cb.summary().splitlines()[3].split()[:4]
    ['cost:benefit', 'ratio', '1:4.76', '(each']
    """

    cost: float
    benefit: float
    ratio: float
    net_benefit: float
    roi: float
    currency: str = "GBP"
    price_year: int | None = None

    def summary(self) -> str:
        return "\n".join(
            [
                f"Cost-benefit ({money_label(self.currency, self.price_year)})",
                f"  cost                 {self.cost:,.2f}",
                f"  benefit              {self.benefit:,.2f}",
                f"  cost:benefit ratio   {_ratio_text(self.ratio)}"
                f"  (each 1 {self.currency} spent returns {self.ratio:.2f} {self.currency})",
                f"  net benefit          {self.net_benefit:,.2f}",
                f"  return on investment {100 * self.roi:.1f}%",
            ]
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "cost": [self.cost],
                "benefit": [self.benefit],
                "ratio": [self.ratio],
                "net_benefit": [self.net_benefit],
                "roi": [self.roi],
                "currency": [self.currency],
                "price_year": [self.price_year],
            }
        )


def _number(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def cost_benefit_ratio(cost, benefit, *, currency: str = "GBP", price_year: int | None = None) -> CostBenefit:
    """Benefit per unit cost, net benefit and return on investment.

    ``ratio = benefit / cost`` (4.76 for Trachtenberg et al.'s "1:4.76"),
    ``net_benefit = benefit - cost``, ``roi = (benefit - cost) / cost``.
    The cost must be positive; a negative benefit (a loss) is allowed.

    Parameters
    ----------
    cost : float
        Cost of the programme (positive).
    benefit : float
        Monetary value of its benefits (e.g. bed days saved times their unit cost).
    currency : str, default "GBP"
        Currency label for the summary.
    price_year : int, optional
        Price year of the figures, for the summary.

    Returns
    -------
    CostBenefit
        ``ratio``, ``net_benefit`` and ``roi`` with the inputs.

    Notes
    -----
    R equivalent: none (arithmetic); as reported by Trachtenberg et al. (2013).

    References
    ----------
    .. [1] Trachtenberg, M., Parsonage, M., Shepherd, G., & Boardman, J. (2013). Peer support in
       mental health care: is it good value for money? Centre for Mental Health, London.

    Examples
    --------
    >>> cb = pt.econ.cost_benefit_ratio(cost=1000, benefit=4760)
    >>> round(cb.ratio, 2), cb.net_benefit, round(cb.roi, 2)
    (4.76, 3760.0, 3.76)
    """
    cost, benefit = _number(cost, "cost"), _number(benefit, "benefit")
    if not np.isfinite(cost) or cost <= 0:
        raise ValueError(f"cost must be a positive number for a cost:benefit ratio, got {cost!r}")
    if not np.isfinite(benefit):
        raise ValueError(f"benefit must be finite, got {benefit!r}")
    return CostBenefit(
        cost=cost,
        benefit=benefit,
        ratio=benefit / cost,
        net_benefit=benefit - cost,
        roi=(benefit - cost) / cost,
        currency=currency,
        price_year=price_year,
    )


def bed_day_savings(bed_days_saved, unit_cost):
    """Monetary benefit of bed days avoided: ``bed_days_saved * unit_cost``.

    NHS trusts quote about 404-429 GBP per adult acute inpatient bed day; pass
    both ends (or arrays) to carry that range through. Broadcasts like numpy.

    Parameters
    ----------
    bed_days_saved : float or array-like
        Inpatient bed days saved.
    unit_cost : float or array-like
        Cost of one bed day.

    Returns
    -------
    float or numpy.ndarray
        ``bed_days_saved * unit_cost``.

    Notes
    -----
    R equivalent: none (arithmetic: ``bed_days_saved * unit_cost``).

    References
    ----------
    .. [1] Trachtenberg, M., Parsonage, M., Shepherd, G., & Boardman, J. (2013). Peer support in
       mental health care: is it good value for money? Centre for Mental Health, London.

    Examples
    --------
    >>> pt.econ.bed_day_savings(10, 415)
    4150.0
    >>> pt.econ.bed_day_savings(10, [404, 429]).tolist()
    [4040.0, 4290.0]
    """
    from .._data import finite_array

    days = finite_array(bed_days_saved, "bed_days_saved")
    unit = finite_array(unit_cost, "unit_cost")
    if np.any(unit < 0):
        raise ValueError("unit_cost of a bed day must be non-negative")
    out = days * unit
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True, eq=False)
class PooledRatio(Result):
    """Benefit per unit cost pooled over studies, with its study-level table (from :func:`pooled_ratio`).

    Attributes
    ----------
    estimate : float
        The pooled ratio (benefit per unit cost).
    se, ci_lb, ci_ub : float
        Its SE and interval (NaN when ``uncertainty`` is None).
    weighting : str
        ``"total"``, ``"equal"`` or ``"n"``.
    uncertainty : str or None
        ``"bootstrap"``, ``"propagate"`` or None.
    level : float
        Confidence level, as a proportion.
    k : int
        Number of studies.
    total_cost, total_benefit : float
        Sums over the studies.
    table : pandas.DataFrame
        Per study: ``cost, benefit, ratio, net_benefit, weight``.
    replicates : numpy.ndarray or None
        Bootstrap or Monte Carlo replicates of the pooled ratio.
    currency : str
        Currency label.
    price_year : int or None
        Price year of the figures, when known.

    Notes
    -----
    R equivalent: none (arithmetic); the bootstrap interval is a ``boot::boot.ci(type =
    "perc")`` percentile interval over studies.

    References
    ----------
    .. [1] Trachtenberg, M., Parsonage, M., Shepherd, G., & Boardman, J. (2013). Peer support in
       mental health care: is it good value for money? Centre for Mental Health, London.

    Examples
    --------
    >>> studies = pd.DataFrame({"cost": [100.0, 200.0, 300.0], "benefit": [450.0, 900.0, 1500.0]})
    >>> res = pt.econ.pooled_ratio(studies, weighting="equal")
    >>> round(res.estimate, 4), res.k, res.table["weight"].round(4).tolist()
    (4.6667, 3, [0.3333, 0.3333, 0.3333])
    """

    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    weighting: str
    uncertainty: str | None
    level: float
    k: int
    total_cost: float
    total_benefit: float
    table: pd.DataFrame
    replicates: np.ndarray | None = field(default=None, repr=False)
    currency: str = "GBP"
    price_year: int | None = None

    def summary(self) -> str:
        n_rep = 0 if self.replicates is None else len(self.replicates)
        how = {
            None: "no interval requested",
            "bootstrap": f"percentile bootstrap over studies ({n_rep} replicates)",
            "propagate": "study-level intervals propagated (delta-method SE; Monte Carlo percentile interval"
            f" from {n_rep} normal draws)",
        }[self.uncertainty]
        pct = int(round(100 * self.level))
        lines = [
            f"Pooled cost:benefit ratio over k = {self.k} studies ({money_label(self.currency, self.price_year)})",
            f"Weighting: {WEIGHTINGS[self.weighting]}",
            "",
            format_table(self.table, digits=2),
            "",
            f"Pooled ratio {_ratio_text(self.estimate)}  (benefit {self.estimate:.4f} per unit cost)",
        ]
        if self.uncertainty is not None:
            lines.append(
                f"  SE {self.se:.4f}; {pct}% CI {self.ci_lb:.4f} to {self.ci_ub:.4f}  [{how}]"
            )
        lines.append(f"  total cost {self.total_cost:,.2f}; total benefit {self.total_benefit:,.2f}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "estimate": [self.estimate],
                "se": [self.se],
                "ci_lb": [self.ci_lb],
                "ci_ub": [self.ci_ub],
                "weighting": [self.weighting],
                "uncertainty": [self.uncertainty],
                "k": [self.k],
            }
        )


def _pool(cost: np.ndarray, benefit: np.ndarray, n: np.ndarray | None, weighting: str) -> np.ndarray:
    """Pooled ratio over the last axis (studies); leading axes are replicates."""
    if weighting == "total":
        return benefit.sum(axis=-1) / cost.sum(axis=-1)
    ratios = benefit / cost
    if weighting == "equal":
        return ratios.mean(axis=-1)
    return (ratios * n).sum(axis=-1) / n.sum(axis=-1)


def _pooled_variance(cost, benefit, var_cost, var_benefit, n, weighting) -> float:
    """Delta-method variance of the pooled ratio, study quantities independent.

    For ``total``: ``R = B/C`` with ``B = sum b_i``, ``C = sum c_i`` gives
    ``Var R = (Var B + R^2 Var C) / C^2``. For weighted means of ``r_i = b_i/c_i``:
    ``Var r_i = (Var b_i + r_i^2 Var c_i) / c_i^2`` and
    ``Var R = sum w_i^2 Var r_i / (sum w_i)^2``.
    """
    if weighting == "total":
        total_c = cost.sum()
        r = benefit.sum() / total_c
        return float((var_benefit.sum() + r**2 * var_cost.sum()) / total_c**2)
    r = benefit / cost
    var_r = (var_benefit + r**2 * var_cost) / cost**2
    w = np.ones_like(r) if weighting == "equal" else n
    return float((w**2 * var_r).sum() / w.sum() ** 2)


def _se_column(data, se_col, lb_col, ub_col, what: str, level: float, k: int) -> np.ndarray:
    if se_col is not None:
        se = _data.numeric(_data.column_or_array(data, se_col, f"{what}_se"))
    elif lb_col is not None and ub_col is not None:
        lb = _data.numeric(_data.column_or_array(data, lb_col, f"{what}_lb"))
        ub = _data.numeric(_data.column_or_array(data, ub_col, f"{what}_ub"))
        se = (ub - lb) / (2 * stats.norm.ppf(0.5 + level / 2))
    else:
        return np.zeros(k)
    if np.isnan(se).any() or (se < 0).any():
        raise ValueError(f"standard errors of {what} must be non-negative and not missing")
    return se


def pooled_ratio(
    data,
    cost: str = "cost",
    benefit: str = "benefit",
    *,
    study: str | None = None,
    weighting: str = "total",
    n: str | None = None,
    uncertainty: str | None = None,
    cost_se: str | None = None,
    benefit_se: str | None = None,
    cost_lb: str | None = None,
    cost_ub: str | None = None,
    benefit_lb: str | None = None,
    benefit_ub: str | None = None,
    n_boot: int = 5000,
    seed=None,
    level: float = 0.95,
    currency: str = "GBP",
    price_year: int | None = None,
) -> PooledRatio:
    """Pool benefit per unit cost across studies, optionally with an interval.

    ``weighting``: ``"total"`` (default) is total benefit / total cost, i.e. each
    study's ratio weighted by its cost, as Trachtenberg et al. (2013) pooled six
    studies into 1:4.76; ``"equal"`` is the plain mean of study ratios; ``"n"``
    weights study ratios by ``n`` (a column of participants).

    ``uncertainty``: ``None``; ``"bootstrap"`` resamples whole studies with
    replacement (``n_boot`` replicates, percentile interval; crude for few
    studies); ``"propagate"`` takes each study's SE (``cost_se``/``benefit_se``)
    or interval (``*_lb``/``*_ub`` at ``level``; SE = width / 2z), gives the
    delta-method SE and a percentile interval from ``n_boot`` normal draws.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per study.
    cost : str, default "cost"
        Column of each study's cost (positive).
    benefit : str, default "benefit"
        Column of each study's monetary benefit.
    study : str, optional
        Column of study labels (default: the row labels).
    weighting : {"total", "equal", "n"}, default "total"
        How study ratios are combined (see above).
    n : str, optional
        Column of participants per study; required for ``weighting="n"``.
    uncertainty : {None, "bootstrap", "propagate"}, default None
        How the interval is made (see above).
    cost_se, benefit_se : str, optional
        Columns of the study SEs (``"propagate"``).
    cost_lb, cost_ub, benefit_lb, benefit_ub : str, optional
        Columns of the study interval limits at ``level`` (``"propagate"``, instead of SEs).
    n_boot : int, default 5000
        Bootstrap replicates or Monte Carlo draws.
    seed : int or numpy.random.Generator, optional
        Seed of the replicates.
    level : float, default 0.95
        Confidence level, 0.95 or 95 alike.
    currency : str, default "GBP"
        Currency label for the summary.
    price_year : int, optional
        Price year of the figures, for the summary.

    Returns
    -------
    PooledRatio
        The pooled ratio with its SE and interval and the per-study table.

    Notes
    -----
    R equivalent: none (arithmetic); bootstrap intervals as ``boot::boot`` percentile intervals.

    References
    ----------
    .. [1] Trachtenberg, M., Parsonage, M., Shepherd, G., & Boardman, J. (2013). Peer support in
       mental health care: is it good value for money? Centre for Mental Health, London.

    Examples
    --------
    >>> studies = pd.DataFrame({"study": ["A", "B", "C"], "cost": [100.0, 200.0, 300.0],
    ...                         "benefit": [450.0, 900.0, 1500.0]})
    >>> round(pt.econ.pooled_ratio(studies).estimate, 4)     # total benefit / total cost
    4.75
    """
    level = _data.confidence_level(level)
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {sorted(WEIGHTINGS)}, got {weighting!r}")
    if uncertainty not in (None, "bootstrap", "propagate"):
        raise ValueError(f"uncertainty must be None, 'bootstrap' or 'propagate', got {uncertainty!r}")
    if weighting == "n" and n is None:
        raise ValueError("weighting='n' needs n= (a column with each study's number of participants)")
    frame = _data.as_frame(data)
    cols = [c for c in (cost, benefit, study, n) if isinstance(c, str)]
    _data.require_columns(frame, cols)
    frame = _data.drop_missing(frame, cols, unit="studies", action="fail")
    c = _data.numeric(_data.column_or_array(frame, cost, "cost"))
    b = _data.numeric(_data.column_or_array(frame, benefit, "benefit"))
    _data.check_positive(c, frame.index, str(cost))
    k = len(c)
    if k == 0:
        raise ValueError("no studies to pool")
    nn = None
    if n is not None:
        nn = _data.numeric(_data.column_or_array(frame, n, "n"))
        _data.check_positive(nn, frame.index, str(n))

    estimate = float(_pool(c, b, nn, weighting))
    se = ci_lb = ci_ub = np.nan
    reps = None
    alpha = 1 - level
    if uncertainty == "bootstrap":
        rng = _data.as_generator(seed)
        idx = rng.integers(0, k, size=(n_boot, k))
        reps = _pool(c[idx], b[idx], None if nn is None else nn[idx], weighting)
        se = float(reps.std(ddof=1))
        ci_lb, ci_ub = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    elif uncertainty == "propagate":
        sc = _se_column(frame, cost_se, cost_lb, cost_ub, "cost", level, k)
        sb = _se_column(frame, benefit_se, benefit_lb, benefit_ub, "benefit", level, k)
        if not (sc > 0).any() and not (sb > 0).any():
            raise ValueError("uncertainty='propagate' needs cost_se/benefit_se or *_lb/*_ub columns")
        se = float(np.sqrt(_pooled_variance(c, b, sc**2, sb**2, nn, weighting)))
        rng = _data.as_generator(seed)
        draws_c = c + sc * rng.standard_normal((n_boot, k))
        draws_b = b + sb * rng.standard_normal((n_boot, k))
        reps = _pool(draws_c, draws_b, nn, weighting)
        ci_lb, ci_ub = np.quantile(reps, [alpha / 2, 1 - alpha / 2])

    labels = frame[study].astype(str).to_numpy() if study is not None else np.asarray(frame.index.astype(str))
    ratios = b / c
    w = {"total": c, "equal": np.ones(k), "n": nn}[weighting]
    table = pd.DataFrame(
        {"cost": c, "benefit": b, "ratio": ratios, "net_benefit": b - c, "weight": w / w.sum()},
        index=pd.Index(labels, name="study"),
    )
    if reps is not None:
        reps.setflags(write=False)
    return PooledRatio(
        estimate=estimate,
        se=float(se),
        ci_lb=float(ci_lb),
        ci_ub=float(ci_ub),
        weighting=weighting,
        uncertainty=uncertainty,
        level=level,
        k=k,
        total_cost=float(c.sum()),
        total_benefit=float(b.sum()),
        table=table,
        replicates=reps,
        currency=currency,
        price_year=price_year,
    )
