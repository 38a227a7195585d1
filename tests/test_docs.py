"""The documentation is one a user can follow: every file it cites is in the repository (DESIGN.md is
not), every link resolves, the README's layout lists every module of the package, the README and
the model card stay short, docs/ holds few pictures and each one is shown, and no page speaks of
the project's own working sessions (write dates and machines instead)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    "README.md",
    "MODEL_CARD.md",
    "examples/README.md",
    "docs/HISTORY.md",
    "docs/training.md",
    "docs/evaluation.md",
    "docs/data.md",
    "docs/models.md",
    "docs/web.md",
]
# A path cited in the text. Not one that follows ':' as in `git show aa9474c:configs/v4.yaml`,
# which names a file of an older commit (docs/HISTORY.md), nor one inside a longer path.
_PATH = re.compile(
    r"(?<![\w/.:-])(?:src|tests|configs|scripts|benchmarks|docs|examples)/[\w./-]*[\w/]"
)
_TOP_MD = re.compile(r"(?<![\w/.:-])[A-Z_]+\.md\b")  # a page named without its folder
_LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](picture)
PICTURES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}
MAX_LINES = {"README.md": 300, "MODEL_CARD.md": 350}
MAX_PICTURES = 12


def _markdown_files() -> list[Path]:
    """Every .md file of the repository, outside hidden folders (.git, .venv, caches)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.endswith(".egg-info")]
        found += [Path(folder) / f for f in files if f.endswith(".md")]
    return sorted(found)


@pytest.mark.parametrize("doc", DOCS)
def test_cited_files_exist(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "DESIGN.md" not in text  # not in the repository: say what it says instead
    cited = {m.group(0).split("::")[0] for m in _PATH.finditer(text)}
    missing = sorted(
        p for p in cited if not (ROOT / p).exists() and not (ROOT / "src" / p).exists()
    )
    # README.md, MODEL_CARD.md, HISTORY.md: beside the repository's root or beside the page
    here = (ROOT / doc).parent
    missing += sorted(
        p for p in set(_TOP_MD.findall(text)) if not (ROOT / p).exists() and not (here / p).exists()
    )
    assert not missing


@pytest.mark.parametrize("doc", DOCS)
def test_links_resolve(doc):
    path = ROOT / doc
    targets = {t.split("#")[0] for t in _LINK.findall(path.read_text(encoding="utf-8"))}
    local = [t for t in targets if t and not re.match(r"^[a-z]+:", t)]
    assert [t for t in local if not (path.parent / t).exists()] == []


def test_readme_layout_lists_every_module():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout") :].split("```")[1]
    package = ROOT / "src" / "tic"
    modules = [f"src/tic/{p.name}" for p in package.glob("*.py") if p.name != "__init__.py"]
    folders = [f"src/tic/{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    assert [m for m in modules + folders if m not in layout] == []


@pytest.mark.parametrize("doc", sorted(MAX_LINES))
def test_readme_and_model_card_stay_short(doc):
    lines = (ROOT / doc).read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES[doc], f"{doc}: {lines} lines; longer topics go to docs/*.md"


def test_docs_hold_few_pictures_and_each_is_shown():
    pictures = sorted(p.name for p in (ROOT / "docs").iterdir() if p.suffix.lower() in PICTURES)
    assert len(pictures) <= MAX_PICTURES, pictures
    shown = "\n".join(p.read_text(encoding="utf-8") for p in _markdown_files())
    assert [p for p in pictures if p not in shown] == []


def test_no_words_about_working_sessions():
    """The word only in the web app's sense (a browser's); when the project's own work was done
    is told by dates and machines, which a reader can place."""
    allowed = {"browser", "gradio", "web"}
    found = []
    for path in _markdown_files():
        text = " ".join(path.read_text(encoding="utf-8").split())
        for m in re.finditer(r"\bsessions?\b", text, re.IGNORECASE):
            before = re.findall(r"[\w']+", text[max(0, m.start() - 40) : m.start()])
            if not before or before[-1].lower() not in allowed:
                found.append(
                    f"{path.relative_to(ROOT)}: ...{text[max(0, m.start() - 40) : m.end() + 20]}..."
                )
    assert found == []
