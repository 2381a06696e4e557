import pandas as pd

import peertrial.simulate as sim
from peertrial.cli import main


def test_cli_trial_matches_library(tmp_path, capsys):
    out, fid = tmp_path / "t.csv", tmp_path / "f.csv"
    assert main(["simulate", "trial", "--n", "120", "--seed", "4", "--out", str(out), "--fidelity", str(fid),
                 "--set", "hr_complier=0.6", "--set", "readmit_diagnosis=(0, 0.1, 0)"]) == 0
    res = sim.simulate_trial(120, seed=4, hr_complier=0.6, readmit_diagnosis=(0, 0.1, 0))
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(_roundtrip(res.data, tmp_path)))
    assert len(pd.read_csv(fid)) == len(res.fidelity)
    assert "Simulated peer-support trial" in capsys.readouterr().out


def _roundtrip(frame, tmp_path):
    path = tmp_path / "lib.csv"
    frame.to_csv(path, index=False)
    return path


def test_cli_meta_and_power(tmp_path, capsys):
    meta = tmp_path / "m.csv"
    assert main(["simulate", "meta", "--k", "7", "--seed", "2", "--out", str(meta)]) == 0
    assert pd.read_csv(meta).equals(pd.read_csv(_roundtrip(sim.meta_analysis(7, 0.2, 0.03, seed=2), tmp_path)))
    table = tmp_path / "p.csv"
    assert main(["simulate", "power", "--n", "100", "--trials", "30", "--seed", "1", "--workers", "1",
                 "--analyses", "logistic", "ttest", "--quiet", "--out", str(table)]) == 0
    got = pd.read_csv(table, index_col=0, float_precision="round_trip")
    ref = sim.power(100, 30, seed=1, workers=1, analyses=("logistic", "ttest"), progress=False)
    assert got["power"].tolist() == ref.power.tolist()
    assert "Power by simulation" in capsys.readouterr().out


def test_cli_bad_override(tmp_path, capsys):
    assert main(["simulate", "trial", "--seed", "1", "--out", str(tmp_path / "x.csv"), "--set", "nope=1"]) == 1
    assert "trial parameter" in capsys.readouterr().err
