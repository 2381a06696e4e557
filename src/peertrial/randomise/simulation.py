"""Design simulation: repeat a randomisation design many times, vectorised.

``simulate_design`` draws ``reps`` trials of ``n`` participants whose stratum
factors are drawn at random (independently by factor, with ``level_probs``),
allocates them with the design, and reports

- group sizes and the total imbalance (range of n_j / w_j, w_j = r_j / mean(r);
  |n_1 - n_0| for two equal arms);
- the same imbalance within every stratum (cell of all factors) and within
  every level of every factor (the margins, which minimisation balances);
- predictability: the proportion of allocations an investigator would guess
  correctly with the *convergence strategy* (Blackwell & Hodges 1957,
  Biometrika 44:449-459): guess the arm with the fewest (ratio-adjusted)
  allocations so far in the participant's stratum — for minimisation, the arm
  minimisation prefers — scoring 1/m when m arms tie for the guess.

Trials are generated together along a leading replicate axis (in chunks, with
a tqdm progress bar for long runs). The draws use numpy's ``Generator`` (fast,
reproducible with ``seed`` on a given numpy version); the schedules handed to a
trial come from :func:`permuted_blocks`, whose streams are stable forever.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial._data import as_generator
from peertrial._progress import progress_bar
from peertrial._results import Result, format_table
from peertrial.randomise.design import (
    check_arms,
    check_block_sizes,
    check_n,
    check_ratio,
    check_strata,
    strata_product,
)
from peertrial.randomise.minimisation import (
    IMBALANCE,
    _check_p,
    pocock_simon_probs,
    pocock_simon_scores,
)

__all__ = ["simulate_design", "DesignSimulation"]

DESIGNS = ("simple", "blocks", "minimisation")


def _range_adjusted(counts: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    adj = counts / (ratio / ratio.mean())
    return adj.max(axis=-1) - adj.min(axis=-1)


def _guess_credit(before: np.ndarray, arm: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Convergence-strategy credit: 1/m if ``arm`` is among the m arms with fewest
    ratio-adjusted allocations ``before``, else 0. ``before`` (..., K), ``arm`` (...)."""
    adj = before / ratio
    best = np.isclose(adj, adj.min(axis=-1, keepdims=True), rtol=0, atol=1e-9)
    hit = np.take_along_axis(best, arm[..., None], axis=-1)[..., 0]
    return hit / best.sum(axis=-1)


