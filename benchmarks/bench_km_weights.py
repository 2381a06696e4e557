"""Time the weighted Kaplan–Meier with the infinitesimal-jackknife variance beside ``survfit``.

    python benchmarks/bench_km_weights.py [--n 10000 50000] [--repeat 3]

Simulated two-arm survival (whole-day times, many ties) with non-integer case weights (as
inverse-probability weights: uniform on 0.5 to 3), by arm: ``pt.survival.kaplan_meier(...,
weights="w")`` (non-integer weights select the IJ variance, ``robust=True``) against
``survfit(Surv(time, event) ~ arm, weights = w, robust = TRUE)``. Prints the best-of-``repeat``
wall time, the ratio (R / peertrial: > 1 means peertrial is faster) and the largest absolute and
relative difference of the survival, its standard error and the cumulative hazard over every
time of both curves. R is timed inside R with ``system.time`` (reading excluded); skipped without
``Rscript``. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from _timing import best_of, max_diff, print_table, run_r_on_frames

import peertrial as pt

R_SCRIPT = r"""
suppressPackageStartupMessages({library(survival); library(jsonlite)})
args <- commandArgs(TRUE); rep <- as.integer(args[length(args)]); out <- list()
run <- function(d) survfit(Surv(time, event) ~ arm, d, weights = w, robust = TRUE)
invisible(run(read.csv(args[1])))  # warm-up
for (p in head(args, -1)) {
  d <- read.csv(p)
  t <- min(replicate(rep, system.time(f <<- run(d))[["elapsed"]]))
  out[[basename(p)]] <- list(time = t, surv = f$surv, se = f$std.err, cumhaz = f$cumhaz)
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n).astype(float)
    t = rng.exponential(400 * np.exp(0.3 * arm))
    cens = rng.uniform(30, 730, n)
    return pd.DataFrame({"time": np.maximum(1, np.ceil(np.minimum(t, cens))), "event": (t <= cens).astype(int),
                         "arm": arm, "w": np.round(rng.uniform(0.5, 3, n), 4)})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r-timeout", type=float, default=3600)
    a = ap.parse_args(argv)
    data = {f"n{n}.csv": simulate(n, i + 1) for i, n in enumerate(a.n)}
    pt.survival.kaplan_meier(simulate(500, 99), "time", "event", "arm", weights="w")  # warm-up (imports)
    ours, fits = {}, {}
    for k, d in data.items():
        ours[k], fits[k] = best_of(lambda d=d: pt.survival.kaplan_meier(d, "time", "event", "arm", weights="w"),
                                   a.repeat)
    r, why = run_r_on_frames(R_SCRIPT, data, [a.repeat], a.r_timeout)
    labels = {k: f"weighted KM by arm, IJ (robust) variance, n = {len(d):,}" for k, d in data.items()}
    print_table([(labels[k], ours[k], {"R": r[k]["time"] if r else None}) for k in data])
    if r is None:
        print(f"R not timed: {why}")
        return
    for k in data:
        f, rr = fits[k].to_frame(), r[k]
        if len(f) != len(rr["surv"]):
            print(f"{labels[k]}: {len(f)} rows vs survfit's {len(rr['surv'])}: not compared")
            continue
        print(f"{labels[k]} vs survfit: surv {max_diff(f['surv'], rr['surv'])}; se "
              f"{max_diff(f['se'], rr['se'])}; cumhaz {max_diff(f['cumhaz'], rr['cumhaz'])}")


if __name__ == "__main__":
    main()
