"""Decision quantities from incremental costs and effects.

Net monetary benefit at willingness to pay ``lambda`` is ``NB = lambda * E - C``;
for an intervention against its comparator the incremental net benefit is
``INB = lambda * dE - dC``. The cost-effectiveness acceptability curve (CEAC)
is ``P(INB > 0)`` over the joint (bootstrap or PSA) distribution of
``(dE, dC)`` — computed from net benefit, never from ICER percentiles, which
are meaningless when the cloud spans quadrants (Fenwick, O'Brien & Briggs
2004, Health Econ 13:405-415). EVPI is ``E[max_j NB_j] - max_j E[NB_j]``.

Several mutually exclusive strategies: :func:`icer_table` removes strongly
dominated strategies (costlier and no more effective than another) and then,
repeatedly, extendedly dominated ones (an ICER higher than the next costlier
strategy's), as dampack's ``calculate_icers`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._results import Result, format_table

__all__ = [
    "quadrant",
    "inb",
    "ceac_from_samples",
    "evpi_from_nb",
    "ICERTable",
    "icer_table",
    "ceac_strategies",
]

QUADRANTS = {
    "dominant": "SE quadrant: dominant (more effective and less costly)",
    "dominated": "NW quadrant: dominated (less effective and more costly)",
    "NE": "NE quadrant: trade-off (more effective and more costly)",
    "SW": "SW quadrant: trade-off (less effective and less costly)",
    "undefined": "incremental effect is zero: ICER undefined; decide by INMB",
}


def quadrant(delta_cost: float, delta_effect: float) -> str:
    """Where ``(dE, dC)`` lies on the cost-effectiveness plane: a key of ``QUADRANTS``.

    ``dE = 0`` is ``"undefined"``; ``dC = 0`` counts as dominant (``dE > 0``) or
    dominated (``dE < 0``), since equal cost with more effect dominates.

    Parameters
    ----------
    delta_cost, delta_effect : float
        Incremental cost and effect (intervention minus control).

    Returns
    -------
    str
        ``"NE"``, ``"SW"``, ``"dominant"`` (SE), ``"dominated"`` (NW) or ``"undefined"``.

    Notes
    -----
    R equivalent: none (a classification of the sign pair; ``BCEA::ceplane.plot`` draws the
    same plane).

    References
    ----------
    .. [1] Black, W. C. (1990). The CE plane: a graphic representation of cost-effectiveness.
       Medical Decision Making, 10, 212-214.

    Examples
    --------
    >>> pt.econ.quadrant(100, 0.01)
    'NE'
    >>> pt.econ.quadrant(-100, 0.01)
    'dominant'
    """
    if delta_effect == 0 or not np.isfinite(delta_effect):
        return "undefined"
    if delta_effect > 0:
        return "dominant" if delta_cost <= 0 else "NE"
    return "dominated" if delta_cost >= 0 else "SW"


def inb(wtp, delta_cost, delta_effect) -> np.ndarray:
    """Incremental net monetary benefit ``wtp * dE - dC`` (broadcast: wtps x samples)."""
    wtp = np.asarray(wtp, dtype=float)
    return wtp[..., None] * np.asarray(delta_effect, dtype=float) - np.asarray(delta_cost, dtype=float)


def _wtps(wtps) -> np.ndarray:
    w = np.atleast_1d(np.asarray(wtps, dtype=float))
    if w.ndim != 1 or np.isnan(w).any() or (w < 0).any():
        raise ValueError("willingness-to-pay values must be a 1-D array of non-negative numbers")
    return w


def ceac_from_samples(delta_cost, delta_effect, wtps, *, chunk: int = 2_000_000) -> np.ndarray:
    """``P(wtp * dE - dC > 0)`` for each WTP over the samples (one vectorised pass).

    Strict inequality, so at ``wtp = 0`` the value is exactly ``P(dC < 0)`` and
    as ``wtp -> inf`` it tends to ``P(dE > 0)``.

    Parameters
    ----------
    delta_cost, delta_effect : array-like
        Incremental cost and effect per sample (e.g. bootstrap replicates).
    wtps : array-like
        Willingness-to-pay values.
    chunk : int
        Samples x WTPs processed per pass (memory cap).

    Returns
    -------
    numpy.ndarray
        Probability cost-effective at each WTP.

    Notes
    -----
    R equivalent: ``BCEA::ceac`` on the same samples.

    References
    ----------
    .. [1] Fenwick, E., O'Brien, B. J., & Briggs, A. (2004). Cost-effectiveness acceptability
       curves: facts, fallacies and frequently asked questions. Health Economics, 13, 405-415.

    Examples
    --------
    >>> pt.econ.ceac_from_samples([100.0, -50.0, 200.0], [0.01, 0.02, -0.01], [0, 20000]).round(4).tolist()
    [0.3333, 0.6667]
    """
    w = _wtps(wtps)
    from .._data import equal_lengths, finite_array

    dc = finite_array(delta_cost, "delta_cost").ravel()
    de = finite_array(delta_effect, "delta_effect").ravel()
    equal_lengths(delta_cost=dc, delta_effect=de)
    step = max(1, chunk // max(dc.size, 1))
    out = np.empty(w.size)
    for start in range(0, w.size, step):
        block = w[start : start + step]
        out[start : start + step] = (block[:, None] * de[None, :] > dc[None, :]).mean(axis=1)
    return out


def evpi_from_nb(nb) -> np.ndarray:
    """Expected value of perfect information ``E[max_j NB_j] - max_j E[NB_j]``.

    ``nb`` has shape ``(..., samples, strategies)``; for one intervention
    against control pass ``np.stack([zeros, inb], -1)`` (NB relative to control).

    Parameters
    ----------
    nb : array-like, shape (samples, strategies)
        Net benefit of each strategy in each sample (or with a leading WTP axis).

    Returns
    -------
    numpy.ndarray
        ``E[max NB] - max E[NB]``.

    Notes
    -----
    R equivalent: ``BCEA::evi`` / ``dampack::calc_evpi`` on the same samples.

    References
    ----------
    .. [1] Claxton, K. (1999). The irrelevance of inference: a decision-making approach to the
       stochastic evaluation of health care technologies. Journal of Health Economics, 18, 341-364.

    Examples
    --------
    >>> float(pt.econ.evpi_from_nb(np.array([[1.0, 2.0], [3.0, 1.0], [2.0, 2.5]])))
    0.5
    """
    try:
        nb = np.asarray(nb, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"nb must be a numeric array of net benefits: {exc}") from exc
    if nb.ndim < 2 or nb.shape[-2] < 1 or nb.shape[-1] < 1:
        raise ValueError(
            f"nb must have shape (..., samples, strategies) (replicates x strategies), got shape {nb.shape}; "
            "for one intervention against control pass np.stack([np.zeros_like(inb), inb], -1)")
    if np.isnan(nb).any():
        raise ValueError("nb has missing (NaN) net benefits")
    best = nb.mean(axis=-2).argmax(axis=-1)  # strategy chosen under current information
    chosen = np.take_along_axis(nb, best[..., None, None], axis=-1)[..., 0]
    # mean of (max - chosen) is the same quantity, written so it is never negative
    return (nb.max(axis=-1) - chosen).mean(axis=-1)


def ceac_strategies(costs, effects, wtps, strategies=None) -> pd.DataFrame:
    """Compute the multi-strategy CEAC and acceptability frontier from samples x strategies.

    At each willingness to pay the net benefit ``wtp * effect - cost`` of every strategy
    in every sample is compared: ``prob_cost_effective`` is the share of samples in which
    the strategy has the highest net benefit and ``on_frontier`` marks the strategy with
    the highest expected net benefit (the cost-effectiveness acceptability frontier).

    Parameters
    ----------
    costs, effects : array-like, shape (samples, strategies)
        Cost and effect of each strategy in each sample (bootstrap or PSA draws).
    wtps : array-like
        Willingness-to-pay values (non-negative).
    strategies : sequence of str, optional
        Strategy names (default ``s1, s2, ...``).

    Returns
    -------
    pandas.DataFrame
        Long table ``wtp, strategy, prob_cost_effective, expected_nb, on_frontier``, one row
        per WTP and strategy.

    Notes
    -----
    R equivalent: ``BCEA::multi.ce`` (probability each strategy is the most cost-effective)
    and ``BCEA::ceaf`` (the frontier) on the same samples; not re-run in R here (BCEA is not
    installed on the fixture machine).

    References
    ----------
    .. [1] Fenwick, E., Claxton, K., & Sculpher, M. (2001). Representing uncertainty: the role
       of cost-effectiveness acceptability curves. Health Economics, 10, 779-787.

    Examples
    --------
    >>> costs = np.array([[0.0, 900.0], [0.0, 1200.0], [0.0, 1500.0], [0.0, 600.0]])
    >>> effects = np.array([[0.0, 0.05], [0.0, 0.08], [0.0, 0.06], [0.0, 0.035]])
    >>> t = pt.econ.ceac_strategies(costs, effects, [20000], ["usual care", "peer"])
    >>> t["prob_cost_effective"].tolist(), t["on_frontier"].tolist()
    ([0.25, 0.75], [False, True])
    """
    c = np.asarray(costs, dtype=float)
    e = np.asarray(effects, dtype=float)
    if c.shape != e.shape or c.ndim != 2:
        raise ValueError("costs and effects must be 2-D arrays of the same shape (samples x strategies)")
    w = _wtps(wtps)
    names = list(strategies) if strategies is not None else [f"s{j + 1}" for j in range(c.shape[1])]
    nb = w[:, None, None] * e[None] - c[None]  # wtp x sample x strategy
    best = nb.argmax(axis=-1)
    prob = np.stack([(best == j).mean(axis=1) for j in range(c.shape[1])], axis=1)
    enb = nb.mean(axis=1)
    frontier = enb.argmax(axis=1)
    return pd.DataFrame(
        {
            "wtp": np.repeat(w, c.shape[1]),
            "strategy": np.tile(names, w.size),
            "prob_cost_effective": prob.ravel(),
            "expected_nb": enb.ravel(),
            "on_frontier": (frontier[:, None] == np.arange(c.shape[1])[None]).ravel(),
        }
    )


@dataclass(frozen=True, eq=False)
class ICERTable(Result):
    """Incremental analysis of several strategies (dampack's ``calculate_icers``; from :func:`icer_table`).

    Attributes
    ----------
    table : pandas.DataFrame
        ``strategy, cost, effect, inc_cost, inc_effect, icer, status`` — ``"ND"`` on the
        efficient frontier (ICERs against the previous frontier strategy), ``"ED"``
        extendedly dominated, ``"D"`` strongly dominated; ordered ND, ED, D and by cost
        within status.
    currency : str
        Currency label.
    price_year : int or None
        Price year of the costs, when known.
    effect_label : str
        Unit of the effects (e.g. ``"QALY"``).

    Notes
    -----
    R equivalent: ``dampack::calculate_icers`` (checked on dampack's C. difficile example,
    ``tests/econ/fixtures/dampack_cdiff_icers.csv``).

    References
    ----------
    .. [1] Drummond, M. F., Sculpher, M. J., Claxton, K., Stoddart, G. L., & Torrance, G. W.
       (2015). Methods for the Economic Evaluation of Health Care Programmes (4th ed.). Oxford
       University Press.

    Examples
    --------
    >>> t = pt.econ.icer_table([0, 1000, 3000, 2500], [0, 0.1, 0.12, 0.09], ["usual", "peer", "peer+", "other"])
    >>> t.frontier, t.table["status"].tolist()
    (['usual', 'peer', 'peer+'], ['ND', 'ND', 'ND', 'D'])
    """

    table: pd.DataFrame
    currency: str = "GBP"
    price_year: int | None = None
    effect_label: str = "QALY"

    def plot(self, ax=None, **kwargs):
        """Strategies on the cost-effectiveness plane: with the efficient frontier.

        Draws :func:`peertrial.plot.ce_frontier` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.ce_frontier` (``title``).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.ce_frontier : what is drawn, with an example.
        """
        from peertrial.plot.econ import ce_frontier

        return ce_frontier(self, ax=ax, **kwargs)

    @property
    def frontier(self) -> list:
        return list(self.table.loc[self.table["status"] == "ND", "strategy"])

    def summary(self) -> str:
        from peertrial.econ.cost_benefit import money_label

        head = (
            f"Incremental cost-effectiveness of {len(self.table)} strategies "
            f"(costs {money_label(self.currency, self.price_year)}; effects in {self.effect_label})\n"
            "Status: ND non-dominated (efficient frontier), ED extendedly dominated, D dominated\n\n"
        )
        return head + format_table(self.table.set_index("strategy"), digits=4)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def _frontier_icers(cost: np.ndarray, effect: np.ndarray, order: np.ndarray):
    """Incremental cost, effect and ICER along ``order`` (first has NaN)."""
    ic = np.full(order.size, np.nan)
    ie = np.full(order.size, np.nan)
    ic[1:] = np.diff(cost[order])
    ie[1:] = np.diff(effect[order])
    with np.errstate(divide="ignore", invalid="ignore"):
        return ic, ie, ic / ie


def icer_table(
    cost,
    effect,
    strategies,
    *,
    data=None,
    currency: str = "GBP",
    price_year: int | None = None,
    effect_label: str = "QALY",
) -> ICERTable:
    """Dominance, extended dominance and ICERs of mutually exclusive strategies.

    Strategies are sorted by cost (ties: higher effect first). A strategy is
    strongly dominated (D) when a cheaper-or-equal strategy earlier in that
    order has at least its effect. Among the rest, a strategy whose ICER (vs
    the previous one) exceeds the next strategy's ICER is extendedly dominated
    (ED); this is repeated until ICERs increase along the frontier (ND).
    Reproduces dampack ``calculate_icers`` (Alarid-Escudero et al.).

    Parameters
    ----------
    cost, effect : str or array-like
        Mean cost and effect per strategy (columns of ``data`` or values).
    strategies : str or array-like
        Strategy names.
    data : pandas.DataFrame, optional
        One row per strategy.
    currency, price_year, effect_label : optional
        Labels for the summary.

    Returns
    -------
    ICERTable
        Strategies sorted by cost with incremental cost and effect, ICER and status
        (``ND`` non-dominated, ``D`` dominated, ``ED`` extendedly dominated); ``to_frame()``.

    Notes
    -----
    R equivalent: ``dampack::calculate_icers`` (also available as ``pt.econ.calculate_icers``).

    References
    ----------
    .. [1] Drummond, M. F., Sculpher, M. J., Claxton, K., Stoddart, G. L., & Torrance, G. W.
       (2015). Methods for the Economic Evaluation of Health Care Programmes (4th ed.). Oxford
       University Press.

    Examples
    --------
    >>> t = pt.econ.icer_table([0, 1000, 3000], [0, 0.1, 0.12], ["usual care", "peer", "peer+"])
    >>> t.to_frame()[["strategy", "icer", "status"]]
         strategy      icer status
    0  usual care       NaN     ND
    1        peer   10000.0     ND
    2       peer+  100000.0     ND
    """
    frame = _data.as_frame(data) if data is not None else None
    c = _data.numeric(_data.column_or_array(frame, cost, "cost"))
    e = _data.numeric(_data.column_or_array(frame, effect, "effect"))
    s = np.asarray(_data.column_or_array(frame, strategies, "strategies").astype(str))
    if not (c.size == e.size == s.size):
        raise ValueError("cost, effect and strategies must have the same length")
    if np.isnan(c).any() or np.isnan(e).any():
        raise ValueError("costs and effects of strategies must not be missing")
    if len(set(s)) != s.size:
        raise ValueError("strategy names must be unique")
    order = np.lexsort((-e, c))  # by cost, then effect descending
    status = np.full(c.size, "ND", dtype=object)
    best_effect = -np.inf
    for j in order:  # strong dominance: no more effective than a cheaper strategy
        if e[j] <= best_effect:
            status[j] = "D"
        best_effect = max(best_effect, e[j])
    while True:
        nd = order[status[order] == "ND"]
        if nd.size <= 2:
            break
        _, _, icer = _frontier_icers(c, e, nd)
        ext = nd[1:-1][icer[1:-1] > icer[2:]]
        if ext.size == 0:
            break
        status[ext] = "ED"
    nd = order[status[order] == "ND"]
    inc_c, inc_e, icer = _frontier_icers(c, e, nd)
    table = pd.DataFrame(
        {"strategy": s, "cost": c, "effect": e, "inc_cost": np.nan, "inc_effect": np.nan, "icer": np.nan, "status": status}
    )
    table.loc[nd, "inc_cost"] = inc_c
    table.loc[nd, "inc_effect"] = inc_e
    table.loc[nd, "icer"] = icer
    rank = table["status"].map({"ND": 0, "ED": 1, "D": 2})
    table = table.assign(_r=rank).sort_values(["_r", "cost", "effect"], ascending=[True, True, False], kind="stable")
    table = table.drop(columns="_r").reset_index(drop=True)
    return ICERTable(table=table, currency=currency, price_year=price_year, effect_label=effect_label)
