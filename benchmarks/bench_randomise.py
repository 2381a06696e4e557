"""Benchmark: randomisation schedules, design simulation and the allocation ledger.

1. The ENRICH schedule (7 sites x 3 diagnostic groups, 600 slots per stratum,
   permuted blocks of random size 2/4/6): ``permuted_blocks`` against the same
   algorithm in base R (``sample`` per block, loop over strata) via ``Rscript``.
2. Design simulation, 1,000 trials of 590 participants with stratified blocks:
   ``simulate_design`` (replicates along a leading axis) against a per-trial
   loop calling ``permuted_blocks`` and against base R doing the same per trial.
3. Minimisation over 200 trials of 590: vectorised against the sequential
   ``Minimiser`` one trial at a time.
4. Ledger throughput: allocations per second from one process and from four.

Prints times and ratios; asserts nothing about time.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import best_of

import peertrial as pt

STRATA = {"site": list(range(1, 8)), "diagnosis": ["psychotic", "personality", "other"]}
N_TRIAL, REPS = 590, 1000

R_SCHEDULE = r"""
blocks <- function(n, sizes) {
  arm <- integer(0)
  while (length(arm) < n) {
    b <- if (length(sizes) == 1) sizes else sample(sizes, 1)
    arm <- c(arm, sample(rep(0:1, b / 2)))
  }
  arm[seq_len(n)]
}
set.seed(2017)
t0 <- proc.time()[["elapsed"]]
sched <- lapply(1:21, function(s) blocks(600, c(2, 4, 6)))
t_sched <- proc.time()[["elapsed"]] - t0
t0 <- proc.time()[["elapsed"]]
imb <- numeric(@REPS@)
for (r in seq_len(@REPS@)) {
  stratum <- sample.int(21, @N@, replace = TRUE)
  arm <- integer(@N@)
  for (s in unique(stratum)) {
    idx <- which(stratum == s)
    arm[idx] <- blocks(length(idx), c(2, 4, 6))
  }
  imb[r] <- abs(sum(arm) - sum(1 - arm))
}
t_sim <- proc.time()[["elapsed"]] - t0
cat(t_sched, t_sim, mean(imb), "\n")
"""



def loop_simulation(reps: int, seed: int = 1) -> np.ndarray:
    """Per-trial loop: draw strata, make a schedule, take slots in order."""
    rng = np.random.default_rng(seed)
    imbalance = np.empty(reps)
    for r in range(reps):
        site = rng.integers(1, 8, N_TRIAL)
        dx = rng.choice(STRATA["diagnosis"], N_TRIAL)
        sched = pt.randomise.permuted_blocks(N_TRIAL, arms=[0, 1], strata=STRATA, seed=int(rng.integers(2**31)))
        table = {(s, d): a.to_numpy() for (s, d), a in sched.groupby(["site", "diagnosis"])["arm"]}
        used: dict = {}
        total = 0
        for s, d in zip(site, dx):
            k = used.get((s, d), 0)
            total += table[(s, d)][k]
            used[(s, d)] = k + 1
        imbalance[r] = abs(2 * total - N_TRIAL)
    return imbalance


def loop_minimisation(reps: int, seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    for _ in range(reps):
        m = pt.randomise.Minimiser(STRATA, arms=[0, 1], p=0.8, seed=rng)
        for s, d in zip(rng.integers(1, 8, N_TRIAL), rng.choice(STRATA["diagnosis"], N_TRIAL)):
            m.assign(site=int(s), diagnosis=d)
    return 0.0


def _allocate_many(path, ids):
    with pt.randomise.Ledger(path) as led:
        for i in ids:
            led.allocate(i, site=1 + int(i[1:]) % 7, diagnosis=STRATA["diagnosis"][int(i[1:]) % 3])


def ledger_throughput(n: int, processes: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        sched = pt.randomise.permuted_blocks(100, arms=["control", "peer"], strata=STRATA, seed=1)
        pt.randomise.Ledger.create(path, sched).close()
        ids = [f"P{i:05d}" for i in range(n)]
        t0 = time.perf_counter()
        if processes == 1:
            _allocate_many(path, ids)
        else:
            ctx = mp.get_context("fork")
            procs = [ctx.Process(target=_allocate_many, args=(path, ids[k::processes])) for k in range(processes)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
        elapsed = time.perf_counter() - t0
        with pt.randomise.Ledger(path) as led:
            assert len(led.audit()) == n and led.verify()
    return n / elapsed


def run_r():
    if shutil.which("Rscript") is None:
        return None
    script = R_SCHEDULE.replace("@REPS@", str(REPS)).replace("@N@", str(N_TRIAL))
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        out = subprocess.run(["Rscript", fh.name], capture_output=True, text=True, check=True, timeout=600)
        t_sched, t_sim, mean_imb = map(float, out.stdout.split())
        return t_sched, t_sim, mean_imb
    finally:
        Path(fh.name).unlink()


def main() -> None:
    print("1. ENRICH schedule: 21 strata x 600 slots, blocks 2/4/6")
    t_sched, _ = best_of(lambda: pt.randomise.permuted_blocks(600, arms=[0, 1], strata=STRATA, seed=2017))
    print(f"   peertrial permuted_blocks      {t_sched * 1e3:9.1f} ms")
    r = run_r()
    if r:
        print(f"   base R (sample per block)      {r[0] * 1e3:9.1f} ms   ratio R / peertrial = {r[0] / t_sched:.2f}")
    else:
        print("   Rscript not found: R comparison skipped")

    print(f"2. Design simulation: {REPS} trials of {N_TRIAL}, stratified blocks")
    t_vec, sim = best_of(lambda: pt.randomise.simulate_design(N_TRIAL, strata=STRATA, reps=REPS, seed=1,
                                                            progress=False), repeat=2)
    loop_reps = 50
    t_loop, imb = best_of(lambda: loop_simulation(loop_reps), repeat=1)
    t_loop_full = t_loop * REPS / loop_reps
    print(f"   simulate_design (vectorised)   {t_vec:9.2f} s    mean |imbalance| {sim.imbalance.mean():.2f}")
    print(f"   per-trial Python loop          {t_loop_full:9.2f} s    (timed on {loop_reps} trials and scaled; "
          f"mean |imbalance| {imb.mean():.2f})   ratio loop / vectorised = {t_loop_full / t_vec:.1f}")
    if r:
        print(f"   base R per-trial loop          {r[1]:9.2f} s    mean |imbalance| {r[2]:.2f}   "
              f"ratio R / vectorised = {r[1] / t_vec:.1f}")

    mini_reps = 200
    print(f"3. Minimisation: {mini_reps} trials of {N_TRIAL} (range, p = 0.8)")
    t_mvec, _ = best_of(lambda: pt.randomise.simulate_design(N_TRIAL, design="minimisation", strata=STRATA,
                                                           reps=mini_reps, seed=1, progress=False), repeat=2)
    seq_reps = 5
    t_mseq, _ = best_of(lambda: loop_minimisation(seq_reps), repeat=1)
    t_mseq_full = t_mseq * mini_reps / seq_reps
    print(f"   vectorised over trials         {t_mvec:9.2f} s")
    print(f"   sequential Minimiser per trial {t_mseq_full:9.2f} s    (timed on {seq_reps} trials and scaled)   "
          f"ratio = {t_mseq_full / t_mvec:.1f}")

    print("4. Ledger (SQLite WAL, synchronous=FULL, hash chain)")
    for procs in (1, 4):
        rate = ledger_throughput(400, procs)
        print(f"   {procs} process(es): {rate:8.0f} allocations per second (400 allocations, chain verified)")


if __name__ == "__main__":
    main()
