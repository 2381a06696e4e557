"""The reviewer CLI (`peertrial meta DATA.csv ...`) equals the Python API on metafor's dat.bcg
with its own column names (tpos/tneg/cpos/cneg, author, year)."""

import json

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.cli import build_parser, main

FLAGS = ["--ai", "tpos", "--bi", "tneg", "--ci", "cpos", "--di", "cneg"]


@pytest.fixture()
def bcg_csv(tmp_path):
    path = tmp_path / "bcg.csv"
    pt.datasets.load("bcg").to_csv(path, index=False)
    return path


def _frame_equal(records, frame):
    got = pd.DataFrame(records).set_index(frame.index.name or "study")
    got.index = got.index.astype(str)
    for col in frame.columns:
        if frame[col].dtype == bool:
            assert got[col].tolist() == frame[col].tolist()
        else:
            np.testing.assert_allclose(got[col].astype(float), frame[col].astype(float), rtol=1e-12, equal_nan=True)
    assert list(got.index) == [str(i) for i in frame.index]


def test_cli_rr_with_every_analysis_equals_the_api(bcg_csv, tmp_path, capsys):
    out_json, csv_dir = tmp_path / "r.json", tmp_path / "tables"
    argv = ["meta", str(bcg_csv), "--measure", "RR", *FLAGS, "--slab", "author", "--year", "year", "--regtest",
            "--ranktest", "--trimfill", "--leave1out", "--influence", "--cumul", "year", "--subgroup", "alloc",
            "--funnel", str(tmp_path / "funnel.png"), "--forest", str(tmp_path / "forest.png"),
            "--csv", str(csv_dir), "--json", str(out_json)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Leave-one-out" in printed and "Trim and fill" in printed and "Subgroup analysis" in printed
    res = json.loads(out_json.read_text())
    assert set(res) >= {"rma", "regtest", "ranktest", "trimfill", "leave1out", "influence", "cumul", "subgroup"}

    bcg = pt.datasets.load("bcg")
    es = pt.meta.escalc("RR", bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    labels = bcg["author"] + ", " + bcg["year"].astype(str)
    fit = pt.meta.rma("yi", "vi", data=es, slab=labels.to_numpy())
    assert res["rma"]["b"] == pytest.approx(fit.b, rel=1e-12)
    assert res["rma"]["tau2"] == pytest.approx(fit.tau2, rel=1e-12)
    assert res["rma"]["studies"][0]["slab"] == "Aronson, 1948"
    # metafor: rma(measure="RR", ai=tpos, ...) on dat.bcg gives -0.7145 and tau2 0.3132
    assert fit.b == pytest.approx(-0.714532, abs=1e-6) and fit.tau2 == pytest.approx(0.313243, abs=1e-6)
    rt = pt.meta.regtest(fit)
    assert res["regtest"]["pval"] == pytest.approx(rt.pval, rel=1e-12)
    assert res["ranktest"]["pval"] == pytest.approx(pt.meta.ranktest(fit).pval, rel=1e-12)
    tf = pt.meta.trimfill(fit)
    assert res["trimfill"]["k0"] == tf.k0 and res["trimfill"]["b"] == pytest.approx(tf.b, rel=1e-12)
    _frame_equal(res["leave1out"], pt.meta.leave1out(fit))
    _frame_equal(res["influence"], pt.meta.influence(fit))
    _frame_equal(res["cumul"], pt.meta.cumul(fit, order="year"))
    sg = pt.meta.subgroup(es, "alloc", slab=labels.to_numpy())
    assert res["subgroup"]["Qb"] == pytest.approx(sg.Qb, rel=1e-12)
    assert [g[sg.groups.index.name] for g in res["subgroup"]["groups"]] == list(sg.groups.index)
    for name in ("studies", "rma", "heterogeneity", "regtest", "ranktest", "trimfill", "leave1out", "influence",
                 "cumul", "subgroup"):
        assert (csv_dir / f"{name}.csv").stat().st_size > 20
    loo = pd.read_csv(csv_dir / "leave1out.csv", index_col=0)
    np.testing.assert_allclose(loo["estimate"], pt.meta.leave1out(fit)["estimate"], rtol=1e-12)
    assert (tmp_path / "funnel.png").stat().st_size > 1000 and (tmp_path / "forest.png").stat().st_size > 1000


def test_cli_mantel_haenszel_diagnostics_and_duplicate_labels(bcg_csv, tmp_path, capsys):
    out_json = tmp_path / "mh.json"
    argv = ["meta", str(bcg_csv), "--measure", "OR", "--method", "MH", *FLAGS, "--slab", "author", "--regtest",
            "--leave1out", "--cumul", "year", "--subgroup", "alloc", "--json", str(out_json)]
    assert main(argv) == 0
    capsys.readouterr()
    res = json.loads(out_json.read_text())
    bcg = pt.datasets.load("bcg")
    fit = pt.meta.rma_mh(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", slab="author")
    # two "Rosenthal et al" and two "Comstock et al" rows: unique as metafor's .make.unique
    assert [s["slab"] for s in res["rma"]["studies"]][2] == "Rosenthal et al.1"
    assert list(fit.slab)[9:] == ["Rosenthal et al.2", "Comstock et al.1", "Comstock & Webster", "Comstock et al.2"]
    assert res["rma"]["b"] == pytest.approx(fit.b, rel=1e-12)
    assert res["regtest"]["zval" if "zval" in res["regtest"] else "statistic"] == pytest.approx(-5.2839930592208,
                                                                                                rel=1e-9)
    _frame_equal(res["leave1out"], pt.meta.leave1out(fit))
    _frame_equal(res["cumul"], pt.meta.cumul(fit, order="year"))
    sg = pt.meta.subgroup(fit, bcg["alloc"].to_numpy())
    assert res["subgroup"]["Qb"] == pytest.approx(sg.Qb, rel=1e-12)
    for g, row in sg.groups.iterrows():
        sub = pt.meta.rma_mh(bcg[bcg["alloc"] == g], ai="tpos", bi="tneg", ci="cpos", di="cneg")
        assert row["estimate"] == pytest.approx(sub.b, rel=1e-12)
    assert main(["meta", str(bcg_csv), "--measure", "OR", "--method", "MH", *FLAGS, "--influence"]) == 1
    assert "influence is not available" in capsys.readouterr().err
    assert main(["meta", str(bcg_csv), "--method", "PETO", *FLAGS, "--trimfill"]) == 1
    assert "trimfill is not available" in capsys.readouterr().err


def test_cli_names_unknown_columns_and_unknown_measure(bcg_csv, capsys):
    assert main(["meta", str(bcg_csv)]) == 1
    assert "--ai tpos" in capsys.readouterr().err
    assert main(["meta", str(bcg_csv), "--measure", "RR", "--ai", "events", "--bi", "tneg", "--ci", "cpos",
                 "--di", "cneg"]) == 1
    assert "--ai 'events' is not a column" in capsys.readouterr().err


def test_every_option_has_help_and_the_help_shows_an_example(capsys):
    parser = build_parser()
    meta = parser._subparsers._group_actions[0].choices["meta"]
    for action in meta._actions:
        if action.dest != "help":
            assert action.help, action.dest
    with pytest.raises(SystemExit):
        main(["meta", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "--ai tpos --bi tneg --ci cpos --di cneg" in text


def test_cli_other_escalc_measures_use_metafor_argument_flags(tmp_path, capsys):
    d = pd.DataFrame({"authors": ["A", "B", "C", "D"], "events": [16, 10, 4, 43], "n": [17, 12, 8, 58]})
    d.to_csv(tmp_path / "p.csv", index=False)
    out = tmp_path / "p.json"
    assert main(["meta", str(tmp_path / "p.csv"), "--measure", "PLO", "--xi", "events", "--ni", "n",
                 "--slab", "authors", "--json", str(out)]) == 0
    capsys.readouterr()
    es = pt.meta.escalc("PLO", d, xi="events", ni="n")
    fit = pt.meta.rma("yi", "vi", data=es, slab="authors")
    res = json.loads(out.read_text())["rma"]
    assert res["b"] == pytest.approx(fit.b, rel=1e-12) and res["studies"][0]["slab"] == "A"
