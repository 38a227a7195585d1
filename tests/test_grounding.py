"""Grounding: the text's colour-naming phrases, their ImageNet classes, the hint maps built from
class activation maps (hand-made features and classifier), rebalancing weights, and the
generator and training loop with grounding on."""

from __future__ import annotations

import json

import pytest
import torch

from tic import ab_bins, grounding
from tic.backbones import assets_dir
from tic.color import AB_SCALE
from tic.color_names import COLOR_TERMS, name_color, term_lab
from tic.config import ConfigError, GeneratorConfig, ModelConfig, TextEncoderConfig
from tic.models import EncoderUNet


def test_text_objects_pairs_nouns_with_their_colours():
    f = grounding.text_objects
    assert f("a pink umbrella and a blue girl on a green background") == [
        ("umbrella", "pink", grounding.OBJECT), ("girl", "blue", grounding.OBJECT),
        ("background", "green", grounding.WHOLE)]
    assert f("a photo of a chair, mostly red and brown") == [("chair", "red", grounding.OBJECT)]
    assert f("a photo in gray") == [("photo", "gray", grounding.WHOLE)]
    assert f("") == [] and f("a chair") == [] and f("!!!") == []
    assert f("crimson car") == [("car", "red", grounding.OBJECT)]  # synonyms to basic terms


def test_term_lab_is_named_its_own_term():
    for term in COLOR_TERMS:
        assert name_color(torch.tensor(term_lab(term)), space="lab") == term
    with pytest.raises(ValueError, match="unknown colour term"):
        term_lab("octarine")


def test_shipped_class_asset_and_class_weights():
    from safetensors import safe_open

    with safe_open(str(assets_dir() / grounding.ASSET), "pt") as f:
        names = json.loads(f.metadata()["class_names"])
    classes = grounding.load_classes()
    assert classes["weight"].shape == (1000, 1280) and classes["bias"].shape == (1000,)
    assert torch.allclose(classes["names"].norm(dim=1), torch.ones(1000), atol=1e-2)
    # a class name's own vector picks that class first; weights are a top-k distribution
    i = names.index("goldfish")
    w = grounding.class_weights(classes["names"][i : i + 1])
    assert w.argmax().item() == i
    assert (w > 0).sum() == grounding.TOP_K and torch.isclose(w.sum(), torch.tensor(1.0))


def _fake_scene():
    """A 1280-d feature map whose left half fires class 3 and right half class 7 of a classifier
    that reads one feature channel per class."""
    feat = torch.zeros(1, 1280, 2, 4)
    feat[0, 3, :, :2] = 20.0
    feat[0, 7, :, 2:] = 20.0
    W = torch.zeros(1000, 1280)
    W[torch.arange(1000), torch.arange(1000)] = 1.0
    return feat, (W, torch.zeros(1000))


def _phrases(*items):
    weights = torch.zeros(1, len(items), 1000)
    ab = torch.zeros(1, len(items), 2)
    kind = torch.zeros(1, len(items))
    for j, (cls, a, b, k) in enumerate(items):
        if cls is not None:
            weights[0, j, cls] = 1.0
        ab[0, j] = torch.tensor([a, b])
        kind[0, j] = k
    return weights, ab, kind


def test_hint_maps_put_each_colour_where_its_class_is():
    feat, clf = _fake_scene()
    O, Wh = grounding.OBJECT, grounding.WHOLE
    h = grounding.hint_maps(feat, *_phrases((3, 0.5, 0.2, O), (7, -0.4, 0.3, O)), clf)
    assert h.shape == (1, 3, 2, 4)
    left, right = h[0, :, :, :2], h[0, :, :, 2:]
    assert torch.allclose(left[0], torch.tensor(0.5), atol=1e-3)  # a of the class-3 phrase
    assert torch.allclose(left[1], torch.tensor(0.2), atol=1e-3)
    assert torch.allclose(right[0], torch.tensor(-0.4), atol=1e-3)
    assert torch.allclose(right[2], torch.ones(2, 2), atol=1e-3)
    # the background gets what the object leaves: the right half here
    h = grounding.hint_maps(feat, *_phrases((3, 0.5, 0.2, O), (None, 0.0, -0.6, Wh)), clf)
    assert torch.allclose(h[0, 1, :, 2:], torch.tensor(-0.6), atol=1e-3)
    assert torch.allclose(h[0, 0, :, :2], torch.tensor(0.5), atol=1e-3)
    # no phrase: no hint; only a whole-picture phrase: everywhere
    assert grounding.hint_maps(feat, *_phrases(), clf).abs().sum() == 0
    h = grounding.hint_maps(feat, *_phrases((None, 0.1, 0.1, Wh)), clf)
    assert torch.allclose(h[0, 2], torch.ones(2, 4))


