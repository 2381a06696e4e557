"""Start the real ``peertrial randomise serve`` on the loopback for tests and the benchmark."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from peertrial.randomise import Ledger, permuted_blocks

STRATA = {"site": [1, 2, 3], "diagnosis": ["psychotic", "personality", "other"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_trial(folder: Path, n: int = 40):
    """A ledger with users; returns (db path, schedule, tokens by user name)."""
    db = folder / "trial.db"
    sched = permuted_blocks(n, arms=["control", "peer"], block_sizes=[2, 4, 6], strata=STRATA)
    with Ledger.create(db, sched) as led:
        tokens = {
            "admin": led.add_user("admin", "admin"),
            "stat": led.add_user("stat", "statistician"),
            "site1": led.add_user("site1", "site", site=1),
            "site2": led.add_user("site2", "site", site=2),
            "site3": led.add_user("site3", "site", site=3),
        }
    return db, sched, tokens


class Server:
    """``peertrial randomise serve`` in a child process; always stopped by ``stop``."""

    def __init__(self, db: Path, log: Path, port: int | None = None):
        self.db, self.port, self.log = db, port or free_port(), log
        self.proc = None

    def start(self, timeout: float = 60.0) -> Server:
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "peertrial.cli", "randomise", "serve", "--db", str(self.db),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._out, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_out", None) is not None:
            self._out.close()
            self._out = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Client:
    """One keep-alive HTTP connection to the service."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 60.0):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        h = dict(headers or {})
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        return resp.status, parsed

    def allocate(self, participant, **strata):
        return self.request("POST", "/api/allocate", {"participant": participant, "strata": strata})

    def close(self):
        self.conn.close()
