"""Recurrent events: the mean cumulative function (MCF) and counting-process rows.

Readmission data in long form: one row per readmission (``event = 1``) and one row
closing each participant's follow-up (``event = 0``, or ``terminal = 1`` when death ends
it). A participant is at risk from ``entry`` (default 0) to the largest time among
their rows.

At the distinct event times u_j, with Y(u_j) participants under observation and
dN(u_j) events, the Nelson–Aalen-type MCF is

    mu(t) = sum_{u_j <= t} dN(u_j) / Y(u_j)

and its Lawless & Nadeau (1995) robust variance, which lets events of one person be
dependent, is ``sum_i c_i(t)^2`` with

    c_i(t) = sum_{u_j <= t} [dN_i(u_j) - Y_i(u_j) dN(u_j) / Y(u_j)] / Y(u_j),

the robust variance R's ``survfit(Surv(start, stop, event) ~ 1, id = id)`` reports for
the cumulative hazard. When death ends follow-up, the MCF above estimates the rate
among survivors; the Ghosh & Lin (2000) estimator ``sum_{u_j <= t} S(u_j-) dN/Y``
(S the Kaplan–Meier curve of death) estimates the expected number of events per
person, dead or alive, with the influence-function variance of that paper.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_table
from peertrial._warnings import PeertrialWarning
from peertrial.survival._influence import at_risk, influence_variance

stats = lazy_module("scipy.stats")

__all__ = ["mcf", "MCFResult", "survsplit", "counting_process"]


@dataclass(frozen=True)
class _Subjects:
    """One group's data: per-subject entry/end/death and the event list."""

    entry: np.ndarray  # (n,)
    end: np.ndarray  # (n,)
    death: np.ndarray  # (n,) 0/1
    ev_time: np.ndarray  # (m,) one entry per event (multiplicity expanded as weight)
    ev_count: np.ndarray  # (m,)
    ev_subject: np.ndarray  # (m,) subject index


def _lawless_nadeau(s: _Subjects):
    """MCF and its robust variance at the distinct event times, in O(N log N)."""
    u, inv = np.unique(s.ev_time, return_inverse=True)
    dN = np.bincount(inv, weights=s.ev_count, minlength=len(u))
    Y = at_risk(s.entry, s.end, u)
    var = influence_variance(u, dN / Y**2, s.entry, s.end, s.ev_time, s.ev_count / Y[inv],
                             s.ev_subject)
    return u, Y, dN, np.cumsum(dN / Y), var


