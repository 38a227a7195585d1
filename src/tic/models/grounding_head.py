"""``GroundingHead``: where each colour-naming phrase's object is, learned from known masks.

The untrained maps of ``tic.grounding.class_maps`` only see ImageNet's 1000 classes at 1/32 (no
"person", a dancer's dress lands on "groom" or "miniskirt") and cannot tell two objects of close
classes apart. This head keeps them as one input and learns the rest: the frozen encoder's
features at 1/32 and 1/16 are projected to ``dim`` channels, mixed by a 3x3 convolution at 1/16,
and compared (a scaled dot product) with the phrase's noun vector (MiniLM, ``tic.grounding``)
passed through a small MLP; the class map, upsampled, is added with a learned scale. Trained with
a per-pixel binary cross-entropy against the objects of training scenes
(``tic.grounding.phrase_targets``), it outputs one logit map per phrase at 1/16.

It starts as the class maps alone: the dot-product path's last layer is zero, and
``sigmoid(cam_scale * (class map - 1/2))`` with ``cam_scale = 6`` keeps their order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GroundingHead(nn.Module):
    """``forward(deep (B, Cd, h/2, w/2), mid (B, Cm, h, w), nouns (B, P, Dn), cams (B, P, h', w'))``
    -> logits ``(B, P, h, w)`` (h, w: the ``mid`` features' size)."""

    def __init__(self, deep_channels: int, mid_channels: int, noun_dim: int, dim: int = 64):
        super().__init__()
        self.deep = nn.Conv2d(deep_channels, dim, 1)
        self.mid = nn.Conv2d(mid_channels, dim, 1)
        self.mix = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(dim, dim, 3, padding=1))
        self.noun = nn.Sequential(nn.Linear(noun_dim, dim), nn.ReLU(inplace=True),
                                  nn.Linear(dim, dim))
        nn.init.zeros_(self.noun[-1].weight)  # starts as the class maps alone
        nn.init.zeros_(self.noun[-1].bias)
        self.cam_scale = nn.Parameter(torch.tensor(6.0))
        self.dim = dim

    def forward(self, deep: Tensor, mid: Tensor, nouns: Tensor, cams: Tensor) -> Tensor:
        size = mid.shape[-2:]
        x = self.mid(mid) + F.interpolate(self.deep(deep), size=size, mode="bilinear",
                                          align_corners=False)
        x = self.mix(x)  # (B, dim, h, w)
        q = self.noun(nouns.to(x.dtype))  # (B, P, dim)
        logits = torch.einsum("bchw,bpc->bphw", x, q) / math.sqrt(self.dim)
        cams = F.interpolate(cams.to(x.dtype), size=size, mode="bilinear", align_corners=False)
        return logits + self.cam_scale * (cams - 0.5)
