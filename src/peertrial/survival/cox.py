"""Cox proportional hazards regression, as R's ``survival::coxph``.

Partial likelihood with Efron (R's default), Breslow or exact ties, offsets, strata, case weights,
late entry ``(entry, time]`` and cluster-robust (sandwich) standard errors, fitted by
Newton–Raphson with step halving from beta = 0 and R's stopping rule
(|1 - l_old / l_new| <= 1e-9, at most 20 iterations), so the iterates are R's.

Tests (as ``summary.coxph``): likelihood ratio 2 (l(b) - l(0)); Wald b' V^-1 b (V robust
when ``cluster`` is given); score U(0)' I(0)^-1 U(0); and with ``cluster`` the robust score
test U(0)' (D0' D0)^-1 U(0), D0 the cluster sums of weighted score residuals at 0.
The robust variance is D' D with D the cluster sums of dfbeta residuals w_i L_i V
(Lin & Wei 1989), as ``coxph(..., cluster = )``. As in R, non-integer case weights
without a cluster give the robust variance with each row its own cluster.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data as _pd_data
from peertrial import _design as _builder
from peertrial._data import confidence_level
from peertrial._lazy import lazy_module
from peertrial._results import CONF_LEVEL_ALIAS, Result, format_pval, format_table
from peertrial._warnings import ConvergenceWarning, PeertrialWarning
from peertrial.survival import _input
from peertrial.survival._coxcore import CoxData, newton
from peertrial.survival.km import km_table

stats = lazy_module("scipy.stats")
special = lazy_module("scipy.special")

__all__ = ["cox", "CoxResult", "CoxFrailtyResult"]


def _test(stat, df):
    return float(stat), int(df), float(stats.chi2.sf(stat, df))


def _quad(v, u):
    try:
        return float(u @ np.linalg.solve(v, u))
    except np.linalg.LinAlgError:
        return float(u @ np.linalg.pinv(v) @ u)


@dataclass(frozen=True, eq=False)
class CoxResult(Result):
    """Fitted Cox proportional-hazards model: log hazard ratios, SEs, tests and predictions.

    Returned by :func:`cox`. Coefficient attributes are Series indexed by covariate (R's
    names, e.g. ``site2``); an aliased coefficient is NaN.

    Attributes
    ----------
    coef, se, zval, pval : pandas.Series
        Log hazard ratios, their SEs (robust when ``cluster=`` or an Andersen–Gill ``id=``),
        z statistics and two-sided p-values.
    hr, hr_ci_lb, hr_ci_ub : pandas.Series
        Hazard ratios exp(coef) and their limits at ``level``.
    naive_se : pandas.Series
        Model-based SE (equal to ``se`` without a robust variance; R's ``se(coef)`` beside
        ``robust se``).
    var : pandas.DataFrame
        Variance matrix of ``coef`` (robust when ``se`` is).
    loglik : tuple of float
        Partial log-likelihood at beta = 0 and at the fit (R's ``loglik``).
    lr_test, wald_test, score_test : tuple
        ``(statistic, df, pval)`` of the likelihood-ratio, Wald and score (log-rank) tests.
    robust_score_test : tuple or None
        ``(statistic, df, pval)`` of the robust score test, with a robust variance.
    n, nevent : int
        Number of rows and of events.
    iter : int
        Newton–Raphson iterations used.
    converged : bool
        Whether the fit met ``eps`` within ``iter_max``.
    ties : str
        ``"efron"``, ``"breslow"`` or ``"exact"``.
    level : float
        Confidence level, as a proportion (``conf_level`` is a deprecated alias).
    strata_levels : list
        The strata (empty without ``strata=``).

    Notes
    -----
    R equivalent: a ``survival::coxph`` fit (survival 3.5-3): ``summary.coxph`` for the table,
    :meth:`test_ph` as ``cox.zph``, :meth:`residuals` as ``residuals.coxph``, :meth:`predict` as
    ``predict.coxph``, :meth:`baseline_hazard` as ``basehaz`` and :meth:`predict_survival` as
    ``survfit.coxph``.

    References
    ----------
    .. [1] Cox, D. R. (1972). Regression models and life-tables. Journal of the Royal
       Statistical Society B, 34, 187-220.
    .. [2] Andersen, P. K., & Gill, R. D. (1982). Cox's regression model for counting processes:
       a large sample study. Annals of Statistics, 10, 1100-1120.
    .. [3] Grambsch, P. M., & Therneau, T. M. (1994). Proportional hazards tests and diagnostics
       based on weighted residuals. Biometrika, 81, 515-526.
    .. [4] Therneau, T. M., & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox
       Model. Springer.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "age": [50, 61, 45, 38, 70, 52, 66, 41, 59, 48]})
    >>> cx = pt.survival.cox(d, time="time", event="event", covariates=["arm", "age"])
    >>> cx.hr.round(4).tolist(), cx.n, cx.nevent
    ([1.1473, 1.0197], 10, 7)
    >>> [round(v, 4) for v in cx.lr_test]
    [0.1344, 2, 0.935]
    """

    coef: pd.Series
    se: pd.Series
    zval: pd.Series
    pval: pd.Series
    hr: pd.Series
    hr_ci_lb: pd.Series
    hr_ci_ub: pd.Series
    naive_se: pd.Series
    var: pd.DataFrame
    loglik: tuple
    lr_test: tuple
    wald_test: tuple
    score_test: tuple
    robust_score_test: tuple | None
    n: int
    nevent: int
    iter: int
    converged: bool
    ties: str
    level: float
    strata_levels: list
    _data: CoxData = field(repr=False)
    _naive_var: np.ndarray = field(repr=False)
    _kept: np.ndarray | None = field(default=None, repr=False)  # estimable coefficients
    _design: object = field(default=None, repr=False)  # peertrial._design.Design
    _ids: np.ndarray | None = field(default=None, repr=False)  # id= codes per row (for collapse)
    _id_levels: object = field(default=None, repr=False)  # sorted id values (codes index them)
    _columns: dict | None = field(default=None, repr=False)  # time/entry column names of the fit
    _index: pd.Index | None = field(default=None, repr=False)  # row labels of the rows used

    def _beta(self) -> np.ndarray:
        """Estimable coefficients (aliased ones, NaN in ``coef``, left out)."""
        return self.coef.to_numpy()[self._mask()]

    def _mask(self) -> np.ndarray:
        return np.ones(len(self.coef), bool) if self._kept is None else self._kept

    def _names(self) -> list:
        return [n for n, k in zip(self.coef.index, self._mask()) if k]

    def _terms(self) -> list:
        """Term of each estimable coefficient (a factor's columns share one, as R's terms)."""
        if self._design is None:
            return self._names()
        return [t for t, k in zip(self._design.terms, self._mask()) if k]

    def plot(self, ax=None, **kwargs):
        """Hazard ratios with their confidence intervals on a log axis.

        Draws :func:`peertrial.plot.cox_forest` for this result, as lifelines'
        ``CoxPHFitter.plot()`` (for proportional hazards see :func:`peertrial.plot.schoenfeld_plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.cox_forest`: ``labels``, ``xlabel``, ``title``,
            ``digits``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.cox_forest : what is drawn, with an example.
        """
        from peertrial.plot.survival import cox_forest

        return cox_forest(self, ax=ax, **kwargs)

    conf_level = CONF_LEVEL_ALIAS

    def _coef_table(self) -> pd.DataFrame:
        """The coefficient table as ``summary.coxph`` prints it."""
        frame = pd.DataFrame({"coef": self.coef, "hr": self.hr, "se": self.se, "zval": self.zval,
                              "pval": self.pval, "hr_ci_lb": self.hr_ci_lb, "hr_ci_ub": self.hr_ci_ub})
        if self.robust_score_test is not None:
            frame.insert(2, "naive_se", self.naive_se)
        return frame

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: ``estimate`` (log hazard ratio), ``se``, ``statistic`` (z),
        ``pval``, ``ci_lb``, ``ci_ub`` (log scale, at ``level``), then ``hr``, ``hr_ci_lb``,
        ``hr_ci_ub`` (and ``naive_se`` with ``cluster``)."""
        with np.errstate(divide="ignore"):
            lb, ub = np.log(self.hr_ci_lb.astype(float)), np.log(self.hr_ci_ub.astype(float))
        frame = pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.zval, "pval": self.pval,
                              "ci_lb": lb, "ci_ub": ub, "hr": self.hr, "hr_ci_lb": self.hr_ci_lb,
                              "hr_ci_ub": self.hr_ci_ub})
        if self.robust_score_test is not None:
            frame.insert(2, "naive_se", self.naive_se)
        return frame

    def summary(self) -> str:
        lines = [f"Cox proportional hazards model (ties = {self.ties!r}); n = {self.n}, "
                 f"events = {self.nevent}", format_table(self._coef_table())]
        lines.append(f"Likelihood ratio test = {self.lr_test[0]:.3f} on {self.lr_test[1]} df, "
                     f"p = {format_pval(self.lr_test[2])}")
        lines.append(f"Wald test             = {self.wald_test[0]:.3f} on {self.wald_test[1]} df, "
                     f"p = {format_pval(self.wald_test[2])}")
        lines.append(f"Score (logrank) test  = {self.score_test[0]:.3f} on {self.score_test[1]} df, "
                     f"p = {format_pval(self.score_test[2])}")
        if self.robust_score_test is not None:
            lines.append(f"Robust score test     = {self.robust_score_test[0]:.3f}, "
                         f"p = {format_pval(self.robust_score_test[2])} (robust SE by cluster)")
        return "\n".join(lines)

    # --- proportional hazards -------------------------------------------------------
    def _zph(self, transform="km"):
        d = self._data
        beta = self._beta()
        _, _, _, det = d.evaluate(beta, detail=True)
        p = d.p
        ev = d.ev_rows
        # the transform of every row's stop time, centred by its mean over the events (cox.zph)
        if transform == "km":
            # KM of all rows (unweighted, with late entry) just before each time
            km = km_table(d.stop, d.event.astype(float), d.entry)
            t, s = km["time"].to_numpy(), km["surv"].to_numpy()
            idx = np.searchsorted(t, d.stop, side="left")
            tall = 1 - np.concatenate([[1.0], s])[idx]
        elif transform == "identity":
            tall = d.stop.copy()
        elif transform == "rank":
            tall = stats.rankdata(d.stop)
        elif transform == "log":
            with np.errstate(divide="ignore"):
                tall = np.log(d.stop)
        else:
            raise ValueError(f"transform must be 'km', 'identity', 'rank' or 'log' (as cox.zph), got {transform!r}")
        ttimes = tall[ev]
        gtime = ttimes - ttimes.mean()
        g = np.zeros(d.G)
        g[d.ev_group] = gtime
        mw = d.meanwt
        ug = d.row_group_sums(d.w[ev, None] * d.X[ev]) - d.group_sums(mw[:, None] * det["a"])
        ig = d._full(d.group_sums(mw[:, None] * det["s2"]))
        imat = np.zeros((2 * p, 2 * p))
        imat[:p, :p] = ig.sum(0)
        imat[:p, p:] = imat[p:, :p] = np.einsum("g,gij->ij", g, ig)
        imat[p:, p:] = np.einsum("g,gij->ij", g * g, ig)
        u = np.concatenate([np.zeros(p), g @ ug])
        abar = d.group_sums(det["a"]) / d.dcount[:, None]
        schoen = d.X[ev] - abar[d.ev_group]
        return imat, u, ttimes, schoen

    def test_ph(self, transform: str = "km") -> pd.DataFrame:
        """Score test of proportional hazards as R's ``cox.zph(fit, transform = )``.

        Each covariate's coefficient is allowed to vary as beta + gamma g(t), with g the
        transformed time centred over the events; the score test of gamma = 0 uses the full
        information matrix of (beta, gamma) at the fitted beta (survival >= 3.0).

        Parameters
        ----------
        transform : {"km", "identity", "rank", "log"}
            g(t): 1 - KM(t-) of all rows (default, as R), t itself, the rank of t among all
            rows' times (ties averaged), or log t.

        Returns
        -------
        pandas.DataFrame
            ``chisq``, ``df``, ``pval`` per term and ``GLOBAL``, as ``cox.zph(fit)$table``.

        Examples
        --------
        >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
        ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
        ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
        >>> cx = pt.survival.cox(d, time="time", event="event", covariates=["arm"])
        >>> cx.test_ph(transform="rank").columns.tolist()
        ['chisq', 'df', 'pval']
        """
        self._no_tt("test_ph")
        imat, u, _, _ = self._zph(transform)
        p = self._data.p
        terms = self._terms()
        labels = list(dict.fromkeys(terms))
        rows = []
        for label in labels:  # one test per term (a factor's columns together), as cox.zph
            cols = [j for j, t in enumerate(terms) if t == label]
            kk = list(range(p)) + [p + j for j in cols]
            uu = np.concatenate([np.zeros(p), u[[p + j for j in cols]]])
            rows.append(_test(_quad(imat[np.ix_(kk, kk)], uu), len(cols)))
        rows.append(_test(_quad(imat, u), p))
        return pd.DataFrame(rows, columns=["chisq", "df", "pval"], index=labels + ["GLOBAL"])

    def schoenfeld(self, transform: str = "km") -> pd.DataFrame:
        """Scaled Schoenfeld residuals (one row per event) with time and transformed time.

        Scaled as cox.zph: beta + d * r V with d the number of events and V = I^-1
        (single-stratum scaling is used also with strata); ``transform`` as :meth:`test_ph`.
        """
        self._no_tt("schoenfeld")
        imat, _, ttimes, schoen = self._zph(transform)
        d = self._data
        p = d.p
        vmean = imat[:p, :p] / len(d.ev_rows)
        scaled = np.linalg.solve(vmean, schoen.T).T + self._beta()
        frame = pd.DataFrame(scaled, columns=self._names())
        frame.insert(0, "time", d.stop[d.ev_rows])
        frame.insert(1, "transformed_time", ttimes)
        return frame.sort_values("time", kind="stable").reset_index(drop=True)

    def _no_tt(self, what):
        if (self._columns or {}).get("tt"):
            raise ValueError(f"{what} is not available for a fit with tt= (its rows are the expanded "
                             "risk sets, as coxph's tt(), not the data's rows)")

    # --- residuals --------------------------------------------------------------------
    _RESIDUAL_TYPES = ("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas")

    def _expected(self, det):
        """Expected events r_i (H(stop) - H(entry)) of each row, tied deaths sharing Efron's
        partial increments as in the martingale residuals of coxph."""
        d = self._data
        h = d.meanwt / det["den"]
        H = d.group_sums(h)
        Hf = d.group_sums(d.frac * h)
        cumH = np.concatenate([[0.0], np.cumsum(H)])
        hi = np.searchsorted(d.gkey, d.key_stop, side="right")
        lo = np.searchsorted(d.gkey, d.key_start, side="right")
        haz = cumH[hi] - cumH[lo]
        haz[d.ev_rows] -= Hf[d.ev_group]
        return det["r"] * haz

    def residuals(self, type: str = "martingale", collapse=False):
        """Residuals of the fit as R's ``residuals(fit, type = , collapse = )``.

        Parameters
        ----------
        type : {"martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas"}
            Martingale (event minus expected, ties as the fit), deviance
            (sign(m) sqrt(-2 (m + delta log(delta - m)))), score (Lin-Wei score residuals, one
            column per coefficient), Schoenfeld (x minus its risk-set mean at each event, rows
            ordered by stratum and time; "scaledsch" scaled as ``cox.zph``), dfbeta (score
            residuals times the model-based variance, times the case weight) and dfbetas (dfbeta
            divided by the model-based SE). Only dfbeta/dfbetas are weighted, as R's default.
        collapse : bool or array-like
            ``True`` sums the rows of each ``id=`` of the fit (R's ``collapse = id``), an array
            gives the groups to sum within; not for Schoenfeld residuals.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            Indexed by the rows used (or by id when collapsed; by event time for Schoenfeld);
            a DataFrame with a column per coefficient for score, Schoenfeld and dfbeta(s).

        Notes
        -----
        R equivalent: ``residuals.coxph`` (survival 3.5).

        Examples
        --------
        >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
        ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
        ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
        >>> cx = pt.survival.cox(d, time="time", event="event", covariates=["arm"])
        >>> abs(float(cx.residuals("martingale").sum())) < 1e-10
        True
        """
        self._no_tt("residuals")
        if type not in self._RESIDUAL_TYPES:
            raise ValueError(f"type must be one of {list(self._RESIDUAL_TYPES)}, got {type!r}")
        if self.ties == "exact" and type not in ("martingale", "deviance"):
            raise ValueError(f"{type} residuals are not available for ties='exact' (as coxph); "
                             "refit with ties='efron' or 'breslow'")
        d = self._data
        beta = self._beta()
        names = self._names()
        _, _, _, det = d.evaluate(beta, detail=True)
        status = d.event.astype(float)
        if type in ("schoenfeld", "scaledsch"):
            if collapse is not False:
                raise ValueError("collapse= does not apply to Schoenfeld residuals (one row per event)")
            _, _, _, schoen = self._zph()
            ev = d.ev_rows
            strat = np.zeros(len(ev)) if d.strata is None else d.strata[ev]
            order = np.lexsort((d.stop[ev], strat))
            values = schoen[order]
            if type == "scaledsch":
                values = len(ev) * values @ self._naive_var + beta
            return pd.DataFrame(values, columns=names, index=pd.Index(d.stop[ev][order], name="time"))
        index = self._index if self._index is not None else pd.RangeIndex(d.n)
        if type in ("martingale", "deviance"):
            values = status - self._expected(det)
        else:
            values = d.score_residuals(beta, det)
            if type in ("dfbeta", "dfbetas"):
                values = values @ self._naive_var
                if type == "dfbetas":
                    values = values / np.sqrt(np.diag(self._naive_var))
                values = values * d.w[:, None]
        if collapse is not False:
            if collapse is True:
                if self._ids is None:
                    raise ValueError("collapse=True sums the rows of each id: fit the model with id=, "
                                     "or give the groups as an array in collapse=")
                codes, index = self._ids, pd.Index(self._id_levels, name="id")
            else:
                groups = np.asarray(collapse)
                if len(groups) != d.n:
                    raise ValueError(f"collapse= has {len(groups)} values; the fit used {d.n} rows")
                codes, levels = pd.factorize(groups, sort=True)
                index = pd.Index(levels)
            values = _rowsum(values.reshape(d.n, -1), codes)
            values = values[:, 0] if type in ("martingale", "deviance") else values
            status = _rowsum(status[:, None], codes)[:, 0]
        if type == "deviance":
            with np.errstate(divide="ignore", invalid="ignore"):
                inner = -2 * (values + np.where(status == 0, 0.0, status * np.log(np.where(
                    status - values > 0, status - values, np.nan))))
                values = np.sign(values) * np.sqrt(inner)
            if np.isnan(values).any():
                warnings.warn("deviance residuals are undefined (NaN, as R) where a collapsed group "
                              "has more than one event", PeertrialWarning, stacklevel=2)
        if values.ndim == 1:
            return pd.Series(values, index=index, name=type)
        return pd.DataFrame(values, index=index, columns=names)

    def _lp_matrix(self, newdata, strata):
        """Covariates of ``newdata`` (fit rows when None) centred as predict.coxph
        (reference "strata": weighted means of the fit's rows, within strata when stratified)."""
        d = self._data
        raw = d.X + d.center
        w = d.w
        if newdata is None:
            x, codes = raw, d.strata
        else:
            x = self._newx(newdata)
            codes = None
            if d.strata is not None:
                if strata is None:
                    raise ValueError("the model is stratified: give the stratum of each newdata row in strata=")
                codes = []
                for j, s in enumerate(list(strata)):
                    if s not in self.strata_levels:
                        raise ValueError(f"stratum {s!r} (newdata row {newdata.index[j]!r}) is not in the fitted model")
                    codes.append(self.strata_levels.index(s))
                codes = np.asarray(codes, np.int64)
        if d.strata is None:
            # coxph's means: columns with values in {-1, 0, 1} are not centred (nocenter); the others
            # at the case-weighted mean ((time, event) data) or the plain mean ((entry, time] data)
            means = (w @ raw) / w.sum() if d.entry is None else raw.mean(0)
            means[np.all(np.isin(raw, (-1.0, 0.0, 1.0)), axis=0)] = 0.0
            return x - means, codes
        k = d.strata.max() + 1
        means = _rowsum(raw * w[:, None], d.strata) / np.bincount(d.strata, w, k)[:, None]
        return x - means[codes], codes

    def _newx(self, newdata):
        names = self._names()
        missing = [c for c in names if c not in newdata.columns]
        if missing and self._design is not None and all(v in newdata.columns for v in self._design.variables):
            return self._design.new(newdata)[:, self._mask()]  # raw columns: code them as the fit did
        if missing:
            raise ValueError(f"newdata lacks covariate column(s) {missing}")
        return newdata[names].to_numpy(float)

    def _offset_of(self, newdata):
        """The offset of the fit's rows, or of ``newdata`` (its column named as in the fit)."""
        d = self._data
        if d.offset is None:
            return np.zeros(d.n if newdata is None else len(newdata))
        if newdata is None:
            return d.offset
        name = (self._columns or {}).get("offset")
        if not isinstance(name, str) or name not in newdata.columns:
            raise ValueError("the model has an offset: newdata needs the offset column "
                             f"{name if isinstance(name, str) else '(given as an array in the fit)'!r}")
        return _data_numeric(newdata[name], name)

    def predict(self, newdata: pd.DataFrame | None = None, type: str = "lp", strata=None) -> pd.Series:
        """Predictions as R's ``predict(fit, newdata, type = )`` (reference = "strata").

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Rows to predict for (the fit's rows when omitted). For ``type="expected"`` it needs
            the fit's time column (and entry column when the fit had one) and the event column
            is not used.
        type : {"lp", "risk", "expected"}
            Linear predictor (x - xbar)'b (plus the offset minus its mean over the fit's rows;
            new rows take newdata's offset column), centred as R: at coxph's ``means`` (0 for columns
            taking only -1, 0, 1; else the case-weighted mean, or the plain mean with ``entry``),
            within strata at the weighted stratum means; relative risk exp(lp); expected number of
            events over each row's follow-up (for the fit's rows, event minus the martingale
            residual; for new rows, exp(lp) times the increase of the baseline cumulative hazard
            of ``survfit.coxph`` over (entry, time]).
        strata : array-like, optional
            Stratum of each newdata row (stratified models).

        Returns
        -------
        pandas.Series
            Indexed by the rows.

        Notes
        -----
        R equivalent: ``predict.coxph`` (survival 3.5).

        Examples
        --------
        >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
        ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
        ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
        >>> cx = pt.survival.cox(d, time="time", event="event", covariates=["arm"])
        >>> cx.predict(type="lp").iloc[:2].round(4).tolist()  # a 0/1 column is not centred, as R
        [0.0, -0.1507]
        """
        self._no_tt("predict")
        if type not in ("lp", "risk", "expected"):
            raise ValueError(f"type must be 'lp', 'risk' or 'expected', got {type!r}")
        d = self._data
        beta = self._beta()
        index = (self._index if self._index is not None else pd.RangeIndex(d.n)) if newdata is None \
            else newdata.index
        if type == "expected":
            _, _, _, det = d.evaluate(beta, detail=True)
            if newdata is None:
                return pd.Series(self._expected(det), index=index, name=type)
            cols = self._columns or {}
            need = [c for c in (cols.get("time"), cols.get("entry")) if isinstance(c, str)]
            lacking = [c for c in need if c not in newdata.columns]
            if lacking or not need:
                raise ValueError(f"predict(type='expected') needs newdata column(s) {lacking or ['time']} "
                                 "(the follow-up of each row, named as in the fit)")
            stop = _data_numeric(newdata[cols["time"]], cols["time"])
            start = (_data_numeric(newdata[cols["entry"]], cols["entry"]) if isinstance(cols.get("entry"), str)
                     else np.zeros(len(newdata)))
            x = self._newx(newdata) - d.center
            off = self._offset_of(newdata)
            codes = np.zeros(len(newdata), np.int64)
            if d.strata is not None:
                _, codes = self._lp_matrix(newdata, strata)
            inc = d.hazard_increments(det)
            out = np.empty(len(newdata))
            for s in np.unique(codes):
                sel = np.flatnonzero(d.gstrat == s)
                cum = np.concatenate([[0.0], np.cumsum(inc[sel])])
                rows = codes == s
                hi = np.searchsorted(d.gtime[sel], stop[rows], side="right")
                lo = np.searchsorted(d.gtime[sel], start[rows], side="right")
                out[rows] = np.exp(x[rows] @ beta + off[rows]) * (cum[hi] - cum[lo])
            return pd.Series(out, index=index, name=type)
        x, _ = self._lp_matrix(newdata, strata)
        lp = x @ beta + self._offset_of(newdata)
        if d.offset is not None:  # R centres the offset too, at its mean over the fit's rows
            lp = lp - d.offset.mean()
        return pd.Series(lp if type == "lp" else np.exp(lp), index=index, name=type)

    def rmst(self, tau: float, newdata: pd.DataFrame, strata=None) -> pd.Series:
        """Restricted mean survival time up to ``tau`` from the predicted curve S(t | x).

        The area under the step function ``predict_survival`` (``survfit(fit, newdata)``) from 0
        to ``tau``, as ``summary(survfit(fit, newdata), rmean = tau)$table[, "rmean"]``.

        Parameters
        ----------
        tau : float
            Horizon (> 0).
        newdata : pandas.DataFrame
            Covariate values, one curve per row.
        strata : array-like, optional
            Stratum of each row (stratified models).

        Returns
        -------
        pandas.Series
            RMST per newdata row.

        Examples
        --------
        >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
        ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
        ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
        >>> cx = pt.survival.cox(d, time="time", event="event", covariates=["arm"])
        >>> bool((cx.rmst(20, pd.DataFrame({"arm": [0, 1]})) <= 20).all())
        True
        """
        tau = float(tau)
        if not np.isfinite(tau) or tau <= 0:
            raise ValueError(f"tau must be a positive number, got {tau!r}")
        d = self._data
        out = []
        for j in range(len(newdata)):
            srow = None if strata is None else [list(strata)[j]]
            code = 0 if srow is None else self.strata_levels.index(srow[0]) if srow[0] in self.strata_levels else -1
            tg = d.gtime[d.gstrat == code] if d.strata is not None else d.gtime
            grid = np.concatenate([[0.0], tg[tg < tau]])
            surv = self.predict_survival(newdata.iloc[[j]], grid, strata=srow).to_numpy()[:, 0]
            widths = np.diff(np.concatenate([grid, [tau]]))
            out.append(float(surv @ widths))
        return pd.Series(out, index=newdata.index, name="rmst")

    def rmst_ci(self, tau: float, newdata: pd.DataFrame, strata=None) -> pd.DataFrame:
        """Restricted mean survival time up to ``tau`` from S(t | x), with its standard error and
        confidence interval (at the fit's ``level``).

        ``se`` is the delta method consistent with ``survfit.coxph``'s variance of the curve
        (Tsiatis; the uncertainty of the baseline hazard and of beta through ``var``): with
        H(t | x) = r sum_k dH0_k, RMST = sum_i S(t_i) w_i over the curve's steps before ``tau`` and
        Cov(H(s), H(t)) = r^2 [Vh(min(s, t)) + d(s)' V d(t)], d(t) = H0(t) x - Xbar(t),

            var RMST = r^2 [sum_k dVh_k A_k^2 + D' V D],  A_k = sum_{t_i >= t_k} S(t_i) w_i,
            D = sum_i S(t_i) w_i d(t_i).

        ``se_survfit`` is R's printed ``se(rmean)`` (``summary(survfit(fit, newdata), rmean = tau)``):
        the Kaplan-Meier formula sum_k A_k^2 d_k / (n_k (n_k - d_k)) with the fit's numbers at risk
        and events, which ignores the covariates and beta's uncertainty (and is smaller). The
        interval is rmst -/+ z se.

        Parameters
        ----------
        tau : float
            Horizon (> 0).
        newdata : pandas.DataFrame
            Covariate values, one curve per row.
        strata : array-like, optional
            Stratum of each row (stratified models).

        Returns
        -------
        pandas.DataFrame
            ``rmst``, ``se``, ``ci_lb``, ``ci_ub``, ``se_survfit``, indexed as ``newdata``.

        Notes
        -----
        R equivalent: ``summary(survfit(fit, newdata), rmean = tau)$table[, c("rmean", "se(rmean)")]``
        (``se_survfit``); ``se`` equals a delta method hand-coded from survfit.coxph's curve and
        its ``std.err`` (``tests/survival/fixtures/make_fixtures_cox_rmst.R``).

        References
        ----------
        .. [1] Tsiatis, A. A. (1981). A large sample study of Cox's regression model. The Annals
           of Statistics, 9, 93-108.
        .. [2] Royston, P., & Parmar, M. K. B. (2013). Restricted mean survival time: an
           alternative to the hazard ratio for the design and analysis of randomized trials with
           a time-to-event outcome. BMC Medical Research Methodology, 13, 152.

        Examples
        --------
        >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
        ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
        ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]})
        >>> cx = pt.survival.cox(d, time="time", event="event", covariates=["arm"])
        >>> cx.rmst_ci(20, pd.DataFrame({"arm": [0, 1]})).columns.tolist()
        ['rmst', 'se', 'ci_lb', 'ci_ub', 'se_survfit']
        """
        self._no_tt("rmst_ci")
        tau = float(tau)
        if not np.isfinite(tau) or tau <= 0:
            raise ValueError(f"tau must be a positive number, got {tau!r}")
        x_new = self._newx(newdata)
        if self.strata_levels and strata is None:
            raise ValueError("the model is stratified: give the stratum of each newdata row in strata=")
        d = self._data
        beta = self._beta()
        _, _, _, det = d.evaluate(beta, detail=True)
        mw, den, a = d.meanwt, det["den"], det["a"]
        dH = d.group_sums(mw / den)
        dV = d.group_sums(mw / den**2)
        dX = d.group_sums((mw / den)[:, None] * a)
        nrisk = d._riskset(np.ones(d.n))[:, 0]  # unweighted numbers at risk and events (survfit's)
        nev = d.dcount.astype(float)
        x = x_new - d.center
        risk = np.exp(x @ beta + self._offset_of(newdata))
        V = self.var.to_numpy()[np.ix_(self._mask(), self._mask())]
        codes = [0] * len(x) if strata is None else list(strata)
        rows = []
        for j, s in enumerate(codes):
            if strata is not None:
                if s not in self.strata_levels:
                    raise ValueError(f"stratum {s!r} (newdata row {newdata.index[j]!r}) is not in the fitted model")
                s = self.strata_levels.index(s)
            sel = np.flatnonzero((d.gstrat == s) & (d.gtime < tau))
            tg = d.gtime[sel]
            H = np.cumsum(dH[sel])
            Xb = np.cumsum(dX[sel], axis=0)
            surv = np.exp(-H * risk[j])
            w = np.diff(np.concatenate([tg, [tau]]))
            first = tg[0] if len(tg) else tau
            rm = first + float(surv @ w)
            aw = surv * w
            A = np.cumsum(aw[::-1])[::-1]
            dvec = H[:, None] * x[j] - Xb
            D = aw @ dvec
            var = risk[j] ** 2 * (float(dV[sel] @ A**2) + float(D @ V @ D))
            n_k, d_k = nrisk[sel], nev[sel]
            with np.errstate(divide="ignore", invalid="ignore"):
                hh = np.where(n_k - d_k > 0, d_k / (n_k * (n_k - d_k)), 0.0)
            rows.append((rm, np.sqrt(var), np.sqrt(float(hh @ A**2))))
        out = pd.DataFrame(rows, columns=["rmst", "se", "se_survfit"], index=newdata.index)
        z = stats.norm.ppf(1 - (1 - self.level) / 2)
        out.insert(2, "ci_lb", out["rmst"] - z * out["se"])
        out.insert(3, "ci_ub", out["rmst"] + z * out["se"])
        return out

    # --- baseline and prediction -----------------------------------------------------
    def baseline_hazard(self, centered: bool = False) -> pd.DataFrame:
        """Cumulative baseline hazard at each event time, per stratum (R's ``basehaz``).

        Increments follow the ties method (Efron: sum_k mean weight / (S0 - k/d E0)),
        as ``survfit.coxph``. ``centered=False`` gives the hazard at covariates 0,
        ``centered=True`` at the covariate means.
        """
        self._no_tt("baseline_hazard")
        d = self._data
        beta = self._beta()
        _, _, _, det = d.evaluate(beta, detail=True)
        inc = d.hazard_increments(det)
        if not centered:
            inc = inc * np.exp(-d.center @ beta)
        frame = pd.DataFrame({"strata": d.gstrat, "time": d.gtime, "inc": inc})
        frame["cumhaz"] = frame.groupby("strata")["inc"].cumsum()
        frame["strata"] = [self.strata_levels[s] if self.strata_levels else s for s in frame["strata"]]
        return frame.drop(columns="inc").reset_index(drop=True)

    def _curves(self, newdata: pd.DataFrame, times, strata):
        """Cumulative hazard and its variance terms for each row of ``newdata`` at ``times``.

        Uses the increments of ``survfit.coxph`` (Efron: sums over k of mean weight /
        den_k, / den_k^2 and a_k / den_k, as R's agsurv) with covariates centred, so
        var H(t | x) = r^2 [sum dH0^2-terms + d(t)' V d(t)], d(t) = H0(t) x - Xbar(t).
        """
        self._no_tt("predict_survival")
        names = self._names()
        missing = [c for c in names if c not in newdata.columns]
        if missing and self._design is not None and all(v in newdata.columns for v in self._design.variables):
            x_new = self._design.new(newdata)[:, self._mask()]  # raw columns: code them as the fit did
        elif missing:
            raise ValueError(f"newdata lacks covariate column(s) {missing}")
        else:
            x_new = newdata[names].to_numpy(float)
        if self.strata_levels and strata is None:
            raise ValueError("the model is stratified: give the stratum of each newdata row in strata=")
        d = self._data
        beta = self._beta()
        _, _, _, det = d.evaluate(beta, detail=True)
        mw, den, a = d.meanwt, det["den"], det["a"]
        dH = d.group_sums(mw / den)
        dV = d.group_sums(mw / den**2)
        dX = d.group_sums((mw / den)[:, None] * a)
        x = x_new - d.center
        risk = np.exp(x @ beta + self._offset_of(newdata))
        times = np.atleast_1d(np.asarray(times, float))
        codes = [0] * len(x) if strata is None else list(strata)
        V = self.var.to_numpy()[np.ix_(self._mask(), self._mask())]
        out = []
        for j, s in enumerate(codes):
            if strata is not None:
                if s not in self.strata_levels:
                    raise ValueError(f"stratum {s!r} (newdata row {newdata.index[j]!r}) is not in the fitted model")
                s = self.strata_levels.index(s)
            sel = np.flatnonzero(d.gstrat == s)
            tg = d.gtime[sel]
            H = np.concatenate([[0.0], np.cumsum(dH[sel])])
            Vh = np.concatenate([[0.0], np.cumsum(dV[sel])])
            Xb = np.vstack([np.zeros((1, d.p)), np.cumsum(dX[sel], axis=0)])
            k = np.searchsorted(tg, times, side="right")
            dt = H[k][:, None] * x[j] - Xb[k]
            var = Vh[k] + np.einsum("ti,ij,tj->t", dt, V, dt)
            out.append((H[k] * risk[j], np.sqrt(var) * risk[j]))
        return times, out

    def predict_survival(self, newdata: pd.DataFrame, times, strata=None) -> pd.DataFrame:
        """Predicted S(t | x) = exp(-H0(t) exp(x'b)) at ``times`` for each row of ``newdata``.

        Returns a DataFrame indexed by time with one column per row of ``newdata``, as
        ``summary(survfit(fit, newdata), times)$surv``. With a stratified model give the
        stratum of each row in ``strata`` (array-like).
        """
        times, curves = self._curves(newdata, times, strata)
        out = {newdata.index[j]: np.exp(-H) for j, (H, _) in enumerate(curves)}
        return pd.DataFrame(out, index=pd.Index(times, name="time"))

    def predict_survival_ci(self, newdata: pd.DataFrame, times, strata=None,
                            conf_type: str = "log") -> pd.DataFrame:
        """Predicted survival with standard error and confidence limits, long format.

        Columns: row (newdata index), time, surv, std_err (of S, as ``summary.survfit``),
        lower, upper; the variance is R's ``survfit.coxph`` (Tsiatis/Link, including
        the uncertainty in beta through ``var``).
        """
        from peertrial.survival.km import _confint

        times, curves = self._curves(newdata, times, strata)
        parts = []
        for j, (H, se_log) in enumerate(curves):
            surv = np.exp(-H)
            lower, upper = _confint(surv, se_log, conf_type, self.level)
            parts.append(pd.DataFrame({"row": newdata.index[j], "time": times, "surv": surv,
                                       "std_err": se_log * surv, "lower": lower, "upper": upper}))
        return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True, eq=False)
