"""The ``tic`` command. Each subcommand parses its arguments here and calls the library.

Errors the user can fix (``TicError``) print as one line ``tic: error: ...`` and exit non-zero,
without a traceback.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
from pathlib import Path

from tic.data.folder import sidecar_text
from tic.errors import TicError
from tic.imageio import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, read_photo, save_image

log = logging.getLogger("tic")


# --- tic colorize ---------------------------------------------------------------------------------


def add_colorize(sub) -> None:
    p = sub.add_parser(
        "colorize",
        help="colorize gray photos guided by a text",
        description="Colorize image files or folders of images at their full resolution.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    p.add_argument(
        "--text",
        default=None,
        help="colour description for every input (default: a sidecar IMAGE.txt, else empty)",
    )
    p.add_argument(
        "--hint",
        action="append",
        default=None,
        metavar="X,Y,COLOUR",
        help="a point hint for the one input image: pixel column X, row Y and a colour "
        "(#rrggbb or a name: red, navy, ...); repeat for more points",
    )
    p.add_argument(
        "--hints",
        default=None,
        metavar="FILE.json",
        help='point hints per image: {"photo.jpg": [[x, y, "#ff0000"], [x, y, "navy"], '
        "[x, y, [r, g, b]]], ...}, keyed by file name or path relative to the JSON file; "
        "images not in it get none",
    )
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default ./colorized/), or a file name when there is one input",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=_positive_int, default=4, help="images per network pass")
    p.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_colorize)


def collect_inputs(inputs: list[str]) -> list[Path]:
    """Expand files and folders (their image files, sorted, not recursive) into image paths."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise TicError(f"{path}: folder has no image files ({', '.join(IMAGE_SUFFIXES)})")
            paths += found
        elif path.exists():
            paths.append(path)
        else:
            raise TicError(f"{path}: no such file or folder")
    return paths


def plan_outputs(paths: list[Path], out: str | None) -> dict[Path, Path]:
    """Map each input to its output path; never onto an input, never two inputs onto one file."""
    if len(paths) == 1 and out and Path(out).suffix.lower() in IMAGE_SUFFIXES:
        targets = {paths[0]: Path(out)}
    else:
        folder = Path(out or "colorized")
        targets, used = {}, set()
        for p in paths:
            target = folder / f"{p.stem}.png"
            n = 2
            while target in used:  # two inputs with the same stem (a.jpg, a.png)
                target = folder / f"{p.stem}-{n}.png"
                n += 1
            used.add(target)
            targets[p] = target
    inputs = {p.resolve() for p in paths}
    for dst in targets.values():
        if dst.resolve() in inputs:
            raise TicError(f"{dst}: refusing to overwrite an input file; choose another --out")
    return targets


def collect_hints(args: argparse.Namespace, paths: list[Path]) -> dict[Path, list] | None:
    """Each input's point hints from ``--hint`` or ``--hints`` (None when neither is given), every
    point checked against its image's size: a bad hint is a ``TicError`` before anything is
    written."""
    from tic.hints import hint_points, parse_hint, read_hints_file
    from tic.imageio import oriented_size

    if args.hint and args.hints:
        raise TicError("give point hints with --hint or with --hints FILE.json, not both")
    if args.hint:
        if len(paths) != 1:
            raise TicError(
                f"--hint needs exactly one input image, got {len(paths)}; "
                "give hints per image with --hints FILE.json"
            )
        table = {paths[0]: [parse_hint(text) for text in args.hint]}
    elif args.hints:
        table = _match_hints_file(Path(args.hints), read_hints_file(args.hints), paths)
    else:
        return None
    for path, hints in table.items():
        size = oriented_size(path)
        if size is None:  # unreadable: reported with the other bad images when it is read
            continue
        try:
            hint_points(hints, size)
        except TicError as e:
            raise TicError(f"{path}: {e}") from None
    return table


