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
    """Apply peertrial's house style (matplotlib rc settings) inside a ``with`` block.

    Every ``pt.plot`` function draws inside it: 9-point text, no top or right spines, no legend
    frame, figures at 100 dpi and saved at 150 dpi with a tight bounding box. Use it to give
    your own matplotlib figures the same look; the settings are restored on leaving the block.

    Returns
    -------
    contextlib.AbstractContextManager
        A context manager (``matplotlib.rc_context`` with peertrial's settings); it yields
        ``None``.

    Notes
    -----
    R equivalent: none; the counterpart of a ggplot2 theme or ``par()`` settings.

    References
    ----------
    .. [1] Hunter, J. D. (2007). Matplotlib: a 2D graphics environment. Computing in Science &
       Engineering, 9(3), 90-95.

    Examples
    --------
    >>> import matplotlib
    >>> import peertrial as pt
    >>> with pt.plot.style():
    ...     matplotlib.rcParams["axes.spines.top"]
    False
    """
    with matplotlib.rc_context(RC):
        yield


_NO_METADATA = {
    ".png": {"Software": None},
    ".svg": {"Date": None, "Creator": None},
    ".pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}


def save(fig, path, **kwargs) -> Path:
    """Save a figure to a PNG, SVG or PDF file without timestamps, so re-runs give byte-identical files.

    The format follows the suffix. The file is written with peertrial's house style (150 dpi
    for PNG, tight bounding box, SVG text as paths with a fixed hash salt) and with the
    creation date, producer and software entries of the file's metadata removed. Missing
    parent folders are created.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, e.g. from a ``pt.plot`` function or a result's ``.plot()``.
    path : str or pathlib.Path
        Target file; its suffix (``.png``, ``.svg`` or ``.pdf``, any case) sets the format.
    **kwargs
        Passed to ``Figure.savefig`` (e.g. ``dpi``, ``transparent``).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If the suffix is not ``.png``, ``.svg`` or ``.pdf``.

    Notes
    -----
    R equivalent: none; ``grDevices::png``/``pdf`` or ``ggplot2::ggsave`` write figures but
    stamp PDF files with their creation date.

    References
    ----------
    .. [1] Hunter, J. D. (2007). Matplotlib: a 2D graphics environment. Computing in Science &
       Engineering, 9(3), 90-95.
    .. [2] Sandve, G. K., Nekrutenko, A., Taylor, J., & Hovig, E. (2013). Ten simple rules for
       reproducible computational research. PLoS Computational Biology, 9(10), e1003285.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import peertrial as pt
    >>> fit = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])
    >>> fig = fit.plot()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     first = pt.plot.save(fig, Path(tmp) / "forest.svg").read_bytes()
    ...     again = pt.plot.save(fig, Path(tmp) / "again" / "forest.svg").read_bytes()
    >>> first == again
    True
    >>> pt.plot.close(fig)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _NO_METADATA:
        raise ValueError(f"unsupported figure format {suffix!r}; use .png, .svg or .pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(RC):
        fig.savefig(path, metadata=_NO_METADATA[suffix], **kwargs)
    return path
