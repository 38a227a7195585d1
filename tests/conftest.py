"""Shared fixtures: a tiny model folder, photos made from ``examples/``, and the shared pool marker.

The tests need no files outside the repository: ``photo_paths`` gives colour photos made from the
example photos (their own L* with a smooth made-up colour field) and a soft-edged cut-out. Tests
marked ``pool`` read the whole shared photo pool (``../shared/data/photos``, beside the clone);
without it they are deselected, not skipped, so a user's clone runs everything it collects.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter

from tic import Colorizer
from tic.color import lab_to_rgb_in_gamut, rgb_to_lab
from tic.config import model_preset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PHOTOS = ROOT.parent / "shared" / "data" / "photos"

TEXTS = [
    "a red bird with black wings",
    "blue sky over green grass",
    "a yellow flower on a brown table",
    "breast_color red wing_color black",
]

_made: dict[str, Path] = {}  # the folder the photos below are made in (set once per session)


def pytest_collection_modifyitems(config, items):
    """Without the shared pool beside the clone, its tests are deselected (not skipped)."""
    if (PHOTOS / "manifest.jsonl").is_file():
        return
    pool = [item for item in items if item.get_closest_marker("pool")]
    if pool:
        config.hook.pytest_deselected(items=pool)
        items[:] = [item for item in items if not item.get_closest_marker("pool")]


def pytest_report_header(config):
    found = (PHOTOS / "manifest.jsonl").is_file()
    return f"shared photo pool: {PHOTOS if found else 'not found (pool tests deselected)'}"


@pytest.fixture(scope="session", autouse=True)
def _photo_folder(tmp_path_factory):
    _made["dir"] = tmp_path_factory.mktemp("photos")


def example_paths() -> list[Path]:
    """The gray example photos shipped in ``examples/`` (with their sidecar texts)."""
    return sorted(EXAMPLES.glob("*.jpg"))


def photo_paths(n: int, alpha: bool = False) -> list[Path]:
    """``n`` colour photos (JPEG) made from the example photos, or with ``alpha`` ``n`` RGBA cut-outs
    (PNG, soft edges, colour zeroed where transparent, like the pool's Tux Paint cut-outs)."""
    sources = example_paths()
    if n > len(sources):
        raise ValueError(f"only {len(sources)} example photos")
    folder = _made["dir"]
    paths = []
    for i, src in enumerate(sources[:n]):
        path = folder / (f"{src.stem}_cutout.png" if alpha else f"{src.stem}.jpg")
        if not path.exists():
            rgb = colour_photo(Image.open(src), seed=i)
            if alpha:
                rgb = cutout(rgb)
            rgb.save(path, **({} if alpha else {"quality": 95}))
        paths.append(path)
    return paths


def colour_photo(gray: Image.Image, seed: int = 0) -> Image.Image:
    """A colour photo with the lightness of ``gray`` and a smooth, varied colour field (chroma
    up to ~45): real texture from the photo, colours of every hue."""
    rgb = torch.from_numpy(np.asarray(gray.convert("RGB"), dtype=np.float32) / 255)
    lab = rgb_to_lab(rgb.permute(2, 0, 1)[None])  # (1, 3, H, W)
    H, W = lab.shape[-2:]
    y, x = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    hue = 2 * math.pi * (x + 0.6 * y + 0.17 * seed)
    chroma = 25 + 20 * torch.sin(3 * math.pi * y + seed)
    lab[0, 1], lab[0, 2] = chroma * torch.cos(hue), chroma * torch.sin(hue)
    out = lab_to_rgb_in_gamut(lab)[0].permute(1, 2, 0)
    return Image.fromarray((out * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy(), "RGB")


def cutout(rgb: Image.Image) -> Image.Image:
    """``rgb`` as an RGBA cut-out: an ellipse with a feathered (soft) edge, black where clear."""
    w, h = rgb.size
    alpha = Image.new("L", (w, h), 0)
    ImageDraw.Draw(alpha).ellipse((w * 0.1, h * 0.1, w * 0.9, h * 0.9), fill=255)
    alpha = alpha.filter(ImageFilter.GaussianBlur(3))
    out = Image.composite(rgb, Image.new("RGB", (w, h)), alpha)
    out.putalpha(alpha)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny, untrained model folder (random weights, word2vec fitted on ``TEXTS``)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    colorizer = Colorizer.from_config(model_preset("tiny"), TEXTS, seed=0, device="cpu")
    # give BatchNorm non-trivial running statistics so eval mode is exercised
    calibrate_batchnorm(colorizer.generator, text_dim=16)
    colorizer.save_pretrained(folder)
    return folder


def calibrate_batchnorm(generator, text_dim: int, size: int = 32, steps: int = 8) -> None:
    """Give BatchNorm the statistics of real activations (as after training), then eval mode.

    At initialisation the running statistics are (0, 1), which in eval mode shrinks the deep path
    (and with it the text's effect) to almost nothing; a trained model never looks like that.
    """
    for m in generator.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    generator.train()
    with torch.no_grad():
        for _ in range(steps):
            generator(torch.rand(4, 1, size, size) * 2 - 1, torch.randn(4, text_dim))
    generator.eval()
