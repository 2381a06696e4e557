"""Bad-input matrix (issue "Nothing silent, nothing hangs"), over the whole public API.

The public functions are enumerated as in ``test_public_surface`` (every name in the ``__all__`` of
every subpackage), so a new function must be given a call here (``FRAME_CALLS`` for functions taking a
trial table, ``ARRAY_CALLS`` for functions taking vectors) or be listed in ``NOT_IN_MATRIX`` with the
reason. Each call is run against a catalogue of bad inputs and must

- return (a right answer), or
- raise ``ValueError``/``TypeError`` of peertrial's own making (not a numpy/scipy/pandas error, not
  numpy's ``LinAlgError``/pandas' ``IntCastingNaNError`` subclasses, not "operands could not be
  broadcast"), or
- warn (``PeertrialWarning``/``ConvergenceWarning``/``UserWarning``),

and never hang (each call runs under a timeout), never modify the caller's DataFrame and never
return a NaN estimate without a warning. Cases that still fail are listed in ``KNOWN_GAPS`` with
the reason and run as strict xfail, so fixing one flips its test. ``test_tallies`` prints the counts.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

from .test_public_surface import PUBLIC

TIMEOUT = 20.0  # seconds per call; a hang fails, it does not stall the suite

# --------------------------------------------------------------------------- the calls


def _trial(n=60, seed=3):
    d = pt.simulate.trial(n=n, seed=seed)
    return d.assign(event=(d["readmit_status"] == 1).astype(int))


# Each takes the (possibly bad) trial table and calls one public function on it.
FRAME_CALLS = {
    "randomise.minimise": lambda d: pt.randomise.minimise(d, ["site", "diagnosis"], seed=1),
    "randomise.balance_table": lambda d: pt.randomise.balance_table(d, variables=["age", "female", "diagnosis"]),
    "randomise.balance_stats": lambda d: pt.randomise.balance_stats(d, variables=["age", "female", "diagnosis"]),
    "randomise.cluster_randomise": lambda d: pt.randomise.cluster_randomise("site", data=d, seed=1),
    "trial.estimate_effects": lambda d: pt.trial.estimate_effects(d, "hope_12", received="received"),
    "trial.effects_by_use": lambda d: pt.trial.effects_by_use(d, "hope_12"),
    "trial.itt_odds_ratio": lambda d: pt.trial.itt_odds_ratio(d, "readmitted_12m"),
    "trial.random_intercept": lambda d: pt.trial.random_intercept(d, "hope_12", group="site"),
    "trial.partially_nested": lambda d: pt.trial.partially_nested(d, "hope_12", cluster="peer_worker",
                                                                   unassigned="drop"),
    "trial.mmrm": lambda d: pt.trial.mmrm(d, {"4": "hope_4", "12": "hope_12"}),
    # the structured-covariance REML and mmrm's Kenward-Roger (a second call of trial.mmrm)
    "trial.mmrm[ar1h,kr]": lambda d: pt.trial.mmrm(d, {"4": "hope_4", "12": "hope_12"}, covariance="ar1h",
                                                   df_method="kenward-roger"),
    "trial.reference_based_mi": lambda d: pt.trial.reference_based_mi(d, {"4": "hope_4", "12": "hope_12"},
                                                                      covariates=["hope_0"], m=2, seed=1),
    "trial.tipping_point": lambda d: pt.trial.tipping_point(d, {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"],
                                                            m=2, seed=1, deltas=[-4.0, 4.0]),
    "trial.multiple_imputation": lambda d: pt.trial.multiple_imputation(d, "hope_12", covariates=["hope_0"], m=2,
                                                                        n_iter=2, seed=1),
    "trial.hedges_g": lambda d: pt.trial.hedges_g(d, "hope_12"),
    "trial.subgroup_effects": lambda d: pt.trial.subgroup_effects(d, "hope_12", "diagnosis"),
    "trial.consort": lambda d: pt.trial.consort(d, "hope_12", received="received"),
    "trial.marginal_risk": lambda d: pt.trial.marginal_risk(d, "readmitted_12m"),
    "trial.gee": lambda d: pt.trial.gee(d, "readmitted_12m", cluster="site"),
    "survival.survreg": lambda d: pt.survival.survreg(d, "readmit_time", "event", ["arm"]),
    "survival.concordance": lambda d: pt.survival.concordance(d, "readmit_time", "event", predictor="age"),
    "survival.mcf": lambda d: pt.survival.mcf(d, "id", "readmit_time", "event", group="arm"),
    "survival.survsplit": lambda d: pt.survival.survsplit(d, [100, 200], end="readmit_time", event="event"),
    "survival.counting_process": lambda d: pt.survival.counting_process(d, "id", "readmit_time", "event"),
    "simulate.readmission_episodes": lambda d: pt.simulate.readmission_episodes(d, seed=1),
    "survival.kaplan_meier": lambda d: pt.survival.kaplan_meier(d, "readmit_time", "event", "arm"),
    "survival.logrank": lambda d: pt.survival.logrank(d, "readmit_time", "event", "arm"),
    "survival.cox": lambda d: pt.survival.cox(d, "readmit_time", "event", ["arm", "age"]),
    "survival.cuminc": lambda d: pt.survival.cuminc(d, "readmit_time", "readmit_status", "arm"),
    "survival.fine_gray": lambda d: pt.survival.fine_gray(d, "readmit_time", "readmit_status", ["arm"]),
    "survival.cause_specific_cox": lambda d: pt.survival.cause_specific_cox(d, "readmit_time", "readmit_status",
                                                                            ["arm"]),
    "survival.readmission_12m": lambda d: pt.survival.readmission_12m(d, "readmitted_12m"),
    "survival.count_ratio": lambda d: pt.survival.count_ratio(d, "readmissions", exposure="followup_days"),
    "survival.days_ratio": lambda d: pt.survival.days_ratio(d, "bed_days"),
    "econ.cea": lambda d: pt.econ.cea(d, cost="cost_total", effect="qaly", n_boot=50, seed=1),
    "econ.pooled_ratio": lambda d: pt.econ.pooled_ratio(d, cost="cost_total", benefit="bed_days"),
    "process.dose_response": lambda d: pt.process.dose_response(d, "hope_12"),
    "process.engagement_model": lambda d: pt.process.engagement_model(d, "sessions", ["age"]),
    "process.engagement_summary": lambda d: pt.process.engagement_summary(d, peer_worker="peer_worker"),
    "process.mediation": lambda d: pt.process.mediation(d, "arm", "hope_4", "hope_12", n_boot=30, seed=1),
    "process.time_to_first_contact": lambda d: pt.process.time_to_first_contact(d, "contact_days"),
    "process.worker_retention": lambda d: pt.process.worker_retention(d, "readmit_time", "event"),
    "fidelity.weighted_kappa": lambda d: pt.fidelity.weighted_kappa(d, "hope_0", "hope_12"),
    "fidelity.icc": lambda d: pt.fidelity.icc(d, targets="id", raters="site", ratings="hope_12"),
    "fidelity.cronbach_alpha": lambda d: pt.fidelity.cronbach_alpha(_only(d, ["hope_0", "hope_4", "hope_12"])),
    "meta.subgroup": lambda d: pt.meta.subgroup(_effects(d), by="diagnosis"),
    "meta.aggregate": lambda d: pt.meta.aggregate(_effects(d), cluster="site"),
}


def _only(d, cols):
    return d[cols] if isinstance(d, pd.DataFrame) else {c: d[c] for c in cols}


def _effects(d):
    """The table with effect sizes yi, vi added (a dict stays a dict)."""
    if isinstance(d, pd.DataFrame):
        return d.assign(yi=d["age"] / 50, vi=d["qaly"] / 10)
    return {**d, "yi": [a / 50 for a in d["age"]], "vi": [q / 10 for q in d["qaly"]]}


def _bad_frames(d):
    """{name: bad version of the valid trial table d} (d itself is never touched)."""
    num = [c for c in d.columns if pd.api.types.is_numeric_dtype(d[c]) and c not in ("id", "arm")]
    out = {"empty": d.iloc[:0].copy(), "one_row": d.iloc[:1].copy()}
    nan = d.copy()
    for c in num:
        nan[c] = nan[c].astype("float64")
        nan.loc[nan.index[:3], c] = np.nan
    out["nan_rows"] = nan
    inf = d.copy()
    for c in num:
        inf[c] = inf[c].astype("float64")
        inf.loc[inf.index[0], c] = np.inf
    out["inf_value"] = inf
    out["string_arm"] = d.assign(arm=np.where(d["arm"] == 1, "peer", "usual"))
    out["dup_index"] = d.set_axis(np.repeat(np.arange(len(d) // 2 + 1), 2)[: len(d)], axis=0)
    neg = d.copy()
    for c in num:
        neg.loc[neg.index[:3], c] = -neg.loc[neg.index[:3], c].abs() - 1
    out["negative"] = neg
    out["one_arm"] = d.assign(arm=0)
    out["not_a_frame"] = d.to_dict("list")
    return out


# Each maps a catalogue entry name to a zero-argument call of a vector-taking function.
_yi = [0.08, 0.06, -0.07, 0.38, 0.36, 0.41]
_vi = [0.06, 0.03, 0.02, 0.05, 0.06, 0.03]
ARRAY_CALLS = {
    "meta.rma": {
        "nan": lambda: pt.meta.rma([0.1, np.nan, 0.3], [0.1, 0.1, 0.1]),
        "inf_variance": lambda: pt.meta.rma(_yi, [0.06, 0.03, 0.02, 1e300, 0.06, 0.03]),
        "inf_variance_mods": lambda: pt.meta.rma(_yi, [0.06, 0.03, 0.02, 1e300, 0.06, 0.03],
                                                 mods=np.sqrt([0.06, 0.03, 0.02, 1e300, 0.06, 0.03])[:, None]),
        "negative_variance": lambda: pt.meta.rma(_yi, [-0.06] + _vi[1:]),
        "empty": lambda: pt.meta.rma([], []),
        "k1": lambda: pt.meta.rma([0.2], [0.1]),
        "mismatched": lambda: pt.meta.rma(_yi, _vi[:4]),
        "string": lambda: pt.meta.rma(["a", "b"], [0.1, 0.1]),
    },
    "meta.trimfill": {"inf_variance": lambda: pt.meta.trimfill(pt.meta.rma(_yi, [0.06, 0.03, 0.02, 1e300, 0.06, 0.03]))},
    "meta.rma_batch": {"nan": lambda: pt.meta.rma_batch(np.array([_yi, _yi]), np.array([_vi, [np.nan] + _vi[1:]])),
                       "mismatched": lambda: pt.meta.rma_batch(np.array([_yi]), np.array([_vi[:3]]))},
    "meta.rma_mh": {
        "all_double_zero": lambda: pt.meta.rma_mh(ai=[0, 0], bi=[10, 12], ci=[0, 0], di=[11, 9]),
        "negative": lambda: pt.meta.rma_mh(ai=[-1, 2], bi=[10, 12], ci=[3, 1], di=[11, 9]),
        "mismatched": lambda: pt.meta.rma_mh(ai=[1, 2, 3], bi=[10, 12], ci=[3, 1], di=[11, 9]),
    },
    "meta.rma_peto": {"all_double_zero": lambda: pt.meta.rma_peto(ai=[0, 0], bi=[10, 12], ci=[0, 0], di=[11, 9])},
    "meta.escalc": {"nan": lambda: pt.meta.escalc("OR", ai=[np.nan, 2], bi=[10, 12], ci=[3, 1], di=[11, 9]),
                    "negative": lambda: pt.meta.escalc("OR", ai=[-1, 2], bi=[10, 12], ci=[3, 1], di=[11, 9])},
    "meta.regtest": {"k2": lambda: pt.meta.regtest(pt.meta.rma(_yi[:2], _vi[:2]))},
    "meta.ranktest": {"nan": lambda: pt.meta.ranktest([0.1, np.nan, 0.3], [0.1, 0.1, 0.1])},
    "meta.fsn": {"nan": lambda: pt.meta.fsn([0.1, np.nan, 0.3], [0.1, 0.1, 0.1])},
    "meta.leave1out": {"k1": lambda: pt.meta.leave1out(pt.meta.rma([0.2], [0.1]))},
    "meta.influence": {"k2": lambda: pt.meta.influence(pt.meta.rma(_yi[:2], _vi[:2]))},
    "meta.cumul": {"k1": lambda: pt.meta.cumul(pt.meta.rma([0.2], [0.1]))},
    "meta.baujat": {"k1": lambda: pt.meta.baujat(pt.meta.rma([0.2], [0.1]))},
    "meta.blup": {"k1": lambda: pt.meta.blup(pt.meta.rma([0.2], [0.1]))},
    "meta.permutest": {"k2": lambda: pt.meta.permutest(pt.meta.rma(_yi[:2], _vi[:2]), iter=20, seed=1)},
    "meta.robust": {"one_cluster": lambda: pt.meta.robust(pt.meta.rma(_yi, _vi), cluster=[1] * 6)},
    "meta.vcalc": {"nan": lambda: pt.meta.vcalc([0.1, np.nan, 0.3], [1, 1, 2], rho=0.5)},
    "trial.rubin_pool": {
        "negative_variance": lambda: pt.trial.rubin_pool([[1.0], [1.2], [0.9]], [[0.1], [-0.2], [0.1]]),
        "nan_estimate": lambda: pt.trial.rubin_pool([[1.0], [np.nan], [0.9]], [[0.1], [0.2], [0.1]]),
        "dfcom_zero": lambda: pt.trial.rubin_pool([[1.0], [1.2], [0.9]], [[0.1], [0.2], [0.1]], dfcom=0),
        "one_imputation": lambda: pt.trial.rubin_pool([[1.0]], [[0.1]]),
    },
    "trial.impute_norm": {"all_nan": lambda: pt.trial.impute_norm(np.full((5, 2), np.nan), m=2, seed=1)},
    "trial.use_levels": {"mismatched": lambda: pt.trial.use_levels(np.array([1, 2, 3]), np.array([0, 1]))},
    "survival.kaplan_meier": {
        "mismatched": lambda: pt.survival.kaplan_meier(time=[1, 2, 3], event=[1, 0]),
        "nan_time": lambda: pt.survival.kaplan_meier(time=[1, np.nan, 3], event=[1, 0, 1]),
        "negative_time": lambda: pt.survival.kaplan_meier(time=[1, -2, 3], event=[1, 0, 1]),
        "event_2": lambda: pt.survival.kaplan_meier(time=[1, 2, 3], event=[1, 2, 1]),
    },
    "survival.logrank": {
        "no_events": lambda: pt.survival.logrank(time=[1, 2, 3, 4], event=[0, 0, 0, 0], group=[0, 0, 1, 1]),
        "one_group": lambda: pt.survival.logrank(time=[1, 2, 3, 4], event=[1, 0, 1, 0], group=[0, 0, 0, 0]),
    },
    "econ.ceac_from_samples": {
        "nan": lambda: pt.econ.ceac_from_samples([1, np.nan, 3], [0.1, 0.2, 0.3], [1000]),
        "mismatched": lambda: pt.econ.ceac_from_samples([1, 2, 3], [0.1, 0.2], [1000]),
    },
    "econ.discount": {"mismatched": lambda: pt.econ.discount([100, 200, 300], [0, 1]),
                      "nan": lambda: pt.econ.discount([100, np.nan], [0, 1])},
    "econ.discount_factor": {"negative_rate": lambda: pt.econ.discount_factor([0, 1], rate=-2)},
    "econ.present_value": {"nan": lambda: pt.econ.present_value([100, np.nan])},
    "econ.evpi_from_nb": {"nan": lambda: pt.econ.evpi_from_nb(np.array([[1.0, np.nan], [2.0, 1.0]]))},
    "econ.quadrant": {"nan": lambda: pt.econ.quadrant(np.nan, 1.0)},
    "econ.cost_benefit_ratio": {"zero_benefit": lambda: pt.econ.cost_benefit_ratio(100.0, 0.0)},
    "econ.bed_day_savings": {"nan": lambda: pt.econ.bed_day_savings(np.nan, 400)},
    "econ.bootstrap_counts": {"empty": lambda: pt.econ.bootstrap_counts([], 10, seed=1)},
    "econ.icer_table": {"nan": lambda: pt.econ.icer_table([1.0, np.nan], [0.1, 0.2], ["a", "b"])},
    "econ.calculate_icers": {"duplicate": lambda: pt.econ.calculate_icers([1.0, 2.0], [0.1, 0.2], ["a", "a"])},
    "econ.ceac_strategies": {"nan": lambda: pt.econ.ceac_strategies(np.array([[1.0, np.nan]] * 3),
                                                                    np.array([[0.1, 0.2]] * 3), [1000])},
    "econ.one_way_sensitivity": {"missing_range": lambda: pt.econ.one_way_sensitivity(
        lambda a, b: a + b, {"a": 1.0}, {"b": (0.0, 1.0)})},
    "process.implementation_outcomes": {"dict_of_lists": lambda: pt.process.implementation_outcomes(
        {"trained": [10, 28, 5]}), "x_above_n": lambda: pt.process.implementation_outcomes({"trained": (30, 28)})},
    "process.proportion_ci": {"x_above_n": lambda: pt.process.proportion_ci([12], [10]),
                              "nan": lambda: pt.process.proportion_ci([np.nan], [10])},
    "process.km_curve": {"mismatched": lambda: pt.process.km_curve([1, 2, 3], [1, 0])},
    "fidelity.score_fidelity": {
        "item_minus_4": lambda: pt.fidelity.score_fidelity(_fid_scores(-4)),
        "item_40": lambda: pt.fidelity.score_fidelity(_fid_scores(40)),
        "empty": lambda: pt.fidelity.score_fidelity(_fid_scores(None).iloc[:0]),
    },
    "randomise.simple": {"negative_n": lambda: pt.randomise.simple(-3, seed=1)},
    "randomise.complete": {"nan_n": lambda: pt.randomise.complete(np.nan, seed=1)},
    "randomise.permuted_blocks": {"zero_block": lambda: pt.randomise.permuted_blocks(10, block_sizes=(0,), seed=1)},
    "randomise.participant_id": {"none": lambda: pt.randomise.participant_id(None)},
    "randomise.simulate_design": {"zero_reps": lambda: pt.randomise.simulate_design(10, reps=0, seed=1)},
    "simulate.power_t": {"zero_sd": lambda: pt.simulate.power_t(0.5, 0.0, 20)},
    "simulate.power_two_proportions": {"p_above_1": lambda: pt.simulate.power_two_proportions(0.2, 1.5, 50)},
    "simulate.power_schoenfeld": {"negative_hr": lambda: pt.simulate.power_schoenfeld(-0.7, 50)},
    "simulate.trial": {"n_zero": lambda: pt.simulate.trial(n=0, seed=1)},
    "simulate.meta_analysis": {"k_zero": lambda: pt.simulate.meta_analysis(k=0, seed=1)},
}


def _fid_scores(bad):
    f = pt.simulate.simulate_trial(n=40, seed=2).fidelity.copy()
    if bad is not None:
        f.loc[f.index[0], "score"] = bad
    return f


# Public functions the matrix does not call, with the reason (a new function must go somewhere).
NOT_IN_MATRIX = {
    "randomise.constrained_randomise": "allocation over a cluster table; covered by tests/randomise",
    "randomise.Minimiser": "class; its minimise() wrapper is in the matrix",
    "randomise.Ledger": "sqlite file ledger; bad paths covered by tests/randomise",
    "trial.effects_summary": "formats estimate_effects' table",
    "trial.Estimand": "a record of text attributes; validated in tests/trial/test_refbased.py",
    "meta.anova": "takes fits", "meta.ranef": "same code as blup", "meta.rma_mv": "covered by tests/meta",
    "meta.read_revman": "file reader", "meta.arm_columns": "column formatter",
    "fidelity.item_kappa": "takes FidelityScores", "fidelity.fidelity_moderation": "takes FidelityScores",
    "simulate.power": "slow; chunk independence tested below",
    "simulate.power_curve": "slow", "simulate.sample_size": "slow", "simulate.analyse_batch": "takes a simulation",
    "simulate.simulate_batch": "generator", "simulate.simulate_trial": "generator",
    "simulate.true_effects": "generator", "simulate.fidelity_ratings": "generator",
    "simulate.bed_use_studies": "generator", "simulate.TrialParameters": "parameter record",
    "plan.analyse": "CLI-level; tests/plan", "plan.read_plan": "file reader; tests/plan",
    "plan.Plan": "record", "plan.Outcome": "record",
    "survival.aalen_johansen": "multi-state counting-process data (start/stop/state); covered by tests/survival",
}

# (function, case): why it still fails. Run as strict xfail: fixing one makes the test fail until removed.
KNOWN_GAPS: dict[tuple[str, str], str] = {}

# --------------------------------------------------------------------------- the runner

RAW_MESSAGES = ("operands could not be broadcast", "index out of bounds", "singular matrix",
                "cannot convert float nan", "cannot convert non-finite", "could not convert string to float",
                "zero-size array", "length of values", "invalid literal", "unhashable type", "object of type", "not subscriptable")


def _is_clear(exc: BaseException) -> bool:
    if type(exc) not in (ValueError, TypeError) and not type(exc).__module__.startswith("peertrial"):
        return False
    msg = str(exc).lower()
    return bool(msg) and not any(r in msg for r in RAW_MESSAGES)


def _nan_estimate(res) -> bool:
    """True when the result's headline estimate(s) contain NaN."""
    try:
        frame = res.to_frame() if hasattr(res, "to_frame") else res
    except Exception:
        return False
    if isinstance(frame, pd.DataFrame) and "estimate" in frame.columns:
        est = pd.to_numeric(frame["estimate"], errors="coerce")
        return bool(est.isna().all()) and len(est) > 0
    if isinstance(res, (float, np.floating)):
        return bool(np.isnan(res))
    return False


