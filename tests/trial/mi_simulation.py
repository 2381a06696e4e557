"""Seeded simulation of the pooled treatment effect under MAR: bias and coverage over replicates.

Each replicate is a two-arm trial (true effect 2.0): baseline ``y0``, a three-level ``site``
factor missing completely at random in 10% of rows, and an auxiliary ``z`` that predicts the
outcome; the outcome is missing at random given ``z``, differently by arm (high ``z`` drops
out under the intervention, low ``z`` under control), so complete cases of the ANCOVA
``y ~ arm + y0 + site`` are biased while multiple imputation with ``z`` as an auxiliary column
(``by_arm=True``; pmm for ``y``, polyreg for ``site``) is not. The unit test runs a few
replicates; the figures in the notes come from::

    PYTHONPATH=src python -m tests.trial.mi_simulation --replicates 500 --m 20
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

import peertrial as pt

EFFECT = 2.0


def trial(rng: np.random.Generator, n: int = 200) -> pd.DataFrame:
    arm = np.repeat([0, 1], n // 2)
    y0 = rng.normal(30, 5, n)
    z = rng.normal(size=n)
    site = rng.choice(np.array(["north", "south", "west"], dtype=object), n)
    y = 5 + 0.6 * y0 + EFFECT * arm + 1.5 * (site == "south") + 2.5 * z + rng.normal(0, 2, n)
    lin = np.where(arm == 1, -0.8 + 1.6 * z, -0.8 - 1.6 * z)
    y[rng.random(n) < 1 / (1 + np.exp(-lin))] = np.nan
    site[rng.random(n) < 0.1] = None
    return pd.DataFrame({"arm": arm, "y": y, "y0": y0, "site": site, "z": z})


def replicate(rng, m: int, n: int = 200, method=None) -> tuple:
    d = trial(rng, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pt.trial.multiple_imputation(d, "y", covariates=["y0", "site"], auxiliary=["z"], m=m,
                                           by_arm=True, seed=rng, method=method)
    mi, cc = res.effect.loc["multiple_imputation"], res.effect.loc["complete_case"]
    return (mi["estimate"], mi["ci_lb"] <= EFFECT <= mi["ci_ub"], mi["se"],
            cc["estimate"], cc["ci_lb"] <= EFFECT <= cc["ci_ub"])


def simulate(replicates: int, m: int, seed: int = 2026, n: int = 200, method=None) -> dict:
    rng = np.random.default_rng(seed)
    rows = np.array([replicate(rng, m, n, method) for _ in range(replicates)], dtype=float)
    est_mi, cov_mi, se_mi, est_cc, cov_cc = rows.T
    return {"replicates": replicates, "m": m, "n": n,
            "bias_mi": est_mi.mean() - EFFECT, "mcse_bias_mi": est_mi.std(ddof=1) / np.sqrt(replicates),
            "empirical_se_mi": est_mi.std(ddof=1), "mean_se_mi": se_mi.mean(), "coverage_mi": cov_mi.mean(),
            "bias_cc": est_cc.mean() - EFFECT, "mcse_bias_cc": est_cc.std(ddof=1) / np.sqrt(replicates),
            "coverage_cc": cov_cc.mean()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--m", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--method", default=None, help="pmm or norm for the outcome (default: mice's, pmm)")
    args = parser.parse_args(argv)
    for k, v in simulate(args.replicates, args.m, args.seed, method=args.method).items():
        print(f"{k:>16}: {v:.4f}" if isinstance(v, float) else f"{k:>16}: {v}")


if __name__ == "__main__":
    main()
