"""The free-form text picture of MODEL_CARD.md: held-out photos under texts written by hand in
several phrasings, before (an older model folder) and after (the shipped model).

    python scripts/freeform_figure.py --data data/v2 --before OLD_MODEL_DIR --out docs/freeform.jpg

Columns: the gray input, the empty text, the older model with the text, the shipped model with the
text, the truth. The photos are the held-out sources' (``val_sources.jsonl``, by id); the texts
are in ``TEXTS`` (none of them is ``tic caption``'s phrasing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from tic import Colorizer
from tic.data.manifest import read_manifest
from tic.grid import image_grid
from tic.imageio import save_image

TEXTS = (
    ("darknet__eagle", "an eagle flying over a lake, blue water"),
    ("darknet__dog", "the bike is red and the dog is brown"),
    ("jigzo__horse-4x3", "a brown horse, mostly green and blue"),
    ("scratch__nature_flowers", "flowers in shades of red and green"),
    ("scratch__outdoors_hay_field", "a hay field, mainly yellow, with a blue sky"),
    ("darknet__horses", "horses, brown and blue tones"),
)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("data/v2"),
                   help="the folder scripts/prepare_data_v2.py wrote")
    p.add_argument("--before", required=True, help="the older model folder to compare with")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--out", type=Path, default=Path("docs/freeform.jpg"))
    args = p.parse_args(argv)
    records = {r.id: r for r in read_manifest(args.data / "val_sources.jsonl")}
    after = Colorizer.from_pretrained(args.model, device="cpu")
    before = Colorizer.from_pretrained(args.before, device="cpu")
    rows, captions = [], []
    for rid, text in TEXTS:
        path = records[rid].image
        gray = Image.open(path).convert("L")
        rows.append([gray, after(gray, ""), before(gray, text), after(gray, text),
                     Image.open(path).convert("RGB")])
        captions.append([f'"{text}"', "", "", "", ""])
    grid = image_grid(rows, ["gray", "no text", "before (v9.5)", "shipped", "truth"], captions,
                      cell=220, caption_lines=4)
    save_image(grid.convert("RGB"), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
