"""Recipes of stages (``tic.train_config.load_recipe``, ``tic train RECIPE.yaml``): each stage
trains from the one before, ``OUT/model`` gets the recipe's decoding, a finished stage is not run
again; bad recipes are named; ``configs/default.yaml`` is the shipped model's recipe and every
other config in ``configs/`` loads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml

from tic.checkpoint import default_model_dir, load_model_config, read_weights
from tic.cli import main
from tic.config import ConfigError, DecodingConfig, from_dict, to_dict
from tic.data.manifest import write_manifest
from tic.train_config import load_recipe, load_train_config

from .test_views_and_frozen_training import _images

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# the recipe's decoding: it needs the grounding the second stage switches on
DECODING = {"ab_head": "bins", "bins_temperature": 0.5, "ab_head_no_colour": "regression",
            "no_colour_chroma": 0.5, "person_nouns": True}


def _recipe(tmp_path, **changes) -> Path:
    """Two tiny frozen-encoder stages (2 steps each, 64x64) and a decoding section; ``changes``
    replace top-level parts of it."""
    photos, cutouts = _images(tmp_path)
    write_manifest(tmp_path / "photos.jsonl", photos)
    write_manifest(tmp_path / "cutouts.jsonl", cutouts)
    first = {
        "model": {"image_size": 64, "architecture": "encoder_unet",
                  "encoder_unet": {"decoder_widths": [16, 12, 8, 8], "cross_attention": 2,
                                   "attention_dim": 8, "attention_heads": 2, "text_hidden": 8},
                  "decoding": {"ab_head": "bins"}, "text_encoder": {"kind": "minilm"}},
        "data": {"train": str(tmp_path / "photos.jsonl"),
                 "cutouts": str(tmp_path / "cutouts.jsonl"), "scenes": 4, "recolor_prob": 0.8,
                 "empty_text_prob": 0.2},
        "loss": {"lambda_bins": 0.3},
        "batch_size": 4, "steps": 2, "log_every": 1, "eval_every": 2, "save_every": 2,
    }
    # the grounding hints on the first stage's model; a rate too small to move a weight, so that
    # its weights show where the stage started
    second = {"model": {"encoder_unet": {"grounding": True}}, "optim": {"lr": 1e-12}}
    recipe = {"stages": {"first": first, "second": second}, "decoding": DECODING, **changes}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")
            if p.is_file()}


def test_recipe_trains_its_stages_in_order_and_writes_the_model(tmp_path, capsys):
    out = tmp_path / "run"
    recipe = _recipe(tmp_path)
    assert main(["train", str(recipe), "--out", str(out), "--quiet"]) == 0
    first, second = out / "first", out / "second"
    assert (first / "model" / "model.safetensors").is_file()
    # stage 2 started from stage 1's model (its init_from)
    saved = yaml.safe_load((second / "config.yaml").read_text())
    assert saved["init_from"] == str(first / "model")
    assert saved["model"]["encoder_unet"]["grounding"] is True
    assert yaml.safe_load((first / "config.yaml").read_text())["init_from"] is None
    old, new = read_weights(first / "model" / "model.safetensors"), read_weights(
        second / "model" / "model.safetensors")
    weights = [k for k in old if "running_" not in k and "num_batches" not in k]
    assert weights and all(torch.allclose(new[k], old[k], atol=1e-6) for k in weights)
    assert any(k.startswith("hint.") for k in new)  # what stage 2 added starts fresh
    # OUT/model: the last stage's network with the recipe's decoding
    model = load_model_config(out / "model")
    assert to_dict(model.decoding) == to_dict(DecodingConfig()) | DECODING
    assert load_model_config(second / "model").decoding.bins_temperature == 0.38  # the stage's
    assert model.encoder_unet == load_model_config(second / "model").encoder_unet
    final = read_weights(out / "model" / "model.safetensors")
    assert final.keys() == new.keys() and all(torch.equal(final[k], new[k]) for k in new)
    assert json.loads((out / "model" / "config.json").read_text())["format"] == "tic-model/2"

    # run again: both stages are done and not trained again
    before = {name: _files(out / name) for name in ("first", "second")}
    capsys.readouterr()
    assert main(["train", str(recipe), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "stage first: done" in err and "stage second: done" in err
    assert {name: _files(out / name) for name in ("first", "second")} == before

    # with the second stage gone, only it trains again (from the first stage's model, as before)
    import shutil

    shutil.rmtree(second)
    assert main(["train", str(recipe), "--out", str(out), "--quiet",
                 "--set", "decoding.bins_temperature=0.7"]) == 0
    assert _files(first) == before["first"]
    again = read_weights(second / "model" / "model.safetensors")
    assert all(torch.equal(again[k], new[k]) for k in weights)  # the same run, step for step
    assert load_model_config(out / "model").decoding.bins_temperature == 0.7  # --set on a recipe


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": 10}, r"unknown recipe key 'steps'"),
    ({"stages": {}}, r"stages must be a mapping"),
    ({"stages": {"first": {"init_from": "models/scratch-v1"}}}, r"stages\.first\.init_from"),
    ({"stages": {"first": {"loss": {"lambda_foo": 1}}}},
     r"stages\.first: unknown config key loss\.lambda_foo"),
    ({"stages": {"first": {"batch_size": 0}}}, r"stages\.first: batch_size must be at least 1"),
    ({"decoding": {"ab_heads": "bins"}}, r"unknown config key decoding\.ab_heads"),
    ({"decoding": {"paint_objects": True}}, r"decoding\.paint_objects needs"),
])
def test_bad_recipes_are_named(tmp_path, change, message):
    path = tmp_path / "recipe.yaml"
    recipe = {"stages": {"first": {"model": {"architecture": "encoder_unet",
                                             "text_encoder": {"kind": "minilm"}},
                                   "data": {"train": "photos.jsonl"}}},
              "decoding": {"ab_head": "bins"}}
    path.write_text(yaml.safe_dump({**recipe, **change}))
    with pytest.raises(ConfigError, match=message):
        load_recipe(path)


def test_a_bad_stage_is_named_before_any_stage_trains(tmp_path, capsys):
    recipe = _recipe(tmp_path)
    out = tmp_path / "run"
    assert main(["train", str(recipe), "--out", str(out), "--quiet",
                 "--set", "stages.second.loss.lambda_foo=1"]) == 2
    assert "stages.second: unknown config key loss.lambda_foo" in capsys.readouterr().err
    assert not out.exists()


def test_default_recipe_is_the_shipped_model(tmp_path):
    """configs/default.yaml: five stages, each from the one before, whose last model and the
    recipe's decoding are those of the shipped model (src/tic/assets/default/config.json)."""
    recipe = load_recipe(CONFIGS / "default.yaml", run=tmp_path)
    names = [name for name, _ in recipe.stages]
    assert names == ["decoder", "grounding", "objects", "hints", "palette"]
    decoder, grounding, objects, hints, palette = (cfg for _, cfg in recipe.stages)
    assert [cfg.steps for _, cfg in recipe.stages] == [1000, 800, 3000, 1500, 1000]
    assert decoder.init_from is None
    assert grounding.init_from == str(tmp_path / "decoder" / "model")
    assert objects.init_from == str(tmp_path / "grounding" / "model")
    assert hints.init_from == str(tmp_path / "objects" / "model")
    assert palette.init_from == str(tmp_path / "hints" / "model")
    assert not decoder.model.encoder_unet.grounding and grounding.model.encoder_unet.grounding
    assert not grounding.model.encoder_unet.object_head and objects.model.encoder_unet.object_head
    assert objects.loss.lambda_objects > 0 and objects.loss.lambda_l1 == objects.loss.lambda_bins == 0
    assert not objects.model.encoder_unet.hints and hints.model.encoder_unet.hints
    assert not hints.model.encoder_unet.palette and palette.model.encoder_unet.palette
    # only the hint module trains in its stage, only the palette module in the last one
    assert hints.loss.lambda_hints > 0
    assert hints.loss.lambda_l1 == hints.loss.lambda_bins == hints.loss.lambda_objects == 0
    assert palette.loss.lambda_palette > 0 and palette.loss.lambda_hints == 0
    assert palette.loss.lambda_l1 == palette.loss.lambda_bins == palette.loss.lambda_objects == 0

    shipped = load_model_config(default_model_dir())
    decoding = from_dict(DecodingConfig, to_dict(palette.model.decoding) | recipe.decoding)
    for f in dataclasses.fields(DecodingConfig):
        assert getattr(decoding, f.name) == getattr(shipped.decoding, f.name), f.name
    # the network and text encoder the last stage trains are the shipped model's
    model = palette.model
    assert (model.image_size, model.architecture) == (shipped.image_size, shipped.architecture)
    assert model.encoder_unet == shipped.encoder_unet
    assert model.text_encoder == shipped.text_encoder


@pytest.mark.parametrize("name", ["paper.yaml", "tiny.yaml", "cpu128.yaml", "scratch-v1.yaml"])
def test_every_other_config_loads(name):
    """Loading reads no data: the manifests they name need not exist."""
    cfg = load_train_config(CONFIGS / name)
    assert cfg.model.architecture == "unet" and cfg.data.train


def test_a_recipe_is_not_a_train_config():
    with pytest.raises(ConfigError, match="a recipe of stages"):
        load_train_config(CONFIGS / "default.yaml")