def test_encode_objects_pads_and_carries_the_named_colours():
    vectors = grounding.load_classes()["names"]

    def embed(texts):  # stands in for MiniLM: every noun lands on class 0's name
        return vectors[:1].expand(len(texts), -1)

    weights, ab, kind = grounding.encode_objects(["a red car and a blue house", "", "a cat"], embed)
    assert weights.shape == (3, 2, 1000) and kind.tolist() == [[1, 1], [0, 0], [0, 0]]
    red = torch.tensor(term_lab("red")[1:]) / AB_SCALE
    assert torch.allclose(ab[0, 0], red) and ab[1:].abs().sum() == 0
    assert weights[0, 0].argmax() == 0 and weights[1:].abs().sum() == 0


def test_rebalance_weights():
    centers = ab_bins.bin_centers()
    uniform = centers.repeat(10, 1)
    w = ab_bins.rebalance_weights(uniform, centers, 0.5, sigma=1e-3)
    assert torch.allclose(w, torch.ones_like(w), atol=1e-4)
    # mostly neutral pixels, a few saturated ones: the saturated colour weighs more
    ab = torch.cat([torch.zeros(900, 2), torch.tensor([[60.0, 60.0]]).repeat(100, 1)])
    w = ab_bins.rebalance_weights(ab, centers, 0.5)
    near = lambda x: torch.cdist(torch.tensor([x]), centers).argmin()  # noqa: E731
    assert w[near([60.0, 60.0])] > w[near([0.0, 0.0])]
    # no smoothing: hand-computed from p = 0.9 / 0.1 on two cells, ECCV16's formula
    w = ab_bins.rebalance_weights(ab, centers, 0.5, sigma=1e-3)
    Q = len(centers)
    raw_gray, raw_sat, raw_other = 1 / (0.45 + 0.5 / Q), 1 / (0.05 + 0.5 / Q), Q / 0.5
    scale = 0.9 * raw_gray + 0.1 * raw_sat
    assert torch.isclose(w[near([0.0, 0.0])], torch.tensor(raw_gray / scale), rtol=1e-4)
    assert torch.isclose(w[near([60.0, 60.0])], torch.tensor(raw_sat / scale), rtol=1e-4)
    assert torch.isclose(w[near([-30.0, 50.0])], torch.tensor(raw_other / scale), rtol=1e-4)
    assert torch.allclose(ab_bins.rebalance_weights(ab, centers, 1.0), torch.ones(len(centers)))
    with pytest.raises(ValueError, match="mix"):
        ab_bins.rebalance_weights(ab, centers, 0.0)


def _cfg(**changes) -> GeneratorConfig:
    base = dict(encoder="mobilenet_v2", decoder_widths=(40, 12, 8, 8), text_dim=6, text_hidden=8,
                cross_attention=0, grounding=True)
    base.update(changes)
    return GeneratorConfig(**base)


def test_grounding_generator_starts_as_the_one_without_and_hints_reach_the_output():
    torch.manual_seed(0)
    plain = EncoderUNet(_cfg(grounding=False)).eval()
    g = EncoderUNet(_cfg()).eval()
    state = plain.state_dict()
    g.load_state_dict({**g.state_dict(), **state})
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    text = torch.randn(1, 6)
    objects = _phrases((3, 0.5, 0.2, grounding.OBJECT))
    with torch.no_grad():
        assert torch.allclose(g(L, text, None, None, *objects), plain(L, text))
        for net in g.hint:
            torch.nn.init.normal_(net[-1].weight)
        other = _phrases((3, -0.5, -0.2, grounding.OBJECT))
        assert not torch.allclose(g(L, text, None, None, *objects), g(L, text, None, None, *other))
        assert torch.allclose(g(L, text), g(L, text, None, None, *_phrases()))  # no phrase


def test_grounding_config_needs_minilm():
    cfg = ModelConfig(image_size=64, generator=_cfg(text_dim=8),
                      text_encoder=TextEncoderConfig(kind="word2vec", dim=8))
    with pytest.raises(ConfigError, match="grounding"):
        cfg.validate()
