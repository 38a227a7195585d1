"""``tic evaluate``: the paper's metrics over a manifest, for one or more models and the gray baseline.

Evaluation happens at each image's own resolution, the way users get the output: the model sees L
at its working size, ``Colorizer`` upsamples the predicted ab and keeps the photo's full-resolution
L (``tic.pipeline.compose``), and that 8-bit output is compared with the 8-bit ground truth of the
same size. The gray baseline (``--baseline gray``) is the same photo with a = b = 0.

Texts: the record's own text (default); the empty text (``--no-text``, the paper's ablation, Fig.
9; the output is still judged against the record's own text); or, with ``--text-from OTHER``, the
texts of another manifest's records (recolorization, Fig. 10: record ``i`` gets text
``i mod len(OTHER)``, or ``i + 1`` when OTHER is the evaluated manifest itself, so that every image
gets another image's text) and the output is judged against that NEW text.

Text colour accuracy (``tic.metrics``): with a manifest's ``regions`` (``[{"mask", "color",
"shape"}]``, e.g. the isoluminant set) each region is judged on its own; with the record's own text
against the region's ``color``, with a new text against the colour that text puts before the
region's name ("a red circle"). Otherwise ``judge_text_colors`` on the record's object mask (its
``mask``, else the image's alpha channel) or the whole image. The data set's value is the share of
all judged (image, colour) pairs that are right.

Outputs in ``--out``: ``metrics.json`` (the first run's metrics under the keys of the
``metrics.json`` contract: ``n``, ``psnr``, ``ssim``, ``lpips_vgg``, ``lpips_alex``,
``lpips_squeeze``, ``colorfulness``, ``text_color_accuracy``, ...; every run under ``"runs"``),
``metrics.md`` (the paper's Table 1 form), ``metrics.jsonl`` (one line per image and run) and
``grid.png`` (gray | ground truth | each run's output). All are written atomically;
``metrics.jsonl`` grows in a temporary file and is renamed at the end.

Point hints (``hints=N``, ``tic evaluate --hints N``): every image gets N random points of its
ground truth (``draw_hints``), the evaluation of Zhang et al. 2017 ("Real-Time User-Guided Image
Colorization with Learned Deep Priors"): each point a uniformly drawn pixel of the full-resolution
image at least 2 px from the border, its colour the mean sRGB of the truth's 5x5 patch around it,
given as an ``(r, g, b)`` tuple. The points depend only on the seed and the image's pixels, so an
image gets the same points for every model, run, manifest order and batch size, and the first k of
N points are the points for k. The metrics are computed as without hints; ``hint_ab_error`` is the
median over all hints of all images of the CIE Lab ab distance between the output at the hint's
pixel and the hint's colour. A model without a hint module is refused before anything is written.
``hint_counts`` (``--hint-curve``: ``HINT_CURVE_COUNTS``) adds the gain curve: the same samples
colorized with each number of points in one pass over the manifest, written to
``hint_curve.json`` and ``hint_curve.md`` beside Zhang et al.'s numbers (``ZHANG_2017``); the usual
files are for ``hints`` points and the other counts are scored by PSNR and ``hint_ab_error`` only.

Bleed (``bleed=True``, ``tic evaluate --bleed``): how much a text changes the colours OUTSIDE the
objects it names, against inside them. Each model also colorizes every sample that has
``regions`` with the empty text (the same hints as its usual output, if any) in the same batch
(``predict_empty``); the "inside" is the union of the region masks, the "outside" the rest. Per
image and model (``ab_change``): ``change_inside`` is the mean over the inside pixels of the CIE
Lab ab distance ``sqrt(da^2 + db^2)`` between the usual output and the empty-text output (Lab of
the 8-bit sRGB outputs, ``tic.color.rgb_to_lab``), ``change_outside`` the same over the outside
pixels, both in ab units; both are None for an image without regions, for an image whose inside
or outside has no pixel and for the gray baseline. A run's summary holds ``change_inside`` and
``change_outside``, the means over its measured images, ``bleed_images``, their number, and
``bleed`` = mean ``change_outside`` / mean ``change_inside`` (a ratio of means; None when no image
was measured or the inside mean is 0). Without ``bleed`` these keys are absent from the rows and
summaries (None means "asked for, not measurable"). With ``--text-from`` the new text is compared
with the empty text; with ``--no-text`` there is nothing to compare (a ``TicError``).

``evaluate`` streams the manifest in batches through five pieces, each usable on its own:
``load_samples`` (files -> ``Sample``, with its hints drawn), ``predict`` (each run's outputs;
``predict_empty`` for the bleed measure), ``score_sample`` (one row per run: image metrics and
colour judgements), ``summarize`` (a run's table row, computed from its rows) and
``write_results``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from tic import decoding, metrics
from tic.color import rgb_to_lab
from tic.color_names import CHROMATIC_TERMS
from tic.data.manifest import Record
from tic.errors import TicError
from tic.grid import image_grid, to_image
from tic.hints import MAX_HINTS
from tic.imageio import (
    DEFAULT_MAX_PIXELS,
    Photo,
    atomic_path,
    load_image,
    mask_from_alpha,
    read_mask,
    save_image,
    to_photo,
    to_rgb,
)
from tic.report import gray_image

log = logging.getLogger("tic")

GRAY = "gray"
METRIC_KEYS = ("psnr", "ssim", "lpips_vgg", "lpips_alex", "lpips_squeeze", "colorfulness")

HINT_PATCH = 5  # a hint's colour: the mean of the truth's 5x5 patch around its pixel (Zhang et al.)
HINT_CURVE_COUNTS = (0, 1, 2, 5, 10, 20)
# Zhang et al. 2017's PSNR on 1000 ImageNet images at 256^2 with random points of the truth
# (richzhang/colorization-pytorch, resources/psnrs_siggraph.npy)
ZHANG_2017 = {
    "name": "Zhang et al. (ImageNet, 256^2)",
    "counts": (0, 1, 2, 5, 10, 20),
    "psnr": (24.43, 25.37, 26.20, 27.39, 28.42, 29.34),
    "gain_db": (0.0, 0.94, 1.77, 2.96, 3.99, 4.91),
}

TEXT_MODES = {"own": "each record's own text", "none": "no text (ablation)",
              "from": "texts of other records (recolorization)"}  # fmt: skip

Point = tuple[int, int, tuple[int, int, int]]  # (x, y, (r, g, b)): a hint drawn from the truth


@dataclass
class Run:
    """One row of the table: a model (``colorizer``) or the gray baseline (``colorizer=None``);
    ``rows`` are its ``metrics.jsonl`` lines, from which ``summarize`` computes the row."""

    name: str
    colorizer: object | None = None
    rows: list[dict] = field(default_factory=list)
    fid: object | None = None


@dataclass
class Sample:
    """One manifest record, loaded: ``truth`` ``(1, 3, H, W)`` in [0, 1], masks ``(H, W)`` bool."""

    record: Record
    truth: Tensor
    photo: Photo
    mask: Tensor | None
    regions: list[tuple[Tensor, str, str]]  # (mask, colour term, name)
    text_in: str = ""
    text_judged: str = ""
    own_text: bool = True
    hints: list[Point] = field(default_factory=list)  # the most points any count uses


# --- loading ------------------------------------------------------------------------------------


def load_sample(record: Record, root: Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Sample:
    """A record's image (truth and model input from one decoding), object mask and regions.

    The object mask is the record's ``mask`` file, else the image's alpha channel; masks follow
    ``tic.imageio``'s one rule (> 127 of 255).
    """
    img = load_image(record.image, max_pixels)
    truth = to_rgb(img, str(record.image))[None]  # (1, 3, H, W) in [0, 1]
    photo = to_photo(img, max_pixels, name=str(record.image))
    size = photo.size
    mask = None
    if record.mask is not None:
        mask = read_mask(record.mask, size)
    elif photo.alpha is not None:
        mask = mask_from_alpha(photo.alpha)
    regions = []
    for k, region in enumerate(record.extra.get("regions") or []):
        if not isinstance(region, dict) or "mask" not in region or "color" not in region:
            raise TicError(f"{record.image}: regions[{k}] needs \"mask\" and \"color\"")
        name = str(region.get("shape", ""))
        regions.append((read_mask(root / region["mask"], size), str(region["color"]), name))
    return Sample(record, truth, photo, mask, regions)


def load_samples(
    records: list[Record],
    indices: range,
    root: Path,
    text_mode: str = "own",
    texts_from: tuple[list[str], int] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    hints: int = 0,
    seed: int = 0,
) -> tuple[list[Sample], list[str]]:
    """The samples of ``records[i]`` for ``i`` in ``indices``, their texts set (module docstring)
    and ``hints`` point hints drawn (``draw_hints`` with ``seed``), and one message per record
    that could not be loaded."""
    samples, failures = [], []
    for i in indices:
        rec = records[i]
        try:
            s = load_sample(rec, root, max_pixels)
            if hints:
                s.hints = draw_hints(s.truth, hints, seed, name=str(rec.image))
        except TicError as e:
            failures.append(str(e))
            continue
        if text_mode == "from":
            texts, shift = texts_from
            s.text_in = s.text_judged = texts[(i + shift) % len(texts)]
            s.own_text = s.text_judged == rec.text
        else:
            s.text_in = "" if text_mode == "none" else rec.text
            s.text_judged = rec.text
        samples.append(s)
    return samples, failures


def other_texts(path: Path, data_path: Path) -> tuple[list[str], int]:
    """Texts of ``--text-from``'s manifest and the shift to apply (1 when it is the same file)."""
    from tic.data.manifest import read_manifest

    texts = [r.text for r in read_manifest(path, check_files=False) if r.text.strip()]
    if not texts:
        raise TicError(f"{path}: no record has a text; --text-from needs a manifest with texts")
    same = Path(path).resolve() == Path(data_path).resolve()
    return texts, 1 if same else 0


