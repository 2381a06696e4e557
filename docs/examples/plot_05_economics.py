"""
Cost-benefit and cost-effectiveness
===================================

Two questions a commissioner asks: how much is saved per pound spent on peer workers
(cost–benefit), and what does a quality-adjusted life year gained cost
(cost-effectiveness, with bootstrap uncertainty, the CE plane and the acceptability curve).
"""

# %%
# Cost–benefit
# ------------
# Benefit per unit cost, as in "1:4.76": bed days saved valued at a unit cost, over the
# cost of the service.
import peertrial as pt

cb = pt.econ.cost_benefit_ratio(cost=30_000, benefit=pt.econ.bed_day_savings(344, 415))
print(cb.summary())

# %%
# Across six (simulated) bed-use studies, the pooled ratio is total benefit over total cost,
# with a bootstrap interval over studies.
studies = pt.simulate.bed_use_studies(k=6, seed=2013)
pooled = pt.econ.pooled_ratio(studies, cost="cost", benefit="benefit", study="study",
                              uncertainty="bootstrap", n_boot=2000, seed=1)
print(pooled.summary())

# %%
# Trial-based cost-effectiveness
# ------------------------------
# Incremental cost and QALYs of peer support from the trial, resampling participants within
# arm (cost and QALY together) 2,000 times.
trial = pt.simulate.trial(n=590, seed=2017)
ce = pt.econ.cea(trial, cost="cost_total", effect="qaly", arm="arm", n_boot=2000, seed=1)
print(ce.summary())
print(ce.ceac([0, 10_000, 20_000, 30_000]))

# %%
fig = pt.plot.ce_plane(ce, wtp=20_000)

# %%
fig = pt.plot.ceac(ce)
