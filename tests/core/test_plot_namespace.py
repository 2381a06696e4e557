import importlib
from collections import Counter

from peertrial import plot


def _public_functions(module):
    return [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            and getattr(v, "__module__", "") == module.__name__]


def test_plot_names_are_unique_across_modules():
    """``pt.plot.NAME`` resolves by searching modules in order, so a name may live in one module only."""
    names = Counter()
    for mod in plot._PLOT_MODULES:
        names.update(_public_functions(importlib.import_module(f"peertrial.plot.{mod}")))
    assert [n for n, c in names.items() if c > 1] == []
    assert plot.forest is importlib.import_module("peertrial.plot.meta").forest
