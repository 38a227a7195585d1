"""Training / evaluation dataset over manifest records.

Items are kept as uint8 RGB at the working size; the Lab conversion happens on the whole batch on
the training device (``batch_to_lab``), not per image in ``__getitem__``.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from tic.color import rgb_to_model_lab
from tic.color_names import color_fractions, top_terms
from tic.data.captions import caption_from_terms, clean_label
from tic.data.composites import RECOLOR_TERMS, recolor_region
from tic.data.manifest import Record
from tic.errors import TicError
from tic.imageio import load_image, mask_from_alpha, read_mask, split_alpha, to_rgb_image


class ColorizationDataset(Dataset):
    """Items: ``{"rgb": uint8 (3, s, s), "mask": uint8 (1, s, s), "text": str, "index": int}``.

    - ``train=True``: random scale (shorter side ``s`` to ``1.25 s``), random ``s x s`` crop and
      horizontal flip, drawn from ``seed``, the epoch (``set_epoch``) and the index, so a resumed
      run sees the same crops.
    - ``train=False``: shorter side resized to ``s``, centre crop: deterministic.
    - ``mask``: the record's mask file, else the image's alpha, else all 255; 0 / 255 by the one mask
      rule of ``tic.imageio`` (> 127 of 255).
    - ``recolor_prob`` (training only): with this probability a cut-out composite (a record with
      a ``label`` and an ``"object"`` region, see ``tic.data.composites``) has its object's hue
      turned on the fly to a random other colour term (L kept exactly, so the gray input is the
      same) and its text rewritten from the new colours; the item's ``recolored`` says so. Every
      epoch then shows each composite's object in new colours, so only the text can tell them.
    """

    def __init__(
        self,
        records: list[Record],
        size: int,
        train: bool = True,
        seed: int = 0,
        recolor_prob: float = 0.0,
    ):
        if not records:
            raise TicError("the dataset is empty (no manifest records)")
        if not 0 <= recolor_prob <= 1:
            raise TicError(f"recolor_prob must be in [0, 1], got {recolor_prob}")
        self.records = records
        self.size = size
        self.train = train
        self.seed = seed
        self.recolor_prob = recolor_prob if train else 0.0
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        img, alpha = split_alpha(load_image(rec.image))
        rgb = to_rgb_image(img)
        if rec.mask is not None:
            mask = read_mask(rec.mask, rgb.size)
        elif alpha is not None:
            mask = mask_from_alpha(alpha)
        else:
            mask = torch.ones(rgb.height, rgb.width, dtype=torch.bool)
        mask = Image.fromarray(mask.numpy().astype(np.uint8) * 255, "L")
        rng = random.Random(hash((self.seed, self.epoch, index)) if self.train else 0)
        rgb, mask = self._crop(rgb, mask, rng)
        rgb8 = np.asarray(rgb, dtype=np.uint8).copy()
        mask8 = np.asarray(mask, dtype=np.uint8).copy()
        text, recolored = rec.text, False
        if self.recolor_prob and rng.random() < self.recolor_prob:
            new = recolor_object(rgb8, mask8 > 127, rec, rng)
            if new is not None:
                rgb8, text, recolored = *new, True
        return {
            "rgb": torch.from_numpy(rgb8).permute(2, 0, 1),
            "mask": torch.from_numpy(mask8)[None],
            "text": text,
            "recolored": recolored,
            "index": index,
        }

    def _crop(self, rgb: Image.Image, mask: Image.Image, rng: random.Random):
        s = self.size
        w, h = rgb.size
        short = rng.uniform(s, 1.25 * s) if self.train else s
        scale = short / min(w, h)
        nw, nh = max(s, round(w * scale)), max(s, round(h * scale))
        rgb = rgb.resize((nw, nh), Image.BICUBIC, reducing_gap=3.0)
        mask = mask.resize((nw, nh), Image.NEAREST)
        if self.train:
            x, y = rng.randint(0, nw - s), rng.randint(0, nh - s)
        else:
            x, y = (nw - s) // 2, (nh - s) // 2
        box = (x, y, x + s, y + s)
        rgb, mask = rgb.crop(box), mask.crop(box)
        if self.train and rng.random() < 0.5:
            rgb = rgb.transpose(Image.FLIP_LEFT_RIGHT)
            mask = mask.transpose(Image.FLIP_LEFT_RIGHT)
        return rgb, mask


def recolor_object(
    rgb8: np.ndarray, mask: np.ndarray, rec: Record, rng: random.Random
) -> tuple[np.ndarray, str] | None:
    """Turn the hue of a composite's object (``mask``, bool ``(s, s)``) in ``rgb8`` (uint8
    ``(s, s, 3)``) to a random colour term other than its current one; returns the new image and
    the caption measured on it, or None when ``rec`` is not a composite or the crop holds too
    little of its object."""
    regions = rec.extra.get("regions") or []
    label = rec.extra.get("label")
    bg = next((r.get("color") for r in regions if r.get("shape") == "background"), None)
    if not label or bg is None or not any(r.get("shape") == "object" for r in regions):
        return None
    if mask.sum() < 0.02 * mask.size:
        return None
    rgb = rgb8.astype(np.float32) / 255
    m = torch.from_numpy(mask)
    have = top_terms(color_fractions(torch.from_numpy(rgb).permute(2, 0, 1), m), 1)[0]
    target = rng.choice([t for t in RECOLOR_TERMS if t != have])
    out8 = (recolor_region(rgb, mask, target).clip(0, 1) * 255).round().astype(np.uint8)
    rgb_t = torch.from_numpy(out8).permute(2, 0, 1).float() / 255
    terms = top_terms(color_fractions(rgb_t, m), 2)
    return out8, caption_from_terms(terms, [bg], clean_label(label))


def batch_to_lab(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """uint8 ``(B, 3, s, s)`` (on any device) -> ``L (B, 1, s, s)``, ``ab (B, 2, s, s)`` in [-1, 1]."""
    return rgb_to_model_lab(rgb.float() / 255.0)
