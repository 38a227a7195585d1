"""The point-hint picture of MODEL_CARD.md: held-out photos with random points of the truth, and a
click that asks for a colour the photo does not have.

    python scripts/hints_figure.py data/v2/val_sources.jsonl --out docs/hints.jpg

Columns: the gray input with the 10 points (as ``tic evaluate --hints`` draws them: seed 0), the
automatic colours (no point), 2 points, 10 points, the truth; a last row recolours one thing by
one click (``--click X,Y,COLOUR`` on ``--click-image``, the manifest's first image by default).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from tic import Colorizer
from tic.data.manifest import read_manifest
from tic.evaluate import draw_hints
from tic.grid import image_grid
from tic.hints import parse_colour, parse_hint
from tic.imageio import read_rgb, save_image


def with_points(image: Image.Image, points) -> Image.Image:
    """``image`` (gray) with each point drawn as a dot of its colour, ringed white and black."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    r = max(3, round(max(out.size) / 80))
    for x, y, colour in points:
        rgb = parse_colour(colour)
        draw.ellipse((x - r - 2, y - r - 2, x + r + 2, y + r + 2), fill=(0, 0, 0))
        draw.ellipse((x - r - 1, y - r - 1, x + r + 1, y + r + 1), fill=(255, 255, 255))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rgb)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("manifest", type=Path)
    p.add_argument("--ids", nargs="*", default=None, help="record ids (default: four spread out)")
    p.add_argument("--click", default="170,200,#2060e0", help="X,Y,COLOUR of the click row")
    p.add_argument("--click-image", default=None, help="record id of the click row")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--out", type=Path, default=Path("docs/hints.jpg"))
    args = p.parse_args(argv)
    records = read_manifest(args.manifest)
    by_id = {r.extra.get("id", r.image.stem): r for r in records}
    picked = ([by_id[i] for i in args.ids] if args.ids
              else records[:: max(1, len(records) // 4)][:4])
    colorizer = Colorizer.from_pretrained(args.model, device="cpu")
    rows, captions = [], []
    for record in picked:
        truth, _ = read_rgb(record.image)
        gray = Image.open(record.image).convert("L")
        points = draw_hints(truth, 10, seed=0)
        outs = [colorizer(gray, "", hints=points[:k] or None) for k in (0, 2, 10)]
        truth_img = Image.open(record.image).convert("RGB")
        rows.append([with_points(gray, points), *outs, truth_img])
        captions.append([record.image.stem, "", "", "", ""])
    click = by_id[args.click_image] if args.click_image else records[0]
    gray = Image.open(click.image).convert("L")
    point = parse_hint(args.click)
    rows.append([with_points(gray, [point]), colorizer(gray, ""), colorizer(gray, "", hints=[point]),
                 Image.new("RGB", gray.size, (255, 255, 255)),
                 Image.open(click.image).convert("RGB")])
    captions.append([f"one click {args.click}", "", "the click", "", ""])
    grid = image_grid(rows, ["gray + points", "no point", "2 points", "10 points", "truth"],
                      captions, cell=220, caption_lines=1)
    save_image(grid.convert("RGB"), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
