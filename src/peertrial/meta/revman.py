"""Read Cochrane reviews made with RevMan 5 and re-run their analyses.

:func:`read_revman` reads

- a RevMan 5 review file (``.rm5``, XML): ``ANALYSES_AND_DATA`` holds ``COMPARISON``
  elements, each with ``DICH_OUTCOME`` (2x2 tables), ``CONT_OUTCOME`` (means, SDs, n) or
  ``IV_OUTCOME`` (generic inverse variance: estimate and SE) elements, optionally split
  into ``*_SUBGROUP`` elements, whose attributes are RevMan's stored totals (``EFFECT_SIZE``,
  ``CI_START``/``CI_END``, ``CHI2``, ``DF``, ``P_CHI2``, ``I2``, ``TAU2``, ``Z``, ``P_Z``, and
  for subgroups the test for subgroup differences ``Q``, ``P_Q``, ``I2_Q``), and the
  per-study ``*_DATA`` rows; study names and years come from ``INCLUDED_STUDIES``. The XML
  is parsed with entity and DTD declarations refused (no entity expansion, no external
  entities);
- a RevMan 5 CSV export ("Comparison Number, Outcome Number, Subgroup Number, Name, Data
  Type, Statistical Method, Effect Measure, Analysis Model, Events 1, ..."): one row per
  comparison, outcome, subgroup and study;
- a ``.zip`` holding such a ``.rm5`` file or CSV export;
- a Cochrane data package (RevMan Web's export, or "Download data" in the Cochrane Library,
  version 1 of Cochrane's data package specification), zipped, nested in the Library's
  download, or unzipped into a folder: ``CDxxxx-analysis-data/`` holds
  ``*-overall-estimates-and-settings.csv`` (one row per analysis: data type, effect measure,
  statistical method, model, and RevMan's totals ``Mean``, ``CI start``, ``CI end``,
  ``Heterogeneity Tau²/Chi²/df/P/I²``, ``Effect Z/P``, ``Subgroup Chi²/df/P/I²``),
  ``*-data-rows.csv`` (one row per study: arm-level counts, means and SDs, or ``GIV Mean`` and
  ``GIV SE`` on the analysis scale) and ``*-subgroup-estimates.csv``; "Swap event and
  non-event" analyses count non-events. Read as ``meta::read.cdir`` reads it.

``Review.rerun()`` re-analyses every outcome (and subgroup) as RevMan 5 does (Deeks &
Higgins, *Statistical algorithms in Review Manager 5*, 2010):

- dichotomous data: 0.5 is added to every cell of a table with a zero cell (for the
  study estimates and, for OR and RR, the Mantel–Haenszel pooled estimate); tables with no
  events or only events in both arms are not estimable for OR/RR; Mantel–Haenszel
  (:func:`rma_mh`), Peto (:func:`rma_peto`, raw tables) or inverse-variance pooling;
- continuous data: MD, or SMD as Hedges' adjusted g,
  ``g = (m1 - m2)/s_pooled * (1 - 3/(4N - 9))``, ``SE^2 = N/(n1 n2) + g^2/(2(N - 3.94))``;
- heterogeneity ``Chi^2`` around the fixed-effect (MH, Peto or IV) estimate with
  inverse-variance weights, ``I^2 = (Chi^2 - df)/Chi^2``;
- random effects: DerSimonian–Laird with that ``Chi^2`` (for MH, the MH-based one);
- test for subgroup differences: ``Chi^2`` of the subgroup estimates with weights ``1/SE^2``.

``rerun(method="REML", test="knha")`` re-analyses the same study estimates with
:func:`rma` (any tau² estimator and test) and adds prediction intervals.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result
from peertrial._warnings import relayed

stats = lazy_module("scipy.stats")

__all__ = ["read_revman", "Review", "arm_columns"]

RATIO = ("OR", "RR", "HR", "ROM", "PETO_OR")
Z975 = 1.9599639845400545  # stats.norm.isf(0.025), written out so importing does not load scipy.stats


# ---------------------------------------------------------------------------
# hardened XML


class _Node:
    __slots__ = ("tag", "attrs", "children", "text")

    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.children, self.text = tag, attrs, [], ""

    def find(self, tag):
        return next((c for c in self.children if c.tag == tag), None)

    def iter(self, tag):
        if self.tag == tag:
            yield self
        for c in self.children:
            yield from c.iter(tag)

    def child_text(self, tag):
        c = self.find(tag)
        return "" if c is None else c.text.strip()


def _parse_xml(raw: bytes) -> _Node:
    """Parse XML with expat, refusing DTD entity declarations and external entities
    (no billion-laughs expansion, no file or network access)."""
    parser = expat.ParserCreate()
    root = _Node("#document", {})
    stack = [root]

    def start(tag, attrs):
        node = _Node(tag, attrs)
        stack[-1].children.append(node)
        stack.append(node)

    def end(tag):
        stack.pop()

    def text(data):
        stack[-1].text += data

    def refuse(*_):
        raise ValueError("the RevMan file declares XML entities or a DTD with external parts; refused "
                         "(RevMan files have none)")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise ValueError(f"not a readable RevMan 5 file (XML error: {exc})") from None
    return root


# ---------------------------------------------------------------------------
# numbers with the digits RevMan stored


def _num(text):
    """``(value, tolerance)`` of a stored number: half a unit of its last stored digit
    (at least 1e-8 relative, for full-precision .rm5 values)."""
    if text is None:
        return np.nan, np.nan
    s = str(text).strip()
    if s == "":
        return np.nan, np.nan
    try:
        v = float(s)
    except ValueError:
        return np.nan, np.nan
    m = re.match(r"^[+-]?\d*(?:\.(\d*))?(?:[eE]([+-]?\d+))?$", s)
    dec = len(m.group(1) or "") if m else 0
    exp = int(m.group(2)) if m and m.group(2) else 0
    tol = 0.5 * 10.0 ** (exp - dec)
    return v, max(tol, 1e-8 * max(1.0, abs(v)))


_TOTALS = {  # outcome-table column: RevMan .rm5 attribute
    "estimate": "EFFECT_SIZE", "ci_lb": "CI_START", "ci_ub": "CI_END", "tau2": "TAU2", "I2": "I2",
    "chi2": "CHI2", "df": "DF", "chi2_pval": "P_CHI2", "z": "Z", "z_pval": "P_Z", "subgroup_chi2": "Q",
    "subgroup_pval": "P_Q", "subgroup_I2": "I2_Q", "events_1": "EVENTS_1", "total_1": "TOTAL_1",
    "events_2": "EVENTS_2", "total_2": "TOTAL_2",
}
_COMPARED = ("estimate", "ci_lb", "ci_ub", "chi2", "chi2_pval", "I2", "tau2", "z", "z_pval", "subgroup_chi2",
             "subgroup_pval")


# ---------------------------------------------------------------------------
# the review


@dataclass(frozen=True, eq=False)
class Review(Result):
    """A Cochrane review's analyses as RevMan stored them.

    ``outcomes``: one row per comparison x outcome x subgroup (``subgroup_no`` 0 is the
    outcome's total) with names, ``data_type`` (DICH, CONT, IV), ``measure``, ``method``
    (MH, PETO, IV), ``model`` (fixed/random), ``k``, and RevMan's stored totals
    (``estimate``, ``ci_lb``, ``ci_ub`` on the measure's natural scale, ``tau2``, ``I2``,
    ``chi2``, ``df``, ``chi2_pval``, ``z``, ``z_pval``, the test for subgroup differences
    ``subgroup_chi2``, ``subgroup_pval``, ``subgroup_I2``, and ``events_1``, ``total_1``,
    ``events_2``, ``total_2``).

    Parameters
    ----------
    title : str
        The review's title.
    outcomes : pandas.DataFrame
        The outcomes table described above.
    source : str
        The file it was read from.

    Notes
    -----
    Made by :func:`read_revman`. R equivalent: the data frame of ``meta::read.rm5``.

    References
    ----------
    Deeks JJ, Higgins JPT (2010). Statistical algorithms in Review Manager 5.

    Examples
    --------
    >>> review = pt.meta.read_revman("review.rm5")  # doctest: +SKIP
    >>> review.rerun(method="REML", test="knha")  # doctest: +SKIP
    """

    title: str
    outcomes: pd.DataFrame
    source: str
    _studies: dict = field(default_factory=dict, repr=False)
    _tol: dict = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        cols = ["comparison_no", "outcome_no", "subgroup_no", "outcome", "subgroup", "measure", "method", "model",
                "k", "estimate", "ci_lb", "ci_ub", "I2"]
        return f"{self.title} ({self.source})\n\n" + self.outcomes[cols].to_string(index=False)

    def to_frame(self) -> pd.DataFrame:
        return self.outcomes.copy()

    def _key(self, comparison, outcome):
        out = self.outcomes
        if isinstance(comparison, str):
            hit = out.loc[out["comparison"] == comparison, "comparison_no"]
            if hit.empty:
                raise ValueError(f"no comparison named {comparison!r}; comparisons: "
                                 + ", ".join(pd.unique(out["comparison"])))
            comparison = int(hit.iloc[0])
        rows = out[out["comparison_no"] == int(comparison)]
        if rows.empty:
            raise ValueError(f"no comparison {comparison!r} in the review (numbers: "
                             + ", ".join(map(str, pd.unique(out["comparison_no"]))) + ")")
        if isinstance(outcome, str):
            hit = rows.loc[rows["outcome"] == outcome, "outcome_no"]
            if hit.empty:
                raise ValueError(f"no outcome named {outcome!r} in comparison {comparison}")
            outcome = int(hit.iloc[0])
        key = (int(comparison), int(outcome))
        if key not in self._studies:
            raise ValueError(f"no outcome {outcome!r} in comparison {comparison}")
        return key

    def studies(self, comparison, outcome) -> pd.DataFrame:
        """Per-study data of one outcome (comparison and outcome by number or name).

        Columns: ``study``, ``year``, ``subgroup`` and, with metafor's argument names,
        ``ai, bi, ci, di, n1i, n2i`` (2x2 tables), ``m1i, sd1i, n1i, m2i, sd2i, n2i``
        (means) or ``yi, sei`` (generic inverse variance, on the analysis scale: log for
        ratios), plus RevMan's stored study ``revman_estimate`` and ``revman_weight``.
        ``attrs`` holds ``measure``, ``method`` and ``model``, so e.g.
        ``pt.meta.rma_mh(s, ai="ai", bi="bi", ci="ci", di="di", slab="study")``.
        """
        key = self._key(comparison, outcome)
        return self._studies[key].copy()

    def rerun(self, method: str | None = None, test: str = "z", level: float = 95) -> pd.DataFrame:
        """Re-analyse every outcome and subgroup.

        ``method=None``: with the method RevMan used (see the module docstring); returns
        RevMan's stored numbers beside peertrial's (``revman_<stat>``, ``peertrial_<stat>``
        for estimate, ci_lb, ci_ub, chi2, chi2_pval, I2, tau2, z, z_pval and the subgroup
        test) and ``agree``: True when every number RevMan stored is reproduced to the
        digits it stored (p-values: to 2e-6 relative, as RevMan's own p-values are
        approximations to that precision). ``method="REML"`` (or any :func:`rma` estimator) with ``test``:
        the same study estimates re-analysed with that model, with ``pi_lb``/``pi_ub``
        prediction intervals, RevMan's estimate and CI beside for reference. ``level``: 95 or
        0.95 alike, for the re-analysis (RevMan's stored intervals are its own).
        """
        level = _data.level_percent(level)
        rows = []
        for _, o in self.outcomes.iterrows():
            key = (int(o["comparison_no"]), int(o["outcome_no"]))
            data = self._studies.get(key)
            if data is None or o["data_type"] not in ("DICH", "CONT", "IV"):
                continue
            with relayed(_where(o)):
                rows.append(self._rerun_one(o, data, method, test, level))
        return pd.DataFrame(rows)

    def _rerun_one(self, o, data, method, test, level) -> dict:
        sub = data if o["subgroup_no"] == 0 else data[data["subgroup_no"] == o["subgroup_no"]]
        base = {c: o[c] for c in ("comparison_no", "outcome_no", "subgroup_no", "comparison", "outcome",
                                  "subgroup", "measure")}
        if method is None:
            res = revman_pool(sub, o["data_type"], o["measure"], o["method"], o["model"] == "random")
            if o["subgroup_no"] == 0 and (sub["subgroup_no"] > 0).any():
                res.update(_subgroup_test(sub, o))
            row = {**base, "method": o["method"], "model": o["model"], "k": res["k"]}
            agree = True
            for stat in _COMPARED:
                mine, theirs = res.get(stat, np.nan), o[stat]
                row[f"revman_{stat}"] = theirs
                row[f"peertrial_{stat}"] = mine
                if np.isfinite(theirs):
                    tol = self._tol.get((o.name, stat), 1e-8)
                    if stat.endswith("pval"):
                        # RevMan's p-values come from an approximation good to ~1e-6 relative
                        # (Fleiss 1993: P_CHI2 0.1269422521 where chi2(6) gives 0.1269421779)
                        tol = max(tol, 2e-6 * abs(theirs) + 1e-12)
                    if not (np.isfinite(mine) and abs(mine - theirs) <= tol):
                        agree = False
            row["agree"] = agree
        else:
            res = _modern(sub, o["data_type"], o["measure"], method, test, level)
            row = {**base, "method": method, "test": test, **res,
                   "revman_estimate": o["estimate"], "revman_ci_lb": o["ci_lb"], "revman_ci_ub": o["ci_ub"]}
        return row


def _where(o) -> str:
    """Where a re-run warning arose, in RevMan's numbering."""
    where = f"RevMan analysis {int(o['comparison_no'])}.{int(o['outcome_no'])}"
    if o["subgroup_no"]:
        where += f".{int(o['subgroup_no'])}"
    return f"{where} ({o['outcome']})"


def arm_columns(data=None, *, ai=None, n1i=None, ci=None, n2i=None, bi=None, di=None, m1i=None, sd1i=None,
                m2i=None, sd2i=None, labels=("Experimental", "Control")) -> pd.DataFrame:
    """The per-arm data columns of a RevMan forest plot, as an ``ilab`` table.

    Parameters
    ----------
    data : pandas.DataFrame, optional
        The studies; the other arguments name its columns (or are arrays).
    ai, bi, ci, di, n1i, n2i : str or array-like, optional
        2x2 tables (metafor's names): events and total per arm are shown.
    m1i, sd1i, m2i, sd2i : str or array-like, optional
        Means and SDs (with ``n1i``, ``n2i``): mean, SD and total per arm are shown.
    labels : tuple of str
        Names of the two arms, shown above their columns (default
        ``("Experimental", "Control")``).

    Returns
    -------
    pandas.DataFrame
        One row per study; column headers "<arm>\\n<quantity>".

    Notes
    -----
    R equivalent: the ``ilab`` matrix of ``metafor::forest.rma``, e.g.
    ``cbind(ai, n1i, ci, n2i)``.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    Journal of Statistical Software 36(3).

    Examples
    --------
    >>> bcg = pt.datasets.load("bcg")
    >>> pt.meta.arm_columns(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg").iloc[0].tolist()
    [4.0, 123.0, 11.0, 139.0]
    """
    def col(x):
        if x is None:
            return None
        v = data[x] if isinstance(x, str) else x
        return np.asarray(v, dtype=float)

    e, c = labels
    a_, c_ = col(ai), col(ci)
    if a_ is not None and c_ is not None:
        n1 = col(n1i) if n1i is not None else a_ + col(bi)
        n2 = col(n2i) if n2i is not None else c_ + col(di)
        return pd.DataFrame({f"{e}\nEvents": a_, f"{e}\nTotal": n1, f"{c}\nEvents": c_, f"{c}\nTotal": n2})
    if m1i is not None:
        return pd.DataFrame({f"{e}\nMean": col(m1i), f"{e}\nSD": col(sd1i), f"{e}\nTotal": col(n1i),
                             f"{c}\nMean": col(m2i), f"{c}\nSD": col(sd2i), f"{c}\nTotal": col(n2i)})
    raise ValueError("arm_columns needs ai and ci (2x2 tables) or m1i, sd1i, n1i, m2i, sd2i, n2i (means)")


# ---------------------------------------------------------------------------
# RevMan's analysis


def _is_ratio(measure):
    return str(measure).upper() in RATIO


def study_estimates(data: pd.DataFrame, data_type: str, measure: str, correct: bool = True):
    """RevMan's per-study estimates ``(yi, vi, estimable)`` on the analysis scale."""
    from peertrial.meta.escalc import escalc

    measure = str(measure).upper()
    if data_type == "DICH":
        a, c = data["ai"].to_numpy(float), data["ci"].to_numpy(float)
        b, d = data["bi"].to_numpy(float), data["di"].to_numpy(float)
        ok = np.ones(a.size, bool)
        if measure in ("OR", "RR", "PETO_OR"):
            ok = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
        m = "OR" if measure == "PETO_OR" else measure
        # RevMan leaves double-zero studies out of ratio measures: compute only the others
        y, v = np.full(a.size, np.nan), np.full(a.size, np.nan)
        if ok.any():
            cells = {"ai": a[ok], "bi": b[ok], "ci": c[ok], "di": d[ok]}
            es = (escalc(m, **cells, add=0.5, to="only0") if correct and m != "RD"
                  else escalc(m, **cells, to="none"))
            y[ok], v[ok] = es["yi"].to_numpy(), es["vi"].to_numpy()
        return y, v, ok
    if data_type == "CONT":
        m1, s1, n1 = (data[c].to_numpy(float) for c in ("m1i", "sd1i", "n1i"))
        m2, s2, n2 = (data[c].to_numpy(float) for c in ("m2i", "sd2i", "n2i"))
        if measure == "SMD":
            N = n1 + n2
            sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (N - 2))
            g = (m1 - m2) / sp * (1 - 3 / (4 * N - 9))
            y, v = g, N / (n1 * n2) + g**2 / (2 * (N - 3.94))
        else:
            y, v = m1 - m2, s1**2 / n1 + s2**2 / n2
        ok = np.isfinite(y) & np.isfinite(v) & (v > 0)
        return np.where(ok, y, np.nan), np.where(ok, v, np.nan), ok
    y, se = data["yi"].to_numpy(float), data["sei"].to_numpy(float)
    ok = np.isfinite(y) & np.isfinite(se) & (se > 0)
    return np.where(ok, y, np.nan), np.where(ok, se**2, np.nan), ok


def revman_pool(data: pd.DataFrame, data_type: str, measure: str, method: str, random: bool) -> dict:
    """One RevMan analysis (pooled estimate on the natural scale, Chi², I², tau², Z)."""
    from peertrial.meta.mh import rma_mh, rma_peto

    method = str(method).upper()
    y, v, ok = study_estimates(data, data_type, measure)
    yk, vk = y[ok], v[ok]
    k = int(ok.sum())
    if k == 0:
        return {"k": 0}
    w = 1 / vk
    if data_type == "DICH" and method in ("MH", "PETO"):
        a, b, c, d = (data[col].to_numpy(float)[ok] for col in ("ai", "bi", "ci", "di"))
        if method == "PETO":
            fit = rma_peto(ai=a, bi=b, ci=c, di=d)
            Q = fit.QE
        else:
            if str(measure).upper() != "RD":
                zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
                a, b, c, d = (np.where(zero, x + 0.5, x) for x in (a, b, c, d))
            fit = rma_mh(ai=a, bi=b, ci=c, di=d, measure=str(measure).upper())
            Q = float(np.sum(w * (yk - fit.b) ** 2))
        b_fe, se_fe = fit.b, fit.se
    else:
        b_fe = float(np.sum(w * yk) / np.sum(w))
        se_fe = float(np.sqrt(1 / np.sum(w)))
        Q = float(np.sum(w * (yk - b_fe) ** 2))
    df = k - 1
    I2 = 100 * (Q - df) / Q if Q > df and Q > 0 else 0.0
    tau2 = 0.0
    est, se = b_fe, se_fe
    if random and k > 1:
        tau2 = max(0.0, (Q - df) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
        ws = 1 / (vk + tau2)
        est, se = float(np.sum(ws * yk) / np.sum(ws)), float(np.sqrt(1 / np.sum(ws)))
    z = est / se
    tr = np.exp if _is_ratio(measure) else (lambda x: x)
    return {"k": k, "estimate": float(tr(est)), "ci_lb": float(tr(est - Z975 * se)),
            "ci_ub": float(tr(est + Z975 * se)), "chi2": float(Q), "df": df,
            "chi2_pval": float(stats.chi2.sf(Q, df)) if df > 0 else np.nan, "I2": float(I2), "tau2": float(tau2),
            "z": float(abs(z)), "z_pval": float(2 * stats.norm.sf(abs(z))), "b": float(est), "se": float(se)}


def _subgroup_test(data, o):
    ests, ses = [], []
    for g in sorted(pd.unique(data["subgroup_no"])):
        r = revman_pool(data[data["subgroup_no"] == g], o["data_type"], o["measure"], o["method"],
                        o["model"] == "random")
        if r["k"] > 0:
            ests.append(r["b"])
            ses.append(r["se"])
    est, w = np.array(ests), 1 / np.array(ses) ** 2
    Q = float(np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2))
    df = len(ests) - 1
    return {"subgroup_chi2": Q, "subgroup_pval": float(stats.chi2.sf(Q, df)) if df > 0 else np.nan,
            "subgroup_I2": 100 * (Q - df) / Q if Q > df and Q > 0 else 0.0}


def _modern(data, data_type, measure, method, test, level):
    from peertrial.meta.rma import rma

    y, v, ok = study_estimates(data, data_type, measure)
    if ok.sum() == 0:
        return {"k": 0}
    labels = data["study"].astype(str).to_numpy()[ok]
    fit = rma(y[ok], v[ok], method=method, test=test, level=level, slab=labels)
    pred = fit.predict()
    tr = np.exp if _is_ratio(measure) else (lambda x: x)
    return {"k": int(fit.k), "estimate": float(tr(fit.b)), "ci_lb": float(tr(fit.ci_lb)),
            "ci_ub": float(tr(fit.ci_ub)), "pval": float(fit.pval), "tau2": float(fit.tau2), "I2": float(fit.I2),
            "chi2": float(fit.QE), "pi_lb": float(tr(np.ravel(pred.pi_lb)[0])),
            "pi_ub": float(tr(np.ravel(pred.pi_ub)[0]))}


# ---------------------------------------------------------------------------
# readers


def read_revman(path) -> Review:
    r"""Read a Cochrane review made with RevMan 5.

    Parameters
    ----------
    path : str or path-like
        A RevMan 5 review file (``.rm5``), a RevMan 5 CSV export (``.csv``), a ``.zip``
        holding either, or a Cochrane data package (RevMan Web), zipped or unzipped into a
        folder (see the module docstring for the formats).

    Returns
    -------
    Review
        ``review.outcomes`` (RevMan's stored totals, one row per comparison x outcome x
        subgroup), ``review.studies(comparison, outcome)`` (per-study data ready for
        ``escalc``/``rma``/``rma_mh``) and ``review.rerun()``.

    Notes
    -----
    R equivalent: ``meta::read.rm5`` and ``meta::read.cdir`` (and ``meta::metacr`` to re-run one
    outcome).

    References
    ----------
    Deeks JJ, Higgins JPT (2010). Statistical algorithms in Review Manager 5. The
    Cochrane Collaboration.

    Examples
    --------
    The aspirin trials of Fleiss (1993) as a RevMan 5 CSV export, with the totals RevMan
    stored for its Mantel–Haenszel odds ratio:

    >>> rows = [
    ...     "Comparison Number,Outcome Number,Subgroup Number,Name,Data Type,Statistical Method,"
    ...     "Effect Measure,Analysis Model,Events 1,Total 1,Events 2,Total 2,Effect Estimate,CI Start,"
    ...     "CI End,Q,P(Q),I\u00b2(Q),Tau\u00b2,Z,P(Z),df,Year of study",
    ...     "1,0,0,Aspirin versus placebo after myocardial infarction,,,,,,,,,,,,,,,,,,,",
    ...     "1,1,0,Death,DIC,MH,OR,Fixed,2128,14186,2286,13817,0.89686556,0.8405144,0.95699471,"
    ...     "9.94605598,0.12694225,39.67458046,0,3.28763306,0.00101033,6,",
    ...     "1,1,0,MRC-1,,,,,49,615,67,624,,,,,,,,,,,1974",
    ...     "1,1,0,CDP,,,,,44,758,64,771,,,,,,,,,,,1976",
    ...     "1,1,0,MRC-2,,,,,102,832,126,850,,,,,,,,,,,1979",
    ...     "1,1,0,GASP,,,,,32,317,38,309,,,,,,,,,,,1979",
    ...     "1,1,0,PARIS,,,,,85,810,52,406,,,,,,,,,,,1980",
    ...     "1,1,0,AMIS,,,,,246,2267,219,2257,,,,,,,,,,,1980",
    ...     "1,1,0,ISIS-2,,,,,1570,8587,1720,8600,,,,,,,,,,,1988",
    ... ]
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "aspirin.csv"
    >>> _ = path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    >>> review = pt.meta.read_revman(path)
    >>> review.outcomes[["outcome", "measure", "method", "k", "estimate"]]
      outcome measure method  k  estimate
    0   Death      OR     MH  7  0.896866
    >>> rerun = review.rerun()
    >>> rerun[["revman_estimate", "peertrial_estimate", "peertrial_chi2", "agree"]].round(6)
       revman_estimate  peertrial_estimate  peertrial_chi2  agree
    0         0.896866            0.896866        9.946056   True
    >>> review.studies(1, "Death")[["study", "year", "ai", "n1i", "ci", "n2i"]].head(2)
       study  year    ai    n1i    ci    n2i
    0  MRC-1  1974  49.0  615.0  67.0  624.0
    1    CDP  1976  44.0  758.0  64.0  771.0
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"RevMan file {str(p)!r} not found")
    if p.is_dir():
        files = {str(f.relative_to(p)): f for f in p.rglob("*.csv") if f.is_file()}
        if _package_files(files) is None:
            raise ValueError(f"{p} is a folder without a Cochrane data package (no *-analysis-data/*-data-rows.csv); "
                             "give a RevMan file, or the folder an unzipped data package made")
        return _from_package({n: f.read_bytes() for n, f in files.items()}, p.name)
    if zipfile.is_zipfile(p):
        return _read_zip(p)
    return _read_bytes(p.read_bytes(), p.name)


def _read_bytes(raw: bytes, name: str) -> Review:
    head = raw.lstrip()[:200]
    if head.startswith(b"<?xml") or head.startswith(b"<COCHRANE_REVIEW") or name.lower().endswith(".rm5"):
        return _from_rm5(_parse_xml(raw), name)
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    return _from_csv(text, name)


_MAX_MEMBER = 200_000_000  # bytes: no RevMan export comes near it; larger members are refused unread


def _zip_members(z: zipfile.ZipFile, source: str, depth: int = 0) -> dict:
    """The CSV members of a zip, and of the ``*-data.zip`` nested in a Cochrane Library download."""
    out = {}
    for info in z.infolist():
        if info.is_dir():
            continue
        if info.file_size > _MAX_MEMBER:
            raise ValueError(f"{info.filename} in {source} is too large to be a RevMan export")
        name = info.filename
        if name.lower().endswith(".csv"):
            out[name] = z.read(info)
        elif name.lower().endswith(".zip") and depth == 0:
            with zipfile.ZipFile(io.BytesIO(z.read(info))) as inner:
                out.update({f"{name}/{n}": b for n, b in _zip_members(inner, f"{source}:{name}", 1).items()})
    return out


def _read_zip(path: Path) -> Review:
    with zipfile.ZipFile(path) as z:
        package = _zip_members(z, path.name)
        if _package_files(package) is not None:
            return _from_package(package, path.name)
        names = [n for n in z.namelist() if not n.endswith("/")]
        pick = [n for n in names if n.lower().endswith(".rm5")] or [n for n in names if n.lower().endswith(".csv")]
        if not pick:
            raise ValueError(f"{path.name}: the zip holds no .rm5 file or RevMan CSV export (files: "
                             + ", ".join(names[:10]) + ")")
        reviews = []
        for n in pick:
            info = z.getinfo(n)
            if info.file_size > _MAX_MEMBER:
                raise ValueError(f"{n} in {path.name} is too large to be a RevMan export")
            reviews.append(_read_bytes(z.read(n), f"{path.name}:{n}"))
    if len(reviews) == 1:
        return reviews[0]
    raise ValueError(f"{path.name} holds {len(reviews)} reviews ({', '.join(pick)}); read them one at a time")


def _measure_name(measure, method):
    m = str(measure or "").upper().replace(" ", "")
    return {"PETOOR": "OR", "PETO_OR": "OR"}.get(m, m)


def _study_frame(data_type, rows):
    frame = pd.DataFrame(rows)
    if data_type == "DICH" and len(frame):
        frame["bi"] = frame["n1i"] - frame["ai"]
        frame["di"] = frame["n2i"] - frame["ci"]
        frame = frame[["study", "year", "subgroup_no", "subgroup", "ai", "bi", "ci", "di", "n1i", "n2i",
                       "revman_estimate", "revman_weight"]]
    return frame.reset_index(drop=True)


def _from_rm5(root: _Node, source: str) -> Review:
    doc = root.find("COCHRANE_REVIEW")
    if doc is None:
        raise ValueError(f"{source}: not a RevMan 5 review (no COCHRANE_REVIEW element)")
    cover = doc.find("COVER_SHEET")
    title = cover.child_text("TITLE") if cover is not None else ""
    names = {}
    for s in doc.iter("STUDY"):
        names[s.attrs.get("ID", "")] = (s.attrs.get("NAME", s.attrs.get("ID", "")), s.attrs.get("YEAR", ""))
    analyses = doc.find("ANALYSES_AND_DATA")
    rows, studies, tol = [], {}, {}
    if analyses is None:
        raise ValueError(f"{source}: the review has no analyses (ANALYSES_AND_DATA)")
    for cmp in analyses.children:
        if cmp.tag != "COMPARISON":
            continue
        cno, cname = int(cmp.attrs.get("NO", "0") or 0), cmp.child_text("NAME")
        for out in cmp.children:
            if not out.tag.endswith("_OUTCOME"):
                continue
            dtype = out.tag[: -len("_OUTCOME")]
            if dtype not in ("DICH", "CONT", "IV"):
                warnings.warn(f"{source}: comparison {cno}, outcome {out.attrs.get('NO')}: {out.tag} is not "
                              "re-analysed (only dichotomous, continuous and generic inverse-variance outcomes)",
                              UserWarning, stacklevel=3)
                continue
            ono = int(out.attrs.get("NO", "0") or 0)
            measure = _measure_name(out.attrs.get("EFFECT_MEASURE"), out.attrs.get("METHOD"))
            method = (out.attrs.get("METHOD") or "IV").upper()
            if out.attrs.get("EFFECT_MEASURE", "").upper().startswith("PETO"):
                method = "PETO"
            model = "random" if out.attrs.get("RANDOM", "NO").upper() == "YES" else "fixed"
            common = dict(comparison_no=cno, comparison=cname, outcome_no=ono, outcome=out.child_text("NAME"),
                          data_type=dtype, measure=measure, method=method, model=model,
                          group_label_1=out.child_text("GROUP_LABEL_1"), group_label_2=out.child_text("GROUP_LABEL_2"))
            data_rows = []
            _add_totals(rows, tol, common, out, 0, "")
            _add_data(data_rows, names, out, dtype, measure, 0, "")
            sno = 0
            for sg in out.children:
                if sg.tag.endswith("_SUBGROUP"):
                    sno = int(sg.attrs.get("NO", sno + 1) or sno + 1)
                    sname = sg.child_text("NAME")
                    _add_totals(rows, tol, common, sg, sno, sname)
                    _add_data(data_rows, names, sg, dtype, measure, sno, sname)
            studies[(cno, ono)] = _finish_studies(dtype, data_rows, measure, method, model)
    return _review(title, rows, studies, tol, source)


def _append_totals(rows, tol, row, cell, columns=_TOTALS):
    """Add ``row`` to the outcomes table with RevMan's stored totals, ``cell(name)`` giving the
    text of each of ``columns`` (outcome-table column: name in the file), and the tolerance
    its stored digits allow."""
    for col, name in columns.items():
        row[col], tol[(len(rows), col)] = _num(cell(name))
    rows.append(row)


def _add_totals(rows, tol, common, node, sno, sname):
    """One row of the outcomes table from an outcome or subgroup element."""
    k = node.attrs.get("STUDIES")
    row = dict(common, subgroup_no=sno, subgroup=sname, k=int(float(k)) if k not in (None, "") else np.nan)
    _append_totals(rows, tol, row, node.attrs.get)


def _add_data(data_rows, names, node, dtype, measure, sno, sname):
    """The per-study ``*_DATA`` children of an outcome or subgroup element."""
    for d in node.children:
        if not d.tag.endswith("_DATA"):
            continue
        study, year = names.get(d.attrs.get("STUDY_ID", ""), (d.attrs.get("STUDY_ID", ""), ""))
        rec = {"study": study, "year": _year(year), "subgroup_no": sno, "subgroup": sname}
        vals = {a: _num(v)[0] for a, v in d.attrs.items()}
        g = vals.get
        if dtype == "DICH":
            rec.update(ai=g("EVENTS_1"), n1i=g("TOTAL_1"), ci=g("EVENTS_2"), n2i=g("TOTAL_2"))
        elif dtype == "CONT":
            rec.update(m1i=g("MEAN_1"), sd1i=g("SD_1"), n1i=g("TOTAL_1"), m2i=g("MEAN_2"), sd2i=g("SD_2"),
                       n2i=g("TOTAL_2"))
        else:
            est = g("ESTIMATE", np.nan)
            if not np.isfinite(est):
                est = g("EFFECT_SIZE", np.nan)
                est = np.log(est) if _is_ratio(measure) and est > 0 else est
            rec.update(yi=est, sei=g("SE"))
        rec.update(revman_estimate=g("EFFECT_SIZE", np.nan), revman_weight=g("WEIGHT", np.nan))
        data_rows.append(rec)


def _year(y):
    v, _ = _num(y)
    return int(v) if np.isfinite(v) else pd.NA


def _finish_studies(dtype, data_rows, measure, method, model):
    frame = _study_frame(dtype, data_rows)
    frame.attrs.update(measure=measure, method=method, model=model, data_type=dtype)
    return frame


def _review(title, rows, studies, tol, source):
    outcomes = pd.DataFrame(rows)
    if outcomes.empty:
        raise ValueError(f"{source}: no dichotomous, continuous or generic inverse-variance analyses found")
    order = ["comparison_no", "comparison", "outcome_no", "outcome", "subgroup_no", "subgroup", "data_type",
             "measure", "method", "model", "k", *(_TOTALS), "group_label_1", "group_label_2"]
    outcomes = outcomes[[c for c in order if c in outcomes.columns]]
    return Review(title=title, outcomes=outcomes, source=source, _studies=studies, _tol=tol)


_CSV_COLUMNS = {
    "comparison number": "cno", "outcome number": "ono", "subgroup number": "sno", "name": "name",
    "data type": "type", "statistical method": "method", "effect measure": "measure", "analysis model": "model",
    "events 1": "EVENTS_1", "mean 1": "MEAN_1", "sd 1": "SD_1", "total 1": "TOTAL_1", "events 2": "EVENTS_2",
    "mean 2": "MEAN_2", "sd 2": "SD_2", "total 2": "TOTAL_2", "effect estimate": "EFFECT_SIZE", "se": "SE",
    "ci start": "CI_START", "ci end": "CI_END", "weight": "WEIGHT", "q": "CHI2", "p(q)": "P_CHI2", "i2(q)": "I2",
    "tau2": "TAU2", "z": "Z", "p(z)": "P_Z", "qint": "Q", "p(qint)": "P_Q", "i2(qint)": "I2_Q", "df": "DF",
    "group label 1": "GROUP_LABEL_1", "group label 2": "GROUP_LABEL_2", "year of study": "YEAR",
}
class _Cells:
    """The cells of one CSV record by RevMan column key ("" when absent)."""

    def __init__(self, rec, idx):
        self.rec, self.idx = rec, idx

    def __call__(self, key):
        j = self.idx.get(key)
        return self.rec[j].strip() if j is not None and j < len(self.rec) else ""

    def number(self, key):
        return _num(self(key))[0]


_TYPES = {"DIC": "DICH", "DICH": "DICH", "CON": "CONT", "CONT": "CONT", "IV": "IV", "GIV": "IV"}


def _from_csv(text: str, source: str) -> Review:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{source}: empty file") from None
    norm = [h.strip().lower().replace("\u00b2", "2").replace("\ufeff", "") for h in header]
    idx = {_CSV_COLUMNS[h]: j for j, h in enumerate(norm) if h in _CSV_COLUMNS}
    need = {"cno", "ono", "sno", "name"}
    if not need <= set(idx):
        raise ValueError(f"{source}: not a RevMan 5 CSV export (needs the columns Comparison Number, Outcome "
                         "Number, Subgroup Number, Name, ...)")
    rows, studies, tol = [], {}, {}
    comparisons = {}
    current = {}
    data_rows = {}
    seen = set()
    for line_no, rec in enumerate(reader, start=2):
        if not any(x.strip() for x in rec):
            continue
        get = _Cells(rec, idx)
        try:
            cno, ono, sno = int(float(get("cno"))), int(float(get("ono"))), int(float(get("sno") or 0))
        except ValueError:
            raise ValueError(f"{source}: line {line_no} has no comparison/outcome/subgroup number") from None
        if ono == 0:
            comparisons[cno] = get("name")
            continue
        triple = (cno, ono, sno)
        is_header = bool(get("type")) or (sno > 0 and triple not in seen)
        if is_header:
            seen.add(triple)
            if sno == 0:
                dtype = _TYPES.get(get("type").upper(), get("type").upper())
                method = (get("method") or "IV").upper()
                measure = _measure_name(get("measure"), method)
                if get("measure").upper().startswith("PETO"):
                    method = "PETO"
                model = "random" if get("model").lower().startswith("random") else "fixed"
                current[(cno, ono)] = dict(comparison_no=cno, comparison=comparisons.get(cno, ""), outcome_no=ono,
                                           outcome=get("name"), data_type=dtype, measure=measure, method=method,
                                           model=model, group_label_1=get("GROUP_LABEL_1"),
                                           group_label_2=get("GROUP_LABEL_2"))
                data_rows[(cno, ono)] = []
            common = current.get((cno, ono))
            if common is None:
                raise ValueError(f"{source}: line {line_no}: subgroup before its outcome row")
            row = dict(common, subgroup_no=sno, subgroup=get("name") if sno > 0 else "", k=np.nan)
            _append_totals(rows, tol, row, get)
            continue
        common = current.get((cno, ono))
        if common is None:
            raise ValueError(f"{source}: line {line_no}: study row before its outcome row")
        g = get.number
        rec_ = {"study": get("name"), "year": _year(get("YEAR")), "subgroup_no": sno,
                "subgroup": next((r["subgroup"] for r in reversed(rows) if r["comparison_no"] == cno
                                  and r["outcome_no"] == ono and r["subgroup_no"] == sno), "")}
        dtype, measure = common["data_type"], common["measure"]
        if dtype == "DICH":
            rec_.update(ai=g("EVENTS_1"), n1i=g("TOTAL_1"), ci=g("EVENTS_2"), n2i=g("TOTAL_2"))
        elif dtype == "CONT":
            rec_.update(m1i=g("MEAN_1"), sd1i=g("SD_1"), n1i=g("TOTAL_1"), m2i=g("MEAN_2"), sd2i=g("SD_2"),
                        n2i=g("TOTAL_2"))
        else:
            est = g("EFFECT_SIZE")
            rec_.update(yi=np.log(est) if _is_ratio(measure) and est > 0 else est, sei=g("SE"))
        rec_.update(revman_estimate=g("EFFECT_SIZE"), revman_weight=g("WEIGHT"))
        data_rows[(cno, ono)].append(rec_)
    for key, recs in data_rows.items():
        c = current[key]
        studies[key] = _finish_studies(c["data_type"], recs, c["measure"], c["method"], c["model"])
    # generic inverse-variance studies come rounded to the export's 8 decimals: their pooled
    # results can only be reproduced to that input precision (1e-6 relative)
    for j, r in enumerate(rows):
        if r["data_type"] == "IV":
            for col in _COMPARED:
                if (j, col) in tol and np.isfinite(r[col]):
                    tol[(j, col)] = max(tol[(j, col)], 1e-6 * max(1.0, abs(r[col])))
    # the CSV export has no study count per outcome: the studies it lists
    for r in rows:
        frame = studies[(r["comparison_no"], r["outcome_no"])]
        r["k"] = int(len(frame) if r["subgroup_no"] == 0 else (frame["subgroup_no"] == r["subgroup_no"]).sum())
    return _review(Path(source).stem, rows, studies, tol, source)


# ---------------------------------------------------------------------------
# Cochrane data package (RevMan Web; "Data package specification, version 1")

_PACKAGE_TOTALS = {  # outcome-table column: data-package column (lower case, "²" as "2")
    "estimate": "mean", "ci_lb": "ci start", "ci_ub": "ci end", "tau2": "heterogeneity tau2",
    "I2": "heterogeneity i2", "chi2": "heterogeneity chi2", "df": "heterogeneity df", "chi2_pval": "heterogeneity p",
    "z": "effect z", "z_pval": "effect p", "subgroup_chi2": "subgroup chi2", "subgroup_pval": "subgroup p",
    "subgroup_I2": "subgroup i2", "events_1": "experimental cases", "total_1": "experimental n",
    "events_2": "control cases", "total_2": "control n",
}
_PACKAGE_MEASURES = {
    "odds ratio": "OR", "peto odds ratio": "OR", "risk ratio": "RR", "risk difference": "RD",
    "mean difference": "MD", "std. mean difference": "SMD", "standardized mean difference": "SMD",
    "standardised mean difference": "SMD", "hazard ratio": "HR",
}
_PACKAGE_METHODS = {"mh": "MH", "mantel-haenszel": "MH", "iv": "IV", "inverse variance": "IV", "inverse": "IV",
                    "peto": "PETO", "exp_o_e_var": "PETO"}
_PACKAGE_TYPES = {"dichotomous": "DICH", "continuous": "CONT", "contrast level": "IV",
                  "generic inverse variance": "IV"}


def _package_files(files) -> tuple | None:
    """The settings, data-rows and subgroup-estimates files of a data package, by name."""
    def one(suffix):
        hits = sorted(n for n in files if n.lower().endswith(suffix) and "-analysis-data/" in n.replace("\\", "/"))
        return hits[0] if hits else None
    found = (one("-overall-estimates-and-settings.csv"), one("-data-rows.csv"), one("-subgroup-estimates.csv"))
    return found if found[0] and found[1] else None


def _package_table(raw: bytes, name: str) -> list[dict]:
    """A data-package CSV as records keyed by lower-case column name ("²" read as "2")."""
    text = raw.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower().replace("\u00b2", "2") for h in next(reader)]
    except StopIteration:
        raise ValueError(f"{name}: empty file") from None
    return [dict(zip(header, (c.strip() for c in rec))) for rec in reader if any(c.strip() for c in rec)]


def _package_number(text):
    return _num(str(text or "").replace("%", "").strip())


def _package_kind(rec, source) -> tuple | None:
    """(data_type, measure, method, model) of a settings row; None for analyses not re-run."""
    em = rec.get("effect measure", "")
    measure = _PACKAGE_MEASURES.get(em.lower(), em.upper().replace(" ", ""))
    raw_type = rec.get("data type", "").lower()
    dtype = _PACKAGE_TYPES.get(raw_type)
    if raw_type == "arm level":
        dtype = "DICH" if measure in ("OR", "RR", "RD") else "CONT"
    where = f"{source}: analysis {rec.get('analysis group')}.{rec.get('analysis number')}"
    if dtype is None or measure == "HR":
        warnings.warn(f"{where}: {rec.get('data type')!r} data ({em}) is not re-analysed (only dichotomous, "
                      "continuous and generic inverse-variance outcomes)", UserWarning, stacklevel=_data.user_stacklevel())
        return None
    method = _PACKAGE_METHODS.get(rec.get("statistical method", "iv").lower(), "IV")
    if em.lower() == "peto odds ratio":
        method = "PETO"
    model = "random" if rec.get("analysis model", "").lower().startswith("random") else "fixed"
    return dtype, measure, method, model


def _from_package(files: dict, source: str) -> Review:
    """A review from a Cochrane data package (as ``meta::read.cdir``): the analysis settings
    and RevMan's stored totals, one row per study, and the subgroup totals."""
    settings_name, rows_name, subgroup_name = _package_files(files)
    settings = _package_table(files[settings_name], settings_name)
    data_rows = _package_table(files[rows_name], rows_name)
    subgroup_rows = _package_table(files[subgroup_name], subgroup_name) if subgroup_name else []
    if not data_rows:
        raise ValueError(f"{source}: the data package holds no study data (no meta-analyses were run)")
    key = lambda r: (int(_package_number(r.get("analysis group"))[0]), int(_package_number(r.get("analysis number"))[0]))  # noqa: E731
    sub_no = {(*key(r), r.get("subgroup", "")): int(_package_number(r.get("subgroup number"))[0])
              for r in subgroup_rows}
    rows, studies, tol = [], {}, {}
    estimators = set()
    for rec in settings:
        kind = _package_kind(rec, source)
        if kind is None:
            continue
        dtype, measure, method, model = kind
        k_ = key(rec)
        est = rec.get("heterogeneity estimator", "")
        if model == "random" and est and not est.lower().startswith(("dersimonian", "dl")):
            estimators.add(est)
        common = dict(comparison_no=k_[0], comparison=rec.get("analysis group name", ""), outcome_no=k_[1],
                      outcome=rec.get("analysis name", ""), data_type=dtype, measure=measure, method=method,
                      model=model, group_label_1=rec.get("experimental group label") or "Experimental",
                      group_label_2=rec.get("control group label") or "Control")
        swap = rec.get("swap event and non-event", "").upper() == "TRUE"
        recs = [_package_study(r, dtype, measure, swap, sub_no.get((*k_, r.get("subgroup", "")), 0))
                for r in data_rows if key(r) == k_]
        frame = _finish_studies(dtype, recs, measure, method, model)
        studies[k_] = frame
        _append_totals(rows, tol, dict(common, subgroup_no=0, subgroup="", k=len(recs)), _package_cell(rec),
                       _PACKAGE_TOTALS)
        for r in subgroup_rows:
            if key(r) == k_:
                n = sub_no[(*k_, r.get("subgroup", ""))]
                k_sub = int((frame["subgroup_no"] == n).sum()) if len(frame) else 0
                _append_totals(rows, tol, dict(common, subgroup_no=n, subgroup=r.get("subgroup", ""), k=k_sub),
                               _package_cell(r), _PACKAGE_TOTALS)
    if estimators:
        warnings.warn(f"{source}: random-effects analyses use {', '.join(sorted(estimators))} (RevMan Web); "
                      "rerun() reproduces RevMan 5's DerSimonian-Laird analyses, so their stored totals may "
                      "differ: re-run them with rerun(method=..., test=...)", UserWarning,
                      stacklevel=_data.user_stacklevel())
    title = Path(settings_name).name.split("-")[0]
    return _review(title, rows, studies, tol, source)


def _package_cell(rec):
    """A data-package record's cell text by column name, without a percent sign (I² is "93%")."""
    return lambda name: str(rec.get(name) or "").replace("%", "").strip()


def _package_study(r, dtype, measure, swap, subgroup_no) -> dict:
    g = lambda name: _package_number(r.get(name))[0]  # noqa: E731
    rec = {"study": r.get("study", ""), "year": _year(r.get("study year")), "subgroup_no": subgroup_no,
           "subgroup": r.get("subgroup", "") if subgroup_no else ""}
    if dtype == "DICH":
        a, n1, c, n2 = g("experimental cases"), g("experimental n"), g("control cases"), g("control n")
        if swap:  # the analysis counts non-events
            a, c = n1 - a, n2 - c
        rec.update(ai=a, n1i=n1, ci=c, n2i=n2)
    elif dtype == "CONT":
        rec.update(m1i=g("experimental mean"), sd1i=g("experimental sd"), n1i=g("experimental n"),
                   m2i=g("control mean"), sd2i=g("control sd"), n2i=g("control n"))
    else:  # GIV Mean and SE are on the analysis (log) scale
        rec.update(yi=g("giv mean"), sei=g("giv se"))
    rec.update(revman_estimate=g("mean"), revman_weight=g("weight"))
    return rec


# ---------------------------------------------------------------------------
# CLI: peertrial meta review FILE


def cli_review(args) -> int:
    import json

    review = read_revman(args.file)
    method = args.method
    table = review.rerun(method=method, test=args.test or "z", level=args.level)
    digits = args.digits
    print(f"peertrial meta review: {review.title or review.source}")
    print()
    if method is None:
        show = ["comparison_no", "outcome_no", "subgroup_no", "measure", "method", "model", "k", "revman_estimate",
                "peertrial_estimate", "revman_ci_lb", "peertrial_ci_lb", "revman_ci_ub", "peertrial_ci_ub",
                "peertrial_I2", "peertrial_tau2", "agree"]
        print(table[show].round(digits).to_string(index=False))
        n_bad = int((~table["agree"]).sum())
        print()
        print("every stored result reproduced" if n_bad == 0 else
              f"{n_bad} of {len(table)} analyses differ from RevMan's stored numbers (agree = False)")
    else:
        show = ["comparison_no", "outcome_no", "subgroup_no", "measure", "k", "estimate", "ci_lb", "ci_ub",
                "pi_lb", "pi_ub", "tau2", "I2", "revman_estimate"]
        print(f"re-analysed with method = {method}, test = {args.test or 'z'} (prediction intervals pi_lb, pi_ub)")
        print(table[show].round(digits).to_string(index=False))
    if args.json:
        records = json.loads(table.to_json(orient="records", double_precision=15))
        Path(args.json).write_text(json.dumps({"source": review.source, "title": review.title,
                                               "method": method or "RevMan", "analyses": records}, indent=1) + "\n")
        print(f"\nresults written to {args.json}")
    if getattr(args, "csv", None):
        folder = Path(args.csv)
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / "review.csv", index=False)
        print(f"\ntable written to {folder / 'review.csv'}")
    if args.forest_dir:
        written = _forests(review, Path(args.forest_dir), getattr(args, "layout", None))
        print(f"{len(written)} forest plots written to {args.forest_dir}")
    return 0


