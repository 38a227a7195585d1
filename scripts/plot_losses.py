"""Loss curves of a training run as a PNG (needs the extra ``docs``: matplotlib).

    python scripts/plot_losses.py runs/default --out docs/default_model_losses.png

Reads ``RUN/losses.jsonl`` (``tic train`` writes one line per ``log_every`` steps and one per
held-out evaluation) and draws, against the step: the L1 loss on ab (normalised to [-1, 1]), the
held-out ab L1 (``val_ab_l1``), the generator's and the discriminator's adversarial losses, and
the perceptual loss (only the logged steps that computed it: with ``perceptual_every: 2`` every
other one logs 0). Logged values are single batches, so a running mean over ``--smooth`` points is
drawn over them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def running_mean(values: np.ndarray, n: int) -> np.ndarray:
    if n <= 1 or len(values) < n:
        return values
    c = np.cumsum(np.insert(values, 0, 0.0))
    head = c[1:n] / np.arange(1, n)
    return np.concatenate([head, (c[n:] - c[:-n]) / n])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="training run folder (holds losses.jsonl)")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--smooth", type=int, default=20, help="running mean over this many points")
    args = p.parse_args(argv)

    path = args.run / "losses.jsonl"
    if not path.is_file():
        print(f"error: {path} not found (is {args.run} a tic train run folder?)", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    train = [r for r in rows if "loss_l1" in r]
    val = [r for r in rows if any(k.startswith("val_") for k in r)]
    if not train:
        print(f"error: {path} has no training losses yet", file=sys.stderr)
        return 2
    # a resumed run repeats a few steps; keep the last value of each step
    train = list({r["step"]: r for r in train}.values())
    steps = np.array([r["step"] for r in train])
    # the paper's recipe logs loss_gan, loss_d, loss_perceptual; the frozen-encoder one loss_bins
    others = [k for k in train[-1] if k.startswith("loss_") and k != "loss_l1"]

    fig, axes = plt.subplots(1, 1 + len(others), figsize=(5 * (1 + len(others)), 4), squeeze=False)
    axes = axes[0]
    ax = axes[0]
    l1 = np.array([r["loss_l1"] for r in train])
    ax.plot(steps, l1, color="tab:blue", alpha=0.25, lw=0.8)
    ax.plot(steps, running_mean(l1, args.smooth), color="tab:blue", label="train L1 (ab)")
    for key in sorted({k for r in val for k in r if k.startswith("val_")}):
        pts = [(r["step"], r[key]) for r in val if key in r]
        ax.plot(*zip(*pts, strict=True), "o-", label=f"held-out {key[4:]}")
    ax.set_title("L1 on ab")
    ax.legend()
    for ax, key in zip(axes[1:], others, strict=True):
        pts = [(r["step"], r[key]) for r in train if key in r and r[key] is not None]
        s_, v = map(np.array, zip(*pts, strict=True))
        ax.plot(s_, v, alpha=0.25, lw=0.8)
        ax.plot(s_, running_mean(v, args.smooth), label=key[5:])
        ax.set_title(key)
        ax.legend()
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{args.run}: {len(train)} logged steps, last step {steps[-1]}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
