"""The interface every text encoder implements (``tic.text`` lists the encoders).

Its own module so that encoders in other modules (``tic.text_minilm``) and the registry in
``tic.text`` can both import it without importing each other in a circle.
"""

from __future__ import annotations

import abc
from pathlib import Path

from torch import Tensor

from tic.config import TextEncoderConfig


class TextEncoder(abc.ABC):
    """Interface shared by all text encoders: texts -> sentence vectors ``(B, dim)``."""

    kind: str
    dim: int

    @abc.abstractmethod
    def encode(self, texts: list[str]) -> Tensor:
        """``texts`` (B strings) -> float32 ``(B, dim)`` on the CPU."""

    @abc.abstractmethod
    def save(self, folder: str | Path) -> None:
        """Write the encoder's assets into a model folder (may write nothing)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, folder: str | Path | None, cfg: TextEncoderConfig) -> TextEncoder:
        """Rebuild the encoder from a model folder written by ``save``."""

    @classmethod
    @abc.abstractmethod
    def vector_dim(cls, cfg: TextEncoderConfig) -> int:
        """The size ``dim`` of the vectors the encoder ``cfg`` makes, known without building it."""
