"""The paper's losses (Sec. 3.3): L1 on ab, BCE GAN on the PatchGAN's averaged map, perceptual L1.

- ``loss_l1 = |fake_ab - real_ab|`` averaged (Eq. 1), on the normalised ab in [-1, 1].
- ``gan_loss_g(fake_score) = BCE(D(L, fake_ab), 1)`` (Eq. 2) and
  ``gan_loss_d(real_score, fake_score) = BCE(D(L, real_ab), 1) + BCE(D(L, fake_ab), 0)``, where a
  score is the discriminator's patch logits averaged to one logit per image, ``(B,)``
  (``PatchDiscriminator.score``).
- ``PerceptualLoss``: mean L1 between the features of the RGB images rebuilt from ``(L, fake_ab)``
  and ``(L, real_ab)`` through ``tic.color.model_lab_to_rgb`` (Eq. 3). The feature network is passed
  in (``tic.backbones.vgg16(("relu4_3",))`` by default, see ``build_perceptual_loss``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tic.color import model_lab_to_rgb


def l1_loss(fake_ab: Tensor, real_ab: Tensor) -> Tensor:
    """Mean absolute error between ``(B, 2, H, W)`` ab tensors (Eq. 1)."""
    return F.l1_loss(fake_ab.float(), real_ab.float())


def gan_loss_g(fake_score: Tensor) -> Tensor:
    """Generator's adversarial loss: BCE of the fake scores ``(B,)`` (logits) against 1 (Eq. 2)."""
    fake_score = fake_score.float()
    return F.binary_cross_entropy_with_logits(fake_score, torch.ones_like(fake_score))


def gan_loss_d(real_score: Tensor, fake_score: Tensor) -> Tensor:
    """Discriminator's loss: BCE(real, 1) + BCE(fake, 0) on scores ``(B,)`` (logits)."""
    real_score, fake_score = real_score.float(), fake_score.float()
    return F.binary_cross_entropy_with_logits(
        real_score, torch.ones_like(real_score)
    ) + F.binary_cross_entropy_with_logits(fake_score, torch.zeros_like(fake_score))


class PerceptualLoss(nn.Module):
    """``forward(L, fake_ab, real_ab) -> scalar``: mean L1 of ``features`` on the two RGB images.

    - ``L``: ``(B, 1, H, W)``, ``fake_ab`` / ``real_ab``: ``(B, 2, H, W)``, all in [-1, 1].
    - ``features``: a frozen module mapping sRGB ``(B, 3, H, W)`` in [0, 1] to a list of feature
      maps (``tic.backbones.Backbone``); with several maps the per-map means are summed.
    - ``size`` > 0: both RGB images are resized (bilinear, antialiased) to ``size x size`` first,
      which cuts the feature network's cost by ``(H / size)^2``.

    The RGB images are rebuilt in float32 (the Lab -> sRGB power curves are not bf16 material); the
    feature network then runs under whatever autocast is active. The target's features need no
    gradient and are computed without one.
    """

    def __init__(self, features: nn.Module, size: int = 0):
        super().__init__()
        self.features = features
        self.size = size

    def _rgb(self, L: Tensor, ab: Tensor) -> Tensor:
        with torch.autocast(L.device.type, enabled=False):
            rgb = model_lab_to_rgb(L.float(), ab.float())  # (B, 3, H, W) in [0, 1]
            if self.size and self.size != rgb.shape[-1]:
                rgb = F.interpolate(
                    rgb, size=(self.size, self.size), mode="bilinear", antialias=True,
                    align_corners=False,
                )
        return rgb.contiguous(memory_format=torch.channels_last)

    def forward(self, L: Tensor, fake_ab: Tensor, real_ab: Tensor) -> Tensor:
        with torch.no_grad():
            real_feats = self.features(self._rgb(L, real_ab))
        fake_feats = self.features(self._rgb(L, fake_ab))
        loss = fake_feats[0].new_zeros((), dtype=torch.float32)
        for f, r in zip(fake_feats, real_feats, strict=True):
            loss = loss + F.l1_loss(f.float(), r.float())
        return loss


def build_perceptual_loss(cfg) -> PerceptualLoss:
    """The perceptual loss a ``LossConfig`` asks for (VGG16 shipped weights, or a user's VGG19)."""
    from tic import backbones

    layer = cfg.feature_layer()  # the layer named, else the network's layer 4
    if cfg.perceptual_net == "vgg19":
        features = backbones.vgg19(cfg.vgg19_path, layers=(layer,))
    else:
        features = backbones.vgg16(layers=(layer,), pretrained=cfg.perceptual_pretrained)
    return PerceptualLoss(features, size=cfg.perceptual_size)
