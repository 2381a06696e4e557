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
    assert kinds.count("figure") == 3 and "table" in kinds  # the KM plot is in the plan's report
    for name in ("cuminc.png", "schoenfeld.png", "mcf.png", "km_at.csv", "cox.csv", "counts.csv", "recurrent.csv"):
        assert (folder / name).stat().st_size > 0
    trial = pd.read_csv(TRIAL)
    at = pd.read_csv(folder / "km_at.csv")
    at90 = at[at["time"] == 90]
    # numbers at risk at day 90, per arm, are positive and together at most everyone randomised
    assert len(at90) == 2 and (at90["n_risk"] > 0).all() and at90["n_risk"].sum() <= len(trial)
