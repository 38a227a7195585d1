"""A folder of images with sidecar captions -> manifest records.

``photo.jpg`` takes its text from ``photo.txt`` or ``photo.jpg.txt`` beside it (UTF-8), the same
rule as ``tic colorize``. Sub-folders are read too (sorted). Images without a sidecar get the empty
text, or are left out with ``require_text``; either way they are counted.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tic.data.manifest import Record
from tic.errors import TicError
from tic.imageio import IMAGE_SUFFIXES

log = logging.getLogger("tic")


def sidecar_text(image: Path) -> str | None:
    """The stripped text of ``image``'s sidecar ``.txt``, or None when there is none."""
    for candidate in (image.with_suffix(".txt"), image.with_name(image.name + ".txt")):
        if candidate.is_file():
            try:
                return candidate.read_text(encoding="utf-8").strip()
            except UnicodeDecodeError:
                raise TicError(f"{candidate}: caption file is not UTF-8 text") from None
    return None


def load_folder(root: str | Path, require_text: bool = False) -> list[Record]:
    """Records for every image under ``root`` (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise TicError(f"{root}: no such folder")
    images = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not images:
        raise TicError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    records, without = [], 0
    for p in images:
        text = sidecar_text(p)
        if text is None:
            without += 1
            if require_text:
                continue
        rel = p.relative_to(root).with_suffix("").as_posix()
        records.append(Record(image=p, text=text or "", id=rel))
    if without:
        what = "left out" if require_text else "given the empty text"
        log.warning("%s: %d of %d image(s) have no sidecar .txt (%s)", root, without, len(images), what)
    return records
