"""The plan's recurrent-event outcome (type = "recurrent") on the shipped simulated trial's
readmissions_long.csv: MCF by arm, Andersen-Gill, negative binomial and Poisson (robust) rate ratios and
the MCF difference at the horizon equal R's (fixtures/make_recurrent_r.R); bad plans name the line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peertrial.plan import read_plan
from peertrial.plan._analyse import analyse

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "simulated_data"
REF = json.loads((Path(__file__).parent / "fixtures" / "recurrent_plan_r.json").read_text())

PLAN = f"""
[trial]
title = "Recurrent readmissions"
data = "{(DATA / 'trial.csv').as_posix()}"
id = "id"
arm = "arm"
control = 0
intervention = 1
strata = ["site", "diagnosis"]

[[outcome]]
name = "Readmitted"
column = "readmitted_12m"
type = "binary"
primary = true

[[outcome]]
name = "Every readmission"
type = "recurrent"
events = "{(DATA / 'readmissions_long.csv').as_posix()}"
time = "day"
event = "readmission"
horizon = 365
"""


def _write(tmp_path, text):
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    plan = read_plan(_write(tmp_path_factory.mktemp("rec"), PLAN))
    report = analyse(plan)
    return {r["analysis"]: r for r in report.records if r["outcome"] == "Every readmission"}, report


@pytest.mark.parametrize("analysis, key", [
    ("primary: Andersen-Gill", "ag"),
    ("sensitivity: negative binomial", "nb"),
    ("sensitivity: events per follow-up, robust (Poisson) variance", "poisson"),
    ("difference in the mean cumulative function at 365 days", "mcf_diff"),
])
def test_recurrent_estimates_equal_r(records, analysis, key):
    got = records[0][analysis]
    for k in ("estimate", "ci_lb", "ci_ub", "pval"):
        assert got[k] == pytest.approx(REF[key][k], rel=1e-5, abs=1e-9), (analysis, k)
    assert got["n"] == REF["n"] == 590
    assert got["type"] == "recurrent"


def test_recurrent_section_has_tables_and_figure(records):
    report = records[1]
    sec = next(s for s in report.sections if s.title.startswith("Every readmission"))
    names = [getattr(item, "name", "") for item in sec.blocks]
    assert any(n.endswith("_arms") for n in names) and any(n.endswith("_mcf") for n in names)
    arms = next(item for item in sec.blocks if getattr(item, "name", "").endswith("_arms")).data
    assert arms["mcf"].tolist() == pytest.approx([REF["mcf_diff"]["mcf0"], REF["mcf_diff"]["mcf1"]], rel=1e-8)
    summary = [r for r in report.records if r["outcome"] == "Every readmission" and r["analysis"].startswith("primary")]
    assert len(summary) == 1 and summary[0]["adjusted"]


@pytest.mark.parametrize("old, new, words", [
    ('events = "', 'events = "missing_', ["events file", "not found", "key 'events'"]),
    ('event = "readmission"', 'event = "readmit"', ["column 'readmit'", "key 'event'"]),
    ('horizon = 365\n', 'horizon = 5000\n', ["horizon 5000", "key 'horizon'"]),
    ('id = "id"\n', '', ["needs [trial] id"]),
    ('time = "day"\n', '', ["needs the key 'time'"]),
])
def test_bad_recurrent_plans_name_the_key(tmp_path, old, new, words):
    text = PLAN.replace(old, new, 1)
    with pytest.raises(ValueError) as exc:
        read_plan(_write(tmp_path, text))
    for w in words:
        assert w in str(exc.value), (w, str(exc.value))


def test_mcf_figure_uses_the_time_unit_and_the_km_ticks(tmp_path):
    # the MCF figure said "Days" whatever the plan's time_unit, and ticked at 50s where the KM ticks at 90s
    plan = read_plan(_write(tmp_path, PLAN.replace("horizon = 365\n", 'horizon = 365\ntime_unit = "days since discharge"\n')))
    sec = next(s for s in analyse(plan).sections if s.title.startswith("Every readmission"))
    ax = next(b for b in sec.blocks if getattr(b, "name", "").endswith("_mcf")).fig.axes[0]
    assert ax.get_xlabel() == "Days since discharge"
    assert [t for t in ax.get_xticks() if 0 <= t <= 365] == [0, 90, 180, 270, 360]
