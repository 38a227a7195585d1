"""The shared real-photo pool (``../shared/data/photos/manifest.jsonl``) -> tic manifest records.

The pool's manifest is provenance metadata (``file``, ``label``, ``license``, ``has_alpha``, ...),
not colour text. Each photo gets a colour caption made from its own pixels
(``tic.data.captions.caption_file``): for the Tux Paint cut-outs the alpha channel separates
object and background ("a brown dog on a black background": the pool zeroes colour where alpha is
0), for the rest the label names the photo ("a green and blue meadow"). The pool's ``label``,
``license``, ``source_package`` and ``has_alpha`` are kept as extra keys. With ``test_fraction`` a
seeded part of the photos is marked "test", the rest "train".
"""

from __future__ import annotations

from pathlib import Path

from tic.data.captions import caption_file
from tic.data.manifest import Record, iter_jsonl
from tic.data.splits import seeded_split
from tic.errors import TicError

KEEP = ("label", "license", "source_package", "has_alpha")


def read_pool(pool_manifest: str | Path, skip_missing: bool = False) -> list[dict]:
    """The pool's entries, with ``path`` (absolute image path) added; bad lines name their number."""
    path = Path(pool_manifest)
    entries, missing = [], []
    for _, obj in iter_jsonl(path, "file", "pool manifest"):
        obj["path"] = path.parent / obj["file"]
        if not obj["path"].is_file():
            missing.append(obj["path"])
            continue
        entries.append(obj)
    if missing and not skip_missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise TicError(
            f"{path}: {len(missing)} listed file(s) missing: "
            f"{', '.join(str(m) for m in missing[:5])}{more}; use --skip-missing to leave them out"
        )
    if not entries:
        raise TicError(f"{path}: the pool lists no images")
    return entries


def load_photos(
    pool_manifest: str | Path, test_fraction: float = 0.0, seed: int = 0, skip_missing: bool = False
) -> list[Record]:
    """Captioned records for the pool (see the module docstring)."""
    if not 0 <= test_fraction < 1:
        raise TicError(f"test fraction must be in [0, 1), got {test_fraction}")
    entries = read_pool(pool_manifest, skip_missing)
    n_test = round(len(entries) * test_fraction)
    splits = (
        seeded_split(len(entries), None, n_test, seed) if test_fraction else [None] * len(entries)
    )
    records = []
    for e, split in zip(entries, splits, strict=True):
        records.append(
            Record(
                image=e["path"],
                text=caption_file(e["path"], label=e.get("label")),
                id=Path(e["file"]).stem,
                split=split,
                extra={k: e[k] for k in KEEP if k in e},
            )
        )
    return records