def _match_hints_file(source: Path, entries: dict[str, list], paths: list[Path]) -> dict:
    """``read_hints_file``'s entries matched to the inputs: by file name, or by a path relative
    to the JSON file. An entry that names no input, or names several, is a ``TicError``."""
    resolved = {p: p.resolve() for p in paths}
    table: dict[Path, list] = {}
    for key, hints in entries.items():
        target = (source.parent / key).resolve()
        found = [p for p in paths if p.name == key or resolved[p] == target]
        if not found:
            raise TicError(f"{source}: entry {key!r} names no input image")
        if len(found) > 1:
            raise TicError(
                f"{source}: entry {key!r} names {len(found)} input images; "
                "use a path relative to the JSON file"
            )
        if found[0] in table:
            raise TicError(f"{source}: two entries name {found[0]}")
        table[found[0]] = hints
    return table


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TicError(f"{folder}: cannot create output folder ({e.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TicError(f"{folder}: output folder is not writable")


def run_colorize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tic.decoding import check_takes_hints
    from tic.pipeline import Colorizer

    start = time.perf_counter()
    paths = collect_inputs(args.inputs)
    targets = plan_outputs(paths, args.out)
    hints = collect_hints(args, paths)
    for folder in sorted({t.parent for t in targets.values()}):
        _check_writable(folder)
    colorizer = Colorizer.from_pretrained(
        args.model, device=args.device, max_pixels=args.max_pixels
    )
    if hints and any(hints.values()):
        try:
            check_takes_hints(colorizer.config)
        except TicError as e:
            raise TicError(f"{args.model or 'the shipped model'}: {e}") from None

    failures: list[str] = []
    done = 0
    bar = tqdm(total=len(paths), unit="img", disable=args.quiet or len(paths) < 2, file=sys.stderr)
    for i in range(0, len(paths), args.batch_size):
        batch, photos, texts, points = [], [], [], []
        for path in paths[i : i + args.batch_size]:
            try:
                text = args.text if args.text is not None else (sidecar_text(path) or "")
                photos.append(read_photo(path, args.max_pixels))
                texts.append(text)
                points.append(hints.get(path, []) if hints is not None else [])
                batch.append(path)
            except TicError as e:
                failures.append(str(e))
                bar.update(1)
        if batch:
            try:
                images = colorizer.colorize_photos(photos, texts, points if hints else None)
            except (TicError, RuntimeError) as e:  # e.g. out of memory on a huge batch
                failures += [f"{p}: colorization failed ({str(e).splitlines()[0]})" for p in batch]
                bar.update(len(batch))
                continue
            for path, image in zip(batch, images, strict=True):
                try:
                    save_image(image, targets[path])
                    done += 1
                except TicError as e:
                    failures.append(str(e))
                bar.update(1)
    bar.close()

    for message in failures:
        print(f"tic: error: {message}", file=sys.stderr)
    seconds = time.perf_counter() - start
    where = targets[paths[0]] if len(paths) == 1 else targets[paths[0]].parent
    summary = f"colorized {done} of {len(paths)} image(s) into {where} in {seconds:.1f} s"
    if failures:
        summary += f"; {len(failures)} failed"
    print(summary, file=sys.stderr)
    return 1 if failures else 0


# --- tic train ------------------------------------------------------------------------------------


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a config, or from a recipe of stages (configs/default.yaml)",
        description="Train from a YAML config (the paper's GAN recipe for architecture unet, the "
        "frozen-encoder recipe for encoder_unet); checkpoints, TensorBoard and the final model "
        "go into the run folder. A recipe (a file with stages:) trains each stage into "
        "RUN/<stage>/ from the one before, then writes RUN/model with its decoding. Under "
        "torchrun, trains on every process (DDP).",
    )
    p.add_argument("config", metavar="CONFIG.yaml", help="training config or recipe (configs/)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set steps=1000 --set model.image_size=128 (in a "
        "recipe: --set stages.decoder.steps=10)",
    )
    p.add_argument("--out", default=None, help="run folder (default runs/<config name>)")
    p.add_argument(
        "--resume", action="store_true", help="continue the run folder's last checkpoint"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from tic.train_config import load_train_config, read_yaml

    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    if "stages" in read_yaml(args.config):
        return _run_recipe(out, args)
    cfg = load_train_config(args.config, args.overrides)
    return _train_one(cfg, out, args, args.resume)


def _train_one(cfg, out: Path, args: argparse.Namespace, resume: bool) -> int:
    """One training run of ``cfg`` into ``out`` by its recipe: the paper's GAN loop
    (``tic.train``) or the frozen-encoder one (``tic.train_frozen``)."""
    from tic.train import prepare_run, train

    if cfg.model.architecture == "encoder_unet":
        return _run_train_frozen(cfg, out, args, resume)
    train_set, val_set, text_encoder = prepare_run(cfg, out, resume=resume)
    result = train(
        cfg, out, train_set, val_set, text_encoder, resume=resume, progress=not args.quiet
    )
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return 130 if result.interrupted else 0
    if result.interrupted:
        print(
            f"tic: interrupted at step {result.step}; checkpoint {result.last_checkpoint}; "
            f"continue with: tic train {args.config} --out {args.out or out} --resume",
            file=sys.stderr,
        )
        return 130
    print(f"trained {result.step} steps; model folder: {out / 'model'}", file=sys.stderr)
    return 0


def _run_recipe(out: Path, args: argparse.Namespace) -> int:
    """A recipe of stages (``tic.train_config.load_recipe``): each stage trains into
    ``OUT/<stage>/`` from the one before; a finished stage (its ``model/`` written), and every
    stage before it, is not run again, an unfinished one is continued with ``--resume``. Then
    ``OUT/model`` is the last stage's model with the recipe's decoding."""
    from tic.checkpoint import load_model, save_model_folder
    from tic.train_config import load_recipe

    recipe = load_recipe(args.config, args.overrides, run=out)
    done = [(out / name / "model" / "config.json").is_file() for name, _ in recipe.stages]
    last_done = max((i for i, d in enumerate(done) if d), default=-1)
    for i, (name, cfg) in enumerate(recipe.stages):
        folder = out / name
        if i <= last_done:  # finished, or not needed: a later stage is finished
            print(f"stage {name}: done ({folder / 'model'})" if done[i] else
                  f"stage {name}: not needed (a later stage is done)", file=sys.stderr)
            continue
        print(f"stage {name}: training into {folder}", file=sys.stderr)
        started = (folder / "checkpoints").is_dir() and any((folder / "checkpoints").iterdir())
        rc = _train_one(cfg, folder, args, resume=args.resume and started)
        if rc:
            return rc
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone writes OUT/model
        return 0
    last = out / recipe.stages[-1][0] / "model"
    config, generator, text_encoder = load_model(last)
    config.decoding = recipe.final_decoding()  # checked with the stage's model by load_recipe
    save_model_folder(out / "model", generator, text_encoder, config)
    print(f"model folder: {out / 'model'} (the last stage's, with the recipe's decoding)",
          file=sys.stderr)
    return 0


def _run_train_frozen(cfg, out: Path, args: argparse.Namespace, resume: bool) -> int:
    """The frozen-encoder recipe: views from the manifests, then ``tic.train_frozen``."""
    from tic.data.manifest import read_manifest
    from tic.data.views import build_views
    from tic.text import fit_text_encoder
    from tic.train_frozen import train_frozen

    photos = read_manifest(cfg.data.train, skip_missing=cfg.data.skip_missing)
    cutouts = read_manifest(cfg.data.cutouts) if cfg.data.cutouts else []
    if cfg.data.scenes and not cutouts:
        raise TicError("data.scenes needs data.cutouts (a manifest of RGBA cut-outs with labels)")
    size = cfg.model.image_size
    views = build_views(photos, cutouts, size, cfg.data.scenes, cfg.data.crops_per_photo,
                        seed=cfg.seed, large_objects=cfg.data.large_objects)
    val = None
    if cfg.data.val:
        val = build_views(read_manifest(cfg.data.val), [], size, 0, 0, flip=False)
    encoder = fit_text_encoder([r.text for r in photos], cfg.model.text_encoder)
    result = train_frozen(cfg, out, views, encoder, val, resume=resume,
                          progress=not args.quiet)
    if result.stopped_early:
        print(f"tic: stopped at step {result.step}; continue with: tic train {args.config} "
              f"--out {args.out or out} --resume", file=sys.stderr)
        return 130
    print(f"trained {result.step} steps; model folder: {out / 'model'}", file=sys.stderr)
    return 0


# --- tic evaluate / tic report ------------------------------------------------------------------


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="SSIM, PSNR, LPIPS, colourfulness, text colour accuracy of models on a manifest",
        description="Evaluate models (and the gray baseline) on a manifest at each image's own "
        "resolution; writes metrics.json, metrics.md, metrics.jsonl and grid.png (and with "
        "--hint-curve hint_curve.json and hint_curve.md).",
    )
    p.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="DIR",
        help="model folder; repeat for several models in one table (default: the shipped model)",
    )
    p.add_argument("--data", required=True, metavar="MANIFEST", help="manifest to evaluate on")
    p.add_argument("--out", default="evaluation", help="output folder (default ./evaluation/)")
    texts = p.add_mutually_exclusive_group()
    texts.add_argument("--no-text", action="store_true", help="give the models the empty text")
    texts.add_argument(
        "--text-from",
        metavar="OTHER_MANIFEST",
        default=None,
        help="recolorization: texts of another manifest's records, judged against the new text",
    )
    p.add_argument("--baseline", choices=["gray"], default=None, help="add the ab = 0 baseline")
    points = p.add_mutually_exclusive_group()
    points.add_argument(
        "--hints",
        type=_positive_int,
        default=0,
        metavar="N",
        help="give every image N random point hints of its ground truth (seeded by --seed)",
    )
    points.add_argument(
        "--hint-curve",
        action="store_true",
        help="the gain curve: 0, 1, 2, 5, 10, 20 points in one run (hint_curve.json, .md)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the point hints (default 0)")
    p.add_argument(
        "--bleed",
        action="store_true",
        help="also colorize with the empty text and measure how much the text changes colours "
        "outside the regions it names against inside them (images with regions)",
    )
    p.add_argument(
        "--squeezenet",
        metavar="PTH",
        default=None,
        help="torchvision SqueezeNet 1.1 weights for LPIPS(sqz) (else reported as n/a)",
    )
    p.add_argument("--fid", action="store_true", help="also FID (needs the extra 'fid')")
    p.add_argument("--split", default=None, help="only records of this split")
    p.add_argument("--limit", type=_positive_int, default=None, help="only the first N records")
    p.add_argument("--skip-missing", action="store_true", help="leave out records with missing files")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch-size", type=_positive_int, default=4, help="images per network pass")
    p.add_argument("--grid-rows", type=int, default=8, help="rows of grid.png (default 8)")
    p.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_evaluate)


