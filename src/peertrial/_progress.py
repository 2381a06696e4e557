"""The progress bar class: tqdm's notebook widget where ipywidgets is installed, its text bar otherwise.

``tqdm.auto`` in a Jupyter kernel without ipywidgets (not a peertrial dependency) prints a
``TqdmWarning: IProgress not found`` on import, in every notebook that imports the module using
it, even when no bar is ever shown; the text bar works everywhere.
"""

from __future__ import annotations


def progress_bar():
    """``tqdm.auto.tqdm`` when ipywidgets can be imported, else ``tqdm.std.tqdm``."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm
