"""Simulated studies of peer support and inpatient bed use, for cost–benefit pooling.

Each study ``i`` runs a peer-support service for ``n_i`` people. Its cost is
``n_i × cost_per_person_i`` (peer-worker time: ``hours_per_person`` at an
hourly rate drawn uniformly between the bottom of Agenda for Change band 3 and
the top of band 4, with ``oncost``). Bed days saved per person are drawn as
``d_i ~ N(δ, τ²)`` (heterogeneous true effects, ``δ`` set so that the expected
pooled ratio is ``target_ratio`` at ``bed_day_cost``) and estimated from a
comparison of two groups of ``n_i`` with per-person SD ``sd_bed_days``, so each
study also reports the standard error of its bed days saved. Benefit is bed
days saved × ``bed_day_cost``. With the defaults the pooled (total benefit /
total cost) ratio is near Trachtenberg et al.'s (2013) 1:4.76 across six studies
and one study can come out slightly negative, as theirs did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peertrial._data import as_generator

__all__ = ["bed_use_studies", "BED_USE_COLUMNS"]

BED_USE_COLUMNS = ("study", "year", "n", "cost", "bed_days_saved", "bed_days_saved_se", "benefit", "benefit_se")

#: Agenda for Change 2024/25: bottom of band 3 and top of band 4 (GBP per year).
BAND_RANGE = (24_071.0, 29_114.0)


def bed_use_studies(
    k: int = 6,
    *,
    target_ratio: float = 4.76,
    tau: float = 2.0,
    hours_per_person: float = 20.0,
    oncost: float = 0.28,
    hours_per_year: float = 1_950.0,
    bed_day_cost: float = 415.0,
    sd_bed_days: float = 25.0,
    n_range: tuple[int, int] = (30, 150),
    years: tuple[int, int] = (1995, 2012),
    seed=None,
) -> pd.DataFrame:
    """Simulate ``k`` bed-use studies: cost, bed days saved (with SE) and benefit in GBP.

    Parameters
    ----------
    k : int, default 6
        Studies (Trachtenberg et al. 2013 pooled six).
    target_ratio : float, default 4.76
        Expected pooled benefit per GBP 1 spent.
    tau : float, default 2.0
        SD of true bed days saved per person across studies.
    hours_per_person : float, default 20.0
        Peer-worker hours per person supported.
    oncost : float, default 0.28
        Employer on-costs as a share of salary.
    hours_per_year : float, default 1950.0
        Paid hours per year (37.5 h x 52).
    bed_day_cost : float, default 415.0
        GBP per adult acute bed day (NHS trusts: 404-429).
    sd_bed_days : float, default 25.0
        Per-person SD of bed days within a study.
    n_range : tuple of int, default (30, 150)
        People supported per study (uniform integers).
    years : tuple of int, default (1995, 2012)
        Publication years (uniform integers).
    seed : int or numpy.random.Generator, optional
        The same seed gives the same studies.

    Returns
    -------
    pandas.DataFrame
        One row per simulated study, ready for :func:`peertrial.econ.pooled_ratio`.

    Notes
    -----
    R equivalent: none (it simulates data).

    References
    ----------
    .. [1] Trachtenberg, M., Parsonage, M., Shepherd, G., & Boardman, J. (2013). Peer support in
       mental health care: is it good value for money? Centre for Mental Health, London.

    Examples
    --------
    >>> studies = pt.simulate.bed_use_studies(k=6, seed=1)
    >>> studies.shape, list(studies.columns[:4])
    ((6, 8), ['study', 'year', 'n', 'cost'])
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    rng = as_generator(seed)
    n = rng.integers(n_range[0], n_range[1] + 1, size=k)
    salary = rng.uniform(*BAND_RANGE, size=k)
    cost_per_person = hours_per_person * salary * (1 + oncost) / hours_per_year
    mean_cost = hours_per_person * np.mean(BAND_RANGE) * (1 + oncost) / hours_per_year
    delta = target_ratio * mean_cost / bed_day_cost  # bed days saved per person giving the target ratio
    true_saved = rng.normal(delta, tau, size=k)
    se_per_person = sd_bed_days * np.sqrt(2.0 / n)  # difference of two group means of n each
    saved_per_person = rng.normal(true_saved, se_per_person)
    frame = pd.DataFrame(
        {
            "study": [f"Study {i + 1}" for i in range(k)],
            "year": np.sort(rng.integers(years[0], years[1] + 1, size=k)),
            "n": n,
            "cost": np.round(n * cost_per_person, 2),
            "bed_days_saved": np.round(n * saved_per_person, 1),
            "bed_days_saved_se": np.round(n * se_per_person, 1),
        }
    )
    frame["benefit"] = np.round(frame["bed_days_saved"] * bed_day_cost, 2)
    frame["benefit_se"] = np.round(frame["bed_days_saved_se"] * bed_day_cost, 2)
    return frame
