"""CLI misuse (issue "Nothing silent, nothing hangs"): a folder as input, a missing file, outputs in missing
folders. Each must exit non-zero with one line on stderr, or do the work with the folder created; never a
traceback (``peertrial --debug`` shows it)."""

from __future__ import annotations

import pytest

import peertrial as pt
from peertrial.cli import main

META = ["--measure", "SMD", "--m1i", "m1i", "--sd1i", "sd1i", "--n1i", "n1i", "--m2i", "m2i", "--sd2i", "sd2i",
        "--n2i", "n2i"]


@pytest.fixture
def files(tmp_path):
    pt.simulate.trial(n=60, seed=1).to_csv(tmp_path / "trial.csv", index=False)
    pt.simulate.meta_analysis(k=6, seed=1).to_csv(tmp_path / "meta.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["meta", "{d}", *META],
    ["survival", "km", "{d}", "--time", "readmit_time", "--event", "readmit_status"],
    ["survival", "km", "{d}/missing.csv", "--time", "readmit_time", "--event", "readmit_status"],
    ["econ", "pooled", "{d}"],
])
def test_bad_inputs_exit_with_one_line(argv, files, capsys):
    assert main([a.format(d=files) for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("peertrial: error:") and "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "written"), [
    (["meta", "{d}/meta.csv", *META, "--json", "{d}/new/a.json"], ["new/a.json"]),
    (["econ", "cea", "{d}/trial.csv", "--cost", "cost_total", "--effect", "qaly", "--ceac", "{d}/new/c.csv",
      "--n-boot", "50", "--seed", "1"], ["new/c.csv"]),
    (["simulate", "trial", "--n", "40", "--seed", "1", "--out", "{d}/new/t.csv", "--fidelity", "{d}/other/f.csv"],
     ["new/t.csv", "other/f.csv"]),
    (["simulate", "power", "--n", "40", "--trials", "10", "--seed", "1", "--analyses", "ttest", "--out",
      "{d}/new/p.csv"], ["new/p.csv"]),
])
def test_outputs_in_missing_folders_are_created(argv, written, files, capsys):
    assert main([a.format(d=files) for a in argv]) == 0
    for w in written:
        assert (files / w).is_file()


def test_debug_shows_the_exception(files):
    with pytest.raises(ValueError, match="not found"):
        main(["--debug", "survival", "km", str(files / "missing.csv"), "--time", "t", "--event", "e"])


@pytest.mark.parametrize(("argv", "written"), [
    (["meta", "{d}/meta.csv", *META, "--json", "{d}/new/a.json"], ["new/a.json"]),
    (["simulate", "trial", "--n", "40", "--seed", "1", "--out", "{d}/new/t.csv"], ["new/t.csv"]),
    (["simulate", "meta", "--k", "5", "--seed", "1", "--out", "{d}/new/m.csv"], ["new/m.csv"]),
])
def test_existing_outputs_are_replaced_only_with_force(argv, written, files, capsys):
    argv = [a.format(d=files) for a in argv]
    assert main(argv) == 0
    before = {w: (files / w).read_bytes() for w in written}
    (files / written[0]).write_text("the user's own file")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "pass --force" in err and (files / written[0]).read_text() == "the user's own file"
    assert main([*argv, "--force"]) == 0
    assert {w: (files / w).read_bytes() for w in written} == before


def test_every_command_that_writes_files_takes_force():
    from peertrial.cli import _OUTPUT_DESTS, _leaf_parsers, build_parser

    for leaf in _leaf_parsers(build_parser()):
        dests = {a.dest for a in leaf._actions}
        if dests & set(_OUTPUT_DESTS):
            assert "force" in dests, leaf.prog


def test_a_report_folder_with_earlier_output_is_kept_without_force(files, capsys):
    (files / "report").mkdir()
    (files / "report" / "report.html").write_text("earlier")
    assert main(["analyse", str(files / "plan.toml"), "--out", str(files / "report")]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert (files / "report" / "report.html").read_text() == "earlier"


def test_schedule_creates_the_folder_of_a_new_ledger(tmp_path, capsys):
    db = tmp_path / "trial" / "ledger" / "trial.db"
    assert main(["randomise", "schedule", "--n", "20", "--db", str(db)]) == 0
    assert db.is_file() and (tmp_path / "trial" / "ledger" / "trial.db.key").is_file()


@pytest.mark.parametrize("argv", [
    ["meta", "{d}/meta.csv", *META, "--json", "{d}/out"],
    ["meta", "{d}/meta.csv", *META, "--forest", "{d}/out", "--force"],
    ["survival", "km", "{d}/trial.csv", "--time", "readmit_time", "--event", "readmit_status==1", "--plot", "{d}/out"],
])
def test_a_folder_given_for_an_output_file_is_refused_before_any_work(argv, files, capsys):
    # `--json FOLDER` ran the whole analysis, then failed with "Is a directory" (and without --force
    # advised passing --force, as if the folder would be replaced)
    (files / "out").mkdir()
    (files / "out" / "keep.txt").write_text("x")
    assert main([a.format(d=files) for a in argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "is a folder" in err and "--force" not in err
    assert (files / "out" / "keep.txt").read_text() == "x"


def test_python_dash_m_peertrial_is_the_command_line():
    # `python -m peertrial` failed: "No module named peertrial.__main__"
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "peertrial", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage: peertrial" in done.stdout, done.stderr
