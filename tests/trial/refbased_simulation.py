"""Seeded simulation of reference-based MI: bias and coverage of the visit-3 effect over replicates.

The data-generating model is ``simulate`` of ``tests/trial/test_refbased.py``: three visits,
multivariate normal with a covariance shared by the arms; intercurrent events completely at
random (30% of the intervention arm after visit 1, 20% after visit 2, 25% of controls after
visit 2), outcomes after the event missing. The truth for each strategy is the closed form
``expected_effect`` (Carpenter, Roger & Kenward 2013). ``--mmrm`` adds the direct-likelihood
MMRM on the same data sets, the reference for the MAR row. The unit tests run a small version;
the figures in the closing note come from::

    PYTHONPATH=src python -m tests.trial.refbased_simulation --replicates 300 --m 20 --mmrm
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import peertrial as pt
from tests.trial.test_refbased import VIS3, expected_effect, simulate


def _row(label, truth, est, se, cover, extra=""):
    est, se, reps = np.asarray(est), np.asarray(se), len(est)
    return (f"{label}: truth {truth:.4f}; bias {est.mean() - truth:+.4f} (MC SE {est.std(ddof=1) / np.sqrt(reps):.4f}); "
            f"empirical SD {est.std(ddof=1):.4f}; mean SE {se.mean():.4f}; coverage {np.mean(cover):.3f} "
            f"(MC SE {np.sqrt(0.95 * 0.05 / reps):.3f}){extra}")


def run(replicates: int, m: int, n: int = 100, mmrm: bool = False) -> None:
    for strategy in ("MAR", "JR", "CR", "CIR"):
        t0, rng, truth = time.time(), np.random.default_rng(20261128), expected_effect(strategy)
        est, se, cover = [], [], []
        for r in range(replicates):
            e = pt.trial.reference_based_mi(simulate(n, rng), VIS3, strategy=strategy, m=m, seed=r).effects.loc["3"]
            est.append(e["estimate"]), se.append(e["se"]), cover.append(e["ci_lb"] <= truth <= e["ci_ub"])
        print(_row(strategy, truth, est, se, cover, f"; {replicates} reps, n = {n}/arm, m = {m}; "
                                                    f"{time.time() - t0:.0f} s"), flush=True)
    if mmrm:
        rng, est, se, cover = np.random.default_rng(20261128), [], [], []
        for _ in range(replicates):
            with warnings.catch_warnings(record=True):
                e = pt.trial.mmrm(simulate(n, rng), VIS3, df_method="residual").effects.loc["3"]
            est.append(e["estimate"]), se.append(e["se"]), cover.append(e["ci_lb"] <= 5 <= e["ci_ub"])
        print(_row("MMRM (direct likelihood, the MAR data sets)", expected_effect("MAR"), est, se, cover))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=300)
    p.add_argument("--m", type=int, default=20)
    p.add_argument("--mmrm", action="store_true")
    a = p.parse_args()
    run(a.replicates, a.m, mmrm=a.mmrm)
