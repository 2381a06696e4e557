"""
Fidelity of peer support
========================

Fidelity index ratings (15 items, three for each of five principles, scored 1–4) of
recorded sessions by two raters: domain and total scores per peer worker, internal
consistency (Cronbach's alpha with Feldt intervals, as ``psych::alpha``) and inter-rater
reliability (ICC in the Shrout–Fleiss forms, as ``psych::ICC``).
"""

# %%
import peertrial as pt

ratings = pt.simulate.fidelity_ratings(n=590, seed=2017)
print(ratings.head())
scores = pt.fidelity.score_fidelity(ratings, scale=(1, 4))
print(scores.summary())

# %%
fig = pt.plot.fidelity_profile(scores)

# %%
alpha = pt.fidelity.cronbach_alpha(scores)
print(alpha.summary())

# %%
# The ICC uses the sessions both raters scored; sessions rated by one rater are left out
# with a warning that counts them.
icc = pt.fidelity.icc(scores, ratings="total")
print(icc.summary())
