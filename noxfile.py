"""Sessions: ``nox -s tests``, ``nox -s analysis``, ``nox -s lint``, ``nox -s benchmarks``.

Each session installs peertrial into its own virtual environment, so a fresh
machine needs nothing but Python 3.11+ and nox.
"""

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
OUTPUT = ROOT / "output"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (and execute the notebooks) against the installed package."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def analysis(session: nox.Session) -> None:
    """Run every script in ``analyses/`` on the shipped simulated data into ``output/``.

    Scripts run in name order; each writes its tables and figures to its own
    sub-folder of ``output/`` and ``peertrial.report`` assembles ``output/report.html``.
    """
    session.install(".")
    OUTPUT.mkdir(exist_ok=True)
    for script in sorted((ROOT / "analyses").glob("[0-9]*.py")):
        session.log(f"running {script.name}")
        session.run("python", str(script), "--out", str(OUTPUT), env={"MPLBACKEND": "Agg"})
    session.run("python", "-m", "peertrial.report", str(OUTPUT))
    session.log(f"report: {OUTPUT / 'report.html'}")


@nox.session
def lint(session: nox.Session) -> None:
    """Static checks with ruff."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "analyses", "benchmarks", "noxfile.py")


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Time peertrial beside its peers (R via Rscript when installed); prints ratios."""
    session.install(".")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
