"""Small-study effects and publication bias, as metafor 3.8.

- :func:`regtest`  Egger's regression test: the model of the fit plus a predictor
  (``sei``, ``vi``, ``ni``, ``ninv``, ``sqrtni``, ``sqrtninv``); ``model="rma"`` refits the
  meta-regression with the fit's method and test, ``model="lm"`` is the weighted
  least-squares regression ``yi ~ X + predictor`` with weights ``1/vi`` (Egger 1997).
  With ``sei``/``vi``/``ninv``/``sqrtninv`` and an intercept-only fit, the intercept is
  the *limit estimate* (the effect as the predictor goes to 0).
- :func:`ranktest` Begg & Mazumdar (1994): Kendall's tau between the standardised
  deviates ``(yi - theta_FE) / sqrt(vi - 1/sum(wi))`` and ``vi``; exact p-value when
  there are no ties (any k, as metafor passes ``exact=TRUE``), otherwise the normal
  approximation with the tie-corrected variance (R's ``cor.test``).
- :func:`trimfill` Duval & Tweedie (2000): side from the sign of the ``sqrt(vi)``
  slope (negative -> missing on the right), iterate: fit the trimmed data, rank
  ``|yi - b|``, ``L0 = (4 Sr - k(k+1)) / (2k - 1)`` or ``R0 = gamma - 1`` (rightmost run),
  until ``k0`` is stable; mirror the ``k0`` most extreme studies about ``b`` and refit.
- :func:`fsn` fail-safe N: Rosenthal (Stouffer, one-sided ``alpha``), Orwin
  (unweighted or weighted mean effect versus ``target``, default half of it) and
  Rosenberg (weighted, two-sided). Non-integer values are rounded up as metafor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_pval
from peertrial.meta._core import fit_core

stats = lazy_module("scipy.stats")

__all__ = ["regtest", "ranktest", "trimfill", "fsn", "RegTest", "RankTest", "TrimFill", "FailSafeN"]

_PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
_PREDICTOR_TEXT = {
    "sei": "standard error",
    "vi": "sampling variance",
    "ni": "sample size",
    "ninv": "inverse of the sample size",
    "sqrtni": "square root sample size",
    "sqrtninv": "inverse of the square root sample size",
}


# ---------------------------------------------------------------------------
# input helpers shared by the diagnostics


def _is_fit(x) -> bool:
    return hasattr(x, "yi") and hasattr(x, "vi") and hasattr(x, "method") and not isinstance(x, (str, pd.Series))


def fit_arrays(fit) -> dict:
    """The arrays and settings of an ``rma`` fit that the diagnostics refit with.

    Reads the attributes :class:`peertrial.meta.RMAResult` keeps (``yi``, ``vi``,
    ``X``, ``slab``, ``method``, ``test``, ``level``, ``control``, ``user_weights``).
    A Mantel–Haenszel or Peto fit gives its study estimates (the ones its Q uses;
    double-zero tables, which have none, are left out) with the equal-effects model
    and a z test, as metafor's ``regtest``/``ranktest`` read ``x$yi``, ``x$vi`` and
    ``x$method`` of an ``rma.mh`` / ``rma.peto`` fit.
    """
    if str(getattr(fit, "method", "")) in ("MH", "PETO") and hasattr(fit, "k_yi"):
        yi = np.asarray(fit.yi, dtype=float).ravel()
        vi = np.asarray(fit.vi, dtype=float).ravel()
        ok = ~np.isnan(yi) & ~np.isnan(vi)
        slab = [str(s) for s, keep in zip(list(fit.slab), ok) if keep]
        return dict(yi=yi[ok], vi=vi[ok], X=np.ones((int(ok.sum()), 1)), names=["intrcpt"], slab=slab, ni=None,
                    weights=None, level=float(fit.level), method="EE", test="z", control=None, omitted=[],
                    pooling=str(fit.method))
    yi = np.asarray(fit.yi, dtype=float).ravel()
    vi = np.asarray(fit.vi, dtype=float).ravel()
    X = getattr(fit, "X", None)
    names = list(X.columns) if isinstance(X, pd.DataFrame) else None
    X = np.ones((yi.size, 1)) if X is None else np.asarray(X, dtype=float).reshape(yi.size, -1)
    if names is None:
        names = ["intrcpt"] if X.shape[1] == 1 else ["intrcpt", *[f"x{j}" for j in range(1, X.shape[1])]]
    slab = getattr(fit, "slab", None)
    slab = [str(i + 1) for i in range(yi.size)] if slab is None else [str(s) for s in list(slab)]
    ni = getattr(fit, "ni", None)
    ni = None if ni is None else np.asarray(ni, dtype=float).ravel()
    weights = getattr(fit, "user_weights", None)
    weights = None if weights is None else np.asarray(weights, dtype=float).ravel()
    level = getattr(fit, "level", 95.0)
    level = 95.0 if level is None else float(level)
    method = str(fit.method)
    method = "EE" if method == "FE" else method
    test = str(getattr(fit, "test", "z"))
    return dict(yi=yi, vi=vi, X=X, names=names, slab=slab, ni=ni, weights=weights, level=level, method=method,
                test=test, control=getattr(fit, "control", None), omitted=list(getattr(fit, "omitted", []) or []))


def _vector(data, x, name):
    series = _data.column_or_array(data, x, name)
    return _data.numeric(series, x if isinstance(x, str) else name), series.index


def _yi_vi(x, vi, sei, data, *, need_vi=True):
    """``(yi, vi, labels)`` from a fit or from columns / arrays; NaN rows dropped with a warning."""
    if _is_fit(x):
        a = fit_arrays(x)
        return a["yi"], a["vi"], a["slab"]
    frame = _study_frame(x, vi, sei, data, need_vi=need_vi)
    return frame["yi"].to_numpy(), frame["vi"].to_numpy(), [str(i) for i in frame.index]


def _study_frame(x, vi, sei, data, *, need_vi=True, ni=None, stacklevel=5):
    """Columns ``yi``, ``vi`` (and ``ni``) from column names or arrays, rows with a
    missing value dropped with a warning, variances checked positive."""
    if data is not None:
        data = _data.as_frame(data)
    yi, index = _vector(data, x, "yi")
    if vi is None and sei is not None:
        vi_arr = _vector(data, sei, "sei")[0] ** 2
    elif vi is not None:
        vi_arr = _vector(data, vi, "vi")[0]
    elif need_vi:
        raise ValueError("give the sampling variances: vi= (or sei=)")
    else:
        vi_arr = np.zeros_like(yi)
    if len(vi_arr) != len(yi):
        raise ValueError(f"yi has {len(yi)} values but vi has {len(vi_arr)}")
    cols = {"yi": yi, "vi": vi_arr}
    if ni is not None:
        cols["ni"] = _vector(data, ni, "ni")[0]
    frame = _data.drop_missing(pd.DataFrame(cols, index=index), list(cols), unit="studies", stacklevel=stacklevel)
    if need_vi:
        _data.check_positive(frame["vi"].to_numpy(), frame.index, "vi")
    return frame


def _refit(yi, vi, X, method, test="z", level=95.0, control=None, weights=None):
    """One fit through the batch core; returns the ``CoreFit`` (batch of one)."""
    A = None if weights is None else weights[None, :]
    return fit_core(yi[None, :], vi[None, :], X[None, :, :], method=method, test=test, A=A, level=level,
                    control=control)


def _round_up(x: float) -> float:
    """metafor's fsn rounding: integers stay, anything else goes up."""
    if np.isinf(x):
        return x
    if abs(x - round(x)) >= np.finfo(float).eps ** 0.5:
        return float(np.ceil(x))
    return float(round(x))


