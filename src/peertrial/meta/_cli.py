"""``peertrial meta``: re-run a meta-analysis from a CSV of per-study data.

Columns are named by flags spelled as metafor's arguments, so a table keeps the
paper's own column names: 2x2 tables ``--ai --bi --ci --di`` (or ``--n1i``/``--n2i``
for the group sizes), means ``--m1i --sd1i --n1i --m2i --sd2i --n2i``, or ready-made
estimates ``--yi`` with ``--vi`` or ``--sei``. A flag left out defaults to a column of
that name (``ai``, ``m1i``, ``yi``, ...). Study labels come from ``--slab`` (default:
a ``study``, ``author`` or ``trial`` column), with ``--year`` appended; duplicated
labels are made unique as metafor does (".1", ".2").
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

EXAMPLES = """\
examples:
  # metafor's dat.bcg exported to CSV, with its own column names
  peertrial meta bcg.csv --measure RR --ai tpos --bi tneg --ci cpos --di cneg \\
      --slab author --year year --regtest --ranktest --trimfill --leave1out \\
      --cumul year --subgroup alloc --forest forest.png --funnel funnel.png \\
      --csv tables/ --json results.json
  # Mantel-Haenszel odds ratio of 2x2 tables given as events and group sizes
  peertrial meta trials.csv --measure OR --method MH --ai events_t --n1i n_t --ci events_c --n2i n_c
  # means and SDs, Knapp-Hartung test, meta-regression
  peertrial meta means.csv --measure SMD --test knha --mods "~ year"
  # a whole RevMan 5 review re-run with RevMan's methods, then with REML + Knapp-Hartung
  peertrial meta review review.rm5 --json review.json --forest-dir forests/
  peertrial meta review review.rm5 --method REML --test knha
