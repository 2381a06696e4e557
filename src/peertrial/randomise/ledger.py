"""A crash-safe, tamper-evident allocation ledger in SQLite.

The ledger file holds the concealed schedule (table ``slots``) and an
append-only log of events (table ``log``): the creation of the schedule,
any extension of it, and every allocation. Guarantees:

- **Atomic allocation.** ``allocate`` runs in one ``BEGIN IMMEDIATE``
  transaction (the database write lock is taken before anything is read), so
  concurrent callers in several processes are serialised and never receive
  the same slot. SQLite's journal (WAL mode, ``synchronous=FULL``) makes each
  allocation all-or-nothing: a process killed at any point leaves either the
  complete allocation or none of it.
- **Idempotent.** The same participant id with the same strata returns the
  arm already recorded (a client may safely retry); with different strata it
  is an error.
- **Tamper evident.** Every log entry stores
  ``hash = SHA-256(previous hash + canonical JSON of the entry)``; the first
  entry's payload includes the SHA-256 of the whole schedule. ``verify()``
  recomputes the chain, the schedule digests and every allocation's arm against
  its slot, and raises :class:`LedgerIntegrityError` on any edit. Removing the
  newest entries cannot be seen from inside the file; record ``head()``
  elsewhere (e.g. in the trial master file) and pass it to ``verify(head=...)``.
- **Shared safely.** One ``Ledger`` may be used by several threads (calls are
  serialised); each process opens its own.
- **Concealed.** No public method returns an arm that has not been allocated;
  ``remaining()`` gives only counts. (Anyone who can read the file itself can
  read the schedule: protect it with file permissions — it is created ``0600``.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from peertrial.randomise._streams import canonical_label, stratum_key
from peertrial.randomise.design import PROB_PREFIX, RESERVED_COLUMNS

__all__ = ["Ledger", "LedgerError", "LedgerIntegrityError", "StratumFullError"]

FORMAT = "peertrial-ledger-1"
GENESIS = "0" * 64
_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE slots(
    stratum TEXT NOT NULL, seq INTEGER NOT NULL, arm TEXT NOT NULL,
    block INTEGER, block_size INTEGER, batch INTEGER NOT NULL,
    PRIMARY KEY (stratum, seq));
CREATE TABLE log(
    n INTEGER PRIMARY KEY, kind TEXT NOT NULL, participant TEXT UNIQUE,
    stratum TEXT, seq INTEGER, arm TEXT, time TEXT NOT NULL, digest TEXT,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE UNIQUE INDEX log_slot ON log(stratum, seq) WHERE kind = 'allocate';
"""


class LedgerError(ValueError):
    """A request the ledger refused; nothing was written."""


class StratumFullError(LedgerError):
    """Every slot of the stratum's schedule is allocated."""


class LedgerIntegrityError(LedgerError):
    """The ledger's contents do not match its hash chain: it has been edited."""


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, sort_keys=True)


def _entry_hash(prev_hash: str, n, kind, participant, stratum, seq, arm, time, digest) -> str:
    return _sha256(prev_hash + "\n" + _canonical([n, kind, participant, stratum, seq, arm, time, digest]))


