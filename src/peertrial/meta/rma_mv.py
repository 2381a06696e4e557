"""Multilevel and multivariate meta-analytic models (metafor's ``rma.mv``).

The model is ``y = X b + sum_s Z_s u_s + (inner|outer effects) + e`` with
``e ~ N(0, V)`` (``V`` a vector of sampling variances or a known, usually block-diagonal,
variance-covariance matrix), independent random intercepts ``u_s ~ N(0, sigma2_s I)``
for every level of each ``~ 1 | group`` term (``~ 1 | a/b`` nests ``b`` in ``a``: one
term for ``a`` and one for ``a/b``), and for a ``~ inner | outer`` term correlated
effects of the levels of ``inner`` within every level of ``outer`` with covariance
``G`` of structure ``struct``:

- ``"CS"`` compound symmetry: ``tau2`` on the diagonal, ``rho tau2`` off it;
- ``"HCS"``: ``tau2_l`` per level, ``rho sqrt(tau2_l tau2_m)`` off the diagonal;
- ``"UN"``: ``tau2_l`` per level and a correlation ``rho_lm`` per pair;
- ``"AR"``: ``tau2 rho^|l - m|`` over the sorted levels (equally spaced time points);
- ``"HAR"``: ``sqrt(tau2_l tau2_m) rho^|l - m|``;
- ``"ID"``: ``tau2`` on the diagonal, 0 off it;
- ``"DIAG"``: ``tau2_l`` per level, 0 off the diagonal;
- ``"CAR"``: continuous-time AR, ``tau2 rho^|t_l - t_m|`` over the numeric values of
  ``inner`` (unequally spaced times; ``0 <= rho <= 1``);
- ``"SPEXP"``, ``"SPGAU"``, ``"SPLIN"``, ``"SPRAT"``, ``"SPSPH"``: spatial correlation
  ``tau2 f(d / rho)`` of the distance ``d`` between the points (``inner`` a formula of
  coordinates, Euclidean/maximum/manhattan distance, or one column whose levels name the
  rows and columns of a distance matrix ``dist``) with range ``rho > 0``: exponential
  ``exp(-d/rho)``, Gaussian ``exp(-d^2/rho^2)``, linear ``(1 - d/rho)`` for ``d < rho``,
  rational quadratic ``1 - (d/rho)^2 / (1 + (d/rho)^2)``, spherical
  ``1 - 3/2 d/rho + 1/2 (d/rho)^3`` for ``d < rho``;
- ``"GEN"``: random coefficients: ``inner`` is a formula (``~ x | study`` gives a random
  intercept and slope of ``x`` per study), ``tau2_j`` per coefficient and a correlation per
  pair (unstructured), the covariance of rows ``i, j`` of the same outer level being
  ``z_i' G z_j``.

A second ``~ inner | outer`` term has parameters ``gamma2``/``phi``, as metafor.

Estimation maximises the (restricted) log-likelihood with analytic gradients by
bounded quasi-Newton (scipy's L-BFGS-B; variances on the log scale, correlations on
the Fisher-z scale) followed by Fisher-scoring polishing steps, so the optimum is
reached to well below metafor's tolerance. The fixed effects, their covariance
(``(X'M^-1X)^-1``), z or t tests, ``QE`` (on ``V`` alone) and ``QM`` and the fit
statistics (``fitstats``) follow ``rma.mv`` in metafor 3.8.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._lazy import lazy_module
from peertrial._results import Result, format_number, format_pval, format_table
from peertrial._warnings import ConvergenceWarning
from peertrial.meta.rma import FitStatistics

linalg = lazy_module("scipy.linalg")
optimize = lazy_module("scipy.optimize")
stats = lazy_module("scipy.stats")
special = lazy_module("scipy.special")

__all__ = ["rma_mv", "RMAMVResult"]

SPATIAL = ("SPEXP", "SPGAU", "SPLIN", "SPRAT", "SPSPH")
STRUCTS = ("CS", "HCS", "UN", "AR", "HAR", "ID", "DIAG", "CAR", "GEN", *SPATIAL)
_LOGVAR_BOUNDS = (np.log(1e-12), np.log(1e8))
_Z_BOUND = 9.0  # |rho| <= tanh(9) = 0.99999997


# ----------------------------------------------------------------------------- random-effects terms
@dataclass
class _SigmaTerm:
    name: str
    codes: np.ndarray
    nlevels: int
    levels: list = field(default_factory=list)

    def matrix(self):
        return (self.codes[:, None] == self.codes[None, :]).astype(float)

    def label(self):
        return self.name

    def labels(self):
        return [str(x) for x in self.levels] if self.levels else [str(j + 1) for j in range(self.nlevels)]


@dataclass
class _GTerm:
    inner: str
    outer: str
    struct: str
    inner_codes: np.ndarray
    outer_codes: np.ndarray
    levels: list
    outer_levels: list = field(default_factory=list)
    n_var: int = 0
    n_cor: int = 0
    same_outer: np.ndarray = field(default=None, repr=False)
    Z: np.ndarray = field(default=None, repr=False)  # GEN: the inner formula's design (k x q)
    dist: np.ndarray = field(default=None, repr=False)  # spatial: distances between the levels (L x L)

    def __post_init__(self):
        L = len(self.levels)
        self.n_var = L if self.struct in ("HCS", "UN", "HAR", "DIAG", "GEN") else 1
        self.n_cor = {"UN": L * (L - 1) // 2, "GEN": L * (L - 1) // 2, "ID": 0, "DIAG": 0}.get(self.struct, 1)
        self.same_outer = (self.outer_codes[:, None] == self.outer_codes[None, :]).astype(float)
        # position in the flattened L x L matrix G of every pair of rows (expand without fancy 2-D indexing)
        self.flat = self.inner_codes[:, None] * L + self.inner_codes[None, :]
        if self.struct == "CAR":
            t = np.asarray(self.levels, dtype=float)
            self.lags = np.abs(t[:, None] - t[None, :])
        if self.struct in SPATIAL:
            self.n_var = self.n_cor = 1

    def G(self, var, cor):
        """Covariance of the inner levels (works with complex input for complex-step derivatives)."""
        L = len(self.levels)
        dtype = np.result_type(var, cor, float)
        var = np.asarray(var, dtype=dtype)
        cor = np.asarray(cor, dtype=dtype)
        v = np.broadcast_to(var, (L,)) if var.size == 1 else var
        sd = np.sqrt(v)
        idx = np.arange(L)
        if self.struct in ("CS", "HCS"):
            R = np.full((L, L), cor[0], dtype=dtype)
            np.fill_diagonal(R, 1.0)
        elif self.struct in ("AR", "HAR"):
            R = cor[0] ** np.abs(idx[:, None] - idx[None, :])
        elif self.struct == "CAR":
            R = cor[0] ** self.lags
        elif self.struct in SPATIAL:
            R = _spatial(self.struct, self.dist, cor[0])
        elif self.struct in ("UN", "GEN"):
            R = np.eye(L, dtype=dtype)
            iu = np.triu_indices(L, 1)
            R[iu] = cor
            R[(iu[1], iu[0])] = cor
        else:  # ID, DIAG
            R = np.eye(L, dtype=dtype)
        return (sd[:, None] * sd[None, :]) * R

    def expand(self, G):
        if self.Z is not None:
            return self.same_outer * (self.Z @ G @ self.Z.T)
        return self.same_outer * G.reshape(-1)[self.flat]

    def label(self):
        return f"~{self.inner} | {self.outer}"

    def blup_rows(self):
        if self.struct in SPATIAL:  # one effect per row, named by its row number (as metafor)
            rows = np.arange(len(self.inner_codes))
            outer = self.outer_levels
            return rows, rows, [f"{i + 1} | {outer[self.outer_codes[i]]}" for i in rows]
        return self._blup_rows_levels()

    def _blup_rows_levels(self):
        """First row of every (inner, outer) combination, their order (outer, then inner) and labels."""
        pairs = self.outer_codes.astype(np.int64) * (len(self.levels) + 1) + self.inner_codes
        _, first = np.unique(pairs, return_index=True)
        order = np.lexsort((self.inner_codes[first], self.outer_codes[first]))
        first = first[order]
        outer = self.outer_levels or [str(j + 1) for j in range(int(self.outer_codes.max()) + 1)]
        labels = [f"{self.levels[self.inner_codes[i]]} | {outer[self.outer_codes[i]]}" for i in first]
        return first, np.arange(len(first)), labels


def _spatial(struct, D, rho):
    """Spatial correlation of distances ``D`` at range ``rho`` (complex ``rho`` allowed)."""
    u = D / rho
    if struct == "SPEXP":
        return np.exp(-u)
    if struct == "SPGAU":
        return np.exp(-(u**2))
    if struct == "SPRAT":
        return 1 - u**2 / (1 + u**2)
    inside = D < np.real(rho)
    if struct == "SPLIN":
        return np.where(inside, 1 - u, 0)
    return np.where(inside, 1 - 1.5 * u + 0.5 * u**3, 0)  # SPSPH


def _spatial_levels(sub, inner, k, dist):
    """Codes of the rows' points, their labels and the distances between the points."""
    if isinstance(dist, pd.DataFrame):
        if not re.fullmatch(r"[A-Za-z_.][\w.]*", inner):
            raise ValueError(f"with a distance matrix, the inner term must be one column naming its rows; got {inner!r}")
        names = [str(x) for x in dist.index]
        if [str(x) for x in dist.columns] != names or len(set(names)) != len(names):
            raise ValueError("dist must be a square DataFrame with the same unique labels on rows and columns")
        D = dist.to_numpy(dtype=float)
        if np.isnan(D).any() or not np.allclose(D, D.T):
            raise ValueError("dist must be a symmetric distance matrix without missing values")
        vals = np.asarray(_column(sub, inner, k)).astype(str)
        lookup = {v: i for i, v in enumerate(names)}
        missing = sorted(set(vals) - set(lookup))
        if missing:
            raise ValueError(f"levels of {inner!r} missing from dist's labels: {missing[:5]}")
        used = sorted({lookup[v] for v in vals})
        pos = {j: i for i, j in enumerate(used)}
        codes = np.array([pos[lookup[v]] for v in vals])
        return codes, [names[j] for j in used], D[np.ix_(used, used)]
    method = "euclidean" if dist is None else str(dist).lower()
    if method not in ("euclidean", "maximum", "manhattan"):
        raise ValueError(f"dist must be 'euclidean', 'maximum', 'manhattan' or a distance matrix; got {dist!r}")
    from peertrial import _design as _builder

    cols = _builder.variables("~ " + inner)
    C = np.column_stack([_data.numeric(sub[c], c) for c in cols])
    pts, codes = np.unique(C, axis=0, return_inverse=True)
    diff = np.abs(pts[:, None, :] - pts[None, :, :])
    D = {"euclidean": lambda a: np.sqrt(np.sum(a**2, axis=2)), "maximum": lambda a: a.max(axis=2),
         "manhattan": lambda a: a.sum(axis=2)}[method](diff)
    return np.asarray(codes).ravel(), [" + ".join(f"{x:g}" for x in p) for p in pts], D


