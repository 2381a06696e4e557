"""`peertrial analyse PLAN.toml`: results equal R's on a trial with unusual names and codes;
bad plans raise naming the plan line, key and column and write nothing; outputs are
byte-identical across runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from peertrial.cli import main  # noqa: E402
from peertrial.plan import analyse, read_plan  # noqa: E402

FIX = Path(__file__).parent / "fixtures"
PLAN = FIX / "small_plan.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "out"
    analyse(PLAN, out)
    return out


def _key(r):
    return (r["outcome"], r["population"], r["measure"], r["adjusted"])


def test_results_equal_r(run):
    ours = {_key(r): r for r in json.loads((run / "results.json").read_text())}
    ref = json.loads((FIX / "small_plan_r.json").read_text())
    assert len(ref) == 23
    for r in ref:
        got = ours[_key(r)]
        for k in ("estimate", "ci_lb", "ci_ub", "pval"):
            assert got[k] == pytest.approx(r[k], rel=1e-5, abs=1e-9), (_key(r), k)
        assert got["n"] == r["n"], _key(r)


def test_records_have_the_documented_fields(run):
    records = json.loads((run / "results.json").read_text())
    need = {"outcome", "population", "measure", "adjusted", "estimate", "ci_lb", "ci_ub", "pval", "n"}
    for r in records:
        assert need <= set(r)
        assert r["population"] in {"ITT", "as-treated", "per-protocol", "CACE"}
        assert r["measure"] in {"OR", "RD", "RR", "MD", "HR", "RMST difference", "rate ratio", "MCF difference"}
        assert isinstance(r["n"], int) and isinstance(r["adjusted"], bool)


def test_outputs_and_report(run):
    for name in ("report.html", "report.pdf", "results.json", "tables/summary.csv", "tables/consort.csv",
                 "tables/table1.csv", "figures/time_to_readmission_km.png", "figures/time_to_readmission_km.svg"):
        assert (run / name).stat().st_size > 0, name
    assert (run / "report.pdf").read_bytes().startswith(b"%PDF-")
    html = (run / "report.html").read_text()
    assert html.index("Summary of results") < html.index("Participant flow")
    assert "Peer" in html and "TAU" in html  # arm names from the plan
    assert "0.000" not in re.sub(r"<[^>]+>", " ", html.split("Provenance")[0])  # p-values as "< 0.001"
    for item in ("peertrial version", "plan SHA-256", "data SHA-256", "seed", "numpy", "reportlab"):
        assert item in html
    # every figure has its PNG and SVG; every table its CSV
    pngs = {p.stem for p in (run / "figures").glob("*.png")}
    assert pngs == {p.stem for p in (run / "figures").glob("*.svg")}
    assert len(list((run / "tables").glob("*.csv"))) == html.count("CSV: tables/")


def test_two_runs_are_byte_identical(run, tmp_path):
    again = tmp_path / "again"
    assert main(["analyse", str(PLAN), "--out", str(again)]) == 0
    first = sorted(p.relative_to(run) for p in run.rglob("*") if p.is_file())
    assert first == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in first:
        assert (run / rel).read_bytes() == (again / rel).read_bytes(), rel


def _bad(tmp_path, old, new, data=None):
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(FIX / "small_trial.csv", folder / "small_trial.csv")
    if data is not None:
        (folder / "small_trial.csv").write_text(data)
    text = PLAN.read_text()
    assert old in text
    (folder / "plan.toml").write_text(text.replace(old, new, 1))
    return folder / "plan.toml"


def _line(plan: Path, snippet: str) -> int:
    return next(i for i, line in enumerate(plan.read_text().splitlines(), 1) if snippet in line)


@pytest.mark.parametrize("old, new, words, line_of", [
    ('seed = 7', 'seed = 7\nsede = 8', ["unknown key 'sede'", "[trial]"], "sede"),
    ('seed = 7', 'seed = "seven"', ["'seed'", "must be an integer"], "seed ="),
    ('baseline = "hope0"', 'baseline = "hope_zero"', ["column 'hope_zero'", "'baseline'", "[[outcome]] number 2"],
     "hope_zero"),
    ('intervention = "Peer"', 'intervention = "Peer support"', ["arm code 'Peer support'", "'group'"],
     "intervention ="),
    ('event = "readmitted"', 'event = "readmitted"\nevent_value = 7', ["no events", "event_value"], "event_value"),
    ('type = "binary"', 'type = "binary"\nhorizon = 3', ["does not apply", "'horizon'"], "horizon ="),
    ('type = "count"', 'type = "counts"', ["type must be one of"], '"counts"'),
    ('exposure = "fu_days"', 'exposure = "fu_days"\n\n[missing]\nstrategy = "multiple-imputation"\nmethod = "mean"',
     ["'method'", "must be 'pmm' or 'norm'", "[missing]"], 'method ='),
])
def test_bad_plans_name_the_line_and_write_nothing(tmp_path, old, new, words, line_of):
    plan = _bad(tmp_path, old, new)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as info:
        analyse(plan, out)
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    assert f"line {_line(plan, line_of)}" in msg, msg
    assert str(plan) in msg
    assert not out.exists()


def test_outcome_without_events(tmp_path):
    lines = (FIX / "small_trial.csv").read_text().splitlines()
    head = lines[0].split(",")
    k = head.index("readmit")
    rows = [",".join("0" if j == k else v for j, v in enumerate(r.split(","))) for r in lines[1:]]
    plan = _bad(tmp_path, "seed = 7", "seed = 7", data="\n".join([lines[0], *rows]) + "\n")
    with pytest.raises(ValueError, match=r"line \d+: \[\[outcome\]\] number 1 key 'column': column 'readmit' has no "
                                         r"events"):
        analyse(plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_reports_a_bad_plan(tmp_path, capsys):
    plan = _bad(tmp_path, 'strata = ["centre", "dx"]', 'strata = ["center", "dx"]')
    assert main(["analyse", str(plan), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "column 'center' is not in the data file small_trial.csv" in err and "did you mean 'centre'" in err
    assert not (tmp_path / "out").exists()


def test_read_plan_codes_text_arms():
    plan = read_plan(PLAN)
    assert set(plan.data["group"].unique()) == {0.0, 1.0}
    assert plan.arm_labels == {0: "TAU", 1: "Peer"}
    assert plan.strata_formula == "C(centre) + C(dx)"


MINIMAL = """
[trial]
title = "Minimal plan: no strata, no compliance"
data = "small_trial.csv"
arm = "group"
control = "TAU"
intervention = "Peer"