# ---------------------------------------------------------------------------
# Egger's regression test


@dataclass(frozen=True, eq=False)
class RegTest(Result):
    """Regression test for funnel-plot asymmetry, with the limit estimate (metafor's ``regtest``).

    Returned by :func:`regtest`.

    Attributes
    ----------
    model : str
        ``"rma"`` or ``"lm"``.
    predictor : str
        The asymmetry predictor (``"sei"``, ``"vi"``, ``"ni"``, ...).
    zval, pval : float
        Test statistic of the predictor's coefficient (t with ``dfs`` df for ``"lm"`` or
        Knapp–Hartung fits) and its p-value.
    dfs : float
        Degrees of freedom of the t test (NaN for a z test).
    est, ci_lb, ci_ub : float
        The limit estimate (the intercept: the effect as the predictor goes to 0) and its
        limits; NaN for predictors without a limit (``"ni"``, ``"sqrtni"``) or with moderators.
    method : str
        The tau^2 estimator of the ``"rma"`` model.
    k : int
        Number of studies.

    Notes
    -----
    R equivalent: a ``metafor::regtest`` object (metafor 3.8-1).

    References
    ----------
    .. [1] Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis
       detected by a simple, graphical test. BMJ, 315, 629-634.
    .. [2] Sterne, J. A. C., & Egger, M. (2005). Regression methods to detect publication and
       other bias in meta-analysis. In H. R. Rothstein, A. J. Sutton, & M. Borenstein (Eds.),
       Publication Bias in Meta-Analysis (pp. 99-110). Wiley.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> test = pt.meta.regtest(pt.meta.rma("yi", "vi", data=es))
    >>> test.predictor, round(test.zval, 4), round(test.est, 4)
    ('sei', -0.8033, -0.5104)
    """

    model: str
    predictor: str
    zval: float
    pval: float
    dfs: float
    est: float
    ci_lb: float
    ci_ub: float
    method: str
    k: int

    def summary(self) -> str:
        kind = "weighted regression with multiplicative dispersion" if self.model == "lm" else (
            "fixed-effects meta-regression model" if self.method == "EE" else "mixed-effects meta-regression model")
        stat = "t" if np.isfinite(self.dfs) else "z"
        df = f", df = {int(self.dfs)}" if np.isfinite(self.dfs) else ""
        lines = [
            "Regression Test for Funnel Plot Asymmetry",
            "",
            f"Model:     {kind}",
            f"Predictor: {_PREDICTOR_TEXT[self.predictor]}",
            "",
            f"Test for Funnel Plot Asymmetry: {stat} = {format_number(self.zval)}{df}, p = {format_pval(self.pval)}",
        ]
        if np.isfinite(self.est):
            lines.append(
                f"Limit Estimate (as {self.predictor} -> 0):   b = {format_number(self.est)} "
                f"(CI: {format_number(self.ci_lb)}, {format_number(self.ci_ub)})"
            )
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"model": [self.model], "predictor": [self.predictor], "statistic": [self.zval], "df": [self.dfs],
             "pval": [self.pval], "estimate": [self.est], "ci_lb": [self.ci_lb], "ci_ub": [self.ci_ub]}
        )


