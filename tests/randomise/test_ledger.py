"""The allocation ledger: concealment, idempotence, bad input, tamper evidence,
concurrency from several processes and survival of a SIGKILL mid-allocation."""

import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from peertrial.randomise import Ledger, LedgerIntegrityError, StratumFullError, permuted_blocks

STRATA = {"site": [1, 2, 3], "diagnosis": ["psychotic", "personality", "other"]}


def schedule(n=20, seed=2017, strata=STRATA):
    return permuted_blocks(n, arms=["control", "peer"], block_sizes=[2, 4, 6], strata=strata, seed=seed)


def slot_arm(sched, seq, **levels):
    mask = sched["seq"] == seq
    for f, v in levels.items():
        mask &= sched[f] == v
    return sched.loc[mask, "arm"].item()


@pytest.fixture
def ledger(tmp_path):
    sched = schedule()
    with Ledger.create(tmp_path / "trial.db", sched) as led:
        yield led, sched


def test_allocates_schedule_in_order_and_returns_recorded_arm(ledger):
    led, sched = ledger
    got = [led.allocate(f"P{i}", site=2, diagnosis="other") for i in range(5)]
    assert got == [slot_arm(sched, s, site=2, diagnosis="other") for s in range(1, 6)]
    assert led.allocate("P3", site=2, diagnosis="other") == got[3]  # same id: same arm, no new slot
    assert led.allocate("P5", site=2, diagnosis="other") == slot_arm(sched, 6, site=2, diagnosis="other")
    audit = led.audit()
    assert list(audit.columns) == ["participant", "site", "diagnosis", "seq", "arm", "time", "hash"]
    assert audit["seq"].tolist() == [1, 2, 3, 4, 5, 6]
    assert audit["site"].tolist() == [2] * 6 and audit["hash"].str.len().eq(64).all()
    assert led.verify() is True and led.verify(head=led.head())
    assert led.lookup("P4") == got[4] and led.lookup("nobody") is None


def test_reopen_and_cli_style_string_levels(ledger, tmp_path):
    led, sched = ledger
    led.allocate("A", site=1, diagnosis="psychotic")
    with Ledger(tmp_path / "trial.db") as again:
        assert again.allocate("B", site="1", diagnosis="psychotic") == slot_arm(sched, 2, site=1, diagnosis="psychotic")
        assert again.audit()["site"].tolist() == [1, 1]


