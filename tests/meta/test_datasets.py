"""Published re-analyses: every dataset in peertrial.datasets reproduces the figures its source printed."""

import warnings

import numpy as np
import pandas as pd
import pytest

import peertrial as pt

DATASETS = pt.datasets.list_datasets()
CASES = [(name, i) for name in DATASETS for i in range(len(pt.datasets.published(name)))]


def effect_sizes(name, spec):
    df = pt.datasets.load(name)
    if spec is None:  # the dataset carries yi and vi
        return df
    spec = dict(spec)
    measure = spec.pop("measure")
    scale = spec.pop("scale", 1)
    if spec.pop("pooled_sd", False):  # Normand (1999) uses the pooled SD in both groups
        sdp = np.sqrt(((df.n1i - 1) * df.sd1i**2 + (df.n2i - 1) * df.sd2i**2) / (df.n1i + df.n2i - 2))
        df = df.assign(sd1i=sdp, sd2i=sdp)
    if measure in ("MD", "SMD"):
        args = {c: c for c in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")}
    elif "ai" in spec:
        args = {}
    elif "bi" in df.columns:
        args = {c: c for c in ("ai", "bi", "ci", "di")}
    else:
        args = {"ai": "ai", "ci": "ci", "n1i": "n1i", "n2i": "n2i"}
    args.update(spec)
    es = pt.meta.escalc(measure, data=df, **args)
    return es.assign(yi=es["yi"] * scale, vi=es["vi"] * scale**2)


def digits_of(entry, figure):
    d = entry["digits"]
    return d[figure] if isinstance(d, dict) else d


def value_of(fit, figure, transform):
    if figure.startswith(("b[", "se[")):
        attr, term = figure[:-1].split("[")
        return float(getattr(fit, attr)[term])
    value = {"estimate": fit.b, "ci_lb": fit.ci_lb, "ci_ub": fit.ci_ub, "tau2": fit.tau2}[figure]
    value = float(value)
    return float(np.exp(value)) if transform == "exp" and figure != "tau2" else value


@pytest.mark.parametrize("name,i", CASES)
def test_published_figures(name, i):
    entry = pt.datasets.published(name)[i]
    es = effect_sizes(name, entry["escalc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pt.meta.rma("yi", "vi", data=es, **entry["rma"])
    for figure, printed in entry["figures"].items():
        d = digits_of(entry, figure)
        ours = round(value_of(fit, figure, entry["transform"]), d)
        slack = 10.0**-d if "notes" in entry and figure == "ci_ub" else 0.0  # documented misprint
        assert abs(ours - printed) <= slack + 1e-12, f"{name}: {entry['analysis']}: {figure} {ours} vs {printed}"


@pytest.mark.parametrize("name", [n for n in DATASETS if pt.datasets.published_studies(n)])
def test_published_study_effects(name):
    ref = pt.datasets.published_studies(name)
    entry = pt.datasets.published(name)[0]
    es = effect_sizes(name, entry["escalc"])
    d = ref["digits"]
    np.testing.assert_array_equal(es["yi"].round(d).to_numpy(), np.round(ref["yi"], d))
    np.testing.assert_array_equal(es["vi"].round(d).to_numpy(), np.round(ref["vi"], d))


def test_catalogue():
    assert len(DATASETS) >= 3
    for name in DATASETS:
        df = pt.datasets.load(name)
        assert isinstance(df, pd.DataFrame) and len(df) >= 6
        assert "doi.org" in pt.datasets.citation(name)
        assert pt.datasets.published(name)
        assert pt.datasets.citation(name) in pt.datasets.describe(name)
    assert pt.datasets.load("bcg").equals(pt.datasets.load_bcg())
    with pytest.raises(ValueError, match="unknown dataset"):
        pt.datasets.load("nope")


def test_loader_returns_fresh_copies():
    a = pt.datasets.load("hackshaw1998")
    a.loc[0, "yi"] = 99.0
    assert pt.datasets.load("hackshaw1998").loc[0, "yi"] != 99.0
    # back-calculated effect sizes equal metadat's (to its printed 4 decimals)
    assert round(a.loc[1, "vi"], 4) == 0.0330
