"""Time the shared gamma frailty Cox model beside ``survival::coxph(... + frailty(id))``.

    python benchmarks/bench_frailty.py [--clusters 50 500] [--per-cluster 10] [--repeat 3]

A simulated multi-centre trial: ``--per-cluster`` participants in each of ``--clusters`` sites
(one fit per value), arm and age as covariates, a gamma site frailty of variance 0.5, about 30%
censored, whole-day times (ties, Efron). Fitted with ``pt.survival.cox(..., frailty="site")``
against ``coxph(Surv(time, event) ~ arm + age + frailty(site))`` (frailty.gamma's defaults: theta
chosen by the integrated likelihood; sparse fit above 5 sites on both sides).

Prints the best-of-``repeat`` wall time and the ratio (R / peertrial: > 1 means peertrial is
faster), then the largest absolute and relative difference of coef, se(coef) and theta.
R is timed inside R with ``system.time`` (reading excluded); skipped without ``Rscript``.
Nothing here asserts on time.
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
bt <- function(expr) { e <- substitute(expr); env <- parent.frame()
  min(replicate(rep, system.time(eval(e, env))[["elapsed"]])) }
invisible(coxph(Surv(time, event) ~ arm + frailty(site), read.csv(args[1])))  # warm-up
for (p in head(args, -1)) {
  d <- read.csv(p); k <- basename(p)
  t <- bt(coxph(Surv(time, event) ~ arm + age + frailty(site), d))
  f <- coxph(Surv(time, event) ~ arm + age + frailty(site), d)
  out[[k]] <- list(time = t, coef = unname(coef(f)), se = unname(sqrt(diag(f$var))[1:2]),
                   theta = tail(as.matrix(f$history[[1]]$history)[, 1], 1))  # last theta of the search
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def simulate(clusters: int, per: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = clusters * per
    site = np.repeat(np.arange(clusters), per)
    arm = rng.integers(0, 2, n).astype(float)
    age = np.round(rng.normal(60, 10, n), 1)
    frail = rng.gamma(2.0, 0.5, clusters)[site]  # mean 1, variance 0.5
    t = rng.exponential(1 / (0.004 * frail * np.exp(-0.4 * arm + 0.02 * (age - 60))))
    cens = rng.uniform(100, 600, n)
    return pd.DataFrame({"time": np.maximum(1, np.ceil(np.minimum(t, cens))),
                         "event": (t <= cens).astype(int), "arm": arm, "age": age, "site": site})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clusters", type=int, nargs="+", default=[50, 500])
    ap.add_argument("--per-cluster", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r-timeout", type=float, default=3600)
    a = ap.parse_args(argv)
    data = {f"c{c}.csv": simulate(c, a.per_cluster, seed=i + 1) for i, c in enumerate(a.clusters)}
    pt.survival.cox(simulate(8, 25, 99), "time", "event", ["arm", "age"], frailty="site")  # warm-up (imports)
    fits, ours = {}, {}
    for k, d in data.items():
        ours[k], fits[k] = best_of(lambda d=d: pt.survival.cox(d, "time", "event", ["arm", "age"], frailty="site"),
                                   a.repeat)
    r, why = run_r_on_frames(R_SCRIPT, data, [a.repeat], a.r_timeout)
    labels = {k: f"gamma frailty Cox, {c} sites x {a.per_cluster} ({int(d['event'].sum()):,} events)"
              for (k, d), c in zip(data.items(), a.clusters)}
    print_table([(labels[k], ours[k], {"R": r[k]["time"] if r else None}) for k in data])
    if r is None:
        print(f"R not timed: {why}")
        return
    for k in data:
        f = fits[k]
        print(f"{labels[k]}: vs coxph coef {max_diff(f.coef, r[k]['coef'])}; se(coef) "
              f"{max_diff(f.se, r[k]['se'])}; theta {max_diff(f.theta, r[k]['theta'])}")


if __name__ == "__main__":
    main()
