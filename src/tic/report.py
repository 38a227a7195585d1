"""Figures of the paper's kinds, as PNGs, for any manifest and model folder.

- ``rows.png`` (Fig. 6-8): gray | ground truth | ours, one image a row.
- ``text_ablation.png`` (Fig. 9): gray | ours without text | ours with text | ground truth.
- ``recolor.png`` (Fig. 10): the same gray image under several texts (the image's own text first).

The tables are drawn by ``tic.grid.image_grid``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

from tic.color_names import colors_in_text
from tic.data.manifest import Record
from tic.errors import TicError
from tic.grid import image_grid
from tic.imageio import Photo, load_image, save_image, to_photo
from tic.pipeline import compose


def gray_image(photo: Photo) -> Image.Image:
    """The model's input as an image: the photo's L with a = b = 0."""
    return compose(photo, torch.zeros(1, 2, 1, 1))


def make_report(
    colorizer,
    records: list[Record],
    out: str | Path,
    n: int = 6,
    texts: list[str] | None = None,
    cell: int = 192,
) -> list[Path]:
    """Write ``rows.png``, ``text_ablation.png`` and ``recolor.png`` for the first ``n`` records.

    ``texts``: the texts of the recolorization figure (default: up to 3 texts of other records that
    name a colour). Returns the written paths.
    """
    if not records:
        raise TicError("report: the manifest has no records")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = records[:n]
    truths = [load_image(r.image) for r in chosen]
    photos = [to_photo(t, name=str(r.image)) for t, r in zip(truths, chosen, strict=True)]
    grays = [gray_image(p) for p in photos]
    with_text = colorizer.colorize_photos(photos, [r.text for r in chosen])
    no_text = colorizer.colorize_photos(photos, [""] * len(chosen))

    written = []
    rows = [[g, t, o] for g, t, o in zip(grays, truths, with_text, strict=True)]
    caps = [["", "", r.text] for r in chosen]
    path = out / "rows.png"
    save_image(image_grid(rows, ["gray", "ground truth", "ours"], caps, cell), path)
    written.append(path)

    rows = [[g, a, b, t] for g, a, b, t in zip(grays, no_text, with_text, truths, strict=True)]
    caps = [["", "(no text)", r.text, ""] for r in chosen]
    header = ["gray", "ours, without text", "ours, with text", "ground truth"]
    path = out / "text_ablation.png"
    save_image(image_grid(rows, header, caps, cell), path)
    written.append(path)

    if texts is None:
        own = {r.text for r in chosen[:3]}
        pool = [r.text for r in records if r.text and r.text not in own and colors_in_text(r.text)]
        texts = list(dict.fromkeys(pool))[:3]
    rows, caps = [], []
    for rec, photo, gray in list(zip(chosen, photos, grays, strict=True))[:3]:
        variants = [rec.text, *[t for t in texts if t != rec.text]]
        outs = colorizer.colorize_photos([photo] * len(variants), variants)
        rows.append([gray, *outs])
        caps.append(["", *variants])
    header = ["gray", "own text", *[f"text {i + 1}" for i in range(max(len(r) for r in rows) - 2)]]
    path = out / "recolor.png"
    save_image(image_grid(rows, header, caps, cell), path)
    written.append(path)
    (out / "report.json").write_text(
        json.dumps({"images": [str(r.image) for r in chosen], "recolor_texts": texts}, indent=2)
        + "\n"
    )
    return written
