"""tic.color against skimage (an independent implementation), round trips, gradients, bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from tic import color


def _to_bchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).permute(2, 0, 1)[None]


def _to_hwc(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).numpy()


def _random_rgb(n=4096, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((64, n // 64, 3))


def _corners() -> np.ndarray:
    # the 8 corners of the RGB cube plus mid-edges: the gamut's extremes
    levels = [0.0, 0.5, 1.0]
    pts = np.array(list(itertools.product(levels, repeat=3)), dtype=np.float64)
    return pts.reshape(1, -1, 3)


@pytest.mark.parametrize("make", [_random_rgb, _corners])
def test_rgb_to_lab_matches_skimage(make):
    rgb = make()
    ours = _to_hwc(color.rgb_to_lab(_to_bchw(rgb)))
    np.testing.assert_allclose(ours, rgb2lab(rgb), atol=1e-3)


def test_rgb_to_lab_float32_matches_skimage():
    rgb = _random_rgb(seed=1)
    ours = _to_hwc(color.rgb_to_lab(_to_bchw(rgb).float())).astype(np.float64)
    np.testing.assert_allclose(ours, rgb2lab(rgb), atol=1e-3)


@pytest.mark.parametrize("make", [_random_rgb, _corners])
def test_lab_to_rgb_matches_skimage(make):
    lab = rgb2lab(make())
    ours = _to_hwc(color.lab_to_rgb(_to_bchw(lab)))
    np.testing.assert_allclose(ours, lab2rgb(lab), atol=1e-5)


def test_lab_to_rgb_out_of_gamut_clips_like_skimage():
    rng = np.random.default_rng(2)
    lab = np.stack(
        [
            rng.uniform(0, 100, (32, 32)),
            rng.uniform(-120, 120, (32, 32)),
            rng.uniform(-120, 120, (32, 32)),
        ],
        axis=-1,
    )
    ours = _to_hwc(color.lab_to_rgb(_to_bchw(lab)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns when it clips negative Z, as we do
        ref = lab2rgb(lab)
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_round_trip():
    rgb = _to_bchw(_random_rgb(seed=3))
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    torch.testing.assert_close(back, rgb, atol=1e-6, rtol=0)
    L, ab = color.rgb_to_model_lab(rgb.float())
    assert L.min() >= -1 and L.max() <= 1 and ab.abs().max() <= 1
    torch.testing.assert_close(color.model_lab_to_rgb(L, ab), rgb.float(), atol=1e-4, rtol=0)


def test_batched_equals_single():
    rgb = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    batched = color.rgb_to_lab(rgb)
    for i in range(3):
        torch.testing.assert_close(batched[i : i + 1], color.rgb_to_lab(rgb[i : i + 1]))


def test_gradcheck():
    rgb = torch.rand(1, 3, 3, 3, dtype=torch.float64).mul(0.9).add(0.05).requires_grad_()
    assert torch.autograd.gradcheck(color.rgb_to_lab, (rgb,))
    lab = color.rgb_to_lab(rgb).detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: color.lab_to_rgb(x, clip=False), (lab,))


def test_gradients_finite_at_black_and_white():
    rgb = torch.cat([torch.zeros(1, 3, 1, 2), torch.ones(1, 3, 1, 2)], 2).double().requires_grad_()
    color.rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()


def test_l_only_helpers_match_full_conversion():
    rgb = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(color.rgb_to_l(rgb), color.rgb_to_lab(rgb)[:, :1])
    g = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(color.gray_to_l(g), color.rgb_to_lab(g.expand(-1, 3, -1, -1))[:, :1])
    pixels = np.random.default_rng(4).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    ref = rgb2lab(pixels.astype(np.float64) / 255)[..., 0]
    np.testing.assert_allclose(color.srgb8_to_l(pixels)[0, 0].numpy(), ref, atol=1e-3)
    np.testing.assert_allclose(
        color.srgb8_to_l(pixels[..., 0])[0, 0].numpy(),
        rgb2lab(np.repeat(pixels[..., :1], 3, -1) / 255.0)[..., 0],
        atol=1e-3,
    )


def test_in_gamut_mapping_keeps_lightness():
    # saturated colours far outside sRGB: clipping would change L, chroma reduction must not
    lab = torch.tensor([[80.0, 90.0, -90.0], [30.0, -100.0, 100.0], [60.0, 20.0, 10.0]]).T
    lab = lab.reshape(1, 3, 1, 3)
    rgb = color.lab_to_rgb_in_gamut(lab)
    assert rgb.min() >= 0 and rgb.max() <= 1
    back = color.rgb_to_lab(rgb.double())
    torch.testing.assert_close(back[:, 0], lab[:, 0].double(), atol=0.05, rtol=0)
    # an in-gamut colour is left as it is
    torch.testing.assert_close(back[0, :, 0, 2], lab[0, :, 0, 2].double(), atol=1e-3, rtol=0)
    # hue is kept: a/b keep their signs and ratio
    ratio_in = lab[0, 2, 0, :2] / lab[0, 1, 0, :2]
    ratio_out = back[0, 2, 0, :2] / back[0, 1, 0, :2]
    torch.testing.assert_close(ratio_out.float(), ratio_in, atol=0.15, rtol=0.1)


def test_in_gamut_mapping_reaches_the_gamut_corners():
    """Push each sRGB primary and secondary (skimage's Lab) 1.5x beyond its chroma: the mapping
    keeps L and hue and gives at most the largest chroma below which the whole line from gray
    stays in sRGB (found independently: skimage's lab2rgb round trip on a fine grid), and at
    least 90% of it, 75% at bright yellow: the table is conservative (each value the minimum of
    its neighbours, so that reading between grid points stays inside) and yellow's corner is
    the sharpest. (Near bright yellow that line ends far below the corner's own chroma: Lab's
    hue lines leave sRGB and come back in.)"""
    from skimage.color import lab2rgb, rgb2lab

    for rgb in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1)]:
        L, a, b = rgb2lab(np.array([[rgb]], dtype=np.float64))[0, 0]
        C, h = np.hypot(a, b), np.arctan2(b, a)
        cs = np.linspace(0, 1.5 * C, 3001)
        line = np.stack([np.full_like(cs, L), cs * np.cos(h), cs * np.sin(h)], -1)[None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skimage warns when it clips
            inside = np.abs(rgb2lab(lab2rgb(line)) - line).max(-1)[0] < 0.01
        reachable = cs[np.argmin(inside)] if not inside.all() else cs[-1]
        lab = torch.tensor([L, 1.5 * a, 1.5 * b]).view(1, 3, 1, 1)
        out = color.lab_to_rgb_in_gamut(lab).double().permute(0, 2, 3, 1).numpy()[0]
        L2, a2, b2 = rgb2lab(out)[0, 0]
        assert abs(L2 - L) < 0.05, rgb
        assert abs(np.degrees(np.arctan2(b2, a2) - h)) < 1.0, rgb
        least = 0.75 if rgb == (1, 1, 0) else 0.9
        assert least * reachable <= np.hypot(a2, b2) <= reachable + 0.1, (rgb, np.hypot(a2, b2),
                                                                          reachable)
    # and the pixels it returns are the sRGB ones skimage gives for the mapped Lab
    lab = torch.tensor([[50.0, 60.0, 60.0], [70.0, -20.0, 30.0]]).T.reshape(1, 3, 1, 2)
    np.testing.assert_allclose(
        color.lab_to_rgb_in_gamut(lab)[0].permute(1, 2, 0).numpy(),
        lab2rgb(lab[0].permute(1, 2, 0).double().numpy()), atol=1e-4)


def test_normalisation_round_trip_and_range():
    L = torch.tensor([0.0, 50.0, 100.0])
    torch.testing.assert_close(color.normalize_l(L), torch.tensor([-1.0, 0.0, 1.0]))
    torch.testing.assert_close(color.denormalize_l(color.normalize_l(L)), L)
    ab = torch.tensor([-110.0, 0.0, 55.0])
    torch.testing.assert_close(color.normalize_ab(ab), torch.tensor([-1.0, 0.0, 0.5]))
    torch.testing.assert_close(color.denormalize_ab(color.normalize_ab(ab)), ab)


@pytest.mark.parametrize(
    "shape", [(3, 8, 8), (1, 4, 8, 8), (1, 1, 8, 8), (2, 3, 8), (1, 3, 8, 8, 1)]
)
def test_bad_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        color.rgb_to_lab(torch.rand(shape))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        color.lab_to_rgb(torch.rand(shape))


def test_integer_input_raises():
    with pytest.raises(ValueError, match="floating-point"):
        color.rgb_to_lab(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))


def test_model_lab_mismatch_raises():
    with pytest.raises(ValueError, match="must match"):
        color.model_lab_to_rgb(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 5))


def test_linear_to_srgb8_is_the_transfer_curve_to_one_level():
    torch.manual_seed(0)
    lin = torch.cat([torch.rand(100_000), torch.tensor([-0.5, 0.0, 0.0031308, 1.0, 1.5])])
    exact = (color.linear_to_srgb(lin.clamp(0, 1)) * 255 + 0.5).floor()
    fast = color.linear_to_srgb8(lin)
    assert fast.dtype == torch.uint8
    diff = (fast.double() - exact.double()).abs()
    assert diff.max() <= 1 and (diff > 0).double().mean() < 0.01
    assert fast[-5:].tolist() == [0, 0, 10, 255, 255]  # 0.0031308 -> 255 * 0.04045 = 10.3
    # the in-gamut colours, as compose makes them: lab_to_rgb_in_gamut's, in 8 bits
    lab = torch.tensor([[50.0, 80.0, -90.0], [90.0, 0.0, 100.0], [30.0, 10.0, 10.0]]).T
    lab = lab.view(1, 3, 1, 3)
    ref = (color.lab_to_rgb_in_gamut(lab) * 255 + 0.5).floor()
    got = color.linear_to_srgb8(color.lab_to_linear_in_gamut(lab)).double()
    assert (got - ref).abs().max() <= 1
