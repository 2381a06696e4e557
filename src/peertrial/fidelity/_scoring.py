"""Fidelity index scoring: item ratings -> domain (principle) and total scores.

A rating *occasion* is one rater's rating of one session of one peer worker.
Each item belongs to one domain (one principle of peer support; see
:data:`PRINCIPLES`). Scores are kept on the item scale (means, not sums), so a
domain score of 3.2 on a 1-4 index reads like an item score.

Missing-item rule (documented, the usual "half rule" for prorating):
a domain score is the mean of the items present when at least ``min_present``
(default one half) of that domain's items are present — equivalently the sum
prorated to the full number of items, divided by that number — and missing
otherwise. The total score is the mean of the domain scores, and is missing if
any domain score is missing (so every total weighs the five principles equally).
A peer worker's fidelity score is the mean total over their rated occasions.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._results import Result, format_table
from peertrial._warnings import PeertrialWarning

__all__ = ["PRINCIPLES", "FidelityScores", "score_fidelity"]

#: The five principles of peer support (Gillard et al. 2017), one fidelity domain each.
PRINCIPLES: dict[str, str] = {
    "shared_experience": "Building trust and connection through shared lived experience",
    "reciprocity_mutuality": "Reciprocity and mutuality",
    "experiential_knowledge": "Validating experiential knowledge",
    "choice_control": "Leadership, choice and control",
    "strengths_connections": "Discovering strengths and making connections",
}

_SCALE_RATIO = 1.5


@dataclass(frozen=True, eq=False)
class FidelityScores(Result):
    """Item, domain and total fidelity scores.

    Attributes
    ----------
    items : DataFrame
        One row per rating occasion (MultiIndex peer_worker, rater, session),
        one column per item (NaN where not rated).
    occasions : DataFrame
        Same rows: one column per domain, ``total`` and ``items_present``.
    item_domain : Mapping
        Item name -> domain name.
    domains : tuple
        Domain names in scoring order.
    scale : tuple
        (lowest, highest) possible item score, stated or inferred.
    min_present : float
        Fraction of a domain's items needed to score it.

    Notes
    -----
    R equivalent: none (the scoring rule is the fidelity index's own: item means per
    domain with the half rule, then the mean of the domain scores).

    References
    ----------
    .. [1] Gillard, S., Foster, R., Gibson, S., Goldsmith, L., Marks, J., & White, S. (2017).
       Describing a principles-based approach to developing and evaluating peer worker roles
       as peer support moves into mainstream mental health services. Mental Health and
       Social Inclusion, 21, 133-143.
    .. [2] Fayers, P. M., & Machin, D. (2016). Quality of Life: The Assessment, Analysis and
       Reporting of Patient-Reported Outcomes (3rd ed.). Wiley. (Prorating missing items.)

    Examples
    --------
    >>> scores = pt.fidelity.score_fidelity(pt.simulate.fidelity_ratings(n=200, seed=1))
    >>> scores.items.shape, scores.scale
    ((170, 15), (1.0, 4.0))
    >>> round(float(scores.worker_scores().mean()), 3)
    2.561
    """

    items: pd.DataFrame
    occasions: pd.DataFrame
    item_domain: Mapping
    domains: tuple
    scale: tuple
    min_present: float

    def plot(self, ax=None, **kwargs):
        """Per-peer-worker fidelity profile: heat map of domain means and each worker's total.

        Draws :func:`peertrial.plot.fidelity_profile` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.fidelity_profile` (``sort``).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.fidelity_profile : what is drawn, with an example.
        """
        from peertrial.plot.fidelity import fidelity_profile

        return fidelity_profile(self, ax=ax, **kwargs)

    def domain_items(self, domain: str) -> list[str]:
        return [i for i in self.items.columns if self.item_domain[i] == domain]

    def by_worker(self) -> pd.DataFrame:
        """Per-peer-worker profile: mean of each domain and of the total over occasions.

        Columns: the domains, ``total``, ``n_occasions`` (occasions with a total),
        ``total_sd``, ``total_min``, ``total_max``.
        """
        occ = self.occasions
        worker = occ.index.get_level_values(0)
        cols = [*self.domains, "total"]
        prof = occ[cols].groupby(worker, sort=True).mean()
        grouped = occ["total"].groupby(worker, sort=True)
        prof["n_occasions"] = grouped.count()
        prof["total_sd"] = grouped.std(ddof=1)
        prof["total_min"] = grouped.min()
        prof["total_max"] = grouped.max()
        prof.index.name = self.occasions.index.names[0]
        return prof

    def worker_scores(self) -> pd.Series:
        """Each peer worker's fidelity score (mean total over occasions)."""
        return self.by_worker()["total"].rename("fidelity")

    def to_frame(self) -> pd.DataFrame:
        return self.by_worker()

    def summary(self) -> str:
        occ = self.occasions
        workers = occ.index.get_level_values(0).nunique()
        raters = occ.index.get_level_values(1).nunique()
        missing_dom = int(occ[list(self.domains)].isna().to_numpy().sum())
        lines = [
            "Fidelity index scores",
            f"  {len(occ)} rating occasions of {workers} peer workers by {raters} raters; "
            f"{self.items.shape[1]} items in {len(self.domains)} domains; scale {self.scale[0]:g}-{self.scale[1]:g}",
            f"  Domain score = mean of items present if >= {self.min_present:.0%} of its items present, "
            "else missing; total = mean of domain scores (missing if any domain is).",
            f"  Domain scores missing by that rule: {missing_dom}; totals missing: {int(occ['total'].isna().sum())}",
            "",
            format_table(self.by_worker()[[*self.domains, "total", "n_occasions"]], digits=3),
        ]
        return "\n".join(lines)


def score_fidelity(
    data: pd.DataFrame,
    *,
    peer_worker: str = "peer_worker",
    rater: str | None = "rater",
    session: str = "session",
    domain: str = "domain",
    item: str = "item",
    score: str = "score",
    items: Mapping[str, list[str]] | None = None,
    scale: tuple[float, float] | None = None,
    min_present: float = 0.5,
) -> FidelityScores:
    """Score fidelity item ratings into domain (principle) and total scores.

    Long format (default): one row per rated item, with columns ``peer_worker,
    rater, session, domain, item, score``. Wide format: pass ``items`` as a
    mapping domain -> list of item columns; ``data`` then has one row per
    rating occasion with the ``peer_worker``, ``rater`` and ``session`` columns.
    ``rater=None`` means one rater scored everything.

    ``scale=(lo, hi)`` states the item scale; scores outside it raise
    ``ValueError`` naming the items. Without it the scale is inferred as the
    range of all scores, after checking that no item's observed maximum exceeds
    1.5 times the median of the items' maxima (the sign of items on different
    scales, e.g. a 0-10 item among 1-4 items), which raises ``ValueError``
    naming those items. See the module docstring for the missing-item rule.

    Parameters
    ----------
    data : pandas.DataFrame
        Ratings, long (one row per rated item) or wide (one row per rating occasion,
        with ``items``).
    peer_worker : str, default "peer_worker"
        Column of the peer worker whose session was rated.
    rater : str or None, default "rater"
        Column of the rater; ``None`` when one rater scored everything.
    session : str, default "session"
        Column of the session (rating occasion) of that peer worker.
    domain : str, default "domain"
        Long format: column of the item's domain.
    item : str, default "item"
        Long format: column of the item name.
    score : str, default "score"
        Long format: column of the item score.
    items : mapping of str to list of str, optional
        Wide format: domain -> its item columns.
    scale : tuple of float, optional
        ``(lowest, highest)`` possible item score; inferred (and checked) when absent.
    min_present : float, default 0.5
        Fraction of a domain's items that must be rated for a domain score (in (0, 1]).

    Returns
    -------
    FidelityScores
        Item, domain and total scores per rating occasion; ``by_worker()`` and
        ``worker_scores()`` summarise them per peer worker.

    Notes
    -----
    R equivalent: none (the scoring rule is the fidelity index's own; rowMeans per domain
    with the half rule reproduce it).

    References
    ----------
    .. [1] Gillard, S., Foster, R., Gibson, S., Goldsmith, L., Marks, J., & White, S. (2017).
       Describing a principles-based approach to developing and evaluating peer worker roles
       as peer support moves into mainstream mental health services. Mental Health and
       Social Inclusion, 21, 133-143.
    .. [2] Fayers, P. M., & Machin, D. (2016). Quality of Life: The Assessment, Analysis and
       Reporting of Patient-Reported Outcomes (3rd ed.). Wiley. (Prorating missing items.)

    Examples
    --------
    >>> ratings = pt.simulate.fidelity_ratings(n=200, seed=1)
    >>> scores = pt.fidelity.score_fidelity(ratings)
    >>> len(scores.occasions), scores.domains[:2]
    (170, ('shared_experience', 'reciprocity_mutuality'))
    >>> scores.by_worker().shape
    (32, 10)
    """
    if not 0 < min_present <= 1:
        raise ValueError(f"min_present must be in (0, 1], got {min_present}")
    frame = _data.as_frame(data)
    if rater is None:  # a single rater: give every row the same rater label
        rater = "rater"
        frame = frame.assign(rater="1")
    ids = [peer_worker, rater, session]
    if items is None:
        wide, item_domain = _long_to_wide(frame, ids, domain, item, score)
    else:
        wide, item_domain = _wide_items(frame, ids, items)
    scale = _check_scale(wide, scale)
    domains = _order_domains(item_domain)
    occasions = _score_occasions(wide, item_domain, domains, min_present)
    return FidelityScores(
        items=wide,
        occasions=occasions,
        item_domain=dict(item_domain),
        domains=domains,
        scale=scale,
        min_present=float(min_present),
    )


def _long_to_wide(frame, ids, domain, item, score):
    _data.require_columns(frame, [*ids, domain, item, score])
    frame = _data.drop_missing(frame, ids + [domain, item], unit="rating rows", action="fail")
    values = _data.numeric(frame[score], score)
    dom_per_item = frame.groupby(item, sort=False)[domain].agg(lambda s: sorted(set(map(str, s))))
    clash = dom_per_item[dom_per_item.map(len) > 1]
    if len(clash):
        detail = "; ".join(f"{i!r} in {d}" for i, d in clash.items())
        raise ValueError(f"column {item!r}: items assigned to more than one domain: {detail}")
    key = frame[ids + [item]]
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        raise ValueError(
            f"duplicate ratings (same {', '.join(ids)} and {item}) at rows {_data.row_labels(frame.index, dup)}"
        )
    long = key.assign(_score=values)
    wide = long.pivot(index=ids, columns=item, values="_score")
    order = list(pd.unique(frame[item]))
    wide = wide[order].sort_index()
    wide.columns.name = None
    item_domain = {str(i): str(d[0]) for i, d in dom_per_item.items()}
    wide.columns = [str(c) for c in wide.columns]
    return wide, item_domain


def _wide_items(frame, ids, items):
    cols = [c for cols in items.values() for c in cols]
    seen, dups = set(), []
    for c in cols:
        if c in seen:
            dups.append(c)
        seen.add(c)
    if dups:
        raise ValueError(f"items assigned to more than one domain: {sorted(set(dups))}")
    _data.require_columns(frame, [*ids, *cols])
    frame = _data.drop_missing(frame, ids, unit="rating rows", action="fail")
    dup = frame[ids].duplicated(keep=False).to_numpy()
    if dup.any():
        raise ValueError(f"duplicate rating occasions ({', '.join(ids)}) at rows {_data.row_labels(frame.index, dup)}")
    values = {c: _data.numeric(frame[c], c) for c in cols}
    wide = pd.DataFrame(values, index=pd.MultiIndex.from_frame(frame[ids])).sort_index()
    item_domain = {str(c): str(d) for d, cs in items.items() for c in cs}
    wide.columns = [str(c) for c in wide.columns]
    return wide, item_domain


def _check_scale(wide: pd.DataFrame, scale):
    lo_item, hi_item = wide.min(), wide.max()
    if wide.notna().sum().eq(0).any():
        empty = list(wide.columns[wide.notna().sum().eq(0)])
        raise ValueError(f"items with no ratings at all: {empty}")
    if scale is not None:
        lo, hi = float(scale[0]), float(scale[1])
        if not lo < hi:
            raise ValueError(f"scale must be (lowest, highest) with lowest < highest, got {scale}")
        off = (lo_item < lo) | (hi_item > hi)
        if off.any():
            detail = ", ".join(f"{i!r} ({lo_item[i]:g}-{hi_item[i]:g})" for i in wide.columns[off.to_numpy()])
            raise ValueError(f"items with scores outside the scale {lo:g}-{hi:g}: {detail}")
        return (lo, hi)
    neg = (lo_item < 0).to_numpy()
    if neg.any() and float(np.median(lo_item)) >= 0:
        detail = ", ".join(f"{i!r} (lowest {lo_item[i]:g})" for i in wide.columns[neg])
        raise ValueError(f"items with negative scores while the other items start at "
                         f"{lo_item[~neg].min():g} or above: {detail}; correct the scores or state scale=(lo, hi)")
    ref = float(np.median(hi_item))
    off = hi_item > _SCALE_RATIO * ref if ref > 0 else hi_item > ref + 1
    if off.any():
        bad = wide.columns[off.to_numpy()]
        detail = ", ".join(f"{i!r} ({lo_item[i]:g}-{hi_item[i]:g})" for i in bad)
        others = wide.columns[~off.to_numpy()]
        raise ValueError(
            f"items on different scales: {detail}, while the other items lie within "
            f"{lo_item[others].min():g}-{hi_item[others].max():g}; rescale them or state scale=(lo, hi)"
        )
    return (float(lo_item.min()), float(hi_item.max()))


def _order_domains(item_domain) -> tuple:
    found = list(dict.fromkeys(item_domain.values()))
    known = [d for d in PRINCIPLES if d in found]
    return tuple(known + [d for d in found if d not in known])


def _score_occasions(wide, item_domain, domains, min_present) -> pd.DataFrame:
    out = {}
    dropped = 0
    for d in domains:
        cols = [c for c in wide.columns if item_domain[c] == d]
        block = wide[cols].to_numpy()
        present = np.isfinite(block).sum(axis=1)
        enough = present >= min_present * len(cols) - 1e-12
        with np.errstate(invalid="ignore"):
            mean = np.where(present > 0, np.nansum(block, axis=1) / np.maximum(present, 1), np.nan)
        out[d] = np.where(enough, mean, np.nan)
        dropped += int((~enough & (present > 0)).sum())
    occ = pd.DataFrame(out, index=wide.index)
    occ["total"] = occ[list(domains)].mean(axis=1, skipna=False)
    occ["items_present"] = wide.notna().sum(axis=1)
    if dropped:
        warnings.warn(
            f"{dropped} domain score(s) set missing: fewer than {min_present:.0%} of the domain's items rated",
            PeertrialWarning,
            stacklevel=3,
        )
    return occ
