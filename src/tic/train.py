"""Training: the paper's GAN recipe, resumable, on one process or many (``torchrun``).

``train(cfg, run_dir, train_set, val_set, text_encoder)`` reads top to bottom: set up (G, D,
optimizers, maybe a checkpoint to resume), then per step: D step, G step, log, evaluate, save. The
data and the text encoder are passed in; ``prepare_run(cfg, run_dir)`` makes them from the config
(reads the manifests, fits the text encoder or loads the checkpoint's) for ``tic train``.

Run folder layout::

    RUN_DIR/config.yaml                     the resolved TrainConfig
    RUN_DIR/losses.jsonl                    one line per logged step (rank 0's losses)
    RUN_DIR/tb/                             TensorBoard scalars and image grids
    RUN_DIR/samples/step-00001000.png       the same image grids (gray | truth | output, texts)
    RUN_DIR/checkpoints/step-00001000/      a model folder (config.json, model.safetensors,
                                            text-encoder assets) + training_state.pt
    RUN_DIR/model/                          the final model folder

Checkpoints (format, atomic writing, ``keep_last``, resuming, ``init_from``) are ``tic.checkpoint``'s:
a resumed run continues exactly where the checkpoint was taken (bit-identical losses on CPU).

Distributed: under ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its shard of every epoch
(``DistributedSampler``), G and D are ``DistributedDataParallel`` (gradients averaged, BatchNorm
buffers broadcast from rank 0), and rank 0 alone logs, evaluates and saves (``tic.distributed``).
``batch_size`` is per process.
"""

from __future__ import annotations

import logging
import signal
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, DistributedSampler

from tic.checkpoint import (
    checkpoint_to_resume,
    init_from,
    load_checkpoint,
    save_checkpoint,
    save_model_folder,
    truncate_log,
)
from tic.color import model_lab_to_rgb
from tic.data.dataset import ColorizationDataset, batch_to_lab
from tic.data.manifest import read_manifest
from tic.device import autocast_bf16, use_bf16
from tic.distributed import (
    all_ranks_agree,
    barrier,
    broadcast_object,
    init_distributed,
    process_device,
)
from tic.errors import TicError
from tic.grid import image_grid, to_image
from tic.imageio import save_image
from tic.losses import build_perceptual_loss, gan_loss_d, gan_loss_g, l1_loss
from tic.models import Generator, PatchDiscriminator
from tic.text import TextEncoder, fit_text_encoder, load_text_encoder
from tic.train_config import TrainConfig, save_train_config
from tic.training import RunLog, TextCache, ab_l1, ablate_texts

log = logging.getLogger("tic")


@dataclass
class TrainResult:
    """What a call to ``train`` did: the last completed step, whether it was interrupted, the last
    checkpoint, the last logged losses, and the trained G and D (this process's copies)."""

    step: int
    interrupted: bool
    last_checkpoint: Path | None
    losses: dict[str, float]
    generator: nn.Module
    discriminator: nn.Module
    text_encoder: TextEncoder


class RunData(NamedTuple):
    """What ``train`` trains on: ``train(cfg, run_dir, *prepare_run(cfg, run_dir))``."""

    train_set: ColorizationDataset
    val_set: ColorizationDataset | None
    text_encoder: TextEncoder