"""

# column flags, spelled as metafor's escalc arguments
COLUMN_FLAGS = {
    "ai": "events (or the first cell) of group 1 of a 2x2 table",
    "bi": "non-events of group 1 of a 2x2 table",
    "ci": "events of group 2 of a 2x2 table",
    "di": "non-events of group 2 of a 2x2 table",
    "n1i": "size of group 1 (2x2 tables without --bi, or means)",
    "n2i": "size of group 2 (2x2 tables without --di, or means)",
    "m1i": "mean of group 1",
    "sd1i": "standard deviation of group 1",
    "m2i": "mean of group 2",
    "sd2i": "standard deviation of group 2",
    "yi": "ready-made effect sizes (measure GEN)",
    "vi": "sampling variances of --yi",
    "sei": "standard errors of --yi",
    "ni": "sample sizes (proportions, correlations, single means; or for regtest's sample-size predictors)",
    "xi": "events or counts of a single group (PR, PLN, PLO, PFT, IR, IRLN)",
    "mi": "non-events of a single group (instead of --ni)",
    "ti": "person-time of a single group (IR, IRLN)",
    "ri": "correlation coefficients (COR, ZCOR; SMCC, SMCR: pre-post correlations)",
    "sdi": "standard deviations of a single group (MN; SMCR: pre-test SDs)",
    "x1i": "events of group 1 for incidence rates (IRR, IRD)",
    "x2i": "events of group 2 for incidence rates (IRR, IRD)",
    "t1i": "person-time of group 1 (IRR, IRD)",
    "t2i": "person-time of group 2 (IRR, IRD)",
}
TABLE_MEASURES = ("OR", "RR", "RD")
MEANS_MEASURES = ("MD", "SMD", "SMDH", "ROM")


def _measures():
    from peertrial.meta.escalc import MEASURES

    return tuple(MEASURES)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "meta",
        help="meta-analysis of per-study data in a CSV, or re-run a RevMan review (metafor-equal)",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="CSV file, one row per study; or the word 'review' followed by a RevMan file")
    p.add_argument("file", nargs="?", default=None,
                   help="with 'review': a RevMan 5 file (.rm5), RevMan 5 CSV export or data package (.zip)")
    p.add_argument("--measure", type=str.upper, choices=_measures(), default=None,
                   help="effect size (default: GEN if --yi is given or a yi column exists, SMD for means, "
                        "OR for 2x2 tables)")
    cols = p.add_argument_group("columns (named as metafor's arguments)")
    for flag, text in COLUMN_FLAGS.items():
        cols.add_argument(f"--{flag}", default=None, metavar="COLUMN", help=f"{text} (default: column '{flag}')")
    cols.add_argument("--slab", default=None, metavar="COLUMN",
                      help="study labels (default: a 'study', 'author' or 'trial' column); duplicates become "
                           "'label.1', 'label.2' as in metafor")
    cols.add_argument("--year", default=None, metavar="COLUMN", help="year column, appended to the study labels")
    model = p.add_argument_group("model")
    model.add_argument("--method", type=str.upper, default=None,
                       help="tau^2 estimator: EE, FE, DL, HE, HS, SJ, ML, REML (default), EB, PM; MH or PETO "
                            "for Mantel-Haenszel / Peto pooling of 2x2 tables. With 'review': re-analyse every "
                            "outcome with this method (and --test) instead of RevMan's")
    model.add_argument("--test", choices=("z", "knha"), default=None,
                       help="z (default) or knha (Knapp-Hartung)")
    model.add_argument("--mods", default=None, metavar="FORMULA",
                       help='moderators as a formula, e.g. "~ year + type" (meta-regression)')
    model.add_argument("--level", type=float, default=95.0, help="confidence level: 95 or 0.95 (default 95)")
    diag = p.add_argument_group("robustness and small-study analyses")
    diag.add_argument("--regtest", action="store_true", help="Egger's regression test (metafor regtest)")
    diag.add_argument("--ranktest", action="store_true", help="Begg and Mazumdar's rank correlation test")
    diag.add_argument("--trimfill", action="store_true", help="Duval and Tweedie's trim and fill")
    diag.add_argument("--leave1out", action="store_true", help="leave-one-out analysis")
    diag.add_argument("--influence", action="store_true",
                      help="case-deletion influence diagnostics (not for MH/Peto fits, as metafor)")
    diag.add_argument("--cumul", default=None, metavar="ORDER_COLUMN",
                      help="cumulative meta-analysis, studies added in the order of this column (e.g. year)")
    diag.add_argument("--subgroup", default=None, metavar="COLUMN",
                      help="subgroup analysis by this column, with the test for subgroup differences")
    out = p.add_argument_group("output")
    out.add_argument("--forest", default=None, metavar="FILE", help="write a forest plot (.png, .svg or .pdf)")
    out.add_argument("--layout", choices=("metafor", "revman"), default="metafor",
                     help="forest plot layout: metafor (default) or revman (data columns per arm, weights, "
                          "subgroup blocks with subtotals and the test for subgroup differences)")
    out.add_argument("--funnel", default=None, metavar="FILE", help="write a funnel plot (.png, .svg or .pdf)")
    out.add_argument("--csv", default=None, metavar="DIR", help="write every table as CSV into DIR (with 'review': DIR/review.csv, one row per "
                                                                     "analysis)")
    out.add_argument("--json", default=None, metavar="FILE",
                     help="write every result as JSON (keys rma, regtest, ranktest, trimfill, leave1out, "
                          "influence, cumul, subgroup when asked)")
    out.add_argument("--forest-dir", default=None, metavar="DIR",
                     help="with 'review': write one forest plot per outcome into DIR")
    out.add_argument("--digits", type=int, default=4, help="digits printed (default 4)")
    # `meta review FOLDER`: an unzipped Cochrane data package is a folder
    p.set_defaults(func=run, folder_inputs=("file",))


# ---------------------------------------------------------------------------
# columns, measure, labels


def _columns(df: pd.DataFrame, args) -> dict:
    """metafor argument -> column of ``df``: the flag's column, else a column of that name."""
    out = {}
    for flag in COLUMN_FLAGS:
        given = getattr(args, flag, None)
        if given is not None:
            if given not in df.columns:
                raise ValueError(f"--{flag} {given!r} is not a column of the data (columns: "
                                 + ", ".join(map(str, df.columns)) + ")")
            out[flag] = given
        elif flag in df.columns:
            out[flag] = flag
    return out


def _infer_measure(cols: dict, df: pd.DataFrame) -> str:
    if "yi" in cols:
        return "GEN"
    if {"m1i", "m2i"} <= set(cols):
        return "SMD"
    if {"ai", "ci"} <= set(cols):
        return "OR"
    raise ValueError(
        "cannot tell the measure from the columns (" + ", ".join(map(str, df.columns)) + "); name them with "
        "metafor's argument flags and give --measure, e.g. --measure RR --ai tpos --bi tneg --ci cpos --di cneg"
    )


