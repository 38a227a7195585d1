"""PatchGAN discriminator (pix2pix, Isola et al. 2017) on concat(L, ab), as in the TIC paper."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tic.config import DiscriminatorConfig


class PatchDiscriminator(nn.Module):
    """``forward(L, ab) -> logits (B, 1, h, w)``, one logit per patch; ``score`` averages them.

    - ``L``: ``(B, 1, H, W)`` in [-1, 1]; ``ab``: ``(B, 2, H, W)`` in [-1, 1].
    - Blocks: 4x4 conv (``widths``, ``strides``: 64/128/256, 2/2/1), BatchNorm, LeakyReLU(0.2);
      then a 4x4 conv with stride 1 to one channel. The paper puts BN after every conv, the first
      included (pix2pix leaves it out of the first block); we follow the paper.
    """

    def __init__(self, cfg: DiscriminatorConfig | None = None):
        super().__init__()
        cfg = cfg or DiscriminatorConfig()
        if len(cfg.widths) != len(cfg.strides):
            raise ValueError("DiscriminatorConfig.widths and strides must have the same length")
        layers: list[nn.Module] = []
        in_ch = 3
        for w, s in zip(cfg.widths, cfg.strides, strict=True):
            layers += [
                nn.Conv2d(in_ch, w, 4, stride=s, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            in_ch = w
        layers.append(nn.Conv2d(in_ch, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, L: Tensor, ab: Tensor) -> Tensor:
        if L.ndim != 4 or ab.ndim != 4 or L.shape[1] != 1 or ab.shape[1] != 2:
            raise ValueError(
                f"expected L (B, 1, H, W) and ab (B, 2, H, W), got {tuple(L.shape)}, {tuple(ab.shape)}"
            )
        return self.net(torch.cat([L, ab], dim=1))

    def score(self, L: Tensor, ab: Tensor) -> Tensor:
        """The paper's output: the mean of the patch logits, ``(B,)``."""
        return self(L, ab).mean(dim=(1, 2, 3))
