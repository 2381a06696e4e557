"""Execute every notebook in ``notebooks/`` so they never go stale (nbclient), from a fresh
kernel with no magic, and check that every figure shows inline exactly once."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},  # notebooks read ../simulated_data
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    # a figure cell (a result's .plot() or a pt.plot function) shows exactly one PNG; other cells none
    shown = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        pngs = sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
        texts = [out["data"]["text/plain"] for out in cell.get("outputs", [])
                 if "image/png" not in out.get("data", {}) and "Figure size" in out.get("data", {}).get("text/plain", "")]
        expected = 1 if _FIGURE_CALL.search(cell.source) else 0
        shown.append((i, pngs, expected, texts))
    assert [s for s in shown if s[1] != s[2] or s[3]] == []
    assert sum(s[2] for s in shown) >= 1  # each notebook draws figures


_FIGURE_CALL = re.compile(r"\.plot\(|pt\.plot\.(?!save\b)\w+\(")


def test_three_notebooks_are_shipped():
    assert len(NOTEBOOKS) >= 3, [p.name for p in NOTEBOOKS]
