"""A crash-safe, concealed, keyed tamper-evident allocation ledger in SQLite.

The ledger file holds the schedule (table ``slots``), an append-only log of
events (table ``log``: the schedule, extensions, allocations, user changes and
the requests of the web service) and the service's users (table ``users``).
Its secret is the **trial key** (256 bits, see :mod:`peertrial.randomise._keys`),
kept outside the file: a key file created ``0600`` (default ``<ledger>.key``)
or the environment variable ``PEERTRIAL_LEDGER_KEY``. Guarantees:

- **Concealed.** Each slot (arm, block, block size) is sealed with AES-256-GCM
  under a key derived from the trial key, padded to one length and bound to
  its ledger, stratum and position; it is opened only when it is allocated.
  Reading the file without the key reveals nothing about unallocated slots.
  No public method returns an unallocated arm; ``remaining()`` gives counts.
- **Atomic allocation.** ``allocate`` runs in one ``BEGIN IMMEDIATE``
  transaction (WAL journal, ``synchronous=FULL``): concurrent callers in
  several processes never receive the same slot, and a process killed at any
  point leaves the whole allocation or none of it.
- **Idempotent.** The same participant with the same strata gets the arm
  already recorded; with different strata it is an error. Ids are text,
  NFC-normalised; ``None``, numbers, empty ids and ids with leading or
  trailing whitespace are refused.
- **Keyed tamper evidence.** Every log entry stores
  ``hash = HMAC-SHA256(chain key, previous hash + canonical entry)``; schedule
  and extension entries carry a keyed digest of their slots. Each allocation's
  hash is its *receipt* (the chain head right after it). ``verify()`` runs
  SQLite's ``integrity_check``, compares the schema (tables, indexes,
  triggers, views) with the one peertrial creates, recomputes the chain,
  opens every sealed slot and checks every allocation and user against them;
  ``verify(head=R)`` also requires the receipt(s) ``R`` to be in the chain
  (deleting an allocation whose receipt a site holds is detected). Every
  finding is a :class:`LedgerIntegrityError` with a message, never a raw
  SQLite or decoding error.
- **Fault tolerant.** ``create`` builds the file under a temporary name and
  links it into place, so a full disk or a kill leaves the path free and no
  partial file (temporary files of dead processes are removed on the next
  open or create). Read-only ledgers (read-only file system or permissions)
  still ``audit`` and ``verify``.

Ledgers of the first format (``peertrial-ledger-1``: plaintext slots, unkeyed
SHA-256 chain) still open, allocate, audit and verify with their old checks,
with a :class:`~peertrial.PeertrialWarning` that they are neither concealed nor
keyed; start new trials with a new ledger.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time as _time
import unicodedata
import warnings
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from peertrial._warnings import PeertrialWarning
from peertrial.randomise import _keys
from peertrial.randomise._streams import canonical_label, stratum_key
from peertrial.randomise.design import PROB_PREFIX, RESERVED_COLUMNS

__all__ = ["Ledger", "LedgerError", "LedgerIntegrityError", "StratumFullError", "participant_id"]

FORMAT_V1 = "peertrial-ledger-1"
FORMAT = "peertrial-ledger-2"
GENESIS = "0" * 64
ROLES = ("site", "statistician", "admin")
_SCHEMA_V1 = """
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
_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE slots(
    stratum TEXT NOT NULL, seq INTEGER NOT NULL, sealed BLOB NOT NULL, batch INTEGER NOT NULL,
    PRIMARY KEY (stratum, seq));