def _locked(method):
    """Serialise use of the ledger's connection by threads sharing one Ledger."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _schedule_rows(schedule: pd.DataFrame, factors: list[str]) -> list[tuple]:
    """(stratum key, seq, arm label, block, block_size) for every row, validated."""
    for col in ("seq", "arm"):
        if col not in schedule.columns:
            raise LedgerError(f"schedule has no {col!r} column; make it with peertrial.randomise.permuted_blocks")
    used = [*factors, "seq", "arm"]
    bad = schedule[used].isna().any(axis=1).to_numpy()
    if bad.any():
        rows = list(schedule.index[bad][:10])
        raise LedgerError(f"schedule has missing values in {used} at rows {rows}")
    has_block = "block" in schedule.columns and "block_size" in schedule.columns
    level_cols = [schedule[f].tolist() for f in factors]
    n = len(schedule)
    blocks = schedule["block"].tolist() if has_block else [None] * n
    sizes = schedule["block_size"].tolist() if has_block else [None] * n
    rows = []
    for i, (seq, arm) in enumerate(zip(schedule["seq"].tolist(), schedule["arm"].tolist())):
        key = stratum_key(factors, [col[i] for col in level_cols])
        block = None if blocks[i] is None else int(blocks[i])
        size = None if sizes[i] is None else int(sizes[i])
        if float(seq) != int(seq):
            raise LedgerError(f"schedule column 'seq' must hold whole numbers; row {schedule.index[i]!r} has {seq!r}")
        rows.append((key, int(seq), canonical_label(arm), block, size))
    return rows


def _check_contiguous(rows: list[tuple], start: dict[str, int]) -> None:
    """Within each stratum, seq must run start+1, start+2, ... without gaps."""
    by_stratum: dict[str, list[int]] = {}
    for key, seq, *_ in rows:
        by_stratum.setdefault(key, []).append(seq)
    for key, seqs in by_stratum.items():
        first = start.get(key, 0) + 1
        if sorted(seqs) != list(range(first, first + len(seqs))):
            raise LedgerError(
                f"schedule rows of stratum {_describe(key)} must have seq {first}, {first + 1}, ... "
                "without gaps or repeats"
            )


def _describe(key: str) -> str:
    return ", ".join(f"{f}={v}" for f, v in json.loads(key)) or "(unstratified)"


def _batch_digest(meta: dict | None, rows: list[tuple]) -> str:
    payload = {"meta": meta, "slots": sorted(rows, key=lambda r: (r[0], r[1]))}
    return _sha256(_canonical(payload))


class Ledger:
    """Concealed allocation from a schedule stored in an SQLite file.

    >>> led = Ledger.create("trial.db", permuted_blocks(200, arms=["control", "peer"],
    ...                     strata={"site": [1, 2, 3]}, seed=2017))
    >>> led.allocate("P001", site=3)
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise LedgerError(f"no ledger at {self.path}; create one with Ledger.create(path, schedule)")
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA busy_timeout = 60000")
            self._conn.execute("PRAGMA synchronous = FULL")
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise LedgerError(f"{self.path} is not a peertrial ledger ({exc})") from exc
        if meta.get("format") != FORMAT:
            self._conn.close()
            raise LedgerError(f"{self.path} is not a peertrial ledger (format {meta.get('format')!r})")
        self.factors: list[str] = json.loads(meta["factors"])
        self.arms: list = json.loads(meta["arms"])
        self.levels: dict[str, list] = json.loads(meta["levels"])
        self._arm_of = {canonical_label(a): a for a in self.arms}
        self._level_of = {f: {canonical_label(v): v for v in lev} for f, lev in self.levels.items()}

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path, schedule: pd.DataFrame, strata=None) -> Ledger:
        """Write a new ledger holding ``schedule`` (never overwrites an existing file).

        The stratum factors are the schedule's columns other than ``seq``,
        ``block``, ``block_size``, ``arm`` and ``prob_*`` (or ``strata``).
        """
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; a ledger is never overwritten")
        if not isinstance(schedule, pd.DataFrame) or schedule.empty:
            raise LedgerError("schedule must be a non-empty DataFrame (see permuted_blocks)")
        factors = list(strata) if strata is not None else [
            str(c) for c in schedule.columns if c not in RESERVED_COLUMNS and not str(c).startswith(PROB_PREFIX)
        ]
        missing = [f for f in factors if f not in schedule.columns]
        if missing:
            raise LedgerError(f"stratum column(s) {missing} not in the schedule")
        rows = _schedule_rows(schedule, factors)
        _check_contiguous(rows, {})
        arms = [_plain(a) for a in pd.unique(schedule["arm"])]
        arm_cols = [c[len(PROB_PREFIX):] for c in schedule.columns if str(c).startswith(PROB_PREFIX)]
        if arm_cols and len(arm_cols) >= len(arms):  # keep design order, including arms not yet drawn
            by_label = {canonical_label(a): a for a in arms}
            arms = [by_label.get(c, c) for c in arm_cols]
        levels = {f: [_plain(v) for v in pd.unique(schedule[f])] for f in factors}
        meta = {"format": FORMAT, "factors": factors, "arms": arms, "levels": levels}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            os.chmod(tmp, 0o600)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", FORMAT), ("factors", _canonical(factors)), ("arms", json.dumps(arms)),
                 ("levels", json.dumps(levels))],
            )
            conn.executemany("INSERT INTO slots VALUES (?, ?, ?, ?, ?, 0)", rows)
            digest = _batch_digest(meta, rows)
            time = _utc_now()
            h = _entry_hash(GENESIS, 1, "schedule", None, None, None, None, time, digest)
            conn.execute("INSERT INTO log VALUES (1, 'schedule', NULL, NULL, NULL, NULL, ?, ?, ?, ?)",
                         (time, digest, GENESIS, h))
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(tmp, path)  # fails if someone created ``path`` meanwhile
        finally:
            tmp.unlink(missing_ok=True)
        return cls(path)

    @classmethod
    def open(cls, path) -> Ledger:
        """Open an existing ledger (same as ``Ledger(path)``)."""
        return cls(path)

    @_locked
    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r}, factors={self.factors}, arms={self.arms})"

    # -- allocation -------------------------------------------------------------------------
    def _stratum(self, strata: dict) -> str:
        missing = [f for f in self.factors if f not in strata]
        extra = [f for f in strata if f not in self.factors]
        if missing or extra:
            raise LedgerError(
                f"allocation needs exactly the stratum factors {self.factors}; missing {missing}, unexpected {extra}"
            )
        values = []
        for f in self.factors:
            label = canonical_label(strata[f])
            if label not in self._level_of[f]:
                raise LedgerError(f"unknown level {strata[f]!r} of stratum factor {f!r}; levels: {self.levels[f]}")
            values.append(self._level_of[f][label])
        return stratum_key(self.factors, values)

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    @_locked
    def allocate(self, participant, **strata):
        """Allocate ``participant`` to the next slot of its stratum; returns the arm.

        The same id again returns its recorded arm. Raises (allocating nothing)
        on unknown levels, on a known id with different strata and when the
        stratum's schedule is exhausted (:class:`StratumFullError`).
        """
        pid = str(participant).strip()
        if not pid:
            raise LedgerError("participant id must be a non-empty string")
        key = self._stratum(strata)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = conn.execute(
                "SELECT stratum, arm FROM log WHERE kind = 'allocate' AND participant = ?", (pid,)
            ).fetchone()
            if known is not None:
                if known[0] != key:
                    raise LedgerError(
                        f"participant {pid!r} was already allocated in stratum {_describe(known[0])}, "
                        f"not {_describe(key)}; nothing was changed"
                    )
                conn.execute("ROLLBACK")
                return self._arm_of[known[1]]
            (seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM log WHERE kind = 'allocate' AND stratum = ?", (key,)
            ).fetchone()
            slot = conn.execute("SELECT arm FROM slots WHERE stratum = ? AND seq = ?", (key, seq)).fetchone()
            if slot is None:
                raise self._full_error(key, seq - 1)
            n, prev = conn.execute("SELECT n, hash FROM log ORDER BY n DESC LIMIT 1").fetchone()
            time = _utc_now()
            h = _entry_hash(prev, n + 1, "allocate", pid, key, seq, slot[0], time, None)
            conn.execute(
                "INSERT INTO log VALUES (?, 'allocate', ?, ?, ?, ?, ?, NULL, ?, ?)",
                (n + 1, pid, key, seq, slot[0], time, prev, h),
            )
            self._commit()
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return self._arm_of[slot[0]]

    def _full_error(self, key: str, used: int) -> StratumFullError:
        if used == 0:
            return LedgerError(f"stratum {_describe(key)} has no slots in this ledger's schedule; nothing was allocated")
        return StratumFullError(
            f"stratum {_describe(key)} is full: all {used} slots of its schedule are allocated, so nothing "
            "was allocated. Extend the schedule with Ledger.extend(schedule), e.g. permuted_blocks(...) with "
            "a larger n and the same seed (or `peertrial randomise extend`)."
        )

    @_locked
    def lookup(self, participant):
        """The arm recorded for ``participant``, or None if not allocated."""
        row = self._conn.execute(
            "SELECT arm FROM log WHERE kind = 'allocate' AND participant = ?", (str(participant).strip(),)
        ).fetchone()
        return None if row is None else self._arm_of[row[0]]

    @_locked
    def extend(self, schedule: pd.DataFrame) -> int:
        """Append slots to the schedule; returns the number of new slots.

        ``schedule`` continues each stratum's ``seq``; a schedule from the same
        generator and seed with a larger ``n`` is the usual choice. Rows for
        slots that exist already are skipped; where those slots are allocated
        their arms must agree (a check against a wrong seed that reveals nothing
        beyond ``audit()``: unallocated slots are never compared, so ``extend``
        cannot be used to probe the concealed schedule). New strata of known
        levels are allowed. The extension is recorded in the hash chain.
        """
        rows = _schedule_rows(schedule, self.factors)
        for key, *_ in rows:
            self._stratum(dict(zip(self.factors, (v for _, v in json.loads(key)))))
        unknown = {r[2] for r in rows} - set(self._arm_of)
        if unknown:
            raise LedgerError(f"schedule has arms {sorted(unknown)} not in this ledger's arms {self.arms}")
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            existing = set(conn.execute("SELECT stratum, seq FROM slots").fetchall())
            allocated = {(k, s): a for k, s, a in conn.execute(
                "SELECT stratum, seq, arm FROM log WHERE kind = 'allocate'")}
            new = []
            for row in rows:
                if (row[0], row[1]) not in existing:
                    new.append(row)
                elif allocated.get((row[0], row[1]), row[2]) != row[2]:
                    raise LedgerError(
                        f"schedule disagrees with allocated slot {row[1]} of stratum {_describe(row[0])}; "
                        "extend with a schedule made by the same generator and seed"
                    )
            top: dict[str, int] = {}
            for k, s in existing:
                top[k] = max(top.get(k, 0), s)
            _check_contiguous(new, top)
            if new:
                (batch,) = conn.execute("SELECT MAX(batch) + 1 FROM slots").fetchone()
                conn.executemany("INSERT INTO slots VALUES (?, ?, ?, ?, ?, ?)", [(*r, batch) for r in new])
                digest = _batch_digest(None, new)
                n, prev = conn.execute("SELECT n, hash FROM log ORDER BY n DESC LIMIT 1").fetchone()
                time = _utc_now()
                h = _entry_hash(prev, n + 1, "extend", None, None, None, None, time, digest)
                conn.execute("INSERT INTO log VALUES (?, 'extend', NULL, NULL, NULL, NULL, ?, ?, ?, ?)",
                             (n + 1, time, digest, prev, h))
            self._commit()
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return len(new)

    # -- inspection -------------------------------------------------------------------------
    @_locked
    def head(self) -> str:
        """Hash of the newest log entry; record it elsewhere to detect truncation."""
        return self._conn.execute("SELECT hash FROM log ORDER BY n DESC LIMIT 1").fetchone()[0]

    def _split(self, key: str) -> list:
        return [self._level_of[f][v] for f, v in json.loads(key)]

    @_locked
    def audit(self) -> pd.DataFrame:
        """Every allocation in order: participant, stratum factors, seq, arm, time, hash."""
        rows = self._conn.execute(
            "SELECT participant, stratum, seq, arm, time, hash FROM log WHERE kind = 'allocate' ORDER BY n"
        ).fetchall()
        records = [
            {"participant": p, **dict(zip(self.factors, self._split(k))), "seq": s, "arm": self._arm_of[a],
             "time": t, "hash": h}
            for p, k, s, a, t, h in rows
        ]
        cols = ["participant", *self.factors, "seq", "arm", "time", "hash"]
        frame = pd.DataFrame(records, columns=cols)
        frame["seq"] = frame["seq"].astype("int64")
        return frame

    @_locked
    def remaining(self) -> pd.DataFrame:
        """Per stratum: slots in the schedule, allocated, remaining (counts only)."""
        rows = self._conn.execute(
            "SELECT s.stratum, COUNT(*), (SELECT COUNT(*) FROM log l WHERE l.kind = 'allocate' "
            "AND l.stratum = s.stratum) FROM slots s GROUP BY s.stratum"
        ).fetchall()
        records = [{**dict(zip(self.factors, self._split(k))), "slots": n, "allocated": a, "remaining": n - a}
                   for k, n, a in rows]
        return pd.DataFrame(records, columns=[*self.factors, "slots", "allocated", "remaining"])

    @_locked
    def verify(self, head: str | None = None) -> bool:
        """Recompute the hash chain and check every allocation against its slot.

        Returns True when intact; raises :class:`LedgerIntegrityError` naming the
        first problem otherwise. With ``head``, also checks that the newest entry
        is the one recorded elsewhere (detects deletion of the latest entries).
        """
        conn = self._conn
        conn.execute("BEGIN")  # one consistent snapshot
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            slots = conn.execute("SELECT stratum, seq, arm, block, block_size, batch FROM slots").fetchall()
            log = conn.execute("SELECT * FROM log ORDER BY n").fetchall()
        finally:
            conn.execute("COMMIT")
        _verify_chain(meta, slots, log, head)
        return True


