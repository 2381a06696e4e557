"""``peertrial econ``: cost-effectiveness of a trial CSV and cost-benefit arithmetic.

    peertrial econ cea trial.csv --cost cost_total --effect qaly [--arm arm] [--effect-label QALY] \\
        --n-boot 5000 --seed 1 --wtp 20000 [--cluster peer_worker] [--covariates age site] \\
        [--ceac ceac.csv] [--price-year 2024]
    peertrial econ ratio --cost 1000 --benefit 4760
    peertrial econ pooled studies.csv --cost cost --benefit benefit [--study study] [--weighting total]
"""

from __future__ import annotations

import argparse

import numpy as np

from peertrial import _design as _builder
from peertrial.cli import add_level_argument, csv_arguments, read_data


def _cea(args) -> int:
    from peertrial.econ import cea

    data = read_data(args)
    res = cea(
        data, cost=args.cost, effect=args.effect, arm=args.arm, n_boot=args.n_boot, seed=args.seed,
        arm_levels=None if args.arm_levels is None else tuple(args.arm_levels),
        cluster=args.cluster, covariates=_builder.from_cli(args.covariates), cost_model=args.cost_model, wtp=args.wtp,
        missing=args.missing, currency=args.currency, price_year=args.price_year,
        effect_label=args.effect_label, lower_is_better=args.lower_is_better, level=args.level,
    )
    print(res.summary())
    if args.ceac:
        res.ceac(np.linspace(0, args.max_wtp, args.n_wtp)).to_csv(args.ceac, index=False, lineterminator="\n")
        print(f"wrote CEAC ({args.n_wtp} WTP values) to {args.ceac}")
    return 0


def _ratio(args) -> int:
    from peertrial.econ import cost_benefit_ratio

    print(cost_benefit_ratio(args.cost, args.benefit, currency=args.currency, price_year=args.price_year).summary())
    return 0


def _pooled(args) -> int:
    from peertrial.econ import pooled_ratio

    res = pooled_ratio(
        read_data(args, id=args.study), cost=args.cost, benefit=args.benefit, study=args.study, weighting=args.weighting,
        n=args.n, uncertainty="bootstrap" if args.n_boot else None, n_boot=args.n_boot or 1, seed=args.seed,
        currency=args.currency, price_year=args.price_year, level=args.level,
    )
    print(res.summary())
    return 0


def _money(p) -> None:
    p.add_argument("--currency", default="GBP")
    p.add_argument("--price-year", type=int, default=None)


def register(subparsers) -> None:
    parser = subparsers.add_parser("econ", help="cost-effectiveness (bootstrap, CEAC) and cost-benefit ratios",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    sub = parser.add_subparsers(dest="econ_command", metavar="ACTION")

    p = sub.add_parser("cea", help="trial-based cost-effectiveness of arm 1 vs arm 0")
    p.add_argument("data", help="CSV, one row per participant")
    p.add_argument("--cost", required=True, help="column of total cost per participant")
    p.add_argument("--effect", default="qaly", help="column of the effect (default: qaly)")
    p.add_argument("--effect-label", default=None,
                   help="unit of the effect in the output (default: QALY for qaly columns, else the column name)")
    p.add_argument("--lower-is-better", action="store_true", help="the effect is a harm (e.g. readmission)")
    p.add_argument("--arm", default="arm")
    p.add_argument("--arm-levels", nargs=2, metavar=("CONTROL", "INTERVENTION"), default=None,
                   help="values of the arm column meaning control and intervention (e.g. Control Peer)")
    csv_arguments(p)
    p.add_argument("--n-boot", type=int, default=5000)
    p.add_argument("--seed", type=int, required=True, help="record it with the results")
    p.add_argument("--wtp", type=float, default=None,
                   help="willingness to pay per unit effect (default: 20000 for QALYs, none otherwise)")
    p.add_argument("--cluster", default=None)
    p.add_argument("--covariates", nargs="+", default=None,
                   help='columns, or one quoted formula: --covariates "age + C(site)"')
    p.add_argument("--cost-model", choices=("ols", "gamma"), default="ols")
    p.add_argument("--missing", choices=("error", "drop", "mi"), default="error")
    p.add_argument("--ceac", help="write the CEAC to this CSV")
    p.add_argument("--max-wtp", type=float, default=100000.0)
    p.add_argument("--n-wtp", type=int, default=501)
    add_level_argument(p)
    _money(p)
    p.set_defaults(func=_cea)

    p = sub.add_parser("ratio", help="cost:benefit ratio, net benefit and ROI")
    p.add_argument("--cost", type=float, required=True)
    p.add_argument("--benefit", type=float, required=True)
    _money(p)
    p.set_defaults(func=_ratio)

    p = sub.add_parser("pooled", help="cost:benefit ratio pooled over studies (CSV, one row per study)")
    p.add_argument("data")
    csv_arguments(p, id_help=False)
    p.add_argument("--cost", default="cost")
    p.add_argument("--benefit", default="benefit")
    p.add_argument("--study", default=None)
    p.add_argument("--n", default=None, help="column of participants (weighting n)")
    p.add_argument("--weighting", choices=("total", "equal", "n"), default="total")
    p.add_argument("--n-boot", type=int, default=0, help="bootstrap over studies (0: none)")
    p.add_argument("--seed", type=int, default=None)
    add_level_argument(p)
    _money(p)
    p.set_defaults(func=_pooled)