def prepare_run(cfg: TrainConfig, run_dir: str | Path, resume: bool = False) -> RunData:
    """The data and text encoder ``cfg`` names: the manifests as datasets, and the text encoder
    fitted on the training texts (a pretrained one loaded), or the checkpoint's when resuming.

    Under torchrun, rank 0 fits the encoder and the others load its copy (fitting is not bit-stable
    across processes).
    """
    cfg.validate()
    run = Path(run_dir)
    rank, world = init_distributed()
    # errors about the run folder (not writable, nothing to resume) before the slow fitting
    ckpt = broadcast_object(checkpoint_to_resume(run, resume) if rank == 0 else None, world)
    records = read_manifest(cfg.data.train, split=cfg.data.split_train,
                            skip_missing=cfg.data.skip_missing)
    if not records:
        raise TicError(f"{cfg.data.train}: the training manifest has no records")
    train_set = ColorizationDataset(
        records, cfg.model.image_size, train=True, seed=cfg.seed,
        recolor_prob=cfg.data.recolor_prob,
    )
    val_set = None
    if cfg.data.val:
        val_records = read_manifest(
            cfg.data.val, split=cfg.data.split_val, skip_missing=cfg.data.skip_missing
        )
        if not val_records:
            raise TicError(f"{cfg.data.val}: the validation manifest has no records")
        val_set = ColorizationDataset(val_records, cfg.model.image_size, train=False)
    if ckpt is not None:
        return RunData(train_set, val_set, load_text_encoder(ckpt, cfg.model.text_encoder))
    shared = run / "text_encoder"
    if rank == 0:
        texts = [r.text for r in records]
        log.info(
            "fitting the %s text encoder on %d training texts",
            cfg.model.text_encoder.kind, len(texts),
        )
        logging.getLogger("gensim").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
        try:
            encoder = fit_text_encoder(texts, cfg.model.text_encoder)
        except ValueError as e:
            raise TicError(f"{cfg.data.train}: {e}") from None
        if world > 1:  # the other processes load rank 0's encoder
            shared.mkdir(exist_ok=True)
            encoder.save(shared)
    barrier(world)
    if rank != 0:
        encoder = load_text_encoder(shared, cfg.model.text_encoder)
    return RunData(train_set, val_set, encoder)


