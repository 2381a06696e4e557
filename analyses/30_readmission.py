"""Twelve-month readmission in the simulated peer-support trial (intention to treat).

Reads ``simulated_data/trial.csv`` (one row per participant; ``readmit_time`` in days,
``readmit_status`` 0 censored / 1 readmitted / 2 died before readmission) and reports:
the binary primary outcome (proportions, risk difference, risk ratio, odds ratio adjusted
for the stratification factors, and with site as a random effect); time to readmission
(Kaplan–Meier, median, restricted mean to 365 days, log-rank, Cox with and without
adjustment, cluster-robust by site, proportional-hazards test); death as a competing
risk (cumulative incidence, Gray's test, Fine–Gray and cause-specific Cox); the number
of readmissions and days in hospital (negative binomial with follow-up offset, two-part).
Every number equals R's survival / cmprsk / MASS on the fixtures of ``tests/survival``.

Run: ``python analyses/30_readmission.py --out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import peertrial as pt
from peertrial.plot.survival import cuminc_plot, km_plot, schoenfeld_plot
from peertrial.report import Section

DATA = Path(__file__).resolve().parents[1] / "simulated_data"
ARMS = {0: "Care as usual", 1: "Peer support"}


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA / "trial.csv")
    df = df.assign(readmitted=(df["readmit_status"] == 1).astype(int))
    # treatment-coded diagnosis ("other" as reference) for the Cox models
    for level in ("personality", "psychotic"):
        df[f"dx_{level}"] = (df["diagnosis"] == level).astype(int)
    return df


def survival_table(km, cox_unadj, cox_adj, cox_robust) -> pd.DataFrame:
    rows = []
    for name, fit in (("Cox, arm only", cox_unadj), ("Cox, + diagnosis, stratified by site", cox_adj),
                      ("Cox, arm only, robust SE by site", cox_robust)):
        rows.append({"model": name, "hr": fit.hr["arm"], "ci_lb": fit.hr_ci_lb["arm"],
                     "ci_ub": fit.hr_ci_ub["arm"], "se_log_hr": fit.se["arm"], "pval": fit.pval["arm"]})
    return pd.DataFrame(rows).set_index("model")


def main(out_dir: Path) -> None:
    df = load()
    n = len(df)
    sec = Section("Twelve-month readmission", out_dir, slug="30_readmission")

    # --- binary primary outcome ---------------------------------------------------------
    binary = pt.survival.readmission_12m(df, "readmitted_12m", "arm", covariates="C(site) + diagnosis")
    mixed = pt.survival.readmission_12m(df, "readmitted_12m", "arm", covariates=("diagnosis",), random="site")
    arms = binary.arms
    sec.text(
        f"{n} participants were randomised ({int(arms.at[0, 'n'])} to care as usual, "
        f"{int(arms.at[1, 'n'])} to peer support). Within 12 months {int(arms.at[0, 'events'])} "
        f"({100 * arms.at[0, 'proportion']:.1f}%) and {int(arms.at[1, 'events'])} "
        f"({100 * arms.at[1, 'proportion']:.1f}%) were readmitted: risk difference "
        f"{100 * binary.rd:.1f} percentage points (95% CI "
        f"{100 * binary.effects.at['risk_difference', 'ci_lb']:.1f} to "
        f"{100 * binary.effects.at['risk_difference', 'ci_ub']:.1f}), risk ratio {binary.rr:.2f} "
        f"({binary.effects.at['risk_ratio', 'ci_lb']:.2f} to {binary.effects.at['risk_ratio', 'ci_ub']:.2f}). "
        f"The odds ratio adjusted for the stratification factors (site, diagnosis) is "
        f"{binary.odds_ratio:.2f} ({binary.effects.at['adjusted_odds_ratio', 'ci_lb']:.2f} to "
        f"{binary.effects.at['adjusted_odds_ratio', 'ci_ub']:.2f}); with site as a random intercept "
        f"it is {mixed.odds_ratio:.2f} ({mixed.effects.at['adjusted_odds_ratio', 'ci_lb']:.2f} to "
        f"{mixed.effects.at['adjusted_odds_ratio', 'ci_ub']:.2f}; site SD {mixed.site_sd:.2f})."
    )
    sec.table(arms, "Readmitted within 12 months by arm (exact 95% CI)", name="binary_arms", digits=4)
    effects = pd.concat({"stratification factors as covariates": binary.effects,
                         "site as random intercept": mixed.effects.loc[["adjusted_odds_ratio"]]})
    sec.table(effects, "Risk difference, risk ratio and adjusted odds ratio (peer support vs care as usual)",
              name="binary_effects", digits=4)

    # --- time to readmission --------------------------------------------------------------
    km = pt.survival.kaplan_meier(df, "readmit_time", "readmitted", "arm")
    lr = pt.survival.logrank(df, "readmit_time", "readmitted", "arm")
    lr_site = pt.survival.logrank(df, "readmit_time", "readmitted", "arm", strata="site")
    cox_unadj = pt.survival.cox(df, "readmit_time", "readmitted", ["arm"])
    cox_adj = pt.survival.cox(df, "readmit_time", "readmitted", ["arm", "dx_personality", "dx_psychotic"],
                              strata="site")
    cox_robust = pt.survival.cox(df, "readmit_time", "readmitted", ["arm"], cluster="site")
    ph = cox_adj.test_ph()
    rmst = km.rmst(365)
    rdiff = km.rmst_diff(365)
    sec.text(
        "Time to first readmission (deaths censored): log-rank chi-square "
        f"{lr.chisq:.2f} on {lr.df} df, p = {lr.pval:.3g} (stratified by site: {lr_site.chisq:.2f}, "
        f"p = {lr_site.pval:.3g}). Hazard ratio {cox_unadj.hr['arm']:.2f} "
        f"(95% CI {cox_unadj.hr_ci_lb['arm']:.2f} to {cox_unadj.hr_ci_ub['arm']:.2f}); adjusted for "
        f"diagnosis and stratified by site {cox_adj.hr['arm']:.2f} ({cox_adj.hr_ci_lb['arm']:.2f} to "
        f"{cox_adj.hr_ci_ub['arm']:.2f}). Restricted mean time free of readmission over 365 days: "
        f"{rmst.at[0, 'rmst']:.0f} vs {rmst.at[1, 'rmst']:.0f} days, difference "
        f"{rdiff['estimate'].iloc[0]:.1f} days ({rdiff['ci_lb'].iloc[0]:.1f} to {rdiff['ci_ub'].iloc[0]:.1f}). "
        f"Proportional hazards (cox.zph, KM transform): global p = {ph.at['GLOBAL', 'pval']:.2f}."
    )
    at = km.at([90, 180, 365])
    at["group"] = at["group"].map(ARMS)
    sec.table(at.set_index(["group", "time"]), "Kaplan-Meier survival free of readmission (log CI)",
              name="km_at", digits=4)
    med = km.median(ci=True).rename(index=ARMS)
    sec.table(pd.concat([med, rmst.set_index("group").rename(index=ARMS)], axis=1),
              "Median time to readmission (95% CI) and restricted mean to 365 days", name="km_median", digits=2)
    sec.table(survival_table(km, cox_unadj, cox_adj, cox_robust), "Hazard ratios for readmission",
              name="cox", digits=4)
    sec.code(cox_adj.summary())
    sec.table(ph, "Proportional-hazards test (adjusted model)", name="ph_test", digits=4)
    sec.figure(km_plot(km, labels=ARMS, title="Time to first readmission"), "km",
               "Kaplan-Meier curves with 95% confidence bands and numbers at risk")
    sec.figure(schoenfeld_plot(cox_adj, ["arm"]), "schoenfeld",
               "Scaled Schoenfeld residuals for arm against KM-transformed time (lowess smooth)")

    # --- death as a competing risk ---------------------------------------------------------
    ci = pt.survival.cuminc(df, "readmit_time", "readmit_status", "arm", cencode=0, causes=[1, 2])
    fg = pt.survival.fine_gray(df, "readmit_time", "readmit_status", ["arm"], cause=1, cencode=0)
    cs = pt.survival.cause_specific_cox(df, "readmit_time", "readmit_status", ["arm"], cause=1)
    sec.text(
        f"{int((df['readmit_status'] == 2).sum())} participants died before readmission. Cumulative "
        f"incidence of readmission at 365 days: Gray's test p = {ci.gray_test.at[1, 'pval']:.3g}. "
        f"Subdistribution hazard ratio (Fine-Gray) {fg.shr['arm']:.2f} ({fg.shr_ci_lb['arm']:.2f} to "
        f"{fg.shr_ci_ub['arm']:.2f}); cause-specific hazard ratio {cs.hr['arm']:.2f} "
        f"({cs.hr_ci_lb['arm']:.2f} to {cs.hr_ci_ub['arm']:.2f})."
    )
    cat = ci.at([90, 180, 365])
    cat["group"] = cat["group"].map(ARMS)
    cat["cause"] = cat["cause"].map({1: "readmission", 2: "death"})
    sec.table(cat.set_index(["group", "cause", "time"]), "Cumulative incidence (cmprsk variance)",
              name="cuminc", digits=4)
    sec.table(ci.gray_test.rename(index={1: "readmission", 2: "death"}), "Gray's test", name="gray", digits=4)
    sec.figure(cuminc_plot(ci, labels=ARMS, cause_labels={1: "readmission", 2: "death"}), "cuminc",
               "Cumulative incidence of readmission and of death before readmission")

    # --- counts and days -------------------------------------------------------------------
    counts = pt.survival.count_ratio(df, "readmissions", "arm", exposure="followup_days")
    days_nb = pt.survival.days_ratio(df, "bed_days", "arm", exposure="followup_days", model="nb")
    days_tp = pt.survival.days_ratio(df, "bed_days", "arm", model="two-part")
    ratios = pd.DataFrame(
        [("readmissions: rate ratio (NB, offset log follow-up)", counts),
         ("bed days: rate ratio (NB, offset log follow-up)", days_nb),
         ("bed days: ratio of means (two-part: logistic x Gamma)", days_tp)],
        columns=["outcome", "res"]).set_index("outcome")["res"]
    sec.table(pd.DataFrame({k: {"ratio": r.estimate, "ci_lb": r.ci_lb, "ci_ub": r.ci_ub, "pval": r.pval}
                            for k, r in ratios.items()}).T,
              "Readmissions and days in hospital, peer support vs care as usual", name="counts", digits=4)
    sec.code(counts.summary())
    sec.save()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    main(parser.parse_args().out)