def _run(fn, *args):
    """Outcome of fn(*args): 'answer', 'error', 'warning' or 'FAIL: why'."""
    box = {}

    def target():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                box["res"] = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - classified below
                box["exc"] = exc
        box["warn"] = [w for w in caught if issubclass(w.category, UserWarning)
                       and not issubclass(w.category, (FutureWarning, DeprecationWarning))]

    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(TIMEOUT)
    if th.is_alive():
        return f"FAIL: no answer after {TIMEOUT:.0f}s (hang)"
    if "exc" in box:
        exc = box["exc"]
        if _is_clear(exc):
            return "error"
        return f"FAIL: unclear {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:120]}"
    if box["warn"]:
        return "warning"
    if _nan_estimate(box["res"]):
        return "FAIL: NaN estimate without a warning"
    return "answer"


TALLY: Counter = Counter()


FRAME_CASES = ("empty", "one_row", "nan_rows", "inf_value", "string_arm", "dup_index", "negative", "one_arm",
               "not_a_frame")


def _cases():
    for name in sorted(FRAME_CALLS):
        for case in FRAME_CASES:
            yield "frame", name, case
    for name in sorted(ARRAY_CALLS):
        for case in ARRAY_CALLS[name]:
            yield "array", name, case


def _param(kind, name, case):
    gap = KNOWN_GAPS.get((name, case))
    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
    return pytest.param(kind, name, case, marks=marks, id=f"{name}-{case}")


