"""How well a grounding model binds colours to objects, with its own maps and with the TRUE masks.

On a binding set (``scripts/prepare_data_v2.py``'s ``val_binding/``, or the same kind of scenes
made from the training sources), every text is colorized twice: once as inference does it (the
model's grounding maps: ImageNet class maps, ranked with ``grounding_ranks``), once with each
named object's true mask as its map (``tic.grounding.oracle_maps`` on the class maps' grid). An
object is right when its dominant colour term is the one named for it (``tic.metrics.
judge_regions``, as ``tic evaluate`` judges it); a text is right when both objects are. The
second number is the decoder's ceiling: how far it follows a hint that points at the right
place; the gap between the two is what the maps lose.

    python benchmarks/binding_hints.py --data data/v2/val_binding/manifest.jsonl --model models/v3

Writes ``benchmarks/results/binding_hints.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tic import Colorizer, grounding, metrics
from tic.models import EncoderUNet


def _mask(path: Path, size=None) -> np.ndarray:
    img = Image.open(path).convert("L")
    if size is not None:
        img = img.resize(size, Image.BOX)
    return np.asarray(img) > 127


def score(colorizer: Colorizer, rows: list[dict], root: Path, oracle: bool) -> dict:
    """Both-right and each-right counts of ``rows`` (binding records), with the true masks as
    the maps when ``oracle``."""
    current: dict = {}
    own_maps = EncoderUNet.phrase_maps

    def true_maps(self, feats, nouns):
        maps = own_maps(self, feats, nouns)
        objects = [(name, torch.from_numpy(m).float()) for name, m in current["objects"]]
        targets, valid = grounding.phrase_targets(
            [current["text"]], [objects], maps.shape[1],
            colorizer.config.text_encoder.photo_palette)
        if targets is None:
            return maps
        return grounding.oracle_maps(maps, targets, valid, torch.tensor([True]), maps.shape[-1])

    both = each = judged = 0
    if oracle:
        EncoderUNet.phrase_maps = true_maps
    try:
        for row in rows:
            image = Image.open(root / row["image"]).convert("RGB")
            s = colorizer.config.image_size // 4  # the decoder's output grid, as in training
            current["text"] = row["text"]
            current["objects"] = [(r["name"], _mask(root / r["mask"], (s, s)))
                                  for r in row["regions"]]
            out = colorizer(image, row["text"])
            rgb = torch.from_numpy(np.asarray(out.convert("RGB"), np.float32) / 255)
            regions = [(torch.from_numpy(_mask(root / r["mask"])), r["color"], r["name"])
                       for r in row["regions"]]
            ok = [j.correct for j in metrics.judge_regions(rgb.permute(2, 0, 1), regions)]
            both += all(ok)
            each += sum(ok)
            judged += len(ok)
    finally:
        EncoderUNet.phrase_maps = own_maps
    return {"texts": len(rows), "both_right": both, "both_right_share": both / len(rows),
            "objects": judged, "objects_right": each, "objects_right_share": each / judged}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="a binding manifest")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/binding_hints.json"))
    args = p.parse_args(argv)
    colorizer = Colorizer.from_pretrained(args.model, device="cpu")
    if not colorizer.config.generator.grounding:
        raise SystemExit(f"{args.model}: not a grounding model (generator.grounding is false)")
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    result = {"data": str(args.data), "model": args.model or "shipped",
              "machine": platform.machine(),
              "own_maps": score(colorizer, rows, args.data.parent, oracle=False),
              "true_masks": score(colorizer, rows, args.data.parent, oracle=True)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for key in ("own_maps", "true_masks"):
        r = result[key]
        print(f"{key}: both right {r['both_right']}/{r['texts']} = {100 * r['both_right_share']:.1f}%, "
              f"objects {r['objects_right']}/{r['objects']} = {100 * r['objects_right_share']:.1f}%")


if __name__ == "__main__":
    main()
