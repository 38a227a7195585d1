"""Cut-out composites: the pool's RGBA cut-outs pasted onto real photos or plain colours.

Each composite takes one Tux Paint cut-out (a photo whose alpha is the object mask) and pastes it,
scaled to 45-90% of the image side at a random place, onto either a random square crop of an
opaque pool photo or (with probability ``plain_prob``) a plain colour of a random basic term. With
probability ``recolor_prob`` the object's hue is turned in CIE Lab (a, b rotated about the L axis:
L and chroma kept, so the gray image is the same whatever the new colour) towards the hue of a
random basic term it does not have yet; a dull object (mean chroma below 35) also gets up to 4x
its chroma so the new hue shows.

The caption is measured on the finished composite, never assumed: the object's and the
background's colour terms come from ``tic.color_names`` on the pixels inside and outside the
object mask (a turned-to-yellow dark object may really be olive green, and says so). Example:
``"a blue camel on a green background"``.

Files under ``out`` (image ``i`` depends only on ``(seed, i)``)::

    images/000000.png    RGB composite at size x size
    masks/000000.png     object mask (255 = object: alpha > 0.5 after scaling)
    masks/000000_bg.png  background mask (the complement)
    manifest.jsonl       {"image", "text", "mask", "id", "split"?, "label", "cutout", "background",
                          "hue_shift", "regions": [{"mask", "color", "shape": "object"},
                                                   {"mask", "color", "shape": "background"}]}

``regions`` has the same form as the isoluminant set's (``tic.data.synthetic``). With
``test_fraction`` the cut-outs and background photos are first split (seeded) into disjoint train
and test pools, and each composite draws from one pool only, so no test object is seen in
training.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tic.color import lab_to_rgb_in_gamut, rgb_to_lab
from tic.color_names import (
    COLOR_TERMS,
    color_fractions,
    dominant_color_term,
    hue_angle,
    name_color,
    top_terms,
)
from tic.data.captions import caption_from_terms, clean_label
from tic.data.manifest import Record, write_manifest
from tic.data.photos import read_pool
from tic.data.splits import seeded_split
from tic.errors import TicError
from tic.imageio import load_image, save_image, to_rgb_image

RECOLOR_TERMS = ("red", "orange", "yellow", "green", "blue", "purple", "pink")
# A recoloured dull object (mean chroma below this) gets more chroma, so that the new hue shows.
_MIN_CHROMA = 35.0


def plain_color(rng: np.random.Generator) -> np.ndarray:
    """A random sRGB colour (float, [0, 1]) clearly named by a random basic term."""
    term = COLOR_TERMS[int(rng.integers(len(COLOR_TERMS)))]
    for _ in range(200):
        rgb = rng.random(3)
        if name_color(tuple(rgb), space="rgb") == term:
            return rgb
    return rgb  # rare: any colour will do, the caption is measured anyway


@lru_cache(maxsize=1024)
def _open(path: Path, mode: str) -> Image.Image:
    """A pool image, decoded once per process (scenes reuse the same few hundred files); soft
    alpha is kept for cut-outs: it blends the edges."""
    img = load_image(path)
    return to_rgb_image(img) if mode == "RGB" else img.convert(mode)


def crop_photo(path: Path, size: int, rng: np.random.Generator) -> np.ndarray:
    img = _open(Path(path), "RGB")
    w, h = img.size
    side = max(1, int(min(w, h) * rng.uniform(0.5, 1.0)))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    img = img.crop((x, y, x + side, y + side)).resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255


def load_cutout(
    path: Path, size: int, rng: np.random.Generator, scale: tuple[float, float] = (0.45, 0.9)
) -> tuple[np.ndarray, np.ndarray]:
    """The cut-out scaled so its longer side is ``scale`` (a random share in that range) of
    ``size``: ``rgb (h, w, 3)`` and ``alpha (h, w)`` in [0, 1]."""
    img = _open(Path(path), "RGBA")
    box = img.getchannel("A").getbbox()
    if box is None:
        raise TicError(f"{path}: cut-out is fully transparent")
    img = img.crop(box)
    scale = rng.uniform(*scale) * size / max(img.size)
    new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # resize premultiplied so transparent (black) pixels do not darken the edges
    img = img.convert("RGBa").resize(new, Image.LANCZOS).convert("RGBA")
    arr = np.asarray(img, dtype=np.float32) / 255
    return arr[..., :3], arr[..., 3]


def _offset(rng: np.random.Generator, size: int, n: int) -> int:
    """Where an object ``n`` long starts on a side ``size`` long: in [0, size - n] when it fits,
    in [size - n, 0] (it overhangs both ends) when not."""
    lo, hi = sorted((0, size - n))
    return int(rng.integers(lo, hi + 1))


def paste(canvas: np.ndarray, obj: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blend ``obj`` ``(h, w, 3)`` with ``alpha`` ``(h, w)`` into ``canvas`` ``(S, S, 3)`` (in place)
    at a random place; returns the object's mask ``(S, S)`` bool (alpha > 0.5). An object larger
    than the canvas along a side is placed so that it covers that side, the frame cutting it."""
    size = canvas.shape[0]
    h, w = alpha.shape
    y, x = _offset(rng, size, h), _offset(rng, size, w)
    oy, ox = max(0, -y), max(0, -x)  # the part of the object inside the canvas
    y, x = max(0, y), max(0, x)
    a = alpha[oy : oy + size - y, ox : ox + size - x]
    o = obj[oy : oy + size - y, ox : ox + size - x]
    hh, ww = a.shape
    region = canvas[y : y + hh, x : x + ww]
    canvas[y : y + hh, x : x + ww] = region * (1 - a[..., None]) + o * a[..., None]
    mask = np.zeros(canvas.shape[:2], dtype=bool)
    mask[y : y + hh, x : x + ww] = a > 0.5
    return mask


