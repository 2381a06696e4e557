"""Time Satterthwaite and Kenward–Roger df of the random-intercept model beside lmerTest/pbkrtest.

    python benchmarks/bench_mixed_df.py [--sizes 18x10 100x20] [--repeat 3] [--mmrm-n 300]

A cluster-randomised trial: sites (``CxS``: C sites of S participants) randomised 1:1, one
participant-level covariate, a site random intercept (ICC about 0.1). For each size,
``pt.trial.random_intercept(..., df_method=...)`` against R fitting ``lmerTest::lmer(y ~ arm + x +
(1 | site), REML = TRUE)`` and taking ``summary(fit)`` (Satterthwaite) or ``summary(fit, ddf =
"Kenward-Roger")`` (pbkrtest's adjusted covariance and KR df): fit plus df on both sides. The
first size is sleepstudy's (18 subjects x 10 days). Then ``pt.trial.mmrm`` (unstructured, ``--mmrm-n``
participants, 5 visits) with each df method, peertrial only: the R package mmrm is not installed
here (bench_mmrm.py times the fits against nlme::gls).

Prints the best-of-``repeat`` wall time, the ratio (R / peertrial: > 1 means peertrial is
faster), and the largest absolute and relative difference of the fixed effects' estimate, SE and
df. R is timed inside R with ``system.time`` (reading excluded); skipped without ``Rscript``.
Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from _timing import best_of, max_diff, print_table, run_r_on_frames
from bench_mmrm import simulate as simulate_mmrm

import peertrial as pt

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lmerTest); library(pbkrtest); library(jsonlite)})
args <- commandArgs(TRUE); rep <- as.integer(args[length(args)]); out <- list()
run <- function(d, ddf) coef(summary(lmer(y ~ arm + x + (1 | site), d, REML = TRUE), ddf = ddf))
invisible(lapply(c("Satterthwaite", "Kenward-Roger"), function(ddf) run(read.csv(args[1]), ddf)))  # warm-up
for (p in head(args, -1)) {
  d <- read.csv(p)
  for (ddf in c("Satterthwaite", "Kenward-Roger")) {
    t <- min(replicate(rep, system.time(s <<- run(d, ddf))[["elapsed"]]))
    out[[paste(basename(p), ddf)]] <- list(time = t, estimate = unname(s[, "Estimate"]),
                                            se = unname(s[, "Std. Error"]), df = unname(s[, "df"]))
  }
}
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""

METHODS = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}


def simulate(clusters: int, size: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    site = np.repeat(np.arange(clusters), size)
    arm = (rng.permutation(clusters) % 2)[site].astype(float)
    x = np.round(rng.normal(0, 1, clusters * size), 3)
    y = 10 + 0.5 * arm + 0.8 * x + rng.normal(0, 1 / 3, clusters)[site] + rng.normal(0, 1, clusters * size)
    return pd.DataFrame({"y": y, "arm": arm, "x": x, "site": site})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["18x10", "100x20"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mmrm-n", type=int, default=300)
    ap.add_argument("--r-timeout", type=float, default=3600)
    a = ap.parse_args(argv)
    data = {}
    for i, s in enumerate(a.sizes):
        c, k = map(int, s.lower().split("x"))
        data[f"s{c}x{k}.csv"] = simulate(c, k, i + 1)
    ours, fits = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dm in METHODS:  # warm-up: imports
            pt.trial.random_intercept(simulate(6, 5, 99), "y", "arm", "site", covariates=["x"], df_method=dm)
        for k, d in data.items():
            for dm in METHODS:
                ours[k, dm], fits[k, dm] = best_of(
                    lambda d=d, dm=dm: pt.trial.random_intercept(d, "y", "arm", "site", covariates=["x"],
                                                                 df_method=dm), a.repeat)
        long = simulate_mmrm(a.mmrm_n, 5)
        mm = {dm: best_of(lambda dm=dm: pt.trial.mmrm(long, outcome="y", id="id", visit="visit", arm="arm",
                                                       covariates=["y0"], covariance="us", df_method=dm),
                          a.repeat)[0] for dm in METHODS}
    r, why = run_r_on_frames(R_SCRIPT, data, [a.repeat], a.r_timeout)
    rows = []
    for (k, dm), t in ours.items():
        d = data[k]
        label = f"lmer (1|site) + {METHODS[dm]} df, {d['site'].nunique()} sites, n = {len(d):,}"
        rows.append((label, t, {"R": r[f"{k} {METHODS[dm]}"]["time"] if r else None}))
    rows += [(f"mmrm us + {METHODS[dm]} df, {a.mmrm_n} x 5 visits (no R peer)", t, {}) for dm, t in mm.items()]
    print_table(rows)
    print("mmrm rows: the R package mmrm is not installed here; peertrial time only")
    if r is None:
        print(f"R not timed: {why}")
        return
    for (k, dm), f in fits.items():
        rr, fr = r[f"{k} {METHODS[dm]}"], f.to_frame()
        print(f"{k[1:-4]} {METHODS[dm]} vs lmerTest: estimate {max_diff(fr['estimate'], rr['estimate'])}; "
              f"se {max_diff(fr['se'], rr['se'])}; df {max_diff(fr['df'], rr['df'])}")


if __name__ == "__main__":
    main()
