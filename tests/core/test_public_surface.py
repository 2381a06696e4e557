"""The one public surface (issue "One public surface"), checked over the whole public API.

The public callables are enumerated with ``inspect`` (every name in the ``__all__`` of every
subpackage, and the public methods of the public classes), so a new function cannot slip past:

- every callable that reports an interval takes ``level`` and gives identical results for
  ``level=0.95`` and ``level=95``, different ones for ``level=0.9``, and raises ``ValueError`` for
  ``level=150``; every other callable is listed in ``NO_INTERVAL`` (so a new one must be classified);
- no callable keeps ``conf_level`` without ``level``;
- a first parameter that takes the data is named ``data`` (every first-parameter name is classified);
- every CLI command that reports an interval has ``--level``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peertrial as pt
from peertrial._data import confidence_level
from peertrial._results import Result

SKIP_MODULES = {"report", "datasets"}  # no statistics: report assembly and published data


def _public():
    """{qualified name: callable} for every public function, class and public method."""
    out = {}
    for mod_name in pt._SUBMODULES:
        if mod_name in SKIP_MODULES:
            continue
        mod = importlib.import_module(f"peertrial.{mod_name}")
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if not callable(obj) or isinstance(obj, type) and issubclass(obj, BaseException):
                continue
            out[f"{mod_name}.{name}"] = obj
            if inspect.isclass(obj):
                for meth_name, meth in inspect.getmembers(obj, inspect.isfunction):
                    if meth_name.startswith("_") or meth_name in ("summary", "to_frame", "print_summary"):
                        continue
                    if not meth.__module__.startswith("peertrial"):
                        continue  # inherited from matplotlib, pandas, ...
                    out[f"{mod_name}.{name}.{meth_name}"] = meth
    from peertrial import plot

    for mod_name in plot._PLOT_MODULES:  # pt.plot.NAME searches these modules
        mod = importlib.import_module(f"peertrial.plot.{mod_name}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if not name.startswith("_") and fn.__module__ == mod.__name__:
                out[f"plot.{name}"] = fn
    return out


PUBLIC = _public()


def _params(obj):
    try:
        return inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return {}


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def trial():
    d = pt.simulate.trial(n=240, seed=11)
    return d.assign(event=(d["readmit_status"] == 1).astype(int))


@pytest.fixture(scope="module")
def scores():
    ratings = pt.simulate.fidelity_ratings(n=240, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pt.fidelity.score_fidelity(ratings)


@pytest.fixture(scope="module")
def es():
    bcg = pt.datasets.load("bcg")
    return pt.meta.escalc("RR", data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")


def _rma(es, **kw):
    return pt.meta.rma("yi", "vi", data=es, **kw)


def _clear_effect():
    """Costs and QALYs with a clear effect, so that the Fieller ICER limits are finite."""
    rng = np.random.default_rng(1)
    arm = np.repeat([0, 1], 100)
    return pd.DataFrame({"arm": arm, "qaly": 0.5 + 0.1 * arm + rng.normal(0, 0.05, 200),
                         "cost": 1000 + 500 * arm + rng.normal(0, 100, 200)})


def _kappa_data(scores):
    occ = scores.occasions["total"].unstack(level=1)
    return occ.round().dropna()


# Every callable that reports an interval: how to call it at a given level (data from the fixtures).
RECIPES = {
    "survival.kaplan_meier": lambda d, L: pt.survival.kaplan_meier(d["trial"], "readmit_time", "event", "arm", level=L),
    "survival.KaplanMeierResult.rmst_diff": lambda d, L: pt.survival.kaplan_meier(
        d["trial"], "readmit_time", "event", "arm", level=L).rmst_diff(300),
    "survival.cox": lambda d, L: pt.survival.cox(d["trial"], "readmit_time", "event", ["arm", "age"], level=L),
    "survival.CoxResult.predict_survival_ci": lambda d, L: pt.survival.cox(
        d["trial"], "readmit_time", "event", ["arm", "age"], level=L).predict_survival_ci(d["trial"].head(2), [100, 200]),
    "survival.fine_gray": lambda d, L: pt.survival.fine_gray(d["trial"], "readmit_time", "readmit_status", ["arm"], level=L),
    "survival.cause_specific_cox": lambda d, L: pt.survival.cause_specific_cox(
        d["trial"], "readmit_time", "event", ["arm"], level=L),
    "survival.readmission_12m": lambda d, L: pt.survival.readmission_12m(d["trial"], "readmitted_12m", covariates="C(site)", level=L),
    "survival.count_ratio": lambda d, L: pt.survival.count_ratio(d["trial"], "readmissions", exposure="followup_days", level=L),
    "survival.days_ratio": lambda d, L: pt.survival.days_ratio(d["trial"], "bed_days", model="two-part", level=L),
    "survival.mcf": lambda d, L: pt.survival.mcf(d["trial"], id="id", time="readmit_time", event="event",
                                                 group="arm", level=L),
    "survival.aalen_johansen": lambda d, L: pt.survival.aalen_johansen(
        d["trial"].assign(start=0), id="id", start="start", stop="readmit_time", event="readmit_status",
        group="arm", level=L),
    "survival.survreg": lambda d, L: pt.survival.survreg(d["trial"], "readmit_time", "event", ["arm", "age"],
                                                         level=L),
    "survival.concordance": lambda d, L: pt.survival.concordance(d["trial"], "readmit_time", "event",
                                                                 predictor="age", level=L),
    "trial.estimate_effects": lambda d, L: pt.trial.estimate_effects(d["trial"], "hope_12", received="received", level=L),
    "trial.effects_by_use": lambda d, L: pt.trial.effects_by_use(d["trial"], "hope_12", level=L),
    "trial.itt_odds_ratio": lambda d, L: pt.trial.itt_odds_ratio(d["trial"], "readmitted_12m", level=L),
    "trial.gee": lambda d, L: pt.trial.gee(d["trial"], "readmitted_12m", cluster="site", level=L),
    "trial.marginal_risk": lambda d, L: pt.trial.marginal_risk(d["trial"], "readmitted_12m", covariates=["hope_0"],
                                                               level=L),
    "trial.random_intercept": lambda d, L: pt.trial.random_intercept(d["trial"], "hope_12", group="site", level=L),
    "trial.partially_nested": lambda d, L: pt.trial.partially_nested(d["trial"], "hope_12", cluster="peer_worker",
                                                                       unassigned="drop", level=L),
    "trial.mmrm": lambda d, L: pt.trial.mmrm(d["trial"], {"4": "hope_4", "12": "hope_12"}, level=L),
    "trial.reference_based_mi": lambda d, L: pt.trial.reference_based_mi(
        d["trial"], {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"], m=2, seed=1, level=L),
    "trial.tipping_point": lambda d, L: pt.trial.tipping_point(
        d["trial"], {"4": "hope_4", "12": "hope_12"}, covariates=["hope_0"], m=2, seed=1, deltas=[-4.0, 4.0],
        level=L),
    "trial.multiple_imputation": lambda d, L: pt.trial.multiple_imputation(
        d["trial"], "hope_12", covariates=["hope_0"], m=3, n_iter=2, seed=1, level=L),
    "trial.rubin_pool": lambda d, L: pt.trial.rubin_pool([[1.0, 2.0], [1.2, 2.1], [0.9, 1.8]], [[0.1, 0.2]] * 3,
                                                         dfcom=50, level=L),
    "trial.hedges_g": lambda d, L: pt.trial.hedges_g(d["trial"], "hope_12", level=L),
    "trial.subgroup_effects": lambda d, L: pt.trial.subgroup_effects(d["trial"], "hope_12", "diagnosis", level=L),
    "meta.rma": lambda d, L: _rma(d["es"], level=L),
    "meta.RMAResult.refit": lambda d, L: _rma(d["es"]).refit(level=L),
    "meta.RMAResult.predict": lambda d, L: _rma(d["es"]).predict(level=L),
    "meta.RMAResult.confint": lambda d, L: _rma(d["es"]).confint(level=L),
    "meta.rma_batch": lambda d, L: pt.meta.rma_batch(np.vstack([d["es"]["yi"]] * 2), np.vstack([d["es"]["vi"]] * 2), level=L),
    "meta.rma_mh": lambda d, L: pt.meta.rma_mh(pt.datasets.load("bcg"), "tpos", "tneg", "cpos", "cneg", level=L),
    "meta.rma_peto": lambda d, L: pt.meta.rma_peto(pt.datasets.load("bcg"), "tpos", "tneg", "cpos", "cneg", level=L),
    "meta.regtest": lambda d, L: pt.meta.regtest(_rma(d["es"]), level=L),
    "meta.rma_mv": lambda d, L: pt.meta.rma_mv("yi", "vi", data=d["es"].assign(study=range(len(d["es"]))),
                                               random="~ 1 | study", level=L),
    "meta.RMAMVResult.predict": lambda d, L: pt.meta.rma_mv(
        "yi", "vi", data=d["es"].assign(study=range(len(d["es"]))), random="~ 1 | study").predict(level=L),
    "meta.robust": lambda d, L: pt.meta.robust(_rma(d["es"]), cluster=d["es"]["alloc"].to_numpy(), level=L),
    "meta.Review.rerun": lambda d, L: pt.meta.read_revman(
        Path(__file__).parents[1] / "meta" / "fixtures" / "revman" / "test_review.rm5").rerun(method="REML", level=L),
    "meta.RMAMVResult.confint": lambda d, L: pt.meta.rma_mv(
        "yi", "vi", data=d["es"].assign(study=range(len(d["es"]))), random="~ 1 | study").confint(level=L),
    "meta.blup": lambda d, L: pt.meta.blup(_rma(d["es"]), level=L),
    "meta.ranef": lambda d, L: pt.meta.ranef(_rma(d["es"]), level=L),
    "meta.subgroup": lambda d, L: pt.meta.subgroup(d["es"], by="alloc", level=L),
    "econ.cea": lambda d, L: pt.econ.cea(d["trial"], cost="cost_total", effect="qaly", n_boot=200, seed=1, level=L),
    "econ.CEA.icer_ci": lambda d, L: pt.econ.cea(_clear_effect(), n_boot=50, seed=1).icer_ci(level=L),
    "econ.pooled_ratio": lambda d, L: pt.econ.pooled_ratio(pt.simulate.bed_use_studies(seed=1), uncertainty="bootstrap",
                                                           n_boot=200, seed=1, level=L),
    "fidelity.cronbach_alpha": lambda d, L: pt.fidelity.cronbach_alpha(d["scores"], level=L),
    "fidelity.icc": lambda d, L: pt.fidelity.icc(d["scores"], level=L),
    "fidelity.weighted_kappa": lambda d, L: pt.fidelity.weighted_kappa(_kappa_data(d["scores"]), "A", "B", level=L),
    "fidelity.item_kappa": lambda d, L: pt.fidelity.item_kappa(d["scores"], level=L),
    "fidelity.fidelity_moderation": lambda d, L: pt.fidelity.fidelity_moderation(
        d["trial"], d["scores"], "hope_12", level=L),
    "process.dose_response": lambda d, L: pt.process.dose_response(d["trial"], "hope_12", level=L),
    "process.engagement_model": lambda d, L: pt.process.engagement_model(d["trial"], "sessions", ["age"], level=L),
    "process.mediation": lambda d, L: pt.process.mediation(d["trial"], "arm", "hope_4", "hope_12", n_boot=100, seed=1,
                                                               level=L),
    "process.km_curve": lambda d, L: pt.process.km_curve(d["trial"]["readmit_time"], d["trial"]["event"],
                                                         d["trial"]["arm"], level=L),
    "process.time_to_first_contact": lambda d, L: pt.process.time_to_first_contact(d["trial"], "contact_days", level=L),
    "process.worker_retention": lambda d, L: pt.process.worker_retention(
        pd.DataFrame({"months_in_post": [3, 5, 8, 12, 12, 20, 24, 24], "left": [1, 1, 0, 1, 0, 1, 0, 0]}), level=L),
    "process.proportion_ci": lambda d, L: pt.process.proportion_ci([3, 7], [10, 12], level=L),
    "process.implementation_outcomes": lambda d, L: pt.process.implementation_outcomes({"trained": (10, 28)}, level=L),
    "simulate.power": lambda d, L: pt.simulate.power(60, 20, analyses=("ttest",), seed=1, workers=1, progress=False,
                                                     level=L),
    "simulate.power_curve": lambda d, L: pt.simulate.power_curve([60, 80], 20, analyses=("ttest",), seed=1,
                                                                 workers=1, progress=False, level=L),
    "plot.cuminc_plot": None,  # figures: test_figure_level
    "plot.funnel": None,
}

# Callables that report no interval (a new public callable must be added here or to RECIPES).
NO_INTERVAL = {
    # randomise: allocation, no estimation
    "randomise.simple", "randomise.complete", "randomise.permuted_blocks", "randomise.cluster_randomise",
    "randomise.constrained_randomise", "randomise.ConstrainedRandomisation", "randomise.simulate_design",
    "randomise.DesignSimulation", "randomise.Minimiser", "randomise.minimise", "randomise.balance_table",
    "randomise.balance_stats", "randomise.Ledger", "randomise.participant_id",
    # survival data preparation and simulated recurrent events
    "survival.survsplit", "survival.counting_process", "simulate.readmission_episodes",
    # results and pure helpers
    "trial.effects_summary", "trial.use_levels", "trial.impute_norm", "trial.consort",
    "trial.Estimand",  # a description of the estimand, no estimation
    "survival.logrank", "survival.cuminc",  # chi-square tests; cmprsk's estimate and variance
    "meta.escalc", "meta.ranktest", "meta.trimfill", "meta.fsn", "meta.leave1out", "meta.influence",
    "meta.cumul", "meta.baujat",  # these use the fit's level
    "meta.anova", "meta.permutest",  # tests
    # the analysis plan's confidence level is the plan file's [trial] level key (tests/plan)
    "plan.analyse", "plan.read_plan", "plan.Plan", "plan.Outcome",
    "meta.read_revman", "meta.vcalc", "meta.aggregate", "meta.arm_columns",  # data handling
    "econ.bed_day_savings", "econ.bootstrap_counts", "econ.calculate_icers", "econ.ceac_from_samples",
    "econ.ceac_strategies", "econ.cost_benefit_ratio", "econ.discount", "econ.discount_factor", "econ.evpi_from_nb",
    "econ.icer_table", "econ.one_way_sensitivity", "econ.present_value", "econ.quadrant",
    "fidelity.score_fidelity", "process.engagement_summary",
    "simulate.TrialParameters", "simulate.bed_use_studies", "simulate.analyse_batch", "simulate.fidelity_ratings", "simulate.meta_analysis",
    "simulate.power_schoenfeld", "simulate.power_t", "simulate.power_two_proportions", "simulate.sample_size",
    "simulate.simulate_batch", "simulate.simulate_trial", "simulate.trial", "simulate.true_effects",
    "plot.save", "plot.style",
}

# First-parameter names that are not the data (columns/arrays R-style, a fit, sizes, ...).
NOT_DATA_FIRST = {
    "self", "cls", "n", "k", "x", "yi", "fit", "measure", "cost", "delta_cost", "costs", "values", "years",
    "by_year", "bed_days_saved", "unit_arm", "model", "nb", "effects", "estimates", "sessions", "time", "clusters",
    "outcomes", "factors", "path", "ns", "target", "sim", "hr", "delta", "p0", "n_sites", "fig", "name", "scores",
    "site_weights", "value", "vi", "plan", "population",
}


def _classified(name: str) -> bool:
    cls = name.rsplit(".", 1)[0]
    if name.startswith("plot.") and "level" not in _params(PUBLIC[name]):
        return True  # figures draw a result's intervals at the level the result was fitted with
    return name in RECIPES or name in NO_INTERVAL or cls in NO_INTERVAL or (cls in PUBLIC and inspect.isclass(PUBLIC[cls]) and
                                                      issubclass(PUBLIC[cls], Result) and name not in RECIPES
                                                      and "level" not in _params(PUBLIC[name]))


def test_every_callable_is_classified():
    """A public callable either has a level recipe or is listed as reporting no interval."""
    unclassified = [name for name, obj in PUBLIC.items()
                    if not inspect.isclass(obj) or not issubclass(obj, Result)
                    if not _classified(name)]
    with_level = [name for name, obj in PUBLIC.items() if "level" in _params(obj) and not inspect.isclass(obj)]
    missing = sorted(set(with_level) - set(RECIPES))
    assert not missing, f"callables taking level= without a recipe in RECIPES: {missing}"
    assert not unclassified, f"classify these in RECIPES (they report an interval) or NO_INTERVAL: {unclassified}"
    assert not set(RECIPES) & NO_INTERVAL


def test_recipes_take_level():
    for name in RECIPES:
        assert name in PUBLIC, f"{name} is not public any more; update RECIPES"
        params = _params(PUBLIC[name])
        # a result's method may use the level its fit was given (the recipe varies that)
        assert "level" in params or "kwargs" in params or "self" in params, name


def test_no_conf_level_without_level():
    bad = [name for name, obj in PUBLIC.items() if "conf_level" in _params(obj) and "level" not in _params(obj)]
    assert not bad, f"conf_level without level: {bad}"


def test_data_first_parameter_is_named_data():
    firsts = {}
    for name, obj in PUBLIC.items():
        if inspect.isclass(obj) and issubclass(obj, Result) or name.startswith("plot."):
            continue  # results are built by the package; figures take a result
        params = [p for p in _params(obj).values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if params:
            firsts[name] = params[0].name
    bad = {n: f for n, f in firsts.items() if f != "data" and f not in NOT_DATA_FIRST}
    assert not bad, f"first parameters that are neither `data` nor a known non-data argument: {bad}"
    assert not [n for n, f in firsts.items() if f in ("df", "frame", "dataset", "data_or_fit", "participants")]


def _same(a, b):
    if isinstance(a, Result):
        pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
        assert a.summary() == b.summary()
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif hasattr(a, "__dataclass_fields__"):
        for f in a.__dataclass_fields__:
            _same(getattr(a, f), getattr(b, f))
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    elif isinstance(a, (tuple, list, np.ndarray, float, int)) and not isinstance(a, str):
        try:
            np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
        except (TypeError, ValueError):
            np.testing.assert_array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
    else:
        assert a == b


def _frame(res):
    if isinstance(res, Result):
        return res.to_frame()
    if isinstance(res, pd.DataFrame):
        return res
    if isinstance(res, dict):
        return pd.DataFrame({k: [v] for k, v in res.items() if np.isscalar(v)})
    if isinstance(res, tuple):
        return pd.DataFrame([res])
    return pd.DataFrame({f: [np.asarray(getattr(res, f)).ravel()[0]] for f in res.__dataclass_fields__
                         if f in ("ci_lb", "ci_ub")})


@pytest.mark.parametrize("name", [n for n, r in RECIPES.items() if r is not None])
def test_level_as_proportion_or_percentage(name, trial, scores, es):
    fixtures = {"trial": trial, "scores": scores, "es": es}
    call = RECIPES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", FutureWarning)
        a, b, c = call(fixtures, 0.95), call(fixtures, 95), call(fixtures, 0.9)
        with pytest.raises(ValueError, match="level"):
            call(fixtures, 150)
    _same(a, b)
    fa, fc = _frame(a), _frame(c)
    assert not fa.equals(fc), f"{name}: level=0.9 gives the same output as level=0.95"


def _drawn(fig):
    """Every coordinate drawn: line data and filled regions."""
    out = []
    for ax in fig.axes:
        out += [np.asarray(line.get_xydata()) for line in ax.lines]
        out += [np.asarray(p.vertices) for c in ax.collections for p in c.get_paths()]
    return out


@pytest.mark.parametrize("name", ["cuminc_plot", "funnel"])
def test_figure_level(name, es):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if name == "cuminc_plot":
        d = pt.simulate.trial(n=120, seed=3)
        result = pt.survival.cuminc(d, "readmit_time", "readmit_status", "arm")
    else:
        result = _rma(es)
    fn = getattr(pt.plot, name)
    drawn = []
    for L in (0.95, 95, 0.8):
        fig = fn(result, level=L)
        drawn.append(_drawn(fig))
        plt.close(fig)
    assert len(drawn[0]) == len(drawn[1])
    for a, b in zip(drawn[0], drawn[1]):
        np.testing.assert_array_equal(a, b)
    assert any(a.shape != c.shape or not np.array_equal(a, c) for a, c in zip(drawn[0], drawn[2]))
    with pytest.raises(ValueError, match="level"):
        fn(result, level=150)


@pytest.mark.parametrize("value, expected", [(0.95, 0.95), (95, 0.95), (90, 0.9), (0.5, 0.5), (1, 0.01),
                                             (99.9, 0.999), (np.float32(95), 0.95)])
def test_confidence_level_rule(value, expected):
    assert confidence_level(value) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("value", [0, 100, 150, -1, -0.5, np.nan, np.inf, True, "95", None, [95]])
def test_confidence_level_rejects(value):
    if value is None:  # None means the default
        assert confidence_level(None) == 0.95
        return
    with pytest.raises(ValueError, match="level"):
        confidence_level(value)


def test_conf_level_is_a_deprecated_alias(trial):
    with pytest.warns(FutureWarning, match="conf_level"):
        old = pt.survival.kaplan_meier(trial, "readmit_time", "event", "arm", conf_level=0.9)
    new = pt.survival.kaplan_meier(trial, "readmit_time", "event", "arm", level=90)
    pd.testing.assert_frame_equal(old.to_frame(), new.to_frame())
    with pytest.warns(FutureWarning, match="conf_level"):
        assert old.conf_level == 0.9
    with pytest.raises(ValueError, match="level"), pytest.warns(FutureWarning):
        pt.survival.kaplan_meier(trial, "readmit_time", "event", "arm", level=0.8, conf_level=0.9)
    with pytest.warns(FutureWarning) as rec:
        pt.trial.hedges_g(trial, "hope_12", conf_level=0.9)
    assert any(w.filename == __file__ for w in rec), "the warning points at the caller's line"


def _leaf_parsers():
    from peertrial.cli import build_parser

    out = {}

    def walk(p, path):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[" ".join(path)] = p
        for a in subs:
            for n, sp in a.choices.items():
                walk(sp, [*path, n])

    walk(build_parser(), [])
    return out


CLI_NO_INTERVAL = {"analyse",  # the level is the plan file's [trial] level key
                   "randomise schedule", "randomise allocate", "randomise audit", "randomise verify",
                   "randomise extend", "econ ratio", "simulate trial", "simulate meta"}


def test_cli_commands_with_intervals_take_level():
    leaves = _leaf_parsers()
    for cmd, parser in leaves.items():
        opts = {o for a in parser._actions for o in a.option_strings}
        if cmd.split(" ")[0] in ("randomise",) or cmd in CLI_NO_INTERVAL:
            continue
        assert "--level" in opts, f"`peertrial {cmd}` reports an interval but has no --level"


def test_cli_level_proportion_or_percentage(tmp_path, capsys):
    from peertrial.cli import main

    path = tmp_path / "trial.csv"
    d = pt.simulate.trial(n=120, seed=5)
    d.assign(event=(d["readmit_status"] == 1).astype(int)).to_csv(path, index=False)
    outs = []
    for L in ("95", "0.95"):
        assert main(["survival", "km", str(path), "--time", "readmit_time", "--event", "event",
                     "--group", "arm", "--level", L]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert main(["survival", "km", str(path), "--time", "readmit_time", "--event", "event",
                 "--level", "150"]) == 1
    assert "level" in capsys.readouterr().err


@pytest.mark.parametrize("old, new", [
    ("peertrial.trial.SubgroupResult", "peertrial.trial.SubgroupEffects"),
    ("peertrial.trial.subgroups.SubgroupResult", "peertrial.trial.SubgroupEffects"),
    ("peertrial.trial.dose_response", "peertrial.trial.effects_by_use"),
    ("peertrial.trial.effects.dose_response", "peertrial.trial.effects_by_use"),
    ("peertrial.plot.baujat", "peertrial.plot.baujat_plot"),
    ("peertrial.survival.km.km_curve", "peertrial.survival.km.km_table"),
])
def test_renamed_names_are_deprecated_aliases(old, new):
    def resolve(path):
        mod, name = path.rsplit(".", 1)
        return getattr(importlib.import_module(mod), name)

    with pytest.warns(FutureWarning, match=new.rsplit(".", 1)[-1]):
        assert resolve(old) is resolve(new)


def test_each_public_name_means_one_thing():
    """A public name is defined once across the subpackages and the plot modules (deprecated
    aliases are served by module ``__getattr__`` and do not count)."""
    from collections import defaultdict

    where = defaultdict(set)
    for name, obj in PUBLIC.items():
        if name.count(".") == 1:
            where[name.split(".")[1]].add(getattr(obj, "__module__", "?"))
    dup = {n: m for n, m in where.items() if len(m) > 1}
    assert not dup, f"names defined in several modules: {dup}"


def test_rma_says_when_escalc_measure_was_lost(es):
    """escalc keeps measure/ni in DataFrame.attrs, which a merge drops: rma warns instead of
    silently reporting measure "GEN"; measure= restores it."""
    from peertrial import PeertrialWarning

    bcg = pt.datasets.load("bcg").rename(columns={"tpos": "ai", "tneg": "bi", "cpos": "ci", "cneg": "di"})
    es = pt.meta.escalc("RR", data=bcg, ai="ai", bi="bi", ci="ci", di="di")
    assert _rma(es).measure == "RR"
    merged = es.merge(pd.DataFrame({"trial": es["trial"], "extra": 1}), on="trial")
    assert "measure" not in merged.attrs
    with pytest.warns(PeertrialWarning, match="measure="):
        assert _rma(merged).measure == "GEN"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = _rma(merged, measure="RR")
    assert fit.measure == "RR" and fit.b == pytest.approx(_rma(es).b, rel=1e-12)
