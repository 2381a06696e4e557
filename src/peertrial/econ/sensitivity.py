"""One-way (deterministic) sensitivity analysis, the input of a tornado plot."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial._results import Result, format_table

__all__ = ["OneWaySensitivity", "one_way_sensitivity"]


@dataclass(frozen=True, eq=False)
class OneWaySensitivity(Result):
    """Model output as each parameter moves alone from its low to its high value (from :func:`one_way_sensitivity`).

    Attributes
    ----------
    base_output : float
        Model output at the base case.
    base : dict
        Base-case value of every parameter.
    table : pandas.DataFrame
        Indexed by parameter: ``base_value, low, high, output_low, output_high, swing``,
        sorted by ``swing = |output_high - output_low|`` (largest first, the order of a
        tornado plot).
    output_name : str
        Label of the output.

    Notes
    -----
    R equivalent: none (a loop over a user's model; ``dampack::owsa`` is the nearest).

    References
    ----------
    .. [1] Briggs, A., Claxton, K., & Sculpher, M. (2006). Decision Modelling for Health Economic
       Evaluation, chapter 4. Oxford University Press.

    Examples
    --------
    >>> s = pt.econ.one_way_sensitivity(lambda a, b: a * b, {"a": 2.0, "b": 3.0},
    ...                                 {"a": (1.0, 3.0), "b": (2.0, 4.0)})
    >>> s.base_output, list(s.table.index)
    (6.0, ['a', 'b'])
    """

    base_output: float
    base: dict
    table: pd.DataFrame
    output_name: str = "output"

    def plot(self, ax=None, **kwargs):
        """Tornado plot: one bar per parameter, largest swing on top.

        Draws :func:`peertrial.plot.tornado` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.tornado` (``title``, ``xlabel``).

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.tornado : what is drawn, with an example.
        """
        from peertrial.plot.econ import tornado

        return tornado(self, ax=ax, **kwargs)

    def summary(self) -> str:
        head = f"One-way sensitivity analysis of {self.output_name} (base case {self.base_output:.4f})"
        return head + "\n\n" + format_table(self.table, digits=4)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def one_way_sensitivity(
    model: Callable[..., float],
    base: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]],
    *,
    output_name: str = "output",
) -> OneWaySensitivity:
    """Evaluate a model with each parameter moved alone to its low and high value (one-way sensitivity).

    ``model(**params)`` is evaluated at the base case and with each parameter in
    ``ranges`` set to its low and its high value, the others held at ``base``.

    Example: ``model = lambda cost, days, unit: days * unit / cost`` with
    ``ranges={"unit": (404, 429)}`` gives the cost:benefit ratio at both unit
    costs of a bed day.

    Parameters
    ----------
    model : callable
        Function of the parameters (as keyword arguments) returning the output.
    base : mapping
        Base-case value of every parameter.
    ranges : mapping
        ``(low, high)`` for each parameter varied.
    output_name : str
        Label of the output.

    Returns
    -------
    OneWaySensitivity
        One row per parameter: base value, low, high, output at each end and the swing,
        sorted for a tornado plot (``pt.plot.tornado``).

    Notes
    -----
    R equivalent: none (a loop over a user's model; ``dampack::owsa`` is the nearest).

    References
    ----------
    .. [1] Briggs, A., Claxton, K., & Sculpher, M. (2006). Decision Modelling for Health Economic
       Evaluation, chapter 4. Oxford University Press.

    Examples
    --------
    >>> s = pt.econ.one_way_sensitivity(lambda a, b: a * b, {"a": 2.0, "b": 3.0},
    ...                                 {"a": (1.0, 3.0), "b": (2.0, 4.0)}, output_name="product")
    >>> s.to_frame()["swing"].tolist()
    [6.0, 4.0]
    """
    unknown = [p for p in ranges if p not in base]
    if unknown:
        raise ValueError(f"parameters {unknown} in ranges have no base value")
    base = dict(base)
    base_output = float(model(**base))
    rows = []
    for name, bounds in ranges.items():
        if len(bounds) != 2:
            raise ValueError(f"range of {name!r} must be (low, high), got {bounds!r}")
        low, high = (float(v) for v in bounds)
        out_low = float(model(**{**base, name: low}))
        out_high = float(model(**{**base, name: high}))
        rows.append(
            {
                "parameter": name,
                "base_value": float(base[name]),
                "low": low,
                "high": high,
                "output_low": out_low,
                "output_high": out_high,
                "swing": abs(out_high - out_low),
            }
        )
    table = pd.DataFrame(rows).set_index("parameter")
    table = table.iloc[np.argsort(-table["swing"].to_numpy(), kind="stable")]
    return OneWaySensitivity(base_output=base_output, base=base, table=table, output_name=output_name)
