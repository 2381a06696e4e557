"""Parametric accelerated-failure-time models, as R's ``survival::survreg``.

log T = x'beta + sigma W, with W standard extreme-value (Weibull; exponential when
sigma = 1), normal (log-normal) or logistic (log-logistic). For right-censored data
with z_i = (log t_i - x_i'beta) / sigma the log-likelihood is

    sum_events [log f(z_i) - log sigma - log t_i] + sum_censored log S(z_i)

(the Jacobian -log t_i included, as survreg reports it), maximised by Newton–Raphson
over (beta, log sigma) with analytic derivatives; the standard errors come from the
inverse of the observed information, as ``summary.survreg``.

These models extrapolate readmission beyond the end of follow-up, as economic models
need: :meth:`SurvregResult.survival` gives S(t | x) at any t, :meth:`SurvregResult.quantile`
the time by which a proportion p has had the event.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data, _design
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_pval, format_table
from peertrial._warnings import ConvergenceWarning

special = lazy_module("scipy.special")
stats = lazy_module("scipy.stats")

__all__ = ["survreg", "SurvregResult"]

_DISTS = ("weibull", "exponential", "lognormal", "loglogistic")


def _log_terms(dist: str, z: np.ndarray, event: np.ndarray):
    """g(z) and its first two derivatives: log f for events, log S for censored rows."""
    if dist in ("weibull", "exponential"):
        ez = np.exp(z)
        g = np.where(event, z - ez, -ez)
        g1 = np.where(event, 1 - ez, -ez)
        g2 = -ez
    elif dist == "loglogistic":
        p = special.expit(z)
        g = np.where(event, z - 2 * np.logaddexp(0, z), -np.logaddexp(0, z))
        g1 = np.where(event, 1 - 2 * p, -p)
        g2 = np.where(event, -2 * p * (1 - p), -p * (1 - p))
    else:  # lognormal
        logsf = stats.norm.logsf(z)
        lam = np.exp(stats.norm.logpdf(z) - logsf)  # hazard of the standard normal
        g = np.where(event, stats.norm.logpdf(z), logsf)
        g1 = np.where(event, -z, -lam)
        g2 = np.where(event, -1.0, -lam * (lam - z))
    return g, g1, g2


def _loglik(theta, X, y, event, dist, fixed_scale):
    p = X.shape[1]
    beta = theta[:p]
    logs = 0.0 if fixed_scale else theta[p]
    sigma = np.exp(logs)
    z = (y - X @ beta) / sigma
    g, g1, g2 = _log_terms(dist, z, event)
    ll = g.sum() - event.sum() * logs - y[event].sum()
    grad_b = X.T @ (-g1 / sigma)
    H_bb = (X * (g2 / sigma**2)[:, None]).T @ X
    if fixed_scale:
        return ll, grad_b, H_bb
    grad_s = np.sum(-z * g1) - event.sum()
    H_bs = X.T @ ((g2 * z + g1) / sigma)
    H_ss = np.sum(z * g1 + z**2 * g2)
    grad = np.append(grad_b, grad_s)
    H = np.block([[H_bb, H_bs[:, None]], [H_bs[None, :], np.array([[H_ss]])]])
    return ll, grad, H


def _newton(X, y, event, dist, fixed_scale, maxiter=100, tol=1e-12):
    beta0, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta0
    theta = beta0 if fixed_scale else np.append(beta0, np.log(max(np.std(resid), 0.1)))
    ll, grad, H = _loglik(theta, X, y, event, dist, fixed_scale)
    for it in range(1, maxiter + 1):
        try:
            step = np.linalg.solve(-H, grad)
        except np.linalg.LinAlgError:
            step = grad * 1e-3
        if not np.all(np.isfinite(step)) or grad @ step <= 0:
            step = grad / max(1.0, np.abs(np.diag(H)).max())  # gradient ascent when H is not negative definite
        for _ in range(40):  # step halving until the likelihood does not fall
            new = theta + step
            ll_new, grad_new, H_new = _loglik(new, X, y, event, dist, fixed_scale)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        else:
            break
        converged = abs(ll_new - ll) <= tol * (abs(ll) + tol) and np.max(np.abs(step)) < 1e-7
        theta, ll, grad, H = new, ll_new, grad_new, H_new
        if converged:
            return theta, ll, H, it, True
    return theta, ll, H, maxiter, False


@dataclass(frozen=True, eq=False)
class SurvregResult(Result):
    """Fitted accelerated-failure-time model: coefficients on the log-time scale and the scale.

    Returned by :func:`survreg`. Also ``statistic`` (z), ``pval`` (Series by coefficient) and
    ``chisq`` (likelihood ratio against the intercept-only model) as properties.

    Attributes
    ----------
    coef, se : pandas.Series
        Coefficients on the log-time scale (exp(coef) is a time ratio) and their SEs; NaN
        where aliased.
    scale : float
        The scale sigma (1 for the exponential).
    se_log_scale : float
        SE of log(scale) (R's ``Log(scale)`` row; NaN for the exponential).
    vcov : pandas.DataFrame
        Variance matrix of the coefficients and log(scale), as ``vcov(survreg_fit)``.
    loglik : tuple of float
        Log-likelihood of the intercept-only model and of the fit.
    dist : str
        ``"weibull"``, ``"exponential"``, ``"lognormal"`` or ``"loglogistic"``.
    n, n_event : int
        Rows used and events among them.
    iterations : int
        Newton–Raphson iterations used.
    level : float
        Confidence level of ``to_frame()``'s limits, as a proportion.

    Notes
    -----
    R equivalent: a ``survival::survreg`` fit (survival 3.5-3); :meth:`quantile` as
    ``predict(fit, type = "quantile")``.

    References
    ----------
    .. [1] Kalbfleisch, J. D., & Prentice, R. L. (2002). The Statistical Analysis of Failure
       Time Data (2nd ed.), ch. 2-3. Wiley.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"arm": np.repeat([0, 1], 100)})
    >>> d["days"] = np.ceil(300 * rng.weibull(1.3, 200) * np.exp(0.4 * d["arm"]))
    >>> d["readmitted"] = (d["days"] < 365).astype(int)
    >>> d["days"] = d["days"].clip(upper=365)
    >>> fit = pt.survival.survreg(d, time="days", event="readmitted", covariates=["arm"])
    >>> fit.coef.round(4).tolist(), round(fit.scale, 4), fit.n_event
    ([5.6661, 0.5526], 0.7053, 122)
    >>> fit.quantile(0.5, newdata=pd.DataFrame({"arm": [0, 1]}))[0.5].round(2).tolist()
    [223.09, 387.67]
    """

    coef: pd.Series
    se: pd.Series
    scale: float
    se_log_scale: float
    vcov: pd.DataFrame
    loglik: tuple  # (intercept-only, fitted)
    dist: str
    n: int
    n_event: int
    iterations: int
    level: float
    _design: object
    _aliased: np.ndarray

    @property
    def statistic(self) -> pd.Series:
        return self.coef / self.se

    @property
    def pval(self) -> pd.Series:
        return pd.Series(2 * stats.norm.sf(np.abs(self.statistic)), index=self.coef.index)

    @property
    def chisq(self) -> float:
        """Likelihood-ratio statistic against the intercept-only model."""
        return float(2 * (self.loglik[1] - self.loglik[0]))

    @property
    def df(self) -> int:
        return int(np.sum(np.isfinite(self.coef.to_numpy())) - 1)

    @property
    def aic(self) -> float:
        k = self.df + 1 + (self.dist != "exponential")
        return float(-2 * self.loglik[1] + 2 * k)

    @property
    def time_ratio(self) -> pd.Series:
        """exp(beta): the factor by which a covariate stretches time to the event."""
        return np.exp(self.coef)

    def _linear_predictor(self, newdata) -> np.ndarray:
        if newdata is None:
            X = self._design.X
        else:
            X = self._design.new(newdata)
        b = np.where(np.isfinite(self.coef.to_numpy()), self.coef.to_numpy(), 0.0)
        return X @ b

    def survival(self, times, newdata=None) -> pd.DataFrame:
        """S(t | x) for each row of ``newdata`` (default: the fitted rows) at ``times``.

        Returns a DataFrame with one row per row of ``newdata`` and one column per time.
        """
        times = np.atleast_1d(np.asarray(times, float))
        if (times <= 0).any():
            raise ValueError("times must be positive")
        eta = self._linear_predictor(newdata)
        z = (np.log(times)[None, :] - eta[:, None]) / self.scale
        if self.dist in ("weibull", "exponential"):
            s = np.exp(-np.exp(z))
        elif self.dist == "loglogistic":
            s = special.expit(-z)
        else:
            s = stats.norm.sf(z)
        index = self._design.index if newdata is None else getattr(newdata, "index", None)
        return pd.DataFrame(s, index=index, columns=times)

    def quantile(self, p=0.5, newdata=None) -> pd.DataFrame:
        """Time by which a proportion ``p`` has had the event (R's ``predict(type="quantile")``)."""
        p = np.atleast_1d(np.asarray(p, float))
        if ((p <= 0) | (p >= 1)).any():
            raise ValueError("p must lie strictly between 0 and 1")
        if self.dist in ("weibull", "exponential"):
            w = np.log(-np.log1p(-p))
        elif self.dist == "loglogistic":
            w = special.logit(p)
        else:
            w = stats.norm.ppf(p)
        eta = self._linear_predictor(newdata)
        index = self._design.index if newdata is None else getattr(newdata, "index", None)
        return pd.DataFrame(np.exp(eta[:, None] + self.scale * w[None, :]), index=index, columns=p)

    def to_frame(self) -> pd.DataFrame:
        z = stats.norm.ppf(0.5 + self.level / 2)
        names = list(self.coef.index)
        est = self.coef.to_numpy()
        se = self.se.to_numpy()
        if self.dist != "exponential":
            names.append("Log(scale)")
            est = np.append(est, np.log(self.scale))
            se = np.append(se, self.se_log_scale)
        with np.errstate(invalid="ignore"):
            stat = est / se
        return pd.DataFrame({"estimate": est, "se": se, "statistic": stat,
                             "pval": 2 * stats.norm.sf(np.abs(stat)),
                             "ci_lb": est - z * se, "ci_ub": est + z * se}, index=names)

    def summary(self) -> str:
        frame = self.to_frame()
        lines = [f"Parametric survival model (survreg), distribution: {self.dist}",
                 format_table(frame, digits=4),
                 "",
                 f"Scale = {self.scale:.4g}" if self.dist != "exponential" else "Scale fixed at 1",
                 f"Loglik(model) = {self.loglik[1]:.2f}   Loglik(intercept only) = {self.loglik[0]:.2f}",
                 f"Chisq = {self.chisq:.2f} on {self.df} degrees of freedom, "
                 f"p = {format_pval(float(stats.chi2.sf(self.chisq, self.df)) if self.df > 0 else np.nan)}",
                 f"n = {self.n}, events = {self.n_event}, Newton-Raphson iterations: {self.iterations}"]
        return "\n".join(lines)


def survreg(data, time="time", event="event", covariates=(), dist: str = "weibull", factors=(),
            level: float = 0.95) -> SurvregResult:
    """Fit a parametric accelerated-failure-time model to right-censored data.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant.
    time, event : str
        Follow-up time (> 0) and 0/1 event indicator (defaults ``"time"``, ``"event"``).
    covariates : list of str or str
        Column names or an R-style right-hand side (``"arm + C(site) + age"``).
    dist : {"weibull", "exponential", "lognormal", "loglogistic"}
        The error distribution of log time (default ``"weibull"``).
    factors : list of str
        Columns to treat as factors (shorthand for ``C()``).
    level : float
        Confidence level for ``to_frame()`` (0.95 or 95).

    Returns
    -------
    SurvregResult
        ``coef``, ``se``, ``scale``, ``loglik``, ``to_frame()``, ``survival()``, ``quantile()``.

    Notes
    -----
    R equivalent: ``survival::survreg(Surv(time, event) ~ covariates, dist = dist)``
    (survival 3.5-3); rows with a missing value are dropped with a warning (R's ``na.omit``).

    References
    ----------
    .. [1] Kalbfleisch, J. D., & Prentice, R. L. (2002). The Statistical Analysis of Failure
       Time Data (2nd ed.), ch. 2-3. Wiley.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"arm": np.repeat([0, 1], 100)})
    >>> d["days"] = np.ceil(300 * rng.weibull(1.3, 200) * np.exp(0.4 * d["arm"]))
    >>> d["readmitted"] = (d["days"] < 365).astype(int)
    >>> d["days"] = d["days"].clip(upper=365)
    >>> fit = pt.survival.survreg(d, time="days", event="readmitted", covariates=["arm"])
    >>> round(float(fit.scale), 3) > 0
    True
    """
    if dist not in _DISTS:
        raise ValueError(f"dist must be one of {_DISTS}, got {dist!r}")
    lev = _data.confidence_level(level)
    frame = _data.as_frame(data)
    needed = [time, event, *_design.variables(covariates, factors)]
    _data.require_columns(frame, needed)
    frame = _data.drop_missing(frame, needed, stacklevel=3)
    if len(frame) == 0:
        raise ValueError("no rows left after dropping rows with missing values")
    t = _data.numeric(frame[time], time)
    _data.check_positive(t, frame.index, time)
    ev = _data.binary(frame[event], event, meaning="1 = event, 0 = censored").astype(bool)
    if not ev.any():
        raise ValueError(f"column {event!r} has no events; a survival model cannot be fitted")
    design = _design.build(frame, covariates, factors, intercept=True)
    keep = _design.drop_aliased(design.X, design.names, what="survreg", stacklevel=3)
    X = design.X[:, keep]
    y = np.log(t)
    fixed = dist == "exponential"
    theta, ll, H, it, ok = _newton(X, y, ev, dist, fixed)
    if not ok:
        warnings.warn(f"survreg ({dist}) did not converge in {it} iterations; estimates are the "
                      "last iterate", ConvergenceWarning, stacklevel=2)
    null = _newton(np.ones((len(y), 1)), y, ev, dist, fixed)
    try:
        vcov = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        vcov = np.full_like(H, np.nan)
        warnings.warn("survreg: the information matrix is singular; standard errors are NaN",
                      ConvergenceWarning, stacklevel=2)
    p = X.shape[1]
    coef = np.full(len(design.names), np.nan)
    se = np.full(len(design.names), np.nan)
    coef[keep] = theta[:p]
    se[keep] = np.sqrt(np.diag(vcov)[:p])
    names = list(np.asarray(design.names))
    vnames = [n for n, k in zip(names, keep) if k] + ([] if fixed else ["Log(scale)"])
    return SurvregResult(
        coef=pd.Series(coef, index=names), se=pd.Series(se, index=names),
        scale=1.0 if fixed else float(np.exp(theta[p])),
        se_log_scale=np.nan if fixed else float(np.sqrt(vcov[p, p])),
        vcov=pd.DataFrame(vcov, index=vnames, columns=vnames),
        loglik=(float(null[1]), float(ll)), dist=dist, n=len(y), n_event=int(ev.sum()),
        iterations=it, level=lev, _design=design, _aliased=~keep)