def _parse_random(random):
    if random is None:
        return []
    items = [random] if isinstance(random, str) else list(random)
    out = []
    for item in items:
        m = re.match(r"^\s*~\s*(.+?)\s*\|\s*(.+?)\s*$", str(item))
        if not m:
            raise ValueError(f"random term {item!r} must look like '~ 1 | group', '~ 1 | a/b' or '~ inner | outer'")
        lhs, rhs = m.group(1).strip(), m.group(2).strip()
        if lhs == "1":
            parts = [p.strip() for p in rhs.split("/")]
            if not all(parts):
                raise ValueError(f"random term {item!r}: empty grouping variable")
            for j in range(len(parts)):
                out.append(("sigma", parts[: j + 1]))
        else:
            if "/" in rhs or "/" in lhs:
                raise ValueError(f"random term {item!r}: nesting is only supported in '~ 1 | a/b' terms")
            out.append(("g", (lhs, rhs)))
    return out


def _column(frame, name, n):
    if frame is None or name not in frame.columns:
        raise ValueError(f"random effects use the column {name!r}, which is not in data")
    values = frame[name].to_numpy()
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} values but there are {n} estimates")
    return values


def _codes(values):
    """Integer codes of the sorted levels (numbers numerically, text alphabetically)."""
    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s):
        levels = np.unique(s.to_numpy(dtype=float))
        codes = np.searchsorted(levels, s.to_numpy(dtype=float))
        return codes, [float(x) if not float(x).is_integer() else int(x) for x in levels]
    levels = sorted(set(s.astype(str)))
    lookup = {v: i for i, v in enumerate(levels)}
    return np.array([lookup[v] for v in s.astype(str)]), levels


# ----------------------------------------------------------------------------- parameter handling
class _Params:
    """Maps the free (transformed) parameter vector to variance components and back."""

    def __init__(self, sig_terms, g_terms, fixed):
        self.sig_terms, self.g_terms = sig_terms, g_terms
        self.entries = []  # (kind, term, position, is_var, fixed value or None)
        fs = _fixed_list(fixed.get("sigma2"), len(sig_terms), "sigma2")
        for i in range(len(sig_terms)):
            self.entries.append(("sigma2", i, 0, True, fs[i]))
        names = [("tau2", "rho"), ("gamma2", "phi")]
        for gi, g in enumerate(g_terms):
            vname, cname = names[gi]
            fv = _fixed_list(fixed.get(vname), g.n_var, vname)
            fc = _fixed_list(fixed.get(cname), g.n_cor, cname)
            zero = [j for j in range(g.n_var) if fv[j] == 0.0]
            if zero and fc and g.struct == "UN":
                L = len(g.levels)
                pairs = list(zip(*np.triu_indices(L, 1)))
                fc = [0.0 if (fc[j] is None and (a in zero or b in zero)) else fc[j] for j, (a, b) in enumerate(pairs)]
            elif zero and g.n_cor and (g.n_var == 1 or g.struct in ("HCS", "HAR")):
                fc = [0.0 if x is None else x for x in fc]
            for j in range(g.n_var):
                self.entries.append((vname, gi, j, True, fv[j]))
            for j in range(g.n_cor):
                self.entries.append((cname, gi, j, False, fc[j]))
        self.free = [i for i, e in enumerate(self.entries) if e[4] is None]
        # scale of the free parameter: log variances, Fisher-z correlations, logit for CAR's rho in (0, 1)
        def kind(e):
            if e[3]:
                return "log"
            st = g_terms[e[1]].struct
            return "logit" if st == "CAR" else ("log" if st in SPATIAL else "tanh")

        self.kinds = [kind(e) for e in self.entries]

    def values(self, theta):
        """Natural-scale values of every entry (fixed ones included)."""
        vals = []
        it = iter(theta)
        for e, kind in zip(self.entries, self.kinds):
            if e[4] is not None:
                vals.append(e[4] + 0 * (theta[0] if len(theta) else 0))
            else:
                vals.append(_forward(kind, next(it)))
        return vals

    def to_theta(self, vals):
        return np.array([_inverse(kind, v, clip=True) for e, kind, v in zip(self.entries, self.kinds, vals)
                         if e[4] is None], dtype=float)

    def bounds(self):
        return [_BOUNDS[self.kinds[i]] for i in self.free]

    def edges(self, i):
        """Ends of the parameter space of entry ``i`` on its natural scale (profile CIs)."""
        return {"tanh": (-0.999999, 0.999999), "logit": (1e-6, 0.999999)}.get(self.kinds[i], (0.0, np.inf))

    def parts(self, vals):
        """sigma2 list and, per G-term, (var array, cor array)."""
        sig = [vals[i] for i, e in enumerate(self.entries) if e[0] == "sigma2"]
        gs = []
        for gi, g in enumerate(self.g_terms):  # noqa: B007
            var = [vals[i] for i, e in enumerate(self.entries) if e[1] == gi and e[3] and e[0] != "sigma2"]
            cor = [vals[i] for i, e in enumerate(self.entries) if e[1] == gi and not e[3]]
            gs.append((np.array(var), np.array(cor)))
        return sig, gs


