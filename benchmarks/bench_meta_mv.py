"""Benchmark: rma_mv against metafor 3.8 rma.mv on the fixture models, and rma at large k.

    python benchmarks/bench_meta_mv.py [--repeat 3] [--large-k 100000] [--r-big 2000,5000]

1. Every model of ``tests/meta/fixtures/mv_cases.json`` (metadat datasets: three-level,
   multivariate UN/HCS, AR/HAR, network CS with fixed rho, crossed terms) fitted by
   ``pt.meta.rma_mv`` (best of ``--repeat``) and by ``metafor::rma.mv`` timed inside R
   (``system.time``, R start-up excluded); ratio metafor / peertrial (> 1: peertrial faster)
   and the log-likelihood difference as a check.
2. ``pt.meta.rma(method="REML")`` with a moderator at ``--large-k`` studies (O(k) memory),
   and metafor's ``rma`` at the ``--r-big`` sizes for scale (metafor forms k x k matrices).

Nothing is asserted; metafor runs through ``Rscript`` when installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

import peertrial as pt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "meta" / "fixtures" / "mv_cases.json"

R_SCRIPT = r"""
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
cases <- fromJSON(args[1], simplifyVector = TRUE)$cases
reps <- as.integer(args[2]); bigk <- as.integer(strsplit(args[3], ",")[[1]])
out <- list()
for (name in names(cases)) {
  cs <- cases[[name]]; d <- cs$data
  V <- d$V; X <- as.matrix(d$X); if (is.null(dim(X))) X <- matrix(X, ncol = 1)
  dat <- as.data.frame(d[setdiff(names(d), c("V", "X", "yi"))]); dat$yi <- d$yi
  sp <- cs$spec
  rnd <- if (is.null(sp$random)) NULL else if (length(sp$random) > 1) lapply(sp$random, as.formula) else as.formula(sp$random)
  st <- if (is.null(sp$struct)) "CS" else sp$struct
  extra <- list()
  for (nm in c("sigma2", "tau2", "rho")) if (!is.null(sp[[nm]])) extra[[nm]] <- sapply(sp[[nm]], function(x) if (is.null(x)) NA else x)
  f <- function() do.call(rma.mv, c(list(yi = dat$yi, V = V, mods = X, intercept = FALSE, random = rnd, struct = st,
                                          method = sp$method, data = dat), extra))
  fit <- f()
  t <- system.time(for (i in seq_len(reps)) f())[["elapsed"]] / reps
  out[[name]] <- list(time = t, ll = c(logLik(fit)))
}
big <- list()
for (k in bigk) {
  set.seed(1); vi <- runif(k, 0.01, 0.2); x <- rnorm(k); yi <- 0.2 + 0.1 * x + rnorm(k, 0, sqrt(vi + 0.05))
  big[[as.character(k)]] <- system.time(rma(yi, vi, mods = ~ x))[["elapsed"]]
}
cat(toJSON(list(mv = out, big = big), auto_unbox = TRUE, digits = NA))
"""


def fit_case(case):
    import pandas as pd

    d = {k: v for k, v in case["data"].items() if k not in ("V", "X", "yi")}
    frame = pd.DataFrame(d)
    frame["yi"] = case["data"]["yi"]
    sp = case["spec"]
    kw = {n: sp[n] for n in ("sigma2", "tau2", "rho") if sp.get(n) is not None}
    X = np.asarray(case["data"]["X"], dtype=float)
    return pt.meta.rma_mv("yi", np.asarray(case["data"]["V"], dtype=float), data=frame, random=sp.get("random"),
                          mods=X if X.ndim == 2 else X[:, None], intercept=False, method=sp["method"],
                          struct=sp.get("struct", "CS"), **kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--large-k", type=int, default=100_000)
    ap.add_argument("--r-big", default="2000", help="comma-separated k for metafor's rma at scale")
    args = ap.parse_args(argv)
    cases = json.loads(FIXTURES.read_text())["cases"]
    ours = {}
    for name, case in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, fit = best_of(lambda c=case: fit_case(c), args.repeat)
        ours[name] = (t, fit.loglik)
    rng = np.random.default_rng(1)
    k = args.large_k
    vi = rng.uniform(0.01, 0.2, k)
    x = rng.normal(size=k)
    yi = 0.2 + 0.1 * x + rng.normal(0, np.sqrt(vi + 0.05))
    t_big, fit_big = best_of(lambda: pt.meta.rma(yi, vi, mods=x[:, None]), 1)
    print(f"rma(REML) with one moderator, k = {k}: {t_big:.2f} s (tau2 = {fit_big.tau2:.4f})")
    r = None
    if shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "bench.R"
            script.write_text(R_SCRIPT)
            proc = subprocess.run(["Rscript", str(script), str(FIXTURES), str(args.repeat), args.r_big],
                                  capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                r = json.loads(proc.stdout.strip().splitlines()[-1])
            else:
                print("Rscript failed:\n" + proc.stderr[-2000:])
    if r is not None:
        for kk, t in (r["big"] if isinstance(r["big"], dict) else {}).items():  # [] when --r-big is empty
            print(f"metafor rma with one moderator, k = {kk}: {t:.2f} s")
    print(f"\n{'model':34s} {'peertrial ms':>12s} {'metafor ms':>11s} {'ratio':>6s} {'dlogLik':>9s}")
    ratios = []
    for name, (t, ll) in ours.items():
        if r is None:
            print(f"{name:34s} {1e3 * t:12.1f}")
            continue
        rt = r["mv"][name]["time"]
        ratios.append(rt / t)
        print(f"{name:34s} {1e3 * t:12.1f} {1e3 * rt:11.1f} {rt / t:6.2f} {ll - r['mv'][name]['ll']:9.1e}")
    if ratios:
        print(f"\nratio metafor / peertrial: median {np.median(ratios):.2f}, min {min(ratios):.2f}, "
              f"max {max(ratios):.2f} (> 1: peertrial faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
