"""Leave-one-out, influence diagnostics and cumulative meta-analysis, as metafor 3.8.

All deleted (or cumulative) fits are computed in one call of the batch core: row
``i`` of the batch is the meta-analysis with study ``i`` masked out (or with the
first ``i`` studies only), refitted with the fit's tau² estimator, test and level.

Baujat et al. (2002) coordinates (metafor ``baujat``): ``x = (yi - xi'b)^2 / (vi + tau2)``
(contribution to heterogeneity) and ``y = (xi'b(i) - xi'b)^2 / Var(xi'b(i))`` (influence
on the result).

Influence measures (Viechtbauer & Cheung 2010; metafor ``influence.rma.uni``), with
``(i)`` marking the fit without study ``i`` and ``W = diag(1/(vi + tau2))``:

- ``rstudent = (yi - xi'b(i)) / sqrt(vi s2w(i) + xi' Var b(i) xi + tau2(i) s2w(i))``
  (``s2w`` is the Knapp–Hartung scale, 1 for z tests);
- ``hat`` = diagonal of ``X (X'WX)^-1 X'W``; ``weight = 100 wi / sum w``;
- ``dffits = (xi'b - xi'b(i)) / sqrt(s2w(i) hat_i (tau2(i) + vi))``;
- ``dfbs = (b - b(i)) / sqrt(s2w(i) diag((X' W(i) X)^-1))`` with ``W(i)`` using ``tau2(i)``
  on all k studies;
- ``cook_d = (b - b(i))' Var(b)^-1 (b - b(i))``; ``cov_r = det Var b(i) / det Var b``;
- a study is flagged (``inf``) when ``|dffits| > 3 sqrt(p/(k-p))``, or
  ``P(chi2_p <= cook_d) > 0.5``, or ``hat > 3p/k``, or any ``|dfbs| > 1``.

Mantel–Haenszel and Peto fits (``rma_mh``, ``rma_peto``), as metafor's ``rma.mh`` /
``rma.peto`` methods: ``leave1out``, ``cumul`` and ``baujat`` refit the same
Mantel–Haenszel / Peto analysis on the selected tables (no ``tau2`` column: these are
equal-effects models); Baujat's ``x`` uses the study estimates the fit's Q uses, so
double-zero tables (no estimate) get ``x = NaN``. ``influence`` has no method for them
in metafor and raises.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._warnings import ConvergenceWarning, PeertrialWarning, relayed
from peertrial.meta._core import fit_core
from peertrial.meta.bias import _is_fit, fit_arrays, no_user_weights

stats = lazy_module("scipy.stats")

__all__ = ["leave1out", "influence", "cumul", "baujat"]

_COLUMNS = ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "QE", "QEp", "tau2", "I2", "H2"]


def _is_mh(fit) -> bool:
    from peertrial.meta.mh import MHResult

    return isinstance(fit, MHResult)


_MH_COLUMNS = [c for c in _COLUMNS if c != "tau2"]


def _mh_batch(fit, masks, labels, what) -> pd.DataFrame:
    """Refit a Mantel–Haenszel / Peto fit on each row of ``masks`` (NaN where the
    refit cannot be computed, as metafor's ``try``, with one warning naming those rows).
    ``what(label)`` says which refit a relayed warning comes from."""
    rows, failed = [], np.zeros(len(labels), dtype=bool)
    for i, (m, label) in enumerate(zip(masks, labels)):
        with relayed(what(label)):
            r = fit.refit(m)
        failed[i] = r is None
        rows.append([np.nan] * len(_MH_COLUMNS) if r is None else
                    [r.b, r.se, r.zval, r.pval, r.ci_lb, r.ci_ub, r.QE, r.QEp, r.I2, r.H2])
    if failed.any():
        warnings.warn(f"the {fit.method} estimate cannot be computed for {_data.row_labels(labels, failed)} "
                      "(e.g. no events in the tables used); those rows are NA, as metafor's",
                      PeertrialWarning, stacklevel=_data.user_stacklevel())
    return pd.DataFrame(rows, columns=_MH_COLUMNS, index=pd.Index(labels, name="study"), dtype=float)


def _require_fit(fit, what):
    if not _is_fit(fit):
        raise ValueError(f"{what} takes an rma fit (pt.meta.rma(...))")
    a = fit_arrays(fit)
    no_user_weights(a, what)
    if a["yi"].size < 2:
        raise ValueError(f"{what} needs at least 2 studies (k = {a['yi'].size})")
    return a


def _batch(a, valid, labels=None, what="refit"):
    """All fits of ``valid`` (rows = masks over the studies) in one core call.

    Fits whose tau² iteration did not converge are kept (as metafor does) but
    reported with a ``ConvergenceWarning`` naming them by ``labels``."""
    shape = valid.shape
    Y, V = np.broadcast_to(a["yi"], shape), np.broadcast_to(a["vi"], shape)  # fit_core only reads them
    f = fit_core(Y, V, a["X"], valid=valid, method=a["method"], test=a["test"], level=a["level"], control=a["control"])
    bad = ~np.asarray(f.converged, dtype=bool) & ~np.isnan(f.tau2)
    if labels is not None and bad.any():
        warnings.warn(
            f"{a['method']} estimation of tau2 did not converge in the {what} for {_data.row_labels(labels, bad)}; "
            "results are from the last iterate",
            ConvergenceWarning,
            stacklevel=3,
        )
    return f


def _frame(f, index) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "estimate": f.b[:, 0], "se": f.se[:, 0], "zval": f.zval[:, 0], "pval": f.pval[:, 0],
            "ci_lb": f.ci_lb[:, 0], "ci_ub": f.ci_ub[:, 0], "QE": f.QE, "QEp": f.QEp, "tau2": f.tau2,
            "I2": f.I2, "H2": f.H2,
        },
        index=pd.Index(index, name="study"),
    )


def leave1out(fit) -> pd.DataFrame:
    """The model refitted k times, each time without one study (metafor ``leave1out``).

    One row per omitted study (indexed by its label): ``estimate, se, zval, pval,
    ci_lb, ci_ub, QE, QEp, tau2, I2, H2``. With ``test="knha"`` ``zval`` holds t.
    For a Mantel–Haenszel or Peto fit each row is that method refitted without the
    study (metafor ``leave1out.rma.mh`` / ``leave1out.rma.peto``; no ``tau2`` column).

    Parameters
    ----------
    fit : RMAResult or MHResult
        The fitted model; each study is left out in turn and the model refitted with the
        same settings.

    Returns
    -------
    pandas.DataFrame
        One row per omitted study: ``estimate, se, zval, pval, ci_lb, ci_ub, QE, QEp, tau2,
        I2, H2``.

    Notes
    -----
    R equivalent: ``metafor::leave1out`` (metafor 3.8-1).

    References
    ----------
    .. [1] Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
       meta-analysis. Research Synthesis Methods, 1, 112-125.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, method="REML")
    >>> loo = pt.meta.leave1out(fit)
    >>> loo.shape
    (13, 11)
    >>> loo["estimate"].round(4).head(2).tolist()
    [-0.7071, -0.654]
    """
    if _is_mh(fit):
        k = len(fit.slab)
        if k < 2:
            raise ValueError(f"leave1out needs at least 2 studies (k = {k})")
        return _mh_batch(fit, ~np.eye(k, dtype=bool), [str(s) for s in fit.slab], "leave1out without {}".format)
    a = _require_fit(fit, "leave1out")
    if a["X"].shape[1] != 1:
        raise ValueError("leave1out applies only to models without moderators")
    k = a["yi"].size
    f = _batch(a, ~np.eye(k, dtype=bool), labels=a["slab"], what="fit without study")
    return _frame(f, a["slab"])


def cumul(fit, order=None, decreasing: bool = False, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cumulative meta-analysis: studies added one at a time (metafor ``cumul``).

    ``order``: sort keys, one per study of the fit (e.g. publication year; ties keep
    the data order), or a column name of the fit's data (``fit.data``, the rows the
    fit used; or of ``data``, the DataFrame the fit was made from, whose rows the fit
    omitted are skipped); ``None`` keeps the data order. One row per step, indexed by
    the label of the study added, with ``k`` and the columns of :func:`leave1out`.
    A Mantel–Haenszel or Peto fit is refitted with its own method at every step
    (metafor ``cumul.rma.mh`` / ``cumul.rma.peto``).

    Parameters
    ----------
    fit : RMAResult or MHResult
        The fitted model.
    order : str or array-like, optional
        Column of ``fit.data`` (or values) giving the order in which studies are added.
    decreasing : bool
        Add studies in decreasing order of ``order`` (default False).
    data : pandas.DataFrame, optional
        Where ``order`` is looked up, when the fit kept no data.

    Returns
    -------
    pandas.DataFrame
        One row per step: ``estimate, se, ci_lb, ci_ub, tau2, I2`` and more.

    Notes
    -----
    R equivalent: ``metafor::cumul`` (metafor 3.8-1).

    References
    ----------
    .. [1] Lau, J., Schmid, C. H., & Chalmers, T. C. (1995). Cumulative meta-analysis of
       clinical trials builds evidence for exemplary medical care. Journal of Clinical
       Epidemiology, 48, 45-57.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, method="REML")
    >>> steps = pt.meta.cumul(fit, order="year")
    >>> len(steps)
    13
    """
    if _is_mh(fit):
        k = len(fit.slab)
        perm = np.arange(k) if order is None else _order_perm(fit, order, k, data, decreasing)
        masks = np.zeros((k, k), dtype=bool)
        for step in range(k):
            masks[step, perm[: step + 1]] = True
        out = _mh_batch(fit, masks, [str(fit.slab[i]) for i in perm], "cumul up to {}".format)
        out.insert(0, "k", np.arange(1, k + 1))
        return out
    a = _require_fit(fit, "cumul")
    if a["X"].shape[1] != 1:
        raise ValueError("cumul applies only to models without moderators")
    k = a["yi"].size
    perm = np.arange(k) if order is None else _order_perm(fit, order, k, data, decreasing)
    b = dict(a)
    b["yi"], b["vi"], b["X"] = a["yi"][perm], a["vi"][perm], a["X"][perm]
    order_labels = [a["slab"][i] for i in perm]
    f = _batch(b, np.tril(np.ones((k, k), dtype=bool)), labels=order_labels, what="cumulative fit up to study")
    out = _frame(f, order_labels)
    out.insert(0, "k", np.arange(1, k + 1))
    return out


