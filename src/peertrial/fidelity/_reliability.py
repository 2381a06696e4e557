"""Reliability of the fidelity index: Cronbach's alpha, ICC and weighted kappa.

Alpha and the ICCs are computed here from their closed forms (as psych::alpha and
psych::ICC); kappa is statsmodels' (``cohens_kappa``). This module arranges fidelity
ratings, validates the design (overlapping raters, common item scale) and returns
result objects with the forms and CI methods stated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_function, lazy_module
from peertrial._results import CONF_LEVEL_ALIAS, Result, format_table
from peertrial._warnings import PeertrialWarning
from peertrial.fidelity._scoring import FidelityScores

stats = lazy_module("scipy.stats")
cohens_kappa = lazy_function("statsmodels.stats.inter_rater", "cohens_kappa")

__all__ = ["AlphaResult", "ICCResult", "KappaResult", "cronbach_alpha", "icc", "weighted_kappa", "item_kappa"]


# --------------------------------------------------------------------------- alpha
@dataclass(frozen=True, eq=False)
class AlphaResult(Result):
    """Cronbach's alpha per domain and for all items (returned by :func:`cronbach_alpha`).

    Attributes
    ----------
    table : pandas.DataFrame
        Index = scale (domain names and ``"total"``), columns ``n_items, n, alpha, ci_lb,
        ci_ub``. CI by Feldt's F method (Feldt, Woodruff & Salih 1987), as psych::alpha's
        ``feldt`` component.
    level : float
        Confidence level, as a proportion.
    nan_policy : str
        ``"pairwise"`` or ``"listwise"`` handling of missing items.

    Notes
    -----
    R equivalent: ``psych::alpha`` (``raw_alpha``; psych 2.2.9).

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
       Psychometrika, 16, 297-334.
    .. [2] Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for
       coefficient alpha. Applied Psychological Measurement, 11, 93-103.

    Examples
    --------
    >>> scores = pt.fidelity.score_fidelity(pt.simulate.fidelity_ratings(n=200, seed=1))
    >>> res = pt.fidelity.cronbach_alpha(scores)
    >>> res.table["alpha"].round(3).tolist()
    [0.853, 0.859, 0.844, 0.851, 0.885, 0.969]
    """

    table: pd.DataFrame
    level: float
    nan_policy: str

    def plot(self, ax=None, **kwargs):
        """Cronbach's alpha with its Feldt CI: per domain and for the total scale.

        Draws :func:`peertrial.plot.alpha_plot` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.alpha_plot` (it takes no other options).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.alpha_plot : what is drawn, with an example.
        """
        from peertrial.plot.fidelity import alpha_plot

        return alpha_plot(self, ax=ax, **kwargs)
    conf_level = CONF_LEVEL_ALIAS

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        return "\n".join(
            [
                "Cronbach's alpha (raw, from item covariances; as psych::alpha raw_alpha)",
                f"  {100 * self.level:g}% CI: Feldt (F distribution on n-1, (n-1)(k-1) df); "
                f"missing items: {self.nan_policy} covariances",
                "",
                format_table(self.table, digits=3),
            ]
        )


def _feldt_ci(alpha: float, n: int, k: int, conf_level: float) -> tuple[float, float]:
    """1 - (1 - alpha) F_{q}(n-1, (n-1)(k-1)) at q = 1-a/2 (lower) and a/2 (upper)."""
    df1, df2 = n - 1, (n - 1) * (k - 1)
    a = 1 - conf_level
    lower = 1 - (1 - alpha) * stats.f.isf(a / 2, df1, df2)
    upper = 1 - (1 - alpha) * stats.f.isf(1 - a / 2, df1, df2)
    return float(lower), float(upper)


def _raw_alpha(block: pd.DataFrame) -> float:
    """``k / (k - 1) * (1 - tr(C) / sum(C))`` with C the item covariance matrix (pairwise-complete
    where items are missing, as ``cov(use = "pairwise")``): psych::alpha's raw_alpha."""
    C = block.cov().to_numpy()
    k = C.shape[0]
    return float(k / (k - 1) * (1 - np.trace(C) / C.sum()))


def cronbach_alpha(
    scores: FidelityScores | pd.DataFrame,
    items: dict[str, list[str]] | None = None,
    *,
    level: float = 0.95,
    nan_policy: str = "pairwise",
    conf_level=None,
) -> AlphaResult:
    """Cronbach's alpha with Feldt CI for each domain and for all items together.

    alpha = k/(k-1) * (1 - sum(var_i) / var(total)), computed from the item covariance
    matrix (``nan_policy`` "pairwise", R's ``use="pairwise"``, or "listwise"), with the
    Feldt CI.

    ``scores``: a :class:`FidelityScores` (rows = rating occasions), or a wide
    DataFrame of items with ``items`` mapping scale name -> item columns
    (default: one scale of all columns).

    Each scale needs at least 2 items and 2 rated rows (after dropping rows
    with no item, and with ``"listwise"`` rows missing any item), else
    ``ValueError`` naming the scale. The one exception: a domain of a
    :class:`FidelityScores` that has a single item gets alpha NaN with a
    warning, so the other domains are still reported. ``level``: confidence level of the
    Feldt limits, 0.95 or 95 alike (``conf_level`` is its deprecated alias).

    Parameters
    ----------
    scores : FidelityScores or pandas.DataFrame
        Scored ratings (rows = rating occasions), or a wide DataFrame of item columns.
    items : dict of str to list of str, optional
        Scale name -> item columns (DataFrame input); default one scale of all columns.
    level : float, default 0.95
        Confidence level of the Feldt limits, 0.95 or 95 alike.
    nan_policy : {"pairwise", "listwise"}, default "pairwise"
        Missing items: pairwise-complete covariances (R's ``use = "pairwise"``) or
        complete rows only.
    conf_level : float, optional
        Deprecated spelling of ``level``.

    Returns
    -------
    AlphaResult
        Per scale: ``n_items``, ``n``, ``alpha`` and its Feldt interval ``ci_lb``, ``ci_ub``.

    Notes
    -----
    R equivalent: ``psych::alpha`` (``raw_alpha``; psych 2.2.9).

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
       Psychometrika, 16, 297-334.
    .. [2] Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for
       coefficient alpha. Applied Psychological Measurement, 11, 93-103.

    Examples
    --------
    >>> items = pd.DataFrame({"i1": [3, 4, 2, 5, 4, 3], "i2": [2, 4, 2, 5, 3, 3], "i3": [3, 5, 1, 4, 4, 2]})
    >>> round(float(pt.fidelity.cronbach_alpha(items).to_frame()["alpha"].iloc[0]), 4)
    0.9093
    """
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    if nan_policy not in ("pairwise", "listwise"):
        raise ValueError(f"nan_policy must be 'pairwise' or 'listwise', got {nan_policy!r}")
    if isinstance(scores, FidelityScores):
        wide = scores.items
        scales = {d: scores.domain_items(d) for d in scores.domains}
        scales["total"] = list(wide.columns)
    else:
        wide = _data.as_frame(scores, what="scores")
        scales = dict(items) if items is not None else {"total": list(wide.columns)}
        _data.require_columns(wide, [c for cols in scales.values() for c in cols])
        short = {name: list(cols) for name, cols in scales.items() if len(cols) < 2}
        if short:
            raise ValueError(f"Cronbach's alpha needs at least 2 items per scale; scale(s) with fewer: {short}")
    rows = []
    for name, cols in scales.items():
        block = pd.DataFrame({c: _data.numeric(wide[c], c) for c in cols}, index=wide.index)
        block = block.dropna(how="all")
        if len(cols) < 2:
            warnings.warn(f"domain {name!r} has a single item ({cols[0]!r}); its alpha is undefined (NaN)", PeertrialWarning, stacklevel=2)
            rows.append((name, len(cols), len(block), np.nan, np.nan, np.nan))
            continue
        if nan_policy == "listwise":
            block = block.dropna()
        if len(block) < 2:
            raise ValueError(
                f"scale {name!r} (items {cols}) has {len(block)} rated unit(s) with {nan_policy} complete items; "
                f"Cronbach's alpha needs at least 2 rows (rating occasions)"
            )
        alpha = _raw_alpha(block)
        lo, hi = _feldt_ci(alpha, len(block), len(cols), conf_level)
        rows.append((name, len(cols), len(block), float(alpha), lo, hi))
    table = pd.DataFrame(rows, columns=["scale", "n_items", "n", "alpha", "ci_lb", "ci_ub"]).set_index("scale")
    return AlphaResult(table=table, level=conf_level, nan_policy=nan_policy)


# --------------------------------------------------------------------------- ICC
_ICC_FORMS = {
    # pingouin label -> (Shrout & Fleiss label, psych label, description)
    "ICC(1,1)": ("ICC(1)", "ICC1", "one-way random, single rater"),
    "ICC(A,1)": ("ICC(2,1)", "ICC2", "two-way random, absolute agreement, single rater"),
    "ICC(C,1)": ("ICC(3,1)", "ICC3", "two-way mixed, consistency, single rater"),
    "ICC(1,k)": ("ICC(1,k)", "ICC1k", "one-way random, mean of k raters"),
    "ICC(A,k)": ("ICC(2,k)", "ICC2k", "two-way random, absolute agreement, mean of k raters"),
    "ICC(C,k)": ("ICC(3,k)", "ICC3k", "two-way mixed, consistency, mean of k raters"),
}


@dataclass(frozen=True, eq=False)
class ICCResult(Result):
    """Intraclass correlations in the six Shrout & Fleiss (1979) forms (returned by :func:`icc`).

    ``result["ICC(2,1)"]`` gives one form's row.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by form ("ICC(1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)",
        "ICC(3,k)") with columns ``psych`` (psych::ICC's name), ``description``, ``icc``,
        ``F``, ``df1``, ``df2``, ``pval``, ``ci_lb``, ``ci_ub`` (CIs at ``level`` by the F
        methods of McGraw & Wong 1996, as psych::ICC).
    n_targets, n_raters : int
        Targets in the complete targets x raters table, and raters.
    measure : str
        The rating analysed (e.g. ``"total"``).
    dropped_targets : tuple
        Targets left out because not every rater rated them.
    level : float
        Confidence level, as a proportion.

    Notes
    -----
    R equivalent: ``psych::ICC`` (psych 2.2.9).

    References
    ----------
    .. [1] Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
       reliability. Psychological Bulletin, 86, 420-428.
    .. [2] McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
       correlation coefficients. Psychological Methods, 1, 30-46.

    Examples
    --------
    >>> scores = pt.fidelity.score_fidelity(pt.simulate.fidelity_ratings(n=200, seed=1))
    >>> res = pt.fidelity.icc(scores)
    >>> [round(float(v), 3) for v in res["ICC(2,1)"][["icc", "ci_lb", "ci_ub"]]]
    [0.967, 0.926, 0.984]
    """

    table: pd.DataFrame
    n_targets: int
    n_raters: int
    measure: str
    dropped_targets: tuple
    level: float = 0.95

    def __getitem__(self, form: str) -> pd.Series:
        if form not in self.table.index:
            raise KeyError(f"unknown ICC form {form!r}; choose from {list(self.table.index)}")
        return self.table.loc[form]

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        shown = self.table[["icc", "F", "df1", "df2", "pval", "ci_lb", "ci_ub"]]
        lines = [
            f"Intraclass correlation of {self.measure}: {self.n_targets} targets rated by each of {self.n_raters} raters",
            "  Forms (Shrout & Fleiss): " + "; ".join(f"{k} {v}" for k, v in zip(self.table.index, self.table["description"])),
            f"  {100 * self.level:g}% CIs: F-distribution methods (McGraw & Wong 1996)",
        ]
        if self.dropped_targets:
            lines.append(f"  {len(self.dropped_targets)} targets not rated by every rater were left out")
        return "\n".join([*lines, "", format_table(shown, digits=4)])


_ICC_MIN_RATINGS = 5  # fewer leave the two-way ANOVA without residual df worth reporting


def _rater_overlap(wide: pd.DataFrame, raters: str) -> None:
    rated = wide.notna()
    shared = rated.sum(axis=1) >= 2
    if not shared.any():
        detail = "; ".join(f"rater {r!r} rated {int(rated[r].sum())} targets" for r in wide.columns)
        raise ValueError(
            f"raters in column {raters!r} have no overlap: no target was rated by two or more raters "
            f"({detail}); inter-rater reliability needs the same sessions rated by several raters"
        )


def icc(
    data: pd.DataFrame | FidelityScores,
    targets: str | list[str] | None = None,
    raters: str = "rater",
    ratings: str = "total",
    *,
    level: float = 0.95,
) -> ICCResult:
    """Intraclass correlation coefficients (the six Shrout & Fleiss forms) with F tests and CIs.

    Long ``data`` with one row per (target, rater). With a
    :class:`FidelityScores`, targets are sessions (``peer_worker`` x ``session``)
    and ``ratings`` is ``"total"`` or a domain name.

    Targets not rated by every rater, or with a missing rating, are left out
    with a warning naming them (the two-way ANOVA needs a complete targets x
    raters table); rows missing a target or rater label are dropped with a
    warning. Raters who share no target, or fewer than 2 complete targets or
    5 ratings left, raise ``ValueError``. ``level``: confidence level, 0.95 or 95 alike, for
    the F-method limits of McGraw & Wong (1996).

    Parameters
    ----------
    data : pandas.DataFrame or FidelityScores
        Long ratings, one row per (target, rater); or scored fidelity ratings, whose
        targets are sessions (peer worker x session).
    targets : str or list of str
        Column(s) identifying the rated target (DataFrame input; required there).
    raters : str, default "rater"
        Column of the rater (DataFrame input).
    ratings : str, default "total"
        Column of the rating; with a :class:`FidelityScores`, ``"total"`` or a domain name.
    level : float, default 0.95
        Confidence level, 0.95 or 95 alike.

    Returns
    -------
    ICCResult
        The six Shrout-Fleiss forms with ``icc``, ``F``, ``df1``, ``df2``, ``pval``, ``ci_lb``,
        ``ci_ub``.

    Notes
    -----
    R equivalent: ``psych::ICC`` (psych 2.2.9).

    References
    ----------
    .. [1] Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
       reliability. Psychological Bulletin, 86, 420-428.
    .. [2] McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
       correlation coefficients. Psychological Methods, 1, 30-46.

    Examples
    --------
    >>> ratings = pd.DataFrame({"session": [1, 2, 3, 4, 5, 6] * 2, "rater": ["A"] * 6 + ["B"] * 6,
    ...                         "total": [3.1, 2.5, 3.8, 2.2, 3.0, 3.5, 3.3, 2.9, 4.0, 2.6, 3.4, 3.6]})
    >>> res = pt.fidelity.icc(ratings, targets="session", raters="rater", ratings="total")
    >>> res.to_frame()["icc"].round(4).tolist()
    [0.8526, 0.8609, 0.9708, 0.9204, 0.9253, 0.9852]
    """
    level = _data.confidence_level(level)
    if isinstance(data, FidelityScores):
        occ = data.occasions
        names = list(occ.index.names)
        if ratings not in occ.columns:
            raise ValueError(f"ratings={ratings!r} is not 'total' or a domain: {list(data.domains)}")
        frame = occ[[ratings]].reset_index()
        targets = [names[0], names[2]]
        raters = names[1]
    else:
        frame = _data.as_frame(data)
        if targets is None:
            raise ValueError("targets (the column(s) naming what was rated) is required")
    tcols = [targets] if isinstance(targets, str) else list(targets)
    _data.require_columns(frame, [*tcols, raters, ratings])
    frame = _data.drop_missing(frame, [*tcols, raters], unit="ratings", stacklevel=3)
    # a missing rating is kept as NaN so that its target is left out below, by name
    frame = frame[[*tcols, raters]].assign(_y=_data.numeric(frame[ratings], ratings))
    dup = frame[[*tcols, raters]].duplicated(keep=False).to_numpy()
    if dup.any():
        raise ValueError(f"the same target rated twice by one rater at rows {_data.row_labels(frame.index, dup)}")
    wide = frame.pivot(index=tcols, columns=raters, values="_y")
    if wide.shape[1] < 2:
        raise ValueError(f"column {raters!r} has {wide.shape[1]} rater; ICC needs two or more")
    _rater_overlap(wide, raters)
    incomplete = wide.isna().any(axis=1).to_numpy()
    dropped = tuple(wide.index[incomplete])
    if incomplete.any():
        warnings.warn(
            f"{int(incomplete.sum())} targets not rated by every rater (or with a missing {ratings!r}) "
            f"left out of the ICC: {_data.row_labels(wide.index, incomplete)}",
            PeertrialWarning,
            stacklevel=2,
        )
    wide = wide.loc[~incomplete]
    if len(wide) < 2 or wide.size < _ICC_MIN_RATINGS:
        raise ValueError(
            f"only {len(wide)} target(s) with a {ratings!r} rating from each of the {wide.shape[1]} raters in column "
            f"{raters!r} ({wide.size} ratings); ICC needs two or more targets and at least {_ICC_MIN_RATINGS} ratings"
        )
    return ICCResult(table=_icc_table(wide.to_numpy(float), level), n_targets=len(wide), n_raters=wide.shape[1],
                     measure=str(ratings), dropped_targets=dropped, level=level)


def _mean_squares(Y: np.ndarray) -> tuple[float, float, float, float]:
    """Two-way ANOVA mean squares of a complete targets x raters table: between targets
    (msb), between raters (msj), residual (mse) and within targets (msw)."""
    n, k = Y.shape
    grand = Y.mean()
    rows, cols = Y.mean(axis=1), Y.mean(axis=0)
    ssb = k * np.sum((rows - grand) ** 2)
    ssj = n * np.sum((cols - grand) ** 2)
    sse = np.sum((Y - rows[:, None] - cols[None, :] + grand) ** 2)
    return ssb / (n - 1), ssj / (k - 1), sse / ((n - 1) * (k - 1)), (ssj + sse) / (n * (k - 1))


def _icc_table(Y: np.ndarray, level: float) -> pd.DataFrame:
    """The six Shrout & Fleiss (1979) ICCs with their F tests and F-method limits.

    ICC(1) = (MSB - MSW) / (MSB + (k-1) MSW), tested by F = MSB/MSW on (n-1, n(k-1)) df;
    ICC(2,1) = (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE)/n) and ICC(3,1) =
    (MSB - MSE) / (MSB + (k-1) MSE), tested by F = MSB/MSE on (n-1, (n-1)(k-1)) df; the
    mean-of-k forms drop the (k-1) factor. Computed here (not by pingouin) so that no
    library-wide rounding option has to be switched for full precision.
    """
    n, k = Y.shape
    msb, msj, mse, msw = _mean_squares(Y)
    with np.errstate(divide="ignore", invalid="ignore"):
        icc = {
            "ICC(1,1)": (msb - msw) / (msb + (k - 1) * msw),
            "ICC(A,1)": (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n),
            "ICC(C,1)": (msb - mse) / (msb + (k - 1) * mse),
            "ICC(1,k)": (msb - msw) / msb,
            "ICC(A,k)": (msb - mse) / (msb + (msj - mse) / n),
            "ICC(C,k)": (msb - mse) / msb,
        }
        one_way, two_way = (msb / msw, n - 1, n * (k - 1)), (msb / mse, n - 1, (n - 1) * (k - 1))
    limits = _icc_limits(Y, level)
    rows = []
    for form, value in icc.items():
        F, df1, df2 = one_way if form.startswith("ICC(1") else two_way
        rows.append({"psych": _ICC_FORMS[form][1], "description": _ICC_FORMS[form][2], "icc": float(value),
                     "F": float(F), "df1": float(df1), "df2": float(df2), "pval": float(stats.f.sf(F, df1, df2)),
                     "ci_lb": limits[form][0], "ci_ub": limits[form][1]})
    return pd.DataFrame(rows, index=pd.Index([_ICC_FORMS[f][0] for f in icc], name="form"))



def _icc_limits(Y: np.ndarray, level: float) -> dict:
    """F-method confidence limits of the six ICC forms (McGraw & Wong 1996), as psych::ICC,
    for a complete targets x raters table ``Y``."""
    n, k = Y.shape
    msb, msj, mse, msw = _mean_squares(Y)
    q = 1 - (1 - level) / 2
    df1, df1kd, df2kd = n - 1, n * (k - 1), (n - 1) * (k - 1)
    fp = stats.f.ppf
    with np.errstate(divide="ignore", invalid="ignore"):
        f1, f3 = msb / msw, msb / mse
        f1l, f1u = f1 / fp(q, df1, df1kd), f1 * fp(q, df1kd, df1)
        f3l, f3u = f3 / fp(q, df1, df2kd), f3 * fp(q, df2kd, df1)
        icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
        fj = msj / mse
        vn = df2kd * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        vd = df1 * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v = vn / vd
        f2u, f2l = fp(q, n - 1, v), fp(q, v, n - 1)
        l2 = n * (msb - f2u * mse) / (f2u * (k * msj + (k * n - k - n) * mse) + n * msb)
        u2 = n * (f2l * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f2l * msb)
        out = {
            "ICC(1,1)": ((f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)),
            "ICC(A,1)": (l2, u2),
            "ICC(C,1)": ((f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)),
            "ICC(1,k)": (1 - 1 / f1l, 1 - 1 / f1u),
            "ICC(A,k)": (l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))),
            "ICC(C,k)": (1 - 1 / f3l, 1 - 1 / f3u),
        }
    return {t: (float(a), float(b)) for t, (a, b) in out.items()}


# --------------------------------------------------------------------------- kappa
@dataclass(frozen=True, eq=False)
class KappaResult(Result):
    """Cohen's kappa (unweighted and weighted) for two raters (from :func:`weighted_kappa`, :func:`item_kappa`).

    ``table``: one row per item (or one row), columns ``n, kappa, se_kappa,
    weighted_kappa, se_weighted, ci_lb, ci_ub`` (CI of the weighted kappa).
    SEs: large-sample variance of Fleiss, Cohen & Everitt (1969), as statsmodels
    and SAS compute it. The unweighted variance equals psych::cohen.kappa's
    ``var.kappa``; psych's ``var.weighted`` differs (its row-weight term
    multiplies each row's weights by that row's own margin rather than the
    column margins), so weighted SEs are checked against the closed form.

    Attributes
    ----------
    table : pandas.DataFrame
        The columns above (``item_kappa`` adds ``domain``), one row per pair or item.
    weights : str
        ``"linear"``, ``"quadratic"`` or ``"unweighted"``.
    levels : tuple of float
        The ordered categories of the scale.
    level : float
        Confidence level, as a proportion.

    Notes
    -----
    R equivalent: ``psych::cohen.kappa`` (psych 2.2.9) for the kappas and the unweighted SE.

    References
    ----------
    .. [1] Cohen, J. (1968). Weighted kappa: nominal scale agreement with provision for scaled
       disagreement or partial credit. Psychological Bulletin, 70, 213-220.
    .. [2] Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample standard errors of
       kappa and weighted kappa. Psychological Bulletin, 72, 323-327.

    Examples
    --------
    >>> pair = pd.DataFrame({"a": [1, 2, 3, 4, 2, 3, 1], "b": [1, 2, 4, 4, 2, 2, 1]})
    >>> res = pt.fidelity.weighted_kappa(pair, "a", "b", weights="linear")
    >>> res.weights, res.levels
    ('linear', (1.0, 2.0, 3.0, 4.0))
    """

    table: pd.DataFrame
    weights: str
    levels: tuple
    level: float

    conf_level = CONF_LEVEL_ALIAS

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        return "\n".join(
            [
                f"Cohen's kappa, {self.weights} weights over levels {', '.join(f'{v:g}' for v in self.levels)}",
                f"  SE: Fleiss, Cohen & Everitt (1969) large-sample variance; {100 * self.level:g}% Wald CI of the weighted kappa",
                "",
                format_table(self.table, digits=4),
            ]
        )


def _kappa_row(x1: np.ndarray, x2: np.ndarray, levels: list, weights: str, z: float):
    code = {v: i for i, v in enumerate(levels)}
    table = np.zeros((len(levels), len(levels)))
    np.add.at(table, ([code[v] for v in x1], [code[v] for v in x2]), 1.0)
    # statsmodels takes sqrt of the variance, which rounding can make slightly negative
    with np.errstate(invalid="ignore"):
        plain = cohens_kappa(table, return_results=True)
        if weights == "unweighted":
            wk = plain
        else:
            wk = cohens_kappa(table, weights=np.arange(len(levels), dtype=float), wt=weights, return_results=True)
    # a negative variance (rounding at perfect agreement) is set to 0, as psych::cohen.kappa does
    se = float(np.sqrt(max(wk.var_kappa, 0.0)))
    se_plain = float(np.sqrt(max(plain.var_kappa, 0.0)))
    kw = float(wk.kappa)
    return (len(x1), float(plain.kappa), se_plain, kw, se, kw - z * se, kw + z * se)


def weighted_kappa(
    data: pd.DataFrame,
    rater1: str,
    rater2: str,
    *,
    weights: str = "quadratic",
    levels=None,
    level: float = 0.95,
    conf_level=None,
) -> KappaResult:
    """Cohen's kappa for two raters' ordinal ratings, with linear or quadratic weights.

    Agreement weights ``w_ij = 1 - abs(i-j)/(K-1)`` ("linear") or ``1 - (i-j)^2/(K-1)^2``
    ("quadratic", psych::cohen.kappa's default); kappa_w = (p_o - p_e)/(1 - p_e)
    with weighted observed and chance agreement. ``levels`` are the ordered
    categories of the scale (default: the values observed by either rater);
    give the full scale so unused categories still count in the weights.
    Rows where either rater is missing are dropped with a warning.
    Computed by ``statsmodels.stats.inter_rater.cohens_kappa``. ``level``: confidence level
    of the Wald limits, 0.95 or 95 alike (``conf_level`` is its deprecated alias).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per rated unit, one column per rater.
    rater1, rater2 : str
        Columns of the two raters' ordinal ratings (numbers).
    weights : {"quadratic", "linear", "unweighted"}, default "quadratic"
        Agreement weights.
    levels : sequence of float, optional
        The ordered categories of the scale; default the values either rater used.
    level : float, default 0.95
        Confidence level of the Wald limits, 0.95 or 95 alike.
    conf_level : float, optional
        Deprecated spelling of ``level``.

    Returns
    -------
    KappaResult
        ``kappa`` and ``weighted_kappa`` with standard errors and the interval of the weighted kappa.

    Notes
    -----
    R equivalent: ``psych::cohen.kappa`` (psych 2.2.9).

    References
    ----------
    .. [1] Cohen, J. (1968). Weighted kappa: nominal scale agreement with provision for scaled
       disagreement or partial credit. Psychological Bulletin, 70, 213-220.

    Examples
    --------
    >>> pair = pd.DataFrame({"a": [1, 2, 3, 4, 2, 3, 1], "b": [1, 2, 4, 4, 2, 2, 1]})
    >>> round(float(pt.fidelity.weighted_kappa(pair, "a", "b").to_frame()["weighted_kappa"].iloc[0]), 4)
    0.8814
    """
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    frame = _data.as_frame(data)
    _data.require_columns(frame, [rater1, rater2])
    frame = _data.drop_missing(frame, [rater1, rater2], unit="rows", stacklevel=3)
    x1 = _data.numeric(frame[rater1], rater1)
    x2 = _data.numeric(frame[rater2], rater2)
    levels = _levels(levels, x1, x2, frame.index, (rater1, rater2))
    row = _kappa_row(x1, x2, levels, _check_weights(weights), stats.norm.ppf(0.5 + conf_level / 2))
    table = pd.DataFrame([row], columns=_KAPPA_COLS, index=pd.Index([f"{rater1} vs {rater2}"], name="pair"))
    return KappaResult(table=table, weights=weights, levels=tuple(float(v) for v in levels), level=conf_level)


def item_kappa(
    scores: FidelityScores,
    raters: tuple | None = None,
    *,
    weights: str = "quadratic",
    level: float = 0.95,
    conf_level=None,
) -> KappaResult:
    """Compute weighted kappa per fidelity item between two raters over the sessions both rated.

    Levels are the whole number steps of the index's scale (``scores.scale``).
    Raters who share no session raise ``ValueError``; items with fewer than two
    sessions rated by both are left out.

    Parameters
    ----------
    scores : FidelityScores
        Scored ratings with at least two raters.
    raters : tuple of two rater labels, optional
        The pair to compare; required when there are more than two raters.
    weights : {"quadratic", "linear", "unweighted"}, default "quadratic"
        Agreement weights.
    level : float, default 0.95
        Confidence level of the Wald limits, 0.95 or 95 alike.
    conf_level : float, optional
        Deprecated spelling of ``level``.

    Returns
    -------
    KappaResult
        One row per item: its ``domain``, ``n`` sessions, ``kappa`` and ``weighted_kappa``
        with SEs and the interval of the weighted kappa.

    Notes
    -----
    R equivalent: ``psych::cohen.kappa`` (psych 2.2.9) item by item, with ``levels`` the
    whole scale.

    References
    ----------
    .. [1] Cohen, J. (1968). Weighted kappa: nominal scale agreement with provision for scaled
       disagreement or partial credit. Psychological Bulletin, 70, 213-220.
    .. [2] Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample standard errors of
       kappa and weighted kappa. Psychological Bulletin, 72, 323-327.

    Examples
    --------
    >>> scores = pt.fidelity.score_fidelity(pt.simulate.fidelity_ratings(n=200, seed=1))
    >>> res = pt.fidelity.item_kappa(scores)
    >>> res.table["weighted_kappa"].round(3).head(3).tolist()
    [0.706, 0.654, 0.744]
    """
    conf_level = _data.confidence_level(level, conf_level=conf_level)
    wide = scores.items
    names = list(wide.index.names)
    all_raters = list(pd.unique(wide.index.get_level_values(1)))
    if raters is None:
        if len(all_raters) != 2:
            raise ValueError(f"raters=(a, b) is required when there are {len(all_raters)} raters: {all_raters}")
        raters = tuple(sorted(all_raters, key=str))
    a, b = raters
    for r in (a, b):
        if r not in all_raters:
            raise ValueError(f"rater {r!r} not found in column {names[1]!r}; raters: {all_raters}")
    ra = wide.xs(a, level=1)
    rb = wide.xs(b, level=1)
    common = ra.index.intersection(rb.index)
    if len(common) == 0:
        raise ValueError(
            f"raters {a!r} and {b!r} in column {names[1]!r} have no overlap: no session rated by both "
            f"({len(ra)} and {len(rb)} sessions rated)"
        )
    lo, hi = scores.scale
    levels = list(np.arange(lo, hi + 0.5, 1.0))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    rows, index = [], []
    weights = _check_weights(weights)
    for item in wide.columns:
        x1, x2 = ra.loc[common, item].to_numpy(), rb.loc[common, item].to_numpy()
        ok = np.isfinite(x1) & np.isfinite(x2)
        if ok.sum() < 2:
            continue
        _levels(levels, x1[ok], x2[ok], common[ok], (f"{item} ({a})", f"{item} ({b})"))
        rows.append(_kappa_row(x1[ok], x2[ok], levels, weights, z))
        index.append(item)
    table = pd.DataFrame(rows, columns=_KAPPA_COLS, index=pd.Index(index, name="item"))
    table.insert(0, "domain", [scores.item_domain[i] for i in index])
    return KappaResult(table=table, weights=weights, levels=tuple(float(v) for v in levels), level=conf_level)


_KAPPA_COLS = ["n", "kappa", "se_kappa", "weighted_kappa", "se_weighted", "ci_lb", "ci_ub"]


def _check_weights(weights: str) -> str:
    if weights not in ("linear", "quadratic", "unweighted"):
        raise ValueError(f"weights must be 'linear', 'quadratic' or 'unweighted', got {weights!r}")
    return weights


def _levels(levels, x1, x2, index, names) -> list:
    observed = sorted(set(np.unique(x1)) | set(np.unique(x2)))
    if levels is None:
        if len(observed) < 2:
            raise ValueError(f"columns {names[0]!r} and {names[1]!r} use a single category; kappa needs two or more")
        return observed
    levels = [float(v) for v in levels]
    for x, name in zip((x1, x2), names):
        bad = ~np.isin(x, levels)
        if bad.any():
            raise ValueError(f"column {name!r} has values outside levels {levels} at rows {_data.row_labels(index, bad)}")
    return levels
