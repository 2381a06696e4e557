"""``peertrial analyse PLAN.toml --out DIR``: run an analysis plan and write its report."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """examples:
  peertrial analyse simulated_data/plan.toml --out output
  peertrial analyse my_trial/plan.toml --out my_trial/report

The plan format is described in docs/analysis_plan.rst (an example: simulated_data/plan.toml).
"""


def _run(args) -> int:
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")
    from peertrial.plan import analyse

    files = analyse(args.plan, args.out)
    out = Path(args.out)
    print(f"wrote {len(files)} files to {out}: {out / 'report.html'}, {out / 'report.pdf'}, "
          f"{out / 'results.json'}, tables/*.csv, figures/*.png|svg")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyse", help="run an analysis plan (TOML) and write the trial's report (HTML, PDF, CSV, JSON)",
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("plan", type=Path, help="analysis plan (TOML); paths in it are relative to its folder")
    p.add_argument("--out", type=Path, default=Path("output"), help="output folder (default: output)")
    p.set_defaults(func=_run)
