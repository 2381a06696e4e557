"""Nothing in the repository points outside it: a user's clone has only the repository, so a
link such as ``../shared/API.md`` would be dead there (the project's docs are the reference)."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEXT = {".md", ".rst", ".py", ".toml", ".txt", ".cfg", ".ipynb", ".R", ".yml", ".yaml", ""}
SKIP = {".git", ".nox", "build", "dist", "_build", "auto_examples", "auto_tutorials", "__pycache__"}
# a relative path that climbs out of the folder the file is in: ../x, ](../x), <../x>
LINK = re.compile(r"(?<![\w.])\.\./[\w./-]+")


def _files():
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if path.is_file() and path.suffix in TEXT and not SKIP.intersection(rel.parts) \
                and not any(p.endswith(".egg-info") for p in rel.parts):
            yield path


def test_no_link_leaves_the_repository():
    outside = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for m in LINK.finditer(text):
            target = (path.parent / m.group(0)).resolve()
            if ROOT not in target.parents and target != ROOT:
                outside.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert outside == []