_BOUNDS = {"log": _LOGVAR_BOUNDS, "tanh": (-_Z_BOUND, _Z_BOUND), "logit": (-2 * _Z_BOUND, 2 * _Z_BOUND)}


def _forward(kind, t):
    if kind == "log":
        return np.exp(t)
    if kind == "tanh":
        return np.tanh(t)
    return 1 / (1 + np.exp(-t))


def _inverse(kind, v, clip=False):
    if kind == "log":
        return np.log(max(v, 1e-10)) if clip else np.log(v)
    if kind == "tanh":
        return np.arctanh(np.clip(v, -0.99, 0.99)) if clip else np.arctanh(v)
    v = np.clip(v, 0.01, 0.99) if clip else v
    return np.log(v / (1 - v))


def _fixed_list(spec, n, name):
    if spec is None:
        return [None] * n
    items = [spec] if np.isscalar(spec) else list(spec)
    if len(items) == 1 and n > 1:
        items = items * n
    if len(items) != n:
        raise ValueError(f"{name} must have {n} value(s) (None/NaN = estimate); got {len(items)}")
    out = []
    for x in items:
        if x is None or (isinstance(x, float) and np.isnan(x)):
            out.append(None)
        else:
            x = float(x)
            if name in ("sigma2", "tau2", "gamma2") and x < 0:
                raise ValueError(f"{name} values must be non-negative; got {x}")
            if name in ("rho", "phi") and not -1 <= x <= 1:
                raise ValueError(f"{name} values must lie in [-1, 1]; got {x}")
            out.append(x)
    return out


# ----------------------------------------------------------------------------- likelihood
class _Block:
    """Rows of one size of independent cluster (a connected block of ``M``), stacked: the pieces
    of ``M`` on those rows as (n_blocks, m, m) arrays, and ``X``, ``y`` as (n_blocks, m, .)."""

    def __init__(self, rows, model):
        self.rows = rows  # (n_blocks, m) row indices
        ii, jj = rows[:, :, None], rows[:, None, :]
        self.V = model.V[ii, jj]
        self.S = [S[ii, jj] for S in model.sig_mats]
        self.same = [g.same_outer[ii, jj] for g in model.params.g_terms]
        self.flat = [g.flat[ii, jj] for g in model.params.g_terms]
        self.Z = [None if g.Z is None else g.Z[rows] for g in model.params.g_terms]
        self.X = model.X[rows]
        self.y = model.y[rows]

    def expand(self, gi, G):
        if self.Z[gi] is not None:
            Z = self.Z[gi]
            return self.same[gi] * (Z @ G @ np.swapaxes(Z, 1, 2))
        return self.same[gi] * G.reshape(-1)[self.flat[gi]]


