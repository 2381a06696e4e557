"""peertrial's chained equations against mice 3.15.0 in distribution (fixtures: mi_fixtures.json).

mice's random draws cannot be reproduced, so each data set is imputed over many seeds by both
and the moments across seeds of the pooled estimates (``mice::pool``) are compared: the mean
pooled estimate, the mean between-imputation variance ``b`` and the mean within variance
``ubar``, each within Monte-Carlo error. The unit tests (test_mi_mice.py) run a few seeds;
the full comparison reported in the notes runs as::

    PYTHONPATH=src python -m tests.trial.mi_distribution --seeds 100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from peertrial import _mi
from peertrial.trial._linear import ols

FIX = json.loads((Path(__file__).parent / "fixtures" / "mi_fixtures.json").read_text())


def _codes(values, levels):
    return np.array([np.nan if v is None else levels.index(v) for v in values], dtype=float)


def _num(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def nhanes():
    """``chl ~ age + bmi`` on mice's nhanes (every column numeric: pmm)."""
    d = FIX["nhanes"]["data"]
    values = np.column_stack([_num(d[c]) for c in ("age", "bmi", "hyp", "chl")])

    def design(comp):
        return np.column_stack([np.ones(len(comp)), comp[:, 0], comp[:, 1]]), comp[:, 3]
    return values, [False] * 4, None, design


def nhanes2():
    """``chl ~ age + bmi + hyp`` on nhanes2 with 5 ages deleted: polyreg, pmm, logreg, pmm."""
    d = FIX["nhanes2"]["data"]
    age_levels, hyp_levels = ["20-39", "40-59", "60-99"], ["no", "yes"]
    values = np.column_stack([_codes(d["age"], age_levels), _num(d["bmi"]), _codes(d["hyp"], hyp_levels),
                              _num(d["chl"])])

    def design(comp):
        age, bmi, hyp, chl = comp.T
        return np.column_stack([np.ones(len(comp)), age == 1, age == 2, bmi, hyp == 1]).astype(float), chl
    return values, [True, False, True, False], None, design


def trial_by_arm():
    """``y ~ arm + y0 + site + employed``, each arm imputed separately (pmm, polyreg, logreg)."""
    d = FIX["trial_by_arm"]["data"]
    sites, employed = ["north", "south", "west"], ["no", "yes"]
    values = np.column_stack([_num(d["y"]), _num(d["y0"]), _codes(d["site"], sites),
                              _codes(d["employed"], employed), _num(d["aux"])])
    arm = np.array(d["arm"], dtype=float)

    def design(comp):
        y, y0, site, emp, _ = comp.T
        return np.column_stack([np.ones(len(comp)), arm, y0, site == 1, site == 2, emp == 1]).astype(float), y
    return values, [False, False, True, True, False], arm, design


DATASETS = {"nhanes": nhanes, "nhanes2": nhanes2, "trial_by_arm": trial_by_arm}


def pooled_runs(key: str, seeds, m: int | None = None) -> dict:
    """Moments across ``seeds`` of peertrial's pooled estimates on data set ``key`` (as the fixture's)."""
    ref = FIX[key]
    m = m or ref["m"]
    values, factor, by, design = DATASETS[key]()
    qs, bs, ubs, ses = [], [], [], []
    for s in seeds:
        done = _mi.impute(values, m=m, n_iter=ref["maxit"], seed=s, method=None, factor=factor, by=by)
        Xy = [design(done[i]) for i in range(m)]
        fit = ols(np.stack([x for x, _ in Xy]), np.stack([y for _, y in Xy]))
        pooled = _mi.rubin_pool(fit.coef, np.einsum("bii->bi", fit.vcov), dfcom=fit.df_resid)
        qs.append(pooled["estimate"].to_numpy())
        bs.append(pooled["b"].to_numpy())
        ubs.append(pooled["ubar"].to_numpy())
        ses.append(pooled["se"].to_numpy())
    qs, bs, ubs, ses = map(np.array, (qs, bs, ubs, ses))
    sd = (lambda a: a.std(axis=0, ddof=1)) if len(qs) > 1 else (lambda a: np.zeros(a.shape[1]))
    return {"n_seeds": len(qs), "qbar_mean": qs.mean(axis=0), "qbar_sd": sd(qs), "b_mean": bs.mean(axis=0),
            "b_sd": sd(bs), "ubar_mean": ubs.mean(axis=0), "ubar_sd": sd(ubs), "se_mean": ses.mean(axis=0)}


def z_scores(key: str, ours: dict) -> dict:
    """``(ours - mice) / Monte-Carlo SE`` of the mean pooled estimate, ``b`` and ``ubar`` per term.

    The Monte-Carlo SE combines both sides' across-seed SDs; with few seeds of ours, mice's SD
    stands in for ours (the two should be equal)."""
    ref = FIX[key]
    out = {}
    for stat in ("qbar", "b", "ubar"):
        r_mean, r_sd = np.array(ref[f"{stat}_mean"]), np.array(ref[f"{stat}_sd"])
        sd_ours = ours[f"{stat}_sd"] if ours["n_seeds"] >= 10 else r_sd
        mc = np.sqrt(r_sd**2 / ref["n_seeds"] + sd_ours**2 / ours["n_seeds"])
        out[stat] = (ours[f"{stat}_mean"] - r_mean) / mc
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args(argv)
    for key in DATASETS:
        ours = pooled_runs(key, range(args.seeds))
        z = z_scores(key, ours)
        print(f"\n{key} (mice: {FIX[key]['n_seeds']} seeds; peertrial: {args.seeds} seeds; m = {FIX[key]['m']})")
        print(f"{'term':<14}{'qbar mice':>11}{'ours':>11}{'z':>7}{'b mice':>11}{'ours':>11}{'z':>7}"
              f"{'ubar mice':>11}{'ours':>11}{'z':>7}")
        for j, term in enumerate(FIX[key]["term"]):
            print(f"{term:<14}{FIX[key]['qbar_mean'][j]:>11.4g}{ours['qbar_mean'][j]:>11.4g}{z['qbar'][j]:>7.2f}"
                  f"{FIX[key]['b_mean'][j]:>11.4g}{ours['b_mean'][j]:>11.4g}{z['b'][j]:>7.2f}"
                  f"{FIX[key]['ubar_mean'][j]:>11.4g}{ours['ubar_mean'][j]:>11.4g}{z['ubar'][j]:>7.2f}")


if __name__ == "__main__":
    main()
