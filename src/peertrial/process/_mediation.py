"""Mediation by the product of coefficients with a bootstrap CI for the indirect effect."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_table
from peertrial._warnings import PeertrialWarning

pg = lazy_module("pingouin")
sm = lazy_module("statsmodels.api")

__all__ = ["ASSUMPTIONS", "MediationResult", "mediation"]

ASSUMPTIONS = (
    "Assumptions (needed for the indirect effect to be causal): (1) no unmeasured confounding of "
    "the treatment-outcome relation (given by randomisation of the arm); (2) no unmeasured "
    "confounding of the mediator-outcome relation (NOT given by randomisation: the mediator is "
    "not randomised, so covariates must capture its common causes with the outcome); (3) no "
    "mediator-outcome confounder affected by treatment; (4) the mediator is measured before the "
    "outcome and the models are correctly specified — linear and additive, with no treatment-by-"
    "mediator interaction. Under these, a*b is the natural indirect effect."
)


@dataclass(frozen=True, eq=False)
class MediationResult(Result):
    """Single-mediator analysis, X -> M -> Y (returned by :func:`mediation`).

    Paths use OLS t inference (R ``lm``); the indirect effect's SE is the bootstrap SD
    and its CI the percentile interval of ``n_boot`` resamples (pingouin's resampling).

    Attributes
    ----------
    paths : pandas.DataFrame
        Indexed by ``a`` (M ~ X + C), ``b`` (Y ~ X + M + C, the M coefficient),
        ``total`` (c: Y ~ X + C), ``direct`` (c': the X coefficient of Y ~ X + M + C) and
        ``indirect`` (a*b); columns ``estimate, se, pval, ci_lb, ci_ub``.
    boot : numpy.ndarray
        The ``n_boot`` bootstrap replicates of a*b.
    indirect_bc : tuple of float
        pingouin's bias-corrected CI of a*b.
    proportion_mediated : float
        a*b / c (unstable when c is near 0).
    n, n_boot : int
        Complete rows analysed and bootstrap resamples.
    x, mediator, outcome : str
        The columns of the arm, mediator and outcome.
    covariates : tuple of str
        Adjustment columns.
    outcome_scale : str
        ``"continuous"`` or the linear-probability note for a 0/1 outcome.
    assumptions : str
        The identifying assumptions (:data:`ASSUMPTIONS`), stated in the summary.
    level : float
        Confidence level, as a proportion.

    Notes
    -----
    R equivalent: the paths equal ``stats::lm`` (R 4.2.2) and ``lavaan::sem`` ML estimates
    (lavaan 0.6); none for the bootstrap CI (no R function draws pingouin's resamples;
    ``mediation::mediate`` is the nearest).

    References
    ----------
    .. [1] Preacher, K. J., & Hayes, A. F. (2008). Asymptotic and resampling strategies for
       assessing and comparing indirect effects in multiple mediator models. Behavior
       Research Methods, 40, 879-891.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> med = pt.process.mediation(d, x="arm", mediator="hope_4", outcome="hope_12", n_boot=200, seed=1)
    >>> med.paths.loc[["a", "b", "indirect"], "estimate"].round(3).tolist()
    [-1.162, 0.382, -0.444]
    """

    paths: pd.DataFrame
    boot: np.ndarray
    indirect_bc: tuple
    proportion_mediated: float
    n: int
    n_boot: int
    x: str
    mediator: str
    outcome: str
    covariates: tuple
    outcome_scale: str
    assumptions: str = ASSUMPTIONS
    level: float = 0.95

    def plot(self, ax=None, **kwargs):
        """Path diagram and bootstrap distribution of the indirect effect: a, b, c' with their CIs.

        Draws :func:`peertrial.plot.mediation_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.mediation_plot` (it takes no other options).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.mediation_plot : what is drawn, with an example.
        """
        from peertrial.plot.process import mediation_plot

        return mediation_plot(self, ax=ax, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        return self.paths.copy()

    def summary(self) -> str:
        cov = ", ".join(self.covariates) if self.covariates else "none"
        lines = [
            f"Mediation: {self.x} -> {self.mediator} -> {self.outcome} (product of coefficients)",
            f"  n = {self.n}; covariates: {cov}; outcome scale: {self.outcome_scale}",
            f"  Indirect effect a*b: bootstrap SE and {100 * self.level:g}% percentile CI from {self.n_boot} resamples "
            f"(bias-corrected CI {format_number(self.indirect_bc[0])} to {format_number(self.indirect_bc[1])})",
            f"  Proportion mediated (a*b / total): {format_number(self.proportion_mediated, 3)}",
            "",
            format_table(self.paths),
            "",
            self.assumptions,
        ]
        return "\n".join(lines)


_MIN_ROWS = 6  # pingouin.mediation_analysis asserts more than 5 complete rows


def _ols(y, cols):
    x = np.column_stack([np.ones(len(y)), *cols])
    return sm.OLS(y, x).fit()


def _path_row(fit, j, level=0.95):
    lo, hi = fit.conf_int(1 - level)[j]
    return [float(fit.params[j]), float(fit.bse[j]), float(fit.pvalues[j]), float(lo), float(hi)]


def mediation(
    data: pd.DataFrame,
    x: str = "arm",
    mediator: str | None = None,
    outcome: str | None = None,
    covariates: list[str] | None = None,
    *,
    n_boot: int = 2000,
    seed=None,
    arm_levels=None,
    level: float = 0.95,
) -> MediationResult:
    """Estimate the indirect effect a*b by the product of coefficients, with a percentile bootstrap CI.

    Models (OLS): M = i1 + a X + C g1 + e1 and Y = i2 + c' X + b M + C g2 + e2;
    indirect effect a*b, total effect c = c' + a*b (exactly, for OLS on the same
    rows). The bootstrap resamples participants (``pingouin.mediation_analysis``,
    which draws with ``numpy.random.RandomState(seed)``); a ``Generator`` seed is
    turned into an integer seed first. ``x`` is the randomised arm and must be
    coded 0/1 (0 = control, 1 = intervention), so that a, c and c' are
    differences between arms; other codings raise ``ValueError`` naming the rows.
    At least 6 complete rows are needed (and a residual degree of freedom in
    the outcome model). A continuous mediator is required; a 0/1
    outcome is analysed as a linear probability model (risk-difference scale),
    with a warning. Rows with missing values are dropped with a warning.
    See :data:`ASSUMPTIONS`, which the summary states.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the ``x``, ``mediator``, ``outcome`` and covariate
        columns.
    x : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention.
    mediator : str
        Required: column of the continuous mediator (e.g. ``"hope_4"``).
    outcome : str
        Required: column of the outcome (e.g. ``"hope_12"``); a 0/1 outcome is analysed
        on the risk-difference scale with a warning.
    covariates : list of str, optional
        Numeric adjustment columns, in both models.
    n_boot : int, default 2000
        Bootstrap resamples (at least 100).
    seed : int or numpy.random.Generator, optional
        Seed of the resampling.
    arm_levels : mapping or pair, optional
        How the ``x`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``x`` raises ``ValueError`` listing the values found.
    level : float, default 0.95
        Confidence level of every interval, 0.95 or 95 alike.

    Returns
    -------
    MediationResult
        The a, b, total, direct and indirect paths with their SEs, p-values and limits.

    Notes
    -----
    On pingouin: its "Y ~ M" row regresses Y on M (and covariates)
    *without* X, so it is not the b path; b, c and c' are therefore taken from
    statsmodels OLS fits (equal to R ``lm`` and to lavaan's ML estimates), while
    the indirect point estimate and resamples are pingouin's. pingouin's own CI
    is bias-corrected; the percentile CI is reported, the bias-corrected one kept
    in ``indirect_bc``.

    R equivalent: the paths equal ``stats::lm`` (R 4.2.2) and ``lavaan::sem`` ML estimates
    (lavaan 0.6); none for the bootstrap CI (no R function draws pingouin's resamples;
    ``mediation::mediate`` is the nearest).

    References
    ----------
    .. [1] Baron, R. M., & Kenny, D. A. (1986). The moderator-mediator variable distinction
       in social psychological research. Journal of Personality and Social Psychology, 51,
       1173-1182.
    .. [2] Preacher, K. J., & Hayes, A. F. (2008). Asymptotic and resampling strategies for
       assessing and comparing indirect effects in multiple mediator models. Behavior
       Research Methods, 40, 879-891.
    .. [3] Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap.
       Chapman & Hall.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> med = pt.process.mediation(d, x="arm", mediator="hope_4", outcome="hope_12", n_boot=200, seed=1)
    >>> med.n, round(float(med.paths.loc["indirect", "estimate"]), 3)
    (125, -0.444)
    """
    if mediator is None or outcome is None:
        raise ValueError("mediation needs mediator= and outcome= (columns of data: e.g. an early score as the "
                         "mediator and the final score as the outcome); neither has a default")
    data = _data.code_arm(data, x, arm_levels)
    level = _data.confidence_level(level)
    covariates = list(covariates or [])
    frame = _data.as_frame(data)
    cols = [x, mediator, outcome, *covariates]
    _data.require_columns(frame, cols)
    frame = _data.drop_missing(frame, cols, unit="participants")
    values = pd.DataFrame({c: _data.numeric(frame[c], c) for c in cols}, index=frame.index)
    # a is the mean difference in M between arms only when x is 0/1 (0/2 coding would halve every path)
    _data.binary(values[x], x)
    n_min = max(_MIN_ROWS, len(covariates) + 4)
    if len(values) < n_min:
        raise ValueError(
            f"only {len(values)} complete rows in columns {cols}; mediation needs at least {n_min} "
            f"({_MIN_ROWS} for pingouin's bootstrap, and more than the outcome model's {len(covariates) + 3} coefficients)"
        )
    for c in (x, *covariates):
        if values[c].nunique() < 2:
            raise ValueError(f"column {c!r} takes a single value in the {len(values)} complete rows; it cannot predict anything")
    if values[mediator].nunique() <= 2:
        raise ValueError(f"mediator column {mediator!r} is binary; this product-of-coefficients analysis needs a continuous mediator")
    scale = "continuous"
    if values[outcome].nunique() <= 2:
        _data.binary(values[outcome], outcome, meaning="0 = no event, 1 = event")
        scale = "binary, linear probability model (risk difference)"
        warnings.warn(
            f"outcome {outcome!r} is binary: paths and a*b are on the risk-difference scale (linear probability model)",
            PeertrialWarning,
            stacklevel=2,
        )
    if n_boot < 100:
        raise ValueError(f"n_boot must be at least 100 for a percentile CI, got {n_boot}")
    int_seed = int(_data.as_generator(seed).integers(0, 2**31 - 1)) if not isinstance(seed, int) else seed
    xv, mv, yv = (values[c].to_numpy() for c in (x, mediator, outcome))
    cv = [values[c].to_numpy() for c in covariates]
    fit_m = _ols(mv, [xv, *cv])
    fit_y = _ols(yv, [xv, mv, *cv])
    fit_t = _ols(yv, [xv, *cv])
    with np.errstate(all="ignore"):  # thread-local (no process-wide warning filter)
        pg_table, boot = pg.mediation_analysis(
            data=values, x=x, m=mediator, y=outcome, covar=covariates or None, n_boot=n_boot, seed=int_seed, return_dist=True,
            alpha=1 - level,
        )
    boot = np.asarray(boot, float)
    ind = pg_table.set_index("path").loc["Indirect"]
    ab = float(fit_m.params[1] * fit_y.params[2])
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    se_boot = float(boot.std(ddof=1))
    p_boot = float(ind["pval"])
    rows = {
        "a": _path_row(fit_m, 1, level),
        "b": _path_row(fit_y, 2, level),
        "total": _path_row(fit_t, 1, level),
        "direct": _path_row(fit_y, 1, level),
        "indirect": [ab, se_boot, p_boot, float(lo), float(hi)],
    }
    paths = pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "se", "pval", "ci_lb", "ci_ub"])
    paths.index.name = "path"
    total = rows["total"][0]
    return MediationResult(
        paths=paths,
        boot=boot,
        indirect_bc=(float(ind.iloc[3]), float(ind.iloc[4])),
        proportion_mediated=ab / total if total != 0 else np.nan,
        n=len(values),
        n_boot=n_boot,
        x=x,
        mediator=mediator,
        outcome=outcome,
        covariates=tuple(covariates),
        outcome_scale=scale,
        level=level,
    )
