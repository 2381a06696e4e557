"""Forest plot in the layout of a Cochrane review (RevMan): data columns per arm, weights,
subgroup blocks with subtotals, and the test for subgroup differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Polygon
from scipy import stats

from peertrial.plot._figure import height_inches, panels
from peertrial.plot._style import PALETTE, style
from peertrial.plot.meta import _default_label, _fmt, _ratio_ticks

__all__ = ["revman_forest"]

_RATIO = ("OR", "RR", "ROM", "PETO")


def _cell(v):
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    v = float(v)
    return f"{v:.0f}" if v.is_integer() else f"{v:.3g}" if abs(v) < 100 else f"{v:.1f}"


def _p(p):
    """p-values as RevMan prints them."""
    if p < 1e-5:
        return "P < 0.00001"
    if p < 1e-4:
        return "P < 0.0001"
    return f"P = {p:.4f}" if p < 0.001 else f"P = {p:.3f}" if p < 0.01 else f"P = {p:.2f}"


def revman_forest(fit, *, subgroup=None, ilab=None, transf=None, xlabel=None, favours=None, digits: int = 2,
                  title=None, width: float = 11.0, ax=None):
    """Forest plot laid out as a Cochrane review (RevMan 5).

    Columns: study, the ``ilab`` data columns (metafor's ``ilab``; a DataFrame whose column
    names are the headers, "<arm>\\n<quantity>" grouping columns under an arm name, one row
    per study of ``fit``, e.g. from :func:`peertrial.meta.arm_columns`; by default, for a Mantel–Haenszel
    or Peto fit, events and totals per arm from its tables), the study's weight, its estimate
    with CI, and the plot. With ``subgroup`` (one label per study) the studies are drawn in
    blocks, each with its subtotal diamond (the fit's method refitted in the subgroup, as
    :func:`peertrial.meta.subgroup`), its heterogeneity and test for overall effect; then
    the total and the test for subgroup differences. Study labels are the fit's (made unique
    as metafor does). Returns the Figure; ``ax`` draws into that Axes' slot.

    Parameters
    ----------
    fit : RMAResult or MHResult
        The overall analysis (its studies are the rows).
    subgroup : array-like, optional
        One subgroup label per study of ``fit``.
    ilab : pandas.DataFrame, optional
        Extra data columns (see above); :func:`peertrial.meta.arm_columns` builds RevMan's.
    transf : callable, optional
        Back-transformation (default ``exp`` for OR, RR, ROM and Peto fits).
    xlabel, title : str, optional
        Axis label and title.
    favours : tuple of str, optional
        Labels under the two sides of the reference line.
    digits : int
        Digits of the estimates.
    width : float
        Figure width in inches.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes' slot.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    R equivalent: ``metafor::forest(res, ilab = ...)`` (metafor 3.8-1); RevMan 5's forest plot.

    References
    ----------
    Deeks JJ, Higgins JPT (2010). Statistical algorithms in Review Manager 5.

    Examples
    --------
    >>> import peertrial as pt
    >>> bcg = pt.datasets.load("bcg")
    >>> fit = pt.meta.rma_mh(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="RR", slab="author")
    >>> fig = pt.plot.revman_forest(fit, subgroup=bcg["alloc"], favours=("vaccine", "control"))
    >>> pt.plot.close(fig)
    """
    from peertrial.meta.revman import arm_columns
    from peertrial.meta.subgroup import subgroup as subgroup_analysis

    measure = getattr(fit, "measure", "GEN") or "GEN"
    method = getattr(fit, "method", "")
    ratio = measure in _RATIO or method == "PETO"
    tf = (np.exp if ratio else (lambda a: a)) if transf is None else transf
    log_axis = tf is np.exp
    yi, vi = np.asarray(fit.yi, float), np.asarray(fit.vi, float)
    k = yi.size
    labels = [str(s) for s in fit.slab]
    if ilab is None and getattr(fit, "tables", None) is not None:
        a, b, c, d = fit.tables
        ilab = arm_columns(ai=a, bi=b, ci=c, di=d)
    if ilab is not None:
        ilab = pd.DataFrame(ilab).reset_index(drop=True)
        if len(ilab) != k:
            raise ValueError(f"ilab has {len(ilab)} rows but the fit has {k} studies")
    weights = np.asarray(fit.weights_percent(), float)
    crit = stats.norm.isf((1 - float(getattr(fit, "level", 95.0)) / 100) / 2)
    lo, hi = yi - crit * np.sqrt(vi), yi + crit * np.sqrt(vi)

    sg = None
    if subgroup is not None:
        groups = pd.Series(list(subgroup), dtype=object)
        if len(groups) != k:
            raise ValueError(f"subgroup has {len(groups)} labels but the fit has {k} studies")
        sg = subgroup_analysis(fit, groups.to_numpy())
        labels_ = groups.astype(str).to_numpy()
        # blocks in order of first appearance (as RevMan draws them)
        blocks = [(g, np.flatnonzero(labels_ == g)) for g in pd.unique(labels_)]
    else:
        blocks = [(None, np.arange(k))]

    # rows top-down: ("head", text) ("study", j) ("sub", g) ("het", text) ("gap",) ("total",) ("text", str)
    rows = []
    for g, idx in blocks:
        if g is not None:
            rows.append(("head", g))
        rows += [("study", j) for j in idx]
        if g is not None:
            grow = sg.groups.loc[g]
            rows.append(("sub", g))
            rows.append(("text", _het_line(grow.get("QE", np.nan), int(grow["k"]) - 1, grow.get("QEp", np.nan),
                                           grow.get("I2", np.nan), grow.get("tau2", 0.0), method)))
            stat = grow.get("zval", grow.get("statistic", np.nan))
            rows.append(("text", f"Test for overall effect: Z = {abs(stat):.2f} ({_p(grow['pval'])})"))
            rows.append(("gap",))
    rows.append(("total",))
    k_yi = getattr(fit, "k_yi", k)
    rows.append(("text", _het_line(fit.QE, k_yi - 1, fit.QEp, fit.I2, getattr(fit, "tau2", 0.0), method)))
    z_fit = getattr(fit, "zval", np.nan)
    rows.append(("text", f"Test for overall effect: Z = {abs(float(z_fit)):.2f} ({_p(float(fit.pval))})"))
    if sg is not None:
        i2 = max(0.0, 100 * (sg.Qb - sg.Qb_df) / sg.Qb) if sg.Qb > 0 else 0.0
        rows.append(("text", f"Test for subgroup differences: Chi² = {sg.Qb:.2f}, df = {sg.Qb_df} "
                             f"({_p(sg.Qb_pval)}), I² = {i2:.1f}%"))

    n = len(rows)
    ncol = 0 if ilab is None else ilab.shape[1]
    left_w = 2.4 + 0.75 * ncol + 0.8 + 1.9
    height = 1.3 + 0.24 * (n + 2)
    with style():
        fig, box, _ = panels(ax, (width, height))
        h_in = height_inches(box)
        gs = box.add_gridspec(1, 2, width_ratios=[left_w, 3.6], wspace=0.02, left=0.01, right=0.99,
                              top=1 - (0.2 if not title else 0.5) / h_in, bottom=0.75 / h_in)
        ax_t, ax_p = box.add_subplot(gs[0, 0]), box.add_subplot(gs[0, 1])
        ylim = (0.3, n + 2.4)
        ax_t.set_axis_off()
        ax_t.set_xlim(0, left_w)
        ax_t.set_ylim(*ylim)
        ax_p.set_ylim(*ylim)
        x_cols = [2.4 + 0.75 * (j + 1) - 0.05 for j in range(ncol)]
        x_w = 2.4 + 0.75 * ncol + 0.75
        x_est = left_w - 0.02
        head_y = n + 1.45
        ax_t.text(0.0, head_y, "Study or subgroup", va="center", ha="left", weight="bold", fontsize=8)
        # headers "<arm>\n<quantity>": the arm once, centred over its columns, the quantity per column
        parts = [str(h).split("\n", 1) if "\n" in str(h) else ["", str(h)] for h in (ilab.columns if ncol else [])]
        j = 0
        while j < ncol:
            j2 = j
            while j2 + 1 < ncol and parts[j2 + 1][0] == parts[j][0]:
                j2 += 1
            if parts[j][0]:
                mid = (x_cols[j] - 0.6 + x_cols[j2]) / 2
                ax_t.text(mid, head_y + 0.5, parts[j][0], va="center", ha="center", weight="bold", fontsize=8)
                ax_t.plot([x_cols[j] - 0.65, x_cols[j2]], [head_y + 0.22] * 2, color="#777777", lw=0.6)
            for jj in range(j, j2 + 1):
                ax_t.text(x_cols[jj], head_y, parts[jj][1], va="center", ha="right", weight="bold", fontsize=8)
            j = j2 + 1
        ax_t.text(x_w, head_y, "Weight", va="center", ha="right", weight="bold", fontsize=8)
        name = ("Peto OR" if method == "PETO" else measure)
        model = "Fixed" if method in ("EE", "FE", "MH", "PETO") else "Random"
        kind = {"MH": "M-H", "PETO": "Peto"}.get(method, "IV")
        ax_t.text(x_est, head_y, f"{name}\n{kind}, {model}, 95% CI", va="center", ha="right", weight="bold",
                  fontsize=7)
        ax_p.text(0.5, head_y, f"{name}\n{kind}, {model}, 95% CI", transform=ax_p.get_yaxis_transform(),
                  va="center", ha="center", weight="bold", fontsize=7)
        wmax = np.nanmax(weights) if np.isfinite(weights).any() else 1.0
        for i, row in enumerate(rows):
            y = n - i + 0.5
            kind_ = row[0]
            if kind_ == "head":
                ax_t.text(0.0, y, f"{row[1]}", va="center", ha="left", weight="bold", fontsize=8)
            elif kind_ == "study":
                j = row[1]
                ax_t.text(0.08, y, labels[j], va="center", ha="left", fontsize=8)
                for c_ in range(ncol):
                    ax_t.text(x_cols[c_], y, _cell(ilab.iloc[j, c_]), va="center", ha="right", fontsize=8,
                              family="monospace")
                ok = np.isfinite(yi[j])
                ax_t.text(x_w, y, f"{weights[j]:.1f}%" if ok and np.isfinite(weights[j]) else "", va="center",
                          ha="right", fontsize=8, family="monospace")
                ax_t.text(x_est, y, _ci(tf, yi[j], lo[j], hi[j], digits) if ok else "Not estimable", va="center",
                          ha="right", fontsize=8, family="monospace")
                if ok:
                    ax_p.hlines(y, tf(lo[j]), tf(hi[j]), color="#333333", lw=0.9, zorder=2)
                    size = 10 + 90 * (weights[j] / wmax if np.isfinite(weights[j]) else 0.1)
                    ax_p.scatter([tf(yi[j])], [y], s=size, marker="s", color=PALETTE[0], zorder=3, linewidths=0)
            elif kind_ in ("sub", "total"):
                if kind_ == "sub":
                    grow = sg.groups.loc[row[1]]
                    b, cl, cu = grow["estimate"], grow["ci_lb"], grow["ci_ub"]
                    members = [j for g, idx in blocks if g == row[1] for j in idx]
                    wsum = float(np.nansum(weights[members]))
                    label = "Subtotal (95% CI)"
                    sums = ilab.iloc[members].sum() if ilab is not None else None
                else:
                    b, cl, cu = float(fit.b), float(fit.ci_lb), float(fit.ci_ub)
                    wsum = 100.0
                    label = "Total (95% CI)"
                    sums = ilab.sum() if ilab is not None else None
                ax_t.text(0.0, y, label, va="center", ha="left", weight="bold", fontsize=8)
                if sums is not None:
                    for c_ in range(ncol):
                        if str(ilab.columns[c_]).endswith("Total") or str(ilab.columns[c_]).endswith("Events"):
                            ax_t.text(x_cols[c_], y, _cell(sums.iloc[c_]), va="center", ha="right", fontsize=8,
                                      family="monospace", weight="bold")
                ax_t.text(x_w, y, f"{wsum:.1f}%", va="center", ha="right", fontsize=8, family="monospace",
                          weight="bold")
                ax_t.text(x_est, y, _ci(tf, b, cl, cu, digits), va="center", ha="right", fontsize=8,
                          family="monospace", weight="bold")
                ax_p.add_patch(Polygon([(tf(cl), y), (tf(b), y + 0.32), (tf(cu), y), (tf(b), y - 0.32)], closed=True,
                                       color="#222222", zorder=3))
            elif kind_ == "text":
                ax_t.text(0.0, y, row[1], va="center", ha="left", fontsize=7, color="#333333")
        ref = 1.0 if log_axis else 0.0
        ax_p.axvline(ref, color="#555555", lw=0.8, zorder=1)
        if log_axis:
            ax_p.set_xscale("log")
            _ratio_ticks(ax_p)
        ax_p.set_yticks([])
        for side in ("left", "right", "top"):
            ax_p.spines[side].set_visible(False)
        ax_p.set_xlabel(xlabel or _default_label(measure, log_axis, method), fontsize=8)
        if favours:
            left, right = favours
            tr = ax_p.get_xaxis_transform()
            for text, ha in ((f"Favours {left}  ", "right"), (f"  Favours {right}", "left")):
                ax_p.annotate(text, (ref, 0.0), xycoords=tr, xytext=(0, -30), textcoords="offset points", ha=ha,
                              va="top", fontsize=7)
        if title:
            box.suptitle(title, x=0.01, y=1 - 0.12 / h_in, ha="left", va="top", fontsize=10, weight="bold")
    return fig


def _ci(tf, b, lo, hi, digits):
    return f"{_fmt(tf(b), digits)} [{_fmt(tf(lo), digits)}, {_fmt(tf(hi), digits)}]"


def _het_line(Q, df, p, I2, tau2, method):
    if not np.isfinite(Q) or df < 1:
        return "Heterogeneity: not applicable"
    tau = "" if method in ("EE", "FE", "MH", "PETO") else f"Tau² = {tau2:.2f}; "
    return f"Heterogeneity: {tau}Chi² = {Q:.2f}, df = {df} ({_p(p)}); I² = {I2:.0f}%"
