"""
A reviewer re-running a review from the command line
=====================================================

A reviewer checking a published meta-analysis needs no Python: the per-study data go in a
CSV with metafor's column names, and ``peertrial meta`` prints the model, writes the
forest plot and a JSON file of every number. This page runs the commands (through
``subprocess``, so what you see is their real output) on the BCG vaccine trials of
Colditz et al. (1994), a dataset shipped with peertrial whose published analysis metafor
reproduces.

In a shell the same steps are::

    peertrial meta bcg.csv --measure RR --method REML --forest forest.png --json bcg.json
    peertrial meta bcg.csv --measure RR --method REML --test knha
    peertrial meta bcg.csv --measure RR --method REML --mods "~ ablat"
"""

# %%
# The data: one row per trial, 2×2 counts renamed to metafor's ``ai, bi, ci, di``.
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import peertrial as pt

work = Path(tempfile.mkdtemp())
bcg = pt.datasets.load("bcg").rename(columns={"tpos": "ai", "tneg": "bi", "cpos": "ci", "cneg": "di"})
bcg["study"] = bcg["author"] + " " + bcg["year"].astype(str)
bcg.to_csv(work / "bcg.csv", index=False)
print(bcg[["study", "ai", "bi", "ci", "di", "ablat"]].head())


def peertrial(*args: str) -> None:
    """Run the ``peertrial`` command (the installed entry point) and show its output."""
    cmd = [sys.executable, "-m", "peertrial.cli", *args]
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True)
    print("$ peertrial " + " ".join(args) + "\n" + out.stdout)


# %%
# The random-effects model of the log risk ratio (REML, as ``metafor::rma``), its forest
# plot and every number as JSON.
peertrial("meta", "bcg.csv", "--measure", "RR", "--method", "REML", "--forest", "forest.png", "--json", "bcg.json")
print(sorted(json.loads((work / "bcg.json").read_text())))

# %%
# Knapp–Hartung, and latitude as a moderator (the published analysis).
peertrial("meta", "bcg.csv", "--measure", "RR", "--method", "REML", "--test", "knha")
peertrial("meta", "bcg.csv", "--measure", "RR", "--method", "REML", "--mods", "~ ablat")

# %%
# Compare with what the paper printed: ``pt.datasets.published("bcg")`` holds the pooled
# results as printed, with the page they are on.
for row in pt.datasets.published("bcg"):
    print(row["analysis"], "|", row["where"], "|", row["figures"])

# %%
# ``peertrial --help`` lists every command; ``peertrial meta --help`` every option.
peertrial("meta", "--help")
