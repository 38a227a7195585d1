"""The one image-grid renderer: a table of images with column headers and captions.

``image_grid`` draws ``tic report``'s figures, ``tic evaluate``'s ``grid.png`` and the training
samples (gray | truth | output): every cell is the image fitted into a square of ``cell`` pixels
(small images enlarged pixel by pixel, large ones filtered down), with a column header and an
optional caption under each cell. ``to_image`` turns an RGB tensor into a cell.
"""

from __future__ import annotations

import textwrap

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

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


def to_image(rgb: Tensor) -> Image.Image:
    """An sRGB tensor ``(3, H, W)`` in [0, 1] (clamped) as an 8-bit RGB image."""
    arr = (rgb.detach().float().cpu().clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).numpy(), "RGB")
