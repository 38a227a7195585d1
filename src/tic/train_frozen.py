"""Training a generator on a frozen pretrained encoder (``model.architecture: encoder_unet``).

Not the paper's recipe (that is ``tic.train``: a scratch U-Net, GAN and perceptual losses). Here
the image encoder is ImageNet MobileNetV2 and stays frozen, so its features depend only on the gray
image: they are computed once per fixed training view (``tic.data.views``) and kept in memory
(float16), and a step runs the decoder only. What changes from step to step is the colour: scene
objects are repainted and re-captioned on the fly, texts are sometimes emptied.

Per step: draw a batch of views with fresh colours -> text features -> decoder ->
``loss = lambda_l1 * loss_l1 + lambda_bins * loss_bins + lambda_objects * loss_objects +
lambda_hints * loss_hints + lambda_palette * loss_palette`` (smooth-L1 on the regression head's ab, cross-entropy of the bins head
against the soft-encoded true ab, ECCV16, both optionally weighted up on the objects the caption
names, ``loss.object_weight``; binary cross-entropy of the object head against the scenes' object
masks; smooth-L1 of the decoded colours with point hints drawn from the truth spread over them by
the hint module, ``draw_hints``; cross-entropy of the bins head leaned by the palette module
towards each photo's own leading colours, ``palette_loss``) -> Adam step -> log, evaluate, save. No discriminator: at
CPU budgets the GAN term measured as noise in the paper recipe's ablations, and the bins head is
the answer to regression's dull colours here.

Run folder: as ``tic.train`` (``config.yaml``, ``losses.jsonl`` and ``tb/`` through
``tic.training.RunLog``, ``checkpoints/step-N/`` = model folder + ``training_state.pt``,
``model/``); texts through ``tic.training.TextCache``, ``init_from`` by
``tic.checkpoint.init_from``, as there. The batch of step ``n`` depends only on
``(seed, n)``, so a resumed run draws exactly what an uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tic import ab_bins, grounding
from tic.backbones import load_pretrained_encoder
from tic.checkpoint import (
    checkpoint_to_resume,
    init_from,
    load_checkpoint,
    save_checkpoint,
    save_model_folder,
    truncate_log,
)
from tic.color import AB_SCALE
from tic.data.views import ViewSet, batch_targets, draw
from tic.decoding import ab_from_heads, bins_ab, grounding_hint
from tic.errors import TicError
from tic.models import build_generator
from tic.text import TextEncoder
from tic.train_config import TrainConfig, save_train_config
from tic.training import RunLog, TextCache, ab_l1

log = logging.getLogger("tic")

FEATURE_CHUNK = 32  # views per encoder pass when the features are cached
FEATURE_VERSION = b"eval-bn"  # part of the cache's hash: caches made another way are redone
HINT_STOP = 1 / 8  # points per picture: geometric (Zhang et al. 2017 draw them so), at least one
HINT_MOST = 32  # and at most this many (tic.hints.MAX_HINTS)


@dataclass
class FrozenResult:
    step: int
    stopped_early: bool
    losses: dict
    generator: torch.nn.Module


@torch.inference_mode()
def cache_features(G, L: Tensor) -> list[Tensor]:
    """The frozen encoder's features of every view, float16, deepest first.

    The encoder runs in eval mode, as at inference: its BatchNorm layers use (and keep) the
    ImageNet statistics. (In train mode they would normalise by each chunk's own statistics and
    overwrite the stored ones, so training would see other features than inference.)
    """
    was_training = G.encoder.training
    G.encoder.eval()
    try:
        parts: list[list[Tensor]] = []
        for start in range(0, L.shape[0], FEATURE_CHUNK):
            parts.append([f.half() for f in G.encode(L[start : start + FEATURE_CHUNK])])
    finally:
        G.encoder.train(was_training)
    return [torch.cat(level) for level in zip(*parts, strict=True)]


def _cached_features(path: Path, G, L: Tensor) -> list[Tensor]:
    """``cache_features``, kept in the run folder so that a resumed run skips the encoder pass;
    reused only when the views' gray images are the same (their hash is stored with them)."""
    from safetensors.torch import load_file, save_file

    # the views' gray images and the way features are made (eval-mode encoder since 2026-11-30)
    digest = hashlib.sha1(L.numpy().tobytes() + FEATURE_VERSION).hexdigest()
    if path.is_file():
        try:
            stored = load_file(str(path))
            if stored.pop("__hash__").numpy().tobytes().decode() == digest:
                return [stored[f"level{i}"] for i in range(len(stored))]
        except (OSError, KeyError, ValueError):
            pass
        log.info("%s: made for other views; computing the features again", path)
    feats = cache_features(G, L)
    state = {f"level{i}": f.contiguous() for i, f in enumerate(feats)}
    state["__hash__"] = torch.frombuffer(bytearray(digest.encode()), dtype=torch.uint8)
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)
    return feats


