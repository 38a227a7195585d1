"""How small a face ``tic.faces.detect_faces`` finds in a gray 256x256 scene, and how often it
finds one where there is none, at several score thresholds.

No training source holds people, so this is measured on made-up scenes: scikit-image's astronaut
photo (its face centred at (0.44, 0.235) of the picture, 0.2 of its width wide), shrunk so the
face is ``--sizes`` pixels wide and pasted at a random place on the first ``--scenes`` images of
a binding set (``data/v2/dev_binding_unseen``: the training sources' cut-outs on photos, no
person among them), in gray. A face counts as found when a detection's centre lies within half
the face's width plus 5 pixels of the true centre. False faces: the scenes (first ``--empty``, no
astronaut pasted) with any detection. The shipped setting is ``FACE_THRESHOLD``.

Run: ``python benchmarks/face_recall.py`` (writes ``benchmarks/results/face_recall.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tic import faces

ROOT = Path(__file__).resolve().parents[1]
FACE_CENTRE = (0.44, 0.235)  # of the astronaut picture
FACE_WIDTH = 0.2  # of its width


def gray_of(path: Path) -> torch.Tensor:
    from skimage.color import rgb2gray

    rgb = np.asarray(Image.open(path).convert("RGB").resize((256, 256)))
    return torch.from_numpy(rgb2gray(rgb).astype(np.float32))


def main() -> None:
    from skimage import data
    from skimage.color import rgb2gray

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=ROOT / "data" / "v2" / "dev_binding_unseen")
    p.add_argument("--scenes", type=int, default=20)
    p.add_argument("--empty", type=int, default=40)
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 12, 14, 16, 24])
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.6, 0.65, 0.7, 0.75])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "face_recall.json")
    args = p.parse_args()
    backgrounds = sorted(args.data.glob("images/*-0.png"))[: max(args.scenes, args.empty)]
    if len(backgrounds) < max(args.scenes, args.empty):
        raise SystemExit(f"{args.data}: fewer than {max(args.scenes, args.empty)} scenes "
                         "(python scripts/prepare_data_v2.py makes them)")
    astro = torch.from_numpy(rgb2gray(data.astronaut()).astype(np.float32))[None, None]
    low = min(args.thresholds)
    rng = np.random.default_rng(0)
    found = {t: {s: 0 for s in args.sizes} for t in args.thresholds}
    for size in args.sizes:
        side = round(size / FACE_WIDTH)
        small = F.interpolate(astro, size=(side, side), mode="bilinear", antialias=True)[0, 0]
        for path in backgrounds[: args.scenes]:
            scene = gray_of(path)
            x0, y0 = (int(v) for v in rng.integers(0, 256 - side, size=2))
            scene[y0:y0 + side, x0:x0 + side] = small
            fx, fy = x0 + FACE_CENTRE[0] * side, y0 + FACE_CENTRE[1] * side
            dets = faces.detect_faces(scene[None, None], threshold=low)[0]
            for t in args.thresholds:
                near = [(abs(cx * 256 - fx) <= size / 2 + 5 and abs(cy * 256 - fy) <= size / 2 + 5)
                        for s, cx, cy, _, _ in dets.tolist() if s >= t]
                found[t][size] += any(near)
    false = {t: 0 for t in args.thresholds}
    for path in backgrounds[: args.empty]:
        dets = faces.detect_faces(gray_of(path)[None, None], threshold=low)[0]
        for t in args.thresholds:
            false[t] += bool((dets[:, 0] >= t).any())
    rows = {str(t): {"found_by_face_width_px": found[t], "of": args.scenes,
                     "scenes_with_a_false_face": false[t], "of_empty": args.empty}
            for t in args.thresholds}
    result = {"machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
              "torch": torch.__version__, "data": str(args.data.relative_to(ROOT))
              if args.data.is_relative_to(ROOT) else str(args.data),
              "shipped_threshold": faces.FACE_THRESHOLD, "thresholds": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for t, r in rows.items():
        print(f"score >= {t}: found {r['found_by_face_width_px']} of {args.scenes}; "
              f"false faces in {r['scenes_with_a_false_face']} of {args.empty}")


if __name__ == "__main__":
    main()
