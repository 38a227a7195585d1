"""Speed and peak memory of full-resolution colorization on this machine.

For a 1024x768 and a 4000x3000 photo it measures, each in a fresh process:
- ``per_image_s``: read the file, colorize (network at 256x256 + full-resolution composition), write
  the PNG, inside a running process with the model loaded (what each image of a batch costs);
  median of ``--repeats`` runs after one warm-up, each with another text (the text encoder
  remembers recent texts, so one text repeated would hide its cost);
- ``command_s``: the whole ``tic colorize`` command (Python start, imports, model load, one image);
- ``peak_rss_mb``: the process's peak resident memory.

``--model shipped`` (default): the model shipped with tic, as ``tic colorize`` uses it;
``--model paper-random``: the paper preset at 256 with random weights (random weights are fine for
timing); or a model folder. ``--texts people``: every text names one person and one other object
("a red man and a blue bicycle"), for which the shipped model also looks for faces
(``decoding.person_faces``, ``tic.faces``). ``--hints N``: every image also gets N point hints
(fixed places and colours; ``tic.models.HintSpread`` runs), the command ``--hint`` each. Run: ``python benchmarks/colorize_speed.py`` (writes
``benchmarks/results/colorize_speed.json``, ``colorize_speed_paper_random.json``,
``colorize_speed_people.json``, ``colorize_speed_hints.json``, or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# another text (and other nouns) each time: the text encoder remembers its last few texts
TEXTS = {
    "mixed": ["a blue sky over green trees", "a red car on a gray road",
              "a yellow boat on blue water", "a pink flower beside a green leaf",
              "an orange cat on a brown sofa", "a purple umbrella and a white dog",
              "a green bus under a gray cloud"],
    # one person and one other object: the shipped model looks for faces (decoding.person_faces)
    "people": ["a red man and a blue bicycle", "a green woman and a yellow dog",
               "a blue boy and a red car", "a purple girl and a green chair",
               "a pink dancer and a blue horse", "an orange man and a gray bench",
               "a yellow woman and a purple umbrella"],
}
PHOTO = ROOT.parent / "shared" / "data" / "photos" / "images" / "mate__dune.jpg"

WORKER = r"""
import json, resource, statistics, sys, time
from tic import Colorizer
from tic.imageio import read_photo, save_image
model, src, out, repeats = sys.argv[1] or None, sys.argv[2], sys.argv[3], int(sys.argv[4])
texts, hints = json.loads(sys.argv[5]), json.loads(sys.argv[6]) or None
colorizer = Colorizer.from_pretrained(model, device="cpu")
times = []
for i in range(repeats + 1):
    t0 = time.perf_counter()
    image = colorizer.colorize_photos([read_photo(src)], [texts[i % len(texts)]],
                                      hints=hints and [[tuple(h) for h in hints]])[0]
    save_image(image, out)
    times.append(time.perf_counter() - t0)
print(json.dumps({"per_image_s": statistics.median(times[1:]), "runs_s": times[1:],
                  "bf16": colorizer.use_bf16,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="shipped", help="shipped, paper-random or a model folder")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/colorize_speed"
                        "[_paper_random][_people].json")
    parser.add_argument("--hints", type=int, default=0, help="point hints per image (0: none)")
    parser.add_argument("--texts", choices=sorted(TEXTS), default="mixed",
                        help="mixed: colour texts of every kind; people: each names one person "
                        "and one other object (the face detector runs)")
    args = parser.parse_args()
    suffix = "_paper_random" if args.model == "paper-random" else ""
    suffix += "_people" if args.texts == "people" else ""
    suffix += "_hints" if args.hints else ""
    args.out = args.out or str(ROOT / "benchmarks" / "results" / f"colorize_speed{suffix}.json")

    from tic import Colorizer
    from tic.config import model_preset

    tmp = Path(tempfile.mkdtemp())
    if args.model == "paper-random":
        model, label = tmp / "paper", "paper preset (random weights), working size 256"
        Colorizer.from_config(model_preset("paper"), ["a blue sky over green trees"]).save_pretrained(model)
    elif args.model == "shipped":
        model, label = "", "the shipped default model"
    else:
        model, label = args.model, f"model folder {args.model}"
    working = Colorizer.from_pretrained(model or None, device="cpu").config.image_size
    source = (
        Image.open(PHOTO)
        if PHOTO.exists()
        else Image.effect_mandelbrot((512, 384), (-2, -1, 1, 1), 64)
    )
    results = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, {platform.processor()}",
        "torch": torch.__version__,
        "model": f"{label}, working size {working}",
        "texts": TEXTS[args.texts],
        "hints_per_image": args.hints,
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        "cases": {},
    }
    for w, h in [(1024, 768), (4000, 3000)]:
        src = tmp / f"photo_{w}x{h}.jpg"
        source.convert("L").resize((w, h), Image.BICUBIC).save(src, quality=90)
        out = tmp / f"out_{w}x{h}.png"
        colours = ["#d04030", "#3060c0", "#40a040", "#e0c030", "#8040a0"]
        hints = [[(37 * k) % w, (53 * k + 11) % h, colours[k % len(colours)]]
                 for k in range(args.hints)]  # spread over the picture, fixed
        worker = subprocess.run(
            [
                sys.executable,
                "-c",
                WORKER,
                str(model),
                str(src),
                str(out),
                str(args.repeats),
                json.dumps(TEXTS[args.texts]),
                json.dumps(hints),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        case = json.loads(worker.stdout.strip().splitlines()[-1])
        commands = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tic.cli",
                    "colorize",
                    str(src),
                    *(["--model", str(model)] if model else []),
                    "--out",
                    str(out),
                    "--device",
                    "cpu",
                    "--text",
                    TEXTS[args.texts][0],
                    *[f"--hint={x},{y},{c}" for x, y, c in hints],
                ],
                check=True,
                capture_output=True,
            )
            commands.append(time.perf_counter() - t0)
        case["command_s"] = statistics.median(commands)
        assert Image.open(out).size == (w, h)
        results["cases"][f"{w}x{h}"] = case
        print(
            f"{w}x{h}: per image {case['per_image_s']:.3f} s (median of {args.repeats}), "
            f"whole command {case['command_s']:.2f} s, peak RSS {case['peak_rss_mb']:.0f} MB"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
