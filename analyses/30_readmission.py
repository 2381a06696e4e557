"""Twelve-month readmission beyond the analysis plan (simulated peer-support trial).

The binary primary outcome (OR, RD, RR), the Cox hazard ratio adjusted for the stratification
factors, the Kaplan-Meier plot, the RMST difference, the rate ratio of readmissions and every
readmission as recurrent events (MCF by arm, Andersen-Gill and negative binomial rate ratios, the
MCF difference at 365 days) are in the plan's report (``peertrial analyse simulated_data/plan.toml``).
This script reports what a
plan does not express, on ``simulated_data/trial.csv`` (``readmit_time`` in days,
``readmit_status`` 0 censored / 1 readmitted / 2 died before readmission): the odds ratio with
site as a random intercept; Kaplan-Meier survival at 90/180/365 days and medians; log-rank
tests (stratified by site); Cox stratified by site and with site-clustered SEs; the
proportional-hazards test and Schoenfeld residuals; death as a competing risk (cumulative
incidence, Gray's test, Fine-Gray and cause-specific Cox); every readmission, not only the
first (``simulated_data/readmissions_long.csv``: the mean cumulative function by arm with
Lawless-Nadeau robust limits, the rate ratio, the Andersen-Gill Cox model with robust SEs
by participant and the Cox model with a shared gamma frailty per participant); days in hospital (negative binomial with follow-up offset, two-part).
Every number equals R's survival / cmprsk / MASS on the fixtures of ``tests/survival``.

Run: ``python analyses/30_readmission.py --out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import peertrial as pt
from peertrial.plot.survival import cuminc_plot, schoenfeld_plot
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


def survival_table(cox_adj, cox_robust) -> pd.DataFrame:
    rows = []
    for name, fit in (("Cox, + diagnosis, stratified by site", cox_adj),
                      ("Cox, arm only, robust SE by site", cox_robust)):
        rows.append({"model": name, "hr": fit.hr["arm"], "ci_lb": fit.hr_ci_lb["arm"],
                     "ci_ub": fit.hr_ci_ub["arm"], "se_log_hr": fit.se["arm"], "pval": fit.pval["arm"]})
    return pd.DataFrame(rows).set_index("model")


def main(out_dir: Path) -> None:
    df = load()
    n = len(df)
    sec = Section("Twelve-month readmission", out_dir, slug="30_readmission")

    # --- binary primary outcome: site as a random intercept (the fixed-effects ORs are in the plan's report)
    mixed = pt.survival.readmission_12m(df, "readmitted_12m", "arm", covariates=("diagnosis",), random="site")
    sec.text(
        f"{n} participants. Readmission within 12 months, odds ratio with site as a random intercept "
        f"(logistic mixed model, adjusted for diagnosis): {mixed.odds_ratio:.2f} "
        f"({mixed.effects.at['adjusted_odds_ratio', 'ci_lb']:.2f} to "
        f"{mixed.effects.at['adjusted_odds_ratio', 'ci_ub']:.2f}; site SD {mixed.site_sd:.2f})."
    )

    # --- time to readmission --------------------------------------------------------------
    km = pt.survival.kaplan_meier(df, "readmit_time", "readmitted", "arm")
    lr = pt.survival.logrank(df, "readmit_time", "readmitted", "arm")
    lr_site = pt.survival.logrank(df, "readmit_time", "readmitted", "arm", strata="site")
    cox_adj = pt.survival.cox(df, "readmit_time", "readmitted", ["arm", "dx_personality", "dx_psychotic"],
                              strata="site")
    cox_robust = pt.survival.cox(df, "readmit_time", "readmitted", ["arm"], cluster="site")
    ph = cox_adj.test_ph()
    sec.text(
        "Time to first readmission (deaths censored): log-rank chi-square "
        f"{lr.chisq:.2f} on {lr.df} df, p = {lr.pval:.3g} (stratified by site: {lr_site.chisq:.2f}, "
        f"p = {lr_site.pval:.3g}). Proportional hazards of the site-stratified model (cox.zph, KM "
        f"transform): global p = {ph.at['GLOBAL', 'pval']:.2f}."
    )
    at = km.at([90, 180, 365])
    at["group"] = at["group"].map(ARMS)
    sec.table(at.set_index(["group", "time"]), "Kaplan-Meier survival free of readmission (log CI)",
              name="km_at", digits=4)
    med = km.median(ci=True).rename(index=ARMS)
    sec.table(med, "Median time to readmission (95% CI)", name="km_median", digits=2)
    sec.table(survival_table(cox_adj, cox_robust), "Hazard ratios for readmission: site as strata or as "
              "clusters", name="cox", digits=4)
    sec.table(ph, "Proportional-hazards test (adjusted model)", name="ph_test", digits=4)
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

    # --- every readmission: recurrent events -------------------------------------------------
    long = pd.read_csv(DATA / "readmissions_long.csv")
    mcf = pt.survival.mcf(long, id="id", time="day", event="readmission", group="arm")
    rows = pt.survival.counting_process(long.merge(df[["id", "age"]], on="id"), id="id", time="day",
                                        event="readmission")
    ag = pt.survival.cox(rows, time="stop", event="readmission", covariates=["arm", "age"], entry="start",
                         cluster="id")
    comp = mcf.compare(horizon=365).set_index("measure")
    comp.loc["hazard ratio (Andersen-Gill, robust SE by participant)"] = [
        "1 vs 0", ag.hr["arm"], ag.se["arm"], ag.hr_ci_lb["arm"], ag.hr_ci_ub["arm"], ag.pval["arm"]]
    frail = pt.survival.cox(rows, time="stop", event="readmission", covariates="arm + age + frailty(id)",
                            entry="start")  # coxph(... + frailty(id)): a participant's proneness to readmission
    comp.loc[f"hazard ratio (shared gamma frailty by participant, variance {frail.theta:.2f})"] = [
        "1 vs 0", frail.hr["arm"], frail.se["arm"], frail.hr_ci_lb["arm"], frail.hr_ci_ub["arm"], frail.pval["arm"]]
    sec.text(
        f"{int(long['readmission'].sum())} readmissions in all ({int((long['readmission'] > 0).groupby(long['id']).any().sum())} "
        "participants readmitted at least once). The mean cumulative number of readmissions per "
        f"participant at 365 days was {mcf.at([365]).set_index('group').at[1, 'estimate']:.2f} with peer "
        f"support and {mcf.at([365]).set_index('group').at[0, 'estimate']:.2f} with care as usual."
    )
    sec.table(comp.drop(columns="contrast"), "Every readmission, peer support vs care as usual: rate "
              "ratio (robust variance), difference in the mean cumulative function at 365 days, "
              "Andersen-Gill and shared-frailty hazard ratios", name="recurrent", digits=4)
    sec.figure(mcf.plot(labels=ARMS, ylabel="Mean number of readmissions per participant"), "mcf",
               "Mean cumulative number of readmissions by arm (Lawless-Nadeau 95% limits)")

    # --- counts and days -------------------------------------------------------------------
    days_nb = pt.survival.days_ratio(df, "bed_days", "arm", exposure="followup_days", model="nb")
    days_tp = pt.survival.days_ratio(df, "bed_days", "arm", model="two-part")
    ratios = pd.DataFrame(
        [("bed days: rate ratio (NB, offset log follow-up)", days_nb),
         ("bed days: ratio of means (two-part: logistic x Gamma)", days_tp)],
        columns=["outcome", "res"]).set_index("outcome")["res"]
    sec.table(pd.DataFrame({k: {"ratio": r.estimate, "ci_lb": r.ci_lb, "ci_ub": r.ci_ub, "pval": r.pval}
                            for k, r in ratios.items()}).T,
              "Days in hospital, peer support vs care as usual", name="counts", digits=4)
    sec.save()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    main(parser.parse_args().out)
