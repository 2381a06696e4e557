"""Simulated meta-analysis of peer-support trials on a continuous outcome (hope).

Each study ``i`` has a true standardised mean difference
``θ_i ~ N(mu + type_effect·[group], tau2)`` (random effects), a true control
mean and SD, and per-arm sizes drawn log-normally around ``n_median``. The
reported summary statistics are drawn from their exact sampling distributions:
``m ~ N(μ, σ²/n)`` and ``sd = σ·sqrt(χ²_{n-1}/(n-1))``, so ``escalc("SMD")`` on
the result estimates θ_i with Hedges' small-sample correction.

Two kinds of bias can be built in:

* **Small-study effects** (``small_study_bias = β``): the true effect grows
  with the study's standard error, ``θ_i += β·sqrt(1/n1 + 1/n2)`` — the
  model behind Egger's regression test and PET, whose slope estimates β.
* **Publication bias** (``publication_bias = q``): candidate studies whose
  one-sided p-value for benefit is below ``alpha_select`` are always
  published; others are left unpublished with probability ``q``. This
  inflates the pooled estimate (and, when the true effect is large enough
  for small studies to be the non-significant ones, the funnel asymmetry).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peertrial._lazy import lazy_module

stats = lazy_module("scipy.stats")

__all__ = ["meta_analysis", "META_COLUMNS"]

META_COLUMNS = ("study", "year", "type", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")


def meta_analysis(
    k: int = 19,
    mu: float = 0.2,
    tau2: float = 0.03,
    *,
    small_study_bias: float = 0.0,
    publication_bias: float = 0.0,
    p_group: float = 0.3,
    type_effect: float = 0.0,
    n_median: float = 50.0,
    n_log_sd: float = 0.6,
    n_min: int = 10,
    control_mean: float = 30.0,
    sd: float = 7.0,
    alpha_select: float = 0.025,
    years: tuple[int, int] = (2000, 2023),
    include_truth: bool = False,
    seed=None,
) -> pd.DataFrame:
    """Simulate per-study means, SDs and sizes of ``k`` published trials (group 1 = peer support).

    Parameters
    ----------
    k : int, default 19
        Published studies returned (White et al. 2020: 19 trials).
    mu : float, default 0.2
        Mean true SMD (one-to-one peer support).
    tau2 : float, default 0.03
        Between-study variance of the true SMD.
    small_study_bias : float, default 0.0
        beta: the true SMD rises by beta per unit of sqrt(1/n1 + 1/n2).
    publication_bias : float, default 0.0
        P(a non-significant study stays unpublished), in [0, 1).
    p_group : float, default 0.3
        Fraction of studies of group (vs one-to-one) peer support.
    type_effect : float, default 0.0
        True SMD of group minus one-to-one studies.
    n_median, n_log_sd : float, default 50.0, 0.6
        Per-arm size ~ round(n_median * exp(N(0, n_log_sd^2))).
    n_min : int, default 10
        Smallest arm.
    control_mean, sd : float, default 30.0, 7.0
        Herth Hope Index mean and SD around which studies vary.
    alpha_select : float, default 0.025
        One-sided significance level that guarantees publication.
    years : tuple of int, default (2000, 2023)
        Publication years (drawn uniformly, then sorted).
    include_truth : bool, default False
        Add the true SMD ``theta`` and ``published_of`` (candidates drawn).
    seed : int or numpy.random.Generator, optional
        The same seed gives the same studies.

    Returns
    -------
    pandas.DataFrame
        One row per published trial: ``study, year, type, n1i, m1i, sd1i, n2i, m2i, sd2i``
        (plus the true effects with ``include_truth=True``), ready for
        :func:`peertrial.meta.escalc`.

    Notes
    -----
    R equivalent: none (it simulates data).

    References
    ----------
    .. [1] White, S., Foster, R., Marks, J., et al. (2020). The effectiveness of one-to-one peer
       support in mental health services: a systematic review and meta-analysis. BMC
       Psychiatry, 20, 534.
    .. [2] Hedges, L. V. (1992). Modeling publication selection effects in meta-analysis.
       Statistical Science, 7, 246-255.

    Examples
    --------
    >>> studies = pt.simulate.meta_analysis(k=5, seed=1)
    >>> studies.shape, list(studies.columns[:3])
    ((5, 9), ['study', 'year', 'type'])
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if tau2 < 0:
        raise ValueError(f"tau2 must be non-negative, got {tau2!r}")
    if not 0.0 <= publication_bias < 1.0:
        raise ValueError(f"publication_bias must be in [0, 1), got {publication_bias!r}")
    if not np.isfinite(small_study_bias):
        raise ValueError(f"small_study_bias must be a finite number, got {small_study_bias!r}")
    if not 0.0 <= p_group <= 1.0:
        raise ValueError(f"p_group must be a probability, got {p_group!r}")
    if sd <= 0 or n_median <= 0 or n_min < 2:
        raise ValueError("sd and n_median must be positive and n_min at least 2")
    rng = np.random.default_rng(seed)

    kept: list[pd.DataFrame] = []
    drawn = 0
    while sum(len(x) for x in kept) < k:
        batch = _candidates(rng, 4 * k, mu, tau2, p_group, type_effect, small_study_bias, n_median,
                            n_log_sd, n_min, control_mean, sd)  # fmt: skip
        drawn_before = drawn
        drawn += len(batch)
        publish = (batch["_p"] < alpha_select) | (rng.random(len(batch)) >= publication_bias)
        batch = batch.loc[publish]
        batch["_order"] = batch.index + drawn_before
        kept.append(batch)
    out = pd.concat(kept).iloc[:k].reset_index(drop=True)
    published_of = int(out["_order"].iloc[-1]) + 1
    out["year"] = np.sort(rng.integers(years[0], years[1] + 1, size=k))
    out["study"] = [f"Trial {i + 1:02d}" for i in range(k)]
    cols = list(META_COLUMNS) + (["theta"] if include_truth else [])
    frame = out[cols].copy()
    if include_truth:
        frame["published_of"] = published_of
    return frame


