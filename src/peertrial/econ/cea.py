"""Trial-based cost-effectiveness analysis with a vectorised non-parametric bootstrap.

Increments are intervention (arm 1) minus control (arm 0):
``dC = mean C_1 - mean C_0``, ``dE = mean E_1 - mean E_0``,
``ICER = dC / dE`` and ``INMB(lambda) = lambda * dE - dC``.

Bootstrap (Barber & Thompson 2000, Stat Med 19:3219-3236): patients are
resampled with replacement *within arm*, cost and effect together, so their
correlation is kept; with ``cluster=`` whole clusters are resampled within arm
(participants without a cluster, e.g. controls in a partially nested peer
worker design, are their own cluster). All replicates are drawn as one
``n_boot x n`` matrix of resampling counts and every estimator is evaluated
on it with matrix products — no per-replicate Python loop.

Covariate adjustment (Willan, Briggs & Hoch 2004, Health Econ 13:461-475):
seemingly unrelated regression of cost and effect on arm and covariates. With
the same regressors in both equations SUR reduces to equation-by-equation OLS
(Zellner 1962), which is what is computed; the cross-equation covariance of
the arm coefficients is ``sigma_ce [(X'X)^-1]_arm``. ``cost_model="gamma"``
fits costs by a gamma GLM with log link (statsmodels) and takes the marginal
incremental cost by recycled predictions,
``mean_i exp(x_i(arm=1) b) - mean_i exp(x_i(arm=0) b)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data, _mi
from peertrial import _design as _builder
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_table
from peertrial._warnings import ConvergenceWarning, PeertrialWarning
from peertrial.econ.cost_benefit import money_label
from peertrial.econ.decision import QUADRANTS, ceac_from_samples, evpi_from_nb, inb, quadrant
from peertrial.econ.discount import NICE_RATE, present_value

stats = lazy_module("scipy.stats")

__all__ = ["CEA", "cea", "bootstrap_counts"]

NICE_WTP = 20000.0  # GBP per QALY, NICE's lower threshold
_CHUNK = 2_000_000  # elements of the replicate x patient weight matrix held at once


# --------------------------------------------------------------------------- resampling


def _draw(unit_arm: np.ndarray, n_boot: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per arm (control first): its unit indices and an ``n_boot x units`` matrix of draws."""
    out = []
    for a in (0.0, 1.0):
        members = np.flatnonzero(unit_arm == a)
        out.append((members, rng.integers(0, members.size, size=(n_boot, members.size))))
    return out


def _counts(draws, n_units: int) -> np.ndarray:
    n_boot = draws[0][1].shape[0]
    rows = np.arange(n_boot)[:, None] * n_units
    counts = np.zeros(n_boot * n_units)
    for members, idx in draws:
        counts += np.bincount((rows + members[idx]).ravel(), minlength=n_boot * n_units)
    return counts.reshape(n_boot, n_units)


def bootstrap_counts(unit_arm, n_boot: int, seed=None) -> np.ndarray:
    """Draw the within-arm bootstrap as resampling counts (``n_boot x units``).

    Each arm keeps its number of units, drawn with replacement. Row ``b`` says how often
    each unit appears in replicate ``b``; :func:`cea` draws exactly these replicates for
    the same seed (with ``cluster=``, the units are clusters).

    Parameters
    ----------
    unit_arm : array-like of 0/1
        Arm of each resampling unit (participant or cluster).
    n_boot : int
        Number of replicates.
    seed : int or numpy.random.Generator, optional
        Seed of the draws.

    Returns
    -------
    numpy.ndarray, shape (n_boot, units)
        How often each unit is drawn in each replicate; each row sums, within each arm,
        to that arm's number of units.

    Notes
    -----
    R equivalent: none drawing the same replicates; ``boot::boot(..., strata = arm)``
    resamples within arm the same way with R's generator.

    References
    ----------
    .. [1] Barber, J. A., & Thompson, S. G. (2000). Analysis of cost data in randomized trials:
       an application of the non-parametric bootstrap. Statistics in Medicine, 19, 3219-3236.
    .. [2] Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.

    Examples
    --------
    >>> counts = pt.econ.bootstrap_counts([0, 0, 0, 1, 1], n_boot=3, seed=1)
    >>> counts.shape, counts[:, :3].sum(axis=1).tolist(), counts[:, 3:].sum(axis=1).tolist()
    ((3, 5), [3.0, 3.0, 3.0], [2.0, 2.0, 2.0])
    """
    unit_arm = np.asarray(unit_arm, dtype=float)
    return _counts(_draw(unit_arm, int(n_boot), _data.as_generator(seed)), unit_arm.size)


# --------------------------------------------------------------------------- estimators
# Each takes patient weights W (replicates x patients) and returns dC, dE per replicate.


def _unadjusted(draws, unit_sums, unit_sizes, clustered):
    """dC, dE per replicate straight from the draws (no weight matrix): the
    arm mean of a replicate is sum of drawn unit totals / sum of drawn unit sizes."""
    deltas = np.zeros((2, draws[0][1].shape[0]))
    for sign, (members, idx) in zip((-1.0, 1.0), draws):
        size = np.take(unit_sizes[members], idx).sum(axis=1) if clustered else idx.shape[1]
        for j in range(2):
            deltas[j] += sign * np.take(unit_sums[j][members], idx).sum(axis=1) / size
    return deltas[0], deltas[1]