def regtest(x, vi=None, *, sei=None, ni=None, data=None, model: str = "rma", predictor: str = "sei",
            method: str | None = None, test: str | None = None, level: float | None = None) -> RegTest:
    """Egger's regression test for funnel-plot asymmetry (metafor ``regtest``).

    Parameters
    ----------
    x : RMAResult, MHResult, str or array-like
        An ``rma`` fit (its moderators, method and test are kept; a Mantel–Haenszel or Peto
        fit gives the equal-effects model of its study estimates, as metafor), or the effect
        sizes (column name or array; then ``vi``/``sei`` are required and the model is REML
        with a z test, as metafor).
    vi : str or array-like, optional
        Sampling variances, when ``x`` holds effect sizes.
    sei : str or array-like, optional
        Standard errors, instead of ``vi``.
    ni : str or array-like, optional
        Sample sizes, needed for the sample-size predictors when the fit does not carry them.
    data : pandas.DataFrame, optional
        Holds the columns named by ``x``, ``vi``, ``sei``, ``ni``.
    model : {"rma", "lm"}
        ``"rma"`` (default): the predictor added to the meta-regression; ``"lm"``: Egger's
        original weighted least-squares regression (t test).
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}
        The funnel-asymmetry predictor (default ``"sei"``, Egger's test).
    method, test : str, optional
        tau^2 estimator and test of the ``"rma"`` model (default: the fit's, or REML and z).
    level : float, optional
        Confidence level of the limit estimate's interval, 95 or 0.95 alike (default: the
        fit's, or 95).

    Returns
    -------
    RegTest
        The test statistic ``zval`` (a t statistic with ``dfs`` degrees of freedom for
        ``model="lm"`` or Knapp-Hartung fits), its ``pval`` and the limit estimate.

    Notes
    -----
    R equivalent: ``metafor::regtest`` (metafor 3.8-1).

    References
    ----------
    .. [1] Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis
       detected by a simple, graphical test. BMJ, 315, 629-634.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> test = pt.meta.regtest(pt.meta.rma("yi", "vi", data=es))
    >>> round(test.zval, 4), round(test.pval, 4)
    (-0.8033, 0.4218)
    """
    if model not in ("rma", "lm"):
        raise ValueError(f"model must be 'rma' or 'lm', got {model!r}")
    if predictor not in _PREDICTORS:
        raise ValueError(f"predictor must be one of {_PREDICTORS}, got {predictor!r}")
    if _is_fit(x):
        a = fit_arrays(x)
        yi, v, X = a["yi"], a["vi"], a["X"]
        fit_method, fit_test, fit_level, control = a["method"], a["test"], a["level"], a["control"]
        n = a["ni"]
        if ni is not None:
            n = _ni_values(ni, data, a)
        no_user_weights(a, "regtest")
    else:
        frame = _study_frame(x, vi, sei, data, ni=ni, stacklevel=4)
        yi, v = frame["yi"].to_numpy(), frame["vi"].to_numpy()
        n = frame["ni"].to_numpy() if "ni" in frame else None
        X = np.ones((yi.size, 1))
        fit_method, fit_test, fit_level, control = "REML", "z", 95.0, None
    method = fit_method if method is None else ("EE" if method == "FE" else method)
    test = fit_test if test is None else test
    level = fit_level if level is None else _data.level_percent(level)
    k, p = X.shape
    if k < 3:
        raise ValueError(f"regtest needs at least 3 studies (k = {k})")
    Xp = np.column_stack([X, _predictor_column(predictor, v, n)])
    if np.linalg.matrix_rank(Xp) < Xp.shape[1]:
        raise ValueError(f"the model matrix is not of full rank after adding the predictor {predictor!r}")
    limit = predictor in ("sei", "vi", "ninv", "sqrtninv") and p == 1 and np.all(X[:, 0] == 1)
    if model == "rma":
        f = _refit(yi, v, Xp, method, test, level, control)
        zval, pval = float(f.zval[0, p]), float(f.pval[0, p])
        dfs = float(f.dfs[0])
        est, lb, ub = (float(f.b[0, 0]), float(f.ci_lb[0, 0]), float(f.ci_ub[0, 0])) if limit else (np.nan,) * 3
    else:
        zval, pval, dfs, est, lb, ub = _egger_lm(yi, v, Xp, p, level)
        if not limit:
            est = lb = ub = np.nan
    return RegTest(model=model, predictor=predictor, zval=zval, pval=pval, dfs=dfs, est=est, ci_lb=lb,
                   ci_ub=ub, method=method, k=k)


