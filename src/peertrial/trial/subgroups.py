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
    """Treatment effect in each level of a subgroup and the interaction F test
    (:func:`subgroup_effects`; formerly ``SubgroupResult``, a name meta uses for its own result)."""

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
        """Forest plot of the effect in each subgroup: with the interaction test.

        Draws :func:`peertrial.plot.subgroup_effects_forest` (``kwargs`` go to it). ``ax``: a matplotlib Axes
        to draw into; by default a new figure, shown once in Jupyter. Returns the Figure.
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

    ``subgroup`` is treated as a factor (levels sorted). Every level needs participants in
    both arms; otherwise ``ValueError`` names the level.

    ``arm_levels``: how the ``arm`` column codes the arms when it is not 0/1, as a mapping
    ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
    non-0/1 ``arm`` raises ``ValueError`` listing the values found.
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
