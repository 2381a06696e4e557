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


DISPLAY_CELLS = [  # (source, number of PNG outputs expected)
    ("import matplotlib\nmatplotlib.use('Agg')  # any backend: the display does not depend on it\n"
     "import peertrial as pt\nfit = pt.meta.rma([0.1, 0.3, 0.2, 0.5], [0.01, 0.02, 0.015, 0.03])", 0),
    ("fit.plot()", 1),  # the cell's value
    ("fig = fit.plot()", 1),  # not the cell's value: shown at the end of the cell
    ("fig = pt.plot.funnel(fit)\nfig", 1),  # both: still once
    ("from IPython.display import display\nfig = fit.plot()\ndisplay(fig)", 1),
    ("for _ in range(2):\n    fit.plot()", 2),
    ("fig, (a, b) = pt.plot.subplots(1, 2)\nfit.plot(ax=a)\npt.plot.funnel(fit, ax=b)", 1),
    ("fig = fit.plot()\npt.plot.close(fig)", 0),
    ("fig", 1),  # a figure shown again on request
    ("x = 1", 0),
]


def test_figures_display_exactly_once_in_a_fresh_kernel():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src, _ in DISPLAY_CELLS]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    got = [sum("image/png" in out.get("data", {}) for out in cell.outputs) for cell in nb.cells]
    assert got == [n for _, n in DISPLAY_CELLS]
