"""Sums of squared per-subject influences of step-function estimators, in O(N log N).

Nelson–Aalen-type estimators (the MCF of recurrent events, the cumulative hazard, log
Kaplan–Meier) have, for subject k followed on (entry_k, end_k] with case weight s_k, an
influence of the form

    c_k(t) = E_k(t) - G_k(t),
    E_k(t) = sum of k's own jumps at its event times <= t,
    G_k(t) = sum_{u_j <= t, entry_k < u_j <= end_k} dG_j   (its share of the compensator),

and a robust (infinitesimal-jackknife) variance V(t) = sum_k s_k^2 c_k(t)^2. Expanding the
square, every term is a cumulative sum over event times or a sum over subjects whose
follow-up started or ended before t, so V is computed at every grid time by sorting and
cumulative sums, without an n x times matrix.
"""

from __future__ import annotations

import numpy as np

__all__ = ["influence_variance", "at_risk"]


def at_risk(entry, end, times, weights=None):
    """(Weighted) number of subjects with entry < t <= end at each t."""
    w = np.ones(len(end)) if weights is None else weights
    return _sum_before(entry, w, times) - _sum_before(end, w, times)


def _sum_before(keys, values, times):
    """sum of values whose key is < t, at each t (keys in any order)."""
    order = np.argsort(keys, kind="stable")
    csum = np.concatenate([[0.0], np.cumsum(values[order])])
    return csum[np.searchsorted(keys[order], times, side="left")]


def influence_variance(u, dG, entry, end, ev_time, ev_jump, ev_subject, scale=None):
    """sum_k s_k^2 (E_k(t) - G_k(t))^2 at each time of the sorted grid ``u``.

    ``dG`` holds the compensator increments at ``u``; each event (``ev_time`` on the
    grid, ``ev_jump`` its size, ``ev_subject`` its subject) adds to that subject's E.
    """
    n = len(end)
    s2 = np.ones(n) if scale is None else np.asarray(scale, float) ** 2
    H = np.cumsum(dG)

    def H_at(t):  # right-continuous step function of the grid
        k = np.searchsorted(u, t, side="right") - 1
        return np.where(k >= 0, H[np.maximum(k, 0)], 0.0)

    inv = np.searchsorted(u, ev_time)
    h = H_at(entry)
    g_fin = H_at(end) - h
    # sum_k s2 E_k^2: each jump w raises E_k^2 by 2 E_k(before) w + w^2
    order = np.lexsort((ev_time, ev_subject))
    ws, subj = ev_jump[order], ev_subject[order]
    run = np.cumsum(ws)
    first = np.r_[True, subj[1:] != subj[:-1]] if len(subj) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(ws)), 0))
    before = run - ws - np.where(start > 0, run[start - 1], 0.0)
    inc = np.empty_like(ev_jump, dtype=float)
    inc[order] = (2 * before * ws + ws**2) * s2[subj]
    E2 = np.cumsum(np.bincount(inv, weights=inc, minlength=len(u)))
    E_fin = np.bincount(ev_subject, weights=ev_jump, minlength=n)
    sumE = np.cumsum(np.bincount(inv, weights=ev_jump * s2[ev_subject], minlength=len(u)))
    sumEh = np.cumsum(np.bincount(inv, weights=ev_jump * (s2 * h)[ev_subject], minlength=len(u)))
    # sums over subjects under observation (entry < t <= end) = started minus finished
    n_act = _sum_before(entry, s2, u) - _sum_before(end, s2, u)
    h_act = _sum_before(entry, s2 * h, u) - _sum_before(end, s2 * h, u)
    h2_act = _sum_before(entry, s2 * h**2, u) - _sum_before(end, s2 * h**2, u)
    sumG2 = n_act * H**2 - 2 * H * h_act + h2_act + _sum_before(end, s2 * g_fin**2, u)
    E_act = sumE - _sum_before(end, s2 * E_fin, u)
    Eh_act = sumEh - _sum_before(end, s2 * E_fin * h, u)
    sumEG = H * E_act - Eh_act + _sum_before(end, s2 * E_fin * g_fin, u)
    return np.maximum(E2 - 2 * sumEG + sumG2, 0.0)
