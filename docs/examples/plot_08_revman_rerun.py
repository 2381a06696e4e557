"""
Re-running a Cochrane review from its RevMan file
=================================================

``pt.meta.read_revman`` reads a RevMan 5 file (``.rm5``), its CSV export or a Cochrane data
package, lists the outcomes with the totals RevMan printed, and ``rerun()`` recomputes each
analysis with RevMan's own method, flagging any that do not agree. The same from the shell:
``peertrial meta review FILE.rm5``.

The data: the aspirin-after-myocardial-infarction trials of Fleiss (1993), written here as a
RevMan 5 CSV export with the Mantel–Haenszel odds ratio RevMan stored.
"""

# %%
import tempfile
from pathlib import Path

import peertrial as pt

rows = [
    "Comparison Number,Outcome Number,Subgroup Number,Name,Data Type,Statistical Method,"
    "Effect Measure,Analysis Model,Events 1,Total 1,Events 2,Total 2,Effect Estimate,CI Start,"
    "CI End,Q,P(Q),I\u00b2(Q),Tau\u00b2,Z,P(Z),df,Year of study",
    "1,0,0,Aspirin versus placebo after myocardial infarction,,,,,,,,,,,,,,,,,,,",
    "1,1,0,Death,DIC,MH,OR,Fixed,2128,14186,2286,13817,0.89686556,0.8405144,0.95699471,"
    "9.94605598,0.12694225,39.67458046,0,3.28763306,0.00101033,6,",
    "1,1,0,MRC-1,,,,,49,615,67,624,,,,,,,,,,,1974",
    "1,1,0,CDP,,,,,44,758,64,771,,,,,,,,,,,1976",
    "1,1,0,MRC-2,,,,,102,832,126,850,,,,,,,,,,,1979",
    "1,1,0,GASP,,,,,32,317,38,309,,,,,,,,,,,1979",
    "1,1,0,PARIS,,,,,85,810,52,406,,,,,,,,,,,1980",
    "1,1,0,AMIS,,,,,246,2267,219,2257,,,,,,,,,,,1980",
    "1,1,0,ISIS-2,,,,,1570,8587,1720,8600,,,,,,,,,,,1988",
]
path = Path(tempfile.mkdtemp()) / "aspirin.csv"
path.write_text("\n".join(rows) + "\n", encoding="utf-8")

review = pt.meta.read_revman(path)
print(review.outcomes[["outcome", "measure", "method", "k", "estimate"]])

# %%
# Re-run with RevMan's method (Mantel–Haenszel odds ratio, fixed effect) and compare.
rerun = review.rerun()
print(rerun[["revman_estimate", "peertrial_estimate", "agree"]])

# %%
# The per-study data are ordinary metafor-style columns, so any other analysis follows:
# here a REML random-effects model of the log odds ratio with Knapp–Hartung intervals.
studies = review.studies(1, "Death")
es = pt.meta.escalc("OR", data=studies, ai="ai", n1i="n1i", ci="ci", n2i="n2i")
fit = pt.meta.rma("yi", "vi", data=es, method="REML", test="knha", slab="study", measure="OR")
print(fit.summary())
fig = pt.plot.forest(fit)
