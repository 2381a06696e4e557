"""Benchmark: the web randomisation service under 8 concurrent clients.

Starts the real ``peertrial randomise serve`` on the loopback with a fresh ledger
(7 sites x 3 diagnoses, permuted blocks), lets 8 client threads (each its own
keep-alive connection and site token) allocate ``--per-client`` participants, and
prints allocations per second and the p50/p99 latency of ``POST /api/allocate``.
For scale it also times the same number of allocations made directly with
``Ledger.allocate`` in one process (no HTTP, no authentication, no audit of requests)
before and after the service and prints the ratio. Every allocation is durable (SQLite WAL, ``synchronous=FULL``),
so the figures depend mostly on the disk's fsync time. Asserts nothing about time.

    python benchmarks/bench_allocation.py [--clients 8] [--per-client 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "randomise"))

from peertrial.randomise import Ledger, permuted_blocks  # noqa: E402

SITES = list(range(1, 8))
DIAGNOSES = ["psychotic", "personality", "other"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=500)
    args = parser.parse_args()
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print("bench_allocation: skipped (needs the server extra: pip install 'peertrial[server]')")
        return 0
    from server_helpers import Client, Server

    total = args.clients * args.per_client
    busiest_site = -(-args.clients // len(SITES))  # clients sharing one site
    per_stratum = -(-busiest_site * args.per_client // len(DIAGNOSES)) + 10
    sched = permuted_blocks(per_stratum, arms=["control", "peer"], block_sizes=[2, 4, 6],
                            strata={"site": SITES, "diagnosis": DIAGNOSES})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "trial.db"
        with Ledger.create(db, sched) as led:
            tokens = {s: led.add_user(f"site{s}", "site", site=s) for s in SITES}
        latencies: list[list[float]] = [[] for _ in range(args.clients)]
        failures: list = []

        def client(k: int) -> None:
            site = SITES[k % len(SITES)]
            c = Client(server.port, tokens[site])
            for i in range(args.per_client):
                t0 = time.perf_counter()
                status, body = c.allocate(f"B{k}-{i}", site=site, diagnosis=DIAGNOSES[i % 3])
                latencies[k].append(time.perf_counter() - t0)
                if status != 200:
                    failures.append((status, body))
            c.close()

        def direct_rate(name: str) -> float:
            with Ledger.create(folder / name, sched) as led:
                t0 = time.perf_counter()
                for i in range(total // 4):
                    led.allocate(f"D{i}", site=SITES[i % 7], diagnosis=DIAGNOSES[i % 3])
                return (total // 4) / (time.perf_counter() - t0)

        before = direct_rate("direct1.db")  # the disk's pace now, and again after the service
        with Server(db, folder / "server.log") as server:
            threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
        with Ledger(db) as led:
            assert led.verify() and len(led.audit()) == total - len(failures)
        after = direct_rate("direct2.db")

    lat = np.concatenate([np.asarray(x) for x in latencies]) * 1000
    rate = total / elapsed
    print(f"web service, {args.clients} clients x {args.per_client} allocations over HTTP: "
          f"{rate:,.0f} allocations/s; latency p50 {np.percentile(lat, 50):.1f} ms, "
          f"p99 {np.percentile(lat, 99):.1f} ms, max {lat.max():.1f} ms; failures {len(failures)}")
    direct = (before + after) / 2
    print(f"direct Ledger.allocate, one process, {total // 4} allocations: {before:,.0f} allocations/s before, "
          f"{after:,.0f} after (service/direct throughput ratio {rate / direct:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
