"""Where and in which precision the networks run: one policy for inference and training.

- ``resolve_device("auto" | "cpu" | "cuda[:N]")``: auto is CUDA when torch sees a GPU, else CPU.
- ``use_bf16(precision, device, inference=False)``: ``"bf16"`` always, ``"fp32"`` never,
  ``"auto"`` where bf16 autocast pays off (``bf16_supported``) in training; in inference
  ``"auto"`` is fp32: on a CPU with AMX, bf16 took 0.078 s against 0.090 s per 1024x768 photo
  with the empty text and no less with a text (0.119-0.128 s either way), and it named both
  objects of the training sources' binding scenes in 65.1% of the texts against 70.9% in fp32
  (the object split's k-means on bf16 features; MODEL_CARD.md).
- ``autocast_bf16(device, enabled)``: the bf16 autocast context, or a no-op.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from tic.errors import TicError

PRECISIONS = ("auto", "bf16", "fp32")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TicError("--device cuda was asked for, but torch sees no CUDA GPU here")
    if device != "cpu" and not device.startswith("cuda"):
        raise TicError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast pays off: GPUs with bf16, CPUs with AMX matrix units.

    On CPUs with AVX512-BF16 but no AMX, bf16 convolutions measured slower than fp32 here (paper
    generator at 256x256: 0.60 s vs 0.41 s forward on one thread), so those stay in fp32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    is_amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(is_amx and is_amx())


def use_bf16(precision: str, device: torch.device, inference: bool = False) -> bool:
    """Whether to run in bf16 autocast: ``precision`` is ``auto`` (training: where it pays;
    inference: never, see the module doc), ``bf16``, ``fp32``."""
    if precision not in PRECISIONS:
        raise TicError(f"precision must be auto, bf16 or fp32, got {precision!r}")
    if precision == "auto":
        return not inference and bf16_supported(device)
    return precision == "bf16"


def autocast_bf16(device: torch.device, enabled: bool):
    """bf16 autocast on ``device`` when ``enabled``, else a context that does nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else nullcontext()
