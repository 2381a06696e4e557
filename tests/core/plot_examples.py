"""One small example input for every ``pt.plot`` function and every result with ``.plot()``.

Built once per test session from the shipped simulated data (kept small so it stays fast).
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import peertrial as pt

DATA = Path(__file__).resolve().parents[2] / "simulated_data"


def _fixture(file: str, case: str) -> pd.DataFrame:
    """The data of one case of a survival fixture file (R's real or simulated data)."""
    path = Path(__file__).resolve().parents[1] / "survival" / "fixtures" / file
    return pd.DataFrame(json.loads(path.read_text())[case]["data"])


@functools.cache
def results() -> dict:
    """name -> fitted result (or table) used by the examples."""
    trial = pd.read_csv(DATA / "trial.csv")
    small = trial.iloc[:240].copy()
    ratings = pd.read_csv(DATA / "fidelity_ratings.csv")
    hope = pd.read_csv(DATA / "meta_hope.csv")
    bcg = pt.datasets.load("bcg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = pt.meta.escalc("OR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
        fit = pt.meta.rma("yi", "vi", data=es)
        es_h = pt.meta.escalc("SMD", data=hope, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i",
                              n2i="n2i")
        scores = pt.fidelity.score_fidelity(ratings, scale=(1, 4))
        out = {
            "rma": fit,
            "rma_mh": pt.meta.rma_mh(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg"),
            "rma_peto": pt.meta.rma_peto(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg"),
            "trimfill": pt.meta.trimfill(fit),
            "meta_subgroup": pt.meta.subgroup(es_h, by="type"),
            "cumul": pt.meta.cumul(fit),
            "leave1out": pt.meta.leave1out(fit),
            "kaplan_meier": pt.survival.kaplan_meier(small, time="readmit_time", event="readmitted_12m", group="arm"),
            "cox": pt.survival.cox(small, time="readmit_time", event="readmitted_12m", covariates=["arm", "age"]),
            "cuminc": pt.survival.cuminc(small, time="readmit_time", status="readmit_status", group="arm"),
            "mcf": pt.survival.mcf(_fixture("recurrent_cases.json", "cgd"), id="id", time="time",
                                   event="event", group="group", entry="entry"),
            "aalen_johansen": pt.survival.aalen_johansen(
                _fixture("multistate_cases.json", "readmission"), id="id", start="start", stop="stop",
                event="event", istate="istate", group="arm", censor="censor"),
            "cea": pt.econ.cea(small, cost="cost_total", effect="qaly", arm="arm", n_boot=200, seed=1),
            "sensitivity": pt.econ.one_way_sensitivity(lambda a, b: a * b, {"a": 2.0, "b": 3.0},
                                                       {"a": (1, 4), "b": (2, 3.5)}, output_name="product"),
            "icers": pt.econ.icer_table([0.0, 100.0, 300.0, 250.0], [1.0, 1.2, 1.3, 1.1], ["A", "B", "C", "D"]),
            "effects": pt.trial.estimate_effects(small, outcome="hope_12", arm="arm", received="received",
                                                 covariates=["hope_0"]),
            "trial_subgroup": pt.trial.subgroup_effects(small, "hope_12", subgroup="diagnosis"),
            "consort": pt.trial.consort(small, outcome="hope_12", received="received"),
            "design": pt.randomise.simulate_design(40, strata={"site": [1, 2], "diagnosis": ["a", "b"]}, reps=20,
                                                   seed=1),
            "fidelity_scores": scores,
            "alpha": pt.fidelity.cronbach_alpha(scores),
            "moderation": pt.fidelity.fidelity_moderation(trial, scores, "hope_12", covariates=["hope_0"]),
            "engagement": pt.process.engagement_summary(trial, peer_worker="peer_worker"),
            "contact": pt.process.time_to_first_contact(trial, time="contact_days", horizon=365),
            "mediation": pt.process.mediation(small, "arm", "hope_4", "hope_12", ["hope_0"], n_boot=200, seed=1),
            "implementation": pt.process.implementation_outcomes({"trained": (10, 28), "employed": (7, 10)}),
            "dose": pt.process.dose_response(trial, "hope_12", covariates=["hope_0"]),
            "tipping": pt.trial.tipping_point(small, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"], m=3,
                                              seed=1, deltas=[-6.0, -3.0, 0.0, 3.0, 6.0]),
            "trial": trial,
            "power_curve": pd.DataFrame({"n": [100, 200, 100, 200], "analysis": ["cox", "cox", "ttest", "ttest"],
                                         "power": [0.2, 0.4, 0.3, 0.5], "ci_lb": [0.1, 0.3, 0.2, 0.4],
                                         "ci_ub": [0.3, 0.5, 0.4, 0.6]}),
        }
    return out


def calls() -> dict:
    """pt.plot function name -> ``f(ax)`` drawing the example (``ax=None`` makes a new figure)."""
    r = results()
    P = pt.plot
    return {
        "forest": lambda ax: P.forest(r["rma"], ax=ax),
        "funnel": lambda ax: P.funnel(r["trimfill"], ax=ax),
        "baujat_plot": lambda ax: P.baujat_plot(r["rma"], ax=ax),
        "cumul_forest": lambda ax: P.cumul_forest(r["cumul"], ax=ax),
        "leave1out_forest": lambda ax: P.leave1out_forest(r["leave1out"], r["rma"], transf=np.exp, ax=ax),
        "subgroup_forest": lambda ax: P.subgroup_forest(r["meta_subgroup"], ax=ax),
        "revman_forest": lambda ax: P.revman_forest(r["rma_mh"], subgroup=pt.datasets.load("bcg")["alloc"], ax=ax),
        "km_plot": lambda ax: P.km_plot(r["kaplan_meier"], ax=ax),
        "mcf_plot": lambda ax: P.mcf_plot(r["mcf"], ax=ax),
        "state_probability_plot": lambda ax: P.state_probability_plot(r["aalen_johansen"], ax=ax),
        "cuminc_plot": lambda ax: P.cuminc_plot(r["cuminc"], ax=ax),
        "cox_forest": lambda ax: P.cox_forest(r["cox"], ax=ax),
        "schoenfeld_plot": lambda ax: P.schoenfeld_plot(r["cox"], ax=ax),
        "effects_forest": lambda ax: P.effects_forest(r["effects"], ax=ax),
        "subgroup_effects_forest": lambda ax: P.subgroup_effects_forest(r["trial_subgroup"], ax=ax),
        "consort_diagram": lambda ax: P.consort_diagram(r["consort"], ax=ax),
        "design_imbalance": lambda ax: P.design_imbalance(r["design"], ax=ax),
        "stratum_imbalance": lambda ax: P.stratum_imbalance(r["design"], ax=ax),
        "allocation_sequence": lambda ax: P.allocation_sequence(r["trial"].iloc[:80], by="site", ax=ax),
        "tornado": lambda ax: P.tornado(r["sensitivity"], ax=ax),
        "ce_plane": lambda ax: P.ce_plane(r["cea"], ax=ax),
        "ceac": lambda ax: P.ceac(r["cea"], np.linspace(0, 40000, 41), ax=ax),
        "ce_frontier": lambda ax: P.ce_frontier(r["icers"], ax=ax),
        "fidelity_profile": lambda ax: P.fidelity_profile(r["fidelity_scores"], ax=ax),
        "alpha_plot": lambda ax: P.alpha_plot(r["alpha"], ax=ax),
        "fidelity_moderation_plot": lambda ax: P.fidelity_moderation_plot(r["moderation"], ax=ax),
        "engagement_plot": lambda ax: P.engagement_plot(r["engagement"], ax=ax),
        "survival_curve_plot": lambda ax: P.survival_curve_plot(r["contact"], ax=ax),
        "mediation_plot": lambda ax: P.mediation_plot(r["mediation"], ax=ax),
        "implementation_plot": lambda ax: P.implementation_plot(r["implementation"], ax=ax),
        "dose_response_plot": lambda ax: P.dose_response_plot(r["trial"], r["dose"], ax=ax),
        "power_curve_plot": lambda ax: P.power_curve_plot(r["power_curve"], ax=ax),
        "tipping_point_plot": lambda ax: P.tipping_point_plot(r["tipping"], ax=ax),
    }
