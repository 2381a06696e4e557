"""The shipped simulated_data/ is regenerated bit-for-bit by simulated_data/make_data.py."""

import filecmp
import importlib.util
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "simulated_data"


def _make_data():
    spec = importlib.util.spec_from_file_location("make_data", DATA / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerated_files_are_identical(tmp_path):
    written = _make_data().make(tmp_path)
    assert {p.name for p in written} == {"trial.csv", "readmissions_long.csv", "fidelity_ratings.csv", "meta_hope.csv",
                                        "bed_use_studies.csv"}
    for path in written:
        assert filecmp.cmp(path, DATA / path.name, shallow=False), path.name


def test_shipped_columns_as_documented():
    import peertrial.simulate as sim

    assert tuple(pd.read_csv(DATA / "trial.csv").columns) == sim.TRIAL_COLUMNS
    assert tuple(pd.read_csv(DATA / "meta_hope.csv").columns) == sim.META_COLUMNS
    assert tuple(pd.read_csv(DATA / "fidelity_ratings.csv").columns) == sim.FIDELITY_COLUMNS
    assert tuple(pd.read_csv(DATA / "bed_use_studies.csv").columns) == sim.BED_USE_COLUMNS
    readme = (DATA / "README.md").read_text()
    for col in sim.TRIAL_COLUMNS + sim.META_COLUMNS + sim.FIDELITY_COLUMNS + sim.BED_USE_COLUMNS:
        assert f"`{col}`" in readme or f"`{col}," in readme or f", `{col}`" in readme, col
