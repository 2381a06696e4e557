"""Benchmark: leave1out / influence / cumul on one meta-analysis of k = 200 studies,
peertrial (all deleted fits in one batch-core call) against metafor 3.8 (k refits).

    python benchmarks/bench_meta_diagnostics.py [--k 200] [--repeats 3]

Prints seconds per call for each side and the ratio (metafor time / peertrial time),
plus the largest absolute difference between the two results as a sanity check.
Metafor is run through ``Rscript`` when it is installed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of

import peertrial as pt

R_SCRIPT = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); reps <- as.integer(args[2])
res <- rma(yi, vi, data = d)
best <- function(f) min(replicate(reps, system.time(f())[["elapsed"]]))
t_l1o <- best(function() leave1out(res)); t_inf <- best(function() influence(res)); t_cum <- best(function() cumul(res))
l1o <- leave1out(res); inf <- influence(res)
cat(toJSON(list(leave1out = t_l1o, influence = t_inf, cumul = t_cum, l1o_estimate = l1o$estimate,
                rstudent = inf$inf$rstudent, cook_d = inf$inf$cook.d), digits = NA, auto_unbox = TRUE))
"""



def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--r-repeats", type=int, default=1)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(2026)
    vi = rng.uniform(0.01, 0.2, args.k)
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    fit = pt.meta.rma(yi, vi, method="REML")
    ours = {}
    ours["leave1out"], l1o = best_of(lambda: pt.meta.leave1out(fit), args.repeats)
    ours["influence"], inf = best_of(lambda: pt.meta.influence(fit), args.repeats)
    ours["cumul"], _ = best_of(lambda: pt.meta.cumul(fit), args.repeats)
    print(f"meta diagnostics, one REML meta-analysis with k = {args.k}")
    rscript = shutil.which("Rscript")
    ref = None
    if rscript:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "d.csv"
            pd.DataFrame({"yi": yi, "vi": vi}).to_csv(csv, index=False, float_format="%.17g")
            script = Path(tmp) / "bench.R"
            script.write_text(R_SCRIPT)
            proc = subprocess.run([rscript, str(script), str(csv), str(args.r_repeats)], capture_output=True,
                                  text=True, check=False)
            if proc.returncode == 0:
                ref = json.loads(proc.stdout)
            else:
                print("metafor run failed:", proc.stderr.strip()[:300])
    print(f"{'function':<10} {'peertrial s':>12} {'metafor s':>10} {'ratio':>8}")
    for name, t in ours.items():
        if ref:
            print(f"{name:<10} {t:12.3f} {ref[name]:10.3f} {ref[name] / t:7.1f}x")
        else:
            print(f"{name:<10} {t:12.3f} {'n/a':>10} {'n/a':>8}")
    if ref:
        diffs = {
            "leave1out estimate": np.max(np.abs(l1o["estimate"].to_numpy() - ref["l1o_estimate"])),
            "influence rstudent": np.max(np.abs(inf["rstudent"].to_numpy() - ref["rstudent"])),
            "influence cook_d": np.max(np.abs(inf["cook_d"].to_numpy() - ref["cook_d"])),
        }
        print("max |peertrial - metafor|: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    else:
        print("Rscript with metafor not found: peertrial times only")


if __name__ == "__main__":
    main()
