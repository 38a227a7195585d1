"""The networks: generators (text-conditioned U-Nets) and ``PatchDiscriminator``.

``build_generator(cfg)`` picks the generator by ``cfg.encoder``: ``scratch`` is the paper's U-Net
(``Generator``), ``mobilenet_v2`` the U-Net on a pretrained ImageNet encoder (``EncoderUNet``; its
encoder weights are filled in by ``tic.backbones.load_pretrained_encoder``).
"""

from torch import nn

from tic.config import GeneratorConfig
from tic.models.discriminator import PatchDiscriminator
from tic.models.encoder_unet import EncoderUNet
from tic.models.generator import Generator
from tic.models.grounding_head import GroundingHead
from tic.models.object_head import InstanceHead, ObjectHead

GENERATORS = {"scratch": Generator, "mobilenet_v2": EncoderUNet}


def build_generator(cfg: GeneratorConfig) -> nn.Module:
    """The generator ``cfg.encoder`` names, with random weights."""
    return GENERATORS[cfg.encoder](cfg)


__all__ = ["EncoderUNet", "Generator", "GroundingHead", "InstanceHead", "ObjectHead",
           "PatchDiscriminator", "build_generator", "GENERATORS"]
