"""The networks: ``Generator`` (text-conditioned U-Net) and ``PatchDiscriminator``."""

from tic.models.discriminator import PatchDiscriminator
from tic.models.generator import Generator

__all__ = ["Generator", "PatchDiscriminator"]