class _Model:
    def __init__(self, y, V, X, params, sig_mats, method, blocks=None):
        self.y, self.V, self.X, self.params, self.method = y, V, X, params, method
        self.sig_mats = sig_mats
        self.k, self.p = X.shape
        self.ld_xx = np.linalg.slogdet(X.T @ X)[1]
        self.blocks = self._find_blocks(blocks)

    def _find_blocks(self, use):
        """Independent clusters of rows (``M`` block-diagonal after reordering): with ``use=None``
        block algebra when k >= 200 and no block holds more than half the rows; True/False force it."""
        if isinstance(use, list):  # the blocks of a model with the same terms (profiles)
            return use
        if use is False or (use is None and self.k < 200):
            return None
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        linked = self.V != 0
        for S in self.sig_mats:
            linked |= S != 0
        for g in self.params.g_terms:
            linked |= g.same_outer != 0
        n, labels = connected_components(csr_matrix(linked), directed=False)
        sizes = np.bincount(labels)
        if n < 2 or (use is None and sizes.max() > self.k / 2):
            return None
        order = np.argsort(labels, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        by_size = {}
        for c in range(n):
            by_size.setdefault(int(sizes[c]), []).append(order[starts[c]:starts[c + 1]])
        return [_Block(np.array(rows), self) for _, rows in sorted(by_size.items())]

    def marginal(self, theta):
        vals = self.params.values(theta)
        sig, gs = self.params.parts(vals)
        M = self.V.copy()
        for s2, S in zip(sig, self.sig_mats):
            M = M + s2 * S
        for g, (var, cor) in zip(self.params.g_terms, gs):
            M = M + g.expand(g.G(var, cor))
        return M

    def derivs(self, theta):
        """dM/dtheta_j for the free parameters (complex step on the small G matrices)."""
        out = []
        h = 1e-30
        free_pos = {idx: j for j, idx in enumerate(self.params.free)}
        for idx in self.params.free:
            e = self.params.entries[idx]
            t = theta[free_pos[idx]]
            if e[0] == "sigma2":
                out.append(np.exp(t) * self.sig_mats[e[1]])
                continue
            th = theta.astype(complex)
            th[free_pos[idx]] += 1j * h
            vals = self.params.values(th)
            _, gs = self.params.parts(vals)
            g = self.params.g_terms[e[1]]
            var, cor = gs[e[1]]
            dG = np.imag(g.G(var, cor)) / h
            out.append(g.expand(dG))
        return out

    def evaluate(self, theta, grad=False, info=False, full=False):
        """Log-likelihoods, estimates and (optionally) gradient and Fisher information at ``theta``;
        the block algebra forms the k x k ``M`` only with ``full=True``."""
        if self.blocks is not None:
            return self._evaluate_blocks(theta, grad, info, full)
        M = self.marginal(theta)
        try:
            c = linalg.cho_factor(M, lower=True, check_finite=True)
        except (np.linalg.LinAlgError, ValueError):
            return None
        logdet = 2 * np.sum(np.log(np.diag(c[0])))
        inv, info_ = linalg.lapack.dpotri(c[0], lower=1)
        if info_ != 0:
            return None
        W = np.tril(inv) + np.tril(inv, -1).T
        WX = W @ self.X
        XtWX = self.X.T @ WX
        try:
            A = np.linalg.inv(XtWX)
        except np.linalg.LinAlgError:
            return None
        b = A @ (WX.T @ self.y)
        r = self.y - self.X @ b
        Wr = W @ r
        RSS = float(r @ Wr)
        ld_xwx = np.linalg.slogdet(XtWX)[1]
        k, p = self.k, self.p
        ll_ml = -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet - 0.5 * RSS
        ll_reml = -0.5 * (k - p) * np.log(2 * np.pi) + 0.5 * self.ld_xx - 0.5 * logdet - 0.5 * ld_xwx - 0.5 * RSS
        out = {"M": M, "W": W, "A": A, "b": b, "r": r, "ll_ML": ll_ml, "ll_REML": ll_reml}
        out["ll"] = ll_reml if self.method == "REML" else ll_ml
        if grad or info:
            Pm = W - WX @ A @ WX.T if self.method == "REML" else W
            D = self.derivs(theta)
            g = np.array([-0.5 * np.sum(Pm * Dj) + 0.5 * Wr @ Dj @ Wr for Dj in D])
            out["grad"] = g
            if info:
                PD = [Pm @ Dj for Dj in D]
                n = len(D)
                I = np.empty((n, n))  # noqa: E741
                for i in range(n):
                    for j in range(i, n):
                        I[i, j] = I[j, i] = 0.5 * np.sum(PD[i] * PD[j].T)
                out["info"] = I
        return out

    def _evaluate_blocks(self, theta, grad, info, full):
        """As ``evaluate`` with block-diagonal algebra: every cluster's block factored on its own
        (stacked by block size), traces and quadratic forms of ``P = W - W X A X'W`` expanded
        through p x p sums, so no k x k matrix is formed."""
        vals = self.params.values(theta)
        sig, gs = self.params.parts(vals)
        Gs = [g.G(var, cor) for g, (var, cor) in zip(self.params.g_terms, gs)]
        p = self.p
        XtWX = np.zeros((p, p))
        XtWy = np.zeros(p)
        logdet = 0.0
        parts = []
        for bk in self.blocks:
            Mb = bk.V.copy()
            for s2, S in zip(sig, bk.S):
                Mb += s2 * S
            for gi, G in enumerate(Gs):
                Mb += bk.expand(gi, G)
            try:
                L = np.linalg.cholesky(Mb)
            except np.linalg.LinAlgError:
                return None
            logdet += 2 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
            Wb = np.linalg.inv(Mb)
            Wb = (Wb + np.swapaxes(Wb, 1, 2)) / 2
            WXb = Wb @ bk.X
            XtWX += np.einsum("bmp,bmq->pq", bk.X, WXb)
            XtWy += np.einsum("bmp,bm->p", WXb, bk.y)
            parts.append((Wb, WXb))
        try:
            A = np.linalg.inv(XtWX)
        except np.linalg.LinAlgError:
            return None
        b = A @ XtWy
        RSS = 0.0
        Wrs = []
        for bk, (Wb, _) in zip(self.blocks, parts):
            rb = bk.y - bk.X @ b
            Wrb = np.einsum("bmn,bn->bm", Wb, rb)
            RSS += float(np.sum(rb * Wrb))
            Wrs.append(Wrb)
        k = self.k
        ld_xwx = np.linalg.slogdet(XtWX)[1]
        ll_ml = -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet - 0.5 * RSS
        ll_reml = -0.5 * (k - p) * np.log(2 * np.pi) + 0.5 * self.ld_xx - 0.5 * logdet - 0.5 * ld_xwx - 0.5 * RSS
        out = {"M": self.marginal(theta) if full else None, "A": A, "b": b, "ll_ML": ll_ml, "ll_REML": ll_reml}
        out["ll"] = ll_reml if self.method == "REML" else ll_ml
        if not (grad or info):
            return out
        reml = self.method == "REML"
        D = self._block_derivs(theta)  # per free parameter: list over blocks of (n_blocks, m, m)
        n = len(D)
        g = np.empty(n)
        E = []
        for j in range(n):
            trWD = quad = 0.0
            Ej = np.zeros((p, p))
            for (Wb, WXb), Wrb, Db in zip(parts, Wrs, D[j]):
                trWD += float(np.sum(Wb * Db))
                quad += float(np.sum(Wrb * np.einsum("bmn,bn->bm", Db, Wrb)))
                Ej += np.einsum("bmp,bmq->pq", WXb, Db @ WXb)
            E.append(Ej)
            trPD = trWD - float(np.sum(A * Ej)) if reml else trWD
            g[j] = -0.5 * trPD + 0.5 * quad
        out["grad"] = g
        if info:
            I = np.empty((n, n))  # noqa: E741
            WD = [[Wb @ Db for (Wb, _), Db in zip(parts, D[j])] for j in range(n)]
            UD = [[Db @ WXb for (_, WXb), Db in zip(parts, D[j])] for j in range(n)]
            for i in range(n):
                for j in range(i, n):
                    T = sum(float(np.einsum("bij,bji->", a, c)) for a, c in zip(WD[i], WD[j]))
                    if reml:
                        F = sum(np.einsum("bmp,bmq->pq", ui, Wb @ uj) for ui, (Wb, _), uj in zip(UD[i], parts, UD[j]))
                        T = T - 2 * float(np.sum(A * F.T)) + float(np.sum((A @ E[i]) * (A @ E[j]).T))
                    I[i, j] = I[j, i] = 0.5 * T
            out["info"] = I
        return out

    def _block_derivs(self, theta):
        """dM/dtheta_j per block group (complex step on the small G matrices), as ``derivs``."""
        out = []
        h = 1e-30
        free_pos = {idx: j for j, idx in enumerate(self.params.free)}
        for idx in self.params.free:
            e = self.params.entries[idx]
            t = theta[free_pos[idx]]
            if e[0] == "sigma2":
                out.append([np.exp(t) * bk.S[e[1]] for bk in self.blocks])
                continue
            th = theta.astype(complex)
            th[free_pos[idx]] += 1j * h
            _, gs = self.params.parts(self.params.values(th))
            g = self.params.g_terms[e[1]]
            var, cor = gs[e[1]]
            dG = np.imag(g.G(var, cor)) / h
            out.append([bk.expand(e[1], dG) for bk in self.blocks])
        return out


def _optimise(model, theta0, maxiter):
    n = len(theta0)
    if n == 0:
        return theta0, True, 0, "no variance components to estimate"
    bounds = model.params.bounds()

    def fun(th):
        ev = model.evaluate(th, grad=True)
        if ev is None:
            return 1e300, np.zeros_like(th)
        return -ev["ll"], -ev["grad"]

    res = optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": maxiter, "ftol": 1e-10, "gtol": 1e-6, "maxcor": 20})
    theta = np.clip(res.x, [b[0] for b in bounds], [b[1] for b in bounds])
    iters = int(res.nit)
    # Fisher-scoring polish of the interior parameters (capped, ascent checked)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    ev = model.evaluate(theta, grad=True, info=True, full=False)
    converged = ev is not None
    for _ in range(50):
        if ev is None:
            converged = False
            break
        inner = (theta > lo + 1e-8) & (theta < hi - 1e-8)
        if not inner.any():
            break
        g, I = ev["grad"][inner], ev["info"][np.ix_(inner, inner)]  # noqa: E741
        try:
            step = np.linalg.solve(I, g)
        except np.linalg.LinAlgError:
            break
        if np.max(np.abs(step)) < 1e-10 or 0.5 * float(g @ step) < 1e-12:  # Newton decrement: at the optimum
            break
        accepted = False
        for _h in range(30):
            cand = theta.copy()
            cand[inner] = np.clip(theta[inner] + step, lo[inner], hi[inner])
            ev_c = model.evaluate(cand, full=False)
            if ev_c is not None and ev_c["ll"] >= ev["ll"] - 1e-13:
                theta, accepted = cand, True
                ev = model.evaluate(theta, grad=True, info=True, full=False)
                break
            step = step / 2
        iters += 1
        if not accepted:
            break
    if ev is not None:
        inner = (theta > lo + 1e-8) & (theta < hi - 1e-8)
        scale = np.maximum(1.0, np.abs(ev["ll"]))
        converged = bool(np.all(np.abs(ev["grad"][inner]) <= 1e-4 * scale))
    return theta, converged, iters, str(res.message)


# ----------------------------------------------------------------------------- public function
def rma_mv(
    yi,
    V=None,
    data: pd.DataFrame | None = None,
    *,
    random=None,
    mods=None,
    intercept: bool = True,
    method: str = "REML",
    test: str = "z",
    struct="CS",
    sigma2=None,
    tau2=None,
    rho=None,
    gamma2=None,
    phi=None,
    level: float = 95,
    slab=None,
    control=None,
    dist=None,
) -> RMAMVResult:
    """Fit a multilevel / multivariate meta-analytic model (metafor ``rma.mv``).

    Parameters
    ----------
    yi : str or array-like
        Effect sizes (column of ``data`` or values).
    V : str, array-like or 2-D array
        Sampling variances (column or vector) or their variance-covariance matrix
        (k x k, e.g. from :func:`vcalc`).
    data : DataFrame, optional
        Holds the columns named in ``yi``, ``V``, ``random``, ``mods`` and ``slab``.
    random : str or list of str, optional
        Random-effects terms: ``"~ 1 | study"``, nested ``"~ 1 | study/es"``, or
        ``"~ inner | outer"`` (correlated effects of the levels of ``inner`` within
        ``outer``, structure from ``struct``); several terms as a list.
    mods : str or array-like, optional
        Moderators: a formula (``"~ year + type"``, evaluated on ``data``) or a matrix;
        an intercept is added unless ``intercept=False`` (or the formula has ``- 1``).
    intercept : bool
        Add an intercept to ``mods`` (default True).
    method : {"REML", "ML"}
        Restricted (default) or full maximum likelihood.
    test : {"z", "t"}
        ``"t"``: t and F tests with ``k - p`` degrees of freedom.
    struct : str or list of str
        Structure of each ``~ inner | outer`` term: "CS", "HCS", "UN", "AR", "HAR", "ID", "DIAG",
        "CAR" (numeric times), "GEN" (``inner`` a formula: random coefficients) or the spatial
        "SPEXP", "SPGAU", "SPLIN", "SPRAT", "SPSPH" (see ``dist``).
    sigma2, tau2, rho, gamma2, phi : float or list, optional
        Values at which components are fixed (None/NaN entries are estimated), as metafor.
    level : float
        Confidence level (95 or 0.95).
    slab : str or array-like, optional
        Labels of the estimates (default the row labels of ``data``, or 1..k).
    dist : str, DataFrame or list, optional
        Spatial structures: "euclidean" (default), "maximum" or "manhattan" distance between
        the coordinates named in the inner formula, or a square distance matrix (DataFrame
        whose row and column labels are the levels of the inner column), as metafor's
        ``dist``; a list gives one per ``~ inner | outer`` term.
    control : dict, optional
        ``rho_init`` (start of a spatial range; default the lower quartile of the
        distances), ``maxiter`` (L-BFGS-B iterations, default 1000), ``sigma2_init``, ``blocks``
        (True/False: force or forbid block-diagonal algebra over independent clusters; by
        default used when k >= 200 and no cluster holds more than half the rows).

    Returns
    -------
    RMAMVResult
        ``b``, ``se``, ``zval``, ``pval``, ``ci_lb``, ``ci_ub``, ``vb``, ``sigma2``,
        ``tau2``, ``rho``, ``gamma2``, ``phi``, ``QE``, ``QEp``, ``QM``, ``QMp``,
        ``loglik``/``aic``/``bic``/``aicc``/``deviance`` and ``fitstats()``,
        ``predict()``, ``to_frame()``, ``summary()``.

    Notes
    -----
    R equivalent: ``metafor::rma.mv`` (metafor 3.8-1); estimates reach metafor's optimum (the
    likelihood is maximised by L-BFGS-B with analytic gradients and polished by Fisher
    scoring).

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Konstantopoulos, S. (2011). Fixed effects and variance components estimation in
       three-level meta-analysis. Research Synthesis Methods, 2, 61-76.

    Examples
    --------
    >>> d = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.0, 0.6, 0.2],
    ...                   "vi": [0.02, 0.03, 0.02, 0.04, 0.03, 0.02, 0.05, 0.03],
    ...                   "study": [1, 1, 2, 2, 3, 3, 4, 4], "es": [1, 2, 1, 2, 1, 2, 1, 2]})
    >>> fit = pt.meta.rma_mv("yi", "vi", data=d, random="~ 1 | study/es")
    >>> len(fit.sigma2)
    2
    """
    from peertrial import _design as _builder
    from peertrial.meta.rma import _design, _drop_redundant

    method = str(method).upper()
    if method not in ("REML", "ML"):
        raise ValueError(f"method must be 'REML' or 'ML'; got {method!r}")
    test = str(test).lower()
    if test not in ("z", "t"):
        raise ValueError(f"test must be 'z' or 't'; got {test!r}")
    level = _level(level)
    frame = _data.as_frame(data) if data is not None else None
    y = _data.numeric(_data.column_or_array(frame, yi, "yi"), yi if isinstance(yi, str) else "yi")
    n = len(y)
    if V is None:
        raise ValueError("give V: sampling variances (vector) or their variance-covariance matrix")
    if isinstance(V, str) or np.ndim(V) <= 1:
        vname = V if isinstance(V, str) else "V"
        vvec = _data.numeric(_data.column_or_array(frame, V, "V"), vname)
        if len(vvec) != n:
            raise ValueError(f"yi has {n} values but {vname} has {len(vvec)}")
        Vmat = np.diag(vvec)
    else:
        Vmat = np.asarray(V, dtype=float)
        if Vmat.shape != (n, n):
            raise ValueError(f"V must be a vector of {n} variances or a {n} x {n} matrix; got shape {Vmat.shape}")
        if not np.allclose(Vmat, Vmat.T, rtol=1e-10, atol=1e-12, equal_nan=True):
            raise ValueError("V must be a symmetric matrix")
    X, names, info = _design(mods, frame, n, intercept)
    if slab is None:
        labels = pd.Index([str(x) for x in (frame.index if frame is not None else range(1, n + 1))])
    else:
        labels = pd.Index([str(x) for x in _data.column_or_array(frame, slab, "slab")])
    terms = _parse_random(random)
    group_cols = set()
    for kind, spec in terms:
        if kind == "sigma" or isinstance(dist, pd.DataFrame) or re.fullmatch(r"[A-Za-z_.][\w.]*", spec[0]):
            group_cols.update(spec)
        else:  # a formula as inner variable (struct GEN)
            group_cols.add(spec[1])
            group_cols.update(_builder.variables("~ " + spec[0]))
    group_cols = sorted(group_cols)
    missing = np.isnan(y) | np.isnan(np.diag(Vmat)) | np.isnan(X).any(axis=1)
    for c in group_cols:
        missing |= pd.isna(_column(frame, c, n))
    if missing.any():
        warnings.warn(f"{int(missing.sum())} rows with missing values omitted from model fitting: "
                      f"{_data.row_labels(labels, missing)}", UserWarning, stacklevel=2)
    keep = ~missing
    if not keep.any():
        raise ValueError("no rows left to fit after omitting missing values")
    y, X, Vmat, labels = y[keep], X[keep], Vmat[np.ix_(keep, keep)], labels[keep]
    if np.isnan(Vmat).any():
        raise ValueError("V has missing covariances among the rows used")
    if np.any(np.diag(Vmat) <= 0):
        raise ValueError("sampling variances (diagonal of V) must be positive")
    X, names, info = _drop_redundant(X, names, info)  # as metafor: dropped with a warning
    k, p = X.shape
    if k <= p:
        raise ValueError(f"the model has {p} coefficients but only {k} estimates")
    sub = frame.loc[keep] if frame is not None else None
    structs = [struct] if isinstance(struct, str) else list(struct)
    sig_terms, g_terms = [], []
    for kind, spec in terms:
        if kind == "sigma":
            vals = [np.asarray(_column(sub, c, k)).astype(str) for c in spec]
            joined = vals[0] if len(vals) == 1 else np.array(["\x1f".join(t) for t in zip(*vals)])
            codes, levels = _codes(joined)
            sig_terms.append(_SigmaTerm("/".join(spec), codes, len(levels),
                                        [str(x).replace("\x1f", "/") for x in levels]))
        else:
            if len(g_terms) == 2:
                raise ValueError("at most two '~ inner | outer' terms are supported (tau2/rho and gamma2/phi)")
            st = str(structs[min(len(g_terms), len(structs) - 1)]).upper()
            if st not in STRUCTS:
                raise ValueError(f"struct must be one of {', '.join(STRUCTS)}; got {st!r}")
            inner, outer = spec
            oc, olev = _codes(np.asarray(_column(sub, outer, k)).astype(str))
            if st in SPATIAL:
                dspec = dist[len(g_terms)] if isinstance(dist, (list, tuple)) else dist
                ic, ilev, D = _spatial_levels(sub, inner, k, dspec)
                if len(ilev) < 2:
                    raise ValueError(f"random term '~ {inner} | {outer}': struct {st!r} needs two or more points")
                g_terms.append(_GTerm(inner, outer, st, ic, oc, ilev, [str(x) for x in olev], dist=D))
                continue
            if st == "GEN":
                Z, znames, _ = _design("~ " + inner, sub, k, True)
                if np.isnan(Z).any():
                    raise ValueError(f"random term '~ {inner} | {outer}': missing values in its variables")
                g_terms.append(_GTerm(inner, outer, st, np.zeros(k, dtype=int), oc, list(znames),
                                      [str(x) for x in olev], Z=Z))
                continue
            if not re.fullmatch(r"[A-Za-z_.][\w.]*", inner):
                raise ValueError(f"random term '~ {inner} | {outer}': struct {st!r} needs one column as inner "
                                 "variable (formulas of several variables need struct='GEN')")
            ivals = _column(sub, inner, k)
            if st == "CAR" and not pd.api.types.is_numeric_dtype(pd.Series(ivals)):
                raise ValueError(f"struct 'CAR' needs numeric times in {inner!r}")
            ic, ilev = _codes(ivals)
            g_terms.append(_GTerm(inner, outer, st, ic, oc, ilev, [str(x) for x in olev]))
    fixed = {"sigma2": sigma2, "tau2": tau2, "rho": rho, "gamma2": gamma2, "phi": phi}
    for name, val in fixed.items():
        has = {"sigma2": bool(sig_terms), "tau2": bool(g_terms), "rho": bool(g_terms),
               "gamma2": len(g_terms) > 1, "phi": len(g_terms) > 1}[name]
        if val is not None and not has:
            raise ValueError(f"{name} given but the model has no such component")
    params = _Params(sig_terms, g_terms, fixed)
    ctrl = dict(control or {})
    with _one_blas_thread():  # the whole numerical part, result included (see _one_blas_thread)
        model = _Model(y, Vmat, X, params, [t.matrix() for t in sig_terms], method, blocks=ctrl.get("blocks"))
        theta0 = params.to_theta(_start_values(params, y, X, Vmat, ctrl))
        theta, converged, iters, message = _optimise(model, theta0, int(ctrl.get("maxiter", 1000)))
        ev = model.evaluate(theta, full=True)
        if ev is not None:
            sig, gs = params.parts(params.values(theta))
            result = _result(model, ev, names, labels, sig, gs, sig_terms, g_terms, params, method, test, level,
                             converged, iters, info, intercept, sub)
    if ev is None:
        raise ValueError("the marginal variance-covariance matrix is not positive definite at the estimates")
    if not converged:
        warnings.warn(f"rma_mv: optimisation may not have converged ({message})", ConvergenceWarning, stacklevel=2)
    return result


_BLAS_CONTROLLER = []


def _one_blas_thread():
    """Single-threaded BLAS for the many small dense products of the optimisation: on shared or
    busy machines multi-threaded BLAS spin-waiting made fits 20-50 times slower. The BLAS
    libraries are found once per process (after scipy.linalg has loaded its own), not per fit."""
    if not _BLAS_CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a declared dependency
            import contextlib

            return contextlib.nullcontext()
        linalg.cho_factor  # noqa: B018 - load scipy's BLAS before listing the libraries
        _BLAS_CONTROLLER.append(ThreadpoolController())
    return _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas")


def _level(level):
    return _data.level_percent(level)


def _start_values(params, y, X, V, ctrl):
    """Starting values: the residual heterogeneity of an OLS fit, spread over the components."""
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    total = max(float(np.mean(r**2) - np.mean(np.diag(V))), 0.01 * float(np.var(y)) + 1e-4)
    n_var = max(1, sum(1 for e in params.entries if e[3] and e[4] is None))
    out = []
    for e in params.entries:
        if e[4] is not None:
            out.append(e[4])
        elif e[3]:
            init = ctrl.get("sigma2_init") if e[0] == "sigma2" else ctrl.get("tau2_init")
            out.append(float(init) if init is not None else total / n_var)
        elif params.g_terms[e[1]].struct in SPATIAL:  # metafor: the lower quartile of the rows' distances
            g = params.g_terms[e[1]]
            init = ctrl.get("rho_init")
            if init is None:
                Dr = g.dist.reshape(-1)[g.flat]
                init = float(np.quantile(Dr[np.tril_indices(len(Dr), -1)], 0.25)) or 1.0
            out.append(float(init))
        else:
            out.append(0.5 if params.g_terms[e[1]].struct in ("AR", "HAR", "CAR") else 0.0)
    return out


# ----------------------------------------------------------------------------- results
def _result(model, ev, names, labels, sig, gs, sig_terms, g_terms, params, method, test, level, converged, iters,
            info, intercept, sub):
    k, p = model.k, model.p
    b, A = ev["b"], ev["A"]
    se = np.sqrt(np.diag(A))
    zval = b / se
    alpha = 1 - level / 100
    dfs = float(k - p) if test == "t" else np.nan
    # scipy.special's distribution functions (the ones scipy.stats calls; same values, less overhead)
    if test == "t":
        pval = 2 * special.stdtr(dfs, -np.abs(zval))
        crit = -special.stdtrit(dfs, alpha / 2)
    else:
        pval = 2 * special.ndtr(-np.abs(zval))
        crit = -special.ndtri(alpha / 2)
    icol = [j for j in range(p) if np.all(model.X[:, j] == 1)]
    btt = [j for j in range(p) if j not in icol] if (icol and p > 1) else list(range(p))
    QM = float(b[btt] @ np.linalg.solve(A[np.ix_(btt, btt)], b[btt]))
    m = len(btt)
    if test == "t":
        QM = QM / m
        QMp = float(special.fdtrc(m, dfs, QM))
    else:
        QMp = float(special.chdtrc(m, QM))
    # QE: residual heterogeneity test on the sampling (co)variances alone
    QE, sign, ld_v = _qe_logdet_v(model)
    QEp = float(special.chdtrc(k - p, QE)) if (k > p and np.isfinite(QE)) else (1.0 if k <= p else np.nan)
    dev_ml = -2 * (ev["ll_ML"] - (-0.5 * k * np.log(2 * np.pi) - 0.5 * ld_v)) if sign > 0 else np.nan
    index = pd.Index(names)
    coef = (lambda a: float(a[0])) if p == 1 else (lambda a: pd.Series(np.asarray(a, dtype=float), index=index))
    tau2 = rho = gamma2 = phi = None
    if g_terms:
        tau2, rho = _squeeze(gs[0][0]), _squeeze(gs[0][1])
    if len(g_terms) > 1:
        gamma2, phi = _squeeze(gs[1][0]), _squeeze(gs[1][1])
    n_free = len(params.free)
    return RMAMVResult(
        b=coef(b), se=coef(se), zval=coef(zval), pval=coef(pval), ci_lb=coef(b - crit * se),
        ci_ub=coef(b + crit * se), vb=pd.DataFrame(A, index=index, columns=index),
        sigma2=np.array(sig, dtype=float), tau2=tau2, rho=rho, gamma2=gamma2, phi=phi,
        s_names=[t.name for t in sig_terms], s_nlevels=[t.nlevels for t in sig_terms],
        g_levels=[list(g.levels) for g in g_terms], structs=[g.struct for g in g_terms],
        g_names=[(g.inner, g.outer) for g in g_terms],
        QE=QE, QEp=QEp, QM=QM, QMp=QMp, k=k, p=p, parms=p + n_free, method=method, test=test, dfs=dfs,
        level=level, converged=bool(converged), iterations=int(iters),
        ll_ML=float(ev["ll_ML"]), ll_REML=float(ev["ll_REML"]), dev_ML=float(dev_ml),
        yi=model.y.copy(), V=model.V.copy(), M=ev["M"], X=pd.DataFrame(model.X, index=labels, columns=index),
        slab=labels, intercept=bool(icol), design_info=info, data=None if sub is None else sub.copy(),
        fixed_flags=[e[4] is not None for e in params.entries],
        spec=_Spec(model, params, theta_hat=None),
    )


def _qe_logdet_v(model):
    """QE (NaN when V is not positive definite, as metafor), sign and log-determinant of V;
    by blocks of independent clusters when the model has them."""
    if model.blocks is None:
        sign, ld_v = np.linalg.slogdet(model.V)
        try:
            cV = linalg.cho_factor(model.V, lower=True)
            ViX = linalg.cho_solve(cV, model.X)
            b0 = np.linalg.solve(model.X.T @ ViX, ViX.T @ model.y)
            r0 = model.y - model.X @ b0
            return float(max(0.0, r0 @ linalg.cho_solve(cV, r0))), sign, ld_v
        except (np.linalg.LinAlgError, ValueError):
            return np.nan, sign, ld_v
    sign, ld_v = 1.0, 0.0
    for bk in model.blocks:
        s, ld = np.linalg.slogdet(bk.V)
        sign, ld_v = sign * float(np.prod(s)), ld_v + float(np.sum(ld))
    if sign <= 0:
        return np.nan, sign, ld_v
    Vinv = [np.linalg.inv(bk.V) for bk in model.blocks]
    XtX = sum(np.einsum("bmp,bmq->pq", bk.X, Vi @ bk.X) for bk, Vi in zip(model.blocks, Vinv))
    Xty = sum(np.einsum("bmp,bm->p", Vi @ bk.X, bk.y) for bk, Vi in zip(model.blocks, Vinv))
    b0 = np.linalg.solve(XtX, Xty)
    QE = 0.0
    for bk, Vi in zip(model.blocks, Vinv):
        r0 = bk.y - bk.X @ b0
        QE += float(np.sum(r0 * np.einsum("bmn,bn->bm", Vi, r0)))
    return max(0.0, QE), sign, ld_v


@dataclass
class _Spec:
    """What a fit needs to be re-optimised with some components held fixed (profiles)."""

    model: object
    params: object
    theta_hat: object = None

    def theta(self, fit):
        vals = []
        sig = list(fit.sigma2)
        g_vals = []
        for gi in range(len(self.params.g_terms)):
            var = np.atleast_1d(fit.tau2 if gi == 0 else fit.gamma2)
            cor = np.atleast_1d(fit.rho if gi == 0 else fit.phi)
            g_vals.append((list(var), list(cor)))
        for e in self.params.entries:
            if e[0] == "sigma2":
                vals.append(sig[e[1]])
            elif e[3]:
                vals.append(g_vals[e[1]][0][e[2]])
            else:
                vals.append(g_vals[e[1]][1][e[2]])
        return np.array([_inverse(self.params.kinds[i], vals[i]) for i in self.params.free], dtype=float)


def _profile_ll(model, params, j, value, vals_hat):
    """Maximum log-likelihood with entry ``j`` held at ``value`` (others re-estimated)."""
    entries = list(params.entries)
    sub = _Params.__new__(_Params)
    sub.sig_terms, sub.g_terms = params.sig_terms, params.g_terms
    sub.entries = [x if i != j else (x[0], x[1], x[2], x[3], float(value)) for i, x in enumerate(entries)]
    sub.free = [i for i, x in enumerate(sub.entries) if x[4] is None]
    sub.kinds = params.kinds
    m = _Model(model.y, model.V, model.X, sub, model.sig_mats, model.method,
               blocks=False if model.blocks is None else model.blocks)
    start = [vals_hat[i] if i != j else value for i in range(len(entries))]
    theta0 = sub.to_theta(start)
    theta, _, _, _ = _optimise(m, theta0, 1000)
    ev = m.evaluate(theta, full=False)
    return -np.inf if ev is None else ev["ll"]


def _squeeze(a):
    a = np.asarray(a, dtype=float)
    return float(a[0]) if a.size == 1 else a


@dataclass(frozen=True, eq=False)
class RMAMVResult(FitStatistics, Result):
    """Fitted multilevel / multivariate meta-analytic model (metafor's ``rma.mv`` object).

    Returned by :func:`rma_mv`. Coefficient attributes are floats for an intercept-only model,
    else Series by term. Also ``loglik``, ``deviance``, ``aic``, ``bic``, ``aicc`` (properties)
    and the methods :meth:`confint`, :meth:`fitstats`, :meth:`predict`,
    :meth:`variance_components`.

    Attributes
    ----------
    b, se, zval, pval, ci_lb, ci_ub : float or pandas.Series
        Coefficients, SEs, test statistics (t with ``test="t"``), p-values and limits.
    vb : pandas.DataFrame
        Variance matrix of the coefficients.
    sigma2 : numpy.ndarray
        One variance per ``~ 1 | group`` term (names in ``s_names``, numbers of levels in
        ``s_nlevels``).
    tau2, rho : numpy.ndarray, float or None
        Variances and correlation(s) of the (first) ``~ inner | outer`` term; None without one.
    gamma2, phi : numpy.ndarray, float or None
        The same for a second ``~ inner | outer`` term.
    s_names : list of str
        Names of the ``sigma2`` terms (``"study"``, ``"study/es"``).
    s_nlevels : list of int
        Numbers of levels of those terms.
    g_levels : list
        Levels of the inner variable of each ``~ inner | outer`` term.
    structs : list of str
        Structure of each ``~ inner | outer`` term (``"CS"``, ``"UN"``, ...).
    g_names : list of tuple
        The ``(inner, outer)`` names of those terms.
    QE, QEp : float
        Test for residual heterogeneity and its p-value.
    QM, QMp : float
        Omnibus test of the coefficients (F with ``test="t"``) and its p-value.
    k, p, parms : int
        Number of estimates, of coefficients, and of estimated parameters.
    method, test : str
        ``"REML"`` or ``"ML"``; ``"z"`` or ``"t"``.
    dfs : float
        Degrees of freedom of the t tests (NaN for z tests).
    level : float
        Confidence level in percent, as metafor.
    converged : bool
        Whether the optimiser converged.
    iterations : int
        Iterations used.
    ll_ML, ll_REML, dev_ML : float
        Full and restricted log-likelihoods and the ML deviance (for :meth:`fitstats`).
    yi : numpy.ndarray
        The effect sizes used.
    V : numpy.ndarray
        Their sampling variance-covariance matrix.
    M : numpy.ndarray
        The fitted marginal variance-covariance matrix of ``yi``.
    X : pandas.DataFrame
        The model matrix.
    slab : pandas.Index
        Labels of the estimates.
    intercept : bool
        Whether the model has an intercept.
    design_info : object
        The formula design, for :meth:`predict` with new moderator values.
    data : pandas.DataFrame or None
        Copy of the rows used.
    fixed_flags : list of bool
        Which variance components were fixed by the caller (``sigma2=`` ...).
    spec : object
        The model's internal specification (random-effects terms and parameters), used by
        :func:`ranef`, :func:`blup` and :meth:`confint`.

    Notes
    -----
    R equivalent: a ``metafor::rma.mv`` object (metafor 3.8-1): ``print``/``summary`` as
    :meth:`summary`, ``confint.rma.mv``, ``predict.rma``, ``fitstats``.

    References
    ----------
    .. [1] Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package.
       Journal of Statistical Software, 36(3), 1-48.
    .. [2] Konstantopoulos, S. (2011). Fixed effects and variance components estimation in
       three-level meta-analysis. Research Synthesis Methods, 2, 61-76.
    .. [3] Berkey, C. S., Hoaglin, D. C., Antczak-Bouckoms, A., Mosteller, F., & Colditz, G. A.
       (1998). Meta-analysis of multiple outcomes by regression with random effects.
       Statistics in Medicine, 17, 2537-2550.

    Examples
    --------
    >>> d = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.0, 0.6, 0.2],
    ...                   "vi": [0.02, 0.03, 0.02, 0.04, 0.03, 0.02, 0.05, 0.03],
    ...                   "study": [1, 1, 2, 2, 3, 3, 4, 4], "es": [1, 2, 1, 2, 1, 2, 1, 2]})
    >>> fit = pt.meta.rma_mv("yi", "vi", data=d, random="~ 1 | study/es")
    >>> fit.s_names, fit.s_nlevels, fit.sigma2.round(4).tolist()
    (['study', 'study/es'], [4, 8], [0.0, 0.0076])
    >>> round(fit.b, 4), round(fit.se, 4)
    (0.2456, 0.0663)
    """

    b: object
    se: object
    zval: object
    pval: object
    ci_lb: object
    ci_ub: object
    vb: pd.DataFrame
    sigma2: np.ndarray
    tau2: object
    rho: object
    gamma2: object
    phi: object
    s_names: list
    s_nlevels: list
    g_levels: list
    structs: list
    g_names: list
    QE: float
    QEp: float
    QM: float
    QMp: float
    k: int
    p: int
    parms: int
    method: str
    test: str
    dfs: float
    level: float
    converged: bool
    iterations: int
    ll_ML: float
    ll_REML: float
    dev_ML: float
    yi: np.ndarray
    V: np.ndarray
    M: np.ndarray
    X: pd.DataFrame
    slab: pd.Index
    intercept: bool
    design_info: object = None
    data: pd.DataFrame | None = None
    fixed_flags: list = field(default_factory=list)
    spec: object = field(default=None, repr=False)

    def confint(self, level=None, control=None) -> pd.DataFrame:
        """Profile-likelihood confidence intervals of the variance components and correlations
        (metafor ``confint.rma.mv``).

        For every estimated component, the bounds are the values where the (restricted)
        log-likelihood, maximised over the other components, falls ``qchisq(level, 1)/2`` below
        its maximum; searched by Brent's zero-in (R's ``uniroot``) between the estimate and the
        edge of the parameter space (0 or ``10 x`` estimate-based upper end for variances,
        -1 and 1 for correlations). A bound at the edge of the space is reported as that edge.
        ``control``: ``tol`` (root tolerance, default 1e-6 relative to the search interval),
        ``vc_max`` (upper end for variances).
        """

        if self.spec is None:
            raise ValueError("this fit does not keep its model specification")
        level = self.level if level is None else _level(level)
        ctrl = dict(control or {})
        crit = stats.chi2.ppf(level / 100, 1) / 2
        model, params = self.spec.model, self.spec.params
        vals_hat = params.values(self.spec.theta(self))
        ll_hat = self.fitstats()["logLik"]
        rows, index = [], []
        names = self.variance_components().index.tolist()
        with _one_blas_thread():
            return self._confint_rows(params, model, vals_hat, ll_hat, crit, ctrl, names, rows, index)

    def _confint_rows(self, params, model, vals_hat, ll_hat, crit, ctrl, names, rows, index):
        from peertrial.meta._zeroin import zeroin_scalar

        for j, e in enumerate(params.entries):
            if e[4] is not None:
                continue
            est = float(vals_hat[j])

            def gap(value, j=j):
                ll = _profile_ll(model, params, j, value, vals_hat)
                return ll_hat - ll - crit

            if e[3]:
                lo_edge = 0.0
                hi_edge = float(ctrl.get("vc_max", max(10 * est, 10 * float(np.var(self.yi)), 1e-4)))
            elif params.kinds[j] == "log":  # a spatial range: up to 10 x the estimate, as metafor
                lo_edge, hi_edge = est / 1000, est * 10
            else:
                lo_edge, hi_edge = params.edges(j)
            tol = float(ctrl.get("tol", 1e-6))
            bounds = []
            for edge in (lo_edge, hi_edge):
                g_edge = gap(edge)
                if not np.isfinite(g_edge) or g_edge <= 0:
                    bounds.append(edge)
                    continue
                g_est = -crit
                r, ok = zeroin_scalar(gap, est, edge, g_est, g_edge, tol * max(abs(edge - est), 1e-12), 200)
                bounds.append(float(r) if ok else np.nan)
            index.append(names[j])
            rows.append({"estimate": est, "ci_lb": min(bounds), "ci_ub": max(bounds)})
        return pd.DataFrame(rows, index=pd.Index(index, name="component"))

    @property
    def beta(self) -> np.ndarray:
        return np.atleast_1d(np.asarray(self.b, dtype=float))

    def fitstats(self, REML: bool | None = None) -> pd.Series:
        """Log-likelihood, deviance, AIC, BIC and AICc (metafor ``fitstats``)."""
        reml = (self.method == "REML") if REML is None else bool(REML)
        ll = self.ll_REML if reml else self.ll_ML
        dev = -2 * ll if reml else self.dev_ML
        n = self.k - self.p if reml else self.k
        q = self.parms
        m = max(n, q + 2)
        return pd.Series({"logLik": ll, "deviance": dev, "AIC": -2 * ll + 2 * q, "BIC": -2 * ll + q * np.log(n),
                          "AICc": -2 * ll + 2 * q * m / (m - q - 1)}, name="REML" if reml else "ML")

    def predict(self, newmods=None, level=None):
        """Predicted values with CI (and PI when there is one variance structure to predict from)."""
        from peertrial.meta.rma import PredictResult

        level = self.level if level is None else _level(level)
        if newmods is None:
            Xn = np.ones((1, 1)) if (self.p == 1 and self.intercept) else self.X.to_numpy(dtype=float)
        else:
            Xn = np.atleast_2d(np.asarray(newmods, dtype=float))
            if self.intercept and Xn.shape[1] == self.p - 1:
                Xn = np.hstack([np.ones((Xn.shape[0], 1)), Xn])
            if Xn.shape[1] != self.p:
                raise ValueError(f"newmods needs {self.p - int(self.intercept)} moderator column(s)")
        pred = Xn @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xn, self.vb.to_numpy(), Xn))
        alpha = 1 - level / 100
        crit = stats.t.isf(alpha / 2, self.dfs) if self.test == "t" else stats.norm.isf(alpha / 2)
        extra = float(np.sum(self.sigma2))
        if self.tau2 is not None:
            extra = extra + (float(self.tau2) if np.ndim(self.tau2) == 0 else np.nan)
        spi = np.sqrt(se**2 + extra)
        pick = (lambda a: float(a[0])) if len(pred) == 1 else (lambda a: np.asarray(a, dtype=float))
        return PredictResult(pick(pred), pick(se), pick(pred - crit * se), pick(pred + crit * se),
                             pick(pred - crit * spi), pick(pred + crit * spi), level, False)

    def variance_components(self) -> pd.DataFrame:
        """One row per variance component/correlation: estimate, number of levels, fixed."""
        rows, idx = [], []
        flags = iter(self.fixed_flags)
        for name, nl, s2 in zip(self.s_names, self.s_nlevels, self.sigma2):
            idx.append(f"sigma2.{len(idx) + 1}")
            rows.append({"estimate": s2, "nlvls": nl, "fixed": next(flags, False), "factor": name})
        for gi, (levels, st) in enumerate(zip(self.g_levels, self.structs)):
            vname, cname = ("tau2", "rho") if gi == 0 else ("gamma2", "phi")
            var = np.atleast_1d(self.tau2 if gi == 0 else self.gamma2)
            cor = np.atleast_1d(self.rho if gi == 0 else self.phi)
            for j, v in enumerate(var):
                idx.append(vname if var.size == 1 else f"{vname}.{j + 1}")
                rows.append({"estimate": v, "nlvls": len(levels), "fixed": next(flags, False),
                             "factor": str(levels[j]) if var.size > 1 else st})
            for j, c in enumerate(cor):
                idx.append(cname if cor.size == 1 else f"{cname}.{j + 1}")
                rows.append({"estimate": c, "nlvls": np.nan, "fixed": next(flags, False), "factor": st})
        return pd.DataFrame(rows, index=idx)

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: estimate, se, statistic, (df), pval, ci_lb, ci_ub."""
        frame = pd.DataFrame({
            "estimate": self.beta, "se": np.atleast_1d(np.asarray(self.se, dtype=float)),
            "statistic": np.atleast_1d(np.asarray(self.zval, dtype=float)),
            "pval": np.atleast_1d(np.asarray(self.pval, dtype=float)),
            "ci_lb": np.atleast_1d(np.asarray(self.ci_lb, dtype=float)),
            "ci_ub": np.atleast_1d(np.asarray(self.ci_ub, dtype=float)),
        }, index=pd.Index(list(self.X.columns), name="term"))
        if self.test == "t":
            frame.insert(3, "df", self.dfs)
        return frame

    def summary(self, digits: int = 4) -> str:
        kind = "Multivariate Meta-Analysis Model"
        fs = self.fitstats()
        lines = [f"{kind} (k = {self.k}; method: {self.method})", ""]
        if not self.converged:
            lines += ["WARNING: the optimisation may not have converged.", ""]
        lines += ["  ".join(f"{c}: {format_number(fs[c], digits)}" for c in fs.index), "",
                  "Variance Components:", "", format_table(self.variance_components(), digits), "",
                  f"Test for Residual Heterogeneity:\nQE(df = {self.k - self.p}) = {format_number(self.QE, digits)}, "
                  f"p-val = {format_pval(self.QEp, digits)}", ""]
        if self.p > 1 or not self.intercept:
            if self.test == "t":
                m = self.p - int(self.intercept and self.p > 1)
                lines.append(f"Test of Moderators: F(df1 = {m}, df2 = {self.dfs:g}) = {format_number(self.QM, digits)}, "
                             f"p-val = {format_pval(self.QMp, digits)}")
            else:
                lines.append(f"Test of Moderators: QM = {format_number(self.QM, digits)}, "
                             f"p-val = {format_pval(self.QMp, digits)}")
            lines.append("")
        lines += ["Model Results:", "", format_table(self.to_frame(), digits)]
        return "\n".join(lines)
