"""Training and validation data of the shipped model (``configs/default.yaml``) from both photo pools.

    python scripts/prepare_data_v2.py --pools ../shared/data/photos ../shared/data/more-photos \\
        --out data/v2

Validation holds out WHOLE SOURCES (packages) that training never sees: ``--holdout`` (default
scratch, darknet, jigzo-data: 65 opaque photos and 41 cut-outs from other photographers and
packages). Besides, a hash split of the training sources' photos (``sha1(file) % 100 < 10``) is
kept out too: the flattering kind of validation, reported beside the honest one.

Texts are made as ``tic caption`` makes them (``tic.data.captions.caption_file``: the photo's own
colours, its pool label as the noun). Writes under ``--out``:

- ``train_photos.jsonl``: opaque photos of the training sources (pool files, full resolution);
- ``train_cutouts.jsonl``: the training sources' RGBA cut-outs, ``label`` kept (scenes are built
  from them at training time: ``tic.data.views``);
- ``val_sources.jsonl``: the held-out sources' opaque photos; ``val_hash.jsonl``: the hash split;
- ``val_recolor/``: one held-out cut-out on a crop of a held-out photo, painted in a colour it can
  take at its lightness and named with it (``regions``: the object with its colour);
- ``val_binding/``: two held-out cut-outs (different labels) on one held-out background, each
  painted in one of two colours and named with it; then the same gray input with the colours
  swapped (``pair`` links the two; ``regions`` name both objects);
- ``dev_binding/``: the same kind of scenes from the TRAINING sources' cut-outs and photos (seed
  7), for choosing how the grounding maps are decoded without looking at the held-out scenes;
  ``dev_recolor/``: the recolouring kind from the training sources (seed 8), for the same;
  ``dev_binding_unseen/``: binding scenes of the training sources' cut-outs on the hash split's
  photos (seed 9, ``--unseen-binding`` scenes), backgrounds no training step saw (measured: the
  object head is as clean on them as on ``dev_binding``, so unseen backgrounds alone do not
  explain the held-out scenes' polluted foreground); ``dev_binding_crowded/``: the same with two
  more cut-outs in each scene that no text names (seed 10), as the held-out backgrounds show
  animals and people the texts do not name (measured: this reproduces the held-out pollution).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tic.color_names import dominant_color_term
from tic.data.captions import caption_file, clean_label
from tic.data.composites import RECOLOR_TERMS
from tic.data.layouts import Layout, make_layout
from tic.data.manifest import Record, write_manifest
from tic.data.photos import read_pool
from tic.data.views import paint_region
from tic.imageio import save_image

HOLDOUT = ("scratch", "darknet", "jigzo-data")
HASH_PERCENT = 10


def hash_val(file_name: str) -> bool:
    return int(hashlib.sha1(Path(file_name).name.encode()).hexdigest(), 16) % 100 < HASH_PERCENT


def _records(entries: list[dict]) -> list[Record]:
    out = []
    for e in entries:
        text = caption_file(e["path"], None, e.get("label"))
        out.append(Record(image=e["path"], text=text, id=Path(e["file"]).stem,
                          extra={"label": e.get("label"), "source_package": e["source_package"],
                                 "license": e.get("license")}))
    return out


def _painted(layout, terms: list[str], rng) -> tuple[np.ndarray, list[str]]:
    """The layout with object k painted in terms[k]; returns rgb and the measured names."""
    rgb = layout.rgb.astype(np.float32)
    names = []
    for mask, term in zip(layout.masks, terms, strict=True):
        rgb = paint_region(rgb, mask, term, rng)
    t = torch.from_numpy(rgb).permute(2, 0, 1)
    for mask in layout.masks:
        names.append(dominant_color_term(t, torch.from_numpy(mask)))
    return rgb, names


def _reachable(layout, k: int, rng) -> list[str]:
    """Terms that object k, painted in them, is named as (the gray image fixes its lightness)."""
    ok = []
    for term in RECOLOR_TERMS:
        rgb = paint_region(layout.rgb.astype(np.float32), layout.masks[k], term, rng)
        t = torch.from_numpy(rgb).permute(2, 0, 1)
        if dominant_color_term(t, torch.from_numpy(layout.masks[k])) == term:
            ok.append(term)
    return ok


def _write(root: Path, stem: str, rgb: np.ndarray, masks) -> tuple[Path, list[str]]:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    image = root / "images" / f"{stem}.png"
    save_image(Image.fromarray((rgb * 255).round().clip(0, 255).astype(np.uint8)), image)
    names = []
    for k, m in enumerate(masks):
        name = f"masks/{stem.split('-')[0]}_{k}.png"
        if not (root / name).exists():
            save_image(Image.fromarray(m.astype(np.uint8) * 255), root / name)
        names.append(name)
    return image, names


def recolor_set(root: Path, cutouts, backgrounds, n: int, size: int, seed: int) -> list[Record]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        layout = make_layout(rng, size, cutouts, backgrounds, 1, plain_prob=0.0)
        terms = _reachable(layout, 0, rng)
        if not terms:
            continue
        term = terms[int(rng.integers(len(terms)))]
        rgb, names = _painted(layout, [term], rng)
        image, masks = _write(root, f"{i:04d}", rgb, layout.masks)
        label = layout.labels[0]
        records.append(Record(
            image=image, text=f"a {term} {label}", id=f"recolor-{i:04d}",
            extra={"label": label, "regions": [{"mask": masks[0], "color": term, "shape": "object",
                                                 "name": label}]},
        ))
    return records


def binding_set(root: Path, cutouts, backgrounds, n: int, size: int, seed: int,
                unnamed: int = 0) -> list[Record]:
    """``n`` scenes of two cut-outs painted and named, each twice (the colours swapped); with
    ``unnamed``, that many more cut-outs first, under them, in their own colours and named by no
    text: things of the picture that a text does not mention."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        layout = make_layout(rng, size, cutouts, backgrounds, 2 + unnamed, plain_prob=0.0)
        if len(layout.labels) < 2 + unnamed or min(m.mean() for m in layout.masks) < 0.03:
            continue  # an object mostly hidden by the others cannot be judged
        named = Layout(layout.rgb, layout.masks[unnamed:], layout.labels[unnamed:],
                       layout.background)
        both = sorted(set(_reachable(named, 0, rng)) & set(_reachable(named, 1, rng)))
        if len(both) < 2:
            continue
        c1, c2 = rng.choice(both, size=2, replace=False).tolist()
        for swap, (t0, t1) in enumerate(((c1, c2), (c2, c1))):
            rgb, _ = _painted(named, [t0, t1], rng)
            stem = f"{i:04d}-{swap}"
            image, masks = _write(root, stem, rgb, named.masks)
            a, b = named.labels
            phrases = [f"a {t0} {a}", f"a {t1} {b}"]
            if rng.random() < 0.5:  # the order in the text says nothing about the places
                phrases.reverse()
            records.append(Record(
                image=image, text=" and ".join(phrases), id=f"binding-{stem}",
                extra={"pair": i, "labels": [a, b], "regions": [
                    {"mask": masks[0], "color": t0, "shape": "object", "name": a},
                    {"mask": masks[1], "color": t1, "shape": "object", "name": b}]},
            ))
    return records


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pools", nargs="+", type=Path, required=True, help="pool folders")
    p.add_argument("--out", type=Path, default=Path("data/v2"))
    p.add_argument("--holdout", nargs="+", default=list(HOLDOUT), help="source packages held out")
    p.add_argument("--recolor", type=int, default=150, help="recolouring cases")
    p.add_argument("--binding", type=int, default=60, help="binding scenes (two texts each)")
    p.add_argument("--unseen-binding", type=int, default=200,
                   help="dev_binding_unseen and _crowded scenes drawn (two texts each)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    entries = [e for pool in args.pools for e in read_pool(pool / "manifest.jsonl")]
    held = [e for e in entries if e["source_package"] in args.holdout]
    train = [e for e in entries if e["source_package"] not in args.holdout]
    if not held:
        raise SystemExit(f"no pool entry comes from {args.holdout}")
    train_photos = [e for e in train if not e["has_alpha"] and not hash_val(e["file"])]
    hash_photos = [e for e in train if not e["has_alpha"] and hash_val(e["file"])]
    train_cutouts = [e for e in train if e["has_alpha"]]
    held_photos = [e for e in held if not e["has_alpha"]]
    held_cutouts = [e for e in held if e["has_alpha"]]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out / "train_photos.jsonl", _records(train_photos))
    write_manifest(out / "train_cutouts.jsonl", [
        Record(image=e["path"], text="", id=Path(e["file"]).stem,
               extra={"label": clean_label(e.get("label")) or "object"}) for e in train_cutouts])
    write_manifest(out / "val_sources.jsonl", _records(held_photos))
    write_manifest(out / "val_hash.jsonl", _records(hash_photos))
    recolor = recolor_set(out / "val_recolor", held_cutouts, held_photos, args.recolor, 256,
                          args.seed)
    write_manifest(out / "val_recolor" / "manifest.jsonl", recolor)
    binding = binding_set(out / "val_binding", held_cutouts, held_photos, args.binding, 256,
                          args.seed + 1)
    write_manifest(out / "val_binding" / "manifest.jsonl", binding)
    dev = binding_set(out / "dev_binding", train_cutouts, train_photos, args.binding, 256, 7)
    write_manifest(out / "dev_binding" / "manifest.jsonl", dev)
    unseen = binding_set(out / "dev_binding_unseen", train_cutouts, hash_photos,
                         args.unseen_binding, 256, 9)
    write_manifest(out / "dev_binding_unseen" / "manifest.jsonl", unseen)
    crowded = binding_set(out / "dev_binding_crowded", train_cutouts, hash_photos,
                          args.unseen_binding, 256, 10, unnamed=2)
    write_manifest(out / "dev_binding_crowded" / "manifest.jsonl", crowded)
    dev_recolor = recolor_set(out / "dev_recolor", train_cutouts, train_photos, args.recolor, 256, 8)
    write_manifest(out / "dev_recolor" / "manifest.jsonl", dev_recolor)
    counts = {"train_photos": len(train_photos), "train_cutouts": len(train_cutouts),
              "val_sources": len(held_photos), "val_hash": len(hash_photos),
              "val_recolor": len(recolor), "val_binding_texts": len(binding),
              "dev_binding_texts": len(dev), "dev_binding_unseen_texts": len(unseen),
              "dev_binding_crowded_texts": len(crowded),
              "dev_recolor": len(dev_recolor),
              "holdout": args.holdout}
    (out / "counts.json").write_text(json.dumps(counts, indent=1) + "\n")
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
