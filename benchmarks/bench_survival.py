"""Time peertrial.survival beside R (survival, cmprsk) and lifelines on the same data.

    python benchmarks/bench_survival.py [--n-cox 1000000] [--n-km 1000000] [--n-fg 100000]
                                        [--n-fg-r 10000] [--repeat 3] [--r-timeout 3600]

Cox: Efron ties, 2 covariates (arm, age), whole-day times. KM: by arm. Fine–Gray:
cause 1 of 2 with 3 covariates, crr's sandwich variance included on both sides. crr's
variance loops over all pairs of subjects (O(n^2) in Fortran), so R's crr is timed once on
the first ``--n-fg-r`` rows, beside peertrial on the same rows; peertrial is also timed on
all ``--n-fg`` rows.
Prints the best-of-``repeat`` wall time of each implementation and the ratio
(peer time / peertrial time: > 1 means peertrial is faster). R is timed inside R with
``system.time`` (data reading excluded); it is skipped when ``Rscript`` is absent.
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


def simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n).astype(float)
    age = np.round(rng.normal(40, 12, n), 1)
    x2 = rng.integers(0, 2, n).astype(float)
    t1 = rng.exponential(300 * np.exp(0.35 * arm - 0.01 * (age - 40)))
    t2 = rng.exponential(1000, n)
    cens = np.minimum(rng.uniform(30, 730, n), 365)
    t = np.minimum(np.minimum(t1, t2), cens)
    status = np.where(t == cens, 0, np.where(t == t1, 1, 2))
    days = np.maximum(1, np.ceil(t))
    return pd.DataFrame({"time": days, "status": status, "event": (status == 1).astype(float),
                         "arm": arm, "age": age, "x2": x2})



R_SCRIPT = r"""
suppressPackageStartupMessages({library(survival); library(cmprsk); library(jsonlite)})
args <- commandArgs(TRUE); rep <- as.integer(args[4]); out <- list()
bt <- function(expr) { e <- substitute(expr); min(replicate(rep, system.time(eval(e, parent.frame()))[["elapsed"]])) }
d <- read.csv(args[1]); out$cox <- bt(coxph(Surv(time, event) ~ arm + age, d, ties = "efron"))
out$cox_coef <- unname(coef(coxph(Surv(time, event) ~ arm + age, d)))
d <- read.csv(args[2]); out$km <- bt(survfit(Surv(time, event) ~ arm, d))
d <- read.csv(args[3]); cv <- cbind(d$arm, d$age, d$x2)
out$fg <- system.time(fit <- crr(d$time, d$status, cv))[["elapsed"]]
out$fg_coef <- unname(fit$coef)
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def run_r(paths, repeat: int, timeout: float):
    return run_rscript(R_SCRIPT, [*paths, repeat], timeout)


def lifelines_times(cox_df, km_df, repeat):
    try:
        from lifelines import CoxPHFitter, KaplanMeierFitter
    except ImportError:
        return {}
    out = {}
    sub = cox_df[["time", "event", "arm", "age"]]
    out["cox"] = best_of(lambda: CoxPHFitter().fit(sub, "time", "event"), 1)[0]

    def km():
        for g in (0.0, 1.0):
            m = km_df["arm"] == g
            KaplanMeierFitter().fit(km_df.loc[m, "time"], km_df.loc[m, "event"])
    out["km"] = best_of(km, repeat)[0]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-cox", type=int, default=1_000_000)
    ap.add_argument("--n-km", type=int, default=1_000_000)
    ap.add_argument("--n-fg", type=int, default=100_000)
    ap.add_argument("--n-fg-r", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r-timeout", type=float, default=3600)
    args = ap.parse_args(argv)
    cox_df, km_df, fg_df = simulate(args.n_cox, 1), simulate(args.n_km, 2), simulate(args.n_fg, 3)
    fg_small = fg_df.iloc[: args.n_fg_r]
    warm = simulate(2000, 4)  # first calls pay for imports; keep them out of the timings
    pt.survival.cox(warm, "time", "event", ["arm", "age"])
    pt.survival.kaplan_meier(warm, "time", "event", "arm")
    pt.survival.fine_gray(warm, "time", "status", ["arm", "age", "x2"])
    ours = {
        "cox": best_of(lambda: pt.survival.cox(cox_df, "time", "event", ["arm", "age"]), args.repeat)[0],
        "km": best_of(lambda: pt.survival.kaplan_meier(km_df, "time", "event", "arm"), args.repeat)[0],
        "fg_r": best_of(lambda: pt.survival.fine_gray(fg_small, "time", "status", ["arm", "age", "x2"]), args.repeat)[0],
        "fg": best_of(lambda: pt.survival.fine_gray(fg_df, "time", "status", ["arm", "age", "x2"]), args.repeat)[0],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        life = lifelines_times(cox_df, km_df, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"{k}.csv" for k in ("cox", "km", "fg")]
        for df, p in zip((cox_df, km_df, fg_small), paths):
            df.to_csv(p, index=False)
        r, why = run_r(paths, args.repeat, args.r_timeout)
    labels = {"cox": f"Cox, Efron, 2 covariates, n = {args.n_cox:,}",
              "km": f"Kaplan-Meier by arm, n = {args.n_km:,}",
              "fg_r": f"Fine-Gray (crr incl. variance), 3 covariates, n = {args.n_fg_r:,}",
              "fg": f"Fine-Gray, 3 covariates, n = {args.n_fg:,} (peertrial only)"}
    r_key = {"cox": "cox", "km": "km", "fg_r": "fg"}
    print_table([(label, ours[k], {"R": r.get(r_key[k]) if (r and k in r_key) else None,
                                   "lifelines": life.get(k)})
                 for k, label in labels.items()], peers=("R", "lifelines"))
    if r is None:
        print(f"R not timed: {why}")
    else:
        cx = pt.survival.cox(cox_df, "time", "event", ["arm", "age"]).coef.to_numpy()
        fg = pt.survival.fine_gray(fg_small, "time", "status", ["arm", "age", "x2"]).coef.to_numpy()
        print(f"max rel. difference in coefficients vs R: Cox "
              f"{np.max(np.abs(cx / np.asarray(r['cox_coef']) - 1)):.1e}, Fine-Gray "
              f"{np.max(np.abs(fg / np.asarray(r['fg_coef']) - 1)):.1e}")


if __name__ == "__main__":
    main()