def _batched_solve(A, b):
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:  # a replicate missed a covariate level
        return (np.linalg.pinv(A) @ b[..., None])[..., 0]


def _gram(W, X):
    p = X.shape[1]
    Z = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], p * p)
    return (W @ Z).reshape(W.shape[0], p, p)


def _ols_arm(W, X, y, gram):
    """Arm coefficient (column 1) of weighted least squares, one per replicate."""
    return _batched_solve(gram, W @ (X * y[:, None]))[:, 1]


def _gamma_fit(W, X, y, gram, start, max_iter=100, tol=1e-10):
    """Gamma GLM, log link, by IRLS with frequency weights ``W`` (batched).

    For the gamma family with log link the IRLS working weights are constant
    (``(dmu/deta)^2 / V(mu) = 1``), so ``X'WX`` is fixed and each step is
    ``beta = (X'WX)^-1 X'W z`` with ``z = eta + (y - mu) / mu``.
    """
    beta = np.broadcast_to(start, (W.shape[0], X.shape[1])).copy()
    for _ in range(max_iter):
        eta = beta @ X.T
        z = eta + y / np.exp(eta) - 1.0
        new = _batched_solve(gram, (W * z) @ X)
        done = np.max(np.abs(new - beta)) < tol * (1 + np.max(np.abs(beta)))
        beta = new
        if done:
            return beta
    warnings.warn("gamma GLM bootstrap fits did not converge in 100 IRLS steps", ConvergenceWarning, stacklevel=4)
    return beta


def _marginal_cost(W, X, beta):
    X1, X0 = X.copy(), X.copy()
    X1[:, 1], X0[:, 1] = 1.0, 0.0
    total = W.sum(axis=1)
    return ((W * np.exp(beta @ X1.T)).sum(axis=1) - (W * np.exp(beta @ X0.T)).sum(axis=1)) / total


class _Estimator:
    """Point estimate, analytic covariance and batched replicates of (dC, dE)."""

    def __init__(self, c, e, arm, X, units, unit_arm, cost_model):
        self.c, self.e, self.arm, self.X = c, e, arm, X
        self.units, self.unit_arm, self.cost_model = units, unit_arm, cost_model
        self.start = None
        if cost_model == "gamma":
            import statsmodels.api as sm

            fit = sm.GLM(c, X, family=sm.families.Gamma(sm.families.links.Log())).fit()
            self.start, self.glm = fit.params, fit

    def replicates_from_draws(self, draws):
        if self.X is None:
            n_units = self.unit_arm.size
            sums = [np.bincount(self.units, weights=y, minlength=n_units) for y in (self.c, self.e)]
            sizes = np.bincount(self.units, minlength=n_units).astype(float)
            return _unadjusted(draws, sums, sizes, n_units != self.c.size)
        return self.replicates(_counts(draws, self.unit_arm.size)[:, self.units])

    def replicates(self, W):
        """dC, dE for patient frequency weights ``W`` (replicates x patients)."""
        if self.X is None:
            out = []
            for y in (self.c, self.e):
                t, k = self.arm == 1, self.arm == 0
                out.append(W[:, t] @ y[t] / W[:, t].sum(axis=1) - W[:, k] @ y[k] / W[:, k].sum(axis=1))
            return out
        gram = _gram(W, self.X)
        de = _ols_arm(W, self.X, self.e, gram)
        if self.cost_model == "ols":
            return _ols_arm(W, self.X, self.c, gram), de
        beta = _gamma_fit(W, self.X, self.c, gram, self.start)
        return _marginal_cost(W, self.X, beta), de

    def point(self):
        dc, de = self.replicates(np.ones((1, self.c.size)))
        return float(dc[0]), float(de[0])

    def analytic_cov(self):
        """2x2 covariance of (dC, dE): linearisation over resampling units (unadjusted),
        OLS / cluster-robust OLS (SUR), delta method from the GLM (gamma; then the
        cross term is left to the bootstrap and returned as NaN)."""
        if self.X is None:
            cov = np.zeros((2, 2))
            for a in (0.0, 1.0):
                rows = self.arm == a
                g = self.units[rows]
                m = np.bincount(g, minlength=self.unit_arm.size)[self.unit_arm == a]
                resid = []
                for y in (self.c, self.e):
                    s = np.bincount(g, weights=y[rows], minlength=self.unit_arm.size)[self.unit_arm == a]
                    resid.append(s - m * s.sum() / m.sum())
                R = np.column_stack(resid)
                G = m.size
                cov += G / (G - 1) * (R.T @ R) / m.sum() ** 2
            return cov
        X, n, p = self.X, self.X.shape[0], self.X.shape[1]
        XtX_inv = np.linalg.inv(X.T @ X)
        coef = XtX_inv @ X.T @ np.column_stack([self.c, self.e])
        U = np.column_stack([self.c, self.e]) - X @ coef
        n_units = self.unit_arm.size
        if n_units == n:  # classical OLS / SUR
            cov = (U.T @ U) / (n - p) * XtX_inv[1, 1]
        else:  # cluster-robust CR1 as statsmodels cov_type="cluster"
            h = XtX_inv[1] @ X.T  # influence of each patient on the arm coefficient
            S = np.column_stack([np.bincount(self.units, weights=h * U[:, j], minlength=n_units) for j in range(2)])
            cov = S.T @ S * n_units / (n_units - 1) * (n - 1) / (n - p)
        if self.cost_model == "gamma":
            b = self.glm.params
            X1, X0 = X.copy(), X.copy()
            X1[:, 1], X0[:, 1] = 1.0, 0.0
            grad = (np.exp(X1 @ b)[:, None] * X1 - np.exp(X0 @ b)[:, None] * X0).mean(axis=0)
            cov[0, 0] = grad @ self.glm.cov_params() @ grad
            cov[0, 1] = cov[1, 0] = np.nan
        return cov


