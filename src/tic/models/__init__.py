"""The networks: generators (text-conditioned U-Nets) and ``PatchDiscriminator``.

``build_generator(cfg)`` builds the network ``cfg.architecture`` names: ``unet`` is the paper's
U-Net (``Generator``), ``encoder_unet`` the U-Net on a pretrained ImageNet encoder
(``EncoderUNet``; its encoder weights are filled in by ``tic.backbones.load_pretrained_encoder``).
"""

from torch import nn

from tic.config import ModelConfig
from tic.models.discriminator import PatchDiscriminator
from tic.models.encoder_unet import EncoderUNet
from tic.models.generator import Generator
from tic.models.hint_spread import HintSpread
from tic.models.object_head import ObjectHead
from tic.models.palette_hint import PaletteHint

GENERATORS = {"unet": Generator, "encoder_unet": EncoderUNet}


def build_generator(cfg: ModelConfig) -> nn.Module:
    """The network ``cfg.architecture`` names, built from its section, with random weights."""
    return GENERATORS[cfg.architecture](cfg.generator)


__all__ = ["EncoderUNet", "Generator", "HintSpread", "ObjectHead", "PaletteHint",
           "PatchDiscriminator", "build_generator", "GENERATORS"]
