"""Forest plot rendering and the ``peertrial meta`` command."""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.cli import main
from peertrial.plot import save
from peertrial.plot.meta import forest

matplotlib.use("Agg")


def means_data(k=8, seed=11):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "study": [f"Trial {i + 1}" for i in range(k)],
        "n1i": rng.integers(20, 90, k), "m1i": rng.normal(32, 1.5, k), "sd1i": rng.uniform(5, 8, k),
        "n2i": rng.integers(20, 90, k), "m2i": rng.normal(30, 1.5, k), "sd2i": rng.uniform(5, 8, k),
    })


def tables_data():
    return pd.DataFrame({"study": list("ABCDE"), "ai": [4, 0, 9, 12, 3], "bi": [30, 25, 40, 50, 20],
                         "ci": [8, 2, 14, 20, 6], "di": [26, 24, 35, 44, 18]})


def test_forest_study_rows_diamond_and_pi(tmp_path):
    d = means_data()
    es = pt.meta.escalc("SMD", data=d, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    fit = pt.meta.rma("yi", "vi", data=es, slab="study")
    fig = forest(fit, title="Hope")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    assert all(f"Trial {i + 1}" in texts for i in range(8))
    assert any("Random-effects model (REML)" in t for t in texts)
    assert any("prediction interval" in t for t in texts)
    assert any(t.startswith("Heterogeneity:") and "I²" in t for t in texts)
    pr = fit.predict()
    assert any(f"{fit.b:.2f} [{fit.ci_lb:.2f}, {fit.ci_ub:.2f}]" in t for t in texts)
    assert any(f"[{pr.pi_lb:.2f}, {pr.pi_ub:.2f}]" in t for t in texts)
    weights = fit.weights_percent()
    assert any(f"{weights.iloc[0]:5.1f}%" == t for t in texts)
    for ext in ("png", "svg", "pdf"):
        path = save(fig, tmp_path / f"forest.{ext}")
        assert path.stat().st_size > 1000
    first = (tmp_path / "forest.png").read_bytes()
    save(forest(fit, title="Hope"), tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == first


def test_forest_back_transforms_ratio_measures():
    es = pt.meta.escalc("OR", data=tables_data(), ai="ai", bi="bi", ci="ci", di="di")
    fit = pt.meta.rma("yi", "vi", data=es, slab="study")
    fig = forest(fit)
    ax = fig.axes[1]
    assert ax.get_xscale() == "log"
    texts = [t.get_text() for a in fig.axes for t in a.texts]
    assert any(f"{np.exp(fit.b):.2f} [{np.exp(fit.ci_lb):.2f}, {np.exp(fit.ci_ub):.2f}]" in t for t in texts)
    assert "Odds ratio" in ax.get_xlabel()
    mh = pt.meta.rma_mh(data=tables_data(), ai="ai", bi="bi", ci="ci", di="di", slab="study")
    texts = [t.get_text() for a in forest(mh).axes for t in a.texts]
    assert any("Mantel-Haenszel model" in t for t in texts)


def test_cli_meta_smd_with_forest_and_json(tmp_path, capsys):
    d = means_data()
    csv = tmp_path / "trials.csv"
    d.to_csv(csv, index=False)
    out_png, out_json = tmp_path / "f.png", tmp_path / "r.json"
    rc = main(["meta", str(csv), "--measure", "SMD", "--method", "REML", "--test", "knha",
               "--forest", str(out_png), "--json", str(out_json)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Random-Effects Model (k = 8; tau^2 estimator: REML)" in printed and "tval" in printed
    es = pt.meta.escalc("SMD", data=d, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    fit = pt.meta.rma("yi", "vi", data=es, test="knha")
    res = json.loads(out_json.read_text())
    res = res["rma"]
    assert res["b"] == pytest.approx(fit.b, rel=1e-12) and res["tau2"] == pytest.approx(fit.tau2, rel=1e-12)
    assert res["dfs"] == 7 and len(res["studies"]) == 8 and res["studies"][0]["slab"] == "Trial 1"
    assert out_png.stat().st_size > 1000


def test_cli_generic_and_mantel_haenszel(tmp_path, capsys):
    gen = pd.DataFrame({"study": list("ABCD"), "yi": [0.1, 0.4, 0.2, -0.1], "vi": [0.02, 0.03, 0.01, 0.05]})
    gen.to_csv(tmp_path / "g.csv", index=False)
    assert main(["meta", str(tmp_path / "g.csv"), "--measure", "GEN", "--method", "DL"]) == 0
    assert "tau^2 estimator: DL" in capsys.readouterr().out
    tables_data().to_csv(tmp_path / "t.csv", index=False)
    assert main(["meta", str(tmp_path / "t.csv"), "--measure", "OR", "--method", "MH"]) == 0
    assert "Mantel-Haenszel" in capsys.readouterr().out


def test_cli_bad_input_exits_with_message(tmp_path, capsys):
    d = means_data().assign(sd1i=-1.0)
    d.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["meta", str(tmp_path / "bad.csv"), "--measure", "SMD"]) == 1
    assert "'sd1i'" in capsys.readouterr().err
    assert main(["meta", str(tmp_path / "missing.csv")]) == 1