def _candidates(rng, m, mu, tau2, p_group, type_effect, beta, n_median, n_log_sd, n_min, control_mean, sd):
    group = rng.random(m) < p_group
    n1 = np.maximum(np.round(n_median * np.exp(rng.normal(size=m) * n_log_sd)), n_min).astype(np.int64)
    n2 = np.maximum(np.round(n1 * np.exp(rng.normal(size=m) * 0.1)), n_min).astype(np.int64)
    theta = (mu + type_effect * group + beta * np.sqrt(1 / n1 + 1 / n2)
             + rng.normal(size=m) * np.sqrt(tau2))  # fmt: skip
    sigma = sd * np.exp(rng.normal(size=m) * 0.15)
    mean2 = control_mean + rng.normal(size=m) * 2.0
    mean1 = mean2 + theta * sigma
    m1 = mean1 + rng.normal(size=m) * sigma / np.sqrt(n1)
    m2 = mean2 + rng.normal(size=m) * sigma / np.sqrt(n2)
    sd1 = sigma * np.sqrt(rng.chisquare(n1 - 1) / (n1 - 1))
    sd2 = sigma * np.sqrt(rng.chisquare(n2 - 1) / (n2 - 1))
    m1, m2, sd1, sd2 = (np.round(x, 2) for x in (m1, m2, sd1, sd2))
    # one-sided p-value of the two-sample t-test for benefit (as reported)
    sp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
    t = (m1 - m2) / (sp * np.sqrt(1 / n1 + 1 / n2))
    p = stats.t.sf(t, n1 + n2 - 2)
    return pd.DataFrame(
        {
            "type": np.where(group, "group", "one-to-one"),
            "n1i": n1, "m1i": m1, "sd1i": sd1, "n2i": n2, "m2i": m2, "sd2i": sd2,
            "theta": theta, "_p": p,
        }
    )  # fmt: skip
