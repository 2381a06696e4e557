"""Standardised mean difference (Hedges' g) of a trial outcome, as ``metafor::escalc("SMD")``.

``g = c(m) (m1 - m2) / s_p`` with ``s_p^2 = ((n1-1) sd1^2 + (n2-1) sd2^2) / (n1 + n2 - 2)`` and the
exact correction ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``, ``m = n1 + n2 - 2``;
``vi = 1/n1 + 1/n2 + g^2 / (2 (n1 + n2))`` (metafor's large-sample variance, ``vtype = "LS"``);
CI ``g +- z_{1-alpha/2} sqrt(vi)`` as ``summary(escalc(...))``. Group 1 is the intervention
arm (``arm == 1``). ``to_escalc_frame()`` gives the one-row summary table
(``m1i, sd1i, n1i, m2i, sd2i, n2i``) that ``peertrial.meta.escalc("SMD", ...)`` takes.
pingouin's ``compute_effsize(eftype="hedges")`` uses an approximate correction, so it is
not used here; it agrees to about 1e-3 (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number
from peertrial.trial._design import model_frame
from peertrial.trial.effects import _arm_values

stats = lazy_module("scipy.stats")

__all__ = ["HedgesG", "hedges_g"]


@dataclass(frozen=True, eq=False)
class HedgesG(Result):
    """Hedges' g of a trial outcome (intervention minus control) with its variance and CI.

    Returned by :func:`hedges_g`; the field names are metafor's (``escalc`` and its input).

    Attributes
    ----------
    yi : float
        Hedges' g: the standardised mean difference with the exact small-sample correction.
    vi : float
        Its large-sample variance, ``1/n1 + 1/n2 + g^2 / (2 (n1 + n2))``.
    se : float
        ``sqrt(vi)``.
    ci_lb, ci_ub : float
        Normal confidence limits ``g -+ z_{1-alpha/2} se``.
    m1i, sd1i : float
        Mean and standard deviation (n - 1 denominator) of the intervention arm.
    n1i : int
        Participants of the intervention arm with the outcome observed.
    m2i, sd2i : float
        Mean and standard deviation of the control arm.
    n2i : int
        Participants of the control arm with the outcome observed.
    outcome : str
        The outcome column.
    level : float, default 0.95
        Confidence level of ``ci_lb``/``ci_ub`` (a proportion).

    Notes
    -----
    R equivalent: the ``yi``, ``vi`` of ``metafor::escalc("SMD", ...)`` and the limits of its
    ``summary()`` (metafor 3.8-1). :meth:`to_escalc_frame` gives the group summaries that
    :func:`peertrial.meta.escalc` takes.

    References
    ----------
    .. [1] Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and
       related estimators. Journal of Educational Statistics, 6(2), 107-128.

    Examples
    --------
    >>> d = pd.DataFrame({"arm": [0, 0, 0, 0, 1, 1, 1, 1], "y": [3.0, 5.0, 4.0, 6.0, 6.0, 8.0, 7.0, 5.0]})
    >>> g = pt.trial.hedges_g(d, "y")
    >>> round(g.yi, 4), round(g.vi, 4), (g.n1i, g.n2i)
    (1.3457, 0.6132, (4, 4))
    >>> g.to_escalc_frame()[["m1i", "sd1i", "m2i", "sd2i"]].round(3).iloc[0].tolist()
    [6.5, 1.291, 4.5, 1.291]
    """

    yi: float
    vi: float
    se: float
    ci_lb: float
    ci_ub: float
    m1i: float
    sd1i: float
    n1i: int
    m2i: float
    sd2i: float
    n2i: int
    outcome: str
    level: float = 0.95

    def to_escalc_frame(self, study: str = "this trial") -> pd.DataFrame:
        """One-row table of group summaries, ready for ``peertrial.meta.escalc("SMD", ...)``.

        Parameters
        ----------
        study : str, default "this trial"
            The label in the ``study`` column.

        Returns
        -------
        pandas.DataFrame
            Columns ``study, n1i, m1i, sd1i, n2i, m2i, sd2i`` (group 1 = intervention).
        """
        return pd.DataFrame({"study": [study], "n1i": [self.n1i], "m1i": [self.m1i], "sd1i": [self.sd1i],
                             "n2i": [self.n2i], "m2i": [self.m2i], "sd2i": [self.sd2i]})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": [self.yi], "se": [self.se], "ci_lb": [self.ci_lb],
                             "ci_ub": [self.ci_ub], "vi": [self.vi], "n1i": [self.n1i], "n2i": [self.n2i]},
                            index=pd.Index([self.outcome], name="outcome"))

    def summary(self) -> str:
        return (f"Hedges' g (SMD, exact correction; metafor escalc) for {self.outcome}: "
                f"g = {format_number(self.yi)}, var = {format_number(self.vi)}, "
                f"{100 * self.level:g}% CI {format_number(self.ci_lb)} to {format_number(self.ci_ub)}\n"
                f"intervention: n = {self.n1i}, mean = {format_number(self.m1i)}, sd = {format_number(self.sd1i)}; "
                f"control: n = {self.n2i}, mean = {format_number(self.m2i)}, sd = {format_number(self.sd2i)}")


def _correction(m: float) -> float:
    return float(np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2)))


@_data.renamed_argument("df", "data")
def hedges_g(data, outcome: str, arm: str = "arm", level: float = 0.95, na_action: str = "omit", *, conf_level=None, arm_levels=None) -> HedgesG:
    """Hedges' g of ``outcome`` between arms (intervention minus control), with variance and CI.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (never modified).
    outcome : str
        Column of the numeric outcome.
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``).
    level : float, default 0.95
        Confidence level of the interval, 0.95 or 95 alike.
    na_action : {"omit", "fail"}, default "omit"
        ``"omit"`` drops rows with a missing outcome or arm with a warning naming them
        (a complete-case SMD); ``"fail"`` raises.
    conf_level : float, optional
        Deprecated spelling of ``level``.
    arm_levels : mapping or pair, optional
        The coding of a text (or e.g. 1/2) ``arm`` column, ``{"Control": 0, "Peer": 1}`` or a
        pair ``(control, intervention)``; without it ``arm`` must be 0/1.

    Returns
    -------
    HedgesG
        ``yi`` (Hedges' g, intervention minus control), ``vi``, ``se``, ``ci_lb``, ``ci_ub``,
        ``n1i``, ``n2i``; ``to_frame()`` gives one row ready for :func:`peertrial.meta.escalc`
        (``measure="GEN"``) or :func:`peertrial.meta.rma`.

    Notes
    -----
    R equivalent: ``metafor::escalc("SMD", ...)`` (metafor 3.8-1; exact small-sample correction).

    References
    ----------
    .. [1] Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and
       related estimators. Journal of Educational Statistics, 6(2), 107-128.

    Examples
    --------
    >>> import warnings
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")    # rows without the outcome are dropped, with a warning
    ...     g = pt.trial.hedges_g(trial, "hope_12")
    >>> round(g.yi, 4), round(g.vi, 4)
    (-0.2493, 0.029)
    """
    data = _data.code_arm(data, arm, arm_levels)
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    frame = model_frame(data, [outcome, arm], na_action=na_action)
    y = _data.numeric(frame[outcome], outcome)
    a = _arm_values(frame, arm)
    g1, g2 = y[a == 1], y[a == 0]
    n1, n2 = len(g1), len(g2)
    if min(n1, n2) < 2:
        raise ValueError(f"Hedges' g needs at least 2 participants per arm with {outcome!r} observed")
    m1, m2, s1, s2 = g1.mean(), g2.mean(), g1.std(ddof=1), g2.std(ddof=1)
    sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    g = _correction(n1 + n2 - 2) * (m1 - m2) / sp
    vi = 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    se = float(np.sqrt(vi))
    return HedgesG(yi=float(g), vi=float(vi), se=se, ci_lb=float(g - z * se), ci_ub=float(g + z * se),
                   m1i=float(m1), sd1i=float(s1), n1i=n1, m2i=float(m2), sd2i=float(s2), n2i=n2, outcome=outcome,
                   level=conf_level)
