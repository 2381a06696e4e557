"""Read and validate an analysis plan (TOML, standard library ``tomllib``).

Every error is a ``ValueError`` naming the plan file, the line, the key and, for data
problems, the column; all checks run before anything is computed or written.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from peertrial import _data

OUTCOME_TYPES = ("binary", "continuous", "time_to_event", "count", "cost", "recurrent")
MISSING_STRATEGIES = ("complete-case", "multiple-imputation")

# key -> (accepted types, required, description used in messages)
_STR, _INT, _NUM, _BOOL, _LIST = (str,), (int,), (int, float), (bool,), (list,)
_CODE = (str, int)
SCHEMA: dict[str, dict[str, tuple]] = {
    "trial": {
        "title": (_STR, True), "data": (_STR, True), "arm": (_STR, True),
        "control": (_CODE, True), "intervention": (_CODE, True), "id": (_STR, False),
        "control_label": (_STR, False), "intervention_label": (_STR, False),
        "strata": (_LIST, False), "cluster": (_STR, False), "seed": (_INT, False), "level": (_NUM, False),
        "description": (_STR, False),
    },
    "compliance": {"received": (_STR, True), "definition": (_STR, False)},
    "outcome": {
        "name": (_STR, True), "type": (_STR, True), "column": (_STR, False), "primary": (_BOOL, False),
        "baseline": (_STR, False), "time": (_STR, False), "event": (_STR, False),
        "horizon": (_NUM, False), "exposure": (_STR, False), "time_unit": (_STR, False),
        "event_value": (_CODE, False), "events": (_STR, False),
    },
    "table1": {"variables": (_LIST, True), "categorical": (_LIST, False), "nonnormal": (_LIST, False)},
    "missing": {"strategy": (_STR, True), "m": (_INT, False), "auxiliary": (_LIST, False),
                "by_arm": (_BOOL, False), "method": (_STR, False)},
    "subgroups": {"variables": (_LIST, True)},
    "fidelity": {
        "ratings": (_STR, True), "peer_worker": (_STR, False), "rater": (_STR, False), "session": (_STR, False),
        "domain": (_STR, False), "item": (_STR, False), "score": (_STR, False), "scale": (_LIST, False),
        "outcome": (_STR, False),
    },
    "economics": {
        "cost": (_STR, True), "effect": (_STR, True), "wtp": (_NUM, False), "n_boot": (_INT, False),
        "currency": (_STR, False), "effect_label": (_STR, False),
    },
}
_REQUIRED_BY_TYPE = {
    "binary": ("column",), "continuous": ("column",), "count": ("column",), "cost": ("column",),
    "time_to_event": ("time", "event", "horizon"),
    "recurrent": ("events", "time", "event", "horizon"),
}
_ALLOWED_BY_TYPE = {
    "binary": {"column"}, "continuous": {"column", "baseline"}, "cost": {"column", "baseline"},
    "count": {"column", "exposure"},
    "time_to_event": {"time", "event", "horizon", "time_unit", "event_value"},
    "recurrent": {"events", "time", "event", "horizon", "time_unit"},
}


@dataclass(frozen=True)
class Outcome:
    """One ``[[outcome]]`` of the plan."""

    name: str
    type: str
    primary: bool = False
    column: str | None = None
    baseline: str | None = None
    time: str | None = None
    event: str | None = None
    horizon: float | None = None
    exposure: str | None = None
    time_unit: str = "days"
    event_value: object = None
    events: str | None = None  # recurrent: the long file of events (relative to the plan)
    index: int = 0  # position among the [[outcome]] tables (for messages)
    # recurrent: the events file's rows (id, time, event) with the arm (0/1) and strata of the trial data
    events_data: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def columns(self) -> list[str]:
        """Columns of the trial data the outcome uses (a recurrent outcome's are in its events file)."""
        if self.type == "recurrent":
            return []
        return [c for c in (self.column, self.baseline, self.time, self.event, self.exposure) if c]


@dataclass(frozen=True)
class Plan:
    """A validated analysis plan and its data (arm coded 0 = control, 1 = intervention)."""

    path: Path
    text: str
    title: str
    data_path: Path
    data: pd.DataFrame = field(repr=False)
    arm: str
    control: object
    intervention: object
    control_label: str
    intervention_label: str
    outcomes: tuple[Outcome, ...]
    strata: tuple[str, ...] = ()
    id: str | None = None
    cluster: str | None = None
    seed: int = 1
    level: float = 0.95
    description: str = ""
    received: str | None = None
    received_definition: str = ""
    table1: dict | None = None
    missing: dict | None = None
    subgroups: tuple[str, ...] = ()
    economics: dict | None = None
    fidelity: dict | None = None
    fidelity_ratings: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def arm_labels(self) -> dict[int, str]:
        return {0: self.control_label, 1: self.intervention_label}

    @property
    def strata_formula(self) -> str | None:
        """The stratification factors as factors: ``"C(centre) + C(dx)"`` (None without strata)."""
        return " + ".join(f"C({s})" for s in self.strata) or None

    def sha256(self) -> dict[str, str]:
        return {"plan": hashlib.sha256(self.path.read_bytes()).hexdigest(),
                "data": hashlib.sha256(self.data_path.read_bytes()).hexdigest()}


class _Locator:
    """Find the line of a key in the TOML text (first line of the table or array entry)."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        # (section name, occurrence index, start line index)
        self.headers: list[tuple[str, int, int]] = []
        seen: dict[str, int] = {}
        for i, line in enumerate(self.lines):
            m = self._HEADER.match(line)
            if m:
                name = m.group(1).strip().strip("\"'")
                k = seen.get(name, 0)
                seen[name] = k + 1
                self.headers.append((name, k, i))

    def _span(self, section: str | None, index: int = 0) -> tuple[int, int]:
        if section is None:
            end = self.headers[0][2] if self.headers else len(self.lines)
            return 0, end
        starts = [h[2] for h in self.headers]
        for name, k, start in self.headers:
            if name == section and k == index:
                later = [s for s in starts if s > start]
                return start, (later[0] if later else len(self.lines))
        return 0, len(self.lines)

    def line(self, section: str | None, key: str | None = None, index: int = 0) -> int:
        start, end = self._span(section, index)
        if key is not None:
            pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
            for i in range(start, end):
                if pattern.match(self.lines[i]):
                    return i + 1
        return start + 1

    def where(self, section: str | None, key: str | None = None, index: int = 0) -> str:
        what = f"[{section}]" if section not in (None, "outcome") else (
            f"[[outcome]] number {index + 1}" if section == "outcome" else "top level")
        key_text = f" key {key!r}" if key else ""
        return f"{self.path}, line {self.line(section, key, index)}: {what}{key_text}"


def _fail(loc: _Locator, section, key, message, index=0):
    raise ValueError(f"{loc.where(section, key, index)}: {message}")


def _check_table(loc: _Locator, section: str, table, index: int = 0) -> dict:
    if not isinstance(table, dict):
        _fail(loc, section, None, f"must be a table of keys, got {type(table).__name__}", index)
    schema = SCHEMA[section]
    for key, value in table.items():
        if key not in schema:
            _fail(loc, section, key, f"unknown key {key!r}; the keys of [{section}] are "
                  f"{', '.join(sorted(schema))}", index)
        types, _ = schema[key]
        ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
        if not ok:
            names = " or ".join({"str": "a string", "int": "an integer", "float": "a number",
                                 "bool": "true/false", "list": "a list"}[t.__name__] for t in types)
            _fail(loc, section, key, f"must be {names}, got {value!r} ({type(value).__name__})", index)
        if key == "scale":
            if len(value) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
                _fail(loc, section, key, f"must be [lowest, highest] of the item scale, got {value!r}", index)
        elif types is _LIST and not all(isinstance(v, str) for v in value):
            _fail(loc, section, key, f"must be a list of column names (strings), got {value!r}", index)
    for key, (_, required) in schema.items():
        if required and key not in table:
            _fail(loc, section, None, f"missing required key {key!r}", index)
    return table


def _check_column(loc, frame, data_path, section, key, column, index=0):
    if column not in frame.columns:
        import difflib

        close = [c for c in frame.columns if c.lower() == str(column).lower()] or difflib.get_close_matches(
            str(column), [str(c) for c in frame.columns], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        _fail(loc, section, key, f"column {column!r} is not in the data file {data_path.name} "
              f"(columns: {', '.join(map(str, frame.columns))}){hint}", index)


def _arm_code(loc, frame, arm, key, value):
    present = frame[arm].dropna()
    values = set(present.tolist()) | {str(v) for v in present.tolist()}
    if value not in values and str(value) not in values:
        found = ", ".join(repr(v) for v in sorted(pd.unique(present).tolist(), key=str))
        _fail(loc, "trial", key, f"arm code {value!r} does not occur in column {arm!r} (values found: {found})")


def read_plan(path) -> Plan:
    """Read, validate and load an analysis plan and its data.

    Parameters
    ----------
    path : str or Path
        The plan (TOML). ``[trial] data`` is read relative to the plan's folder.

    Returns
    -------
    Plan
        The validated plan with the data loaded (arm coded 0/1 from ``control`` and
        ``intervention``).

    Raises
    ------
    ValueError
        Naming the plan file, the line, the key and the column: unknown keys, wrong types,
        missing columns, arm codes absent from the data, outcomes without events.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"analysis plan {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    loc = _Locator(path, text)
    for key in raw:
        if key not in SCHEMA:
            _fail(loc, key if isinstance(raw[key], dict | list) else None, None if isinstance(raw[key], dict | list)
                  else key, f"unknown section {key!r}; the plan's sections are "
                  f"{', '.join('[[outcome]]' if s == 'outcome' else f'[{s}]' for s in SCHEMA)}")
    if "trial" not in raw:
        raise ValueError(f"{path}: the plan needs a [trial] section (title, data, arm, control, intervention)")
    trial = _check_table(loc, "trial", raw["trial"])
    outcomes_raw = raw.get("outcome", [])
    if isinstance(outcomes_raw, dict) or not outcomes_raw:
        raise ValueError(f"{path}: the plan needs at least one [[outcome]] table (double brackets)")
    sections = {s: _check_table(loc, s, raw[s]) for s in ("compliance", "table1", "missing", "subgroups",
                                                          "fidelity", "economics") if s in raw}
    for i, o in enumerate(outcomes_raw):
        _check_table(loc, "outcome", o, i)

    data_path = (path.parent / trial["data"]).resolve()
    if not data_path.is_file():
        _fail(loc, "trial", "data", f"data file {trial['data']!r} not found (looked for {data_path})")
    try:
        frame = _data.read_csv(data_path, id=trial.get("id"))
    except ValueError as exc:
        _fail(loc, "trial", "id" if "id" in trial and str(trial.get("id")) in str(exc) else "data", str(exc))

    arm = trial["arm"]
    _check_column(loc, frame, data_path, "trial", "arm", arm)
    for key in ("control", "intervention"):
        _arm_code(loc, frame, arm, key, trial[key])
    if str(trial["control"]) == str(trial["intervention"]):
        _fail(loc, "trial", "intervention", "control and intervention must be different codes")
    strata = list(trial.get("strata", []))
    for s in strata:
        _check_column(loc, frame, data_path, "trial", "strata", s)
    for key in ("cluster",):
        if key in trial:
            _check_column(loc, frame, data_path, "trial", key, trial[key])
    if "id" in trial and trial["id"] not in frame.columns and frame.index.name != trial["id"]:
        _check_column(loc, frame, data_path, "trial", "id", trial["id"])
    try:
        coded = _data.code_arm(frame, arm, {trial["control"]: 0, trial["intervention"]: 1})
    except ValueError as exc:
        _fail(loc, "trial", "arm", f"{exc} (every row must hold the control or intervention code)")
    if coded[arm].isna().any():
        _fail(loc, "trial", "arm", f"column {arm!r} is missing at rows "
              f"{_data.row_labels(coded.index, coded[arm].isna().to_numpy())}; every randomised participant "
              "needs an arm")

    received = definition = None
    if "compliance" in sections:
        received = sections["compliance"]["received"]
        definition = sections["compliance"].get("definition", "")
        _check_column(loc, frame, data_path, "compliance", "received", received)
        try:
            _data.binary(coded[received].dropna(), received, meaning="0 = not received, 1 = received")
        except ValueError as exc:
            _fail(loc, "compliance", "received", str(exc))

    outcomes = []
    names = set()
    for i, o in enumerate(outcomes_raw):
        kind = o["type"]
        if kind not in OUTCOME_TYPES:
            _fail(loc, "outcome", "type", f"type must be one of {', '.join(OUTCOME_TYPES)}, got {kind!r}", i)
        if o["name"] in names:
            _fail(loc, "outcome", "name", f"outcome name {o['name']!r} is used twice", i)
        names.add(o["name"])
        for key in _REQUIRED_BY_TYPE[kind]:
            if key not in o:
                _fail(loc, "outcome", None, f"an outcome of type {kind!r} needs the key {key!r}", i)
        for key in o:
            if key in {"column", "baseline", "time", "event", "horizon", "exposure", "time_unit", "event_value",
                       "events"} and key not in _ALLOWED_BY_TYPE[kind]:
                _fail(loc, "outcome", key, f"key {key!r} does not apply to an outcome of type {kind!r} "
                      f"(it takes {', '.join(sorted(_ALLOWED_BY_TYPE[kind]))})", i)
        out = Outcome(**{k: v for k, v in o.items()}, index=i)
        if kind == "recurrent":
            outcomes.append(_recurrent(loc, path, coded, trial, arm, strata, out, i))
            continue
        for key in ("column", "baseline", "time", "event", "exposure"):
            col = getattr(out, key)
            if col is not None:
                _check_column(loc, frame, data_path, "outcome", key, col, i)
        if out.event_value is not None:
            coded, out = _code_event(loc, coded, out, i)
        _check_outcome_values(loc, coded, arm, out, i)
        outcomes.append(out)
    if not any(o.primary for o in outcomes):
        raise ValueError(f"{path}: no [[outcome]] has primary = true; mark the primary outcome")

    table1 = sections.get("table1")
    if table1:
        for key in ("variables", "categorical", "nonnormal"):
            for c in table1.get(key, []):
                _check_column(loc, frame, data_path, "table1", key, c)
    missing = sections.get("missing")
    if missing:
        if missing["strategy"] not in MISSING_STRATEGIES:
            _fail(loc, "missing", "strategy", f"strategy must be one of {', '.join(MISSING_STRATEGIES)}, "
                  f"got {missing['strategy']!r}")
        for c in missing.get("auxiliary", []):
            _check_column(loc, frame, data_path, "missing", "auxiliary", c)
        if missing.get("method") is not None and missing["method"] not in ("pmm", "norm"):
            _fail(loc, "missing", "method", f"method (for the numeric columns; factors use mice's logreg/polyreg) "
                  f"must be 'pmm' or 'norm', got {missing['method']!r}")
        if missing.get("m", 20) < 2:
            _fail(loc, "missing", "m", f"m (number of imputations) must be at least 2, got {missing['m']}")
    subgroups = tuple(sections.get("subgroups", {}).get("variables", []))
    for c in subgroups:
        _check_column(loc, frame, data_path, "subgroups", "variables", c)
    economics = sections.get("economics")
    if economics:
        for key in ("cost", "effect"):
            _check_column(loc, frame, data_path, "economics", key, economics[key])
        if economics.get("n_boot", 2000) < 100:
            _fail(loc, "economics", "n_boot", "n_boot must be at least 100 bootstrap replicates")
    fidelity = sections.get("fidelity")
    ratings = None
    if fidelity:
        ratings_path = (path.parent / fidelity["ratings"]).resolve()
        if not ratings_path.is_file():
            _fail(loc, "fidelity", "ratings", f"ratings file {fidelity['ratings']!r} not found (looked for "
                  f"{ratings_path})")
        ratings = _data.read_csv(ratings_path)
        fidelity = {"peer_worker": "peer_worker", "rater": "rater", "session": "session", "domain": "domain",
                    "item": "item", "score": "score", **fidelity, "ratings_path": ratings_path}
        for key in ("peer_worker", "rater", "session", "domain", "item", "score"):
            _check_column(loc, ratings, ratings_path, "fidelity", key, fidelity[key])
        _check_column(loc, frame, data_path, "fidelity", "peer_worker", fidelity["peer_worker"])
        if "outcome" in fidelity:
            match = [o for o in outcomes if o.name == fidelity["outcome"]]
            if not match or match[0].type not in ("continuous", "cost"):
                names = ", ".join(repr(o.name) for o in outcomes if o.type in ("continuous", "cost"))
                _fail(loc, "fidelity", "outcome", f"{fidelity['outcome']!r} is not the name of a continuous "
                      f"[[outcome]] (continuous outcomes: {names or 'none'})")
    try:
        level = _data.confidence_level(trial.get("level", 0.95))
    except ValueError as exc:
        _fail(loc, "trial", "level", str(exc))
    seed = trial.get("seed", 1)
    if seed < 0:
        _fail(loc, "trial", "seed", f"seed must be a non-negative integer, got {seed}")

    return Plan(
        path=path.resolve(), text=text, title=trial["title"], data_path=data_path, data=coded, arm=arm,
        control=trial["control"], intervention=trial["intervention"],
        control_label=trial.get("control_label", str(trial["control"])),
        intervention_label=trial.get("intervention_label", str(trial["intervention"])),
        outcomes=tuple(outcomes), strata=tuple(strata), id=trial.get("id"), cluster=trial.get("cluster"),
        seed=seed, level=level, description=trial.get("description", ""), received=received,
        received_definition=definition or "", table1=table1, missing=missing, subgroups=subgroups,
        economics=economics, fidelity=fidelity, fidelity_ratings=ratings,
    )


def _recurrent(loc, path: Path, coded: pd.DataFrame, trial: dict, arm: str, strata, out: Outcome, i: int) -> Outcome:
    """Read and check a recurrent outcome's events file: one row per event and one closing each
    participant's follow-up (event 0), keyed by the trial's ``id``; attach the arm and strata."""
    from dataclasses import replace

    if "id" not in trial:
        _fail(loc, "trial", None, "a recurrent outcome needs [trial] id: the column linking the events file "
              "to the participants")
    idc = trial["id"]
    events_path = (path.parent / out.events).resolve()
    if not events_path.is_file():
        _fail(loc, "outcome", "events", f"events file {out.events!r} not found (looked for {events_path})", i)
    long = _data.read_csv(events_path)
    for key, col in (("events", idc), ("time", out.time), ("event", out.event)):
        _check_column(loc, long, events_path, "outcome", key, col, i)
    for key, col in (("time", out.time), ("event", out.event)):
        try:
            vals = _data.numeric(long[col], col)
        except ValueError as exc:
            _fail(loc, "outcome", key, f"{events_path.name}: {exc}", i)
        bad = np.isnan(vals)
        if bad.any():
            _fail(loc, "outcome", key, f"{events_path.name}: column {col!r} is missing at rows "
                  f"{_data.row_labels(long.index, bad)}", i)
    t = _data.numeric(long[out.time], out.time)
    e = _data.numeric(long[out.event], out.event)
    if not np.isin(e, (0.0, 1.0)).all():
        _fail(loc, "outcome", "event", f"{events_path.name}: column {out.event!r} must be 1 (an event) or 0 (the "
              f"row closing follow-up); found {sorted(np.unique(e).tolist())[:6]}", i)
    if not (e == 1).any():
        _fail(loc, "outcome", "event", f"{events_path.name}: column {out.event!r} has no events", i)
    if (t < 0).any():
        _fail(loc, "outcome", "time", f"{events_path.name}: column {out.time!r} is negative at rows "
              f"{_data.row_labels(long.index, t < 0)}", i)
    if out.horizon <= 0 or out.horizon > t.max():
        _fail(loc, "outcome", "horizon", f"horizon {out.horizon} must be > 0 and at most the longest follow-up "
              f"in {events_path.name} ({t.max():g})", i)
    trial_frame = coded.reset_index() if idc not in coded.columns else coded
    ids = set(trial_frame[idc].tolist())
    unknown = ~long[idc].isin(ids).to_numpy()
    if unknown.any():
        _fail(loc, "outcome", "events", f"{events_path.name}: {idc!r} values at rows "
              f"{_data.row_labels(long.index, unknown)} are not participants of the trial data", i)
    absent = ~trial_frame[idc].isin(set(long[idc].tolist())).to_numpy()
    if absent.any():
        _fail(loc, "outcome", "events", f"{events_path.name} has no rows for {int(absent.sum())} participants "
              f"({idc} {', '.join(map(str, trial_frame[idc][absent].tolist()[:10]))}"
              f"{' ...' if absent.sum() > 10 else ''}); give each a row closing its follow-up ({out.event} = 0)", i)
    keep = [idc, arm, *[s for s in strata if s not in (idc, arm)]]
    data = long[[idc, out.time, out.event]].merge(trial_frame[keep], on=idc, how="left", validate="many_to_one")
    return replace(out, events_data=data)


def _code_event(loc, frame, out: Outcome, i: int):
    """``event_value``: the event is ``event == event_value`` (other values censored) in a new column."""
    from dataclasses import replace

    col = frame[out.event]
    hit = (col == out.event_value) | (col.astype(str) == str(out.event_value))
    if not hit.any():
        found = ", ".join(repr(v) for v in sorted(pd.unique(col.dropna()).tolist(), key=str))
        _fail(loc, "outcome", "event_value", f"value {out.event_value!r} does not occur in column {out.event!r} "
              f"(values found: {found}): no events", i)
    name = f"{out.event}=={out.event_value}"
    frame = frame.copy()
    frame[name] = np.where(col.isna(), np.nan, hit.astype(float))
    return frame, replace(out, event=name)


def _check_outcome_values(loc, frame, arm, out: Outcome, i: int) -> None:
    """Types and events of one outcome, checked before any model runs."""
    a = frame[arm].to_numpy(dtype=float)

    def numeric(key):
        col = getattr(out, key)
        try:
            return _data.numeric(frame[col], col)
        except ValueError as exc:
            _fail(loc, "outcome", key, str(exc), i)

    if out.type == "binary":
        y = numeric("column")
        ok = ~np.isnan(y)
        if not np.isin(y[ok], (0.0, 1.0)).all():
            _fail(loc, "outcome", "column", f"column {out.column!r} of a binary outcome must be 0/1 "
                  f"(found {sorted(np.unique(y[ok]).tolist())[:6]})", i)
        if ok.sum() == 0 or np.all(y[ok] == 0) or np.all(y[ok] == 1):
            what = "no events (every value 0)" if ok.any() and np.all(y[ok] == 0) else \
                "no non-events (every value 1)" if ok.any() else "no observed values"
            _fail(loc, "outcome", "column", f"column {out.column!r} has {what}: no effect is estimable", i)
    elif out.type == "time_to_event":
        t = numeric("time")
        e = numeric("event")
        ok = ~np.isnan(e)
        if not np.isin(e[ok], (0.0, 1.0)).all():
            _fail(loc, "outcome", "event", f"column {out.event!r} must be 0 (censored) / 1 (event); found "
                  f"{sorted(np.unique(e[ok]).tolist())[:6]} (code competing events as 0 here)", i)
        if not np.any(e[ok] == 1):
            _fail(loc, "outcome", "event", f"column {out.event!r} has no events: no hazard ratio is estimable", i)
        if out.horizon is not None and (out.horizon <= 0 or out.horizon > np.nanmax(t)):
            _fail(loc, "outcome", "horizon", f"horizon {out.horizon} must be > 0 and at most the longest "
                  f"follow-up in {out.time!r} ({np.nanmax(t):g})", i)
    elif out.type == "count":
        y = numeric("column")
        if not np.any(y[~np.isnan(y)] > 0):
            _fail(loc, "outcome", "column", f"column {out.column!r} is 0 in every row: no rate ratio is "
                  "estimable", i)
        if out.exposure:
            numeric("exposure")
    else:
        y = numeric("column")
        if np.all(np.isnan(y)):
            _fail(loc, "outcome", "column", f"column {out.column!r} has no observed values", i)
        if out.baseline:
            numeric("baseline")
    for key in ("column", "time"):
        col = getattr(out, key)
        if col is not None and key == "column" and out.type != "time_to_event":
            y = _data.numeric(frame[col], col)
            for g in (0, 1):
                if np.all(np.isnan(y[a == g])):
                    _fail(loc, "outcome", key, f"column {col!r} has no observed values in the "
                          f"{'control' if g == 0 else 'intervention'} arm", i)