def _order_perm(fit, order, k, data, decreasing):
    keys = _order_keys(fit, order, k, data)
    ranked = pd.Series(keys).sort_values(ascending=not decreasing, kind="stable")
    return ranked.index.to_numpy()


def _order_keys(fit, order, k, data):
    if isinstance(order, str) and data is None and getattr(fit, "data", None) is not None:
        data = fit.data
    if isinstance(order, str):
        if data is None or order not in data.columns:
            raise ValueError(f"order={order!r} names a column: fit the model with data= (or pass data=)")
        keys = data[order]
        omitted = [str(x) for x in (getattr(fit, "omitted", None) or [])]
        if len(keys) != k and omitted:
            keys = keys[~pd.Index([str(x) for x in keys.index]).isin(omitted)]
        keys = keys.to_numpy()
    else:
        keys = np.asarray(order)
    if keys.shape != (k,):
        raise ValueError(f"order has {keys.size} values but the fit has {k} studies")
    if keys.dtype.kind in "fiub" and np.isnan(keys.astype(float)).any():
        raise ValueError("order has missing values")
    return keys


def influence(fit) -> pd.DataFrame:
    """Case-deletion diagnostics of an ``rma`` fit (metafor ``influence``).

    One row per study: ``rstudent, dffits, cook_d, cov_r, tau2_del, QE_del, hat,
    weight, inf`` (bool: flagged as influential by metafor's rules) and one
    ``dfbs_<coef>`` column per coefficient (``dfbs`` for an intercept-only model).
    Works with moderators. Not available for Mantel–Haenszel or Peto fits (metafor
    has no ``influence`` method for ``rma.mh`` / ``rma.peto``): refit with ``rma``.

    Parameters
    ----------
    fit : RMAResult
        The fitted model.

    Returns
    -------
    pandas.DataFrame
        One row per study: ``rstudent, dffits, cook_d, cov_r, tau2_del, QE_del, hat, weight``
        and ``inf`` (True where metafor marks the study influential).

    Notes
    -----
    R equivalent: ``metafor::influence.rma.uni`` (metafor 3.8-1).

    References
    ----------
    .. [1] Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
       meta-analysis. Research Synthesis Methods, 1, 112-125.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> fit = pt.meta.rma("yi", "vi", data=es, method="REML")
    >>> inf = pt.meta.influence(fit)
    >>> len(inf), "cook_d" in inf.columns
    (13, True)
    """
    if _is_mh(fit):
        name = "rma_peto" if fit.method == "PETO" else "rma_mh"
        raise ValueError(
            f"influence is not available for {name} fits (metafor has no influence method for "
            f"rma.{'peto' if fit.method == 'PETO' else 'mh'}); for case diagnostics fit the study estimates with "
            "pt.meta.rma(yi, vi, data=escalc(...), method='EE')"
        )
    a = _require_fit(fit, "influence")
    yi, vi, X = a["yi"], a["vi"], a["X"]
    k, p = X.shape
    full = _batch(a, np.ones((1, k), dtype=bool))
    dele = _batch(a, ~np.eye(k, dtype=bool), labels=a["slab"], what="fit without study")
    b, vb, tau2 = full.b[0], full.vb[0], float(full.tau2[0])
    w = 1 / (vi + tau2)
    XtWX_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    hat = np.einsum("ij,jk,ik->i", X, XtWX_inv, X) * w
    weight = 100 * w / w.sum()
    b_del, vb_del, tau2_del, s2w_del = dele.b, dele.vb, dele.tau2, dele.s2w
    delpred = np.einsum("ij,ij->i", X, b_del)
    vdelpred = np.einsum("ij,ijk,ik->i", X, vb_del, X)
    pred_full = X @ b
    resid = yi - delpred
    resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
    rstudent = resid / np.sqrt(vi * s2w_del + vdelpred + tau2_del * s2w_del)
    dffits = (pred_full - delpred) / np.sqrt(s2w_del * hat * (tau2_del + vi))
    # Var of b with every study but tau2 from the deleted fit (metafor's vb.del)
    Wd = 1 / (vi[None, :] + tau2_del[:, None])
    vb_all = np.linalg.inv(np.einsum("ki,bk,kj->bij", X, Wd, X))
    dfb = b[None, :] - b_del
    dfbs = dfb / np.sqrt(s2w_del[:, None] * np.einsum("bii->bi", vb_all))
    cook_d = np.einsum("bi,ij,bj->b", dfb, np.linalg.inv(vb), dfb)
    cov_r = np.linalg.det(vb_del) / np.linalg.det(vb)
    with np.errstate(invalid="ignore", divide="ignore"):
        flag = (
            (np.abs(dffits) > 3 * np.sqrt(p / (k - p)))
            | (stats.chi2.cdf(cook_d, p) > 0.5)
            | (hat > 3 * p / k)
            | (np.abs(dfbs) > 1).any(axis=1)
        )
    out = pd.DataFrame(
        {"rstudent": rstudent, "dffits": dffits, "cook_d": cook_d, "cov_r": cov_r, "tau2_del": tau2_del,
         "QE_del": dele.QE, "hat": hat, "weight": weight, "inf": flag},
        index=pd.Index(a["slab"], name="study"),
    )
    for j, nm in enumerate(a["names"]):
        out["dfbs" if p == 1 else f"dfbs_{nm}"] = dfbs[:, j]
    return out


