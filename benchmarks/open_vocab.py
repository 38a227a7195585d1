"""Words the training captions never use: do "crimson", "navy", "gold" move colours like "red",
"blue", "yellow"?

The default model's training captions use only the 11 basic colour terms. For each validation
composite (``data/default/val_composites.jsonl``: a cut-out on a photo or a plain background, the
object's mask known) we write the caption with the object named in each of the words below and
the background as the record says ("a crimson teddy bear on a gray background"), colorize the
gray image, and name the object's output colour with the project's Lab colour namer
(``dominant_color_term`` over the object mask, 11 basic terms). Reported per word:

- ``share_named``: how often the object comes out as the basic term the word belongs to
  (crimson -> red, navy -> blue, gold -> yellow), next to the same share for the basic word;
- ``hue_deg``: the object's mean output hue angle in CIE Lab (chroma-weighted), whose circular
  distance to the basic word's (``hue_gap_to_basic_deg``) says whether the synonym moves the
  colour the same way; ``chroma``: its mean chroma.

Also writes ``docs/open_vocab.png``: rows are objects, columns the gray input and one output per
word.

    python benchmarks/open_vocab.py                    # the shipped model, 60 composites
    python benchmarks/open_vocab.py --model runs/default/model --n 20
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tic import Colorizer
from tic.color import rgb_to_lab
from tic.color_names import dominant_color_term
from tic.data.captions import caption_from_terms, clean_label
from tic.data.manifest import read_manifest
from tic.grid import image_grid

# word -> the basic term it should act like; the basic words come first
WORDS = {
    "red": "red", "blue": "blue", "yellow": "yellow",
    "crimson": "red", "navy": "blue", "gold": "yellow",
    "scarlet": "red", "azure": "blue", "lemon": "yellow",
}
BASIC = ("red", "blue", "yellow")
GRID = ("red", "crimson", "blue", "navy", "yellow", "gold")  # the picture's columns

ROOT = Path(__file__).resolve().parents[1]


def object_stats(rgb: Image.Image, mask: np.ndarray) -> tuple[str, float, float, float, float]:
    """(basic colour term, mean a, mean b, mean chroma, mean hue in degrees) of the masked region."""
    t = torch.from_numpy(np.asarray(rgb.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
    m = torch.from_numpy(mask)
    lab = rgb_to_lab(t[None])[0]
    a, b = float(lab[1][m].mean()), float(lab[2][m].mean())
    chroma = float(torch.hypot(lab[1][m], lab[2][m]).mean())
    return dominant_color_term(t, m), a, b, chroma, math.degrees(math.atan2(b, a)) % 360


def hue_gap(h1: float, h2: float) -> float:
    d = abs(h1 - h2) % 360
    return min(d, 360 - d)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--data", default=str(ROOT / "data/default/val_composites.jsonl"))
    p.add_argument("--n", type=int, default=60, help="composites to use (the first N)")
    p.add_argument("--grid-rows", type=int, default=6)
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/open_vocab.json"))
    p.add_argument("--picture", default=str(ROOT / "docs/open_vocab.png"))
    args = p.parse_args(argv)

    colorizer = Colorizer.from_pretrained(args.model, device="cpu")
    records = [r for r in read_manifest(args.data) if r.mask and r.extra.get("label")][: args.n]
    stats: dict[str, list] = {w: [] for w in WORDS}
    rows = []
    t0 = time.perf_counter()
    for i, rec in enumerate(records):
        gray = Image.open(rec.image).convert("L")
        mask = np.asarray(Image.open(rec.mask).convert("L").resize(gray.size, Image.NEAREST)) > 127
        bg = next(r["color"] for r in rec.extra["regions"] if r["shape"] == "background")
        label = clean_label(rec.extra["label"])
        texts = [caption_from_terms([w], [bg], label) for w in WORDS]
        outs = colorizer.colorize_batch([gray] * len(texts), texts)
        for w, out in zip(WORDS, outs, strict=True):
            stats[w].append(object_stats(out, mask))
        if i < args.grid_rows:
            by_word = dict(zip(WORDS, outs, strict=True))
            rows.append(([gray.convert("RGB")] + [by_word[w] for w in GRID], [texts[0]]))
    seconds = time.perf_counter() - t0

    result = {}
    for w, basic in WORDS.items():
        names = [s[0] for s in stats[w]]
        hues = [s[4] for s in stats[w]]
        base_hues = [s[4] for s in stats[basic]]
        result[w] = {
            "acts_like": basic,
            "share_named": round(sum(n == basic for n in names) / len(names), 3),
            "names": dict(Counter(names).most_common()),
            "hue_deg": round(float(np.median(hues)), 1),
            "hue_gap_to_basic_deg": round(
                float(np.median([hue_gap(h, g) for h, g in zip(hues, base_hues, strict=True)])), 1
            ),
            "chroma": round(float(np.mean([s[3] for s in stats[w]])), 1),
        }
    # the scale of a hue gap: how far apart the basic words' own outputs are
    pairs = [(a, b) for i, a in enumerate(BASIC) for b in BASIC[i + 1 :]]
    between = {
        f"{a}-{b}": round(float(np.median([hue_gap(x[4], y[4]) for x, y in zip(stats[a], stats[b], strict=True)])), 1)
        for a, b in pairs
    }
    report = {
        "benchmark": "open_vocab",
        "model": str(args.model or "shipped default"),
        "data": args.data,
        "n_objects": len(records),
        "words": result,
        "hue_gap_between_basic_words_deg": between,
        "seconds": round(seconds, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} threads".strip(),
        "command": "python benchmarks/open_vocab.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    if rows:
        grid = image_grid(
            [r[0] for r in rows], ["gray input", *GRID], [r[1] for r in rows], cell=140,
            caption_lines=2,
        )
        Path(args.picture).parent.mkdir(parents=True, exist_ok=True)
        grid.save(args.picture)
    print(f"{'word':<9} {'acts like':<9} {'named so':>8} {'hue':>6} {'gap':>5} {'chroma':>6}")
    for w, r in result.items():
        print(f"{w:<9} {r['acts_like']:<9} {r['share_named']:>8.0%} {r['hue_deg']:>6.1f} "
              f"{r['hue_gap_to_basic_deg']:>5.1f} {r['chroma']:>6.1f}")
    print("hue gaps between basic words:", between)
    return 0


if __name__ == "__main__":
    sys.exit(main())