def _forests(review, folder, layout=None):
    """One RevMan-layout forest plot per outcome (subgroup blocks where the review has them)."""
    from peertrial.meta.mh import rma_mh, rma_peto
    from peertrial.meta.rma import rma
    from peertrial.plot import save
    from peertrial.plot.meta_review import revman_forest

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    totals = review.outcomes[review.outcomes["subgroup_no"] == 0]
    for _, o in totals.iterrows():
        key = (int(o["comparison_no"]), int(o["outcome_no"]))
        if key not in review._studies:
            continue
        data = review._studies[key]
        y, v, ok = study_estimates(data, o["data_type"], o["measure"])
        if ok.sum() < 2:
            continue
        d = data[ok].reset_index(drop=True)
        labels = d["study"].astype(str).to_numpy()
        with relayed(_where(o)):
            if o["data_type"] == "DICH" and o["method"] in ("MH", "PETO") and o["model"] == "fixed":
                cells = {c: d[c].to_numpy(float) for c in ("ai", "bi", "ci", "di")}
                fit = (rma_peto(**cells, slab=labels) if o["method"] == "PETO"
                       else rma_mh(**cells, measure=o["measure"], slab=labels))
            else:
                fit = rma(y[ok], v[ok], method="DL" if o["model"] == "random" else "EE", slab=labels,
                          measure=o["measure"] if o["data_type"] != "IV" else None)
        if o["data_type"] == "DICH":
            ilab = arm_columns(d, ai="ai", n1i="n1i", ci="ci", n2i="n2i",
                               labels=(o["group_label_1"] or "Experimental", o["group_label_2"] or "Control"))
        elif o["data_type"] == "CONT":
            ilab = arm_columns(d, m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i",
                               labels=(o["group_label_1"] or "Experimental", o["group_label_2"] or "Control"))
        else:
            ilab = None
        groups = d["subgroup"].to_numpy() if (d["subgroup_no"] > 0).any() else None
        if groups is not None and len(pd.unique(groups)) < 2:
            groups = None
        title = f"Analysis {key[0]}.{key[1]}: {o['outcome']}"
        target = folder / f"analysis_{key[0]}_{key[1]}.png"
        save(revman_forest(fit, ilab=ilab, subgroup=groups, title=title), target)
        written.append(target)
    return written