def _escalc_args(measure: str, cols: dict) -> dict:
    from peertrial.meta import escalc

    if measure in TABLE_MEASURES:
        use = {k: v for k, v in cols.items() if k in ("ai", "bi", "ci", "di", "n1i", "n2i")}
        if "bi" in use:
            use.pop("n1i", None)
        if "di" in use:
            use.pop("n2i", None)
    elif measure in MEANS_MEASURES:
        use = {k: v for k, v in cols.items() if k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")}
    elif measure == "GEN":
        use = {k: v for k, v in cols.items() if k in ("yi", "vi", "sei")}
        if "vi" in use:
            use.pop("sei", None)
    else:  # other escalc measures: every column argument escalc takes
        accepted = set(inspect.signature(escalc).parameters)
        use = {k: v for k, v in cols.items() if k in accepted and k != "ni"}
    if "ni" in cols:
        use["ni"] = cols["ni"]
    return use


def _labels(df: pd.DataFrame, args) -> np.ndarray | None:
    slab = args.slab
    if slab is None:
        slab = next((c for c in ("study", "author", "trial", "slab") if c in df.columns), None)
    elif slab not in df.columns:
        raise ValueError(f"--slab {slab!r} is not a column of the data")
    if args.year is not None and args.year not in df.columns:
        raise ValueError(f"--year {args.year!r} is not a column of the data")
    if slab is None and args.year is None:
        return None
    base = df[slab].astype(str) if slab is not None else pd.Series([f"Study {i}" for i in range(1, len(df) + 1)],
                                                                    index=df.index)
    if args.year is not None:
        year = df[args.year].map(lambda y: str(int(y)) if isinstance(y, float) and float(y).is_integer() else str(y))
        base = base + ", " + year
    return base.to_numpy(dtype=object)


# ---------------------------------------------------------------------------
# the analysis (shared with tests: the same calls a Python user makes)


def analyse(df: pd.DataFrame, args) -> dict:
    """Fit the model and run every analysis asked for; returns name -> result object."""
    from peertrial import meta

    cols = _columns(df, args)
    measure = args.measure or _infer_measure(cols, df)
    method = (args.method or "REML").upper()
    test = args.test or "z"
    labels = _labels(df, args)
    es = meta.escalc(measure, data=df, **_escalc_args(measure, cols))
    res = {"measure": measure, "columns": cols}
    if method in ("MH", "PETO"):
        if measure not in TABLE_MEASURES:
            raise ValueError(f"--method {method} needs 2x2 tables (--measure OR, RR or RD)")
        if args.mods:
            raise ValueError(f"--mods needs an inverse-variance model; --method {method} has no moderators")
        cells = {k: v for k, v in _escalc_args(measure, cols).items() if k != "ni"}
        if method == "PETO":
            if measure != "OR":
                raise ValueError("--method PETO pools odds ratios: use --measure OR")
            fit = meta.rma_peto(data=df, level=args.level, slab=labels, **cells)
        else:
            fit = meta.rma_mh(data=df, measure=measure, level=args.level, slab=labels, **cells)
    else:
        fit = meta.rma("yi", "vi", data=es, method=method, test=test, mods=args.mods, level=args.level,
                       slab=labels, measure=measure)
    res["rma"] = fit
    if args.regtest:
        res["regtest"] = meta.regtest(fit)
    if args.ranktest:
        res["ranktest"] = meta.ranktest(fit)
    if args.trimfill:
        res["trimfill"] = meta.trimfill(fit)
    if args.leave1out:
        res["leave1out"] = meta.leave1out(fit)
    if args.influence:
        res["influence"] = meta.influence(fit)
    if args.cumul:
        if args.cumul not in df.columns:
            raise ValueError(f"--cumul {args.cumul!r} is not a column of the data")
        res["cumul"] = meta.cumul(fit, order=args.cumul)
    if args.subgroup:
        if args.subgroup not in df.columns:
            raise ValueError(f"--subgroup {args.subgroup!r} is not a column of the data")
        if method in ("MH", "PETO"):
            res["subgroup"] = meta.subgroup(fit, fit.data[args.subgroup].to_numpy())
        else:
            if args.mods:
                raise ValueError("--subgroup takes a model without --mods")
            used = es.loc[es.index.isin(fit.data.index)] if fit.data is not None else es
            res["subgroup"] = meta.subgroup(used, args.subgroup, method=method, test=test, level=args.level,
                                            slab=np.asarray(fit.slab, dtype=object))
    return res


def run(args) -> int:
    if args.data == "review":
        return _run_review(args)
    if args.file is not None:
        raise ValueError(f"unexpected second file {args.file!r} (only 'peertrial meta review FILE' takes two)")
    if args.forest_dir is not None:
        raise ValueError("--forest-dir is for 'peertrial meta review FILE'; use --forest FILE for one analysis")
    path = Path(args.data)
    if not path.exists():
        raise ValueError(f"data file {str(path)!r} not found")
    df = pd.read_csv(path)
    res = analyse(df, args)
    fit, measure, digits = res["rma"], res["measure"], args.digits
    mh = fit.method in ("MH", "PETO")
    out = [f"peertrial meta: {path.name}, measure {measure}", "", fit.summary(digits)]
    extra = {}
    if not mh:
        if fit.int_only:
            pred = fit.predict(transf=np.exp if measure in ("OR", "RR", "ROM") else None)
            extra["predict"] = pred
            out += ["", "Prediction" + (" (exp scale):" if pred.transformed else ":"), pred.summary(digits)]
        if fit.method not in ("EE", "FE") and fit.k > 1:
            confint = fit.confint()
            extra["confint"] = confint
            out += ["", "Heterogeneity (Q-profile confidence intervals):", confint.round(digits).to_string()]
    titles = {"regtest": None, "ranktest": None, "trimfill": "Trim and fill:",
              "leave1out": "Leave-one-out analysis:", "influence": "Influence diagnostics:",
              "cumul": f"Cumulative meta-analysis (ordered by {args.cumul}):", "subgroup": None}
    for key, title in titles.items():
        if key in res:
            value = res[key]
            text = value.round(digits).to_string() if isinstance(value, pd.DataFrame) else value.summary()
            out += ["", *([title] if title else []), text]
    print("\n".join(out))
    _plots(res, args)
    if args.csv:
        written = write_csv(res, extra, Path(args.csv))
        print(f"\n{len(written)} tables written to {args.csv}")
    if args.json:
        Path(args.json).write_text(json.dumps(as_json(res, extra, path.name), indent=1, allow_nan=False) + "\n")
        print(f"results written to {args.json}", file=sys.stdout)
    return 0


def _arm_table(fit, cols):
    """Events/total or mean/SD/n per arm of the studies the fit used (RevMan's data columns)."""
    from peertrial.meta.revman import arm_columns

    data = getattr(fit, "data", None)
    if data is None:
        return None
    if {"ai", "ci"} <= set(cols) and ({"bi", "n1i"} & set(cols)) and ({"di", "n2i"} & set(cols)):
        keys = ("ai", "bi", "ci", "di", "n1i", "n2i")
    elif {"m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"} <= set(cols):
        keys = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
    else:
        return None
    return arm_columns(data, **{k: cols[k] for k in keys if k in cols})


def _plots(res, args) -> None:
    from peertrial.plot import save

    if args.forest:
        fit = res["rma"]
        if args.layout == "revman":
            from peertrial.plot.meta_review import revman_forest

            fig = revman_forest(fit, ilab=_arm_table(fit, res.get("columns", {})),
                                subgroup=None if not args.subgroup else fit.data[args.subgroup].to_numpy())
        else:
            from peertrial.plot.meta import forest

            fig = forest(fit)
        save(fig, args.forest)
        print(f"\nforest plot written to {args.forest}")
    if args.funnel:
        from peertrial.plot.meta_diagnostics import funnel

        save(funnel(res.get("trimfill", res["rma"])), args.funnel)
        print(f"funnel plot written to {args.funnel}")


# ---------------------------------------------------------------------------
# CSV and JSON


def _num(x):
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (str, type(None))):
        return x
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return None if not np.isfinite(x) else x


