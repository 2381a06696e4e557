"""Benchmark: 10,000 within-arm bootstrap replicates of a 600-patient trial and a CEAC
over 500 willingness-to-pay values.

Compares ``peertrial.econ.cea`` (all replicates as one index matrix) with
(1) a plain per-replicate numpy loop using the *same* draws (results must be identical),
(2) the same loop for covariate-adjusted (SUR/OLS) increments,
(3) R's ``boot::boot(strata = arm)`` via ``Rscript`` when installed (CEAC by ``sapply``).
Prints times and ratios; asserts nothing about time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of

import peertrial as pt
from peertrial.econ.cea import draw_blocks

N, N_BOOT, N_WTP, SEED = 600, 10_000, 500, 1


def make_trial() -> pd.DataFrame:
    rng = np.random.default_rng(2024)
    arm = np.repeat([0, 1], N // 2)
    age = rng.normal(40, 12, N)
    cost = rng.gamma(1.2, (9000 + 600 * arm) / 1.2)
    qaly = 0.63 + 0.015 * arm - 0.000002 * (cost - 9000) + rng.normal(0, 0.13, N)
    return pd.DataFrame({"arm": arm, "cost": cost, "qaly": qaly, "age": age})



def loop_unadjusted(df):
    c, e = df["cost"].to_numpy(), df["qaly"].to_numpy()
    out = []
    for (m0, i0), (m1, i1) in _same_draws(df):
        for b in range(i0.shape[0]):  # one replicate at a time
            s0, s1 = m0[i0[b]], m1[i1[b]]
            out.append((c[s1].mean() - c[s0].mean(), e[s1].mean() - e[s0].mean()))
    return np.array(out)


def _same_draws(df):
    """The index matrices cea() draws for this seed (so results can be compared exactly)."""
    unit_arm = df["arm"].to_numpy(float)
    return draw_blocks(unit_arm, N_BOOT, np.random.default_rng(SEED), len(df))


def loop_ceac(dc, de, wtps):
    return np.array([np.mean(w * de - dc > 0) for w in wtps])


def loop_adjusted(df):
    X = np.column_stack([np.ones(N), df["arm"], df["age"]])
    Y = df[["cost", "qaly"]].to_numpy()
    out = []
    for (m0, i0), (m1, i1) in _same_draws(df):
        for b in range(i0.shape[0]):
            rows = np.concatenate([m0[i0[b]], m1[i1[b]]])
            out.append(np.linalg.lstsq(X[rows], Y[rows], rcond=None)[0][1])
    return np.array(out)


R_SCRIPT = r"""
library(boot)
d <- read.csv("{csv}")
stat <- function(d, i) {{
  s <- d[i, ]
  c(mean(s$cost[s$arm == 1]) - mean(s$cost[s$arm == 0]), mean(s$qaly[s$arm == 1]) - mean(s$qaly[s$arm == 0]))
}}
set.seed(1)
t0 <- proc.time()[["elapsed"]]
b <- boot(d, stat, R = {n_boot}, strata = d$arm)
w <- seq(0, 100000, length.out = {n_wtp})
ceac <- sapply(w, function(l) mean(l * b$t[, 2] - b$t[, 1] > 0))
cat(proc.time()[["elapsed"]] - t0, sd(b$t[, 1]), "\n")
"""


def run_r(df) -> tuple[float, float] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "trial.csv"
        df.to_csv(csv, index=False)
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT.format(csv=csv.as_posix(), n_boot=N_BOOT, n_wtp=N_WTP))
        res = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, timeout=900)
        if res.returncode != 0:
            print("Rscript failed:", res.stderr.strip()[:300])
            return None
        elapsed, sd = (float(x) for x in res.stdout.split())
        return elapsed, sd


def main() -> None:
    df = make_trial()
    wtps = np.linspace(0, 100000, N_WTP)
    print(f"econ benchmark: {N_BOOT} bootstrap replicates, {N} patients, CEAC over {N_WTP} WTP values")

    t_vec, ce = best_of(lambda: pt.econ.cea(df, effect="qaly", n_boot=N_BOOT, seed=SEED))
    t_vec_ceac, curve = best_of(lambda: ce.ceac(wtps))
    t_loop, reps = best_of(lambda: loop_unadjusted(df), repeat=1)
    t_loop_ceac, curve_loop = best_of(lambda: loop_ceac(ce.boot_delta_cost, ce.boot_delta_effect, wtps), repeat=1)
    assert np.allclose(reps[:, 0], ce.boot_delta_cost) and np.allclose(reps[:, 1], ce.boot_delta_effect)
    assert np.array_equal(curve["prob_cost_effective"].to_numpy(), curve_loop)
    total_vec, total_loop = t_vec + t_vec_ceac, t_loop + t_loop_ceac
    print(f"  unadjusted cea() incl. bootstrap     {t_vec:8.3f} s   per-replicate loop {t_loop:8.3f} s   ratio {t_loop / t_vec:6.1f}x")
    print(f"  CEAC, 500 WTP x {N_BOOT} replicates   {t_vec_ceac:8.3f} s   loop over WTP      {t_loop_ceac:8.3f} s   ratio {t_loop_ceac / t_vec_ceac:6.1f}x")
    print(f"  bootstrap + CEAC                     {total_vec:8.3f} s   loops              {total_loop:8.3f} s   ratio {total_loop / total_vec:6.1f}x")
    print("  (loop replicates identical to cea()'s: same index matrices)")

    t_adj, ce_adj = best_of(lambda: pt.econ.cea(df, effect="qaly", covariates=["age"], n_boot=N_BOOT, seed=SEED), repeat=1)
    t_adj_loop, reps_adj = best_of(lambda: loop_adjusted(df), repeat=1)
    assert np.allclose(reps_adj[:, 0], ce_adj.boot_delta_cost) and np.allclose(reps_adj[:, 1], ce_adj.boot_delta_effect)
    print(f"  adjusted (SUR) cea()                 {t_adj:8.3f} s   lstsq loop         {t_adj_loop:8.3f} s   ratio {t_adj_loop / t_adj:6.1f}x")

    r = run_r(df)
    if r is None:
        print("  R boot: Rscript not available")
    else:
        elapsed, sd = r
        print(
            f"  R boot::boot(strata=arm) + sapply CEAC {elapsed:6.3f} s   ratio vs peertrial {elapsed / total_vec:6.1f}x"
            f"   (bootstrap SE of dC: R {sd:.1f}, peertrial {ce.boot_delta_cost.std(ddof=1):.1f})"
        )


if __name__ == "__main__":
    main()