def _ni_values(ni, data, a):
    """Sample sizes for the fit's studies (rows the fit omitted for missing values are dropped)."""
    if isinstance(ni, str) and data is None:
        raise ValueError("ni names a column but no data was given")
    series = _data.column_or_array(data, ni, "ni")
    vals = _data.numeric(series, ni if isinstance(ni, str) else "ni")
    k = a["yi"].size
    if len(vals) == k:
        return vals
    if a["omitted"] and len(vals) == k + len(a["omitted"]):
        labels = pd.Index([str(x) for x in (series.index if data is not None else range(1, len(vals) + 1))])
        keep = ~labels.isin([str(x) for x in a["omitted"]])
        if keep.sum() == k:
            return vals[keep]
    raise ValueError(f"ni has {len(vals)} values but the fit has {k} studies")


def no_user_weights(a, what):
    if a["weights"] is not None:
        raise ValueError(f"{what} is not available for fits with user-specified weights")


def _predictor_column(predictor, vi, ni):
    if predictor == "sei":
        return np.sqrt(vi)
    if predictor == "vi":
        return vi
    if ni is None:
        raise ValueError(f"predictor {predictor!r} needs the sample sizes: pass ni= (column or array)")
    if np.any(~np.isfinite(ni)) or np.any(ni <= 0):
        raise ValueError("ni must hold positive sample sizes")
    return {"ni": ni, "ninv": 1 / ni, "sqrtni": np.sqrt(ni), "sqrtninv": 1 / np.sqrt(ni)}[predictor]


def _egger_lm(yi, vi, X, p, level):
    """Weighted least squares ``yi ~ X - 1`` with weights ``1/vi`` (R's ``lm``)."""
    import statsmodels.api as sm

    res = sm.WLS(yi, X, weights=1 / vi).fit()
    df = float(res.df_resid)
    tval = float(res.tvalues[p])
    pval = float(res.pvalues[p])
    crit = stats.t.isf((1 - level / 100) / 2, df)
    est = float(res.params[0])
    se0 = float(res.bse[0])
    return tval, pval, df, est, est - crit * se0, est + crit * se0


# ---------------------------------------------------------------------------
# Begg and Mazumdar's rank correlation test


@dataclass(frozen=True, eq=False)
class RankTest(Result):
    """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry (metafor's ``ranktest``).

    Returned by :func:`ranktest`.

    Attributes
    ----------
    tau : float
        Kendall's tau between the standardised effect sizes and their variances.
    pval : float
        Its two-sided p-value.
    exact : bool
        Whether the p-value is exact (no ties) or from the normal approximation.
    k : int
        Number of studies.

    Notes
    -----
    R equivalent: a ``metafor::ranktest`` object (metafor 3.8-1).

    References
    ----------
    .. [1] Begg, C. B., & Mazumdar, M. (1994). Operating characteristics of a rank correlation
       test for publication bias. Biometrics, 50, 1088-1101.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> rt = pt.meta.ranktest(pt.meta.rma("yi", "vi", data=es))
    >>> round(rt.tau, 4), round(rt.pval, 4), rt.exact
    (0.0256, 0.9524, True)
    """

    tau: float
    pval: float
    exact: bool
    k: int

    def summary(self) -> str:
        how = "exact" if self.exact else "normal approximation (ties)"
        return (
            "Rank Correlation Test for Funnel Plot Asymmetry\n\n"
            f"Kendall's tau = {format_number(self.tau)}, p = {format_pval(self.pval)} ({how}, k = {self.k})"
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"tau": [self.tau], "pval": [self.pval], "exact": [self.exact], "k": [self.k]})


