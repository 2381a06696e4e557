"""peertrial: statistical analysis of randomised trials of peer support in mental health.

Submodules (imported on first use, e.g. ``pt.meta.rma``):

- ``randomise``  schedules, minimisation and the concealed allocation ledger
- ``trial``      ITT, as-treated, per-protocol and CACE effects; mixed models
- ``survival``   Kaplan–Meier, log-rank, Cox, competing risks, 12-month readmission
- ``meta``       effect sizes, fixed/random-effects meta-analysis, bias and influence
- ``econ``       cost–benefit ratios, cost-effectiveness, bootstrap and CEAC
- ``fidelity``   fidelity index scoring, reliability; ``process`` for process evaluation
- ``simulate``   calibrated simulated trials and meta-analyses; power by simulation
- ``plot``       matplotlib figures for every result; ``report`` the HTML report
- ``datasets``   published datasets with citations
- ``plan``       an analysis plan in a TOML file -> the trial's report (``peertrial analyse``)
"""

from __future__ import annotations

import importlib

from peertrial._warnings import ConvergenceWarning, PeertrialWarning

__version__ = "0.1.0"

_SUBMODULES = (
    "randomise",
    "trial",
    "survival",
    "meta",
    "econ",
    "fidelity",
    "process",
    "simulate",
    "plot",
    "report",
    "datasets",
    "plan",
)

__all__ = ["ConvergenceWarning", "PeertrialWarning", "__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"peertrial.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'peertrial' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
