"""``peertrial randomise`` end to end, in process."""

import sqlite3

import pandas as pd

from peertrial.cli import main
from peertrial.randomise import permuted_blocks

STRATA_ARGS = ["--strata", "site=1,2,3", "--strata", "diagnosis=psychotic,personality,other"]


def test_schedule_allocate_audit_verify_extend(tmp_path, capsys):
    db, csv = tmp_path / "trial.db", tmp_path / "s.csv"
    args = ["randomise", "schedule", "--n", "4", "--arms", "control", "peer", "--seed", "2017", *STRATA_ARGS]
    assert main([*args, "--out", str(csv), "--db", str(db)]) == 0
    sched = pd.read_csv(csv)
    expected = permuted_blocks(4, arms=["control", "peer"], strata={"site": [1, 2, 3],
                               "diagnosis": ["psychotic", "personality", "other"]}, seed=2017)
    pd.testing.assert_frame_equal(sched, expected)
    capsys.readouterr()
    arms = []
    for i in range(4):
        assert main(["randomise", "allocate", "--db", str(db), "--id", f"P{i}", "--site", "3",
                     "--diagnosis", "psychotic"]) == 0
        arms.append(capsys.readouterr().out.strip())
    assert arms == expected.query("site == 3 and diagnosis == 'psychotic'")["arm"].tolist()
    assert main(["randomise", "allocate", "--db", str(db), "--id", "P4", "--site=3", "--diagnosis=psychotic"]) == 1
    assert "is full" in capsys.readouterr().err
    longer = tmp_path / "longer.csv"
    assert main([*args[:3], "10", *args[4:], "--out", str(longer)]) == 0
    assert main(["randomise", "extend", "--db", str(db), "--schedule", str(longer)]) == 0
    assert main(["randomise", "allocate", "--db", str(db), "--id", "P4", "--site=3", "--diagnosis=psychotic"]) == 0
    capsys.readouterr()
    audit_csv = tmp_path / "audit.csv"
    assert main(["randomise", "audit", "--db", str(db), "--csv", str(audit_csv)]) == 0
    out = capsys.readouterr().out
    assert "5 allocations; hash chain intact" in out
    assert pd.read_csv(audit_csv)["participant"].tolist() == ["P0", "P1", "P2", "P3", "P4"]
    assert main(["randomise", "verify", "--db", str(db)]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE log SET time = '2020-01-01' WHERE n = 2")
    assert main(["randomise", "verify", "--db", str(db)]) == 1
    assert "integrity check failed" in capsys.readouterr().err


def test_cli_bad_input(tmp_path, capsys):
    assert main(["randomise", "schedule", "--n", "4", "--block-sizes", "3", "--seed", "1",
                 "--out", str(tmp_path / "x.csv")]) == 1
    assert "not a multiple of the ratio sum 2" in capsys.readouterr().err
    assert main(["randomise", "allocate", "--db", str(tmp_path / "none.db"), "--id", "P1", "--site", "1"]) == 1
    assert "no ledger at" in capsys.readouterr().err
