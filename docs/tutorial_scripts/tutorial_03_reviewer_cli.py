"""
A reviewer re-running a review from the command line
=====================================================

A reviewer checking a published meta-analysis needs no Python: the per-study data go in a
CSV with the paper's own column names, flags spelled as metafor's arguments say which column is
which (``--ai tpos``), and ``peertrial meta`` prints the model, writes the forest plot and a JSON
file of every number. This page runs the commands (through
``subprocess``, so what you see is their real output) on the BCG vaccine trials of
Colditz et al. (1994), a dataset shipped with peertrial whose published analysis metafor
reproduces.

In a shell the same steps are::

    peertrial meta bcg.csv --measure RR --ai tpos --bi tneg --ci cpos --di cneg \
        --slab author --year year --forest forest.png --json bcg.json
    peertrial meta bcg.csv --measure RR --ai tpos --bi tneg --ci cpos --di cneg --test knha
    peertrial meta bcg.csv --measure RR --ai tpos --bi tneg --ci cpos --di cneg --mods "~ ablat"
"""

# %%
# The data, with the dataset's own column names: one row per trial, vaccinated with and
# without tuberculosis (``tpos``, ``tneg``), controls with and without (``cpos``, ``cneg``).
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import peertrial as pt

work = Path(tempfile.mkdtemp())
bcg = pt.datasets.load("bcg")
bcg.to_csv(work / "bcg.csv", index=False)
print(bcg[["author", "year", "tpos", "tneg", "cpos", "cneg", "ablat"]].head())
CELLS = ("--ai", "tpos", "--bi", "tneg", "--ci", "cpos", "--di", "cneg")


def peertrial(*args: str) -> None:
    """Run the ``peertrial`` command (the installed entry point) and show its output."""
    cmd = [sys.executable, "-m", "peertrial.cli", *args]
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True)
    print("$ peertrial " + shlex.join(args) + "\n" + out.stdout)  # quoted as a shell needs it


# %%
# The random-effects model of the log risk ratio (REML, as ``metafor::rma``), its forest
# plot and every number as JSON.
peertrial("meta", "bcg.csv", "--measure", "RR", *CELLS, "--slab", "author", "--year", "year", "--method", "REML",
          "--forest", "forest.png", "--json", "bcg.json")
print(sorted(json.loads((work / "bcg.json").read_text())))

# %%
# Knapp–Hartung, and latitude as a moderator (the published analysis).
peertrial("meta", "bcg.csv", "--measure", "RR", *CELLS, "--method", "REML", "--test", "knha")
peertrial("meta", "bcg.csv", "--measure", "RR", *CELLS, "--method", "REML", "--mods", "~ ablat")

# %%
# Compare with what the paper printed: ``pt.datasets.published("bcg")`` holds the pooled
# results as printed, with the page they are on.
for row in pt.datasets.published("bcg"):
    print(row["analysis"], "|", row["where"], "|", row["figures"])

# %%
# ``peertrial --help`` lists every command; ``peertrial meta --help`` every option.
peertrial("meta", "--help")
