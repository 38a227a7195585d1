"""The README's picture of the main job: the colorized examples side by side, scaled to one height.

    tic colorize examples/ --out colorized/
    python scripts/examples_figure.py colorized/ --out docs/examples_colorized.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="the main job's output folder")
    p.add_argument("--out", type=Path, default=Path("docs/examples_colorized.png"))
    p.add_argument("--height", type=int, default=200)
    args = p.parse_args(argv)
    images = [Image.open(f).convert("RGB") for f in sorted(args.folder.glob("*.png"))]
    if not images:
        raise SystemExit(f"{args.folder}: no PNG files")
    scaled = [im.resize((round(im.width * args.height / im.height), args.height), Image.LANCZOS)
              for im in images]
    sheet = Image.new("RGB", (sum(im.width for im in scaled), args.height), "white")
    x = 0
    for im in scaled:
        sheet.paste(im, (x, 0))
        x += im.width
    sheet.save(args.out)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height}, {len(scaled)} images)")


if __name__ == "__main__":
    main()