def _read_records(args: argparse.Namespace):
    from tic.data.manifest import read_manifest

    records = read_manifest(args.data, split=args.split, skip_missing=args.skip_missing)
    if args.limit:
        records = records[: args.limit]
    if not records:
        raise TicError(f"{args.data}: no records to use" + (f" in split {args.split!r}" if args.split else ""))
    return records


def _load_models(paths: list[str | None], args: argparse.Namespace):
    from tic.pipeline import Colorizer

    models, names = [], []
    for path in paths:
        name = Path(path).name if path else "tic (shipped)"
        if name in names:
            name = f"{name} ({len(names) + 1})"
        names.append(name)
        models.append(
            (name, Colorizer.from_pretrained(path, device=args.device, max_pixels=args.max_pixels))
        )
    return models


def run_evaluate(args: argparse.Namespace) -> int:
    from tic.device import resolve_device
    from tic.evaluate import HINT_CURVE_COUNTS, Run, evaluate, other_texts

    if args.seed < 0:
        raise TicError(f"--seed must be 0 or more, got {args.seed}")
    records = _read_records(args)
    texts_from = other_texts(Path(args.text_from), Path(args.data)) if args.text_from else None
    runs = [Run(name, colorizer) for name, colorizer in _load_models(args.model or [None], args)]
    if args.baseline == "gray":
        runs.append(Run("gray (ab = 0)"))
    device = runs[0].colorizer.device if runs[0].colorizer is not None else resolve_device(args.device)
    result = evaluate(
        records,
        runs,
        args.out,
        root=Path(args.data).parent,
        text_mode="from" if args.text_from else "none" if args.no_text else "own",
        texts_from=texts_from,
        device=device,
        batch_size=args.batch_size,
        squeezenet=args.squeezenet,
        fid=args.fid,
        grid_rows=args.grid_rows,
        max_pixels=args.max_pixels,
        progress=not args.quiet,
        hints=args.hints,
        hint_counts=HINT_CURVE_COUNTS if args.hint_curve else None,
        seed=args.seed,
        bleed=args.bleed,
    )
    print((Path(args.out) / "metrics.md").read_text(), end="")
    if args.hint_curve:
        print("\n" + (Path(args.out) / "hint_curve.md").read_text(), end="")
    for message in result["failed"]:
        print(f"tic: error: {message}", file=sys.stderr)
    summary = (
        f"evaluated {result['n']} of {len(records)} image(s) in {result['seconds']:.1f} s "
        f"({result['images_per_s']} images/s); results in {args.out}"
    )
    if result["failed"]:
        summary += f"; {len(result['failed'])} failed"
    print(summary, file=sys.stderr)
    return 1 if result["failed"] else 0


