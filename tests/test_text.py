"""The paper's word2vec text encoder: tokenisation, determinism, unknown words, save/load."""

from __future__ import annotations

import logging

import pytest
import torch

from tic.config import TextEncoderConfig
from tic.text import Word2VecEncoder, fit_text_encoder, load_text_encoder, tokenize

TEXTS = [
    "breast_color red wing_color black",
    "a yellow bird with black wings on a green branch",
    "blue sky, red car",
    "a white flower",
] * 5
CFG = TextEncoderConfig(dim=16, epochs=5, seed=3)


def test_tokenize_splits_attribute_text_and_punctuation():
    assert tokenize("breast_color red") == ["breast", "color", "red"]
    assert tokenize("Blue sky, RED car!") == ["blue", "sky", "red", "car"]
    assert tokenize("dark-green") == ["dark", "green"]
    assert tokenize("") == []
    assert tokenize("красная машина") == ["красная", "машина"]
    assert tokenize("赤い車") == ["赤い車"]
    with pytest.raises(TypeError):
        tokenize(None)


def test_sentence_vector_is_mean_of_known_word_vectors():
    enc = Word2VecEncoder.fit(TEXTS, CFG)
    v = enc.vectors
    expected = (v[enc.index["red"]] + v[enc.index["car"]]) / 2
    torch.testing.assert_close(enc.encode(["red car"])[0], expected)
    assert enc.encode(["red car"]).shape == (1, 16)


def test_fitting_is_deterministic_given_a_seed():
    a = Word2VecEncoder.fit(TEXTS, CFG).encode(["red car", "a white flower"])
    b = Word2VecEncoder.fit(TEXTS, CFG).encode(["red car", "a white flower"])
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = Word2VecEncoder.fit(TEXTS, TextEncoderConfig(dim=16, epochs=5, seed=4)).encode(["red car"])
    assert not torch.equal(a[:1], c)


def test_unknown_words_are_counted_and_reported(caplog):
    enc = Word2VecEncoder.fit(TEXTS, CFG)
    with caplog.at_level(logging.WARNING, logger="tic"):
        out = enc.encode(["red zebra zebra", "qwerty"])
    assert enc.unknown_words == {"zebra": 2, "qwerty": 1}
    assert "zebra" in caplog.text and "qwerty" in caplog.text
    torch.testing.assert_close(out[0], enc.encode(["red"])[0])
    assert torch.count_nonzero(out[1]) == 0  # no known word: the empty-text vector


def test_empty_and_strange_texts_are_defined():
    enc = Word2VecEncoder.fit(TEXTS, CFG)
    out = enc.encode(["", "   ", "!!!", "红色的汽车", "red " * 2500])
    assert out.shape == (5, 16) and torch.isfinite(out).all()
    assert torch.count_nonzero(out[:4]) == 0
    torch.testing.assert_close(out[4], enc.encode(["red"])[0])
    with pytest.raises(TypeError):
        enc.encode("red car")


def test_save_load_round_trip(tmp_path):
    enc = fit_text_encoder(TEXTS, CFG)
    enc.save(tmp_path)
    back = load_text_encoder(tmp_path, CFG)
    torch.testing.assert_close(back.encode(TEXTS[:4]), enc.encode(TEXTS[:4]), rtol=0, atol=0)
    with pytest.raises(ValueError, match="16-d but config says 8"):
        load_text_encoder(tmp_path, TextEncoderConfig(dim=8))
    (tmp_path / Word2VecEncoder.VOCAB).unlink()
    with pytest.raises(FileNotFoundError, match="text_encoder_vocab.json"):
        load_text_encoder(tmp_path, CFG)


def test_fit_on_texts_without_words_fails_clearly():
    with pytest.raises(ValueError, match="no words"):
        Word2VecEncoder.fit(["", "!!"], CFG)


def test_color_synonyms_map_to_basic_terms():
    cfg = TextEncoderConfig(dim=16, epochs=5, seed=3, color_synonyms=True)
    enc = Word2VecEncoder.fit(TEXTS + ["a crimson rose"], cfg)
    assert "crimson" not in enc.index  # fitted on the basic term
    for user, basic in [("crimson car", "red car"), ("navy sky", "blue sky"), ("gold", "yellow")]:
        torch.testing.assert_close(enc.encode([user]), enc.encode([basic]), rtol=0, atol=0)
    assert not enc.unknown_words
    plain = Word2VecEncoder.fit(TEXTS, CFG)
    plain.encode(["crimson car"])
    assert plain.unknown_words == {"crimson": 1}


def test_color_synonyms_survive_save_load(tmp_path):
    cfg = TextEncoderConfig(dim=16, epochs=5, seed=3, color_synonyms=True)
    fit_text_encoder(TEXTS, cfg).save(tmp_path)
    enc = load_text_encoder(tmp_path, cfg)
    torch.testing.assert_close(enc.encode(["navy"]), enc.encode(["blue"]), rtol=0, atol=0)
