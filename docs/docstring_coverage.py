"""Measure how much of peertrial's public surface has full numpydoc docstrings.

``python docs/docstring_coverage.py`` prints, per subpackage, how many public functions
and classes have each numpydoc section the project asks for (Parameters, Returns,
Examples, References, and a line naming the R function it equals), and the names that
still lack one (``--missing``). ``tests/core/test_docstrings.py`` imports :func:`coverage`
and fails if a figure falls below the floor recorded there, so the gap can only shrink.

Public names: everything in a subpackage's ``__all__`` (functions and classes; constants
are left out), plus every plotting function reachable as ``pt.plot.NAME``. A section is
required only where it applies: Parameters when the callable takes arguments, Returns
for functions (not classes).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from dataclasses import dataclass, field

SUBPACKAGES = ("randomise", "trial", "survival", "meta", "econ", "fidelity", "process", "simulate", "datasets", "report")
SECTIONS = ("Parameters", "Returns", "Examples", "References", "R")

# the R function it equals: "R equivalent: ``metafor::rma.uni`` (metafor 4.8-0)" or any pkg::fun
_R_LINE = re.compile(r"(R equivalent|\b[A-Za-z][A-Za-z0-9.]*::[A-Za-z._][A-Za-z0-9._]*)")


def _has_section(doc: str, name: str) -> bool:
    return re.search(rf"^\s*{name}\n\s*-{{3,}}\s*$", doc, flags=re.M) is not None


@dataclass
class Entry:
    module: str
    name: str
    kind: str  # "function" or "class"
    has: dict = field(default_factory=dict)  # section -> bool (absent key: not required)


def _takes_arguments(obj) -> bool:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return any(p.name not in ("self", "cls") for p in sig.parameters.values())


def _entry(module: str, name: str, obj) -> Entry:
    doc = inspect.getdoc(obj) or ""
    kind = "class" if inspect.isclass(obj) else "function"
    e = Entry(module, name, kind)
    if _takes_arguments(obj):
        e.has["Parameters"] = _has_section(doc, "Parameters") or _has_section(doc, "Attributes")
    if kind == "function":
        e.has["Returns"] = _has_section(doc, "Returns") or _has_section(doc, "Yields")
    e.has["Examples"] = _has_section(doc, "Examples") and ">>>" in doc
    e.has["References"] = _has_section(doc, "References")
    e.has["R"] = _R_LINE.search(doc) is not None
    return e


def public_entries() -> list[Entry]:
    """Every public function and class of peertrial, with the sections it has."""
    out: list[Entry] = []
    seen: set[int] = set()
    for sub in SUBPACKAGES:
        mod = importlib.import_module(f"peertrial.{sub}")
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        for name in names:
            obj = getattr(mod, name, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue  # constants, aliases of a name already counted
            seen.add(id(obj))
            out.append(_entry(sub, name, obj))
    plot = importlib.import_module("peertrial.plot")
    for pm in plot._PLOT_MODULES + ("_style",):
        try:
            mod = importlib.import_module(f"peertrial.plot.{pm}")
        except ModuleNotFoundError:
            continue
        for name, obj in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(obj) or id(obj) in seen:
                continue
            if obj.__module__ != mod.__name__:
                continue  # imported helpers
            seen.add(id(obj))
            out.append(_entry("plot", name, obj))
    return out


def coverage(entries: list[Entry] | None = None) -> dict[str, dict[str, tuple[int, int]]]:
    """``{module: {section: (have, need)}}`` plus a ``"total"`` row."""
    entries = public_entries() if entries is None else entries
    table: dict[str, dict[str, list[int]]] = {}
    for e in entries:
        for row in (e.module, "total"):
            cells = table.setdefault(row, {s: [0, 0] for s in SECTIONS})
            for s, ok in e.has.items():
                cells[s][0] += ok
                cells[s][1] += 1
    return {m: {s: tuple(v) for s, v in cells.items()} for m, cells in table.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--missing", metavar="SECTION", help="list the names lacking SECTION")
    args = ap.parse_args(argv)
    entries = public_entries()
    table = coverage(entries)
    print(f"docstring coverage of {len(entries)} public functions and classes (have/need)")
    print(f"{'module':<12}" + "".join(f"{s:>14}" for s in SECTIONS))
    for mod in [*sorted(m for m in table if m != "total"), "total"]:
        cells = table[mod]
        print(f"{mod:<12}" + "".join(f"{f'{h}/{n}':>14}" for h, n in (cells[s] for s in SECTIONS)))
    if args.missing:
        for e in entries:
            if e.has.get(args.missing) is False:
                print(f"  missing {args.missing}: peertrial.{e.module}.{e.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
