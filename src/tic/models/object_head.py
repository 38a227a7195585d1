"""``ObjectHead``: which pixels belong to an object, whatever its class, from the frozen encoder.

The grounding maps (``tic.grounding.class_maps``) say roughly where a noun's class is, at 1/32 of
the picture, but not where an object ends, nor which of two touching objects a position belongs
to. This head answers the first, class-agnostic question: the encoder's features at 1/32, 1/16,
1/8 and 1/4 are each projected to ``dim`` channels, upsampled to 1/4 and summed (a small feature
pyramid), then two 3x3 convolutions give one logit per position at 1/4: "this pixel is part of an
object (a thing the text could name), not of the background". Trained with a per-pixel binary
cross-entropy against the union of the training scenes' object masks (``loss.lambda_objects``);
``tic.binding`` splits its foreground between the text's objects (the second question).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def _pyramid(proj: nn.ModuleList, feats: list[Tensor]) -> Tensor:
    """Each level projected by its 1x1 convolution, upsampled to the last level's size, summed."""
    size = feats[-1].shape[-2:]
    return sum(F.interpolate(p(f), size=size, mode="bilinear", align_corners=False)
               for p, f in zip(proj, feats, strict=True))


class ObjectHead(nn.Module):
    """``forward(feats)`` with the encoder's features deepest first (``EncoderUNet.encode``) ->
    logits ``(B, 1, h, w)`` at the size of the last (largest) level."""

    def __init__(self, channels: tuple[int, ...], dim: int = 32):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in channels)
        self.mix = nn.Sequential(
            nn.ReLU(inplace=True), nn.Conv2d(dim, dim, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(dim, 1, 3, padding=1),
        )

    def forward(self, feats: list[Tensor]) -> Tensor:
        return self.mix(_pyramid(self.proj, feats))