class CoxFrailtyResult(Result):
    """Cox model with a shared gamma frailty, as ``coxph(Surv(...) ~ x + frailty(g))``.

    Returned by :func:`cox` with ``frailty=`` (or a ``frailty(g)`` term). Coefficient
    attributes are Series indexed by covariate.

    Attributes
    ----------
    coef, se, zval, pval : pandas.Series
        Log hazard ratios; ``se`` is ``se(coef)`` (the covariate block of the inverse penalised
        information), with its z statistic and p-value.
    se2 : pandas.Series
        survival's ``se2``, from H^-1 I H^-1 (``var2``).
    chisq : pandas.Series
        coef^2 / var, as ``print.coxph.penal`` shows.
    hr, hr_ci_lb, hr_ci_ub : pandas.Series
        Hazard ratios and their limits at ``level`` (from ``se``).
    var, var2 : pandas.DataFrame
        The two variance matrices of the coefficients (R's ``var`` and ``var2``).
    df : pandas.Series
        survival's degrees of freedom per term, the frailty term last.
    theta : float
        The frailty variance (chosen by the search or fixed by ``frailty_theta``).
    i_loglik : float
        Integrated ("I-") log-likelihood at ``theta``.
    loglik : tuple of float
        Penalised partial log-likelihood at beta = 0 and at the fit.
    penalty : float
        The frailty penalty at the fit.
    lr_test : tuple
        ``(statistic, df, pval)`` likelihood-ratio test of the model, on the total df.
    frailty_test : tuple
        ``(chisq, df, pval)`` of the frailty term, as the row ``print.coxph.penal`` shows.
    frail, frail_var : pandas.Series
        The log-frailty of each group and its variance (R's ``fit$frail``, ``fit$fvar``).
    history : pandas.DataFrame
        The theta search: ``theta, loglik, i_loglik`` per value tried.
    n, nevent : int
        Number of rows and of events.
    iter : tuple of int
        Outer (theta) iterations and total inner Newton iterations.
    converged : bool
        Whether the search and the last inner fit converged.
    ties : str
        ``"efron"`` or ``"breslow"``.
    level : float
        Confidence level, as a proportion.
    frailty : str
        The column of the frailty groups.

    Notes
    -----
    R equivalent: ``survival::coxph(Surv(time, event) ~ x + frailty(g))`` with
    ``frailty.gamma``'s defaults (survival 3.5-3).

    References
    ----------
    .. [1] Therneau, T. M., Grambsch, P. M., & Pankratz, V. S. (2003). Penalized survival models
       and frailty. Journal of Computational and Graphical Statistics, 12, 156-175.
    .. [2] Therneau, T. M., & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox
       Model, ch. 9. Springer.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> site = np.repeat(np.arange(8), 25)
    >>> arm = np.tile([0, 1], 100)
    >>> t = rng.exponential(1 / (0.01 * np.exp(-0.5 * arm + rng.normal(0, 0.5, 8)[site])))
    >>> trial = pd.DataFrame({"time": np.minimum(t, 150).round(1), "event": (t < 150).astype(int),
    ...                       "arm": arm, "site": site})
    >>> fr = pt.survival.cox(trial, "time", "event", "arm", frailty="site")
    >>> type(fr).__name__, len(fr.frail), list(fr.history.columns)
    ('CoxFrailtyResult', 8, ['theta', 'loglik', 'i_loglik'])
    """

    coef: pd.Series
    se: pd.Series
    se2: pd.Series
    zval: pd.Series
    pval: pd.Series
    chisq: pd.Series
    hr: pd.Series
    hr_ci_lb: pd.Series
    hr_ci_ub: pd.Series
    var: pd.DataFrame
    var2: pd.DataFrame
    df: pd.Series
    theta: float
    i_loglik: float
    loglik: tuple
    penalty: float
    lr_test: tuple
    frailty_test: tuple
    frail: pd.Series
    frail_var: pd.Series
    history: pd.DataFrame
    n: int
    nevent: int
    iter: tuple
    converged: bool
    ties: str
    level: float
    frailty: str

    conf_level = CONF_LEVEL_ALIAS

    def plot(self, ax=None, **kwargs):
        """Hazard ratios with their confidence intervals (``se(coef)``) on a log axis.

        Draws :func:`peertrial.plot.cox_forest` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.cox_forest`: ``labels``, ``xlabel``, ``title``,
            ``digits``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.cox_forest : what is drawn, with an example.
        """
        from peertrial.plot.survival import cox_forest

        return cox_forest(self, ax=ax, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: ``estimate``, ``se`` (``se(coef)``), ``statistic`` (z),
        ``pval``, ``ci_lb``, ``ci_ub`` (log scale), then ``hr``, ``hr_ci_lb``, ``hr_ci_ub``,
        ``se2`` and ``chisq`` (coef^2 / var, as printed by coxph)."""
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "statistic": self.zval, "pval": self.pval,
                             "ci_lb": np.log(self.hr_ci_lb), "ci_ub": np.log(self.hr_ci_ub), "hr": self.hr,
                             "hr_ci_lb": self.hr_ci_lb, "hr_ci_ub": self.hr_ci_ub, "se2": self.se2,
                             "chisq": self.chisq})

    def summary(self) -> str:
        table = pd.DataFrame({"coef": self.coef, "se(coef)": self.se, "se2": self.se2, "Chisq": self.chisq,
                              "DF": 1.0, "pval": self.pval})
        table.loc[f"frailty({self.frailty})"] = [np.nan, np.nan, np.nan, self.frailty_test[0],
                                                 self.frailty_test[1], self.frailty_test[2]]
        ci = pd.DataFrame({"exp(coef)": self.hr, "lower": self.hr_ci_lb, "upper": self.hr_ci_ub})
        dfs = " ".join(f"{v:.1f}" for v in self.df)
        return "\n".join([
            f"Cox model with a shared gamma frailty (frailty({self.frailty}), ties = {self.ties!r}); "
            f"n = {self.n}, events = {self.nevent}",
            format_table(table), "", *([format_table(ci), ""] if len(ci) else []),
            f"Iterations: {self.iter[0]} outer, {self.iter[1]} Newton-Raphson",
            f"Variance of random effect = {self.theta:.6g}   I-likelihood = {self.i_loglik:.1f}",
            f"Degrees of freedom for terms = {dfs}",
            f"Likelihood ratio test = {self.lr_test[0]:.2f} on {self.lr_test[1]:.2f} df, "
            f"p = {format_pval(self.lr_test[2])}"])


def cox(data=None, time="time", event="event", covariates=(), ties: str = "efron", strata=None,
        cluster=None, weights=None, entry=None, id=None, level: float = 0.95,
        eps: float = 1e-9, iter_max: int = 20, *, factors=(), offset=None, tt=None,
        frailty=None, frailty_theta=None, conf_level=None) -> CoxResult | CoxFrailtyResult:
    """Fit a Cox model as ``coxph(Surv(entry, time, event) ~ covariates + strata(s), ties=,
    weights=, cluster=)``.

    ``covariates``: a list of columns or an R-style right-hand side such as
    ``"arm + C(site) + age"``, built by the one design builder (:mod:`peertrial._design`):
    numeric columns, including numbers stored as text, are numeric; other text, booleans,
    ``C(x)`` and columns in ``factors`` are treatment-coded factors (``site2``, ...).
    A column aliased with the others or with the strata (e.g. constant within every
    stratum) is not estimable: as ``coxph`` reports ``NA``, its coefficient is NaN with a
    warning, and the likelihood-ratio, score, Wald and ``test_ph`` tests count only the
    estimable coefficients. ``cluster`` needs at least two clusters.

    Time-varying covariates need counting-process rows ``(entry, time]``; with ``id=`` the
    layout is checked: repeated ids without ``entry`` and overlapping intervals raise, as do
    covariate cells holding sequences (see ``peertrial.survival._input``).

    Recurrent events (Andersen-Gill): as ``coxph`` in survival >= 3, when ``id=`` is given and
    some id has two or more events, the standard errors are robust (sandwich) clustered by id,
    as if ``cluster=id`` had been given; ``naive_se`` keeps the model-based SE and
    ``robust_score_test`` the robust score test. Several rows per id with at most one event
    each (time-varying covariates) keep the model-based SE, as R does.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per participant (or per interval with ``entry``).
    time, event : str
        Follow-up time and event indicator (1 event, 0 censored); defaults ``"time"``,
        ``"event"``.
    covariates : list of str or str
        Columns, or an R-style right-hand side such as ``"arm + C(site) + age"``.
    ties : {"efron", "breslow", "exact"}
        Handling of tied event times (default "efron", as R). "exact" is the exact (discrete,
        conditional-logistic) partial likelihood of ``coxph(ties = "exact")``: each group of d
        tied deaths contributes exp(sum of their x'b) over the sum across all d-subsets of the
        risk set, computed by a recursion costing O(d n p^2) per tied group (fine for tie groups
        of tens; not for thousands of deaths at one time). It takes no weights or cluster, and
        score, Schoenfeld and dfbeta residuals are not defined for it (as in R).
    strata, cluster, weights, entry, id : str, optional
        Stratification, cluster-robust (sandwich) SE, case weights, late entry, participant id.
    level : float
        Confidence level, 0.95 or 95 alike (default 0.95); ``conf_level`` is its deprecated alias.
    eps, iter_max : float, int
        Convergence tolerance and iteration cap of the Newton-Raphson fit (defaults 1e-9 and
        20, as ``coxph.control``).
    factors : sequence of str
        Columns to treat as factors.
    tt : dict, optional
        Time-transformed covariates, as ``coxph``'s ``tt()``: ``{column: f}`` adds the covariate
        ``tt(column)`` whose value for a row at risk at event time t is ``f(x, t)`` (f takes and
        returns arrays, e.g. ``lambda x, t: x * np.log(t + 20)``). As R, the data are expanded
        to one stratum per event time holding its risk set (sum of risk-set sizes rows), so the
        fit is R's; ``predict``, ``residuals``, ``test_ph`` and the baseline hazard refer to that
        expanded data and raise for a ``tt`` fit.
    offset : str or array-like, optional
        Column (or values) added to the linear predictor with coefficient 1, as
        ``+ offset(x)`` in a ``coxph`` formula; ``predict`` adds it (from newdata's column of the
        same name for new rows).

    frailty : str, optional
        Column of the groups sharing a gamma frailty (litter, ward, patient): the model
        ``coxph(Surv(...) ~ x + frailty(g))`` with ``frailty.gamma``'s defaults (method "em"). The
        formula term ``frailty(g)`` (or ``frailty(g, theta = v)``) in a ``covariates`` string is the
        same. The frailty variance theta is chosen by survival's search on the integrated
        likelihood; each theta is fitted by the penalised partial likelihood (see
        :mod:`peertrial.survival._frailty`): survival's sparse fit above 5 groups, its dense
        fit with 5 or fewer. No weights, offset, cluster, tt or exact ties with it. ``covariates`` may be empty (``"frailty(g)"``
        alone, as R allows). Returns a :class:`CoxFrailtyResult`.
    frailty_theta : float, optional
        A fixed frailty variance (``frailty(g, theta = )``, method "fixed") instead of the search.

    Returns
    -------
    CoxResult or CoxFrailtyResult
        ``coef``, ``se``, ``zval``, ``pval``, ``hr``, ``hr_ci_lb``, ``hr_ci_ub`` (Series by term),
        ``loglik``; ``test_ph()`` as ``cox.zph``. With a frailty: also ``se2``, ``theta``,
        ``i_loglik``, ``df`` per term, ``frail`` per group (as ``print.coxph.penal``).

    Notes
    -----
    R equivalent: ``survival::coxph`` (survival 3.5-3).

    References
    ----------
    .. [1] Cox, D. R. (1972). Regression models and life-tables. Journal of the Royal
       Statistical Society B, 34, 187-220.
    .. [2] Efron, B. (1977). The efficiency of Cox's likelihood function for censored data.
       Journal of the American Statistical Association, 72, 557-565.
    .. [3] Therneau, T. M., Grambsch, P. M., & Pankratz, V. S. (2003). Penalized survival models
       and frailty. Journal of Computational and Graphical Statistics, 12, 156-175.

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 8, 12, 12, 20, 23, 27, 30, 34, 40],
    ...                   "event": [1, 1, 0, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    ...                   "age": [50, 61, 45, 38, 70, 52, 66, 41, 59, 48]})
    >>> cx = pt.survival.cox(d, time="time", event="event", covariates=["arm", "age"])
    >>> cx.coef.round(4).tolist()
    [0.1374, 0.0195]

    A shared frailty for the sites of a clustered trial (``coxph(... + frailty(site))``):

    >>> rng = np.random.default_rng(1)
    >>> site = np.repeat(np.arange(8), 25)
    >>> arm = np.tile([0, 1], 100)
    >>> t = rng.exponential(1 / (0.01 * np.exp(-0.5 * arm + rng.normal(0, 0.5, 8)[site])))
    >>> trial = pd.DataFrame({"time": np.minimum(t, 150).round(1), "event": (t < 150).astype(int),
    ...                       "arm": arm, "site": site})
    >>> fr = pt.survival.cox(trial, "time", "event", "arm + frailty(site)")
    >>> bool(fr.theta > 0), list(fr.df.index)
    (True, ['arm', 'frailty(site)'])
    """
    level = confidence_level(level, conf_level=conf_level)
    if ties not in ("efron", "breslow", "exact"):
        raise ValueError(f"ties must be 'efron', 'breslow' or 'exact', got {ties!r}")
    if ties == "exact" and (weights is not None or cluster is not None):
        raise ValueError("ties='exact' takes no weights= or cluster= (the exact partial likelihood "
                         "is unweighted and its score residuals are not defined, as in coxph)")
    covariates, frailty, frailty_theta = _frailty_term(covariates, frailty, frailty_theta)
    if frailty is not None:
        return _cox_frailty(data, time, event, covariates, ties, strata, cluster, weights, entry, id, level,
                            factors, offset, tt, frailty, frailty_theta, eps, iter_max)
    if isinstance(covariates, str) and not covariates.strip().lstrip("~").strip():
        covariates = ()
    if not isinstance(covariates, str) and not list(covariates) and not tt:
        raise ValueError("cox needs at least one covariate")
    if tt:
        if not isinstance(tt, dict) or not all(isinstance(k, str) and callable(f) for k, f in tt.items()):
            raise ValueError("tt= must be a dict {column: function(x, t)} giving each time-transformed covariate")
    if tt and isinstance(covariates, str) and not covariates.strip().lstrip("~").strip():
        covariates = ()
    sd = _input.prepare(data, time, event, status_codes=(0, 1), strata=strata,
                        covariates=covariates or None, factors=factors, weights=weights, cluster=cluster,
                        entry=entry, id=id)
    if not np.any(sd.status == 1):
        raise ValueError(f"column {event!r} has no events in {len(sd.status)} rows; the Cox model is not estimable")
    covariates = list(sd.covariates)
    for j, c in enumerate(covariates):
        col = sd.X[:, j]
        if np.all(col == col[0]):
            raise ValueError(f"covariate column {c!r} is constant (one level: {float(col[0]):.10g}) in all "
                             f"{len(col)} rows; its hazard ratio is not estimable")
    off = None
    if offset is not None:
        off = _offset_values(data, offset, sd.index)
    rows = (sd.time, sd.status, sd.X if sd.X is not None else np.zeros((len(sd.time), 0)), sd.strata,
            sd.weights, sd.entry, off)
    if tt:
        if sd.cluster is not None or (sd.id is not None and _repeated_events(pd.factorize(sd.id)[0], sd.status)):
            raise ValueError("tt= with robust (cluster or repeated-event id) standard errors is not supported")
        rows, tt_names = _expand_tt(data, tt, sd, off)
        covariates = covariates + tt_names
    data_ = CoxData(*rows[:6], efron=ties == "efron", offset=rows[6], exact=ties == "exact")
    kept = ~_builder.aliased_information(data_.evaluate(np.zeros(data_.p))[2])
    if not kept.all():
        hit = [c for c, k in zip(covariates, kept) if not k]
        why = " or with the strata" if sd.strata is not None else ""
        warnings.warn(f"cox: coefficient(s) {hit} not estimable (aliased with the other covariates{why}, "
                      "as coxph reports NA); reported as NaN, and the tests count only the estimable "
                      "coefficients", PeertrialWarning, stacklevel=2)
        if not kept.any():
            raise ValueError(f"cox: no covariate is estimable ({hit} are constant within every stratum)")
        data_ = CoxData(rows[0], rows[1], rows[2][:, kept], *rows[3:6], efron=ties == "efron",
                        offset=rows[6], exact=ties == "exact")
    fit = newton(data_, eps=eps, iter_max=iter_max)
    beta, info = fit["beta"], fit["info"]
    try:
        naive = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        naive = np.linalg.pinv(info)
    names = [c for c, k in zip(covariates, kept) if k]
    p = len(names)
    if not fit["converged"]:
        warnings.warn("Ran out of iterations and did not converge", ConvergenceWarning, stacklevel=2)
    else:
        infs = np.abs(fit["u"] @ naive)
        bad = (infs > eps) & (infs > np.sqrt(eps) * np.abs(beta))
        if bad.any():
            which = ", ".join(names[j] for j in np.flatnonzero(bad))
            warnings.warn(f"Loglik converged before variable(s) {which}; coefficient may be infinite "
                          "(monotone likelihood)", ConvergenceWarning, stacklevel=2)
    var = naive
    rscore = None
    clusters = sd.cluster
    ids = id_levels = None
    if sd.id is not None:
        ids, id_levels = pd.factorize(sd.id, sort=True)
        ids = ids.astype(np.int64)
    if ties == "exact" and ids is not None and _repeated_events(ids, sd.status):
        raise ValueError(f"ties='exact' with repeated events per id ({id!r}) would need robust SEs from "
                         "score residuals, which the exact likelihood does not define (as coxph); use "
                         "ties='efron'")
    if clusters is None and ids is not None and _repeated_events(ids, sd.status):
        # as coxph (survival >= 3): an id with several events (Andersen-Gill recurrent
        # events) implies the robust variance clustered by id; naive_se keeps the model-based SE
        clusters = ids
    if clusters is None and sd.weights is not None and np.any(sd.weights != np.floor(sd.weights)):
        # as coxph: non-integer case weights imply the robust (sandwich) variance
        clusters = ids if ids is not None else np.arange(len(sd.time))
    if clusters is not None:
        _, _, _, det = data_.evaluate(beta, detail=True)
        resid = data_.score_residuals(beta, det) * data_.w[:, None]
        dfb = resid @ naive
        D = _rowsum(dfb, clusters)
        var = D.T @ D
        _, _, _, det0 = data_.evaluate(np.zeros(p), detail=True)
        r0 = _rowsum(data_.score_residuals(np.zeros(p), det0) * data_.w[:, None], clusters)
        rscore = _test(_quad(r0.T @ r0, r0.sum(0)), p)
    se = np.sqrt(np.diag(var))
    z = stats.norm.ppf(1 - (1 - level) / 2)
    idx = pd.Index(covariates)
    ll0 = fit["null"][0]

    def ser(v):  # estimable values in place, NaN for aliased coefficients (R's NA)
        out = np.full(len(covariates), np.nan)
        out[kept] = np.asarray(v, float)
        return pd.Series(out, index=idx)

    def square(m):
        out = np.full((len(covariates), len(covariates)), np.nan)
        out[np.ix_(kept, kept)] = m
        return pd.DataFrame(out, index=idx, columns=idx)

    with np.errstate(over="ignore"):  # exp of a diverging (monotone-likelihood) estimate is inf
        hr, lb, ub = np.exp(beta), np.exp(beta - z * se), np.exp(beta + z * se)
    return CoxResult(
        coef=ser(beta), se=ser(se), zval=ser(beta / se), pval=ser(2 * stats.norm.sf(np.abs(beta / se))),
        hr=ser(hr), hr_ci_lb=ser(lb), hr_ci_ub=ser(ub),
        naive_se=ser(np.sqrt(np.diag(naive))), var=square(var),
        loglik=(float(ll0), float(fit["loglik"])),
        lr_test=_test(2 * (fit["loglik"] - ll0), p),
        wald_test=_test(_quad(var, beta), p),
        score_test=_test(_quad(fit["null"][2], fit["null"][1]), p),
        robust_score_test=rscore, n=len(sd.time), nevent=int(sd.status.sum()), iter=fit["iter"],
        converged=fit["converged"], ties=ties, level=level, strata_levels=sd.strata_levels,
        _data=data_, _naive_var=naive, _kept=kept, _design=sd.design, _ids=ids, _id_levels=id_levels, _index=sd.index,
        _columns=dict(time=time, entry=entry, offset=offset, tt=bool(tt)),
    )


def _repeated_events(ids, status):
    """Whether some id has two or more events (R's ``anyDuplicated(id[status == 1])``)."""
    ev = ids[np.asarray(status) == 1]
    return len(np.unique(ev)) < len(ev)


def _rowsum(values, groups):
    out = np.zeros((groups.max() + 1, values.shape[1]))
    np.add.at(out, groups, values)
    return out


def _data_numeric(series, name):
    return _pd_data.numeric(series, name)


def _offset_values(data, offset, index):
    """The offset column (or array) on the rows the fit uses, checked finite."""
    frame = _pd_data.as_frame(data) if data is not None else None
    if isinstance(offset, str):
        if frame is None or offset not in frame.columns:
            raise ValueError(f"offset column {offset!r} is not in data")
        values = _pd_data.numeric(frame.loc[index, offset], offset)
    else:
        arr = np.asarray(offset, float)
        if frame is None or len(arr) != len(frame):
            raise ValueError(f"offset has {len(arr)} values; data has {0 if frame is None else len(frame)} rows")
        values = pd.Series(arr, index=frame.index).loc[index].to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"offset {offset if isinstance(offset, str) else 'values'!r} must be finite; "
                         f"missing or infinite at rows {_pd_data.row_labels(index, bad)}")
    return values


