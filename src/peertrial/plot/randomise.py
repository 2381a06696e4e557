"""Figures for randomisation: design comparison, stratum imbalance, allocation sequence."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from peertrial._data import as_frame, require_columns
from peertrial.plot._figure import panels, single_axes
from peertrial.plot._style import PALETTE, style

__all__ = ["design_imbalance", "stratum_imbalance", "allocation_sequence"]


def _as_dict(sims) -> dict:
    if isinstance(sims, dict):
        return sims
    return {sims.design: sims}


def _ecdf(ax, values, label, colour):
    x = np.sort(np.asarray(values, dtype=float))
    y = np.arange(1, x.size + 1) / x.size
    ax.step(x, y, where="post", label=label, color=colour, lw=1.3)


def design_imbalance(sims, *, factor: str | None = None, title: str | None = None, ax=None) -> Figure:
    """Compare randomisation designs by simulation: imbalance over the trial, within a factor, and predictability.

    Three panels, one line or bar per design: the empirical distribution (ECDF) of the total
    imbalance between arms over the simulated trials; the ECDF of the largest imbalance over
    the levels of ``factor`` (or over strata); and the predictability of the next allocation
    under the convergence guessing strategy (mean proportion of correct guesses with a 95%
    interval of that mean; the dashed line is pure chance, one over the number of arms).

    Parameters
    ----------
    sims : DesignSimulation or dict of str to DesignSimulation
        From :func:`peertrial.randomise.simulate_design`, or several keyed by the name shown
        in the legend (e.g. ``{"blocks": a, "minimisation": b}``).
    factor : str, optional
        Stratification factor of the middle panel (default: the first factor; the largest
        stratum imbalance without factors).
    title : str, optional
        Figure title (default "Design properties over <reps> simulated trials of n = <n>").
    ax : matplotlib.axes.Axes, optional
        Draw the three panels in this Axes' slot; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Notes
    -----
    R equivalent: none; the design simulation (:func:`peertrial.randomise.simulate_design`) has
    no counterpart in the R packages used here.

    References
    ----------
    .. [1] Blackwell, D., & Hodges, J. L. (1957). Design for the control of selection bias.
       Annals of Mathematical Statistics, 28, 449-460.
    .. [2] Pocock, S. J., & Simon, R. (1975). Sequential treatment assignment with balancing
       for prognostic factors in the controlled clinical trial. Biometrics, 31, 103-115.
    .. [3] Rosenberger, W. F., & Lachin, J. M. (2016). Randomization in Clinical Trials:
       Theory and Practice (2nd ed.). Wiley.

    Examples
    --------
    >>> import peertrial as pt
    >>> strata = {"site": [1, 2], "diagnosis": ["a", "b"]}
    >>> sims = {d: pt.randomise.simulate_design(40, design=d, strata=strata, reps=20, seed=1)
    ...         for d in ("blocks", "minimisation")}
    >>> fig = pt.plot.design_imbalance(sims)
    >>> [a.get_title() for a in fig.axes]
    ['Whole trial', 'Within site', 'Predictability']
    >>> pt.plot.close(fig)
    """
    sims = _as_dict(sims)
    first = next(iter(sims.values()))
    factor = factor or (first.factors[0] if first.factors else None)
    with style():
        fig, box, owned = panels(ax, (10.0, 3.9))
        grid = {"width_ratios": [1.2, 1.2, 0.8]} | ({} if owned else {"bottom": 0.3, "top": 0.8})
        axes = box.subplots(1, 3, gridspec_kw=grid)
        for i, (name, sim) in enumerate(sims.items()):
            colour = PALETTE[i % len(PALETTE)]
            _ecdf(axes[0], sim.imbalance, name, colour)
            margin = sim.margin_imbalance[factor].max(1) if factor else sim.stratum_imbalance.max(1)
            _ecdf(axes[1], margin, name, colour)
            pred = sim.predictability
            half = 1.96 * pred.std(ddof=1) / np.sqrt(len(pred)) if len(pred) > 1 else 0.0
            axes[2].barh(i, pred.mean(), xerr=half, color=colour, height=0.6)
            axes[2].text(pred.mean() + 0.02, i, f"{pred.mean():.3f}", va="center", fontsize=7)
        axes[0].set_xlabel("total imbalance |n(peer) - n(control)|" if len(first.arms) == 2 else "total imbalance")
        axes[0].set_ylabel("proportion of simulated trials")
        axes[0].set_title("Whole trial")
        axes[1].set_xlabel(f"largest imbalance over {factor} levels" if factor else "largest stratum imbalance")
        axes[1].set_title(f"Within {factor}" if factor else "Within strata")
        axes[2].set_yticks([])
        axes[2].invert_yaxis()
        axes[2].axvline(1 / len(first.arms), color="black", lw=0.8, ls="--")
        axes[2].set_xlim(0, 1)
        axes[2].set_xlabel("correct guesses (convergence strategy)")
        axes[2].set_title("Predictability")
        handles, labels = axes[0].get_legend_handles_labels()
        box.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8)
        box.suptitle(title or f"Design properties over {first.reps} simulated trials of n = {first.n}")
        if owned:
            fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def stratum_imbalance(sim, *, statistic: str = "mean", title: str | None = None, ax=None) -> Figure:
    """Draw a heat map of the imbalance between arms within each stratum of two factors, over simulated trials.

    Rows are the levels of the first stratification factor, columns those of the second; each
    cell shows a summary, over the simulated trials, of the imbalance between arms within
    that stratum, with a colour bar.

    Parameters
    ----------
    sim : DesignSimulation
        From :func:`peertrial.randomise.simulate_design` with exactly two stratum factors
        (its ``stratum_table()``, ``factors`` and ``levels``).
    statistic : {"mean", "p95", "max", "prob_ge_2"}, default "mean"
        The cell value: mean imbalance, its 95th percentile, its maximum, or the
        probability of an imbalance of 2 or more.
    title : str, optional
        Axes title (default "Imbalance within strata (<design>, <reps> trials)").
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes (the colour bar takes room from it); by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Raises
    ------
    ValueError
        If the simulation does not have exactly two stratum factors.

    Notes
    -----
    R equivalent: none; the design simulation has no counterpart in the R packages used here.

    References
    ----------
    .. [1] Kernan, W. N., Viscoli, C. M., Makuch, R. W., Brass, L. M., & Horwitz, R. I.
       (1999). Stratified randomization for clinical trials. Journal of Clinical
       Epidemiology, 52, 19-26.
    .. [2] Rosenberger, W. F., & Lachin, J. M. (2016). Randomization in Clinical Trials:
       Theory and Practice (2nd ed.). Wiley.

    Examples
    --------
    >>> import peertrial as pt
    >>> sim = pt.randomise.simulate_design(40, strata={"site": [1, 2], "diagnosis": ["a", "b"]},
    ...                                    reps=20, seed=1)
    >>> fig = pt.plot.stratum_imbalance(sim, statistic="p95")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('diagnosis', 'site')
    >>> pt.plot.close(fig)
    """
    if len(sim.factors) != 2:
        raise ValueError(f"a stratum heatmap needs exactly two stratum factors, the simulation has {sim.factors}")
    table = sim.stratum_table()[statistic].unstack()
    rows, cols = sim.factors
    table = table.reindex(index=sim.levels[0], columns=sim.levels[1])
    with style():
        fig, ax, _ = single_axes(ax, (1.2 + 1.1 * table.shape[1], 0.9 + 0.42 * table.shape[0]))
        im = ax.imshow(table.to_numpy(dtype=float), cmap="Blues", aspect="auto", vmin=0)
        for (i, j), v in np.ndenumerate(table.to_numpy(dtype=float)):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 * np.nanmax(table.to_numpy(dtype=float)) else "black")
        ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
        ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index])
        ax.set_xlabel(cols)
        ax.set_ylabel(rows)
        ax.get_figure(root=False).colorbar(im, ax=ax, label=f"{statistic} imbalance")
        ax.set_title(title or f"Imbalance within strata ({sim.design}, {sim.reps} trials)")
    return fig


def allocation_sequence(data, *, arm: str = "arm", order: str = "id", by: str | None = None,
                        title: str | None = None, ax=None) -> Figure:
    """Draw the running difference between arms over enrolment, overall or per level of a stratum.

    For participants in enrolment order, the cumulative count of arm 1 minus arm 0 (the two
    sorted arm codes): a well-balanced sequence stays near 0; a long drift shows the
    imbalance a design allowed. With ``by``, one panel per level (sharing the y axis).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per randomised participant.
    arm : str, default "arm"
        Column of the allocated arm (exactly two values).
    order : str, default "id"
        Column giving the enrolment order (rows are sorted by it, stably).
    by : str, optional
        Column of a stratum (e.g. the site): one panel per level.
    title : str, optional
        Figure title (default "Running allocation difference").
    ax : matplotlib.axes.Axes, optional
        Draw the panel(s) in this Axes' slot; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The (top-level) figure.

    Raises
    ------
    ValueError
        If a column is missing or ``arm`` does not have exactly two values.

    Notes
    -----
    R equivalent: none; base R draws it as ``plot(cumsum(ifelse(arm == 1, 1, -1)), type = "s")``.

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Generation of allocation sequences in
       randomised trials: chance, not choice. The Lancet, 359, 515-519.
    .. [2] Rosenberger, W. F., & Lachin, J. M. (2016). Randomization in Clinical Trials:
       Theory and Practice (2nd ed.). Wiley.

    Examples
    --------
    >>> import peertrial as pt
    >>> df = pt.simulate.trial(n=200, seed=1)
    >>> fig = pt.plot.allocation_sequence(df, arm="arm", order="id", by="site")
    >>> fig.get_suptitle()
    'Running allocation difference'
    >>> pt.plot.close(fig)
    """
    df = as_frame(data)
    require_columns(df, [arm, order, by])
    df = df.sort_values(order, kind="stable")
    arms = sorted(pd.unique(df[arm]).tolist())
    if len(arms) != 2:
        raise ValueError(f"column {arm!r} must have two arms for a running difference, found {arms}")
    step = np.where(df[arm].to_numpy() == arms[1], 1, -1)
    groups = [("all", np.ones(len(df), bool))] if by is None else [
        (lev, (df[by] == lev).to_numpy()) for lev in sorted(pd.unique(df[by]).tolist(), key=str)]
    ncol = min(4, len(groups))
    nrow = -(-len(groups) // ncol)
    with style():
        fig, box, owned = panels(ax, (7.0 if by is None else 2.4 * ncol, 3.2 if by is None else 2.0 * nrow + 0.8))
        axes = np.atleast_1d(box.subplots(nrow, ncol, sharey=True, squeeze=False).ravel())
        for ax, (lev, mask) in zip(axes, groups):
            diff = np.cumsum(step[mask])
            ax.step(np.arange(1, diff.size + 1), diff, where="post", lw=1.0, color=PALETTE[0])
            ax.axhline(0, color="black", lw=0.7)
            if by is not None:
                ax.set_title(f"{by} {lev} (n = {diff.size})", fontsize=8)
        for ax in axes[len(groups):]:
            ax.set_visible(False)
        box.supxlabel("participants enrolled" + (f" in the {by}" if by else ""), fontsize=9)
        box.supylabel(f"n({arm}={arms[1]}) - n({arm}={arms[0]})", fontsize=9)
        box.suptitle(title or "Running allocation difference")
        if owned:
            fig.tight_layout()
    return fig
