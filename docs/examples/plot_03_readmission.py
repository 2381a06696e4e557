"""
Readmission within 12 months
============================

Readmission to hospital in the year after randomisation, analysed four ways: as a binary
outcome (risk difference, risk ratio, adjusted odds ratio), as time to first readmission
(Kaplan–Meier, log-rank, Cox), with death or discharge elsewhere as a competing risk
(cumulative incidence, Gray's test, Fine–Gray), and as a count of readmissions per
person-time (negative binomial) and its mean cumulative function. Each equals R: ``glm``, ``survival::survfit``,
``survdiff``, ``coxph``, ``cmprsk::cuminc``, ``crr`` and ``MASS::glm.nb``.
"""

# %%
import peertrial as pt

trial = pt.simulate.trial(n=590, seed=2017)
trial["readmitted"] = (trial["readmit_status"] == 1).astype(int)

# %%
# Binary outcome
# --------------
# Proportions per arm, the risk difference and risk ratio, and the odds ratio adjusted
# for the stratification factors (logistic regression, as R's ``glm(family=binomial)``).
binary = pt.survival.readmission_12m(trial, "readmitted_12m", "arm", covariates=("site", "diagnosis"))
print(binary.summary())

# %%
# Time to first readmission
# -------------------------
# Kaplan–Meier curves with Greenwood log-scale intervals and a numbers-at-risk table.
km = pt.survival.kaplan_meier(trial, "readmit_time", "readmitted", "arm")
print(km.at([90, 180, 365]))
print(pt.survival.logrank(trial, "readmit_time", "readmitted", "arm").summary())
fig = pt.plot.km_plot(km)

# %%
# The Cox model gives the hazard ratio; ``cluster="site"`` gives R's robust (sandwich) SE.
cox = pt.survival.cox(trial, "readmit_time", "readmitted", ["arm"], cluster="site")
print(cox.summary())

# %%
# Competing risks
# ---------------
# ``readmit_status`` codes 1 for readmission and 2 for the competing event; 0 is censoring.
ci = pt.survival.cuminc(trial, "readmit_time", "readmit_status", "arm", cencode=0)
print(ci.gray_test)
fig = pt.plot.cuminc_plot(ci, labels={0: "Care as usual", 1: "Peer support"},
                          cause_labels={1: "readmission", 2: "competing event"})

# %%
# Recurrent readmissions
# ----------------------
# The number of readmissions per day of follow-up, as a negative binomial rate ratio.
counts = pt.survival.count_ratio(trial, "readmissions", "arm", exposure="followup_days")
print(counts.summary())

# %%
# With one row per readmission, the mean cumulative function (the expected number of
# readmissions per person by each day, a Nelson–Aalen-type estimate with robust limits)
# shows when they accrue. ``pt.simulate.readmission_episodes`` gives the simulated trial's
# readmissions in that layout (the shipped ``simulated_data/readmissions_long.csv``): one row
# per readmission and one closing each participant's follow-up.
events = pt.simulate.readmission_episodes(trial, seed=2017)
fit = pt.survival.mcf(events, id="id", time="day", event="readmission", group="arm")
print(fit.at([180, 365]))
fig = fit.plot(labels={0: "Care as usual", 1: "Peer support"})