def decode(G, feats, text, cfg: TrainConfig):
    """The decoder's ``(ab, logits)`` at 1/4 for the text inputs ``text`` (``TextCache.batch``),
    with a grounding model's hint made as at inference (``tic.decoding.grounding_hint``)."""
    hint = None
    if len(text) > 3:
        hint = grounding_hint(feats, *text[3:], cfg.model.decoding.person_nouns)
    return G.decode(feats, *text[:3], hint)


def draw_hints(target: Tensor, rng: np.random.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Point hints from the truth ``target`` ``(B, 2, h, w)`` (normalised ab at 1/4): per picture
    a geometric number of points (``HINT_STOP``, 1 to ``HINT_MOST``), each a square of 1 or 2
    cells (4 or 8 pixels of the working size) at a uniform place, its colour the square's mean ->
    ``yx (B, N, 2)`` (the square's centre as fractions), ``ab (B, N, 2)``, ``valid (B, N)``."""
    B, _, h, w = target.shape
    counts = np.minimum(rng.geometric(HINT_STOP, size=B), HINT_MOST)
    N = int(counts.max())
    yx, ab = torch.zeros(B, N, 2), torch.zeros(B, N, 2)
    valid = torch.zeros(B, N, dtype=torch.bool)
    for b, n in enumerate(counts):
        for k in range(int(n)):
            size = int(rng.integers(1, 3))
            y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
            ab[b, k] = target[b, :, y : y + size, x : x + size].mean((1, 2))
            yx[b, k] = torch.tensor([(y + size / 2) / h, (x + size / 2) / w])
            valid[b, k] = True
    return yx, ab, valid


def losses_for(
    G, feats, text, target: Tensor, cfg: TrainConfig, bin_weights: Tensor | None = None,
    pixel_weights: Tensor | None = None, foreground: tuple[Tensor, Tensor, Tensor] | None = None,
    hints: tuple[Tensor, Tensor, Tensor] | None = None, L: Tensor | None = None,
) -> dict[str, Tensor]:
    """``loss_l1`` (smooth-L1, regression head) and ``loss_bins`` (cross-entropy, bins head;
    each pixel weighted by ``bin_weights`` of its nearest true bin when given: rebalancing),
    each a mean over pixels weighted by ``pixel_weights`` ``(B, h, w)`` when given, both left
    out (the decoder not run) when ``loss.lambda_l1`` and ``loss.lambda_bins`` are 0;
    with ``foreground`` (``_foreground``: the union of each view's object masks ``(B, h, w)``,
    which views have masks ``(B,)`` and the pixels' weights ``(B, h, w)``) and
    ``loss.lambda_objects``, ``loss_objects`` (binary cross-entropy of the object head, the
    weighted mean over each view's pixels, averaged over the views with masks); with ``hints``
    (``draw_hints``), ``L`` (the views' gray input) and ``loss.lambda_hints``, ``loss_hints``
    (smooth-L1 of the hint module's output against the truth; the decoder runs in eval mode
    without gradients, as at inference: only the hint module learns)."""
    out: dict[str, Tensor] = {}
    if cfg.loss.lambda_l1 or cfg.loss.lambda_bins:
        ab, logits = decode(G, feats, text, cfg)
        l1 = F.smooth_l1_loss(ab, target, beta=0.05, reduction="none").mean(1)  # (B, h, w)
        soft = ab_bins.soft_encode(target * AB_SCALE, G.bin_centers)
        ce = -(soft * F.log_softmax(logits.float(), dim=1)).sum(1)  # (B, h, w)
        if bin_weights is not None:
            ce = ce * bin_weights[soft.argmax(1)]
        if pixel_weights is None:
            loss_l1, loss_bins = l1.mean(), ce.mean()
        else:  # a weighted mean: the same scale as the plain one
            loss_l1 = (l1 * pixel_weights).sum() / pixel_weights.sum()
            loss_bins = (ce * pixel_weights).sum() / pixel_weights.sum()
        out.update(loss_l1=loss_l1, loss_bins=loss_bins)
    if foreground is not None and cfg.loss.lambda_objects:
        fg, has, weight = foreground
        logit = G.object_logits(feats)[:, 0].float()  # (B, h, w)
        bce = F.binary_cross_entropy_with_logits(logit, fg, weight, reduction="none")
        bce = bce.sum((1, 2)) / weight.sum((1, 2))
        out["loss_objects"] = (bce * has).sum() / has.sum().clamp_min(1)
    hinted = hints is not None and cfg.loss.lambda_hints
    if cfg.loss.lambda_palette or hinted:  # modules trained on the decoder as it is
        ab, logits = frozen_decode(G, feats, text, cfg)
    if cfg.loss.lambda_palette:
        out["loss_palette"] = palette_loss(G, feats, text, target, L, logits)
    if hinted:
        kind, obj_ab = (text[5], text[4]) if len(text) > 3 else (None, None)
        with torch.no_grad():
            auto = ab_from_heads(cfg.model.decoding, G.bin_centers, ab, logits, kind, obj_ab)
        spread = G.spread(feats, L, auto, *hints)
        out["loss_hints"] = F.smooth_l1_loss(spread, target, beta=0.05)
    return out


def frozen_decode(G, feats, text, cfg: TrainConfig) -> tuple[Tensor, Tensor]:
    """The decoder's ``(ab, logits)`` as at inference, for the modules trained on top of it: in
    eval mode (its BatchNorm statistics stay as they were) and without gradients."""
    with torch.no_grad():
        G.eval()
        out = decode(G, feats, text, cfg)
        G.train()
    return out


def palette_loss(G, feats, text, target: Tensor, L: Tensor, logits: Tensor) -> Tensor:
    """The bins head's cross-entropy against the truth ``target`` after ``PaletteHint`` leaned
    its ``logits`` (``frozen_decode``'s) towards each view's palette (its text's ``PALETTE``
    phrases: a photo crop's caption names its own leading colours), over the views that have
    one; only the palette module learns. Zero when no view has a palette."""
    kind, obj_ab = text[5], text[4]
    valid = kind == grounding.PALETTE
    has = valid.any(1)
    if not has.any():
        return target.new_zeros(())
    logits = G.lean([f[has] for f in feats], L[has], logits[has], obj_ab[has], valid[has])
    soft = ab_bins.soft_encode(target[has] * AB_SCALE, G.bin_centers)
    return -(soft * F.log_softmax(logits, dim=1)).sum(1).mean()


def _foreground(views, idx: np.ndarray, size, background_weight: float = 1.0
                ) -> tuple[Tensor, Tensor, Tensor]:
    """The union of each view's object masks ``(B, h, w)`` float, whether it has any ``(B,)``
    (a photo's objects have no masks: it does not count) and the pixels' weights ``(B, h, w)``:
    ``background_weight`` on the background of a scene on a photo crop (it may show unmasked
    objects), 1 elsewhere."""
    masks = [views.masks[int(i)] for i in idx]
    fg = torch.from_numpy(np.stack([m.any(0) if len(m) else np.zeros(size, dtype=bool)
                                    for m in masks])).float()
    has = torch.tensor([len(m) > 0 for m in masks], dtype=torch.float32)
    photo = torch.tensor([not views.plain[int(i)] for i in idx])[:, None, None]
    weight = torch.where(photo & (fg == 0), background_weight, 1.0)
    return fg, has, weight


def _object_weights(objects: list[list[tuple[str, np.ndarray]]], weight: float, size) -> Tensor:
    """Per drawn view its named objects ``(label, mask)`` -> pixel weights ``(B, h, w)``: ``1 +
    weight`` on the objects, 1 elsewhere."""
    named = [np.any([m for _, m in objs], axis=0) if objs else np.zeros(size, dtype=bool)
             for objs in objects]
    return 1 + weight * torch.from_numpy(np.stack(named)).float()


@torch.inference_mode()
def validate(G, feats, texts: list[str], target: Tensor, text_cache: TextCache,
             cfg: TrainConfig) -> dict:
    """Held-out ab L1 (normalised units, ``tic.training.ab_l1``) of both heads at 1/4:
    regression, and bins at ``decoding.bins_temperature``."""
    G.eval()
    l1_reg, l1_bins = [], []
    for start in range(0, len(texts), 32):
        sl = slice(start, start + 32)
        f = [x[sl].float() for x in feats]
        ab, logits = decode(G, f, text_cache.batch(texts[sl]), cfg)
        bins = bins_ab(cfg.model.decoding, G.bin_centers, logits)
        l1_reg.append(ab_l1(ab, target[sl]))
        l1_bins.append(ab_l1(bins, target[sl]))
    G.train()
    return {"val_l1_regression": torch.cat(l1_reg).mean().item(),
            "val_l1_bins": torch.cat(l1_bins).mean().item()}


def train_frozen(
    cfg: TrainConfig,
    run_dir: str | Path,
    views: ViewSet,
    text_encoder: TextEncoder,
    val_views: ViewSet | None = None,
    resume: bool = False,
    progress: bool = True,
) -> FrozenResult:
    """Train the decoder of ``cfg.model``'s generator on ``views`` (see the module docstring)."""
    from tqdm import tqdm

    if cfg.model.architecture != "encoder_unet" or not cfg.model.encoder_unet.encoder_frozen:
        raise TicError("train_frozen needs a generator with a frozen pretrained encoder")
    run = Path(run_dir)
    ckpt = checkpoint_to_resume(run, resume)
    torch.set_flush_denormal(True)
    torch.manual_seed(cfg.seed)
    G = load_pretrained_encoder(build_generator(cfg.model))
    params = [p for p in G.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.optim.lr, betas=(cfg.optim.beta1, cfg.optim.beta2))
    step = 0
    if ckpt is not None:
        step = load_checkpoint(ckpt, G, None, opt, None)
        log.info("resuming %s from step %d", ckpt, step)
    elif cfg.init_from:
        init_from(Path(cfg.init_from), G)
    save_train_config(cfg, run / "config.yaml")
    truncate_log(run / "losses.jsonl", step)

    t0 = time.time()
    feats = _cached_features(run / "features.safetensors", G, views.L)
    val = None
    if val_views is not None:
        val_feats = cache_features(G, val_views.L)
        val_target = batch_targets(list(val_views.rgb))
        val = (val_feats, [t or "" for t in val_views.texts], val_target)
    log.info("encoder features of %d views cached in %.0f s (%.2f GB)", len(views),
             time.time() - t0, sum(f.numel() * 2 for f in feats) / 1e9)
    text_cache = TextCache(text_encoder, cfg.model)
    bin_weights = None
    if cfg.loss.rebalance < 1:
        ab = batch_targets(list(views.rgb)).permute(0, 2, 3, 1).reshape(-1, 2) * AB_SCALE
        bin_weights = ab_bins.rebalance_weights(ab, G.bin_centers, cfg.loss.rebalance)
        log.info("rebalancing: bin weights %.2f..%.2f", bin_weights.min(), bin_weights.max())
    # an object head trained alone reads no text: MiniLM would be most of its step's time
    reads_text = bool(cfg.loss.lambda_l1 or cfg.loss.lambda_bins or cfg.loss.lambda_hints
                      or cfg.loss.lambda_palette)
    run_log = RunLog(run)
    G.train()
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, unit="step")
    losses: dict = {}
    try:
        while step < cfg.steps:
            rng = np.random.default_rng([cfg.seed, step])
            idx = rng.integers(len(views), size=cfg.batch_size)
            drawn = [draw(views, int(i), rng, cfg.data.recolor_prob, cfg.data.empty_text_prob,
                          paint_empty=cfg.data.paint_empty, empty_scenes=cfg.data.empty_scenes)
                      for i in idx]
            target = batch_targets([d[0] for d in drawn])  # (B, 2, s, s) in [-1, 1]
            texts = [d[1] for d in drawn]
            text = text_cache.batch(texts) if reads_text else None
            batch_feats = [f[torch.from_numpy(idx)].float() for f in feats]
            pixel_weights = None
            if cfg.loss.object_weight:
                pixel_weights = _object_weights([d[2] for d in drawn], cfg.loss.object_weight,
                                                target.shape[-2:])
            foreground = (_foreground(views, idx, target.shape[-2:],
                                      cfg.loss.object_background_weight)
                          if cfg.loss.lambda_objects else None)
            hints = draw_hints(target, rng) if cfg.loss.lambda_hints else None
            reads_L = cfg.loss.lambda_hints or cfg.loss.lambda_palette
            L = views.L[torch.from_numpy(idx)] if reads_L else None
            out = losses_for(G, batch_feats, text, target, cfg, bin_weights, pixel_weights,
                             foreground, hints, L)
            loss = (cfg.loss.lambda_l1 * out.get("loss_l1", 0)
                    + cfg.loss.lambda_bins * out.get("loss_bins", 0)
                    + cfg.loss.lambda_objects * out.get("loss_objects", 0)
                    + cfg.loss.lambda_hints * out.get("loss_hints", 0)
                    + cfg.loss.lambda_palette * out.get("loss_palette", 0))
            if not torch.isfinite(loss):
                raise TicError(f"step {step + 1}: non-finite loss (lower optim.lr)")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            bar.update(1)

            if step % cfg.log_every == 0 or step == cfg.steps:
                losses = {k: round(v.item(), 5) for k, v in out.items()}
                bar.set_postfix({k[5:]: f"{v:.3f}" for k, v in losses.items()})
                run_log.scalars(step, losses)
            if val is not None and (step % cfg.eval_every == 0 or step == cfg.steps):
                run_log.scalars(step, validate(G, val[0], val[1], val[2], text_cache, cfg))
            if step % cfg.save_every == 0 or step == cfg.steps:
                save_checkpoint(run, step, G, None, opt, None, text_encoder, cfg)
    except KeyboardInterrupt:
        log.warning("interrupted at step %d; writing a checkpoint", step)
        save_checkpoint(run, step, G, None, opt, None, text_encoder, cfg)
    finally:
        bar.close()
        run_log.close()
    if step >= cfg.steps:
        save_model_folder(run / "model", G, text_encoder, cfg.model)
    return FrozenResult(step, step < cfg.steps, losses, G)