def baujat(fit) -> pd.DataFrame:
    """Baujat plot coordinates: each study's contribution to heterogeneity and its influence on the fit.

    Draw them with :func:`peertrial.plot.baujat_plot`.

    Parameters
    ----------
    fit : RMAResult or MHResult
        A fitted model with at least 2 studies. A Mantel–Haenszel or Peto fit is refitted
        with its own method without each study (as metafor's ``baujat``).

    Returns
    -------
    pandas.DataFrame
        Index ``study`` (the fit's labels); ``x``, the squared Pearson residual
        (yi - fitted)^2 / (vi + tau2) (each study's contribution to Q), and ``y``, the
        squared change of the fitted value when the study is left out, divided by the
        variance of that leave-one-out fitted value.

    Raises
    ------
    ValueError
        When ``fit`` is not a meta-analytic fit, or has fewer than 2 studies.

    Notes
    -----
    R equivalent: ``metafor::baujat`` (metafor 3.8-1; its ``x``/``y`` coordinates).

    References
    ----------
    .. [1] Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for
       exploring heterogeneity in meta-analyses: application to a meta-analysis of 65 trials.
       Statistics in Medicine, 21, 2641-2652.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> coords = pt.meta.baujat(pt.meta.rma("yi", "vi", data=es))
    >>> coords["x"].round(4).tolist()[:3], coords["y"].round(4).tolist()[:3]
    ([0.0478, 1.4934, 0.5509], [0.0015, 0.1121, 0.0243])
    """
    if _is_mh(fit):
        k = len(fit.slab)
        if k < 2:
            raise ValueError(f"baujat needs at least 2 studies (k = {k})")
        dele = _mh_batch(fit, ~np.eye(k, dtype=bool), [str(s) for s in fit.slab], "baujat without {}".format)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = (np.asarray(fit.yi, float) - fit.b) ** 2 / np.asarray(fit.vi, float)
            y = (dele["estimate"].to_numpy() - fit.b) ** 2 / dele["se"].to_numpy() ** 2
        return pd.DataFrame({"x": x, "y": y}, index=pd.Index([str(s) for s in fit.slab], name="study"))
    a = _require_fit(fit, "baujat")
    yi, vi, X = a["yi"], a["vi"], a["X"]
    k = yi.size
    full = _batch(a, np.ones((1, k), dtype=bool))
    dele = _batch(a, ~np.eye(k, dtype=bool))
    pred_full = X @ full.b[0]
    delpred = np.einsum("ij,ij->i", X, dele.b)
    vdelpred = np.einsum("ij,ijk,ik->i", X, dele.vb, X)
    x = (yi - pred_full) ** 2 / (float(full.tau2[0]) + vi)
    y = (delpred - pred_full) ** 2 / vdelpred
    return pd.DataFrame({"x": x, "y": y}, index=pd.Index(a["slab"], name="study"))