# --- the loop -----------------------------------------------------------------------------------


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    train_set: ColorizationDataset,
    val_set: ColorizationDataset | None,
    text_encoder: TextEncoder,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train G and D as ``cfg`` says on ``train_set`` (held-out error and pictures on ``val_set``),
    writing into ``run_dir``; ``resume`` continues its last checkpoint (with the checkpoint's text
    encoder, which ``prepare_run(..., resume=True)`` gives). Returns when ``cfg.steps`` are done or
    after Ctrl-C (a checkpoint is written first). ``cfg`` is not changed.
    """
    cfg.validate()
    if text_encoder.dim != cfg.model.generator.text_dim:
        raise TicError(
            f"the text encoder makes {text_encoder.dim}-d vectors but model.{cfg.model.architecture}"
            f".text_dim is {cfg.model.generator.text_dim} (load_train_config derives it from the "
            "encoder)"
        )
    run = Path(run_dir)
    rank, world = init_distributed()
    device = process_device(cfg.device)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    # Denormal floats (e.g. tiny BatchNorm variances, Adam moments) are ~100x slower on CPUs;
    # flushing them to zero made a tiny-model step 2.5x faster here.
    torch.set_flush_denormal(True)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format

    # --- set up: run folder, text vectors, models, optimizers ------------------------------------
    ckpt = broadcast_object(checkpoint_to_resume(run, resume) if rank == 0 else None, world)
    dataset = train_set
    texts = ablate_texts([r.text for r in dataset.records], cfg.data.text, cfg.seed)
    text_cache = TextCache(text_encoder, cfg.model)
    val = None
    if val_set is not None:
        val = val_set, ablate_texts([r.text for r in val_set.records], cfg.data.text, cfg.seed + 1)

    nets = build_nets(cfg, device)
    G, D = nets.G, nets.D
    step = 0
    if ckpt is not None:
        step = load_checkpoint(ckpt, G, D, nets.opt_g, nets.opt_d)
        log.info("resuming %s from step %d", ckpt, step)
    elif cfg.init_from:
        init_from(Path(cfg.init_from), G, D)
    if rank == 0:
        save_train_config(cfg, run / "config.yaml")
        truncate_log(run / "losses.jsonl", step)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        nets.G_ddp = DDP(G, device_ids=ids)
        # D runs twice (real, fake) before one backward: a static graph lets DDP allow that
        nets.D_ddp = DDP(D, device_ids=ids, static_graph=True)

    sampler = _ResumableSampler(dataset, world, rank, cfg.seed)
    batches_per_epoch = len(sampler) // cfg.batch_size
    if batches_per_epoch == 0:
        raise TicError(
            f"{cfg.data.train}: {len(dataset)} record(s) make no full batch of {cfg.batch_size} "
            f"per process ({world} process(es)); lower batch_size or add images"
        )
    autocast = autocast_for(cfg, device)
    run_log = RunLog(run) if rank == 0 else None
    bar = _progress(cfg, step, progress and rank == 0)
    stop = _StopFlag()
    last_ckpt = ckpt
    bad_steps = 0
    losses: dict[str, float] = {}
    log.info(
        "training %d steps from step %d on %s (%d process(es), batch %d each, %s, %d records)",
        cfg.steps, step, device, world, cfg.batch_size, cfg.precision, len(dataset),
    )
    try:
        for batch in _batches(dataset, sampler, cfg, step, batches_per_epoch, device):
            if step >= cfg.steps:
                break
            buffers = _snapshot_buffers(G, D)
            L, real_ab = batch_to_lab(batch["rgb"])  # (B,1,s,s), (B,2,s,s) in [-1, 1]
            L = L.contiguous(memory_format=fmt)
            real_ab = real_ab.contiguous(memory_format=fmt)
            text_emb = text_cache.batch(_batch_texts(batch, texts))[0].to(device)  # (B, D)

            out = train_step(nets, cfg, L, real_ab, text_emb, step, autocast, world)
            if out is None:  # skip the step: weights untouched, BatchNorm statistics restored
                _restore_buffers(G, D, buffers)
                bad_steps += 1
                log.warning(
                    "step %d: non-finite loss, step skipped (%d in a row)", step + 1, bad_steps
                )
                if bad_steps >= cfg.max_bad_steps:
                    where = f"; the last good checkpoint is {last_ckpt}" if last_ckpt else ""
                    raise TicError(
                        f"stopped at step {step + 1}: {bad_steps} steps in a row had a non-finite "
                        f"loss (lower optim.lr, or check the data){where}"
                    )
                continue
            bad_steps = 0
            step += 1

            # --- log ---
            if step % cfg.log_every == 0 or step == cfg.steps:
                losses = {k: v.item() for k, v in out.items()}
                if rank == 0:
                    run_log.scalars(step, losses)
                    bar.set_postfix({k[5:]: f"{v:.3f}" for k, v in losses.items()})
            bar.update(1)

            # --- evaluate ---
            if rank == 0 and val is not None and (step % cfg.eval_every == 0 or step == cfg.steps):
                val_l1 = evaluate_ab_l1(G, val, text_cache, cfg, device, autocast)
                run_log.scalars(step, {"val_ab_l1": val_l1})
            if rank == 0 and (step % cfg.image_every == 0 or step == cfg.steps):
                _log_images(run, run_log.writer, step, G, val or (dataset, texts), text_cache,
                            device, autocast)

            # --- save ---
            stopping = not all_ranks_agree(torch.tensor(not stop.requested), world)
            if step % cfg.save_every == 0 or step == cfg.steps or stopping:
                if rank == 0:
                    last_ckpt = save_checkpoint(
                        run, step, G, D, nets.opt_g, nets.opt_d, text_encoder, cfg
                    )
                barrier(world)
            if stopping:
                break
    finally:
        stop.restore()
        bar.close()
        if run_log is not None:
            run_log.close()
    if rank == 0 and step >= cfg.steps:
        try:
            save_model_folder(run / "model", G, text_encoder, cfg.model)
        except OSError as e:
            path = run / "model"
            raise TicError(f"{path}: could not write the final model ({e.strerror or e})") from None
    barrier(world)
    return TrainResult(step, step < cfg.steps, last_ckpt, losses, G, D, text_encoder)


@dataclass
class Nets:
    """G and D (plain, and as called in the step: DDP-wrapped under torchrun), the perceptual
    loss (None when its lambda is 0) and the two Adam optimizers."""

    G: nn.Module
    D: nn.Module
    G_ddp: nn.Module
    D_ddp: nn.Module
    perceptual: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def build_nets(cfg: TrainConfig, device: torch.device) -> Nets:
    """G and D initialised from ``cfg.seed``, the perceptual loss, and Adam for each (fused kernels
    on CPU and CUDA), on ``device`` in the config's memory layout."""
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    torch.manual_seed(cfg.seed)
    G = Generator(cfg.model.generator).to(device, memory_format=fmt)
    D = PatchDiscriminator(cfg.discriminator).to(device, memory_format=fmt)
    perceptual = None
    if cfg.loss.lambda_perceptual > 0:
        perceptual = build_perceptual_loss(cfg.loss).to(device, memory_format=fmt)
    adam = {"lr": cfg.optim.lr, "betas": (cfg.optim.beta1, cfg.optim.beta2)}
    if device.type in ("cpu", "cuda"):
        adam["fused"] = True
    opt_g = torch.optim.Adam(G.parameters(), **adam)
    opt_d = torch.optim.Adam(D.parameters(), **adam)
    return Nets(G, D, G, D, perceptual, opt_g, opt_d)


