"""Figures of the paper's kinds, as PNGs, for any manifest and model folder.

- ``rows.png`` (Fig. 6-8): gray | ground truth | ours, one image a row.
- ``text_ablation.png`` (Fig. 9): gray | ours without text | ours with text | ground truth.
- ``recolor.png`` (Fig. 10): the same gray image under several texts (the image's own text first).

``image_grid`` draws any such table (also ``tic evaluate``'s ``grid.png``): every cell is the image
fitted into a square of ``cell`` pixels, with a column header and an optional caption under each
cell.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from tic.data.manifest import Record
from tic.errors import TicError
from tic.imageio import Photo, open_image, save_image, to_photo

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def _fit(img: Image.Image, cell: int) -> Image.Image:
    img = img.convert("RGBA") if img.mode in ("RGBA", "LA", "PA") else img.convert("RGB")
    scale = cell / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # small images (the isoluminant set) are enlarged pixel by pixel, large ones filtered down
    img = img.resize(size, Image.NEAREST if scale >= 2 else Image.LANCZOS)
    box = Image.new("RGB", (cell, cell), BACKGROUND)
    at = ((cell - img.width) // 2, (cell - img.height) // 2)
    box.paste(img, at, img if img.mode == "RGBA" else None)
    return box


def image_grid(
    rows: list[list[Image.Image]],
    header: list[str] | None = None,
    captions: list[list[str]] | None = None,
    cell: int = 160,
    caption_lines: int = 4,
) -> Image.Image:
    """A table of images: ``rows[r][c]`` fitted into ``cell x cell``, headers, captions below."""
    if not rows or not rows[0]:
        raise ValueError("image_grid needs at least one row and one column")
    n_cols = max(len(r) for r in rows)
    font = _font(max(10, cell // 12))
    line_h = max(12, cell // 10)
    pad = 4
    head_h = line_h + 2 * pad if header else 0
    cap_h = caption_lines * line_h + pad if captions else 0
    width = n_cols * (cell + pad) + pad
    height = head_h + len(rows) * (cell + cap_h + pad) + pad
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    chars = max(8, int(cell / (line_h * 0.55)))
    if header:
        for c, title in enumerate(header[:n_cols]):
            draw.text((pad + c * (cell + pad), pad), _shorten(title, chars), fill=INK, font=font)
    for r, row in enumerate(rows):
        top = head_h + pad + r * (cell + cap_h + pad)
        for c, img in enumerate(row):
            left = pad + c * (cell + pad)
            canvas.paste(_fit(img, cell), (left, top))
            if captions and r < len(captions) and c < len(captions[r]) and captions[r][c]:
                lines = textwrap.wrap(captions[r][c], chars)[:caption_lines]
                for k, line in enumerate(lines):
                    draw.text((left, top + cell + 2 + k * line_h), line, fill=INK, font=font)
    return canvas


def _shorten(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def gray_image(photo: Photo) -> Image.Image:
    """The model's input as an image: the photo's L with a = b = 0."""
    from tic.pipeline import compose

    return compose(photo, torch.zeros(1, 2, 1, 1))


def load_rgb(path: Path, max_pixels: int | None = None) -> Image.Image:
    """The ground-truth colour image (EXIF orientation applied, as ``read_photo`` does)."""
    from PIL import ImageOps

    img = open_image(path, max_pixels) if max_pixels else open_image(path)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # the same tolerance as tic.imageio.to_photo
        pass
    return img


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
    from tic.data.captions import colors_in_text

    if not records:
        raise TicError("report: the manifest has no records")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = records[:n]
    truths = [load_rgb(r.image) for r in chosen]
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
