"""Training-step speed and peak memory of the paper recipe and the CPU recipe, at 128 and 256.

One step is what ``tic.train`` runs per batch: Lab conversion of a uint8 batch on the device, then
``train_step`` (G forward, D step, G step with GAN + L1 + perceptual loss, both Adam updates).
Data loading is left out (DataLoader workers prepare batches in parallel with the step).

Each case runs in its own process, so its peak memory is its own: peak RSS of the process on CPU
(torch and the libraries alone are about 0.4 GB of it), ``torch.cuda.max_memory_allocated`` on
CUDA. Samples/s: the median of ``--repeats`` timings of ``--steps`` steps each, after warm-up.

    nice -n 10 python benchmarks/train_speed.py            # all cases, on the device present
    nice -n 10 python benchmarks/train_speed.py --cases paper@128,cpu128@128
"""

from __future__ import annotations

import argparse
import json
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
    "paper-fp32": ("configs/paper.yaml", ["precision=fp32"]),
    "paper-nocl": ("configs/paper.yaml", ["channels_last=false"]),
    "cpu128": ("configs/cpu128.yaml", []),
}
DEFAULT_CASES = (
    "paper@128,paper-perc64@128,paper-noperc@128,paper-fp32@128,paper-nocl@128,cpu128@128,"
    "paper@256,cpu128@256"
)


def run_case(case: str, batch: int, steps: int, repeats: int, warmup: int, device: str) -> dict:
    from tic.data.dataset import batch_to_lab
    from tic.train import autocast_for, build_nets, train_step
    from tic.train_config import load_train_config

    name, size = case.split("@")
    path, extra = RECIPES[name]
    cfg = load_train_config(
        ROOT / path,
        [f"model.image_size={size}", "data.train=unused.jsonl", "data.val=null", f"device={device}",
         *extra],
    )
    dev = torch.device("cuda" if device == "cuda" else "cpu")
    torch.set_flush_denormal(True)
    nets = build_nets(cfg, dev)
    autocast = autocast_for(cfg, dev)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    g = torch.Generator().manual_seed(0)
    s = cfg.model.image_size
    rgb = torch.randint(0, 256, (batch, 3, s, s), generator=g, dtype=torch.uint8).to(dev)
    text_emb = torch.randn(batch, cfg.model.generator.text_dim, generator=g).to(dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step(i: int) -> None:
        L, real_ab = batch_to_lab(rgb)
        L, real_ab = L.contiguous(memory_format=fmt), real_ab.contiguous(memory_format=fmt)
        out = train_step(nets, cfg, L, real_ab, text_emb, i, autocast)
        if out is None:
            raise RuntimeError(f"{case}: non-finite loss")

    for i in range(warmup):
        step(i)
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        for i in range(steps):
            step(warmup + r * steps + i)
        sync()
        rates.append(batch * steps / (time.perf_counter() - start))
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
        memory = {"peak_gpu_memory_gib": round(peak, 2)}
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
        memory = {"peak_rss_gib": round(peak, 2)}
    return {
        "case": case,
        "config": path,
        "overrides": extra,
        "image_size": s,
        "batch_size": batch,
        "precision": cfg.precision,
        "channels_last": cfg.channels_last,
        "perceptual_size": cfg.loss.perceptual_size or s,
        "lambda_perceptual": cfg.loss.lambda_perceptual,
        "samples_per_s_median": round(statistics.median(rates), 2),
        "samples_per_s_runs": [round(x, 2) for x in rates],
        **memory,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=DEFAULT_CASES)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=3, help="steps per timing")
    p.add_argument("--repeats", type=int, default=5, help="timings per case (median reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one case
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_speed.json"))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        row = run_case(args.one, args.batch_size, args.steps, args.repeats, args.warmup, args.device)
        print(json.dumps(row))
        return
    rows = []
    for case in args.cases.split(","):
        cmd = [sys.executable, __file__, "--one", case, "--batch-size", str(args.batch_size),
               "--steps", str(args.steps), "--repeats", str(args.repeats),
               "--warmup", str(args.warmup), "--device", args.device, "--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"{case} failed")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
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
        "note": "median of repeats; the CPU is shared with other jobs, so CPU numbers are noisy",
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