def ranktest(x, vi=None, *, sei=None, data=None) -> RankTest:
    """Begg–Mazumdar rank correlation test (metafor ``ranktest``, ``exact=TRUE``).

    ``x``: an ``rma`` fit or effect sizes (column name or array) with ``vi``/``sei``.

    Parameters
    ----------
    x : RMAResult or str or array-like
        A fitted model, or effect sizes (then give ``vi`` or ``sei``).
    vi, sei : str or array-like, optional
        Sampling variances or standard errors, with array or column ``x``.
    data : pandas.DataFrame, optional
        Where column names are looked up.

    Returns
    -------
    RankTest
        Kendall's ``tau`` and its ``pval``.

    Notes
    -----
    R equivalent: ``metafor::ranktest`` (metafor 3.8-1).

    References
    ----------
    .. [1] Begg, C. B., & Mazumdar, M. (1994). Operating characteristics of a rank correlation
       test for publication bias. Biometrics, 50, 1088-1101.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, method="REML")
    >>> rt = pt.meta.ranktest(fit)
    >>> round(rt.tau, 4), round(rt.pval, 4)
    (0.0256, 0.9524)
    """
    yi, v, _ = _yi_vi(x, vi, sei, data)
    k = yi.size
    if k < 3:
        raise ValueError(f"ranktest needs at least 3 studies (k = {k})")
    w = 1 / v
    theta = np.sum(w * yi) / np.sum(w)
    ystar = (yi - theta) / np.sqrt(v - 1 / np.sum(w))
    ties = np.unique(ystar).size < k or np.unique(v).size < k
    res = stats.kendalltau(ystar, v, method="asymptotic" if ties else "exact")
    return RankTest(tau=float(res.statistic), pval=float(min(1.0, res.pvalue)), exact=not ties, k=k)


# ---------------------------------------------------------------------------
# trim and fill


