"""``PaletteHint``: where the colours of a palette go ("mostly green and brown": the global hint).

A palette names colours without places. The decoder's bins head gives every position a
distribution over ab bins; the palette leans each position's distribution towards the named
colours by adding, for every bin ``q``, ::

    log(1 + sum_k g_k(p) * exp(-|c_q - ab_k|^2 / (2 w^2)))

over the palette's colours ``ab_k``. With ``g_k(p)`` one constant this is the rule
``tic.grounding.palette_prior`` (strength 10, width 15 ab units): the same pull everywhere, so a
"mostly blue" photo of a tower turns the tower blue with the sky. Here ``g_k(p)`` is learned per
position and colour, from how the position looks (the frozen encoder's 1/16 and 1/8 features and
the lightness, through a small convolutional net), which colour is named (its ab and chroma), and
how plausible the decoder already finds that colour there (the probability its bins give near
``ab_k``). It starts as the rule (``gate`` zero but its bias: ``log(strength)``), and is trained
with the bins head's cross-entropy on photos whose palette is their own leading colours
(``loss.lambda_palette``), the decoder frozen.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic.color import AB_SCALE

STRENGTH = 10.0  # the rule's (decoding.palette_prior of the shipped v9.5): where training starts
WIDTH = 15.0  # ab units (tic.grounding.PALETTE_WIDTH)
LOG_MOST = math.log(1e4)  # the largest pull: a bin's probability raised at most ~1e4 times


class PaletteHint(nn.Module):
    """``forward(feats, L, logits, centers, ab, valid) -> logits``.

    - ``feats``: the encoder's features deepest first; ``feats[1]`` (1/16) and ``feats[2]`` (1/8)
      are read, with ``channels`` their channel counts.
    - ``L``: ``(B, 1, H, W)`` in [-1, 1]; ``logits``: the bins head's ``(B, Q, h, w)``;
      ``centers``: the bins' ab ``(Q, 2)`` in ab units.
    - ``ab``: ``(B, P, 2)`` the palette's colours (normalised); ``valid``: ``(B, P)`` bool.
    - returns the leaned logits ``(B, Q, h, w)``; a picture without palette colours keeps its own.
    """

    def __init__(self, channels: tuple[int, int], width: int = 32):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        self.looks = nn.Sequential(
            nn.Conv2d(2 * width + 1, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
        )
        self.colour = nn.Sequential(nn.Linear(3, width), nn.ReLU(inplace=True),
                                    nn.Linear(width, width))
        self.plausible = nn.Parameter(torch.zeros(width))
        self.gate = nn.Linear(width, 1)
        nn.init.zeros_(self.gate.weight)  # starts as the rule: g = STRENGTH everywhere
        nn.init.constant_(self.gate.bias, math.log(STRENGTH))
        self.log_width = nn.Parameter(torch.tensor(math.log(WIDTH)))

    def forward(self, feats: list[Tensor], L: Tensor, logits: Tensor, centers: Tensor,
                ab: Tensor, valid: Tensor) -> Tensor:
        B, Q, h, w = logits.shape
        logits = logits.float()
        ab = ab.float() * AB_SCALE  # (B, P, 2) ab units
        d2 = (centers.float()[None, None] - ab[:, :, None]).square().sum(-1)  # (B, P, Q)
        kernel = torch.exp(-d2 / (2 * self.log_width.exp().square()))
        plausible = torch.einsum("bpq,bqhw->bphw", kernel, logits.softmax(1)).clamp_min(1e-6).log()
        looks = [F.interpolate(p(f.float()), size=(h, w), mode="bilinear", align_corners=False)
                 for p, f in zip(self.proj, feats[1:3], strict=True)]
        light = F.adaptive_avg_pool2d((L.float() + 1) / 2, (h, w))
        H = self.looks(torch.cat([*looks, light], 1))  # (B, W, h, w)
        E = self.colour(torch.cat([ab / AB_SCALE, ab.norm(dim=-1, keepdim=True) / AB_SCALE], -1))
        z = F.relu(H[:, None] + E[..., None, None]
                   + self.plausible[:, None, None] * plausible[:, :, None])  # (B, P, W, h, w)
        g = torch.einsum("bpwyx,w->bpyx", z, self.gate.weight[0]) + self.gate.bias
        g = g.clamp(-20.0, LOG_MOST).exp() * valid[..., None, None].float()  # (B, P, h, w)
        near = torch.einsum("bphw,bpq->bqhw", g, kernel)
        return logits + torch.log1p(near)
