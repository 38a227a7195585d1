"""Speed of the metrics per image on this machine (what ``tic evaluate`` spends besides the model).

For RGB images of 256x256 and 512x384 (the shared photo pool's largest size) it times PSNR, SSIM,
LPIPS(vgg), LPIPS(alex), colourfulness and text colour accuracy on one image pair, the median of
``--repeats`` runs after one warm-up, and writes ``benchmarks/results/metrics_speed.json``.

Run: ``nice -n 10 python benchmarks/metrics_speed.py [--device cpu|cuda] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from tic import metrics

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def bench(x: torch.Tensor, y: torch.Tensor, repeats: int, device: torch.device) -> dict:
    text = ["a red apple on a blue background"]
    return {
        "psnr_s": timed(lambda: metrics.psnr(x, y), repeats, device),
        "ssim_s": timed(lambda: metrics.ssim(x, y), repeats, device),
        "lpips_vgg_s": timed(lambda: metrics.lpips(x, y, "vgg"), repeats, device),
        "lpips_alex_s": timed(lambda: metrics.lpips(x, y, "alex"), repeats, device),
        "colorfulness_s": timed(lambda: metrics.colorfulness(x), repeats, device),
        "text_color_accuracy_s": timed(lambda: metrics.text_color_accuracy(x, text), repeats, device),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "metrics_speed.json")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    results = []
    for H, W in [(256, 256), (384, 512)]:
        x = torch.rand(1, 3, H, W, device=device)
        y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
        row = {"size": f"{W}x{H}", **bench(x, y, args.repeats, device)}
        row = {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()}
        results.append(row)
        print(json.dumps(row))
    out = {
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "statistic": "median seconds per image pair",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "note": "a shared machine: with a load average above the core count these are rough",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
