"""The ``peertrial`` command line.

Each capability package that offers commands has a ``_cli.py`` with
``register(subparsers)``, adding one sub-command whose parser sets
``func(args) -> int``. This file only collects them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from pathlib import Path

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
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (before the command: peertrial --debug meta ...)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"peertrial.{name}._cli")
        except ModuleNotFoundError as exc:
            if not f"peertrial.{name}._cli".startswith(exc.name or "?"):
                raise  # a real import error inside an existing command module
            continue
        module.register(subparsers)
    _add_force_options(parser)
    return parser


def _leaf_parsers(parser: argparse.ArgumentParser):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
    for action in subs:
        for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
            yield from _leaf_parsers(child)


def _add_force_options(parser: argparse.ArgumentParser) -> None:
    """Every command that writes files gets ``--force``: without it, nothing existing is replaced."""
    for leaf in _leaf_parsers(parser):
        dests = {a.dest for a in leaf._actions}
        if dests & set(_OUTPUT_DESTS) and "force" not in dests:
            leaf.add_argument("--force", action="store_true",
                              help="replace output files or a non-empty output folder that already exist")


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
    formatwarning = warnings.formatwarning
    if not getattr(args, "debug", False):  # one line naming the problem, not the entry-point script's source line
        warnings.formatwarning = _format_warning
    try:
        _check_paths(args)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except (ValueError, OSError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"peertrial: error: {_error_message(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug, not a user error: one line unless --debug
        if getattr(args, "debug", False):
            raise
        print(f"peertrial: internal error: {type(exc).__name__}: {exc} (run `peertrial --debug ...` for the "
              "traceback and please report it)", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"peertrial: warning: {message}\n"


# options naming a file the command reads, and a file it writes
_INPUT_DESTS = ("data", "file", "schedule")
_OUTPUT_DESTS = ("out", "json", "ceac", "fidelity", "plot", "csv", "forest", "funnel", "forest_dir")
# of those, the options that always name one file (``--out`` is a folder for some commands, a file for others)
_OUTPUT_FILES = ("json", "ceac", "fidelity", "plot", "forest", "funnel")


def _check_paths(args) -> None:
    """Before any work: input files must not be folders; outputs that exist are kept unless
    ``--force``; the folders outputs go into are created."""
    for dest in _INPUT_DESTS:
        value = getattr(args, dest, None)
        if dest in getattr(args, "folder_inputs", ()):
            continue
        if isinstance(value, (str, os.PathLike)) and str(value) != "-" and Path(value).is_dir():
            raise ValueError(f"{value} is a folder; give the path of a file")
    for dest in _OUTPUT_DESTS:
        value = getattr(args, dest, None)
        if isinstance(value, (str, os.PathLike)) and str(value) not in ("", "-"):
            if dest in _OUTPUT_FILES and Path(value).is_dir():
                raise ValueError(f"{value} is a folder; --{dest} takes the path of a file to write")
            _refuse_overwrite(Path(value), dest, getattr(args, "force", False))
            parent = Path(value).parent
            if not parent.is_dir():
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise ValueError(f"cannot create the output folder {parent} for --{dest.replace('_', '-')}: "
                                     f"{exc.strerror or exc}") from None


def _refuse_overwrite(path: Path, dest: str, force: bool) -> None:
    exists = path.is_file() or (path.is_dir() and any(path.iterdir()))
    if exists and not force:
        what = "folder holds earlier output" if path.is_dir() else "file exists"
        raise ValueError(f"{path}: the --{dest.replace('_', '-')} {what}; pass --force to replace it, "
                         "or choose another path")


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    return _cli_hint(str(exc))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
