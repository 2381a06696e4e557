"""``peertrial simulate``: simulated trials, meta-analyses and power by simulation.

    peertrial simulate trial --n 590 --seed 2017 --out trial.csv [--fidelity fidelity.csv] \\
        [--set hr_complier=0.7 --set p_received=0.8]
    peertrial simulate meta --k 19 --mu 0.2 --tau2 0.03 --seed 1 --out meta.csv
    peertrial simulate power --n 590 --trials 2000 --seed 1 [--analyses logistic cox ttest] \\
        [--adjust site diagnosis] [--workers 2] [--set hr_complier=0.7] [--out power.csv]
"""

from __future__ import annotations

import argparse
import ast
import dataclasses

from peertrial.cli import add_level_argument


def _overrides(items: list[str] | None) -> dict:
    """``NAME=VALUE`` pairs; values are Python literals (``0.7``, ``(0, 0.2, -0.2)``)."""
    from peertrial.simulate import TrialParameters

    valid = {f.name for f in dataclasses.fields(TrialParameters)}
    out = {}
    for item in items or []:
        name, eq, text = item.partition("=")
        if not eq or name not in valid:
            raise ValueError(f"--set needs NAME=VALUE with NAME a trial parameter; got {item!r} "
                             f"(see help(peertrial.simulate.TrialParameters))")  # fmt: skip
        try:
            out[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"--set {name}: cannot read value {text!r}") from exc
    return out


def _trial(args) -> int:
    from peertrial.simulate import simulate_trial

    res = simulate_trial(args.n, args.sites, args.seed, **_overrides(args.set))
    res.data.to_csv(args.out, index=False, lineterminator="\n")
    if args.fidelity:
        res.fidelity.to_csv(args.fidelity, index=False, lineterminator="\n")
    print(res.summary())
    return 0


def _meta(args) -> int:
    from peertrial.simulate import meta_analysis

    frame = meta_analysis(args.k, args.mu, args.tau2, small_study_bias=args.small_study_bias,
                          publication_bias=args.publication_bias, seed=args.seed)  # fmt: skip
    frame.to_csv(args.out, index=False, lineterminator="\n")
    print(f"wrote {len(frame)} studies to {args.out}")
    return 0


def _power(args) -> int:
    from peertrial.simulate import power

    res = power(args.n, args.trials, analyses=args.analyses, adjust=args.adjust or (), alpha=args.alpha,
                seed=args.seed, workers=args.workers, progress=False if args.quiet else None, level=args.level,
                **_overrides(args.set))  # fmt: skip
    print(res.summary())
    if args.out:
        res.to_frame().to_csv(args.out, lineterminator="\n")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("simulate", help="simulated trials and meta-analyses; power by simulation",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    sub = parser.add_subparsers(dest="simulate_command", metavar="ACTION")

    p = sub.add_parser("trial", help="simulate one trial (CSV, one row per participant)")
    p.add_argument("--n", type=int, default=590)
    p.add_argument("--sites", type=int, default=7)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="participant CSV to write")
    p.add_argument("--fidelity", help="also write the fidelity ratings CSV")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a trial parameter (repeatable)")
    p.set_defaults(func=_trial)

    p = sub.add_parser("meta", help="simulate the summary statistics of k trials")
    p.add_argument("--k", type=int, default=19)
    p.add_argument("--mu", type=float, default=0.2)
    p.add_argument("--tau2", type=float, default=0.03)
    p.add_argument("--small-study-bias", type=float, default=0.0)
    p.add_argument("--publication-bias", type=float, default=0.0)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_meta)

    p = sub.add_parser("power", help="power of the ITT analyses by simulation")
    p.add_argument("--n", type=int, default=590)
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--analyses", nargs="+", default=["logistic", "cox", "ttest"],
                   choices=["logistic", "cox", "ttest", "ancova"])  # fmt: skip
    p.add_argument("--adjust", nargs="+", choices=["age", "female", "prev_admissions", "diagnosis", "site"])
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a trial parameter (repeatable)")
    p.add_argument("--out", help="write the power table to this CSV")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_level_argument(p)
    p.set_defaults(func=_power)
