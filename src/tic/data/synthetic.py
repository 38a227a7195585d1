"""The isoluminant benchmark set: shapes whose colours all share one lightness L*.

Every filled pixel of an image has (up to 8-bit rounding, ``|dL| < 0.5``) the same CIE L*, so the
gray input holds no colour information: only the text can tell the model which colour each shape
has. A model that ignores the text cannot beat the mean colour here; this is how the text pathway
is shown to work. The shapes are drawn with a thin neutral dark outline (L* about 20, ``size // 32``
pixels, at least 1) so that the gray image still shows WHERE the shapes are; outlines belong to no
region mask.

Each image has a background and 1 to ``max_shapes`` (<= 3) shapes of different kinds (circle,
square, triangle: so "the red circle" is never ambiguous), placed in different cells of a 2 x 2
grid so they never overlap. Shapes take different colour terms from
``TERMS`` (red, green, blue, purple, pink, brown: the basic terms that have clear examples at
L* = 60); the background is one more term or gray. Each colour is drawn from the term's "core"
at that lightness: in-gamut Lab colours that ``tic.color_names.name_color`` names with the term,
also after moving the hue by +-6 degrees or the chroma by +-10. Edges are hard (no
anti-aliasing) so no pixel mixes two colours.

Caption: ``"a red circle and a blue square on a green background"`` (shapes in region order).

Files written under ``out``::

    images/000000.png              the colour image (sRGB, 8-bit)
    masks/000000_0.png, _1, ...    one mask per shape (255 inside), in caption order
    masks/000000_bg.png            the background mask
    manifest.jsonl

Manifest record (the manifest format of ``tic.data.manifest`` plus extra keys)::

    {"image": "images/000000.png", "text": "a red circle and a blue square on a green background",
     "mask": "masks/000000_0.png",          # the first shape: the "main object"
     "id": "iso-000000", "split": ...,      # split only when given
     "lightness": 60.0,
     "regions": [{"mask": "masks/000000_0.png", "color": "red", "shape": "circle"},
                 {"mask": "masks/000000_1.png", "color": "blue", "shape": "square"},
                 {"mask": "masks/000000_bg.png", "color": "green", "shape": "background"}]}

``regions`` paths are relative to the manifest's folder, like ``image``; a metric checks each
region's colour with ``dominant_color_term(rgb, mask)`` against ``color``. Image ``i`` depends only
on ``(seed, i)``: the same seed gives the same files, and a larger ``n`` extends a smaller one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from tic.color import lab_to_rgb, rgb_to_lab
from tic.color_names import COLOR_TERMS, color_term_indices
from tic.data.captions import join_and
from tic.data.manifest import Record, write_manifest
from tic.imageio import save_image

TERMS: tuple[str, ...] = ("red", "green", "blue", "purple", "pink", "brown")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
DEFAULT_LIGHTNESS = 60.0
_MIN_CORE = 40  # a term needs at least this many core colours at the chosen lightness
_OUTLINE_L = 20.0


def core_colors(lightness: float, terms: tuple[str, ...] = TERMS) -> dict[str, np.ndarray]:
    """For each term, the uint8 sRGB colours ``(N, 3)`` of its core at ``lightness``.

    Core: in gamut, L* within 0.5 of ``lightness`` after rounding to 8 bits, chroma >= 30, and
    named with the term also at hue +-6 degrees and at chroma -+10 (so no borderline colour, such as
    a rosy brown next to pink, is used). Raises ``ValueError`` for a
    term with fewer than 40 such colours (e.g. yellow at L* = 60, where yellows are olive).
    """
    hue = torch.arange(0.0, 360.0, 1.0, dtype=torch.float64)
    chroma = torch.arange(30.0, 131.0, 2.0, dtype=torch.float64)
    H, C = torch.meshgrid(hue, chroma, indexing="ij")

    def lab_at(h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # (360, K, 3)
        rad = torch.deg2rad(h)
        L = torch.full_like(h, lightness)
        return torch.stack([L, c * torch.cos(rad), c * torch.sin(rad)], -1)

    lab = lab_at(H, C)
    rgb = lab_to_rgb(lab.permute(2, 0, 1)[None], clip=False)[0]  # (3, 360, K)
    in_gamut = ((rgb >= 0) & (rgb <= 1)).all(0)
    rgb8 = (rgb.clamp(0, 1) * 255).round()
    lab8 = rgb_to_lab(rgb8[None] / 255)[0].permute(1, 2, 0)  # (360, K, 3)
    term = color_term_indices(lab8)
    stable = (
        (color_term_indices(lab_at(H - 6, C)) == term)
        & (color_term_indices(lab_at(H + 6, C)) == term)
        & (color_term_indices(lab_at(H, C - 10)) == term)
        & (color_term_indices(lab_at(H, C + 10)) == term)
    )
    good = in_gamut & ((lab8[..., 0] - lightness).abs() < 0.5) & stable
    rgb8 = rgb8.permute(1, 2, 0).to(torch.uint8)  # (360, K, 3)
    out = {}
    for t in terms:
        if t not in COLOR_TERMS:
            raise ValueError(f"unknown colour term {t!r}; choose from {COLOR_TERMS}")
        sel = good & (term == COLOR_TERMS.index(t))
        if int(sel.sum()) < _MIN_CORE:
            raise ValueError(
                f"too few clear {t} colours at L* = {lightness:g} ({int(sel.sum())}); "
                "choose other terms or another lightness"
            )
        out[t] = rgb8[sel].numpy()
    return out


def gray_at(lightness: float) -> np.ndarray:
    """The uint8 neutral gray closest to ``lightness``."""
    codes = torch.arange(256, dtype=torch.float64) / 255
    L = rgb_to_lab(codes.view(1, 1, 1, 256).expand(1, 3, 1, 256).contiguous())[0, 0, 0]
    g = int((L - lightness).abs().argmin())
    return np.array([g, g, g], dtype=np.uint8)


def _shape_mask(size: int, shape: str, box: tuple[int, int, int, int]) -> np.ndarray:
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse(box, fill=255)
    elif shape == "square":
        draw.rectangle(box, fill=255)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=255)
    return np.asarray(img) > 0


def _erode(mask: np.ndarray, width: int) -> np.ndarray:
    img = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(2 * width + 1))
    return np.asarray(img) > 0


def make_item(
    index: int,
    seed: int,
    size: int,
    cores: dict[str, np.ndarray],
    max_shapes: int = 3,
    lightness: float = DEFAULT_LIGHTNESS,
) -> tuple[np.ndarray, list[np.ndarray], list[dict], str]:
    """Draw image ``index``: returns ``(rgb uint8 (size, size, 3), masks, regions, text)``.

    ``masks``/``regions`` are in caption order, the background last; ``regions`` hold ``color``
    and ``shape``.
    """
    rng = np.random.default_rng([seed, index])
    terms = list(cores)
    k = int(rng.integers(1, max_shapes + 1))
    chosen = [terms[i] for i in rng.permutation(len(terms))[: k + 1]]
    shape_terms, bg_term = chosen[:k], chosen[k] if len(chosen) > k else "gray"
    shapes = [SHAPES[int(j)] for j in rng.permutation(len(SHAPES))[:k]]
    if rng.random() < 0.2:  # sometimes a gray background, so "gray" is named too
        bg_term = "gray"

    def pick(term: str) -> np.ndarray:
        if term == "gray":
            return gray_at(lightness)
        pool = cores[term]
        return pool[int(rng.integers(len(pool)))]

    bg_rgb = pick(bg_term)
    rgb = np.empty((size, size, 3), dtype=np.uint8)
    rgb[:] = bg_rgb
    taken = np.zeros((size, size), dtype=bool)
    half = size // 2
    cells = rng.permutation(4)[:k]
    masks, regions, phrases = [], [], []
    outline = np.zeros((size, size), dtype=bool)
    width = max(1, size // 32)
    for term, shape, cell in zip(shape_terms, shapes, cells, strict=True):
        cx, cy = (int(cell) % 2) * half, (int(cell) // 2) * half
        side = max(4, int(round(half * rng.uniform(0.6, 0.9))))
        x0 = cx + int(rng.integers(0, half - side + 1))
        y0 = cy + int(rng.integers(0, half - side + 1))
        full = _shape_mask(size, shape, (x0, y0, x0 + side - 1, y0 + side - 1))
        mask = _erode(full, width)
        outline |= full & ~mask
        taken |= full
        rgb[mask] = pick(term)
        masks.append(mask)
        regions.append({"color": term, "shape": shape})
        phrases.append(f"a {term} {shape}")
    rgb[outline] = gray_at(_OUTLINE_L)
    masks.append(~taken)
    regions.append({"color": bg_term, "shape": "background"})
    text = f"{join_and(phrases)} on a {bg_term} background"
    return rgb, masks, regions, text


def make_synthetic(
    out: str | Path,
    n: int,
    size: int = 64,
    seed: int = 0,
    lightness: float = DEFAULT_LIGHTNESS,
    max_shapes: int = 3,
    split: str | None = None,
) -> list[Record]:
    """Write ``n`` isoluminant images, their masks and ``out/manifest.jsonl``; returns records."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    if not 1 <= max_shapes <= len(SHAPES):
        raise ValueError(f"max_shapes must be 1 to {len(SHAPES)}, got {max_shapes}")
    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    cores = core_colors(lightness)
    records = []
    for i in range(n):
        rgb, masks, regions, text = make_item(i, seed, size, cores, max_shapes, lightness)
        stem = f"{i:06d}"
        image = root / "images" / f"{stem}.png"
        save_image(Image.fromarray(rgb), image)
        for j, (mask, region) in enumerate(zip(masks, regions, strict=True)):
            name = f"{stem}_bg.png" if region["shape"] == "background" else f"{stem}_{j}.png"
            save_image(Image.fromarray(mask.astype(np.uint8) * 255), root / "masks" / name)
            region["mask"] = f"masks/{name}"
        records.append(
            Record(
                image=image,
                text=text,
                mask=root / regions[0]["mask"],
                id=f"iso-{stem}",
                split=split,
                extra={"lightness": lightness, "regions": regions},
            )
        )
    write_manifest(root / "manifest.jsonl", records)
    return records
