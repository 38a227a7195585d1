"""Helpers for training on several processes (``torchrun``); each is a no-op on one process.

Under ``torchrun`` (``WORLD_SIZE`` > 1) ``init_distributed`` joins the process group (nccl on
CUDA, gloo on CPU) and gives each process its GPU (``LOCAL_RANK``).
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor

from tic.device import resolve_device


def init_distributed() -> tuple[int, int]:
    """(rank, world size); under torchrun, joins the process group once (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), dist.get_world_size()


def process_device(name: str) -> torch.device:
    """``resolve_device``, with ``cuda`` meaning this process's GPU (``init_distributed`` set it)."""
    device = resolve_device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def broadcast_object(obj, world: int):
    """Rank 0's ``obj`` on every process."""
    if world <= 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


def all_ranks_agree(flag: Tensor, world: int) -> bool:
    """True when ``flag`` (a bool tensor) is true on every process."""
    flag = flag.detach().to(torch.int32).reshape(1)
    if world > 1:
        flag = flag.cpu() if dist.get_backend() == "gloo" else flag
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())
