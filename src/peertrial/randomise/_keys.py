"""The trial key: where it lives, how it is made and what is derived from it.

A ledger's secret is a 256-bit key kept **outside** the database file, in a key
file created with mode ``0600`` (by default ``<ledger>.key`` beside the
ledger; keep it elsewhere with ``key_file=``) or in the environment variable
``PEERTRIAL_LEDGER_KEY`` (64 hex digits). Two sub-keys are derived from it with
HMAC-SHA256 under fixed labels: one seals the schedule's future slots
(AES-256-GCM), the other keys the hash chain (HMAC-SHA256). Without the key the
file reveals no unallocated slot and no edit can be re-chained.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

KEY_ENV = "PEERTRIAL_LEDGER_KEY"
KEY_FORMAT = "peertrial-ledger-key-1"


class TrialKey:
    """A 32-byte trial key and the sub-keys derived from it (never printed)."""

    __slots__ = ("_raw", "chain", "seal", "source")

    def __init__(self, raw: bytes, source: str):
        if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
            raise ValueError("a trial key is 32 bytes (64 hex digits)")
        self._raw = bytes(raw)
        self.chain = hmac.new(self._raw, b"peertrial-ledger-2 chain", hashlib.sha256).digest()
        self.seal = hmac.new(self._raw, b"peertrial-ledger-2 seal", hashlib.sha256).digest()
        self.source = source

    def __repr__(self) -> str:  # never show the key itself
        return f"TrialKey(from {self.source})"

    def check(self, ledger_id: str) -> str:
        """A public fingerprint tying this key to one ledger (reveals nothing about the key)."""
        return hmac.new(self._raw, f"peertrial-ledger-2 check {ledger_id}".encode(), hashlib.sha256).hexdigest()

    def mac(self, text: str) -> str:
        return hmac.new(self.chain, text.encode("utf-8"), hashlib.sha256).hexdigest()


def new_key() -> TrialKey:
    return TrialKey(secrets.token_bytes(32), "a new key")


def parse_key(value, source: str) -> TrialKey:
    """``value`` as bytes (32) or text (64 hex digits)."""
    if isinstance(value, TrialKey):
        return value
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str):
        try:
            raw = bytes.fromhex(value.strip())
        except ValueError:
            raise ValueError(f"the trial key from {source} is not hex text") from None
    else:
        raise ValueError(f"a trial key is 32 bytes or 64 hex digits, got {type(value).__name__}")
    if len(raw) != 32:
        raise ValueError(f"the trial key from {source} must be 32 bytes (64 hex digits); got {len(raw)} bytes")
    return TrialKey(raw, source)


def default_key_file(db: Path) -> Path:
    return db.with_name(db.name + ".key")


def key_text(key: TrialKey, ledger_id: str) -> str:
    return json.dumps({"format": KEY_FORMAT, "ledger": ledger_id, "key": key._raw.hex()}) + "\n"


def read_key_file(path: Path) -> tuple[TrialKey, str | None]:
    """The key in ``path`` and the ledger id it was made for."""
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise ValueError(f"cannot read the key file {path}: permission denied") from None
    except OSError as exc:
        raise ValueError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    try:
        obj = json.loads(text)
        if obj.get("format") != KEY_FORMAT:
            raise ValueError
        return parse_key(obj["key"], f"key file {path}"), obj.get("ledger")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{path} is not a peertrial key file") from None


def write_private(path: Path, data: bytes, *, exclusive: bool = True) -> None:
    """Write ``data`` to a new file created with mode 0600 (fsynced); never follows an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    if exclusive:
        flags |= os.O_EXCL
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
