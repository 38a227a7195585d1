"""Pictures of what the face-placed person split (``decoding.person_faces``) changes.

Reads a ``tic evaluate`` of the shipped model and an older one on a binding set (``metrics.jsonl``
with both models' records) and draws one row per scene whose result changed (every such scene,
gains and losses, the first text of the pair that changed), then the scenes both models still
get wrong: the gray input with the faces ``tic.faces.detect_faces`` found (red boxes, scores) |
the truth | the older model | the shipped model, each row captioned with the text and the
result of each model. Also prints, per model, the texts with both objects right by how many of
the named objects are people (``tic.grounding.person_share`` of each label above
``PERSON_SHARE``). ``--photo PATH TEXT`` (repeatable) adds rows for real photos after the scenes.

Usage::

    python scripts/binding_faces_figure.py --data data/v2/val_binding/manifest.jsonl \\
        --old runs/eval-v9.4/v9.2 --metrics runs/eval-v9.4/binding/metrics.jsonl \\
        --new-label v9.4 --out docs/v9.4_binding_faces.jpg [--wrong 4] [--photo PATH TEXT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from tic import Colorizer
from tic.faces import detect_faces
from tic.grounding import CLASS_PROMPT, PERSON_SHARE, person_share
from tic.imageio import atomic_path

SIDE = 256
CAPTION = 28


def results(path: Path) -> dict[str, dict[str, bool]]:
    """metrics.jsonl -> {model: {record id: every object right}}."""
    out: dict[str, dict[str, bool]] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        objects = [c["ok"] for c in r["colors"] if c["region"] == "object"]
        out.setdefault(r["model"], {})[r["id"]] = bool(objects) and all(objects)
    return out


def row(record: dict, root: Path, old: Colorizer, new: Colorizer, verdict: str) -> Image.Image:
    """One row of the sheet: ``record`` (``image`` under ``root``, ``text``), captioned."""
    truth = Image.open(root / record["image"]).convert("RGB")
    gray = truth.convert("L").convert("RGB")
    lum = torch.from_numpy(np.asarray(truth.convert("L"), np.float32) / 255)[None, None]
    marked = gray.resize((SIDE, SIDE))
    draw = ImageDraw.Draw(marked)
    for score, cx, cy, w, h in detect_faces(lum)[0].tolist():
        box = [(cx - w / 2) * SIDE, (cy - h / 2) * SIDE, (cx + w / 2) * SIDE, (cy + h / 2) * SIDE]
        draw.rectangle(box, outline=(255, 0, 0), width=2)
        draw.text((box[0], box[3] + 1), f"{score:.2f}", fill=(255, 0, 0))
    panels = [marked, truth, old(gray, record["text"]), new(gray, record["text"])]
    out = Image.new("RGB", (4 * SIDE, SIDE + CAPTION), "white")
    for k, im in enumerate(panels):
        out.paste(im.resize((SIDE, SIDE)), (k * SIDE, CAPTION))
    ImageDraw.Draw(out).text((4, 2), f"\"{record['text']}\"\n{verdict}", fill=(0, 0, 0))
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the binding set's manifest.jsonl")
    p.add_argument("--old", required=True, help="the older model folder (its name in --metrics)")
    p.add_argument("--new", default=None, help="the shipped model (default) or a folder")
    p.add_argument("--new-label", default=None, help="its name in the captions (default: its "
                   "name in --metrics)")
    p.add_argument("--metrics", type=Path, required=True)
    p.add_argument("--wrong", type=int, default=4, help="scenes both models get wrong to show")
    p.add_argument("--photo", nargs=2, action="append", default=[], metavar=("PATH", "TEXT"),
                   help="a real photo and a text naming objects in it, as one more row")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    records = {json.loads(line)["id"]: json.loads(line)
               for line in args.data.read_text().splitlines()}
    runs = results(args.metrics)
    old_name = Path(args.old).name
    new_name = next(name for name in runs if name != old_name)
    old_ok, new_ok = runs[old_name], runs[new_name]
    changed, wrong, seen = [], [], set()
    for rid in records:  # manifest order: each scene's two texts in turn
        pair = records[rid]["pair"]
        if pair in seen:
            continue
        if old_ok[rid] != new_ok[rid]:
            changed.append(rid)
            seen.add(pair)
        elif not old_ok[rid] and not new_ok[rid] and len(wrong) < args.wrong:
            wrong.append(rid)
            seen.add(pair)
    old = Colorizer.from_pretrained(args.old, device="cpu")
    new = Colorizer.from_pretrained(args.new, device="cpu")
    labels = sorted({label for r in records.values() for label in r["labels"]})
    with torch.no_grad():
        vectors = new.text_encoder.sentence_vectors([CLASS_PROMPT.format(x) for x in labels])
    people = {x for x, share in zip(labels, person_share(vectors).tolist(), strict=True)
              if share > PERSON_SHARE}
    for name in (old_name, new_name):
        tally: dict[int, list[int]] = {}
        for rid, ok in runs[name].items():
            n = sum(label in people for label in records[rid]["labels"])
            tally.setdefault(n, [0, 0])[0] += ok
            tally[n][1] += 1
        print(f"{name}: both objects right, by people named: " + ", ".join(
            f"{n}: {right} of {total}" for n, (right, total) in sorted(tally.items())))
    root = args.data.parent

    def verdict(rid: str) -> str:
        say = {True: "both right", False: "wrong"}
        return (f"gray + faces found | truth | {old_name}: {say[old_ok[rid]]} | "
                f"{args.new_label or new_name}: {say[new_ok[rid]]}")

    rows = [row(records[r], root, old, new, verdict(r)) for r in changed + wrong]
    rows += [row({"image": Path(path).resolve(), "text": text}, root, old, new,
                 f"a real photo: gray + faces found | truth | {old_name} | "
                 f"{args.new_label or new_name}") for path, text in args.photo]
    sheet = Image.new("RGB", (4 * SIDE, len(rows) * (SIDE + CAPTION)), "white")
    for k, r in enumerate(rows):
        sheet.paste(r, (0, k * (SIDE + CAPTION)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:  # JPEG at quality 80 keeps the sheet near 0.5 MB
        sheet.save(tmp, format="JPEG", quality=80)
    print(f"wrote {args.out}: {len(changed)} changed scenes, then {len(wrong)} still wrong, "
          f"then {len(args.photo)} photos")


if __name__ == "__main__":
    main()
