"""The ``peertrial`` command line.

Each capability package that offers commands has a ``_cli.py`` with
``register(subparsers)``, adding one sub-command whose parser sets
``func(args) -> int``. This file only collects them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMAND_MODULES = ("meta", "randomise", "survival", "trial", "econ", "simulate", "plan")


def add_level_argument(parser: argparse.ArgumentParser, default: float = 95.0) -> None:
    """The one ``--level`` option of every command that reports an interval.

    Read as the ``level=`` argument of the library: 95 and 0.95 both mean a 95% interval;
    the library function validates it (a bad value is a ``ValueError``, printed as an error).
    """
    parser.add_argument("--level", type=float, default=default,
                        help=f"confidence level: 95 or 0.95 (default {default:g})")


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


def csv_arguments(parser: argparse.ArgumentParser, *, id_help: str | None = None) -> None:
    """The options of every command that reads a CSV: ``--id``, ``--thousands``, ``--decimal``."""
    if id_help is not False:
        parser.add_argument("--id", default=None,
                            help=id_help or "id column: messages name rows by file line and this id")
    parser.add_argument("--thousands", default=None, metavar="SEP",
                        help="thousands separator used in the file's numbers, e.g. ',' for 10,240.83")
    parser.add_argument("--decimal", default=".", metavar="MARK", help="decimal mark (default '.')")


def read_data(args, *, id: str | None = None):
    """The command's CSV (``args.data``) with rows named by file line (and ``--id``), see
    :func:`peertrial._data.read_csv`."""
    from peertrial import _data

    return _data.read_csv(args.data, id=id if id is not None else getattr(args, "id", None),
                          thousands=getattr(args, "thousands", None), decimal=getattr(args, "decimal", "."))


def _cli_hint(message: str) -> str:
    """Translate the library's read_csv advice into this command line's options."""
    if "read_csv(..., thousands=" in message:
        message += " (on the command line: --thousands ,)"
    if "read_csv(..., decimal=" in message:
        message += " (on the command line: --decimal , --thousands .)"
    return message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        print(f"peertrial: error: {_cli_hint(str(exc))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
