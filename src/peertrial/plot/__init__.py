"""Figures for peertrial results (matplotlib only).

Every plotting function takes a result object (or data), accepts ``ax=`` (draw into that
matplotlib Axes; multi-panel plots fill its grid slot with a subfigure) and returns the
``matplotlib.figure.Figure``; nothing here fits a model. Results with a natural picture have
``.plot(ax=None, **kwargs)`` calling these functions. Without ``ax`` a figure is built without
pyplot and shows exactly once in Jupyter (see :mod:`peertrial.plot._figure`); :func:`subplots`
makes such a figure for composing several plots, :func:`close` keeps one from being displayed. Use :func:`save` to write a figure
reproducibly (no timestamps in the file, so re-runs are byte-identical). Functions live in one
file per capability (``plot/meta.py``, ``plot/survival.py``, ...) and are re-exported here.
"""

from __future__ import annotations

import importlib

from peertrial.plot._figure import PeertrialFigure, close, subplots
from peertrial.plot._style import save, style

__all__ = ["save", "style", "subplots", "close", "PeertrialFigure"]

_PLOT_MODULES = ("meta", "meta_diagnostics", "meta_review", "survival", "trial", "randomise", "econ", "fidelity", "process", "simulate",
                 "recurrent", "missing")


def __getattr__(name: str):
    for mod in _PLOT_MODULES:
        try:
            module = importlib.import_module(f"peertrial.plot.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"peertrial.plot.{mod}":
                raise  # a real import error inside an existing plot module
            continue
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'peertrial.plot' has no attribute {name!r}")
