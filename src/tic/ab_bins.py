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

import torch
from torch import Tensor

from tic.color import lab_to_rgb

GRID_STEP = 10.0
GRID_MAX = 110.0


# The cells of ``gamut_cells()`` (step 10): for each a index, the b indices kept, from lo to hi
# (every row is contiguous). Written out because computing them costs 0.8 s at every start-up;
# tests/test_encoder_unet.py checks that the table equals the computation.
_CELL_ROWS = {
    -8: (4, 8), -7: (2, 8), -6: (0, 9), -5: (-2, 9), -4: (-3, 9), -3: (-3, 9), -2: (-4, 9),
    -1: (-5, 9), 0: (-6, 9), 1: (-7, 8), 2: (-8, 8), 3: (-8, 8), 4: (-9, 8), 5: (-9, 7),
    6: (-10, 7), 7: (-10, 7), 8: (-11, 7), 9: (-8, -1), 10: (-6, -5),
}


def gamut_cells() -> Tensor:
    """The in-gamut cells computed: those holding an sRGB colour at some lightness (``(Q, 2)``)."""
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
    return torch.unique(cells, dim=0).mul(GRID_STEP).float().contiguous()  # sorted by (a, b)


def bin_centers() -> Tensor:
    """The in-gamut ab cell centres ``(Q, 2)`` float32, natural units, sorted by (a, b)."""
    cells = [(a, b) for a, (lo, hi) in sorted(_CELL_ROWS.items()) for b in range(lo, hi + 1)]
    return torch.tensor(cells, dtype=torch.float32) * GRID_STEP


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


def rebalance_weights(ab: Tensor, centers: Tensor, mix: float, sigma: float = 5.0) -> Tensor:
    """Class-rebalancing weights ``(Q,)`` (Zhang et al., ECCV 2016, eq. 3-4) from example pixels.

    ``ab`` ``(N, 2)`` natural units -> the empirical distribution ``p`` of their nearest cells,
    smoothed by a Gaussian of ``sigma`` over the ab plane; ``w ~ 1 / ((1 - mix) p + mix / Q)``,
    scaled so that ``sum(p * w) = 1`` (the loss keeps its size on average). ``mix = 1``: all
    weights 1; smaller ``mix``: rare (saturated) colours count more.
    """
    if not 0 < mix <= 1:
        raise ValueError(f"mix must be in (0, 1], got {mix}")
    counts = torch.zeros(len(centers), dtype=torch.float64)
    for start in range(0, len(ab), 1 << 16):
        idx = torch.cdist(ab[start : start + (1 << 16)].float(), centers.float()).argmin(1)
        counts += torch.bincount(idx, minlength=len(centers)).double()
    p = counts / counts.sum().clamp_min(1)
    kernel = torch.exp(-torch.cdist(centers.double(), centers.double()).square() / (2 * sigma**2))
    p = kernel @ p
    p = p / p.sum()
    w = 1 / ((1 - mix) * p + mix / len(centers))
    return (w / (p * w).sum()).float()
