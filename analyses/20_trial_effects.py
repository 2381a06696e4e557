"""Trial effects on hope beyond the analysis plan: robust and clustered SEs, levels of use,
mixed models, MMRM, standardised effects and subgroups by ethnicity.

The ITT, as-treated, per-protocol and CACE estimates, CONSORT flow, multiple imputation and the
binary readmission outcome are in the plan's report (``peertrial analyse simulated_data/plan.toml``);
this script reports what a plan file does not express, on ``simulated_data/trial.csv``:

1. Hope at 12 months with heteroskedasticity-robust (HC3) and site-clustered SEs, ITT,
   as-treated, per-protocol and CACE, adjusted for baseline hope and the stratification factors.
2. As-treated by level of use (none / low / high sessions), labelled non-randomised.
3. Site as a random effect; the partially nested model with a random peer-worker effect in
   the intervention arm only, and its ICC.
4. Mixed model for repeated measures (4 and 12 months, unstructured covariance).
5. Hedges' g for hope and empowerment (ready for ``peertrial.meta.escalc``).
6. Subgroups by ethnicity and diagnosis with interaction tests and forest plots.

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
from peertrial.plot.trial import effects_forest, subgroup_effects_forest
from peertrial.report import Section

DATA = Path(__file__).resolve().parents[1] / "simulated_data"
ADJUST = ["hope_0", "site", "diagnosis"]
FACTORS = ["site"]
COLUMNS = ["estimate", "se", "ci_lb", "ci_ub", "pval", "n"]


def load() -> pd.DataFrame:
    return pd.read_csv(DATA / "trial.csv")


def effects_table(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every population under each adjustment and SE; returns the table and the main fit."""
    # the unadjusted and model-based adjusted estimates are in the plan's report
    specs = [("adjusted, HC3", ADJUST, "HC3", None), ("adjusted, cluster(site)", ADJUST, None, "site")]
    parts, main = [], None
    for label, cov, robust, cluster in specs:
        res = pt.trial.estimate_effects(df, outcome="hope_12", covariates=cov, factors=FACTORS,
                                        robust=robust, cluster=cluster, received="received")
        if label == "adjusted, HC3":
            main = res
        parts.append(res[COLUMNS].assign(model=label).set_index("model", append=True))
    return pd.concat(parts).swaplevel(), main


def mixed_table(df: pd.DataFrame) -> tuple[pd.DataFrame, object]:
    ri = pt.trial.random_intercept(df, "hope_12", group="site", covariates=["hope_0", "diagnosis"])
    pn = pt.trial.partially_nested(df, "hope_12", cluster="peer_worker", covariates=["hope_0", "site", "diagnosis"],
                                   factors=FACTORS, unassigned="own_cluster")
    rows = {}
    for name, fit in (("site random intercept", ri), ("partially nested: peer worker (intervention arm)", pn)):
        rows[name] = {"estimate": fit.estimate, "se": fit.se[fit.term], "ci_lb": fit.ci_lb[fit.term],
                      "ci_ub": fit.ci_ub[fit.term], "df": fit.df[fit.term], "pval": fit.pval[fit.term], "tau2": fit.tau2,
                      "sigma2": fit.sigma2, "icc": fit.icc, "clusters": fit.n_groups, "n": fit.n}
    return pd.DataFrame(rows).T.rename_axis("model"), pn


def main(out_dir: Path) -> None:
    # complete-case analyses drop the participants without the outcome; the CONSORT table counts them
    warnings.filterwarnings("ignore", message=r".*rows with missing values in", category=UserWarning)
    df = load()
    sec = Section("Hope at 12 months: robust SEs, levels of use, mixed models, subgroups", out_dir, slug="20_trial_effects")
    sec.text("Simulated trial (simulated_data/trial.csv), hope at 12 months. The primary analyses (ITT, "
             "as-treated, per-protocol and CACE with model-based SEs, CONSORT flow, multiple imputation) are in "
             "the plan's report; here: other standard errors, levels of use, mixed models, MMRM, standardised "
             "effects and subgroups of hope. Complete-case analyses use the participants with the outcome "
             "observed.")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)  # contamination is reported in the text
        table, main_fit = effects_table(df)
        dose = pt.trial.effects_by_use(df, outcome="hope_12", sessions="sessions", covariates=ADJUST,
                                      factors=FACTORS, cuts=(0, 3))
    sec.table(table, "Effect on hope at 12 months by population with HC3 and site-clustered standard errors "
              "(adjusted for baseline hope, site and diagnosis)", name="effects")
    sec.table(dose[COLUMNS + ["randomised"]],
              "As-treated by level of use (none: 0 sessions, low: 1-3, high: 4+) against all controls, "
              "adjusted; NOT randomised comparisons", name="dose")
    sec.figure(effects_forest(main_fit, extra=dose, title="Hope at 12 months (adjusted, HC3)"), "effects",
               "ITT and CACE (randomised, blue) beside as-treated, per-protocol and levels of use (grey)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)  # intervention participants never seen: own cluster
        mixed, pn = mixed_table(df)
    sec.table(mixed, "Mixed models for hope at 12 months (REML, as lme4::lmer; t tests on Satterthwaite df as lmerTest)", name="mixed")
    sec.text(f"Partially nested model: intervention participants are clustered by peer worker "
             f"({pn.n_groups} clusters, counting participants never seen by a peer worker as clusters of one); "
             f"controls are unclustered. ICC within the intervention arm = {pn.icc:.3f}.")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # participants without any follow-up, named in the flow
        rm = pt.trial.mmrm(df, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"])
    sec.table(rm.effects, "MMRM: treatment effect on hope at each visit (unstructured covariance, REML; "
              "adjusted for baseline hope; t tests on Satterthwaite df)", name="mmrm")

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