# --- point hints --------------------------------------------------------------------------------


def draw_hints(truth: Tensor, n: int, seed: int = 0, name: str = "image") -> list[Point]:
    """``n`` random point hints of a ground truth ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1].

    Each point ``(x, y, (r, g, b))``: ``x``, ``y`` a pixel drawn uniformly among those at least 2 px
    from the border (the 5x5 patch lies inside the image), ``(r, g, b)`` the patch's mean 8-bit
    sRGB, rounded. The random stream is seeded by ``seed`` and a hash of the image's pixels, so the
    same image gets the same points wherever it is evaluated, and the first k of ``n`` points are
    ``draw_hints(truth, k, seed)``. An image under 5 px wide or high is a ``TicError``.
    """
    if truth.ndim == 4:
        truth = truth[0]
    if truth.ndim != 3 or truth.shape[0] != 3:
        raise ValueError(f"truth must be (3, H, W) or (1, 3, H, W), got {tuple(truth.shape)}")
    if seed < 0:
        raise ValueError(f"the hint seed must be >= 0, got {seed}")
    _, H, W = truth.shape
    r = HINT_PATCH // 2
    if W < HINT_PATCH or H < HINT_PATCH:
        raise TicError(f"{name}: {W}x{H} is too small for point hints (5x5 patches inside it)")
    rgb8 = np.rint(truth.detach().cpu().double().numpy() * 255)  # (3, H, W): the 8-bit truth
    digest = hashlib.sha256(rgb8.astype(np.uint8).tobytes() + f"{W}x{H}".encode()).digest()
    rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
    # one double per coordinate, drawn in order: the points for k are the first k for any n
    u = rng.random((n, 2))
    xs = r + np.floor(u[:, 0] * (W - 2 * r)).astype(int)
    ys = r + np.floor(u[:, 1] * (H - 2 * r)).astype(int)
    points = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        mean = rgb8[:, y - r : y + r + 1, x - r : x + r + 1].reshape(3, -1).mean(1)
        points.append((x, y, tuple(int(v) for v in np.rint(mean))))
    return points


