import importlib.util
import json
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "analyses" / "30_readmission.py"
TRIAL = ROOT / "simulated_data" / "trial.csv"


@pytest.mark.skipif(not TRIAL.exists(), reason="simulated_data/trial.csv not present")
def test_readmission_analysis_section(tmp_path):
    spec = importlib.util.spec_from_file_location("analysis30", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(tmp_path)
    folder = tmp_path / "30_readmission"
    section = json.loads((folder / "section.json").read_text())
    kinds = [b["kind"] for b in section["blocks"]]
    assert kinds.count("figure") == 3 and "table" in kinds
    for name in ("km.png", "cuminc.png", "schoenfeld.png", "binary_arms.csv", "cox.csv"):
        assert (folder / name).stat().st_size > 0
    trial = pd.read_csv(TRIAL)
    arms = pd.read_csv(folder / "binary_arms.csv", index_col=0)
    observed = trial.groupby("arm")["readmitted_12m"].agg(["size", "sum"])
    assert arms["n"].tolist() == observed["size"].tolist()
    assert arms["events"].tolist() == observed["sum"].tolist()
