"""CONSORT participant flow counted from the trial data (Schulz et al. 2010, BMJ 340:c332).

Per arm: randomised; received the allocated intervention (intervention arm: ``received == 1``;
control arm: ``received == 0``, i.e. no peer support); did not receive it (including controls
who received peer support: contamination); lost to follow-up (primary outcome missing);
analysed (primary outcome observed: the ITT complete-case analysis; with multiple
imputation everyone randomised is analysed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from peertrial import _data
from peertrial._results import Result
from peertrial.trial._design import model_frame

__all__ = ["ConsortResult", "consort"]

STAGES = ("randomised", "received_allocated", "not_received_allocated", "lost_to_follow_up", "analysed")


@dataclass(frozen=True, eq=False)
class ConsortResult(Result):
    """CONSORT participant flow of a two-arm trial: counts per stage and arm.

    Returned by :func:`consort`; ``to_frame()`` is a copy of ``table`` and ``.plot()`` draws
    the flow diagram.

    Attributes
    ----------
    table : pandas.DataFrame
        Counts (int), indexed by stage (index name ``stage``): ``randomised``,
        ``received_allocated``, ``not_received_allocated``, ``lost_to_follow_up``,
        ``analysed``; one column per arm, named by ``arm_labels`` (control first).
    outcome : str
        The primary outcome column (missing = lost to follow-up).
    arm_labels : tuple of str
        Labels of the control and intervention arms.

    Notes
    -----
    R equivalent: none (the counts are ``table()`` calls in R; the ``consort`` package,
    not used here, draws such diagrams).

    References
    ----------
    .. [1] Moher, D., Hopewell, S., Schulz, K. F., et al. (2010). CONSORT 2010 explanation and
       elaboration: updated guidelines for reporting parallel group randomised trials. BMJ,
       340, c869.
    .. [2] Schulz, K. F., Altman, D. G., & Moher, D. (2010). CONSORT 2010 statement: updated
       guidelines for reporting parallel group randomised trials. BMJ, 340, c332.

    Examples
    --------
    >>> d = pd.DataFrame({"arm": [0, 0, 0, 1, 1, 1],
    ...                   "received": [0, 1, 0, 1, 1, 0],
    ...                   "y": [2.0, None, 3.0, 4.0, 5.0, None]})
    >>> flow = pt.trial.consort(d, outcome="y", received="received")
    >>> flow.table["peer support"].tolist()
    [3, 2, 1, 1, 2]
    >>> int(flow.table.loc["received_allocated", "control"])
    2
    """

    table: pd.DataFrame  # index STAGES, columns arm labels
    outcome: str
    arm_labels: tuple[str, str]

    def plot(self, ax=None, **kwargs):
        """CONSORT flow diagram: allocation, intervention, follow-up and analysis by arm.

        Draws :func:`peertrial.plot.consort_diagram` for this result.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes (multi-panel plots use its grid slot); by default a new
            figure, shown once in Jupyter.
        **kwargs
            Passed to :func:`peertrial.plot.consort_diagram`: ``title``.

        Returns
        -------
        matplotlib.figure.Figure
            The (top-level) figure.

        See Also
        --------
        peertrial.plot.consort_diagram : what is drawn, with an example.
        """
        from peertrial.plot.trial import consort_diagram

        return consort_diagram(self, ax=ax, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> str:
        t = self.table
        lines = [f"CONSORT flow (primary outcome: {self.outcome})"]
        width = max(len(s) for s in STAGES) + 2
        lines.append(" " * width + "".join(f"{c:>16}" for c in t.columns))
        for stage in t.index:
            lines.append(f"{stage:<{width}}" + "".join(f"{int(v):>16d}" for v in t.loc[stage]))
        return "\n".join(lines)


@_data.renamed_argument("df", "data")
def consort(data, outcome: str, arm: str = "arm", received: str | None = None,
            arm_labels=("control", "peer support"), *, arm_levels=None) -> ConsortResult:
    """Counts of the CONSORT flow per arm: randomised, received allocation, lost, analysed.

    Per arm: randomised; received the allocated intervention (intervention arm:
    ``received == 1``; control arm: ``received == 0``); did not receive it (controls who
    received peer support, i.e. contamination, count here); lost to follow-up (``outcome``
    missing); analysed (``outcome`` observed: the complete-case ITT analysis).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per randomised participant (never modified).
    outcome : str
        Column of the primary outcome; a missing value counts as lost to follow-up.
    arm : str, default "arm"
        Column of the randomised arm, 0 = control, 1 = intervention (or see ``arm_levels``);
        no missing values.
    received : str
        Column coded 0/1, 1 = received the intervention. Required (no default). A missing
        value counts as not received (no record of any session).
    arm_labels : pair of str, default ("control", "peer support")
        Column labels of the table, control first.
    arm_levels : mapping or pair, optional
        How the ``arm`` column codes the arms when it is not 0/1, as a mapping
        ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
        non-0/1 ``arm`` raises ``ValueError`` listing the values found.

    Returns
    -------
    ConsortResult
        ``table`` of counts (stages by arms), ``outcome`` and ``arm_labels``; ``.plot()``
        draws the flow diagram.

    Notes
    -----
    R equivalent: none (a CONSORT flow is counted, not estimated; in R, ``table()`` of the
    same columns gives the numbers).

    References
    ----------
    .. [1] Moher, D., Hopewell, S., Schulz, K. F., et al. (2010). CONSORT 2010 explanation and
       elaboration: updated guidelines for reporting parallel group randomised trials. BMJ,
       340, c869.
    .. [2] Schulz, K. F., Altman, D. G., & Moher, D. (2010). CONSORT 2010 statement: updated
       guidelines for reporting parallel group randomised trials. BMJ, 340, c332.

    Examples
    --------
    >>> trial = pt.simulate.trial(n=200, seed=1)
    >>> flow = pt.trial.consort(trial, outcome="hope_12", received="received")
    >>> flow.table.loc["randomised"].tolist(), flow.table.loc["analysed"].tolist()
    ([102, 98], [67, 72])
    """
    if received is None:
        raise ValueError("consort needs received= (a 0/1 column: 1 = received the intervention) to count who "
                         "received the allocated intervention; it has no default")
    data = _data.code_arm(data, arm, arm_levels)
    frame = model_frame(data, [arm], na_action="fail")
    full = _data.as_frame(data)
    _data.require_columns(full, [outcome, received])
    a = _data.binary(frame[arm], arm)
    r = _data.binary(full[received], received)
    r = np.where(np.isnan(r), 0.0, r)
    observed = full[outcome].notna().to_numpy()
    cols = {}
    for k, label in enumerate(arm_labels):
        in_arm = a == k
        got = in_arm & (r == k)
        cols[label] = [int(in_arm.sum()), int(got.sum()), int((in_arm & ~(r == k)).sum()),
                       int((in_arm & ~observed).sum()), int((in_arm & observed).sum())]
    table = pd.DataFrame(cols, index=pd.Index(STAGES, name="stage"))
    return ConsortResult(table=table, outcome=outcome, arm_labels=tuple(arm_labels))
