"""Subgroup forest plot: headers, studies, subtotals per subgroup, overall and the Q-between test."""

import numpy as np

import peertrial as pt


def test_subgroup_forest_layout():
    df = pt.datasets.load("bcg")
    es = pt.meta.escalc("RR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    sg = pt.meta.subgroup(es, by="alloc", slab="author")
    fig = pt.plot.subgroup_forest(sg, transf=np.exp, xlabel="Risk ratio")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "alloc: alternate"
    assert sum(lab.strip().startswith("Subtotal") for lab in labels) == 3
    assert labels[-1].startswith("Overall (REML, k = 13)")
    assert len(labels) == 13 + 3 + 3 + 1
    assert "Test for subgroup differences" in ax.get_title(loc="left")
    texts = [t.get_text() for t in ax.texts]
    o = sg.overall
    assert f"{np.exp(o.b):.2f} [{np.exp(o.ci_lb):.2f}, {np.exp(o.ci_ub):.2f}]" in texts


def test_subgroup_forest_study_intervals_use_the_analysis_level():
    # study rows were drawn at 95% while the subtotals and overall used the analysis's level
    df = pt.datasets.load("bcg")
    es = pt.meta.escalc("RR", data=df, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    sg = pt.meta.subgroup(es, by="alloc", level=90)
    fig = pt.plot.subgroup_forest(sg)
    texts = {t.get_text() for t in fig.axes[0].texts}
    yi, vi = es["yi"].to_numpy(), es["vi"].to_numpy()
    half = 1.6448536269514722 * np.sqrt(vi[0])
    assert f"{yi[0]:.2f} [{yi[0] - half:.2f}, {yi[0] + half:.2f}]" in texts
    o = sg.overall
    assert o.level == 90
    assert f"{o.b:.2f} [{o.ci_lb:.2f}, {o.ci_ub:.2f}]" in texts
