"""Shared fixtures: a tiny model folder and paths to the shared real-photo pool."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tic import Colorizer
from tic.config import model_preset

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos"

TEXTS = [
    "a red bird with black wings",
    "blue sky over green grass",
    "a yellow flower on a brown table",
    "breast_color red wing_color black",
]


def photo_paths(n: int, alpha: bool = False) -> list[Path]:
    """``n`` real photos from the shared pool (cut-outs with alpha when ``alpha``)."""
    pattern = "tuxstamps__*.png" if alpha else "*.jpg"
    paths = sorted((PHOTOS / "images").glob(pattern))[:n]
    if len(paths) < n:
        pytest.skip(f"shared photo pool not found at {PHOTOS}")
    return paths


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
