"""The web randomisation service, started for real on the loopback and used over HTTP."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlencode

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from peertrial.cli import main  # noqa: E402
from peertrial.randomise import Ledger  # noqa: E402

from .server_helpers import STRATA, Client, Server, make_trial  # noqa: E402


@pytest.fixture
def service(tmp_path):
    db, sched, tokens = make_trial(tmp_path)
    server = Server(db, tmp_path / "server.log").start()
    try:
        yield server, sched, tokens
    finally:
        server.stop()


def arm_of(sched, seq, site, diagnosis):
    return sched.query("site == @site and diagnosis == @diagnosis and seq == @seq")["arm"].item()


def test_roles_refusals_and_the_audit_trail(service, tmp_path, capsys):
    server, sched, tokens = service
    port = server.port
    site2, stat, admin = Client(port, tokens["site2"]), Client(port, tokens["stat"]), Client(port, tokens["admin"])

    status, body = site2.allocate("P001", site=2, diagnosis="psychotic")
    assert status == 200 and set(body) == {"participant", "arm", "allocated_at", "receipt"}
    assert body["arm"] == arm_of(sched, 1, 2, "psychotic") and len(body["receipt"]) == 64

    # 401: no token, a bad token, a malformed header
    assert Client(port).allocate("P002", site=2, diagnosis="psychotic")[0] == 401
    assert Client(port, "ptk_0123456789ab_" + "x" * 43).allocate("P002", site=2, diagnosis="psychotic")[0] == 401
    assert Client(port).request("POST", "/api/allocate", {"participant": "P002"},
                                headers={"Authorization": tokens["site2"]})[0] == 401
    # 403: another site, a statistician allocating, a site user reading
    status, body = site2.allocate("P002", site=1, diagnosis="psychotic")
    assert status == 403 and "only at site 2" in body["detail"]
    assert stat.allocate("P002", site=2, diagnosis="psychotic")[0] == 403
    assert site2.request("GET", "/api/allocations")[0] == 403
    assert site2.request("GET", "/api/verify")[0] == 403
    # 422 naming the field
    cases = [
        ({"strata": {"site": 2, "diagnosis": "other"}}, "participant"),
        ({"participant": 7, "strata": {"site": 2, "diagnosis": "other"}}, "participant"),
        ({"participant": " P9", "strata": {"site": 2, "diagnosis": "other"}}, "participant"),
        ({"participant": None, "strata": {"site": 2, "diagnosis": "other"}}, "participant"),
        ({"participant": "P9", "strata": {"site": 2}}, "strata.diagnosis"),
        ({"participant": "P9", "strata": {"site": 2, "diagnosis": "manic"}}, "strata.diagnosis"),
        ({"participant": "P9", "strata": {"site": 2, "diagnosis": "other", "age": 3}}, "strata.age"),
        ({"participant": "P9", "strata": "site 2"}, "strata"),
        ({"participant": "P9", "strata": {"site": 2, "diagnosis": "other"}, "arm": "peer"}, "arm"),
    ]
    for payload, field in cases:
        status, body = site2.request("POST", "/api/allocate", payload)
        assert status == 422 and body["field"] == field and field.split(".")[-1] in body["detail"], (payload, body)
    status, body = site2.request("POST", "/api/allocate", raw=b"{not json")
    assert status == 422 and body["field"] == "body"
    # 409: the same id in another stratum
    assert site2.allocate("P001", site=2, diagnosis="other")[0] == 409
    # admins allocate anywhere; statisticians read and verify
    assert admin.allocate("A1", site=3, diagnosis="other")[0] == 200
    status, body = stat.request("GET", "/api/allocations")
    assert status == 200 and [a["participant"] for a in body["allocations"]] == ["P001", "A1"]
    status, body = stat.request("GET", "/api/verify")
    assert status == 200 and body["ok"] is True

    # revoking a user takes effect at once, while the server runs
    assert main(["randomise", "user", "revoke", "--db", str(server.db), "--name", "site2"]) == 0
    assert site2.allocate("P003", site=2, diagnosis="psychotic")[0] == 401
    for c in (site2, stat, admin):
        c.close()
    server.stop()

    with Ledger(server.db) as led:
        assert led.verify()
        events = led.events()
    requests = [d for d in events["detail"] if d and "status" in d]
    statuses = sorted(d["status"] for d in requests if d["path"] == "/api/allocate")
    assert statuses.count(401) == 4 and statuses.count(403) == 2 and statuses.count(422) == 10
    assert all(d["remote"] == "127.0.0.1" for d in requests)
    refused = [d for d in requests if d["status"] == 403 and d["path"] == "/api/allocate"]
    assert {d["user"] for d in refused} == {"site2", "stat"}
    everything = server.db.read_bytes() + (server.log.read_bytes() if server.log.exists() else b"")
    for token in tokens.values():  # the token is never recorded
        assert token.encode() not in everything and token.split("_", 2)[2].encode() not in everything


def test_idempotent_allocation(service):
    server, sched, tokens = service
    c = Client(server.port, tokens["site1"])
    first = c.allocate("Zoe\u0301", site=1, diagnosis="other")
    again = c.allocate("Zo\u00e9", site=1, diagnosis="other")  # NFC form of the same id
    assert first[0] == again[0] == 200 and first[1] == again[1]
    assert c.allocate("P2", site=1, diagnosis="other")[1]["arm"] == arm_of(sched, 2, 1, "other")
    status, body = Client(server.port, tokens["stat"]).request("GET", f"/api/verify?head={first[1]['receipt']}")
    assert status == 200 and body == {"ok": True, "head": body["head"], "receipts_checked": 1}


def _hammer(port, token_of, ids, results, errors):
    clients = {}
    try:
        for pid, site, dx in ids:
            c = clients.setdefault(site, Client(port, token_of[site]))
            status, body = c.allocate(pid, site=site, diagnosis=dx)
            if status != 200:
                errors.append((pid, status, body))
            else:
                results.append((pid, site, dx, body))
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(("exception", repr(exc)))
    finally:
        for c in clients.values():
            c.close()


def test_eight_clients_allocate_4000_participants(tmp_path):
    db, sched, tokens = make_trial(tmp_path, n=600)
    token_of = {s: tokens[f"site{s}"] for s in STRATA["site"]}
    ids = [(f"C{k}-{i:03d}", 1 + (k + i) % 3, STRATA["diagnosis"][i % 3]) for k in range(8) for i in range(500)]
    results, errors = [], []
    with Server(db, tmp_path / "server.log") as server:
        threads = [threading.Thread(target=_hammer, args=(server.port, token_of, ids[k * 500:(k + 1) * 500],
                                                          results, errors)) for k in range(8)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.monotonic() - start
        assert not any(t.is_alive() for t in threads)
        status, body = Client(server.port, tokens["stat"]).request("GET", "/api/verify")
        assert status == 200 and body["ok"], body
    print(f"\n8 clients x 500 allocations: {len(results) / elapsed:.0f} allocations/s")
    assert errors == [] and len(results) == 4000
    with Ledger(db) as led:
        audit = led.audit()
        assert led.verify(head=[r[3]["receipt"] for r in results])
    assert len(audit) == 4000 and sorted(audit["participant"]) == sorted(i[0] for i in ids)  # none lost
    assert not audit.duplicated(["site", "diagnosis", "seq"]).any()  # no slot twice
    for _, grp in audit.groupby(["site", "diagnosis"]):
        assert sorted(grp["seq"]) == list(range(1, len(grp) + 1))
    merged = audit.merge(sched, on=["site", "diagnosis", "seq"], suffixes=("", "_sched"))
    assert (merged["arm"] == merged["arm_sched"]).all()
    returned = {pid: body["arm"] for pid, _, _, body in results}
    assert all(returned[p] == a for p, a in zip(audit["participant"], audit["arm"]))


def test_sigkill_of_the_server_loses_nothing(tmp_path):
    db, sched, tokens = make_trial(tmp_path, n=200)
    token_of = {s: tokens[f"site{s}"] for s in STRATA["site"]}
    server = Server(db, tmp_path / "server.log").start()
    confirmed, attempted, stop = {}, {}, threading.Event()
    lock = threading.Lock()

    def client(k):
        c = Client(server.port, token_of[1 + k % 3], timeout=20)
        for i in range(400):
            if stop.is_set():
                break
            pid, site, dx = f"K{k}-{i}", 1 + k % 3, STRATA["diagnosis"][i % 3]
            with lock:
                attempted[pid] = (site, dx)
            try:
                status, body = c.allocate(pid, site=site, diagnosis=dx)
            except OSError:
                break
            if status == 200:
                with lock:
                    confirmed[pid] = body
        c.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(confirmed) < 150 and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        server.kill()  # SIGKILL mid-stream
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        server.stop()
    assert len(confirmed) >= 150
    with Ledger(db) as led:
        assert led.verify(head=[b["receipt"] for b in confirmed.values()])
        audit = led.audit().set_index("participant")
    for pid, body in confirmed.items():  # every confirmed allocation is there, unchanged
        assert audit.loc[pid, "arm"] == body["arm"] and audit.loc[pid, "hash"] == body["receipt"]
    assert not audit.duplicated(["site", "diagnosis", "seq"]).any()
    # the requests cut off by the kill: retrying them is safe and completes the record
    with Server(db, tmp_path / "server2.log") as again:
        clients = {s: Client(again.port, token_of[s]) for s in STRATA["site"]}
        for pid, (site, dx) in attempted.items():
            status, body = clients[site].allocate(pid, site=site, diagnosis=dx)
            assert status == 200
            if pid in confirmed:
                assert body == confirmed[pid]
        status, body = Client(again.port, tokens["stat"]).request("GET", "/api/verify")
        assert body["ok"]
    with Ledger(db) as led:
        audit = led.audit()
        assert led.verify()
    assert len(audit) == len(attempted)
    for _, grp in audit.groupby(["site", "diagnosis"]):
        assert sorted(grp["seq"]) == list(range(1, len(grp) + 1))
        merged = grp.merge(sched, on=["site", "diagnosis", "seq"], suffixes=("", "_sched"))
        assert (merged["arm"] == merged["arm_sched"]).all()


# -- the pages, over plain HTTP (the browser test drives them in Chromium) -----------------------------

def _form(client, path, fields, cookie=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookie:
        headers["Cookie"] = cookie
    client.conn.request("POST", path, body=urlencode(fields).encode(), headers=headers)
    resp = client.conn.getresponse()
    return resp.status, resp.getheader("Set-Cookie"), resp.read().decode()


def _get(client, path, cookie=None):
    client.conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    resp = client.conn.getresponse()
    return resp.status, resp.read().decode()


def test_pages_sign_in_confirm_allocate(service):
    server, sched, tokens = service
    c = Client(server.port)
    status, page = _get(c, "/")
    assert status == 200 and '<label for="token">' in page and "<script" not in page and "http" not in page.split(
        "<body>")[1]
    status, _, page = _form(c, "/login", {"token": "nonsense"})
    assert status == 401 and 'role="alert"' in page
    status, cookie, _ = _form(c, "/login", {"token": tokens["site3"]})
    assert status == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie
    cookie = cookie.split(";")[0]
    status, page = _get(c, "/", cookie)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert status == 200 and '<label for="participant">' in page and 'value="3" readonly' in page
    fields = {"csrf": csrf, "participant": "W1", "site": "3", "diagnosis": "personality"}
    status, _, page = _form(c, "/confirm", fields, cookie)
    assert status == 200 and "Confirm allocation" in page and "W1" in page
    assert _form(c, "/allocate", {**fields, "csrf": "forged"}, cookie)[0] == 403  # CSRF token checked
    status, _, page = _form(c, "/allocate", fields, cookie)
    arm = arm_of(sched, 1, 3, "personality")
    assert status == 200 and f'<p class="arm" id="arm">{arm}</p>' in page
    receipt = re.search(r'id="receipt">([0-9a-f]{64})<', page).group(1)
    status, _, page = _form(c, "/confirm", {**fields, "site": "1"}, cookie)
    assert status == 403 and "only at site 3" in page
    status, _, page = _form(c, "/confirm", {**fields, "participant": " W2"}, cookie)
    assert status == 422 and "whitespace" in page
    assert _get(c, "/allocations", cookie)[0] == 403
    # the statisticians' page
    status, cookie2, _ = _form(c, "/login", {"token": tokens["stat"]})
    status, page = _get(c, "/allocations", cookie2.split(";")[0])
    assert status == 200 and "Ledger check: intact" in page and receipt in page and "<caption>" in page
    with Ledger(server.db) as led:
        assert led.receipt("W1")["receipt"] == receipt


def test_backup_while_the_server_allocates(service, tmp_path):
    server, sched, tokens = service
    c = Client(server.port, tokens["site1"])
    for i in range(5):
        assert c.allocate(f"B{i}", site=1, diagnosis="other")[0] == 200
    out = tmp_path / "backup.db"
    assert main(["randomise", "backup", "--db", str(server.db), "--out", str(out)]) == 0
    assert c.allocate("B5", site=1, diagnosis="other")[0] == 200
    assert main(["randomise", "backup", "--db", str(server.db), "--out", str(out)]) == 1  # never overwritten
    import os
    import stat

    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    with Ledger(out, key_file=tmp_path / "trial.db.key") as copy:
        assert copy.verify() and copy.audit()["participant"].tolist() == [f"B{i}" for i in range(5)]
