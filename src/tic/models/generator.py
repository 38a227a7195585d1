"""The TIC generator: a U-Net whose bottleneck features are conditioned on a sentence vector.

Our reading of the paper's ambiguous points (all configurable in ``UNetConfig``):

- Each resolution level has two 3x3 conv blocks (conv, BN, ReLU, ``width`` filters); the second
  one has stride 2 ("the down-sampling follows the last convolution by 2"). The output of the
  first is the level's skip connection.
- Depth: "three up-samplings over four resolutions" -> ``depth = 3`` (256 -> 32 at the
  bottleneck). The text map is 1x64x64 ("FC 4096"); it is resized bilinearly to the bottleneck
  size, which also lets the working size be a config choice (128 for CPU recipes).
- Text pathway: FC(text_dim -> 256), LeakyReLU(0.2), FC(256 -> 4096), reshape to 1x64x64, and
  an element-wise product with every bottleneck channel. The paper names no activation between
  the two FCs; without one they would collapse into a single linear map.
- One RRDB (ESRGAN; the paper's figure shows one) with BatchNorm in its dense layers, residuals
  scaled by ``beta = 0.2``.
- Expanding path: ConvTranspose2d(4, stride 2), BN, ReLU, concatenation with the skip, then two
  conv blocks; "the number of filters decreases by two" is read as the first conv halving the
  concatenated 2*width channels back to width.
- ``text_levels: all`` (with ``film``): the decoder levels get a FiLM of their own as well.
- "Two filters of kernel size 1x1" at the top: a 1x1 conv to 2 channels, then tanh so ab lies in
  [-1, 1] like the normalised targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic.config import UNetConfig
from tic.models.blocks import RRDB, conv_bn_relu


class TextPathway(nn.Module):
    """Sentence vector ``(B, D)`` -> text map ``(B, 1, m, m)`` (multiply) or ``(B, 2C)`` (film)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.fusion = cfg.text_fusion
        self.map_size = cfg.text_map
        out = cfg.text_map**2 if cfg.text_fusion == "multiply" else 2 * cfg.width
        self.fc = nn.Sequential(
            nn.Linear(cfg.text_dim, cfg.text_hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(cfg.text_hidden, out),
        )

    def forward(self, feat: Tensor, text_emb: Tensor) -> Tensor:
        t = self.fc(text_emb)
        if self.fusion == "multiply":
            t = t.view(-1, 1, self.map_size, self.map_size)
            if t.shape[-2:] != feat.shape[-2:]:
                t = F.interpolate(t, size=feat.shape[-2:], mode="bilinear", align_corners=False)
            return feat * t  # (B, C, h, w) * (B, 1, h, w)
        gamma, beta = t[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        return feat * (1 + gamma) + beta


class Generator(nn.Module):
    """``forward(L, text_emb) -> ab``.

    - ``L``: ``(B, 1, H, W)`` in [-1, 1], H and W multiples of ``2**depth``.
    - ``text_emb``: ``(B, text_dim)``.
    - returns ``ab``: ``(B, 2, H, W)`` in [-1, 1].
    """

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.down = nn.ModuleList()
        in_ch = 1
        for _ in range(cfg.depth):
            # first block -> skip; second block (stride 2) -> next resolution
            self.down.append(nn.ModuleList([conv_bn_relu(in_ch, w), conv_bn_relu(w, w, stride=2)]))
            in_ch = w
        self.text = TextPathway(cfg)
        self.rrdb = nn.Sequential(
            *(RRDB(w, cfg.rrdb_growth, cfg.rrdb_beta, cfg.rrdb_norm) for _ in range(cfg.num_rrdb))
        )
        self.up = nn.ModuleList()
        for _ in range(cfg.depth):
            self.up.append(
                nn.ModuleList(
                    [
                        nn.Sequential(
                            nn.ConvTranspose2d(w, w, 4, stride=2, padding=1, bias=False),
                            nn.BatchNorm2d(w),
                            nn.ReLU(inplace=True),
                        ),
                        nn.Sequential(conv_bn_relu(2 * w, w), conv_bn_relu(w, w)),
                    ]
                )
            )
        # text_levels "all": a FiLM after every decoder level too (our extension)
        n_up = cfg.depth if cfg.text_levels == "all" else 0
        self.text_up = nn.ModuleList(TextPathway(cfg) for _ in range(n_up))
        self.to_ab = nn.Conv2d(w, 2, 1)

    def forward(self, L: Tensor, text_emb: Tensor) -> Tensor:
        step = 2**self.cfg.depth
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"L must have shape (B, 1, H, W), got {tuple(L.shape)}")
        if L.shape[-2] % step or L.shape[-1] % step:
            raise ValueError(f"L's H and W must be multiples of {step}, got {tuple(L.shape[-2:])}")
        if text_emb.ndim != 2 or text_emb.shape != (L.shape[0], self.cfg.text_dim):
            raise ValueError(
                f"text_emb must have shape ({L.shape[0]}, {self.cfg.text_dim}), "
                f"got {tuple(text_emb.shape)}"
            )
        x = L
        skips = []
        for first, second in self.down:
            x = first(x)
            skips.append(x)  # (B, w, H/2^i, W/2^i)
            x = second(x)
        text_emb = text_emb.to(x.dtype)
        x = self.text(x, text_emb)  # bottleneck (B, w, H/2^d, W/2^d)
        x = self.rrdb(x)
        for i, ((upsample, convs), skip) in enumerate(zip(self.up, reversed(skips), strict=True)):
            x = convs(torch.cat([upsample(x), skip], dim=1))
            if self.text_up:
                x = self.text_up[i](x, text_emb)
        return self.to_ab(x).tanh()
