"""Invariances that hold whatever the reference: row order, replication, array input."""

import numpy as np
import pandas as pd

import peertrial as pt

from .survival_refs import SURV, close, frame


def test_results_do_not_depend_on_row_order():
    df = frame(SURV["ties_days"])
    shuffled = df.sample(frac=1, random_state=3)
    for fit in (lambda d: pt.survival.cox(d, "time", "event", ["arm", "age"], cluster="site").se,
                lambda d: pt.survival.cox(d, "time", "event", ["arm", "age"], strata="stratum").test_ph()["chisq"],
                lambda d: pt.survival.fine_gray(d, "time", "status", ["arm", "age"]).se,
                lambda d: pt.survival.cuminc(d, "time", "status", "arm").gray_test["stat"],
                lambda d: pt.survival.kaplan_meier(d, "time", "event", "arm").rmst(300)["se"]):
        close(fit(shuffled), fit(df), rtol=1e-10)


def test_integer_weights_equal_replicated_rows_breslow():
    df = frame(SURV["heavy_ties_weeks"]).iloc[:120]
    doubled = pd.concat([df, df], ignore_index=True)
    w = pt.survival.cox(df.assign(w2=2.0), "time", "event", ["arm", "age"], ties="breslow", weights="w2")
    rep = pt.survival.cox(doubled, "time", "event", ["arm", "age"], ties="breslow")
    close(w.coef, rep.coef, rtol=1e-10)
    close(w.se, rep.se, rtol=1e-10)
    close(w.loglik, rep.loglik, rtol=1e-10)


def test_array_inputs_without_data():
    df = frame(SURV["basic"])
    a = pt.survival.kaplan_meier(time=df["time"].to_numpy(), event=df["event"].to_numpy(),
                                 group=df["arm"].to_numpy())
    b = pt.survival.kaplan_meier(df, "time", "event", "arm")
    close(a.median(), b.median())
    lr = pt.survival.logrank(time=df["time"].to_numpy(), event=df["event"].to_numpy(),
                             group=df["arm"].to_numpy())
    close(lr.chisq, pt.survival.logrank(df, "time", "event", "arm").chisq)


def test_predicted_survival_is_monotone_and_ordered_by_risk():
    df = frame(SURV["basic"])
    cx = pt.survival.cox(df, "time", "event", ["arm", "age", "x2"])
    nd = pd.DataFrame({"arm": [0, 0], "age": [30, 60], "x2": [0, 0]})
    s = cx.predict_survival(nd, np.arange(0, 366, 5)).to_numpy()
    assert np.all(np.diff(s, axis=0) <= 1e-15)
    high_risk = 1 if cx.coef["age"] > 0 else 0
    assert np.all(s[:, high_risk] <= s[:, 1 - high_risk] + 1e-15)