[[outcome]]
name = "Readmitted"
column = "readmit"
type = "binary"
primary = true

[[outcome]]
name = "Time to readmission"
type = "time_to_event"
time = "days"
event = "readmitted"
horizon = 300

[[outcome]]
name = "Cost"
column = "cost"
type = "cost"

[subgroups]
variables = ["dx"]
"""


def test_minimal_plan_is_unadjusted_and_equals_r(tmp_path):
    shutil.copy(FIX / "small_trial.csv", tmp_path / "small_trial.csv")
    (tmp_path / "plan.toml").write_text(MINIMAL)
    analyse(tmp_path / "plan.toml", tmp_path / "out")
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    assert records and not any(r["adjusted"] for r in records)
    assert {r["population"] for r in records} == {"ITT"}
    ref = {_key(r): r for r in json.loads((FIX / "small_plan_r.json").read_text())}
    ours = {(r["outcome"], r["measure"]): r for r in records if r["analysis"].startswith("primary")}
    for outcome, measure in (("Readmitted", "OR"), ("Readmitted", "RR"), ("Time to readmission", "HR")):
        want = ref[(outcome, "ITT", measure, False)]
        for k in ("estimate", "ci_lb", "ci_ub", "pval"):
            assert ours[(outcome, measure)][k] == pytest.approx(want[k], rel=1e-5)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Subgroup analyses" in html and "no stratification factors" in html
    assert "Received allocated intervention" not in html  # no [compliance]: receipt is not claimed


def test_level_key_sets_every_interval(tmp_path):
    import math

    plan = _bad(tmp_path, "seed = 7", "seed = 7\nlevel = 90")
    analyse(plan, tmp_path / "out")
    ours = {_key(r): r for r in json.loads((tmp_path / "out" / "results.json").read_text())}
    ref = {_key(r): r for r in json.loads((FIX / "small_plan_r.json").read_text())}
    for key in (("Readmitted", "ITT", "OR", True), ("Time to readmission", "ITT", "HR", True)):
        lo, hi = math.log(ref[key]["ci_lb"]), math.log(ref[key]["ci_ub"])
        b, se = (lo + hi) / 2, (hi - lo) / (2 * 1.959963984540054)
        z90 = 1.6448536269514722
        assert ours[key]["ci_lb"] == pytest.approx(math.exp(b - z90 * se), rel=1e-6)
        assert ours[key]["ci_ub"] == pytest.approx(math.exp(b + z90 * se), rel=1e-6)
    assert "90% CI" in (tmp_path / "out" / "report.html").read_text()


def test_bad_level_names_the_line(tmp_path):
    plan = _bad(tmp_path, "seed = 7", "seed = 7\nlevel = 100")
    with pytest.raises(ValueError, match=rf"line {_line(plan, 'level =')}: \[trial\] key 'level'"):
        analyse(plan, tmp_path / "out")


SHIPPED = Path(__file__).resolve().parents[2] / "simulated_data" / "plan.toml"


@pytest.mark.skipif(not SHIPPED.exists(), reason="simulated_data/plan.toml not present")
def test_shipped_plan_runs_every_section(tmp_path):
    analyse(SHIPPED, tmp_path)
    html = (tmp_path / "report.html").read_text()
    for title in ("Summary of results", "Participant flow", "Intervention fidelity", "Economic evaluation",
                  "Subgroup analyses", "Notes and provenance", "NOT randomised", "multiple imputation"):
        assert title in html, title
    records = json.loads((tmp_path / "results.json").read_text())
    primary = [r for r in records if r["primary"] and r["analysis"].startswith("primary")]
    assert {r["measure"] for r in primary} == {"OR", "RD", "RR"}
    # one ITT odds ratio for the primary outcome, adjusted for the stratification factors only
    assert len([r for r in records if r["measure"] == "OR" and r["adjusted"]]) == 1
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    # the economic table rounds to the interval's width: a QALY difference was "0.02 (0.00 to 0.05)"
    assert re.search(r"Incremental effect \(QALY\) 0\.\d{3} \(-?0\.\d{3} to 0\.\d{3}\)", text), text
    assert re.search(r"Incremental cost \(GBP\) [\d,]+ \(-[\d,]+ to [\d,]+\)", text)
    assert "adjusted for no covariates" not in text


def test_ci_digits_follow_the_interval_width():
    from peertrial.plan._analyse import _ci_digits

    assert _ci_digits(0.001, 0.048) == 3
    assert _ci_digits(-2280.2, 3292.1) == 0
    assert _ci_digits(0.53, 2.87) == 1
    assert _ci_digits(float("nan"), 1.0) == 2


CLUSTERED = """
[trial]
title = "Clustered"
data = "small_trial.csv"
id = "participant"
arm = "group"
control = "TAU"
intervention = "Peer"
strata = ["centre", "dx"]
cluster = "centre"
seed = 7

