"""The maintenance scripts in scripts/: loss-curve plot and shipping a model folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tic import Colorizer

ROOT = Path(__file__).resolve().parents[1]


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args],
                          capture_output=True, text=True)


def test_plot_losses_draws_a_png(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rows = [{"step": s, "loss_d": 1.0, "loss_g": 2.0, "loss_gan": 0.8, "loss_l1": 0.2 - s / 1e3,
             "loss_perceptual": 0.5 * (s % 50 == 25), "time": s} for s in range(25, 501, 25)]
    rows.append({"step": 500, "val_ab_l1": 0.1, "time": 600})
    (run / "losses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "docs" / "losses.png"
    done = run_script("plot_losses.py", str(run), "--out", str(out))
    assert done.returncode == 0, done.stderr
    img = Image.open(out)
    assert img.width > img.height > 100
    # a missing run folder is a clear error, not a traceback
    done = run_script("plot_losses.py", str(tmp_path / "nope"), "--out", str(out))
    assert done.returncode == 2 and "losses.jsonl not found" in done.stderr


@pytest.mark.slow
def test_ship_default_model_stores_fp16_and_keeps_outputs(tiny_model_dir, tmp_path):
    out = tmp_path / "assets" / "default"
    done = run_script("ship_default_model.py", str(tiny_model_dir), "--out", str(out))
    assert done.returncode == 0, done.stderr
    src_size = (tiny_model_dir / "model.safetensors").stat().st_size
    assert (out / "model.safetensors").stat().st_size < 0.6 * src_size
    assert not (out / "training_state.pt").exists()
    probe = Image.effect_mandelbrot((64, 48), (-2, -1, 1, 1), 64)
    a = np.asarray(Colorizer.from_pretrained(tiny_model_dir, device="cpu")(probe, "a red bird"), int)
    b = np.asarray(Colorizer.from_pretrained(out, device="cpu")(probe, "a red bird"), int)
    assert np.abs(a - b).max() <= 2
    # shipping again replaces the folder as a whole
    done = run_script("ship_default_model.py", str(tiny_model_dir), "--out", str(out), "--dtype", "fp32")
    assert done.returncode == 0, done.stderr
    assert (out / "model.safetensors").stat().st_size == src_size
    assert sorted(p.name for p in out.parent.iterdir()) == ["default"]
    # --color-synonyms switches the encoder's synonym rewrite on in config.json
    done = run_script("ship_default_model.py", str(tiny_model_dir), "--out", str(out), "--color-synonyms")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "config.json").read_text())["text_encoder"]["color_synonyms"] is True
    assert Colorizer.from_pretrained(out, device="cpu").config.text_encoder.color_synonyms
