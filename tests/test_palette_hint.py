"""The global (palette) hint, ``tic.models.PaletteHint``: untrained it is the rule
``tic.grounding.palette_prior``; it learns per position; decoding uses it only for palettes."""

from __future__ import annotations

import pytest
import torch

from tic import decoding, grounding
from tic.ab_bins import bin_centers
from tic.config import (
    ConfigError,
    DecodingConfig,
    EncoderUNetConfig,
    ModelConfig,
    TextEncoderConfig,
)
from tic.models import PaletteHint


def _inputs(B=2, P=3, h=8, w=8):
    torch.manual_seed(0)
    feats = [torch.randn(B, 8, h // 8, w // 8), torch.randn(B, 4, h // 4, w // 4),
             torch.randn(B, 2, h // 2, w // 2)]
    centers = bin_centers()
    logits = torch.randn(B, len(centers), h, w)
    ab = torch.rand(B, P, 2) - 0.5
    kind = torch.tensor([[grounding.PALETTE, grounding.PALETTE, grounding.OBJECT],
                         [grounding.PALETTE, 0, 0]])[:B, :P]
    return feats, torch.rand(B, 1, 4 * h, 4 * w) * 2 - 1, logits, centers, ab, kind


def test_untrained_it_is_the_rule():
    feats, L, logits, centers, ab, kind = _inputs()
    out = PaletteHint((4, 2))(feats, L, logits, centers, ab, kind == grounding.PALETTE)
    rule = logits + grounding.palette_prior(centers, ab, kind, 10.0)
    torch.testing.assert_close(out, rule, atol=1e-5, rtol=1e-5)


def test_no_palette_colour_leaves_the_logits():
    feats, L, logits, centers, ab, kind = _inputs()
    out = PaletteHint((4, 2))(feats, L, logits, centers, ab, torch.zeros_like(kind, dtype=torch.bool))
    torch.testing.assert_close(out, logits)


def test_it_learns_per_position():
    """Gradient steps on a target that has the palette's colour on the left half only and
    another colour on the right make the pull differ between the halves (the rule's is the same
    everywhere)."""
    feats, L, logits, centers, ab, kind = _inputs(B=1, P=1)
    feats[1][:, :, :, :1] += 3.0  # the left half looks different
    feats[2][:, :, :, :2] += 3.0
    valid = torch.ones(1, 1, dtype=torch.bool)
    module = PaletteHint((4, 2))
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    near = (centers - ab[0, 0] * 110).norm(dim=-1).argmin()
    far = (centers - ab[0, 0] * 110).norm(dim=-1).argmax()
    target = torch.full((1, 8, 8), int(far))
    target[..., :4] = int(near)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(module(feats, L, logits, centers, ab, valid),
                                                 target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        p = module(feats, L, logits, centers, ab, valid).softmax(1)[0, near]
        p0 = logits.softmax(1)[0, near]
    assert torch.isfinite(p).all()
    assert (p[:, :4] / p0[:, :4]).mean() > 2 * (p[:, 4:] / p0[:, 4:]).mean()


def _config(**decoding_kw):
    return ModelConfig(
        architecture="encoder_unet",
        encoder_unet=EncoderUNetConfig(text_dim=394, grounding=True, palette=True),
        decoding=DecodingConfig(ab_head="bins", **decoding_kw),
        text_encoder=TextEncoderConfig(kind="minilm", dim=394),
    )


def test_config_needs_the_rule_off_and_grounding():
    _config().validate()
    with pytest.raises(ConfigError, match="palette_prior must be 0"):
        _config(palette_prior=10.0).validate()
    cfg = _config()
    cfg.encoder_unet.grounding = False
    with pytest.raises(ConfigError, match="palette needs encoder_unet.grounding"):
        cfg.validate()


def test_lean_palette_only_for_palettes():
    feats, L, logits, centers, ab, kind = _inputs()

    class Net(torch.nn.Module):
        palette = PaletteHint((4, 2))

        def lean(self, feats, L, logits, ab, valid):
            return self.palette(feats, L, logits, centers, ab, valid)

    net = Net()
    objects_only = torch.where(kind == grounding.PALETTE, grounding.OBJECT, kind)
    assert decoding.lean_palette(net, feats, L, logits, ab, objects_only) is logits
    assert decoding.lean_palette(net, feats, L, logits, None, None) is logits
    leaned = decoding.lean_palette(net, feats, L, logits, ab, kind)
    assert not torch.equal(leaned, logits)
    plain = torch.nn.Module()  # a network without a palette module
    assert decoding.lean_palette(plain, feats, L, logits, ab, kind) is logits
