"""Benchmark: power by simulation — 10,000 trials of 590, each analysed by logistic and Cox.

    python benchmarks/bench_simulate.py                 # full run (10,000 trials)
    python benchmarks/bench_simulate.py --trials 2000   # quicker
    python benchmarks/bench_simulate.py --naive 100     # trials in the timed naive subset

Prints
1. peertrial.simulate.power (simulation + batched logistic and Cox fits) on 1 and 2
   local worker processes (the scaling with workers);
2. the naive loop — one statsmodels ``Logit`` and one lifelines ``CoxPHFitter``
   fit per trial — timed on a subset of the same simulated trials and
   extrapolated linearly to all of them (stated in the output), and the
   largest difference between its estimates and the batched ones;
3. R (``glm`` + ``coxph`` in a loop over the same subset) when ``Rscript`` is
   installed, extrapolated the same way.
Never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import peertrial.simulate as sim

N = 590
SEED = 2024


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (load-independent work)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _vectorised(n_trials: int, workers: int) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), _cpu()
    sim.power(N, n_trials, analyses=("logistic", "cox"), seed=SEED, workers=workers, progress=False)
    return time.perf_counter() - t0, _cpu() - c0


def _subset(n_sub: int) -> dict:
    return sim.simulate_batch(N, n_sub, seed=SEED + 1)


def _naive(data: dict) -> tuple[float, float, np.ndarray]:
    import statsmodels.api as sm
    from lifelines import CoxPHFitter

    n_sub = data["arm"].shape[0]
    est = np.empty((n_sub, 2))
    t0, c0 = time.perf_counter(), _cpu()
    for b in range(n_sub):
        arm = data["arm"][b].astype(float)
        logit = sm.Logit(data["readmitted_12m"][b], sm.add_constant(arm)).fit(disp=0)
        frame = pd.DataFrame({"t": data["readmit_time"][b], "e": (data["readmit_status"][b] == 1).astype(int), "arm": arm})
        cox = CoxPHFitter().fit(frame, "t", "e")
        est[b] = logit.params[1], cox.params_["arm"]
    return time.perf_counter() - t0, _cpu() - c0, est


def _batched_estimates(data: dict) -> np.ndarray:
    out = sim.analyse_batch(data, ("logistic", "cox"))
    return np.column_stack([out["logistic"][0], out["cox"][0]])


_R_LOOP = r"""
suppressMessages(library(survival))
d <- read.csv(commandArgs(TRUE)[1])
t0 <- proc.time()[["elapsed"]]
for (b in unique(d$trial)) {
  s <- d[d$trial == b, ]
  g <- glm(readmitted ~ arm, family = binomial, data = s)
  cx <- coxph(Surv(time, event) ~ arm, data = s)
}
cat(proc.time()[["elapsed"]] - t0, "\n")
"""


def _r_loop(data: dict) -> float | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    n_sub, n = data["arm"].shape
    frame = pd.DataFrame({
        "trial": np.repeat(np.arange(n_sub), n),
        "arm": data["arm"].ravel(),
        "readmitted": data["readmitted_12m"].ravel().astype(int),
        "time": data["readmit_time"].ravel(),
        "event": (data["readmit_status"].ravel() == 1).astype(int),
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "loop.R"
        frame.to_csv(csv, index=False)
        script.write_text(_R_LOOP)
        out = subprocess.run([rscript, str(script), str(csv)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--naive", type=int, default=200, help="trials in the timed naive subset")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"power by simulation: {args.trials} trials of n = {N}, logistic + Cox; {os.cpu_count()} cores")

    print(f"  load average before: {os.getloadavg()[0]:.2f} (wall times suffer when other jobs share the cores;"
          " CPU times do not)")  # fmt: skip
    _vectorised(500, 1)  # warm-up (imports, calibration cache)
    t1, c1 = _vectorised(args.trials, 1)
    t2, c2 = _vectorised(args.trials, 2)
    print(f"  peertrial, 1 worker  : {t1:8.2f} s wall, {c1:8.2f} s CPU ({1e3 * c1 / args.trials:.2f} ms CPU/trial)")
    print(f"  peertrial, 2 workers : {t2:8.2f} s wall, {c2:8.2f} s CPU (wall speed-up {t1 / t2:.2f}x)")

    data = _subset(args.naive)
    t_naive, c_naive, est_naive = _naive(data)
    est_batch = _batched_estimates(data)
    per_trial = t_naive / args.naive
    extrapolated = per_trial * args.trials
    cpu_extrapolated = c_naive / args.naive * args.trials
    diff = np.abs(est_naive - est_batch).max(axis=0)
    print(f"  naive loop (statsmodels Logit + lifelines CoxPHFitter), timed on {args.naive} trials "
          f"({1e3 * per_trial:.1f} ms/trial), extrapolated to {args.trials}: {extrapolated:8.1f} s wall, "
          f"{cpu_extrapolated:8.1f} s CPU")  # fmt: skip
    print(f"    (fits only, one process; simulation not included) max |estimate difference| vs batched: "
          f"logistic {diff[0]:.1e}, Cox {diff[1]:.1e} (lifelines' convergence tolerance)")  # fmt: skip
    print(f"  ratio naive / peertrial: {extrapolated / t2:8.1f}x wall (2 workers), "
          f"{cpu_extrapolated / c1:8.1f}x CPU (1 worker)")  # fmt: skip

    t_r = _r_loop(data)
    if t_r is None:
        print("  R: Rscript not found, skipped")
    else:
        r_ext = t_r / args.naive * args.trials
        print(f"  R loop (glm + coxph), timed on {args.naive} trials, extrapolated to {args.trials}: {r_ext:8.1f} s"
              f"  (ratio R / peertrial 2 workers: {r_ext / t2:.1f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
