"""sphinx-gallery scraper for peertrial figures (used by the docs build only).

pyplot does not manage peertrial figures, so sphinx-gallery's matplotlib scraper misses
them. In ``conf.py``::

    sphinx_gallery_conf = {..., "image_scrapers": ("matplotlib", "peertrial.plot._gallery.scraper")}

Importing this module starts collecting every figure a peertrial plot makes; :func:`scraper`
saves those made by a code block (each once, in order) and returns the reST for them.
"""

from __future__ import annotations

from peertrial.plot import _figure
from peertrial.plot._style import style

if _figure._collected is None:
    _figure._collected = []


def scraper(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery image scraper: save the peertrial figures made since the last call."""
    from sphinx_gallery.scrapers import figure_rst

    collected = _figure._collected if _figure._collected is not None else []
    figures = list(collected)
    collected.clear()
    paths = []
    for fig, path in zip(figures, block_vars["image_path_iterator"]):
        with style():
            fig.savefig(path, facecolor="white", **kwargs)
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""
