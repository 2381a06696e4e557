"""Time recurrent-event analyses beside R (survival) and lifelines on the same data.

    python benchmarks/bench_recurrent.py [--subjects 360000] [--repeat 3] [--r-timeout 3600]

Simulated readmissions (gamma frailty, two arms, whole-day times) in counting-process
form, about 2.8 rows per participant (10^6 rows with the default 360,000 participants):

- Andersen–Gill Cox, Efron ties, arm + age, robust SE by participant:
  ``coxph(Surv(start, stop, event) ~ arm + age + cluster(id))``; lifelines'
  ``CoxTimeVaryingFitter`` on the same rows (model-based SE only: it has no robust option,
  so it does less work than the other two).
- Mean cumulative function by arm with Lawless–Nadeau robust SEs, on the long form (one
  row per readmission plus one per end of follow-up): ``survfit(Surv(start, stop, event)
  ~ arm, id = id)`` on the counting-process rows (cumulative hazard and robust std.chaz);
  lifelines has no MCF.

Prints best-of-``repeat`` wall times and ratios (peer / peertrial: > 1 means peertrial is
faster). R is timed inside R with ``system.time``; skipped when ``Rscript`` is absent.
Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of, print_table, run_rscript

import peertrial as pt


def simulate(subjects: int, seed: int) -> pd.DataFrame:
    """Counting-process rows (id, start, stop, event, arm, age): about 4 per participant."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, subjects).astype(float)
    age = np.round(rng.normal(40, 12, subjects), 1)
    follow = np.minimum(365.0, np.ceil(rng.uniform(60, 500, subjects)))
    rate = 0.008 * np.exp(-0.3 * arm + 0.01 * (age - 40)) * rng.gamma(2.0, 0.5, subjects)
    n_ev = rng.poisson(rate * follow)
    # event days: uniform order statistics within follow-up (a Poisson process given its count)
    sid = np.repeat(np.arange(subjects), n_ev)
    days = np.ceil(rng.uniform(0, 1, n_ev.sum()) * (follow[sid] - 1))
    ev = pd.DataFrame({"id": sid, "day": days}).drop_duplicates().sort_values(["id", "day"])
    ends = pd.DataFrame({"id": np.arange(subjects), "day": follow})
    rows = pd.concat([ev.assign(event=1), ends.assign(event=0)]).sort_values(["id", "day", "event"],
                                                                              ascending=[True, True, False])
    rows = rows.drop_duplicates(["id", "day"])  # an event on the last day closes follow-up
    rows["start"] = rows.groupby("id")["day"].shift(fill_value=0.0)
    rows = rows[rows["day"] > rows["start"]]
    rows = rows.rename(columns={"day": "stop"})
    rows["arm"] = arm[rows["id"]]
    rows["age"] = age[rows["id"]]
    return rows[["id", "start", "stop", "event", "arm", "age"]].reset_index(drop=True)


def long_form(cp: pd.DataFrame) -> pd.DataFrame:
    """One row per event and one per end of follow-up (the mcf input)."""
    ev = cp.loc[cp["event"] == 1, ["id", "stop", "event", "arm"]]
    end = cp.groupby("id", as_index=False).agg(stop=("stop", "max"), arm=("arm", "first")).assign(event=0)
    return pd.concat([ev, end], ignore_index=True).rename(columns={"stop": "time"})


R_SCRIPT = r"""
suppressPackageStartupMessages({library(survival); library(jsonlite)})
args <- commandArgs(TRUE); rep <- as.integer(args[2]); out <- list()
bt <- function(expr) { e <- substitute(expr); min(replicate(rep, system.time(eval(e, parent.frame()))[["elapsed"]])) }
d <- read.csv(args[1])
out$ag <- bt(coxph(Surv(start, stop, event) ~ arm + age + cluster(id), d, ties = "efron"))
fit <- coxph(Surv(start, stop, event) ~ arm + age + cluster(id), d, ties = "efron")
out$ag_coef <- unname(coef(fit)); out$ag_se <- unname(sqrt(diag(fit$var)))
out$mcf <- bt(survfit(Surv(start, stop, event) ~ arm, d, id = id))
f <- survfit(Surv(start, stop, event) ~ arm, d, id = id)
out$mcf_last <- unname(f$cumhaz[cumsum(f$strata)]); out$mcf_se_last <- unname(f$std.chaz[cumsum(f$strata)])
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def run_r(path, repeat: int, timeout: float):
    return run_rscript(R_SCRIPT, [path, repeat], timeout)


def lifelines_ag(cp: pd.DataFrame, repeat: int):
    try:
        from lifelines import CoxTimeVaryingFitter
    except ImportError:
        return None
    sub = cp[["id", "start", "stop", "event", "arm", "age"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return best_of(lambda: CoxTimeVaryingFitter().fit(sub, id_col="id", event_col="event",
                                                          start_col="start", stop_col="stop"),
                      repeat)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=360_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r-timeout", type=float, default=3600)
    ap.add_argument("--no-lifelines", action="store_true")
    args = ap.parse_args(argv)
    cp = simulate(args.subjects, 1)
    lf = long_form(cp)
    warm = simulate(500, 2)
    pt.survival.cox(warm, "stop", "event", ["arm", "age"], entry="start", cluster="id")
    pt.survival.mcf(long_form(warm), id="id", time="time", event="event", group="arm")

    def ag():
        return pt.survival.cox(cp, "stop", "event", ["arm", "age"], entry="start", cluster="id")

    def mcf():
        return pt.survival.mcf(lf, id="id", time="time", event="event", group="arm")

    ours = {"ag": best_of(ag, args.repeat)[0], "mcf": best_of(mcf, args.repeat)[0]}
    life = {} if args.no_lifelines else {"ag": lifelines_ag(cp, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cp.csv"
        cp.to_csv(path, index=False)
        r, why = run_r(path, args.repeat, args.r_timeout)
    n_rows, n_ev = len(cp), int(cp["event"].sum())
    labels = {"ag": f"Andersen-Gill Cox, robust SE, {n_rows:,} rows",
              "mcf": f"MCF by arm, robust SE, {n_ev:,} events"}
    print_table([(label, ours[k], {"R": r.get(k) if r else None, "lifelines": life.get(k)})
                 for k, label in labels.items()], peers=("R", "lifelines"))
    if r is None:
        print(f"R not timed: {why}")
    else:
        fit, m = ag(), mcf()
        last = m.to_frame().groupby("group").tail(1)
        print("max rel. difference vs R: AG coef "
              f"{np.max(np.abs(fit.coef.to_numpy() / np.asarray(r['ag_coef']) - 1)):.1e}, robust SE "
              f"{np.max(np.abs(fit.se.to_numpy() / np.asarray(r['ag_se']) - 1)):.1e}; MCF at end "
              f"{np.max(np.abs(last['estimate'].to_numpy() / np.asarray(r['mcf_last']) - 1)):.1e}, SE "
              f"{np.max(np.abs(last['se'].to_numpy() / np.asarray(r['mcf_se_last']) - 1)):.1e}")


if __name__ == "__main__":
    main()
