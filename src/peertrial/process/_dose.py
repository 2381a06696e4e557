"""Dose-response of outcome on sessions attended (a non-randomised comparison)."""

from __future__ import annotations

import pandas as pd

from peertrial import _data
from peertrial.process._models import RegressionResult, columns, design_matrix, fit_regression

__all__ = ["dose_response"]

NON_RANDOMISED = (
    "NON-RANDOMISED comparison: sessions attended were not randomised; people who engage more "
    "differ from those who engage less (e.g. in severity), so the slope is an association, not an effect."
)


def dose_response(
    data: pd.DataFrame,
    outcome: str,
    sessions: str = "sessions",
    covariates: list[str] | None = None,
    *,
    arm: str | None = "arm",
    family: str = "gaussian",
    arm_levels=None,
    level: float = 0.95,
) -> RegressionResult:
    """Regress the outcome on sessions attended within the intervention arm (dose-response).

    The result is labelled a NON-RANDOMISED comparison; for a randomised estimate of
    the effect of receiving peer support use the CACE
    (``peertrial.trial.estimate_effects``). Rows with missing values are dropped with
    a warning.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the ``outcome``, ``sessions``, ``arm`` and covariate
        columns.
    outcome : str
        Column of the outcome: continuous (``family="gaussian"``) or 0/1
        (``family="logistic"``, e.g. a readmission indicator).
    sessions : str, default "sessions"
        Column of sessions attended (>= 0), the dose.
    covariates : list of str or str, optional
        Adjustment columns or an R-style right-hand side (``"hope_0 + C(site)"``).
    arm : str or None, default "arm"
        Column of the randomised arm; only rows with ``arm == 1`` are used. ``None``
        when ``data`` is already the intervention arm.
    family : {"gaussian", "logistic"}, default "gaussian"
        ``"gaussian"`` (R ``lm``) or ``"logistic"`` (``glm`` binomial).
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.
    level : float, default 0.95
        Confidence level of the Wald limits, 0.95 or 95 alike.

    Returns
    -------
    RegressionResult
        The coefficient of ``sessions`` (per session attended) and of the covariates,
        with t (gaussian) or z (logistic) inference.

    Notes
    -----
    R equivalent: ``stats::lm(outcome ~ sessions + covariates)`` or
    ``stats::glm(..., family = binomial)`` on the intervention arm (R 4.2.2).

    References
    ----------
    .. [1] Dunn, G., Maracy, M., & Tomenson, B. (2005). Estimating treatment effects from
       randomized clinical trials with noncompliance and loss to follow-up: the role of
       instrumental variable methods. Statistical Methods in Medical Research, 14, 369-395.

    Examples
    --------
    >>> d = pt.simulate.trial(n=200, seed=1)
    >>> fit = pt.process.dose_response(d, outcome="hope_12", sessions="sessions", covariates=["hope_0"])
    >>> fit.coef["estimate"].round(3).tolist()
    [15.809, 0.176, 0.499]
    """
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level)
    cov_cols = columns([], covariates)
    frame = _data.as_frame(data)
    _data.require_columns(frame, [outcome, sessions, arm, *cov_cols])
    if arm is not None:
        frame = frame.loc[_data.binary(frame[arm], arm) == 1]
    frame = _data.drop_missing(frame, [outcome, sessions, *cov_cols], unit="participants")
    s = _data.numeric(frame[sessions], sessions)
    _data.check_nonnegative(s, frame.index, sessions)
    y = _data.binary(frame[outcome], outcome, meaning="0 = no event, 1 = event") if family == "logistic" else _data.numeric(frame[outcome], outcome)
    x = design_matrix(frame, [sessions], covariates)
    return fit_regression(y, x, family, outcome, f"Dose-response: {outcome} on {sessions} (intervention arm)", NON_RANDOMISED,
                          level)
