"""Dependent effect sizes: building ``V`` (metafor's ``vcalc``) and aggregating within clusters
(metafor's ``aggregate.escalc``).

:func:`vcalc` returns the k x k variance-covariance matrix of the sampling errors. Rows in
different clusters (or different ``subgroup``s of a cluster) are independent. Within a cluster
the correlation of estimates ``i`` and ``j`` is the product of

- a construct part: 1 for the same ``type`` and ``obs``; ``rho`` (or ``rho[0]``) for
  different ``obs`` of the same type; ``rho`` (or ``rho[1]``) for different ``type``;
- a contrast/time part for effect sizes contrasting groups ``grp1`` and ``grp2`` at times
  ``time1`` and ``time2`` with weights (group sizes) ``w1``, ``w2``:
  ``N_ij / (D_i D_j)`` with ``N_ij = f(g1i,g1j)/sqrt(w1i w1j) - f(g1i,g2j)/sqrt(w1i w2j)
  - f(g2i,g1j)/sqrt(w2i w1j) + f(g2i,g2j)/sqrt(w2i w2j)``, ``f(a, b) = [a = b] phi^|t_a - t_b|``
  and ``D_i^2 = 1/w1i + 1/w2i - 2 f(g1i, g2i)/sqrt(w1i w2i)`` (a shared control group with
  equal group sizes gives 0.5; time points ``phi^|t_i - t_j|``).

``V = S R S`` with ``S = diag(sqrt(vi))``. With ``rvars`` the correlation matrix of every
cluster is read from columns of ``data`` instead (lower triangles of the first ``k_c`` columns).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from peertrial import _data

__all__ = ["vcalc", "aggregate"]


def _col(frame, x, name, k, default=None):
    if x is None:
        return default
    values = _data.column_or_array(frame, x, name)
    values = np.asarray(values)
    if values.ndim == 0:
        values = np.full(k, values.item())
    if len(values) != k:
        raise ValueError(f"{name} has {len(values)} values but vi has {k}")
    if pd.isna(values).any():
        raise ValueError(f"{name} has missing values; vcalc needs every row coded")
    return values


def _rho_matrix(rho, levels, what):
    """A correlation for every pair of levels (scalar or a matrix/DataFrame named by level)."""
    L = len(levels)
    if rho is None:
        raise ValueError(f"give rho: the correlation between estimates of different {what}")
    if np.ndim(rho) == 0:
        R = np.full((L, L), float(rho))
    else:
        if isinstance(rho, pd.DataFrame):
            missing = [lv for lv in levels if lv not in rho.index or lv not in rho.columns]
            if missing:
                raise ValueError(f"rho has no row/column for the {what} value(s) {missing}")
            R = rho.loc[levels, levels].to_numpy(dtype=float)
        else:
            R = np.asarray(rho, dtype=float)
            if R.shape != (L, L):
                raise ValueError(f"rho for {what} must be a scalar or a {L} x {L} matrix (levels {levels})")
    if np.any(np.abs(R) > 1):
        raise ValueError("correlations in rho must lie in [-1, 1]")
    np.fill_diagonal(R, 1.0)
    return R


def _nearest_correlation(x, eig_tol=1e-6, conv_tol=1e-7, posd_tol=1e-8, maxit=100):
    """Nearest positive-definite correlation matrix (Higham 2002; the defaults of ``Matrix::nearPD``
    with ``corr = TRUE``): alternating projections onto the positive semi-definite cone (eigenvalues
    below ``eig_tol`` times the largest dropped) and the unit-diagonal matrices, with Dykstra's
    correction; then eigenvalues below ``posd_tol`` times the largest raised to it."""
    x = (x + x.T) / 2
    X = x.copy()
    DS = np.zeros_like(x)
    for _ in range(maxit):  # capped, as nearPD (maxit = 100)
        Y = X
        Rm = Y - DS
        d, Q = np.linalg.eigh(Rm)
        keep = d > eig_tol * d[-1]
        if not keep.any():
            raise ValueError("a cluster's correlation matrix seems negative semi-definite; nearpd cannot repair it")
        Qk = Q[:, keep]
        X = (Qk * d[keep]) @ Qk.T
        DS = X - Rm
        np.fill_diagonal(X, 1.0)
        conv = np.max(np.sum(np.abs(Y - X), axis=1)) / np.max(np.sum(np.abs(Y), axis=1))
        if conv <= conv_tol:
            break
    else:
        warnings.warn(f"nearpd did not converge in {maxit} iterations", UserWarning, stacklevel=3)
    d, Q = np.linalg.eigh(X)
    eps = posd_tol * abs(d[-1])
    if d[0] < eps:
        d = np.maximum(d, eps)
        o_diag = np.diag(X).copy()
        X = (Q * d) @ Q.T
        D = np.sqrt(np.maximum(eps, o_diag) / np.diag(X))
        X = D[:, None] * X * D[None, :]
    np.fill_diagonal(X, 1.0)
    return X


def vcalc(vi, cluster, data: pd.DataFrame | None = None, *, subgroup=None, obs=None, type=None, time1=None,
          time2=None, grp1=None, grp2=None, w1=None, w2=None, rho=None, phi=None, rvars=None,
          checkpd: bool = True, nearpd: bool = False) -> np.ndarray:
    """Variance-covariance matrix of dependent sampling errors (metafor ``vcalc``).

    Parameters
    ----------
    vi : str, float or array-like
        Sampling variances (a column of ``data``, values, or one value for all rows).
    cluster : str or array-like
        Cluster (study) of every row; different clusters are independent.
    data : DataFrame, optional
    subgroup : str or array-like, optional
        Independent subgroups within clusters.
    obs, type : str or array-like, optional
        Different observations (scales) of one construct / different constructs; need
        ``rho`` (a scalar, a matrix named by the levels, or for both ``[within, between]``).
    time1, time2 : str or array-like, optional
        Time points (``time2`` defaults to ``time1``); need ``phi``, the autocorrelation per
        unit of time.
    grp1, grp2 : str or array-like, optional
        The two groups contrasted by each effect size (shared groups induce correlation).
    w1, w2 : str or array-like, optional
        Group sizes (weights) of ``grp1``/``grp2`` (equal by default).
    rho, phi : float, matrix or list
    rvars : list of str, optional
        Columns holding each cluster's correlation matrix (lower triangles), instead of the
        arguments above.
    checkpd : bool
        Warn when a cluster's matrix is not positive definite (as metafor; default True).
    nearpd : bool
        Replace a cluster's correlation matrix that is not positive definite by the nearest
        positive-definite correlation matrix (Higham's alternating projections with
        Dykstra's correction, as ``Matrix::nearPD(R, corr = TRUE)``); warns if it still is not.
        Default False.

    Returns
    -------
    numpy.ndarray
        The k x k matrix ``V`` (rows in the order of ``data``).

    Notes
    -----
    R equivalent: ``metafor::vcalc`` (metafor 3.8-1).

    References
    ----------
    Higham NJ (2002). Computing the nearest correlation matrix - a problem from finance.
    IMA Journal of Numerical Analysis 22:329-343.

    Examples
    --------
    >>> import numpy as np, peertrial as pt
    >>> V = pt.meta.vcalc([0.04, 0.09, 0.01], cluster=[1, 1, 2], obs=[1, 2, 1], rho=0.5)
    >>> round(float(V[0, 1]), 6)
    0.03
    """
    frame = _data.as_frame(data) if data is not None else None
    if isinstance(vi, (int, float)) and not isinstance(vi, bool):
        cl0 = np.asarray(_data.column_or_array(frame, cluster, "cluster"))
        v = np.full(len(cl0), float(vi))
    else:
        v = np.asarray(_data.numeric(_data.column_or_array(frame, vi, "vi"), vi if isinstance(vi, str) else "vi"),
                       dtype=float)
    k = len(v)
    cl = _col(frame, cluster, "cluster", k)
    cl_codes = pd.factorize(pd.Series(cl).astype(str))[0]
    if subgroup is not None:
        sg = _col(frame, subgroup, "subgroup", k)
        cl_codes = pd.factorize(pd.Series(cl).astype(str) + "\x1f" + pd.Series(sg).astype(str))[0]
    same = cl_codes[:, None] == cl_codes[None, :]
    if rvars is not None:
        R = _rvars_matrix(frame, rvars, cl_codes)
    else:
        ty = _col(frame, type, "type", k, np.ones(k))
        ob = _col(frame, obs, "obs", k, np.ones(k))
        if (type is not None or obs is not None) and rho is None:
            raise ValueError("give rho when obs or type is specified")
        if type is not None and obs is not None:
            if isinstance(rho, (list, tuple)) and len(rho) == 2:
                rho_obs, rho_type = rho
            else:
                raise ValueError("when type and obs are both given, rho must be [within-construct, "
                                 "between-construct] correlations")
        elif type is not None:
            rho_obs, rho_type = 0.0, rho
        elif obs is not None:
            rho_obs, rho_type = rho, 0.0
        else:
            rho_obs = rho_type = 0.0
        o_codes, o_levels = _factor(ob)
        t_codes, t_levels = _factor(ty)
        Ro = _rho_matrix(rho_obs, o_levels, "obs")
        Rt = _rho_matrix(rho_type, t_levels, "type")
        C = np.where(t_codes[:, None] == t_codes[None, :],
                     Ro[np.ix_(o_codes, o_codes)], Rt[np.ix_(t_codes, t_codes)])
        if grp2 is not None and grp1 is None:
            raise ValueError("give grp1 when grp2 is specified")
        g1 = _col(frame, grp1, "grp1", k, np.ones(k))
        g2 = _col(frame, grp2, "grp2", k, np.full(k, 2.0))
        g1 = pd.Series(g1).astype(str).to_numpy()
        g2 = pd.Series(g2).astype(str).to_numpy()
        if time2 is not None and time1 is None:
            raise ValueError("give time1 when time2 is specified")
        t1 = _col(frame, time1, "time1", k, np.ones(k)).astype(float)
        t2 = _col(frame, time2, "time2", k, t1).astype(float)
        if time1 is not None:
            if phi is None:
                raise ValueError("give phi (the autocorrelation per unit of time) when time1 is specified")
            ph = float(phi)
            if abs(ph) > 1:
                raise ValueError("phi must lie in [-1, 1]")
        else:
            ph = 1.0
        if w2 is not None and w1 is None:
            raise ValueError("give w1 when w2 is specified")
        a1 = _col(frame, w1, "w1", k, np.ones(k)).astype(float)
        a2 = _col(frame, w2, "w2", k, a1).astype(float)

        def f(ga, gb, ta, tb):
            return (ga[:, None] == gb[None, :]) * ph ** np.abs(ta[:, None] - tb[None, :])

        N = (f(g1, g1, t1, t1) / np.sqrt(np.outer(a1, a1)) - f(g1, g2, t1, t2) / np.sqrt(np.outer(a1, a2))
             - f(g2, g1, t2, t1) / np.sqrt(np.outer(a2, a1)) + f(g2, g2, t2, t2) / np.sqrt(np.outer(a2, a2)))
        d = np.sqrt(1 / a1 + 1 / a2 - 2 * (g1 == g2) * ph ** np.abs(t1 - t2) / np.sqrt(a1 * a2))
        R = np.where(same, C * N / np.outer(d, d), 0.0)
        np.fill_diagonal(R, 1.0)
    if checkpd or nearpd:
        bad, still = [], []
        eps = np.finfo(float).eps
        for c in np.unique(cl_codes):
            idx = np.flatnonzero(cl_codes == c)
            Rc = R[np.ix_(idx, idx)]
            if np.isnan(Rc).any() or not np.any(np.linalg.eigvalsh(Rc) <= eps):
                continue
            if not nearpd:
                bad.append(str(cl[idx[0]]))
                continue
            Rc = _nearest_correlation(Rc)
            if np.any(np.linalg.eigvalsh(Rc) <= eps):
                still.append(str(cl[idx[0]]))
            R[np.ix_(idx, idx)] = Rc
        if bad:
            warnings.warn(f"the var-cov matrix appears to be not positive definite in cluster(s) {', '.join(bad)}",
                          UserWarning, stacklevel=2)
        if still:
            warnings.warn("the var-cov matrix still appears to be not positive definite in cluster(s) "
                          f"{', '.join(still)} even after nearpd", UserWarning, stacklevel=2)
    s = np.sqrt(v)
    return s[:, None] * R * s[None, :]


def _factor(values):
    s = pd.Series(values)
    levels = list(pd.unique(s))
    lookup = {lv: i for i, lv in enumerate(levels)}
    return np.array([lookup[x] for x in s]), levels


def _rvars_matrix(frame, rvars, cl_codes):
    if frame is None:
        raise ValueError("rvars names columns of data; give data")
    cols = list(rvars)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"rvars: columns {missing} are not in data")
    vals = frame[cols].to_numpy(dtype=float)
    k = len(cl_codes)
    R = np.zeros((k, k))
    sizes = np.bincount(cl_codes)
    if sizes.max() > len(cols):
        raise ValueError(f"rvars has {len(cols)} columns but a cluster has {sizes.max()} rows")
    if sizes.max() != len(cols):
        raise ValueError(f"rvars has {len(cols)} columns but no cluster has that many rows")
    for c in np.unique(cl_codes):
        idx = np.flatnonzero(cl_codes == c)
        m = len(idx)
        block = vals[np.ix_(idx, np.arange(m))]
        low = np.tril(block)
        R[np.ix_(idx, idx)] = low + np.tril(low, -1).T
    return R


def aggregate(data: pd.DataFrame, cluster, *, V=None, struct: str = "CS", rho=None, phi=None, time=None, obs=None,
              weighted: bool = True, checkpd: bool = True, addk: bool = False, yi: str = "yi",
              vi: str = "vi") -> pd.DataFrame:
    """Aggregate dependent effect sizes within clusters (metafor ``aggregate.escalc``).

    Parameters
    ----------
    data : DataFrame
        Effect sizes (``yi``, ``vi`` columns, e.g. from :func:`escalc`) and other columns.
    cluster : str or array-like
        Cluster (e.g. study) of every row.
    V : 2-D array, optional
        Variance-covariance matrix of the sampling errors (e.g. from :func:`vcalc`); else
        built from ``struct``.
    struct : {"ID", "CS", "CAR", "CS+CAR", "CS*CAR"}
        Correlation of the sampling errors within a cluster (default ``"CS"``): "ID"
        independent, "CS" (``rho``), "CAR" (``phi^|time_i - time_j|``), "CS+CAR"
        (``rho + (1 - rho) phi^|dt|``) or "CS*CAR" (``rho`` between different ``obs`` times
        ``phi^|dt|``).
    rho, phi : float or array-like, optional
        The correlations of ``struct``: a scalar or one value per cluster.
    time : str or array-like, optional
        Time of every row (for the CAR structures).
    obs : str or array-like, optional
        Outcome (observation) of every row (for "CS*CAR").
    weighted : bool
        Inverse-variance (GLS) average ``(1'V^-1 1)^-1 1'V^-1 y`` with variance
        ``(1'V^-1 1)^-1`` (default), or the plain mean with variance ``1'V 1 / k^2``.
    checkpd : bool
        Warn when a cluster's block of ``V`` is not positive definite (default True).
    addk : bool
        Add the cluster size as column ``ki`` (default False).
    yi, vi : str
        The effect-size and sampling-variance columns (defaults ``"yi"``, ``"vi"``).

    Returns
    -------
    DataFrame
        One row per cluster in order of first appearance: ``yi`` and ``vi`` aggregated, other
        numeric columns averaged, other columns their most frequent value (as metafor).

    Notes
    -----
    R equivalent: ``metafor::aggregate.escalc`` (metafor 3.8-1).

    References
    ----------
    .. [1] Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
       Introduction to Meta-Analysis, chapter 24 (multiple outcomes or time-points within a
       study). Wiley.
    .. [2] Pustejovsky, J. E., & Tipton, E. (2022). Meta-analysis with robust variance
       estimation: expanding the range of working models. Prevention Science, 23, 425-438.

    Examples
    --------
    >>> d = pd.DataFrame({"study": [1, 1, 2], "yi": [0.2, 0.4, 0.1], "vi": [0.01, 0.01, 0.02]})
    >>> pt.meta.aggregate(d, cluster="study", rho=0.5)["vi"].round(4).tolist()
    [0.0075, 0.02]
    """
    frame = _data.as_frame(data)
    k = len(frame)
    cl = _col(frame, cluster, "cluster", k)
    y = _data.numeric(frame[yi], yi) if yi in frame.columns else None
    if y is None or vi not in frame.columns:
        raise ValueError(f"data needs the columns {yi!r} and {vi!r} (effect sizes and sampling variances)")
    v = _data.numeric(frame[vi], vi)
    codes, uniq = pd.factorize(pd.Series(cl))
    n = len(uniq)
    if V is None:
        struct = str(struct).upper()
        if struct not in ("ID", "CS", "CAR", "CS+CAR", "CS*CAR"):
            raise ValueError(f"struct must be 'ID', 'CS', 'CAR', 'CS+CAR' or 'CS*CAR'; got {struct!r}")
        R = np.zeros((k, k))
        same = codes[:, None] == codes[None, :]
        if struct == "ID":
            pass
        else:
            rr = _per_cluster(rho, n, "rho") if "CS" in struct else None
            pp = _per_cluster(phi, n, "phi") if "CAR" in struct else None
            if pp is not None:
                if time is None:
                    raise ValueError(f"struct {struct!r} needs time")
                tt = _col(frame, time, "time", k).astype(float)
                car = pp[codes][:, None] ** np.abs(tt[:, None] - tt[None, :])
            if struct == "CS":
                R = np.where(same, rr[codes][:, None] * np.ones(k), 0.0)
            elif struct == "CAR":
                R = np.where(same, car, 0.0)
            elif struct == "CS+CAR":
                r_ = rr[codes][:, None]
                R = np.where(same, r_ + (1 - r_) * car, 0.0)
            else:
                if obs is None:
                    raise ValueError("struct 'CS*CAR' needs obs")
                ob = pd.Series(_col(frame, obs, "obs", k)).astype(str).to_numpy()
                r_ = np.where(ob[:, None] == ob[None, :], 1.0, rr[codes][:, None])
                R = np.where(same, r_ * car, 0.0)
        np.fill_diagonal(R, 1.0)
        s = np.sqrt(v)
        Vm = s[:, None] * R * s[None, :]
    else:
        Vm = np.asarray(V, dtype=float)
        if Vm.ndim == 1:
            Vm = np.diag(Vm)
        if Vm.shape != (k, k):
            raise ValueError(f"V must be {k} x {k}")
    keep = ~(np.isnan(y) | np.isnan(Vm).any(axis=1))
    frame, y, Vm, codes = frame.loc[keep], y[keep], Vm[np.ix_(keep, keep)], codes[keep]
    order = pd.unique(codes)
    yi_agg, vi_agg, sizes, bad = [], [], [], []
    for c in order:
        idx = np.flatnonzero(codes == c)
        Vc = Vm[np.ix_(idx, idx)]
        if checkpd and np.any(np.linalg.eigvalsh(Vc) <= np.finfo(float).eps):
            bad.append(str(uniq[c]))
        if weighted:
            try:
                Wc = np.linalg.inv(np.linalg.cholesky(Vc))
                Wc = Wc.T @ Wc
            except np.linalg.LinAlgError:
                raise ValueError(f"cannot invert the var-cov matrix in cluster {uniq[c]}") from None
            sw = Wc.sum()
            yi_agg.append(float((Wc @ y[idx]).sum() / sw))
            vi_agg.append(float(1 / sw))
        else:
            yi_agg.append(float(y[idx].mean()))
            vi_agg.append(float(Vc.sum() / len(idx) ** 2))
        sizes.append(len(idx))
    if bad:
        warnings.warn(f"the var-cov matrix appears to be not positive definite in cluster(s) {', '.join(bad)}",
                      UserWarning, stacklevel=2)
    rows = []
    for c in order:
        part = frame.iloc[np.flatnonzero(codes == c)]
        row = {}
        for col in frame.columns:
            s = part[col]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                row[col] = float(s.astype(float).mean()) if s.notna().any() else np.nan
            else:
                counts = s.dropna().astype(str).value_counts()
                if counts.empty:
                    row[col] = np.nan
                else:
                    top = counts[counts == counts.max()].index
                    row[col] = sorted(top)[-1]
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(frame.columns))
    out[yi] = yi_agg
    out[vi] = vi_agg
    if addk:
        out["ki"] = sizes
    out.attrs = dict(frame.attrs)
    return out


def _per_cluster(x, n, name):
    if x is None:
        raise ValueError(f"give {name} for this structure")
    a = np.atleast_1d(np.asarray(x, dtype=float))
    if a.size == 1:
        a = np.full(n, a[0])
    if a.size != n:
        raise ValueError(f"{name} must be one value or one per cluster ({n})")
    if np.any(np.abs(a) > 1):
        raise ValueError(f"{name} must lie in [-1, 1]")
    return a
