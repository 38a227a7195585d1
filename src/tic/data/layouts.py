"""Several cut-outs on one background: the scenes that teach which colour word goes where.

``make_layout`` pastes 1-3 RGBA cut-outs (objects with a label and an alpha mask) at random places
onto a crop of an opaque photo or onto a plain colour. Each object keeps its own mask (the part of
it that is visible: an object pasted later covers the earlier ones), so a caption can name every
object with its colour ("a red camel and a blue bicycle") and a loss or a metric can check each.
The objects' colours are not changed here: ``tic.data.views`` recolours them on the fly (L kept,
so the gray image, and the encoder features computed from it, stay the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tic.data.captions import clean_label
from tic.data.composites import crop_photo, load_cutout, paste, plain_color

# Longer side of each object, as a share of the image side, by the number of objects.
_SCALES = {1: (0.45, 0.9), 2: (0.35, 0.6), 3: (0.3, 0.5)}
# A lone object drawn large (``large_prob``): as a photo's subject often is, filling the frame
# and cut by its edges.
_LARGE = (0.9, 1.5)


@dataclass
class Layout:
    """``rgb`` ``(S, S, 3)`` float in [0, 1]; ``masks`` ``(k, S, S)`` bool, one per object (visible
    part, alpha > 0.5); ``labels``: the objects' cleaned labels; ``background``: file or "plain"."""

    rgb: np.ndarray
    masks: np.ndarray
    labels: list[str]
    background: str


def make_layout(
    rng: np.random.Generator,
    size: int,
    cutouts: list[dict],
    backgrounds: list[dict],
    n_objects: int,
    plain_prob: float = 0.3,
    large_prob: float = 0.0,
) -> Layout:
    """One scene of ``n_objects`` distinct-label cut-outs (pool entries with ``path`` and
    ``label``) on a crop of one of ``backgrounds`` (or, with ``plain_prob``, a plain colour).
    ``large_prob``: the chance that a lone object's longer side is 0.9-1.5 times the image side
    (cut by the frame) instead of 0.45-0.9; 0 draws nothing for it, as scenes were made before."""
    scale = _SCALES[min(n_objects, 3)]
    if large_prob and n_objects == 1 and rng.random() < large_prob:
        scale = _LARGE
    if backgrounds and rng.random() >= plain_prob:
        bg = backgrounds[int(rng.integers(len(backgrounds)))]
        canvas, bg_name = crop_photo(bg["path"], size, rng), bg["file"]
    else:
        canvas = np.empty((size, size, 3), dtype=np.float32)
        canvas[:] = plain_color(rng)
        bg_name = "plain"
    masks, labels = [], []
    for _ in range(50):  # draw objects whose labels differ, so each can be named apart
        if len(labels) == n_objects:
            break
        cut = cutouts[int(rng.integers(len(cutouts)))]
        label = clean_label(cut.get("label")) or "object"
        if label in labels:
            continue
        obj, alpha = load_cutout(cut["path"], size, rng, scale)
        mask = paste(canvas, obj, alpha, rng)
        masks = [m & ~mask for m in masks]  # the new object covers the older ones
        masks.append(mask)
        labels.append(label)
    return Layout(canvas.clip(0, 1), np.stack(masks), labels, bg_name)