def autocast_for(cfg: TrainConfig, device: torch.device):
    """A factory of the autocast context ``cfg.precision`` asks for (the policy: ``tic.device``)."""
    return partial(autocast_bf16, device, use_bf16(cfg.precision, device))


def train_step(
    nets: Nets, cfg: TrainConfig, L: Tensor, real_ab: Tensor, text_emb: Tensor, step: int,
    autocast=nullcontext, world: int = 1,
) -> dict[str, Tensor] | None:
    """One iteration of the paper's recipe: a D step, then a G step against the updated D.

    ``L`` ``(B,1,s,s)``, ``real_ab`` ``(B,2,s,s)`` in [-1, 1], ``text_emb`` ``(B,D)``; ``step`` is
    the number of completed steps (for ``perceptual_every``). Returns the named losses, or None when
    a loss was not finite on some process (nothing more is updated then).
    """
    G, D, loss_cfg = nets.G_ddp, nets.D_ddp, cfg.loss
    with autocast():
        fake_ab = G(L, text_emb)  # (B, 2, s, s)

    # --- D step: real pairs -> 1, fake pairs -> 0 ---
    with autocast():
        real_score = D(L, real_ab).mean(dim=(1, 2, 3))  # (B,) the averaged patch logits
        fake_score = D(L, fake_ab.detach()).mean(dim=(1, 2, 3))
    loss_d = gan_loss_d(real_score, fake_score)
    if not all_ranks_agree(torch.isfinite(loss_d), world):
        return None
    nets.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    nets.opt_d.step()

    # --- G step: fool the (just updated) D, stay close to the truth ---
    nets.D.requires_grad_(False)  # G's step must neither compute nor sync D's gradients
    try:
        with autocast():
            loss_gan = gan_loss_g(nets.D(L, fake_ab).mean(dim=(1, 2, 3)))
            loss_l1 = l1_loss(fake_ab, real_ab)
            if nets.perceptual is not None and step % loss_cfg.perceptual_every == 0:
                loss_perceptual = nets.perceptual(L, fake_ab, real_ab)
            else:
                loss_perceptual = loss_l1.new_zeros(())
        # on every k-th step only: scaled by k so the term's average weight stays lambda
        lambda_perceptual = loss_cfg.lambda_perceptual * loss_cfg.perceptual_every
        loss_g = (
            loss_cfg.lambda_gan * loss_gan
            + loss_cfg.lambda_l1 * loss_l1
            + lambda_perceptual * loss_perceptual
        )
        if not all_ranks_agree(torch.isfinite(loss_g), world):
            return None
        nets.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        nets.opt_g.step()
    finally:
        nets.D.requires_grad_(True)
    return {
        "loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "loss_gan": loss_gan.detach(),
        "loss_l1": loss_l1.detach(), "loss_perceptual": loss_perceptual.detach(),
    }


@torch.no_grad()
def evaluate_ab_l1(G: nn.Module, val, text_cache: TextCache, cfg: TrainConfig, device,
                   autocast) -> float:
    """Mean |fake_ab - real_ab| (normalised ab, ``tic.training.ab_l1``) of ``G`` (in eval mode)
    over the held-out set ``val`` (dataset, its texts)."""
    dataset, texts = val
    loader = DataLoader(dataset, batch_size=cfg.batch_size, num_workers=cfg.data.workers)
    G.eval()
    total, count = 0.0, 0
    for batch in loader:
        L, real_ab = batch_to_lab(batch["rgb"].to(device))
        text_emb = text_cache.batch([texts[i] for i in batch["index"].tolist()])[0]
        with autocast():
            fake_ab = G(L, text_emb.to(device))
        total += ab_l1(fake_ab, real_ab).sum().item()
        count += L.shape[0]
    G.train()
    return total / count


# --- texts and set-up helpers -------------------------------------------------------------------


