"""The README is one a user can follow: every file it cites is in the repository (DESIGN.md is
not), and its layout lists every module of the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "MODEL_CARD.md", "examples/README.md"]
_PATH = re.compile(r"(?<![\w/.:-])(?:src|tests|configs|scripts|benchmarks|docs|examples)/[\w./-]*[\w/]")


@pytest.mark.parametrize("doc", DOCS)
def test_cited_files_exist(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "DESIGN.md" not in text  # not in the repository: say what it says instead
    cited = {m.group(0).split("::")[0] for m in _PATH.finditer(text)}
    cited |= set(re.findall(r"\b[A-Z_]+\.md\b", text))
    missing = sorted(p for p in cited if not (ROOT / p).exists() and not (ROOT / "src" / p).exists())
    assert not missing


def test_readme_layout_lists_every_module():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout") :].split("```")[1]
    package = ROOT / "src" / "tic"
    modules = [f"src/tic/{p.name}" for p in package.glob("*.py") if p.name != "__init__.py"]
    folders = [f"src/tic/{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    assert [m for m in modules + folders if m not in layout] == []
