"""The maintenance scripts in scripts/: loss-curve plot, shipping a model folder, the held-out
sets and the shipped model's evaluation."""

from __future__ import annotations

import json
import os
import shutil
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
    # the folder's config is shipped as it is (no decoding flags: the recipe's decoding is in it)
    assert json.loads((out / "config.json").read_text()) == json.loads(
        (tiny_model_dir / "config.json").read_text())  # fmt: skip
    # shipping again replaces the folder as a whole; a folder of format tic-model/1 (one flat
    # ``generator`` section) is shipped in the current format, with the same weights
    old = tmp_path / "old"
    shutil.copytree(tiny_model_dir, old)
    data = json.loads((old / "config.json").read_text())
    data = {"format": "tic-model/1", "tic_version": data["tic_version"],
            "image_size": data["image_size"], "generator": data["unet"],
            "text_encoder": data["text_encoder"]}  # fmt: skip
    (old / "config.json").write_text(json.dumps(data))
    done = run_script("ship_default_model.py", str(old), "--out", str(out), "--dtype", "fp32")
    assert done.returncode == 0, done.stderr
    assert (out / "model.safetensors").stat().st_size == src_size
    assert sorted(p.name for p in out.parent.iterdir()) == ["default"]
    assert json.loads((out / "config.json").read_text()) == json.loads(
        (tiny_model_dir / "config.json").read_text())  # fmt: skip
    c = np.asarray(Colorizer.from_pretrained(out, device="cpu")(probe, "a red bird"), int)
    np.testing.assert_array_equal(c, a)


def _prepare_data_v2():
    import importlib.util

    spec = importlib.util.spec_from_file_location("prepare_data_v2",
                                                  ROOT / "scripts" / "prepare_data_v2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_binding_set_with_unnamed_cutouts_names_only_the_top_two(tmp_path):
    """Crowded binding scenes (dev_binding_crowded): the two cut-outs pasted last are painted
    and named, each text twice with the colours swapped; the ones under them keep their own
    colours and appear in no text or region."""
    P = _prepare_data_v2()
    cutouts = []
    for k, label in enumerate(["owl", "kettle", "boot", "lamp"]):
        rgba = np.zeros((40, 40, 4), np.uint8)
        rgba[..., :3] = 110 + 20 * k  # mid-gray objects: any recolouring term is reachable
        rgba[6:34, 6:34, 3] = 255
        path = tmp_path / f"{label}.png"
        Image.fromarray(rgba, "RGBA").save(path)
        cutouts.append({"path": path, "label": label, "file": path.name})
    bg = tmp_path / "bg.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(bg)
    backgrounds = [{"path": bg, "file": bg.name}]
    records = P.binding_set(tmp_path / "crowded", cutouts, backgrounds, 6, 64, 3, unnamed=2)
    assert records and len(records) % 2 == 0
    for first, second in zip(records[::2], records[1::2], strict=True):
        assert first.extra["pair"] == second.extra["pair"]
        regions = first.extra["regions"]
        assert len(regions) == 2 and {r["name"] for r in regions} == set(first.extra["labels"])
        named = [r["name"] for r in regions]
        for word in ["owl", "kettle", "boot", "lamp"]:  # only the named labels are in the text
            assert (word in first.text) == (word in named)
        swapped = [r["color"] for r in second.extra["regions"]]
        assert swapped == [r["color"] for r in regions][::-1]
        # an unnamed object keeps its own gray where no named object covers it
        image = np.asarray(Image.open(first.image).convert("RGB"), np.int16)
        masks = [np.asarray(Image.open(first.image.parent.parent / r["mask"])) > 0
                 for r in regions]
        painted = masks[0] | masks[1]
        gray = (np.abs(image[..., 0] - image[..., 1]) < 3) & (np.abs(image[..., 1] - image[..., 2]) < 3)
        assert gray[~painted].mean() > 0.99  # background and unnamed objects: still gray
        assert not gray[painted].all()


def _evaluate_default_model(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run scripts/evaluate_default_model.sh in ``tmp_path`` with ``tic`` and ``python`` replaced
    by stubs that log their arguments: the commands it would run, not the models."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "commands.log"
    for name in ("tic", "python"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "evaluate_default_model.sh"), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    return done, log.read_text().splitlines() if log.exists() else []


def _held_out_sets(root: Path) -> None:
    for name in ("val_sources.jsonl", "val_recolor/manifest.jsonl", "val_binding/manifest.jsonl"):
        (root / "data" / "v2" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "data" / "v2" / name).write_text("")


def test_evaluate_default_model_runs_the_card_commands(tmp_path):
    _held_out_sets(tmp_path)
    done, commands = _evaluate_default_model(tmp_path)
    assert done.returncode == 0, done.stderr
    evaluations = [c for c in commands if c.startswith("tic evaluate")]
    assert [c.split("--out ")[1].split()[0] for c in evaluations] == [
        "runs/eval-default/sources", "runs/eval-default/sources_notext",
        "runs/eval-default/freeform", "runs/eval-default/recolor", "runs/eval-default/binding",
        "runs/eval-default/recolor_free", "runs/eval-default/binding_free",
        "runs/eval-default/hints_sources", "runs/eval-default/hints_hash"]
    assert all(c.count("--model") == 1 and "--model src/tic/assets/default" in c
               for c in evaluations)
    assert "--baseline gray" in evaluations[0] and "--no-text" in evaluations[1]
    assert "--baseline gray" in evaluations[1]  # the free-form texts' gray row
    assert all("--bleed" in c for c in evaluations[3:7])
    assert all("--hint-curve" in c for c in evaluations[7:])
    scripts = [c.split()[1] for c in commands if c.startswith("python")]
    assert scripts == ["scripts/make_freeform_sets.py", "benchmarks/heldout_colors.py",
                       "benchmarks/grounding_maps.py", "benchmarks/face_recall.py",
                       "benchmarks/colorize_speed.py", "benchmarks/colorize_speed.py",
                       "benchmarks/colorize_speed.py", "scripts/hints_figure.py",
                       "scripts/examples_figure.py"]
    for script in set(scripts):
        assert (ROOT / script).is_file()
    assert "tic colorize examples/ --out colorized/" in commands  # the main job, for its picture


def test_evaluate_default_model_compares_a_previous_model(tmp_path):
    _held_out_sets(tmp_path)
    (tmp_path / "models" / "v9.5").mkdir(parents=True)
    (tmp_path / "models" / "v9.5" / "config.json").write_text("{}")
    done, commands = _evaluate_default_model(tmp_path, "models/v9.5")
    assert done.returncode == 0, done.stderr
    evaluations = [c for c in commands if c.startswith("tic evaluate")]
    # every table compares it, but the hint curves (it may take no points)
    assert len(evaluations) == 9 and all("--model models/v9.5" in c for c in evaluations[:7])
    assert not any("models/v9.5" in c for c in evaluations[7:])
    figure = [c for c in commands if "scripts/freeform_figure.py" in c]
    assert len(figure) == 1 and "--before models/v9.5" in figure[0]
    assert (ROOT / "scripts" / "freeform_figure.py").is_file()


def test_evaluate_default_model_says_what_is_missing(tmp_path):
    done, commands = _evaluate_default_model(tmp_path)
    assert done.returncode == 2 and "prepare_data_v2.py" in done.stderr and not commands
    _held_out_sets(tmp_path)
    done, commands = _evaluate_default_model(tmp_path, "models/nope")
    assert done.returncode == 2 and "not a model folder" in done.stderr and not commands
    done, _ = _evaluate_default_model(tmp_path, "--help")
    assert done.returncode == 2 and "usage" in done.stderr
