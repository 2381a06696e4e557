"""RevMan-layout forest plots (pt.plot.revman_forest), `--layout revman`, study labels from a
study column in pt.plot.forest."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.cli import main

matplotlib.use("Agg")


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for sub in getattr(fig, "subfigs", []):
        out += _texts(sub)
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
    return out


@pytest.fixture()
def bcg():
    return pt.datasets.load("bcg")


def test_subgroup_blocks_subtotals_and_test_for_differences(bcg):
    fit = pt.meta.rma_mh(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="RR",
                         slab=bcg["author"] + " " + bcg["year"].astype(str))
    fig = pt.plot.revman_forest(fit, subgroup=bcg["alloc"], favours=("vaccine", "control"))
    texts = _texts(fig)
    sg = pt.meta.subgroup(fit, bcg["alloc"].to_numpy())
    assert texts.count("Subtotal (95% CI)") == 3 and "Total (95% CI)" in texts
    assert f"Test for subgroup differences: Chi² = {sg.Qb:.2f}, df = 2 (P = 0.0006), I² = 86.5%" in texts
    for g, row in sg.groups.iterrows():  # noqa: B007
        assert f"{np.exp(row['estimate']):.2f} [{np.exp(row['ci_lb']):.2f}, {np.exp(row['ci_ub']):.2f}]" in texts
    # events and totals per arm from the MH tables, with the arm headers
    assert {"Experimental", "Control", "Events", "Total"} <= set(texts)
    assert "1065" in texts and "166283" in texts  # column totals of the Total row
    assert "Heterogeneity: Chi² = 152.57, df = 12 (P < 0.00001); I² = 92%" in texts
    assert fig.axes[1].get_xscale() == "log"


def test_ilab_means_and_ax(bcg):
    d = pd.DataFrame({"study": list("ABCDE"), "m1i": [5, 4.9, 22.5, 12.5, 6.5], "sd1i": [4.7, 1.71, 3.44, 1.47, 0.76],
                      "n1i": [13, 30, 35, 20, 8], "m2i": [6.5, 6.1, 24.9, 12.3, 7.38],
                      "sd2i": [3.8, 2.3, 10.65, 1.66, 1.41], "n2i": [13, 50, 35, 20, 8]})
    es = pt.meta.escalc("MD", d, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    fit = pt.meta.rma("yi", "vi", data=es, method="EE", slab="study")
    ilab = pt.meta.arm_columns(d, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i",
                               labels=("Treatment", "Control"))
    fig, ax = pt.plot.subplots(1, 1, figsize=(11, 4))
    out = pt.plot.revman_forest(fit, ilab=ilab, ax=ax)
    assert out is fig
    texts = _texts(fig)
    assert {"Treatment", "Mean", "SD", "Total"} <= set(texts) and "4.7" in texts
    assert "-0.71 [-1.26, -0.16]" in texts  # Fleiss (1993) MD, as RevMan 5 reports it
    with pytest.raises(ValueError, match="ilab has 2 rows"):
        pt.plot.revman_forest(fit, ilab=ilab.iloc[:2])


def test_forest_labels_from_a_study_column(bcg):
    es = pt.meta.escalc("RR", bcg.rename(columns={"author": "study"}), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    fit = pt.meta.rma("yi", "vi", data=es)
    texts = _texts(pt.plot.forest(fit))
    assert "Aronson" in texts and "Rosenthal et al.1" in texts and "Rosenthal et al.2" in texts
    assert not any(t.startswith("Study 1") for t in texts)


def test_cli_layout_revman(tmp_path, bcg, capsys):
    path = tmp_path / "bcg.csv"
    bcg.to_csv(path, index=False)
    png = tmp_path / "forest.png"
    assert main(["meta", str(path), "--measure", "RR", "--method", "MH", "--ai", "tpos", "--bi", "tneg", "--ci",
                 "cpos", "--di", "cneg", "--slab", "author", "--year", "year", "--subgroup", "alloc",
                 "--forest", str(png), "--layout", "revman"]) == 0
    assert png.stat().st_size > 10000
    capsys.readouterr()


def test_forest_ilab_columns(bcg):
    es = pt.meta.escalc("RR", bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    fit = pt.meta.rma("yi", "vi", data=es, slab="author")
    ilab = pt.meta.arm_columns(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg").assign(Year=bcg["year"])
    texts = _texts(pt.plot.forest(fit, ilab=ilab))
    assert {"Experimental", "Control", "Events", "Total", "Year"} <= set(texts)
    assert "13598" in texts and "1948" in texts
    with pytest.raises(ValueError, match="ilab has 3 rows"):
        pt.plot.forest(fit, ilab=ilab.iloc[:3])
