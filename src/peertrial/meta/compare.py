"""Model comparison and prediction of study effects for fitted meta-analytic models.

- :func:`anova`: Wald tests of a set of coefficients (``btt``) or of linear
  combinations (``X``) of one model, or the likelihood-ratio test of two nested
  models (metafor's ``anova.rma``);
- :func:`blup` and :func:`ranef`: best linear unbiased predictions of the study
  effects and of the random effects (metafor's ``blup.rma.uni``, ``ranef.rma.uni``);
- :func:`permutest`: permutation tests of the coefficients of an ``rma`` fit
  (metafor's ``permutest.rma.uni``), exact when the number of distinct
  permutations is at most ``iter``, else on a seeded random set.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_pval, format_table
from peertrial.meta._core import fit_core

stats = lazy_module("scipy.stats")

__all__ = ["anova", "blup", "ranef", "permutest", "WaldResult", "LRTResult", "PermutestResult", "BLUPResult",
           "RanefMVResult"]


def _is_mv(fit):
    return type(fit).__name__ == "RMAMVResult"


def _coef_arrays(fit):
    names = list(fit.X.columns)
    b = np.atleast_1d(np.asarray(fit.b, dtype=float))
    vb = fit.vb.to_numpy(dtype=float)
    return names, b, vb


def _tdist(fit):
    """Degrees of freedom of the t/F reference (None for z/chi-square)."""
    if fit.test in ("knha", "t"):
        return float(fit.dfs)
    return None


@dataclass(frozen=True, eq=False)
class WaldResult(Result):
    """Wald-type test of coefficients or linear combinations (metafor ``anova(fit, btt=/X=)``).

    Returned by :func:`anova` without ``reduced``.

    Attributes
    ----------
    QM : float
        The chi-square statistic (or ``F`` = chi-square / m with a t reference).
    QMdf : tuple
        Its degrees of freedom: ``(m,)`` or ``(m, df2)``.
    QMp : float
        Its p-value.
    test : str
        The fit's test (``"z"``, ``"knha"`` or ``"t"``).
    btt : list or None
        The 0-based positions of the coefficients tested (None with ``X``).
    table : pandas.DataFrame or None
        With ``X``, one row per combination: ``estimate, se, statistic, (df), pval, ci_lb,
        ci_ub``.

    Notes
    -----
    R equivalent: the ``anova.rma`` object of ``metafor::anova(fit, btt =)`` or ``X =``
    (metafor 3.8-1).

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, mods="ablat")
    >>> wald = pt.meta.anova(fit, btt=[1])
    >>> round(wald.QM, 4), wald.QMdf, round(wald.QMp, 6)
    (16.3571, (1,), 5.2e-05)
    """

    QM: float
    QMdf: tuple
    QMp: float
    test: str
    btt: list | None
    table: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        if self.table is not None:
            return self.table.copy()
        row = {"statistic": self.QM, "df": self.QMdf[0], "pval": self.QMp}
        if len(self.QMdf) > 1:
            row["df2"] = self.QMdf[1]
        return pd.DataFrame([row], index=pd.Index(["QM"], name="test"))

    def summary(self, digits: int = 4) -> str:
        lines = []
        if self.table is not None:
            lines += ["Hypotheses:", format_table(self.table, digits), ""]
        which = "Omnibus Test of Hypotheses" if self.table is not None else (
            f"Test of Moderators (coefficient(s) {', '.join(str(i + 1) for i in self.btt)})")
        lines.append(which + ":")
        if len(self.QMdf) > 1:
            lines.append(f"F(df1 = {self.QMdf[0]:g}, df2 = {self.QMdf[1]:g}) = {format_number(self.QM, digits)}, "
                         f"p-val = {format_pval(self.QMp, digits)}")
        else:
            lines.append(f"QM(df = {self.QMdf[0]:g}) = {format_number(self.QM, digits)}, "
                         f"p-val = {format_pval(self.QMp, digits)}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class LRTResult(Result):
    """Likelihood-ratio test of a full against a reduced model (metafor ``anova(full, reduced)``).

    Returned by :func:`anova` with ``reduced``.

    Attributes
    ----------
    LRT : float
        The likelihood-ratio statistic.
    df : int
        Its degrees of freedom (difference in the numbers of parameters).
    pval : float
        Its chi-square p-value.
    fitstats_full, fitstats_reduced : pandas.Series
        ``fitstats()`` of the two models (logLik, deviance, AIC, BIC, AICc).
    parms_full, parms_reduced : int
        Numbers of estimated parameters.
    QE_full, QE_reduced : float
        Residual heterogeneity tests of the two models.
    R2 : float
        Percent reduction of tau^2 from the reduced to the full model (``rma`` fits).
    method : str
        ``"ML"`` or ``"REML"`` (REML only for models with the same fixed effects).

    Notes
    -----
    R equivalent: the ``anova.rma`` object of ``metafor::anova(full, reduced)`` (metafor 3.8-1).

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> full = pt.meta.rma("yi", "vi", data=es, mods="ablat", method="ML")
    >>> reduced = pt.meta.rma("yi", "vi", data=es, method="ML")
    >>> lrt = pt.meta.anova(full, reduced)
    >>> round(lrt.LRT, 4), lrt.df, round(lrt.pval, 4)
    (9.9588, 1, 0.0016)
    """

    LRT: float
    df: int
    pval: float
    fitstats_full: pd.Series
    fitstats_reduced: pd.Series
    parms_full: int
    parms_reduced: int
    QE_full: float
    QE_reduced: float
    R2: float
    method: str

    def to_frame(self) -> pd.DataFrame:
        rows = []
        for label, fs, parms, qe in (("full", self.fitstats_full, self.parms_full, self.QE_full),
                                     ("reduced", self.fitstats_reduced, self.parms_reduced, self.QE_reduced)):
            rows.append({"df": parms, "AIC": fs["AIC"], "BIC": fs["BIC"], "AICc": fs["AICc"],
                         "logLik": fs["logLik"], "LRT": np.nan if label == "full" else self.LRT,
                         "pval": np.nan if label == "full" else self.pval, "QE": qe})
        return pd.DataFrame(rows, index=pd.Index(["full", "reduced"], name="model"))

    def summary(self, digits: int = 4) -> str:
        return format_table(self.to_frame(), digits)


def anova(fit, reduced=None, *, btt=None, X=None, refit=False):
    """Wald test of coefficients or linear combinations, or LRT of two nested models.

    Parameters
    ----------
    fit : RMAResult or RMAMVResult
        The (full) fitted model.
    reduced : RMAResult or RMAMVResult, optional
        A nested model fitted to the same data; gives the likelihood-ratio test. REML
        fits with different fixed effects are refused (their restricted likelihoods
        are not comparable), as in metafor.
    btt : int, str or sequence, optional
        Coefficients to test (0-based positions or names); default all but the intercept.
    X : array-like, optional
        Matrix of linear combinations (one row per hypothesis ``X b = 0``).
    refit : bool
        Unused placeholder for metafor's ``refit``; must stay False.

    Returns
    -------
    WaldResult or LRTResult

    Notes
    -----
    R equivalent: ``metafor::anova.rma`` (metafor 3.8-1). With ``test="knha"``/``"t"`` the
    omnibus statistic is ``F = QM / m`` on ``(m, k - p)`` degrees of freedom and every
    combination has a t test.

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Raudenbush, S. W. (2009). Analyzing effect sizes: random-effects models. In H. Cooper,
       L. V. Hedges, & J. C. Valentine (Eds.), The Handbook of Research Synthesis and
       Meta-Analysis (2nd ed., pp. 295-315). Russell Sage Foundation.

    Examples
    --------
    >>> fit = pt.meta.rma([0.1, 0.3, 0.5, 0.2, 0.6], [0.01, 0.02, 0.02, 0.03, 0.01], mods=[[1.], [2.], [3.], [2.], [4.]])
    >>> round(pt.meta.anova(fit, btt=[1]).QM, 3) == round(float(fit.zval["X1"]) ** 2, 3)
    True
    """
    if refit:
        raise ValueError("refit=True is not supported; fit both models with method='ML' to compare fixed effects")
    if reduced is not None:
        if btt is not None or X is not None:
            raise ValueError("give either a reduced model (likelihood-ratio test) or btt/X (Wald test), not both")
        return _lrt(fit, reduced)
    names, b, vb = _coef_arrays(fit)
    p = len(names)
    df2 = _tdist(fit)
    if X is not None:
        L = np.atleast_2d(np.asarray(X, dtype=float))
        if L.shape[1] != p:
            raise ValueError(f"X must have {p} columns (one per coefficient: {names}); got {L.shape[1]}")
        Lb = L @ b
        vLb = L @ vb @ L.T
        se = np.sqrt(np.diag(vLb))
        z = Lb / se
        m = np.linalg.matrix_rank(L)
        level = float(getattr(fit, "level", 95.0))
        alpha = 1 - level / 100
        if df2 is None:
            pv = 2 * stats.norm.sf(np.abs(z))
            crit = stats.norm.isf(alpha / 2)
        else:
            pv = 2 * stats.t.sf(np.abs(z), df2)
            crit = stats.t.isf(alpha / 2, df2)
        QM = float(Lb @ np.linalg.lstsq(vLb, Lb, rcond=None)[0]) if m == L.shape[0] else float(
            Lb @ np.linalg.pinv(vLb) @ Lb)
        table = pd.DataFrame({"estimate": Lb, "se": se, "statistic": z, "pval": pv, "ci_lb": Lb - crit * se,
                              "ci_ub": Lb + crit * se}, index=pd.Index([_hyp(row, names) for row in L],
                                                                         name="hypothesis"))
        if df2 is not None:
            table.insert(3, "df", df2)
        QM, QMdf, QMp = _omnibus(QM, m, df2)
        return WaldResult(QM=QM, QMdf=QMdf, QMp=QMp, test=fit.test, btt=None, table=table)
    idx = _btt(btt, names, fit)
    sub = np.ix_(idx, idx)
    QM = float(b[idx] @ np.linalg.solve(vb[sub], b[idx]))
    QM, QMdf, QMp = _omnibus(QM, len(idx), df2)
    return WaldResult(QM=QM, QMdf=QMdf, QMp=QMp, test=fit.test, btt=idx)


def _omnibus(QM, m, df2):
    if df2 is None:
        return QM, (m,), float(stats.chi2.sf(QM, m))
    F = QM / m
    return F, (m, df2), float(stats.f.sf(F, m, df2))


def _hyp(row, names):
    terms = []
    for c, n in zip(row, names):
        if c == 0:
            continue
        coef = "" if c == 1 else ("-" if c == -1 else f"{c:g}*")
        terms.append(f"{coef}{n}")
    return " + ".join(terms).replace("+ -", "- ") + " = 0" if terms else "0 = 0"


def _btt(btt, names, fit):
    p = len(names)
    if btt is None:
        idx = [j for j, n in enumerate(names) if n != "intrcpt"] if p > 1 else list(range(p))
    else:
        items = [btt] if isinstance(btt, (int, np.integer, str)) else list(btt)
        idx = []
        for it in items:
            if isinstance(it, str):
                if it not in names:
                    raise ValueError(f"btt: no coefficient named {it!r}; coefficients are {names}")
                idx.append(names.index(it))
            else:
                j = int(it)
                if not 0 <= j < p:
                    raise ValueError(f"btt: position {j} out of range 0..{p - 1} (0-based; coefficients {names})")
                idx.append(j)
    if not idx:
        raise ValueError("btt selects no coefficients")
    return sorted(set(idx))


def _lrt(full, reduced):
    for f in (full, reduced):
        if not hasattr(f, "fitstats"):
            raise ValueError("anova(full, reduced) takes two fitted rma / rma_mv models")
    if type(full) is not type(reduced):
        raise ValueError("both models must be of the same kind (two rma fits or two rma_mv fits)")
    if not np.array_equal(np.asarray(full.yi), np.asarray(reduced.yi)):
        raise ValueError("the models are not fitted to the same data (yi differ)")
    ml_like = lambda m: m if m in ("ML", "REML") else "ML"  # noqa: E731
    mf, mr = full.method, reduced.method
    if ml_like(mf) == "REML" or ml_like(mr) == "REML":
        mixed = {mf, mr} - {"REML", "EE", "FE"}
        if mixed:
            raise ValueError(f"cannot compare a {mf} fit with a {mr} fit by a likelihood-ratio test; "
                             "fit both with method='ML' or both with 'REML'")
    if full.parms < reduced.parms:
        full, reduced = reduced, full
    if full.parms == reduced.parms:
        raise ValueError("the models have the same number of parameters; a likelihood-ratio test needs nested "
                         "models (the full model must have more)")
    reml = full.method == "REML"
    if reml and not _same_design(full, reduced):
        raise ValueError("models with different fixed effects: REML likelihood-ratio comparisons are not "
                         "meaningful; refit both models with method='ML'")
    fs_f = full.fitstats(REML=reml)
    fs_r = reduced.fitstats(REML=reml)
    LRT = max(0.0, 2 * (fs_f["logLik"] - fs_r["logLik"]))
    df = int(full.parms - reduced.parms)
    pval = float(stats.chi2.sf(LRT, df))
    R2 = np.nan
    t_f, t_r = getattr(full, "tau2", None), getattr(reduced, "tau2", None)
    if (not _is_mv(full) and full.method not in ("EE", "FE") and reduced.method not in ("EE", "FE")
            and full.p != reduced.p):
        R2 = 0.0 if t_r == 0 else max(0.0, 100 * (t_r - t_f) / t_r)
    return LRTResult(LRT=float(LRT), df=df, pval=pval, fitstats_full=fs_f, fitstats_reduced=fs_r,
                     parms_full=int(full.parms), parms_reduced=int(reduced.parms), QE_full=float(full.QE),
                     QE_reduced=float(reduced.QE), R2=float(R2), method=full.method)


def _same_design(a, b):
    Xa, Xb = a.X.to_numpy(dtype=float), b.X.to_numpy(dtype=float)
    if Xa.shape != Xb.shape:
        return False
    if np.allclose(Xa, Xb):
        return True
    # same column space (e.g. a reparametrised factor) counts as the same fixed effects
    r = np.linalg.matrix_rank(np.hstack([Xa, Xb]))
    return r == np.linalg.matrix_rank(Xa) == np.linalg.matrix_rank(Xb)


# ----------------------------------------------------------------------------- blup / ranef
@dataclass(frozen=True, eq=False)
class BLUPResult(Result):
    """Best linear unbiased predictions per study: of the true effects or of the random effects.

    Returned by :func:`blup` and :func:`ranef` (for ``rma`` fits).

    Attributes
    ----------
    pred, se : pandas.Series
        Predictions and their SEs, by study label.
    pi_lb, pi_ub : pandas.Series
        Prediction limits at the fit's level.
    what : str
        What is predicted (``"BLUPs of the true effects"`` or ``"... of the random effects"``).

    Notes
    -----
    R equivalent: ``metafor::blup.rma.uni`` / ``metafor::ranef.rma.uni`` (metafor 3.8-1).

    References
    ----------
    .. [1] Raudenbush, S. W., & Bryk, A. S. (1985). Empirical Bayes meta-analysis. Journal of
       Educational Statistics, 10, 75-98.
    .. [2] Robinson, G. K. (1991). That BLUP is a good thing: the estimation of random effects.
       Statistical Science, 6, 15-32.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> res = pt.meta.blup(pt.meta.rma("yi", "vi", data=es))
    >>> res.pred.round(4).tolist()[:2]
    [-0.8002, -1.2517]
    """

    pred: pd.Series
    se: pd.Series
    pi_lb: pd.Series
    pi_ub: pd.Series
    what: str

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": self.pred, "se": self.se, "pi_lb": self.pi_lb, "pi_ub": self.pi_ub})

    def summary(self, digits: int = 4) -> str:
        return self.what + "\n" + format_table(self.to_frame(), digits)


def _crit(fit, level):
    level = float(getattr(fit, "level", 95.0)) if level is None else _level(level)
    alpha = 1 - level / 100
    df = _tdist(fit)
    return stats.norm.isf(alpha / 2) if df is None else stats.t.isf(alpha / 2, df)


def _level(level):
    return _data.level_percent(level)


def _uni_parts(fit, what):
    if _is_mv(fit) or not hasattr(fit, "tau2"):
        raise ValueError(f"{what} takes an rma fit")
    if fit.method in ("EE", "FE"):
        raise ValueError(f"{what} needs a random-effects model (method EE/FE has no random effects)")
    X = fit.X.to_numpy(dtype=float)
    b = fit.beta
    vb = fit.vb.to_numpy(dtype=float)
    li = fit.tau2 / (fit.tau2 + fit.vi)
    fitted = X @ b
    vfit = np.einsum("ij,jk,ik->i", X, vb, X)
    return X, li, fitted, vfit


def blup(fit, level=None) -> BLUPResult:
    """Best linear unbiased predictions of the true effects (metafor ``blup.rma.uni``).

    For an ``rma`` fit: ``pred = l y + (1 - l) x'b`` with ``l = tau2/(tau2 + v)``;
    ``se^2 = l v + (1 - l)^2 x'Var(b)x``.

    For an ``rma_mv`` fit (metafor 3.8 has no ``blup.rma.mv``): the fixed part plus every
    random effect at the row, ``pred = X b + G W (y - X b)`` with ``G = M - V`` the
    covariance of all random effects and ``W = M^-1``, which equals ``fitted(fit)`` plus the
    ``ranef`` predictions of each term added at the row; ``se`` is the prediction-error
    standard deviation ``diag(G - G W G + (I - G W) X Var(b) X' (I - G W)')`` (Henderson),
    which reduces to ``blup.rma.uni``'s for one random intercept per row.

    Parameters
    ----------
    fit : RMAResult or RMAMVResult
        A random-effects fit (``method`` not ``"EE"``/``"FE"``).
    level : float, optional
        Level of the prediction intervals (95 or 0.95); default the fit's.

    Returns
    -------
    BLUPResult
        ``pred``, ``se``, ``pi_lb``, ``pi_ub`` (Series by study/row label); ``pi`` =
        ``pred ± crit se`` with crit from N(0, 1), or t(k - p) for ``test="knha"``/``"t"``.

    Notes
    -----
    R equivalent: ``metafor::blup`` (``rma.uni``); for ``rma.mv``,
    ``fitted(res)`` + the rows' ``metafor::ranef`` predictions.

    References
    ----------
    Henderson CR (1975). Best linear unbiased estimation and prediction under a selection
    model. Biometrics 31:423-447. Raudenbush SW, Bryk AS (1985). Empirical Bayes
    meta-analysis. Journal of Educational Statistics 10:75-98.

    Examples
    --------
    >>> import peertrial as pt
    >>> fit = pt.meta.rma([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.02, 0.03])
    >>> len(pt.meta.blup(fit).pred)
    4
    """
    if _is_mv(fit):
        return _mv_blup(fit, level)
    X, li, fitted, vfit = _uni_parts(fit, "blup")
    pred = li * fit.yi + (1 - li) * fitted
    se = np.sqrt(li * fit.vi + (1 - li) ** 2 * vfit)
    crit = _crit(fit, level)
    s = lambda a: pd.Series(a, index=fit.slab)  # noqa: E731
    return BLUPResult(s(pred), s(se), s(pred - crit * se), s(pred + crit * se), "BLUPs of the true effects")


def ranef(fit, level=None):
    """Best linear unbiased predictions of the random effects (metafor ``ranef``).

    For an ``rma`` fit (``ranef.rma.uni``): ``u = l (y - x'b)``,
    ``se^2 = l v + l^2 x'Var(b)x`` with ``l = tau2/(tau2 + v)``.

    For an ``rma_mv`` fit (``ranef.rma.mv``): per random-effects term with covariance
    ``D`` of its effects and design ``Z``, ``u = D Z' W e`` and
    ``Var(u - true) = D - D Z' P Z D`` with ``W = M^-1``, ``e = y - X b`` and
    ``P = W - W X (X'WX)^-1 X'W``; for ``~ inner | outer`` terms one row per observed
    ``inner | outer`` combination, ordered by outer then inner level. Terms with
    ``struct="GEN"`` (random coefficients) are left out, as metafor 3.8 does.

    Parameters
    ----------
    fit : RMAResult or RMAMVResult
        A random-effects fit.
    level : float, optional
        Level of the prediction intervals (95 or 0.95); default the fit's.

    Returns
    -------
    BLUPResult or RanefMVResult
        For ``rma``: ``pred``, ``se``, ``pi_lb``, ``pi_ub`` by study. For ``rma_mv``: one
        table per term (``result["study"]``; ``to_frame()`` stacks them) with columns
        ``estimate``, ``se``, ``pi_lb``, ``pi_ub``; crit from N(0, 1), or t(k - p) with
        ``test="knha"``/``"t"``.

    Notes
    -----
    R equivalent: ``metafor::ranef``.

    References
    ----------
    Henderson CR (1975). Best linear unbiased estimation and prediction under a selection
    model. Biometrics 31:423-447. Viechtbauer W (2010). Conducting meta-analyses in R with
    the metafor package. Journal of Statistical Software 36(3):1-48.

    Examples
    --------
    >>> import pandas as pd, peertrial as pt
    >>> fit = pt.meta.rma([0.1, 0.3, 0.5, 0.2], [0.01, 0.02, 0.02, 0.03])
    >>> abs(float(pt.meta.ranef(fit).pred.sum())) < 1
    True
    >>> d = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.0, 0.6, 0.2],
    ...                   "vi": [0.02, 0.03, 0.02, 0.04, 0.03, 0.02, 0.05, 0.03],
    ...                   "study": [1, 1, 2, 2, 3, 3, 4, 4], "es": [1, 2, 1, 2, 1, 2, 1, 2]})
    >>> re = pt.meta.ranef(pt.meta.rma_mv("yi", "vi", data=d, random="~ 1 | study/es"))
    >>> list(re.terms), re["study"].shape
    (['study', 'study/es'], (4, 4))
    """
    if _is_mv(fit):
        return _mv_ranef(fit, level)
    X, li, fitted, vfit = _uni_parts(fit, "ranef")
    pred = li * (fit.yi - fitted)
    se = np.sqrt(li * fit.vi + li**2 * vfit)
    crit = _crit(fit, level)
    s = lambda a: pd.Series(a, index=fit.slab)  # noqa: E731
    return BLUPResult(s(pred), s(se), s(pred - crit * se), s(pred + crit * se), "BLUPs of the random effects")


# ----------------------------------------------------------------------------- blup / ranef for rma_mv
@dataclass(frozen=True, eq=False)
class RanefMVResult(Result):
    """Predicted random effects of an ``rma_mv`` fit, one table per random-effects term
    (metafor ``ranef.rma.mv``, a list of data frames).

    ``terms`` maps the term's name (``"district"``, ``"district/school"``,
    ``"~school | district"``) to a DataFrame indexed by level (``"inner | outer"`` for
    ``~ inner | outer`` terms) with columns ``estimate``, ``se``, ``pi_lb``, ``pi_ub``.
    ``fit["district"]`` gives one table; ``to_frame()`` stacks them with a ``term`` index level.
    """

    terms: dict
    level: float

    def __getitem__(self, name):
        return self.terms[name]

    def to_frame(self) -> pd.DataFrame:
        if not self.terms:
            return pd.DataFrame(columns=["estimate", "se", "pi_lb", "pi_ub"])
        return pd.concat(self.terms, names=["term", "level"])

    def summary(self, digits: int = 4) -> str:
        parts = [f"${name}\n" + format_table(tab, digits) for name, tab in self.terms.items()]
        return "\n\n".join(parts) if parts else "no random effects"


def _mv_parts(fit):
    """W = M^-1, residuals, P = W - W X (X'WX)^-1 X'W of an rma_mv fit (metafor's ranef algebra)."""
    from peertrial.meta.rma_mv import linalg as _linalg

    if fit.spec is None:
        raise ValueError("this rma_mv fit does not keep its model specification")
    M = np.asarray(fit.M, dtype=float)
    X = fit.X.to_numpy(dtype=float)
    W = _linalg.cho_solve(_linalg.cho_factor(M, lower=True), np.eye(len(M)))
    W = (W + W.T) / 2
    WX = W @ X
    A = np.linalg.inv(X.T @ WX)
    e = fit.yi - X @ fit.beta
    P = W - WX @ A @ WX.T
    return X, W, P, A, e


def _mv_term_covariances(fit):
    """Per random-effects term: (name, k x k covariance of its effects at the rows, level labels,
    row-to-level codes)."""
    spec = fit.spec
    out = []
    for s2, term in zip(fit.sigma2, spec.params.sig_terms):
        out.append(("sigma", term, float(s2)))
    for gi, term in enumerate(spec.params.g_terms):
        if term.struct == "GEN":  # random coefficients: not predicted (as metafor 3.8)
            continue
        var = np.atleast_1d(fit.tau2 if gi == 0 else fit.gamma2)
        cor = np.atleast_1d(fit.rho if gi == 0 else fit.phi)
        out.append(("g", term, term.expand(term.G(np.asarray(var, dtype=float), np.asarray(cor, dtype=float)))))
    return out


def _mv_ranef(fit, level):
    X, W, P, A, e = _mv_parts(fit)
    crit = _crit(fit, level)
    We = W @ e
    terms = {}
    for kind, term, cov in _mv_term_covariances(fit):
        if kind == "sigma":
            Z = np.zeros((fit.k, term.nlevels))
            Z[np.arange(fit.k), term.codes] = 1.0
            pred = cov * (Z.T @ We)
            vpred = cov - cov**2 * np.einsum("ij,ij->j", Z, P @ Z)
            labels = term.labels()
        else:
            full = cov @ We
            vfull = np.diag(cov) - np.einsum("ij,ji->i", cov, P @ cov)
            first, order, labels = term.blup_rows()
            pred, vpred = full[first][order], vfull[first][order]
        pred = np.where(np.abs(pred) < 100 * np.finfo(float).eps, 0.0, pred)
        se = np.sqrt(np.maximum(vpred, 0.0))
        terms[term.label()] = pd.DataFrame({"estimate": pred, "se": se, "pi_lb": pred - crit * se,
                                            "pi_ub": pred + crit * se}, index=pd.Index(labels, name="level"))
    return RanefMVResult(terms, float(getattr(fit, "level", 95.0)) if level is None else _level(level))


def _mv_blup(fit, level):
    X, W, P, A, e = _mv_parts(fit)
    G = np.asarray(fit.M, dtype=float) - np.asarray(fit.V, dtype=float)  # all random effects
    H = G @ W
    fitted = X @ fit.beta
    pred = fitted + H @ e
    IHX = X - H @ X
    pev = np.diag(G) - np.einsum("ij,ji->i", H, G) + np.einsum("ij,jk,ik->i", IHX, A, IHX)
    se = np.sqrt(np.maximum(pev, 0.0))
    crit = _crit(fit, level)
    s = lambda a: pd.Series(a, index=fit.slab)  # noqa: E731
    return BLUPResult(s(pred), s(se), s(pred - crit * se), s(pred + crit * se),
                      "BLUPs of the true effects (fixed part + all random effects)")


# ----------------------------------------------------------------------------- permutest
@dataclass(frozen=True, eq=False)
class PermutestResult(Result):
    """Permutation p-values of a meta-analysis's coefficients and of its omnibus moderator test.

    Returned by :func:`permutest`.

    Attributes
    ----------
    pval : float or pandas.Series
        Permutation p-value per coefficient (a float for one coefficient, else by name).
    QMp : float
        Permutation p-value of the omnibus test.
    iter : int
        Number of permutations evaluated (the observed one included).
    exact : bool
        Whether every distinct permutation was evaluated.
    names : list of str
        Coefficient names.
    zval_perm : numpy.ndarray
        Test statistics of every permutation, shape (iter, p).
    QM_perm : numpy.ndarray
        Omnibus statistics of every permutation.
    fallback : numpy.ndarray of bool
        Permutations whose Fisher scoring failed (tau2 from the bracketed maximum).

    Notes
    -----
    R equivalent: a ``metafor::permutest.rma.uni`` object (metafor 3.8-1).

    References
    ----------
    .. [1] Higgins, J. P. T., & Thompson, S. G. (2004). Controlling the risk of spurious findings
       from meta-regression. Statistics in Medicine, 23, 1663-1682.

    Examples
    --------
    >>> fit = pt.meta.rma([0.1, 0.3, 0.5, 0.2, 0.4], [0.01, 0.02, 0.02, 0.03, 0.02])
    >>> res = pt.meta.permutest(fit)
    >>> res.iter, res.exact, res.zval_perm.shape
    (32, True, (32, 1))
    """

    pval: object
    QMp: float
    iter: int
    exact: bool
    names: list
    zval_perm: np.ndarray
    QM_perm: np.ndarray
    fallback: np.ndarray  # permutations whose Fisher scoring failed (tau2 from the bracketed maximum)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"pval": np.atleast_1d(np.asarray(self.pval, dtype=float))},
                            index=pd.Index(self.names, name="term"))

    def summary(self, digits: int = 4) -> str:
        kind = "exact" if self.exact else "random"
        lines = [f"Permutation test ({kind}, {self.iter} permutations)", "",
                 f"Test of Moderators: p-val* = {format_pval(self.QMp, digits)}", "",
                 format_table(self.to_frame(), digits)]
        return "\n".join(lines)


def permutest(fit, iter=1000, exact=None, seed=None, comptol=np.finfo(float).eps ** 0.5) -> PermutestResult:  # noqa: B008
    """Permutation tests of an ``rma`` fit (metafor ``permutest.rma.uni``).

    Intercept-only models flip the signs of the effect sizes (``2^k`` patterns);
    meta-regressions permute the rows of the moderator matrix (the number of distinct
    permutations). The test is exact when that number is at most ``iter`` (or
    ``exact=True``), else ``iter`` random permutations drawn from ``seed`` (with the
    observed pattern as the first one, as metafor). Two-sided p-values:
    ``mean(|z*| >= |z| - comptol)`` and ``mean(QM* >= QM - comptol)``.
    Where Fisher scoring fails for a permuted model, metafor drops that permutation
    (its fit errors); here it is kept with tau2 at the REML/ML maximum
    (``fallback`` marks those permutations). Every permuted model is refitted with the fit's
    method and test through the batch core (all permutations in one call).

    Parameters
    ----------
    fit : RMAResult
        An :func:`rma` fit without user weights (multilevel fits are not supported).
    iter : int
        Number of random permutations, and the largest number of distinct permutations
        enumerated exactly (default 1000).
    exact : bool, optional
        Force (True) or forbid (False) the exact test; by default exact when the number of
        distinct permutations is at most ``iter``.
    seed : int or numpy.random.Generator, optional
        Seed of the random permutations.
    comptol : float
        Tolerance of the comparison of permuted and observed statistics (default
        sqrt(machine epsilon), as metafor).

    Returns
    -------
    PermutestResult
        Permutation p-values ``pval`` (per coefficient) and ``QMp`` (omnibus), with the
        permutation distributions ``zval_perm``, ``QM_perm``.

    Raises
    ------
    ValueError
        For a fit that is not an ``rma`` fit, user weights, or ``iter`` < 1.

    Notes
    -----
    R equivalent: ``metafor::permutest.rma.uni`` (metafor 3.8-1); exact tests agree exactly,
    random ones agree in distribution (numpy's generator, not R's).

    References
    ----------
    .. [1] Higgins, J. P. T., & Thompson, S. G. (2004). Controlling the risk of spurious findings
       from meta-regression. Statistics in Medicine, 23, 1663-1682.
    .. [2] Viechtbauer, W., López-López, J. A., Sánchez-Meca, J., & Marín-Martínez, F. (2015). A
       comparison of procedures to test for moderators in mixed-effects meta-regression models.
       Psychological Methods, 20, 360-374.

    Examples
    --------
    >>> fit = pt.meta.rma([0.1, 0.3, 0.5, 0.2, 0.4], [0.01, 0.02, 0.02, 0.03, 0.02])
    >>> res = pt.meta.permutest(fit)
    >>> res.pval, res.iter, res.exact
    (0.0625, 32, True)
    """
    if _is_mv(fit) or not hasattr(fit, "tau2"):
        raise ValueError("permutest takes an rma fit")
    if fit.user_weights is not None:
        raise ValueError("permutest does not support user weights")
    iter = int(iter)
    if iter < 1:
        raise ValueError("iter must be a positive integer")
    k = fit.k
    X = fit.X.to_numpy(dtype=float)
    y, v = fit.yi, fit.vi
    names = list(fit.X.columns)
    if fit.int_only:
        n_exact = 2**k
        use_exact = exact if exact is not None else n_exact <= iter
        if use_exact:
            if n_exact > 2**20:
                raise ValueError(f"exact permutation test needs 2^{k} sign patterns; too many (use exact=False)")
            signs = 1 - 2 * ((np.arange(n_exact)[:, None] >> np.arange(k)[None, ::-1]) & 1)
        else:
            rng = _data.as_generator(seed)
            signs = rng.choice([-1, 1], size=(iter, k))
            signs[0] = 1
        Y = signs * y[None, :]
        V = np.broadcast_to(v, Y.shape)
        Xb = X
    else:
        n_exact = _n_distinct_perms(X)
        use_exact = exact if exact is not None else n_exact <= iter
        if use_exact:
            if math.factorial(k) > 5_000_000:
                raise ValueError(f"exact permutation test needs {n_exact} permutations; too many (use exact=False)")
            perms = _distinct_perms(X)
        else:
            rng = _data.as_generator(seed)
            perms = np.vstack([np.arange(k)] + [rng.permutation(k) for _ in range(iter - 1)])
        Xb = X[perms]
        Y = np.broadcast_to(y, (perms.shape[0], k))
        V = np.broadcast_to(v, (perms.shape[0], k))
    icol = 0 if fit.intercept else -1
    core = fit_core(Y, V, Xb, method=fit.method, test=fit.test, level=fit.level, control=fit.control,
                    intercept_col=icol, tau2_fixed=fit.tau2_fixed)
    z_obs = np.atleast_1d(np.asarray(fit.zval, dtype=float))
    zp = core.zval
    pval = np.mean(np.abs(zp) >= np.abs(z_obs)[None, :] - comptol, axis=0)
    pval = np.minimum(pval, 1.0)
    QMp = float(np.nanmean(core.QM >= fit.QM - comptol))
    out_p = float(pval[0]) if len(names) == 1 else pd.Series(pval, index=names)
    return PermutestResult(pval=out_p, QMp=QMp, iter=int(Y.shape[0]), exact=bool(use_exact), names=names,
                           zval_perm=zp, QM_perm=core.QM,
                           fallback=np.array([a not in ("", "Fisher scoring", "fixed") for a in core.algorithm]))


def _n_distinct_perms(X):
    _, counts = np.unique(X, axis=0, return_counts=True)
    n = math.factorial(X.shape[0])
    for c in counts:
        n //= math.factorial(int(c))
    return n


def _distinct_perms(X):
    """All distinct row orders of ``X`` (as index arrays), the identity first."""
    _, codes = np.unique(X, axis=0, return_inverse=True)
    codes = np.asarray(codes).ravel()
    seen = {}
    for perm in itertools.permutations(range(X.shape[0])):
        key = tuple(codes[list(perm)])
        if key not in seen:
            seen[key] = perm
    return np.array(list(seen.values()))
