"""MS COCO captions (``captions_train2017.json`` + image folder) -> manifest records.

As in the paper, an image is kept when at least one of its caption sentences names a colour
(``tic.color_names.colors_in_text``: basic terms and synonyms such as crimson or navy); its text
is those sentences, joined with spaces, in annotation order. Sentences that call the photo itself
"black and white" describe a gray picture, not an object's colour, and are not used.

The caption file is COCO's JSON: ``{"images": [{"id", "file_name", ...}], "annotations":
[{"image_id", "caption", ...}]}``. ``images`` is the folder that holds the ``file_name``s
(``train2017/``). Missing image files are an error listing them, or, with ``skip_missing``,
left out and counted.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from tic.color_names import colors_in_text
from tic.data.manifest import Record
from tic.errors import TicError

log = logging.getLogger("tic")

_PHOTO_IN_GRAY = re.compile(r"\bblack\s*(?:and|&|-and-|n)\s*white\b|\bb\s*&\s*w\b", re.IGNORECASE)


def color_sentences(captions: list[str]) -> list[str]:
    """The caption sentences that name a colour (not the photo's being black and white)."""
    out = []
    for c in captions:
        c = " ".join(c.split())
        if c and not _PHOTO_IN_GRAY.search(c) and colors_in_text(c):
            out.append(c if c.endswith((".", "!", "?")) else c + ".")
    return out


def load_coco(
    captions_json: str | Path,
    images: str | Path,
    split: str | None = None,
    skip_missing: bool = False,
) -> list[Record]:
    """Records for the COCO caption file and its image folder (see the module docstring)."""
    path, folder = Path(captions_json), Path(images)
    if not path.is_file():
        raise TicError(f"{path}: no such caption file")
    if not folder.is_dir():
        raise TicError(f"{folder}: no such image folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TicError(f"{path}: not a JSON file ({e})") from None
    if not isinstance(data, dict):
        raise TicError(f"{path}: expected a JSON object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise TicError(f"{path}: no '{key}' list: not a COCO caption file (captions_*.json)")

    files: dict[int, str] = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise TicError(f"{path}: images[{i}] lacks 'id' or 'file_name'")
        files[im["id"]] = im["file_name"]
    captions: dict[int, list[str]] = {}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or not isinstance(ann.get("caption"), str):
            raise TicError(f"{path}: annotations[{i}] lacks 'image_id' or a 'caption' string")
        captions.setdefault(ann["image_id"], []).append(ann["caption"])
    unknown = sorted(set(captions) - set(files), key=str)
    if unknown:
        raise TicError(f"{path}: annotations for image id(s) not in 'images': {unknown[:5]}")

    records, missing = [], []
    for image_id in sorted(captions, key=lambda k: (str(type(k)), k)):
        sentences = color_sentences(captions[image_id])
        if not sentences:
            continue
        image = folder / files[image_id]
        if not image.is_file():
            missing.append(image)
            continue
        records.append(Record(image=image, text=" ".join(sentences), id=f"coco-{image_id}", split=split))
    if missing and not skip_missing:
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise TicError(
            f"{folder}: {len(missing)} image file(s) missing: "
            f"{', '.join(str(m) for m in missing[:5])}{more}; use --skip-missing to leave them out"
        )
    if missing:
        log.warning("%s: skipped %d image(s) whose files are missing", folder, len(missing))
    log.info(
        "%s: %d of %d captioned images have a colour sentence", path, len(records) + len(missing),
        len(captions),
    )
    return records
