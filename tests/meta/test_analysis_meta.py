"""analyses/10_meta_analysis.py runs on the shipped data and is deterministic."""

import importlib.util
import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
SCRIPT = Path(__file__).resolve().parents[2] / "analyses" / "10_meta_analysis.py"
DATA = SCRIPT.parents[1] / "simulated_data" / "meta_hope.csv"


@pytest.mark.skipif(not DATA.exists(), reason="simulated_data/meta_hope.csv not present")
def test_meta_analysis_section(tmp_path):
    spec = importlib.util.spec_from_file_location("meta_analysis_10", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(tmp_path / "a")
    mod.main(tmp_path / "b")
    sec = tmp_path / "a" / "10_meta_analysis"
    blocks = json.loads((sec / "section.json").read_text())["blocks"]
    kinds = [b["kind"] for b in blocks]
    assert kinds.count("figure") == 1 and kinds.count("table") == 4
    for name in ("section.json", "confint.csv", "estimators.csv", "studies.csv", "prediction.csv", "forest.png"):
        assert (sec / name).read_bytes() == (tmp_path / "b" / "10_meta_analysis" / name).read_bytes(), name
    assert "Random-Effects Model (k = 19; tau^2 estimator: REML)" in blocks[3]["text"]
