"""Minimisation (Pocock & Simon 1975) with a biased coin.

For a new participant with levels (x_1, ..., x_F) of the F factors, let
c_fj be the number already allocated to arm j among those with level x_f of
factor f. Allocating the newcomer to arm k would give counts c_f + e_k; the
imbalance of factor f is D((c_f + e_k) / r), with r the allocation ratio and D
the range (max - min), the standard deviation or the variance (R's ``sd``/
``var``, denominator K - 1). The total imbalance of arm k is

    G_k = sum_f w_f D((c_f + e_k) / r).

The arms with the smallest G_k share probability ``p`` (the biased coin;
p = 1 is deterministic minimisation), the others share 1 - p; when every arm
ties the allocation is random with probabilities proportional to the ratio.

References: Pocock SJ, Simon R. Biometrics 1975;31:103-115. Scott NW et al.
Control Clin Trials 2002;23:662-674 (review and worked example).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from peertrial._data import as_frame, as_generator, renamed_argument, require_columns, row_labels
from peertrial.randomise._streams import canonical_label
from peertrial.randomise.design import check_arms, check_ratio, prob_column

__all__ = ["Minimiser", "minimise", "pocock_simon_scores", "pocock_simon_probs"]

IMBALANCE = ("range", "sd", "variance")


def _imbalance(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "range":
        return x.max(axis=-1) - x.min(axis=-1)
    if kind == "sd":
        return x.std(axis=-1, ddof=1)
    if kind == "variance":
        return x.var(axis=-1, ddof=1)
    raise ValueError(f"imbalance must be one of {IMBALANCE}, got {kind!r}")


def pocock_simon_scores(level_counts, weights=None, ratio=None, imbalance="range") -> np.ndarray:
    """Total imbalance G_k for each candidate arm k.

    ``level_counts`` has shape (..., F, K): for each factor, the counts per arm
    among earlier participants sharing the newcomer's level. A leading batch
    axis scores many trials at once. Returns shape (..., K).
    """
    c = np.asarray(level_counts, dtype=float)
    n_factors, k = c.shape[-2], c.shape[-1]
    r = np.ones(k) if ratio is None else np.asarray(ratio, dtype=float)
    w = np.ones(n_factors) if weights is None else np.asarray(weights, dtype=float)
    # (..., candidate arm, factor, arm): counts if the newcomer joined the candidate
    trial = c[..., None, :, :] + np.eye(k)[:, None, :]
    d = _imbalance(trial / r, imbalance)
    return d @ w


def pocock_simon_probs(scores, p: float = 0.8, ratio=None) -> np.ndarray:
    """Allocation probabilities from the scores G (shape (..., K)).

    Arms with the minimum G share ``p`` equally, the rest share ``1 - p``
    equally; if every arm ties, probabilities are proportional to the ratio.
    """
    g = np.asarray(scores, dtype=float)
    k = g.shape[-1]
    r = np.ones(k) if ratio is None else np.asarray(ratio, dtype=float)
    best = np.isclose(g, g.min(axis=-1, keepdims=True), rtol=0, atol=1e-9)
    n_best = best.sum(axis=-1, keepdims=True)
    all_tie = n_best == k
    n_rest = np.where(all_tie, 1, k - n_best)
    probs = np.where(best, p / n_best, (1 - p) / n_rest)
    return np.where(all_tie, np.broadcast_to(r / r.sum(), g.shape), probs)


def _check_p(p) -> float:
    p = float(p)
    if not 0 <= p <= 1:
        raise ValueError(f"p (the biased-coin probability) must be in [0, 1], got {p}")
    return p


class Minimiser:
    """Sequential Pocock–Simon minimisation: one participant at a time.

    ``assign(**levels)`` allocates the next participant, ``record(arm, **levels)`` enters an
    allocation made elsewhere, ``scores``/``probabilities`` show what the next participant
    with those levels would face; ``history`` and ``counts`` report what was done.

    Parameters
    ----------
    factors : dict or list of str
        A dict of factor -> levels (levels checked) or a list of factor names (levels
        learnt as they appear).
    arms : sequence or int, optional
        Arm labels (default ``[0, 1]``).
    p : float, default 0.8
        Biased-coin probability of the arm(s) minimising imbalance (1: deterministic).
    imbalance : {"range", "sd", "variance"}, default "range"
        Imbalance measure D of each factor's (ratio-adjusted) counts.
    weights : dict or list of float, optional
        Weights of the factors (default equal).
    ratio : sequence of int, optional
        Unequal allocation: counts are divided by the ratio before measuring imbalance.
    seed : int or numpy.random.Generator, optional
        Seed of the biased coin.
    initial_counts : dict, optional
        ``{factor: {level: counts per arm}}``, to start from an existing allocation (e.g. a
        worked example).

    Notes
    -----
    R equivalent: none in the R packages used here; checked against the worked example of
    Scott et al. (2002).

    References
    ----------
    .. [1] Pocock, S. J., & Simon, R. (1975). Sequential treatment assignment with balancing for
       prognostic factors in the controlled clinical trial. Biometrics, 31, 103-115.
    .. [2] Scott, N. W., McPherson, G. C., Ramsay, C. R., & Campbell, M. K. (2002). The method
       of minimization for allocation to clinical trials: a review. Controlled Clinical
       Trials, 23, 662-674.

    Examples
    --------
    >>> m = pt.randomise.Minimiser({"site": [1, 2, 3], "diagnosis": ["psychotic", "other"]},
    ...                            arms=["control", "peer"], p=0.8, seed=1)
    >>> m.assign(site=2, diagnosis="other")
    'peer'
    >>> m.probabilities(site=2, diagnosis="other").round(2).tolist()  # control now minimises
    [0.8, 0.2]
    """

    def __init__(
        self,
        factors,
        arms=None,
        p: float = 0.8,
        imbalance: str = "range",
        weights=None,
        ratio=None,
        seed=None,
        initial_counts=None,
    ):
        self.arms = check_arms(arms)
        k = len(self.arms)
        if isinstance(factors, Mapping):
            self.factors = [str(f) for f in factors]
            self._levels = {str(f): [canonical_label(v) for v in lev] for f, lev in factors.items()}
            self._open = False
        else:
            if isinstance(factors, str):
                factors = [factors]
            self.factors = [str(f) for f in factors]
            self._levels = {f: [] for f in self.factors}
            self._open = True
        if not self.factors:
            raise ValueError("minimisation needs at least one factor")
        if imbalance not in IMBALANCE:
            raise ValueError(f"imbalance must be one of {IMBALANCE}, got {imbalance!r}")
        self.imbalance = imbalance
        self.p = _check_p(p)
        self.ratio = check_ratio(ratio, k)
        self.weights = self._check_weights(weights)
        self._rng = as_generator(seed)
        self._counts = {f: {lev: np.zeros(k) for lev in self._levels[f]} for f in self.factors}
        self._history: list[dict] = []
        for f, table in (initial_counts or {}).items():
            for lev, counts in table.items():
                self._level_counts(str(f), lev)[:] = np.asarray(counts, dtype=float)

    def _check_weights(self, weights) -> np.ndarray:
        if weights is None:
            return np.ones(len(self.factors))
        if isinstance(weights, Mapping):
            unknown = set(map(str, weights)) - set(self.factors)
            if unknown:
                raise ValueError(f"weights name unknown factor(s) {sorted(unknown)}; factors are {self.factors}")
            weights = [weights.get(f, 1.0) for f in self.factors]
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(self.factors),) or np.any(~np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"weights must be {len(self.factors)} non-negative numbers, got {weights!r}")
        return w

    def _level_counts(self, factor: str, level) -> np.ndarray:
        label = canonical_label(level)
        table = self._counts[factor]
        if label not in table:
            if not self._open:
                raise ValueError(
                    f"unknown level {level!r} of factor {factor!r}; known levels: {self._levels[factor]}"
                )
            self._levels[factor].append(label)
            table[label] = np.zeros(len(self.arms))
        return table[label]

    def _covariates(self, covariates: Mapping) -> dict:
        missing = [f for f in self.factors if f not in covariates]
        extra = [f for f in covariates if f not in self.factors]
        if missing or extra:
            raise ValueError(f"expected levels for factors {self.factors}; missing {missing}, unexpected {extra}")
        for f in self.factors:
            v = covariates[f]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                raise ValueError(f"factor {f!r} is missing for this participant")
        return {f: covariates[f] for f in self.factors}

    def _scores(self, cov: dict) -> np.ndarray:
        counts = np.stack([self._peek(f, cov[f]) for f in self.factors])
        return pocock_simon_scores(counts, self.weights, self.ratio, self.imbalance)

    def scores(self, **covariates) -> pd.Series:
        """G_k for each arm for a participant with these levels (nothing is recorded)."""
        g = self._scores(self._covariates(covariates))
        return pd.Series(g, index=pd.Index(self.arms, name="arm"), name="G")

    def _peek(self, factor, level) -> np.ndarray:
        label = canonical_label(level)
        if label in self._counts[factor]:
            return self._counts[factor][label]
        if not self._open:
            raise ValueError(f"unknown level {level!r} of factor {factor!r}; known levels: {self._levels[factor]}")
        return np.zeros(len(self.arms))

    def probabilities(self, **covariates) -> pd.Series:
        """Allocation probabilities for a participant with these levels (nothing recorded)."""
        g = self.scores(**covariates)
        return pd.Series(pocock_simon_probs(g.to_numpy(), self.p, self.ratio), index=g.index, name="prob")

    def assign(self, covariates: Mapping | None = None, **levels):
        """Allocate the next participant (levels as keywords or a dict); returns the arm."""
        cov = self._covariates({**(covariates or {}), **levels})
        g = self._scores(cov)
        probs = pocock_simon_probs(g, self.p, self.ratio)
        j = int(np.searchsorted(np.cumsum(probs), self._rng.random() * probs.sum(), side="right"))
        j = min(j, len(self.arms) - 1)
        for f in self.factors:
            self._level_counts(f, cov[f])[j] += 1
        record = dict(cov)
        record["arm"] = self.arms[j]
        record.update({f"G_{a}": float(x) for a, x in zip(self.arms, g)})
        record.update({prob_column(a): float(x) for a, x in zip(self.arms, probs)})
        self._history.append(record)
        return self.arms[j]

    def record(self, arm, covariates: Mapping | None = None, **levels) -> None:
        """Count an allocation made elsewhere (e.g. before minimisation started, or a replay)."""
        cov = self._covariates({**(covariates or {}), **levels})
        labels = [canonical_label(a) for a in self.arms]
        if canonical_label(arm) not in labels:
            raise ValueError(f"unknown arm {arm!r}; arms are {self.arms}")
        j = labels.index(canonical_label(arm))
        for f in self.factors:
            self._level_counts(f, cov[f])[j] += 1

    @property
    def history(self) -> pd.DataFrame:
        """One row per assignment: levels, arm, the scores G and the probabilities used."""
        cols = [*self.factors, "arm", *(f"G_{a}" for a in self.arms), *(prob_column(a) for a in self.arms)]
        return pd.DataFrame(self._history, columns=cols)

    @property
    def counts(self) -> pd.DataFrame:
        """Current counts per factor level (rows) and arm (columns)."""
        rows = {(f, lev): c for f in self.factors for lev, c in self._counts[f].items()}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=self.arms)
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=["factor", "level"])
        return frame


@renamed_argument("participants", "data")
def minimise(
    data,
    factors,
    arms=None,
    p: float = 0.8,
    seed=None,
    imbalance: str = "range",
    weights=None,
    ratio=None,
    return_probs: bool = False,
):
    """Allocate the participants in ``data`` (a DataFrame, in row order) by Pocock–Simon minimisation.

    ``factors`` are column names (or a dict column -> levels). Returns a Series
    of arms aligned with ``data``; with ``return_probs=True`` a
    DataFrame with ``arm``, the scores ``G_<arm>`` and ``prob_<arm>``, the
    probability each arm had when that participant was allocated.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant, in order of recruitment, with the factor columns (no
        missing values).
    factors : list of str or dict
        Factor columns, or a dict column -> levels (levels checked).
    arms : sequence or int, optional
        Arm labels (default ``[0, 1]``).
    p : float, default 0.8
        Biased-coin probability of the arm(s) minimising imbalance (1: deterministic).
    seed : int or numpy.random.Generator, optional
        Seed of the biased coin.
    imbalance : {"range", "sd", "variance"}, default "range"
        Imbalance measure of each factor's counts.
    weights : dict or list of float, optional
        Weights of the factors (default equal).
    ratio : sequence of int, optional
        Integer weights per arm (default equal).
    return_probs : bool, default False
        Return the scores and probabilities too.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        The arms, aligned with ``data``; with ``return_probs=True`` a DataFrame with
        ``arm``, ``G_<arm>`` and ``prob_<arm>``.

    Notes
    -----
    R equivalent: none in the R packages used here; the method is Pocock and Simon's, checked
    against a published worked example.

    References
    ----------
    .. [1] Pocock, S. J., & Simon, R. (1975). Sequential treatment assignment with balancing for
       prognostic factors in the controlled clinical trial. Biometrics, 31, 103-115.

    Examples
    --------
    >>> people = pd.DataFrame({"site": [1, 1, 2, 2, 1, 2], "dx": ["a", "b", "a", "b", "a", "a"]})
    >>> pt.randomise.minimise(people, factors=["site", "dx"], arms=["control", "peer"], p=0.8, seed=1).tolist()
    ['peer', 'peer', 'control', 'peer', 'control', 'peer']
    """
    data = as_frame(data, what="data")
    names = list(factors) if isinstance(factors, Mapping) else ([factors] if isinstance(factors, str) else list(factors))
    require_columns(data, names)
    for f in names:
        bad = data[f].isna().to_numpy()
        if bad.any():
            raise ValueError(f"column {f!r} has missing values at rows {row_labels(data.index, bad)}; "
                             "minimisation needs every factor")
    m = Minimiser(factors, arms=arms, p=p, imbalance=imbalance, weights=weights, ratio=ratio, seed=seed)
    columns = [data[f].tolist() for f in names]
    for values in zip(*columns):
        m.assign(dict(zip(m.factors, values)))
    hist = m.history
    hist.index = data.index
    if return_probs:
        return hist.drop(columns=m.factors)
    return hist["arm"].rename("arm")