def _block_rows(rows: int, length: int, sizes: np.ndarray, weights, ratio: np.ndarray, rng) -> np.ndarray:
    """``rows`` independent permuted-block sequences of ``length`` arm codes."""
    total = ratio.sum()
    n_blocks = -(-length // sizes.min())
    bs = sizes[rng.choice(len(sizes), size=(rows, n_blocks), p=weights)]
    flat = bs.ravel()
    block_id = np.repeat(np.arange(flat.size), flat)
    starts = np.repeat(np.cumsum(flat) - flat, flat)
    pos = np.arange(block_id.size) - starts
    unit_arm = np.repeat(np.arange(len(ratio)), ratio)
    arm = unit_arm[pos // np.repeat(flat // total, flat)]
    arm = arm[np.lexsort((rng.random(arm.size), block_id))]  # permute within each block
    row_start = np.concatenate([[0], np.cumsum(bs.sum(axis=1))[:-1]])
    return arm[row_start[:, None] + np.arange(length)]


def _sequence_credit(seq: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Convergence credit at every position of every row of ``seq`` (rows, L)."""
    onehot = seq[..., None] == np.arange(len(ratio))
    before = np.cumsum(onehot, axis=1) - onehot
    return _guess_credit(before, seq, ratio)


@dataclass(frozen=True, eq=False)
class DesignSimulation(Result):
    """Properties of a randomisation design over ``reps`` simulated trials (from :func:`simulate_design`).

    ``to_frame()`` summarises each measure; ``stratum_table()``, ``margin_table()`` and
    ``group_size_table()`` give the detail.

    Attributes
    ----------
    design : str
        ``"simple"``, ``"blocks"`` or ``"minimisation"``.
    n, reps : int
        Participants per trial and simulated trials.
    arms, ratio : list
        Arm labels and allocation ratio.
    factors, levels : list
        Stratification factors and their levels.
    group_sizes : numpy.ndarray, shape (reps, arms)
        Participants per arm in each trial.
    imbalance : numpy.ndarray, shape (reps,)
        Total imbalance: range of ``n_j / w_j`` (``|n_1 - n_0|`` for two equal arms).
    stratum_imbalance : numpy.ndarray, shape (reps, strata)
        The same within each stratum (cell of all factors).
    margin_imbalance : dict
        Factor -> array (reps, levels) of the imbalance within each level.
    predictability : numpy.ndarray, shape (reps,)
        Proportion of allocations guessed correctly by the convergence strategy.
    settings : dict
        The design's settings (block sizes, stratify, p, imbalance, level_probs).
    allocations, participants : numpy.ndarray or None
        Every replicate's arm codes and participants' level codes (``keep_allocations``).

    Notes
    -----
    R equivalent: none (a simulation of the design; no R function computes these measures).

    References
    ----------
    .. [1] Blackwell, D., & Hodges, J. L. (1957). Design for the control of selection bias.
       Annals of Mathematical Statistics, 28, 449-460.
    .. [2] Matts, J. P., & Lachin, J. M. (1988). Properties of permuted-block randomization in
       clinical trials. Controlled Clinical Trials, 9, 327-344.
    .. [3] Pocock, S. J., & Simon, R. (1975). Sequential treatment assignment with balancing for
       prognostic factors in the controlled clinical trial. Biometrics, 31, 103-115.

    Examples
    --------
    >>> sim = pt.randomise.simulate_design(60, design="blocks", strata={"site": [1, 2, 3]}, reps=200, seed=1)
    >>> sim.group_sizes.shape, bool((sim.group_sizes.sum(axis=1) == 60).all())
    ((200, 2), True)
    >>> list(sim.to_frame().columns)
    ['mean', 'sd', 'median', 'p95', 'max']
    """

    design: str
    n: int
    reps: int
    arms: list
    ratio: list
    factors: list
    levels: list
    group_sizes: np.ndarray  # (reps, arms)
    imbalance: np.ndarray  # (reps,) total imbalance
    stratum_imbalance: np.ndarray  # (reps, strata)
    margin_imbalance: dict  # factor -> (reps, levels)
    predictability: np.ndarray  # (reps,) proportion guessed correctly
    settings: dict = field(default_factory=dict)
    allocations: np.ndarray | None = None  # (reps, n) arm codes when keep_allocations
    participants: np.ndarray | None = None  # (reps, n, factors) level codes when keep_allocations

    def plot(self, ax=None, **kwargs):
        """Imbalance and predictability of the simulated design.

        Draws :func:`peertrial.plot.design_imbalance` for this result: ECDFs of the whole-trial
        and within-factor imbalance, and the predictability of the next allocation.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.design_imbalance` (``factor``, ``title``).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.design_imbalance : what is drawn, with an example.
        """
        from peertrial.plot.randomise import design_imbalance

        return design_imbalance(self, ax=ax, **kwargs)

    @property
    def strata(self) -> list[tuple]:
        return strata_product(self.levels)

    def stratum_table(self) -> pd.DataFrame:
        """Per stratum: mean and 95th centile of the imbalance and P(imbalance >= 2)."""
        d = self.stratum_imbalance
        idx = pd.MultiIndex.from_tuples(self.strata, names=self.factors) if self.factors else pd.Index(["all"])
        return pd.DataFrame(
            {"mean": d.mean(0), "p95": np.quantile(d, 0.95, axis=0), "max": d.max(0), "prob_ge_2": (d >= 2).mean(0)},
            index=idx,
        )

    def margin_table(self) -> pd.DataFrame:
        """Per factor level: mean and 95th centile of the imbalance and P(imbalance >= 2)."""
        rows = []
        for f, lev in zip(self.factors, self.levels):
            d = self.margin_imbalance[f]
            for j, level in enumerate(lev):
                rows.append({"factor": f, "level": level, "mean": d[:, j].mean(),
                             "p95": np.quantile(d[:, j], 0.95), "max": d[:, j].max(),
                             "prob_ge_2": (d[:, j] >= 2).mean()})
        return pd.DataFrame(rows, columns=["factor", "level", "mean", "p95", "max", "prob_ge_2"])

    def group_size_table(self) -> pd.DataFrame:
        """Distribution of each arm's size: mean, SD and centiles."""
        g = self.group_sizes
        q = np.quantile(g, [0.025, 0.5, 0.975], axis=0)
        return pd.DataFrame({"mean": g.mean(0), "sd": g.std(0, ddof=1), "p2.5": q[0], "median": q[1], "p97.5": q[2]},
                            index=pd.Index([str(a) for a in self.arms], name="arm"))

    def to_frame(self) -> pd.DataFrame:
        """One row per measure (over replicates): mean, SD, median, 95th centile, max."""
        measures = {
            "total imbalance": self.imbalance,
            "stratum imbalance (mean over strata)": self.stratum_imbalance.mean(1),
            "stratum imbalance (max over strata)": self.stratum_imbalance.max(1),
        }
        for f in self.factors:
            measures[f"{f} imbalance (max over levels)"] = self.margin_imbalance[f].max(1)
        measures["predictability (convergence guess)"] = self.predictability
        for j, a in enumerate(self.arms):
            measures[f"n {a}"] = self.group_sizes[:, j]
        rows = {
            k: {"mean": v.mean(), "sd": v.std(ddof=1) if len(v) > 1 else np.nan, "median": np.median(v),
                "p95": np.quantile(v, 0.95), "max": v.max()}
            for k, v in measures.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> str:
        s = self.settings
        head = {
            "simple": "simple randomisation",
            "blocks": f"permuted blocks of sizes {s.get('block_sizes')}"
            + (" within strata" if s.get("stratify") and self.factors else " (unstratified)"),
            "minimisation": f"minimisation ({s.get('imbalance')}, p = {s.get('p')})",
        }[self.design]
        strata = " x ".join(f"{f} ({len(lev)})" for f, lev in zip(self.factors, self.levels)) or "none"
        se = self.predictability.std(ddof=1) / np.sqrt(self.reps) if self.reps > 1 else np.nan
        lines = [
            f"Design simulation: {head}",
            f"  {self.reps} trials of n = {self.n}; arms {self.arms} ratio {':'.join(map(str, self.ratio))}; "
            f"factors {strata}",
            f"  predictability (convergence strategy): {self.predictability.mean():.4f} (SE {se:.4f})",
            "",
            format_table(self.to_frame(), digits=3),
        ]
        return "\n".join(lines)


def _participants(reps, n, levels, level_probs, factors, rng) -> np.ndarray:
    """(reps, n, F) level codes drawn independently per factor."""
    cols = []
    for f, lev in zip(factors, levels):
        p = None if level_probs is None or f not in level_probs else np.asarray(level_probs[f], dtype=float)
        if p is not None and (p.shape != (len(lev),) or np.any(p < 0) or not np.isclose(p.sum(), 1)):
            raise ValueError(f"level_probs[{f!r}] must be {len(lev)} non-negative numbers summing to 1")
        cols.append(rng.choice(len(lev), size=(reps, n), p=p))
    return np.stack(cols, axis=-1) if cols else np.zeros((reps, n, 0), dtype=int)


def _cell_codes(x: np.ndarray, levels) -> np.ndarray:
    code = np.zeros(x.shape[:-1], dtype=np.int64)
    for f, lev in enumerate(levels):
        code = code * len(lev) + x[..., f]
    return code


def _positions(cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Position of each participant within its cell (0-based), per replicate."""
    onehot = cell[..., None] == np.arange(n_cells)
    return np.take_along_axis(np.cumsum(onehot, axis=1), cell[..., None], axis=-1)[..., 0] - 1


def _allocate_sequences(design, x, levels, stratify, ratio, p_arm, sizes, weights, rng):
    """Simple or blocked allocation within cells; returns (arms, credits), each (reps, n)."""
    reps, n = x.shape[:2]
    if stratify and levels:
        cell, n_cells = _cell_codes(x, levels), int(np.prod([len(v) for v in levels]))
    else:
        cell, n_cells = np.zeros((reps, n), dtype=np.int64), 1
    pos = _positions(cell, n_cells)
    length = int(pos.max()) + 1
    rows = reps * n_cells
    if design == "blocks":
        seq = _block_rows(rows, length, sizes, weights, ratio, rng)
    else:
        seq = rng.choice(len(ratio), size=(rows, length), p=p_arm)
    credit = _sequence_credit(seq, ratio)
    row = np.arange(reps)[:, None] * n_cells + cell
    return seq[row, pos], credit[row, pos]


def _allocate_minimisation(x, levels, ratio, p, imbalance, weights, rng):
    """Pocock–Simon minimisation for every replicate at once (sequential in participants)."""
    reps, n, n_f = x.shape
    k = len(ratio)
    max_l = max(len(v) for v in levels)
    counts = np.zeros((reps, n_f, max_l, k))
    arms = np.empty((reps, n), dtype=np.int64)
    credit = np.empty((reps, n))
    r_idx = np.arange(reps)[:, None]
    f_idx = np.arange(n_f)[None, :]
    for i in range(n):
        lev = x[:, i, :]
        level_counts = counts[r_idx, f_idx, lev]  # (reps, F, K)
        g = pocock_simon_scores(level_counts, weights, ratio, imbalance)
        probs = pocock_simon_probs(g, p, ratio)
        u = rng.random(reps)[:, None]
        a = np.minimum((np.cumsum(probs, axis=1) <= u * probs.sum(1, keepdims=True)).sum(1), k - 1)
        best = np.isclose(g, g.min(axis=1, keepdims=True), rtol=0, atol=1e-9)
        credit[:, i] = best[np.arange(reps), a] / best.sum(1)
        arms[:, i] = a
        counts[r_idx, f_idx, lev, a[:, None]] += 1
    return arms, credit


def simulate_design(
    n,
    design: str = "blocks",
    arms=None,
    strata=None,
    level_probs=None,
    block_sizes=(2, 4, 6),
    ratio=None,
    stratify: bool = True,
    p: float = 0.8,
    imbalance: str = "range",
    weights=None,
    reps: int = 1000,
    seed=None,
    progress: bool | None = None,
    chunk: int | None = None,
    keep_allocations: bool = False,
) -> DesignSimulation:
    """Simulate a randomisation design ``reps`` times: imbalance, predictability and group sizes.

    Parameters
    ----------
    n : int
        Participants per simulated trial.
    design : {"simple", "blocks", "minimisation"}, default "blocks"
        ``"simple"``, ``"blocks"`` (permuted blocks with random sizes from
        ``block_sizes``; within strata unless ``stratify=False``) or
        ``"minimisation"`` (Pocock–Simon over the factors, biased coin ``p``,
        ``imbalance`` and factor ``weights``).
    arms : sequence or int, optional
        Arm labels (default ``[0, 1]``).
    strata : dict, optional
        Factor -> levels of the recruits' stratification factors.
    level_probs : dict, optional
        Factor -> probabilities of its levels among recruits (default equal).
    block_sizes : sequence of int, default (2, 4, 6)
        Block sizes drawn at random (``"blocks"``).
    ratio : sequence of int, optional
        Integer weights per arm (default equal).
    stratify : bool, default True
        Blocks within strata (``"blocks"``); False: one sequence for everyone.
    p : float, default 0.8
        Biased-coin probability (``"minimisation"``).
    imbalance : {"range", "sd", "variance"}, default "range"
        Imbalance measure of minimisation.
    weights : dict or list of float, optional
        Factor weights of minimisation.
    reps : int, default 1000
        Simulated trials.
    seed : int or numpy.random.Generator, optional
        Seed of the simulation (reproducible on a given numpy version).
    progress : bool, optional
        Show a tqdm bar on stderr (default: when reps x n exceeds 200,000 and stderr is a
        terminal).
    chunk : int, optional
        Replicates simulated together (memory cap; default chosen from ``n``).
    keep_allocations : bool, default False
        Also keep every replicate's arms and participants.

    Returns
    -------
    DesignSimulation
        Group sizes, total, per-stratum and per-margin imbalance and predictability of
        every simulated trial.

    Notes
    -----
    R equivalent: none (a simulation of the design; no R function computes these measures).

    References
    ----------
    .. [1] Blackwell, D., & Hodges, J. L. (1957). Design for the control of selection bias.
       Annals of Mathematical Statistics, 28, 449-460.
    .. [2] Matts, J. P., & Lachin, J. M. (1988). Properties of permuted-block randomization in
       clinical trials. Controlled Clinical Trials, 9, 327-344.
    .. [3] Pocock, S. J., & Simon, R. (1975). Sequential treatment assignment with balancing for
       prognostic factors in the controlled clinical trial. Biometrics, 31, 103-115.

    Examples
    --------
    >>> blocks = pt.randomise.simulate_design(60, design="blocks", strata={"site": [1, 2, 3]}, reps=200, seed=1)
    >>> float(blocks.imbalance.max()) <= 9    # at most half the largest block in each of 3 strata
    True
    >>> minim = pt.randomise.simulate_design(60, design="minimisation", strata={"site": [1, 2, 3]},
    ...                                      reps=200, seed=1)
    >>> minim.design, minim.group_sizes.shape
    ('minimisation', (200, 2))
    """
    n = check_n(n)
    reps = check_n(reps, "reps")
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    arms = check_arms(arms)
    ratio = np.asarray(check_ratio(ratio, len(arms)))
    factors, levels = check_strata(strata)
    if design == "minimisation":
        if not factors:
            raise ValueError("minimisation needs stratum factors (strata={factor: levels})")
        if imbalance not in IMBALANCE:
            raise ValueError(f"imbalance must be one of {IMBALANCE}, got {imbalance!r}")
        p = _check_p(p)
        w = np.ones(len(factors)) if weights is None else np.asarray(
            [weights.get(f, 1.0) for f in factors] if isinstance(weights, dict) else weights, dtype=float)
    sizes = np.asarray(check_block_sizes(block_sizes, list(ratio))) if design == "blocks" else None
    rng = as_generator(seed)
    chunk = chunk or max(1, min(reps, 2_000_000 // max(1, n * max(1, int(np.prod([len(v) for v in levels]))))))
    show = progress if progress is not None else (reps * n > 200_000
                                                   and bool(getattr(sys.stderr, "isatty", lambda: False)()))
    cells = strata_product(levels)
    out = {"sizes": [], "total": [], "cell": [], "pred": [], "arms": [], "x": []}
    margins = {f: [] for f in factors}
    with progress_bar()(total=reps, disable=not show, desc=f"simulating {design}", unit="trial") as bar:
        done = 0
        while done < reps:
            m = min(chunk, reps - done)
            x = _participants(m, n, levels, level_probs, factors, rng)
            if design == "minimisation":
                a, credit = _allocate_minimisation(x, levels, ratio, p, imbalance, w, rng)
            else:
                a, credit = _allocate_sequences(design, x, levels, stratify, ratio, ratio / ratio.sum(), sizes,
                                                None, rng)
            onehot = (a[..., None] == np.arange(len(arms))).astype(np.int64)
            sizes_r = onehot.sum(1)
            out["sizes"].append(sizes_r)
            out["total"].append(_range_adjusted(sizes_r, ratio))
            cell = _cell_codes(x, levels)
            by_cell = np.zeros((m, len(cells), len(arms)))
            np.add.at(by_cell, (np.arange(m)[:, None], cell, a), 1)
            out["cell"].append(_range_adjusted(by_cell, ratio))
            for j, (f, lev) in enumerate(zip(factors, levels)):
                by_level = np.zeros((m, len(lev), len(arms)))
                np.add.at(by_level, (np.arange(m)[:, None], x[..., j], a), 1)
                margins[f].append(_range_adjusted(by_level, ratio))
            out["pred"].append(credit.mean(1))
            if keep_allocations:
                out["arms"].append(a)
                out["x"].append(x)
            done += m
            bar.update(m)
    settings = {"block_sizes": [int(b) for b in sizes] if sizes is not None else None, "stratify": stratify,
                "p": p if design == "minimisation" else None, "imbalance": imbalance if design == "minimisation" else None,
                "level_probs": level_probs}
    return DesignSimulation(
        design=design,
        n=n,
        reps=reps,
        arms=arms,
        ratio=[int(r) for r in ratio],
        factors=factors,
        levels=levels,
        group_sizes=np.concatenate(out["sizes"]),
        imbalance=np.concatenate(out["total"]),
        stratum_imbalance=np.concatenate(out["cell"]),
        margin_imbalance={f: np.concatenate(v) for f, v in margins.items()},
        predictability=np.concatenate(out["pred"]),
        settings=settings,
        allocations=np.concatenate(out["arms"]) if keep_allocations else None,
        participants=np.concatenate(out["x"]) if keep_allocations else None,
    )
