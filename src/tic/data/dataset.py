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
from tic.data.manifest import Record
from tic.errors import TicError
from tic.imageio import open_image


class ColorizationDataset(Dataset):
    """Items: ``{"rgb": uint8 (3, s, s), "mask": uint8 (1, s, s), "text": str, "index": int}``.

    - ``train=True``: random scale (shorter side ``s`` to ``1.25 s``), random ``s x s`` crop and
      horizontal flip, drawn from ``seed``, the epoch (``set_epoch``) and the index, so a resumed
      run sees the same crops.
    - ``train=False``: shorter side resized to ``s``, centre crop: deterministic.
    - ``mask``: the record's mask, else the image's alpha, else all 255.
    """

    def __init__(self, records: list[Record], size: int, train: bool = True, seed: int = 0):
        if not records:
            raise TicError("the dataset is empty (no manifest records)")
        self.records = records
        self.size = size
        self.train = train
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        img = open_image(rec.image)
        alpha = img.getchannel("A") if img.mode in ("RGBA", "LA", "PA") else None
        rgb = img.convert("RGB")
        if rec.mask is not None:
            mask = open_image(rec.mask).convert("L").resize(rgb.size, Image.NEAREST)
        elif alpha is not None:
            mask = alpha
        else:
            mask = Image.new("L", rgb.size, 255)
        rng = random.Random(hash((self.seed, self.epoch, index)) if self.train else 0)
        rgb, mask = self._crop(rgb, mask, rng)
        return {
            "rgb": torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1),
            "mask": torch.from_numpy(np.asarray(mask, dtype=np.uint8).copy())[None],
            "text": rec.text,
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


def batch_to_lab(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """uint8 ``(B, 3, s, s)`` (on any device) -> ``L (B, 1, s, s)``, ``ab (B, 2, s, s)`` in [-1, 1]."""
    return rgb_to_model_lab(rgb.float() / 255.0)
