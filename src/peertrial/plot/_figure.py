"""Where every peertrial figure comes from, and how it shows itself in Jupyter.

One mechanism for all plots:

* A figure made by a ``pt.plot`` function (or a result's ``.plot()``) without ``ax=`` is a
  :class:`PeertrialFigure`: a plain ``matplotlib.figure.Figure`` built **without pyplot**, so
  pyplot's inline backend never shows it on its own and it never piles up in pyplot's figure
  list. ``fig.savefig`` and :func:`peertrial.plot.save` work as for any figure, also headless
  (``MPLBACKEND=Agg``, no IPython).
* In IPython/Jupyter the figure has a PNG representation (``_repr_mimebundle_``), so a cell
  ending with the figure shows it as ``image/png``. A figure created during a cell that was
  *not* displayed by the end of the cell (e.g. ``fig = km.plot()``) is displayed once by a
  ``post_execute`` hook, as pyplot does for its own figures. Either way each figure shows
  exactly once per cell, whatever the matplotlib backend, with no magic command.
* With ``ax=`` the drawing goes into the caller's Axes and the caller's figure is returned;
  it displays by the caller's mechanism (a pyplot figure is shown by the inline backend at the
  end of the cell; :func:`subplots` makes a :class:`PeertrialFigure` for composed panels).
* :func:`close` keeps a figure from being displayed at the end of the cell (``pyplot.close``
  does nothing to a figure pyplot does not manage).
* Outside Jupyter nothing is displayed: save with :func:`peertrial.plot.save` or
  ``fig.savefig``, or, for a window, draw into a pyplot Axes and call ``plt.show()``
  (``fig, ax = plt.subplots(); km.plot(ax=ax); plt.show()``).

Multi-panel plots (forest, KM with its risk table, ...) given ``ax=`` replace that Axes by a
``SubFigure`` occupying the same grid slot and draw their panels inside it.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec

from peertrial.plot._style import RC, style

__all__ = ["PeertrialFigure", "close", "subplots"]

_PNG_DPI = 150  # rendered at the house savefig dpi, shown at the figure's size (crisp on HiDPI screens)
_pending: list = []  # figures created in the current IPython cell and not displayed yet
_hooked: set = set()  # ids of the IPython shells whose post_execute hook is registered
_collected: list | None = None  # figures made since the last sphinx-gallery scrape (docs builds only)


class PeertrialFigure(Figure):
    """A ``matplotlib.figure.Figure`` that displays itself exactly once in Jupyter, made without pyplot.

    Every ``pt.plot`` function (and every result's ``.plot()``) returns one when called without
    ``ax=``. It is a plain matplotlib figure: ``savefig``, :func:`peertrial.plot.save` and
    all Figure methods work as usual, also headless. In IPython/Jupyter it has a PNG
    representation, so a cell ending with it shows it, and a figure made in a cell but not
    displayed is shown once at the end of the cell; :func:`peertrial.plot.close` prevents
    that. pyplot does not manage it, so it never piles up in pyplot's figure list.

    Parameters
    ----------
    *args, **kwargs
        As ``matplotlib.figure.Figure`` (``figsize``, ``dpi``, ...); peertrial makes these
        through its plot functions and :func:`peertrial.plot.subplots`.

    Notes
    -----
    R equivalent: none; R's graphics devices draw on an open device instead of returning a
    figure object.

    References
    ----------
    .. [1] Hunter, J. D. (2007). Matplotlib: a 2D graphics environment. Computing in Science &
       Engineering, 9(3), 90-95.

    Examples
    --------
    >>> import matplotlib.figure
    >>> import peertrial as pt
    >>> fig = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015]).plot()
    >>> type(fig).__name__, isinstance(fig, matplotlib.figure.Figure)
    ('PeertrialFigure', True)
    >>> pt.plot.close(fig)
    """

    _peertrial_shown = False

    def _repr_mimebundle_(self, include=None, exclude=None):
        self._peertrial_shown = True
        if _pending:
            _pending[:] = [f for f in _pending if f is not self]
        data = {"text/plain": repr(self)}
        if (include is None or "image/png" in include) and not (exclude and "image/png" in exclude):
            png, (w, h) = _png(self)
            return {"image/png": png, **data}, {"image/png": {"width": w, "height": h}}
        return data

    def __getstate__(self):  # pickling / deepcopy: the display flag belongs to this object only
        state = super().__getstate__()
        state.pop("_peertrial_shown", None)
        return state


def _png(fig):
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=_PNG_DPI, bbox_inches="tight", facecolor="white",
                    metadata={"Software": None})
    data = buf.getvalue()
    # PNG IHDR: width and height (pixels) at bytes 16-24; show at the figure's own dpi
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    scale = fig.dpi / _PNG_DPI
    return data, (round(w * scale), round(h * scale))


def _shell():
    """The running IPython shell if it can show images (Jupyter kernels), else None."""
    import sys

    if "IPython" not in sys.modules:
        return None
    try:
        shell = sys.modules["IPython"].get_ipython()
    except Exception:  # pragma: no cover - IPython half-imported
        return None
    if shell is None or "image/png" not in getattr(shell.display_formatter, "active_types", ()):
        return None
    return shell


def _flush():
    """post_execute hook: display the figures of this cell that nothing displayed."""
    figures = list(_pending)
    _pending.clear()
    if not figures:
        return
    from IPython.display import display

    for fig in figures:
        if not fig._peertrial_shown:
            display(fig)


def _track(fig):
    if _collected is not None:
        _collected.append(fig)
    shell = _shell()
    if shell is None:
        return
    if id(shell) not in _hooked:
        shell.events.register("post_execute", _flush)
        _hooked.add(id(shell))
    _pending.append(fig)


def close(fig) -> None:
    """Keep a figure from being displayed at the end of the Jupyter cell, as ``pyplot.close`` does for pyplot's figures.

    Use it for a figure that is only saved to a file. Outside Jupyter nothing is displayed
    anyway and it does nothing. (``pyplot.close`` does nothing to a figure pyplot does not
    manage, such as a :class:`PeertrialFigure`.)

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure made by a ``pt.plot`` function or a result's ``.plot()``.

    Returns
    -------
    None

    Notes
    -----
    R equivalent: ``grDevices::dev.off()`` closes the current device (here the figure is
    simply not shown).

    References
    ----------
    .. [1] Hunter, J. D. (2007). Matplotlib: a 2D graphics environment. Computing in Science &
       Engineering, 9(3), 90-95.

    Examples
    --------
    >>> import peertrial as pt
    >>> fig = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015]).plot()
    >>> pt.plot.close(fig)
    """
    _pending[:] = [f for f in _pending if f is not fig]


def new_figure(figsize) -> PeertrialFigure:
    """A new :class:`PeertrialFigure` of ``figsize`` inches, shown once in Jupyter."""
    with style():
        fig = PeertrialFigure(figsize=figsize, dpi=RC["figure.dpi"])
    _track(fig)
    return fig


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
    """Make a figure and a grid of Axes for composing peertrial plots, like ``matplotlib.pyplot.subplots``.

    The figure is a :class:`PeertrialFigure`: not managed by pyplot, shown once in Jupyter.
    Pass its Axes to ``pt.plot`` functions (or results' ``.plot()``) with ``ax=``; multi-panel
    plots replace their Axes by a subfigure in the same grid slot.

    Parameters
    ----------
    nrows, ncols : int, default 1
        Grid of Axes.
    figsize : tuple of float, optional
        Width and height in inches (default ``(6.4 * ncols, 4.2 * nrows)``).
    **kwargs
        Passed to ``Figure.subplots`` (``sharex``, ``gridspec_kw``, ...).

    Returns
    -------
    fig : PeertrialFigure
        The new figure.
    axes : matplotlib.axes.Axes or numpy.ndarray of Axes
        As ``Figure.subplots`` returns them (one Axes for a 1 x 1 grid).

    Notes
    -----
    R equivalent: ``par(mfrow = c(nrows, ncols))`` before the plots (base graphics).

    References
    ----------
    .. [1] Hunter, J. D. (2007). Matplotlib: a 2D graphics environment. Computing in Science &
       Engineering, 9(3), 90-95.

    Examples
    --------
    >>> import peertrial as pt
    >>> fig, (a, b) = pt.plot.subplots(1, 2)
    >>> fit = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])
    >>> fit.plot(ax=a) is fig and pt.plot.funnel(fit, ax=b) is fig
    True
    >>> pt.plot.close(fig)
    """
    fig = new_figure(figsize or (6.4 * ncols, 4.2 * nrows))
    with style():
        axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def single_axes(ax, figsize):
    """``(figure, ax, owned)``: the given Axes and its top-level figure, or a new figure's Axes.

    ``owned`` is True when the figure is new, so the plot may adjust the figure's margins.
    """
    if ax is not None:
        return ax.get_figure(root=True), ax, False
    fig = new_figure(figsize)
    with style():
        new = fig.add_subplot(111)
    return fig, new, True


def panels(ax, figsize):
    """``(figure, container, owned)`` for a multi-panel plot.

    Without ``ax``: a new :class:`PeertrialFigure`, which is also the container. With ``ax``:
    the Axes is removed and a ``SubFigure`` takes its grid slot; the plot draws its panels into
    that container (``add_gridspec``, ``subplots``, ``suptitle``, ``legend`` and ``text`` work
    alike on both). The top-level figure is returned first.
    """
    if ax is None:
        fig = new_figure(figsize)
        return fig, fig, True
    parent, top = ax.get_figure(root=False), ax.get_figure(root=True)
    spec = ax.get_subplotspec()
    if spec is None:  # an Axes placed by add_axes: a one-cell grid on its rectangle
        pos = ax.get_position()
        spec = GridSpec(1, 1, figure=parent, left=pos.x0, right=pos.x1, bottom=pos.y0, top=pos.y1)[0]
    ax.remove()
    container = parent.add_subfigure(spec)
    container.set_facecolor("none")
    return top, container, False


def framed_axes(ax, figsize, *, left, right, bottom=None, top=None):
    """``(figure, axes)`` for a one-panel plot that writes text columns outside its Axes
    (labels at the left, estimates at the right): the Axes sits in a figure (or, with ``ax``,
    a subfigure in ``ax``'s slot) with those margins, as fractions of its width and height."""
    fig, box, _ = panels(ax, figsize)
    margins = {k: v for k, v in (("bottom", bottom), ("top", top)) if v is not None}
    with style():
        new = box.add_subplot(box.add_gridspec(1, 1, left=left, right=right, **margins)[0])
    return fig, new


def height_inches(container) -> float:
    """Height of a figure or subfigure in inches (for margins given in inches)."""
    return float(container.bbox.height) / float(container.get_figure(root=True).dpi)