def _expand_tt(data, tt, sd, off):
    """Rows of the tt() expansion: for each event time t (within stratum), the rows at risk at t,
    with covariates [x, f(x_tt, t)], all in one stratum per t ending at t (as coxph's tt)."""
    frame = _pd_data.as_frame(data)
    names = list(tt)
    _pd_data.require_columns(frame, names)
    raw = {c: _pd_data.numeric(frame.loc[sd.index, c], c) for c in names}
    for c in names:
        bad = ~np.isfinite(raw[c])
        if bad.any():
            raise ValueError(f"tt column {c!r} must be finite; missing at rows {_pd_data.row_labels(sd.index, bad)}")
    n = len(sd.time)
    strat = np.zeros(n, np.int64) if sd.strata is None else sd.strata
    ev = sd.status == 1
    keys = np.unique(np.column_stack([strat[ev], sd.time[ev]]), axis=0)
    parts, gtimes = [], []
    for g, (s_, t) in enumerate(keys):  # noqa: B007
        risk = (strat == s_) & (sd.time >= t)
        if sd.entry is not None:
            risk &= sd.entry < t
        idx = np.flatnonzero(risk)
        parts.append(idx)
        gtimes.append(np.full(len(idx), t))
    idx = np.concatenate(parts)
    tg = np.concatenate(gtimes)
    group = np.repeat(np.arange(len(keys)), [len(p) for p in parts])
    X = np.zeros((len(idx), 0)) if sd.X is None else sd.X[idx]
    cols = []
    for c in names:
        val = np.asarray(tt[c](raw[c][idx], tg), float)
        if val.shape != (len(idx),) or not np.all(np.isfinite(val)):
            raise ValueError(f"tt function for {c!r} must return one finite value per (row, time) pair")
        cols.append(val)
    X = np.column_stack([X] + cols)
    status = (ev[idx] & (sd.time[idx] == tg)).astype(float)
    w = None if sd.weights is None else sd.weights[idx]
    return (tg, status, X, group, w, None, None if off is None else off[idx]), [f"tt({c})" for c in names]


