"""CUB-200-2011 (Caltech-UCSD Birds) -> manifest records, with text from the colour attributes.

Reads the data set's own files (``root`` is the ``CUB_200_2011`` folder)::

    images.txt                               <image_id> <path under images/>
    train_test_split.txt                     <image_id> <is_training_image>
    attributes/image_attribute_labels.txt    <image_id> <attribute_id> <is_present> <certainty_id> <time>
    attributes.txt                           <attribute_id> has_<part>_color::<colour>
                                             (in root, root/attributes/ or, as the tarball unpacks,
                                             beside root)
    parts/part_locs.txt                      <image_id> <part_id> <x> <y> <visible>
                                             (only with visible_only=True)
    segmentations/<class>/<name>.png         optional (a separate download): becomes "mask"

Text, as in the paper's Fig. 4: the colour attributes marked present, in attribute order, as
``"<part>_color <colour>"`` pairs, e.g. ``"breast_color red wing_color black"`` (``has_`` and
``::`` dropped; CUB's colour words such as "grey", "buff" and "rufous" kept). ``min_certainty``
(1 not visible, 2 guessing, 3 probably, 4 definitely) drops less certain labels;
``visible_only`` drops the colours of parts that ``part_locs.txt`` marks not visible in that photo.

Splits: ``"official"`` (``train_test_split.txt``) or ``"seeded"``: ``n_train`` + ``n_test`` images
drawn with ``seed`` (the paper used 5032 + 1000 of its 6032 birds), the rest left out.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tic.data.manifest import Record
from tic.data.splits import seeded_split
from tic.errors import TicError

log = logging.getLogger("tic")

PAPER_N_TRAIN, PAPER_N_TEST = 5032, 1000

# CUB's 15 parts (parts/parts.txt) that show each coloured body region; regions without a part
# (upperparts, underparts, primary colour) are always kept.
_PARTS_OF_REGION = {
    "back": (1,), "bill": (2,), "belly": (3,), "breast": (4,), "crown": (5,), "forehead": (6,),
    "eye": (7, 11), "leg": (8, 12), "wing": (9, 13), "nape": (10,), "upper_tail": (14,),
    "under_tail": (14,), "throat": (15,),
}


def _find(root: Path, *candidates: str) -> Path:
    for c in candidates:
        if (root / c).is_file():
            return root / c
    where = " or ".join(str(root / c) for c in candidates)
    raise TicError(f"{root}: not a CUB-200-2011 folder: missing {where}")


def _rows(path: Path, min_fields: int) -> list[list[str]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < min_fields:
                raise TicError(f"{path}:{lineno}: expected {min_fields} fields, got {line.strip()!r}")
            rows.append(fields)
    return rows


def _int(path: Path, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise TicError(f"{path}: expected an integer, got {value!r}") from None


def color_attributes(path: Path) -> dict[int, tuple[str, str]]:
    """``attributes.txt`` -> ``{attribute_id: (region, colour)}`` for the ``has_*_color`` ones."""
    out = {}
    for fields in _rows(path, 2):
        name = fields[1]
        if "::" not in name:
            raise TicError(f"{path}: attribute {name!r} is not of the form has_<part>::<value>")
        what, value = name.split("::", 1)
        if what.startswith("has_") and what.endswith("_color"):
            out[_int(path, fields[0])] = (what[len("has_") : -len("_color")], value)
    if not out:
        raise TicError(f"{path}: no has_<part>_color attributes found")
    return out


def load_cub(
    root: str | Path,
    split: str = "official",
    n_train: int = PAPER_N_TRAIN,
    n_test: int = PAPER_N_TEST,
    seed: int = 0,
    min_certainty: int = 1,
    visible_only: bool = False,
) -> list[Record]:
    """Records for CUB-200-2011 at ``root`` (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise TicError(f"{root}: no such folder")
    if split not in ("official", "seeded"):
        raise TicError(f"unknown CUB split {split!r}; use official or seeded")
    images_txt = _find(root, "images.txt")
    split_txt = _find(root, "train_test_split.txt")
    labels_txt = _find(root, "attributes/image_attribute_labels.txt")
    try:
        attrs_txt = _find(root, "attributes.txt", "attributes/attributes.txt", "../attributes.txt")
    except TicError:
        raise TicError(
            f"{root}: not a CUB-200-2011 folder: attributes.txt is missing (looked in the folder, "
            "its attributes/ and beside it)"
        ) from None

    images = {_int(images_txt, f[0]): f[1] for f in _rows(images_txt, 2)}
    is_train = {_int(split_txt, f[0]): f[1] == "1" for f in _rows(split_txt, 2)}
    missing_split = sorted(set(images) - set(is_train))
    if missing_split:
        raise TicError(f"{split_txt}: no split for image id(s) {missing_split[:5]}")
    colors = color_attributes(attrs_txt)

    visible: dict[int, set[int]] | None = None
    if visible_only:
        part_locs = _find(root, "parts/part_locs.txt")
        visible = {}
        for f in _rows(part_locs, 5):
            if float(f[4]) > 0:
                visible.setdefault(_int(part_locs, f[0]), set()).add(_int(part_locs, f[1]))

    # attribute lines: a few lines of the real file carry an extra field, so only the first four
    # are read
    pairs: dict[int, list[tuple[int, str, str]]] = {}
    for f in _rows(labels_txt, 4):
        attr = _int(labels_txt, f[1])
        if attr not in colors or f[2] != "1" or _int(labels_txt, f[3]) < min_certainty:
            continue
        image_id = _int(labels_txt, f[0])
        region, colour = colors[attr]
        if visible is not None and region in _PARTS_OF_REGION:
            if not visible.get(image_id, set()) & set(_PARTS_OF_REGION[region]):
                continue
        pairs.setdefault(image_id, []).append((attr, region, colour))

    ids = sorted(images)
    if split == "official":
        splits = ["train" if is_train[i] else "test" for i in ids]
    else:
        splits = seeded_split(len(ids), n_train, n_test, seed)
    records, no_text = [], 0
    for image_id, which in zip(ids, splits, strict=True):
        if which is None:
            continue
        rel = images[image_id]
        text = " ".join(f"{r}_color {c}" for _, r, c in sorted(pairs.get(image_id, [])))
        no_text += not text
        seg = root / "segmentations" / Path(rel).with_suffix(".png")
        records.append(
            Record(
                image=root / "images" / rel,
                text=text,
                mask=seg if seg.is_file() else None,
                id=f"cub-{image_id}",
                split=which,
            )
        )
    if no_text:
        log.info("%s: %d of %d images have no colour attribute (empty text)", root, no_text, len(records))
    return records
