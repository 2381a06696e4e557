"""Time multiple imputation (chained equations) beside ``mice``, and reference-based MI alone.

    python benchmarks/bench_mi.py [--n 590 5000] [--m 20] [--n-iter 10] [--repeat 1]

1. ``pt.trial.multiple_imputation`` against ``mice::mice(m = 20, maxit = 10)`` followed by
   ``pool(with(imp, lm(hope_12 ~ arm + hope_0 + age + diagnosis + female)))``, on a simulated
   trial (``pt.simulate.trial``) of each ``--n``. About 10% of ``female`` (two levels: logreg)
   and of ``diagnosis`` (three levels: polyreg) are set missing at random beside the missing
   outcome ``hope_12`` and auxiliary ``hope_4`` (numeric: pmm), so each of mice's default
   methods is run on both sides. The two draw from different random streams, so the pooled
   arm effects agree only up to Monte-Carlo error (a fraction of the SE); they are printed
   side by side, not as a check of equality.
2. ``pt.trial.reference_based_mi`` (jump to reference, visits 4 and 12, m = ``--m``) on the same
   trials. Its R peer, rbmi, is not installable here, so only peertrial's time is printed.

Prints the best-of-``repeat`` wall time (default 1: a run of mice at n = 5,000 takes minutes)
and the ratio (mice / peertrial: > 1 means peertrial is faster). R is timed inside R with
``system.time`` (reading excluded); skipped without ``Rscript``. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _timing import best_of, print_table, run_r_on_frames

import peertrial as pt

COVARIATES = ["hope_0", "age", "diagnosis", "female"]

R_SCRIPT = r"""
suppressPackageStartupMessages({library(mice); library(jsonlite)})
args <- commandArgs(TRUE); n <- length(args); m <- as.integer(args[n - 2]); maxit <- as.integer(args[n - 1])
rep <- as.integer(args[n]); out <- list()
run <- function(d) {
  imp <- mice(d, m = m, maxit = maxit, printFlag = FALSE)
  summary(pool(with(imp, lm(hope_12 ~ arm + hope_0 + age + diagnosis + female))))
}
invisible(mice(read.csv(args[1], stringsAsFactors = TRUE, na.strings = c("", "NA")), m = 1, maxit = 1,
                printFlag = FALSE))  # warm-up: loads the method packages
for (p in head(args, -3)) {
  d <- read.csv(p, stringsAsFactors = TRUE, na.strings = c("", "NA")); set.seed(1)
  t <- min(replicate(rep, system.time(s <<- run(d))[["elapsed"]]))
  row <- s[s$term == "arm", ]
  out[[basename(p)]] <- list(time = t, estimate = row$estimate, se = row$std.error, df = row$df,
                             methods = as.list(make.method(d)))
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def simulate(n: int, seed: int):
    """The simulated trial's analysis columns, ``female`` as a factor, 10% of it and of ``diagnosis`` missing."""
    d = pt.simulate.trial(n=n, seed=seed)[["arm", "hope_0", "age", "diagnosis", "female", "hope_4", "hope_12"]]
    d = d.astype({"hope_0": float, "hope_4": float, "hope_12": float})
    d["female"] = np.where(d["female"] == 1, "F", "M").astype(object)
    rng = np.random.default_rng(seed + 100)
    d.loc[rng.random(n) < 0.1, "female"] = None
    d.loc[rng.random(n) < 0.1, "diagnosis"] = None
    return d


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[590, 5000])
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--n-iter", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--r-timeout", type=float, default=3600)
    ap.add_argument("--no-refbased", action="store_true")
    a = ap.parse_args(argv)
    data = {f"n{n}.csv": simulate(n, i + 1) for i, n in enumerate(a.n)}

    def mi(d):
        return pt.trial.multiple_imputation(d, "hope_12", covariates=COVARIATES, auxiliary=["hope_4"],
                                            m=a.m, n_iter=a.n_iter, seed=1)

    def rb(d):
        return pt.trial.reference_based_mi(d, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"],
                                           strategy="JR", m=a.m, seed=1)

    ours, fits, rb_times = {}, {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = simulate(200, 99)  # first calls pay for imports
        pt.trial.multiple_imputation(warm, "hope_12", covariates=COVARIATES, auxiliary=["hope_4"], m=2, n_iter=2)
        for k, d in data.items():
            ours[k], fits[k] = best_of(lambda d=d: mi(d), a.repeat)
        if not a.no_refbased:
            rb(warm)
            for k, d in data.items():
                rb_times[k] = best_of(lambda d=d: rb(d), a.repeat)[0]
    r, why = run_r_on_frames(R_SCRIPT, data, [a.m, a.n_iter, a.repeat], a.r_timeout)
    labels = {k: f"MICE (pmm, logreg, polyreg) m = {a.m}, maxit = {a.n_iter} + pool, n = {len(d):,}"
              for k, d in data.items()}
    rows = [(labels[k], ours[k], {"R mice": r[k]["time"] if r else None}) for k in data]
    rows += [(f"reference-based MI (JR), 2 visits, m = {a.m}, n = {len(data[k]):,}", t, {})
             for k, t in rb_times.items()]
    print_table(rows, peers=("R mice",))
    if rb_times:
        print("reference-based MI: no R peer timed (rbmi is not installable here): peertrial time only")
    if r is None:
        print(f"R not timed: {why}")
        return
    print("pooled arm effect (different random streams: equal only up to Monte-Carlo error):")
    for k in data:
        e = fits[k].pooled.loc["arm"] if "arm" in fits[k].pooled.index else fits[k].effect.iloc[0]
        rr = r[k]
        print(f"  n = {len(data[k]):>5,}: peertrial {e['estimate']:.4f} (se {e['se']:.4f}, df {e['df']:.1f}), "
              f"mice {rr['estimate']:.4f} (se {rr['se']:.4f}, df {rr['df']:.1f}); "
              f"|diff| = {abs(e['estimate'] - rr['estimate']) / rr['se']:.2f} SE; methods peertrial "
              f"{fits[k].imputation_methods}, mice { {c: v for c, v in rr['methods'].items() if v} }")


if __name__ == "__main__":
    main()
