"""Multi-state probabilities by the Aalen–Johansen estimator, as R's ``survfit`` with ``istate``.

Data in counting-process form: one row per interval (start, stop] a participant spends
in state ``istate``; ``event`` names the state entered at ``stop`` (or the censoring
value). For a readmission trial: home -> readmitted -> home again, with death absorbing.

At each time t with transitions, the matrix of Nelson–Aalen increments dA has
dA[h, j] = (transitions h -> j at t) / (number in state h at risk at t) and
dA[h, h] = -sum_j dA[h, j]; the state-occupation probabilities are

    p(t) = p(t-) (I + dA(t)),   p(0) = the distribution of the starting states.

Standard errors are the infinitesimal jackknife over participants (R's default for
multi-state curves): the influence U_i of participant i on p follows
U_i(t) = U_i(t-) (I + dA) + p_h(t-) (delta_i (e_j - e_h) - dA[h, ·]) / n_h for each of
i's rows at risk in state h, and var p_j(t) = sum_i U_ij(t)^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_table

stats = lazy_module("scipy.stats")

__all__ = ["aalen_johansen", "AalenJohansenResult"]


@dataclass(frozen=True, eq=False)
class AalenJohansenResult(Result):
    """Probability of being in each state over time (Aalen–Johansen), by group, with robust SEs.

    Returned by :func:`aalen_johansen`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group, time and state: ``group, time, state, estimate`` (probability of
        being in the state), ``se`` (infinitesimal jackknife), ``ci_lb``, ``ci_ub`` (log-scale
        limits, as survfit).
    states : list
        The states, ordered by first appearance in ``istate`` and then in ``event``.
    groups : list
        The group levels (``["all"]`` without ``group``).
    level : float
        Confidence level, as a proportion.
    group_name : str or None
        The grouping column's name.
    initial : pandas.DataFrame
        Per group and state: the starting time and distribution p(0) (``group, time, state,
        estimate``).

    Notes
    -----
    R equivalent: a ``survival::survfit(Surv(start, stop, event) ~ group, id = id, istate =)``
    multi-state fit (``pstate``, ``std.err``, ``lower``, ``upper``; survival 3.5-3).

    References
    ----------
    .. [1] Aalen, O. O., & Johansen, S. (1978). An empirical transition matrix for
       non-homogeneous Markov chains based on censored observations. Scandinavian Journal of
       Statistics, 5, 141-150.
    .. [2] Therneau, T. M., Crowson, C., & Atkinson, E. (2023). Multi-state models and competing
       risks. Vignette of the R package survival.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 1, 2, 3], "start": [0, 10, 0, 0], "stop": [10, 30, 20, 30],
    ...                   "state": ["home", "ward", "home", "home"],
    ...                   "to": ["ward", "home", 0, "dead"]})
    >>> fit = pt.survival.aalen_johansen(d, id="id", start="start", stop="stop", event="to", istate="state")
    >>> fit.states, fit.initial["estimate"].tolist()
    (['home', 'ward', 'dead'], [1.0, 0.0, 0.0])
    >>> fit.at([30]).set_index("state")["estimate"].round(3).to_dict()
    {'home': 0.333, 'ward': 0.0, 'dead': 0.667}
    """

    table: pd.DataFrame
    states: list
    groups: list
    level: float
    group_name: str | None
    initial: pd.DataFrame  # per group and state: the starting time and distribution p(0)

    def at(self, times) -> pd.DataFrame:
        """Probabilities at ``times`` (the last time <= t; the starting distribution before)."""
        times = np.atleast_1d(np.asarray(times, float))
        parts = []
        for (g, s), cur in self.table.groupby(["group", "state"], sort=False):
            k = np.searchsorted(cur["time"].to_numpy(), times, side="right") - 1
            vals = cur[["estimate", "se", "ci_lb", "ci_ub"]].to_numpy()
            rows = np.where(k[:, None] >= 0, vals[np.maximum(k, 0)], np.nan)
            parts.append(pd.DataFrame({"group": g, "state": s, "time": times, "estimate": rows[:, 0],
                                       "se": rows[:, 1], "ci_lb": rows[:, 2], "ci_ub": rows[:, 3]}))
        return pd.concat(parts, ignore_index=True)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        last = self.table.groupby(["group", "state"], sort=False).tail(1)
        frame = last.set_index([last["group"].astype(str) + ": " + last["state"].astype(str)])
        return (f"Aalen-Johansen state probabilities (infinitesimal-jackknife SE, "
                f"{self.level:.0%} log CI) at the last time\n"
                + format_table(frame[["time", "estimate", "se", "ci_lb", "ci_ub"]]))

    def plot(self, ax=None, **kwargs):
        """Probability of each state over time (one line per state and group).

        Draws :func:`peertrial.plot.state_probability_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.state_probability_plot`: ``states``, ``labels``,
            ``xlabel``, ``ylabel``, ``title``, ``ci``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.state_probability_plot : what is drawn, with an example.
        """
        from peertrial.plot.recurrent import state_probability_plot

        return state_probability_plot(self, ax=ax, **kwargs)


def _one_group(start, stop, ist, ev, subj, n_sub, S):
    """Times, p(t) (T, S) and var (T, S) for one group; states coded 0..S-1, ev -1 = censored."""
    times = np.unique(stop)
    t0 = start.min()
    first = start == t0
    n0 = first.sum()
    p = np.bincount(ist[first], minlength=S) / n0
    U = np.zeros((n_sub, S))
    np.add.at(U, subj[first], (np.eye(S)[ist[first]] - p) / n0)
    moves = (ev >= 0) & (ev != ist)
    move_times = np.unique(stop[moves])
    P = np.empty((len(times), S))
    V = np.empty((len(times), S))
    order = np.argsort(stop[moves], kind="stable")
    mv_rows = np.flatnonzero(moves)[order]
    mv_t = stop[mv_rows]
    k = 0
    for m, t in enumerate(times):
        if k < len(move_times) and move_times[k] == t:
            k += 1
            risk = np.flatnonzero((start < t) & (stop >= t))
            n_h = np.bincount(ist[risk], minlength=S).astype(float)
            lo, hi = np.searchsorted(mv_t, t, "left"), np.searchsorted(mv_t, t, "right")
            tr = mv_rows[lo:hi]
            dA = np.zeros((S, S))
            np.add.at(dA, (ist[tr], ev[tr]), 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                dA = np.where(n_h[:, None] > 0, dA / n_h[:, None], 0.0)
            dA[np.diag_indices(S)] = -dA.sum(1) + np.diag(dA)
            step = np.eye(S) + dA
            h = ist[risk]
            scale = np.where(n_h[h] > 0, p[h] / np.where(n_h[h] > 0, n_h[h], 1.0), 0.0)
            contrib = -dA[h] * scale[:, None]
            jump = np.isin(risk, tr)
            jr = risk[jump]
            contrib[jump, ev[jr]] += scale[jump]
            contrib[jump, ist[jr]] -= scale[jump]
            U = U @ step
            np.add.at(U, subj[risk], contrib)
            p = p @ step
        P[m] = p
        V[m] = (U**2).sum(0)
    return t0, np.bincount(ist[first], minlength=S) / n0, times, P, V


def aalen_johansen(data, id, start="start", stop="stop", event="event", istate=None,
                   group=None, censor=0, initial: str = "(s0)", level: float = 0.95) -> AalenJohansenResult:
    """Probability of being in each state over time (Aalen–Johansen), with robust SEs.

    Parameters
    ----------
    data : pandas.DataFrame
        Counting-process rows: a participant's consecutive intervals (start, stop].
    id, start, stop : str
        Participant identifier and the interval's limits (defaults ``"start"``, ``"stop"``).
    event : str
        The state entered at ``stop``; the value ``censor`` means no transition (default
        ``"event"``).
    istate : str, optional
        The state occupied during the interval. Without it every participant starts in
        the state named ``initial`` and each row's state is the state entered at the end
        of the participant's previous row.
    group : str, optional
        One set of curves per level (e.g. the randomised arm).
    censor : scalar
        The ``event`` value meaning censoring (default 0).
    initial : str
        Name of the starting state when ``istate`` is not given (default ``"(s0)"``, as
        survfit's).
    level : float
        Confidence level (0.95 or 95).

    Returns
    -------
    AalenJohansenResult
        ``table`` of state probabilities with SEs and limits; ``at(times)``, ``plot()``.

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(start, stop, event) ~ group, id = id, istate =
    istate)`` (``pstate``, ``std.err``, ``lower``, ``upper``; survival 3.5-3), with states
    ordered by their first appearance in ``istate`` and then in ``event``.

    References
    ----------
    .. [1] Aalen, O. O., & Johansen, S. (1978). An empirical transition matrix for
       non-homogeneous Markov chains based on censored observations. Scandinavian Journal of
       Statistics, 5, 141-150.
    .. [2] Therneau, T. M., Crowson, C., & Atkinson, E. (2023). Multi-state models and competing
       risks. Vignette of the R package survival.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 1, 2, 3], "start": [0, 10, 0, 0], "stop": [10, 30, 20, 30],
    ...                   "state": ["home", "ward", "home", "home"],
    ...                   "to": ["ward", "home", 0, "dead"]})
    >>> fit = pt.survival.aalen_johansen(d, id="id", start="start", stop="stop", event="to", istate="state")
    >>> fit.at([15]).set_index("state")["estimate"].round(3).to_dict()
    {'home': 0.667, 'ward': 0.333, 'dead': 0.0}
    """
    lev = _data.confidence_level(level)
    frame = _data.as_frame(data)
    cols = [c for c in (id, start, stop, event, istate, group) if c is not None]
    _data.require_columns(frame, cols)
    frame = _data.drop_missing(frame, [c for c in cols if c != event], stacklevel=3)
    if len(frame) == 0:
        raise ValueError("data has no rows")
    t_start = _data.numeric(frame[start], start)
    t_stop = _data.numeric(frame[stop], stop)
    bad = ~(t_start < t_stop)
    if bad.any():
        raise ValueError(f"column {start!r} must be before {stop!r}; violated at rows "
                         f"{_data.row_labels(frame.index, bad)}")
    ev_raw = frame[event].to_numpy(dtype=object)
    censored = pd.isna(frame[event]).to_numpy() | (frame[event] == censor).to_numpy()
    ids = frame[id].to_numpy()
    if istate is None:
        order = np.lexsort((t_start, pd.factorize(ids)[0]))
        states_in = np.empty(len(frame), dtype=object)
        prev_id, cur = object(), initial
        for r in order:  # each row starts where the previous row of its participant ended
            if ids[r] != prev_id:
                prev_id, cur = ids[r], initial
            states_in[r] = cur
            if not censored[r]:
                cur = ev_raw[r]
    else:
        states_in = frame[istate].to_numpy(dtype=object)
    states = list(pd.unique(np.concatenate([states_in, ev_raw[~censored]])))
    code = {s: i for i, s in enumerate(states)}
    ist = np.array([code[s] for s in states_in])
    ev = np.array([-1 if c else code[e] for e, c in zip(ev_raw, censored)])
    if group is None:
        gcodes, levels = np.zeros(len(frame), dtype=np.int64), ["all"]
    else:
        gcodes, levels = pd.factorize(frame[group].to_numpy(), sort=True)
    z = stats.norm.ppf(0.5 + lev / 2)
    parts, starts = [], []
    for k, g in enumerate(levels):
        m = gcodes == k
        subj, uniq = pd.factorize(ids[m])
        t0, p0, times, P, V = _one_group(t_start[m], t_stop[m], ist[m], ev[m], subj, len(uniq), len(states))
        se = np.sqrt(V)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(P > 0, P * np.exp(-z * se / P), np.nan)
            hi = np.where(P > 0, np.minimum(1.0, P * np.exp(z * se / P)), np.nan)
        T, S = P.shape
        parts.append(pd.DataFrame({"group": g, "time": np.repeat(times, S),
                                   "state": np.tile(np.array(states, dtype=object), T),
                                   "estimate": P.ravel(), "se": se.ravel(),
                                   "ci_lb": lo.ravel(), "ci_ub": hi.ravel()}))
        starts.append(pd.DataFrame({"group": g, "time": t0, "state": states, "estimate": p0}))
    table = pd.concat(parts, ignore_index=True)
    return AalenJohansenResult(table, states, list(levels), lev, group,
                               pd.concat(starts, ignore_index=True))
