"""Estimands (ICH E9(R1)): what a trial's treatment effect means, written down with the analysis.

An :class:`Estimand` records the five attributes the ICH E9(R1) addendum asks for: the
population, the treatment conditions compared, the variable (endpoint), how each intercurrent
event is handled (one of the addendum's five strategies) and the population-level summary.
Analyses that estimate it (e.g. :func:`peertrial.trial.reference_based_mi`) take
``estimand=`` and print it at the head of their summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Estimand", "ICE_STRATEGIES"]

#: The five strategies of ICH E9(R1), section A.3.2, as spelled in summaries.
ICE_STRATEGIES = ("treatment policy", "hypothetical", "composite", "while on treatment", "principal stratum")


def _strategy(value, event) -> str:
    key = " ".join(str(value).strip().lower().replace("_", " ").replace("-", " ").split())
    if key not in ICE_STRATEGIES:
        raise ValueError(f"intercurrent event {event!r}: strategy {value!r} is not one of ICH E9(R1)'s "
                         f"{list(ICE_STRATEGIES)}")
    return key


@dataclass(frozen=True)
class Estimand:
    """The estimand of an analysis, with its attributes as ICH E9(R1) defines them.

    Parameters
    ----------
    population : str
        Participants targeted by the clinical question (e.g. "adults discharged from acute
        psychiatric care, as randomised").
    treatment : str
        The treatment conditions compared (e.g. "peer support plus usual care vs usual care").
    variable : str
        The endpoint obtained for each participant (e.g. "hope score at 12 months").
    intercurrent_events : dict or sequence of pairs
        Each intercurrent event and its strategy, ``{"stopped peer support": "hypothetical"}``
        or ``[("event", "strategy"), ...]``; strategies are ``"treatment policy"``,
        ``"hypothetical"``, ``"composite"``, ``"while on treatment"``, ``"principal stratum"``
        (underscores or hyphens accepted). Stored as a tuple of ``(event, strategy)`` pairs.
    summary_measure : str
        The population-level summary (e.g. "difference in mean hope score").
    description : str, optional
        Further text, e.g. how a hypothetical strategy is implemented ("missing values after
        stopping imputed under jump to reference").

    Raises
    ------
    ValueError
        An attribute is empty, or a strategy is not one of the five.

    Notes
    -----
    R equivalent: none (R packages such as rbmi take the strategy per participant, which
    :func:`peertrial.trial.reference_based_mi` takes as ``strategy=``); the attributes are
    those of the ICH E9(R1) addendum.

    References
    ----------
    .. [1] ICH (2019). E9(R1) Addendum on estimands and sensitivity analysis in clinical trials
       to the guideline on statistical principles for clinical trials. Step 4, section A.3.

    Examples
    --------
    >>> e = pt.trial.Estimand(population="adults discharged from psychiatric care",
    ...                       treatment="peer support vs usual care", variable="hope at 12 months",
    ...                       intercurrent_events={"stopped peer support": "hypothetical"},
    ...                       summary_measure="difference in means")
    >>> e.intercurrent_events
    (('stopped peer support', 'hypothetical'),)
    >>> print(e.summary().splitlines()[0])
    Estimand (ICH E9(R1))
    """

    population: str
    treatment: str
    variable: str
    intercurrent_events: tuple = field(default=())
    summary_measure: str = ""
    description: str = ""

    def __post_init__(self):
        for name in ("population", "treatment", "variable", "summary_measure"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Estimand {name} must be a non-empty text describing it, got {value!r}")
        events = self.intercurrent_events
        if isinstance(events, dict):
            pairs = list(events.items())
        elif isinstance(events, (str, bytes)):
            raise ValueError("intercurrent_events must be a dict {event: strategy} or (event, strategy) pairs, "
                             f"got the text {events!r}")
        else:
            try:
                pairs = [tuple(p) for p in events]
            except TypeError:
                raise ValueError("intercurrent_events must be a dict {event: strategy} or (event, strategy) pairs, "
                                 f"got {events!r}") from None
        out = []
        for p in pairs:
            if len(p) != 2 or not str(p[0]).strip():
                raise ValueError(f"each intercurrent event is a pair (event, strategy), got {p!r}")
            out.append((str(p[0]), _strategy(p[1], p[0])))
        object.__setattr__(self, "intercurrent_events", tuple(out))

    def summary(self) -> str:
        """The estimand as text, one attribute a line."""
        lines = ["Estimand (ICH E9(R1))", f"  Population:        {self.population}",
                 f"  Treatment:         {self.treatment}", f"  Variable:          {self.variable}"]
        if self.intercurrent_events:
            lines.append("  Intercurrent events:")
            lines += [f"    {event}: {strategy} strategy" for event, strategy in self.intercurrent_events]
        else:
            lines.append("  Intercurrent events: none")
        lines.append(f"  Summary measure:   {self.summary_measure}")
        if self.description:
            lines.append(f"  Note: {self.description}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
