"""No trial-specific defaults: a column a function needs is named by the caller or has a generic default."""

import importlib
import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

TRIAL = Path(__file__).resolve().parents[2] / "simulated_data" / "trial.csv"
# documented generic defaults (ARCHITECTURE/README conventions): the randomised arm, sessions attended,
# and the long-format fidelity ratings' schema (peer_worker, rater, session, domain, item, score)
GENERIC = {"arm", "sessions", "peer_worker:fidelity", "qaly"}
MODULES = ("trial", "survival", "econ", "process", "fidelity", "randomise", "meta")


def _defaults():
    for name in MODULES:
        mod = importlib.import_module(f"peertrial.{name}")
        for attr in getattr(mod, "__all__", []):
            fn = getattr(mod, attr)
            if not inspect.isfunction(fn):
                continue
            for p in inspect.signature(fn).parameters.values():
                d = p.default
                values = d if isinstance(d, (tuple, list)) else [d]
                for v in values:
                    if isinstance(v, str):
                        yield name, attr, p.name, v


def test_no_default_is_a_column_of_the_shipped_trial():
    columns = set(pd.read_csv(TRIAL, nrows=1).columns)
    offending = []
    for module, fn, param, value in _defaults():
        if value not in columns or value in GENERIC or f"{value}:{module}" in GENERIC:
            continue
        offending.append(f"{module}.{fn}({param}={value!r})")
    assert not offending, "trial-specific defaults: " + ", ".join(offending)


@pytest.fixture(scope="module")
def trial():
    return pd.read_csv(TRIAL)


def test_functions_name_what_they_need(trial):
    with pytest.raises(ValueError, match=r"received="):
        pt.trial.estimate_effects(trial, "hope_12")
    with pytest.raises(ValueError, match=r"received="):
        pt.trial.consort(trial, "hope_12")
    with pytest.raises(ValueError, match=r"group="):
        pt.trial.random_intercept(trial, "hope_12")
    with pytest.raises(ValueError, match=r"cluster="):
        pt.trial.partially_nested(trial, "hope_12")
    with pytest.raises(ValueError, match=r"mediator= and outcome="):
        pt.process.mediation(trial)
    with pytest.raises(ValueError, match=r"time="):
        pt.process.time_to_first_contact(trial)
    with pytest.raises(TypeError):
        pt.survival.readmission_12m(trial)
    summ = pt.process.engagement_summary(trial)
    assert summ.by_worker.empty  # per-worker table only when peer_worker= is named


@pytest.mark.filterwarnings("ignore:.*missing values.*:UserWarning")
def test_a_trial_with_other_column_names(trial):
    """Another trial's columns (no diagnosis, other names) work when named."""
    other = trial.rename(columns={"readmitted_12m": "event", "received": "adherent", "hope_12": "score_m12",
                                  "hope_4": "score_m4"}).drop(columns=["diagnosis"])
    eff = pt.trial.estimate_effects(other, "score_m12", received="adherent")
    assert np.isfinite(eff.loc["cace", "estimate"])
    r12 = pt.survival.readmission_12m(other, "event")  # unadjusted: no site/diagnosis assumed
    assert np.isfinite(r12.to_frame()["estimate"]).all()
    med = pt.process.mediation(other.dropna(subset=["score_m4", "score_m12"]), mediator="score_m4",
                               outcome="score_m12", n_boot=100, seed=1)
    assert np.isfinite(med.to_frame()["estimate"]).all()
