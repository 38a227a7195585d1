"""``HintSpread``: how a colour given at a few points spreads over the picture.

Zhang et al. 2017 ("Real-Time User-Guided Image Colorization with Learned Deep Priors") feed point
hints to the first layer of a network trained whole on 1.3M images; here the encoder is frozen and
the budget is minutes of a CPU, and hints pooled into the decoder were measured to be ignored. So a
hint reaches every position directly, by attention in the frozen encoder's feature space, and what
spreads is the hint's CORRECTION to the automatic colours, not its colour: where the decoder was
right, a hint changes little; at the hinted point, the output is the hint.

At 1/4 of the working size, for every position ``p`` and hint ``k`` (at ``y_k``, colour ``c_k``)::

    logit_pk = -|f_p - f_k|^2 / tau_f - |x_p - x_k|^2 / tau_x - (L_p - L_k)^2 / tau_l
    w_p      = softmax over (null, logit_p1 .. logit_pN)       (the null key: "no hint here")
    ab_p     = auto_p + sum_k w_pk (c_k - auto(y_k)) + refine(L, auto, spread, confidence)_p

``f`` is the encoder's features at 1/16 and 1/8, each through a learned 1x1 projection (starting
as the identity) and made unit-norm (things that look alike take the same colour), ``x`` the
position in [0, 1] (near things more than far ones), ``L`` the lightness (an edge in the photo
stops a colour). The temperatures and the null logit are learned (log-parameters; starting where a
sweep of the untrained rule on training photos put them), and ``refine`` is a small convolutional
net, zero at the start, that corrects the spread where it leaks. Measured untrained: +1.15 dB at 2
random points and +2.65 dB at 10 over the automatic colours (16 photos, working size).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# the untrained rule's settings, from a sweep (temperatures on squared unit-norm feature distance,
# squared position in [0, 1] and squared L / 100; the null key's logit)
TAU_FEATURES = 1.0
TAU_POSITION = 0.1
TAU_LIGHTNESS = 0.02
NULL_LOGIT = -3.0


def _sample(x: Tensor, yx: Tensor) -> Tensor:
    """``x`` ``(B, C, h, w)`` at the points ``yx`` ``(B, N, 2)`` (fractions of the picture, row
    then column) -> ``(B, N, C)``, bilinear."""
    grid = (yx.flip(-1) * 2 - 1)[:, :, None].to(x.dtype)  # (B, N, 1, 2) as (x, y) in [-1, 1]
    return F.grid_sample(x, grid, mode="bilinear", align_corners=False)[..., 0].transpose(1, 2)


class HintSpread(nn.Module):
    """``forward(feats, L, auto, yx, ab, valid) -> ab`` at the size of ``auto``.

    - ``feats``: the encoder's features deepest first (``EncoderUNet.encode``); ``feats[1]``
      (1/16) and ``feats[2]`` (1/8) are read, with ``channels`` their channel counts.
    - ``L``: ``(B, 1, H, W)`` in [-1, 1] (the working size).
    - ``auto``: ``(B, 2, h, w)`` the automatic ab, normalised (the decoded colours).
    - ``yx``: ``(B, N, 2)`` the hints' positions as fractions (row, column) of the picture;
      ``ab``: ``(B, N, 2)`` their colours, normalised; ``valid``: ``(B, N)`` bool (padding False).
    - returns ``ab`` ``(B, 2, h, w)`` in [-1, 1].
    """

    def __init__(self, channels: tuple[int, int], width: int = 16):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, c, 1, bias=False) for c in channels)
        for p in self.proj:  # the identity: the untrained rule's features
            nn.init.eye_(p.weight[:, :, 0, 0])
        self.log_tau = nn.Parameter(torch.tensor(
            [math.log(TAU_FEATURES), math.log(TAU_POSITION), math.log(TAU_LIGHTNESS)]))
        self.null = nn.Parameter(torch.tensor(NULL_LOGIT))
        self.refine = nn.Sequential(
            nn.Conv2d(6, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, 2, 3, padding=1),
        )
        nn.init.zeros_(self.refine[-1].weight)  # starts as the rule alone
        nn.init.zeros_(self.refine[-1].bias)

    def forward(self, feats: list[Tensor], L: Tensor, auto: Tensor, yx: Tensor, ab: Tensor,
                valid: Tensor) -> Tensor:
        B, _, h, w = auto.shape
        dtype = auto.dtype
        looks = [F.normalize(F.interpolate(p(f.to(dtype)), size=(h, w), mode="bilinear",
                                           align_corners=False), dim=1)
                 for p, f in zip(self.proj, feats[1:3], strict=True)]
        f = torch.cat(looks, 1) / math.sqrt(len(looks))  # (B, d, h, w), unit-norm per position
        light = F.adaptive_avg_pool2d((L.to(dtype) + 1) / 2, (h, w))  # (B, 1, h, w), L / 100
        ys = (torch.arange(h, device=auto.device, dtype=dtype) + 0.5) / h
        xs = (torch.arange(w, device=auto.device, dtype=dtype) + 0.5) / w
        pos = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))[None]  # (1, 2, h, w)
        f_k, l_k, auto_k = _sample(f, yx), _sample(light, yx), _sample(auto, yx)  # (B, N, .)
        tau_f, tau_x, tau_l = self.log_tau.exp().to(dtype)
        d_f = (2 - 2 * torch.einsum("bnd,bdhw->bnhw", F.normalize(f_k, dim=-1), f)).clamp_min(0)
        d_x = (pos[:, None] - yx.to(dtype)[..., None, None]).square().sum(2)  # (B, N, h, w)
        d_l = (light - l_k[..., None]).square()  # (B, N, h, w)
        logit = -d_f / tau_f - d_x / tau_x - d_l / tau_l
        logit = logit.masked_fill(~valid[..., None, None], -torch.inf)
        null = self.null.to(dtype).expand(B, 1, h, w)
        weight = torch.cat([null, logit], 1).softmax(1)[:, 1:]  # (B, N, h, w)
        correction = ab.to(dtype) - auto_k  # (B, N, 2)
        spread = torch.einsum("bnhw,bnc->bchw", weight, correction)
        confidence = weight.sum(1, keepdim=True)
        delta = self.refine(torch.cat([light, auto, spread, confidence], 1))
        return (auto + spread + delta).clamp(-1, 1)
