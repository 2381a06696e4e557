"""Regenerate every file in ``simulated_data/`` from code and fixed seeds.

    python simulated_data/make_data.py            # rewrite the CSVs beside this script
    python simulated_data/make_data.py --out DIR  # write them elsewhere
    python simulated_data/make_data.py --check    # exit 1 unless the shipped files match

The output is bit-for-bit identical on every run (numpy's PCG64 streams are
platform independent and every number is rounded before it is written).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import peertrial.simulate as sim

HERE = Path(__file__).resolve().parent

#: The seeds of the shipped data (ENRICH started recruiting in 2017; White et al. 2020).
TRIAL_SEED = 2017
META_SEED = 2020
BED_USE_SEED = 2013  # Trachtenberg et al. 2013 pooled six bed-use studies into 1:4.76

#: The shipped meta-analysis: 19 trials as in White et al. 2020, modest effect on
#: hope, moderate heterogeneity, small-study effects and some publication bias.
META_ARGS = dict(k=19, mu=0.15, tau2=0.03, small_study_bias=1.0, publication_bias=0.3, p_group=0.3,
                 type_effect=-0.1)


def _write(frame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def make(out: Path) -> list[Path]:
    """Write ``trial.csv``, ``readmissions_long.csv``, ``fidelity_ratings.csv``, ``meta_hope.csv``,
    ``bed_use_studies.csv`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    trial = sim.simulate_trial(n=590, n_sites=7, seed=TRIAL_SEED)
    files = {
        "trial.csv": trial.data,
        "readmissions_long.csv": sim.readmission_episodes(trial.data, seed=TRIAL_SEED),
        "fidelity_ratings.csv": trial.fidelity,
        "meta_hope.csv": sim.meta_analysis(**META_ARGS, seed=META_SEED),
        "bed_use_studies.csv": sim.bed_use_studies(k=6, seed=BED_USE_SEED),
    }
    paths = []
    for name, frame in files.items():
        _write(frame, out / name)
        paths.append(out / name)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: beside this script)")
    parser.add_argument("--check", action="store_true", help="compare with the shipped files instead")
    args = parser.parse_args(argv)
    if not args.check:
        for path in make(args.out):
            print(f"wrote {path}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = make(Path(tmp))
        differ = [p.name for p in fresh if not filecmp.cmp(p, HERE / p.name, shallow=False)]
    if differ:
        print(f"differ from the shipped files: {', '.join(differ)}")
        return 1
    print("simulated_data/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