def turn_hue(
    rgb: np.ndarray, weight: np.ndarray, target_hue: float, min_chroma: float = 0.0
) -> tuple[np.ndarray, float]:
    """Rotate ab of ``rgb (h, w, 3)`` so the chroma-weighted mean hue of the pixels with
    ``weight > 0`` becomes ``target_hue`` (degrees).

    L is kept exactly (colours outside sRGB lose chroma, never lightness), so the gray image does
    not change. Chroma is kept too, except that a dull object whose mean chroma is below
    ``min_chroma`` has its chroma scaled up towards it (by at most 4x: a gray stays nearly gray).
    Returns the new rgb and the rotation in degrees.
    """
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0]  # (3, h, w)
    a, b = lab[1], lab[2]
    sel = torch.from_numpy(weight > 0)
    mean_a, mean_b = float(a[sel].sum()), float(b[sel].sum())
    if math.hypot(mean_a, mean_b) < 1e-6:
        return rgb, 0.0
    angle = (target_hue - math.degrees(math.atan2(mean_b, mean_a))) % 360
    mean_chroma = float(torch.hypot(a[sel], b[sel]).mean())
    gain = min(4.0, max(1.0, min_chroma / max(mean_chroma, 1e-6)))
    c, s = gain * math.cos(math.radians(angle)), gain * math.sin(math.radians(angle))
    lab = torch.stack([lab[0], c * a - s * b, s * a + c * b])
    out = lab_to_rgb_in_gamut(lab[None])[0].permute(1, 2, 0).numpy()
    return out.astype(np.float32), angle


def recolor_region(rgb: np.ndarray, mask: np.ndarray, term: str) -> np.ndarray:
    """``rgb`` (float ``(h, w, 3)``) with the pixels of ``mask`` (bool ``(h, w)``) hue-turned
    towards ``term`` (``turn_hue``: L kept, a dull region made more chromatic); the rest as is."""
    turned, _ = turn_hue(rgb, mask.astype(np.float32), hue_angle(term), min_chroma=_MIN_CHROMA)
    return np.where(mask[..., None], turned, rgb)


def reachable_terms(rgb: np.ndarray, mask: np.ndarray) -> list[str]:
    """The recolouring terms an object can take at its own lightness: those that the object
    (``rgb`` float ``(h, w, 3)``, ``mask`` bool ``(h, w)``) turned to them (``recolor_region``)
    is then named as. The gray image fixes L*, so a dark object cannot become yellow or orange
    (it reads olive or brown) and a light one cannot become brown."""
    m = torch.from_numpy(mask)
    return [
        term
        for term in RECOLOR_TERMS
        if dominant_color_term(
            torch.from_numpy(recolor_region(rgb, mask, term)).permute(2, 0, 1).float(), m
        ) == term
    ]