def add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="figures of the paper's kinds (PNG) for a manifest",
        description="Write rows.png (gray | truth | ours), text_ablation.png (without / with "
        "text) and recolor.png (one gray image under several texts).",
    )
    p.add_argument("--data", required=True, metavar="MANIFEST")
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--out", default="report", help="output folder (default ./report/)")
    p.add_argument("--n", type=_positive_int, default=6, help="images in the figures (default 6)")
    p.add_argument(
        "--text",
        action="append",
        default=None,
        help="a text for recolor.png; repeat (default: texts of other records)",
    )
    p.add_argument("--split", default=None, help="only records of this split")
    p.add_argument("--skip-missing", action="store_true", help="leave out records with missing files")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--cell", type=_positive_int, default=192, help="cell size in pixels")
    p.set_defaults(func=run_report, limit=None, max_pixels=DEFAULT_MAX_PIXELS)


def run_report(args: argparse.Namespace) -> int:
    from tic.report import make_report

    records = _read_records(args)
    ((_, colorizer),) = _load_models([args.model], args)
    written = make_report(colorizer, records, args.out, n=args.n, texts=args.text, cell=args.cell)
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0


# --- tic data / tic caption -----------------------------------------------------------------------


def add_data(sub) -> None:
    p = sub.add_parser(
        "data",
        help="turn a data set on disk into a manifest (or make a synthetic one)",
        description="Read a data set in its own on-disk layout and write a tic manifest "
        "(JSON Lines of image + text), or generate the isoluminant set or cut-out composites.",
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    q = kinds.add_parser("cub", help="CUB-200-2011: text from the colour attributes")
    q.add_argument("root", help="the CUB_200_2011 folder")
    q.add_argument("--out", required=True, metavar="MANIFEST")
    q.add_argument("--split", choices=["official", "seeded"], default="official")
    q.add_argument("--n-train", type=int, default=5032, help="seeded split: train images (5032)")
    q.add_argument("--n-test", type=int, default=1000, help="seeded split: test images (1000)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--min-certainty", type=int, choices=[1, 2, 3, 4], default=1)
    q.add_argument("--visible-only", action="store_true", help="drop colours of hidden parts")
    q = kinds.add_parser("ncd", help="Natural Color Dataset: a folder per fruit class")
    q.add_argument("root")
    q.add_argument("--out", required=True, metavar="MANIFEST")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--n-test", type=int, default=None, help="test images (default 130/730 of all)")
    q.add_argument("--template", default="{color} {name}", help="text; the paper's is '{color}'")
    q.add_argument("--color", action="append", default=[], metavar="CLASS=COLOUR")
    q = kinds.add_parser("coco", help="MS COCO captions: images with a colour sentence")
    q.add_argument("captions", metavar="CAPTIONS_JSON", help="e.g. captions_train2017.json")
    q.add_argument("--images", required=True, metavar="DIR", help="e.g. train2017/")
    q.add_argument("--out", required=True, metavar="MANIFEST")
    q.add_argument("--split", default=None, help="split name for every record (e.g. train)")
    q.add_argument("--skip-missing", action="store_true", help="leave out missing image files")
    q = kinds.add_parser("folder", help="images with sidecar .txt captions")
    q.add_argument("root")
    q.add_argument("--out", required=True, metavar="MANIFEST")
    q.add_argument("--require-text", action="store_true", help="leave out images without .txt")
    q = kinds.add_parser("photos", help="the shared photo pool, captioned from its pixels")
    q.add_argument("pool", metavar="POOL_MANIFEST", help="../shared/data/photos/manifest.jsonl")
    q.add_argument("--out", required=True, metavar="MANIFEST")
    q.add_argument("--test-fraction", type=float, default=0.0)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--skip-missing", action="store_true")
    q = kinds.add_parser("synthetic", help="the isoluminant benchmark set (shapes at one L*)")
    q.add_argument("--out", required=True, metavar="DIR")
    q.add_argument("--n", type=_positive_int, required=True)
    q.add_argument("--size", type=_positive_int, default=64)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--lightness", type=float, default=60.0, help="the common L* (default 60)")
    q.add_argument("--max-shapes", type=_positive_int, default=3)
    q.add_argument("--split", default=None, help="split name for every record")
    q = kinds.add_parser("composites", help="pool cut-outs pasted on photos / plain colours")
    q.add_argument("pool", metavar="POOL_MANIFEST", help="../shared/data/photos/manifest.jsonl")
    q.add_argument("--out", required=True, metavar="DIR")
    q.add_argument("--n", type=_positive_int, required=True)
    q.add_argument("--size", type=_positive_int, default=256)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--recolor-prob", type=float, default=0.5, help="chance of a hue turn")
    q.add_argument("--plain-prob", type=float, default=0.3, help="chance of a plain background")
    q.add_argument("--test-fraction", type=float, default=0.0)
    p.set_defaults(func=run_data)


def run_data(args: argparse.Namespace) -> int:
    from collections import Counter

    from tic.data.manifest import write_manifest

    manifest = Path(args.out)
    if args.kind == "cub":
        from tic.data.cub import load_cub

        records = load_cub(
            args.root, args.split, args.n_train, args.n_test, args.seed, args.min_certainty,
            args.visible_only,
        )
    elif args.kind == "ncd":
        from tic.data.ncd import load_ncd

        extra = {}
        for item in args.color:
            name, sep, colour = item.partition("=")
            if not sep or not name.strip():
                raise TicError(f"--color takes CLASS=COLOUR, got {item!r}")
            extra[name.strip()] = colour.strip()
        records = load_ncd(args.root, args.seed, args.n_test, args.template, extra)
    elif args.kind == "coco":
        from tic.data.coco import load_coco

        records = load_coco(args.captions, args.images, args.split, args.skip_missing)
    elif args.kind == "folder":
        from tic.data.folder import load_folder

        records = load_folder(args.root, args.require_text)
    elif args.kind == "photos":
        from tic.data.photos import load_photos

        records = load_photos(args.pool, args.test_fraction, args.seed, args.skip_missing)
    elif args.kind == "synthetic":
        from tic.data.synthetic import make_synthetic

        try:
            records = make_synthetic(
                args.out, args.n, args.size, args.seed, args.lightness, args.max_shapes, args.split
            )
        except ValueError as e:  # bad sizes or a lightness without clear colours
            raise TicError(str(e)) from None
        manifest = manifest / "manifest.jsonl"
    else:
        from tic.data.composites import make_composites

        records = make_composites(
            args.pool, args.out, args.n, args.size, args.seed, args.recolor_prob,
            args.plain_prob, args.test_fraction,
        )
        manifest = manifest / "manifest.jsonl"
    if not records:
        raise TicError(f"{args.kind}: no records to write")
    if args.kind not in ("synthetic", "composites"):
        write_manifest(manifest, records)
    splits = Counter(r.split or "no split" for r in records)
    parts = ", ".join(f"{n} {s}" for s, n in sorted(splits.items()))
    print(f"wrote {len(records)} record(s) ({parts}) to {manifest}", file=sys.stderr)
    return 0


def add_caption(sub) -> None:
    p = sub.add_parser(
        "caption",
        help="colour captions made from images' own colours",
        description="Name the colours of each image (object and background apart where a mask "
        "or alpha channel exists). INPUT: image files, folders, or a manifest (.jsonl) whose "
        "masks and 'label's are used and whose texts are replaced (the old one is kept as "
        "original_text).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="images, folders or a manifest")
    p.add_argument(
        "--out", default=None, metavar="MANIFEST", help="write a manifest (default: print lines)"
    )
    p.add_argument("--label", default=None, help="object name for every image")
    p.add_argument("--skip-missing", action="store_true", help="manifest: leave out missing files")
    p.set_defaults(func=run_caption)


def run_caption(args: argparse.Namespace) -> int:
    from tic.data.captions import caption_file
    from tic.data.manifest import Record, read_manifest, write_manifest

    records: list[Record] = []
    for item in args.inputs:
        if item.endswith(".jsonl"):
            records += read_manifest(item, skip_missing=args.skip_missing)
        else:
            records += [Record(image=p, id=p.stem) for p in collect_inputs([item])]
    out, failures = [], []
    for rec in records:
        label = args.label or rec.extra.get("label")
        try:
            caption = caption_file(rec.image, rec.mask, label if isinstance(label, str) else None)
        except TicError as e:
            failures.append(str(e))
            continue
        extra = dict(rec.extra)
        if rec.text:
            extra["original_text"] = rec.text
        out.append(Record(rec.image, caption, rec.mask, rec.id, rec.split, extra))
    if args.out:
        if out:
            write_manifest(args.out, out)
    else:
        for rec in out:
            print(f"{rec.image}\t{rec.text}")
    for message in failures:
        print(f"tic: error: {message}", file=sys.stderr)
    where = f" into {args.out}" if args.out and out else ""
    summary = f"captioned {len(out)} of {len(records)} image(s){where}"
    print(summary + (f"; {len(failures)} failed" if failures else ""), file=sys.stderr)
    return 1 if failures else 0


# --- tic web --------------------------------------------------------------------------------------


def add_web(sub) -> None:
    p = sub.add_parser(
        "web",
        help="a browser app for colorizing with words (extra: web)",
        description="Serve the browser app (and its HTTP API) on HOST:PORT until Ctrl-C.",
    )
    p.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_positive_int, default=7860)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=50_000_000,
        help="refuse larger images (default 50,000,000)",
    )
    p.add_argument(
        "--keep-files",
        type=_positive_int,
        default=900,
        metavar="SECONDS",
        help="the longest a file stays on the server (default 900): a page's uploaded photos "
        "and its results are deleted when the page is closed or SECONDS after they were "
        "uploaded or made, and a file no request claimed after SECONDS",
    )
    p.add_argument(
        "--examples",
        default=None,
        metavar="DIR",
        help="example photos with sidecar .txt texts (default: the repository's examples/)",
    )
    p.set_defaults(func=run_web)


