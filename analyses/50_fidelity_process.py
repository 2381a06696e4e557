"""Fidelity and process evaluation of the simulated trial.

1. Fidelity index (``simulated_data/fidelity_ratings.csv``): domain and total
   scores per peer worker, internal consistency (Cronbach's alpha), inter-rater
   reliability on the double-rated sessions (ICC, weighted kappa per item).
2. Fidelity as a moderator (``simulated_data/trial.csv``): hope at 12 months on
   the peer worker's fidelity, random peer-worker effect — NON-RANDOMISED.
3. Engagement: sessions by arm and peer worker, predictors (negative binomial,
   logistic), time to first contact.
4. Dose-response on sessions attended — NON-RANDOMISED.
5. Mediation of the effect on hope at 12 months through hope at 4 months.
6. Implementation outcomes: the peer-worker pipeline of Stirrup et al. (2021),
   engagement proportions from the trial, and an ILLUSTRATIVE simulated
   peer-worker retention cohort (the shipped data hold no tenure records).

Run: ``python analyses/50_fidelity_process.py --out DIR``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import peertrial as pt
from peertrial.plot import fidelity as fplot
from peertrial.plot import process as pplot
from peertrial.report import Section

DATA = Path(__file__).resolve().parents[1] / "simulated_data"
SEED = 2017
N_BOOT = 2000
HORIZON = 120  # days: peer support is offered up to four months after discharge


class Notes:
    """Collect the documented warnings each step raises, to show them in the report."""

    def __init__(self):
        self.items: list[str] = []

    def run(self, step: str, func, *args, **kwargs):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out = func(*args, **kwargs)
        for w in rec:
            self.items.append(f"{step}: {w.message}")
        return out

    def flush(self, sec: Section) -> None:
        if self.items:
            sec.text("Data handling in this part (warnings raised and acted on):")
            sec.code("\n".join(f"- {m}" for m in self.items))
        self.items = []


def fidelity_part(sec: Section, notes: Notes, ratings: pd.DataFrame):
    scores = notes.run("scoring", pt.fidelity.score_fidelity, ratings, scale=(1, 4))
    sec.text(
        "Fidelity index: 15 items scored 1-4, three for each of the five principles of peer support "
        "(shared lived experience; reciprocity and mutuality; experiential knowledge; leadership, "
        "choice and control; strengths and connections). Rater A rated every recorded session, "
        "rater B independently re-rated about 30% of them. A domain score is the mean of its items "
        "when at least half are rated (prorating), otherwise missing; the total is the mean of the five "
        "domain scores, and a peer worker's fidelity is the mean total over their rated sessions."
    )
    sec.code(scores.summary())
    sec.table(scores.by_worker(), "Fidelity profile per peer worker", name="fidelity_by_worker")
    sec.figure(fplot.fidelity_profile(scores), "fidelity_profile", "Per-peer-worker fidelity profile")

    alpha = notes.run("alpha", pt.fidelity.cronbach_alpha, scores)
    sec.text("Internal consistency over all rating occasions (rows) and items (columns).")
    sec.code(alpha.summary())
    sec.table(alpha.to_frame(), "Cronbach's alpha per domain", name="alpha")
    sec.figure(fplot.alpha_plot(alpha), "alpha", "Cronbach's alpha with Feldt 95% CIs")

    icc = notes.run("ICC", pt.fidelity.icc, scores, ratings="total")
    sec.text(
        "Inter-rater reliability of the total score on the sessions both raters scored (sessions "
        "rated by rater A only are left out of the ICC, as the warning below records). ICC(2,1) is the "
        "reliability of one rater's score as used in practice (rater as a random effect, absolute agreement)."
    )
    sec.code(icc.summary())
    sec.table(icc.to_frame().drop(columns="description"), "ICC of the total fidelity score", name="icc")
    kappa = notes.run("kappa", pt.fidelity.item_kappa, scores, weights="quadratic")
    sec.code(kappa.summary())
    sec.table(kappa.to_frame(), "Weighted kappa per item (quadratic weights)", name="item_kappa")
    notes.flush(sec)
    return scores


def moderation_part(sec: Section, notes: Notes, trial: pd.DataFrame, scores):
    sec.text(
        "Fidelity as a moderator. Intervention participants are linked to their peer worker's fidelity "
        "score. This is a NON-RANDOMISED comparison: fidelity was not allocated at random, so any "
        "association can be confounded by who the peer workers were and whom they supported."
    )
    inter = notes.run("moderation (intervention arm)", pt.fidelity.fidelity_moderation, trial, scores, "hope_12", covariates=["hope_0"])
    sec.code(inter.summary())
    sec.table(inter.to_frame(), "Hope at 12 months on peer-worker fidelity (intervention arm)", name="moderation_intervention")
    both = notes.run("moderation (partially nested)", pt.fidelity.fidelity_moderation, trial, scores, "hope_12", covariates=["hope_0"], population="all")
    sec.text(
        "Partially nested model of all participants: the arm coefficient is the effect of peer support for "
        "a peer worker of average fidelity, arm:fidelity its change per point of fidelity (again NON-RANDOMISED)."
    )
    sec.code(both.summary())
    sec.table(both.to_frame(), "Treatment effect by fidelity (partially nested)", name="moderation_all")
    if inter.singular or both.singular:
        sec.text(
            "The peer-worker variance is estimated as 0 (a boundary, or singular, fit, as lme4 reports it): "
            "outcomes of participants who shared a peer worker are no more alike than those of participants "
            "who did not, beyond what fidelity and baseline hope explain, so the estimates equal those of an "
            "ordinary linear model. With about 30 peer workers and a few participants each, a small "
            "peer-worker variance cannot be told apart from none."
        )
    sec.figure(fplot.fidelity_moderation_plot(inter), "fidelity_moderation", "Mean hope at 12 months by peer-worker fidelity (non-randomised)")
    sessions_by_worker = trial[trial["arm"] == 1].groupby("peer_worker")["sessions"].mean()
    fid = scores.worker_scores()
    fid.index = fid.index.astype(float)
    joined = pd.concat([fid, sessions_by_worker], axis=1, join="inner")
    r = np.corrcoef(joined.iloc[:, 0], joined.iloc[:, 1])[0, 1]
    sec.text(f"Across the {len(joined)} peer workers, fidelity and their participants' mean sessions correlate at r = {r:.2f}.")
    notes.flush(sec)


def engagement_part(sec: Section, notes: Notes, trial: pd.DataFrame):
    sec.text(
        "Engagement. Sessions attended by arm and by peer worker; predictors of the number of sessions "
        "(negative binomial) and of receiving the intervention (at least two sessions; logistic) among "
        "intervention participants; and time from randomisation to first peer contact, where participants "
        f"never contacted are censored at {HORIZON} days (the four-month offer)."
    )
    summ = notes.run("engagement", pt.process.engagement_summary, trial, peer_worker="peer_worker")
    sec.code(summ.summary())
    sec.table(summ.by_arm, "Sessions attended by arm", name="sessions_by_arm")
    sec.table(summ.by_worker, "Sessions attended by peer worker", name="sessions_by_worker")
    sec.figure(pplot.engagement_plot(summ), "engagement", "Sessions attended: distribution and by peer worker")
    inter = trial[trial["arm"] == 1]
    preds = ["age", "female", "prev_admissions", "diagnosis"]
    nb = notes.run("sessions model", pt.process.engagement_model, inter, "sessions", preds, family="negbin")
    sec.code(nb.summary())
    sec.table(nb.to_frame(), "Predictors of sessions attended (negative binomial)", name="engagement_negbin")
    lo = notes.run("received model", pt.process.engagement_model, inter, "received", preds, family="logistic")
    sec.code(lo.summary())
    sec.table(lo.to_frame(), "Predictors of receiving at least two sessions (logistic)", name="engagement_logistic")
    contact = notes.run("first contact", pt.process.time_to_first_contact, trial, time="contact_days", horizon=HORIZON)
    sec.code(contact.summary())
    sec.table(contact.at([7, 14, 30, 60, 120]), "Cumulative proportion contacted", name="contact_at")
    sec.figure(pplot.survival_curve_plot(contact), "first_contact", "Time to first peer contact (Kaplan-Meier, intervention arm)")
    notes.flush(sec)


def dose_part(sec: Section, notes: Notes, trial: pd.DataFrame):
    sec.text(
        "Dose-response of outcomes on sessions attended in the intervention arm. A NON-RANDOMISED "
        "comparison: people who attend more sessions differ from those who attend fewer; the randomised "
        "estimate of the effect of receiving peer support is the CACE of the trial analysis."
    )
    lin = notes.run("dose-response (hope)", pt.process.dose_response, trial, "hope_12", covariates=["hope_0"])
    sec.code(lin.summary())
    sec.table(lin.to_frame(), "Hope at 12 months on sessions attended", name="dose_hope")
    logit = notes.run("dose-response (readmission)", pt.process.dose_response, trial, "readmitted_12m", covariates=["prev_admissions"], family="logistic")
    sec.code(logit.summary())
    sec.table(logit.to_frame(), "Readmission within 12 months on sessions attended", name="dose_readmission")
    sec.figure(pplot.dose_response_plot(trial, lin), "dose_hope", "Hope at 12 months by sessions attended (non-randomised)")
    notes.flush(sec)


def mediation_part(sec: Section, notes: Notes, trial: pd.DataFrame):
    med = notes.run("mediation", pt.process.mediation, trial, "arm", "hope_4", "hope_12", ["hope_0"], n_boot=N_BOOT, seed=SEED)
    sec.text(
        "Does peer support act on hope at 12 months through hope at 4 months (the end of the offer)? "
        "Product of coefficients with a percentile bootstrap CI, adjusting for baseline hope."
    )
    sec.code(med.summary())
    sec.text(
        "Readmission is not analysed as an outcome of this mediator: hope at 4 months is measured after "
        "many readmissions have already happened, so it cannot precede the outcome as assumption (4) requires."
    )
    sec.table(med.to_frame(), "Mediation through hope at 4 months", name="mediation")
    sec.figure(pplot.mediation_plot(med), "mediation", "Mediation paths and bootstrap distribution of the indirect effect")
    notes.flush(sec)


def implementation_part(sec: Section, notes: Notes, trial: pd.DataFrame):
    inter = trial[trial["arm"] == 1]
    outcomes = {
        "applicants starting training": (28, 38),
        "trainees completing training": (10, 28),
        "completers employed": (7, 10),
        "employed still in post at 2 years": (7, 7),
        "trial: any peer contact": (int((inter["sessions"] >= 1).sum()), len(inter)),
        "trial: received (>= 2 sessions)": (int(inter["received"].sum()), len(inter)),
    }
    imp = notes.run("implementation", pt.process.implementation_outcomes, outcomes)
    sec.text(
        "Implementation outcomes. The peer-worker pipeline is from Stirrup et al. (2021): 38 applications, "
        "28 started training, 10 completed, 7 employed and all 7 still in post after 2 years; the engagement "
        "rows come from the simulated trial."
    )
    sec.code(imp.summary())
    sec.table(imp.to_frame(), "Implementation proportions", name="implementation")
    sec.figure(pplot.implementation_plot(imp), "implementation", "Implementation proportions with exact and Wilson 95% CIs")
    rng = np.random.default_rng(SEED)
    band = np.repeat(["band 3", "band 4"], 16)
    tenure = rng.exponential(np.where(band == "band 3", 40.0, 70.0))
    cohort = pd.DataFrame({"band": band, "months_in_post": np.minimum(tenure, 24).round(1), "left": (tenure < 24).astype(int)})
    ret = notes.run("retention", pt.process.worker_retention, cohort, group="band")
    sec.text(
        "Peer-worker retention: an ILLUSTRATIVE simulated cohort of 32 peer workers (16 on Agenda for Change "
        "band 3, 16 on band 4; exponential time in post, mean 40 and 70 months; followed for 24 months; "
        f"numpy seed {SEED}), because the shipped data hold no tenure records."
    )
    sec.code(ret.summary())
    sec.figure(pplot.survival_curve_plot(ret, ylabel="proportion still in post"), "retention", "Peer-worker retention by pay band (illustrative simulated cohort)")
    notes.flush(sec)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    trial = pd.read_csv(DATA / "trial.csv")
    ratings = pd.read_csv(DATA / "fidelity_ratings.csv")
    sec = Section("Fidelity and process evaluation", args.out, slug="50_fidelity_process")
    notes = Notes()
    scores = fidelity_part(sec, notes, ratings)
    moderation_part(sec, notes, trial, scores)
    engagement_part(sec, notes, trial)
    dose_part(sec, notes, trial)
    mediation_part(sec, notes, trial)
    implementation_part(sec, notes, trial)
    sec.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