@dataclass(frozen=True, eq=False)
class TrimFill(Result):
    """Trim and fill: the number of studies missing on one side and the filled-in random-effects fit.

    Returned by :func:`trimfill`.

    Attributes
    ----------
    k0 : int
        Estimated number of missing (filled-in) studies.
    se_k0 : float
        Its standard error.
    side : str
        ``"left"`` or ``"right"``: where the studies were filled in.
    estimator : str
        ``"L0"`` or ``"R0"``.
    p_k0 : float
        With ``"R0"``, the p-value of the test of no missing studies; NaN otherwise.
    b, se, zval, pval, ci_lb, ci_ub : float
        The filled-in model's estimate, SE, z test and limits.
    tau2, QE, QEp, I2, H2 : float
        Its heterogeneity statistics.
    k : int
        Number of studies in the filled-in data (observed + ``k0``).
    method : str
        The tau^2 estimator (the original fit's).
    yi, vi : numpy.ndarray
        The filled-in data.
    fill : numpy.ndarray of bool
        True for the filled-in studies.
    slab : list of str
        Labels (``"Filled 1"``, ... for the filled-in studies).
    fit : RMAResult
        The filled-in model.

    Notes
    -----
    R equivalent: a ``metafor::trimfill`` object (metafor 3.8-1).

    References
    ----------
    .. [1] Duval, S., & Tweedie, R. (2000). Trim and fill: A simple funnel-plot-based method of
       testing and adjusting for publication bias in meta-analysis. Biometrics, 56, 455-463.
    .. [2] Duval, S., & Tweedie, R. (2000). A nonparametric "trim and fill" method of accounting
       for publication bias in meta-analysis. Journal of the American Statistical Association,
       95, 89-98.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> tf = pt.meta.trimfill(pt.meta.rma("yi", "vi", data=es))
    >>> tf.k0, tf.k, round(tf.b, 4), tf.slab[-1]
    (1, 14, -0.6571, 'Filled 1')
    """

    k0: int
    se_k0: float
    side: str
    estimator: str
    p_k0: float
    b: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    tau2: float
    QE: float
    QEp: float
    I2: float
    H2: float
    k: int
    method: str
    yi: np.ndarray
    vi: np.ndarray
    fill: np.ndarray
    slab: list = field(default_factory=list)
    fit: object = None

    def plot(self, ax=None, **kwargs):
        """Funnel plot with the filled-in studies (hollow) and the trim-and-fill estimate.

        Draws :func:`peertrial.plot.funnel` for this result, the filled-in estimate as the
        reference line.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.funnel`: ``contours``, ``refline``, ``level``,
            ``xlabel``, ``legend``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.funnel : what is drawn, with an example.
        """
        from peertrial.plot.meta_diagnostics import funnel

        return funnel(self, ax=ax, **kwargs)

    def summary(self) -> str:
        lines = [
            f"Estimated number of missing studies on the {self.side} side: {self.k0} "
            f"(SE = {format_number(self.se_k0)})"
        ]
        if self.estimator == "R0" and np.isfinite(self.p_k0):
            lines.append(f"Test of H0: no missing studies on the {self.side} side: p = {format_pval(self.p_k0)}")
        lines += [
            "",
            f"Filled-in model ({self.method}; k = {self.k}):",
            f"  estimate = {format_number(self.b)}, se = {format_number(self.se)}, z = {format_number(self.zval)}, "
            f"p = {format_pval(self.pval)}, 95% CI [{format_number(self.ci_lb)}, {format_number(self.ci_ub)}]",
            f"  tau^2 = {format_number(self.tau2)}, I^2 = {format_number(self.I2, 2)}%, "
            f"Q = {format_number(self.QE)} (p = {format_pval(self.QEp)})",
        ]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per study of the filled-in data: ``slab, yi, vi, filled``."""
        return pd.DataFrame({"slab": self.slab, "yi": self.yi, "vi": self.vi, "filled": self.fill})


def trimfill(fit, side: str | None = None, estimator: str = "L0", maxiter: int = 100) -> TrimFill:
    """Duval and Tweedie's trim and fill: studies missing from the funnel and the filled-in estimate.

    The filled-in model is refitted with the fit's tau² estimator and a z test (metafor does
    not carry ``test`` over).

    Parameters
    ----------
    fit : RMAResult
        An intercept-only :func:`rma` fit with at least 3 studies. Mantel–Haenszel and Peto
        fits raise, as metafor (``trimfill`` has a method for ``rma.uni`` fits only).
    side : {"left", "right"}, optional
        The side on which studies are missing; by default estimated as metafor does: "right"
        when the slope of yi on sqrt(vi) (the fit's model) is negative, else "left".
    estimator : {"L0", "R0"}
        Estimator of the number of missing studies (default ``"L0"``).
    maxiter : int
        Cap on the trim-and-fill iterations (default 100).

    Returns
    -------
    TrimFill
        ``k0`` (studies filled in), ``side``, and the filled-in fit's ``b``, ``se``,
        ``ci_lb``, ``ci_ub``, ``tau2``.

    Notes
    -----
    R equivalent: ``metafor::trimfill`` (metafor 3.8-1; estimator ``"L0"`` by default).

    References
    ----------
    .. [1] Duval, S., & Tweedie, R. (2000). Trim and fill: A simple funnel-plot-based method of
       testing and adjusting for publication bias in meta-analysis. Biometrics, 56, 455-463.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> tf = pt.meta.trimfill(pt.meta.rma("yi", "vi", data=es))
    >>> tf.k0, tf.side
    (1, 'right')
    """
    if estimator not in ("L0", "R0"):
        raise ValueError(f"estimator must be 'L0' or 'R0', got {estimator!r}")
    if not _is_fit(fit):
        raise ValueError("trimfill takes an rma fit (pt.meta.rma(...))")
    a = fit_arrays(fit)
    if "pooling" in a:
        raise ValueError(
            f"trimfill is not available for {'rma_peto' if a['pooling'] == 'PETO' else 'rma_mh'} fits (as metafor, "
            "whose trimfill takes rma.uni fits only); use pt.meta.rma(yi, vi, data=escalc(...), method='EE')"
        )
    no_user_weights(a, "trimfill")
    yi0, vi0, X, method = a["yi"], a["vi"], a["X"], a["method"]
    if X.shape[1] != 1:
        raise ValueError("trim and fill applies only to models without moderators")
    k = yi0.size
    if k < 3:
        raise ValueError(f"trimfill needs at least 3 studies (k = {k})")
    if side is None:
        side = _estimate_side(yi0, vi0, method, a["control"])
    elif side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    k0, se_k0, beta, ix = _trimfill_iterate(yi0, vi0, side, estimator, method, a["control"], maxiter)
    if k0 > 0:
        flip = -1.0 if side == "right" else 1.0
        ys = flip * yi0[ix]
        # the k0 most extreme studies, mirrored about the trimmed estimate
        mirrored = flip * (2 * beta - ys[k - k0:])
        yi = np.concatenate([yi0, mirrored])
        vi = np.concatenate([vi0, vi0[ix][k - k0:]])
        fill = np.r_[np.zeros(k, bool), np.ones(k0, bool)]
        slab = a["slab"] + [f"Filled {j + 1}" for j in range(k0)]
    else:
        yi, vi, fill, slab = yi0, vi0, np.zeros(k, bool), list(a["slab"])
    # R0's test of no missing studies: 1 - sum_{j=1}^{k0+1} 2^-j
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else np.nan
    filled_fit, f = _filled_fit(fit, yi, vi, slab, method, a["level"], a["control"], k0, a["test"])
    return TrimFill(
        k0=int(k0), se_k0=float(se_k0), side=side, estimator=estimator, p_k0=p_k0, b=float(f["b"]),
        se=float(f["se"]), zval=float(f["zval"]), pval=float(f["pval"]), ci_lb=float(f["ci_lb"]),
        ci_ub=float(f["ci_ub"]), tau2=float(f["tau2"]), QE=float(f["QE"]), QEp=float(f["QEp"]), I2=float(f["I2"]),
        H2=float(f["H2"]), k=int(yi.size), method=method, yi=yi, vi=vi, fill=fill, slab=slab, fit=filled_fit,
    )


def _estimate_side(yi, vi, method, control):
    """metafor: regress yi on sqrt(vi); a negative slope means studies missing on the right."""
    X = np.column_stack([np.ones(yi.size), np.sqrt(vi)])
    f = _refit(yi, vi, X, method, "z", 95.0, control)
    return "right" if f.b[0, 1] < 0 else "left"


def _trimfill_iterate(yi, vi, side, estimator, method, control, maxiter):
    ys = -yi if side == "right" else yi
    ix = np.argsort(ys, kind="stable")
    ys, vs = ys[ix], vi[ix]
    k = ys.size
    ones = np.ones((k, 1))
    k0, k0_prev, it = 0, -1, 0
    se_k0, beta = np.nan, np.nan
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise RuntimeError("trim and fill did not converge")
        n = k - k0
        beta = float(_refit(ys[:n], vs[:n], ones[:n], method, "z", 95.0, control).b[0, 0])
        dev = ys - beta
        ranks = stats.rankdata(np.abs(dev), method="ordinal")
        signed = np.sign(dev) * ranks
        if estimator == "R0":
            neg = -signed[signed < 0]
            k0_raw = (k - (neg.max() if neg.size else 0)) - 1
            se = np.sqrt(2 * max(0, k0_raw) + 2)
        else:
            Sr = signed[signed > 0].sum()
            k0_raw = (4 * Sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0_raw**3 + 27 * k0_raw**2 + 17 * k0_raw
                      - 18 * k * k0_raw**2 - 18 * k * k0_raw + 6 * k**2 * k0_raw) / 24
            se = 4 * np.sqrt(var_sr) / (2 * k - 1) if var_sr >= 0 else np.nan
        k0 = int(max(0, np.round(k0_raw)))  # R's round: halves to even, as numpy
        se_k0 = max(0.0, se)
    return k0, se_k0, beta, ix


def _filled_fit(fit, yi, vi, slab, method, level, control, k0, test):
    """The filled-in model (metafor refits with the fit's method and a z test;
    with nothing filled it returns the original fit)."""
    keys = ("b", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "QE", "QEp", "I2", "H2")
    core = _refit(yi, vi, np.ones((yi.size, 1)), method, test if k0 == 0 else "z", level, control)
    f = {kk: float(np.ravel(getattr(core, kk))[0]) for kk in keys}
    if k0 == 0:
        return fit, f
    from peertrial.meta.rma import rma

    return rma(yi, vi, method=method, test="z", level=level, control=control, slab=slab), f


# ---------------------------------------------------------------------------
# fail-safe N


@dataclass(frozen=True, eq=False)
class FailSafeN(Result):
    """Fail-safe N: how many null studies would overturn the result (metafor's ``fsn``).

    Returned by :func:`fsn`.

    Attributes
    ----------
    type : str
        ``"Rosenthal"``, ``"Orwin"`` or ``"Rosenberg"``.
    fsnum : float
        The fail-safe number.
    alpha : float
        The significance level (Rosenthal, Rosenberg).
    pval : float
        The combined p-value of the observed studies (Rosenthal, Rosenberg; NaN for Orwin).
    meanes, target : float
        Orwin's observed average effect and target (NaN otherwise).
    k : int
        Number of studies.

    Notes
    -----
    R equivalent: a ``metafor::fsn`` object (metafor 3.8-1).

    References
    ----------
    .. [1] Rosenthal, R. (1979). The file drawer problem and tolerance for null results.
       Psychological Bulletin, 86, 638-641.
    .. [2] Orwin, R. G. (1983). A fail-safe N for effect size in meta-analysis. Journal of
       Educational Statistics, 8, 157-159.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> orwin = pt.meta.fsn("yi", "vi", data=es, type="Orwin")
    >>> orwin.fsnum, round(orwin.meanes, 4), round(orwin.target, 4)
    (13.0, -0.7407, -0.3703)
    """

    type: str
    fsnum: float
    alpha: float
    pval: float
    meanes: float
    target: float
    k: int

    def summary(self) -> str:
        head = f"Fail-safe N Calculation Using the {self.type} Approach"
        if self.type == "Orwin":
            body = [f"Average Effect Size:        {format_number(self.meanes)}",
                    f"Target Effect Size:         {format_number(self.target)}"]
        elif self.type == "Rosenberg":
            body = [f"Average Effect Size:        {format_number(self.meanes)}",
                    f"Observed Significance Level: {format_pval(self.pval)}",
                    f"Target Significance Level:   {self.alpha}"]
        else:
            body = [f"Observed Significance Level: {format_pval(self.pval)}",
                    f"Target Significance Level:   {self.alpha}"]
        return "\n".join([head, "", *body, "", f"Fail-safe N: {int(self.fsnum) if np.isfinite(self.fsnum) else 'Inf'}"])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"type": [self.type], "fsnum": [self.fsnum], "alpha": [self.alpha], "pval": [self.pval],
                             "meanes": [self.meanes], "target": [self.target], "k": [self.k]})


def fsn(yi, vi=None, *, sei=None, data=None, type: str = "Rosenthal", alpha: float = 0.05,
        target: float | None = None, weighted: bool = False) -> FailSafeN:
    """Fail-safe N by Rosenthal's, Orwin's or Rosenberg's method (metafor ``fsn``).

    - Rosenthal: ``z = |sum zi| / sqrt(k)``, ``N = k (z / z_{1-alpha})^2 - k``;
    - Orwin: ``N = k (mean - target) / target`` (``target`` defaults to half the mean;
      the mean is unweighted unless ``weighted=True``; ``vi`` is then optional);
    - Rosenberg: ``N = k ((sum wi yi / z_{1-alpha/2})^2 - sum wi) / sum wi``.

    Parameters
    ----------
    yi : str, array-like or RMAResult
        Effect sizes (column name or array), or an ``rma`` fit (its ``yi``, ``vi``).
    vi : str or array-like, optional
        Sampling variances (optional for Orwin's unweighted method).
    sei : str or array-like, optional
        Standard errors, instead of ``vi``.
    data : pandas.DataFrame, optional
        Holds the columns named by ``yi``, ``vi``, ``sei``.
    type : {"Rosenthal", "Orwin", "Rosenberg"}
        The method (default ``"Rosenthal"``).
    alpha : float
        Significance level the combined result should keep (Rosenthal, Rosenberg; default 0.05).
    target : float, optional
        Orwin's target average effect (default half the observed mean).
    weighted : bool
        Orwin's mean weighted by inverse variance (default False: unweighted).

    Returns
    -------
    FailSafeN
        The fail-safe number ``fsnum`` and, for Rosenthal's method, the combined ``pval``.

    Notes
    -----
    R equivalent: ``metafor::fsn`` (metafor 3.8-1).

    References
    ----------
    .. [1] Rosenthal, R. (1979). The file drawer problem and tolerance for null results.
       Psychological Bulletin, 86, 638-641.
    .. [2] Orwin, R. G. (1983). A fail-safe N for effect size in meta-analysis. Journal of
       Educational Statistics, 8, 157-159.
    .. [3] Rosenberg, M. S. (2005). The file-drawer problem revisited: a general weighted method
       for calculating fail-safe numbers in meta-analysis. Evolution, 59, 464-468.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> pt.meta.fsn("yi", "vi", data=es).fsnum
    598.0
    """
    if type not in ("Rosenthal", "Orwin", "Rosenberg"):
        raise ValueError(f"type must be 'Rosenthal', 'Orwin' or 'Rosenberg', got {type!r}")
    need_vi = type != "Orwin" or weighted
    y, v, _ = _yi_vi(yi, vi, sei, data, need_vi=need_vi or vi is not None or sei is not None)
    k = y.size
    if k < 1:
        raise ValueError("fsn needs at least one study")
    pval = meanes = np.nan
    tgt = np.nan
    if type == "Rosenthal":
        z_avg = abs(np.sum(y / np.sqrt(v)) / np.sqrt(k))
        pval = float(stats.norm.sf(z_avg))
        n = max(0.0, k * (z_avg / stats.norm.isf(alpha)) ** 2 - k)
    elif type == "Orwin":
        meanes = float(np.sum(y / v) / np.sum(1 / v)) if weighted else float(np.mean(y))
        tgt = meanes / 2 if target is None else float(target)
        if tgt == 0:
            n = np.inf
        else:
            if np.sign(tgt) != np.sign(meanes):
                tgt = -tgt
            n = max(0.0, k * (meanes - tgt) / tgt)
    else:
        w = 1 / v
        meanes = float(np.sum(w * y) / np.sum(w))
        zval = meanes / np.sqrt(1 / np.sum(w))
        wp = (np.sum(w * y) / stats.norm.isf(alpha / 2)) ** 2 - np.sum(w)
        pval = float(2 * stats.norm.sf(abs(zval)))
        n = max(0.0, k * wp / np.sum(w))
    return FailSafeN(type=type, fsnum=_round_up(float(n)), alpha=alpha, pval=pval, meanes=meanes, target=tgt, k=k)
