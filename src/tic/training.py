"""What both training loops share (``tic.train``, the paper's GAN recipe, and ``tic.train_frozen``,
the frozen-encoder recipe): the text cache, the run log and the held-out error.

Starting from another run's weights (``TrainConfig.init_from``) is ``tic.checkpoint.init_from``'s,
the run folder's files (checkpoints, model folder, resuming) ``tic.checkpoint``'s.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import torch
from torch import Tensor

from tic.pipeline import encode_text
from tic.text import TextEncoder


def ablate_texts(texts: list[str], mode: str, seed: int) -> list[str]:
    """``data.text``: ``keep`` the texts, make every one ``empty``, or ``shuffle`` them across
    records (seeded): the text ablation of the paper."""
    if mode == "empty":
        return [""] * len(texts)
    if mode == "shuffle":
        texts = list(texts)
        random.Random(seed).shuffle(texts)
    return list(texts)


def _pad(rows: list[Tensor]) -> Tensor:
    """Tensors ``(n_i, ...)`` -> ``(B, max n_i, ...)``, zero-padded."""
    out = torch.zeros(len(rows), max(r.shape[0] for r in rows), *rows[0].shape[1:],
                      dtype=rows[0].dtype)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    return out


class TextCache:
    """The generator's text inputs (``tic.pipeline.encode_text``) by text, encoded once.

    Per text: the sentence vector, and when the model has them its tokens and token mask and
    its colour-naming phrases (weights, ab, kind), each stored without padding.
    """

    def __init__(self, encoder: TextEncoder, model_cfg, limit: int = 50_000):
        self.encoder, self.model_cfg, self.limit = encoder, model_cfg, limit
        self.cache: dict[str, tuple] = {}

    def _store(self, texts: list[str]) -> None:
        out = encode_text(self.encoder, texts, self.model_cfg)
        if len(self.cache) + len(texts) > self.limit:
            self.cache.clear()
        for i, t in enumerate(texts):
            row = [out[0][i]]
            if len(out) > 1:  # tokens and their mask: the first n are the text's
                n = int(out[2][i].sum()) if out[2] is not None else 0
                row += [None, None] if out[1] is None else [out[1][i, :n], out[2][i, :n]]
            if len(out) > 3:  # phrases: the first p are the text's
                p = int((out[5][i] > 0).sum())
                row += [out[3][i, :p], out[4][i, :p], out[5][i, :p]]
            self.cache[t] = tuple(row)

    def batch(self, texts: list[str]) -> tuple[Tensor | None, ...]:
        """The text inputs of ``texts``, batched as ``encode_text`` gives them."""
        # one text per encoder call: a text's features must not depend on what it was batched
        # with (padding changes float sums slightly), so a resumed run repeats an unbroken one
        for text in sorted(set(texts) - self.cache.keys()):
            self._store([text])
        rows = [self.cache[t] for t in texts]
        out = [torch.stack([r[0] for r in rows])]
        for k in range(1, len(rows[0])):
            out.append(None if rows[0][k] is None else _pad([r[k] for r in rows]))
        return tuple(out)


class RunLog:
    """A run's scalars: one JSON line per logged step in ``RUN/losses.jsonl`` (``{"step", ...,
    "time"}``) and, with ``tensorboard``, TensorBoard scalars in ``RUN/tb/`` (``writer``, also
    used for image grids). Held-out values are named ``val_*``; training losses go to TensorBoard
    under ``train/``."""

    def __init__(self, run: Path, tensorboard: bool = True):
        self.path = run / "losses.jsonl"
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run / "tb"))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k if k.startswith("val") else f"train/{k}", v, step)
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **values, "time": round(time.time(), 3)}) + "\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def ab_l1(fake_ab: Tensor, real_ab: Tensor) -> Tensor:
    """The held-out error both loops report: mean |fake_ab - real_ab| (normalised ab) per image,
    ``(B,)``, for ``(B, 2, h, w)`` tensors of the same size."""
    return (fake_ab.float() - real_ab.float()).abs().mean(dim=(1, 2, 3))
