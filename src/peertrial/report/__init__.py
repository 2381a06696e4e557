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
    """One titled part of the report; blocks are kept in the order added."""

    def __init__(self, title: str, out_dir, slug: str | None = None):
        self.title = title
        self.slug = slug or _slugify(title)
        self.dir = Path(out_dir) / self.slug
        self.dir.mkdir(parents=True, exist_ok=True)
        self.blocks: list[dict] = []

    def text(self, text: str) -> None:
        """A paragraph (plain text; blank lines separate paragraphs)."""
        self.blocks.append({"kind": "text", "text": text})

    def code(self, text: str) -> None:
        """Preformatted text, e.g. a result's ``summary()``."""
        self.blocks.append({"kind": "code", "text": text})

    def table(self, frame: pd.DataFrame, caption: str, name: str | None = None, digits: int = 3) -> Path:
        """Write ``frame`` as CSV and show it rounded to ``digits`` in the report."""
        name = name or _slugify(caption)
        path = self.dir / f"{name}.csv"
        frame.to_csv(path, float_format="%.10g", lineterminator="\n")
        self.blocks.append({"kind": "table", "file": path.name, "caption": caption, "digits": digits})
        return path

    def figure(self, fig, name: str, caption: str) -> Path:
        """Save ``fig`` as PNG (and close it) and show it in the report."""
        import matplotlib.pyplot as plt

        from peertrial.plot import close, save

        path = save(fig, self.dir / f"{name}.png")
        plt.close(fig)
        close(fig)  # saved to the report: not also displayed at the end of a notebook cell
        self.blocks.append({"kind": "figure", "file": path.name, "caption": caption})
        return path

    def save(self) -> Path:
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
    """Write ``out_dir/report.html`` from every ``*/section.json`` under ``out_dir``."""
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
