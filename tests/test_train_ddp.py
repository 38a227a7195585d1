"""Distributed training through torchrun: 2 CPU processes, gloo, the tiny config.

The test launches this file with ``python -m torch.distributed.run``; each process trains, then
writes its own G and D parameters and losses, and the test compares them across ranks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def test_two_processes_train_in_lockstep(tmp_path):
    sys.path.insert(0, str(HERE))
    from test_train import write_dataset

    manifest = write_dataset(tmp_path / "data", n=8)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent / "src")}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(Path(__file__)), str(manifest), str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    for r in ranks:
        assert r["step"] == 3
        assert all(torch.isfinite(torch.tensor(v)) for v in r["losses"].values())
    # each process saw its own shard, so their losses differ ...
    assert ranks[0]["losses"] != ranks[1]["losses"]
    # ... but after every step the weights are the same everywhere
    for net in ("G", "D"):
        a, b = ranks[0][net], ranks[1][net]
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), net
    # and they moved away from the initial weights
    init = ranks[0]["G_init"]
    assert any(not torch.equal(init[k], ranks[0]["G"][k]) for k in init)
    # rank 0 alone writes the run folder
    run = out / "run"
    assert (run / "model" / "model.safetensors").is_file()
    assert [json.loads(x)["step"] for x in (run / "losses.jsonl").read_text().splitlines()] == [1, 2, 3]


def _worker(manifest: str, out: str) -> None:
    import torch.distributed as dist

    sys.path.insert(0, str(HERE))
    from test_train import tiny_config

    from tic.models import Generator
    from tic.train import prepare_run, train

    cfg = tiny_config(Path(manifest), steps=3, save_every=2)
    torch.manual_seed(cfg.seed)
    g_init = Generator(cfg.model.generator).state_dict()  # what train() builds from the seed
    run = Path(out) / "run"
    result = train(cfg, run, *prepare_run(cfg, run), progress=False)
    rank = dist.get_rank()
    torch.save(
        {
            "world": dist.get_world_size(),
            "step": result.step,
            "losses": result.losses,
            "G": {k: v.detach() for k, v in result.generator.named_parameters()},
            "D": {k: v.detach() for k, v in result.discriminator.named_parameters()},
            "G_init": {k: g_init[k] for k, _ in result.generator.named_parameters()},
        },
        Path(out) / f"rank{rank}.pt",
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