def make_composite(
    index: int,
    seed: int,
    size: int,
    cutouts: list[dict],
    backgrounds: list[dict],
    recolor_prob: float = 0.5,
    plain_prob: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Composite ``index``: ``rgb uint8 (size, size, 3)``, ``mask bool (size, size)`` and facts
    (``text``, ``label``, ``cutout``, ``background``, ``hue_shift``, ``object_color``,
    ``background_color``)."""
    rng = np.random.default_rng([seed, index])
    cut = cutouts[int(rng.integers(len(cutouts)))]
    if backgrounds and rng.random() >= plain_prob:
        bg_entry = backgrounds[int(rng.integers(len(backgrounds)))]
        canvas = crop_photo(bg_entry["path"], size, rng)
        bg_name = bg_entry["file"]
    else:
        canvas = np.empty((size, size, 3), dtype=np.float32)
        canvas[:] = plain_color(rng)
        bg_name = "plain"
    obj, alpha = load_cutout(cut["path"], size, rng)
    hue_shift = 0.0
    if rng.random() < recolor_prob:
        obj_t = torch.from_numpy(obj).permute(2, 0, 1)
        have = top_terms(color_fractions(obj_t, torch.from_numpy(alpha > 0.5)), 1)[0]
        targets = [t for t in RECOLOR_TERMS if t != have]
        target = targets[int(rng.integers(len(targets)))]
        obj, hue_shift = turn_hue(obj, alpha, hue_angle(target), min_chroma=_MIN_CHROMA)
    mask = paste(canvas, obj, alpha, rng)
    rgb8 = (canvas.clip(0, 1) * 255).round().astype(np.uint8)

    # the caption is measured on what was written
    rgb_t = torch.from_numpy(rgb8).permute(2, 0, 1).float() / 255
    m = torch.from_numpy(mask)
    obj_terms = top_terms(color_fractions(rgb_t, m), 2)
    bg_terms = top_terms(color_fractions(rgb_t, ~m), 1)
    label = clean_label(cut.get("label"))
    facts = {
        "text": caption_from_terms(obj_terms, bg_terms, label),
        "label": label,
        "cutout": cut["file"],
        "background": bg_name,
        "hue_shift": round(hue_shift, 1),
        "object_color": obj_terms[0],
        "background_color": bg_terms[0],
    }
    return rgb8, mask, facts


def make_composites(
    pool_manifest: str | Path,
    out: str | Path,
    n: int,
    size: int = 256,
    seed: int = 0,
    recolor_prob: float = 0.5,
    plain_prob: float = 0.3,
    test_fraction: float = 0.0,
) -> list[Record]:
    """Write ``n`` composites, their masks and ``out/manifest.jsonl`` (see the module docstring)."""
    if n < 1:
        raise TicError(f"n must be positive, got {n}")
    if size < 16:
        raise TicError(f"size must be at least 16 pixels, got {size}")
    for name, p in (("recolor_prob", recolor_prob), ("plain_prob", plain_prob)):
        if not 0 <= p <= 1:
            raise TicError(f"{name} must be in [0, 1], got {p}")
    if not 0 <= test_fraction < 1:
        raise TicError(f"test fraction must be in [0, 1), got {test_fraction}")
    entries = read_pool(pool_manifest)
    cutouts = [e for e in entries if e.get("has_alpha")]
    photos = [e for e in entries if not e.get("has_alpha")]
    if not cutouts:
        raise TicError(f"{pool_manifest}: the pool has no cut-outs (has_alpha: true)")
    pools = {None: (cutouts, photos)}
    if test_fraction:
        pools = {}
        n_cut = max(1, round(len(cutouts) * test_fraction))
        cut_split = seeded_split(len(cutouts), None, n_cut, seed)
        bg_split = seeded_split(len(photos), None, round(len(photos) * test_fraction), seed + 1)
        for s in ("train", "test"):
            pools[s] = (
                [c for c, t in zip(cutouts, cut_split, strict=True) if t == s],
                [p for p, t in zip(photos, bg_split, strict=True) if t == s],
            )
        if not pools["train"][0]:
            raise TicError("too few cut-outs for a train / test split")

    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        split = None
        if test_fraction:
            draw = np.random.default_rng([seed, i, 1]).random()
            split = "test" if draw < test_fraction else "train"
        rgb, mask, facts = make_composite(i, seed, size, *pools[split], recolor_prob, plain_prob)
        stem = f"{i:06d}"
        image, obj_mask, bg_mask = (
            root / "images" / f"{stem}.png", root / "masks" / f"{stem}.png",
            root / "masks" / f"{stem}_bg.png",
        )
        save_image(Image.fromarray(rgb), image)
        save_image(Image.fromarray(mask.astype(np.uint8) * 255), obj_mask)
        save_image(Image.fromarray((~mask).astype(np.uint8) * 255), bg_mask)
        text = facts.pop("text")
        regions = [
            {"mask": f"masks/{stem}.png", "color": facts.pop("object_color"), "shape": "object"},
            {
                "mask": f"masks/{stem}_bg.png",
                "color": facts.pop("background_color"),
                "shape": "background",
            },
        ]
        records.append(
            Record(image=image, text=text, mask=obj_mask, id=f"comp-{stem}", split=split,
                   extra={**facts, "regions": regions})
        )
    write_manifest(root / "manifest.jsonl", records)
    return records

