"""Subgroup effects and the treatment-by-subgroup interaction test.

Per-subgroup effects are ITT fits ``y ~ arm + covariates`` within each level of the subgroup
(as ``lm`` on the subset). The interaction test compares, on all participants,
``y ~ arm * subgroup + covariates`` with ``y ~ arm + subgroup + covariates``:
``F = ((RSS_0 - RSS_1) / (k - 1)) / (RSS_1 / df_1)`` on ``(k - 1, df_1)`` degrees of freedom, as
``anova(fit0, fit1)`` in R. Subgroup analyses should be judged by this test, not by the
per-subgroup p-values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._results import CONF_LEVEL_ALIAS, Result, format_number, format_pval, format_table
from peertrial.trial._design import as_list, covariate_columns, design, factor_levels, model_frame
from peertrial.trial._linear import ols
from peertrial.trial.effects import _arm_values

stats = lazy_module("scipy.stats")

__all__ = ["SubgroupEffects", "subgroup_effects"]

_DEPRECATED = {"SubgroupResult": "SubgroupEffects"}


@dataclass(frozen=True, eq=False)
class SubgroupEffects(Result):
    """Treatment effect in each level of a subgroup and the treatment-by-subgroup interaction F test.

    Returned by :func:`subgroup_effects` (formerly ``SubgroupResult``, a name meta uses for
    its own result). ``to_frame()`` is a copy of ``effects``; ``.plot()`` draws the forest plot.

    Attributes
    ----------
    effects : pandas.DataFrame
        One row per subgroup level (sorted), then ``overall``; columns ``n, n_control,
        n_intervention, estimate, se, statistic, df, ci_lb, ci_ub, pval`` (t inference on the
        residual df of each fit).
    F : float
        Interaction F statistic (``anova`` of the models without and with ``arm:subgroup``).
    df1, df2 : int
        Its numerator (levels - 1) and denominator (residual of the interaction model) df.
    pval : float
        Upper-tail F p-value of the interaction test.
    subgroup : str
        The subgroup column.
    outcome : str
        The outcome column.
    level : float, default 0.95
        Confidence level of the intervals (a proportion); ``conf_level`` is an alias.
    method : str
        One-line description of the analysis.

    Notes
    -----
    R equivalent: ``lm(y ~ arm + covariates, subset = subgroup == level)`` per level and
    ``anova(lm(y ~ arm + subgroup + covariates), lm(y ~ arm * subgroup + covariates))``
    (``stats``, R 4.2.2).

    References
    ----------
    .. [1] Assmann, S. F., Pocock, S. J., Enos, L. E., & Kasten, L. E. (2000). Subgroup analysis
       and other (mis)uses of baseline data in clinical trials. The Lancet, 355, 1064-1069.
    .. [2] Wang, R., Lagakos, S. W., Ware, J. H., Hunter, D. J., & Drazen, J. M. (2007).
       Statistics in medicine - reporting of subgroup analyses in clinical trials. New England
       Journal of Medicine, 357, 2189-2194.

    Examples
    --------
    >>> d = pd.DataFrame({"arm": [0, 1] * 6, "sex": ["f"] * 6 + ["m"] * 6,
    ...                   "y": [1.0, 3.0, 2.0, 4.0, 1.5, 3.5, 2.0, 2.5, 3.0, 3.0, 2.5, 3.5]})
    >>> res = pt.trial.subgroup_effects(d, outcome="y", subgroup="sex")
    >>> res.effects["estimate"].round(3).tolist()
    [2.0, 0.5, 1.25]
    >>> round(res.F, 3), res.df1, res.df2
    (6.75, 1, 8)
    """

    effects: pd.DataFrame  # one row per subgroup level, then "overall"
    F: float
    df1: int
    df2: int
    pval: float
    subgroup: str
    outcome: str
    level: float = 0.95
    method: str = field(default="", repr=False)

    def plot(self, ax=None, **kwargs):
        """Forest plot of the effect in each subgroup, with the interaction test.

        Draws :func:`peertrial.plot.subgroup_effects_forest` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.subgroup_effects_forest`: ``title``, ``xlabel``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.subgroup_effects_forest : what is drawn, with an example.
        """
        from peertrial.plot.trial import subgroup_effects_forest

        return subgroup_effects_forest(self, ax=ax, **kwargs)
    conf_level = CONF_LEVEL_ALIAS

    def to_frame(self) -> pd.DataFrame:
        return self.effects.copy()

    def summary(self) -> str:
        return "\n".join([self.method, "", format_table(self.effects), "",
                          f"Test for treatment x {self.subgroup} interaction: F({self.df1}, {self.df2}) = "
                          f"{format_number(self.F)}, p = {format_pval(self.pval)}"])


def _fit_row(frame, y, a, arm, covariates, factors, conf_level) -> dict:
    X, _ = design(frame, [(arm, a)], covariates, factors)
    fit = ols(X, y)
    est, se, df = float(fit.coef[0, 1]), float(fit.se[0, 1]), fit.df_resid
    q = stats.t.ppf(0.5 + conf_level / 2, df)
    return {"n": len(y), "n_control": int(np.sum(a == 0)), "n_intervention": int(np.sum(a == 1)),
            "estimate": est, "se": se, "statistic": est / se, "df": float(df), "ci_lb": est - q * se,
            "ci_ub": est + q * se,
            "pval": float(2 * stats.t.sf(abs(est / se), df))}


@_data.renamed_argument("df", "data")
def subgroup_effects(data, outcome: str, subgroup: str, arm: str = "arm", covariates=None, *, factors=None,
                     level: float = 0.95, na_action: str = "omit", conf_level=None, arm_levels=None) -> SubgroupEffects:
    """Treatment effect within each level of ``subgroup`` and the interaction F test.

    Each level's effect is the ITT fit ``y ~ arm + covariates`` on that level's participants
    (as ``lm`` on the subset); the interaction test compares, on everyone,
    ``y ~ arm * subgroup + covariates`` with ``y ~ arm + subgroup + covariates``. Judge a
    subgroup difference by this test, not by the per-level p-values.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified).
    outcome : str
        Column of the numeric outcome.
    subgroup : str
        Column defining the subgroups, treated as a factor (levels sorted) whatever its type.
        Every level needs participants in both arms; otherwise ``ValueError`` names the level.
        It must not also be a covariate.
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``).
    covariates : list of str or str, optional
        Adjustment columns, a list or an R-style right-hand side, typed as in
        :func:`estimate_effects`.
    factors : list of str, optional
        Covariate columns to enter as treatment-coded factors whatever their type.
    level : float, default 0.95
        Confidence level of the intervals, 0.95 or 95 alike.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"`` drops rows with missing values with a warning naming them; ``"fail"`` raises.
    conf_level : float, optional
        Deprecated spelling of ``level``.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.

    Returns
    -------
    SubgroupEffects
        ``effects`` (one row per level, then ``overall``) and the interaction test ``F``,
        ``df1``, ``df2``, ``pval``; ``.plot()`` draws the forest plot.

    Notes
    -----
    R equivalent: ``stats::lm`` on each subset and ``stats::anova`` of the nested fits
    without and with ``arm:subgroup`` (R 4.2.2).

    References
    ----------
    .. [1] Assmann, S. F., Pocock, S. J., Enos, L. E., & Kasten, L. E. (2000). Subgroup analysis
       and other (mis)uses of baseline data in clinical trials. The Lancet, 355, 1064-1069.
    .. [2] Wang, R., Lagakos, S. W., Ware, J. H., Hunter, D. J., & Drazen, J. M. (2007).
       Statistics in medicine - reporting of subgroup analyses in clinical trials. New England
       Journal of Medicine, 357, 2189-2194.

    Examples
    --------
    >>> import warnings
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")    # rows without the outcome are dropped, with a warning
    ...     res = pt.trial.subgroup_effects(trial, outcome="hope_12", subgroup="diagnosis",
    ...                                     covariates=["hope_0"])
    >>> res.effects.index.tolist()
    ['other', 'personality', 'psychotic', 'overall']
    >>> round(res.F, 3), res.df1, res.df2, round(res.pval, 3)
    (0.755, 2, 132, 0.472)
    """
    data = _data.code_arm(data, arm, arm_levels)
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    covariates, factors = _builder.spec(covariates), as_list(factors)
    cov_cols = covariate_columns(covariates, factors)
    if subgroup in cov_cols:
        raise ValueError(f"subgroup {subgroup!r} must not also be a covariate")
    frame = model_frame(data, [outcome, arm, subgroup, *cov_cols], na_action=na_action)
    y = _data.numeric(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    g = frame[subgroup].to_numpy()
    levels = factor_levels(g)
    if len(levels) < 2:
        raise ValueError(f"subgroup column {subgroup!r} has a single level {levels}")
    rows = {}
    for lev in levels:
        k = g == lev
        if np.unique(a[k]).size < 2:
            raise ValueError(f"subgroup {subgroup!r} = {lev!r} has participants in only one arm")
        rows[str(lev)] = _fit_row(frame.loc[k], y[k], a[k], arm, covariates, factors, conf_level)
    rows["overall"] = _fit_row(frame, y, a, arm, covariates, factors, conf_level)
    effects = pd.DataFrame.from_dict(rows, orient="index")
    effects.index.name = subgroup
    # interaction F test (anova of nested lm fits)
    inter = [(f"{arm}:{subgroup}{lev}", a * (g == lev)) for lev in levels[1:]]
    with_subgroup = _builder.combine([subgroup], covariates)
    X0, _ = design(frame, [(arm, a)], with_subgroup, [subgroup, *factors])
    X1, _ = design(frame, [(arm, a)], with_subgroup, [subgroup, *factors])
    X1 = np.column_stack([X1] + [v for _, v in inter])
    rss0 = float(np.sum(ols(X0, y).resid ** 2))
    fit1 = ols(X1, y)
    rss1 = float(np.sum(fit1.resid ** 2))
    df1, df2 = len(levels) - 1, fit1.df_resid
    F = ((rss0 - rss1) / df1) / (rss1 / df2)
    method = (f"ITT effect on {outcome} by {subgroup} (lm within each level"
              + (f", adjusted for {_builder.describe(covariates)}" if cov_cols else "") + ")")
    return SubgroupEffects(effects=effects, F=float(F), df1=df1, df2=int(df2), pval=float(stats.f.sf(F, df1, df2)),
                          subgroup=subgroup, outcome=outcome, level=conf_level, method=method)


def __getattr__(name: str):
    """Deprecated spellings (FutureWarning): SubgroupResult -> SubgroupEffects."""
    if name in _DEPRECATED:
        new = _DEPRECATED[name]
        _data.warn_deprecated(f"{__name__}.{name} is deprecated and will be removed; use {new}")
        return globals()[new.rsplit(".", 1)[-1]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
