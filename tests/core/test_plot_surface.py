"""Every ``pt.plot`` function takes ``ax=`` and returns the Figure; figures display once.

The functions are enumerated from the plot modules, so a new plot function without ``ax=``
or without an example here fails the test.
"""

import importlib
import inspect
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
from matplotlib.figure import Figure, SubFigure  # noqa: E402

import peertrial as pt  # noqa: E402
from peertrial import plot  # noqa: E402
from peertrial.plot._figure import PeertrialFigure  # noqa: E402

from .plot_examples import calls, results  # noqa: E402


def _plot_functions():
    out = {}
    for mod in plot._PLOT_MODULES:
        module = importlib.import_module(f"peertrial.plot.{mod}")
        for name, f in vars(module).items():
            if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == module.__name__:
                out[name] = f
    return out


FUNCTIONS = _plot_functions()


def test_every_plot_function_has_an_ax_keyword_and_an_example():
    no_ax = [n for n, f in FUNCTIONS.items() if "ax" not in inspect.signature(f).parameters]
    assert no_ax == []
    assert all(inspect.signature(f).parameters["ax"].default is None for f in FUNCTIONS.values())
    assert sorted(FUNCTIONS) == sorted(calls())


def _artists(fig):
    n = len(fig.texts) + len(fig.subfigs)
    for ax in fig.axes:
        n += len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.texts) + len(ax.images)
    return n


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_plot_function_draws_into_the_given_axes(name):
    draw = calls()[name]
    fig = draw(None)
    assert isinstance(fig, PeertrialFigure) and fig.axes
    host = Figure(figsize=(12, 9))
    axes = host.subplots(2, 2)
    axes[0, 1].plot([0, 1], [0, 1])  # a neighbour the plot must leave alone
    before = _artists(host)
    out = draw(axes[1, 0])
    assert out is host
    assert _artists(host) > before
    assert axes[0, 1] in host.axes and len(axes[0, 1].lines) == 1
    if axes[1, 0] not in host.axes:  # a multi-panel plot took the slot with a subfigure
        (sub,) = host.subfigs
        assert isinstance(sub, SubFigure) and sub.axes
        assert sub._subplotspec.get_geometry() == axes[1, 0].get_subplotspec().get_geometry()
    host.savefig(os.devnull, format="png")


RESULT_PLOTS = {
    # result key -> the plot function its .plot() draws
    "rma": "forest", "rma_mh": "forest", "rma_peto": "forest", "trimfill": "funnel",
    "meta_subgroup": "subgroup_forest", "kaplan_meier": "km_plot", "cox": "cox_forest",
    "cuminc": "cuminc_plot", "mcf": "mcf_plot", "aalen_johansen": "state_probability_plot", "cea": "ce_plane", "sensitivity": "tornado", "icers": "ce_frontier",
    "trial_subgroup": "subgroup_effects_forest", "consort": "consort_diagram", "design": "design_imbalance",
    "fidelity_scores": "fidelity_profile", "alpha": "alpha_plot", "moderation": "fidelity_moderation_plot",
    "engagement": "engagement_plot", "contact": "survival_curve_plot", "mediation": "mediation_plot",
    "implementation": "implementation_plot",
}


@pytest.mark.parametrize("key", sorted(RESULT_PLOTS))
def test_result_plot_returns_the_figure(key):
    res = results()[key]
    fig = res.plot()
    assert isinstance(fig, PeertrialFigure) and fig.axes
    host = Figure()
    ax = host.add_subplot(111)
    assert res.plot(ax=ax) is host
    # the same picture as the plot function
    ref = getattr(pt.plot, RESULT_PLOTS[key])
    assert len(fig.axes) == len(ref(res).axes)


def test_cea_plot_kinds():
    ce = results()["cea"]
    assert ce.plot(kind="ceac").axes[0].get_ylabel() == "Probability cost-effective"
    with pytest.raises(ValueError, match="kind"):
        ce.plot(kind="tornado")


def test_figure_repr_is_png_and_savefig_works(tmp_path):
    fig = results()["kaplan_meier"].plot()
    data, meta = fig._repr_mimebundle_()
    assert data["image/png"].startswith(b"\x89PNG") and "text/plain" in data
    assert meta["image/png"]["width"] > 300
    assert pt.plot.save(fig, tmp_path / "km.png").stat().st_size > 1000
    fig.savefig(tmp_path / "km.svg")
    assert (tmp_path / "km.svg").stat().st_size > 1000


def test_subplots_composes_plots_into_one_figure():
    fig, (a, b) = pt.plot.subplots(1, 2, figsize=(14, 5))
    assert results()["rma"].plot(ax=a) is fig
    assert pt.plot.funnel(results()["rma"], ax=b) is fig
    assert isinstance(fig, PeertrialFigure)


def test_fitting_modules_do_not_import_matplotlib():
    code = ("import sys, peertrial as pt, peertrial.meta, peertrial.survival, peertrial.econ, peertrial.trial;"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"


def test_headless_without_ipython(tmp_path):
    """MPLBACKEND=Agg, no IPython: figures are made and saved, nothing is displayed or imported."""
    code = ("import sys, peertrial as pt;"
            "fit = pt.meta.rma([0.1, 0.3, 0.2, 0.5], [0.01, 0.02, 0.015, 0.03]);"
            f"fig = fit.plot(); pt.plot.save(fig, {str(tmp_path / 'f.png')!r});"
            "print('IPython' in sys.modules, 'matplotlib.pyplot' in sys.modules)")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False False"
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_sphinx_gallery_scraper_collects_peertrial_figures(tmp_path, monkeypatch):
    pytest.importorskip("sphinx_gallery")
    from peertrial.plot import _figure

    monkeypatch.setattr(_figure, "_collected", [])  # as importing plot._gallery does; undone after the test
    from peertrial.plot._gallery import scraper as scrape

    assert scrape([], {"image_path_iterator": iter([])}, {"src_dir": str(tmp_path)}) == ""
    fit = results()["rma"]
    fit.plot()
    pt.plot.funnel(fit)
    paths = [tmp_path / "img_1.png", tmp_path / "img_2.png", tmp_path / "img_3.png"]
    rst = scrape([], {"image_path_iterator": iter(paths)}, {"src_dir": str(tmp_path)})
    assert paths[0].stat().st_size > 1000 and paths[1].stat().st_size > 1000 and not paths[2].exists()
    assert "img_1.png" in rst and "img_2.png" in rst
    assert scrape([], {"image_path_iterator": iter(paths)}, {"src_dir": str(tmp_path)}) == ""  # each once