def hint_ab_errors(output: Image.Image, points: list[Point]) -> list[float]:
    """The CIE Lab ab distance between ``output`` at each hint's pixel and the hint's colour."""
    if not points:
        return []
    arr = np.asarray(output.convert("RGB"))
    got = [arr[y, x] for x, y, _ in points]
    wanted = [colour for _, _, colour in points]
    rgb = torch.tensor(np.array([*got, *wanted]), dtype=torch.float64) / 255  # (2N, 3)
    ab = rgb_to_lab(rgb.T[None, :, :, None])[0, 1:, :, 0].T  # (2N, 2)
    n = len(points)
    return (ab[:n] - ab[n:]).norm(dim=1).tolist()


def check_takes_hints(runs: list[Run]) -> None:
    """A ``TicError`` naming the first model that takes no point hints (the gray baseline takes
    none and needs none; the rule is ``tic.decoding.check_takes_hints``)."""
    for run in runs:
        if run.colorizer is None:
            continue
        try:
            decoding.check_takes_hints(run.colorizer.config)
        except TicError as e:
            raise TicError(f"model {run.name}: {e}") from None


# --- predicting ---------------------------------------------------------------------------------


def predict(runs: list[Run], samples: list[Sample], points: int = 0,
            empty_text: bool = False) -> dict[str, list[Image.Image]]:  # fmt: skip
    """Each run's outputs for ``samples`` (one network pass per model; gray: a = b = 0), the
    models given the first ``points`` of each sample's hints and each sample's ``text_in`` (the
    empty text with ``empty_text``)."""
    outputs = {}
    hints = [s.hints[:points] for s in samples] if points else None
    texts = [""] * len(samples) if empty_text else [s.text_in for s in samples]
    for run in runs:
        if run.colorizer is None:
            outputs[run.name] = [gray_image(s.photo) for s in samples]
        else:
            outputs[run.name] = run.colorizer.colorize_photos(
                [s.photo for s in samples], texts, hints
            )
    return outputs


