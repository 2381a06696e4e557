"""The ``peertrial`` command line.

Each capability package that offers commands has a ``_cli.py`` with
``register(subparsers)``, adding one sub-command whose parser sets
``func(args) -> int``. This file only collects them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMAND_MODULES = ("meta", "randomise", "survival", "trial", "econ", "simulate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peertrial",
        description="Statistical analysis of randomised trials of peer support.",
    )
    from peertrial import __version__

    parser.add_argument("--version", action="version", version=f"peertrial {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"peertrial.{name}._cli")
        except ModuleNotFoundError as exc:
            if not f"peertrial.{name}._cli".startswith(exc.name or "?"):
                raise  # a real import error inside an existing command module
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        print(f"peertrial: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