def _ghosh_lin(s: _Subjects):
    """Ghosh–Lin mean frequency and its influence-function variance (dense over subjects)."""
    death_t = s.end[s.death == 1]
    u = np.unique(np.concatenate([s.ev_time, death_t]))
    Y = at_risk(s.entry, s.end, u)
    dN = np.bincount(np.searchsorted(u, s.ev_time), weights=s.ev_count, minlength=len(u))
    dD = np.bincount(np.searchsorted(u, death_t), minlength=len(u)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dR = np.where(Y > 0, dN / Y, 0.0)
        dL = np.where(Y > 0, dD / Y, 0.0)
    S = np.cumprod(1 - dL)
    S_minus = np.r_[1.0, S[:-1]]
    mu = np.cumsum(S_minus * dR)
    n = len(s.end)
    var = np.zeros(len(u))
    # psi_i(t) = sum_{u<=t} S(u-) dM_i^R(u)/Y(u) - sum_{v<=t} (mu(t) - mu(v)) dM_i^D(v)/Y(v)
    # evaluated for blocks of subjects so memory stays bounded
    step = max(1, int(2_000_000 // max(len(u), 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        invY = np.where(Y > 0, 1 / Y, 0.0)
    for lo in range(0, n, step):
        idx = np.arange(lo, min(n, lo + step))
        in_risk = (s.entry[idx, None] < u[None, :]) & (u[None, :] <= s.end[idx, None])
        dNi = np.zeros((len(idx), len(u)))
        sel = (s.ev_subject >= lo) & (s.ev_subject < lo + step)
        np.add.at(dNi, (s.ev_subject[sel] - lo, np.searchsorted(u, s.ev_time[sel])), s.ev_count[sel])
        dDi = np.zeros_like(dNi)
        dead = np.flatnonzero(s.death[idx] == 1)
        dDi[dead, np.searchsorted(u, s.end[idx][dead])] = 1.0
        dMR = (dNi - in_risk * dR) * invY
        dMD = (dDi - in_risk * dL) * invY
        a = np.cumsum(S_minus * dMR, axis=1)
        b = np.cumsum(dMD, axis=1)
        c = np.cumsum(mu * dMD, axis=1)
        psi = a - mu * b + c
        var += np.sum(psi**2, axis=0)
    keep = dN > 0
    return u[keep], Y[keep], dN[keep], mu[keep], var[keep]


def _subjects(frame, ids, time, event, terminal, entry) -> tuple[_Subjects, pd.Index]:
    codes, uniq = pd.factorize(ids, sort=True)
    n = len(uniq)
    end = np.full(n, -np.inf)
    np.maximum.at(end, codes, time)
    start = np.zeros(n)
    if entry is not None:
        start = np.full(n, np.inf)
        np.minimum.at(start, codes, entry)
    death = np.zeros(n)
    if terminal is not None:
        np.maximum.at(death, codes, terminal)
        early = (terminal == 1) & (time < end[codes])
        if early.any():
            raise ValueError(
                "the terminal (death) row of a participant must be their last row; rows "
                f"{_data.row_labels(frame.index, early)} mark death before later rows of the same id")
    ev = event > 0
    return _Subjects(start, end, death, time[ev], event[ev], codes[ev]), pd.Index(uniq)


@dataclass(frozen=True, eq=False)
class MCFResult(Result):
    """Mean cumulative number of recurrent events per person by group, with robust limits.

    Returned by :func:`mcf`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group and distinct event time: ``group``, ``time``, ``n_risk``,
        ``n_event``, ``estimate`` (the MCF), ``se`` (robust), ``ci_lb``, ``ci_ub``.
    groups : list
        The group levels (one level without ``group``).
    method : str
        ``"Lawless-Nadeau"`` (Nelson–Aalen-type MCF) or ``"Ghosh-Lin"`` (with ``terminal``).
    level : float
        Confidence level, as a proportion.
    conf_type : str
        ``"log"`` or ``"plain"`` limits.
    group_name : str or None
        The grouping column's name.
    n : pandas.Series
        Participants per group.
    events : pandas.Series
        Events per group.
    followup : pandas.Series
        Total follow-up time per group (the rate's denominator).
    followup_end : pandas.Series
        Last follow-up time per group (where the curve ends).

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(start, stop, event) ~ group, id = id)``'s ``cumhaz``
    and robust ``std.chaz`` (survival 3.5-3) for the Lawless–Nadeau MCF; :meth:`compare`'s rate
    ratio as ``glm(count ~ group + offset(log(followup)), poisson)`` with ``sandwich::vcovHC``
    type HC0 (sandwich 3.0.2). The Ghosh–Lin estimator has no R function on the fixture
    machine: its fixture is hand-coded in R from the paper.

    References
    ----------
    .. [1] Lawless, J. F., & Nadeau, C. (1995). Some simple robust methods for the analysis of
       recurrent events. Technometrics, 37, 158-168.
    .. [2] Ghosh, D., & Lin, D. Y. (2000). Nonparametric analysis of recurrent events and death.
       Biometrics, 56, 554-562.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 1, 1, 2, 2, 3, 4, 4], "days": [30, 90, 365, 200, 365, 365, 50, 300],
    ...                   "readmit": [1, 1, 0, 1, 0, 0, 1, 0], "arm": [0, 0, 0, 1, 1, 0, 1, 1]})
    >>> fit = pt.survival.mcf(d, id="id", time="days", event="readmit", group="arm")
    >>> fit.method, fit.events.tolist(), fit.followup.tolist()
    ('Lawless-Nadeau', [2.0, 2.0], [730.0, 665.0])
    >>> cmp = fit.compare(horizon=300)
    >>> cmp["measure"].tolist(), round(float(cmp["estimate"].iloc[0]), 4)
    (['rate ratio', 'MCF difference at 300'], 1.0977)
    """

    table: pd.DataFrame
    groups: list
    method: str
    level: float
    conf_type: str
    group_name: str | None
    n: pd.Series
    events: pd.Series
    followup: pd.Series
    followup_end: pd.Series  # last follow-up time per group (where the MCF curve ends)
    _robust_rate: pd.DataFrame  # per group: events, person-time, se of log rate

    def _curve(self, g) -> pd.DataFrame:
        return self.table[self.table["group"] == g]

    def at(self, times) -> pd.DataFrame:
        """MCF, SE and limits at ``times`` (step function: the last event time <= t)."""
        times = np.atleast_1d(np.asarray(times, float))
        rows = []
        for g in self.groups:
            cur = self._curve(g)
            k = np.searchsorted(cur["time"].to_numpy(), times, side="right") - 1
            vals = cur[["estimate", "se", "ci_lb", "ci_ub"]].to_numpy()
            for t, i in zip(times, k):
                rows.append((g, t, *(vals[i] if i >= 0 else (0.0, 0.0, 0.0, 0.0))))
        return pd.DataFrame(rows, columns=["group", "time", "estimate", "se", "ci_lb", "ci_ub"])

    def compare(self, horizon: float, reference=None) -> pd.DataFrame:
        """Two-arm comparisons of every group with ``reference`` (default: first level).

        Rows per contrast: ``"rate ratio"`` — events per unit of follow-up in the group
        over the reference, with a robust (participant-clustered) variance of the log
        rates, as a Poisson model with an offset and sandwich SE (HC0); and
        ``"MCF difference at <horizon>"`` — mu_g(horizon) - mu_ref(horizon), the arms
        independent.
        """
        ref = self.groups[0] if reference is None else reference
        if ref not in self.groups:
            raise ValueError(f"reference={ref!r} is not a group; groups are {self.groups}")
        z = stats.norm.ppf(0.5 + self.level / 2)
        at = self.at([horizon]).set_index("group")
        rr = self._robust_rate
        rows = []
        for g in self.groups:
            if g == ref:
                continue
            with np.errstate(divide="ignore"):
                log_rr = np.log(rr.at[g, "rate"]) - np.log(rr.at[ref, "rate"])
            se = float(np.hypot(rr.at[g, "se_log"], rr.at[ref, "se_log"]))
            p = 2 * stats.norm.sf(abs(log_rr / se)) if se > 0 else np.nan
            rows.append((f"{g} vs {ref}", "rate ratio", np.exp(log_rr), se,
                         np.exp(log_rr - z * se), np.exp(log_rr + z * se), p))
            d = at.at[g, "estimate"] - at.at[ref, "estimate"]
            se_d = float(np.hypot(at.at[g, "se"], at.at[ref, "se"]))
            p = 2 * stats.norm.sf(abs(d / se_d)) if se_d > 0 else np.nan
            rows.append((f"{g} vs {ref}", f"MCF difference at {horizon:g}", d, se_d,
                         d - z * se_d, d + z * se_d, p))
        return pd.DataFrame(rows, columns=["contrast", "measure", "estimate", "se", "ci_lb",
                                           "ci_ub", "pval"])

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        last = self.table.groupby("group", sort=False).tail(1).set_index("group")
        frame = pd.DataFrame({
            "n": self.n.reindex(self.groups).astype(int).astype(str),
            "events": self.events.reindex(self.groups).astype(int).astype(str),
            "follow-up": self.followup.reindex(self.groups),
            "rate": self._robust_rate["rate"].reindex(self.groups),
            "MCF(end)": last["estimate"].reindex(self.groups),
            "se": last["se"].reindex(self.groups),
        })
        frame.index = [f"{self.group_name}={g}" if self.group_name else "all" for g in self.groups]
        return (f"Mean cumulative function ({self.method}; {self.conf_type} {self.level:.0%} CI)\n"
                + format_table(frame, digits=4))

    def plot(self, ax=None, **kwargs):
        """Step plot of the mean cumulative function with its confidence band per group.

        Draws :func:`peertrial.plot.mcf_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.mcf_plot`: ``ci``, ``labels``, ``xlabel``,
            ``ylabel``, ``title``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.mcf_plot : what is drawn, with an example.
        """
        from peertrial.plot.recurrent import mcf_plot

        return mcf_plot(self, ax=ax, **kwargs)


def _limits(est, se, conf_type, z):
    if conf_type == "plain":
        return est - z * se, est + z * se
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.exp(z * se / est)
    return est / f, est * f


def _robust_rate(s: _Subjects):
    counts = np.bincount(s.ev_subject, weights=s.ev_count, minlength=len(s.end))
    exposure = s.end - s.entry
    total, pt = counts.sum(), exposure.sum()
    rate = total / pt
    se_log = np.sqrt(np.sum((counts - rate * exposure) ** 2)) / total if total > 0 else np.nan
    return total, pt, rate, se_log


def mcf(data, id, time="time", event="event", group=None, terminal=None, entry=None,
        level: float = 0.95, conf_type: str = "log") -> MCFResult:
    """Mean cumulative function of recurrent events with robust confidence limits.

    Parameters
    ----------
    data : pandas.DataFrame
        Long form: one row per event and one row ending each participant's follow-up.
    id, time, event : str
        Participant identifier; event or end-of-follow-up time (default ``"time"``); number of
        events at that time (1 for a readmission, 0 for the end of follow-up; larger counts
        allowed; default ``"event"``).
    group : str, optional
        Arm or other grouping column; one curve per level.
    terminal : str, optional
        0/1 column, 1 on the row where death ends follow-up. Given, the Ghosh–Lin
        estimator (expected events per person, alive or dead) replaces the
        Nelson–Aalen-type MCF (rate among those still followed).
    entry : str, optional
        Start of observation (default 0); a participant is at risk on (entry, end].
    level : float
        Confidence level, 0.95 or 95.
    conf_type : {"log", "plain"}
        ``"log"``: mu exp(±z se/mu) (positive limits); ``"plain"``: mu ± z se.

    Returns
    -------
    MCFResult
        ``table`` of estimates at the event times; ``at()``, ``compare()``, ``plot()``.

    Notes
    -----
    R equivalent: ``survival::survfit(Surv(start, stop, event) ~ group, id = id)`` cumulative
    hazard and its robust standard error (``std.chaz``) for the Nelson–Aalen-type MCF
    (survival 3.5-3). The Ghosh–Lin estimator (``terminal=``) has no R function on the fixture
    machine: it is checked against a hand-coding in R of the paper's estimator and influence
    function (``tests/survival/fixtures/make_fixtures_recurrent.R``).

    References
    ----------
    .. [1] Lawless, J. F., & Nadeau, C. (1995). Some simple robust methods for the analysis of
       recurrent events. Technometrics, 37, 158-168.
    .. [2] Ghosh, D., & Lin, D. Y. (2000). Nonparametric analysis of recurrent events and death.
       Biometrics, 56, 554-562.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 1, 1, 2, 2, 3], "days": [30, 90, 365, 200, 365, 365],
    ...                   "readmit": [1, 1, 0, 1, 0, 0]})
    >>> fit = pt.survival.mcf(d, id="id", time="days", event="readmit")
    >>> fit.at([100, 365])[["time", "estimate"]].round(4).values.tolist()
    [[100.0, 0.6667], [365.0, 1.0]]
    """
    lev = _data.confidence_level(level)
    if conf_type not in ("log", "plain"):
        raise ValueError(f"conf_type must be 'log' or 'plain', got {conf_type!r}")
    frame = _data.as_frame(data)
    cols = [c for c in (id, time, event, group, terminal, entry) if c is not None]
    _data.require_columns(frame, cols)
    for c in (id, time, event, terminal, entry):
        if c is not None and frame[c].isna().any():
            miss = frame[c].isna().to_numpy()
            raise ValueError(f"column {c!r} has missing values at rows "
                             f"{_data.row_labels(frame.index, miss)}; recurrent-event rows "
                             "cannot be dropped without changing follow-up")
    if group is not None:
        frame = _data.drop_missing(frame, [group], stacklevel=3)
    if len(frame) == 0:
        raise ValueError("data has no rows")
    t = _data.numeric(frame[time], time)
    _data.check_nonnegative(t, frame.index, time)
    ev = _data.numeric(frame[event], event)
    _data.check_nonnegative(ev, frame.index, event)
    _data.check_integer(ev, frame.index, event)
    term = None if terminal is None else _data.binary(frame[terminal], terminal,
                                                     meaning="1 = death ends follow-up")
    ent = None if entry is None else _data.numeric(frame[entry], entry)
    if ent is not None:
        bad = ent >= t
        if bad.any():
            raise ValueError(f"column {entry!r} must be before {time!r}; violated at rows "
                             f"{_data.row_labels(frame.index, bad)}")
    if group is None:
        gcodes, levels = np.zeros(len(frame), dtype=np.int64), ["all"]
    else:
        gcodes, levels = pd.factorize(frame[group].to_numpy(), sort=True)
    ids = frame[id].astype(str).to_numpy() if frame[id].dtype == object else frame[id].to_numpy()
    if (pd.DataFrame({"id": ids, "g": gcodes}).groupby("id")["g"].nunique() > 1).any():
        raise ValueError(f"an id appears in more than one {group!r} group; each participant "
                         "must belong to one group")
    z = stats.norm.ppf(0.5 + lev / 2)
    parts, rates = [], []
    ns, nev, fu, last = {}, {}, {}, {}
    method = "Ghosh-Lin" if terminal is not None else "Lawless-Nadeau"
    for k, g in enumerate(levels):
        m = gcodes == k
        s, uniq = _subjects(frame.loc[m], ids[m], t[m], ev[m],
                            None if term is None else term[m], None if ent is None else ent[m])
        if len(s.ev_time) == 0:
            warnings.warn(f"group {g!r} has no events: its MCF is 0 throughout", PeertrialWarning,
                          stacklevel=2)
            u = Y = dN = mu = var = np.zeros(0)
        else:
            u, Y, dN, mu, var = (_ghosh_lin if terminal is not None else _lawless_nadeau)(s)
        se = np.sqrt(var)
        lo, hi = _limits(mu, se, conf_type, z)
        parts.append(pd.DataFrame({"group": g, "time": u, "n_risk": Y, "n_event": dN,
                                   "estimate": mu, "se": se, "ci_lb": lo, "ci_ub": hi}))
        total, pt_, rate, se_log = _robust_rate(s)
        rates.append((g, total, pt_, rate, se_log))
        ns[g], nev[g], fu[g], last[g] = len(uniq), total, pt_, float(s.end.max())
    table = pd.concat(parts, ignore_index=True)
    robust = pd.DataFrame(rates, columns=["group", "events", "followup", "rate", "se_log"]).set_index("group")
    return MCFResult(table, list(levels), method, lev, conf_type,
                     group if group is not None else None, pd.Series(ns), pd.Series(nev),
                     pd.Series(fu), pd.Series(last), robust)


def survsplit(data, cut, start="tstart", end="time", event="event", episode: str | None = None):
    """Split each row's follow-up at the ``cut`` times into counting-process rows.

    As R's ``survSplit(Surv(time, event) ~ ., data, cut=, start=, episode=)``: a row
    followed over (start, end] becomes rows (start, c1], (c1, c2], …, (ck, end] for the
    cut points inside the interval; the event stays on the last piece, earlier pieces
    get 0. Used for time-varying effects (e.g. a hazard ratio per period) in :func:`cox`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (or per interval).
    cut : float or sequence of float
        The cut times (one or more, non-missing); those outside a row's interval are ignored.
    start : str
        Column of interval starts (default ``"tstart"``); without such a column every row
        starts at 0 and the column is created.
    end : str
        Column of interval ends (default ``"time"``).
    event : str
        Event indicator column (default ``"event"``), kept on the last piece only.
    episode : str, optional
        Name of a new column numbering the interval each piece falls in (1 = before the
        first cut).

    Returns
    -------
    pandas.DataFrame
        A new frame (the caller's is not modified) with the original columns, one row per
        piece.

    Raises
    ------
    ValueError
        When ``cut`` is empty or a row's ``start`` is not before its ``end``.

    Notes
    -----
    R equivalent: ``survival::survSplit(Surv(time, event) ~ ., data, cut =, start =,
    episode =)`` (survival 3.5-3).

    References
    ----------
    .. [1] Therneau, T. M., & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox
       Model, sec. 3.7 and 6.2. Springer.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 2], "time": [100, 400], "event": [1, 0]})
    >>> pt.survival.survsplit(d, cut=[180, 365], start="tstart")[["id", "tstart", "time", "event"]].values.tolist()
    [[1, 0, 100, 1], [2, 0, 180, 0], [2, 180, 365, 0], [2, 365, 400, 0]]
    """
    frame = _data.as_frame(data)
    _data.require_columns(frame, [end, event])
    cuts = np.unique(np.asarray(cut, float))
    if cuts.size == 0 or np.isnan(cuts).any():
        raise ValueError("cut must be one or more (non-missing) times")
    stop = _data.numeric(frame[end], end)
    begin = _data.numeric(frame[start], start) if start in frame.columns else np.zeros(len(frame))
    bad = ~(begin < stop)
    if bad.any():
        raise ValueError(f"column {start!r} must be before {end!r}; violated at rows "
                         f"{_data.row_labels(frame.index, bad)}")
    inside = (cuts[None, :] > begin[:, None]) & (cuts[None, :] < stop[:, None])
    pieces = 1 + inside.sum(axis=1)
    rep = np.repeat(np.arange(len(frame)), pieces)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    first_cut = np.searchsorted(cuts, begin, side="right")  # index of the first cut > begin
    k = first_cut[rep] + within
    lo = np.where(within == 0, begin[rep], cuts[np.clip(k - 1, 0, len(cuts) - 1)])
    last = within == pieces[rep] - 1
    hi = np.where(last, stop[rep], cuts[np.clip(k, 0, len(cuts) - 1)])
    out = frame.iloc[rep].reset_index(drop=True)
    ev = frame[event].to_numpy()[rep]
    out[event] = np.where(last, ev, np.zeros_like(ev))
    out[end] = hi.astype(frame[end].dtype) if np.all(hi == np.round(hi)) and \
        pd.api.types.is_integer_dtype(frame[end]) else hi
    lo_vals = lo.astype(frame[end].dtype) if pd.api.types.is_integer_dtype(frame[end]) and \
        np.all(lo == np.round(lo)) else lo
    if start in out.columns:
        out[start] = lo_vals
    else:
        out.insert(out.columns.get_loc(end), start, lo_vals)
    if episode is not None:
        out[episode] = np.searchsorted(cuts, lo, side="right") + 1
    return out


def counting_process(data, id, time="time", event="event", entry=None, start="start", stop="stop"):
    """Recurrent events in long form -> counting-process rows (start, stop] for Andersen–Gill.

    The long form of :func:`mcf` (one row per event and one closing each participant's
    follow-up) becomes one row per gap between events, as R users build with ``tmerge``:
    each participant's rows run from ``entry`` (default 0) to the first event, from there
    to the next, …, and from the last event to the end of follow-up (that row censored,
    and dropped when the last event closes follow-up). Other columns are carried from the
    participant's first row (baseline covariates).

    Parameters
    ----------
    data : pandas.DataFrame
        Long form: one row per event and one row ending each participant's follow-up.
    id : str
        Participant identifier column.
    time : str
        Event or end-of-follow-up time column (default ``"time"``).
    event : str
        Event indicator column (default ``"event"``): 1 on an event row, 0 on the row ending
        follow-up.
    entry : str, optional
        Column of the start of observation (default: 0 for everyone).
    start, stop : str
        Names of the interval columns created (default ``"start"``, ``"stop"``).

    Returns
    -------
    pandas.DataFrame
        A new frame with ``id``, ``start``, ``stop``, ``event`` and the other columns;
        ``cox(..., time=stop, entry=start, id=id)`` then fits the Andersen–Gill model.

    Raises
    ------
    ValueError
        When ``id``, ``time`` or ``event`` has missing values.

    Notes
    -----
    R equivalent: ``survival::tmerge(data1, data2, id = id, tstop = end, event = event(time))``
    (survival 3.5-3) builds the same rows; the Andersen–Gill fit on them equals ``coxph``'s.

    References
    ----------
    .. [1] Andersen, P. K., & Gill, R. D. (1982). Cox's regression model for counting processes:
       a large sample study. Annals of Statistics, 10, 1100-1120.
    .. [2] Therneau, T. M., & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox
       Model, ch. 8. Springer.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 1, 1, 2], "day": [30, 90, 365, 200], "readmit": [1, 1, 0, 0]})
    >>> print(pt.survival.counting_process(d, id="id", time="day", event="readmit").to_string(index=False))
     id  start  stop  readmit
      1    0.0  30.0        1
      1   30.0  90.0        1
      1   90.0 365.0        0
      2    0.0 200.0        0
    """
    frame = _data.as_frame(data)
    _data.require_columns(frame, [c for c in (id, time, event, entry) if c is not None])
    for c in (id, time, event):
        miss = frame[c].isna().to_numpy()
        if miss.any():
            raise ValueError(f"column {c!r} has missing values at rows {_data.row_labels(frame.index, miss)}")
    t = _data.numeric(frame[time], time)
    ev = _data.numeric(frame[event], event)
    order = np.lexsort((-ev, t, pd.factorize(frame[id])[0]))
    rows = frame.iloc[order].reset_index(drop=True)
    t, ev = t[order], ev[order]
    ids = rows[id].to_numpy()
    first = np.r_[True, ids[1:] != ids[:-1]]
    begin = np.zeros(len(rows)) if entry is None else \
        _data.numeric(rows[entry], entry)
    start_of_id = pd.Series(begin).groupby(np.cumsum(first)).transform("min").to_numpy()
    prev = np.r_[np.nan, t[:-1]]
    lo = np.where(first, start_of_id, prev)
    keep = t > lo  # a censoring row at the day of the last event adds no interval
    base = rows.groupby(np.cumsum(first)).transform("first")
    out = base.assign(**{id: ids})
    out[event] = ev.astype(rows[event].dtype) if np.all(ev == np.round(ev)) else ev
    out.insert(1, start, lo)
    out.insert(2, stop, t.astype(float))
    out = out.drop(columns=[c for c in (time, entry) if c is not None and c not in (start, stop)])
    return out.loc[keep].reset_index(drop=True)
