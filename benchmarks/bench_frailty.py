"""Time the shared gamma frailty Cox model beside ``survival::coxph(... + frailty(g))``.

    python benchmarks/bench_frailty.py [--clusters 50 500] [--per-cluster 10] [--repeat 3]

Data, each fitted by ``pt.survival.cox`` and by ``coxph`` with ``frailty.gamma``'s defaults (theta
chosen by the integrated likelihood; sparse fit above 5 groups on both sides):

- survival's ``rats`` (300 rats, 100 litters): ``coxph(Surv(time, status) ~ rx + frailty(litter))``;
  the rows are read from ``tests/survival/fixtures/frailty_cases.json`` (written by R).
- every readmission of the shipped trial (``simulated_data/``, 590 participants, (start, stop] rows
  built by ``pt.survival.counting_process``): ``coxph(Surv(start, stop, readmission) ~ arm + age +
  frailty(id))``, the Andersen-Gill model with a participant frailty.
- a simulated multi-centre trial: ``--per-cluster`` participants in each of ``--clusters`` sites
  (one fit per value), arm and age as covariates, a gamma site frailty of variance 0.5, about 30%
  censored, whole-day times (ties, Efron): ``coxph(Surv(time, event) ~ arm + age + frailty(site))``.

Prints the best-of-``repeat`` wall time and the ratio (R / peertrial: > 1 means peertrial is
faster), then the largest absolute and relative difference of coef, se(coef) and theta (R's theta
is the last one its search fitted). R is timed inside R with ``system.time`` (reading excluded);
skipped without ``Rscript``. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of, max_diff, print_table, run_r_on_frames

import peertrial as pt

ROOT = Path(__file__).resolve().parents[1]

R_SCRIPT = r"""
suppressPackageStartupMessages({library(survival); library(jsonlite)})
args <- commandArgs(TRUE); rep <- as.integer(args[length(args)]); k <- (length(args) - 1) / 2
paths <- args[seq_len(k)]; forms <- args[k + seq_len(k)]; out <- list()
bt <- function(expr) { e <- substitute(expr); env <- parent.frame()
  min(replicate(rep, system.time(eval(e, env))[["elapsed"]])) }
invisible(coxph(Surv(time, status) ~ rx + frailty(litter), rats))  # warm-up
for (i in seq_len(k)) {
  d <- read.csv(paths[i]); fo <- as.formula(forms[i])
  t <- bt(coxph(fo, d))
  f <- coxph(fo, d)
  p <- length(coef(f))
  out[[basename(paths[i])]] <- list(time = t, coef = unname(coef(f)), se = unname(sqrt(diag(f$var))[seq_len(p)]),
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


def rats() -> pd.DataFrame:
    """survival's rats as R wrote them into the frailty fixtures (status 0/1, litter, rx)."""
    fx = json.loads((ROOT / "tests" / "survival" / "fixtures" / "frailty_cases.json").read_text())
    return pd.DataFrame(fx["data"]["rats"])[["litter", "rx", "time", "status"]]


def shipped_readmissions() -> pd.DataFrame:
    """Every readmission of the shipped trial as (start, stop] rows with arm and age."""
    trial = pd.read_csv(ROOT / "simulated_data" / "trial.csv")
    long = pd.read_csv(ROOT / "simulated_data" / "readmissions_long.csv")
    return pt.survival.counting_process(long[["id", "day", "readmission"]].merge(trial[["id", "arm", "age"]], on="id"),
                                        id="id", time="day", event="readmission")


def cases(clusters, per):
    """``{file name: (label, data, peertrial call, R formula)}``."""
    out = {}
    d = rats()
    out["rats.csv"] = (f"rats, {d['litter'].nunique()} litters ({len(d)} rows)", d,
                       lambda d=d: pt.survival.cox(d, "time", "status", "rx + frailty(litter)"),
                       "Surv(time, status) ~ rx + frailty(litter)")
    d = shipped_readmissions()
    out["shipped.csv"] = (f"shipped readmissions, {d['id'].nunique()} participants ({len(d):,} rows)", d,
                          lambda d=d: pt.survival.cox(d, "stop", "readmission", "arm + age + frailty(id)",
                                                      entry="start"),
                          "Surv(start, stop, readmission) ~ arm + age + frailty(id)")
    for i, c in enumerate(clusters):
        d = simulate(c, per, seed=i + 1)
        out[f"c{c}.csv"] = (f"simulated trial, {c} sites x {per} ({int(d['event'].sum()):,} events)", d,
                            lambda d=d: pt.survival.cox(d, "time", "event", ["arm", "age"], frailty="site"),
                            "Surv(time, event) ~ arm + age + frailty(site)")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clusters", type=int, nargs="+", default=[50, 500])
    ap.add_argument("--per-cluster", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r-timeout", type=float, default=3600)
    a = ap.parse_args(argv)
    todo = cases(a.clusters, a.per_cluster)
    pt.survival.cox(simulate(8, 25, 99), "time", "event", ["arm", "age"], frailty="site")  # warm-up (imports)
    fits, ours = {}, {}
    for k, (_, _, call, _) in todo.items():
        ours[k], fits[k] = best_of(call, a.repeat)
    r, why = run_r_on_frames(R_SCRIPT, {k: v[1] for k, v in todo.items()},
                             [*(v[3] for v in todo.values()), a.repeat], a.r_timeout)
    print_table([(v[0], ours[k], {"R": r[k]["time"] if r else None}) for k, v in todo.items()])
    if r is None:
        print(f"R not timed: {why}")
        return
    for k, v in todo.items():
        f = fits[k]
        print(f"{v[0]}: vs coxph coef {max_diff(f.coef, r[k]['coef'])}; se(coef) "
              f"{max_diff(f.se, r[k]['se'])}; theta {max_diff(f.theta, r[k]['theta'])}")


if __name__ == "__main__":
    main()
