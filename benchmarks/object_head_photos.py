"""What each model's object head calls "object" on real photos: one row a model, one column a photo.

The object head (``EncoderUNet.object_logits``) decides where a named colour may be painted
(``generator.paint_objects``): pixels above the model's ``generator.object_threshold`` are split
among the text's nouns, the rest keep the decoder's colours. Binding scores come from pasted
cut-outs; this picture shows whether the head also finds the objects of ordinary photos. Each
cell is the gray photo at the model's working size with the head's foreground (probability over
the threshold) tinted red and the share of the picture it covers in the corner.

    python benchmarks/object_head_photos.py --models models/v7,src/tic/assets/default \\
        --photos examples/*.jpg --out benchmarks/results/object_head_photos.png

Writes the picture (PNG or JPEG, by the suffix) and ``--json`` (default ``<out>.json``: per model
and photo, the share of pixels over the threshold).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from tic.backbones import load_pretrained_encoder
from tic.checkpoint import load_model

CELL = 192  # pixels per cell of the figure


def head_foreground(G, gray: Image.Image, size: int) -> np.ndarray:
    """The object head's probability at ``size`` x ``size`` (the model's working size), HxW."""
    L = torch.from_numpy(np.asarray(gray.resize((size, size), Image.BICUBIC), np.float32))
    with torch.no_grad():
        feats = G.encode((L / 255 * 2 - 1)[None, None])
        prob = G.object_logits(feats).sigmoid()
    return F.interpolate(prob, size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()


def cell(gray: Image.Image, prob: np.ndarray, threshold: float) -> Image.Image:
    """The gray photo with the foreground tinted red, its covered share written in the corner."""
    g = np.asarray(gray.resize(prob.shape[::-1], Image.BICUBIC).convert("RGB"), np.float32)
    fg = (prob > threshold)[..., None]
    red = np.array([255, 40, 40], np.float32)
    out = np.where(fg, 0.45 * g + 0.55 * red, g).astype(np.uint8)
    img = Image.fromarray(out).resize((CELL, CELL), Image.BICUBIC)
    ImageDraw.Draw(img).text((4, 2), f"{fg.mean():.0%}", fill=(255, 255, 0))
    return img


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", required=True, help="comma-separated model folders")
    p.add_argument("--photos", nargs="+", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/object_head_photos.png"))
    p.add_argument("--json", type=Path, default=None, help="the shares (default: OUT with .json)")
    args = p.parse_args(argv)
    folders = args.models.split(",")
    grays = [Image.open(f).convert("L") for f in args.photos]
    rows, shares = [], {}
    for folder in folders:
        cfg, G, _ = load_model(folder)
        if G.objects is None:
            raise SystemExit(f"{folder}: this model has no object head (generator.object_head)")
        G = load_pretrained_encoder(G).eval()
        threshold = cfg.generator.object_threshold
        probs = [head_foreground(G, g, cfg.image_size) for g in grays]
        rows.append([cell(g, pr, threshold) for g, pr in zip(grays, probs, strict=True)])
        shares[folder] = {f.name: round(float((pr > threshold).mean()), 3)
                          for f, pr in zip(args.photos, probs, strict=True)}
    label = 16
    fig = Image.new("RGB", (CELL * len(grays), len(folders) * (label + CELL)), "white")
    draw = ImageDraw.Draw(fig)
    for r, (folder, row) in enumerate(zip(folders, rows, strict=True)):
        top = r * (label + CELL)
        draw.text((4, top + 2), folder, fill=(0, 0, 0))
        for c, img in enumerate(row):
            fig.paste(img, (CELL * c, top + label))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.save(args.out)
    json_path = args.json or args.out.with_suffix(".json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(shares, indent=1) + "\n")
    for folder, row in shares.items():
        print(folder, " ".join(f"{k}:{v:.0%}" for k, v in row.items()))


if __name__ == "__main__":
    main()