def _records(frame: pd.DataFrame, index_name: str = "study") -> list:
    name = frame.index.name or index_name
    rows = []
    for idx, row in frame.iterrows():
        rec = {name: _num(idx) if not isinstance(idx, str) else idx}
        rec.update({str(c): _num(v) for c, v in row.items()})
        rows.append(rec)
    return rows


def _fit_json(fit, measure) -> dict:
    mh = fit.method in ("MH", "PETO")
    res = {"measure": measure, "method": fit.method, "test": getattr(fit, "test", "z"), "k": int(fit.k),
           "level": float(fit.level)}
    for attr in ("b", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "I2", "H2"):
        v = getattr(fit, attr)
        res[attr] = {str(k): _num(x) for k, x in v.items()} if isinstance(v, pd.Series) else _num(v)
    if not mh:
        for attr in ("tau2", "se_tau2", "dfs", "QM", "QMp", "R2"):
            if hasattr(fit, attr):
                res[attr] = _num(getattr(fit, attr))
    else:
        for attr in ("CMH", "CMHp", "BD", "BDp", "TA", "TAp"):
            res[attr] = _num(getattr(fit, attr))
    w = fit.weights_percent().to_numpy()
    res["studies"] = [{"slab": str(s), "yi": _num(y), "vi": _num(v), "weight": _num(wt)}
                      for s, y, v, wt in zip(fit.slab, fit.yi, fit.vi, w)]
    return res


