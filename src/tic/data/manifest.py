"""Manifests: JSON Lines, one ``{"image": path, "text": str}`` record a line.

Optional keys: ``"mask"`` (object mask path), ``"id"``, ``"split"``. Paths are relative to the
manifest's folder. Other keys are kept in ``Record.extra`` so tools can carry their own fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tic.errors import TicError
from tic.imageio import atomic_path


@dataclass
class Record:
    """One manifest line. ``image`` and ``mask`` are absolute (resolved against the manifest)."""

    image: Path
    text: str = ""
    mask: Path | None = None
    id: str | None = None
    split: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_manifest(
    path: str | Path,
    split: str | None = None,
    skip_missing: bool = False,
    check_files: bool = True,
) -> list[Record]:
    """Read a manifest; ``split`` keeps only records of that split.

    A line that is not a JSON object, or lacks ``image``, raises ``TicError`` naming the line.
    Missing image (or mask) files raise one ``TicError`` listing them, unless ``skip_missing``, in
    which case those records are dropped and counted in the log.
    """
    import logging

    path = Path(path)
    root = path.parent
    records: list[Record] = []
    for lineno, obj in iter_jsonl(path, "image", "manifest"):
        text = obj.pop("text", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise TicError(f'{path}:{lineno}: "text" must be a string')
        mask = obj.pop("mask", None)
        rec = Record(
            image=root / obj.pop("image"),
            text=text,
            mask=root / mask if mask else None,
            id=_opt_str(obj.pop("id", None)),
            split=_opt_str(obj.pop("split", None)),
            extra=obj,
        )
        if split is None or rec.split == split:
            records.append(rec)
    if check_files:
        missing = [r for r in records if not r.image.is_file() or (r.mask and not r.mask.is_file())]
        if missing and not skip_missing:
            names = [str(r.image if not r.image.is_file() else r.mask) for r in missing]
            more = f" (and {len(names) - 5} more)" if len(names) > 5 else ""
            raise TicError(
                f"{path}: {len(names)} listed file(s) missing: {', '.join(names[:5])}{more}; "
                "use --skip-missing to leave them out"
            )
        if missing:
            logging.getLogger("tic").warning(
                "%s: skipped %d record(s) with missing files", path, len(missing)
            )
            records = [r for r in records if r not in missing]
    return records


def iter_jsonl(path: Path, required: str, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file.

    A missing file, a line that is not JSON, or an object without the string key ``required``
    raises ``TicError`` naming the file (and the line).
    """
    if not path.is_file():
        raise TicError(f"{path}: no such {what} file")
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise TicError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get(required), str):
                raise TicError(
                    f'{path}:{lineno}: each line must be an object with a "{required}" path'
                )
            yield lineno, obj


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def write_manifest(path: str | Path, records: list[Record]) -> None:
    """Write records atomically, with paths relative to the manifest's folder where possible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = path.parent.resolve()

    def rel(p: Path) -> str:
        p = Path(p).resolve()
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            import os

            return Path(os.path.relpath(p, root)).as_posix()

    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for r in records:
            obj: dict[str, Any] = {"image": rel(r.image), "text": r.text}
            if r.mask is not None:
                obj["mask"] = rel(r.mask)
            if r.id is not None:
                obj["id"] = r.id
            if r.split is not None:
                obj["split"] = r.split
            obj.update(r.extra)
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
