"""One house style for every figure and a reproducible ``save``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import matplotlib

RC = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "svg.hashsalt": "peertrial",
    "svg.fonttype": "path",
}

PALETTE = ("#1b6ca8", "#d1495b", "#66a182", "#edae49", "#5c4d7d", "#8d8d8d")


@contextlib.contextmanager
def style():
    """Context manager applying the peertrial rc settings."""
    with matplotlib.rc_context(RC):
        yield


_NO_METADATA = {
    ".png": {"Software": None},
    ".svg": {"Date": None, "Creator": None},
    ".pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}


def save(fig, path, **kwargs) -> Path:
    """Save ``fig`` to ``path`` (format from the suffix: png, svg, pdf) without timestamps."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _NO_METADATA:
        raise ValueError(f"unsupported figure format {suffix!r}; use .png, .svg or .pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(RC):
        fig.savefig(path, metadata=_NO_METADATA[suffix], **kwargs)
    return path
