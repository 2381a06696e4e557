"""``peertrial randomise``: schedules and the concealed allocation ledger.

    peertrial randomise schedule --n 600 --arms control peer --block-sizes 2 4 6 \\
        --strata site=1,2,3,4,5,6,7 --strata diagnosis=psychotic,personality,other \\
        --seed 2017 --out schedule.csv --db trial.db
    peertrial randomise allocate --db trial.db --id P001 --site 3 --diagnosis psychotic
    peertrial randomise audit --db trial.db [--csv audit.csv]
    peertrial randomise verify --db trial.db [--head HASH]
    peertrial randomise extend --db trial.db --schedule longer.csv
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

_DESIGNS = ("blocks", "complete", "simple")


class _StrataParser(argparse.ArgumentParser):
    """Collects ``--<factor> <level>`` options not declared in advance into ``args.strata``."""

    def __init__(self, *args, collect_strata: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self._collect = collect_strata

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if not self._collect:
            return namespace, extras
        strata, rest, i = {}, [], 0
        while i < len(extras):
            token = extras[i]
            if token.startswith("--") and len(token) > 2:
                name, eq, value = token[2:].partition("=")
                if not eq:
                    if i + 1 >= len(extras):
                        self.error(f"option {token} needs a level")
                    value, i = extras[i + 1], i + 1
                strata[name.replace("-", "_")] = value
            else:
                rest.append(token)
            i += 1
        namespace.strata = strata
        return namespace, rest


def _level(text: str):
    """CLI levels are text; whole numbers become ints so they match numeric strata."""
    try:
        return int(text)
    except ValueError:
        return text


def _parse_strata(items: list[str] | None) -> dict | None:
    if not items:
        return None
    strata = {}
    for item in items:
        name, eq, levels = item.partition("=")
        if not eq or not name or not levels:
            raise ValueError(f"--strata must look like NAME=LEVEL1,LEVEL2,...; got {item!r}")
        strata[name] = [_level(v.strip()) for v in levels.split(",")]
    return strata


def _schedule(args) -> int:
    from peertrial.randomise import Ledger, complete, permuted_blocks, simple

    if not args.out and not args.db:
        raise ValueError("give --out CSV and/or --db LEDGER to keep the schedule")
    arms = [_level(a) for a in args.arms]
    strata = _parse_strata(args.strata)
    if args.design == "blocks":
        sched = permuted_blocks(args.n, arms=arms, block_sizes=args.block_sizes, strata=strata,
                                ratio=args.ratio, seed=args.seed)
    elif args.design == "complete":
        sched = complete(args.n, arms=arms, ratio=args.ratio, strata=strata, seed=args.seed)
    else:
        sched = simple(args.n, arms=arms, ratio=args.ratio, strata=strata, seed=args.seed)
    if args.out:
        sched.to_csv(args.out, index=False, lineterminator="\n")
        print(f"wrote {len(sched)} slots to {args.out}")
    if args.db:
        with Ledger.create(args.db, sched) as led:
            print(f"created ledger {args.db}: {len(sched)} slots, strata {led.factors or 'none'}, arms {led.arms}")
            print(f"head {led.head()}")
    return 0


def _allocate(args) -> int:
    from peertrial.randomise import Ledger

    strata = {k: _level(v) for k, v in args.strata.items()}
    with Ledger(args.db) as led:
        arm = led.allocate(args.id, **strata)
        print(arm)
    return 0


def _audit(args) -> int:
    from peertrial.randomise import Ledger

    with Ledger(args.db) as led:
        audit = led.audit()
        ok = led.verify()
        head = led.head()
    if args.csv:
        audit.to_csv(args.csv, index=False, lineterminator="\n")
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 20):
        print(audit.to_string(index=False) if len(audit) else "no allocations yet")
    print(f"{len(audit)} allocations; hash chain {'intact' if ok else 'BROKEN'}; head {head}")
    return 0


def _verify(args) -> int:
    from peertrial.randomise import Ledger

    with Ledger(args.db) as led:
        led.verify(head=args.head)
        print(f"ledger {args.db} verified: hash chain intact; head {led.head()}")
    return 0


def _extend(args) -> int:
    from peertrial.randomise import Ledger

    sched = pd.read_csv(args.schedule)
    with Ledger(args.db) as led:
        added = led.extend(sched)
        print(f"added {added} slots; head {led.head()}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("randomise", help="allocation schedules and the concealed allocation ledger",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    sub = parser.add_subparsers(dest="randomise_command", metavar="ACTION", parser_class=_StrataParser)

    p = sub.add_parser("schedule", help="generate a schedule (CSV) and/or create a ledger holding it")
    p.add_argument("--n", type=int, required=True, help="slots per stratum")
    p.add_argument("--arms", nargs="+", default=["0", "1"], help="arm labels (default 0 1)")
    p.add_argument("--design", choices=_DESIGNS, default="blocks")
    p.add_argument("--block-sizes", nargs="+", type=int, default=[2, 4, 6])
    p.add_argument("--ratio", nargs="+", type=int, default=None)
    p.add_argument("--strata", action="append", metavar="NAME=L1,L2,...", help="a stratum factor (repeatable)")
    p.add_argument("--seed", type=int, required=True, help="record it in the protocol")
    p.add_argument("--out", help="schedule CSV to write")
    p.add_argument("--db", help="ledger to create (never overwritten)")
    p.set_defaults(func=_schedule)

    p = sub.add_parser("allocate", collect_strata=True,
                       help="allocate one participant: --db trial.db --id P001 --site 3 --diagnosis psychotic",
                       usage="peertrial randomise allocate --db DB --id ID --FACTOR LEVEL [--FACTOR LEVEL ...]")
    p.add_argument("--db", required=True)
    p.add_argument("--id", required=True, help="participant id")
    p.set_defaults(func=_allocate)

    p = sub.add_parser("audit", help="list every allocation and check the hash chain")
    p.add_argument("--db", required=True)
    p.add_argument("--csv", help="also write the audit table to this CSV")
    p.set_defaults(func=_audit)

    p = sub.add_parser("verify", help="check the hash chain; exit status 1 if the ledger was edited")
    p.add_argument("--db", required=True)
    p.add_argument("--head", help="head hash recorded earlier (detects removal of the newest entries)")
    p.set_defaults(func=_verify)

    p = sub.add_parser("extend", help="append slots from a longer schedule made with the same seed")
    p.add_argument("--db", required=True)
    p.add_argument("--schedule", required=True, help="schedule CSV")
    p.set_defaults(func=_extend)


if __name__ == "__main__":  # pragma: no cover
    from peertrial.cli import main

    sys.exit(main(["randomise", *sys.argv[1:]]))
