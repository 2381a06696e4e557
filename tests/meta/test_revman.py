"""RevMan 5 import and re-analysis (pt.meta.read_revman, Review.rerun, `peertrial meta review`).

Test files (fixtures/revman/, written by make_revman_fixtures.R): one review in four
formats (.rm5, RevMan 5 CSV export, that export zipped, and a Cochrane data package as
RevMan Web exports it) with RevMan's stored totals computed as
RevMan 5 does from metafor (rma.mh, rma.peto, rma); data from metadat (dat.bcg,
dat.nielweise2007) and Fleiss (1993). The aspirin and mental-health analyses are also
checked against the numbers RevMan 5.0.23 itself stored for them (transcribed below).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial.cli import main

HERE = Path(__file__).parent / "fixtures" / "revman"
FILES = ["test_review.rm5", "test_review.csv", "test_review.zip", "CD000001-dataPackage.zip"]


@pytest.fixture(scope="module", params=FILES)
def review(request):
    return pt.meta.read_revman(HERE / request.param)


def test_outcomes_table(review):
    out = review.outcomes
    assert len(out) == 16  # 10 outcomes + 3 + 3 subgroups
    first = out.iloc[0]
    assert first["comparison"] == "BCG vaccine versus no vaccine" and first["outcome"] == "Tuberculosis"
    assert (first["data_type"], first["measure"], first["method"], first["model"]) == ("DICH", "RR", "MH", "fixed")
    assert first["k"] == 13 and first["events_1"] == 1065 and first["total_2"] == 166283
    assert list(out.loc[out["outcome_no"].eq(1) & out["comparison_no"].eq(1), "subgroup"]) == [
        "", "random", "alternate", "systematic"]
    assert np.isfinite(first["subgroup_chi2"]) and first["subgroup_pval"] < 0.01
    smd = out[(out["comparison_no"] == 3) & (out["outcome_no"] == 2)].iloc[0]
    assert (smd["data_type"], smd["measure"], smd["model"]) == ("CONT", "SMD", "random")


def test_rerun_reproduces_every_stored_total(review):
    table = review.rerun()
    assert len(table) == 16
    assert table["agree"].all(), table.loc[~table["agree"], ["comparison_no", "outcome_no", "subgroup_no"]]
    for stat in ("estimate", "ci_lb", "ci_ub", "chi2", "I2", "tau2", "z"):
        mine, theirs = table[f"peertrial_{stat}"], table[f"revman_{stat}"]
        np.testing.assert_allclose(mine, theirs, rtol=2e-6, atol=1e-8)


def test_rerun_equals_revman_5_own_numbers_for_fleiss_1993():
    review = pt.meta.read_revman(HERE / "test_review.rm5")
    t = review.rerun().set_index(["comparison_no", "outcome_no", "subgroup_no"])
    # RevMan 5.0.23, Fleiss (1993) aspirin review, MH odds ratio, fixed effect
    asp = t.loc[(2, 1, 0)]
    for stat, value in {"estimate": 0.8968655609130709, "ci_lb": 0.8405144008917793, "ci_ub": 0.9569947088336491,
                        "chi2": 9.946055983220074, "chi2_pval": 0.1269422521561745, "I2": 39.67458045558399,
                        "z": 3.287633061337987, "z_pval": 0.0010103343130005407}.items():
        # RevMan's p-values are approximations good to ~1e-6 relative
        assert asp[f"peertrial_{stat}"] == pytest.approx(value, rel=1e-6 if "pval" in stat else 1e-9), stat
    assert asp["agree"]
    # RevMan 5 CSV export of the same review, mental health MD, inverse variance, fixed effect
    md = t.loc[(3, 1, 0)]
    for stat, value in {"estimate": -0.70938839, "ci_lb": -1.25848502, "ci_ub": -0.16029176, "chi2": 5.66012379,
                        "chi2_pval": 0.22600895, "I2": 29.33016758, "z": 2.53211477, "z_pval": 0.01133769}.items():
        assert md[f"peertrial_{stat}"] == pytest.approx(value, abs=5e-9, rel=1e-6 if "pval" in stat else 0), stat


def test_disagreement_is_flagged(tmp_path):
    text = (HERE / "test_review.rm5").read_text()
    changed = text.replace('EFFECT_SIZE="0.89686556091307', 'EFFECT_SIZE="0.89786556091307', 1)
    assert changed != text
    (tmp_path / "changed.rm5").write_text(changed)
    t = pt.meta.read_revman(tmp_path / "changed.rm5").rerun().set_index(["comparison_no", "outcome_no",
                                                                          "subgroup_no"])
    assert not t.loc[(2, 1, 0), "agree"]
    assert t.drop(index=(2, 1, 0))["agree"].all()


def test_studies_are_ready_for_the_api():
    review = pt.meta.read_revman(HERE / "test_review.rm5")
    s = review.studies(1, "Tuberculosis")
    assert list(s.columns[:10]) == ["study", "year", "subgroup_no", "subgroup", "ai", "bi", "ci", "di", "n1i", "n2i"]
    assert s["study"].iloc[0] == "Aronson 1948" and s["year"].iloc[0] == 1948
    bcg = pt.datasets.load("bcg")
    fit = pt.meta.rma_mh(s, ai="ai", bi="bi", ci="ci", di="di", measure="RR", slab="study")
    ref = pt.meta.rma_mh(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="RR")
    assert fit.b == pytest.approx(ref.b, rel=1e-12)
    cont = review.studies("Mental health treatment versus control", 2)
    es = pt.meta.escalc("MD", cont, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    assert es["yi"].iloc[0] == pytest.approx(-1.5)
    gen = review.studies(1, 6)
    assert gen["yi"].iloc[0] == pytest.approx(np.log(4 / 123) - np.log(11 / 139), rel=1e-12)
    with pytest.raises(ValueError, match="no outcome"):
        review.studies(1, 99)
    with pytest.raises(ValueError, match="no comparison"):
        review.studies(9, 1)


def test_rerun_with_reml_knha_and_prediction_intervals():
    review = pt.meta.read_revman(HERE / "test_review.rm5")
    t = review.rerun(method="REML", test="knha").set_index(["comparison_no", "outcome_no", "subgroup_no"])
    es = pt.meta.escalc("RR", pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    fit = pt.meta.rma("yi", "vi", data=es, method="REML", test="knha")
    pred = fit.predict()
    row = t.loc[(1, 1, 0)]
    assert row["estimate"] == pytest.approx(np.exp(fit.b), rel=1e-10)
    assert row["tau2"] == pytest.approx(fit.tau2, rel=1e-10)
    assert row["pi_lb"] == pytest.approx(np.exp(float(np.ravel(pred.pi_lb)[0])), rel=1e-10)
    assert row["pi_ub"] == pytest.approx(np.exp(float(np.ravel(pred.pi_ub)[0])), rel=1e-10)
    # metafor: rma(measure="RR", ai=tpos, ..., data=dat.bcg, test="knha") -> exp(-0.7145) = 0.4894, tau2 0.3132
    assert row["estimate"] == pytest.approx(0.489421, abs=1e-6)
    assert row["revman_estimate"] == pytest.approx(0.635267, abs=1e-6)


@pytest.mark.parametrize("payload, what", [
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
     b"<COCHRANE_REVIEW>&b;</COCHRANE_REVIEW>", "entities"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><COCHRANE_REVIEW>&x;'
     b"</COCHRANE_REVIEW>", "entities"),
    (b"<COCHRANE_REVIEW><ANALYSES_AND_DATA>", "XML error"),
])
def test_hardened_parser_refuses_entities(tmp_path, payload, what):
    path = tmp_path / "evil.rm5"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=what):
        pt.meta.read_revman(path)


def test_not_a_revman_file(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a RevMan 5 CSV export"):
        pt.meta.read_revman(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="not found"):
        pt.meta.read_revman(tmp_path / "missing.rm5")


def test_cli_review(tmp_path, capsys):
    out_json, forests = tmp_path / "review.json", tmp_path / "forests"
    assert main(["meta", "review", str(HERE / "test_review.rm5"), "--json", str(out_json),
                 "--forest-dir", str(forests)]) == 0
    printed = capsys.readouterr().out
    assert "every stored result reproduced" in printed
    res = json.loads(out_json.read_text())
    api = pt.meta.read_revman(HERE / "test_review.rm5").rerun()
    assert len(res["analyses"]) == len(api)
    assert [r["peertrial_estimate"] for r in res["analyses"]] == pytest.approx(api["peertrial_estimate"].tolist(),
                                                                              rel=1e-12)
    assert len(list(forests.glob("*.png"))) == 10
    assert main(["meta", "review", str(HERE / "test_review.zip"), "--method", "REML", "--test", "knha"]) == 0
    assert "prediction intervals" in capsys.readouterr().out
    assert main(["meta", "review"]) == 1
    assert "usage: peertrial meta review FILE" in capsys.readouterr().err


def test_studies_frame_is_a_copy():
    review = pt.meta.read_revman(HERE / "test_review.csv")
    s = review.studies(1, 1)
    s["ai"] = 0
    assert review.studies(1, 1)["ai"].iloc[0] == 4
    assert isinstance(review.outcomes, pd.DataFrame)


# ---- Cochrane data package (RevMan Web, as meta::read.cdir reads it) -------------------------
PACKAGE = HERE / "CD000001-dataPackage.zip"


def _unzip(tmp_path):
    import zipfile

    with zipfile.ZipFile(PACKAGE) as z:
        z.extractall(tmp_path / "unzipped")
    return tmp_path / "unzipped"


def _same_review(a, b):
    cols = ["comparison_no", "outcome_no", "subgroup_no", "data_type", "measure", "method", "model", "k",
            "estimate", "chi2", "tau2"]
    pd.testing.assert_frame_equal(a.outcomes[cols], b.outcomes[cols])
    for key in a._studies:
        pd.testing.assert_frame_equal(a.studies(*key).drop(columns=["revman_estimate", "revman_weight"]),
                                      b.studies(*key).drop(columns=["revman_estimate", "revman_weight"]),
                                      check_dtype=False)


def test_data_package_holds_the_same_review_as_the_rm5_file():
    package, rm5 = pt.meta.read_revman(PACKAGE), pt.meta.read_revman(HERE / "test_review.rm5")
    assert package.title == "CD000001"
    _same_review(package, rm5)


def test_data_package_unzipped_folder_and_cochrane_library_download(tmp_path):
    import zipfile

    folder = _unzip(tmp_path)
    _same_review(pt.meta.read_revman(folder), pt.meta.read_revman(PACKAGE))
    # the Cochrane Library's "Download data": CD000001-files/CD000001-data.zip inside the download
    inner = tmp_path / "CD000001-data.zip"
    with zipfile.ZipFile(inner, "w") as z:
        for f in sorted(folder.rglob("*.csv")):
            z.write(f, f.relative_to(folder))
    download = tmp_path / "CD000001-download.zip"
    with zipfile.ZipFile(download, "w") as z:
        z.write(inner, "CD000001-files/CD000001-data.zip")
    _same_review(pt.meta.read_revman(download), pt.meta.read_revman(PACKAGE))


def test_data_package_swapped_events_and_unsupported_outcomes(tmp_path):
    import csv

    folder = _unzip(tmp_path)
    settings = next(folder.rglob("*-overall-estimates-and-settings.csv"))
    with open(settings, encoding="utf-8") as f:
        recs = list(csv.DictReader(f))
    recs[6]["Swap event and non-event"] = "TRUE"   # aspirin (2.1): the analysis counts survivors
    recs[7]["Data type"] = "O-E and variance"      # mental health MD (3.1): not re-analysed
    recs[0]["Heterogeneity estimator"] = "REML"
    with open(settings, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*recs[0].keys()])
        w.writeheader()
        w.writerows(recs)
    with pytest.warns(UserWarning, match=r"analysis 3\.1: 'O-E and variance' data .* is not re-analysed"):
        review = pt.meta.read_revman(folder)
    asp = review.studies(2, 1)
    assert list(asp["ai"][:2]) == [615 - 49, 758 - 44] and list(asp["ci"][:2]) == [624 - 67, 771 - 64]
    assert not ((review.outcomes["comparison_no"] == 3) & (review.outcomes["outcome_no"] == 1)).any()


def test_data_package_random_effects_estimator_other_than_dl_is_flagged(tmp_path):
    import csv

    folder = _unzip(tmp_path)
    settings = next(folder.rglob("*-overall-estimates-and-settings.csv"))
    with open(settings, encoding="utf-8") as f:
        recs = list(csv.DictReader(f))
    for r in recs:
        r["Heterogeneity estimator"] = "REML" if r["Analysis model"].startswith("Random") else ""
    with open(settings, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*recs[0].keys()])
        w.writeheader()
        w.writerows(recs)
    with pytest.warns(UserWarning, match="use REML .*rerun\\(method="):
        pt.meta.read_revman(folder)


def test_a_folder_without_a_data_package_is_refused(tmp_path):
    with pytest.raises(ValueError, match="folder without a Cochrane data package"):
        pt.meta.read_revman(tmp_path)


def test_cli_review_reads_a_data_package_zipped_or_unzipped(tmp_path, capsys):
    assert main(["meta", "review", str(PACKAGE)]) == 0
    assert "every stored result reproduced" in capsys.readouterr().out
    assert main(["meta", "review", str(_unzip(tmp_path))]) == 0
    assert "every stored result reproduced" in capsys.readouterr().out


def test_cli_review_writes_csv_and_refuses_flags_it_does_not_use(tmp_path, capsys):
    # --csv was silently ignored by `meta review`; flags of the one-analysis command that
    # a review does not use (--funnel, --regtest, --mods, ...) are refused, not ignored
    assert main(["meta", "review", str(HERE / "test_review.rm5"), "--csv", str(tmp_path / "tables")]) == 0
    table = pd.read_csv(tmp_path / "tables" / "review.csv")
    assert len(table) == len(pt.meta.read_revman(HERE / "test_review.rm5").rerun())
    capsys.readouterr()
    assert main(["meta", "review", str(HERE / "test_review.rm5"), "--funnel", str(tmp_path / "f.png"),
                 "--regtest"]) == 1
    err = capsys.readouterr().err
    assert "--funnel" in err and "--regtest" in err and not (tmp_path / "f.png").exists()
