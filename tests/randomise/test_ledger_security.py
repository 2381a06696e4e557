"""Concealment, keyed tamper evidence, faults and participant identity of the ledger (issue 17).

Each tampering is done the way an attacker with write access to the file (but not the
trial key) would do it, directly with sqlite3; ``verify`` with the key must catch it.
"""

import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
import warnings

import pandas as pd
import pytest

from peertrial import PeertrialWarning
from peertrial.randomise import (
    Ledger,
    LedgerError,
    LedgerIntegrityError,
    participant_id,
    permuted_blocks,
    simple,
)
from peertrial.randomise import ledger as L

STRATA = {"site": [1, 2, 3], "diagnosis": ["psychotic", "personality", "other"]}


def schedule(n=20, seed=2017):
    return permuted_blocks(n, arms=["control", "peer"], block_sizes=[2, 4, 6], strata=STRATA, seed=seed)


@pytest.fixture
def trial(tmp_path):
    """A ledger with 6 allocations; returns (path, receipts)."""
    path = tmp_path / "t.db"
    with Ledger.create(path, schedule()) as led:
        for i in range(6):
            led.allocate(f"P{i}", site=1 + i % 2, diagnosis="other")
        receipts = [led.receipt(f"P{i}")["receipt"] for i in range(6)]
        assert led.verify(head=receipts)
    return path, receipts


def sql(path, *statements):
    conn = sqlite3.connect(path)
    try:
        for s in statements:
            conn.execute(s)
        conn.commit()
    finally:
        conn.close()


def verify(path, **kw):
    with Ledger(path) as led:
        return led.verify(**kw)


# -- identity ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, message", [
    (None, "is None"), ("", "empty"), ("   ", "empty"), (" P1", "whitespace"), ("P1 ", "whitespace"),
    ("P1\n", "whitespace"), (1, "is a number"), (1.0, "is a number"), (True, "is a number"),
    ("P\x001", "control characters"), (b"P1", "must be text"),
])
def test_ambiguous_ids_are_refused(tmp_path, bad, message):
    with Ledger.create(tmp_path / "t.db", schedule(4)) as led:
        with pytest.raises(LedgerError, match=message):
            led.allocate(bad, site=1, diagnosis="other")
        assert len(led.audit()) == 0


def test_nfc_and_nfd_are_one_participant(tmp_path):
    with Ledger.create(tmp_path / "t.db", schedule(4)) as led:
        nfd, nfc = "Zoe\u0301", "Zo\u00e9"
        arm = led.allocate(nfd, site=1, diagnosis="other")
        assert led.allocate(nfc, site=1, diagnosis="other") == arm
        assert led.audit()["participant"].tolist() == [nfc] and led.lookup(nfd) == arm
        led.allocate("1", site=1, diagnosis="other")
        with pytest.raises(LedgerError, match="give it as text"):
            led.lookup(1)
    assert participant_id("P\u00e9") == "P\u00e9"


# -- keys and concealment ------------------------------------------------------------------------

def test_key_file_is_private_and_outside_the_database(tmp_path):
    path = tmp_path / "t.db"
    Ledger.create(path, schedule(4)).close()
    key_file = tmp_path / "t.db.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    raw = bytes.fromhex(json.loads(key_file.read_text())["key"])
    assert raw not in path.read_bytes() and raw.hex().encode() not in path.read_bytes()
    key_file.rename(tmp_path / "elsewhere.key")
    with Ledger(path) as led:  # without the key: audit works, allocation and verify need it
        assert len(led.audit()) == 0
        with pytest.raises(LedgerError, match="needs the trial key"):
            led.allocate("P1", site=1, diagnosis="other")
        with pytest.raises(LedgerError, match="needs the trial key"):
            led.verify()
    with Ledger(path, key_file=tmp_path / "elsewhere.key") as led:
        assert led.verify()
    with pytest.raises(LedgerIntegrityError, match="does not belong"):
        Ledger(path, key=os.urandom(32))


