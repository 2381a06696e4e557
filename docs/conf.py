"""Sphinx configuration for the peertrial documentation (``nox -s docs``)."""

from __future__ import annotations

import os
import warnings

import peertrial

os.environ.setdefault("MPLBACKEND", "Agg")

project = "peertrial"
author = "peertrial developers"
copyright = "2026, peertrial developers"  # noqa: A001
release = version = peertrial.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples/README.rst", "tutorial_scripts/README.rst"]
templates_path = ["_templates"]
html_theme = "furo"
html_title = f"peertrial {release}"

# API reference: one page per public name, generated from the numpydoc docstrings.
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

# Gallery: every example is a plain Python script, executed at build time, so the
# figures in the site are made by the installed package; each can also be
# downloaded as a .py file or a Jupyter notebook.
sphinx_gallery_conf = {
    "examples_dirs": ["examples", "tutorial_scripts"],
    "gallery_dirs": ["auto_examples", "auto_tutorials"],
    "filename_pattern": r"/(plot|tutorial)_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib", "peertrial.plot._gallery.scraper"),  # peertrial figures are not pyplot's
    "reset_modules": ("matplotlib",),
    "plot_gallery": "True",
}

warnings.filterwarnings("ignore", message="Matplotlib is currently using agg", category=UserWarning)


# --- the API pages are written from each subpackage's __all__ at build time, so a name
# added to the package appears in the reference without editing the docs ----------------
_SUBPACKAGES = {
    "randomise": "Randomisation and concealed allocation",
    "trial": "Trial effects: ITT, as-treated, per-protocol, CACE; mixed models; missing data",
    "survival": "Survival: Kaplan-Meier, log-rank, Cox, competing risks, readmission",
    "meta": "Meta-analysis (metafor-equal)",
    "econ": "Health economics: cost-benefit and cost-effectiveness",
    "fidelity": "Fidelity scoring and reliability",
    "process": "Process evaluation",
    "simulate": "Simulated trials and planning",
    "plot": "Figures",
    "datasets": "Published datasets",
    "report": "The analysis report",
}


def _public_names(sub: str) -> list[str]:
    import importlib
    import inspect

    mod = importlib.import_module(f"peertrial.{sub}")
    if sub == "plot":
        names = list(mod.__all__)
        for pm in mod._PLOT_MODULES:
            try:
                pmod = importlib.import_module(f"peertrial.plot.{pm}")
            except ModuleNotFoundError:
                continue
            names += [
                n for n, o in vars(pmod).items()
                if not n.startswith("_") and inspect.isfunction(o) and o.__module__ == pmod.__name__
            ]  # fmt: skip
    else:
        names = list(getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")])
    keep = []
    for n in names:
        obj = getattr(mod, n, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and n not in keep:
            keep.append(n)
    funcs = sorted(n for n in keep if inspect.isfunction(getattr(mod, n)))
    classes = sorted(n for n in keep if inspect.isclass(getattr(mod, n)))
    return funcs, classes


def _write_api_pages() -> None:
    import shutil
    from pathlib import Path

    api = Path(__file__).parent / "api"
    api.mkdir(exist_ok=True)
    # pages of names since renamed or removed would be orphans (a warning): autosummary
    # writes the current ones again from the docstrings
    shutil.rmtree(api / "generated", ignore_errors=True)
    index = [
        "API reference",
        "=============",
        "",
        "Every public function and class, generated from its docstring. ``import peertrial as pt``;",
        "each subpackage is imported on first use (``pt.meta.rma``).",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    for sub, title in _SUBPACKAGES.items():
        funcs, classes = _public_names(sub)
        index.append(f"   {sub}")
        head = f"``peertrial.{sub}``: {title}"
        lines = [head, "=" * len(head), "", f".. automodule:: peertrial.{sub}", "   :no-members:", "",
                 f".. currentmodule:: peertrial.{sub}", ""]  # fmt: skip
        for label, names in (("Functions", funcs), ("Classes", classes)):
            if names:
                lines += [label, "-" * len(label), "", ".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
                lines += [f"   {n}" for n in names] + [""]
        text = "\n".join(lines)
        page = api / f"{sub}.rst"
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
    text = "\n".join(index) + "\n"
    page = api / "index.rst"
    if not page.exists() or page.read_text() != text:
        page.write_text(text)


_write_api_pages()  # at configuration time, before Sphinx looks for source files


# --- the validation page's table of fixture sets, read from tests/*/fixtures ------------
def _fixture_versions(path) -> str:
    import json

    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(data, dict):
        return ""
    found = []
    for key, value in data.items():
        k = key.lower()
        if isinstance(value, str) and (k in ("r", "metafor", "survival") or k.endswith("version")):
            found.append(f"{key}: {value}")
    return "; ".join(found)


def _write_fixture_table() -> None:
    import re
    from pathlib import Path

    here = Path(__file__).parent
    rows = []
    for folder in sorted((here.parent / "tests").glob("*/fixtures")):
        module = folder.parent.name
        scripts = sorted(folder.glob("*.R"))
        packages = sorted({
            p for s in scripts for p in re.findall(r"library\((\w+)\)", s.read_text()) if p != "jsonlite"
        })  # fmt: skip
        helpers = sorted(p.name for p in folder.glob("*.py"))
        for data in sorted([*folder.glob("*.json"), *folder.glob("*.csv")]):
            rows.append((module, data.name, ", ".join(s.name for s in scripts) or "-",
                         ", ".join(packages) or "-", ", ".join(helpers) or "-", _fixture_versions(data) or "-"))  # fmt: skip
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - module", "     - file", "     - written by",
             "     - R packages", "     - Python helpers", "     - versions recorded in the file"]  # fmt: skip
    for row in rows:
        lines.append(f"   * - ``{row[0]}``")
        lines += [f"     - {cell}" if i in (3, 5) else f"     - ``{cell}``" if cell != "-" else "     - -"
                  for i, cell in enumerate(row) if i > 0]  # fmt: skip
    text = "\n".join(lines) + "\n"
    out = here / "fixtures_table.rst.inc"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


_write_fixture_table()
