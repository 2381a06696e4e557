"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``)."""

from __future__ import annotations

import time


def best_of(fn, repeat: int = 3):
    """Fastest wall time of ``repeat`` calls of ``fn`` and the result of the last call."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_rscript(script: str, args, timeout: float):
    """Run an R script (text) with ``Rscript`` and parse the JSON on its last output line.

    Returns ``(result, "")``, or ``(None, why)`` when Rscript is absent, times out or fails.
    """
    import json
    import shutil
    import subprocess
    import tempfile

    if shutil.which("Rscript") is None:
        return None, "Rscript not installed"
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(script)
    try:
        proc = subprocess.run(["Rscript", fh.name, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"R timed out after {timeout:.0f} s"
    if proc.returncode != 0:
        return None, proc.stderr.strip()[-300:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""
