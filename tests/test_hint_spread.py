"""Point hints spread by ``tic.models.HintSpread``: the untrained rule against hand-made cases,
what decoding does with hints, the hints drawn for training, and a hint-only training stage that
leaves the rest of the model as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tic import decoding
from tic.config import DecodingConfig, EncoderUNetConfig, ModelConfig, TextEncoderConfig
from tic.errors import TicError
from tic.models import EncoderUNet, HintSpread
from tic.train_frozen import HINT_MOST, draw_hints


def _feats(B=1, h=16, w=16):
    """Encoder-like features deepest first: 1/32, 1/16 (left half and right half differ), 1/8."""
    torch.manual_seed(0)
    f16 = torch.zeros(B, 4, h // 4, w // 4)
    f16[:, 0, :, : w // 8] = 1.0  # the left half looks like one thing
    f16[:, 1, :, w // 8 :] = 1.0  # the right half like another
    f8 = f16.repeat_interleave(2, -1).repeat_interleave(2, -2)[:, :2]
    return [torch.zeros(B, 8, h // 8, w // 8), f16, f8]


def test_untrained_spread_puts_the_hint_at_its_point_and_weighs_looks_by_hand():
    spread = HintSpread((4, 2))
    feats = _feats()
    L = torch.zeros(1, 1, 64, 64)  # flat lightness: only looks and position separate places
    auto = torch.zeros(1, 2, 16, 16)
    yx = torch.tensor([[[0.5, 0.25]]])  # in the left half
    ab = torch.tensor([[[0.4, -0.2]]])
    out = spread(feats, L, auto, yx, ab, torch.ones(1, 1, dtype=torch.bool))
    at = out[0, :, 8, 4]
    assert (at - ab[0, 0]).abs().max() < 0.05  # the hinted colour where it was given
    # by hand, at a position of the right half (row 8, column 12: cell centres at (i + 0.5) / 16):
    # feature distance |f - f_k|^2 = 2 (orthogonal looks), squared position distance, same L
    d_x = ((8.5 / 16 - 0.5) ** 2 + (12.5 / 16 - 0.25) ** 2)
    logit = -2 / 1.0 - d_x / 0.1
    w = np.exp(logit) / (np.exp(logit) + np.exp(-3.0))  # against the null key's logit -3
    torch.testing.assert_close(out[0, :, 8, 12], ab[0, 0] * w, atol=1e-5, rtol=1e-4)
    # a left-half position as far from the hint (column 4 - 8 + 0.5 = -3.5: mirror by row) spreads more
    d_left = ((8.5 / 16 - 0.5) ** 2 + (4.5 / 16 - 0.25) ** 2)  # row 8, column 4: the hint's cell
    assert out[0, 0, 0, 4].abs() > out[0, 0, 0, 12].abs() and d_left < d_x


def test_no_valid_hint_leaves_the_automatic_colours():
    spread = HintSpread((4, 2))
    auto = torch.rand(1, 2, 16, 16) - 0.5
    out = spread(_feats(), torch.zeros(1, 1, 64, 64), auto, torch.rand(1, 3, 2),
                 torch.rand(1, 3, 2), torch.zeros(1, 3, dtype=torch.bool))
    torch.testing.assert_close(out, auto)


def test_every_part_of_the_spread_learns():
    spread = HintSpread((4, 2))
    yx, ab = torch.tensor([[[0.5, 0.25], [0.3, 0.8]]]), torch.tensor([[[0.4, -0.2], [0.1, 0.3]]])
    out = spread(_feats(), torch.rand(1, 1, 64, 64) * 2 - 1, torch.zeros(1, 2, 16, 16), yx, ab,
                 torch.ones(1, 2, dtype=torch.bool))
    (out - 0.3).square().mean().backward()
    for name, p in spread.named_parameters():
        if name.startswith("refine.") and not name.startswith("refine.4"):
            continue  # behind the zero-initialised last layer: no gradient at the first step
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _model(hints: bool) -> ModelConfig:
    g = EncoderUNetConfig(decoder_widths=(16, 12, 8, 8), text_dim=6, text_hidden=8, hints=hints)
    return ModelConfig(image_size=64, architecture="encoder_unet", encoder_unet=g,
                       decoding=DecodingConfig(), text_encoder=TextEncoderConfig(dim=6))


def test_decoding_spreads_hints_only_when_given_and_refuses_them_without_a_module():
    torch.manual_seed(0)
    cfg = _model(hints=True)
    net = EncoderUNet(cfg.encoder_unet).eval()
    L, text = torch.rand(1, 1, 64, 64) * 2 - 1, (torch.randn(1, 6),)
    with torch.no_grad():
        plain = decoding.predict_ab(net, cfg, L, text)
        none = decoding.predict_ab(net, cfg, L, text, hints=(
            torch.zeros(1, 0, 2), torch.zeros(1, 0, 2), torch.zeros(1, 0, dtype=torch.bool)))
        hinted = decoding.predict_ab(net, cfg, L, text, hints=(
            torch.tensor([[[0.5, 0.5]]]), torch.tensor([[[0.5, 0.5]]]),
            torch.ones(1, 1, dtype=torch.bool)))
    torch.testing.assert_close(none, plain)  # no point: the automatic colours, as they were
    assert (hinted[0, :, 32, 32] - 0.5).abs().max() < 0.1  # the hint at its point
    other = _model(hints=False)
    with pytest.raises(TicError, match="takes no point hints"):
        decoding.predict_ab(EncoderUNet(other.encoder_unet).eval(), other, L, text, hints=(
            torch.tensor([[[0.5, 0.5]]]), torch.zeros(1, 1, 2), torch.ones(1, 1, dtype=torch.bool)))


def test_training_hints_are_means_of_the_truth_at_their_places():
    target = torch.rand(3, 2, 8, 8)
    rng = np.random.default_rng(0)
    yx, ab, valid = draw_hints(target, rng)
    counts = valid.sum(1)
    assert (counts >= 1).all() and (counts <= HINT_MOST).all() and valid.shape[1] == counts.max()
    for b in range(3):
        for k in range(int(counts[b])):
            cy, cx = yx[b, k] * 8  # the square's centre in cells: an integer (1 cell) or + 0.5
            # one of the two sizes fits: recompute the mean by hand for the size that fits
            sizes = [s for s in (1, 2) if abs((cy - s / 2) - round(float(cy - s / 2))) < 1e-5]
            means = [target[b, :, int(round(float(cy - s / 2))) : int(round(float(cy - s / 2))) + s,
                            int(round(float(cx - s / 2))) : int(round(float(cx - s / 2))) + s]
                     .mean((1, 2)) for s in sizes]
            assert any(torch.allclose(m, ab[b, k]) for m in means)
    # seeded: the same generator state gives the same hints
    again = draw_hints(target, np.random.default_rng(0))
    for x, y in zip((yx, ab, valid), again, strict=True):
        assert torch.equal(x, y)
