"""Render a :class:`~peertrial.plan._analyse.Report` to files, all in memory first.

``render`` returns ``{relative path: bytes}``; ``write`` creates the folder and writes
them only when every file rendered. Nothing depends on the clock: PNG/SVG/PDF carry no
dates (the PDF is ReportLab's ``invariant`` mode), so two runs give identical bytes.

PDF renderer: ReportLab (a pure-Python wheel since 4.1, on PyPI; needs no system
libraries such as Pango/Cairo), laid out with its flowables so that long tables wrap
their cells and continue across pages with the header repeated.
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

from peertrial.plan._analyse import Figure, Report, Section, Table

_DPI = 150


# ------------------------------------------------------------------ provenance


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "diff", "--quiet", "HEAD", "--"], capture_output=True,
                               timeout=10, check=False).returncode != 0
        return out.stdout.strip() + (" (with uncommitted changes to tracked files)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _dependencies() -> dict[str, str]:
    import re

    names = ["numpy", "scipy", "pandas", "statsmodels", "formulaic", "pingouin", "matplotlib", "reportlab"]
    try:
        for req in metadata.requires("peertrial") or []:
            if "extra ==" in req:
                continue
            names.append(re.split(r"[<>=!~; \[]", req, maxsplit=1)[0])
    except metadata.PackageNotFoundError:
        pass
    out = {}
    for name in sorted(set(names), key=str.lower):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(report: Report) -> pd.DataFrame:
    import peertrial

    plan = report.plan
    sha = plan.sha256()
    rows = [("peertrial version", peertrial.__version__)]
    pkg_commit = _git_commit(Path(peertrial.__file__).parent)
    rows.append(("peertrial git commit", pkg_commit or "not run from a git repository"))
    plan_commit = _git_commit(plan.path.parent)
    if plan_commit and plan_commit != pkg_commit:
        rows.append(("plan folder git commit", plan_commit))
    rows += [("plan file", plan.path.name), ("plan SHA-256", sha["plan"]), ("data file", plan.data_path.name),
             ("data SHA-256", sha["data"]), ("seed", str(plan.seed)),
             ("Python", platform.python_version())]
    rows += [(f"{k}", v) for k, v in _dependencies().items()]
    frame = pd.DataFrame(rows, columns=["item", "value"]).set_index("item")
    return frame


# ------------------------------------------------------------------ figures


def _figure_bytes(fig) -> dict[str, bytes]:
    import matplotlib

    from peertrial.plot import close
    from peertrial.plot._style import _NO_METADATA, RC

    out = {}
    with matplotlib.rc_context(RC):
        for ext in ("png", "svg"):
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, metadata=_NO_METADATA[f".{ext}"], dpi=_DPI, bbox_inches="tight")
            out[ext] = buf.getvalue()
    close(fig)
    return out


# ------------------------------------------------------------------ HTML

_CSS = """
:root{--ink:#1d1d1f;--line:#d0d4d9;--accent:#1b6ca8}
body{font-family:"DejaVu Sans",system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:62rem;
margin:2rem auto;padding:0 1rem;color:var(--ink);line-height:1.45;font-size:15px}
h1{border-bottom:3px solid var(--accent);padding-bottom:.3rem;font-size:1.7rem}
h2{margin-top:2.2rem;border-bottom:1px solid var(--line);font-size:1.3rem}
.tablewrap{overflow-x:auto;max-width:100%;margin:.6rem 0 1.2rem}
table{border-collapse:collapse;font-size:.86rem;width:100%}
th,td{padding:.25rem .5rem;border-bottom:1px solid var(--line);text-align:right;vertical-align:top;
white-space:nowrap}
th{background:#f3f5f7}
th:first-child,td:first-child{text-align:left}
td.text,th.text,th:first-child,td:first-child{text-align:left;white-space:normal;overflow-wrap:break-word;min-width:9rem}
caption{caption-side:top;text-align:left;font-weight:600;padding:.3rem 0}
figure{margin:1rem 0 1.6rem;break-inside:avoid}figure img{max-width:100%;height:auto}
figcaption{font-size:.86rem;color:#444;font-weight:600}
.note{font-size:.85rem;color:#444}
.meta{color:#555;font-size:.9rem}
nav ol{columns:2}
section.summary{break-after:page}
@media print{body{max-width:none;margin:0;font-size:10pt}.tablewrap{overflow:visible}
table{font-size:8pt}nav{display:none}h2{break-after:avoid}tr{break-inside:avoid}
@page{size:A4;margin:14mm}}
"""


def _html_table(t: Table) -> str:
    disp = t.display.fillna("").astype(str).replace("None", "")
    text_cols = {c for c in disp.columns if not _numeric_looking(disp[c])}
    head = "".join(f"<th class='text'>{html.escape(str(disp.index.name or ''))}</th>" +
                   "".join(f"<th{' class=text' if c in text_cols else ''}>{html.escape(str(c))}</th>"
                           for c in disp.columns) for _ in [0])
    body = []
    for idx, row in disp.iterrows():
        cells = "".join(f"<td{' class=text' if c in text_cols else ''}>{html.escape(str(v))}</td>"
                        for c, v in row.items())
        body.append(f"<tr><td>{html.escape(str(idx))}</td>{cells}</tr>")
    note = f"<p class='note'>{html.escape(t.note)}</p>" if t.note else ""
    return (f"<div class='tablewrap' id='{t.name}'><table><caption>{html.escape(t.caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<p class='note'>CSV: tables/{t.name}.csv</p>{note}</div>\n")


def _numeric_looking(col: pd.Series) -> bool:
    import re

    vals = [str(v) for v in col if str(v)]
    return bool(vals) and all(re.match(r"^[<\-−0-9.,() %a-z]*$", v) and re.search(r"\d", v) and
                              not re.search(r"[a-z]{3,}", v) for v in vals)


def _html_section(sec: Section, images: dict[str, bytes]) -> str:
    parts = [f"<section id='{sec.anchor}' class='{sec.anchor}'><h2>{html.escape(sec.title)}</h2>\n"]
    for b in sec.blocks:
        if isinstance(b, Table):
            parts.append(_html_table(b))
        elif isinstance(b, Figure):
            data = base64.b64encode(images[b.name]).decode("ascii")
            cap = html.escape(b.caption)
            parts.append(f"<figure id='{b.name}'><figcaption>{cap}</figcaption><img alt='{cap}' "
                         f"src='data:image/png;base64,{data}'></figure>\n")
        else:
            for para in [x.strip() for x in b[1].split("\n\n") if x.strip()]:
                parts.append(f"<p>{html.escape(para)}</p>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _html(report: Report, sections: list[Section], images) -> str:
    from peertrial import __version__

    nav = "".join(f"<li><a href='#{s.anchor}'>{html.escape(s.title)}</a></li>" for s in sections[1:])
    body = _html_section(sections[0], images) + f"<nav><h2>Contents</h2><ol>{nav}</ol></nav>\n" + "".join(
        _html_section(s, images) for s in sections[1:])
    title = html.escape(report.plan.title)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{title}</title>"
            f"<style>{_CSS}</style></head><body>\n<h1>{title}</h1>\n"
            f"<p class='meta'>Statistical report produced by peertrial {__version__} from the analysis plan "
            f"{html.escape(report.plan.path.name)} (provenance at the end). Every table is also written as CSV "
            "and every figure as PNG and SVG beside this file.</p>\n"
            f"{body}</body></html>\n")


# ------------------------------------------------------------------ PDF


def _pdf(report: Report, sections: list[Section], images) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Image,
        KeepTogether,
        LongTable,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )

    font, bold = _fonts()
    ss = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=ss["BodyText"], fontName=font, fontSize=9.5, leading=12.5)
    h1 = ParagraphStyle("h1", parent=ss["Heading1"], fontName=bold, fontSize=16, leading=20)
    h2 = ParagraphStyle("h2", parent=ss["Heading2"], fontName=bold, fontSize=12.5, leading=16, spaceBefore=10)
    cap = ParagraphStyle("cap", parent=body, fontName=bold, fontSize=9, leading=11.5, spaceAfter=3)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.8, leading=9.4, alignment=TA_LEFT)
    head = ParagraphStyle("head", parent=cell, fontName=bold)
    buf = io.BytesIO()
    margin = 14 * mm
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=report.plan.title, author="peertrial",
                            creator="peertrial", producer="peertrial", subject="trial report", invariant=1)
    width = A4[0] - 2 * margin
    story = [Paragraph(html.escape(report.plan.title), h1)]

    def esc(s) -> str:
        return html.escape(str(s))

    for k, sec in enumerate(sections):
        story.append(Paragraph(esc(sec.title), h2))
        for b in sec.blocks:
            if isinstance(b, Table):
                disp = b.display.fillna("").astype(str).replace("None", "")
                header = [esc(disp.index.name or "")] + [esc(c) for c in disp.columns]
                rows = [[esc(i)] + [esc(v) for v in r] for i, r in zip(disp.index, disp.itertuples(index=False))]
                # numeric columns are unbreakable (plain strings), text columns wrap (Paragraphs)
                numeric = [False] + [_numeric_looking(disp[c]) for c in disp.columns]
                widths = _col_widths([header, *rows], width, font, bold, numeric)
                data = [[Paragraph(x, head) for x in header]] + [
                    [html.unescape(x) if numeric[j] else Paragraph(x, cell) for j, x in enumerate(r)] for r in rows]
                tab = LongTable(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
                tab.setStyle(TableStyle([
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f5f7")),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#d0d4d9")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONT", (0, 1), (-1, -1), font, 7.8),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                    ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
                story += [Paragraph(esc(b.caption), cap), tab, Spacer(1, 8)]
            elif isinstance(b, Figure):
                png = images[b.name]
                from PIL import Image as PILImage

                w, h = PILImage.open(io.BytesIO(png)).size
                iw = min(width, w / _DPI * 72)
                ih = iw * h / w
                max_h = A4[1] - 2 * margin - 60
                if ih > max_h:
                    iw, ih = iw * max_h / ih, max_h
                story.append(KeepTogether([Paragraph(esc(b.caption), cap),
                                           Image(io.BytesIO(png), width=iw, height=ih, hAlign="LEFT"),
                                           Spacer(1, 8)]))
            else:
                for para in [x.strip() for x in b[1].split("\n\n") if x.strip()]:
                    story.append(Paragraph(esc(para), body))
        if k == 0:
            story.append(PageBreak())
    doc.build(story)
    return buf.getvalue()


def _fonts() -> tuple[str, str]:
    """DejaVu Sans from matplotlib's data (embedded, so any character in a plan's names prints)."""
    from pathlib import Path

    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    try:
        if "PTSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("PTSans", str(ttf / "DejaVuSans.ttf")))
            pdfmetrics.registerFont(TTFont("PTSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
        return "PTSans", "PTSans-Bold"
    except Exception:  # noqa: BLE001 - fall back to the built-in fonts
        return "Helvetica", "Helvetica-Bold"


def _col_widths(rows: list[list[str]], width: float, font: str, bold: str, numeric: list[bool],
                size: float = 7.8) -> list[float]:
    """Column widths: every word (every numeric cell) fits unbroken; spare width goes to long text."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    pad = 8.0
    ncol = len(rows[0])
    cells = [[html.unescape(str(r[j])) for r in rows[1:]] for j in range(ncol)]
    heads = [html.unescape(str(h)) for h in rows[0]]

    def words(c, f):
        return [c] if numeric[j] else (c.split() or [""])

    floor, want = [], []
    for j in range(ncol):
        w_head = max(stringWidth(w, bold, size) for w in (heads[j].split() or [""]))
        w_cells = max((stringWidth(w, font, size) for c in cells[j] for w in words(c, font)), default=0.0)
        floor.append(max(w_head, w_cells) + pad)
        full = max([stringWidth(heads[j], bold, size)] + [stringWidth(c, font, size) for c in cells[j]])
        want.append(max(min(full, 260.0) + pad, floor[-1]))
    if sum(want) <= width:
        return want
    if sum(floor) >= width:
        return [f * width / sum(floor) for f in floor]
    rest = width - sum(floor)
    extra = [w - f for w, f in zip(want, floor)]
    total = sum(extra) or 1.0
    return [f + rest * e / total for f, e in zip(floor, extra)]


# ------------------------------------------------------------------ everything


def render(report: Report) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    sections = [report.summary, *report.sections]
    prov = provenance(report)
    extra = Section("Notes and provenance", "provenance")
    if report.notes:
        extra.text("Messages from the estimators during this run (rows are named by their line in the data "
                   "file):\n\n" + "\n\n".join(f"- {n}" for n in report.notes))
    n_tables = sum(isinstance(b, Table) for s in sections for b in s.blocks)
    extra.add(Table("provenance", f"Table {n_tables + 1}. Provenance: software, data and plan", prov, prov))
    sections.append(extra)
    images = {}
    for sec in sections:
        for b in sec.blocks:
            if isinstance(b, Table):
                buf = io.StringIO()
                b.data.to_csv(buf, float_format="%.10g", lineterminator="\n")
                files[f"tables/{b.name}.csv"] = buf.getvalue().encode("utf-8")
            elif isinstance(b, Figure):
                out = _figure_bytes(b.fig)
                images[b.name] = out["png"]
                files[f"figures/{b.name}.png"] = out["png"]
                files[f"figures/{b.name}.svg"] = out["svg"]
    files["results.json"] = (json.dumps(report.records, indent=1, allow_nan=False) + "\n").encode("utf-8")
    files["report.html"] = _html(report, sections, images).encode("utf-8")
    files["report.pdf"] = _pdf(report, sections, images)
    return files


def write(files: dict[str, bytes], out_dir) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, data in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written
