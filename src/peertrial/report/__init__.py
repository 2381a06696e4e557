"""Assemble the ``nox -s analysis`` outputs into one self-contained HTML report.

An analysis script builds a :class:`Section`::

    sec = Section("Meta-analysis of hope", out_dir, slug="10_meta")
    sec.text("Random-effects model (REML) ...")
    sec.code(fit.summary())
    sec.table(fit.to_frame(), "Pooled estimate")
    sec.figure(fig, "forest", "Forest plot")
    sec.save()

which writes ``out_dir/<slug>/`` (CSV tables, PNG figures, ``section.json``).
``python -m peertrial.report out_dir`` then writes ``out_dir/report.html`` with
every section in slug order. Nothing in the outputs depends on the clock, so
running the analysis twice gives identical files.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pandas as pd

__all__ = ["Section", "build"]


def _slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


class Section:
    """One titled part of the analysis report, written to its own folder; blocks are kept in the order added.

    An analysis script adds text, preformatted output, tables (written as CSV) and figures
    (written as PNG) and calls :meth:`save`, which writes ``section.json``;
    :func:`peertrial.report.build` then assembles every section into one HTML file. Nothing
    written depends on the clock.

    Parameters
    ----------
    title : str
        Heading of the section in the report.
    out_dir : str or pathlib.Path
        The report's output folder; the section writes into ``out_dir/<slug>/`` (created).
    slug : str, optional
        Folder name, which also orders the sections in the report (e.g. ``"10_meta"``);
        default: the title in lower case with runs of other characters replaced by ``_``.

    Attributes
    ----------
    title : str
        The heading.
    slug : str
        The folder name.
    dir : pathlib.Path
        ``out_dir/<slug>``.
    blocks : list of dict
        The blocks added so far.

    Notes
    -----
    R equivalent: none; R users write such reports with ``rmarkdown::render``.

    References
    ----------
    .. [1] Sandve, G. K., Nekrutenko, A., Taylor, J., & Hovig, E. (2013). Ten simple rules for
       reproducible computational research. PLoS Computational Biology, 9(10), e1003285.

    Examples
    --------
    >>> import tempfile
    >>> import peertrial as pt
    >>> from peertrial.report import Section
    >>> fit = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])
    >>> with tempfile.TemporaryDirectory() as out:
    ...     sec = Section("Meta-analysis of hope", out, slug="10_meta")
    ...     sec.text("Random-effects model (REML).")
    ...     sec.code(fit.summary())
    ...     table = sec.table(fit.to_frame(), "Pooled estimate")
    ...     png = sec.figure(fit.plot(), "forest", "Forest plot")
    ...     print(sec.save().name, table.name, png.name, len(sec.blocks))
    section.json pooled_estimate.csv forest.png 4
    """

    def __init__(self, title: str, out_dir, slug: str | None = None):
        self.title = title
        self.slug = slug or _slugify(title)
        self.dir = Path(out_dir) / self.slug
        self.dir.mkdir(parents=True, exist_ok=True)
        self.blocks: list[dict] = []

    def text(self, text: str) -> None:
        """Add a paragraph of plain text (blank lines separate paragraphs; HTML is escaped).

        Parameters
        ----------
        text : str
            The text.
        """
        self.blocks.append({"kind": "text", "text": text})

    def code(self, text: str) -> None:
        """Add preformatted text, e.g. a result's ``summary()``.

        Parameters
        ----------
        text : str
            The text, shown in a fixed-width block.
        """
        self.blocks.append({"kind": "code", "text": text})

    def table(self, frame: pd.DataFrame, caption: str, name: str | None = None, digits: int = 3) -> Path:
        """Write ``frame`` as CSV and show it rounded to ``digits`` in the report.

        Parameters
        ----------
        frame : pandas.DataFrame
            The table (its index is written as the first column).
        caption : str
            Caption above the table.
        name : str, optional
            File name without ``.csv`` (default: the caption, slugified).
        digits : int, default 3
            Decimals shown in the report (the CSV keeps 10 significant digits).

        Returns
        -------
        pathlib.Path
            The CSV file written.
        """
        name = name or _slugify(caption)
        path = self.dir / f"{name}.csv"
        frame.to_csv(path, float_format="%.10g", lineterminator="\n")
        self.blocks.append({"kind": "table", "file": path.name, "caption": caption, "digits": digits})
        return path

    def figure(self, fig, name: str, caption: str) -> Path:
        """Save ``fig`` as PNG (and close it) and show it in the report.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure, saved with :func:`peertrial.plot.save` (no timestamps).
        name : str
            File name without ``.png``.
        caption : str
            Caption under the figure.

        Returns
        -------
        pathlib.Path
            The PNG file written.
        """
        import matplotlib.pyplot as plt

        from peertrial.plot import close, save

        path = save(fig, self.dir / f"{name}.png")
        plt.close(fig)
        close(fig)  # saved to the report: not also displayed at the end of a notebook cell
        self.blocks.append({"kind": "figure", "file": path.name, "caption": caption})
        return path

    def save(self) -> Path:
        """Write the section's blocks to ``<dir>/section.json`` for :func:`build`.

        Returns
        -------
        pathlib.Path
            The JSON file written.
        """
        path = self.dir / "section.json"
        path.write_text(json.dumps({"title": self.title, "blocks": self.blocks}, indent=1) + "\n")
        return path


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{border-bottom:2px solid #1b6ca8}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
pre{background:#f6f8fa;padding:.75rem;overflow-x:auto;font-size:.8rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}caption{caption-side:top;text-align:left;font-weight:600;padding:.3rem 0}
figure{margin:1rem 0}figure img{max-width:100%}figcaption{font-size:.85rem;color:#555}
nav li{margin:.15rem 0}
"""


