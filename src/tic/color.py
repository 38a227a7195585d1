"""sRGB <-> CIE Lab (D65, 2 degree observer) and the L / ab normalisation used by the models.

This module is the only place in tic that knows the colour maths. Everything else calls it.

Conventions (the same as skimage's ``rgb2lab`` / ``lab2rgb``, whose constants we copy so the two
agree to float precision):

- ``rgb``: ``(B, 3, H, W)`` sRGB in [0, 1].
- ``lab``: ``(B, 3, H, W)`` with L in [0, 100] and a, b in their natural units (about [-128, 127]).
- Model tensors: ``L: (B, 1, H, W)`` in [-1, 1] and ``ab: (B, 2, H, W)`` in [-1, 1]
  (``normalize_l`` / ``normalize_ab`` and their inverses).

All functions are pure, batched, differentiable and run on whatever device the input lives on.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

# sRGB (linear) -> XYZ, as in skimage.color.colorconv.xyz_from_rgb.
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
# XYZ -> linear sRGB: the exact inverse of the matrix above.
_RGB_FROM_XYZ = (
    (3.2404813432005266, -1.5371515162713185, -0.4985363261688878),
    (-0.9692549499965682, 1.8759900014898907, 0.0415559265582928),
    (0.0556466391351772, -0.2040413383665112, 1.0573110696453443),
)
# D65 white point, 2 degree observer (skimage.color.xyz_tristimulus_values("D65", "2")).
_WHITE_D65 = (0.95047, 1.0, 1.08883)

# CIE constants in the form skimage uses them.
_EPS = 0.008856  # (6/29)^3, rounded as in skimage
_KAPPA_SLOPE = 7.787  # ~ (29/6)^2 / 3
_F_EPS = 0.2068966  # 6/29: inverse threshold in f-space

# Scale for a and b: |a|, |b| of sRGB colours stay below ~110, so ab / 110 lies in [-1, 1].
AB_SCALE = 110.0


def _check_image(x: Tensor, channels: int, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape (B, {channels}, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")


def _matrix(rows, x: Tensor) -> Tensor:
    m = torch.tensor(rows, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,bjhw->bihw", m, x)


def srgb_to_linear(rgb: Tensor) -> Tensor:
    """Undo the sRGB transfer curve. Any shape; values in [0, 1]."""
    # clamp inside the power branch so the unused branch cannot produce NaN gradients
    high = ((rgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4
    return torch.where(rgb > 0.04045, high, rgb / 12.92)


def linear_to_srgb(lin: Tensor) -> Tensor:
    """Apply the sRGB transfer curve. Any shape."""
    high = 1.055 * lin.clamp_min(0.0031308) ** (1 / 2.4) - 0.055
    return torch.where(lin > 0.0031308, high, lin * 12.92)


def _f(t: Tensor) -> Tensor:
    return torch.where(t > _EPS, t.clamp_min(_EPS) ** (1 / 3), _KAPPA_SLOPE * t + 16 / 116)


def _f_inv(f: Tensor) -> Tensor:
    return torch.where(f > _F_EPS, f**3, (f - 16 / 116) / _KAPPA_SLOPE)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB ``(B, 3, H, W)`` in [0, 1] -> Lab ``(B, 3, H, W)`` (L in [0, 100], a/b natural units)."""
    _check_image(rgb, 3, "rgb")
    xyz = _matrix(_XYZ_FROM_RGB, srgb_to_linear(rgb))
    white = torch.tensor(_WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    fx, fy, fz = _f(xyz / white).unbind(1)
    L = 116 * fy - 16
    a = 500 * (fx - fy)
    b = 200 * (fy - fz)
    return torch.stack([L, a, b], dim=1)


def rgb_to_l(rgb: Tensor) -> Tensor:
    """The L channel alone of ``rgb_to_lab``: ``(B, 3, H, W)`` -> ``(B, 1, H, W)`` in [0, 100].

    Cheaper than the full conversion (one weighted sum instead of a 3x3 matrix), for full-resolution
    inference on large photos.
    """
    _check_image(rgb, 3, "rgb")
    w = torch.tensor(_XYZ_FROM_RGB[1], dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    y = (srgb_to_linear(rgb) * w).sum(1, keepdim=True)
    return 116 * _f(y) - 16


def gray_to_l(gray: Tensor) -> Tensor:
    """L of the neutral colour (g, g, g) for gray values ``g`` in [0, 1]; any shape.

    For a neutral sRGB colour Y equals the linearised gray value (the matrix's middle row sums to 1).
    """
    return 116 * _f(srgb_to_linear(gray)) - 16


def _lab_to_linear(L: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """L, a, b (same shapes) -> linear-light RGB stacked on a new dim 1 (not clipped)."""
    fy = (L + 16) / 116
    fx = a / 500 + fy
    fz = (fy - b / 200).clamp_min(0)  # skimage clips negative Z to zero
    x = _f_inv(fx) * _WHITE_D65[0]
    y = _f_inv(fy) * _WHITE_D65[1]
    z = _f_inv(fz) * _WHITE_D65[2]
    m = _RGB_FROM_XYZ
    return torch.stack([m[i][0] * x + m[i][1] * y + m[i][2] * z for i in range(3)], dim=1)


def lab_to_rgb(lab: Tensor, clip: bool = True) -> Tensor:
    """Lab ``(B, 3, H, W)`` -> sRGB ``(B, 3, H, W)``, clipped to [0, 1] unless ``clip=False``.

    Like skimage, colours outside the sRGB gamut are clipped per channel (which shifts their
    lightness); use ``lab_to_rgb_in_gamut`` to keep L exact.
    """
    _check_image(lab, 3, "lab")
    rgb = linear_to_srgb(_lab_to_linear(*lab.unbind(1)))
    return rgb.clamp(0, 1) if clip else rgb


def lab_to_rgb_in_gamut(lab: Tensor) -> Tensor:
    """Lab -> sRGB in [0, 1], reducing the chroma of out-of-gamut colours instead of clipping them.

    Clipping R, G, B separately changes a colour's lightness; here an out-of-gamut pixel keeps its
    L and hue and its chroma is cut to the largest that fits sRGB at that L and hue. That limit
    comes from a table over (L, hue) (``_chroma_limits``, computed once by bisection), so a
    12-megapixel photo costs one table look-up per out-of-gamut pixel. This keeps the photo's own L
    (its detail) in the colorized output. Meant for inference (not differentiable in the limit).
    """
    return linear_to_srgb(lab_to_linear_in_gamut(lab))


def lab_to_linear_in_gamut(lab: Tensor) -> Tensor:
    """``lab_to_rgb_in_gamut`` before the sRGB transfer curve: linear RGB in [0, 1],
    ``(B, 3, H, W)`` (``linear_to_srgb8`` makes 8-bit sRGB of it)."""
    _check_image(lab, 3, "lab")
    L, a, b = lab.unbind(1)
    lin = _lab_to_linear(L, a, b)
    tol = 1e-5
    bad = ((lin < -tol) | (lin > 1 + tol)).any(1)  # (B, H, W)
    if bool(bad.any()):
        Lb, ab_a, ab_b = L[bad], a[bad], b[bad]
        chroma = torch.hypot(ab_a, ab_b)
        hue = torch.atan2(ab_b, ab_a)  # [-pi, pi]
        table = _chroma_limits(lab.device)
        # bilinear look-up: x = hue in [-1, 1] over [-pi, pi], y = L in [-1, 1] over [0, 100]
        grid = torch.stack([hue / math.pi, Lb.clamp(0, 100) / 50 - 1], dim=-1).view(1, 1, -1, 2)
        limit = F.grid_sample(table, grid.float(), mode="bilinear", align_corners=True).view(-1)
        scale = (limit.to(lab.dtype) / chroma.clamp_min(1e-6)).clamp(max=1.0)
        lin = lin.permute(0, 2, 3, 1).clone()
        lin[bad] = _lab_to_linear(Lb, ab_a * scale, ab_b * scale)
        lin = lin.permute(0, 3, 1, 2)
    return lin.clamp(0, 1)


SRGB8_STEPS = 1 << 16  # linear_to_srgb8's table: linear values in steps of 1 / 65536


def linear_to_srgb8(lin: Tensor) -> Tensor:
    """Linear RGB (any shape, clipped to [0, 1]) -> 8-bit sRGB (uint8), by a table of the
    transfer curve at ``SRGB8_STEPS`` + 1 linear values: several times faster than the curve on
    every value of a full-resolution photo; at most one level off ``round(255 *
    linear_to_srgb(lin))``, for about 0.3% of values (where that product is within a rounding
    step of a half)."""
    idx = (lin.clamp(0, 1) * SRGB8_STEPS + 0.5).to(torch.int64)
    return torch.take(_srgb8_table(lin.device), idx)


@functools.lru_cache(maxsize=4)
def _srgb8_table(device: torch.device) -> Tensor:
    x = torch.arange(SRGB8_STEPS + 1, dtype=torch.float64) / SRGB8_STEPS
    return (linear_to_srgb(x) * 255 + 0.5).floor().clamp(0, 255).to(torch.uint8).to(device)


@functools.lru_cache(maxsize=4)
def _chroma_limits(device: torch.device, n_l: int = 256, n_hue: int = 721) -> Tensor:
    """``(1, 1, n_l, n_hue)`` table of the largest in-sRGB chroma at L in [0, 100], hue in [-pi, pi].

    Each entry is the minimum over its cell's neighbourhood, so bilinear look-ups stay (nearly)
    inside the gamut between grid points.
    """
    L = torch.linspace(0, 100, n_l).view(-1, 1).expand(n_l, n_hue)
    h = torch.linspace(-math.pi, math.pi, n_hue).view(1, -1).expand(n_l, n_hue)
    # sRGB's largest chroma is 133.8 (blue, L 32): bisection over [0, 140] with 16 halvings leaves
    # each value at most 0.002 below the first exit from sRGB along the hue line (``lo`` is always
    # inside). In float32: float64 moved no entry by more than that one step and took twice the
    # time (0.15 s against 0.07 s on 2 cores), which a one-photo command waits for.
    lo = torch.zeros_like(L)
    hi = torch.full_like(L, 140.0)
    cos, sin = torch.cos(h), torch.sin(h)
    for _ in range(16):
        mid = (lo + hi) / 2
        t = _lab_to_linear(L, mid * cos, mid * sin)
        ok = ((t >= 0) & (t <= 1)).all(1)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    # conservative: each grid value becomes the minimum of its 3x3 neighbourhood (hue wraps)
    padded = torch.cat([lo[:, -2:-1], lo, lo[:, 1:2]], dim=1)[None, None]
    padded = F.pad(padded, (0, 0, 1, 1), mode="replicate")
    table = -F.max_pool2d(-padded, 3, stride=1)
    return table.to(device)


# --- normalisation used by the models -------------------------------------------------------


def normalize_l(L: Tensor) -> Tensor:
    """L in [0, 100] -> [-1, 1]."""
    return L / 50.0 - 1.0


def denormalize_l(L: Tensor) -> Tensor:
    """[-1, 1] -> L in [0, 100]."""
    return (L + 1.0) * 50.0


def normalize_ab(ab: Tensor) -> Tensor:
    """a, b in natural units -> [-1, 1] (divided by ``AB_SCALE``)."""
    return ab / AB_SCALE


def denormalize_ab(ab: Tensor) -> Tensor:
    """[-1, 1] -> a, b in natural units."""
    return ab * AB_SCALE


def rgb_to_model_lab(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """sRGB ``(B, 3, H, W)`` in [0, 1] -> ``(L, ab)`` normalised for the models.

    Returns ``L: (B, 1, H, W)`` in [-1, 1] and ``ab: (B, 2, H, W)`` in [-1, 1].
    """
    lab = rgb_to_lab(rgb)
    return normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])


def model_lab_to_rgb(L: Tensor, ab: Tensor, clip: bool = True) -> Tensor:
    """Inverse of ``rgb_to_model_lab``: normalised ``L (B,1,H,W)``, ``ab (B,2,H,W)`` -> sRGB."""
    _check_image(L, 1, "L")
    _check_image(ab, 2, "ab")
    if L.shape[0] != ab.shape[0] or L.shape[2:] != ab.shape[2:]:
        raise ValueError(f"L {tuple(L.shape)} and ab {tuple(ab.shape)} must match in B, H, W")
    lab = torch.cat([denormalize_l(L), denormalize_ab(ab)], dim=1)
    return lab_to_rgb(lab, clip=clip)


def srgb8_to_l(pixels) -> Tensor:
    """L in [0, 100] of 8-bit sRGB pixels, through a 256-entry table (fast on 12-megapixel photos).

    ``pixels``: a numpy ``uint8`` array ``(H, W)`` (gray: the neutral colour (g, g, g)) or
    ``(H, W, 3)`` (RGB). Returns a float32 ``(1, 1, H, W)`` tensor.
    """
    import numpy as np

    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(
            f"expected uint8 (H, W) or (H, W, 3) pixels, got {pixels.dtype} {pixels.shape}"
        )
    codes = torch.arange(256, dtype=torch.float64) / 255
    if pixels.ndim == 2:
        lut = gray_to_l(codes).float().numpy()
        return torch.from_numpy(lut[pixels])[None, None]
    if pixels.shape[2] != 3:
        raise ValueError(f"expected 3 colour channels, got {pixels.shape[2]}")
    lin = srgb_to_linear(codes).float().numpy()
    w = _XYZ_FROM_RGB[1]
    y = lin[pixels[..., 0]] * w[0]
    y += lin[pixels[..., 1]] * w[1]
    y += lin[pixels[..., 2]] * w[2]
    return (116 * _f(torch.from_numpy(y)) - 16)[None, None]
