from pathlib import Path

import pandas as pd

from peertrial.cli import main

FIX = Path(__file__).parent / "fixtures"


def test_econ_cea_cli(tmp_path, capsys):
    out = tmp_path / "ceac.csv"
    code = main(["econ", "cea", str(FIX / "cea_data.csv"), "--cost", "cost", "--effect", "qaly",
                 "--n-boot", "200", "--seed", "1", "--ceac", str(out), "--n-wtp", "11", "--price-year", "2024"])
    assert code == 0
    text = capsys.readouterr().out
    assert "ICER" in text and "GBP, 2024 prices" in text
    curve = pd.read_csv(out)
    assert list(curve.columns) == ["wtp", "prob_cost_effective"] and len(curve) == 11


def test_econ_ratio_cli(capsys):
    assert main(["econ", "ratio", "--cost", "1000", "--benefit", "4760"]) == 0
    assert "1:4.76" in capsys.readouterr().out


def test_econ_cli_bad_column_is_an_error(capsys):
    assert main(["econ", "cea", str(FIX / "cea_data.csv"), "--cost", "nope", "--seed", "1"]) == 1
    assert "'nope'" in capsys.readouterr().err