[[outcome]]
name = "Readmitted"
column = "readmit"
type = "binary"
primary = true

[[outcome]]
name = "Time to readmission"
type = "time_to_event"
time = "days"
event = "readmitted"
horizon = 300

[[outcome]]
name = "Readmissions"
column = "n_readmit"
type = "count"
exposure = "fu_days"
"""


def test_cluster_reaches_the_odds_ratio_hazard_ratio_and_rate_ratio(tmp_path):
    # R: vcovCL(glm / glm.nb, cluster = ~centre) and coxph(..., cluster = centre) (make_fixtures.R)
    shutil.copy(FIX / "small_trial.csv", tmp_path / "small_trial.csv")
    (tmp_path / "plan.toml").write_text(CLUSTERED)
    analyse(tmp_path / "plan.toml", tmp_path / "out")
    ours = {_key(r): r for r in json.loads((tmp_path / "out" / "results.json").read_text())}
    ref = json.loads((FIX / "small_plan_cluster_r.json").read_text())
    assert len(ref) == 6
    unclustered = {_key(r): r for r in json.loads((FIX / "small_plan_r.json").read_text())}
    for r in ref:
        for k in ("estimate", "ci_lb", "ci_ub", "pval"):
            assert ours[_key(r)][k] == pytest.approx(r[k], rel=1e-5, abs=1e-12), (_key(r), k)
        assert ours[_key(r)]["ci_lb"] != pytest.approx(unclustered[_key(r)]["ci_lb"], rel=1e-5)
    assert "clustered by centre" in (tmp_path / "out" / "report.html").read_text()


def test_readmission_cluster_needs_no_random_and_equals_vcovcl():
    import pandas as pd

    import peertrial as pt

    d = pd.read_csv(FIX / "small_trial.csv")
    r = pt.survival.readmission_12m(d, "readmit", "group", covariates="C(centre) + C(dx)", arm_levels=("TAU", "Peer"),
                                    cluster="dx")
    # R: sqrt(diag(sandwich::vcovCL(glm(readmit ~ g + centre + dx, binomial), cluster = ~dx)))["g"]
    assert r.coefficients.at["group", "se"] == pytest.approx(0.0931666820321989, rel=1e-5)
    with pytest.raises(ValueError, match="not both"):
        pt.survival.readmission_12m(d, "readmit", "group", random="centre", cluster="dx", arm_levels=("TAU", "Peer"))
