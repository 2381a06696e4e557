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


def run_r_on_frames(script: str, frames, args, timeout: float):
    """Write each DataFrame of ``frames`` (``{file name: frame}``) as CSV to a temporary folder and
    run :func:`run_rscript` with their paths followed by ``args``; the folder is removed after."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / name for name in frames]
        for p, df in zip(paths, frames.values()):
            df.to_csv(p, index=False)
        return run_rscript(script, [*paths, *args], timeout)


def print_table(rows, peers=("R",)) -> None:
    """Print peertrial's time beside each peer's and the ratio peer / peertrial (> 1: peertrial faster).

    ``rows`` holds ``(label, peertrial_seconds, {peer: seconds or None})``; a missing or None
    peer time prints as ``-``. Column widths follow the longest label.
    """
    width = max([len("task"), *(len(r[0]) for r in rows)]) + 2
    head = f"{'task':<{width}}{'peertrial':>11}"
    cols = [(p, max(11, len(p) + 2), max(9, len(p) + 5)) for p in peers]
    for p, wt, wr in cols:
        head += f"{p:>{wt}}{p + '/pt':>{wr}}"
    print(head)
    for label, ours, theirs in rows:
        line = f"{label:<{width}}{ours:>10.3f}s"
        for p, wt, wr in cols:
            t = theirs.get(p)
            line += f"{'-':>{wt}}{'-':>{wr}}" if t is None else f"{t:>{wt - 1}.3f}s{t / ours:>{wr}.2f}"
        print(line)


def max_diff(ours, theirs) -> str:
    """``"abs A, rel B"``: the largest absolute and relative difference between two arrays."""
    import numpy as np

    a, b = np.asarray(ours, float).ravel(), np.asarray(theirs, float).ravel()
    d = np.abs(a - b)
    return f"abs {d.max():.1e}, rel {np.max(d / np.maximum(np.abs(b), 1e-300)):.1e}"
