"""Deferred imports: heavy dependencies load on first use, not when peertrial is imported.

``stats = lazy_module("scipy.stats")`` binds a stand-in whose first attribute access
imports the module (later ones are a dictionary look-up in ``sys.modules``), so
``import peertrial.meta`` costs nothing for scipy.stats, statsmodels, pingouin or
matplotlib until a function that needs them runs. ``lazy_function(module, name)`` does
the same for a single function imported by name.
"""

from __future__ import annotations

import importlib
from typing import Any


class _LazyModule:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r} (imported on first use)>"


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it at the first attribute access."""
    return _LazyModule(name)


def lazy_function(module: str, name: str):
    """Function ``name`` of ``module``, imported when first called."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported on first call."
    return call
