"""Brent's root finder over a batch of independent problems.

The iteration is Brent's (1973) zero-in algorithm as R's ``uniroot`` runs it
(tolerance ``2*eps*|b| + tol/2``), so roots found with R's loose default tolerance
(``.Machine$double.eps^0.25``) land on the same iterate as metafor's.
Each row of the batch iterates on its own; finished rows are frozen.
"""

from __future__ import annotations

import numpy as np

EPS = np.finfo(float).eps


def zeroin(f, lower, upper, f_lower, f_upper, tol, maxiter=1000):
    """Roots of ``f`` on ``[lower, upper]`` for every row (``f`` maps an array of x to f(x)).

    ``f(x, rows)`` receives the x values of the rows still iterating and their
    indices. Returns ``(root, converged)``. Signs of ``f_lower``/``f_upper`` must differ.
    """
    a = np.array(lower, dtype=float, copy=True)
    b = np.array(upper, dtype=float, copy=True)
    fa = np.array(f_lower, dtype=float, copy=True)
    fb = np.array(f_upper, dtype=float, copy=True)
    c, fc = a.copy(), fa.copy()
    root = np.full(a.shape, np.nan)
    done = np.zeros(a.shape, dtype=bool)
    converged = np.zeros(a.shape, dtype=bool)
    at_a = fa == 0
    root[at_a], done[at_a], converged[at_a] = a[at_a], True, True
    at_b = ~done & (fb == 0)
    root[at_b], done[at_b], converged[at_b] = b[at_b], True, True
    for _ in range(maxiter + 1):
        act = ~done
        if not act.any():
            break
        prev_step = b - a
        swap = act & (np.abs(fc) < np.abs(fb))
        a = np.where(swap, b, a)
        b = np.where(swap, c, b)
        c = np.where(swap, a, c)
        fa = np.where(swap, fb, fa)
        fb = np.where(swap, fc, fb)
        fc = np.where(swap, fa, fc)
        tol_act = 2 * EPS * np.abs(b) + tol / 2
        new_step = (c - b) / 2
        finish = act & ((np.abs(new_step) <= tol_act) | (fb == 0))
        root[finish], done[finish], converged[finish] = b[finish], True, True
        act = act & ~finish
        if not act.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            interp = act & (np.abs(prev_step) >= tol_act) & (np.abs(fa) > np.abs(fb))
            cb = c - b
            linear = a == c
            t1_lin = fb / fa
            p_lin, q_lin = cb * t1_lin, 1.0 - t1_lin
            q0, t1, t2 = fa / fc, fb / fc, fb / fa
            p_quad = t2 * (cb * q0 * (q0 - t1) - (b - a) * (t1 - 1.0))
            q_quad = (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            p = np.where(linear, p_lin, p_quad)
            q = np.where(linear, q_lin, q_quad)
            q = np.where(p > 0, -q, q)
            p = np.abs(p)
            accept = interp & (p < 0.75 * cb * q - np.abs(tol_act * q) / 2) & (p < np.abs(prev_step * q / 2))
            new_step = np.where(accept, p / q, new_step)
        small = np.abs(new_step) < tol_act
        new_step = np.where(small, np.where(new_step > 0, tol_act, -tol_act), new_step)
        a = np.where(act, b, a)
        fa = np.where(act, fb, fa)
        b = np.where(act, b + new_step, b)
        rows = np.flatnonzero(act)
        fb_new = fb.copy()
        fb_new[rows] = f(b[rows], rows)
        fb = fb_new
        same = act & (((fb > 0) & (fc > 0)) | ((fb < 0) & (fc < 0)))
        c = np.where(same, a, c)
        fc = np.where(same, fa, fc)
    left = ~done
    root[left] = b[left]
    return root, converged


def zeroin_scalar(f, a, b, fa, fb, tol, maxiter=1000):
    """Scalar version of :func:`zeroin` (same iterates) for a single problem: ``(root, converged)``."""
    c, fc = a, fa
    if fa == 0:
        return a, True
    if fb == 0:
        return b, True
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b, True
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b, False