def _snapshot(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM log").fetchall(), conn.execute("SELECT * FROM slots").fetchall()


def test_bad_requests_raise_and_change_nothing(tmp_path):
    sched = schedule(n=4)
    before_sched = sched.copy()
    led = Ledger.create(tmp_path / "t.db", sched)
    pd.testing.assert_frame_equal(sched, before_sched)
    for i in range(4):
        led.allocate(f"P{i}", site=3, diagnosis="psychotic")
    state = _snapshot(tmp_path / "t.db")
    with pytest.raises(StratumFullError, match="site=3, diagnosis=psychotic is full: all 4 slots.*Extend the schedule"):
        led.allocate("P9", site=3, diagnosis="psychotic")
    with pytest.raises(ValueError, match="unknown level 'manic' of stratum factor 'diagnosis'"):
        led.allocate("P9", site=3, diagnosis="manic")
    with pytest.raises(ValueError, match="missing \\['diagnosis'\\]"):
        led.allocate("P9", site=3)
    with pytest.raises(ValueError, match="'P1' was already allocated in stratum site=3, diagnosis=psychotic"):
        led.allocate("P1", site=1, diagnosis="psychotic")
    assert _snapshot(tmp_path / "t.db") == state
    assert led.lookup("P9") is None
    with pytest.raises(FileExistsError):
        Ledger.create(tmp_path / "t.db", sched)


def test_extend_continues_the_same_schedule(tmp_path):
    led = Ledger.create(tmp_path / "t.db", schedule(n=4))
    for i in range(4):
        led.allocate(f"P{i}", site=1, diagnosis="other")
    longer = schedule(n=10)
    assert led.extend(longer) == 9 * 6
    assert led.allocate("P4", site=1, diagnosis="other") == slot_arm(longer, 5, site=1, diagnosis="other")
    assert led.remaining().query("site == 1 and diagnosis == 'other'")["remaining"].item() == 5
    assert led.verify()
    with pytest.raises(ValueError, match="disagrees with allocated slot"):
        led.extend(schedule(n=12, seed=1))


def test_extend_is_not_an_oracle_for_unallocated_slots(tmp_path):
    sched = schedule(n=6)
    led = Ledger.create(tmp_path / "t.db", sched)
    led.allocate("P0", site=1, diagnosis="other")
    state = _snapshot(tmp_path / "t.db")
    flipped = sched.assign(arm=sched["arm"].map({"control": "peer", "peer": "control"}))
    unallocated = ~((flipped.site == 1) & (flipped.diagnosis == "other") & (flipped.seq == 1))
    assert led.extend(flipped[unallocated]) == 0  # wrong guesses about future slots: no error, no change
    assert _snapshot(tmp_path / "t.db") == state


def test_bad_schedules_are_refused(tmp_path):
    sched = schedule(n=4)
    with pytest.raises(ValueError, match="without gaps or repeats"):
        Ledger.create(tmp_path / "a.db", sched[sched["seq"] != 2])
    with pytest.raises(ValueError, match="no 'arm' column"):
        Ledger.create(tmp_path / "b.db", sched.drop(columns="arm"))
    assert not (tmp_path / "a.db").exists()


def test_future_of_the_schedule_is_not_exposed(ledger):
    led, _ = ledger
    led.allocate("P0", site=1, diagnosis="other")
    public = [a for a in dir(led) if not a.startswith("_")]
    assert set(public) == {"add_user", "allocate", "arms", "audit", "authenticate", "backup", "close", "create", "events",
                           "extend", "factors", "format", "head", "ledger_id", "levels", "lookup", "open", "path",
                           "read_only", "receipt", "record", "remaining", "revoke_user", "users", "verify"}
    assert len(led.audit()) == 1 and "arm" not in led.remaining().columns


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE log SET arm = CASE arm WHEN 'peer' THEN 'control' ELSE 'peer' END WHERE n = 3",
        "UPDATE log SET participant = 'X99' WHERE n = 2",
        "UPDATE slots SET sealed = CAST(sealed AS BLOB) || X'00' WHERE seq = 15",
        "DELETE FROM log WHERE n = 3",
        "UPDATE meta SET value = '[\"peer\",\"control\"]' WHERE key = 'arms'",
    ],
    ids=["arm", "participant", "future_slot", "deleted_row", "meta"],
)
def test_tampering_is_detected(tmp_path, sql):
    path = tmp_path / "t.db"
    led = Ledger.create(path, schedule())
    for i in range(4):
        led.allocate(f"P{i}", site=2, diagnosis="personality")
    assert led.verify()
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    with pytest.raises(LedgerIntegrityError):
        Ledger(path).verify()


def test_rewriting_the_chain_is_caught_by_a_recorded_head(tmp_path):
    path = tmp_path / "t.db"
    led = Ledger.create(path, schedule())
    for i in range(3):
        led.allocate(f"P{i}", site=2, diagnosis="personality")
    head = led.head()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM log WHERE n = 4")  # drop the newest allocation
    assert Ledger(path).verify()  # internally consistent ...
    with pytest.raises(LedgerIntegrityError, match="recorded head"):
        Ledger(path).verify(head=head)  # ... but not the head recorded elsewhere


# -- several processes -----------------------------------------------------------------------

def _worker(path, ids, queue):
    with Ledger(path) as led:
        out = []
        for pid in ids:
            site, dx = 1 + int(pid[1:]) % 3, STRATA["diagnosis"][int(pid[1:]) % 2]
            out.append((pid, site, dx, led.allocate(pid, site=site, diagnosis=dx)))
    queue.put(out)


