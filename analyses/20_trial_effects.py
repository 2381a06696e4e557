"""Trial effects on hope: intention to treat beside as-treated, per-protocol and CACE.

Reads ``simulated_data/trial.csv`` (one row per participant) and reports:

1. CONSORT flow counted from the data (table and diagram).
2. Hope at 12 months: ITT, as-treated, per-protocol and CACE (2SLS, arm as instrument),
   unadjusted and adjusted for baseline hope and the stratification factors (site as fixed
   effect, diagnosis), with model-based, HC3 and site-clustered SEs; first-stage F,
   compliance and contamination.
3. As-treated by level of use (none / low / high sessions), labelled non-randomised.
4. Readmission within 12 months as a binary outcome: risk differences (linear probability
   model, HC3) and the ITT odds ratio.
5. Site as a random effect; the partially nested model with a random peer-worker effect in
   the intervention arm only, and its ICC.
6. Mixed model for repeated measures (4 and 12 months, unstructured covariance).
7. Multiple imputation of missing hope (chained equations, Rubin's rules) against complete cases.
8. Hedges' g for hope and empowerment (ready for ``peertrial.meta.escalc``).
9. Subgroups by ethnicity and diagnosis with interaction tests and forest plots.

Every method is checked against R (lm, AER::ivreg, sandwich, lme4, nlme, mice, metafor)
on the fixtures of ``tests/trial``.

Run: ``python analyses/20_trial_effects.py --out DIR``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

import peertrial as pt
from peertrial import PeertrialWarning
from peertrial.plot.trial import consort_diagram, effects_forest, subgroup_effects_forest
from peertrial.report import Section

DATA = Path(__file__).resolve().parents[1] / "simulated_data"
ADJUST = ["hope_0", "site", "diagnosis"]
FACTORS = ["site"]
MI_SEED = 20
COLUMNS = ["estimate", "se", "ci_lb", "ci_ub", "pval", "n"]


def load() -> pd.DataFrame:
    return pd.read_csv(DATA / "trial.csv")


def effects_table(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every population under each adjustment and SE; returns the table and the main fit."""
    specs = [("unadjusted", [], None, None), ("adjusted", ADJUST, None, None),
             ("adjusted, HC3", ADJUST, "HC3", None), ("adjusted, cluster(site)", ADJUST, None, "site")]
    parts, main = [], None
    for label, cov, robust, cluster in specs:
        res = pt.trial.estimate_effects(df, outcome="hope_12", covariates=cov, factors=FACTORS,
                                        robust=robust, cluster=cluster, received="received")
        if label == "adjusted":
            main = res
        parts.append(res[COLUMNS].assign(model=label).set_index("model", append=True))
    return pd.concat(parts).swaplevel(), main


def compliance_text(res: pd.DataFrame) -> str:
    a = res.attrs
    return (f"Compliance (at least 2 sessions) in the peer-support arm: {a['compliance_rate']:.1%}; "
            f"peer support received in the control arm (contamination): {a['contamination']} participant(s). "
            f"First-stage F of the arm in 'received ~ arm + covariates' = {a['first_stage_F']:.1f} "
            "(a strong instrument). The CACE scales the ITT effect by the complier share; as-treated and "
            "per-protocol compare self-selected groups and are not randomised comparisons.")


def mixed_table(df: pd.DataFrame) -> tuple[pd.DataFrame, object]:
    ri = pt.trial.random_intercept(df, "hope_12", group="site", covariates=["hope_0", "diagnosis"])
    pn = pt.trial.partially_nested(df, "hope_12", cluster="peer_worker", covariates=["hope_0", "site", "diagnosis"],
                                   factors=FACTORS, unassigned="own_cluster")
    rows = {}
    for name, fit in (("site random intercept", ri), ("partially nested: peer worker (intervention arm)", pn)):
        rows[name] = {"estimate": fit.estimate, "se": fit.se[fit.term], "ci_lb": fit.ci_lb[fit.term],
                      "ci_ub": fit.ci_ub[fit.term], "pval": fit.pval[fit.term], "tau2": fit.tau2,
                      "sigma2": fit.sigma2, "icc": fit.icc, "clusters": fit.n_groups, "n": fit.n}
    return pd.DataFrame(rows).T.rename_axis("model"), pn


