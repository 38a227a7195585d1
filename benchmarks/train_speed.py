"""Training-step speed and peak memory of the paper recipe and the CPU recipe, at 128 and 256.

One step is what ``tic.train`` runs per batch: Lab conversion of a uint8 batch on the device, then
``train_step`` (G forward, D step, G step with GAN + L1 + perceptual loss, both Adam updates).
Data loading is left out (DataLoader workers prepare batches in parallel with the step).

Samples/s: all cases are built in one process and timed round robin (``--repeats`` rounds of
``--steps`` steps each, after warm-up), so a burst of load from other jobs on a shared machine hits
every case alike; the median round is reported. Peak memory: each case alone in its own process,
peak RSS on CPU (torch and the libraries alone are about 0.4 GB of it),
``torch.cuda.max_memory_allocated`` on CUDA.

    nice -n 10 python benchmarks/train_speed.py            # all cases, on the device present
    nice -n 10 python benchmarks/train_speed.py --cases paper@128,cpu128@128
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

# name -> (config file, extra overrides); "@size" picks the working size
RECIPES = {
    "paper": ("configs/paper.yaml", []),
    "paper-perc64": ("configs/paper.yaml", ["loss.perceptual_size=64"]),
    "paper-noperc": ("configs/paper.yaml", ["loss.lambda_perceptual=0"]),
    "paper-bf16": ("configs/paper.yaml", ["precision=bf16"]),
    "paper-nocl": ("configs/paper.yaml", ["channels_last=false"]),
    "cpu128": ("configs/cpu128.yaml", []),
}
DEFAULT_CASES = (
    "paper@128,paper-perc64@128,paper-noperc@128,paper-bf16@128,paper-nocl@128,cpu128@128,"
    "paper@256,cpu128@256"
)


class Case:
    """One recipe at one working size, built and ready to step."""

    def __init__(self, case: str, batch: int, device: str):
        from tic.data.dataset import batch_to_lab
        from tic.device import use_bf16
        from tic.train import autocast_for, build_nets, train_step
        from tic.train_config import load_train_config

        name, size = case.split("@")
        self.name, (self.path, self.extra) = case, RECIPES[name]
        cfg = load_train_config(
            ROOT / self.path,
            [f"model.image_size={size}", "data.train=unused.jsonl", "data.val=null",
             f"device={device}", *self.extra],
        )
        self.cfg, self.batch = cfg, batch
        self.dev = torch.device("cuda" if device == "cuda" else "cpu")
        nets = build_nets(cfg, self.dev)
        autocast = autocast_for(cfg, self.dev)
        self.bf16 = use_bf16(cfg.precision, self.dev)  # "auto": bf16 only where it pays
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        g = torch.Generator().manual_seed(0)
        s = cfg.model.image_size
        rgb = torch.randint(0, 256, (batch, 3, s, s), generator=g, dtype=torch.uint8).to(self.dev)
        text_emb = torch.randn(batch, cfg.model.generator.text_dim, generator=g).to(self.dev)
        self.done = 0

        def step() -> None:
            L, real_ab = batch_to_lab(rgb)
            L, real_ab = L.contiguous(memory_format=fmt), real_ab.contiguous(memory_format=fmt)
            if train_step(nets, cfg, L, real_ab, text_emb, self.done, autocast) is None:
                raise RuntimeError(f"{case}: non-finite loss")
            self.done += 1

        self.step = step

    def sync(self) -> None:
        if self.dev.type == "cuda":
            torch.cuda.synchronize()

    def time(self, steps: int) -> float:
        """Samples per second over ``steps`` steps."""
        self.sync()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        self.sync()
        return self.batch * steps / (time.perf_counter() - start)

    def describe(self) -> dict:
        cfg = self.cfg
        return {
            "case": self.name, "config": self.path, "overrides": self.extra,
            "image_size": cfg.model.image_size, "batch_size": self.batch,
            "precision": cfg.precision, "autocast_bf16": self.bf16,
            "channels_last": cfg.channels_last,
            "perceptual_size": cfg.loss.perceptual_size or cfg.model.image_size,
            "lambda_perceptual": cfg.loss.lambda_perceptual,
        }


def peak_memory(case: str, batch: int, device: str) -> dict:
    """Peak memory of one case alone: warm-up plus two steps in this (fresh) process."""
    c = Case(case, batch, device)
    if c.dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    c.time(3)
    if c.dev.type == "cuda":
        return {"peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
    return {"peak_rss_gib": round(_vm_hwm_kib() / 2**20, 2)}


def _vm_hwm_kib() -> int:
    """Peak RSS of this process since exec (VmHWM). ``getrusage``'s ru_maxrss is not used: on
    Linux a child starts with its parent's high-water mark, inherited through fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _memory_of(case: str, args) -> dict:
    cmd = [sys.executable, __file__, "--one", case, "--batch-size", str(args.batch_size),
           "--device", args.device, "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"{case} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=DEFAULT_CASES)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=1, help="steps per timing")
    p.add_argument("--repeats", type=int, default=3, help="rounds (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one case
    p.add_argument("--memory-only", action="store_true",
                   help="only re-measure peak memory for the cases in the existing --out file")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_speed.json"))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:  # internal: the peak memory of one case, in its own process
        print(json.dumps(peak_memory(args.one, args.batch_size, args.device)))
        return
    if args.memory_only:  # redo the memory column of an existing report
        report = json.loads(Path(args.out).read_text())
        key = "cuda" if args.device == "cuda" else "cpu"
        for row in report[key]["results"]:
            row.update(_memory_of(row["case"], args))
            print(json.dumps(row), file=sys.stderr)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        return
    torch.set_flush_denormal(True)
    load_start = round(os.getloadavg()[0], 2)
    cases = [Case(c, args.batch_size, args.device) for c in args.cases.split(",")]
    for c in cases:
        for _ in range(args.warmup):
            c.step()
    rates: dict[str, list[float]] = {c.name: [] for c in cases}
    for r in range(args.repeats):  # round robin: a burst of load from other jobs hits all cases
        for c in cases:
            rates[c.name].append(c.time(args.steps))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rates.items()),
              file=sys.stderr)
    rows = []
    for c in cases:
        row = c.describe()
        row["samples_per_s_median"] = round(statistics.median(rates[c.name]), 2)
        row["samples_per_s_runs"] = [round(x, 2) for x in rates[c.name]]
        rows.append(row)
    del cases
    for row in rows:
        row.update(_memory_of(row["case"], args))
        print(json.dumps(row), file=sys.stderr)
    device = torch.cuda.get_device_name() if args.device == "cuda" else (
        f"{platform.processor() or platform.machine()} CPU, "
        f"{args.threads or torch.get_num_threads()} threads, "
        f"capability {torch.backends.cpu.get_cpu_capability()}"
    )
    report = {
        "benchmark": "training step (Lab conversion + D step + G step), synthetic batch",
        "command": "python " + " ".join(sys.argv),
        "device": device,
        "torch": torch.__version__,
        "note": "cases timed round robin in one process, median of the rounds; the CPU may be "
        "shared with other jobs (see load_average), so CPU numbers can be noisy; peak memory of "
        "each case measured alone in its own process",
        "load_average_1min": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        "results": rows,
    }
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    key = "cuda" if args.device == "cuda" else "cpu"
    previous[key] = report
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