def _result_json(name, value) -> object:
    if isinstance(value, pd.DataFrame):
        return _records(value)
    if name == "trimfill":
        keys = ("k0", "se_k0", "side", "estimator", "p_k0", "b", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2",
                "QE", "QEp", "I2", "H2", "k", "method")
        out = {k: _num(getattr(value, k)) for k in keys if hasattr(value, k)}
        out["studies"] = _records(value.to_frame().set_index("slab"))
        return out
    if name == "subgroup":
        keys = ("Qb", "Qb_df", "Qb_pval", "QM", "QMp", "QE", "QEp", "tau2", "method", "test", "k")
        out = {k: _num(getattr(value, k)) for k in keys}
        out["groups"] = _records(value.groups, "group")
        return out
    frame = value.to_frame()
    return {str(c): _num(v) for c, v in frame.iloc[0].items()}


def as_json(res: dict, extra: dict, source: str) -> dict:
    """Every result of :func:`analyse` as plain JSON types (NaN as null)."""
    fit = res["rma"]
    out = {"source": source, "measure": res["measure"], "rma": _fit_json(fit, res["measure"])}
    pred = extra.get("predict")
    if pred is not None:
        out["rma"]["predict"] = {k: _num(getattr(pred, k)) for k in ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub")}
        out["rma"]["predict"]["scale"] = "exp" if pred.transformed else "analysis"
    confint = extra.get("confint")
    if confint is not None:
        out["rma"]["confint"] = {idx: {c: _num(v) for c, v in row.items()} for idx, row in confint.iterrows()}
    for key in ("regtest", "ranktest", "trimfill", "leave1out", "influence", "cumul", "subgroup"):
        if key in res:
            out[key] = _result_json(key, res[key])
    return out


def write_csv(res: dict, extra: dict, folder: Path) -> list:
    """One CSV per table: studies, rma (coefficients), heterogeneity and each analysis asked for."""
    folder.mkdir(parents=True, exist_ok=True)
    fit = res["rma"]
    tables = {
        "studies": pd.DataFrame({"yi": np.asarray(fit.yi, float), "vi": np.asarray(fit.vi, float),
                                 "weight": fit.weights_percent().to_numpy()},
                                index=pd.Index([str(s) for s in fit.slab], name="study")),
        "rma": fit.to_frame(),
    }
    het = {"QE": fit.QE, "QEp": fit.QEp, "I2": fit.I2, "H2": fit.H2, "tau2": getattr(fit, "tau2", 0.0)}
    tables["heterogeneity"] = pd.DataFrame([het])
    if extra.get("confint") is not None:
        tables["confint"] = extra["confint"]
    for key in ("regtest", "ranktest", "trimfill", "leave1out", "influence", "cumul", "subgroup"):
        if key in res:
            value = res[key]
            tables[key] = value if isinstance(value, pd.DataFrame) else value.to_frame()
    written = []
    for name, table in tables.items():
        target = folder / f"{name}.csv"
        keep_index = not isinstance(table.index, pd.RangeIndex)
        table.to_csv(target, index=keep_index)
        written.append(target)
    return written


def _run_review(args) -> int:
    if args.file is None:
        raise ValueError("usage: peertrial meta review FILE (a RevMan 5 .rm5, RevMan CSV export or data package .zip)")
    unused = [f"--{flag}" for flag in (*COLUMN_FLAGS, "measure", "slab", "year", "mods", "regtest", "ranktest",
                                       "trimfill", "leave1out", "influence", "cumul", "subgroup", "forest", "funnel")
              if getattr(args, flag, None) not in (None, False)]
    if unused:
        raise ValueError(f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} for one analysis of a CSV, "
                         "not for 'peertrial meta review' (which takes --method, --test, --level, --json, --csv, "
                         "--forest-dir, --layout, --digits)")
    from peertrial.meta import revman

    return revman.cli_review(args)