def draw_blocks(unit_arm: np.ndarray, n_boot: int, rng, n_patients: int):
    """The bootstrap draws of :func:`cea`, in blocks of replicates that keep the
    replicate x patient matrix under ``_CHUNK`` elements: yields per block the
    per-arm ``(units, index matrix)`` pairs (control first)."""
    step = max(1, _CHUNK // n_patients)
    for start in range(0, n_boot, step):
        yield _draw(unit_arm, min(step, n_boot - start), rng)


def _run_bootstrap(est: _Estimator, n_boot: int, rng) -> np.ndarray:
    parts = [np.column_stack(est.replicates_from_draws(d)) for d in draw_blocks(est.unit_arm, n_boot, rng, est.c.size)]
    return np.concatenate(parts)


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class CEA(Result):
    """Trial-based cost-effectiveness of arm 1 against arm 0 (returned by :func:`cea`).

    Methods give the decision quantities at any willingness to pay: ``nmb``, ``nmb_se``,
    ``ceac``, ``eib``, ``evpi``, ``decision_table``, ``icer_ci`` (Fieller) and
    ``quadrant_shares``.

    Attributes
    ----------
    delta_cost, delta_effect : float
        Incremental cost and effect (arm 1 minus arm 0; adjusted with covariates).
    icer : float
        ``delta_cost / delta_effect``.
    quadrant : str
        Quadrant of the point estimate on the CE plane (see :func:`quadrant`).
    se_delta_cost, se_delta_effect : float
        Analytic SEs of the increments.
    cov : numpy.ndarray
        Analytic 2 x 2 covariance of ``(delta_cost, delta_effect)``.
    boot_delta_cost, boot_delta_effect : numpy.ndarray
        The bootstrap replicates of the increments.
    arms : pandas.DataFrame
        Per arm: participants, resampling units, mean cost and effect.
    n_boot : int
        Bootstrap replicates.
    seed : object
        The seed given.
    wtp : float
        Willingness to pay per unit of effect used in the summary (NaN: none for this effect).
    level : float
        Confidence level, as a proportion.
    method : str
        How the increments and their uncertainty were computed.
    cost_model : str
        ``"unadjusted"``, ``"ols"`` or ``"gamma"``.
    cluster : str or None
        Column whose clusters were resampled whole.
    covariates : tuple
        Adjustment columns.
    n_imputations : int
        Imputations (``missing="mi"``), else 0.
    discounting : str
        How per-year columns were discounted, if any.
    currency : str
        Currency label.
    price_year : int or None
        Price year of the costs, when known.
    effect_label : str
        Unit of the effect in summaries and plots.

    Notes
    -----
    R equivalent: no single function; increments and SEs as ``stats::lm`` with ``sandwich``
    (sandwich 3.0-2), the CEAC as ``BCEA::ceac`` on the bootstrap replicates.

    References
    ----------
    .. [1] Barber, J. A., & Thompson, S. G. (2000). Analysis of cost data in randomized trials:
       an application of the non-parametric bootstrap. Statistics in Medicine, 19, 3219-3236.
    .. [2] Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
    .. [3] Fenwick, E., Claxton, K., & Sculpher, M. (2001). Representing uncertainty: the role
       of cost-effectiveness acceptability curves. Health Economics, 10, 779-787.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> ce = pt.econ.cea(trial, cost="cost_total", effect="qaly", arm="arm", n_boot=200, seed=1)
    >>> ce.boot_delta_cost.shape, ce.quadrant
    ((200,), 'SW')
    >>> round(float(ce.nmb(20000)), 2)
    1016.66
    """

    delta_cost: float
    delta_effect: float
    icer: float
    quadrant: str
    se_delta_cost: float
    se_delta_effect: float
    cov: np.ndarray = field(repr=False)
    boot_delta_cost: np.ndarray = field(repr=False)
    boot_delta_effect: np.ndarray = field(repr=False)
    arms: pd.DataFrame = field(repr=False)
    n_boot: int = 0
    seed: object = None
    wtp: float = 20000.0  # NaN: no threshold for this effect measure
    level: float = 0.95
    method: str = ""
    cost_model: str = "unadjusted"
    cluster: str | None = None
    covariates: tuple = ()
    n_imputations: int = 0
    discounting: str = ""
    currency: str = "GBP"
    price_year: int | None = None
    effect_label: str = "QALY"

    # ---- decision quantities
    def plot(self, ax=None, kind: str = "plane", **kwargs):
        """Cost-effectiveness plane (``kind="plane"``, :func:`peertrial.plot.ce_plane`: bootstrap
        cloud, point estimate, willingness-to-pay line) or acceptability curve (``kind="ceac"``,
        :func:`peertrial.plot.ceac`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes; by default a new figure, shown once in Jupyter.
        kind : {"plane", "ceac"}, default "plane"
            Which figure.
        **kwargs
            Passed to the plot function (e.g. ``wtp=30000``, ``max_points``, ``title`` for the
            plane; ``wtps``, ``mark_wtp``, ``title`` for the curve).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.ce_plane : the plane, with an example.
        peertrial.plot.ceac : the acceptability curve, with an example.
        """
        from peertrial.plot.econ import ce_plane, ceac

        if kind == "plane":
            return ce_plane(self, ax=ax, **kwargs)
        if kind == "ceac":
            return ceac(self, ax=ax, **kwargs)
        raise ValueError("kind must be 'plane' (cost-effectiveness plane) or 'ceac' "
                         f"(acceptability curve), got {kind!r}")

    def nmb(self, wtp):
        """Incremental net monetary benefit ``wtp * dE - dC`` (float, or array for array ``wtp``)."""
        w = np.asarray(wtp, dtype=float)
        out = w * self.delta_effect - self.delta_cost
        return float(out) if out.ndim == 0 else out

    inmb = nmb

    def nmb_se(self, wtp):
        """Analytic SE of the INMB: ``sqrt(w^2 Var dE + Var dC - 2 w Cov)``.

        Uses the bootstrap covariance when no analytic one exists (gamma costs).
        """
        cov = self.cov if np.isfinite(self.cov).all() else np.cov(self.boot_delta_cost, self.boot_delta_effect)
        w = np.asarray(wtp, dtype=float)
        out = np.sqrt(w**2 * cov[1, 1] + cov[0, 0] - 2 * w * cov[0, 1])
        return float(out) if out.ndim == 0 else out

    def _inb_samples(self, wtps):
        return inb(np.atleast_1d(np.asarray(wtps, dtype=float)), self.boot_delta_cost, self.boot_delta_effect)

    def ceac(self, wtps) -> pd.DataFrame:
        """Cost-effectiveness acceptability curve: ``P(wtp * dE - dC > 0)`` over the replicates."""
        w = np.atleast_1d(np.asarray(wtps, dtype=float))
        prob = ceac_from_samples(self.boot_delta_cost, self.boot_delta_effect, w)
        return pd.DataFrame({"wtp": w, "prob_cost_effective": prob})

    def eib(self, wtps) -> pd.DataFrame:
        """Expected incremental benefit: mean of ``wtp * dE - dC`` over the replicates."""
        w = np.atleast_1d(np.asarray(wtps, dtype=float))
        return pd.DataFrame({"wtp": w, "eib": w * self.boot_delta_effect.mean() - self.boot_delta_cost.mean()})

    def evpi(self, wtps) -> pd.DataFrame:
        """Per-person EVPI ``E[max(INB, 0)] - max(E[INB], 0)`` over the replicates."""
        w = np.atleast_1d(np.asarray(wtps, dtype=float))
        out = np.empty(w.size)
        for i in range(0, w.size, 50):
            block = self._inb_samples(w[i : i + 50])
            out[i : i + 50] = evpi_from_nb(np.stack([np.zeros_like(block), block], axis=-1))
        return pd.DataFrame({"wtp": w, "evpi": out})

    def decision_table(self, wtps) -> pd.DataFrame:
        """INMB with analytic normal CI, probability cost-effective, EIB and EVPI per WTP."""
        w = np.atleast_1d(np.asarray(wtps, dtype=float))
        z = stats.norm.ppf(0.5 + self.level / 2)
        est, se = self.nmb(w), self.nmb_se(w)
        return pd.DataFrame(
            {
                "wtp": w,
                "inmb": est,
                "se": se,
                "ci_lb": est - z * se,
                "ci_ub": est + z * se,
                "prob_cost_effective": self.ceac(w)["prob_cost_effective"].to_numpy(),
                "eib": self.eib(w)["eib"].to_numpy(),
                "evpi": self.evpi(w)["evpi"].to_numpy(),
            }
        )

    def icer_ci(self, level: float | None = None) -> tuple[float, float]:
        """Fieller confidence limits of the ICER (Willan & O'Brien 1996, Health Econ 5:297-305).

        The limits are the roots ``R`` of
        ``(dE^2 - z^2 vE) R^2 - 2 (dC dE - z^2 cE) R + (dC^2 - z^2 vC) = 0``, i.e. the
        willingness-to-pay values where the INMB's normal CI just reaches zero.
        When ``dE`` is not significantly non-zero (``dE^2 <= z^2 vE``) the set is
        unbounded and ``(nan, nan)`` is returned; decide by INMB instead.
        """
        z = stats.norm.ppf(0.5 + (self.level if level is None else _data.confidence_level(level)) / 2)
        cov = self.cov if np.isfinite(self.cov).all() else np.cov(self.boot_delta_cost, self.boot_delta_effect)
        dc, de = self.delta_cost, self.delta_effect
        a = de**2 - z**2 * cov[1, 1]
        b = dc * de - z**2 * cov[0, 1]
        c = dc**2 - z**2 * cov[0, 0]
        disc = b**2 - a * c
        if a <= 0 or disc < 0:
            return (np.nan, np.nan)
        root = np.sqrt(disc)
        return (float((b - root) / a), float((b + root) / a))

    def quadrant_shares(self) -> pd.Series:
        """Share of bootstrap replicates in each quadrant of the CE plane."""
        dc, de = self.boot_delta_cost, self.boot_delta_effect
        shares = {
            "NE": np.mean((de > 0) & (dc > 0)),
            "dominant": np.mean((de > 0) & (dc <= 0)),
            "SW": np.mean((de < 0) & (dc < 0)),
            "dominated": np.mean((de < 0) & (dc >= 0)),
            "undefined": np.mean(de == 0),
        }
        return pd.Series(shares, name="share")

    # ---- presentation
    def to_frame(self) -> pd.DataFrame:
        z = stats.norm.ppf(0.5 + self.level / 2)
        a = (1 - self.level) / 2
        rows = {}
        for name, est, se, reps in (
            ("delta_cost", self.delta_cost, self.se_delta_cost, self.boot_delta_cost),
            ("delta_effect", self.delta_effect, self.se_delta_effect, self.boot_delta_effect),
        ):
            lb, ub = np.quantile(reps, [a, 1 - a])
            rows[name] = [est, se, est - z * se, est + z * se, reps.std(ddof=1), lb, ub]
        if np.isfinite(self.wtp):  # no INMB row without a threshold for this effect
            inmb_reps = self.wtp * self.boot_delta_effect - self.boot_delta_cost
            est, se = self.nmb(self.wtp), self.nmb_se(self.wtp)
            lb, ub = np.quantile(inmb_reps, [a, 1 - a])
            rows[f"inmb_{self.wtp:g}"] = [est, se, est - z * se, est + z * se, inmb_reps.std(ddof=1), lb, ub]
        rows["icer"] = [self.icer, np.nan, *self.icer_ci(), np.nan, np.nan, np.nan]
        cols = ["estimate", "se", "ci_lb", "ci_ub", "boot_se", "boot_ci_lb", "boot_ci_ub"]
        return pd.DataFrame.from_dict(rows, orient="index", columns=cols)

    def summary(self) -> str:
        pct = int(round(100 * self.level))
        frame = self.to_frame()
        prob = float(self.ceac([self.wtp])["prob_cost_effective"].iloc[0]) if np.isfinite(self.wtp) else np.nan
        icer = "undefined (incremental effect is zero)" if not np.isfinite(self.icer) else f"{self.icer:,.2f}"
        lines = [
            "Trial-based cost-effectiveness analysis: arm 1 (intervention) vs arm 0 (control)",
            f"Costs: {money_label(self.currency, self.price_year)}; effects: {self.effect_label}; {self.discounting}",
            f"Increments: {self.method}",
            f"Bootstrap: {self.n_boot} replicates resampling "
            + (f"clusters of {self.cluster!r}" if self.cluster else "patients")
            + f" within arm, cost and effect jointly (seed {self.seed!r})",
        ]
        if self.n_imputations:
            lines.append(
                f"Missing values: {self.n_imputations} imputations by chained equations (predictive mean "
                "matching, as mice 'pmm');"
                " Rubin's rules for SEs, bootstrap replicates pooled across imputations"
            )
        lines += [
            "",
            format_table(self.arms.assign(n=self.arms["n"].round().astype(int).astype(str)), digits=4),
            "",
            format_table(frame.drop(index="icer"), digits=4),
            f"({pct}% CIs: normal from analytic SE; bootstrap percentile)",
            "",
            f"ICER: {icer} {self.currency} per {self.effect_label}"
            + (
                f"; {pct}% Fieller CI {self.icer_ci()[0]:,.2f} to {self.icer_ci()[1]:,.2f}"
                if np.isfinite(self.icer_ci()[0])
                else f"; {pct}% Fieller CI unbounded (incremental effect not significantly non-zero)"
            ),
            f"  {QUADRANTS[self.quadrant]}",
            f"INMB at {self.wtp:,.0f} {self.currency} per {self.effect_label}: {self.nmb(self.wtp):,.2f}"
            f" (SE {self.nmb_se(self.wtp):,.2f}); probability cost-effective {prob:.3f}"
            if np.isfinite(self.wtp)
            else f"INMB: no willingness-to-pay threshold per {self.effect_label} (NICE's are per QALY); pass "
            f"wtp= (the value of one {self.effect_label} in {self.currency}) to report it",
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------- input handling


def _outcome(frame: pd.DataFrame, spec, what: str, rate: float) -> tuple[np.ndarray, bool]:
    """One column, or several per-year columns discounted to present value."""
    if isinstance(spec, str):
        return _data.numeric(frame[spec], spec), False
    cols = list(spec)
    _data.require_columns(frame, cols)
    years = np.column_stack([_data.numeric(frame[c], c) for c in cols])
    return present_value(years, rate), len(cols) > 1


def _design(frame: pd.DataFrame, arm: np.ndarray, covariates) -> tuple[np.ndarray | None, list[str]]:
    """``[1, arm, covariate columns]`` from the one design builder (:mod:`peertrial._design`);
    aliased covariate columns are dropped with a warning (R's ``NA``)."""
    if not _builder.variables(covariates):
        return None, []
    block = _builder.build(frame, covariates, intercept="drop")
    names = ["const", "arm", *[c for c in block.names if c != "arm"]]
    X = np.column_stack([np.ones(len(frame)), arm, block.X[:, [c != "arm" for c in block.names]]])
    keep = _builder.drop_aliased(X, names, what="cea adjustment", protect=["arm"], stacklevel=4)
    return X[:, keep], [c for c, k in zip(names, keep) if k]


def _units(frame: pd.DataFrame, arm: np.ndarray, cluster: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Resampling unit of each patient (codes 0..U-1) and each unit's arm.

    Units are (arm, cluster) pairs; patients with no cluster are units of one.
    """
    n = arm.size
    if cluster is None:
        return np.arange(n), arm.copy()
    raw = frame[cluster]
    missing = raw.isna().to_numpy()
    for a in (0.0, 1.0):
        in_arm = arm == a
        if missing[in_arm].any() and not missing[in_arm].all():
            warnings.warn(f"{int(missing[in_arm].sum())} participant(s) of arm {int(a)} have no {cluster!r} (rows "
                          f"{_data.row_labels(frame.index, missing & in_arm)}) while the rest of the arm is "
                          "clustered; each is resampled as a cluster of one. Fill in the cluster or drop those rows "
                          "if that is not intended", PeertrialWarning, stacklevel=_data.user_stacklevel())
    key = np.where(raw.isna().to_numpy(), ["__own__" + str(i) for i in range(n)], raw.astype(str).to_numpy())
    key = pd.Series(arm.astype(int).astype(str)).str.cat(pd.Series(key), sep="|").to_numpy()
    codes, uniques = pd.factorize(key, sort=True)
    unit_arm = np.array([float(u.split("|", 1)[0]) for u in uniques])
    for a in (0.0, 1.0):
        if (unit_arm == a).sum() < 2:
            raise ValueError(f"arm {int(a)} has fewer than two clusters of {cluster!r}; cannot bootstrap by cluster")
    return codes, unit_arm


def _arm_table(c, e, arm, units, unit_arm) -> pd.DataFrame:
    rows = []
    for a in (0.0, 1.0):
        rows_a = arm == a
        g = units[rows_a]
        m = np.bincount(g, minlength=unit_arm.size)[unit_arm == a]
        G = m.size
        vals = {"n": int(rows_a.sum())}
        for name, y in (("cost", c), ("effect", e)):
            s = np.bincount(g, weights=y[rows_a], minlength=unit_arm.size)[unit_arm == a]
            mean = s.sum() / m.sum()
            vals[f"mean_{name}"] = mean
            vals[f"se_{name}"] = np.sqrt(G / (G - 1) * ((s - m * mean) ** 2).sum()) / m.sum()
        rows.append(vals)
    return pd.DataFrame(rows, index=pd.Index(["control (0)", "intervention (1)"], name="arm"))


def _impute(frame, cost_name, effect_name, arm, Xcov, m, rng):
    """``m`` completed (cost, effect) pairs by the package's one chained-equations engine
    (:func:`peertrial._mi.impute`, predictive mean matching as mice's ``pmm``, so imputed
    costs are costs that occur in the data); predictors: arm, covariates and the other outcome."""
    cols = [frame[cost_name].to_numpy(float), frame[effect_name].to_numpy(float), arm]
    if Xcov is not None:
        cols.extend(Xcov[:, j] for j in range(2, Xcov.shape[1]))
    completed = _mi.impute(np.column_stack(cols), m=m, n_iter=10, seed=rng, method="pmm",
                           names=["cost", "effect", "arm", *[f"covariate {j}" for j in range(2, len(cols))]])
    return [(completed[i, :, 0], completed[i, :, 1]) for i in range(m)]



def _effect_unit(effect_cols, label, lower_is_better, wtp) -> tuple[str, float]:
    """Unit of the effect and the willingness to pay that goes with it (see :func:`cea`)."""
    is_qaly = all("qaly" in str(c).lower() for c in effect_cols)
    if label is None:
        label = "QALY" if is_qaly else "+".join(str(c) for c in effect_cols)
    if lower_is_better and not any(w in label.lower() for w in ("avoided", "prevented", "averted")):
        label = f"{label} avoided"
    if wtp is None:
        wtp = NICE_WTP if label == "QALY" else np.nan
    wtp = float(wtp)
    if np.isnan(wtp):
        return label, wtp
    if not np.isfinite(wtp) or wtp < 0:
        raise ValueError(f"wtp must be a non-negative number (per {label}), got {wtp!r}")
    return label, wtp


def _check_missing(frame, cols, arm, missing, names):
    miss = frame[cols].isna().any(axis=1).to_numpy()
    if not miss.any() or missing == "mi":
        return miss
    if missing == "drop":
        return miss
    parts = []
    for a in (0, 1):
        rows = miss & (arm == a)
        if rows.any():
            parts.append(f"arm {a}: rows {_data.row_labels(frame.index, rows)}")
    bad = [names[c] for c in cols if frame[c].isna().any()]
    raise ValueError(
        f"missing values in column(s) {bad} ({'; '.join(parts)}); pass missing='drop' for a complete-case "
        "analysis or missing='mi' for multiple imputation"
    )


# --------------------------------------------------------------------------- public


def cea(
    data,
    cost="cost",
    effect="qaly",
    arm: str = "arm",
    *,
    n_boot: int = 5000,
    seed=None,
    cluster: str | None = None,
    covariates=None,
    cost_model: str = "ols",
    wtp: float | None = None,
    level: float = 0.95,
    allow_negative_costs: bool = False,
    missing: str = "error",
    n_imputations: int = 10,
    discount_rate: float = NICE_RATE,
    currency: str = "GBP",
    price_year: int | None = None,
    effect_label: str | None = None,
    lower_is_better: bool = False,
    arm_levels=None,
) -> CEA:
    """Incremental cost, effect, ICER and INMB of arm 1 vs arm 0 with bootstrap uncertainty.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant with the cost, effect and arm columns (and any
        cluster and covariate columns).
    cost : str or list of str, default "cost"
        Column of each participant's total cost, or a list of per-year columns (first
        year first), discounted at ``discount_rate`` from the second year on and summed.
    effect : str or list of str, default "qaly"
        Column of the effect (e.g. QALYs), or per-year columns as for ``cost``.
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention.
    n_boot : int, default 5000
        Bootstrap replicates (at least 2).
    seed : int or numpy.random.Generator, optional
        Seed of the bootstrap (and of the imputations).
    cluster : str, optional
        Column whose clusters are resampled whole, within arm (participants without a
        cluster are their own).
    covariates : list of str or str, optional
        Columns for adjusted increments (SUR of cost and effect on arm + covariates), a
        list or an R-style formula (``"age + C(site)"``), coded by the one design builder
        (``peertrial._design``): numeric columns, including numbers stored as text, enter as
        one column (a linear trend); text, booleans, categoricals and ``C()`` are
        treatment-coded factors; aliased columns are dropped with a warning.
    cost_model : {"ols", "gamma"}, default "ols"
        With covariates, SUR (``"ols"``) or a gamma GLM with log link for costs and the
        marginal incremental cost (``"gamma"``).
    wtp : float, optional
        Willingness to pay per unit of effect, for the INMB and probability cost-effective
        in the summary. Default: NICE's lower threshold, 20,000 per QALY, when the effect is
        QALYs; for any other effect there is no default threshold and the INMB is left out
        until ``wtp`` is given (the value of one unit of that effect, e.g. of one
        readmission avoided).
    level : float, default 0.95
        Confidence level of every interval, 0.95 or 95 alike.
    allow_negative_costs : bool, default False
        Negative costs raise unless this is True.
    missing : {"error", "drop", "mi"}, default "error"
        ``"error"`` names the rows per arm; ``"drop"`` analyses complete cases (warned);
        ``"mi"`` uses ``n_imputations`` imputations by chained equations, analytic SEs by
        Rubin's rules and ``n_boot`` replicates shared across imputations and pooled.
    n_imputations : int, default 10
        Imputations for ``missing="mi"``.
    discount_rate : float, default 0.035
        Annual rate for per-year ``cost``/``effect`` columns (NICE's 3.5%).
    currency : str, default "GBP"
        Currency label for summaries and plots.
    price_year : int, optional
        Price year of the costs, for summaries.
    effect_label : str, optional
        The unit of the effect in summaries and plots ("ICER: ... per <effect_label>").
        Default: ``"QALY"`` when the effect column is named like ``qaly``, else the
        column's name; with ``lower_is_better`` the unit is "<effect_label> avoided" (e.g.
        ``effect_label="readmission"`` gives costs "per readmission avoided").
    lower_is_better : bool, default False
        The effect is a harm (e.g. ``readmitted_12m``); it is negated so that
        ``delta_effect`` counts events avoided per participant and the ICER is the cost
        per event avoided.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.

    Returns
    -------
    CEA
        Increments with analytic SEs, ICER, quadrant and the bootstrap replicates; its
        methods give the INMB, CEAC, EIB, EVPI and the Fieller interval of the ICER.

    Notes
    -----
    R equivalent: no single function; increments and SEs as ``stats::lm`` with ``sandwich``
    (sandwich 3.0-2), the CEAC as ``BCEA::ceac`` on the bootstrap replicates.

    References
    ----------
    .. [1] Glick, H. A., Doshi, J. A., Sonnad, S. S., & Polsky, D. (2014). Economic Evaluation
       in Clinical Trials (2nd ed.). Oxford University Press.
    .. [2] Fenwick, E., O'Brien, B. J., & Briggs, A. (2004). Cost-effectiveness acceptability
       curves: facts, fallacies and frequently asked questions. Health Economics, 13, 405-415.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> ce = pt.econ.cea(trial, cost="cost_total", effect="qaly", arm="arm", n_boot=200, seed=1)
    >>> round(ce.delta_cost, 2), round(ce.delta_effect, 4)
    (-1161.31, -0.0072)
    >>> ce.ceac([20000])["prob_cost_effective"].round(3).tolist()
    [0.71]
    """
    data = _data.code_arm(data, arm, arm_levels)
    level = _data.confidence_level(level)
    if cost_model not in ("ols", "gamma"):
        raise ValueError(f"cost_model must be 'ols' or 'gamma', got {cost_model!r}")
    if missing not in ("error", "drop", "mi"):
        raise ValueError(f"missing must be 'error', 'drop' or 'mi', got {missing!r}")
    if int(n_boot) < 2:
        raise ValueError("n_boot must be at least 2")
    n_boot = int(n_boot)
    covariates = _builder.spec(covariates)
    cov_cols = _builder.variables(covariates)
    frame = _data.as_frame(data)
    cost_cols = [cost] if isinstance(cost, str) else list(cost)
    effect_cols = [effect] if isinstance(effect, str) else list(effect)
    _data.require_columns(frame, [*cost_cols, *effect_cols, arm, cluster, *cov_cols])
    frame = _data.drop_missing(frame, [arm, *cov_cols], action="fail")
    if cluster is not None and frame[cluster].notna().all():
        _data.cluster_codes(frame[cluster], cluster)  # one cluster: nothing to resample
    arm_v = _data.binary(frame[arm], arm)
    for a in (0, 1):
        if (arm_v == a).sum() < 2:
            raise ValueError(f"column {arm!r} needs at least two participants in arm {a}")

    effect_label, wtp = _effect_unit(effect_cols, effect_label, lower_is_better, wtp)
    c_all, disc_c = _outcome(frame, cost, "cost", discount_rate)
    e_all, disc_e = _outcome(frame, effect, "effect", discount_rate)
    if lower_is_better:
        e_all = -e_all
    if not allow_negative_costs:
        neg = c_all < 0
        if neg.any():
            raise ValueError(
                f"negative costs in {cost!r} at rows {_data.row_labels(frame.index, neg)}; "
                "pass allow_negative_costs=True if they are genuine (e.g. savings recorded as costs)"
            )
    work = frame.assign(_cost=c_all, _effect=e_all)
    names = {"_cost": cost if isinstance(cost, str) else "+".join(cost_cols),
             "_effect": effect if isinstance(effect, str) else "+".join(effect_cols)}
    miss = _check_missing(work, ["_cost", "_effect"], arm_v, missing, names)
    if missing == "drop" and miss.any():
        bad = [names[c] for c in ("_cost", "_effect") if work[c].isna().any()]
        warnings.warn(
            f"{int(miss.sum())} rows with missing values in {bad} omitted (complete-case analysis): "
            f"{_data.row_labels(work.index, miss)}",
            UserWarning,
            stacklevel=2,
        )
        work = work.loc[~miss]
        arm_v = _data.binary(work[arm], arm)
        miss = np.zeros(len(work), dtype=bool)

    X, _ = _design(work, arm_v, covariates)
    if cost_model == "gamma" and X is None:
        raise ValueError("cost_model='gamma' needs covariates= (unadjusted increments are differences in means)")
    units, unit_arm = _units(work, arm_v, cluster)
    rng = _data.as_generator(seed)

    if miss.any():  # multiple imputation
        completed = _impute(work, "_cost", "_effect", arm_v, X, n_imputations, rng)
        sizes = np.full(n_imputations, n_boot // n_imputations)
        sizes[: n_boot % n_imputations] += 1
        points, covs, boots, tables = [], [], [], []
        for (c, e), b in zip(completed, sizes):
            est = _Estimator(c, e, arm_v, X, units, unit_arm, cost_model)
            points.append(est.point())
            covs.append(est.analytic_cov())
            boots.append(_run_bootstrap(est, int(b), rng))
            tables.append(_arm_table(c, e, arm_v, units, unit_arm))
        (dc, de), cov = _mi.rubin_cov(np.array(points), np.array(covs))
        boot = np.concatenate(boots)
        arms_tab = sum(tables) / len(tables)
        arms_tab["n"] = tables[0]["n"]
    else:
        c, e = work["_cost"].to_numpy(float), work["_effect"].to_numpy(float)
        if cost_model == "gamma" and (c <= 0).any():
            raise ValueError(
                f"cost_model='gamma' needs positive costs; zero or negative at rows "
                f"{_data.row_labels(work.index, c <= 0)}; use cost_model='ols'"
            )
        est = _Estimator(c, e, arm_v, X, units, unit_arm, cost_model)
        dc, de = est.point()
        cov = est.analytic_cov()
        boot = _run_bootstrap(est, n_boot, rng)
        arms_tab = _arm_table(c, e, arm_v, units, unit_arm)

    if de == 0:
        warnings.warn(
            "incremental effect is zero: the ICER is undefined; decide by the incremental net monetary benefit",
            PeertrialWarning,
            stacklevel=2,
        )
    icer = dc / de if de != 0 else np.nan
    if X is None:
        method = "difference in arm means"
    elif cost_model == "ols":
        method = f"SUR (= equation-by-equation OLS) on arm + {_builder.describe(covariates)}"
    else:
        method = f"costs: gamma GLM (log link), marginal increment; effects: OLS; on arm + {_builder.describe(covariates)}"
    if lower_is_better:
        method += f"; effect negated ({effect!r}: lower is better), so increments count events avoided"
    if disc_c or disc_e:
        discounting = f"discounted at {100 * discount_rate:.1f}% a year beyond the first year"
    else:
        discounting = "no discounting (one-year horizon)"
    boot_c, boot_e = boot[:, 0].copy(), boot[:, 1].copy()
    for arr in (boot_c, boot_e, cov):
        arr.setflags(write=False)
    return CEA(
        delta_cost=float(dc),
        delta_effect=float(de),
        icer=float(icer),
        quadrant=quadrant(dc, de),
        se_delta_cost=float(np.sqrt(cov[0, 0])),
        se_delta_effect=float(np.sqrt(cov[1, 1])),
        cov=cov,
        boot_delta_cost=boot_c,
        boot_delta_effect=boot_e,
        arms=arms_tab,
        n_boot=n_boot,
        seed=seed if not isinstance(seed, np.random.Generator) else "Generator",
        wtp=float(wtp),
        level=level,
        method=method,
        cost_model="unadjusted" if X is None else cost_model,
        cluster=cluster,
        covariates=tuple(_builder.as_list(covariates)),
        n_imputations=n_imputations if miss.any() else 0,
        discounting=discounting,
        currency=currency,
        price_year=price_year,
        effect_label=effect_label,
    )
