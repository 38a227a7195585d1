"""Colourfulness and colour cast of a model's outputs against the truth, on a manifest of photos.

What "no sepia" means, measured at each photo's full resolution, with the text and with the empty
text, beside the truth and the gray image:

- ``colorfulness``: Hasler & Suesstrunk (``tic.metrics.colorfulness``), mean over photos;
- ``brown_share``: the share of pixels the colour namer (``tic.data.captions``) calls brown;
- ``mean_a`` / ``mean_b``: the photos' mean a* and b* (a brown/sepia cast is a positive a and b
  shift shared by the whole photo; the truth's mean is the reference);
- ``hue_error_deg``: mean over pixels with chroma >= 15 in both of the hue angle difference.

Run: ``python benchmarks/heldout_colors.py --data data/v2/val_sources.jsonl [--model DIR]
[--out benchmarks/results/heldout_colors.json]`` (``--model`` default: the shipped model).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import numpy as np
import torch

from tic import Colorizer, color, metrics
from tic.color_names import COLOR_TERMS, color_term_indices
from tic.data.manifest import read_manifest
from tic.imageio import open_image

BROWN = COLOR_TERMS.index("brown")


def stats(rgb: torch.Tensor, truth_lab: torch.Tensor | None = None) -> dict:
    """``rgb`` ``(1, 3, H, W)`` in [0, 1] -> the numbers above for one image."""
    lab = color.rgb_to_lab(rgb)[0]  # (3, H, W)
    terms = color_term_indices(lab.permute(1, 2, 0))
    out = {
        "colorfulness": metrics.colorfulness(rgb).item(),
        "brown_share": (terms == BROWN).float().mean().item(),
        "mean_a": lab[1].mean().item(),
        "mean_b": lab[2].mean().item(),
    }
    if truth_lab is not None:
        c1 = torch.hypot(lab[1], lab[2])
        c2 = torch.hypot(truth_lab[1], truth_lab[2])
        sel = (c1 >= 15) & (c2 >= 15)
        d = torch.atan2(lab[2], lab[1]) - torch.atan2(truth_lab[2], truth_lab[1])
        d = torch.rad2deg(torch.atan2(torch.sin(d), torch.cos(d))).abs()
        out["hue_error_deg"] = d[sel].mean().item() if sel.any() else None
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--model", default=None)
    p.add_argument("--out", default="benchmarks/results/heldout_colors.json")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    colorizer = Colorizer.from_pretrained(args.model, device="cpu")
    rows = {"truth": [], "gray": [], "text": [], "empty": []}
    records = read_manifest(args.data)
    for rec in records:
        img = open_image(rec.image).convert("RGB")
        truth = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]
        truth_lab = color.rgb_to_lab(truth)[0]
        rows["truth"].append(stats(truth))
        gray = color.lab_to_rgb(torch.cat([truth_lab[None, :1], torch.zeros_like(truth_lab[None, 1:])], 1))
        rows["gray"].append(stats(gray, truth_lab))
        for key, text in (("text", rec.text), ("empty", "")):
            out = colorizer(img.convert("L"), text)
            rgb = torch.from_numpy(np.asarray(out, dtype=np.float32) / 255).permute(2, 0, 1)[None]
            rows[key].append(stats(rgb, truth_lab))
    summary = {}
    for key, items in rows.items():
        summary[key] = {
            k: statistics.fmean(r[k] for r in items if r.get(k) is not None)
            for k in items[0] if any(r.get(k) is not None for r in items)
        }
    result = {"data": args.data, "model": args.model or "shipped", "n": len(records),
              "machine": platform.processor() or platform.machine(), "summary": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for key, s in summary.items():
        print(f"{key:6s} " + "  ".join(f"{k} {v:.3f}" for k, v in s.items()))


if __name__ == "__main__":
    main()