def predict_empty(runs: list[Run], samples: list[Sample],
                  points: int = 0) -> dict[str, list[Image.Image | None]]:  # fmt: skip
    """For the bleed measure: each model's outputs with the empty text and the same hints as
    ``predict``'s, for the samples with regions (None for the others, which are not measured; the
    gray baseline gets no entry)."""
    models = [run for run in runs if run.colorizer is not None]
    measured = [s for s in samples if s.regions]
    made = predict(models, measured, points, empty_text=True)
    outputs = {}
    for run in models:
        it = iter(made[run.name])
        outputs[run.name] = [next(it) if s.regions else None for s in samples]
    return outputs


# --- scoring ------------------------------------------------------------------------------------


def to_tensor(img: Image.Image) -> Tensor:
    """8-bit PIL output -> ``(1, 3, H, W)`` float in [0, 1] (alpha dropped)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    # contiguous NCHW: convolutions on the permuted (channels-last) strides are several times slower
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def judge(sample: Sample, rgb: Tensor) -> list[metrics.ColorJudgement]:
    """The text colour judgements for one output ``rgb`` ``(3, H, W)`` (see the module docstring)."""
    text = sample.text_judged
    if sample.regions:
        if sample.own_text:
            return metrics.judge_regions(rgb, sample.regions)
        named = metrics.colors_for_names(text, [n for _, _, n in sample.regions if n])
        picked = [(m, named[n], n) for m, _, n in sample.regions if n in named]
        if picked:
            return metrics.judge_regions(rgb, picked)
    return metrics.judge_text_colors(rgb, text, sample.mask)


def score_image(
    pred: Tensor,
    truth: Tensor,
    name: str,
    lpips_models: dict[str, metrics.LPIPS],
) -> dict[str, float | None]:
    """Image metrics of one prediction ``(1, 3, H, W)`` against its truth of the same size."""
    if pred.shape != truth.shape:
        raise TicError(
            f"{name}: prediction is {pred.shape[-1]}x{pred.shape[-2]} but the truth is "
            f"{truth.shape[-1]}x{truth.shape[-2]}; they must have the same size"
        )
    for what, t in (("prediction", pred), ("truth", truth)):
        if not torch.isfinite(t).all():
            raise TicError(f"{name}: {what} contains NaN or infinite values")
    out: dict[str, float | None] = {
        "psnr": metrics.psnr(pred, truth).item(),
        "ssim": metrics.ssim(pred, truth).item() if min(pred.shape[-2:]) >= 11 else None,
    }
    with torch.no_grad():
        for net in ("vgg", "alex", "squeeze"):
            model = lpips_models.get(net)
            out[f"lpips_{net}"] = model(pred, truth).item() if model is not None else None
    out["colorfulness"] = metrics.colorfulness(pred).item()
    return out


def ab_change(text_out: Image.Image, empty_out: Image.Image,
              inside: Tensor) -> tuple[float | None, float | None]:  # fmt: skip
    """The bleed measure of one image: the mean CIE Lab ab distance ``sqrt(da^2 + db^2)`` between
    two 8-bit outputs of the same size (the text's and the empty text's) over the pixels of
    ``inside`` ``(H, W)`` bool, and over the other pixels: ``(change_inside, change_outside)`` in
    ab units; ``(None, None)`` when either side has no pixel."""
    if text_out.size != empty_out.size:
        raise ValueError(f"outputs of different sizes: {text_out.size} and {empty_out.size}")
    W, H = text_out.size
    if tuple(inside.shape) != (H, W):
        shape = tuple(inside.shape)
        raise ValueError(f"inside must be ({H}, {W}) for {W}x{H} outputs, got {shape}")
    inside = inside.cpu().bool()
    n_inside = int(inside.sum())
    if n_inside == 0 or n_inside == inside.numel():
        return None, None
    rgb = np.stack([np.asarray(o.convert("RGB"), dtype=np.float64) for o in (text_out, empty_out)])
    lab = rgb_to_lab(torch.from_numpy(rgb / 255).permute(0, 3, 1, 2))  # (2, 3, H, W)
    dist = (lab[0, 1:] - lab[1, 1:]).norm(dim=0)  # (H, W): the ab distance per pixel
    return dist[inside].mean().item(), dist[~inside].mean().item()


def score_sample(
    sample: Sample,
    outputs: list[Image.Image],
    runs: list[Run],
    lpips_models: dict[str, metrics.LPIPS],
    device: torch.device,
    points: int = 0,
    empty_outputs: list[Image.Image | None] | None = None,
) -> list[tuple[dict, Tensor]]:
    """One ``metrics.jsonl`` row per run for a sample and the runs' outputs, with each prediction
    ``(1, 3, H, W)`` on ``device``; with ``points``, the row holds the first ``points`` of the
    sample's hints and the ab error at each; with ``empty_outputs`` (per run its empty-text
    output, None for the gray baseline or a sample without regions), the row holds
    ``change_inside`` and ``change_outside`` (``ab_change`` inside the union of the regions).
    Raises ``TicError`` when an output cannot be scored."""
    name = str(sample.record.image)
    truth = sample.truth.to(device)
    inside = torch.stack([m for m, _, _ in sample.regions]).any(0) if sample.regions else None
    bleed = empty_outputs is not None
    empties = empty_outputs if bleed else [None] * len(runs)
    scored = []
    for run, output, empty in zip(runs, outputs, empties, strict=True):
        pred = to_tensor(output).to(device)
        row = score_image(pred, truth, name, lpips_models)
        judged = judge(sample, pred[0])
        row = {
            "image": name,
            "id": sample.record.id,
            "model": run.name,
            "text": sample.text_in,
            "judged_text": sample.text_judged,
            **row,
            "text_color_accuracy": (
                sum(j.correct for j in judged) / len(judged) if judged else None
            ),
            "colors": [
                {"term": j.term, "region": j.region, "found": j.leading, "ok": j.correct}
                for j in judged
            ],
        }
        if points:
            hints = sample.hints[:points]
            row["hints"] = [[x, y, list(colour)] for x, y, colour in hints]
            row["hint_ab_errors"] = hint_ab_errors(output, hints)
        if bleed:
            measurable = empty is not None and inside is not None
            change = ab_change(output, empty, inside) if measurable else (None, None)
            row["change_inside"], row["change_outside"] = change
        scored.append((row, pred))
    return scored


# --- aggregating ---------------------------------------------------------------------------------


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    if not vals or len(vals) < len(values):
        return None  # unavailable for some image: no mean over a different set
    m = float(np.mean(vals))
    return m if math.isfinite(m) else None


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _accuracy(colors: list[dict]) -> float | None:
    return sum(c["ok"] for c in colors) / len(colors) if colors else None


def summarize(run: Run, bleed: bool = False) -> dict:
    """A run's line of the table, from its rows: metric means and the judged colours' shares;
    with ``bleed``, the bleed measure over the rows that have one (module docstring)."""
    summary: dict = {"name": run.name, "n": len(run.rows)}
    for key in METRIC_KEYS:
        summary[key] = _mean([r[key] for r in run.rows]) if run.rows else None
    colors = [c for r in run.rows for c in r["colors"]]
    # black / white / gray named in a text are met by a gray image too; the chromatic share is not
    chromatic = [c for c in colors if c["term"] in CHROMATIC_TERMS]
    # composites: the object's colours alone (recolorization asks whether the object changed)
    on_object = [c for c in colors if c["region"] == "object"]
    summary["text_color_accuracy"] = _accuracy(colors)
    summary["text_colors_judged"] = len(colors)
    summary["text_chromatic_accuracy"] = _accuracy(chromatic)
    summary["text_chromatic_judged"] = len(chromatic)
    summary["text_object_accuracy"] = _accuracy(on_object)
    summary["text_object_judged"] = len(on_object)
    # scenes with several named objects (binding): images where every object shows its colour
    several = [[c for c in r["colors"] if c["region"] == "object"] for r in run.rows]
    several = [objs for objs in several if len(objs) >= 2]
    summary["text_all_objects_accuracy"] = (
        sum(all(c["ok"] for c in objs) for objs in several) / len(several) if several else None
    )
    summary["text_all_objects_judged"] = len(several)
    summary["fid"] = run.fid.compute() if run.fid is not None and len(run.rows) >= 2 else None
    summary["hint_ab_error"] = _median([e for r in run.rows for e in r.get("hint_ab_errors", [])])
    if bleed:
        measured = [r for r in run.rows if r.get("change_inside") is not None]
        inside = float(np.mean([r["change_inside"] for r in measured])) if measured else None
        outside = float(np.mean([r["change_outside"] for r in measured])) if measured else None
        summary["change_inside"], summary["change_outside"] = inside, outside
        summary["bleed_images"] = len(measured)
        # a ratio of means: images with small objects do not swing it as a mean of ratios would
        summary["bleed"] = outside / inside if inside else None
    return summary


# --- the loop -----------------------------------------------------------------------------------


def evaluate(
    records: list[Record],
    runs: list[Run],
    out: str | Path,
    root: Path,
    text_mode: str = "own",
    texts_from: tuple[list[str], int] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 4,
    squeezenet: str | Path | None = None,
    fid: bool = False,
    grid_rows: int = 8,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: bool = True,
    hints: int = 0,
    hint_counts: tuple[int, ...] | None = None,
    seed: int = 0,
    bleed: bool = False,
) -> dict:
    """Evaluate ``runs`` on ``records``; write the four outputs into ``out``; return metrics.json.

    ``hints``: random point hints per image for the usual outputs; ``hint_counts``: also the gain
    curve over these numbers of points (0 is always among them), written to ``hint_curve.json``
    and ``hint_curve.md``; ``seed``: the points' seed (module docstring). A model that takes no
    point hints, given some, is a ``TicError`` before anything is written. ``bleed``: also the
    bleed measure (module docstring); with ``text_mode="none"`` a ``TicError`` before anything is
    written.
    """
    from tqdm import tqdm

    if not records:
        raise TicError("the manifest has no records to evaluate")
    if text_mode not in ("own", "none", "from"):
        raise ValueError(f"text_mode must be own, none or from, got {text_mode!r}")
    if bleed and text_mode == "none":
        raise TicError("the bleed measure compares the text's output with the empty text's; "
                       "with no text (--no-text) there is nothing to compare")  # fmt: skip
    counts = sorted({0, *hint_counts}) if hint_counts is not None else []
    for c in (hints, *counts):
        if not 0 <= c <= MAX_HINTS:
            raise TicError(f"point hints per image must be 0 .. {MAX_HINTS}, got {c}")
    if seed < 0:
        raise TicError(f"the hint seed must be >= 0, got {seed}")
    most = max([hints, *counts])
    if most:
        check_takes_hints(runs)
    models = [run for run in runs if run.colorizer is not None]  # the curve's: gray takes no hints
    # the curve's other counts: scored by PSNR and the ab error at the hints only
    extra: dict[int, dict[str, list[dict]]] = {c: {r.name: [] for r in models}
                                               for c in counts if c != hints}  # fmt: skip
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TicError(f"{out}: cannot create output folder ({e.strerror})") from None
    device = torch.device(device)
    lpips_models = {net: metrics.lpips_model(net, device=device) for net in ("vgg", "alex")}
    if squeezenet is not None:
        lpips_models["squeeze"] = metrics.lpips_model("squeeze", squeezenet, device)
    if fid:
        for run in runs:
            run.fid = metrics.FID(device)

    start = time.perf_counter()
    failures: list[str] = []
    grid: list[list[Image.Image]] = []
    grid_caps: list[list[str]] = []
    truth_colorfulness: list[float] = []
    bar = tqdm(total=len(records), unit="img", disable=not progress, file=sys.stderr)
    with atomic_path(out / "metrics.jsonl") as tmp, tmp.open("w", encoding="utf-8") as jsonl:
        for i0 in range(0, len(records), batch_size):
            indices = range(i0, min(i0 + batch_size, len(records)))
            samples, failed = load_samples(records, indices, root, text_mode, texts_from,
                                           max_pixels, most, seed)  # fmt: skip
            failures += failed
            bar.update(len(failed))
            if not samples:
                continue
            try:
                outputs = predict(runs, samples, hints)
                empty = predict_empty(runs, samples, hints) if bleed else None
                extra_outputs = {c: predict(models, samples, c) for c in extra}
            except (TicError, RuntimeError) as e:  # e.g. out of memory: report, go on
                why = str(e).splitlines()[0] if str(e) else type(e).__name__
                failures += [f"{s.record.image}: colorization failed ({why})" for s in samples]
                bar.update(len(samples))
                continue
            for k, s in enumerate(samples):
                try:
                    empties = None
                    if bleed:  # the gray baseline has no empty-text output
                        empties = [empty[r.name][k] if r.name in empty else None for r in runs]
                    scored = score_sample(s, [outputs[r.name][k] for r in runs], runs,
                                          lpips_models, device, hints, empties)
                    extra_rows = {c: [score_points(s, o[r.name][k], c, device) for r in models]
                                  for c, o in extra_outputs.items()}  # fmt: skip
                except TicError as e:
                    failures.append(str(e))
                    bar.update(1)
                    continue
                except RuntimeError as e:  # out of memory on a huge image: report, go on
                    failures.append(f"{s.record.image}: scoring failed ({str(e).splitlines()[0]})")
                    bar.update(1)
                    continue
                truth = s.truth.to(device)
                truth_colorfulness.append(metrics.colorfulness(truth).item())
                for run, (row, pred) in zip(runs, scored, strict=True):
                    run.rows.append(row)
                    jsonl.write(json.dumps(_finite(row)) + "\n")
                    if run.fid is not None:
                        run.fid.update(truth, pred)
                for c, rows in extra_rows.items():
                    for run, row in zip(models, rows, strict=True):
                        extra[c][run.name].append(row)
                if len(grid) < grid_rows:
                    grid.append([gray_image(s.photo), to_image(s.truth[0]),
                                 *(outputs[r.name][k] for r in runs)])
                    points = f" + {hints} point{'s' * (hints != 1)}" if hints else ""
                    grid_caps.append(["", "", (s.text_in or "(no text)") + points])
                bar.update(1)
    bar.close()
    seconds = time.perf_counter() - start

    summaries = [summarize(run, bleed) for run in runs]
    n = summaries[0]["n"]
    result = {
        **{k: v for k, v in summaries[0].items() if k != "name"},
        "model": summaries[0]["name"],
        "text_mode": text_mode,
        "hints": hints,
        "hint_seed": seed,
        "truth_colorfulness": float(np.mean(truth_colorfulness)) if truth_colorfulness else None,
        "seconds": round(seconds, 3),
        "images_per_s": round(n / seconds, 4) if seconds > 0 else None,
        "failed": failures,
        "runs": summaries,
    }
    header = ["gray", "ground truth", *(r.name for r in runs)]
    write_results(out, result, summaries, image_grid(grid, header, grid_caps) if grid else None)
    if counts:
        rows = {c: extra[c] if c in extra else {r.name: r.rows for r in models} for c in counts}
        write_hint_curve(out, summarize_curve(rows, n, text_mode, seed))
    return result


def score_points(sample: Sample, output: Image.Image, points: int, device: torch.device) -> dict:
    """A curve row: the PSNR of one output made with the first ``points`` of the sample's hints,
    and the ab error at each of those hints."""
    pred = to_tensor(output).to(device)
    hints = sample.hints[:points]
    return {"psnr": metrics.psnr(pred, sample.truth.to(device)).item(),
            "hint_ab_errors": hint_ab_errors(output, hints)}  # fmt: skip


def summarize_curve(rows: dict[int, dict[str, list[dict]]], n: int, text_mode: str,
                    seed: int) -> dict:
    """``hint_curve.json`` from each count's rows per model (``{count: {model: rows}}``, the rows
    holding ``psnr`` and ``hint_ab_errors``): mean PSNR, its gain over 0 points, median ab error."""
    counts = sorted(rows)
    names = list(rows[counts[0]])
    psnr = {m: [_mean([r["psnr"] for r in rows[c][m]]) for c in counts] for m in names}
    gain = {m: [None if p is None or psnr[m][0] is None else p - psnr[m][0] for p in psnr[m]]
            for m in names}  # fmt: skip
    ab_error = {m: [_median([e for r in rows[c][m] for e in r.get("hint_ab_errors", [])])
                    for c in counts] for m in names}  # fmt: skip
    return {"counts": counts, "psnr": psnr, "gain_db": gain, "hint_ab_error": ab_error, "n": n,
            "text_mode": text_mode, "seed": seed, "reference": ZHANG_2017}  # fmt: skip


# --- writing -------------------------------------------------------------------------------------


def write_results(out: Path, result: dict, summaries: list[dict], grid: Image.Image | None) -> None:
    """``metrics.json``, ``metrics.md`` and (when there is a grid) ``grid.png``, atomically."""
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(_finite(result), indent=2) + "\n")
    with atomic_path(out / "metrics.md") as tmp:
        tmp.write_text(markdown_table(summaries, result["text_mode"], result["truth_colorfulness"],
                                      result.get("hints", 0), result.get("hint_seed", 0)))
    if grid is not None:
        save_image(grid, out / "grid.png")


def _finite(obj):
    """JSON has no inf/nan: write them as null (PSNR of an exact copy is infinite)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _share(value: float | None, judged: int) -> str:
    return "n/a" if value is None else f"{value:.3f} ({judged})"


