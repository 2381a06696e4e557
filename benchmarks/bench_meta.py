"""Benchmark: REML random-effects fits, peertrial against metafor 3.8.

    python benchmarks/bench_meta.py [--k 10] [--fits 500] [--batch 10000] [--r-loop 2000]

1. One ``rma(method="REML")`` fit on k = 10 studies, timed over ``--fits`` repeats on
   each side (metafor timed inside R with ``system.time``, so R's start-up is excluded).
2. ``rma_batch`` on ``--batch`` meta-analyses of k = 10 against metafor looping ``rma``
   over the same analyses (R loops over the first ``--r-loop`` of them; its time for
   all is extrapolated linearly and labelled so).

Prints milliseconds per fit for each side, the ratio (metafor / peertrial; > 1 means
peertrial is faster) and the largest difference between the two sides' estimates as
a sanity check. Metafor runs through ``Rscript`` when installed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import peertrial as pt

R_SCRIPT = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
one <- read.csv(args[1]); n_fits <- as.integer(args[2])
many <- as.matrix(read.csv(args[3], header = FALSE)); vmany <- as.matrix(read.csv(args[4], header = FALSE))
fit <- rma(yi, vi, data = one)
t_one <- system.time(for (i in seq_len(n_fits)) rma(one$yi, one$vi, method = "REML"))[["elapsed"]]
n <- nrow(many); b <- numeric(n); tau2 <- numeric(n)
t_loop <- system.time(for (i in seq_len(n)) {
  f <- tryCatch(rma(many[i, ], vmany[i, ], method = "REML"), error = function(e) NULL)
  if (is.null(f)) { b[i] <- NA; tau2[i] <- NA } else { b[i] <- f$beta; tau2[i] <- f$tau2 }
})[["elapsed"]]
cat(toJSON(list(one = t_one / n_fits, loop = t_loop / n, n_loop = n, b_one = c(fit$beta), tau2_one = fit$tau2,
                b = b, tau2 = tau2), digits = NA, auto_unbox = TRUE, na = "null"))
"""


def timed(f, n):
    f()
    t = time.perf_counter()
    for _ in range(n):
        out = f()
    return (time.perf_counter() - t) / n, out


def run_r(one, many_y, many_v, n_fits):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "bench.R").write_text(R_SCRIPT)
        one.to_csv(tmp / "one.csv", index=False)
        np.savetxt(tmp / "y.csv", many_y, delimiter=",", fmt="%.17g")
        np.savetxt(tmp / "v.csv", many_v, delimiter=",", fmt="%.17g")
        proc = subprocess.run(
            ["Rscript", str(tmp / "bench.R"), str(tmp / "one.csv"), str(n_fits), str(tmp / "y.csv"),
             str(tmp / "v.csv")],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            print("Rscript failed:\n" + proc.stderr[-2000:])
            return None
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--fits", type=int, default=500)
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--r-loop", type=int, default=2000)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(2026)
    vi = rng.uniform(0.01, 0.1, args.k)
    yi = rng.normal(0.3, np.sqrt(vi + 0.04))
    one = pd.DataFrame({"yi": yi, "vi": vi})
    V = rng.uniform(0.01, 0.1, (args.batch, args.k))
    Y = rng.normal(0.3, np.sqrt(V + rng.choice([0.0, 0.02, 0.1], (args.batch, 1))))

    t_arr, fit = timed(lambda: pt.meta.rma(yi, vi, method="REML"), args.fits)
    t_df, _ = timed(lambda: pt.meta.rma("yi", "vi", data=one, method="REML"), args.fits)
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # a few fits need the bracketed fallback (metafor errors); counted below
        warnings.simplefilter("ignore", pt.ConvergenceWarning)
        batch = pt.meta.rma_batch(Y, V, method="REML")
    t_batch = time.perf_counter() - t0

    print(f"single REML fit, k = {args.k} ({args.fits} repeats)")
    print(f"  peertrial rma (arrays)     {1e3 * t_arr:8.3f} ms/fit")
    print(f"  peertrial rma (DataFrame)  {1e3 * t_df:8.3f} ms/fit")
    print(f"rma_batch: {args.batch} meta-analyses of k = {args.k}")
    print(f"  peertrial rma_batch        {t_batch:8.3f} s total, {1e3 * t_batch / args.batch:8.4f} ms/fit")

    if shutil.which("Rscript") is None:
        print("metafor: Rscript not available; no ratios")
        return 0
    r = run_r(one, Y[: args.r_loop], V[: args.r_loop], args.fits)
    if r is None:
        return 1
    r_all = r["loop"] * args.batch
    print(f"  metafor rma                {1e3 * r['one']:8.3f} ms/fit")
    print(f"  ratio single fit (metafor / peertrial, arrays):    {r['one'] / t_arr:6.2f}")
    print(f"  ratio single fit (metafor / peertrial, DataFrame): {r['one'] / t_df:6.2f}")
    print(f"  metafor looping rma        {1e3 * r['loop']:8.3f} ms/fit over {r['n_loop']} fits; "
          f"{r_all:8.1f} s for {args.batch} (extrapolated)")
    print(f"  ratio batch (metafor loop / rma_batch):            {r_all / t_batch:6.1f}")
    n = r["n_loop"]
    rb = np.array([np.nan if x is None else x for x in r["b"]])
    rt = np.array([np.nan if x is None else x for x in r["tau2"]])
    ok = ~np.isnan(rb)
    fallback = np.char.startswith(batch.reason[:n].astype(str), "Fisher scoring did not converge")
    print(f"  check: |b - b_metafor| max = {np.max(np.abs(batch.b[:n][ok] - rb[ok])):.2e}, "
          f"|tau2 - tau2_metafor| max = {np.max(np.abs(batch.tau2[:n][ok] - rt[ok])):.2e}, "
          f"single fit |b| diff = {abs(fit.b - r['b_one']):.2e}")
    print(f"  Fisher scoring fails (100 iterations): metafor errors on {int((~ok).sum())} of {n}; peertrial "
          f"reached the maximum by its bracketed fallback on {int(fallback.sum())} of {n} "
          f"(same analyses: {np.array_equal(~ok, fallback)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