def run_web(args: argparse.Namespace) -> int:
    from tic import web

    examples = Path(args.examples) if args.examples else web.EXAMPLES_DIR
    if args.examples and not examples.is_dir():
        raise TicError(f"{examples}: no such folder (--examples)")
    web.serve(
        args.model,
        host=args.host,
        port=args.port,
        device=args.device,
        max_pixels=args.max_pixels,
        keep_files=args.keep_files,
        examples_dir=examples,
    )
    return 0


# --- entry point ----------------------------------------------------------------------------------


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    from tic import __version__

    parser = argparse.ArgumentParser(prog="tic", description="Text-guided image colorization.")
    parser.add_argument("--version", action="version", version=f"tic {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_colorize(sub)
    add_train(sub)
    add_evaluate(sub)
    add_report(sub)
    add_data(sub)
    add_caption(sub)
    add_web(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Everything imported so far (torch's ~170,000 objects) lives until exit: out of the cyclic
    # garbage collector's sight, neither its passes while the model loads nor the one at exit walk
    # it again (`benchmarks/colorize_speed.py`: the one-photo command 0.5-0.7 s faster).
    gc.freeze()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="tic: %(levelname)s: %(message)s",
    )
    try:
        return args.func(args)
    except TicError as e:
        print(f"tic: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tic: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