def markdown_table(summaries: list[dict], text_mode: str, truth_colorfulness: float | None,
                   hints: int = 0, seed: int = 0) -> str:
    """The paper's Table 1 columns (SSIM, PSNR, LPIPS vgg and sqz) plus ours."""

    def fmt(v, digits):
        return "n/a" if v is None else f"{v:.{digits}f}"

    with_fid = any(s["fid"] is not None for s in summaries)
    with_object = any(s.get("text_object_judged") for s in summaries)
    head = ["Method", "n", "SSIM ↑", "PSNR ↑", "LPIPS(vgg) ↓", "LPIPS(sqz) ↓", "LPIPS(alex) ↓",
            "Colourfulness", "Text colour acc. ↑", "Chromatic text colour acc. ↑"]  # fmt: skip
    with_all = any(s.get("text_all_objects_judged") for s in summaries)
    with_bleed = any("bleed" in s for s in summaries)  # summarize(run, bleed=True) adds the key
    if with_object:
        head.append("Object colour acc. ↑")
    if with_all:
        head.append("All objects right ↑")
    if with_fid:
        head.append("FID ↓")
    if hints:
        head.append("ab error at hints ↓")
    if with_bleed:
        head.append("bleed (out/in) ↓")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        cells = [
            s["name"], str(s["n"]), fmt(s["ssim"], 4), fmt(s["psnr"], 2), fmt(s["lpips_vgg"], 4),
            fmt(s["lpips_squeeze"], 4), fmt(s["lpips_alex"], 4), fmt(s["colorfulness"], 1),
            _share(s["text_color_accuracy"], s["text_colors_judged"]),
            _share(s["text_chromatic_accuracy"], s["text_chromatic_judged"]),
        ]  # fmt: skip
        if with_object:
            cells.append(_share(s.get("text_object_accuracy"), s.get("text_object_judged", 0)))
        if with_all:
            cells.append(_share(s.get("text_all_objects_accuracy"),
                                s.get("text_all_objects_judged", 0)))
        if with_fid:
            cells.append(fmt(s["fid"], 2))
        if hints:
            cells.append(fmt(s.get("hint_ab_error"), 2))
        if with_bleed:
            cells.append(_share(s.get("bleed"), s.get("bleed_images", 0)))
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        f"Texts given to the models: {TEXT_MODES[text_mode]}. Metrics at each image's own "
        "resolution.",
        "LPIPS(sqz) is n/a unless torchvision SqueezeNet 1.1 weights were given (--squeezenet).",
        "Text colour accuracy: share of the colours the judged text names that the output shows "
        "(judged pairs in brackets); chromatic: the same over colours other than black, white "
        "and gray, which a gray image also shows.",
    ]
    if with_object:
        notes.append(
            "Object colour acc.: the same over the colours named for the regions called "
            "\"object\" (the cut-out of a composite)."
        )
    if with_all:
        notes.append(
            "All objects right: share of the images with two or more \"object\" regions in "
            "which every object shows its named colour (binding: both objects right)."
        )
    if hints:
        notes.append(
            f"Point hints: {hints} random point{'s' * (hints != 1)} per image (seed {seed}), each "
            "a pixel at least 2 px from the border in the mean colour of the truth's 5x5 patch; "
            "ab error at hints: the median over all hints of the CIE Lab ab distance between the "
            "output at the hint's pixel and the hint's colour (the gray baseline takes no hints)."
        )
    if with_bleed:
        notes.append(
            "Bleed (out/in): the mean CIE Lab ab change that the text makes (its output against "
            "the empty text's) outside the named regions over the mean change inside them, on the "
            "images with regions (in brackets); 0 is a text that changes only what it names."
        )
    if truth_colorfulness is not None:
        notes.append(f"Colourfulness of the ground truth: {truth_colorfulness:.1f}.")
    return "\n".join(lines + notes) + "\n"