def _render_block(block: dict, folder: Path) -> str:
    kind = block["kind"]
    if kind == "text":
        paras = [p.strip() for p in block["text"].split("\n\n") if p.strip()]
        return "".join(f"<p>{html.escape(p)}</p>\n" for p in paras)
    if kind == "code":
        return f"<pre>{html.escape(block['text'])}</pre>\n"
    if kind == "table":
        frame = pd.read_csv(folder / block["file"], index_col=0)
        body = frame.to_html(float_format=lambda x: f"{x:.{block['digits']}f}", na_rep="", border=0)
        return f"<div class='table'><p><b>{html.escape(block['caption'])}</b></p>{body}</div>\n"
    if kind == "figure":
        data = base64.b64encode((folder / block["file"]).read_bytes()).decode("ascii")
        cap = html.escape(block["caption"])
        return f"<figure><img alt='{cap}' src='data:image/png;base64,{data}'><figcaption>{cap}</figcaption></figure>\n"
    raise ValueError(f"unknown report block kind {kind!r}")


def build(out_dir, title: str = "peertrial analysis report") -> Path:
    """Write the analysis report: one self-contained HTML file from every saved section under a folder.

    Reads ``out_dir/*/section.json`` (written by :meth:`Section.save`) in folder-name order and
    writes ``out_dir/report.html`` with a contents list, each section's paragraphs,
    preformatted text, tables (read back from their CSV files and rounded) and figures
    (embedded as PNG data), and the peertrial version. The file does not depend on the clock,
    so building twice from the same sections gives identical files. ``python -m
    peertrial.report OUT_DIR`` does the same from the command line.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder holding the sections' folders; the report is written there.
    title : str, default "peertrial analysis report"
        Title of the HTML page and its top heading.

    Returns
    -------
    pathlib.Path
        ``out_dir/report.html``.

    Raises
    ------
    ValueError
        If there is no ``section.json`` under ``out_dir``.

    Notes
    -----
    R equivalent: none; R users write such reports with ``rmarkdown::render``.

    References
    ----------
    .. [1] Sandve, G. K., Nekrutenko, A., Taylor, J., & Hovig, E. (2013). Ten simple rules for
       reproducible computational research. PLoS Computational Biology, 9(10), e1003285.

    Examples
    --------
    >>> import tempfile
    >>> import peertrial as pt
    >>> from peertrial.report import Section, build
    >>> fit = pt.meta.rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])
    >>> with tempfile.TemporaryDirectory() as out:
    ...     sec = Section("Meta-analysis", out, slug="10_meta")
    ...     sec.code(fit.summary())
    ...     _ = sec.save()
    ...     path = build(out, title="Trial report")
    ...     print(path.name, "<h1>Trial report</h1>" in path.read_text())
    report.html True
    """
    out_dir = Path(out_dir)
    sections = sorted(out_dir.glob("*/section.json"))
    if not sections:
        raise ValueError(f"no analysis sections found under {out_dir}")
    parts, nav = [], []
    for path in sections:
        spec = json.loads(path.read_text())
        anchor = path.parent.name
        nav.append(f"<li><a href='#{anchor}'>{html.escape(spec['title'])}</a></li>")
        body = "".join(_render_block(b, path.parent) for b in spec["blocks"])
        parts.append(f"<section id='{anchor}'><h2>{html.escape(spec['title'])}</h2>\n{body}</section>\n")
    from peertrial import __version__

    doc = (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
        f"<p>Generated by peertrial {__version__} from the shipped simulated data. "
        "Every table is also written as CSV beside this file.</p>\n"
        f"<nav><ol>{''.join(nav)}</ol></nav>\n{''.join(parts)}</body></html>\n"
    )
    target = out_dir / "report.html"
    target.write_text(doc)
    return target
