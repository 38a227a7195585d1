"""Model folders and training checkpoints: their file formats, and the one loader of weights.

A **model folder** (``Colorizer.save_pretrained``; ``tic train`` writes ``RUN/model`` and one in each
checkpoint) holds:

- ``config.json``: ``{"format": "tic-model/2", "tic_version": ..., **ModelConfig}``, everything
  needed to rebuild the generator and the text encoder, with only the sections of its
  architecture (``tic.config.model_dict``); folders of format ``tic-model/1`` (one flat
  ``generator`` section) still load (``tic.config.migrate_model_dict``);
- ``model.safetensors``: the generator's weights (float32; the shipped model stores float16, cast
  back to float32 on loading);
- the text encoder's files (``TextEncoder.save``: word2vec's ``text_encoder.safetensors`` +
  ``text_encoder_vocab.json``, MiniLM's ``text_encoder.json`` marker).

A **training checkpoint** ``RUN/checkpoints/step-00001000/`` is a model folder plus
``training_state.pt``: ``{"format": "tic-training-state/1", "step", "discriminator", "opt_g",
"opt_d", "rng", "train_config"}`` (D's weights, both optimizers, the RNG states and the resolved
``TrainConfig`` as JSON), read with ``torch.load(weights_only=True)``. With G from the folder's
weights, a resumed run continues exactly where the checkpoint was taken; the data position follows
from the step. The last ``keep_last`` checkpoints are kept.

Every folder is written under a temporary name beside its final one and then renamed
(``atomic_folder``), so a crash never leaves half of one. ``load_weights`` is the one loader of
weights into a network (model folders, resuming, ``init_from``): names and shapes must match,
except that ``widen=True`` lets a Linear layer's input grow, its new columns zero.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import random
import re
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from tic.config import (
    ConfigError,
    EncoderUNetConfig,
    ModelConfig,
    from_dict,
    migrate_model_dict,
    model_dict,
    to_dict,
)
from tic.errors import TicError
from tic.imageio import default_mode
from tic.models import build_generator
from tic.text import TextEncoder, load_text_encoder
from tic.version import __version__

log = logging.getLogger("tic")

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "tic-model/2"
OLD_FORMATS = ("tic-model/1",)  # read, not written
STATE_NAME = "training_state.pt"
STATE_FORMAT = "tic-training-state/1"
_CKPT = re.compile(r"^step-(\d{8})$")


# --- model folders ------------------------------------------------------------------------------


def default_model_dir() -> Path:
    """Where the shipped default model lives inside the installed package."""
    return Path(str(resources.files("tic") / "assets" / "default"))


def load_model(
    path: str | Path | None = None,
) -> tuple[ModelConfig, nn.Module, TextEncoder]:
    """Config, generator (weights loaded, float32) and text encoder of a model folder.

    ``path=None``: the model shipped with tic. Every problem is a ``TicError`` naming the file.
    """
    folder = Path(path) if path is not None else default_model_dir()
    if path is None and not (folder / CONFIG_NAME).is_file():
        raise TicError(
            "this installation of tic has no shipped default model; pass a model folder "
            "(--model DIR / from_pretrained(DIR)), e.g. one written by `tic train`"
        )
    config = load_model_config(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise TicError(f"{folder}: model folder has no {WEIGHTS_NAME}")
    generator = build_generator(config)
    load_weights(generator, generator_state(weights, generator),
                 f"{weights}: weights do not match config.json")
    try:
        text_encoder = load_text_encoder(folder, config.text_encoder)
    except (OSError, ValueError) as e:
        raise TicError(f"{folder}: text encoder: {str(e).splitlines()[0]}") from None
    return config, generator, text_encoder


def load_model_config(folder: Path) -> ModelConfig:
    """The ``ModelConfig`` of a model folder's ``config.json`` (checked: format and keys)."""
    if not folder.exists():
        raise TicError(f"{folder}: model folder does not exist")
    if not folder.is_dir():
        raise TicError(
            f"{folder}: is not a folder (a model folder holds {CONFIG_NAME} and {WEIGHTS_NAME})"
        )
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise TicError(f"{folder}: not a model folder (no {CONFIG_NAME})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TicError(f"{path}: not valid JSON ({e})") from None
    fmt = data.pop("format", None) if isinstance(data, dict) else None
    if fmt != FORMAT and fmt not in OLD_FORMATS:
        raise TicError(f'{path}: not a tic model config (expected "format": "{FORMAT}")')
    data.pop("tic_version", None)
    try:
        if fmt in OLD_FORMATS:
            data = migrate_model_dict(data)
        return from_dict(ModelConfig, data).validate()
    except ConfigError as e:
        raise TicError(f"{path}: {e}") from None


def read_weights(path: Path) -> dict[str, Tensor]:
    """The tensors of a safetensors file; an unreadable file is a ``TicError``."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise TicError(f"{path}: unreadable weight file ({str(e).splitlines()[0]})") from None


def _frozen_encoder(generator: nn.Module) -> bool:
    cfg = getattr(generator, "cfg", None)
    return isinstance(cfg, EncoderUNetConfig) and cfg.encoder_frozen


def generator_state(path: Path, generator: nn.Module) -> dict[str, Tensor]:
    """A generator's weights from ``path``. A frozen pretrained encoder is not written into model
    folders (its weights are tic's asset, ``tic.backbones.load_pretrained_encoder``); for such a
    generator a file without ``encoder.*`` tensors gets them from the asset. Older folders that
    hold them load as they are."""
    state = read_weights(path)
    if _frozen_encoder(generator) and not any(k.startswith("encoder.") for k in state):
        from tic.backbones import load_pretrained_encoder

        load_pretrained_encoder(generator)
        state.update({k: v for k, v in generator.state_dict().items() if k.startswith("encoder.")})
    return state


def load_weights(net: nn.Module, state: dict[str, Tensor], what: str, widen: bool = False) -> None:
    """Load ``state`` into ``net``: the same tensor names, each of the same shape.

    ``widen=True`` (``init_from``): a 2-d weight whose input grew keeps its columns and gets zero
    new ones, so the layer computes what it did (a text vector with more colour slots). Anything
    else that does not fit raises ``TicError("{what} (...)")`` naming the first odd tensor.
    """
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        first = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise TicError(f"{what} ({first}; {len(missing)} missing, {len(extra)} unexpected tensors)")
    fitted = {}
    for k, v in state.items():
        want = own[k].shape
        if v.shape == want:
            fitted[k] = v
        elif widen and v.ndim == 2 and v.shape[0] == want[0] and v.shape[1] < want[1]:
            fitted[k] = torch.zeros_like(own[k])
            fitted[k][:, : v.shape[1]] = v
        else:
            raise TicError(f"{what} ({k}: {tuple(v.shape)} in the file, {tuple(want)} expected)")
    net.load_state_dict(fitted)


def save_model_folder(
    path: str | Path, generator: nn.Module, text_encoder: TextEncoder, config: ModelConfig
) -> None:
    """Write ``config.json``, ``model.safetensors`` and the text-encoder files, atomically."""
    with atomic_folder(path) as tmp:
        _write_model_files(tmp, generator, text_encoder, config)


def _write_model_files(
    folder: Path, generator: nn.Module, text_encoder: TextEncoder, config: ModelConfig
) -> None:
    data = {"format": FORMAT, "tic_version": __version__, **model_dict(config)}
    (folder / CONFIG_NAME).write_text(json.dumps(data, indent=2) + "\n")
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()
             if not (_frozen_encoder(generator) and k.startswith("encoder."))}
    save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    text_encoder.save(folder)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; on success it replaces ``path``.

    The files get the permissions of the user's umask. On failure the temporary folder is removed
    and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, default_mode(folder=True))
        yield tmp
        for f in tmp.iterdir():
            os.chmod(f, default_mode())
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- training checkpoints -----------------------------------------------------------------------


def latest_checkpoint(run: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run (None when there is none)."""
    folder = Path(run) / "checkpoints"
    if not folder.is_dir():
        return None
    found = sorted(
        p for p in folder.iterdir()
        if _CKPT.match(p.name) and (p / STATE_NAME).is_file() and (p / WEIGHTS_NAME).is_file()
    )
    return found[-1] if found else None


def checkpoint_to_resume(run: Path, resume: bool) -> Path | None:
    """Create the run folder (checking it is writable); return the checkpoint to resume, if any.

    ``resume`` without a checkpoint, or a run folder with checkpoints but no ``resume``, is an error.
    """
    try:
        run.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=run, prefix=".write-test.", delete=True)
        probe.close()
    except OSError as e:
        raise TicError(f"{run}: run folder is not writable ({e.strerror or e})") from None
    latest = latest_checkpoint(run)
    if resume:
        if latest is None:
            raise TicError(f"{run}: no checkpoint to resume from (checkpoints/step-*/ is empty)")
        return latest
    if latest is not None:
        raise TicError(
            f"{run}: the run folder already has checkpoints; pass --resume to continue it, "
            "or choose another --out"
        )
    return None


def save_checkpoint(
    run: Path, step: int, G: nn.Module, D: nn.Module | None, opt_g, opt_d, text_encoder: TextEncoder,
    cfg,
) -> Path | None:
    """Write ``RUN/checkpoints/step-N/`` (model folder + training state) atomically, then keep only
    the last ``cfg.keep_last``. Returns the checkpoint, or the previous one when the weights hold
    NaN/inf (nothing is written then). ``cfg``: the resolved ``TrainConfig``. ``D`` and ``opt_d``
    are None for a recipe without a discriminator (``tic.train_frozen``)."""
    folder = run / "checkpoints"
    final = folder / f"step-{step:08d}"
    if not _all_finite(*(m for m in (G, D) if m is not None)):
        log.error("step %d: weights hold NaN/inf; checkpoint not written", step)
        return latest_checkpoint(run)
    state = {
        "format": STATE_FORMAT,
        "step": step,
        "discriminator": D.state_dict() if D is not None else {},
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict() if opt_d is not None else {},
        "rng": _rng_state(),
        "train_config": json.dumps(to_dict(cfg)),
    }
    try:
        with atomic_folder(final) as tmp:
            _write_model_files(tmp, G, text_encoder, cfg.model)
            torch.save(state, tmp / STATE_NAME)
    except OSError as e:
        previous = latest_checkpoint(run)
        raise TicError(
            f"{final}: could not write the checkpoint ({e.strerror or e}); "
            f"the last good checkpoint is {previous}"
        ) from None
    kept = sorted(p for p in folder.iterdir() if _CKPT.match(p.name))
    for old in kept[: -cfg.keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(ckpt: Path, G: nn.Module, D: nn.Module | None, opt_g, opt_d) -> int:
    """Put a checkpoint's G, D, optimizers and RNG states back; returns its step (``D`` and
    ``opt_d`` None: a recipe without a discriminator)."""
    try:
        state = torch.load(ckpt / STATE_NAME, map_location="cpu", weights_only=True)
        what = f"{ckpt}: checkpoint does not fit this config"
        load_weights(G, generator_state(ckpt / WEIGHTS_NAME, G), what)
        opt_g.load_state_dict(state["opt_g"])
        if D is not None:
            load_weights(D, state["discriminator"], what)
            opt_d.load_state_dict(state["opt_d"])
    except (RuntimeError, OSError, KeyError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise TicError(
            f"{ckpt}: checkpoint does not fit this config or is damaged ({str(e).splitlines()[0]})"
        ) from None
    if "rng" in state:  # written by every recipe but the first frozen-encoder runs
        _set_rng_state(state["rng"])
    return int(state["step"])


def init_from(folder: Path, G: nn.Module, D: nn.Module | None = None) -> None:
    """Weights of another run (``TrainConfig.init_from``: a model or checkpoint folder) into freshly
    built ``G`` (and ``D``, from the folder's training state when it has one), for both training
    loops. A text input that grew is widened (``load_weights(widen=True)``); a module that ``G``
    has and the folder's model lacks altogether (the grounding hint's ``hint.*`` on a model trained
    without it, an object head's ``objects.*``) keeps its initial values; a frozen pretrained
    encoder stays the shipped ImageNet one even when the folder holds another copy."""
    if not (folder / WEIGHTS_NAME).is_file():
        raise TicError(f"init_from: {folder} has no {WEIGHTS_NAME} (not a model folder)")
    what = f"init_from: {folder} does not fit this config"
    state = generator_state(folder / WEIGHTS_NAME, G)
    own = G.state_dict()
    if _frozen_encoder(G):
        state.update({k: v for k, v in own.items() if k.startswith("encoder.")})
    in_file = {k.split(".")[0] for k in state}
    new = sorted(k for k in own if k.split(".")[0] not in in_file)
    load_weights(G, {**state, **{k: own[k] for k in new}}, what, widen=True)
    if D is not None and (folder / STATE_NAME).is_file():
        state = torch.load(folder / STATE_NAME, map_location="cpu", weights_only=True)
        load_weights(D, state["discriminator"], what, widen=True)
    elif D is not None:
        log.info("init_from: %s has no discriminator; D starts from scratch", folder)
    log.info("initialised from %s (%d new tensors start fresh)", folder, len(new))


def truncate_log(path: Path, step: int) -> None:
    """Drop the lines of a run's JSON Lines log written after ``step`` (a killed run may have
    logged past its last checkpoint), so a resumed run's log has each step once."""
    if not path.is_file():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("step", 0) <= step]
    path.write_text("".join(ln + "\n" for ln in kept))


def _all_finite(*modules: nn.Module) -> bool:
    return all(bool(torch.isfinite(t).all()) for m in modules for t in m.state_dict().values()
               if t.is_floating_point())


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(int(v) for v in state["python"].tolist()), None))
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], 0, 0.0))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
