import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial import ConvergenceWarning


@pytest.fixture
def df():
    rng = np.random.default_rng(5)
    n = 40
    return pd.DataFrame({
        "time": rng.integers(1, 365, n).astype(float), "event": rng.integers(0, 2, n),
        "status": rng.integers(0, 3, n), "arm": np.tile([0, 1], n // 2), "age": rng.normal(40, 10, n),
    }, index=[f"p{i}" for i in range(n)])


def test_negative_time_names_column_and_row(df):
    df.loc["p3", "time"] = -2
    for call in (lambda: pt.survival.kaplan_meier(df, "time", "event", "arm"),
                 lambda: pt.survival.cox(df, "time", "event", ["arm"]),
                 lambda: pt.survival.cuminc(df, "time", "status", "arm"),
                 lambda: pt.survival.fine_gray(df, "time", "status", ["arm"]),
                 lambda: pt.survival.logrank(df, "time", "event", "arm")):
        with pytest.raises(ValueError, match=r"'time'.*non-negative.*'p3'"):
            call()


def test_missing_time_or_event_rows_dropped_with_warning_as_r(df):
    """As coxph/survfit with na.omit: the rows go, a warning names them, the fit is the same."""
    full = pt.survival.cox(df.drop(index=["p1", "p7"]), "time", "event", ["arm"])
    df.loc[["p1", "p7"], "time"] = np.nan
    with pytest.warns(UserWarning, match=r"2 rows with missing values in \['time'\].*'p1', 'p7'"):
        fit = pt.survival.cox(df, "time", "event", ["arm"])
    assert fit.coef.equals(full.coef)
    df.loc["p3", "event"] = None
    with pytest.warns(UserWarning, match=r"'p3'"):
        km = pt.survival.kaplan_meier(df, "time", "event")
    assert int(km.n.sum()) == len(df) - 3


def test_missing_covariate_rows_dropped_with_warning(df):
    df.loc["p2", "age"] = np.nan
    with pytest.warns(UserWarning, match=r"'p2'"):
        res = pt.survival.cox(df, "time", "event", ["arm", "age"])
    assert res.n == len(df) - 1


def test_event_codes_outside_declared_set(df):
    df.loc["p5", "event"] = 2
    with pytest.raises(ValueError, match=r"'event'.*\[0, 1\].*'p5'"):
        pt.survival.kaplan_meier(df, "time", "event")
    df.loc["p6", "status"] = 7
    with pytest.raises(ValueError, match=r"'status'.*'p6'"):
        pt.survival.cuminc(df, "time", "status", "arm", causes=[1, 2])
    df.loc["p6", "status"] = -1
    with pytest.raises(ValueError, match=r"'status'.*'p6'"):
        pt.survival.cuminc(df, "time", "status", "arm")


def test_group_with_one_level(df):
    df["arm"] = 1
    for call in (lambda: pt.survival.logrank(df, "time", "event", "arm"),
                 lambda: pt.survival.kaplan_meier(df, "time", "event", "arm"),
                 lambda: pt.survival.cuminc(df, "time", "status", "arm")):
        with pytest.raises(ValueError, match=r"'arm'.*at least 2 levels"):
            call()
    with pytest.raises(ValueError, match=r"'arm'.*constant"):
        pt.survival.cox(df, "time", "event", ["arm"])


def test_time_varying_covariate_passed_as_sequence(df):
    df["dose"] = [[1, 2, 3]] + [1.0] * (len(df) - 1)
    with pytest.raises(ValueError, match=r"'dose'.*sequences.*'p0'.*counting-process"):
        pt.survival.cox(df, "time", "event", ["dose"])


def test_repeated_ids_without_entry(df):
    df["id"] = np.repeat(np.arange(20), 2)
    with pytest.raises(ValueError, match=r"'id'.*repeats.*entry"):
        pt.survival.cox(df, "time", "event", ["arm"], id="id")


def test_overlapping_intervals_of_one_subject(df):
    first = df.assign(entry=0.0, stop=df["time"] / 2, ev=0)
    second = df.assign(entry=df["time"] / 2, stop=df["time"], ev=df["event"])
    d = pd.concat([first, second]).reset_index(names="id")
    d.index = range(len(d))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split = pt.survival.cox(d, "stop", "ev", ["arm", "age"], entry="entry", id="id")
    whole = pt.survival.cox(df, "time", "event", ["arm", "age"])
    np.testing.assert_allclose(split.coef, whole.coef, rtol=1e-10)
    d.loc[40, "entry"] = d.loc[0, "stop"] - 1  # second interval of p0 starts inside the first
    with pytest.raises(ValueError, match=r"'id'.*overlap.*rows 0, 40"):
        pt.survival.cox(d, "stop", "ev", ["arm"], entry="entry", id="id")


def test_entry_after_exit_rejected(df):
    df["entry"] = 0.0
    df.loc["p4", "entry"] = df.loc["p4", "time"] + 1
    with pytest.raises(ValueError, match=r"'entry'.*'p4'"):
        pt.survival.kaplan_meier(df, "time", "event", entry="entry")


def test_monotone_likelihood_warns_and_diverges(df):
    df["event"] = np.where(df["arm"] == 1, 0, df["event"])
    with pytest.warns(ConvergenceWarning, match="infinite"):
        res = pt.survival.cox(df, "time", "event", ["arm"])
    assert res.coef["arm"] < -10 and res.se["arm"] > 100


def test_no_events_is_an_error_for_cox(df):
    df["event"] = 0
    with pytest.raises(ValueError, match=r"'event'.*no events"):
        pt.survival.cox(df, "time", "event", ["arm"])


def test_bad_options(df):
    with pytest.raises(ValueError, match="conf_type"):
        pt.survival.kaplan_meier(df, "time", "event", conf_type="probit")
    with pytest.raises(ValueError, match="ties"):
        pt.survival.cox(df, "time", "event", ["arm"], ties="average")
    with pytest.raises(ValueError, match="not found"):
        pt.survival.cox(df, "time", "event", ["nope"])


def test_no_warning_on_clean_data(df):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pt.survival.cox(df, "time", "event", ["arm", "age"])
        pt.survival.kaplan_meier(df, "time", "event", "arm")