def main(out_dir: Path) -> None:
    # complete-case analyses drop the participants without the outcome; the CONSORT table counts them
    warnings.filterwarnings("ignore", message=r".*rows with missing values in", category=UserWarning)
    df = load()
    sec = Section("Trial effects: ITT, as-treated, per-protocol and CACE", out_dir, slug="20_trial_effects")
    sec.text("Simulated trial (simulated_data/trial.csv): 590 participants, 1:1 randomisation stratified by "
             "site and diagnosis. 'Received' means at least two peer-support sessions. Primary continuous "
             "outcome here: Herth Hope Index at 12 months. Complete-case analyses use the participants with "
             "the outcome observed ('analysed' in the CONSORT table); multiple imputation uses everyone.")

    flow = pt.trial.consort(df, outcome="hope_12", arm_labels=("control", "peer support"), received="received")
    sec.table(flow.table, "CONSORT flow per arm (primary outcome hope_12)", name="consort", digits=0)
    sec.figure(consort_diagram(flow), "consort", "CONSORT flow diagram")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)  # contamination is reported in the text
        table, main_fit = effects_table(df)
        dose = pt.trial.effects_by_use(df, outcome="hope_12", sessions="sessions", covariates=ADJUST,
                                      factors=FACTORS, cuts=(0, 3))
        binary = pt.trial.estimate_effects(df, outcome="readmitted_12m", covariates=ADJUST, factors=FACTORS, received="received")
    sec.text(compliance_text(main_fit))
    sec.code(pt.trial.effects_summary(main_fit))
    sec.table(table, "Effect on hope at 12 months by population, adjustment and standard error", name="effects")
    sec.table(dose[COLUMNS + ["randomised"]],
              "As-treated by level of use (none: 0 sessions, low: 1-3, high: 4+) against all controls, "
              "adjusted; NOT randomised comparisons", name="dose")
    sec.figure(effects_forest(main_fit, extra=dose, title="Hope at 12 months (adjusted)"), "effects",
               "ITT and CACE (randomised, blue) beside as-treated, per-protocol and levels of use (grey)")
    orr = binary.attrs["itt_odds_ratio"]
    sec.table(binary[COLUMNS], "Readmission within 12 months: risk difference by population "
              "(linear probability model, HC3 SE), adjusted", name="readmission_rd")
    sec.text(f"ITT odds ratio of readmission (logistic regression, adjusted): {orr['odds_ratio']:.3f} "
             f"(95% CI {orr['ci_lb']:.3f} to {orr['ci_ub']:.3f}; p = {orr['pval']:.3f}).")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)  # intervention participants never seen: own cluster
        mixed, pn = mixed_table(df)
    sec.table(mixed, "Mixed models for hope at 12 months (REML, as lme4::lmer)", name="mixed")
    sec.text(f"Partially nested model: intervention participants are clustered by peer worker "
             f"({pn.n_groups} clusters, counting participants never seen by a peer worker as clusters of one); "
             f"controls are unclustered. ICC within the intervention arm = {pn.icc:.3f}.")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # participants without any follow-up, named in the flow
        rm = pt.trial.mmrm(df, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"])
    sec.table(rm.effects, "MMRM: treatment effect on hope at each visit (unstructured covariance, REML; "
              "adjusted for baseline hope)", name="mmrm")

    mi = pt.trial.multiple_imputation(df, "hope_12", covariates=["hope_0", "age"], auxiliary=["hope_4"],
                                      m=20, seed=MI_SEED)
    sec.table(mi.effect, "ITT effect on hope at 12 months: multiple imputation (m = 20, Rubin's rules) "
              "against complete cases", name="mi")
    sec.text("Outcomes imputed per arm: " + ", ".join(
        f"{'peer support' if k else 'control'} {v}" for k, v in mi.n_imputed.items())
        + ". Imputation model: hope at 12 months, arm, baseline hope, age and hope at 4 months (auxiliary).")

    g = [pt.trial.hedges_g(df, c) for c in ("hope_12", "empowerment_12")]
    sec.table(pd.concat([x.to_frame() for x in g]), "Standardised mean differences (Hedges' g, as "
              "metafor escalc 'SMD'; peer support minus control)", name="smd")

    for sub in ("ethnicity", "diagnosis"):
        res = pt.trial.subgroup_effects(df, "hope_12", subgroup=sub, covariates=["hope_0"])
        sec.table(res.effects, f"ITT effect on hope at 12 months by {sub} (adjusted for baseline); "
                  f"interaction F({res.df1}, {res.df2}) = {res.F:.2f}, p = {res.pval:.3f}", name=f"subgroup_{sub}")
        sec.figure(subgroup_effects_forest(res), f"subgroup_{sub}", f"Subgroup forest plot by {sub}")
    sec.save()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("output"))
    main(parser.parse_args().out)
