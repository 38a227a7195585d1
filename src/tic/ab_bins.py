"""ab as classes: the quantised ab plane of Zhang et al. (ECCV 2016, "Colorful Image Colorization").

Regression on ab makes a dull brown the safest answer where a colour is uncertain (the mean of red
and green is a muddy olive-brown). Predicting a distribution over quantised ab and decoding it with
the *annealed mean* keeps a choice: the temperature ``T`` interpolates between the mean
(``T = 1``, as dull as regression) and the mode (``T -> 0``, vivid but patchy). ECCV16 uses 0.38.

- ``bin_centers()``: the ab grid (step 10 in natural units) restricted to cells that hold an sRGB
  colour at some lightness: ``(Q, 2)``, Q = 255 at step 10 (ECCV16 counts 313 cells, by another gamut test).
- ``soft_encode(ab, centers)``: targets ``(B, Q, h, w)``: each pixel's 5 nearest centres with
  Gaussian weights (sigma 5), as ECCV16.
- ``annealed_mean(logits, centers, T)``: ``(B, Q, h, w)`` -> ab ``(B, 2, h, w)`` natural units.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from tic.color import lab_to_rgb

GRID_STEP = 10.0
GRID_MAX = 110.0


@lru_cache(maxsize=1)
def _centers() -> Tensor:
    # a cell is kept when any colour inside it is an sRGB colour at some lightness: sample the
    # plane finely, keep the sRGB points, and take the cells they fall into
    fine = torch.arange(-GRID_MAX - GRID_STEP / 2, GRID_MAX + GRID_STEP / 2 + 1e-6, 1.0)
    a, b = torch.meshgrid(fine, fine, indexing="ij")
    ab = torch.stack([a.flatten(), b.flatten()], dim=1)  # (F, 2)
    L = torch.arange(2.0, 99.0, 2.0)
    lab = torch.cat([L.repeat_interleave(len(ab))[:, None], ab.repeat(len(L), 1)], dim=1)
    rgb = lab_to_rgb(lab.T.reshape(1, 3, len(L), len(ab)), clip=False)[0]  # (3, nL, F)
    inside = ((rgb >= 0) & (rgb <= 1)).all(0).any(0)  # (F,)
    cells = torch.round(ab[inside] / GRID_STEP).clamp(-GRID_MAX / GRID_STEP, GRID_MAX / GRID_STEP)
    return torch.unique(cells, dim=0).mul(GRID_STEP).float().contiguous()


def bin_centers() -> Tensor:
    """The in-gamut ab cell centres ``(Q, 2)`` float32, natural units."""
    return _centers().clone()


def soft_encode(ab: Tensor, centers: Tensor, k: int = 5, sigma: float = 5.0) -> Tensor:
    """``ab`` ``(B, 2, h, w)`` natural units -> soft one-hot ``(B, Q, h, w)`` over ``centers``."""
    B, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)  # (N, 2)
    d2 = torch.cdist(flat, centers.to(flat.dtype)).square()  # (N, Q)
    dist, idx = d2.topk(k, dim=1, largest=False)
    weight = torch.softmax(-dist / (2 * sigma**2), dim=1)
    out = torch.zeros_like(d2).scatter_(1, idx, weight)
    return out.view(B, h, w, -1).permute(0, 3, 1, 2)


def annealed_mean(logits: Tensor, centers: Tensor, temperature: float) -> Tensor:
    """``logits`` ``(B, Q, h, w)`` -> ab ``(B, 2, h, w)`` natural units: the mean of
    ``softmax(log p / T)`` over the bin centres (``T = 1``: the plain mean)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    p = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", p, centers.to(p.dtype))