CREATE TABLE log(
    n INTEGER PRIMARY KEY, kind TEXT NOT NULL, participant TEXT UNIQUE,
    stratum TEXT, seq INTEGER, arm TEXT, time TEXT NOT NULL, digest TEXT, detail TEXT,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE UNIQUE INDEX log_slot ON log(stratum, seq) WHERE kind = 'allocate';
CREATE UNIQUE INDEX log_hash ON log(hash);
CREATE TABLE users(
    name TEXT PRIMARY KEY, role TEXT NOT NULL, site TEXT, token_id TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL, token_hash BLOB NOT NULL, created TEXT NOT NULL, revoked TEXT);
"""
_TMP_MARK = ".peertrial-tmp."
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 2**20}
#: wrong secrets for one token id within the window before it is refused without hashing
AUTH_FAILURES, AUTH_WINDOW = 10, 60.0


class LedgerError(ValueError):
    """A request the ledger refused; nothing was written.

    A ``ValueError``, so callers that catch bad input catch it too.

    Notes
    -----
    R equivalent: none (R has no concealed-allocation ledger; this is part of the allocation
    service).

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Allocation concealment in randomised trials:
       defending against deciphering. The Lancet, 359, 614-618.
    .. [2] Haber, S., & Stornetta, W. S. (1991). How to time-stamp a digital document. Journal
       of Cryptology, 3, 99-111.

    Examples
    --------
    >>> try:
    ...     pt.randomise.participant_id(1)
    ... except pt.randomise.LedgerError as err:
    ...     print(type(err).__name__, isinstance(err, ValueError))
    LedgerError True
    """


class StratumFullError(LedgerError):
    """Every slot of the stratum's schedule is allocated; ``Ledger.extend`` adds slots.

    Notes
    -----
    R equivalent: none (R has no concealed-allocation ledger; this is part of the allocation
    service).

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Allocation concealment in randomised trials:
       defending against deciphering. The Lancet, 359, 614-618.
    .. [2] Haber, S., & Stornetta, W. S. (1991). How to time-stamp a digital document. Journal
       of Cryptology, 3, 99-111.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> sched = pt.randomise.permuted_blocks(2, arms=["control", "peer"], block_sizes=[2], seed=1)
    >>> led = pt.randomise.Ledger.create(folder / "trial.db", sched)
    >>> led.allocate("P001") in ("control", "peer"), led.allocate("P002") in ("control", "peer")
    (True, True)
    >>> try:
    ...     led.allocate("P003")
    ... except pt.randomise.StratumFullError:
    ...     print("full")
    full
    """


class LedgerIntegrityError(LedgerError):
    """The ledger file is damaged, edited, or does not belong to the trial key.

    Raised when the keyed hash chain or the key check fails (``Ledger.verify``, opening
    with another trial's key).

    Notes
    -----
    R equivalent: none (R has no concealed-allocation ledger; this is part of the allocation
    service).

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Allocation concealment in randomised trials:
       defending against deciphering. The Lancet, 359, 614-618.
    .. [2] Haber, S., & Stornetta, W. S. (1991). How to time-stamp a digital document. Journal
       of Cryptology, 3, 99-111.

    Examples
    --------
    >>> issubclass(pt.randomise.LedgerIntegrityError, pt.randomise.LedgerError)
    True
    """


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, sort_keys=True)


def _locked(method):
    """Serialise use of the ledger's connection by threads sharing one Ledger."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            if self._conn is None:
                raise LedgerError(f"the ledger {self.path} is closed")
            return method(self, *args, **kwargs)

    return wrapper


def _fail(message: str):
    raise LedgerIntegrityError(f"ledger integrity check failed: {message}")


# -- identity ---------------------------------------------------------------------------------

def participant_id(value) -> str:
    """A participant id as the ledger stores it: text, Unicode NFC, refused when ambiguous.

    Raises :class:`LedgerError` for ``None``, numbers (give ``"1"``, not ``1``
    or ``1.0``, so they cannot be confused), empty ids, ids with leading or
    trailing whitespace and ids containing control characters.

    Parameters
    ----------
    value : str
        The id as given.

    Returns
    -------
    str
        The id in Unicode NFC, as stored and looked up.

    Notes
    -----
    R equivalent: none (R has no concealed-allocation ledger; this is part of the allocation
    service).

    References
    ----------
    .. [1] The Unicode Consortium. Unicode Standard Annex #15: Unicode Normalization Forms.

    Examples
    --------
    >>> pt.randomise.participant_id("Zoe\\u0301")  # NFD input, stored as NFC
    'Zoé'
    """
    if value is None:
        raise LedgerError("participant id is None; give the id as text, e.g. 'P001'")
    if isinstance(value, np.str_):
        value = str(value)
    if isinstance(value, bool | int | float | complex | np.number | np.bool_):
        raise LedgerError(
            f"participant id {value!r} is a number; give it as text (e.g. {str(value)!r}) so that "
            "1, '1' and 1.0 cannot be confused"
        )
    if not isinstance(value, str):
        raise LedgerError(f"participant id must be text, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise LedgerError("participant id is empty; give a non-empty id such as 'P001'")
    if value != value.strip():
        raise LedgerError(
            f"participant id {value!r} has leading or trailing whitespace; it is refused rather than "
            "changed, so ' P1' and 'P1' cannot be confused; remove the spaces"
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise LedgerError(f"participant id {value!r} contains control characters")
    if len(value) > 200:
        raise LedgerError(f"participant id is {len(value)} characters long; at most 200 are allowed")
    return unicodedata.normalize("NFC", value)


# -- schedules --------------------------------------------------------------------------------

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


# -- the two formats ----------------------------------------------------------------------------

class _V1:
    """First format: plaintext slots, unkeyed SHA-256 chain (kept readable and usable)."""

    format = FORMAT_V1
    schema = _SCHEMA_V1
    keyed = False

    def entry_hash(self, prev, n, kind, pid, stratum, seq, arm, time, digest, detail=None) -> str:
        return _sha256(prev + "\n" + _canonical([n, kind, pid, stratum, seq, arm, time, digest]))

    def batch_digest(self, meta: dict | None, rows: list[tuple]) -> str:
        if meta is not None:
            meta = {"format": meta["format"], "factors": json.loads(meta["factors"]),
                    "arms": json.loads(meta["arms"]), "levels": json.loads(meta["levels"])}
        payload = {"meta": meta, "slots": sorted(rows, key=lambda r: (r[0], r[1]))}
        return _sha256(_canonical(payload))

    def slot_rows(self, conn, where: str = "", args=()) -> list[tuple]:
        """(stratum, seq, arm, block, block_size, batch) in plaintext."""
        return conn.execute(f"SELECT stratum, seq, arm, block, block_size, batch FROM slots {where}", args).fetchall()


class _V2:
    """Concealed format: sealed slots, HMAC chain keyed by the trial key."""

    format = FORMAT
    schema = _SCHEMA
    keyed = True

    def __init__(self, key: _keys.TrialKey, ledger_id: str, pad: int):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.key, self.ledger_id, self.pad = key, ledger_id, pad
        self._aead = AESGCM(key.seal)

    def entry_hash(self, prev, n, kind, pid, stratum, seq, arm, time, digest, detail=None) -> str:
        return self.key.mac(prev + "\n" + _canonical([n, kind, pid, stratum, seq, arm, time, digest, detail]))

    def batch_digest(self, meta: dict | None, rows: list[tuple]) -> str:
        payload = {"ledger": self.ledger_id, "meta": meta, "slots": sorted(rows, key=lambda r: (r[0], r[1]))}
        return self.key.mac(_canonical(payload))

    def _aad(self, stratum: str, seq: int, batch: int) -> bytes:
        return _canonical([FORMAT, self.ledger_id, stratum, seq, batch]).encode()

    def seal(self, stratum: str, seq: int, arm: str, block, size, batch: int) -> bytes:
        plain = _canonical([arm, block, size]).encode()
        if len(plain) > self.pad:
            raise LedgerError("a schedule row is too long to seal (block numbers beyond 10**12?)")
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plain.ljust(self.pad, b" "), self._aad(stratum, seq, batch))

    def open(self, stratum: str, seq: int, batch: int, sealed) -> tuple:
        from cryptography.exceptions import InvalidTag

        try:
            blob = bytes(sealed)
            plain = self._aead.decrypt(blob[:12], blob[12:], self._aad(stratum, seq, batch))
            arm, block, size = json.loads(plain.decode("ascii"))
        except (InvalidTag, TypeError, ValueError, UnicodeError):
            _fail(f"slot {seq} of stratum {stratum} does not open with the trial key: it was edited, moved or "
                  "copied from another ledger")
        return arm, block, size

    def slot_rows(self, conn, where: str = "", args=()) -> list[tuple]:
        rows = conn.execute(f"SELECT stratum, seq, CAST(sealed AS BLOB), batch FROM slots {where}", args).fetchall()
        return [(k, s, *self.open(k, s, b, sealed), b) for k, s, sealed, b in rows]


def _seal_generator(codec: _V2, generator: dict) -> str:
    spec = dict(generator)
    if spec.get("design") not in ("blocks", "complete", "simple") or "seed" not in spec:
        raise LedgerError("generator needs 'design' (blocks, complete or simple) and 'seed'")
    seed = spec.pop("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise LedgerError("generator 'seed' must be a non-negative integer")
    nonce = secrets.token_bytes(12)
    aad = _canonical([FORMAT, codec.ledger_id, "generator seed"]).encode()
    sealed = nonce + codec._aead.encrypt(nonce, f"{seed:080x}".encode(), aad)
    # plain json.dumps: the order of the strata factors is part of the design (sort_keys would change it)
    return json.dumps({**spec, "seed_sealed": sealed.hex()}, separators=(",", ":"))


def _open_generator(codec: _V2, text: str) -> dict:
    from cryptography.exceptions import InvalidTag

    try:
        spec = json.loads(text)
        blob = bytes.fromhex(spec.pop("seed_sealed"))
        aad = _canonical([FORMAT, codec.ledger_id, "generator seed"]).encode()
        seed = int(codec._aead.decrypt(blob[:12], blob[12:], aad).decode("ascii"), 16)
    except (InvalidTag, ValueError, KeyError, TypeError, UnicodeError):
        _fail("the recorded generator does not open with the trial key")
    return {**spec, "seed": seed}


def _pad_length(arms: list) -> int:
    longest = max(len(_canonical([canonical_label(a), 10**12, 10**12]).encode()) for a in arms)
    return 64 * (longest // 64 + 1)


@functools.cache
def _expected_schema(schema: str) -> tuple:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(schema)
        return tuple(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"))
    finally:
        conn.close()


def _check_schema(conn, codec) -> None:
    found = tuple(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"))
    expected = _expected_schema(codec.schema)
    if found == expected:
        return
    want = {(t, n): s for t, n, _, s in expected}
    have = {(t, n): s for t, n, _, s in found}
    problems = [f"{t} {n!r} is missing" for (t, n) in want if (t, n) not in have]
    problems += [f"unexpected {t} {n!r} was added" for (t, n) in have if (t, n) not in want]
    problems += [f"{t} {n!r} was altered" for (t, n) in want if (t, n) in have and have[(t, n)] != want[(t, n)]]
    _fail("the database schema is not the one peertrial created: " + "; ".join(problems or ["order differs"]))


# -- files --------------------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TMP_RE = re.compile(r"\.peertrial-tmp\.(\d+)\.[0-9a-f]+")
_OLD_TMP_RE = re.compile(r"\.(\d+)\.tmp(-wal|-shm|-journal)?$")


def _clean_temp(path: Path) -> list[Path]:
    """Remove temporary files that a create of ``path`` in a now dead process left behind."""
    removed = []
    folder = path.parent
    try:
        candidates = list(folder.glob(f".{glob_escape(path.name)}.*"))
    except OSError:
        return removed
    for f in candidates:
        rest = f.name[len(path.name) + 1:]
        m = _TMP_RE.match(rest) or _OLD_TMP_RE.fullmatch(rest)
        if m is None or _pid_alive(int(m.group(1))) and int(m.group(1)) != os.getpid():
            continue
        if int(m.group(1)) == os.getpid() and _TMP_RE.match(rest):
            continue  # our own create in progress (another thread)
        try:
            f.unlink()
            removed.append(f)
        except FileNotFoundError:
            pass
        except OSError:
            break  # read-only folder: nothing to clean here
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _unlink_all(*paths: Path) -> None:
    for p in paths:
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                Path(str(p) + suffix).unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _os_problem(exc: BaseException, path: Path, doing: str) -> LedgerError:
    """A clear LedgerError for a full disk, a permission problem or another OS/SQLite failure."""
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "full" in text or "too large" in text:
        return LedgerError(f"{doing} {path}: the disk is full (or a file size limit was reached); "
                           "nothing was written. Free some space and try again")
    if code in (errno.EACCES, errno.EPERM) or "permission" in text:
        return LedgerError(f"{doing} {path}: permission denied")
    if code == errno.EROFS or "read-only" in text or "readonly" in text:
        return LedgerError(f"{doing} {path}: the file system is read-only")
    if isinstance(exc, sqlite3.Error) and ("disk i/o" in text or "unable to open" in text):
        return LedgerError(f"{doing} {path}: the disk reported an error ({exc}); nothing was written")
    return LedgerError(f"{doing} {path}: {exc}")


def _is_full(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "full" in str(exc).lower()


def _token_hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, **_SCRYPT)


# -- the ledger ---------------------------------------------------------------------------------

class Ledger:
    """Concealed allocation from a schedule stored in an SQLite file.

    Parameters
    ----------
    path : str or Path
        The ledger file.
    key : bytes or str, optional
        The trial key (32 bytes or 64 hex digits). By default it is read from
        the environment variable ``PEERTRIAL_LEDGER_KEY`` or from ``key_file``.
    key_file : str or Path, optional
        The key file (default ``<path>.key``). Without any key a concealed
        ledger still opens for ``audit``, ``remaining`` and ``lookup``; ``allocate``,
        ``extend`` and ``verify`` need the key.
    read_only : bool
        Open without writing (implied when the file or its folder is not writable).

    Notes
    -----
    R equivalent: none (R has no concealed-allocation ledger; this is part of the allocation
    service).

    References
    ----------
    .. [1] Schulz, K. F., & Grimes, D. A. (2002). Allocation concealment in randomised trials:
       defending against deciphering. The Lancet, 359, 614-618.
    .. [2] Haber, S., & Stornetta, W. S. (1991). How to time-stamp a digital document. Journal
       of Cryptology, 3, 99-111.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from peertrial.randomise import Ledger, permuted_blocks
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> sched = permuted_blocks(20, arms=["control", "peer"], strata={"site": [1, 2, 3]})
    >>> led = Ledger.create(folder / "trial.db", sched)      # key in trial.db.key (0600)
    >>> led.allocate("P001", site=3) in ("control", "peer")
    True
    >>> led.verify(head=led.receipt("P001")["receipt"])
    True
    """

    def __init__(self, path, key=None, *, key_file=None, read_only: bool = False):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn = None
        self._snapshot: tempfile.TemporaryDirectory | None = None
        self._auth_cache: dict[str, bytes] = {}
        self._auth_failures: dict[str, list[float]] = {}
        if not self.path.exists():
            raise LedgerError(f"no ledger at {self.path}; create one with Ledger.create(path, schedule)")
        _clean_temp(self.path)
        if not os.access(self.path, os.R_OK):
            raise LedgerError(f"cannot read the ledger {self.path}: permission denied")
        writable = (not read_only and os.access(self.path, os.W_OK)
                    and os.access(self.path.parent, os.W_OK | os.X_OK))
        self.read_only = not writable
        meta = self._connect(writable)
        try:
            fmt = meta.get("format")
            if fmt not in (FORMAT, FORMAT_V1):
                raise LedgerError(f"{self.path} is not a peertrial ledger (format {fmt!r})")
            self.format = fmt
            self.factors: list[str] = json.loads(meta["factors"])
            self.arms: list = json.loads(meta["arms"])
            self.levels: dict[str, list] = json.loads(meta["levels"])
            self._arm_of = {canonical_label(a): a for a in self.arms}
            self._level_of = {f: {canonical_label(v): v for v in lev} for f, lev in self.levels.items()}
            if fmt == FORMAT_V1:
                self._codec = _V1()
                self._key = None
                warnings.warn(
                    f"{self.path} is a first-format ledger: its schedule is stored in plaintext and its hash "
                    "chain is not keyed, so it is neither concealed nor keyed-tamper-evident. It still works; "
                    "start new trials with a new ledger (Ledger.create).",
                    PeertrialWarning, stacklevel=2,
                )
            else:
                self.ledger_id = meta["ledger_id"]
                self._key = self._find_key(key, key_file)
                self._codec = None
                if self._key is not None:
                    if not hmac.compare_digest(self._key.check(self.ledger_id), meta["key_check"]):
                        raise LedgerIntegrityError(
                            f"the trial key ({self._key.source}) does not belong to the ledger {self.path}: "
                            "either it is the wrong key or the ledger file was replaced by another one"
                        )
                    self._codec = _V2(self._key, self.ledger_id, int(meta["pad"]))
        except LedgerError:
            self.close()
            raise
        except (KeyError, ValueError, TypeError) as exc:
            self.close()
            raise LedgerIntegrityError(f"{self.path} is damaged: its metadata cannot be read ({exc})") from None

    def _find_key(self, key, key_file):
        try:
            return self._find_key_unchecked(key, key_file)
        except LedgerError:
            raise
        except ValueError as exc:  # a malformed or unreadable key: say so, not "damaged ledger"
            raise LedgerError(str(exc)) from None

    def _find_key_unchecked(self, key, key_file):
        if key is not None:
            return _keys.parse_key(key, "the key argument")
        env = os.environ.get(_keys.KEY_ENV)
        if env:
            return _keys.parse_key(env, f"${_keys.KEY_ENV}")
        kf = Path(key_file) if key_file is not None else _keys.default_key_file(self.path)
        if kf.exists():
            k, _ = _keys.read_key_file(kf)
            return k
        if key_file is not None:
            raise LedgerError(f"key file {kf} does not exist")
        return None

    def _open_conn(self, target: Path, mode: str):
        uri = f"file:{quote(str(target.resolve()))}?mode={mode}"
        conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        return conn

    def _connect(self, writable: bool) -> dict:
        """Open the connection; read-only media fall back to mode=ro, then to a private snapshot."""
        attempts = (["rw"] if writable else []) + ["ro", "snapshot"]
        last = None
        for how in attempts:
            conn = None
            try:
                if how == "snapshot":
                    self._snapshot = tempfile.TemporaryDirectory(prefix="peertrial-ro-")
                    copy = Path(self._snapshot.name) / "ledger.db"
                    shutil.copyfile(self.path, copy)
                    for suffix in ("-wal",):
                        side = Path(str(self.path) + suffix)
                        if side.exists():
                            shutil.copyfile(side, Path(str(copy) + suffix))
                    conn = self._open_conn(copy, "rw")
                else:
                    conn = self._open_conn(self.path, how)
                if how == "rw":
                    conn.execute("PRAGMA synchronous = FULL")
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                self._conn = conn
                if how != "rw":
                    self.read_only = True
                return meta
            except sqlite3.OperationalError as exc:
                last = exc
                if conn is not None:
                    conn.close()
                text = str(exc).lower()
                if "no such table" in text:
                    raise LedgerError(f"{self.path} is not a peertrial ledger ({exc})") from None
                if "locked" in text or "busy" in text:
                    raise LedgerError(f"the ledger {self.path} is locked by another process ({exc})") from None
                continue  # read-only media, missing -shm, ...: try the next way
            except (sqlite3.DatabaseError, UnicodeError) as exc:
                if conn is not None:
                    conn.close()
                raise LedgerIntegrityError(
                    f"{self.path} is damaged or not a peertrial ledger: SQLite reports {exc!s:.200}"
                ) from None
            except OSError as exc:
                last = exc
                continue
        raise _os_problem(last, self.path, "cannot open the ledger")

    # -- creation ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path, schedule: pd.DataFrame, strata=None, *, key=None, key_file=None,
               overwrite: bool = False, generator: dict | None = None) -> Ledger:
        """Write a new ledger holding ``schedule``, sealed under a new trial key.

        Parameters
        ----------
        path : str or Path
            The ledger file; an existing file is never overwritten unless
            ``overwrite=True``.
        schedule : DataFrame
            From :func:`permuted_blocks` (or ``simple``/``complete``). Its stratum
            factors are the columns other than ``seq``, ``block``, ``block_size``,
            ``arm`` and ``prob_*`` (or ``strata``). Make it with the default
            ``seed=None`` (256 bits from the operating system) unless the protocol
            requires a recorded seed: anyone who knows or guesses the seed can
            regenerate the schedule.
        key : bytes or str, optional
            Use this trial key (no key file is written). Otherwise the key comes
            from ``$PEERTRIAL_LEDGER_KEY`` when set, else a new random key is
            written to ``key_file`` (default ``<path>.key``, created ``0600``).
        generator : dict, optional
            How ``schedule`` was made, so that ``extend(n=...)`` can continue it:
            ``{"design": "blocks"|"complete"|"simple", "seed": int, "arms": [...],
            "strata": {...}, "block_sizes": [...], "ratio": [...]}`` (the keywords of
            :func:`permuted_blocks`, :func:`complete` or :func:`simple`). The seed is
            stored sealed under the trial key, like the slots.

        Returns
        -------
        Ledger

        The file is built under a temporary name beside ``path`` and linked into
        place only when complete (fsynced): on any failure (a full disk, a
        permission error, a kill) the path stays free and the temporary file is
        removed, now or by the next ``create``/open.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; a ledger is never overwritten (use overwrite=True / --force)")
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

        write_key_file = False
        if key is not None:
            trial_key = _keys.parse_key(key, "the key argument")
        elif os.environ.get(_keys.KEY_ENV):
            trial_key = _keys.parse_key(os.environ[_keys.KEY_ENV], f"${_keys.KEY_ENV}")
        else:
            trial_key, write_key_file = _keys.new_key(), True
        kf = Path(key_file) if key_file is not None else _keys.default_key_file(path)
        if write_key_file and kf.exists() and not overwrite:
            raise FileExistsError(
                f"the key file {kf} exists; it is never overwritten. If it belongs to a ledger you deleted, "
                "remove it, or give key_file= (--key-file) another path"
            )
        ledger_id = secrets.token_hex(16)
        pad = _pad_length(arms)
        codec = _V2(trial_key, ledger_id, pad)
        meta = {"format": FORMAT, "ledger_id": ledger_id, "factors": _canonical(factors),
                "arms": json.dumps(arms), "levels": json.dumps(levels), "pad": str(pad),
                "key_check": trial_key.check(ledger_id), "created": _utc_now()}
        if generator is not None:
            meta["generator"] = _seal_generator(codec, generator)

        _clean_temp(path)
        token = f"{_TMP_MARK}{os.getpid()}.{secrets.token_hex(6)}"
        tmp = path.with_name(f".{path.name}{token}")
        tmp_key = path.with_name(f".{path.name}{token}.key") if write_key_file else None
        linked_key = False
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # 0600 before any byte
                os.close(fd)
                conn = sqlite3.connect(tmp, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode = DELETE")
                    conn.executescript(_SCHEMA)
                    conn.execute("BEGIN")
                    conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
                    conn.executemany(
                        "INSERT INTO slots VALUES (?, ?, ?, 0)",
                        [(k, s, codec.seal(k, s, a, b, z, 0)) for k, s, a, b, z in rows],
                    )
                    digest = codec.batch_digest(meta, rows)
                    time = _utc_now()
                    h = codec.entry_hash(GENESIS, 1, "schedule", None, None, None, None, time, digest, None)
                    conn.execute("INSERT INTO log VALUES (1, 'schedule', NULL, NULL, NULL, NULL, ?, ?, NULL, ?, ?)",
                                 (time, digest, GENESIS, h))
                    conn.execute("COMMIT")
                    conn.execute("PRAGMA journal_mode = WAL")
                finally:
                    conn.close()
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if tmp_key is not None:
                    _keys.write_private(tmp_key, _keys.key_text(trial_key, ledger_id).encode())
            except (OSError, sqlite3.Error) as exc:
                raise _os_problem(exc, path, "cannot create the ledger") from None
            try:
                if tmp_key is not None:
                    if overwrite:
                        os.replace(tmp_key, kf)
                    else:
                        os.link(tmp_key, kf)
                    linked_key = True
                if overwrite:
                    # an old ledger's journal must not meet the new file
                    Path(str(path) + "-wal").unlink(missing_ok=True)
                    Path(str(path) + "-shm").unlink(missing_ok=True)
                    os.replace(tmp, path)
                else:
                    os.link(tmp, path)  # fails if someone created ``path`` meanwhile
                _fsync_dir(path.parent)
            except FileExistsError:
                if linked_key:
                    kf.unlink(missing_ok=True)
                raise FileExistsError(f"{path} was created by someone else meanwhile; nothing was written") from None
            except OSError as exc:
                if linked_key:
                    kf.unlink(missing_ok=True)
                raise _os_problem(exc, path, "cannot create the ledger") from None
        finally:
            _unlink_all(tmp)
            if tmp_key is not None:
                tmp_key.unlink(missing_ok=True)
        return cls(path, key=trial_key)

    @classmethod
    def open(cls, path, key=None, *, key_file=None, read_only: bool = False) -> Ledger:
        """Open an existing ledger (same as ``Ledger(path, ...)``)."""
        return cls(path, key, key_file=key_file, read_only=read_only)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._snapshot is not None:
                self._snapshot.cleanup()
                self._snapshot = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r}, factors={self.factors}, arms={self.arms})"

    # -- helpers ----------------------------------------------------------------------------
    def _need_key(self, doing: str):
        if self.format == FORMAT_V1:
            return self._codec
        if self._codec is None:
            raise LedgerError(
                f"{doing} needs the trial key of {self.path}: give key=..., set ${_keys.KEY_ENV}, or keep the "
                f"key file at {_keys.default_key_file(self.path)} (or pass key_file=)"
            )
        return self._codec

    def _need_write(self, doing: str) -> None:
        if self.read_only:
            raise LedgerError(f"cannot {doing}: the ledger {self.path} is open read-only (read-only file "
                              "system or no write permission); audit and verify still work")

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

    def _write(self, body):
        """Run ``body(conn)`` in one BEGIN IMMEDIATE transaction; clear errors for disk problems."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _os_problem(exc, self.path, "cannot write to the ledger") from None
        try:
            out = body(conn)
            self._commit()
            return out
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if isinstance(exc, sqlite3.IntegrityError):
                raise LedgerIntegrityError(f"the ledger refused a write ({exc}); run verify()") from None
            if isinstance(exc, sqlite3.Error):
                if _is_full(exc) or "readonly" in str(exc).lower() or "disk i/o" in str(exc).lower():
                    raise _os_problem(exc, self.path, "cannot write to the ledger") from None
                raise LedgerIntegrityError(f"the ledger {self.path} failed ({exc}); run verify()") from None
            raise

    def _append(self, conn, codec, kind, pid=None, stratum=None, seq=None, arm=None, digest=None,
                detail=None) -> tuple[int, str, str]:
        """Append one chained entry inside the caller's transaction; returns (n, time, hash)."""
        n, prev = conn.execute("SELECT n, hash FROM log ORDER BY n DESC LIMIT 1").fetchone()
        time = _utc_now()
        detail_text = None if detail is None else _canonical(detail)
        h = codec.entry_hash(prev, n + 1, kind, pid, stratum, seq, arm, time, digest, detail_text)
        if codec.keyed:
            cur = conn.execute("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (n + 1, kind, pid, stratum, seq, arm, time, digest, detail_text, prev, h))
        else:
            cur = conn.execute("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (n + 1, kind, pid, stratum, seq, arm, time, digest, prev, h))
        row = conn.execute("SELECT hash FROM log WHERE n = ?", (n + 1,)).fetchone()
        if cur.rowcount != 1 or row is None or row[0] != h:
            _fail(f"entry {n + 1} was not stored as written (a trigger or altered table discards or changes "
                  "log entries); nothing was allocated")
        return n + 1, time, h

    # -- allocation -------------------------------------------------------------------------
    def allocate(self, participant, **strata):
        """Allocate ``participant`` to the next slot of its stratum; returns the arm.

        The same id again returns its recorded arm. Raises (allocating nothing)
        on bad ids (see :func:`participant_id`), unknown levels, a known id with
        different strata and when the stratum's schedule is exhausted
        (:class:`StratumFullError`). ``receipt(participant)`` gives the receipt.
        """
        return self._allocate(participant, strata)["arm"]

    @_locked
    def _allocate(self, participant, strata: dict, actor: dict | None = None) -> dict:
        """The allocation record ``{participant, arm, allocated_at, receipt, seq, new}``."""
        pid = participant_id(participant)
        key = self._stratum(strata)
        codec = self._need_key("allocation")
        self._need_write("allocate")

        def body(conn):
            known = conn.execute(
                "SELECT stratum, arm, time, hash, seq FROM log WHERE kind = 'allocate' AND participant = ?", (pid,)
            ).fetchone()
            if known is not None:
                if known[0] != key:
                    raise LedgerError(
                        f"participant {pid!r} was already allocated in stratum {_describe(known[0])}, "
                        f"not {_describe(key)}; nothing was changed"
                    )
                if actor is not None:
                    self._append(conn, codec, "request", detail={**actor, "participant": pid, "status": 200,
                                                                  "outcome": "repeat: recorded arm returned"})
                return {"participant": pid, "arm": self._arm_of[known[1]], "allocated_at": known[2],
                        "receipt": known[3], "seq": known[4], "new": False}
            (seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM log WHERE kind = 'allocate' AND stratum = ?", (key,)
            ).fetchone()
            slot = codec.slot_rows(conn, "WHERE stratum = ? AND seq = ?", (key, seq))
            if not slot:
                raise self._full_error(key, seq - 1)
            arm = slot[0][2]
            _, time, h = self._append(conn, codec, "allocate", pid, key, seq, arm, None, actor)
            return {"participant": pid, "arm": self._arm_of[arm], "allocated_at": time, "receipt": h,
                    "seq": seq, "new": True}

        return self._write(body)

    def _full_error(self, key: str, used: int) -> StratumFullError:
        if used == 0:
            return LedgerError(f"stratum {_describe(key)} has no slots in this ledger's schedule; nothing was allocated")
        return StratumFullError(
            f"stratum {_describe(key)} is full: all {used} slots of its schedule are allocated, so nothing "
            "was allocated. Extend the schedule with Ledger.extend(n=larger n) (`peertrial randomise extend "
            "--db DB --n N`) when the ledger records its generator, else with Ledger.extend(schedule), e.g. "
            "permuted_blocks(...) with a larger n and the same seed."
        )

    @_locked
    def lookup(self, participant):
        """The arm recorded for ``participant``, or None if not allocated."""
        row = self._conn.execute(
            "SELECT arm FROM log WHERE kind = 'allocate' AND participant = ?", (participant_id(participant),)
        ).fetchone()
        return None if row is None else self._arm_of[row[0]]

    @_locked
    def receipt(self, participant) -> dict | None:
        """``{participant, arm, allocated_at, seq, receipt}`` of an allocation, or None.

        ``receipt`` is the chain head right after the allocation; kept outside
        the ledger (e.g. by the site), ``verify(head=receipt)`` proves the
        allocation and everything before it is still in the ledger, unedited.
        """
        pid = participant_id(participant)
        row = self._conn.execute(
            "SELECT arm, time, seq, hash FROM log WHERE kind = 'allocate' AND participant = ?", (pid,)
        ).fetchone()
        if row is None:
            return None
        return {"participant": pid, "arm": self._arm_of[row[0]], "allocated_at": row[1], "seq": row[2],
                "receipt": row[3]}

    @_locked
    def record(self, detail: dict) -> str:
        """Append a request or refusal to the audit trail (chained); returns the new head."""
        codec = self._need_key("recording an event")
        self._need_write("record an event")
        return self._write(lambda conn: self._append(conn, codec, "request", detail=detail))[2]

    @_locked
    def extend(self, schedule: pd.DataFrame | None = None, *, n: int | None = None) -> int:
        """Append slots to the schedule; returns the number of new slots.

        ``extend(n=N)`` regenerates the schedule with ``N`` slots per stratum from
        the generator recorded at creation (its seed sealed in the ledger; the
        ledgers ``peertrial randomise schedule`` makes record it) and appends the
        slots beyond the current ones: the same schedule a larger ``n`` would have
        given from the start.

        ``schedule`` continues each stratum's ``seq``; a schedule from the same
        generator and seed with a larger ``n`` is the usual choice. Rows for
        slots that exist already are skipped; where those slots are allocated
        their arms must agree (a check against a wrong seed that reveals nothing
        beyond ``audit()``: unallocated slots are never compared, so ``extend``
        cannot be used to probe the concealed schedule). New strata of known
        levels are allowed. The extension is recorded in the hash chain.
        """
        codec = self._need_key("extending the schedule")
        self._need_write("extend the schedule")
        if (schedule is None) == (n is None):
            raise LedgerError("give either a schedule or n (slots per stratum) to extend the schedule")
        if n is not None:
            schedule = self._regenerate(codec, n)
        rows = _schedule_rows(schedule, self.factors)
        for key, *_ in rows:
            self._stratum(dict(zip(self.factors, (v for _, v in json.loads(key)))))
        unknown = {r[2] for r in rows} - set(self._arm_of)
        if unknown:
            raise LedgerError(f"schedule has arms {sorted(unknown)} not in this ledger's arms {self.arms}")

        def body(conn):
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
                if codec.keyed:
                    conn.executemany("INSERT INTO slots VALUES (?, ?, ?, ?)",
                                     [(k, s, codec.seal(k, s, a, b, z, batch), batch) for k, s, a, b, z in new])
                else:
                    conn.executemany("INSERT INTO slots VALUES (?, ?, ?, ?, ?, ?)", [(*r, batch) for r in new])
                self._append(conn, codec, "extend", digest=codec.batch_digest(None, new))
            return len(new)

        return self._write(body)

    @_locked
    def backup(self, target, *, overwrite: bool = False) -> Path:
        """Copy the ledger to ``target`` with SQLite's online backup API (safe while in use).

        The copy is written under a temporary name (mode 0600), checked with
        ``PRAGMA integrity_check`` and linked into place; an existing file is never
        replaced unless ``overwrite=True``. The trial key is not copied: back it up
        separately (a backup of the ledger alone reveals no unallocated slot).

        Returns
        -------
        Path
            ``target``.
        """
        target = Path(target)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists; a backup never overwrites a file (use overwrite=True / --force)")
        tmp = target.with_name(f".{target.name}{_TMP_MARK}{os.getpid()}.{secrets.token_hex(6)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            dest = sqlite3.connect(tmp)
            try:
                self._conn.backup(dest)
                if dest.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
                    raise LedgerIntegrityError(f"the backup of {self.path} failed SQLite's integrity check")
                dest.execute("PRAGMA journal_mode = DELETE")
            finally:
                dest.close()
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if overwrite:
                os.replace(tmp, target)
            else:
                os.link(tmp, target)
            _fsync_dir(target.parent)
        except FileExistsError:
            raise FileExistsError(f"{target} was created meanwhile; nothing was written") from None
        except (OSError, sqlite3.Error) as exc:
            raise _os_problem(exc, target, "cannot write the backup") from None
        finally:
            _unlink_all(tmp)
        return target

    def _regenerate(self, codec, n: int) -> pd.DataFrame:
        from peertrial.randomise.schedules import complete, permuted_blocks, simple

        text = self._conn.execute("SELECT value FROM meta WHERE key = 'generator'").fetchone()
        if text is None or not codec.keyed:
            raise LedgerError(
                "this ledger does not record how its schedule was made; extend it with a schedule "
                "(Ledger.extend(schedule), `peertrial randomise extend --schedule CSV`)"
            )
        spec = _open_generator(codec, text[0])
        design = spec.pop("design")
        make = {"blocks": permuted_blocks, "complete": complete, "simple": simple}[design]
        return make(n, **spec)

    # -- users of the web service -----------------------------------------------------------
    @_locked
    def add_user(self, name: str, role: str, site=None) -> str:
        """Add a user of ``peertrial randomise serve``; returns the access token (shown once).

        Only a salted scrypt hash of the token is stored. ``role`` is ``"site"``
        (allocates at ``site`` only), ``"statistician"`` (reads allocations and
        verifies) or ``"admin"`` (everything). A revoked name may be given a new
        token by adding it again.
        """
        codec = self._need_key("adding a user")
        self._need_write("add a user")
        if codec is None or not codec.keyed:
            raise LedgerError("users need a concealed (second-format) ledger; create a new ledger")
        if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > 100:
            raise LedgerError(f"user name must be non-empty text without surrounding spaces, got {name!r}")
        name = unicodedata.normalize("NFC", name)
        if role not in ROLES:
            raise LedgerError(f"role must be one of {list(ROLES)}, got {role!r}")
        if role == "site":
            if "site" not in self.factors:
                raise LedgerError("site users need a ledger stratified by a factor named 'site'")
            if site is None:
                raise LedgerError("a site user needs --site SITE (the site where it may allocate)")
            label = canonical_label(site)
            if label not in self._level_of["site"]:
                raise LedgerError(f"unknown site {site!r}; sites: {self.levels['site']}")
            site = label
        elif site is not None:
            raise LedgerError(f"only site users have a site; a {role} allocates (or reads) everywhere")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        hashed = _token_hash(secret, salt)

        def body(conn):
            row = conn.execute("SELECT revoked FROM users WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise LedgerError(f"user {name!r} exists; revoke it first to issue a new token")
            now = _utc_now()
            conn.execute("DELETE FROM users WHERE name = ?", (name,))
            conn.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                         (name, role, site, token_id, salt, hashed, now))
            self._append(conn, codec, "user", detail={"action": "add", "name": name, "role": role, "site": site,
                                                       "token_id": token_id, "created": now,
                                                       "credential": self._credential(salt, hashed)})

        self._write(body)
        return f"ptk_{token_id}_{secret}"

    def _credential(self, salt: bytes, hashed: bytes) -> str:
        return self._key.mac("credential\n" + bytes(salt).hex() + bytes(hashed).hex())

    @_locked
    def revoke_user(self, name: str) -> None:
        """Revoke a user's token (recorded in the chain); its requests get 401 from then on."""
        codec = self._need_key("revoking a user")
        self._need_write("revoke a user")

        def body(conn):
            row = conn.execute("SELECT revoked FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise LedgerError(f"no user {name!r}")
            if row[0] is not None:
                raise LedgerError(f"user {name!r} is already revoked")
            now = _utc_now()
            conn.execute("UPDATE users SET revoked = ? WHERE name = ?", (now, name))
            self._append(conn, codec, "user", detail={"action": "revoke", "name": name, "revoked": now})

        self._write(body)
        self._auth_cache.clear()

    @_locked
    def users(self) -> pd.DataFrame:
        """Users of the web service: name, role, site, created, revoked (no secrets)."""
        if self.format == FORMAT_V1:
            return pd.DataFrame(columns=["name", "role", "site", "created", "revoked"])
        rows = self._conn.execute("SELECT name, role, site, created, revoked FROM users ORDER BY created").fetchall()
        return pd.DataFrame(rows, columns=["name", "role", "site", "created", "revoked"])

    def authenticate(self, token) -> dict | None:
        """The user ``{name, role, site}`` holding ``token``, or None (unknown, revoked or malformed).

        The salted scrypt hash is computed once per token and process (then a
        fast digest is compared). After 10 wrong secrets for one token id within
        a minute that id is refused without hashing until the minute has passed
        (a process that already accepted the right token keeps accepting it).
        """
        if not isinstance(token, str) or self.format == FORMAT_V1:
            return None
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "ptk" or not re.fullmatch(r"[0-9a-f]{12}", parts[1]):
            return None
        with self._lock:
            if self._conn is None:
                raise LedgerError(f"the ledger {self.path} is closed")
            row = self._conn.execute(
                "SELECT name, role, site, salt, token_hash FROM users WHERE token_id = ? AND revoked IS NULL",
                (parts[1],),
            ).fetchone()
        if row is None:
            return None
        name, role, site, salt, hashed = row
        fast = hashlib.sha256(token.encode("utf-8") + bytes(hashed)).digest()
        cached = self._auth_cache.get(parts[1])
        if cached is None or not hmac.compare_digest(cached, fast):
            now = _time.monotonic()
            with self._lock:
                recent = [t for t in self._auth_failures.get(parts[1], []) if now - t < AUTH_WINDOW]
                self._auth_failures[parts[1]] = recent
            if len(recent) >= AUTH_FAILURES:
                return None  # guessing at this token: refuse for a while without paying for scrypt
            if not hmac.compare_digest(_token_hash(parts[2], bytes(salt)), bytes(hashed)):
                with self._lock:
                    self._auth_failures.setdefault(parts[1], []).append(now)
                return None
            if len(self._auth_cache) > 10_000:
                self._auth_cache.clear()
            self._auth_cache[parts[1]] = fast  # the slow hash is paid once per token per process
        return {"name": name, "role": role, "site": site}

    # -- inspection -------------------------------------------------------------------------
    @_locked
    def head(self) -> str:
        """Hash of the newest log entry; record it elsewhere to detect truncation."""
        try:
            return self._conn.execute("SELECT hash FROM log ORDER BY n DESC LIMIT 1").fetchone()[0]
        except (sqlite3.Error, TypeError) as exc:
            raise LedgerIntegrityError(f"cannot read the head of {self.path}: {exc}") from None

    def _split(self, key: str) -> list:
        return [self._level_of[f][v] for f, v in json.loads(key)]

    @_locked
    def audit(self) -> pd.DataFrame:
        """Every allocation in order: participant, stratum factors, seq, arm, time, hash (= receipt)."""
        try:
            rows = self._conn.execute(
                "SELECT participant, stratum, seq, arm, time, hash FROM log WHERE kind = 'allocate' ORDER BY n"
            ).fetchall()
            records = [
                {"participant": p, **dict(zip(self.factors, self._split(k))), "seq": s, "arm": self._arm_of[a],
                 "time": t, "hash": h}
                for p, k, s, a, t, h in rows
            ]
        except (sqlite3.Error, UnicodeError, ValueError, KeyError, TypeError) as exc:
            raise LedgerIntegrityError(f"the ledger {self.path} is damaged; run verify() ({exc!s:.200})") from None
        cols = ["participant", *self.factors, "seq", "arm", "time", "hash"]
        frame = pd.DataFrame(records, columns=cols)
        frame["seq"] = frame["seq"].astype("int64")
        return frame

    @_locked
    def events(self) -> pd.DataFrame:
        """The whole audit trail: n, kind, time, participant, arm, detail (dict), hash."""
        try:
            if self.format == FORMAT_V1:
                rows = self._conn.execute(
                    "SELECT n, kind, time, participant, arm, NULL, hash FROM log ORDER BY n").fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT n, kind, time, participant, arm, detail, hash FROM log ORDER BY n").fetchall()
            records = [{"n": n, "kind": k, "time": t, "participant": p, "arm": None if a is None else self._arm_of[a],
                        "detail": None if d is None else json.loads(d), "hash": h}
                       for n, k, t, p, a, d, h in rows]
        except (sqlite3.Error, UnicodeError, ValueError, KeyError, TypeError) as exc:
            raise LedgerIntegrityError(f"the ledger {self.path} is damaged; run verify() ({exc!s:.200})") from None
        return pd.DataFrame(records, columns=["n", "kind", "time", "participant", "arm", "detail", "hash"])

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
    def verify(self, head=None) -> bool:
        """Check the whole ledger with the trial key; True when intact.

        Runs SQLite's ``PRAGMA integrity_check``, compares the schema with the
        one peertrial creates (an added trigger, a dropped index...), recomputes
        the keyed hash chain, opens every sealed slot, checks every allocation
        against its slot and order, and every user against its chained record.

        Parameters
        ----------
        head : str or list of str, optional
            Receipt(s) or head(s) recorded outside the ledger at any time; each
            must still be in the chain (detects deletion of that entry and
            anything before it, and a ledger replaced by another).

        Raises
        ------
        LedgerIntegrityError
            Naming the first problem found (never a raw SQLite or decoding error).
        """
        codec = self._need_key("verification")
        conn = self._conn
        try:
            conn.execute("BEGIN")  # one consistent snapshot
            try:
                check = conn.execute("PRAGMA integrity_check").fetchall()
                if check != [("ok",)]:
                    _fail("SQLite's integrity check reports damage: "
                          + "; ".join(str(r[0]) for r in check[:5]))
                _check_schema(conn, codec)
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                if codec.keyed:
                    if meta.get("format") != FORMAT or meta.get("ledger_id") != codec.ledger_id \
                            or not hmac.compare_digest(meta.get("key_check", ""), codec.key.check(codec.ledger_id)):
                        _fail("the metadata does not belong to this trial key")
                slots = codec.slot_rows(conn)
                log = conn.execute("SELECT * FROM log ORDER BY n").fetchall()
                users = (conn.execute("SELECT name, role, site, token_id, salt, token_hash, created, revoked "
                                      "FROM users").fetchall() if codec.keyed else [])
            finally:
                conn.execute("COMMIT")
            heads = [] if head is None else [head] if isinstance(head, str) else list(head)
            self._verify_chain(codec, meta, slots, log, users, heads)
        except LedgerIntegrityError:
            raise
        except (sqlite3.Error, UnicodeError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise LedgerIntegrityError(
                f"ledger integrity check failed: the file {self.path} is damaged ({type(exc).__name__}: {exc!s:.200})"
            ) from None
        return True

    def _verify_chain(self, codec, meta: dict, slots: list, log: list, users: list, heads: list) -> None:
        batches: dict[int, list] = {}
        slot_arm = {}
        for key, seq, arm, block, size, batch in slots:
            batches.setdefault(batch, []).append((key, seq, arm, block, size))
            slot_arm[(key, seq)] = arm
        if not log or log[0][1] != "schedule":
            _fail("the log does not start with the schedule entry")
        prev, batch, used, seen_pid, hashes = GENESIS, 0, {}, set(), set()
        user_state: dict[str, dict] = {}
        for i, entry in enumerate(log):
            if codec.keyed:
                n, kind, pid, key, seq, arm, time, digest, detail, prev_hash, h = entry
            else:
                n, kind, pid, key, seq, arm, time, digest, prev_hash, h = entry
                detail = None
            where = f"entry {n}" + (f" (participant {pid!r})" if pid else "")
            if n != i + 1:
                _fail(f"entry numbers jump from {i} to {n}: entries were deleted")
            if prev_hash != prev:
                _fail(f"{where} does not link to the entry before it")
            if not hmac.compare_digest(codec.entry_hash(prev, n, kind, pid, key, seq, arm, time, digest, detail),
                                       str(h)):
                _fail(f"{where} was edited after it was written, or written without the trial key (hash mismatch)")
            if kind in ("schedule", "extend"):
                if (kind == "schedule") != (batch == 0):
                    _fail(f"{where}: unexpected {kind} entry")
                rows = batches.pop(batch, [])
                if codec.batch_digest(meta if batch == 0 else None, rows) != digest:
                    _fail(f"the schedule (part {batch}) was edited after {where} recorded its digest")
                batch += 1
            elif kind == "allocate":
                if slot_arm.get((key, seq)) != arm:
                    _fail(f"{where}: arm {arm!r} is not the schedule's arm for slot {seq} of {_describe(key)}")
                if seq != used.get(key, 0) + 1:
                    _fail(f"{where}: slot {seq} of {_describe(key)} used out of order")
                if pid in seen_pid:
                    _fail(f"{where}: participant allocated twice")
                if codec.keyed and pid != participant_id(pid):
                    _fail(f"{where}: participant id is not in normal form")
                seen_pid.add(pid)
                used[key] = seq
            elif kind == "user" and codec.keyed:
                d = json.loads(detail)
                if d["action"] == "add":
                    user_state[d["name"]] = dict(d)
                elif d["action"] == "revoke" and d["name"] in user_state:
                    user_state[d["name"]]["revoked"] = d["revoked"]
                else:
                    _fail(f"{where}: a user change the chain cannot place")
            elif kind == "request" and codec.keyed:
                pass
            else:
                _fail(f"{where} has unknown kind {kind!r}")
            hashes.add(h)
            prev = h
        if batches:
            _fail(f"schedule rows in part(s) {sorted(batches)} were added without a log entry")
        for name, role, site, token_id, salt, hashed, created, revoked in users:
            d = user_state.pop(name, None)
            if d is None:
                _fail(f"user {name!r} was added to the users table without a log entry")
            if ((role, site, token_id, created, revoked) != (d["role"], d["site"], d["token_id"], d["created"],
                                                               d.get("revoked"))
                    or not hmac.compare_digest(self._credential(salt, hashed), d["credential"])):
                _fail(f"user {name!r} was edited (role, site, token or revocation differ from the chained record)")
        if user_state:
            _fail(f"user(s) {sorted(user_state)} were deleted from the users table")
        for h in heads:
            if not isinstance(h, str) or h not in hashes:
                shown = h[:16] if isinstance(h, str) else repr(h)
                _fail(f"the recorded head/receipt {shown}... is not in the chain: entries up to it were deleted, "
                      "or the ledger was replaced")
