"""
Planning a trial by simulation
==============================

How many participants does a peer-support trial need? Closed-form power for the ITT
effects, beside power by simulating whole trials (non-engagement, clustering by peer worker,
missing follow-up) and analysing each one as the real trial would be analysed.
"""

# %%
import peertrial as pt

truth = pt.simulate.true_effects(seed=1, size=100_000)
print(truth[["risk_control", "risk_peer", "itt_odds_ratio", "itt_hazard_ratio", "itt_hope_12"]])

# %%
# Closed forms: two proportions, Schoenfeld's formula for a hazard ratio.
print(pt.simulate.power_two_proportions(truth["risk_control"], truth["risk_peer"], 300))
print(pt.simulate.power_schoenfeld(truth["itt_hazard_ratio"], events=300))

# %%
# By simulation: 200 trials at each size (use 1,000 or more for a real plan). Every trial
# is fitted at once along a batch axis, so this takes seconds.
curve = pt.simulate.power_curve([300, 600, 1200], n_trials=200, seed=60, progress=False, workers=1)
print(curve)
fig = pt.plot.power_curve_plot(curve)