def test_eight_processes_allocate_1000_participants_concurrently(tmp_path):
    path = tmp_path / "t.db"
    sched = schedule(n=200)
    Ledger.create(path, sched).close()
    ids = [f"P{i:04d}" for i in range(1000)]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, ids[k::8], queue)) for k in range(8)]
    for p in procs:
        p.start()
    results = [r for _ in procs for r in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    with Ledger(path) as led:
        audit = led.audit()
        assert led.verify()
    assert len(results) == 1000 and sorted(audit["participant"]) == ids  # none lost
    assert not audit.duplicated(["site", "diagnosis", "seq"]).any()  # no slot twice
    for (_, grp) in audit.groupby(["site", "diagnosis"]):
        assert sorted(grp["seq"]) == list(range(1, len(grp) + 1))
    merged = audit.merge(sched, on=["site", "diagnosis", "seq"], suffixes=("", "_sched"))
    assert (merged["arm"] == merged["arm_sched"]).all()
    returned = {pid: arm for pid, _, _, arm in results}
    assert all(returned[p] == a for p, a in zip(audit["participant"], audit["arm"]))


CHILD = textwrap.dedent(
    """
    import sys, time, pathlib
    import peertrial.randomise.ledger as L
    path, marker, where = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    def stall():
        marker.write_text("inside")
        time.sleep(600)
    if where == "before_insert":
        real = L._utc_now
        L._utc_now = lambda: (stall(), real())[1]
    else:
        L.Ledger._commit = lambda self: stall()
    led = L.Ledger(path)
    led.allocate("VICTIM", site=1, diagnosis="other")
    """
)


@pytest.mark.parametrize("where", ["before_insert", "before_commit"])
def test_sigkill_mid_allocation_loses_and_duplicates_nothing(tmp_path, where):
    path = tmp_path / "t.db"
    led = Ledger.create(path, schedule())
    first = led.allocate("P0", site=1, diagnosis="other")
    marker = tmp_path / "inside"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(marker), where])
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert child.poll() is None and time.time() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)  # holding the write lock, mid-transaction
    finally:
        child.wait(timeout=30)
    with Ledger(path) as again:
        assert again.verify()
        assert again.lookup("VICTIM") is None and again.lookup("P0") == first
        # the interrupted slot is still free and goes to the next caller
        sched = schedule()
        assert again.allocate("VICTIM", site=1, diagnosis="other") == slot_arm(sched, 2, site=1, diagnosis="other")
        assert again.audit()["seq"].tolist() == [1, 2] and again.verify()


def test_threads_sharing_one_unstratified_ledger(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    sched = permuted_blocks(200, arms=["control", "peer"], seed=5)
    with Ledger.create(tmp_path / "t.db", sched) as led:
        with ThreadPoolExecutor(4) as pool:
            arms = list(pool.map(lambda i: led.allocate(f"T{i:03d}"), range(200)))
        audit = led.audit()
        assert led.verify() and list(audit.columns) == ["participant", "seq", "arm", "time", "hash"]
        assert audit["seq"].tolist() == list(range(1, 201))
        assert audit["arm"].tolist() == sched["arm"].tolist()
        assert sorted(arms) == sorted(sched["arm"])
        with pytest.raises(StratumFullError):
            led.allocate("one too many")


@pytest.mark.parametrize(
    "sql, message",
    [
        ("UPDATE slots SET sealed = (SELECT sealed FROM slots WHERE batch = 1 AND seq = 9 LIMIT 1) "
         "WHERE batch = 1 AND seq = 8", "does not open with the trial key"),
        ("INSERT INTO slots SELECT stratum, 99, sealed, 7 FROM slots WHERE seq = 9 LIMIT 1",
         "does not open with the trial key"),
        ("DELETE FROM log WHERE kind = 'extend'", "entries were deleted"),
    ],
    ids=["extended_slot", "smuggled_slot", "dropped_extension"],
)
def test_tampering_with_an_extension_is_detected(tmp_path, sql, message):
    path = tmp_path / "t.db"
    led = Ledger.create(path, schedule(n=4))
    led.allocate("P0", site=1, diagnosis="other")
    led.extend(schedule(n=10))
    led.allocate("P1", site=1, diagnosis="other")
    assert led.verify()
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    with pytest.raises(LedgerIntegrityError, match=message):
        Ledger(path).verify()