_FRAILTY = re.compile(r"frailty\(\s*([^,()]+?)\s*(?:,\s*theta\s*=\s*([^,()\s]+)\s*)?\)")


def _frailty_term(covariates, frailty, frailty_theta):
    """Take a ``frailty(g)`` / ``frailty(g, theta = v)`` term out of a formula right-hand side."""
    if not isinstance(covariates, str) or "frailty(" not in covariates:
        return covariates, frailty, frailty_theta
    found = _FRAILTY.findall(covariates)
    if len(found) != 1:
        raise ValueError(f"covariates {covariates!r}: give one term frailty(column) or frailty(column, theta = v) "
                         "(or frailty= and frailty_theta=)")
    col, theta = found[0]
    if frailty is not None and frailty != col:
        raise ValueError(f"frailty={frailty!r} and the formula term frailty({col}) disagree; give one of them")
    if theta:
        try:
            theta = float(theta)
        except ValueError:
            raise ValueError(f"frailty({col}, theta = {theta}): theta must be a number") from None
        if frailty_theta is not None and frailty_theta != theta:
            raise ValueError("frailty_theta= and the formula's frailty(..., theta = ) disagree; give one of them")
        frailty_theta = theta
    rest = _FRAILTY.sub(" ", covariates)
    terms = [t.strip() for t in rest.replace("~", " ").split("+")]
    return " + ".join(t for t in terms if t), col, frailty_theta


