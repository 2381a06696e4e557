"""Shared behaviour of result objects.

Results are ``@dataclass(frozen=True, eq=False)`` subclasses of :class:`Result`;
each implements ``summary()`` (text in the manner of R's print method) and
``to_frame()``. Printing a result prints its summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Result:
    """Mixin of every peertrial result: R-like printed summary, tidy table, and printing.

    Results are frozen dataclasses (``@dataclass(frozen=True, eq=False)``) with named fields
    that follow R's names (``b``, ``se``, ``zval``, ``hr_ci_lb``, ...). Each implements
    :meth:`summary` and :meth:`to_frame`; ``print(result)`` and a notebook's display show the
    summary, and results with a natural picture also have ``.plot(ax=None, **kwargs)``, which
    calls the matching ``peertrial.plot`` function and returns the Figure.

    Examples
    --------
    >>> import peertrial as pt
    >>> fit = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])
    >>> isinstance(fit, pt._results.Result)
    True
    >>> str(fit) == fit.summary()
    True
    """

    def summary(self) -> str:  # pragma: no cover - every subclass overrides
        """The result as text, laid out as R's print method for the matching object.

        Returns
        -------
        str
            Several lines: the model, its estimates with SEs, test statistics, p-values (as R
            prints them, e.g. ``<.0001``) and confidence limits, and the notes of the fit.
            ``print(result)`` prints it.

        Examples
        --------
        >>> import peertrial as pt
        >>> fit = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])
        >>> fit.summary().splitlines()[0]
        'Random-Effects Model (k = 3; tau^2 estimator: REML)'
        """
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - every subclass overrides
        """The result's estimates as a tidy table, one row per estimate.

        Returns
        -------
        pandas.DataFrame
            Columns in the project's order with one name per idea: ``estimate``, ``se``,
            ``statistic``, ``df`` (t and F references only), ``pval``, ``ci_lb``, ``ci_ub``, then
            extra columns of the result (e.g. ``hr``, ``hr_ci_lb``). The index names the terms.

        Examples
        --------
        >>> import peertrial as pt
        >>> fit = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])
        >>> list(fit.to_frame().columns)
        ['estimate', 'se', 'statistic', 'pval', 'ci_lb', 'ci_ub']
        """
        raise NotImplementedError

    def print_summary(self) -> None:
        """Print :meth:`summary` (the same as ``print(result)``).

        Examples
        --------
        >>> import peertrial as pt
        >>> pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015]).print_summary()
        Random-Effects Model (k = 3; tau^2 estimator: REML)
        ...
        """
        print(self.summary())

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, p, cycle) -> None:  # IPython / Jupyter
        p.text(self.summary())


def _conf_level(self) -> float:
    """Deprecated spelling of ``level`` (the confidence level as a proportion)."""
    from peertrial._data import warn_deprecated

    warn_deprecated("the conf_level attribute is deprecated; use level")
    return self.level


#: ``conf_level = CONF_LEVEL_ALIAS`` in a result class whose field is ``level``.
CONF_LEVEL_ALIAS = property(_conf_level)


def format_pval(p: float, digits: int = 4) -> str:
    """P-value as metafor prints it: ``<.0001`` below 10^-digits, else rounded."""
    if p is None or not np.isfinite(p):
        return "NA"
    if p < 10.0**-digits:
        return "<." + "0" * (digits - 1) + "1"
    return f"{p:.{digits}f}"


def format_number(x: float, digits: int = 4) -> str:
    """Fixed-point number with ``digits`` decimals; NaN as ``NA``, inf as ``Inf``."""
    if x is None:
        return "NA"
    x = float(x)
    if np.isnan(x):
        return "NA"
    if np.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.{digits}f}"


def format_table(frame: pd.DataFrame, digits: int = 4, pval_columns=("pval",)) -> str:
    """Right-aligned text table; p-value columns formatted with :func:`format_pval`."""
    cells = {}
    for col in frame.columns:
        if col in pval_columns:
            cells[col] = [format_pval(v, digits) for v in frame[col]]
        elif pd.api.types.is_numeric_dtype(frame[col]):
            cells[col] = [format_number(v, digits) for v in frame[col]]
        else:
            cells[col] = [str(v) for v in frame[col]]
    index = [str(i) for i in frame.index]
    iw = max([len(s) for s in index] + [0])
    widths = {c: max(len(str(c)), *(len(s) for s in cells[c])) if len(index) else len(str(c)) for c in frame.columns}
    lines = [" " * iw + "  " + "  ".join(str(c).rjust(widths[c]) for c in frame.columns)]
    for i, label in enumerate(index):
        lines.append(label.ljust(iw) + "  " + "  ".join(cells[c][i].rjust(widths[c]) for c in frame.columns))
    return "\n".join(lines)
