"""``peertrial meta``: re-run a meta-analysis from a CSV of per-study data.

Columns use metafor's names: ``m1i, sd1i, n1i, m2i, sd2i, n2i`` (means), ``ai, bi, ci, di``
or ``ai, n1i, ci, n2i`` (2x2 tables), ``yi`` with ``vi``, ``sei`` or ``ci_lb``/``ci_ub``
(``--measure GEN``). Study labels come from ``--slab`` (default: a ``study`` column).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

MEASURES = ("SMD", "SMDH", "MD", "ROM", "OR", "RR", "RD", "GEN")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "meta",
        help="meta-analysis of per-study data in a CSV (metafor-equal)",
        description=__doc__,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV file, one row per study")
    p.add_argument("--measure", choices=MEASURES, default=None,
                   help="effect size (default: GEN if yi is a column, SMD for means, OR for 2x2 tables)")
    p.add_argument("--method", default="REML",
                   help="tau^2 estimator: EE, FE, DL, HE, HS, SJ, ML, REML (default), EB, PM; "
                        "MH or PETO for Mantel-Haenszel / Peto pooling of 2x2 tables")
    p.add_argument("--test", choices=("z", "knha"), default="z", help="z (default) or knha (Knapp-Hartung)")
    p.add_argument("--mods", default=None, help='moderators as a formula, e.g. "~ year + type"')
    p.add_argument("--level", type=float, default=95.0, help="confidence level in %% (default 95)")
    p.add_argument("--slab", default=None, help="column with study labels (default: 'study' if present)")
    p.add_argument("--forest", default=None, metavar="FILE", help="write a forest plot (.png, .svg or .pdf)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the results as JSON")
    p.add_argument("--digits", type=int, default=4)
    p.set_defaults(func=run)


def _infer_measure(df: pd.DataFrame) -> str:
    cols = set(df.columns)
    if "yi" in cols:
        return "GEN"
    if {"m1i", "m2i"} <= cols:
        return "SMD"
    if {"ai", "ci"} <= cols:
        return "OR"
    raise ValueError("cannot tell the measure from the columns; give --measure (columns: "
                     + ", ".join(map(str, df.columns)) + ")")


def _effect_sizes(df: pd.DataFrame, measure: str) -> pd.DataFrame:
    from peertrial.meta import escalc

    if measure == "GEN":
        for var in ("vi", "sei"):
            if var in df.columns:
                return escalc("GEN", data=df, yi="yi", **{var: var})
        if {"ci_lb", "ci_ub"} <= set(df.columns):
            return escalc("GEN", data=df, yi="yi" if "yi" in df.columns else None, ci_lb="ci_lb", ci_ub="ci_ub")
        raise ValueError("measure GEN needs columns yi with vi, sei, or ci_lb and ci_ub")
    if measure in ("SMD", "SMDH", "MD", "ROM"):
        names = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
        return escalc(measure, data=df, **{c: c for c in names})
    cells = {c: c for c in ("ai", "bi", "ci", "di", "n1i", "n2i") if c in df.columns}
    if "bi" in cells and "n1i" in cells:
        cells.pop("n1i")
    if "di" in cells and "n2i" in cells:
        cells.pop("n2i")
    return escalc(measure, data=df, **cells)


def run(args) -> int:
    from peertrial.meta import rma, rma_mh, rma_peto

    path = Path(args.data)
    if not path.exists():
        raise ValueError(f"data file {str(path)!r} not found")
    df = pd.read_csv(path)
    measure = args.measure or _infer_measure(df)
    slab = args.slab or ("study" if "study" in df.columns else None)
    method = args.method.upper()
    es = _effect_sizes(df, measure)
    if method in ("MH", "PETO"):
        if measure not in ("OR", "RR", "RD"):
            raise ValueError(f"--method {method} needs 2x2 tables (--measure OR, RR or RD)")
        cells = {c: c for c in ("ai", "bi", "ci", "di", "n1i", "n2i") if c in df.columns}
        if "bi" in cells:
            cells.pop("n1i", None)
        if "di" in cells:
            cells.pop("n2i", None)
        fit = (rma_peto(data=df, level=args.level, slab=slab, **cells) if method == "PETO"
               else rma_mh(data=df, measure=measure, level=args.level, slab=slab, **cells))
    else:
        fit = rma("yi", "vi", data=es, method=method, test=args.test, mods=args.mods, level=args.level,
                  slab=slab, measure=measure)
    out = [f"peertrial meta: {path.name}, measure {measure}", "", fit.summary(args.digits)]
    confint = None
    pred = None
    if method not in ("MH", "PETO"):
        if fit.int_only:
            pred = fit.predict(transf=np.exp if measure in ("OR", "RR", "ROM") else None)
            out += ["", "Prediction" + (" (exp scale):" if pred.transformed else ":"), pred.summary(args.digits)]
        if fit.method not in ("EE", "FE") and fit.k > 1:
            confint = fit.confint()
            out += ["", "Heterogeneity (Q-profile confidence intervals):", confint.round(args.digits).to_string()]
    print("\n".join(out))
    if args.forest:
        from peertrial.plot import save
        from peertrial.plot.meta import forest

        fig = forest(fit)
        save(fig, args.forest)
        print(f"\nforest plot written to {args.forest}")
    if args.json:
        Path(args.json).write_text(json.dumps(_as_json(fit, measure, confint, pred, path.name), indent=1,
                                              allow_nan=True) + "\n")
        print(f"results written to {args.json}", file=sys.stdout)
    return 0


def _num(x):
    if isinstance(x, pd.Series):
        return {str(k): _num(v) for k, v in x.items()}
    x = float(x)
    return None if not np.isfinite(x) else x


def _as_json(fit, measure, confint, pred, source):
    res = {"source": source, "measure": measure, "method": fit.method, "test": getattr(fit, "test", "z"),
           "k": int(fit.k), "level": float(fit.level)}
    for attr in ("b", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2"):
        res[attr] = _num(getattr(fit, attr))
    for attr in ("tau2", "se_tau2", "dfs", "QM", "QMp", "R2"):
        if hasattr(fit, attr) and fit.method not in ("MH", "PETO"):
            res[attr] = _num(getattr(fit, attr))
    if pred is not None:
        res["predict"] = {k: _num(getattr(pred, k)) for k in ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub")}
        res["predict"]["scale"] = "exp" if pred.transformed else "analysis"
    if confint is not None:
        res["confint"] = {idx: {c: _num(v) for c, v in row.items()} for idx, row in confint.iterrows()}
    w = fit.weights_percent().to_numpy() if hasattr(fit, "weights_percent") else np.full(len(fit.yi), np.nan)
    res["studies"] = [{"slab": str(s), "yi": _num(y), "vi": _num(v), "weight": _num(wt)}
                      for s, y, v, wt in zip(fit.slab, fit.yi, fit.vi, w)]
    return res