@pytest.fixture(scope="module")
def frames():
    d = _trial()
    return d, _bad_frames(d)


@pytest.mark.parametrize(("kind", "name", "case"), [_param(*c) for c in _cases()])
def test_bad_input(kind, name, case, frames):
    if kind == "frame":
        _, bad = frames
        data = bad[case]
        before = data.copy(deep=True) if isinstance(data, pd.DataFrame) else None
        outcome = _run(FRAME_CALLS[name], data)
        if before is not None:
            pd.testing.assert_frame_equal(data, before, obj=f"{name}({case}) input")
    else:
        outcome = _run(ARRAY_CALLS[name][case])
    TALLY["calls"] += 1
    TALLY["known gaps" if (name, case) in KNOWN_GAPS else outcome.split(":")[0]] += 1
    assert not outcome.startswith("FAIL"), f"{name} with {case}: {outcome}"


def test_every_public_function_is_in_the_matrix():
    funcs = [n for n, obj in PUBLIC.items() if n.count(".") == 1 and not n.startswith("plot.")
             and not (inspect.isclass(obj) and issubclass(obj, pt._results.Result))]
    missing = [n for n in funcs if n not in FRAME_CALLS and n not in ARRAY_CALLS and n not in NOT_IN_MATRIX]
    assert not missing, f"add these to the bad-input matrix or NOT_IN_MATRIX: {missing}"


def test_tallies():
    """Print the tallies (run with -s to see them); they feed the closing note."""
    print("\nbad-input matrix:", dict(TALLY))
