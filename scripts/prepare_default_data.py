"""Build the training and validation data of ``models/scratch-v1`` (the scratch U-Net baseline,
``configs/scratch-v1.yaml``) from the shared photo pool. The shipped model's data is
``scripts/prepare_data_v2.py``'s.

One command, reproducible from the pool (everything is seeded):

    python scripts/prepare_default_data.py --pool ../shared/data/photos/manifest.jsonl --out data/default

Split: a pool image is in validation when ``sha1(file name) % 100 < 15`` (about 15%), else in
training; photos and cut-outs alike, so no validation object, background or photo is ever seen in
training. Then, per split:

- ``photos``: the split's pool photos and cut-outs with colour captions made from their own pixels
  (``tic.data.photos.load_photos``);
- ``composites``: the split's cut-outs pasted on crops of the split's photos or on plain colours,
  half of them hue-turned so that the text, not the object, decides the colour (training also
  recolours them on the fly: ``data.recolor_prob`` in configs/scratch-v1.yaml)
  (``tic.data.composites.make_composites``); captions measured on the result.

Writes under ``--out``: ``pool_train.jsonl`` / ``pool_val.jsonl`` (the pool's own format, for the
tools), ``train.jsonl`` (photos + composites), ``val_photos.jsonl``, ``val_composites.jsonl``,
``val.jsonl`` (both), ``val_recolor.jsonl`` (the validation composites with the object's colour word
swapped for another, for the recolorization check) and ``composites_{train,val}/``.

The recolorization set only asks for colours the object can have: the gray image fixes its
lightness, and a dark object hue-turned to yellow or orange is olive or brown to any colour namer
(turning the true object to the asked hue met the asked name in only 158 of 300 cases when the new
colour was drawn from all seven). So the new colour is drawn from ``reachable_terms``: the terms
that the true object, hue-turned with its L kept, is named as.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np

from tic.color_names import COLOR_TERMS
from tic.data.composites import make_composites, reachable_terms
from tic.data.manifest import Record, read_manifest, write_manifest
from tic.data.photos import load_photos, read_pool
from tic.imageio import open_image

VAL_PERCENT = 15


def pool_split(file_name: str) -> str:
    """``"val"`` for about 15% of the pool (by a hash of the file name), else ``"train"``."""
    h = int(hashlib.sha1(Path(file_name).name.encode()).hexdigest(), 16)
    return "val" if h % 100 < VAL_PERCENT else "train"


def recolor_text(record: Record, rng: random.Random) -> Record | None:
    """The record with its object's colour word swapped for another chromatic term that the
    object can take at its lightness (``reachable_terms``); None if the text names no object
    colour or no other term is reachable."""
    regions = record.extra.get("regions", [])
    obj = next((r for r in regions if r.get("shape") == "object"), None)
    if obj is None or obj.get("color") not in COLOR_TERMS:
        return None
    old = obj["color"]
    words = record.text.split()
    if old not in words:
        return None
    rgb = np.asarray(open_image(record.image).convert("RGB"), dtype=np.float32) / 255
    mask = np.asarray(open_image(record.mask).convert("L")) > 127
    choices = [t for t in reachable_terms(rgb, mask) if t != old]
    if not choices:
        return None
    new = rng.choice(choices)
    i = words.index(old)  # the object's colour comes first: "a red apple on a blue background"
    words[i] = new
    regions = [dict(r, color=new) if r is obj else dict(r) for r in regions]
    extra = {**record.extra, "regions": regions, "original_text": record.text}
    return Record(record.image, " ".join(words), record.mask, record.id, record.split, extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", default="../shared/data/photos/manifest.jsonl")
    parser.add_argument("--out", default="data/default")
    parser.add_argument("--n-train-composites", type=int, default=2400)
    parser.add_argument("--n-val-composites", type=int, default=300)
    parser.add_argument("--train-size", type=int, default=160, help="composite side for training")
    parser.add_argument("--val-size", type=int, default=256, help="composite side for validation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-recolor", action="store_true",
                        help="only rewrite val_recolor.jsonl from an existing val_composites.jsonl")
    args = parser.parse_args(argv)

    out = Path(args.out)
    if args.only_recolor:
        return write_recolor_set(out, args.seed)
    out.mkdir(parents=True, exist_ok=True)
    entries = read_pool(args.pool)
    for split in ("train", "val"):
        with (out / f"pool_{split}.jsonl").open("w", encoding="utf-8") as f:
            for e in entries:
                if pool_split(e["file"]) == split:
                    row = {k: v for k, v in e.items() if k != "path"}
                    row["file"] = str(Path(e["path"]).resolve())
                    f.write(json.dumps(row) + "\n")

    manifests: dict[str, list[Record]] = {}
    for split, n, size, seed in (
        ("train", args.n_train_composites, args.train_size, args.seed),
        ("val", args.n_val_composites, args.val_size, args.seed + 1),
    ):
        photos = load_photos(out / f"pool_{split}.jsonl")
        composites = make_composites(
            out / f"pool_{split}.jsonl",
            out / f"composites_{split}",
            n,
            size=size,
            seed=seed,
            recolor_prob=0.5,
            plain_prob=0.3,
        )
        for r in photos + composites:
            r.split = split
        for r in composites:  # region masks are relative to the composites' own folder
            for region in r.extra.get("regions", []):
                region["mask"] = str((out / f"composites_{split}" / region["mask"]).resolve())
        manifests[split] = photos + composites
        if split == "val":
            write_manifest(out / "val_photos.jsonl", photos)
            write_manifest(out / "val_composites.jsonl", composites)
        print(f"{split}: {len(photos)} photos, {len(composites)} composites", file=sys.stderr)
    write_manifest(out / "train.jsonl", manifests["train"])
    write_manifest(out / "val.jsonl", manifests["val"])

    return write_recolor_set(out, args.seed)


def write_recolor_set(out: Path, seed: int) -> int:
    rng = random.Random(seed)
    composites = read_manifest(out / "val_composites.jsonl")
    recolored = [r for r in (recolor_text(c, rng) for c in composites) if r]
    write_manifest(out / "val_recolor.jsonl", recolored)
    print(
        f"val_recolor: {len(recolored)} of {len(composites)} composites with the object's colour "
        "swapped for one it can take at its lightness",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