def test_clear_errors_for_bad_keys_and_permissions(tmp_path):
    path = tmp_path / "t.db"
    Ledger.create(path, schedule(4)).close()
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(LedgerError, match="is not a peertrial key file"):
        Ledger(path, key_file=tmp_path / "bad.key")
    with pytest.raises(LedgerError, match="64 hex digits"):
        Ledger(path, key="abcd")
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger(path, key_file=tmp_path / "missing.key")
    if os.geteuid() != 0:  # root reads anything
        path.chmod(0)
        with pytest.raises(LedgerError, match="permission denied"):
            Ledger(path)
    (tmp_path / "junk.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LedgerIntegrityError, match="damaged or not a peertrial ledger"):
        Ledger(tmp_path / "junk.db")


def test_key_from_environment(tmp_path, monkeypatch):
    key = os.urandom(32).hex()
    monkeypatch.setenv("PEERTRIAL_LEDGER_KEY", key)
    path = tmp_path / "t.db"
    Ledger.create(path, schedule(4)).close()
    assert not (tmp_path / "t.db.key").exists()
    with Ledger(path) as led:
        led.allocate("P1", site=1, diagnosis="other")
        assert led.verify()
    monkeypatch.delenv("PEERTRIAL_LEDGER_KEY")
    with Ledger(path, key=key) as led:
        assert led.verify()


def test_reading_the_database_without_the_key_predicts_nothing(tmp_path):
    """An attacker who reads the file (not the key) tries to predict each next allocation.

    Simple randomisation makes every arm a fair coin, so a predictor can only beat
    chance through the file. The attacker learns, from the allocated slots (arm
    revealed in the log), which ciphertext bits go with which arm, and predicts the
    next slot of every stratum from its ciphertext; over 400 predictions the hit rate
    must be compatible with 1/2 (two-sided binomial p > 0.001).
    """
    from scipy.stats import binomtest

    sched = simple(120, arms=["control", "intervention-arm"], strata=STRATA)  # OS seed
    path = tmp_path / "t.db"
    led = Ledger.create(path, sched)
    strata = [(s, d) for s in STRATA["site"] for d in STRATA["diagnosis"]]
    hits = total = 0
    for round_ in range(45):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        sealed = {(k, s): bytes(b) for k, s, b in conn.execute("SELECT stratum, seq, sealed FROM slots")}
        log = conn.execute("SELECT stratum, seq, arm FROM log WHERE kind = 'allocate'").fetchall()
        conn.close()
        assert len({len(b) for b in sealed.values()}) == 1  # one length: arm labels of different length hide
        # learn bit/arm association on allocated slots
        score = [0] * (8 * len(next(iter(sealed.values()))))
        for k, s, arm in log:
            blob = sealed[(k, s)]
            sign = 1 if arm == "intervention-arm" else -1
            for i in range(len(score)):
                score[i] += sign * (1 if blob[i // 8] >> (i % 8) & 1 else -1)
        used = {}
        for k, s, _ in log:
            used[k] = max(used.get(k, 0), s)
        for site, dx in strata:
            key = L.stratum_key(["site", "diagnosis"], [site, dx])
            nxt = sealed[(key, used.get(key, 0) + 1)]
            vote = sum(sc * (1 if nxt[i // 8] >> (i % 8) & 1 else -1) for i, sc in enumerate(score))
            guess = "intervention-arm" if vote > 0 else "control"
            actual = led.allocate(f"S{site}{dx}{round_}", site=site, diagnosis=dx)
            hits += guess == actual
            total += 1
    led.close()
    assert total == 405
    assert binomtest(hits, total, 0.5).pvalue > 0.001, (hits, total)


def test_default_schedules_cannot_be_found_by_a_seed_search(tmp_path, capsys):
    from peertrial.cli import main

    outs = []
    for i in range(2):
        db = tmp_path / f"t{i}.db"
        assert main(["randomise", "schedule", "--n", "40", "--arms", "control", "peer", "--db", str(db),
                     "--out", str(tmp_path / f"s{i}.csv")]) == 0
        assert stat.S_IMODE(os.stat(tmp_path / f"s{i}.csv").st_mode) == 0o600
        outs.append(pd.read_csv(tmp_path / f"s{i}.csv")["arm"].tolist())
    err = capsys.readouterr().err
    assert "warning" not in err
    assert outs[0] != outs[1]  # two runs, two unguessable seeds
    for seed in range(200):  # the attack of the issue: small seeds do not reproduce it
        assert permuted_blocks(40, arms=["control", "peer"], seed=seed)["arm"].tolist() != outs[0]
    assert main(["randomise", "schedule", "--n", "8", "--seed", "2017", "--db", str(tmp_path / "k.db")]) == 0
    assert "a user-supplied seed" in capsys.readouterr().err


# -- tampering matrix -----------------------------------------------------------------------------

def _rehash_tail(path, start, mac):
    """Recompute hashes from entry ``start`` on with ``mac`` (an attacker without the key)."""
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM log ORDER BY n").fetchall()
    prev = rows[start - 2][-1]
    for r in rows[start - 1:]:
        n, kind, pid, stratum, seq, arm, t, digest, detail = r[:9]
        h = mac(prev + "\n" + L._canonical([n, kind, pid, stratum, seq, arm, t, digest, detail]))
        conn.execute("UPDATE log SET prev_hash = ?, hash = ? WHERE n = ?", (prev, h, n))
        prev = h
    conn.commit()
    conn.close()


def _flip_arm(path, n):
    sql(path, f"UPDATE log SET arm = CASE arm WHEN 'peer' THEN 'control' ELSE 'peer' END WHERE n = {n}")


def _guess_mac(text):
    return hmac.new(b"\0" * 32, text.encode(), hashlib.sha256).hexdigest()


def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


ATTACKS = {
    "edit_allocated_arm": (lambda p: _flip_arm(p, 3), "edited after it was written"),
    "edit_participant": (lambda p: sql(p, "UPDATE log SET participant = 'X99' WHERE n = 2"), "edited after"),
    "edit_time": (lambda p: sql(p, "UPDATE log SET time = '2020-01-01' WHERE n = 4"), "edited after"),
    "edit_future_slot": (lambda p: sql(p, "UPDATE slots SET sealed = X'00' || substr(sealed, 2) WHERE seq = 15"),
                         "does not open with the trial key"),
    "swap_future_slots": (lambda p: sql(
        p, "CREATE TEMP TABLE s AS SELECT * FROM slots WHERE seq IN (15, 16)",
        "UPDATE slots SET sealed = (SELECT sealed FROM s WHERE s.stratum = slots.stratum AND s.seq = 31 - slots.seq) "
        "WHERE seq IN (15, 16)"), "does not open with the trial key"),
    "delete_middle_entry": (lambda p: sql(p, "DELETE FROM log WHERE n = 3"), "entries were deleted"),
    "edit_metadata": (lambda p: sql(p, "UPDATE meta SET value = '[\"peer\",\"control\"]' WHERE key = 'arms'"),
                      "schedule \\(part 0\\) was edited"),
    "rehashed_edit_sha256": (lambda p: (_flip_arm(p, 3), _rehash_tail(p, 3, _sha)), "edited after"),
    "rehashed_edit_guessed_key": (lambda p: (_flip_arm(p, 3), _rehash_tail(p, 3, _guess_mac)), "edited after"),
    "appended_fake_allocation": (lambda p: (
        sql(p, "INSERT INTO log SELECT n + 1, kind, 'FAKE', stratum, seq + 1, arm, time, digest, detail, hash, "
               "'x' FROM log WHERE n = (SELECT MAX(n) FROM log)"),
        _rehash_tail(p, 8, _guess_mac)), "edited after"),
    "dropped_unique_index": (lambda p: sql(p, "DROP INDEX log_slot"), "index 'log_slot' is missing"),
    "discarding_trigger": (lambda p: sql(
        p, "CREATE TRIGGER t BEFORE INSERT ON log WHEN NEW.kind = 'allocate' BEGIN SELECT RAISE(IGNORE); END"),
        "unexpected trigger 't'"),
    "added_view": (lambda p: sql(p, "CREATE VIEW v AS SELECT * FROM log"), "unexpected view"),
    "smuggled_user": (lambda p: sql(
        p, "INSERT INTO users VALUES ('mallory', 'admin', NULL, 'abcdefabcdef', X'00', X'00', '2026', NULL)"),
        "without a log entry"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_every_tampering_is_detected_with_the_key(trial, attack):
    path, receipts = trial
    do, message = ATTACKS[attack]
    do(path)
    with pytest.raises(LedgerIntegrityError, match=message):
        verify(path)


def test_deleting_the_newest_allocations_is_caught_by_their_receipts(trial):
    path, receipts = trial
    sql(path, "DELETE FROM log WHERE n >= 6")  # the newest two allocations
    assert verify(path)  # consistent inside the file ...
    assert verify(path, head=receipts[:4])  # ... and receipts issued before the deletion still check
    with pytest.raises(LedgerIntegrityError, match="is not in the chain"):
        verify(path, head=receipts[5])  # ... but the site holding the last receipt proves it


def test_a_ledger_swapped_for_another_is_caught(trial, tmp_path):
    path, receipts = trial
    other = tmp_path / "other" / "t.db"
    other.parent.mkdir()
    with Ledger.create(other, schedule(seed=1)) as led:
        for i in range(6):
            led.allocate(f"P{i}", site=1 + i % 2, diagnosis="other")
    shutil.copyfile(other, path)  # the file replaced, the key file kept
    with pytest.raises(LedgerIntegrityError, match="does not belong"):
        verify(path)
    # even with the other ledger's key the receipts issued by the real one fail
    shutil.copyfile(tmp_path / "other" / "t.db.key", tmp_path / "t.db.key")
    with pytest.raises(LedgerIntegrityError, match="is not in the chain"):
        verify(path, head=receipts[-1])


def test_a_discarding_trigger_stops_allocation(trial):
    path, _ = trial
    ATTACKS["discarding_trigger"][0](path)
    with pytest.raises(LedgerIntegrityError):
        with Ledger(path) as led:
            for i in range(4):
                led.allocate(f"Q{i}", site=3, diagnosis="psychotic")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM log WHERE participant LIKE 'Q%'").fetchone()[0] == 0


def test_random_byte_flips_never_pass_unnoticed_or_raise_raw_errors(trial, tmp_path):
    path, receipts = trial
    with Ledger(path) as led:
        truth = led.audit()
    data = path.read_bytes()
    rng = random.Random(17)
    caught = passed = 0
    for i in range(150):
        bad = bytearray(data)
        pos = rng.randrange(len(bad))
        bad[pos] ^= 1 << rng.randrange(8)
        copy = tmp_path / f"flip{i}.db"
        copy.write_bytes(bytes(bad))
        try:
            with Ledger(copy, key_file=tmp_path / "t.db.key") as led:
                assert led.verify(head=receipts)
                pd.testing.assert_frame_equal(led.audit(), truth)  # a flip in unused space changes nothing
            passed += 1
        except LedgerIntegrityError:
            caught += 1
        finally:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(f"{copy}{suffix}")
                except FileNotFoundError:
                    pass
    assert caught + passed == 150 and caught > 0


# -- faults --------------------------------------------------------------------------------------

FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from peertrial.randomise import Ledger, LedgerError, permuted_blocks
    sched = permuted_blocks(2000, arms=["control", "peer"], strata={"site": list(range(1, 8))}, seed=1)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    try:
        Ledger.create(sys.argv[1], sched)
    except LedgerError as exc:
        print("REFUSED", exc)
    """
)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_create_on_a_full_disk_leaves_nothing(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(folder / "trial.db")], capture_output=True,
                         text=True, timeout=120)
    assert "REFUSED" in out.stdout and "nothing was written" in out.stdout, out.stdout + out.stderr
    assert _leftovers(folder) == []  # nothing left behind, the path still free
    Ledger.create(folder / "trial.db", schedule(4)).close()  # and it can be created afterwards


def test_create_on_a_real_full_file_system(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        big = permuted_blocks(2000, arms=["control", "peer"], strata={"site": list(range(1, 8))}, seed=1)
        with pytest.raises(LedgerError, match="disk is full"):
            Ledger.create(mnt / "trial.db", big)
        assert _leftovers(mnt) == []
        Ledger.create(mnt / "trial.db", schedule(2)).close()
    finally:
        subprocess.run(["umount", str(mnt)])


KILLED_CREATE = textwrap.dedent(
    """
    import os, sys, time, pathlib
    from peertrial.randomise import Ledger, permuted_blocks
    marker = pathlib.Path(sys.argv[2])
    def stall(*a, **k):
        marker.write_text("x")
        time.sleep(600)
    os.link = stall
    Ledger.create(sys.argv[1], permuted_blocks(50, arms=["control", "peer"], strata={"site": [1, 2]}))
    """
)


def test_temp_files_of_a_killed_create_are_removed_on_next_use(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", KILLED_CREATE, str(folder / "trial.db"), str(marker)])
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert child.poll() is None and time.time() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    left = _leftovers(folder)
    assert left and all(".peertrial-tmp." in n for n in left)
    assert all(stat.S_IMODE(os.stat(folder / n).st_mode) == 0o600 for n in left)
    assert not (folder / "trial.db").exists()
    Ledger.create(folder / "trial.db", schedule(2)).close()
    assert _leftovers(folder) == ["trial.db", "trial.db.key"]


def test_cli_never_overwrites_and_outputs_never_disagree(tmp_path, capsys):
    from peertrial.cli import main

    db, csv = tmp_path / "trial.db", tmp_path / "sched.csv"
    base = ["randomise", "schedule", "--n", "4", "--arms", "control", "peer", "--strata", "site=1,2"]
    assert main([*base, "--db", str(db)]) == 0
    before = db.read_bytes()
    assert main([*base, "--seed", "999", "--out", str(csv), "--db", str(db)]) == 1
    assert "exists; it is never overwritten" in capsys.readouterr().err
    assert not csv.exists() and db.read_bytes() == before
    csv.write_text("mine\n")
    assert main([*base, "--out", str(csv)]) == 1 and csv.read_text() == "mine\n"
    assert main([*base, "--out", str(csv), "--db", str(db), "--force"]) == 0
    with Ledger(db) as led:  # the forced outputs agree with each other
        for i in range(4):
            led.allocate(f"P{i}", site=2)
        assert led.audit()["arm"].tolist() == pd.read_csv(csv).query("site == 2")["arm"].tolist()


def _make_read_only(folder):
    """Make ``folder`` read-only for this process; returns an undo callable or None."""
    if os.geteuid() != 0:
        for p in folder.iterdir():
            p.chmod(0o400)
        folder.chmod(0o500)
        return lambda: folder.chmod(0o700)
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode != 0:
        return None
    if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", str(folder)])
        return None
    return lambda: subprocess.run(["umount", str(folder)])


def test_opened_read_only_on_request(tmp_path):
    path = tmp_path / "t.db"
    with Ledger.create(path, schedule(4)) as led:
        led.allocate("P1", site=1, diagnosis="other")
    before = path.read_bytes()
    with Ledger(path, read_only=True) as led:
        assert led.read_only and led.verify() and len(led.audit()) == 1
        with pytest.raises(LedgerError, match="read-only"):
            led.allocate("P2", site=1, diagnosis="other")
    assert path.read_bytes() == before


def test_read_only_ledgers_still_verify_and_audit(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with Ledger.create(folder / "t.db", schedule(4)) as led:
        led.allocate("P1", site=1, diagnosis="other")
        receipt = led.receipt("P1")["receipt"]
    undo = _make_read_only(folder)
    if undo is None:
        pytest.skip("cannot make a read-only folder here")
    try:
        with Ledger(folder / "t.db") as led:
            assert led.read_only and led.verify(head=receipt)
            assert led.audit()["participant"].tolist() == ["P1"]
            with pytest.raises(LedgerError, match="read-only"):
                led.allocate("P2", site=1, diagnosis="other")
    finally:
        undo()


# -- first-format ledgers --------------------------------------------------------------------------

def _old_ledger(path, sched):
    """A ledger exactly as the first format wrote it (plaintext slots, SHA-256 chain)."""
    codec = L._V1()
    factors = ["site", "diagnosis"]
    rows = L._schedule_rows(sched, factors)
    meta = {"format": L.FORMAT_V1, "factors": L._canonical(factors), "arms": json.dumps(["control", "peer"]),
            "levels": json.dumps(STRATA)}
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(L._SCHEMA_V1)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
    conn.executemany("INSERT INTO slots VALUES (?, ?, ?, ?, ?, 0)", rows)
    digest = codec.batch_digest(meta, rows)
    h = codec.entry_hash(L.GENESIS, 1, "schedule", None, None, None, None, "2025-01-01", digest)
    conn.execute("INSERT INTO log VALUES (1, 'schedule', NULL, NULL, NULL, NULL, '2025-01-01', ?, ?, ?)",
                 (digest, L.GENESIS, h))
    conn.close()


def test_first_format_ledgers_keep_working_with_a_warning(tmp_path):
    path = tmp_path / "old.db"
    sched = schedule(4)
    _old_ledger(path, sched)
    with pytest.warns(PeertrialWarning, match="neither concealed nor keyed"):
        led = Ledger(path)
    with led:
        arm = led.allocate("P1", site=1, diagnosis="other")
        assert arm == sched.query("site == 1 and diagnosis == 'other' and seq == 1")["arm"].item()
        assert led.verify(head=led.head())
    _flip_arm(path, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PeertrialWarning)
        with pytest.raises(LedgerIntegrityError, match="edited"):
            verify(path)


# -- extension from the sealed generator -------------------------------------------------------------

def test_extend_by_n_continues_the_sealed_schedule(tmp_path):
    seed = 2**255 + 12345  # as the CLI draws: 256 bits
    spec = {"design": "blocks", "seed": seed, "arms": ["control", "peer"], "strata": STRATA,
            "block_sizes": [2, 4, 6], "ratio": None}
    path = tmp_path / "t.db"
    make = {k: v for k, v in spec.items() if k != "design"}
    with Ledger.create(path, permuted_blocks(4, **make), generator=spec) as led:
        assert str(seed) not in path.read_text(errors="replace") and f"{seed:x}" not in path.read_text(
            errors="replace")
        for i in range(4):
            led.allocate(f"P{i}", site=3, diagnosis="other")
        assert led.extend(n=10) == 6 * 9
        for i in range(4, 10):
            led.allocate(f"P{i}", site=3, diagnosis="other")
        longer = permuted_blocks(10, **make)
        assert led.audit()["arm"].tolist() == longer.query("site == 3 and diagnosis == 'other'")["arm"].tolist()
        assert led.verify()
    sql(path, "UPDATE meta SET value = replace(value, '[2,4,6]', '[2]') WHERE key = 'generator'")
    with pytest.raises(LedgerIntegrityError, match="schedule \\(part 0\\) was edited"):
        verify(path)


def test_cli_extend_by_n_with_the_default_seed(tmp_path, capsys):
    from peertrial.cli import main

    db, csv = tmp_path / "trial.db", tmp_path / "s.csv"
    assert main(["randomise", "schedule", "--n", "4", "--arms", "control", "peer", "--strata", "site=1,2",
                 "--db", str(db), "--out", str(csv)]) == 0
    for i in range(4):
        assert main(["randomise", "allocate", "--db", str(db), "--id", f"P{i}", "--site", "1"]) == 0
    assert main(["randomise", "allocate", "--db", str(db), "--id", "P4", "--site", "1"]) == 1
    assert "--n N" in capsys.readouterr().err
    assert main(["randomise", "extend", "--db", str(db), "--n", "8"]) == 0
    assert main(["randomise", "allocate", "--db", str(db), "--id", "P4", "--site", "1"]) == 0
    with Ledger(db) as led:
        audit = led.audit()
        assert led.verify() and len(audit) == 5
        assert audit["arm"].tolist()[:4] == pd.read_csv(csv).query("site == 1")["arm"].tolist()
        assert led.remaining().set_index("site").loc[1, "remaining"] == 3


def test_guessing_a_token_is_throttled_without_hashing(tmp_path, monkeypatch):
    with Ledger.create(tmp_path / "t.db", schedule(4)) as led:
        token = led.add_user("alex", "site", site=1)
        other = led.add_user("sam", "statistician")
        assert led.authenticate(other)["role"] == "statistician"  # accepted once: cached
        prefix = "_".join(token.split("_", 2)[:2])  # "ptk_<token id>"
        calls = []
        real = L._token_hash
        monkeypatch.setattr(L, "_token_hash", lambda *a: (calls.append(1), real(*a))[1])
        clock = [1000.0]
        monkeypatch.setattr(L._time, "monotonic", lambda: clock[0])
        for i in range(L.AUTH_FAILURES):
            assert led.authenticate(f"{prefix}_wrong{i}") is None
        assert len(calls) == L.AUTH_FAILURES
        assert led.authenticate(token) is None and len(calls) == L.AUTH_FAILURES  # refused, no scrypt paid
        assert led.authenticate(other)["name"] == "sam"  # other users are unaffected
        clock[0] += L.AUTH_WINDOW + 1
        assert led.authenticate(token) == {"name": "alex", "role": "site", "site": "1"}