def _cox_frailty(data, time, event, covariates, ties, strata, cluster, weights, entry, id, level, factors,
                 offset, tt, frailty, theta, eps, iter_max):
    """coxph(... + frailty(g)) with frailty.gamma's defaults (see peertrial.survival._frailty)."""
    from peertrial.survival._frailty import fit_gamma_frailty

    if not isinstance(frailty, str):
        raise ValueError("frailty= names the column of the groups sharing a frailty (e.g. frailty=\"litter\")")
    for what, val in (("cluster=", cluster), ("weights=", weights), ("offset=", offset), ("tt=", tt)):
        if val is not None and val is not False and not (isinstance(val, dict) and not val):
            raise ValueError(f"{what} is not supported with a frailty term (peertrial reproduces coxph's gamma "
                             "frailty without it); fit without the frailty or without " + what)
    if ties == "exact":
        raise ValueError("ties='exact' is not available with a frailty term; use ties='efron' or 'breslow'")
    if theta is not None:
        theta = float(theta)
        if not np.isfinite(theta) or theta <= 0:
            raise ValueError(f"frailty_theta must be a positive number (the frailty variance), got {theta!r}")
    if isinstance(covariates, str) and not covariates.strip().lstrip("~").strip():
        covariates = ()
    no_cov = not isinstance(covariates, str) and not list(covariates)  # ~ frailty(g) alone, as R allows
    frame = _pd_data.as_frame(data)
    _pd_data.require_columns(frame, [frailty])
    if frame[frailty].nunique(dropna=True) < 2:
        raise ValueError(f"frailty column {frailty!r} has {frame[frailty].nunique(dropna=True)} group; a shared "
                         "frailty needs two or more")
    sd = _input.prepare(data, time, event, status_codes=(0, 1), strata=strata,
                        covariates=None if no_cov else covariates, factors=factors, cluster=frailty, entry=entry,
                        id=id)
    if not np.any(sd.status == 1):
        raise ValueError(f"column {event!r} has no events in {len(sd.status)} rows; the Cox model is not estimable")
    fcol = frame[frailty] if len(sd.index) == len(frame) else frame.loc[sd.index, frailty]  # rows kept
    codes, levels = pd.factorize(fcol, sort=True)
    q = len(levels)
    if q < 2:
        raise ValueError(f"frailty column {frailty!r} has {q} group; a shared frailty needs two or more")
    dense = q <= 5  # frailty.gamma's sparse = (nclass > 5): the whole frailty information otherwise
    names = [] if no_cov else list(sd.covariates)
    X = np.zeros((len(sd.time), 0)) if no_cov else sd.X
    for j, c in enumerate(names):
        col = X[:, j]
        if np.all(col == col[0]):
            raise ValueError(f"covariate column {c!r} is constant (one level: {float(col[0]):.10g}) in all "
                             f"{len(col)} rows; its hazard ratio is not estimable")
    cd = CoxData(sd.time, sd.status, X, sd.strata, None, sd.entry, efron=ties == "efron")
    kept = ~_builder.aliased_information(cd.evaluate(np.zeros(cd.p))[2]) if cd.p else np.ones(0, bool)
    if not kept.all():
        hit = [c for c, k in zip(names, kept) if not k]
        raise ValueError(f"cox: coefficient(s) {hit} are aliased with the other covariates or the strata; "
                         "drop them to fit the frailty model")
    fit = fit_gamma_frailty(cd, codes, q, theta=theta, eps=eps, iter_max=iter_max, dense=dense)
    if not fit["converged"]:
        warnings.warn("frailty: the search for theta (or the penalised fit) stopped at its iteration cap before "
                      "converging (coxph's outer.max = 10)", ConvergenceWarning, stacklevel=3)
    beta = fit["beta"]
    idx = pd.Index(names)
    var, var2 = fit["var"], fit["var2"]
    se, se2 = np.sqrt(np.diag(var)), np.sqrt(np.diag(var2))
    z = special.ndtri(1 - (1 - level) / 2)  # scipy.stats.norm.ppf's own function, without its overhead
    # degrees of freedom per term: trace(var^-1 var2) over the term's columns; the frailty's last
    terms = list(sd.design.terms) if sd.design is not None and not no_cov else names
    labels = list(dict.fromkeys(terms))
    dfs = []
    for lab in labels:
        j = [k for k, t in enumerate(terms) if t == lab]
        dfs.append(float(np.trace(np.linalg.solve(var[np.ix_(j, j)], var2[np.ix_(j, j)]))))
    dfs.append(fit["df_frail"])
    fname = f"frailty({frailty})"
    ll0, ll1 = fit["loglik"]
    lr = 2 * (ll1 - ll0)
    dftot = float(np.sum(dfs))
    fvar = fit["fvar"]
    if fvar.ndim == 2:  # non-sparse fit: the Wald statistic with the frailties' covariance (coxph.wtest)
        fchisq = float(fit["w"] @ np.linalg.solve(fvar, fit["w"]))
        fvar = np.diag(fvar)
    else:
        fchisq = float(np.sum(fit["w"] ** 2 / fvar))
    chisq = beta**2 / np.diag(var)
    hist = pd.DataFrame(fit["history"], columns=["theta", "loglik", "i_loglik"])
    flev = pd.Index(levels, name=frailty)
    return CoxFrailtyResult(
        coef=pd.Series(beta, idx), se=pd.Series(se, idx), se2=pd.Series(se2, idx), zval=pd.Series(beta / se, idx),
        pval=pd.Series(special.chdtrc(1, chisq), idx), chisq=pd.Series(chisq, idx), hr=pd.Series(np.exp(beta), idx),
        hr_ci_lb=pd.Series(np.exp(beta - z * se), idx), hr_ci_ub=pd.Series(np.exp(beta + z * se), idx),
        var=pd.DataFrame(var, idx, idx), var2=pd.DataFrame(var2, idx, idx),
        df=pd.Series(dfs, index=labels + [fname]), theta=float(fit["theta"]), i_loglik=float(fit["i_loglik"]),
        loglik=(float(ll0), float(ll1)), penalty=fit["penalty"],
        lr_test=(float(lr), dftot, float(special.chdtrc(dftot, lr))),
        frailty_test=(fchisq, float(fit["df_frail"]), float(special.chdtrc(max(fit["df_frail"], 0.5), fchisq))),
        frail=pd.Series(fit["w"], index=flev, name="frail"), frail_var=pd.Series(fvar, index=flev, name="fvar"),
        history=hist, n=len(sd.time), nevent=int(sd.status.sum()), iter=(int(fit["outer"]), int(fit["newton"])),
        converged=bool(fit["converged"]), ties=ties, level=level, frailty=frailty,
    )
