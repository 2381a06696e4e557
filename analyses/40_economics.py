"""Health economics of the simulated trial, and cost-benefit arithmetic.

1. Trial-based cost-effectiveness of peer support (``simulated_data/trial.csv``:
   ``cost_total``, ``qaly``, ``arm``): increments, ICER, INMB, bootstrap CE plane
   and CEAC, unadjusted, covariate-adjusted (SUR) and with peer workers as
   clusters.
2. Cost-benefit arithmetic in the manner of Trachtenberg et al. (2013), on a
   six simulated bed-use studies (``simulated_data/bed_use_studies.csv``), with a
   one-way sensitivity analysis over the unit cost of a bed day (404-429 GBP,
   NHS trusts), bed days saved and peer-worker pay (Agenda for Change 2024/25,
   bottom of band 3 to top of band 4).

Run: ``python analyses/40_economics.py --out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import peertrial as pt
from peertrial.plot import econ as econ_plot
from peertrial.report import Section

DATA = Path(__file__).resolve().parents[1] / "simulated_data"
SEED = 2017
N_BOOT = 5000
WTPS = np.linspace(0, 100000, 501)
BED_DAY = (404.0, 429.0)  # GBP per adult acute inpatient bed day (NHS trusts)
BED_DAY_MID = sum(BED_DAY) / 2
BAND_3_LOW, BAND_4_HIGH = 24071.0, 29114.0  # Agenda for Change 2024/25, GBP per year
PRICE_YEAR = 2024

def trial_cea(sec: Section) -> None:
    trial = pd.read_csv(DATA / "trial.csv")
    trial = trial.assign(site=trial["site"].astype(str))  # site is a factor, not a number
    common = dict(cost="cost_total", effect="qaly", arm="arm", n_boot=N_BOOT, seed=SEED, price_year=PRICE_YEAR)
    ce = pt.econ.cea(trial, **common)
    adjusted = pt.econ.cea(trial, covariates=["age", "prev_admissions", "diagnosis", "site"], **common)
    clustered = pt.econ.cea(trial, cluster="peer_worker", **common)
    readmission = pt.econ.cea(
        trial, **{**common, "effect": "readmitted_12m"}, lower_is_better=True, effect_label="readmission avoided"
    )

    sec.text(
        "Trial-based cost-effectiveness of peer support against care as usual over 12 months "
        f"(total NHS cost in GBP, {PRICE_YEAR} prices; QALYs). Uncertainty from {N_BOOT} non-parametric "
        "bootstrap replicates resampling participants within arm, cost and QALY together (seed "
        f"{SEED}); the CEAC is computed from incremental net benefit. No discounting: the horizon is one year."
    )
    sec.code(ce.summary())
    sec.table(ce.to_frame(), "Increments, INMB at 20,000 GBP per QALY and ICER (unadjusted)", name="cea_unadjusted")
    sec.text(
        "Covariate-adjusted increments (seemingly unrelated regression of cost and QALY on arm, age, "
        "previous admissions, diagnosis and site; with identical regressors SUR equals OLS equation by "
        "equation), and the unadjusted analysis with peer workers as bootstrap clusters (participants "
        "never seen by a peer worker, and all controls, are their own cluster). The last row takes "
        "readmission within 12 months as the effect (ICER = cost per readmission avoided); NICE's "
        "20,000-30,000 GBP thresholds are per QALY, so no INMB or probability is given for it."
    )
    rows = []
    variants = (
        ("unadjusted", ce),
        ("adjusted (SUR)", adjusted),
        ("clustered by peer worker", clustered),
        ("per readmission avoided (effect = 1 - readmitted)", readmission),
    )
    for label, res in variants:
        per_qaly = res.effect_label == "QALY"  # NICE thresholds are per QALY only
        rows.append(
            {
                "analysis": label,
                "delta_cost": res.delta_cost,
                "se_cost": res.se_delta_cost,
                "delta_effect": res.delta_effect,
                "se_effect": res.se_delta_effect,
                "icer": res.icer,
                "quadrant": res.quadrant,
                "inmb_20000": res.nmb(20000) if per_qaly else np.nan,
                "p_ce_20000": float(res.ceac([20000])["prob_cost_effective"].iloc[0]) if per_qaly else np.nan,
                "p_ce_30000": float(res.ceac([30000])["prob_cost_effective"].iloc[0]) if per_qaly else np.nan,
            }
        )
    sec.table(pd.DataFrame(rows).set_index("analysis"), "Sensitivity of the CEA to adjustment and clustering", name="cea_variants")
    sec.table(
        ce.decision_table([0, 10000, 20000, 30000, 50000]).set_index("wtp"),
        "INMB, probability cost-effective, expected incremental benefit and per-person EVPI by willingness to pay",
        name="cea_decisions",
    )
    sec.table(ce.quadrant_shares().to_frame(), "Share of bootstrap replicates in each quadrant", name="cea_quadrants")
    sec.figure(econ_plot.ce_plane(ce, wtp=20000), "ce_plane", "Cost-effectiveness plane: bootstrap replicates, point estimate and 20,000 GBP/QALY line")
    sec.figure(econ_plot.ceac(ce, WTPS), "ceac", "Cost-effectiveness acceptability curve (dotted: 20,000 and 30,000 GBP per QALY)")

    # The trial's own cost-benefit arithmetic on bed days, as Trachtenberg et al. framed it
    arm = trial["arm"]
    cost_pp = trial.loc[arm == 1, "cost_intervention"].mean()
    saved = trial.loc[arm == 0, "bed_days"].mean() - trial.loc[arm == 1, "bed_days"].mean()
    cb = pt.econ.cost_benefit_ratio(cost_pp, pt.econ.bed_day_savings(saved, BED_DAY_MID), price_year=PRICE_YEAR)
    sec.text(
        f"Cost-benefit in the trial: mean peer-support cost per intervention participant against bed days "
        f"saved per participant ({saved:.2f}; control minus intervention) valued at {BED_DAY_MID:.2f} GBP "
        "(mid-point of 404-429). A negative ratio means more bed days, not savings, in the peer-support arm."
    )
    sec.code(cb.summary())


def bed_use_cost_benefit(sec: Section) -> None:
    table = pd.read_csv(DATA / "bed_use_studies.csv")
    sec.text(
        "Cost-benefit arithmetic on six SIMULATED studies of peer support and inpatient bed use "
        "(simulated_data/bed_use_studies.csv, calibrated to Trachtenberg et al. 2013, whose six real "
        "studies gave a weighted ratio of 1:4.76; these are not their data). Benefit = bed days saved x "
        "415 GBP. The default pooled ratio is total benefit / total cost (each study weighted by its "
        "cost); the unweighted mean of ratios and a participant-weighted mean are shown for comparison. "
        "Intervals: bootstrap over studies (crude with six studies) and propagation of each study's "
        "standard error of bed days saved (delta method)."
    )
    sec.table(table.set_index("study"), "Simulated bed-use studies", name="bed_use_studies")
    pooled = pt.econ.pooled_ratio(
        table, cost="cost", benefit="benefit", study="study", uncertainty="bootstrap", n_boot=N_BOOT, seed=SEED, price_year=PRICE_YEAR
    )
    propagated = pt.econ.pooled_ratio(
        table, cost="cost", benefit="benefit", study="study", uncertainty="propagate", benefit_se="benefit_se",
        n_boot=N_BOOT, seed=SEED, price_year=PRICE_YEAR,
    )
    sec.code(propagated.summary())
    sec.code(pooled.summary())
    rows = []
    for weighting in ("total", "equal", "n"):
        res = pt.econ.pooled_ratio(table, study="study", weighting=weighting, n="n")
        rows.append({"weighting": weighting, "pooled_ratio": res.estimate})
    sec.table(pd.DataFrame(rows).set_index("weighting"), "Pooled benefit per GBP 1 under each weighting", name="pooled_weightings")

    base_salary = (BAND_3_LOW + BAND_4_HIGH) / 2
    total_cost, total_days = table["cost"].sum(), table["bed_days_saved"].sum()

    def ratio(unit_cost, bed_days_factor, salary):
        # peer-worker pay is taken as the whole service cost, scaling with salary
        return total_days * bed_days_factor * unit_cost / (total_cost * salary / base_salary)

    sens = pt.econ.one_way_sensitivity(
        ratio,
        {"unit_cost": BED_DAY_MID, "bed_days_factor": 1.0, "salary": base_salary},
        {"unit_cost": BED_DAY, "bed_days_factor": (0.5, 1.5), "salary": (BAND_3_LOW, BAND_4_HIGH)},
        output_name="pooled benefit per GBP 1",
    )
    sec.table(sens.to_frame(), "One-way sensitivity of the pooled ratio", name="sensitivity")
    sec.figure(econ_plot.tornado(sens), "tornado", "Tornado plot: pooled cost-benefit ratio as each input moves over its range")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory")
    args = parser.parse_args(argv)
    sec = Section("Health economics", args.out, slug="40_economics")
    trial_cea(sec)
    bed_use_cost_benefit(sec)
    sec.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
