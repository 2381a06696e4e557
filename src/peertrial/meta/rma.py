"""Fixed- and random-effects meta-analysis and meta-regression (metafor's ``rma.uni``).

``rma(yi, vi, data=...)`` fits the normal-normal model ``y_i = x_i'b + u_i + e_i``,
``u_i ~ N(0, tau2)``, ``e_i ~ N(0, v_i)``, with the tau2 estimators and tests of
metafor 3.8 (see :mod:`peertrial.meta._core` for the formulas). ``rma_batch``
fits thousands of meta-analyses at once through the same core.

The fitted :class:`RMAResult` keeps its data for methods built on top of it
(influence diagnostics, leave-one-out, trim-and-fill, ...):

- ``yi``, ``vi`` (arrays of the studies used), ``X`` (DataFrame: design matrix,
  columns = coefficient names, index = study labels), ``slab`` (study labels),
  ``weights`` (weights used for ``b``: ``1/(vi + tau2)`` or the user's),
  ``user_weights`` (None unless given), ``method``, ``test``, ``level``,
  ``measure`` (from ``escalc``, else ``"GEN"``), ``control``, ``vb``;
- ``fit.refit(mask=None, **changes)`` refits on the studies where ``mask`` is true
  with any of ``method``, ``test``, ``level``, ``control``, ``weights`` changed;
- ``rma(yi_array, vi_array, mods=X_array, intercept=False)`` also accepts arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_pval
from peertrial._warnings import ConvergenceWarning, PeertrialWarning
from peertrial.meta._core import EPS, METHODS, TESTS, Control, _qe, fit_core, r2_batch
from peertrial.meta._labels import make_unique
from peertrial.meta._zeroin import zeroin_scalar
from peertrial.meta.escalc import sample_sizes

stats = lazy_module("scipy.stats")

__all__ = ["rma", "rma_batch", "RMAResult", "PredictResult", "BatchResult"]

_MODEL_NAMES = {"EE": "Equal-Effects Model", "FE": "Fixed-Effects Model"}


def _check_method_test(method, test):
    method = str(method).upper()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    test = str(test).lower()
    if test not in TESTS:
        raise ValueError(f"test must be 'z' or 'knha'; got {test!r}")
    return method, test


def _design(mods, data, n, intercept):
    """Design matrix (array), R-style column names and the builder's recipe (formula mods).

    A formula goes through the one design builder (:mod:`peertrial._design`): numbers,
    including numbers stored as text (a ``year`` column read as text), are one numeric
    column; other text, booleans and ``C(x)`` are treatment-coded factors named as metafor
    names them (``typeone-to-one``). Rows with a missing moderator get NaN (omitted later,
    with the other missing values).
    """
    if mods is None:
        return np.ones((n, 1)), ["intrcpt"], None
    if (data is not None and isinstance(mods, (list, tuple)) and mods
            and all(isinstance(m, str) for m in mods)):
        mods = " + ".join(mods)  # a list of column names, as covariates are named everywhere
    if isinstance(mods, str):
        if data is None:
            raise ValueError("mods given as a formula needs data")
        cols = _builder.variables(mods)
        _data.require_columns(data, cols)
        ok = ~data[cols].isna().any(axis=1).to_numpy() if cols else np.ones(n, dtype=bool)
        if not ok.any():
            raise ValueError(f"every study has a missing value in the moderators {cols}")
        design = _builder.build(data.iloc[np.flatnonzero(ok)], mods, intercept=bool(intercept),
                                what="mods")
        X = np.full((n, design.X.shape[1]), np.nan)
        X[ok] = design.X
        names = ["intrcpt" if c == "(Intercept)" else c for c in design.names]
        return X, names, (design, np.ones(len(names), dtype=bool))
    if isinstance(mods, pd.Series):
        mods = mods.to_frame()
    names = list(mods.columns) if isinstance(mods, pd.DataFrame) else None
    M = np.asarray(mods, dtype=float)
    if M.ndim == 1:
        M = M[:, None]
    if M.shape[0] != n:
        raise ValueError(f"mods has {M.shape[0]} rows but there are {n} studies")
    names = [str(c) for c in names] if names else [f"X{j + 1}" for j in range(M.shape[1])]
    if intercept:
        M = np.hstack([np.ones((n, 1)), M])
        names = ["intrcpt", *names]
    return M, names, None


def _drop_redundant(X, names, info):
    """Drop moderators that are linear combinations of the columns before them, as metafor
    does ("Redundant predictors dropped from the model"), with a warning naming them."""
    if X.shape[1] < 2:
        return X, names, info
    bad = _builder.aliased(X)
    if not bad.any():
        return X, names, info
    hit = [c for c, b in zip(names, bad) if b]
    warnings.warn(f"Redundant predictors dropped from the model: {hit} (linear combinations of the "
                  "columns before them, as metafor drops them)", PeertrialWarning, stacklevel=3)
    keep = ~bad
    if info is not None:
        design, kept = info
        kept = kept.copy()
        kept[np.flatnonzero(kept)[bad]] = False
        info = (design, kept)
    return X[:, keep], [c for c, k in zip(names, keep) if k], info


def rma(
    yi,
    vi=None,
    data: pd.DataFrame | None = None,
    *,
    sei=None,
    weights=None,
    method: str = "REML",
    test: str = "z",
    mods=None,
    intercept: bool = True,
    level: float = 95,
    slab=None,
    control=None,
    measure: str | None = None,
    ni=None,
    subset=None,
    tau2: float | None = None,
) -> RMAResult:
    """Fit a meta-analytic fixed-, random- or mixed-effects model (metafor ``rma``).

    ``yi``, ``vi`` (or ``sei``), ``weights`` and ``slab`` name columns of ``data`` or
    are array-likes. ``method``: "EE"/"FE", "DL", "HE", "HS", "SJ", "ML", "REML",
    "EB", "PM". ``test``: "z" or "knha" (Knapp–Hartung). ``mods``: a formula such
    as ``"~ year + type"`` evaluated on ``data`` or a 2-D array (an intercept is
    added unless ``intercept=False``). ``control``: dict of ``threshold`` (1e-5),
    ``maxiter`` (100), ``tau2_init``, ``tau2_max``, ``tol``, ``stepadj``.
    ``ni``: sample sizes (column or array; by default those :func:`escalc` stored in
    ``data.attrs["ni"]``), kept as ``fit.ni`` for ``regtest(predictor="ni")``.
    ``subset``: boolean mask or name of a boolean column; only those studies are
    used (metafor's ``subset``). The fit keeps a copy of the rows of ``data`` it
    used as ``fit.data`` (None for array input), so ``cumul(fit, order="year")``
    needs no ``data=``. ``tau2``: a value at which tau2 is held fixed instead of
    estimated (metafor's ``tau2=``; then ``se_tau2`` is NaN and tau2 is not counted
    among the parameters of the fit statistics).

    ML and REML use metafor's Fisher scoring; when it does not converge in
    ``maxiter`` steps (where metafor stops with an error) the maximum of the
    (restricted) likelihood is found by a bracketed search instead, guaranteed to
    converge, reported in ``fit.algorithm`` and ``fit.note`` with a
    ``ConvergenceWarning``. Fit statistics as metafor's ``fitstats``:
    ``fit.loglik``, ``fit.deviance``, ``fit.aic``, ``fit.bic``, ``fit.aicc``
    (REML versions for a REML fit, ML otherwise) and ``fit.fitstats()``.

    Studies with a missing value are omitted with a warning naming them (metafor's
    ``na.action = "na.omit"``). As metafor, sampling variances of 0 are accepted (with a
    warning) by the HE, SJ, ML, REML and EB estimators (when tau2 > 0) and by ``EE`` with
    user ``weights`` and a z test; Q, I2 and H2 are then NaN. Negative variances are set
    to 0 with a warning. DL, HS and PM, and ``EE`` with inverse-variance weights, raise.

    Parameters
    ----------
    yi : str or array-like
        Observed effect sizes (column of ``data`` or values).
    vi : str or array-like, optional
        Sampling variances; or give ``sei``.
    data : pandas.DataFrame, optional
        One row per study.
    sei : str or array-like, optional
        Standard errors, instead of ``vi``.
    weights : str or array-like, optional
        User weights (metafor's ``weights``).
    method : str
        tau^2 estimator: "EE" (alias "FE"), "DL", "HE", "HS", "SJ", "ML", "REML" (default),
        "EB", "PM".
    test : {"z", "knha"}
        Normal (default) or Knapp-Hartung t tests and intervals.
    mods : str or array-like, optional
        Moderators: an R-style formula (``"~ year + type"``) on ``data``, a list of its
        columns (``["year", "type"]``, the same as ``"year + type"``), or a 2-D array.
    intercept : bool
        Add an intercept to array ``mods`` (default True).
    level : float
        Confidence level in percent, as metafor (default 95).
    slab : str or array-like, optional
        Study labels.
    control : dict, optional
        Iteration settings (see above).
    measure : str, optional
        The effect-size measure, for labels and back-transformation.
    ni : str or array-like, optional
        Sample sizes.
    subset : str or array-like of bool, optional
        The studies to use.
    tau2 : float, optional
        Fix tau^2 at this value.

    Returns
    -------
    RMAResult
        Estimates ``b``, ``se``, ``zval``, ``pval``, ``ci_lb``, ``ci_ub``; heterogeneity
        ``tau2``, ``se_tau2``, ``I2``, ``H2``, ``QE``, ``QEp``; with moderators ``QM``,
        ``QMp``, ``R2``; methods ``summary``, ``to_frame``, ``predict``, ``confint``, ``refit``.

    Notes
    -----
    R equivalent: ``metafor::rma`` (``rma.uni``; metafor 3.8-1), same defaults.

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators
       in the random-effects model. Journal of Educational and Behavioral Statistics, 30(3), 261-293.
    .. [3] Knapp, G., & Hartung, J. (2003). Improved tests for a random effects meta-regression
       with a single covariate. Statistics in Medicine, 22(17), 2693-2710.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, method="REML")
    >>> round(fit.b, 4), round(fit.se, 4), round(fit.tau2, 4)
    (-0.7145, 0.1798, 0.3132)
    >>> knha = pt.meta.rma("yi", "vi", data=es, test="knha")
    >>> round(knha.ci_lb, 4), round(knha.ci_ub, 4)
    (-1.1084, -0.3206)
    """
    level = _data.level_percent(level)
    method, test = _check_method_test(method, test)
    frame = _data.as_frame(data) if data is not None else None
    if vi is None and sei is None:
        raise ValueError("give vi (sampling variances) or sei (standard errors)")
    y_name = yi if isinstance(yi, str) else "yi"
    v_name = (vi if isinstance(vi, str) else "vi") if vi is not None else (sei if isinstance(sei, str) else "sei")
    y, v = _float_arrays(yi, vi if vi is not None else sei) if frame is None else (None, None)
    if y is None:
        y = _data.numeric(_data.column_or_array(frame, yi, "yi"), y_name)
        v = _data.numeric(_data.column_or_array(frame, vi if vi is not None else sei, v_name), v_name)
    if vi is None:
        v = v**2
    n = len(y)
    index = frame.index if frame is not None else pd.RangeIndex(n)
    if len(v) != n:
        raise ValueError(f"yi has {n} values but {v_name} has {len(v)}")
    w = None
    if weights is not None:
        w_name = weights if isinstance(weights, str) else "weights"
        w = _data.numeric(_data.column_or_array(frame, weights, "weights"), w_name)
        _data.check_nonnegative(w, index, w_name)
    if slab is None:
        rows = pd.Index(frame.index if frame is not None else pd.RangeIndex(1, n + 1))
    else:
        rows = pd.Index(_data.column_or_array(frame, slab, "slab"))
    # messages name rows as the user labelled them (1, not '1'); the fit's slab is text
    labels = pd.Index([str(x) for x in rows])
    if slab is not None:
        labels = make_unique(labels)  # duplicated study labels get .1, .2 as in metafor
    X, names, info = _design(mods, frame, n, intercept)
    n_i = _sample_sizes(frame, ni, n)
    use = _subset_mask(frame, subset, n)
    if measure is None:
        measure = (frame.attrs.get("measure") if frame is not None else None) or "GEN"
        if (frame is not None and "measure" not in frame.attrs and yi == "yi" and {"yi", "vi"} <= set(frame.columns)
                and _ESCALC_INPUTS & set(map(str, frame.columns))):
            # escalc's output (yi, vi beside its inputs) carries its measure and sample sizes in
            # DataFrame.attrs, which pandas drops on merge/concat: say so rather than silently
            # report "GEN" (metafor's attributes are lost the same way, silently)
            warnings.warn(
                "data has escalc-style 'yi'/'vi' columns but no effect-size measure (escalc keeps it in "
                "DataFrame.attrs, which pandas drops on merge or concat); the fit is labelled measure 'GEN' "
                "(generic). Pass measure= (e.g. measure='RR'), or measure='GEN' for generic effect sizes"
                + ("" if ni is not None else ", and ni= if the sample sizes are needed (regtest predictor='ni')"),
                PeertrialWarning, stacklevel=_data.user_stacklevel())
    missing = np.isnan(y) | np.isnan(v) | np.isnan(X).any(axis=1)
    if w is not None:
        missing |= np.isnan(w)
    missing &= use
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} studies with missing values omitted from model fitting: "
            f"{_data.row_labels(rows, missing)}",
            UserWarning,
            stacklevel=2,
        )
    keep = use & ~missing
    v = _nonpositive_variances(v, keep, rows, v_name)
    if not keep.any():
        raise ValueError("no studies left to fit (k = 0) after omitting missing values")
    Xk, names, info = _drop_redundant(X[keep], names, info)
    return _fit(
        y[keep], v[keep], Xk, names, None if w is None else w[keep], labels[keep], method, test, level,
        Control.from_any(control), measure, info, labels[missing].tolist(),
        ni=None if n_i is None else n_i[keep], data=None if frame is None else frame.iloc[np.flatnonzero(keep)].copy(),
        tau2_fixed=_fixed_tau2(tau2, method),
    )


def _fixed_tau2(tau2, method):
    if tau2 is None or method in ("EE", "FE"):
        return None
    try:
        t = float(tau2)
    except (TypeError, ValueError):
        raise ValueError(f"tau2 must be a single non-negative number; got {tau2!r}") from None
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"tau2 must be a single non-negative number; got {tau2!r}")
    return t


def _nonpositive_variances(v, keep, rows, name):
    """metafor's handling of ``vi <= 0``: negative variances are set to 0 and zeros are kept
    (with metafor's warnings); the estimators that cannot use them then raise."""
    with np.errstate(invalid="ignore"):
        neg = keep & (v < 0)
        nonpos = keep & (v <= 0)
    if nonpos.any() and not (v[keep] == 0).all():
        warnings.warn(f"There are outcomes with non-positive sampling variances ({name!r} at rows "
                      f"{_data.row_labels(rows, nonpos)}).", PeertrialWarning, stacklevel=3)
    if neg.any():
        warnings.warn("Negative sampling variances constrained to zero.", PeertrialWarning, stacklevel=3)
        v = np.where(neg, 0.0, v)
    return v


_ESCALC_INPUTS = {"ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "m2i", "sd1i", "sd2i", "x1i", "x2i", "t1i", "t2i",
                  "ri", "xi", "mi", "sdi", "ni"}


def _sample_sizes(frame, ni, n):
    """``ni`` given (column or array), else the sizes ``escalc`` stored in ``frame.attrs``."""
    if ni is None:
        return None if frame is None else sample_sizes(frame)
    out = _data.numeric(_data.column_or_array(frame, ni, "ni"), ni if isinstance(ni, str) else "ni")
    if len(out) != n:
        raise ValueError(f"ni has {len(out)} values but there are {n} studies")
    return out


def _subset_mask(frame, subset, n):
    """metafor's ``subset``: a boolean mask (array or column name) of the studies to use."""
    if subset is None:
        return np.ones(n, dtype=bool)
    label = subset if isinstance(subset, str) else "subset"
    values = _data.column_or_array(frame, subset, "subset")
    mask = np.asarray(values)
    if mask.dtype != bool or mask.shape != (n,):
        raise ValueError(f"{label!r} must be a boolean mask with one entry per study ({n})")
    return mask


def _float_arrays(yi, vi):
    """Fast path for plain numeric arrays (no data frame): ``(y, v)`` or ``(None, None)``."""
    try:
        y, v = np.asarray(yi), np.asarray(vi)
    except Exception:  # noqa: BLE001 - fall back to the validating path
        return None, None
    if y.dtype.kind not in "fiu" or v.dtype.kind not in "fiu" or y.ndim != 1 or v.ndim != 1:
        return None, None
    y, v = y.astype(float), v.astype(float)
    if np.isinf(y).any() or np.isinf(v).any():
        return None, None  # let the validating path name the rows
    return y, v


def _fit(y, v, Xa, names, w, labels, method, test, level, ctrl, measure, info=None, omitted=(), ni=None,
         data=None, tau2_fixed=None):
    """Fit one meta-analysis from clean arrays (the studies to use) via the batch core."""
    k, p = Xa.shape
    if p > k:
        raise ValueError(f"the model has {p} coefficients but only {k} studies")
    if method not in ("EE", "FE") and p + 1 > k and not (p == 1 and k == 1):
        raise ValueError(f"the model has {p} coefficients and tau2 to estimate but only {k} studies "
                         "(as metafor: use method='EE' or fewer moderators)")
    if p > 1 and np.any(np.linalg.eigvalsh(Xa.T @ Xa) <= 1e-7):
        raise ValueError(f"model matrix not of full rank (columns {names}); drop redundant moderators")
    if k == 1 and test == "knha":
        warnings.warn('test="knha" needs k > 1; using test="z" as metafor does', UserWarning, stacklevel=3)
    if method in ("EE", "FE") and test == "knha":
        warnings.warn(f"Knapp & Hartung method is not meant for {method} models", UserWarning, stacklevel=3)
    icol = int(np.flatnonzero((Xa == 1).all(axis=0))[0]) if (Xa == 1).all(axis=0).any() else -1
    A = None if w is None else w[None, :]
    core = fit_core(y[None, :], v[None, :], Xa[None], method=method, test=test, A=A, level=level,
                    control=ctrl, intercept_col=icol, tau2_fixed=tau2_fixed)
    if core.reason[0] and np.isnan(core.tau2[0]):
        raise ValueError(f"cannot fit the model: {core.reason[0]}")
    if np.any(v == 0) and k > p:
        warnings.warn("Cannot compute Q-test, I^2, or H^2 when there are non-positive sampling variances in the "
                      "data (as metafor: QE, QEp, I2, H2 are NaN).", PeertrialWarning, stacklevel=3)
    valid = np.ones((1, k), dtype=bool)
    R2 = np.nan
    if p > 1 and icol >= 0:
        R2 = float(r2_batch(core, y[None, :], v[None, :], Xa[None], valid, method, test, A, ctrl, icol,
                            tau2_fixed)[0])
    converged = bool(core.converged[0])
    note = str(core.reason[0])
    algorithm = str(core.algorithm[0])
    if algorithm and algorithm not in ("Fisher scoring", "fixed"):
        warnings.warn(note, ConvergenceWarning, stacklevel=3)
    elif note:
        warnings.warn(note, UserWarning, stacklevel=3)
    coef = _coef_maker(names)
    return RMAResult(
        b=coef(core.b[0]), se=coef(core.se[0]), zval=coef(core.zval[0]), pval=coef(core.pval[0]),
        ci_lb=coef(core.ci_lb[0]), ci_ub=coef(core.ci_ub[0]),
        tau2=float(core.tau2[0]), se_tau2=float(core.se_tau2[0]), I2=float(core.I2[0]), H2=float(core.H2[0]),
        QE=float(core.QE[0]), QEp=float(core.QEp[0]), k=k, p=p, method=method, test=str(core.test[0]),
        dfs=float(core.dfs[0]), QM=float(core.QM[0]), QMp=float(core.QMp[0]), R2=R2,
        s2w=float(core.s2w[0]), vt=float(core.vt[0]), level=float(level), converged=converged,
        iterations=int(core.iterations[0]), note=note,
        yi=y.copy(), vi=v.copy(), X=pd.DataFrame(Xa, index=labels, columns=names), weights=core.weights[0].copy(),
        user_weights=None if w is None else w.copy(), slab=pd.Index(labels), measure=measure,
        control=ctrl, vb=pd.DataFrame(core.vb[0], index=names, columns=names),
        intercept=icol >= 0, design_info=info, omitted=list(omitted),
        ni=None if ni is None else np.array(ni, dtype=float), data=data,
        algorithm=str(core.algorithm[0]), tau2_fixed=tau2_fixed,
        ll_ML=float(core.ll_ML[0]), ll_REML=float(core.ll_REML[0]), dev_ML=float(core.dev_ML[0]),
    )


def _coef_maker(names):
    if len(names) == 1:
        return lambda a: float(a[0])
    return lambda a: pd.Series(np.asarray(a, dtype=float), index=names)


@dataclass(frozen=True, eq=False)
class PredictResult(Result):
    """Predicted (average) effect with its confidence and prediction intervals.

    Returned by :meth:`RMAResult.predict` (and the ``predict`` of other meta results). Each
    field is a float for one prediction, else an array with one entry per prediction.

    Attributes
    ----------
    pred : float or numpy.ndarray
        Predicted effect (back-transformed with ``transf``).
    se : float or numpy.ndarray
        Its SE (NaN when back-transformed, as metafor omits it).
    ci_lb, ci_ub : float or numpy.ndarray
        Confidence limits of the predicted average effect.
    pi_lb, pi_ub : float or numpy.ndarray
        Prediction interval for the true effect of a new study, ``pred ± crit * sqrt(se^2 +
        tau2)`` (NaN for an equal-effects model).
    level : float
        Confidence level in percent, as metafor.
    transformed : bool
        Whether ``transf`` was applied.

    Notes
    -----
    R equivalent: the ``list.rma`` object of ``metafor::predict.rma`` (``pred, se, ci.lb,
    ci.ub, pi.lb, pi.ub``; metafor 3.8-1).

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Riley, R. D., Higgins, J. P. T., & Deeks, J. J. (2011). Interpretation of random
       effects meta-analyses. BMJ, 342, d549.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> pred = pt.meta.rma("yi", "vi", data=es).predict(transf=np.exp)
    >>> round(pred.pred, 4), round(pred.pi_lb, 4), round(pred.pi_ub, 4), pred.transformed
    (0.4894, 0.1546, 1.549, True)
    """

    pred: object
    se: object
    ci_lb: object
    ci_ub: object
    pi_lb: object
    pi_ub: object
    level: float = 95.0
    transformed: bool = False

    def to_frame(self) -> pd.DataFrame:
        cols = ("pred", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub")
        return pd.DataFrame({c: np.atleast_1d(np.asarray(getattr(self, c), dtype=float)) for c in cols})

    def summary(self, digits: int = 4) -> str:
        frame = self.to_frame()
        if self.transformed:
            frame = frame.drop(columns="se")
        header = "  ".join(f"{c:>10}" for c in frame.columns)
        rows = ["  ".join(f"{format_number(v, digits):>10}" for v in row) for row in frame.to_numpy()]
        return "\n".join([header, *rows])


class FitStatistics:
    """``loglik``, ``deviance``, ``aic``, ``bic``, ``aicc`` of a fit with a ``fitstats()`` method
    (metafor's ``fitstats``: restricted for REML fits); shared by ``rma`` and ``rma_mv`` results."""

    @property
    def loglik(self) -> float:
        """Log-likelihood (restricted for REML fits), as metafor's ``logLik``."""
        return float(self.fitstats()["logLik"])

    @property
    def deviance(self) -> float:
        return float(self.fitstats()["deviance"])

    @property
    def aic(self) -> float:
        return float(self.fitstats()["AIC"])

    @property
    def bic(self) -> float:
        return float(self.fitstats()["BIC"])

    @property
    def aicc(self) -> float:
        return float(self.fitstats()["AICc"])


@dataclass(frozen=True, eq=False)
class RMAResult(FitStatistics, Result):
    """Fitted equal- or random-effects meta-analysis or meta-regression (metafor's ``rma.uni``).

    Returned by :func:`rma`. Coefficient attributes (``b``, ``se``, ``zval``, ``pval``,
    ``ci_lb``, ``ci_ub``) are floats for an intercept-only model, else Series indexed by term.
    With ``test="knha"``, ``zval`` holds the t statistic and ``dfs`` its degrees of freedom.
    Also ``tau``, ``loglik``, ``deviance``, ``aic``, ``bic``, ``aicc`` (properties) and the
    methods :meth:`predict`, :meth:`confint`, :meth:`fitstats`, :meth:`refit`,
    :meth:`weights_percent`.

    Attributes
    ----------
    b, se, zval, pval, ci_lb, ci_ub : float or pandas.Series
        Coefficients, SEs, test statistics, p-values and limits at ``level``.
    tau2, se_tau2 : float
        Between-study variance and its SE (0 and NaN for an equal-effects model).
    I2, H2 : float
        (Residual) heterogeneity in percent and as a ratio.
    QE, QEp : float
        Test for (residual) heterogeneity and its p-value.
    k, p : int
        Number of studies and of coefficients.
    method : str
        The tau^2 estimator (``"REML"``, ``"DL"``, ..., ``"EE"``).
    test : str
        ``"z"`` or ``"knha"``.
    dfs : float
        Degrees of freedom of the t tests (``k - p``) with ``"knha"``; NaN for z tests.
    QM, QMp : float
        Omnibus test of the moderators (an F statistic with ``"knha"``) and its p-value.
    R2 : float
        Percent of tau^2 accounted for by the moderators (meta-regression).
    s2w : float
        Knapp–Hartung scaling factor (1 without ``"knha"``).
    vt : float
        The "typical" within-study variance behind I2.
    level : float
        Confidence level in percent, as metafor.
    converged : bool
        Whether the tau^2 iterations converged.
    iterations : int
        Iterations used by the tau^2 estimator.
    note : str
        Notes on the fit (e.g. a fallback of the estimator).
    yi, vi : numpy.ndarray
        The effect sizes and sampling variances used.
    X : pandas.DataFrame
        The model matrix (columns named as metafor: ``intrcpt``, moderator terms).
    weights : numpy.ndarray
        The weights of the fit (inverse-variance or the user's).
    user_weights : numpy.ndarray or None
        ``weights=`` as given.
    slab : pandas.Index
        Study labels.
    measure : str
        The effect-size measure (e.g. ``"RR"``), for labels and back-transformation.
    control : Control
        The iteration settings used.
    vb : pandas.DataFrame
        Variance matrix of the coefficients.
    intercept : bool
        Whether the model has an intercept.
    design_info : object
        The formula design, for :meth:`predict` with a DataFrame of new moderator values.
    omitted : list
        Labels of studies omitted for missing values.
    ni : numpy.ndarray or None
        Sample sizes (from ``escalc`` or ``ni=``).
    data : pandas.DataFrame or None
        Copy of the rows used.
    algorithm : str
        How tau^2 was found (``"Fisher scoring"``, ``"fixed"``, or the bracketed search).
    tau2_fixed : float or None
        The value given by ``tau2=``, if any.
    ll_ML, ll_REML, dev_ML : float
        Full and restricted log-likelihoods and the ML deviance (for :meth:`fitstats`).

    Notes
    -----
    R equivalent: a ``metafor::rma.uni`` object (metafor 3.8-1): ``print``/``summary`` as
    :meth:`summary`, ``predict.rma``, ``confint.rma.uni``, ``fitstats``, ``weights.rma.uni``.

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators
       in the random-effects model. Journal of Educational and Behavioral Statistics, 30(3), 261-293.
    .. [3] DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. Controlled
       Clinical Trials, 7, 177-188.
    .. [4] Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a
       meta-analysis. Statistics in Medicine, 21, 1539-1558.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, mods="ablat")
    >>> list(fit.X.columns), fit.b.round(4).tolist(), round(fit.tau2, 4)
    (['intrcpt', 'ablat'], [0.2515, -0.0291], 0.0764)
    >>> round(fit.QM, 4), round(fit.R2, 4), fit.k, fit.p
    (16.3571, 75.6245, 13, 2)
    """

    b: object
    se: object
    zval: object
    pval: object
    ci_lb: object
    ci_ub: object
    tau2: float
    se_tau2: float
    I2: float
    H2: float
    QE: float
    QEp: float
    k: int
    p: int
    method: str
    test: str
    dfs: float
    QM: float
    QMp: float
    R2: float
    s2w: float
    vt: float
    level: float
    converged: bool
    iterations: int
    note: str
    yi: np.ndarray
    vi: np.ndarray
    X: pd.DataFrame
    weights: np.ndarray
    user_weights: np.ndarray | None
    slab: pd.Index
    measure: str
    control: Control
    vb: pd.DataFrame
    intercept: bool
    design_info: object = None
    omitted: list = field(default_factory=list)
    ni: np.ndarray | None = None
    data: pd.DataFrame | None = None
    algorithm: str = ""
    tau2_fixed: float | None = None
    ll_ML: float = np.nan
    ll_REML: float = np.nan
    dev_ML: float = np.nan

    # ----------------------------------------------------------------- fit statistics
    @property
    def parms(self) -> int:
        """Number of estimated parameters (coefficients, plus tau2 unless EE or fixed)."""
        return self.p + (0 if self.method in ("EE", "FE") or self.tau2_fixed is not None else 1)

    def fitstats(self, REML: bool | None = None) -> pd.Series:
        """Log-likelihood, deviance, AIC, BIC and AICc (metafor ``fitstats``).

        ``REML``: restricted (True) or full (False) likelihood; by default the one the
        model was fitted with (REML for a REML fit, ML otherwise). For REML the
        sample size in BIC/AICc is ``k - p``; the ML deviance is against the
        saturated model, the REML deviance is ``-2 ll``.
        """
        reml = (self.method == "REML") if REML is None else bool(REML)
        ll = self.ll_REML if reml else self.ll_ML
        dev = -2 * ll if reml else self.dev_ML
        n = self.k - self.p if reml else self.k
        q = self.parms
        m = max(n, q + 2)
        out = {"logLik": ll, "deviance": dev, "AIC": -2 * ll + 2 * q, "BIC": -2 * ll + q * np.log(n),
               "AICc": -2 * ll + 2 * q * m / (m - q - 1)}
        return pd.Series(out, name="REML" if reml else "ML")

    # ----------------------------------------------------------------- helpers
    def plot(self, ax=None, **kwargs):
        """Forest plot of this fit: studies, pooled diamond and prediction interval.

        Draws :func:`peertrial.plot.forest` for this result (for a meta-regression, each
        study's fitted value instead of a pooled diamond).

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

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    @property
    def beta(self) -> np.ndarray:
        """Coefficients as a 1-D array (whatever the number of terms)."""
        return np.atleast_1d(np.asarray(self.b, dtype=float))

    @property
    def int_only(self) -> bool:
        return self.p == 1 and self.intercept

    def weights_percent(self) -> pd.Series:
        """Weight of each study in percent (metafor's ``weights()``)."""
        return pd.Series(100 * self.weights / self.weights.sum(), index=self.slab, name="weight")

    def refit(self, mask=None, **changes) -> RMAResult:
        """Refit on the studies where ``mask`` is true, optionally changing ``method``,
        ``test``, ``level``, ``control`` or ``weights`` (array, or None to drop them)."""
        allowed = {"method", "test", "level", "control", "weights", "tau2"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"refit cannot change {sorted(unknown)}; allowed: {sorted(allowed)}")
        keep = np.ones(self.k, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if keep.shape != (self.k,):
            raise ValueError(f"mask must have one entry per study ({self.k})")
        method, test = _check_method_test(changes.get("method", self.method), changes.get("test", self.test))
        w = changes.get("weights", self.user_weights)
        w = None if w is None else np.asarray(w, dtype=float)[keep]
        X = self.X.to_numpy()[keep]
        ctrl = Control.from_any(changes.get("control", self.control))
        return _fit(self.yi[keep], self.vi[keep], X, list(self.X.columns), w, self.slab[keep], method, test,
                    _data.level_percent(changes.get("level", self.level)), ctrl, self.measure, self.design_info,
                    ni=None if self.ni is None else self.ni[keep],
                    data=None if self.data is None else self.data.iloc[np.flatnonzero(keep)].copy(),
                    tau2_fixed=changes.get("tau2", self.tau2_fixed))

    # ----------------------------------------------------------------- predict
    def predict(self, newmods=None, level=None, transf=None, intercept=True) -> PredictResult:
        """Predicted effects with CI and prediction interval (metafor ``predict.rma``).

        Without ``newmods``: the average effect (intercept-only model) or the fitted
        value of every study. ``newmods``: moderator values (array with one row per
        prediction, without the intercept, or a DataFrame for formula models).
        The PI is ``pred ± crit * sqrt(se^2 + tau2)``, ``crit`` from N(0,1) or, with
        ``test="knha"``, from t(k - p). ``transf`` (e.g. ``np.exp``) back-transforms.
        ``level``: 95 or 0.95 alike; by default the fit's.
        """
        level = self.level if level is None else _data.level_percent(level)
        Xnew = self._new_design(newmods, intercept)
        beta = self.beta
        vb = self.vb.to_numpy()
        pred = Xnew @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xnew, vb, Xnew))
        alpha = 1 - level / 100
        crit = stats.t.isf(alpha / 2, self.dfs) if self.test == "knha" else stats.norm.isf(alpha / 2)
        ci_lb, ci_ub = pred - crit * se, pred + crit * se
        spi = np.sqrt(se**2 + self.tau2)
        pi_lb, pi_ub = pred - crit * spi, pred + crit * spi
        if self.method in ("EE", "FE"):  # no between-study distribution to predict from (as metafor)
            pi_lb, pi_ub = np.full_like(pred, np.nan), np.full_like(pred, np.nan)
        if transf is not None:
            pred, ci_lb, ci_ub, pi_lb, pi_ub = (transf(a) for a in (pred, ci_lb, ci_ub, pi_lb, pi_ub))
            ci_lb, ci_ub = np.minimum(ci_lb, ci_ub), np.maximum(ci_lb, ci_ub)
            pi_lb, pi_ub = np.minimum(pi_lb, pi_ub), np.maximum(pi_lb, pi_ub)
            se = np.full_like(se, np.nan)
        one = len(pred) == 1
        pick = (lambda a: float(a[0])) if one else (lambda a: np.asarray(a, dtype=float))
        return PredictResult(pick(pred), pick(se), pick(ci_lb), pick(ci_ub), pick(pi_lb), pick(pi_ub),
                             level, transf is not None)

    def _new_design(self, newmods, intercept):
        if newmods is None:
            return np.ones((1, 1)) if self.int_only else self.X.to_numpy(dtype=float)
        if self.design_info is not None and isinstance(newmods, (pd.DataFrame, dict)):
            design, kept = self.design_info
            return design.new(pd.DataFrame(newmods))[:, kept]
        M = np.asarray(newmods, dtype=float)
        n_mods = self.p - 1 if self.intercept else self.p
        if M.ndim <= 1:
            M = M.reshape(-1, n_mods) if n_mods > 0 else M.reshape(-1, 0)
        if M.shape[1] != n_mods:
            raise ValueError(f"newmods needs {n_mods} moderator column(s); got {M.shape[1]}")
        if self.intercept:
            col = np.ones((M.shape[0], 1)) if intercept else np.zeros((M.shape[0], 1))
            M = np.hstack([col, M])
        return M

    # ----------------------------------------------------------------- confint
    def confint(self, level=None, control=None, type: str = "QP") -> pd.DataFrame:
        """Confidence intervals for tau2, tau, I2 (%) and H2 (metafor ``confint``).

        ``type="QP"`` (default): Q-profile; the bounds solve ``Q(tau2) = chi2_{k-p}`` quantiles,
        where ``Q(tau2)`` is the generalised Q statistic with weights ``1/(v + tau2)``
        (Viechtbauer 2007). ``type="PL"`` (ML and REML fits): profile likelihood; the bounds are
        where the (restricted) log-likelihood is ``qchisq(level, 1)/2`` below its maximum,
        searched between ``tau2_min`` and the estimate and between the estimate and ``tau2_max``.
        Both search on ``[0, max(100, 10 tau2)]`` with R's ``uniroot`` (tolerance
        ``.Machine$double.eps^0.25`` unless ``control={"tol": ...}``).
        """
        if self.method in ("EE", "FE"):
            raise ValueError("the model has no random-effects component (method EE/FE)")
        if self.k == 1:
            raise ValueError("cannot compute a confidence interval for tau2 with k = 1")
        level = self.level if level is None else _data.level_percent(level)
        con = {"tol": EPS**0.25, "maxiter": 1000, "tau2_min": min(0.0, self.tau2),
               "tau2_max": max(100.0, 10 * self.tau2)}
        con.update(control or {})
        type = str(type).upper()
        if type == "PL":
            lb, ub = self._pl_bounds(level, con)
        elif type == "QP":
            lb, ub = q_profile(self.yi, self.vi, self.X.to_numpy(dtype=float), level, **con)
        else:
            raise ValueError(f"type must be 'QP' or 'PL'; got {type!r}")
        vt = self.vt
        rows = {
            "tau2": (self.tau2, lb, ub),
            "tau": tuple(np.sqrt(x) if x >= 0 else np.nan for x in (self.tau2, lb, ub)),
            "I2": (self.I2, 100 * lb / (vt + lb), 100 * ub / (vt + ub)),
            "H2": (self.H2, lb / vt + 1, ub / vt + 1),
        }
        return pd.DataFrame(rows, index=["estimate", "ci_lb", "ci_ub"]).T

    def _pl_bounds(self, level, con):
        """Profile-likelihood bounds of tau2 (metafor ``confint(type = "PL")``)."""
        from peertrial.meta._core import _loglik

        if self.method not in ("ML", "REML"):
            raise ValueError("profile-likelihood intervals need method='ML' or 'REML'")
        if self.tau2_fixed is not None:
            raise ValueError("tau2 is fixed in this model; there is no interval to profile")
        Y = (self.yi - self.yi.mean())[None, :]
        V = self.vi[None, :]
        X = self.X.to_numpy(dtype=float)[None]
        valid = np.ones_like(Y, dtype=bool)
        crit = stats.chi2.ppf(level / 100, 1) / 2

        def ll(t):
            return float(_loglik(self.method, np.array([t], dtype=float), Y, V, X, valid, self.p)[0])

        target = ll(self.tau2) - crit

        def f(t):
            return ll(t) - target

        lo, hi = float(con["tau2_min"]), float(con["tau2_max"])
        if f(lo) > 0:
            lb = lo
        else:
            r, ok = zeroin_scalar(f, lo, self.tau2, f(lo), f(self.tau2), con["tol"], con["maxiter"])
            lb = float(r) if ok else np.nan
        if f(hi) > 0:
            ub = hi
        else:
            r, ok = zeroin_scalar(f, self.tau2, hi, f(self.tau2), f(hi), con["tol"], con["maxiter"])
            ub = float(r) if ok else np.nan
        return lb, ub

    # ----------------------------------------------------------------- output
    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: estimate, se, statistic (z, or t with knha), df (knha), pval, ci_lb, ci_ub."""
        names = list(self.X.columns)
        frame = pd.DataFrame(
            {
                "estimate": self.beta,
                "se": np.atleast_1d(np.asarray(self.se, dtype=float)),
                "statistic": np.atleast_1d(np.asarray(self.zval, dtype=float)),
                "pval": np.atleast_1d(np.asarray(self.pval, dtype=float)),
                "ci_lb": np.atleast_1d(np.asarray(self.ci_lb, dtype=float)),
                "ci_ub": np.atleast_1d(np.asarray(self.ci_ub, dtype=float)),
            },
            index=pd.Index(names, name="term"),
        )
        if self.test == "knha":
            frame.insert(3, "df", self.dfs)
        return frame

    def summary(self, digits: int = 4) -> str:
        """Text in the layout of metafor's ``print.rma.uni``."""
        f = lambda x: format_number(x, digits)  # noqa: E731
        fe = self.method in ("EE", "FE")
        mixed = not self.int_only
        if fe:
            title = f"{_MODEL_NAMES[self.method]} (k = {self.k})"
        else:
            kind = "Mixed-Effects Model" if mixed else "Random-Effects Model"
            title = f"{kind} (k = {self.k}; tau^2 estimator: {self.method})"
        lines = [title, ""]
        if not self.converged:
            lines += [f"WARNING: tau^2 estimation did not converge ({self.iterations} iterations).", ""]
        if self.note:
            lines += [f"Note: {self.note}.", ""]
        if self.omitted:
            lines += [f"Studies omitted for missing values: {', '.join(self.omitted)}", ""]
        het = []
        if not fe:
            what = "residual" if mixed else "total"
            se_txt = f" (SE = {f(self.se_tau2)})" if np.isfinite(self.se_tau2) else ""
            het.append((f"tau^2 (estimated amount of {what} heterogeneity):", f"{f(self.tau2)}{se_txt}"))
            het.append(("tau (square root of estimated tau^2 value):", f(np.sqrt(self.tau2))))
        if self.k > self.p:
            i2_what = ("residual heterogeneity / unaccounted variability" if mixed
                       else "total heterogeneity / total variability")
            h2_what = ("unaccounted variability / sampling variability" if mixed
                       else "total variability / sampling variability")
            het.append((f"I^2 ({i2_what}):", f"{self.I2:.2f}%"))
            het.append((f"H^2 ({h2_what}):", f"{self.H2:.2f}"))
        if mixed and not np.isnan(self.R2):
            het.append(("R^2 (amount of heterogeneity accounted for):", f"{self.R2:.2f}%"))
        width = max((len(a) for a, _ in het), default=0)
        lines += [f"{a.ljust(width)} {b}" for a, b in het]
        lines.append("")
        if self.k > 1:
            qname = "QE" if mixed else "Q"
            head = "Test for Residual Heterogeneity:" if mixed else "Test for Heterogeneity:"
            lines += [head, f"{qname}(df = {self.k - self.p}) = {f(self.QE)}, p-val {_pv(self.QEp, digits)}", ""]
        if mixed:
            btt = [c for c in self.X.columns if c != "intrcpt"] if self.intercept else list(self.X.columns)
            idx = [list(self.X.columns).index(c) + 1 for c in btt]
            which = f"coefficient{'s' if len(idx) > 1 else ''} {_ranges(idx)}"
            lines.append(f"Test of Moderators ({which}):")
            if self.test == "knha":
                lines.append(f"F(df1 = {len(btt)}, df2 = {int(self.dfs)}) = {f(self.QM)}, p-val {_pv(self.QMp, digits)}")
            else:
                lines.append(f"QM(df = {len(btt)}) = {f(self.QM)}, p-val {_pv(self.QMp, digits)}")
            lines.append("")
        lines += ["Model Results:", ""]
        table = self.to_frame().rename(columns={"statistic": "tval" if self.test == "knha" else "zval"})
        table = table.rename(columns={"ci_lb": "ci.lb", "ci_ub": "ci.ub"})
        cells = [[str(i)] + [_cell(c, v, digits) for c, v in row.items()] + [_stars(row["pval"])]
                 for i, row in table.iterrows()]
        header = [""] + list(table.columns) + [""]
        widths = [max(len(r[j]) for r in [header, *cells]) for j in range(len(header))]
        for r in [header, *cells]:
            parts = [r[j].rjust(widths[j]) for j in range(1, len(r))]
            prefix = r[0].ljust(widths[0]) + " " if mixed else ""
            lines.append((prefix + " ".join(parts)).rstrip())
        lines += ["", "---", "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"]
        return "\n".join(lines)


def _cell(col, v, digits):
    if col == "pval":
        return format_pval(v, digits)
    if col == "df":
        return f"{v:g}"
    return format_number(v, digits)


def _stars(p):
    if not np.isfinite(p):
        return ""
    for cut, s in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return s
    return ""


def _pv(p, digits):
    s = format_pval(p, digits)
    return f"< {s[1:]}" if s.startswith("<") else f"= {s}"


def _ranges(idx):
    if len(idx) > 1 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{idx[0]}:{idx[-1]}"
    return ",".join(str(i) for i in idx)


def q_profile(yi, vi, X, level=95.0, tol=EPS**0.25, maxiter=1000, tau2_min=0.0, tau2_max=100.0):
    """Q-profile CI bounds ``(lb, ub)`` for tau2 (metafor ``confint.rma.uni``, type "QP")."""
    Y = np.asarray(yi, dtype=float)[None, :]
    V = np.asarray(vi, dtype=float)[None, :]
    Xb = np.asarray(X, dtype=float)[None]
    valid = np.ones_like(Y, dtype=bool)
    k, p = X.shape
    alpha = 1 - level / 100
    crit_u = stats.chi2.isf(alpha / 2, k - p)
    crit_l = stats.chi2.ppf(alpha / 2, k - p)

    def Q(t):
        return float(_qe(np.array([t], dtype=float), Y, V, Xb, valid)[0])

    def root(target):
        r, ok = zeroin_scalar(lambda x: Q(x) - target, tau2_min, tau2_max, Q(tau2_min) - target,
                              Q(tau2_max) - target, tol, maxiter)
        return float(r) if ok else np.nan

    q_max, q_min = Q(tau2_max), Q(tau2_min)
    if q_min < crit_l:
        lb = ub = tau2_min
    else:
        ub = tau2_max if q_max > crit_l else root(crit_l)
        lb = None
    if q_max > crit_u:
        lb = ub = tau2_max
    elif lb is None:
        lb = tau2_min if q_min < crit_u else root(crit_u)
    return lb, ub


# --------------------------------------------------------------------- batch
@dataclass(frozen=True, eq=False)
class BatchResult(Result):
    """Many meta-analyses fitted at once: arrays with one entry (row) per analysis.

    Returned by :func:`rma_batch`. Coefficient arrays have shape ``(B,)`` for intercept-only
    models, else ``(B, p)``; the others ``(B,)``.

    Attributes
    ----------
    b, se, zval, pval, ci_lb, ci_ub : numpy.ndarray
        Coefficients, SEs, test statistics (t with ``"knha"``), p-values and limits.
    tau2, se_tau2 : numpy.ndarray
        Between-study variance and its SE per analysis.
    I2, H2 : numpy.ndarray
        Heterogeneity in percent and as a ratio.
    QE, QEp : numpy.ndarray
        Heterogeneity test and its p-value.
    QM, QMp : numpy.ndarray
        Omnibus test of the moderators and its p-value.
    k : numpy.ndarray
        Number of studies used per analysis.
    dfs : numpy.ndarray
        Degrees of freedom with ``"knha"`` (NaN for z tests).
    converged : numpy.ndarray of bool
        Whether each fit converged.
    reason : numpy.ndarray of str
        Empty, or why an analysis is NaN or came from the bracketed search.
    method : str
        The tau^2 estimator.
    test : str
        ``"z"`` or ``"knha"``.
    names : list of str
        Coefficient names (``"intrcpt"`` or ``"X0"``, ``"X1"``, ...).

    Notes
    -----
    R equivalent: none as one object; each row equals ``metafor::rma`` (metafor 3.8-1) on that
    analysis's studies.

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.

    Examples
    --------
    >>> yi = np.array([[0.1, 0.3, 0.5, 0.2], [0.4, -0.1, 0.2, np.nan]])
    >>> vi = np.array([[0.01, 0.02, 0.02, 0.03], [0.02, 0.01, 0.03, np.nan]])
    >>> batch = pt.meta.rma_batch(yi, vi)
    >>> batch.b.round(4).tolist(), batch.k.tolist(), batch.converged.tolist()
    ([0.2628, 0.1516], [4, 3], [True, True])
    """

    b: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    tau2: np.ndarray
    se_tau2: np.ndarray
    I2: np.ndarray
    H2: np.ndarray
    QE: np.ndarray
    QEp: np.ndarray
    QM: np.ndarray
    QMp: np.ndarray
    k: np.ndarray
    dfs: np.ndarray
    converged: np.ndarray
    reason: np.ndarray
    method: str
    test: str
    names: list

    def to_frame(self) -> pd.DataFrame:
        """One row per meta-analysis (first coefficient's estimate columns when p > 1)."""
        sel = (lambda a: a) if self.b.ndim == 1 else (lambda a: a[:, 0])
        return pd.DataFrame({
            "k": self.k, "estimate": sel(self.b), "se": sel(self.se), "statistic": sel(self.zval),
            "pval": sel(self.pval), "ci_lb": sel(self.ci_lb), "ci_ub": sel(self.ci_ub),
            "tau2": self.tau2, "se_tau2": self.se_tau2, "I2": self.I2, "H2": self.H2,
            "QE": self.QE, "QEp": self.QEp, "dfs": self.dfs, "converged": self.converged,
            "reason": self.reason,
        })

    def summary(self, digits: int = 4) -> str:
        n = len(self.tau2)
        ok = int((self.reason == "").sum())
        return (f"{n} meta-analyses fitted ({self.method}, test = {self.test}); {ok} without issues, "
                f"{int((~self.converged).sum())} not converged")


def rma_batch(yi, vi, *, method="REML", test="z", mods=None, weights=None, level=95, control=None) -> BatchResult:
    """Fit many meta-analyses at once (one per row), each identical to :func:`rma` on its studies.

    Rows that cannot be fitted (k = 0, k < p, non-positive variance) are NaN with ``reason``
    set; rows where Fisher scoring does not converge get the maximum from a bracketed search
    (``reason`` says so) and a ``ConvergenceWarning`` is issued.

    Parameters
    ----------
    yi, vi : array-like, shape (B, k)
        Effect sizes and sampling variances, one row per meta-analysis, padded with NaN where
        an analysis has fewer studies (a 1-D array is one analysis).
    method : str
        tau^2 estimator, as :func:`rma` (default ``"REML"``).
    test : {"z", "knha"}
        Normal (default) or Knapp–Hartung t tests and intervals.
    mods : array-like, optional
        ``None`` (intercept only), a ``(k, p)`` design shared by all rows or ``(B, k, p)``,
        including the intercept column.
    weights : array-like, optional
        User weights, shape ``(B, k)``.
    level : float
        Confidence level, 95 or 0.95 alike (default 95).
    control : dict, optional
        Iteration settings, as :func:`rma`.

    Returns
    -------
    BatchResult
        Arrays with one entry per analysis (``b``, ``se``, ``tau2``, ``QE``, ...);
        ``to_frame()`` gives one row per analysis.

    Raises
    ------
    ValueError
        When ``yi`` and ``vi`` differ in shape, or for an unknown ``method``/``test``.

    Notes
    -----
    R equivalent: none as one call; each row equals ``metafor::rma`` (metafor 3.8-1), as a loop
    over ``rma`` would give (the fits share one batched core, ``_core.fit_core``).

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators
       in the random-effects model. Journal of Educational and Behavioral Statistics, 30(3), 261-293.

    Examples
    --------
    >>> yi = np.array([[0.1, 0.3, 0.5, 0.2], [0.4, -0.1, 0.2, np.nan]])
    >>> vi = np.array([[0.01, 0.02, 0.02, 0.03], [0.02, 0.01, 0.03, np.nan]])
    >>> batch = pt.meta.rma_batch(yi, vi, method="REML")
    >>> batch.tau2.round(4).tolist()
    [0.016, 0.0537]
    >>> round(pt.meta.rma(yi[1, :3], vi[1, :3]).tau2, 4)   # the same as one fit
    0.0537
    """
    level = _data.level_percent(level)
    method, test = _check_method_test(method, test)
    Y = np.atleast_2d(np.asarray(yi, dtype=float))
    V = np.atleast_2d(np.asarray(vi, dtype=float))
    if Y.shape != V.shape:
        raise ValueError(f"yi has shape {Y.shape} but vi has {V.shape}")
    B, K = Y.shape
    if mods is None:
        X = np.ones((K, 1))
        names = ["intrcpt"]
    else:
        X = np.asarray(mods, dtype=float)
        names = [f"X{j}" for j in range(X.shape[-1])]
    A = None if weights is None else np.atleast_2d(np.asarray(weights, dtype=float))
    ctrl = Control.from_any(control)
    core = fit_core(Y, V, X, method=method, test=test, A=A, level=level, control=ctrl)
    bad_conv = ~core.converged & (core.reason == "")
    reason = core.reason.copy()
    reason[bad_conv] = "did not converge"
    if bad_conv.any():
        warnings.warn(f"{int(bad_conv.sum())} of {B} fits did not converge", ConvergenceWarning, stacklevel=2)
    fallback = np.array([a not in ("", "Fisher scoring", "fixed") for a in core.algorithm])
    if fallback.any():
        warnings.warn(f"Fisher scoring did not converge in {int(fallback.sum())} of {B} fits; their tau2 is the "
                      "maximum found by a bracketed search (see reason)", ConvergenceWarning, stacklevel=2)
    sq = (lambda a: a[:, 0]) if core.b.shape[1] == 1 else (lambda a: a)
    return BatchResult(
        b=sq(core.b), se=sq(core.se), zval=sq(core.zval), pval=sq(core.pval), ci_lb=sq(core.ci_lb),
        ci_ub=sq(core.ci_ub), tau2=core.tau2, se_tau2=core.se_tau2, I2=core.I2, H2=core.H2, QE=core.QE,
        QEp=core.QEp, QM=core.QM, QMp=core.QMp, k=core.k, dfs=core.dfs, converged=core.converged,
        reason=reason, method=method, test=test, names=names,
    )