def _fail(message: str):
    raise LedgerIntegrityError(f"ledger integrity check failed: {message}")


def _verify_chain(meta: dict, slots: list, log: list, head: str | None) -> None:
    try:
        meta_obj = {"format": meta["format"], "factors": json.loads(meta["factors"]),
                    "arms": json.loads(meta["arms"]), "levels": json.loads(meta["levels"])}
    except (KeyError, ValueError):
        _fail("the metadata table is damaged")
    batches: dict[int, list] = {}
    slot_arm = {}
    for key, seq, arm, block, size, batch in slots:
        batches.setdefault(batch, []).append((key, seq, arm, block, size))
        slot_arm[(key, seq)] = arm
    if not log or log[0][1] != "schedule":
        _fail("the log does not start with the schedule entry")
    prev, batch, used = GENESIS, 0, {}
    for i, (n, kind, pid, key, seq, arm, time, digest, prev_hash, h) in enumerate(log):
        where = f"entry {n}" + (f" (participant {pid!r})" if pid else "")
        if n != i + 1:
            _fail(f"entry numbers jump from {i} to {n}: entries were deleted")
        if prev_hash != prev:
            _fail(f"{where} does not link to the entry before it")
        if _entry_hash(prev, n, kind, pid, key, seq, arm, time, digest) != h:
            _fail(f"{where} was edited after it was written (hash mismatch)")
        if kind in ("schedule", "extend"):
            if (kind == "schedule") != (batch == 0):
                _fail(f"{where}: unexpected {kind} entry")
            rows = batches.pop(batch, [])
            if _batch_digest(meta_obj if batch == 0 else None, rows) != digest:
                _fail(f"the schedule (part {batch}) was edited after {where} recorded its digest")
            batch += 1
        elif kind == "allocate":
            if slot_arm.get((key, seq)) != arm:
                _fail(f"{where}: arm {arm!r} is not the schedule's arm for slot {seq} of {_describe(key)}")
            if seq != used.get(key, 0) + 1:
                _fail(f"{where}: slot {seq} of {_describe(key)} used out of order")
            used[key] = seq
        else:
            _fail(f"{where} has unknown kind {kind!r}")
        prev = h
    if batches:
        _fail(f"schedule rows in part(s) {sorted(batches)} were added without a log entry")
    if head is not None and prev != head:
        _fail(f"the newest entry's hash {prev[:16]}... is not the recorded head {head[:16]}...")
