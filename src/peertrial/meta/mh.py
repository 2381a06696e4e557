"""Mantel–Haenszel and Peto pooling of 2x2 tables (metafor's ``rma.mh``, ``rma.peto``).

Tables: ``ai``/``bi`` events/non-events in group 1, ``ci``/``di`` in group 2
(``n1i``/``n2i`` may replace ``bi``/``di``); ``N = a + b + c + d``.

- OR (Mantel–Haenszel): ``OR = sum(a d/N) / sum(b c/N)``; variance of log OR by
  Robins, Breslow & Greenland (1986):
  ``1/2 [sum(P R)/R^2 + sum(P S + Q R)/(R S) + sum(Q S)/S^2]`` with
  ``P = (a+d)/N, Q = (b+c)/N, R = a d/N, S = b c/N``; plus the Cochran–Mantel–Haenszel
  test and the Breslow–Day / Tarone homogeneity tests.
- RR: ``RR = sum(a n2/N) / sum(c n1/N)``; variance of log RR by Greenland & Robins
  (1985): ``sum(n1 n2 (a+c)/N^2 - a c/N) / (R S)``.
- RD: ``RD = sum((a n2 - c n1)/N) / sum(n1 n2/N)`` with the Greenland–Robins variance.
- Peto: ``log OR = sum(a - E) / sum(V)``, ``E = (a+c) n1/N``,
  ``V = (a+c)(b+d) n1 n2 / (N^2 (N-1))``, ``se = 1/sqrt(sum V)``.

Pooling uses the raw counts. The heterogeneity statistic ``QE`` uses the study
estimates from ``escalc`` with 1/2 added to tables with a zero cell and double-zero
tables dropped (metafor's defaults ``add = c(1/2, 0)``, ``to = c("only0", "none")``,
``drop00 = c(TRUE, FALSE)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_pval
from peertrial.meta._labels import make_unique
from peertrial.meta.escalc import escalc

stats = lazy_module("scipy.stats")

__all__ = ["rma_mh", "rma_peto", "MHResult"]


@dataclass(frozen=True, eq=False)
class MHResult(Result):
    """Equal-effects pooled estimate of 2x2 tables by Mantel–Haenszel or Peto, with its tests.

    Returned by :func:`rma_mh` and :func:`rma_peto`; the fields are those of metafor's
    ``rma.mh``/``rma.peto`` objects (``tau2`` is 0 and ``test`` is ``"z"``).

    Attributes
    ----------
    b, se, zval, pval, ci_lb, ci_ub : float
        Pooled estimate (log scale for OR and RR), its SE, z statistic, p-value and limits.
    QE, QEp : float
        Cochran's heterogeneity test and its p-value.
    I2, H2 : float
        Heterogeneity in percent and as a ratio, from ``QE``.
    k : int
        Number of tables.
    k_yi : int
        Tables with a finite study estimate (metafor's ``k.yi``).
    measure : str
        ``"OR"``, ``"RR"`` or ``"RD"`` (``"OR"`` for Peto).
    method : str
        ``"MH"`` or ``"PETO"``.
    level : float
        Confidence level in percent, as metafor.
    yi, vi : numpy.ndarray
        Per-table estimates and sampling variances (as ``escalc``, with its 0.5 correction).
    slab : pandas.Index
        Study labels.
    weights : numpy.ndarray
        Per-table weights of the pooled estimate (:meth:`weights_percent` in percent).
    CMH, CMHp : float
        Cochran–Mantel–Haenszel test (OR only; continuity-corrected with ``correct``).
    BD, BDp : float
        Breslow–Day test of homogeneity of the odds ratios (OR only).
    TA, TAp : float
        Tarone's corrected Breslow–Day test (OR only).
    k_pos : int
        Tables that contribute to the heterogeneity test.
    tables : tuple of numpy.ndarray or None
        The cell counts ``(ai, bi, ci, di)`` used.
    correct : bool
        Whether the CMH test is continuity-corrected.
    data : pandas.DataFrame or None
        Copy of the rows used (for :meth:`refit` and the diagnostics).

    Notes
    -----
    R equivalent: ``metafor::rma.mh`` / ``metafor::rma.peto`` objects (metafor 3.8-1).

    References
    ----------
    .. [1] Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
       retrospective studies of disease. Journal of the National Cancer Institute, 22, 719-748.
    .. [2] Breslow, N. E., & Day, N. E. (1980). Statistical Methods in Cancer Research, Vol. I:
       The Analysis of Case-Control Studies. IARC, Lyon.
    .. [3] Tarone, R. E. (1985). On heterogeneity tests based on efficient scores. Biometrika,
       72, 91-95.
    .. [4] Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade
       during and after myocardial infarction: an overview of the randomized trials. Progress
       in Cardiovascular Diseases, 27, 335-371.

    Examples
    --------
    >>> bcg = pt.datasets.load("bcg")
    >>> mh = pt.meta.rma_mh(data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> round(mh.b, 4), round(mh.QE, 4), round(mh.CMH, 4), round(mh.TA, 4), mh.k
    (-0.4734, 163.9426, 135.6889, 171.7567, 13)
    """

    b: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    QE: float
    QEp: float
    I2: float
    H2: float
    k: int
    k_yi: int
    measure: str
    method: str
    level: float
    yi: np.ndarray
    vi: np.ndarray
    slab: pd.Index
    weights: np.ndarray
    CMH: float = np.nan
    CMHp: float = np.nan
    BD: float = np.nan
    BDp: float = np.nan
    TA: float = np.nan
    TAp: float = np.nan
    k_pos: int = 0
    tables: tuple | None = None
    correct: bool = True
    data: pd.DataFrame | None = None

    tau2 = 0.0
    test = "z"

    def plot(self, ax=None, **kwargs):
        """Forest plot of this fit: studies and the pooled Mantel-Haenszel/Peto estimate.

        Draws :func:`peertrial.plot.forest` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.forest`: ``transf``, ``xlabel``, ``title``,
            ``show_weights``, ``show_pi``, ``refline``, ``digits``, ``order``, ``favours``,
            ``width``, ``ilab``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.forest : what is drawn, with an example.
        """
        from peertrial.plot.meta import forest

        return forest(self, ax=ax, **kwargs)

    def weights_percent(self) -> pd.Series:
        """Study weights in percent (metafor's ``weights.rma.mh`` / ``weights.rma.peto``)."""
        return pd.Series(100 * self.weights / np.sum(self.weights), index=self.slab, name="weight")

    @property
    def ratio(self) -> bool:
        return self.measure in ("OR", "RR")

    def refit(self, mask) -> MHResult | None:
        """The same Mantel–Haenszel / Peto analysis on the tables selected by ``mask``
        (boolean, one entry per table of the fit), as metafor's diagnostics refit
        ``rma.mh``/``rma.peto`` with ``subset``. None when that analysis cannot be
        computed (e.g. no events in the selected tables)."""
        if self.tables is None:
            raise ValueError("this fit does not keep its 2x2 tables; refit it with pt.meta.rma_mh / rma_peto")
        keep = np.asarray(mask, dtype=bool)
        a, b, c, d = (np.asarray(x)[keep] for x in self.tables)
        labels = [str(s) for s in np.asarray(self.slab)[keep]]
        if not labels:
            return None
        try:
            if self.method == "PETO":
                return rma_peto(ai=a, bi=b, ci=c, di=d, level=self.level, slab=labels)
            return rma_mh(ai=a, bi=b, ci=c, di=d, measure=self.measure, level=self.level, slab=labels,
                          correct=self.correct)
        except ValueError:
            return None

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {"estimate": [self.b], "se": [self.se], "statistic": [self.zval], "pval": [self.pval],
             "ci_lb": [self.ci_lb], "ci_ub": [self.ci_ub]},
            index=pd.Index(["intrcpt"], name="term"),
        )
        if self.ratio:
            frame[f"{self.measure}"] = np.exp(self.b)
            frame[f"{self.measure}_ci_lb"] = np.exp(self.ci_lb)
            frame[f"{self.measure}_ci_ub"] = np.exp(self.ci_ub)
        return frame

    def summary(self, digits: int = 4) -> str:
        f = lambda x: format_number(x, digits)  # noqa: E731
        name = "Mantel-Haenszel" if self.method == "MH" else "Peto"
        lines = [f"Equal-Effects Model ({name} method; k = {self.k})", ""]
        if self.k_yi > 1:
            lines += [
                f"I^2 (total heterogeneity / total variability):  {self.I2:.2f}%",
                f"H^2 (total variability / sampling variability): {self.H2:.2f}",
                "",
                "Test for Heterogeneity:",
                f"Q(df = {self.k_yi - 1}) = {f(self.QE)}, p-val {_pv(self.QEp, digits)}",
                "",
            ]
        scale = "log scale" if self.ratio else f"{self.measure} scale"
        lines += [f"Model Results ({scale}):", ""]
        head = ["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"]
        vals = [f(self.b), f(self.se), f(self.zval), format_pval(self.pval, digits), f(self.ci_lb), f(self.ci_ub)]
        w = [max(len(h), len(v)) for h, v in zip(head, vals)]
        lines += [" ".join(h.rjust(n) for h, n in zip(head, w)), " ".join(v.rjust(n) for v, n in zip(vals, w))]
        if self.ratio:
            e = [f(np.exp(self.b)), f(np.exp(self.ci_lb)), f(np.exp(self.ci_ub))]
            lines += ["", f"Model Results ({self.measure} scale):", "", "estimate    ci.lb    ci.ub",
                      " ".join(x.rjust(8) for x in e)]
        if self.method == "MH" and self.measure == "OR":
            lines += ["", f"Cochran-Mantel-Haenszel Test:    CMH = {f(self.CMH)}, df = 1, p-val {_pv(self.CMHp, digits)}"]
            if self.k_pos > 1:
                lines.append(f"Tarone's Test for Heterogeneity: X^2 = {f(self.TA)}, df = {self.k_pos - 1}, "
                             f"p-val {_pv(self.TAp, digits)}")
        return "\n".join(lines)


def _pv(p, digits):
    s = format_pval(p, digits)
    return f"< {s[1:]}" if s.startswith("<") else f"= {s}"


def _tables(data, ai, bi, ci, di, n1i, n2i, slab):
    """Cell counts (raw) and per-study escalc frame; tables with NaN omitted with a warning."""
    frame = _data.as_frame(data) if data is not None else None
    if frame is None:
        _data.equal_lengths(**{k: x for k, x in dict(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, slab=slab).items()
                               if x is not None and not isinstance(x, str)})
    base = escalc("OR", data=frame, ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i)
    a = _data.numeric(_data.column_or_array(frame, ai, "ai"))
    c = _data.numeric(_data.column_or_array(frame, ci, "ci"))
    b = (_data.numeric(_data.column_or_array(frame, bi, "bi")) if bi is not None
         else _data.numeric(_data.column_or_array(frame, n1i, "n1i")) - a)
    d = (_data.numeric(_data.column_or_array(frame, di, "di")) if di is not None
         else _data.numeric(_data.column_or_array(frame, n2i, "n2i")) - c)
    n = len(a)
    if slab is None:
        labels = pd.Index([str(x) for x in (frame.index if frame is not None else range(1, n + 1))])
    else:
        labels = make_unique(_data.column_or_array(frame, slab, "slab"))  # as metafor
    missing = np.isnan(a) | np.isnan(b) | np.isnan(c) | np.isnan(d)
    if missing.any():
        import warnings

        warnings.warn(f"{int(missing.sum())} tables with missing values omitted: {_data.row_labels(labels, missing)}",
                      UserWarning, stacklevel=3)
    keep = ~missing
    if not keep.any():
        raise ValueError("no tables left (k = 0)")
    del base
    used = None if frame is None else frame.iloc[np.flatnonzero(keep)].copy()
    return a[keep], b[keep], c[keep], d[keep], labels[keep], used


def _study_estimates(measure, a, b, c, d):
    """escalc with add=1/2 to="only0" and double-zero tables dropped (for QE)."""
    double0 = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    if measure == "PETO":
        a2, b2, c2, d2 = (np.where(((a == 0) | (b == 0) | (c == 0) | (d == 0)), x + 0.5, x) for x in (a, b, c, d))
        n1, n2 = a2 + b2, c2 + d2
        N = n1 + n2
        xt, yt = a2 + c2, b2 + d2
        E = xt * n1 / N
        V = xt * yt * (n1 / N) * (n2 / N) / (N - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            y, v = (a2 - E) / V, 1 / V
    else:
        es = escalc(measure, ai=a, bi=b, ci=c, di=d)
        y, v = es["yi"].to_numpy(), es["vi"].to_numpy()
    y = np.where(double0, np.nan, y)
    v = np.where(double0, np.nan, v)
    return y, v


def _het(y, v, beta):
    ok = ~np.isnan(y) & ~np.isnan(v)
    k_yi = int(ok.sum())
    if k_yi > 1:
        QE = max(0.0, float(np.sum((y[ok] - beta) ** 2 / v[ok])))
        return QE, k_yi
    return 0.0, k_yi


def _finish(beta, se, QE, k_yi, level):
    z = beta / se
    crit = stats.norm.isf((1 - level / 100) / 2)
    if k_yi > 1:
        QEp = float(stats.chi2.sf(QE, k_yi - 1))
        I2 = max(0.0, 100 * (QE - (k_yi - 1)) / QE) if QE > 0 else 0.0
        H2 = QE / (k_yi - 1)
    else:
        QEp, I2, H2 = 1.0, 0.0, 1.0
    return dict(b=float(beta), se=float(se), zval=float(z), pval=float(2 * stats.norm.sf(abs(z))),
                ci_lb=float(beta - crit * se), ci_ub=float(beta + crit * se), QE=float(QE), QEp=QEp,
                I2=float(I2), H2=float(H2))


def rma_mh(data=None, ai=None, bi=None, ci=None, di=None, n1i=None, n2i=None, *, measure="OR",
           level=95, slab=None, correct=True) -> MHResult:
    """Mantel–Haenszel equal-effects meta-analysis of 2x2 tables (metafor ``rma.mh``).

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Holds the columns named below; without it, give arrays (one entry per study).
    ai, bi, ci, di : str or array-like
        The 2x2 cell counts: events and non-events in the treatment group (``ai``, ``bi``) and
        in the control group (``ci``, ``di``).
    n1i, n2i : str or array-like, optional
        Group sizes, instead of ``bi`` and ``di`` (then ``bi = n1i - ai``, ``di = n2i - ci``).
    measure : {"OR", "RR", "RD"}
        Odds ratio (default), risk ratio or risk difference; ``b`` is on the log scale for OR
        and RR.
    level : float
        Confidence level, 95 or 0.95 alike (default 95; ``fit.level`` in percent, as metafor).
    slab : str or array-like, optional
        Study labels (made unique as metafor does); default the row labels (or 1..k).
    correct : bool
        Continuity correction of the Cochran–Mantel–Haenszel test (OR; default True).

    Returns
    -------
    MHResult
        Pooled ``b`` (log scale for OR/RR), ``se``, ``zval``, ``pval``, ``ci_lb``, ``ci_ub``
        and the heterogeneity test ``QE``, ``QEp``.

    Notes
    -----
    R equivalent: ``metafor::rma.mh`` (metafor 3.8-1).

    References
    ----------
    .. [1] Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
       retrospective studies of disease. Journal of the National Cancer Institute, 22, 719-748.
    .. [2] Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel
       variance consistent in both sparse data and large-strata limiting models. Biometrics, 42, 311-323.

    Examples
    --------
    >>> bcg = pt.datasets.load("bcg")
    >>> mh = pt.meta.rma_mh(data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="RR")
    >>> round(mh.b, 4), round(mh.se, 4)
    (-0.4537, 0.0393)
    """
    level = _data.level_percent(level)
    measure = str(measure).upper()
    if measure not in ("OR", "RR", "RD"):
        raise ValueError(f"measure must be 'OR', 'RR' or 'RD'; got {measure!r}")
    a, b, c, d, labels, used = _tables(data, ai, bi, ci, di, n1i, n2i, slab)
    n1, n2 = a + b, c + d
    N = n1 + n2
    extra = {}
    if measure == "OR":
        P, Q = (a + d) / N, (b + c) / N
        R_i, S_i = a / N * d, b / N * c
        R, S = R_i.sum(), S_i.sum()
        if R == 0 or S == 0:
            beta = se = np.nan
        else:
            beta = np.log(R / S)
            se = np.sqrt(0.5 * (np.sum(P * R_i) / R**2 + np.sum(P * S_i + Q * R_i) / (R * S) + np.sum(Q * S_i) / S**2))
        extra = _cmh_tarone(a, c, n1, n2, N, R / S if R > 0 and S > 0 else np.nan, correct)
    elif measure == "RR":
        R, S = np.sum(a * n2 / N), np.sum(c * n1 / N)
        if a.sum() == 0 or c.sum() == 0:
            beta = se = np.nan
        else:
            beta = np.log(R / S)
            se = np.sqrt(np.sum(n1 / N * (n2 / N) * (a + c) - a / N * c) / (R * S))
    else:
        denom = np.sum(n1 * (n2 / N))
        beta = np.sum(a * (n2 / N) - c * (n1 / N)) / denom
        se = np.sqrt((beta * np.sum(c * (n1 / N) ** 2 - a * (n2 / N) ** 2 + n1 / N * (n2 / N) * (n2 - n1) / 2)
                      + np.sum(a * (n2 - c) / N + c * (n1 - a) / N) / 2) / denom**2)
    if not np.isfinite(beta):
        import warnings

        from peertrial._warnings import PeertrialWarning

        warnings.warn(f"the Mantel-Haenszel {measure} is not estimable: no table has an event in the cells it needs "
                      "(e.g. every table double-zero); the estimate, SE and CI are NaN, as metafor's NA",
                      PeertrialWarning, stacklevel=_data.user_stacklevel())
    y, v = _study_estimates(measure, a, b, c, d)
    QE, k_yi = _het(y, v, beta)
    # Mantel-Haenszel weights: b c/N (OR), c n1/N (RR), n1 n2/N (RD)
    w = {"OR": b * c / N, "RR": c * n1 / N, "RD": n1 * n2 / N}[measure]
    return MHResult(**_finish(beta, se, QE, k_yi, level), k=len(a), k_yi=k_yi, measure=measure, method="MH",
                    level=float(level), yi=y, vi=v, slab=labels, weights=w, **extra, tables=(a, b, c, d),
                    correct=bool(correct), data=used)


def _cmh_tarone(a, c, n1, n2, N, or_mh, correct):
    xt, yt = a + c, n1 + n2 - a - c
    out = {}
    if xt.sum() == 0 or yt.sum() == 0:
        out["CMH"] = out["CMHp"] = np.nan
    else:
        cc = 0.5 if correct else 0.0
        cmh = (abs(np.sum(a - n1 / N * xt)) - cc) ** 2 / np.sum(n1 / N * (n2 / N) * (xt * (yt / (N - 1))))
        out["CMH"], out["CMHp"] = float(cmh), float(stats.chi2.sf(cmh, 1))
    if not np.isfinite(or_mh):
        out["k_pos"] = 0
        return out
    if or_mh == 1:
        N11 = n1 / N * xt
    else:
        A = or_mh * (n1 + xt) + (n2 - xt)
        B = np.sqrt(A**2 - 4 * n1 * xt * or_mh * (or_mh - 1))
        N11 = (A - B) / (2 * (or_mh - 1))
    pos = (N11 > 0) & (xt > 0) & (yt > 0)
    N11 = N11[pos]
    N12 = n1[pos] - N11
    N21 = xt[pos] - N11
    N22 = N11 - n1[pos] - xt[pos] + N[pos]
    inv = 1 / (1 / N11 + 1 / N12 + 1 / N21 + 1 / N22)
    BD = max(0.0, float(np.sum((a[pos] - N11) ** 2 / inv)))
    TA = max(0.0, BD - float(np.sum(a[pos] - N11) ** 2 / np.sum(inv)))
    kp = int(pos.sum())
    out.update(BD=BD, TA=TA, k_pos=kp,
               BDp=float(stats.chi2.sf(BD, kp - 1)) if kp > 1 else np.nan,
               TAp=float(stats.chi2.sf(TA, kp - 1)) if kp > 1 else np.nan)
    return out


def rma_peto(data=None, ai=None, bi=None, ci=None, di=None, n1i=None, n2i=None, *, level=95, slab=None) -> MHResult:
    """Peto's one-step pooled log odds ratio of 2x2 tables, equal effects (metafor ``rma.peto``).

    The estimate is sum(O - E) / sum(V) over tables, with O the treatment-group events, E
    their expectation and V their hypergeometric variance; SE = 1 / sqrt(sum V).

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Holds the columns named below; without it, give arrays (one entry per study).
    ai, bi, ci, di : str or array-like
        The 2x2 cell counts: events and non-events in the treatment group (``ai``, ``bi``) and
        in the control group (``ci``, ``di``).
    n1i, n2i : str or array-like, optional
        Group sizes, instead of ``bi`` and ``di`` (then ``bi = n1i - ai``, ``di = n2i - ci``).
    level : float
        Confidence level, 95 or 0.95 alike (default 95; ``fit.level`` in percent, as metafor).
    slab : str or array-like, optional
        Study labels (made unique as metafor does); default the row labels (or 1..k).

    Returns
    -------
    MHResult
        Pooled log odds ratio ``b``, ``se``, ``zval``, ``pval``, ``ci_lb``, ``ci_ub``, the
        heterogeneity test ``QE``, ``QEp`` and ``I2``; ``method`` is ``"PETO"``.

    Raises
    ------
    ValueError
        When one of the two outcomes never occurs in any table, or no table is left.

    Notes
    -----
    R equivalent: ``metafor::rma.peto`` (metafor 3.8-1). Tables with missing counts are
    omitted with a warning.

    References
    ----------
    .. [1] Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade
       during and after myocardial infarction: an overview of the randomized trials. Progress
       in Cardiovascular Diseases, 27, 335-371.
    .. [2] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.

    Examples
    --------
    >>> bcg = pt.datasets.load("bcg")
    >>> peto = pt.meta.rma_peto(data=bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> round(peto.b, 4), round(peto.se, 4), round(peto.QE, 4)
    (-0.4744, 0.0407, 167.7302)
    """
    level = _data.level_percent(level)
    a, b, c, d, labels, used = _tables(data, ai, bi, ci, di, n1i, n2i, slab)
    n1, n2 = a + b, c + d
    N = n1 + n2
    xt, yt = a + c, b + d
    E = xt * n1 / N
    V = xt * yt * (n1 / N) * (n2 / N) / (N - 1)
    sV = V.sum()
    if sV == 0:
        raise ValueError("one of the two outcomes never occurred in any table; Peto's method cannot be used")
    beta = np.sum(a - E) / sV
    se = np.sqrt(1 / sV)
    pos = V > 0
    QE = max(0.0, float(np.sum((a - E)[pos] ** 2 / V[pos]) - np.sum(a - E) ** 2 / sV))
    y, v = _study_estimates("PETO", a, b, c, d)
    k_yi = int((~np.isnan(y)).sum())
    res = _finish(beta, se, QE, k_yi if int(pos.sum()) > 1 else 1, level)
    return MHResult(**res, k=len(a), k_yi=k_yi, measure="OR", method="PETO", level=float(level),
                    yi=y, vi=v, slab=labels, weights=V, k_pos=int(pos.sum()), tables=(a, b, c, d), data=used)
