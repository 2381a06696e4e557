"""``peertrial randomise``: schedules and the concealed allocation ledger.

    peertrial randomise schedule --n 600 --arms control peer --block-sizes 2 4 6 \\
        --strata site=1,2,3,4,5,6,7 --strata diagnosis=psychotic,personality,other \\
        --db trial.db [--key-file /secure/trial.key] [--out schedule.csv] [--seed N] [--force]
    peertrial randomise allocate --db trial.db --id P001 --site 3 --diagnosis psychotic
    peertrial randomise audit --db trial.db [--csv audit.csv]
    peertrial randomise verify --db trial.db [--head RECEIPT ...]
    peertrial randomise extend --db trial.db --n 900      # or --schedule longer.csv
    peertrial randomise user add --db trial.db --name NAME --role site|statistician|admin [--site SITE]
    peertrial randomise user revoke --db trial.db --name NAME
    peertrial randomise serve --db trial.db [--host 127.0.0.1] [--port 8000]
    peertrial randomise backup --db trial.db --out backup.db   # SQLite online backup, safe while serving

Without --seed the schedule's seed is 256 bits from the operating system and is never
shown or stored: nobody can regenerate the schedule. The trial key (which seals the
schedule and keys the hash chain) is written to --key-file (default trial.db.key,
mode 0600) unless $PEERTRIAL_LEDGER_KEY holds it; keep it away from the ledger's backups.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

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


def _write_csv_private(frame: pd.DataFrame, path: Path, force: bool) -> None:
    """Write a CSV holding schedule information: created 0600, atomically, never over a file unless force."""
    from peertrial.randomise._keys import write_private

    tmp = path.with_name(f".{path.name}.peertrial-tmp.{os.getpid()}.{secrets.token_hex(6)}")
    try:
        write_private(tmp, frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        raise ValueError(f"{path} exists; it is never overwritten (use --force)") from None
    except OSError as exc:
        from peertrial.randomise.ledger import _os_problem

        raise _os_problem(exc, path, "cannot write the schedule") from None
    finally:
        tmp.unlink(missing_ok=True)


def _schedule(args) -> int:
    from peertrial.randomise import Ledger, complete, permuted_blocks, simple
    from peertrial.randomise._keys import default_key_file

    if not args.out and not args.db:
        raise ValueError("give --db LEDGER and/or --out CSV to keep the schedule")
    out = Path(args.out) if args.out else None
    db = Path(args.db) if args.db else None
    targets = [out, db]
    if db is not None and not os.environ.get("PEERTRIAL_LEDGER_KEY"):
        targets.append(Path(args.key_file) if args.key_file else default_key_file(db))
    if not args.force:  # refuse before writing anything, so outputs never disagree
        for target in targets:
            if target is not None and target.exists():
                raise ValueError(f"{target} exists; it is never overwritten (use --force to replace it)")
    for target in targets:  # the ledger and its key may go into folders that do not exist yet
        if target is not None and not target.parent.is_dir():
            try:
                target.parent.mkdir(parents=True)
            except OSError as exc:
                raise ValueError(f"cannot create the folder {target.parent} for {target.name}: "
                                 f"{exc.strerror or exc}") from None
    if args.seed is None:
        seed = secrets.randbits(256)  # from the operating system; never printed or stored
    else:
        seed = args.seed
        print("peertrial: warning: a user-supplied seed makes the schedule reproducible by anyone who knows "
              "or guesses it (a search of small seeds finds it from a few observed allocations); leave out "
              "--seed to draw 256 bits from the operating system", file=sys.stderr)
    arms = [_level(a) for a in args.arms]
    strata = _parse_strata(args.strata)
    if args.design == "blocks":
        sched = permuted_blocks(args.n, arms=arms, block_sizes=args.block_sizes, strata=strata,
                                ratio=args.ratio, seed=seed)
    elif args.design == "complete":
        sched = complete(args.n, arms=arms, ratio=args.ratio, strata=strata, seed=seed)
    else:
        sched = simple(args.n, arms=arms, ratio=args.ratio, strata=strata, seed=seed)
    led = None
    if db is not None:
        generator = {"design": args.design, "seed": int(seed), "arms": arms, "strata": strata,
                     "ratio": args.ratio}
        if args.design == "blocks":
            generator["block_sizes"] = args.block_sizes
        led = Ledger.create(db, sched, key_file=args.key_file, overwrite=args.force, generator=generator)
    try:
        if out is not None:
            _write_csv_private(sched, out, args.force)
    except BaseException:
        if led is not None:  # the ledger was made by this command: remove it, so no outputs disagree
            led.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            if not os.environ.get("PEERTRIAL_LEDGER_KEY"):
                (Path(args.key_file) if args.key_file else default_key_file(db)).unlink(missing_ok=True)
        raise
    if out is not None:
        print(f"wrote {len(sched)} slots to {out} (mode 0600: it reveals the whole schedule)")
    if led is not None:
        with led:
            print(f"created ledger {db}: {len(sched)} slots, strata {led.factors or 'none'}, arms {led.arms}")
            if not os.environ.get("PEERTRIAL_LEDGER_KEY"):
                print(f"trial key: {args.key_file or default_key_file(db)} (mode 0600; keep it private and "
                      "backed up separately from the ledger)")
            print(f"head {led.head()}")
    return 0


def _allocate(args) -> int:
    from peertrial.randomise import Ledger

    strata = {k: _level(v) for k, v in args.strata.items()}
    with Ledger(args.db, key_file=args.key_file) as led:
        rec = led._allocate(args.id, strata, {"via": "cli", "os_user": _os_user()})
        print(rec["arm"])
        print(f"receipt {rec['receipt']}", file=sys.stderr)
    return 0


def _audit(args) -> int:
    from peertrial.randomise import Ledger

    with Ledger(args.db, key_file=args.key_file) as led:
        audit = led.audit()
        ok = led.verify()
        head = led.head()
    if args.csv:  # the allocations so far: created 0600, never over an existing file without --force
        _write_csv_private(audit, Path(args.csv), args.force)
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 20):
        print(audit.to_string(index=False) if len(audit) else "no allocations yet")
    print(f"{len(audit)} allocations; hash chain {'intact' if ok else 'BROKEN'}; head {head}")
    return 0


def _verify(args) -> int:
    from peertrial.randomise import Ledger

    with Ledger(args.db, key_file=args.key_file) as led:
        led.verify(head=args.head)
        print(f"ledger {args.db} verified: hash chain intact; head {led.head()}")
    return 0


def _extend(args) -> int:
    from peertrial.randomise import Ledger

    if (args.schedule is None) == (args.n is None):
        raise ValueError("give --n N (slots per stratum, regenerated from the ledger's sealed seed) or --schedule CSV")
    sched = pd.read_csv(args.schedule) if args.schedule else None
    with Ledger(args.db, key_file=args.key_file) as led:
        added = led.extend(sched, n=args.n)
        print(f"added {added} slots; head {led.head()}")
    return 0


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not an error
        return "unknown"


def _user(args) -> int:
    from peertrial.randomise import Ledger

    with Ledger(args.db, key_file=args.key_file) as led:
        if args.user_command == "add":
            token = led.add_user(args.name, args.role, _level(args.site) if args.site is not None else None)
            print(f"user {args.name!r} ({args.role}{', site ' + args.site if args.site else ''}) added.")
            print("access token (shown only now; the ledger keeps only a salted hash):")
            print(token)
        elif args.user_command == "revoke":
            led.revoke_user(args.name)
            print(f"user {args.name!r} revoked")
        else:
            users = led.users()
            print(users.to_string(index=False) if len(users) else "no users")
    return 0


def _backup(args) -> int:
    from peertrial.randomise import Ledger

    with Ledger(args.db, key_file=args.key_file) as led:
        try:
            led.backup(args.out, overwrite=args.force)
        except FileExistsError as exc:
            raise ValueError(str(exc)) from None
        print(f"backed up {args.db} to {args.out} (mode 0600; integrity checked). Back up the trial key "
              "separately: the backup cannot be verified or used without it.")
    return 0


def _serve(args) -> int:
    try:
        from peertrial.randomise._server import serve
    except ImportError as exc:
        raise ValueError(f"the web service needs the server extra: pip install 'peertrial[server]' ({exc})") from None
    return serve(args.db, host=args.host, port=args.port, key_file=args.key_file,
                 proxy_headers=args.proxy_headers, forwarded_allow_ips=args.forwarded_allow_ips)


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
    p.add_argument("--seed", type=int, default=None,
                   help="a known seed (warned against: default 256 bits from the operating system, never shown)")
    p.add_argument("--out", help="schedule CSV to write (created 0600; never overwritten without --force)")
    p.add_argument("--db", help="ledger to create (never overwritten without --force)")
    p.add_argument("--key-file", help="where to write the trial key (default DB.key, mode 0600)")
    p.add_argument("--force", action="store_true", help="replace existing --out/--db/--key-file")
    p.set_defaults(func=_schedule)

    p = sub.add_parser("allocate", collect_strata=True,
                       help="allocate one participant: --db trial.db --id P001 --site 3 --diagnosis psychotic",
                       usage="peertrial randomise allocate --db DB --id ID --FACTOR LEVEL [--FACTOR LEVEL ...]")
    p.add_argument("--db", required=True)
    p.add_argument("--id", required=True, help="participant id")
    p.add_argument("--key-file", help="trial key file (default DB.key, or $PEERTRIAL_LEDGER_KEY)")
    p.set_defaults(func=_allocate)

    p = sub.add_parser("audit", help="list every allocation and check the hash chain")
    p.add_argument("--db", required=True)
    p.add_argument("--csv", help="also write the audit table to this CSV (created 0600)")
    p.add_argument("--force", action="store_true", help="replace an existing --csv")
    p.add_argument("--key-file", help="trial key file (default DB.key, or $PEERTRIAL_LEDGER_KEY)")
    p.set_defaults(func=_audit)

    p = sub.add_parser("verify", help="check the hash chain; exit status 1 if the ledger was edited")
    p.add_argument("--db", required=True)
    p.add_argument("--head", nargs="+", help="receipt(s) or head hash(es) recorded earlier; each must still be "
                   "in the chain (detects deletion of those allocations)")
    p.add_argument("--key-file", help="trial key file (default DB.key, or $PEERTRIAL_LEDGER_KEY)")
    p.set_defaults(func=_verify)

    p = sub.add_parser("extend", help="append slots: --n N regenerates from the sealed seed; or --schedule CSV")
    p.add_argument("--db", required=True)
    p.add_argument("--n", type=int, help="new number of slots per stratum, regenerated from the generator and "
                   "sealed seed the ledger recorded at creation")
    p.add_argument("--schedule", help="schedule CSV (from the same generator and seed, larger n)")
    p.add_argument("--key-file", help="trial key file (default DB.key, or $PEERTRIAL_LEDGER_KEY)")
    p.set_defaults(func=_extend)

    p = sub.add_parser("user", help="users of the web service: add (prints a token once), revoke, list")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    usub = p.add_subparsers(dest="user_command", metavar="ACTION")
    for action in ("add", "revoke", "list"):
        q = usub.add_parser(action, help={"add": "add a user and print its access token once",
                                          "revoke": "revoke a user's token", "list": "list users"}[action])
        q.add_argument("--db", required=True)
        q.add_argument("--key-file", help="trial key file (default DB.key, or $PEERTRIAL_LEDGER_KEY)")
        if action != "list":
            q.add_argument("--name", required=True)
        if action == "add":
            q.add_argument("--role", required=True, choices=["site", "statistician", "admin"])
            q.add_argument("--site", help="the site a site user allocates at")
        q.set_defaults(func=_user)

    p = sub.add_parser("backup", help="copy the ledger with SQLite's online backup API (safe while serving)")
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, help="the backup file (created 0600; never overwritten without --force)")
    p.add_argument("--key-file", help="trial key file (default DB.key, or $PEERTRIAL_LEDGER_KEY)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_backup)

    p = sub.add_parser("serve", help="the web randomisation service (HTTP API and pages for site staff)")
    p.add_argument("--db", required=True)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; put an "
                   "HTTPS reverse proxy in front for other machines)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--key-file", help="trial key file (default DB.key, or $PEERTRIAL_LEDGER_KEY)")
    p.add_argument("--proxy-headers", action="store_true",
                   help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a reverse proxy)")
    p.add_argument("--forwarded-allow-ips", default="127.0.0.1", help="proxy addresses to trust")
    p.set_defaults(func=_serve)


if __name__ == "__main__":  # pragma: no cover
    from peertrial.cli import main

    sys.exit(main(["randomise", *sys.argv[1:]]))
