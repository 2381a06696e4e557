"""Time peertrial.trial beside R (lm + AER::ivreg + sandwich, lme4) and statsmodels.

    python benchmarks/bench_trial.py [--n 100000] [--n-mixed 20000] [--reps 500] [--repeat 3]

1. ``estimate_effects`` on one trial of ``--n`` participants (ITT, as-treated, per-protocol,
   CACE; 3 covariates; cluster-robust SEs by site) against R fitting the same four models
   with ``lm``/``ivreg`` and ``vcovCL``, and against statsmodels OLS (cluster SEs; its IV is in
   the sandbox, so 2SLS is left out on that side).
2. A simulation study: ``--reps`` trials of 300, ITT + CACE each, fitted as one batch by the
   core (``peertrial.trial._linear``) against a loop of statsmodels OLS fits.
3. The partially nested model (random peer-worker effect in the intervention arm) on
   ``--n-mixed`` participants against ``lme4::lmer``.

Prints the best-of-``repeat`` wall time and the ratio (peer / peertrial: > 1 means peertrial
is faster). R is timed inside R with ``system.time`` (reading excluded); skipped without
``Rscript``. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of

import peertrial as pt
from peertrial.trial._linear import ols, tsls


def simulate(n: int, seed: int, n_workers: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    u = rng.normal(size=n)
    received = (arm == 1) & (rng.random(n) < 1 / (1 + np.exp(-(0.5 + u))))
    worker = np.where(arm == 1, rng.integers(1, n_workers + 1, n), 0)
    w_eff = rng.normal(0, 1.0, n_workers + 1)
    y0 = rng.normal(30, 5, n)
    y = 5 + 0.5 * y0 + 2 * received + 2 * u + np.where(arm == 1, w_eff[worker], 0) + rng.normal(0, 4, n)
    return pd.DataFrame({"arm": arm, "received": received.astype(int), "y": y, "y0": y0,
                         "age": rng.normal(40, 12, n).round(), "site": rng.integers(1, 8, n),
                         "pw": np.where(arm == 1, "W" + worker.astype(str), "control")})



R_SCRIPT = r"""
suppressPackageStartupMessages({library(AER); library(sandwich); library(lme4); library(jsonlite)})
args <- commandArgs(TRUE); rep <- as.integer(args[3]); out <- list()
bt <- function(expr) { e <- substitute(expr); min(replicate(rep, system.time(eval(e, parent.frame()))[["elapsed"]])) }
d <- read.csv(args[1])
four <- function(d) {
  f <- lm(y ~ arm + y0 + age + factor(site), d); v1 <- vcovCL(f, cluster = d$site)
  g <- lm(y ~ received + y0 + age + factor(site), d); v2 <- vcovCL(g, cluster = d$site)
  pp <- d[d$received == d$arm, ]; h <- lm(y ~ arm + y0 + age + factor(site), pp); v3 <- vcovCL(h, cluster = pp$site)
  iv <- ivreg(y ~ received + y0 + age + factor(site) | arm + y0 + age + factor(site), data = d)
  v4 <- vcovCL(iv, cluster = d$site)
  c(coef(iv)["received"], sqrt(v4["received", "received"]))
}
out$effects <- bt(four(d)); out$cace <- unname(four(d))
d <- read.csv(args[2])
out$pn <- bt(lmer(y ~ arm + (0 + arm | pw), d, REML = TRUE))
out$pn_coef <- unname(fixef(lmer(y ~ arm + (0 + arm | pw), d, REML = TRUE)))
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def run_r(paths, repeat: int):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT)
        proc = subprocess.run(["Rscript", str(script), *map(str, paths), str(repeat)], capture_output=True,
                              text=True, timeout=3600)
    if proc.returncode != 0:
        print("R failed:", proc.stderr[-500:])
        return None
    return json.loads(proc.stdout)


def report(name: str, ours: float, peers: dict) -> None:
    print(f"{name}: peertrial {ours:.3f} s")
    for peer, t in peers.items():
        if t is not None:
            print(f"    {peer}: {t:.3f} s  (ratio {t / ours:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--n-mixed", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import statsmodels.api as sm

    warnings.simplefilter("ignore")
    big = simulate(args.n, 1)
    mixed = simulate(args.n_mixed, 2)
    cov = ["y0", "age", "site"]
    t_eff = best_of(lambda: pt.trial.estimate_effects(big, "y", covariates=cov, factors=["site"], cluster="site", received="received"),
                 args.repeat)[0]
    ours = pt.trial.estimate_effects(big, "y", covariates=cov, factors=["site"], cluster="site", received="received")

    def sm_three():
        X = pd.get_dummies(big[["arm", "y0", "age", "site"]].astype({"site": "category"}), drop_first=True,
                           dtype=float)
        sm.OLS(big["y"], sm.add_constant(X)).fit(cov_type="cluster", cov_kwds={"groups": big["site"]})
        Xr = X.rename(columns={"arm": "received"}).assign(received=big["received"].astype(float))
        sm.OLS(big["y"], sm.add_constant(Xr)).fit(cov_type="cluster", cov_kwds={"groups": big["site"]})
        keep = big["received"] == big["arm"]
        sm.OLS(big["y"][keep], sm.add_constant(X[keep])).fit(cov_type="cluster",
                                                              cov_kwds={"groups": big["site"][keep]})

    t_sm = best_of(sm_three, args.repeat)[0]

    # simulation study: batch core vs a loop of statsmodels fits
    rng = np.random.default_rng(3)
    B, n = args.reps, 300
    arm = rng.integers(0, 2, (B, n)).astype(float)
    u = rng.normal(size=(B, n))
    rec = arm * (rng.random((B, n)) < 1 / (1 + np.exp(-u)))
    y = 2 * rec + 2 * u + rng.normal(size=(B, n))
    one = np.ones_like(arm)
    Xa, Xr = np.stack([one, arm], -1), np.stack([one, rec], -1)
    t_batch = best_of(lambda: (ols(Xa, y, "HC1"), tsls(Xr, Xa, y, "HC1")), args.repeat)[0]
    t_loop = best_of(lambda: [sm.OLS(y[b], Xa[b]).fit(cov_type="HC1") for b in range(B)], args.repeat)[0]

    t_pn = best_of(lambda: pt.trial.partially_nested(mixed.assign(pw=mixed["pw"].where(mixed["arm"] == 1)), "y",
                                                  cluster="pw"),
                args.repeat)[0]
    with tempfile.TemporaryDirectory() as tmp:
        p1, p2 = Path(tmp) / "big.csv", Path(tmp) / "mixed.csv"
        big.to_csv(p1, index=False)
        mixed.to_csv(p2, index=False)
        r = run_r([p1, p2], args.repeat)
    report(f"estimate_effects, n = {args.n} (4 models, cluster SEs)", t_eff,
           {"R lm + ivreg + vcovCL": r and r["effects"], "statsmodels OLS (3 models, no IV)": t_sm})
    if r:
        print(f"    CACE agreement with R: estimate {ours.loc['cace', 'estimate']:.10g} vs {r['cace'][0]:.10g}, "
              f"se {ours.loc['cace', 'se']:.10g} vs {r['cace'][1]:.10g}")
    report(f"simulation study, {B} trials of {n} (ITT OLS + CACE 2SLS, HC1)", t_batch,
           {"statsmodels OLS loop (ITT only)": t_loop})
    report(f"partially nested model, n = {args.n_mixed}", t_pn, {"R lme4::lmer": r and r["pn"]})


if __name__ == "__main__":
    main()
