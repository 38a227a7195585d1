"""Text encoders: a list of texts -> sentence vectors ``(B, D)``.

Every encoder shares one interface (``tic.text_base.TextEncoder``): ``encode(texts) -> (B, dim)``,
``save(dir)`` into a model folder and ``load(dir, cfg)`` back. ``fit_text_encoder`` and
``load_text_encoder`` pick one from a ``TextEncoderConfig`` through a small dict literal
(``ENCODERS``).

The size of the vectors follows from the encoder's config (``text_vector_dim``: word2vec's ``dim``,
384 + 11 per colour slot for MiniLM); the generator's text input takes that size
(``with_text_dims``), so it is derived, never set on its own.

``Word2VecEncoder`` is the paper's: gensim Word2Vec (256-d) fitted on the training texts; the
sentence vector is the mean of the vectors of the words it knows (with ``color_synonyms``,
colour words are first mapped to their basic term: crimson -> red). Unknown words are counted
(``unknown_words``) and reported through the ``tic`` logger, never dropped silently. The empty text
(or a text with no known word) is the zero vector.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from torch import Tensor

from tic.color_names import SYNONYMS
from tic.config import ModelConfig, TextEncoderConfig
from tic.text_base import TextEncoder
from tic.text_minilm import MiniLMEncoder

log = logging.getLogger("tic")

# Words are runs of letters/digits in any script; underscores and hyphens split words, so CUB
# attribute text such as "breast_color red" gives ["breast", "color", "red"].
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text``; punctuation, underscores and hyphens separate words."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


class Word2VecEncoder(TextEncoder):
    """The paper's encoder: the mean of word2vec vectors of the words of a text.

    Build one with ``fit(texts, cfg)``; assets are ``text_encoder.safetensors`` (the vectors) and
    ``text_encoder_vocab.json`` (the words, in row order), so loading needs neither gensim nor
    pickle.
    """

    kind = "word2vec"
    VECTORS = "text_encoder.safetensors"
    VOCAB = "text_encoder_vocab.json"

    def __init__(self, words: list[str], vectors: np.ndarray, color_synonyms: bool = False):
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"{len(words)} words but vectors of shape {vectors.shape}")
        self.synonyms: dict[str, str] = {}
        if color_synonyms:
            self.synonyms = dict(SYNONYMS)
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.vectors = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        self.dim = int(vectors.shape[1])
        self.unknown_words: Counter[str] = Counter()

    @classmethod
    def fit(cls, texts: list[str], cfg: TextEncoderConfig) -> Word2VecEncoder:
        """Fit word2vec on ``texts`` (deterministic for a given ``cfg.seed``)."""
        from gensim.models import Word2Vec  # only needed for fitting

        synonyms = cls([], np.zeros((0, cfg.dim)), cfg.color_synonyms).synonyms
        sentences = [[synonyms.get(w, w) for w in tokenize(t)] for t in texts]
        sentences = [s for s in sentences if s]
        if not sentences:
            raise ValueError("cannot fit word2vec: the texts contain no words")
        model = Word2Vec(
            sentences=sentences,
            vector_size=cfg.dim,
            window=cfg.window,
            min_count=cfg.min_count,
            epochs=cfg.epochs,
            seed=cfg.seed,
            workers=1,  # more than one worker makes gensim non-deterministic
            sg=1,
        )
        words = list(model.wv.index_to_key)
        vectors = model.wv.vectors[[model.wv.key_to_index[w] for w in words]]
        return cls(words, vectors, cfg.color_synonyms)

    def encode(self, texts: list[str]) -> Tensor:
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not a single str")
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            ids, unknown = [], []
            for w in tokenize(text):
                w = self.synonyms.get(w, w)
                if w in self.index:
                    ids.append(self.index[w])
                else:
                    unknown.append(w)
            if unknown:
                self.unknown_words.update(unknown)
                log.warning(
                    "text %r: %d unknown word(s) ignored: %s",
                    _short(text),
                    len(unknown),
                    ", ".join(sorted(set(unknown))[:10]),
                )
            if ids:
                out[i] = self.vectors[ids].mean(0)
        return out

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        save_file({"vectors": self.vectors.numpy()}, str(folder / self.VECTORS))
        (folder / self.VOCAB).write_text(json.dumps(self.words, ensure_ascii=False))

    @classmethod
    def load(cls, folder: str | Path, cfg: TextEncoderConfig) -> Word2VecEncoder:
        folder = Path(folder)
        for name in (cls.VECTORS, cls.VOCAB):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder}: text-encoder file {name} is missing")
        vectors = load_file(str(folder / cls.VECTORS))["vectors"]
        words = json.loads((folder / cls.VOCAB).read_text())
        enc = cls(words, vectors, cfg.color_synonyms)
        if enc.dim != cfg.dim:
            raise ValueError(f"{folder}: word vectors are {enc.dim}-d but config says {cfg.dim}")
        return enc

    @classmethod
    def vector_dim(cls, cfg: TextEncoderConfig) -> int:
        return cfg.dim


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


ENCODERS: dict[str, type[TextEncoder]] = {"word2vec": Word2VecEncoder, "minilm": MiniLMEncoder}


def load_text_encoder(folder: str | Path, cfg: TextEncoderConfig) -> TextEncoder:
    """Load the encoder ``cfg.kind`` from a model folder."""
    if cfg.kind not in ENCODERS:
        raise ValueError(f"unknown text encoder {cfg.kind!r}; choose from {sorted(ENCODERS)}")
    return ENCODERS[cfg.kind].load(folder, cfg)


def fit_text_encoder(texts: list[str], cfg: TextEncoderConfig) -> TextEncoder:
    """Build the encoder ``cfg.kind``, fitting it on ``texts`` where it learns from data."""
    if cfg.kind == "word2vec":
        return Word2VecEncoder.fit(texts, cfg)
    if cfg.kind not in ENCODERS:
        raise ValueError(f"unknown text encoder {cfg.kind!r}; choose from {sorted(ENCODERS)}")
    return ENCODERS[cfg.kind].load(None, cfg)  # pretrained encoders ignore the texts


def text_vector_dim(cfg: TextEncoderConfig) -> int:
    """The size of the sentence vectors of the encoder ``cfg`` (without building it)."""
    if cfg.kind not in ENCODERS:
        raise ValueError(f"unknown text encoder {cfg.kind!r}; choose from {sorted(ENCODERS)}")
    return ENCODERS[cfg.kind].vector_dim(cfg)


def with_text_dims(model: ModelConfig) -> ModelConfig:
    """A copy of ``model`` whose ``text_encoder.dim`` and its network's ``text_dim`` are the size
    of the vectors its text encoder makes (``text_vector_dim``), and an encoder U-Net's
    ``token_dim`` the size of its token features when it has cross-attention; ``model`` itself is
    not changed."""
    dim = text_vector_dim(model.text_encoder)
    text_encoder = replace(model.text_encoder, dim=dim)
    if model.architecture == "unet":
        return replace(model, text_encoder=text_encoder, unet=replace(model.unet, text_dim=dim))
    # token features for cross-attention (tic.models.EncoderUNet): only encoders that make them
    tokens = getattr(ENCODERS[model.text_encoder.kind], "TOKEN_DIM", 0)
    g = model.encoder_unet
    return replace(model, text_encoder=text_encoder, encoder_unet=replace(
        g, text_dim=dim, token_dim=tokens if g.cross_attention else 0))
