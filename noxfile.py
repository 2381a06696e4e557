"""Sessions: ``nox -s tests``, ``analysis``, ``lint``, ``docs``, ``minimums``, ``build``, ``benchmarks``.

Each session installs peertrial into its own virtual environment, so a fresh
machine needs nothing but Python 3.11+ and nox.

- ``tests``      the test suite, including every docstring example (doctests) and the notebooks;
- ``analysis``   ``peertrial analyse simulated_data/plan.toml`` -> ``output/report.html`` (``-- PLAN.toml`` for your own),
                 and the scripts in ``analyses/`` -> ``output/supplementary/report.html``;
- ``lint``       ruff;
- ``docs``       the documentation site (Sphinx, warnings are errors) -> ``docs/_build/html``;
- ``minimums``   the oldest dependency versions that ``pyproject.toml`` allows, then the tests;
- ``build``      wheel and sdist, each installed into a fresh virtual environment and imported;
- ``benchmarks`` timings beside the peers (R via Rscript when installed), printed as ratios.
"""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
OUTPUT = ROOT / "output"
PYTEST = ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (docstring examples and notebooks included) against the installed package."""
    session.install(".[test]")
    session.run(*PYTEST, *session.posargs)


@nox.session
def analysis(session: nox.Session) -> None:
    """Run the shipped analysis plan (or a team's own) and write the trial's report.

    ``nox -s analysis`` runs ``peertrial analyse simulated_data/plan.toml --out output``
    (``output/report.html``, ``report.pdf``, ``results.json``, tables as CSV, figures as
    PNG/SVG), then the scripts in ``analyses/`` (what a plan cannot express: randomisation,
    meta-analysis, planning by simulation, ...) into ``output/supplementary/report.html``.
    ``nox -s analysis -- path/to/plan.toml [--out DIR]`` runs a team's own plan only.
    """
    session.install(".")
    env = {"MPLBACKEND": "Agg"}
    if session.posargs:
        session.run("peertrial", "analyse", *session.posargs, env=env)
        return
    session.run("peertrial", "analyse", str(ROOT / "simulated_data" / "plan.toml"), "--out", str(OUTPUT), "--force",
                env=env)
    supplementary = OUTPUT / "supplementary"
    supplementary.mkdir(parents=True, exist_ok=True)
    for script in sorted((ROOT / "analyses").glob("[0-9]*.py")):
        session.log(f"running {script.name}")
        session.run("python", str(script), "--out", str(supplementary), env=env)
    session.run("python", "-m", "peertrial.report", str(supplementary))
    session.log(f"report: {OUTPUT / 'report.html'} (PDF: {OUTPUT / 'report.pdf'}); "
                f"supplementary analyses: {supplementary / 'report.html'}")


@nox.session
def lint(session: nox.Session) -> None:
    """Static checks with ruff."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "analyses", "benchmarks", "docs", "noxfile.py")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into ``docs/_build/html`` (any Sphinx warning fails).

    The gallery examples are executed, so every figure in the site is made by the
    installed package. ``nox -s docs -- -E`` rebuilds from scratch.
    """
    session.install(".[docs]")
    session.run("python", "docs/docstring_coverage.py")
    session.run(
        "python", "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-j", "1",
        *session.posargs, "docs", "docs/_build/html",
        env={"MPLBACKEND": "Agg"},
    )  # fmt: skip
    session.log(f"site: {ROOT / 'docs/_build/html/index.html'}")


def _minimum_pins() -> list[str]:
    """``name==X`` for every runtime dependency declared ``name>=X`` in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for req in project["dependencies"]:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([0-9][^,;\s]*)\s*", req)
        if m is None:
            raise ValueError(f"dependency {req!r} has no plain '>=' minimum to test")
        pins.append(f"{m.group(1)}=={m.group(2)}")
    return pins


@nox.session
def minimums(session: nox.Session) -> None:
    """Install the oldest versions pyproject.toml allows and run the tests on them.

    Every runtime dependency is pinned to its declared minimum (``numpy>=1.26`` ->
    ``numpy==1.26``); test tools are the newest that resolve with those pins. The
    notebooks are left out (they are the slowest tests and call nothing the unit
    tests do not), and so are the docstring examples (their printed output depends on the
    libraries' repr formats); pass pytest arguments after ``--`` to choose other tests.
    """
    pins = _minimum_pins()
    session.log("pins: " + " ".join(pins))
    session.install(*pins, ".[test]")
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    # docstring examples compare printed output, whose formatting (reprs, signed zeros) varies
    # between library versions: they run in ``nox -s tests`` on current versions only
    args = session.posargs or ["tests", "--ignore=tests/notebooks", "--ignore=tests/core/test_docstrings.py"]
    session.run(*PYTEST, *args)


@nox.session
def build(session: nox.Session) -> None:
    """Build the wheel and the sdist; install each into a fresh venv and use it."""
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.install("build")
    session.run("python", "-m", "build", "--outdir", str(dist))
    wheel = next(dist.glob("peertrial-*.whl"))
    sdist = next(dist.glob("peertrial-*.tar.gz"))
    session.run("python", "-c", _CHECK_WHEEL, str(wheel))
    for artefact in (wheel, sdist):
        venv = Path(session.create_tmp()) / f"venv-{artefact.suffix.strip('.')}"
        shutil.rmtree(venv, ignore_errors=True)
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
        py = str(venv / "bin" / "python")
        session.run(py, "-m", "pip", "install", "--quiet", str(artefact), external=True)
        session.run(py, "-c", _SMOKE, external=True, env={"MPLBACKEND": "Agg"})
        session.run(str(venv / "bin" / "peertrial"), "--version", external=True)


_CHECK_WHEEL = """
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for need in ("peertrial/py.typed", "peertrial/datasets/catalog.json"):
    assert need in names, f"{need} missing from the wheel"
assert any(n.endswith("licenses/LICENSE") for n in names), "LICENSE missing from the wheel"
print(f"wheel holds {len(names)} files, py.typed, datasets and LICENSE included")
"""

_SMOKE = """
import importlib.metadata as md
import peertrial as pt
assert pt.__version__ == md.version("peertrial"), (pt.__version__, md.version("peertrial"))
assert "lifelines" not in (md.requires("peertrial") and " ".join(r for r in md.requires("peertrial") if "extra" not in r))
es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
fit = pt.meta.rma("yi", "vi", data=es, method="REML")
assert abs(fit.tau2 - 0.3132) < 1e-3, fit.tau2
print("installed peertrial", pt.__version__, "fits the BCG meta-analysis: tau2 =", round(fit.tau2, 4))
"""


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Time peertrial beside its peers (R via Rscript when installed); prints ratios."""
    session.install(".[bench]")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
