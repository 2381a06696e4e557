"""Cluster-robust (sandwich) inference for ``rma`` and ``rma_mv`` fits (metafor ``robust``).

``robust(fit, cluster)`` keeps the model's estimates ``b`` and replaces their covariance by
a sandwich estimator over clusters, with the working model's weights ``W = M^-1`` (``M``
the fitted marginal covariance: ``diag(v + tau2)`` for ``rma``), or the user's weights of an
``rma(..., weights=)`` fit (then ``M`` stays the target covariance, as clubSandwich):

- default (metafor's ``robust(..., clubSandwich=FALSE)``): CR1,
  ``Var b = n/(n - p) B (sum_c X_c'W_c e_c e_c'W_c X_c) B`` with ``B = (X'WX)^-1``, t tests
  and CIs on ``n - p`` degrees of freedom (``n`` clusters), an F test for the moderators;
- ``clubsandwich=True``: CR2 (bias-reduced linearization, Bell & McCaffrey 2002;
  Pustejovsky & Tipton 2018) with adjustment matrices
  ``A_c = D_c' (D_c [(I - H) M (I - H)']_cc D_c')^(-1/2) D_c`` (``D_c'D_c = M_c``,
  ``H = X B X'W``; ``D_c (M_c - X_c B X_c') D_c'`` when ``W = M^-1``), Satterthwaite
  degrees of freedom per coefficient and the HTZ Wald test (Tipton & Pustejovsky 2015)
  for the moderators, as clubSandwich's ``coef_test``/``Wald_test``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_pval, format_table

linalg = lazy_module("scipy.linalg")
stats = lazy_module("scipy.stats")

__all__ = ["robust", "RobustResult"]


@dataclass(frozen=True, eq=False)
class RobustResult(Result):
    """Cluster-robust SEs, t tests and CIs of a meta-analytic model's coefficients.

    Returned by :func:`robust`. Coefficient attributes are floats for one coefficient, else
    Series by term.

    Attributes
    ----------
    b, se : float or pandas.Series
        The fit's coefficients and their cluster-robust SEs.
    zval : float or pandas.Series
        t statistics (metafor keeps the name ``zval``).
    df : float or pandas.Series
        Their degrees of freedom: ``n_clusters - p`` for CR1, Satterthwaite per coefficient
        for CR2.
    pval, ci_lb, ci_ub : float or pandas.Series
        t-test p-values and limits at ``level``.
    vb : pandas.DataFrame
        The robust variance matrix.
    QM : float
        Omnibus test of the moderators (F statistic; HTZ with CR2).
    QMdf : tuple
        Its ``(df1, df2)``.
    QMp : float
        Its p-value.
    n_clusters : int
        Number of clusters.
    estimator : str
        ``"CR1"`` or ``"CR2"``.
    level : float
        Confidence level in percent, as metafor.

    Notes
    -----
    R equivalent: a ``metafor::robust.rma`` object (metafor 3.8-1); with CR2,
    ``clubSandwich::coef_test``/``Wald_test`` (``vcov = "CR2"``, clubSandwich 0.5.8).

    References
    ----------
    .. [1] Hedges, L. V., Tipton, E., & Johnson, M. C. (2010). Robust variance estimation in
       meta-regression with dependent effect size estimates. Research Synthesis Methods, 1,
       39-65.
    .. [2] Tipton, E., & Pustejovsky, J. E. (2015). Small-sample adjustments for tests of
       moderators and model fit using robust variance estimation in meta-regression. Journal
       of Educational and Behavioral Statistics, 40, 604-634.

    Examples
    --------
    >>> fit = pt.meta.rma([0.1, 0.3, 0.5, 0.2, 0.4, 0.1], [0.01, 0.02, 0.02, 0.03, 0.02, 0.01])
    >>> r = pt.meta.robust(fit, cluster=[1, 1, 2, 2, 3, 3], clubsandwich=True)
    >>> r.estimator, r.n_clusters, round(r.se, 4), round(r.df, 4)
    ('CR2', 3, 0.0488, 1.9512)
    """

    b: object
    se: object
    zval: object
    df: object
    pval: object
    ci_lb: object
    ci_ub: object
    vb: pd.DataFrame
    QM: float
    QMdf: tuple
    QMp: float
    n_clusters: int
    estimator: str
    level: float

    def to_frame(self) -> pd.DataFrame:
        """Columns estimate, se, statistic (t), df, pval, ci_lb, ci_ub."""
        names = list(self.vb.index)
        a = lambda x: np.atleast_1d(np.asarray(x, dtype=float))  # noqa: E731
        return pd.DataFrame({"estimate": a(self.b), "se": a(self.se), "statistic": a(self.zval),
                             "df": np.broadcast_to(a(self.df), (len(names),)), "pval": a(self.pval),
                             "ci_lb": a(self.ci_lb), "ci_ub": a(self.ci_ub)}, index=pd.Index(names, name="term"))

    def summary(self, digits: int = 4) -> str:
        how = ("CR2 bias-reduced linearization, Satterthwaite df (clubSandwich)" if self.estimator == "CR2"
               else "CR1, df = clusters - p (metafor)")
        lines = [f"Cluster-robust inference: {self.n_clusters} clusters; {how}", ""]
        if len(self.vb) > 1 or np.isfinite(self.QM):
            lines += [f"Test of Moderators: F(df1 = {self.QMdf[0]:g}, df2 = {self.QMdf[1]:.4g}) = "
                      f"{format_number(self.QM, digits)}, p-val = {format_pval(self.QMp, digits)}", ""]
        lines.append(format_table(self.to_frame(), digits))
        return "\n".join(lines)


def _fit_parts(fit):
    """y, X, b, marginal covariance M (k x k) and weight matrix W of a fitted model."""
    X = fit.X.to_numpy(dtype=float)
    b = fit.beta
    y = np.asarray(fit.yi, dtype=float)
    if hasattr(fit, "M"):
        M = np.asarray(fit.M, dtype=float)
        W = linalg.cho_solve(linalg.cho_factor(M, lower=True), np.eye(len(y)))
        return y, X, b, M, W, False
    m = np.asarray(fit.vi, dtype=float) + (0.0 if fit.method in ("EE", "FE") else fit.tau2)
    w = getattr(fit, "user_weights", None)
    if w is not None:  # user weights: b is weighted by them, the target covariance stays vi + tau2
        return y, X, b, m, np.asarray(w, dtype=float), True
    return y, X, b, m, 1.0 / m, True


def robust(fit, cluster, *, clubsandwich: bool = False, adjust: bool = True, level=None) -> RobustResult:
    """Cluster-robust SEs, tests and CIs for an ``rma`` or ``rma_mv`` fit.

    Parameters
    ----------
    fit : RMAResult or RMAMVResult
        An ``rma`` fit (also with user ``weights``: the sandwich uses them, CR2 takes
        ``vi + tau2`` as target covariance, clubSandwich's non-inverse-variance case) or an
        ``rma_mv`` fit.
    cluster : str or array-like
        Cluster of every estimate: a column of the data the model was fitted to
        (``fit.data``) or one value per estimate used in the fit.
    clubsandwich : bool
        False: metafor's CR1 estimator (``adjust=True`` multiplies by ``n/(n - p)``), t
        tests on ``n - p`` df. True: CR2 with Satterthwaite df per coefficient and the
        HTZ test of the moderators, as ``robust(..., clubSandwich=TRUE)`` (clubSandwich).
    adjust : bool
        Small-sample factor ``n/(n - p)`` for CR1 (default True).
    level : float, optional
        Confidence level (default: the fit's).

    Returns
    -------
    RobustResult
        Robust ``se``, t statistics with ``df``, ``pval``, ``ci_lb``, ``ci_ub`` and the omnibus
        test ``QM``, ``QMdf``, ``QMp``.

    Notes
    -----
    R equivalent: ``metafor::robust.rma`` (metafor 3.8-1; CR1) and ``clubSandwich::coef_test``/
    ``Wald_test`` with ``vcov = "CR2"`` (clubSandwich 0.5.8, via metafor's
    ``clubSandwich=TRUE``). For CR2 the random effects must be nested within clusters (the
    fitted covariance block-diagonal by cluster).

    References
    ----------
    .. [1] Hedges, L. V., Tipton, E., & Johnson, M. C. (2010). Robust variance estimation in
       meta-regression with dependent effect size estimates. Research Synthesis Methods, 1,
       39-65.
    .. [2] Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for cluster-robust
       variance estimation and hypothesis testing in fixed effects models. Journal of Business
       & Economic Statistics, 36, 672-683.

    Examples
    --------
    >>> fit = pt.meta.rma([0.1, 0.3, 0.5, 0.2, 0.4, 0.1], [0.01, 0.02, 0.02, 0.03, 0.02, 0.01])
    >>> r = pt.meta.robust(fit, cluster=[1, 1, 2, 2, 3, 3])
    >>> r.df
    2.0
    """
    y, X, b, M, W, diag = _fit_parts(fit)
    k, p = X.shape
    cl = _clusters(fit, cluster, k)
    codes = _data.cluster_codes(pd.Series(cl), cluster if isinstance(cluster, str) else "cluster")
    n = int(codes.max()) + 1
    if n <= p:
        raise ValueError(f"robust() needs more clusters ({n}) than coefficients ({p})")
    level = float(fit.level) if level is None else _level(level)
    names = list(fit.X.columns)
    e = y - X @ b
    WX = (W[:, None] * X) if diag else W @ X
    B = np.linalg.inv(X.T @ WX)
    groups = [np.flatnonzero(codes == j) for j in range(n)]
    icol = [j for j in range(p) if np.all(X[:, j] == 1)]
    btt = [j for j in range(p) if j not in icol] if (icol and p > 1) else list(range(p))
    if not clubsandwich:
        U = np.zeros((n, p))
        for j, g in enumerate(groups):
            U[j] = WX[g].T @ e[g]
        vb = B @ (U.T @ U) @ B * (n / (n - p) if adjust else 1.0)
        se = np.sqrt(np.diag(vb))
        t = b / se
        df = float(n - p)
        pval = 2 * stats.t.sf(np.abs(t), df)
        crit = stats.t.isf((1 - level / 100) / 2, df)
        Q = float(b[btt] @ np.linalg.solve(vb[np.ix_(btt, btt)], b[btt])) / len(btt)
        QMdf = (len(btt), df)
        QMp = float(stats.f.sf(Q, len(btt), df))
        return _out(b, se, t, df, pval, crit, vb, names, Q, QMdf, QMp, n, "CR1", level)
    # ---- CR2 (working model W = M^-1, target M), clubSandwich
    Mfull = np.diag(M) if diag else M
    for j, g in enumerate(groups):  # noqa: B007
        out = np.setdiff1d(np.arange(k), g)
        if out.size and np.any(np.abs(Mfull[np.ix_(g, out)]) > 0):
            raise ValueError("CR2 needs the model's random effects nested within clusters; choose an outer "
                             "grouping (e.g. the study) as cluster")
    H_resid = np.eye(k) - X @ B @ WX.T  # I - H
    Sigma = H_resid @ Mfull @ H_resid.T  # covariance of the residuals under the working model
    AWX = np.zeros((k, p))  # rows: A_c W_c X_c for every cluster
    for g in groups:
        Mc = Mfull[np.ix_(g, g)]
        Dc = linalg.cholesky(Mc, lower=False)  # Dc' Dc = Mc
        G = Dc @ Sigma[np.ix_(g, g)] @ Dc.T  # = Dc (Mc - X_c B X_c') Dc' for inverse-variance weights
        Ac = Dc.T @ _inv_sqrt(G) @ Dc
        AWX[g] = Ac @ WX[g]
    U = np.zeros((n, p))
    for j, g in enumerate(groups):
        U[j] = AWX[g].T @ e[g]
    vb = B @ (U.T @ U) @ B
    se = np.sqrt(np.diag(vb))
    t = b / se
    df = np.array([_satterthwaite(B[:, [c]], AWX, groups, Sigma)[0] for c in range(p)])
    pval = 2 * stats.t.sf(np.abs(t), df)
    crit = stats.t.isf((1 - level / 100) / 2, df)
    Q, QMdf, QMp = _htz(b, vb, B, AWX, groups, Sigma, btt)
    return _out(b, se, t, df, pval, crit, vb, names, Q, QMdf, QMp, n, "CR2", level)


def _out(b, se, t, df, pval, crit, vb, names, Q, QMdf, QMp, n, est, level):
    one = len(names) == 1
    f = (lambda a: float(np.atleast_1d(a)[0])) if one else (lambda a: pd.Series(np.broadcast_to(a, (len(names),)),
                                                                                  index=names, dtype=float))
    return RobustResult(b=f(b), se=f(se), zval=f(t), df=f(df) if np.ndim(df) else float(df), pval=f(pval),
                        ci_lb=f(b - crit * se), ci_ub=f(b + crit * se),
                        vb=pd.DataFrame(vb, index=names, columns=names), QM=float(Q), QMdf=tuple(float(x) for x in QMdf),
                        QMp=float(QMp), n_clusters=int(n), estimator=est, level=level)


def _inv_sqrt(G):
    w, Q = np.linalg.eigh((G + G.T) / 2)
    w = np.where(w > 1e-12 * max(w.max(), 1e-300), w, np.inf)
    return (Q / np.sqrt(w)) @ Q.T


def _cluster_vectors(Cmat, AWX, groups, k):
    """For every column s of ``Cmat`` (p x q), the k x n matrix whose column c holds
    ``A_c W_c X_c Cmat[:, s]`` on the rows of cluster c."""
    out = []
    for s in range(Cmat.shape[1]):
        v = AWX @ Cmat[:, s]
        Gm = np.zeros((k, len(groups)))
        for j, g in enumerate(groups):
            Gm[g, j] = v[g]
        out.append(Gm)
    return out


def _satterthwaite(Bc, AWX, groups, Sigma):
    """Satterthwaite df of one linear combination (``Bc = B c``): 2 E^2 / Var of its CR2 variance."""
    (Gm,) = _cluster_vectors(Bc, AWX, groups, Sigma.shape[0])
    Qm = Gm.T @ Sigma @ Gm
    E = np.trace(Qm)
    return np.array([E**2 / np.sum(Qm**2)])


def _htz(b, vb, B, AWX, groups, Sigma, btt):
    """HTZ Wald test of the coefficients ``btt`` (clubSandwich ``Wald_test(test = "HTZ")``)."""
    q = len(btt)
    C = np.zeros((q, len(b)))
    C[np.arange(q), btt] = 1.0
    Cb = C @ b
    VR = C @ vb @ C.T
    Q = float(Cb @ np.linalg.solve(VR, Cb))
    BC = B @ C.T  # p x q
    Gs = _cluster_vectors(BC, AWX, groups, Sigma.shape[0])
    Omega = np.array([[np.trace(Gs[s].T @ Sigma @ Gs[t]) for t in range(q)] for s in range(q)])
    Onh = _inv_sqrt(Omega)
    Gt = [sum(Onh[s, u] * Gs[u] for u in range(q)) for s in range(q)]  # rows of Omega^-1/2 C
    Qst = [[Gt[s].T @ Sigma @ Gt[t] for t in range(q)] for s in range(q)]
    var_total = sum(np.sum(Qst[s][s] * Qst[t][t] + Qst[s][t] * Qst[s][t].T) for s in range(q) for t in range(q))
    eta = q * (q + 1) / var_total
    F = (eta - q + 1) / (eta * q) * Q
    df2 = eta - q + 1
    return F, (q, df2), float(stats.f.sf(F, q, df2))


def _clusters(fit, cluster, k):
    if isinstance(cluster, str):
        data = getattr(fit, "data", None)
        if data is None or cluster not in data.columns:
            raise ValueError(f"cluster {cluster!r} is not a column of the data the model was fitted to; "
                             "pass one cluster value per estimate instead")
        values = data[cluster].to_numpy()
    else:
        values = np.asarray(cluster)
    if len(values) != k:
        raise ValueError(f"cluster has {len(values)} values but the model uses {k} estimates")
    if pd.isna(values).any():
        raise ValueError("cluster has missing values")
    return values


def _level(level):
    return _data.level_percent(level)
