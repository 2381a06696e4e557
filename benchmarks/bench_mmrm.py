"""Time ``peertrial.trial.mmrm`` (each covariance structure, Satterthwaite df) beside ``nlme::gls``.

    python benchmarks/bench_mmrm.py [--n 300] [--visits 5] [--repeat 3]

A simulated trial of ``--n`` participants and ``--visits`` visits with monotone dropout, in long
format, fitted with ``covariance="us" | "cs" | "ar1" | "toeph"`` against ``gls`` with
``corSymm + varIdent``, ``corCompSymm``, ``corAR1`` and ``corARMA(p = T - 1) + varIdent`` (gls
reports no Satterthwaite df, so peertrial does more work). Prints the best-of-``repeat`` wall time
and the ratio (gls / peertrial: > 1 means peertrial is faster), and the largest difference in the
REML log-likelihood. R is timed inside R with ``system.time``; skipped without ``Rscript``.
Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of, run_rscript

import peertrial as pt

STRUCTS = {"us": "corSymm(form = ~ v | id), weights = varIdent(form = ~ 1 | visit)",
           "cs": "corCompSymm(form = ~ 1 | id)",
           "ar1": "corAR1(form = ~ v | id)",
           "toeph": "corARMA(form = ~ v | id, p = T - 1, q = 0), weights = varIdent(form = ~ 1 | visit)"}

R_SCRIPT = r"""
suppressPackageStartupMessages({library(nlme); library(jsonlite)})
args <- commandArgs(TRUE); rep <- as.integer(args[2]); d <- read.csv(args[1])
d$visit <- factor(d$visit); d$v <- as.integer(d$visit); T <- nlevels(d$visit); out <- list()
bt <- function(expr) { e <- substitute(expr); env <- parent.frame()
  min(replicate(rep, system.time(eval(e, env))[["elapsed"]])) }
fits <- list(
  us = function() gls(y ~ visit * arm + y0, data = d, correlation = corSymm(form = ~ v | id),
                      weights = varIdent(form = ~ 1 | visit), method = "REML"),
  cs = function() gls(y ~ visit * arm + y0, data = d, correlation = corCompSymm(form = ~ 1 | id), method = "REML"),
  ar1 = function() gls(y ~ visit * arm + y0, data = d, correlation = corAR1(form = ~ v | id), method = "REML"),
  toeph = function() gls(y ~ visit * arm + y0, data = d, correlation = corARMA(form = ~ v | id, p = T - 1, q = 0),
                         weights = varIdent(form = ~ 1 | visit), method = "REML"))
for (s in names(fits)) { f <- fits[[s]]; out[[s]] <- bt(f()); out[[paste0(s, "_ll")]] <- as.numeric(logLik(f())) }
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def simulate(n: int, T: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    y0 = rng.normal(50, 8, n)
    sd = np.linspace(6, 9, T)
    R = 0.6 ** np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    Y = rng.multivariate_normal(np.zeros(T), np.outer(sd, sd) * R, size=n) + 0.5 * y0[:, None] + \
        np.outer(arm, np.arange(1, T + 1))
    last = np.minimum(T, 1 + rng.geometric(0.15, n))
    rows = [(f"P{i:04d}", t, Y[i, t], arm[i], y0[i]) for i in range(n) for t in range(last[i])]
    return pd.DataFrame(rows, columns=["id", "visit", "y", "arm", "y0"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--visits", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    d = simulate(a.n, a.visits)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.csv"
        d.to_csv(path, index=False)
        r, why = run_rscript(R_SCRIPT, [path, a.repeat], timeout=3600)
    print(f"MMRM, {a.n} participants, {a.visits} visits, {len(d)} observations (long input)")
    with warnings.catch_warnings():  # warm-up: the first call imports scipy and formulaic
        warnings.simplefilter("ignore")
        pt.trial.mmrm(d, outcome="y", id="id", visit="visit", arm="arm", covariance="cs")
    for s in STRUCTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, fit = best_of(lambda s=s: pt.trial.mmrm(d, outcome="y", id="id", visit="visit", arm="arm",
                                                        covariates=["y0"], covariance=s), a.repeat)
        line = f"  {s:6s} peertrial {t:7.3f} s"
        if r is not None:
            line += f"   gls {r[s]:7.3f} s   ratio {r[s] / t:6.1f}   loglik peertrial - gls {fit.loglik - r[s + '_ll']:+.1e}"
        print(line)
    if r is None:
        print(f"  (R skipped: {why})")


if __name__ == "__main__":
    main()
