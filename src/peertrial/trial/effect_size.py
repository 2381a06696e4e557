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

    def to_escalc_frame(self, study: str = "this trial") -> pd.DataFrame:
        """One-row table of group summaries, ready for ``peertrial.meta.escalc("SMD", ...)``."""
        return pd.DataFrame({"study": [study], "n1i": [self.n1i], "m1i": [self.m1i], "sd1i": [self.sd1i],
                             "n2i": [self.n2i], "m2i": [self.m2i], "sd2i": [self.sd2i]})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": [self.yi], "se": [self.se], "ci_lb": [self.ci_lb],
                             "ci_ub": [self.ci_ub], "vi": [self.vi], "n1i": [self.n1i], "n2i": [self.n2i]},
                            index=pd.Index([self.outcome], name="outcome"))

    def summary(self) -> str:
        return (f"Hedges' g (SMD, exact correction; metafor escalc) for {self.outcome}: "
                f"g = {format_number(self.yi)}, var = {format_number(self.vi)}, "
                f"95% CI {format_number(self.ci_lb)} to {format_number(self.ci_ub)}\n"
                f"intervention: n = {self.n1i}, mean = {format_number(self.m1i)}, sd = {format_number(self.sd1i)}; "
                f"control: n = {self.n2i}, mean = {format_number(self.m2i)}, sd = {format_number(self.sd2i)}")


def _correction(m: float) -> float:
    return float(np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2)))


@_data.renamed_argument("df", "data")
def hedges_g(data, outcome: str, arm: str = "arm", level: float = 0.95, na_action: str = "omit", *, conf_level=None, arm_levels=None) -> HedgesG:
    """Hedges' g of ``outcome`` between arms (intervention minus control), with variance and CI.

    ``arm_levels``: the coding of a text (or e.g. 1/2) ``arm`` column, ``{"Control": 0, "Peer": 1}``
    or a pair ``(control, intervention)``; without it ``arm`` must be 0/1. ``level``: confidence
    level, 0.95 or 95 alike (``conf_level`` is its deprecated alias).

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
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> g = pt.trial.hedges_g(trial, "hope_12")
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
                   m1i=float(m1), sd1i=float(s1), n1i=n1, m2i=float(m2), sd2i=float(s2), n2i=n2, outcome=outcome)
