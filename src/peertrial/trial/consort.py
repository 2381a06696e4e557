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
    table: pd.DataFrame  # index STAGES, columns arm labels
    outcome: str
    arm_labels: tuple[str, str]

    def plot(self, ax=None, **kwargs):
        """CONSORT flow diagram: allocation, intervention, follow-up and analysis by arm.

        Draws :func:`peertrial.plot.consort_diagram` (``kwargs`` go to it). ``ax``: a matplotlib Axes
        to draw into; by default a new figure, shown once in Jupyter. Returns the Figure.
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
    """Counts of the CONSORT flow per arm (``arm`` 0 = control, 1 = intervention).

    ``received`` (required) is the 0/1 column of receiving the intervention. Missing
    ``received`` counts as not received (with no record of any session).

    ``arm_levels``: how the ``arm`` column codes the arms when it is not 0/1, as a mapping
    ``{"Control": 0, "Peer": 1}`` or a pair ``(control, intervention)``; without it a
    non-0/1 ``arm`` raises ``ValueError`` listing the values found.
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