def _batch_texts(batch: dict, texts: list[str]) -> list[str]:
    """The batch's texts: each record's (``texts``, ablated as ``data.text`` says), or for an
    item recoloured on the fly its new text."""
    return [batch["text"][i] if recolored else texts[index]
            for i, (index, recolored) in enumerate(zip(batch["index"].tolist(),
                                                       batch["recolored"].tolist(), strict=True))]


def _progress(cfg: TrainConfig, step: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=cfg.steps, initial=step, unit="it", disable=not enabled, file=sys.stderr,
        dynamic_ncols=True, smoothing=0.05,
    )


class _StopFlag:
    """Ctrl-C (SIGINT) or SIGTERM asks the loop to stop after the current step; it then writes a
    checkpoint and returns. A second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self._old = {}
        if threading_is_main():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("interrupted: finishing this step, writing a checkpoint, then stopping")

    def restore(self):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# --- data ---------------------------------------------------------------------------------------


class _ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (shuffled per epoch from ``seed``, equal shards) that can start
    part-way through an epoch: ``start`` indices of this process's shard are skipped."""

    def __init__(self, dataset, world: int, rank: int, seed: int):
        super().__init__(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        self.start = 0

    def __iter__(self):
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return self.num_samples


def _batches(dataset, sampler: _ResumableSampler, cfg: TrainConfig, step, per_epoch, device):
    """Endless batches, starting at the data position of ``step`` (epoch, batch within it)."""
    epoch, offset = divmod(step, per_epoch)
    pin = device.type == "cuda"
    while True:
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)  # the random crops of a resumed run are the same
        sampler.start = offset * cfg.batch_size
        loader = DataLoader(
            dataset, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
            num_workers=cfg.data.workers, pin_memory=pin,
        )
        for batch in loader:
            batch["rgb"] = batch["rgb"].to(device, non_blocking=pin)
            yield batch
        epoch, offset = epoch + 1, 0


# --- skipped steps ------------------------------------------------------------------------------


def _snapshot_buffers(*modules: nn.Module) -> list[Tensor]:
    """Copies of the BatchNorm statistics (a few KB), to undo a skipped step's forward passes."""
    return [b.detach().clone() for m in modules for b in m.buffers()]


def _restore_buffers(*args) -> None:
    *modules, saved = args
    with torch.no_grad():
        for b, s in zip([b for m in modules for b in m.buffers()], saved, strict=True):
            b.copy_(s)


# --- logging ------------------------------------------------------------------------------------


@torch.no_grad()
def _log_images(run: Path, writer, step: int, G, source, text_cache: TextCache, device, autocast,
                n: int = 4) -> None:
    """Grid gray | truth | output for the first ``n`` items of the val (else train) set
    (``source``: the dataset and its texts)."""
    dataset, source_texts = source
    if dataset.train:  # deterministic crops for the picture
        dataset = ColorizationDataset(dataset.records, dataset.size, train=False)
    items = [dataset[i] for i in range(min(n, len(dataset)))]
    rgb = torch.stack([it["rgb"] for it in items]).to(device)
    texts = [dataset.records[it["index"]].text for it in items]
    L, real_ab = batch_to_lab(rgb)
    G.eval()
    with autocast():
        text_emb = text_cache.batch([source_texts[it["index"]] for it in items])[0]
        fake_ab = G(L, text_emb.to(device)).float()
    G.train()
    gray = model_lab_to_rgb(L, torch.zeros_like(real_ab))
    truth = rgb.float() / 255
    out = model_lab_to_rgb(L, fake_ab)
    rows = [[to_image(gray[i]), to_image(truth[i]), to_image(out[i])] for i in range(len(items))]
    captions = [["", "", t or "(no text)"] for t in texts]
    # tiny training images are enlarged so they can be seen
    grid = image_grid(rows, ["gray", "ground truth", "output"], captions, max(128, dataset.size))
    writer.add_image("samples", np.asarray(grid), step, dataformats="HWC")
    writer.add_text("samples/texts", "  \n".join(f"{i}: {t}" for i, t in enumerate(texts)), step)
    samples = run / "samples"
    samples.mkdir(exist_ok=True)
    save_image(grid, samples / f"step-{step:08d}.png")