def write_hint_curve(out: Path, curve: dict) -> None:
    """``hint_curve.json`` and ``hint_curve.md`` (``curve_markdown``), atomically."""
    with atomic_path(out / "hint_curve.json") as tmp:
        tmp.write_text(json.dumps(_finite(curve), indent=2) + "\n")
    with atomic_path(out / "hint_curve.md") as tmp:
        tmp.write_text(curve_markdown(curve))


def curve_markdown(curve: dict) -> str:
    """The gain curve as a table: one row per number of points; for each model and for Zhang et
    al.'s reference a block of PSNR, gain over 0 points and median ab error at the hints."""

    def fmt(v, form):
        return "n/a" if v is None else format(v, form)

    counts, ref = curve["counts"], curve["reference"]
    blocks = [(m, curve["psnr"][m], curve["gain_db"][m], curve["hint_ab_error"][m])
              for m in curve["psnr"]]  # fmt: skip
    published = dict(zip(ref["counts"], zip(ref["psnr"], ref["gain_db"], strict=True), strict=True))
    ref_rows = [published.get(c, (None, None)) for c in counts]
    blocks.append((ref["name"], [p for p, _ in ref_rows], [g for _, g in ref_rows],
                   [None] * len(counts)))  # fmt: skip
    head = ["Points"]
    for name, *_ in blocks:
        head += [f"{name}: PSNR ↑", "gain (dB) ↑", "ab error at hints ↓"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, c in enumerate(counts):
        cells = [str(c)]
        for _, psnr, gain, ab_error in blocks:
            cells += [fmt(psnr[i], ".2f"), fmt(gain[i], "+.2f"), fmt(ab_error[i], ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        f"{curve['n']} images, texts: {TEXT_MODES[curve['text_mode']]}; random point hints of the truth as "
        f"`tic evaluate --hints` draws them (seed {curve['seed']}; the points for k are the first "
        f"k of the {counts[-1]}). PSNR: mean over the images at their own resolution; ab error: "
        "median over all hints of the CIE Lab ab distance between the output at the hint's pixel "
        "and the hint's colour.",
        f"{ref['name']}: Zhang et al. 2017, \"Real-Time User-Guided Image Colorization with "
        "Learned Deep Priors\": 1000 ImageNet images at 256^2, random points of the truth "
        "(colorization-pytorch's resources/psnrs_siggraph.npy; no ab error published).",
    ]
    return "\n".join(lines + notes) + "\n"
