"""Readmission days of a simulated trial, one row per readmission: recurrent-event data.

:func:`peertrial.simulate.trial` draws the first readmission day and the number of
further readmissions, which follow a homogeneous Poisson process over the days at risk
after the first (``TrialParameters.recur_rate``). Given its count, a Poisson process on
an interval places its events as uniform order statistics on that interval, so drawing
the further days uniformly on (first readmission, end of follow-up] gives event times
with exactly the model's distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peertrial import _data

__all__ = ["readmission_episodes"]


def readmission_episodes(data: pd.DataFrame, seed=None) -> pd.DataFrame:
    """Long-form readmission data of a simulated trial: one row per readmission and one per end.

    Parameters
    ----------
    data : pandas.DataFrame
        The data of :func:`peertrial.simulate.trial` (columns ``id``, ``arm``,
        ``readmit_time``, ``readmit_status``, ``readmissions``, ``followup_days``).
    seed : int or numpy.random.Generator, optional
        Seed of the draws of the further readmission days.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``arm``, ``day``, ``readmission`` (1 for a readmission, 0 for the
        row closing follow-up), ``died`` (1 on the closing row when death ended
        follow-up before any readmission), sorted by id and day; the input of
        :func:`peertrial.survival.mcf`.

    Notes
    -----
    R equivalent: none (it simulates data); the layout is the one recurrent-event tools read
    (e.g. ``survival::Surv(day, readmission)`` by ``id`` for a mean cumulative function).

    References
    ----------
    .. [1] Andersen, P. K., & Gill, R. D. (1982). Cox's regression model for counting
       processes: a large sample study. The Annals of Statistics, 10, 1100-1120.

    Examples
    --------
    >>> d = pt.simulate.trial(n=60, seed=1)
    >>> long = pt.simulate.readmission_episodes(d, seed=2)
    >>> int(long["readmission"].sum()) == int(d["readmissions"].sum())
    True
    """
    frame = _data.as_frame(data)
    cols = ["id", "arm", "readmit_time", "readmit_status", "readmissions", "followup_days"]
    _data.require_columns(frame, cols)
    rng = _data.as_generator(seed)
    first = frame["readmit_time"].to_numpy(float)
    end = frame["followup_days"].to_numpy(float)
    count = frame["readmissions"].to_numpy(int)
    further = np.maximum(count - 1, 0)
    who = np.repeat(np.arange(len(frame)), further)
    days = np.ceil(first[who] + rng.random(len(who)) * (end[who] - first[who]))
    days = np.clip(days, first[who] + 1, end[who]) if len(who) else days
    readmitted = count > 0
    rows = pd.concat([
        pd.DataFrame({"k": np.flatnonzero(readmitted), "day": first[readmitted], "readmission": 1}),
        pd.DataFrame({"k": who, "day": days, "readmission": 1}),
        pd.DataFrame({"k": np.arange(len(frame)), "day": end, "readmission": 0}),
    ], ignore_index=True)
    rows["id"] = frame["id"].to_numpy()[rows["k"]]
    rows["arm"] = frame["arm"].to_numpy()[rows["k"]]
    died = (frame["readmit_status"].to_numpy() == 2)
    rows["died"] = np.where(rows["readmission"] == 0, died[rows["k"]], False).astype(int)
    rows["day"] = rows["day"].astype(int)
    rows = rows.sort_values(["k", "day", "readmission"], ascending=[True, True, False], kind="stable")
    return rows[["id", "arm", "day", "readmission", "died"]].reset_index(drop=True)
