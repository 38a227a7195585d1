"""Losses against hand-computed values and an independent Lab -> RGB (skimage)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb
from torch import nn

from tic import backbones
from tic.config import ConfigError
from tic.losses import PerceptualLoss, build_perceptual_loss, gan_loss_d, gan_loss_g, l1_loss
from tic.train_config import LossConfig, TrainConfig


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_l1_loss_hand_computed():
    fake = torch.zeros(1, 2, 1, 2)
    real = torch.tensor([[[[0.5, -0.5]], [[0.25, 0.0]]]])
    assert l1_loss(fake, real).item() == pytest.approx((0.5 + 0.5 + 0.25 + 0.0) / 4)


def test_gan_losses_are_bce_on_scores():
    real = torch.tensor([2.0, -1.0])
    fake = torch.tensor([0.5, -3.0])
    # BCE(x, 1) = softplus(-x); BCE(x, 0) = softplus(x); averaged over the batch
    want_d = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-3.0)) / 2
    want_g = (softplus(-0.5) + softplus(3.0)) / 2
    assert gan_loss_d(real, fake).item() == pytest.approx(want_d, rel=1e-6)
    assert gan_loss_g(fake).item() == pytest.approx(want_g, rel=1e-6)
    zero = torch.zeros(3)
    assert gan_loss_d(zero, zero).item() == pytest.approx(2 * math.log(2), rel=1e-6)


class ChannelMix(nn.Module):
    """A fixed 1x1 conv as a stand-in feature network (returns a list, like a Backbone)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        torch.manual_seed(0)
        nn.init.normal_(self.conv.weight)
        self.requires_grad_(False)
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        return [self.conv(x)]


def _lab_batch(seed: int = 0, size: int = 6):
    g = torch.Generator().manual_seed(seed)
    L = torch.rand(2, 1, size, size, generator=g) * 1.2 - 0.6  # L* 20..80
    real = torch.rand(2, 2, size, size, generator=g) * 0.3 - 0.15  # |a|, |b| < 17: in gamut
    fake = torch.rand(2, 2, size, size, generator=g) * 0.3 - 0.15
    return L, fake, real


def _skimage_rgb(L, ab):
    lab = torch.cat([(L + 1) * 50, ab * 110], 1).permute(0, 2, 3, 1).double().numpy()
    return torch.from_numpy(np.stack([lab2rgb(x) for x in lab])).permute(0, 3, 1, 2).float()


def test_perceptual_loss_matches_independent_rgb():
    L, fake, real = _lab_batch()
    feats = ChannelMix()
    got = PerceptualLoss(feats)(L, fake, real)
    want = (feats(_skimage_rgb(L, fake))[0] - feats(_skimage_rgb(L, real))[0]).abs().mean()
    assert got.item() == pytest.approx(want.item(), rel=1e-3)
    assert PerceptualLoss(feats)(L, real, real).item() == 0.0


def test_perceptual_loss_gradient_reaches_ab():
    """The Lab -> RGB rebuild is differentiable: autograd agrees with central differences."""
    L, fake, real = _lab_batch(1, size=4)
    loss = PerceptualLoss(ChannelMix())
    ab = fake.clone().requires_grad_(True)
    loss(L, ab, real).backward()
    assert ab.grad.abs().sum() > 0
    eps = 1e-2
    for idx in [(0, 0, 1, 2), (1, 1, 3, 0)]:
        plus, minus = fake.clone(), fake.clone()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (loss(L, plus, real) - loss(L, minus, real)).item() / (2 * eps)
        assert ab.grad[idx].item() == pytest.approx(numeric, rel=0.05, abs=1e-5)


def test_perceptual_size_resizes_before_features():
    L, fake, real = _lab_batch(size=8)
    feats = ChannelMix()
    PerceptualLoss(feats, size=4)(L, fake, real)
    assert feats.seen == [(2, 3, 4, 4), (2, 3, 4, 4)]


def test_perceptual_with_vgg16_relu4_3():
    L, fake, real = _lab_batch(size=32)
    loss = PerceptualLoss(backbones.vgg16(("relu4_3",), pretrained=False))
    value = loss(L, fake.requires_grad_(True), real)
    value.backward()
    assert value.item() > 0 and torch.isfinite(fake.grad).all()


def test_build_perceptual_loss_vgg16_default_and_vgg19_from_pth(tmp_path):
    cfg = LossConfig()
    assert (cfg.perceptual_net, cfg.feature_layer()) == ("vgg16", "relu4_3")  # layer 4 of VGG16
    assert (cfg.lambda_l1, cfg.lambda_gan, cfg.lambda_perceptual) == (1.0, 1.0, 1.0)
    vgg16 = build_perceptual_loss(LossConfig(perceptual_pretrained=False))
    assert vgg16.features.name == "vgg16" and vgg16.features.layers == ("relu4_3",)

    torch.manual_seed(0)
    pth = tmp_path / "vgg19.pth"
    reference = backbones.vgg19(None, layers=("relu4_4",))
    torch.save({f"features.{k}": v for k, v in reference.features.state_dict().items()}, pth)
    loss = build_perceptual_loss(LossConfig(perceptual_net="vgg19", vgg19_path=str(pth)))
    assert loss.features.name == "vgg19" and loss.features.layers == ("relu4_4",)  # its layer 4
    named = LossConfig(perceptual_net="vgg19", vgg19_path=str(pth), perceptual_layer="relu4_3")
    assert build_perceptual_loss(named).features.layers == ("relu4_3",)  # the layer named
    w = loss.features.features[0].weight
    assert torch.equal(w, reference.features[0].weight)


def test_vgg19_without_path_is_a_config_error():
    cfg = TrainConfig()
    cfg.data.train = "x.jsonl"
    cfg.loss.perceptual_net = "vgg19"
    with pytest.raises(ConfigError, match="vgg19_path"):
        cfg.validate()
