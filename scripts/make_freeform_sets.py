"""Free-form text sets: the same photos and scenes, their colours said in other words than ``tic caption``'s.

    python scripts/make_freeform_sets.py --data data/v2

``tic caption`` and the composite sets always phrase a text one way ("a photo of a fish in black
and green", "a purple wapiti and a blue christmas tree"). Users do not. This script rewrites the
texts of existing manifests in several phrasings, keeping each record's image, masks and colours
(the colours are the ones the record's own text names, so they come from the truth's pixels as
before). Two disjoint families of phrasings:

- ``dev``: for choosing how texts are read and decoded;
- ``test``: other words, run once per model to be shipped (a phrasing family studied to design a
  change has become a development one).

Writes, under ``--data`` (each a folder with ``manifest.jsonl``; paths point at the source
manifests' files):

- ``dev_freeform``: the hash split's photos (``val_hash.jsonl``), every ``dev`` photo phrasing;
- ``val_freeform``: the held-out sources' photos (``val_sources.jsonl``), every ``test`` one;
- ``dev_recolor_free`` / ``val_recolor_free``: the recolouring scenes, one phrasing each (cycled);
- ``dev_binding_free`` / ``val_binding_free``: the two-object scenes, likewise.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tic.color_names import colors_in_text

# Photos: the photo's leading colours (one or two), in unknown places; {x} the label.
PHOTO = {
    "dev": (
        "a photo of {a} {x}, mostly {c}",
        "{x}, mainly {c1} with some {c2}",
        "{c} tones",
        "{a} {x} in shades of {c}",
    ),
    "test": (
        "the picture is dominated by {c}; it shows {a} {x}",
        "{x} photographed in {c1} hues, a bit of {c2}",
        "colours: {cs}",
        "an image of {a} {x} with lots of {c}",
    ),
}
# One object of a given colour.
RECOLOR = {
    "dev": ("the {x} is {c}", "{a} {x}, coloured {c}", "{a} {x} in {c}", "{x}: {c}"),
    "test": ("{x} painted {c}", "{a} {c}-coloured {x}", "make the {x} {c}", "{c} is the {x}'s colour"),
}
# Two objects, each its colour.
BINDING = {
    "dev": (
        "the {x} is {c} and the {y} is {d}",
        "{a} {c} {x} next to {b} {d} {y}",
        "{a} {x} in {c} with {b} {y} in {d}",
        "{x}: {c}; {y}: {d}",
    ),
    "test": (
        "{a} {x} that is {c}, {b} {y} that is {d}",
        "{c} for the {x}, {d} for the {y}",
        "the {y} should be {d} while the {x} is {c}",
        "{c} {x}, {d} {y}",
    ),
}


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _colours(c: list[str]) -> dict:
    c1, c2 = (c + c)[:2]
    both = f"{c1} and {c2}" if c2 != c1 else c1
    return {"c": both, "c1": c1, "c2": c2 if c2 != c1 else c1, "cs": ", ".join(dict.fromkeys(c))}


def photo_texts(rec: dict, family: str) -> list[str]:
    """Every ``family`` phrasing of a photo record (its label and its text's colours)."""
    colours = list(dict.fromkeys(colors_in_text(rec["text"])))
    if not colours:
        return []
    x = rec["label"]
    out = []
    for form in PHOTO[family]:
        text = form.format(x=x, a=article(x), **_colours(colours))
        out.append(text.replace(" with some " + colours[0], "") if len(colours) == 1 else text)
    return out


def object_text(rec: dict, form: str) -> str:
    """A composite record's text in ``form``: its regions' names and colours."""
    regions = rec["regions"]
    x, c = regions[0]["name"], regions[0]["color"]
    if len(regions) == 1:
        return form.format(x=x, c=c, a=article(x if form.startswith("{a} {x}") else c))
    y, d = regions[1]["name"], regions[1]["color"]
    return form.format(x=x, c=c, y=y, d=d,
                       a=article(c if "{a} {c}" in form else x),
                       b=article(d if "{b} {d}" in form else y))


def _rebase(path: str, src: Path, dst: Path) -> str:
    """``path`` relative to the manifest folder ``src``, made relative to ``dst``."""
    return os.path.relpath((src / path).resolve(), dst.resolve())


def write(out: Path, records: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "manifest.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    tmp.replace(out / "manifest.jsonl")
    print(f"{out / 'manifest.jsonl'}: {len(records)} records")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def photo_set(src: Path, out: Path, family: str) -> None:
    records = []
    for rec in read(src):
        for k, text in enumerate(photo_texts(rec, family)):
            records.append({**rec, "image": _rebase(rec["image"], src.parent, out), "text": text,
                            "id": f"{rec['id']}-{family}{k}", "caption": rec["text"]})
    write(out, records)


def scene_set(src: Path, out: Path, forms: tuple[str, ...]) -> None:
    records = []
    for i, rec in enumerate(read(src)):
        regions = [{**r, "mask": _rebase(r["mask"], src.parent, out)} for r in rec["regions"]]
        records.append({**rec, "image": _rebase(rec["image"], src.parent, out),
                        "regions": regions, "text": object_text(rec, forms[i % len(forms)]),
                        "caption": rec["text"]})
    write(out, records)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("data/v2"),
                   help="the folder scripts/prepare_data_v2.py wrote")
    args = p.parse_args(argv)
    d = args.data
    photo_set(d / "val_hash.jsonl", d / "dev_freeform", "dev")
    photo_set(d / "val_sources.jsonl", d / "val_freeform", "test")
    for kind, forms in (("recolor", RECOLOR), ("binding", BINDING)):
        scene_set(d / f"dev_{kind}" / "manifest.jsonl", d / f"dev_{kind}_free", forms["dev"])
        scene_set(d / f"val_{kind}" / "manifest.jsonl", d / f"val_{kind}_free", forms["test"])


if __name__ == "__main__":
    main()
