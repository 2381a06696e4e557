"""
A trial statistician in a notebook
==================================

The primary and key secondary analyses of a two-arm peer-support trial, as a statistician
would run them in Jupyter (download this page as a notebook at the bottom). The trial is
the simulated one shipped with peertrial: 590 participants in 7 sites, randomised 1:1 in
permuted blocks stratified by site and diagnosis; primary outcome readmission within 12
months; hope (Herth Hope Index) at 4 and 12 months as a continuous secondary outcome.

Conventions used below (see :doc:`/conventions`): ``data`` first, columns named by keyword;
``arm`` is 0 for control and 1 for peer support; every result has ``.summary()`` and
``.to_frame()``.
"""

# %%
# Data and CONSORT flow
# ---------------------
import warnings

import peertrial as pt


def run(analysis, *args, **kwargs):
    """Run one analysis and print the warnings it gives: peertrial states every handling of
    the data (rows dropped, a variance at its bound), and a reader should see them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = analysis(*args, **kwargs)
    for w in caught:
        print(f"{w.category.__name__}: {w.message}")
    return result


trial = pt.simulate.trial(n=590, seed=2017)  # identical to simulated_data/trial.csv
flow = pt.trial.consort(trial, outcome="hope_12", received="received", arm_labels=("control", "peer support"))
print(flow.table)
fig = pt.plot.consort_diagram(flow)

# %%
# Baseline table (Table 1)
# ------------------------
# Means (SD) or counts (%) by arm with standardised differences; no p-values, as CONSORT
# advises for randomised groups.
table1 = pt.randomise.balance_table(trial, arm="arm", variables=["age", "female", "prev_admissions", "hope_0",
                                                               "diagnosis", "ethnicity"])
print(table1)

# %%
# Primary outcome: readmission within 12 months
# ---------------------------------------------
readm = pt.survival.readmission_12m(trial, "readmitted_12m", "arm", covariates=("site", "diagnosis"))
print(readm.summary())

# %%
# Hope at 12 months: ITT, adjusted for baseline and stratification factors
# ------------------------------------------------------------------------
# Complete cases first; the ITT row is the primary estimate, CACE the effect among
# participants who would engage if offered peer support.
eff = run(pt.trial.estimate_effects, trial, outcome="hope_12", received="received", covariates=["hope_0", "diagnosis"],
          factors=["site"])
print(eff[["estimate", "se", "ci_lb", "ci_ub", "pval", "n"]].round(3))

# %%
# Missing outcomes: multiple imputation by chained equations (20 imputations, Rubin's
# rules, as ``mice::pool``) against complete cases.
mi = pt.trial.multiple_imputation(trial, "hope_12", covariates=["hope_0", "age"], auxiliary=["hope_4"], m=20, seed=20)
print(mi.effect[["estimate", "se", "ci_lb", "ci_ub", "pval", "n"]].round(3))

# %%
# Estimands and sensitivity to missing data not at random. The estimand says what the effect
# means (ICH E9(R1)); here participants who leave follow-up are imagined to lose the benefit of
# peer support from then on ("jump to reference", a hypothetical strategy). Reference-based
# multiple imputation (Carpenter, Roger & Kenward 2013, as R's rbmi) imputes their later
# visits from the control arm's mean given their own history.
estimand = pt.trial.Estimand(
    population="adults discharged from acute psychiatric care, as randomised",
    treatment="peer support plus usual care vs usual care", variable="hope score at 12 months",
    intercurrent_events={"lost to follow-up / stopped peer support": "hypothetical"},
    summary_measure="difference in mean hope score, adjusted for baseline",
    description="missing visits after dropout imputed under jump to reference")
j2r = run(pt.trial.reference_based_mi, trial, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"], strategy="JR",
          m=20, seed=20, estimand=estimand)
print(j2r)

# %%
# Tipping point: how much worse than assumed under MAR would the intervention arm's missing
# outcomes have to be for the conclusion to change? ``tipping_point`` adds a delta to the
# values imputed after dropout in the intervention arm and finds, by bisection, where the
# p-value crosses 0.05.
tp = run(pt.trial.tipping_point, trial, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"], strategy="MAR",
         m=20, seed=20)
print(f"tipping point: delta = {tp.tipping_delta:.2f}")
fig = tp.plot()

# %%
# Clustering by peer worker: the partially nested model (a random peer-worker effect in the
# intervention arm only, as ``nlme::lme`` with a dummy-coded random slope). Intervention
# participants never seen by a peer worker have no ``peer_worker``; ``unassigned="own_cluster"``
# makes each of them a cluster of one (the call refuses to guess without it).
pn = run(pt.trial.partially_nested, trial, "hope_12", cluster="peer_worker", covariates=["hope_0", "diagnosis"],
         unassigned="own_cluster")
print(f"effect {pn.estimate:.2f} (SE {pn.se[pn.term]:.2f}); ICC among peer workers {pn.icc:.3f}")

# %%
# Repeated measures: hope at 4 and 12 months in one mixed model (unstructured covariance).
rm = run(pt.trial.mmrm, trial, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"])
print(rm.effects)

# %%
# Standardised effect for future meta-analyses: Hedges' g as ``metafor::escalc("SMD")``.
print(run(pt.trial.hedges_g, trial, "hope_12").to_frame())

# %%
# Subgroups, with the interaction test (the only valid test of a difference between them).
sub = run(pt.trial.subgroup_effects, trial, "hope_12", subgroup="diagnosis", covariates=["hope_0"])
print(f"interaction F({sub.df1}, {sub.df2}) = {sub.F:.2f}, p = {sub.pval:.3f}")
fig = pt.plot.subgroup_effects_forest(sub)
