"""``peertrial survival``: readmission analyses of a trial CSV.

    peertrial survival km trial.csv --time readmit_time --event readmitted [--group arm] \\
        [--times 90 180 365] [--tau 365] [--conf-type log] [--plot km.png]
    peertrial survival cox trial.csv --time readmit_time --event readmitted --covariates arm age \\
        [--ties efron] [--strata site] [--cluster site] [--ph]
    peertrial survival cuminc trial.csv --time readmit_time --status readmit_status [--group arm] \\
        [--times 90 180 365] [--fine-gray arm age]
    peertrial survival readmission trial.csv --outcome readmitted_12m [--arm arm] \\
        [--covariates site diagnosis] [--random site] [--arm-levels Control Peer] [--id id]

An ``--event`` column may be given as ``COLUMN==VALUE`` (e.g. ``readmit_status==1``).
"""

from __future__ import annotations

import argparse

import pandas as pd

from peertrial import _design as _builder
from peertrial.cli import add_level_argument, csv_arguments, read_data


def _read(args) -> pd.DataFrame:
    """The CSV with rows named by file line (and ``--id``) in every message."""
    return read_data(args)


def _load(args) -> tuple[pd.DataFrame, str | None]:
    data = _read(args)
    event = getattr(args, "event", None)
    if event and "==" in event:
        col, val = event.split("==", 1)
        if col not in data.columns:
            raise ValueError(f"column {col!r} not found in {args.data}")
        series = data[col]
        value = type(series.dropna().iloc[0])(val) if series.notna().any() else val
        data = data.assign(__event=(series == value).astype(int).where(series.notna()))
        event = "__event"
    return data, event


def _km(args) -> int:
    from peertrial.survival import kaplan_meier

    data, event = _load(args)
    km = kaplan_meier(data, args.time, event, args.group, conf_type=args.conf_type, level=args.level)
    print(km.summary())
    print()
    print(km.at(args.times).to_string(index=False))
    if args.tau:
        print(f"\nRestricted mean survival to {args.tau:g}")
        print(km.rmst(args.tau).to_string(index=False))
        if args.group:
            print(km.rmst_diff(args.tau).to_string())
    if args.plot:
        from peertrial.plot import save
        from peertrial.plot.survival import km_plot

        save(km_plot(km, xlabel=args.xlabel, ylabel=args.ylabel), args.plot)
        print(f"wrote {args.plot}")
    return 0


def _cox(args) -> int:
    from peertrial.survival import cox

    data, event = _load(args)
    fit = cox(data, args.time, event, _builder.from_cli(args.covariates), ties=args.ties, strata=args.strata,
              cluster=args.cluster, level=args.level)
    print(fit.summary())
    if args.ph:
        print("\nProportional hazards (cox.zph, KM transform)")
        print(fit.test_ph().to_string())
    return 0


def _cuminc(args) -> int:
    from peertrial.survival import cuminc, fine_gray

    data = _read(args)
    ci = cuminc(data, args.time, args.status, args.group, cencode=args.cencode)
    print(ci.summary())
    print()
    print(ci.at(args.times).to_string(index=False))
    if args.fine_gray:
        print()
        print(fine_gray(data, args.time, args.status, _builder.from_cli(args.fine_gray), cause=args.cause,
                        cencode=args.cencode, level=args.level).summary())
    return 0


def _readmission(args) -> int:
    from peertrial.survival import readmission_12m

    data = _read(args)
    levels = None if args.arm_levels is None else tuple(args.arm_levels)
    print(readmission_12m(data, args.outcome, args.arm, covariates=_builder.from_cli(args.covariates), random=args.random,
                          arm_levels=levels, level=args.level).summary())
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("survival", help="Kaplan-Meier, Cox, competing risks, 12-month readmission",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="survival_command", metavar="ANALYSIS", required=True)

    p = sub.add_parser("km", help="Kaplan-Meier curves, medians, restricted means")
    p.add_argument("data")
    csv_arguments(p)
    p.add_argument("--time", required=True)
    p.add_argument("--event", required=True, help="0/1 column, or COLUMN==VALUE")
    p.add_argument("--group")
    p.add_argument("--times", type=float, nargs="+", default=[90, 180, 365])
    p.add_argument("--tau", type=float, default=None)
    p.add_argument("--conf-type", default="log", choices=["log", "log-log", "plain", "logit", "arcsin"])
    p.add_argument("--plot", default=None, help="write the KM figure (png/svg/pdf)")
    p.add_argument("--xlabel", default="Days", help="x-axis label of --plot (default 'Days')")
    p.add_argument("--ylabel", default="Proportion event-free",
                   help="y-axis label of --plot (default 'Proportion event-free')")
    add_level_argument(p)
    p.set_defaults(func=_km)

    p = sub.add_parser("cox", help="Cox proportional hazards model")
    p.add_argument("data")
    csv_arguments(p)
    p.add_argument("--time", required=True)
    p.add_argument("--event", required=True, help="0/1 column, or COLUMN==VALUE")
    p.add_argument("--covariates", nargs="+", required=True,
                   help='columns, or one quoted formula: --covariates "arm + C(site) + age"')
    p.add_argument("--ties", default="efron", choices=["efron", "breslow", "exact"])
    p.add_argument("--strata")
    p.add_argument("--cluster")
    p.add_argument("--ph", action="store_true", help="also print the cox.zph test")
    add_level_argument(p)
    p.set_defaults(func=_cox)

    p = sub.add_parser("cuminc", help="cumulative incidence, Gray's test, Fine-Gray")
    p.add_argument("data")
    csv_arguments(p)
    p.add_argument("--time", required=True)
    p.add_argument("--status", required=True)
    p.add_argument("--group")
    p.add_argument("--cencode", type=int, default=0)
    p.add_argument("--cause", type=int, default=1)
    p.add_argument("--times", type=float, nargs="+", default=[90, 180, 365])
    p.add_argument("--fine-gray", nargs="+", default=None, metavar="COVARIATE")
    add_level_argument(p)
    p.set_defaults(func=_cuminc)

    p = sub.add_parser("readmission", help="12-month readmission: proportions, RD, RR, adjusted OR")
    p.add_argument("data")
    csv_arguments(p)
    p.add_argument("--outcome", required=True, help="0/1 column: readmitted within the period")
    p.add_argument("--arm", default="arm", help="randomised arm column (default: arm)")
    p.add_argument("--covariates", nargs="*", default=[], help='adjustment columns or one quoted formula ("C(site) + diagnosis"); default: none; see readmission_12m for the typing rule')
    p.add_argument("--random", default=None)
    p.add_argument("--arm-levels", nargs=2, metavar=("CONTROL", "INTERVENTION"), default=None,
                   help="values of the arm column meaning control and intervention (e.g. Control Peer)")
    add_level_argument(p)
    p.set_defaults(func=_readmission)
