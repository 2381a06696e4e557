"""Subgroup analysis: one pooled fit per subgroup and two tests of subgroup differences.

- Per subgroup, ``rma`` with the chosen tau² estimator and test (separate tau² per
  subgroup, as RevMan and metafor's ``subset=`` fits).
- **Q-between** (fixed-effect test of the subgroup estimates, Borenstein et al. 2009,
  ch. 19; metafor: ``rma(estimates, sei=ses, method="EE")``):
  ``Qb = sum_g (b_g - b_bar)^2 / se_g^2`` with ``b_bar`` their inverse-variance mean,
  on ``G - 1`` degrees of freedom.
- **Moderator test**: the mixed-effects model with the subgroup as a categorical
  moderator (treatment coding, first level = reference, one common tau²), whose
  omnibus ``QM`` (chi² on ``G - 1`` df, or F on ``(G - 1, k - G)`` with Knapp–Hartung)
  is metafor's ``rma(yi, vi, mods = ~ factor(group))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_pval, format_table
from peertrial._warnings import relayed
from peertrial.meta.bias import _is_fit, fit_arrays, no_user_weights

stats = lazy_module("scipy.stats")

__all__ = ["subgroup", "SubgroupResult"]


@dataclass(frozen=True, eq=False)
class SubgroupResult(Result):
    """Pooled estimate per subgroup with the test for subgroup differences and the moderator model.

    Returned by :func:`subgroup`.

    Attributes
    ----------
    groups : pandas.DataFrame
        One row per subgroup (sorted labels): ``k, estimate, se, zval, pval, ci_lb, ci_ub,
        tau2, I2, QE, QEp`` (the last two: within-subgroup heterogeneity test).
    Qb, Qb_df, Qb_pval : float, int, float
        Test for subgroup differences: fixed-effect Q-between on the subgroup estimates, its
        df (subgroups - 1) and p-value.
    QM, QMp : float
        Omnibus test of the subgroup moderator in one meta-regression (an F statistic with
        ``"knha"``); NaN for Mantel–Haenszel/Peto fits.
    QM_df : tuple
        Its degrees of freedom: ``(df,)`` for a chi-square test, ``(df1, df2)`` with ``"knha"``.
    QE, QEp : float
        Residual heterogeneity test of that meta-regression.
    tau2 : float
        Residual tau^2 of that meta-regression (pooled across subgroups).
    method, test : str
        The tau^2 estimator and test used.
    by : str
        Name of the subgrouping variable.
    k : int
        Number of studies used.
    studies : pandas.DataFrame
        The studies analysed: ``yi, vi, group`` (for the forest plot).
    overall : RMAResult or MHResult or None
        The overall fit across subgroups.
    fits : dict
        Subgroup label -> its fit.
    moderator_fit : RMAResult or None
        The meta-regression on the subgroup indicator.

    Notes
    -----
    R equivalent: ``metafor::rma(yi, vi, subset = by == g)`` per subgroup, the subgroup test as
    ``rma(estimate, sei = se, mods = ~ group, method = "FE")`` and ``rma(yi, vi, mods =
    ~ factor(by))`` for the moderator test (metafor 3.8-1).

    References
    ----------
    .. [1] Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
       Introduction to Meta-Analysis, chapter 19. Wiley.
    .. [2] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> sg = pt.meta.subgroup(es, by="alloc")
    >>> sg.groups["k"].tolist(), round(sg.Qb, 4), sg.Qb_df
    ([2, 7, 4], 1.8614, 2)
    """

    groups: pd.DataFrame
    Qb: float
    Qb_df: int
    Qb_pval: float
    QM: float
    QMp: float
    QM_df: tuple
    QE: float
    QEp: float
    tau2: float
    method: str
    test: str
    by: str
    k: int
    studies: pd.DataFrame
    overall: object = None
    fits: dict = field(default_factory=dict)
    moderator_fit: object = None

    def plot(self, ax=None, **kwargs):
        """Subgroup forest plot: studies by subgroup, subtotal and overall diamonds, and the test.

        Draws :func:`peertrial.plot.subgroup_forest` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.subgroup_forest`: ``transf``, ``xlabel``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.subgroup_forest : what is drawn, with an example.
        """
        from peertrial.plot.meta_diagnostics import subgroup_forest

        return subgroup_forest(self, ax=ax, **kwargs)

    def summary(self, digits: int = 4) -> str:
        stat = "F" if self.test == "knha" else "QM"
        df = f"df1 = {self.QM_df[0]}, df2 = {self.QM_df[1]}" if self.test == "knha" else f"df = {self.QM_df[0]}"
        lines = [
            f"Subgroup analysis by {self.by!r} ({self.method}, test = {self.test}; k = {self.k})",
            "",
            format_table(self.groups.astype({"k": str}), digits, pval_columns=("pval", "QEp")),
            "",
            "Test for subgroup differences (fixed-effect Q-between on the subgroup estimates):",
            f"Qb(df = {self.Qb_df}) = {format_number(self.Qb, digits)}, {_p(self.Qb_pval, digits)}",
        ]
        if self.moderator_fit is not None:
            lines += [
                "",
                "Test of moderators (mixed-effects model with the subgroup as moderator, common tau^2):",
                f"{stat}({df}) = {format_number(self.QM, digits)}, {_p(self.QMp, digits)}",
                f"Residual heterogeneity: QE = {format_number(self.QE, digits)}, {_p(self.QEp, digits)}, "
                f"tau^2 = {format_number(self.tau2, digits)}",
            ]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The per-subgroup table (one row per subgroup; ``statistic`` for the ``zval`` column)."""
        return self.groups.rename(columns={"zval": "statistic"})

    # the result reads like its per-subgroup table: res["estimate"], res.loc["group"], len(res)
    def __getitem__(self, key):
        return self.groups[key]

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def loc(self):
        return self.groups.loc

    @property
    def index(self) -> pd.Index:
        return self.groups.index

    @property
    def columns(self) -> pd.Index:
        return self.groups.columns


def _subgroup_mh(fit, by) -> SubgroupResult:
    if isinstance(by, str):
        by = fit.data[by] if fit.data is not None and by in fit.data.columns else by
        if isinstance(by, str):
            raise ValueError(f"by={by!r} is not a column of the fit's data; give one subgroup label per table")
    labels = pd.Series(list(by), dtype=object)
    k = len(fit.slab)
    if len(labels) != k:
        raise ValueError(f"by has {len(labels)} values but the fit has {k} tables")
    if labels.isna().any():
        raise ValueError(f"by has missing subgroup labels at rows {_data.row_labels(fit.slab, labels.isna().to_numpy())}")
    levels = sorted(pd.unique(labels), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise ValueError(f"subgroup needs at least 2 subgroups; found {len(levels)}")
    fits, rows = {}, []
    for g in levels:
        with relayed(f"subgroup {g!r}"):
            f = fit.refit((labels == g).to_numpy())
        if f is None:
            raise ValueError(f"the {fit.method} estimate cannot be computed in subgroup {g!r}")
        fits[str(g)] = f
        rows.append({"k": f.k, "estimate": f.b, "se": f.se, "zval": f.zval, "pval": f.pval, "ci_lb": f.ci_lb,
                     "ci_ub": f.ci_ub, "tau2": 0.0, "I2": f.I2, "QE": f.QE, "QEp": f.QEp})
    groups = pd.DataFrame(rows, index=pd.Index([str(g) for g in levels], name="group"))
    est, se = groups["estimate"].to_numpy(), groups["se"].to_numpy()
    w = 1 / se**2
    Qb = float(np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2))
    Qb_df = len(levels) - 1
    studies = pd.DataFrame({"yi": np.asarray(fit.yi, float), "vi": np.asarray(fit.vi, float),
                            "group": [str(g) for g in labels]}, index=pd.Index([str(x) for x in fit.slab]))
    return SubgroupResult(
        groups=groups, Qb=Qb, Qb_df=Qb_df, Qb_pval=float(stats.chi2.sf(Qb, Qb_df)), QM=np.nan, QMp=np.nan,
        QM_df=(Qb_df,), QE=np.nan, QEp=np.nan, tau2=np.nan, method=fit.method, test="z", by="group", k=k,
        studies=studies, overall=fit, fits=fits, moderator_fit=None,
    )


def _p(p, digits):
    text = format_pval(p, digits)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


@_data.renamed_argument("data_or_fit", "data")
def subgroup(data, by, *, yi="yi", vi="vi", method: str | None = None, test: str | None = None,
             level: float | None = None, slab=None) -> SubgroupResult:
    """Subgroup analysis: pooled estimate per subgroup, Q-between and the moderator test.

    A Mantel–Haenszel or Peto fit (``rma_mh``/``rma_peto``) with ``by`` one label per
    table is refitted with its own method in each subgroup (RevMan's subgroup analysis;
    metafor ``rma.mh(..., subset=)``); Q-between is then the test for subgroup
    differences and there is no moderator model (``QM``, ``QE``, ``tau2`` are NaN).

    Studies with a missing ``yi``, ``vi`` or subgroup are omitted with a warning.

    Parameters
    ----------
    data : pandas.DataFrame, RMAResult or MHResult
        A DataFrame holding ``yi``/``vi`` (e.g. the output of :func:`escalc`) and the ``by``
        column; or an intercept-only ``rma`` fit (or an ``rma_mh``/``rma_peto`` fit).
    by : str or array-like
        The subgroup column of ``data``, or (with a fit) an array of subgroup labels, one per
        study of the fit.
    yi, vi : str
        Effect-size and sampling-variance columns of ``data`` (defaults ``"yi"``, ``"vi"``).
    method, test : str, optional
        tau^2 estimator and test; default ``"REML"``/``"z"`` for data and the fit's for a fit.
    level : float, optional
        Confidence level, 95 or 0.95 alike (default: the fit's, or 95).
    slab : str or array-like, optional
        Study labels (with data).

    Returns
    -------
    SubgroupResult
        Per-group fits (``k, estimate, se, ci_lb, ci_ub, tau2, I2``) and the test of subgroup
        differences ``Qb``, ``Qb_df``, ``Qb_pval``.

    Notes
    -----
    R equivalent: separate ``metafor::rma`` fits per subgroup with the Wald-type test of
    their difference (a fixed-effects ``rma`` on the subgroup estimates) (metafor 3.8-1).

    References
    ----------
    .. [1] Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
       Introduction to Meta-Analysis, chapter 19. Wiley.

    Examples
    --------
    >>> es = pt.meta.escalc("RR", data=pt.datasets.load("bcg"), ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> sg = pt.meta.subgroup(es, by="alloc", method="REML")
    >>> round(sg.Qb, 4), sg.Qb_df
    (1.8614, 2)
    """
    from peertrial.meta import rma
    from peertrial.meta.mh import MHResult

    level = None if level is None else _data.level_percent(level)
    if isinstance(data, MHResult):
        return _subgroup_mh(data, by)
    if _is_fit(data):
        a = fit_arrays(data)
        no_user_weights(a, "subgroup")
        if a["X"].shape[1] != 1:
            raise ValueError("subgroup takes an intercept-only fit (or the data)")
        if isinstance(by, str):
            raise ValueError("with a fit, give `by` as an array of subgroup labels (one per study)")
        labels = pd.Series(list(by), dtype=object)
        if len(labels) != a["yi"].size:
            raise ValueError(f"by has {len(labels)} values but the fit has {a['yi'].size} studies")
        frame = pd.DataFrame({"yi": a["yi"], "vi": a["vi"], "group": labels.to_numpy()}, index=a["slab"])
        by_name = "group"
        method = a["method"] if method is None else method
        test = a["test"] if test is None else test
        level = a["level"] if level is None else level
    else:
        data = _data.as_frame(data, what="data")
        by_series = _data.column_or_array(data, by, "by")
        by_name = by if isinstance(by, str) else "group"
        yv = _data.numeric(_data.column_or_array(data, yi, "yi"), yi if isinstance(yi, str) else "yi")
        vv = _data.numeric(_data.column_or_array(data, vi, "vi"), vi if isinstance(vi, str) else "vi")
        index = data.index if slab is None else pd.Index(_data.column_or_array(data, slab, "slab"))
        frame = pd.DataFrame({"yi": yv, "vi": vv, "group": by_series.to_numpy()}, index=index)
        frame = _data.drop_missing(frame, ["yi", "vi", "group"], unit="studies", stacklevel=3)
        method = "REML" if method is None else method
        test = "z" if test is None else test
        level = 95.0 if level is None else level
    levels = sorted(pd.unique(frame["group"]), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise ValueError(f"subgroup needs at least 2 subgroups in {by_name!r}; found {len(levels)}")
    slabs = pd.Index([str(i) for i in frame.index])
    fits, rows = {}, []
    for g in levels:
        m = (frame["group"] == g).to_numpy()
        with relayed(f"subgroup {g!r}"):
            f = rma(frame["yi"].to_numpy()[m], frame["vi"].to_numpy()[m], method=method, test=test, level=level,
                    slab=slabs[m])
        fits[g] = f
        rows.append({"k": f.k, "estimate": f.b, "se": f.se, "zval": f.zval, "pval": f.pval, "ci_lb": f.ci_lb,
                     "ci_ub": f.ci_ub, "tau2": f.tau2, "I2": f.I2, "QE": f.QE, "QEp": f.QEp})
    groups = pd.DataFrame(rows, index=pd.Index([str(g) for g in levels], name=by_name))
    est, se = groups["estimate"].to_numpy(), groups["se"].to_numpy()
    w = 1 / se**2
    Qb = float(np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2))
    Qb_df = len(levels) - 1
    dummies = np.column_stack([(frame["group"] == g).to_numpy(float) for g in levels[1:]])
    y, v = frame["yi"].to_numpy(), frame["vi"].to_numpy()
    mod = rma(y, v, mods=dummies, method=method, test=test, level=level, slab=slabs)
    overall = rma(y, v, method=method, test=test, level=level, slab=slabs)
    qm_df = (Qb_df, int(mod.dfs)) if test == "knha" else (Qb_df,)
    studies = pd.DataFrame({"yi": y, "vi": v, "group": [str(g) for g in frame["group"]]}, index=slabs)
    return SubgroupResult(
        groups=groups, Qb=Qb, Qb_df=Qb_df, Qb_pval=float(stats.chi2.sf(Qb, Qb_df)), QM=float(mod.QM),
        QMp=float(mod.QMp), QM_df=qm_df, QE=float(mod.QE), QEp=float(mod.QEp), tau2=float(mod.tau2),
        method=method, test=test, by=by_name, k=int(len(y)), studies=studies, overall=overall,
        fits={str(g): f for g, f in fits.items()}, moderator_fit=mod,
    )
