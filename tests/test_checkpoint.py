"""``tic.checkpoint``: the on-disk formats (pinned: runs and model folders must stay readable both
ways), the one weight loader, atomic folders, and training checkpoints (save, load, keep-last)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from tic.checkpoint import (
    CONFIG_NAME,
    STATE_NAME,
    WEIGHTS_NAME,
    atomic_folder,
    latest_checkpoint,
    load_checkpoint,
    load_model,
    load_weights,
    save_checkpoint,
    save_model_folder,
)
from tic.config import model_dict, model_preset
from tic.errors import TicError
from tic.models import Generator, PatchDiscriminator
from tic.text import Word2VecEncoder
from tic.train import build_nets
from tic.train_config import load_train_config

from .conftest import TEXTS


@pytest.fixture
def cfg(tmp_path):
    return load_train_config(None, ["model=tiny", "discriminator.widths=[8,16,32]",
                                    f"data.train={tmp_path / 'x.jsonl'}", "keep_last=2"])


@pytest.fixture
def encoder(cfg):
    return Word2VecEncoder.fit(TEXTS, cfg.model.text_encoder)


def test_model_folder_format_is_pinned(tmp_path, encoder):
    """File names, config.json's keys (only the sections of the folder's architecture) and the
    weight names: what other tic versions read."""
    config = model_preset("tiny")
    torch.manual_seed(0)
    G = Generator(config.unet)
    save_model_folder(tmp_path / "m", G, encoder, config)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted(
        [CONFIG_NAME, WEIGHTS_NAME, "text_encoder.safetensors", "text_encoder_vocab.json"]
    )
    data = json.loads((tmp_path / "m" / CONFIG_NAME).read_text())
    assert (data.pop("format"), data.pop("tic_version")) == ("tic-model/2", "0.1.0")
    assert data == model_dict(config)
    assert sorted(data) == ["architecture", "image_size", "text_encoder", "unet"]
    weights = load_file(str(tmp_path / "m" / WEIGHTS_NAME))
    assert sorted(weights) == sorted(G.state_dict())
    loaded_config, loaded_G, loaded_encoder = load_model(tmp_path / "m")
    assert loaded_config == config and loaded_encoder.words == encoder.words
    assert all(torch.equal(a, b) for a, b in zip(loaded_G.state_dict().values(),
                                                  G.state_dict().values(), strict=True))


def test_a_format_1_folder_still_loads(tmp_path, encoder):
    """A folder of format tic-model/1 (one flat ``generator`` section, older tic versions) loads
    as the same model; a removed variant switched on in it is an error naming the file and key."""
    config = model_preset("tiny")
    torch.manual_seed(0)
    G = Generator(config.unet)
    save_model_folder(tmp_path / "m", G, encoder, config)
    path = tmp_path / "m" / CONFIG_NAME
    data = json.loads(path.read_text())
    old = {"format": "tic-model/1", "tic_version": "0.1.0", "image_size": data["image_size"],
           "generator": {**data["unet"], "encoder": "scratch"},
           "text_encoder": data["text_encoder"]}  # fmt: skip
    path.write_text(json.dumps(old))
    loaded_config, loaded_G, _ = load_model(tmp_path / "m")
    assert loaded_config == config
    assert all(torch.equal(a, b) for a, b in zip(loaded_G.state_dict().values(),
                                                  G.state_dict().values(), strict=True))
    old["generator"]["hint_logits"] = True
    path.write_text(json.dumps(old))
    with pytest.raises(TicError, match=r"config\.json: model\.generator\.hint_logits: this "
                                       "variant was removed"):
        load_model(tmp_path / "m")
    path.write_text(json.dumps({**old, "format": "tic-model/9"}))
    with pytest.raises(TicError, match='expected "format": "tic-model/2"'):
        load_model(tmp_path / "m")


def test_load_weights_checks_names_and_shapes():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(TicError, match=r"^here \(missing 1.bias; 1 missing, 0 unexpected"):
        load_weights(net, {k: v for k, v in state.items() if k != "1.bias"}, "here")
    with pytest.raises(TicError, match=r"unexpected extra; 0 missing, 1 unexpected"):
        load_weights(net, {**state, "extra": torch.zeros(1)}, "here")
    with pytest.raises(TicError, match=r"0.weight: \(4, 2\) in the file, \(4, 3\) expected"):
        load_weights(net, {**state, "0.weight": torch.zeros(4, 2)}, "here")
    load_weights(net, {k: v * 2 for k, v in state.items()}, "here")
    assert torch.equal(net[0].weight, state["0.weight"] * 2)


def test_load_weights_widens_a_grown_input_only_when_asked():
    small, big = nn.Linear(3, 4), nn.Linear(5, 4)
    with pytest.raises(TicError, match="weight: \\(4, 3\\) in the file, \\(4, 5\\) expected"):
        load_weights(big, small.state_dict(), "init_from")
    load_weights(big, small.state_dict(), "init_from", widen=True)
    assert torch.equal(big.weight[:, :3], small.weight) and not big.weight[:, 3:].any()
    x = torch.randn(2, 3)
    assert torch.allclose(big(torch.cat([x, torch.randn(2, 2)], 1)), small(x))  # same function
    with pytest.raises(TicError, match="expected"):  # an input that shrank is not widening
        load_weights(small, big.state_dict(), "init_from", widen=True)
    with pytest.raises(TicError, match="expected"):  # nor are more outputs
        load_weights(nn.Linear(3, 6), small.state_dict(), "init_from", widen=True)


def test_atomic_folder_replaces_or_leaves_the_old_one(tmp_path):
    target = tmp_path / "model"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(RuntimeError), atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("half-written")
        raise RuntimeError("crash while writing")
    assert (target / "a.txt").read_text() == "one"
    with atomic_folder(target) as tmp:
        (tmp / "b.txt").write_text("two")
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folders left


def test_training_checkpoint_round_trip_and_keep_last(tmp_path, cfg, encoder):
    """A checkpoint brings back G, D, both optimizers and the RNG states; its training state has
    exactly the pinned keys; only the last ``keep_last`` checkpoints stay."""
    run = tmp_path / "run"
    nets = build_nets(cfg, torch.device("cpu"))
    for p in [*nets.G.parameters(), *nets.D.parameters()]:
        p.grad = torch.ones_like(p)
    nets.opt_g.step(), nets.opt_d.step()
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    for step in (1, 2, 3):
        last = save_checkpoint(run, step, nets.G, nets.D, nets.opt_g, nets.opt_d, encoder, cfg)
    assert last == latest_checkpoint(run) == run / "checkpoints" / "step-00000003"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-00000002", "step-00000003"]  # fmt: skip
    state = torch.load(last / STATE_NAME, weights_only=True)
    assert sorted(state) == ["discriminator", "format", "opt_d", "opt_g", "rng", "step",
                             "train_config"]  # fmt: skip
    assert state["format"] == "tic-training-state/1" and json.loads(state["train_config"])["keep_last"] == 2
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))

    fresh = build_nets(cfg.__class__(**{**cfg.__dict__, "seed": 5}), torch.device("cpu"))
    assert load_checkpoint(last, fresh.G, fresh.D, fresh.opt_g, fresh.opt_d) == 3
    for a, b in ((nets.G, fresh.G), (nets.D, fresh.D)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                      b.state_dict().values(), strict=True))
    assert str(fresh.opt_g.state_dict()) == str(nets.opt_g.state_dict())
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_a_checkpoint_of_another_config_is_a_clear_error(tmp_path, cfg, encoder):
    nets = build_nets(cfg, torch.device("cpu"))
    ckpt = save_checkpoint(tmp_path, 1, nets.G, nets.D, nets.opt_g, nets.opt_d, encoder, cfg)
    wider = PatchDiscriminator(cfg.discriminator.__class__(widths=(8, 16, 64)))
    with pytest.raises(TicError, match="step-00000001: checkpoint does not fit this config"):
        load_checkpoint(ckpt, nets.G, wider, nets.opt_g, nets.opt_d)
    (ckpt / STATE_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(TicError, match="does not fit this config or is damaged"):
        load_checkpoint(ckpt, nets.G, nets.D, nets.opt_g, nets.opt_d)
