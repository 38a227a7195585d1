"""Grounding: the text's colour-naming phrases, their ImageNet classes, the hint maps built from
class activation maps (hand-made features and classifier), rebalancing weights, and the
generator, its decoding (``tic.decoding``) and the training loop with grounding on."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from tic import ab_bins, binding, decoding, grounding
from tic.backbones import assets_dir
from tic.color import AB_SCALE
from tic.color_names import COLOR_TERMS, name_color, term_lab
from tic.config import (
    ConfigError,
    DecodingConfig,
    EncoderUNetConfig,
    ModelConfig,
    TextEncoderConfig,
)
from tic.errors import TicError
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
    # stuff around the objects: hinted like an object, never painted (tic.binding)
    assert f("a gray windmill on green grass under a blue sky") == [
        ("windmill", "gray", grounding.OBJECT), ("grass", "green", grounding.STUFF),
        ("sky", "blue", grounding.STUFF)]
    assert f("a green tree") == [("tree", "green", grounding.OBJECT)]  # a tree is a thing


def test_photo_palette_gives_a_caption_s_colours_to_the_photo():
    """``tic caption``'s "a photo of X in <colours>" names the photo's leading colours: with
    ``photo_palette`` they are a palette phrase (no hint), not X's."""
    f, P, O = grounding.text_objects, grounding.PALETTE, grounding.OBJECT
    text = "a photo of a dog and bicycle in green and gray"
    assert f(text) == [("bicycle", "green", O)]  # without photo_palette
    assert f(text, photo_palette=True) == [("photo", "green", P)]
    assert f("a photo in blue", photo_palette=True) == [("photo", "blue", P)]
    assert f("a photo of a dog in the park in green", photo_palette=True) == [("photo", "green", P)]
    # not a caption of a photo's colours: unchanged
    for t in ("a photo of a chair, mostly red and brown", "a woman in red", "a red car"):
        assert f(t, photo_palette=True) == f(t)
    assert f("a woman in red", photo_palette=True) == [("woman", "red", O)]
    # a palette gives no hint but still counts as naming colours (the bins head decodes it)
    feat, clf = _fake_scene()
    h = _hints(feat, *_phrases((3, 0.5, 0.2, O), (None, 0.1, 0.1, P)), clf)
    torch.testing.assert_close(h, _hints(feat, *_phrases((3, 0.5, 0.2, O)), clf))
    assert _hints(feat, *_phrases((None, 0.1, 0.1, P)), clf).abs().sum() == 0
    vectors = grounding.load_classes()["names"]
    nouns, ab, kind = grounding.encode_objects(
        [text, "a red car"], lambda t: vectors[:1].expand(len(t), -1), photo_palette=True)
    # the palette's second colour is a PALETTE row of its own (text_objects keeps the first)
    assert kind.tolist() == [[P, P], [O, 0]] and nouns[0].abs().sum() == 0
    green = torch.tensor(term_lab("green")[1:]) / AB_SCALE
    gray = torch.tensor(term_lab("gray")[1:]) / AB_SCALE
    assert torch.allclose(ab[0, 0], green) and torch.allclose(ab[0, 1], gray)
    assert grounding.palette_terms(text, photo_palette=True) == ["green", "gray"]
    assert grounding.palette_terms(text) == []
    assert grounding.palette_terms("a red car and a blue house", photo_palette=True) == []


def test_palette_prior_is_the_hand_computed_log_weight():
    """log(1 + s * sum_k exp(-d_k^2 / (2 w^2))) over the palette's colours; other kinds: 0."""
    centers = torch.tensor([[0.0, 0.0], [30.0, 40.0], [100.0, 0.0]])  # natural ab units
    ab = torch.tensor([[[30.0, 40.0], [0.0, 0.0]], [[30.0, 40.0], [0.0, 0.0]]]) / AB_SCALE
    kind = torch.tensor([[grounding.PALETTE, grounding.PALETTE],
                         [grounding.OBJECT, grounding.WHOLE]], dtype=torch.float32)
    prior = grounding.palette_prior(centers, ab, kind, strength=4.0, width=25.0)
    assert prior.shape == (2, 3, 1, 1)
    g = lambda d2: math.exp(-d2 / (2 * 25.0**2))  # noqa: E731
    expected = [math.log(1 + 4 * (g(50**2) + g(0))),  # centre 0: 50 from the first, on the second
                math.log(1 + 4 * (g(0) + g(50**2))),
                math.log(1 + 4 * (g(70**2 + 40**2) + g(100**2)))]
    torch.testing.assert_close(prior[0].flatten(), torch.tensor(expected))
    assert prior[1].abs().sum() == 0  # no palette: nothing changes


def test_palette_hue_weight_is_the_hand_computed_gaussian_of_the_hue_angle():
    """max_k exp(-dh_k^2 / (2 w^2)) over the palette's chromatic colours (dh in degrees, the
    short way round); a gray palette colour and other kinds of phrase weigh nothing."""
    s = 40.0 / AB_SCALE
    rad = lambda deg: (s * math.cos(math.radians(deg)), s * math.sin(math.radians(deg)))  # noqa: E731
    pixels = torch.tensor([rad(0), rad(50), rad(175), rad(-170)]).T.reshape(1, 2, 1, 4)
    pixels = pixels.expand(2, 2, 1, 4)
    palette = torch.tensor([[rad(20), rad(-160), (0.0, 0.0)]] * 2)  # (2, 3, 2): 20°, 200°, gray
    P, O = grounding.PALETTE, grounding.OBJECT
    kind = torch.tensor([[P, P, P], [O, O, 0.0]])
    near = grounding.palette_hue_weight(pixels, palette, kind, width_deg=30.0)
    assert near.shape == (2, 1, 1, 4)
    g = lambda d: math.exp(-d**2 / (2 * 30.0**2))  # noqa: E731
    expected = [g(20), g(30), g(25), g(10)]  # 175° is 25° from 200°, -170° is 10° from -160°
    torch.testing.assert_close(near[0].flatten(), torch.tensor(expected))
    assert near[1].abs().sum() == 0
    brown = torch.tensor(term_lab("brown")[1:]) / AB_SCALE  # a skipped term weighs nothing
    with_brown = torch.cat([palette, brown.expand(2, 1, 2)], 1)
    kind_brown = torch.cat([kind, torch.full((2, 1), float(P))], 1)
    skipped = grounding.palette_hue_weight(pixels, with_brown, kind_brown, 30.0, skip=("brown",))
    torch.testing.assert_close(skipped[0].flatten(), torch.tensor(expected))
    assert (grounding.palette_hue_weight(pixels, with_brown, kind_brown, 30.0)[0]
            > skipped[0]).any()
    none = grounding.palette_hue_weight(pixels, palette[:, :0], kind[:, :0], 30.0)
    assert none.shape == (2, 1, 1, 4) and none.abs().sum() == 0  # texts without phrases


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


def _noun_phrases(*items):
    """As ``_phrases`` with each class given as its name's vector (what the generator takes)."""
    weights, ab, kind = _phrases(*items)
    names = grounding.load_classes()["names"]
    return torch.einsum("bpk,kd->bpd", weights, names), ab, kind


def _hints(feat, weights, ab, kind, clf):
    return grounding.hint_maps(grounding.object_maps(feat, weights, clf), ab, kind)


def test_hint_maps_put_each_colour_where_its_class_is():
    feat, clf = _fake_scene()
    O, Wh = grounding.OBJECT, grounding.WHOLE
    h = _hints(feat, *_phrases((3, 0.5, 0.2, O), (7, -0.4, 0.3, O)), clf)
    assert h.shape == (1, 3, 2, 4)
    left, right = h[0, :, :, :2], h[0, :, :, 2:]
    assert torch.allclose(left[0], torch.tensor(0.5), atol=1e-3)  # a of the class-3 phrase
    assert torch.allclose(left[1], torch.tensor(0.2), atol=1e-3)
    assert torch.allclose(right[0], torch.tensor(-0.4), atol=1e-3)
    assert torch.allclose(right[2], torch.ones(2, 2), atol=1e-3)
    # the background gets what the object leaves: the right half here
    h = _hints(feat, *_phrases((3, 0.5, 0.2, O), (None, 0.0, -0.6, Wh)), clf)
    assert torch.allclose(h[0, 1, :, 2:], torch.tensor(-0.6), atol=1e-3)
    assert torch.allclose(h[0, 0, :, :2], torch.tensor(0.5), atol=1e-3)
    # no phrase: no hint; only a whole-picture phrase: everywhere
    assert _hints(feat, *_phrases(), clf).abs().sum() == 0
    h = _hints(feat, *_phrases((None, 0.1, 0.1, Wh)), clf)
    assert torch.allclose(h[0, 2], torch.ones(2, 4))
    # a stuff phrase ("green grass") hints exactly as an object phrase does
    as_object = _hints(feat, *_phrases((3, 0.5, 0.2, O), (7, -0.4, 0.3, O)), clf)
    as_stuff = _hints(feat, *_phrases((3, 0.5, 0.2, O), (7, -0.4, 0.3, grounding.STUFF)), clf)
    torch.testing.assert_close(as_stuff, as_object)


def test_encode_objects_pads_and_carries_the_named_colours():
    vectors = grounding.load_classes()["names"]

    def embed(texts):  # stands in for MiniLM: every noun lands on class 0's name
        return vectors[:1].expand(len(texts), -1)

    nouns, ab, kind = grounding.encode_objects(["a red car and a blue house", "", "a cat"], embed)
    assert nouns.shape == (3, 2, 384) and kind.tolist() == [[1, 1], [0, 0], [0, 0]]
    red = torch.tensor(term_lab("red")[1:]) / AB_SCALE
    assert torch.allclose(ab[0, 0], red) and ab[1:].abs().sum() == 0
    assert torch.equal(nouns[0, 0], vectors[0]) and nouns[1:].abs().sum() == 0
    # the class maps of a noun vector: class_weights then object_maps
    feat, clf = _fake_scene()
    maps = grounding.class_maps(feat, nouns[:1], clf)
    torch.testing.assert_close(
        maps, grounding.object_maps(feat, grounding.class_weights(nouns[0])[None], clf))


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


NETWORK_KEYS = frozenset(f.name for f in dataclasses.fields(EncoderUNetConfig))


def _model(**changes) -> ModelConfig:
    """A tiny grounding encoder U-Net's config; each change goes to its section (the network's,
    ``encoder_unet``, or ``decoding``)."""
    base = dict(encoder="mobilenet_v2", decoder_widths=(40, 12, 8, 8), text_dim=6, text_hidden=8,
                cross_attention=0, grounding=True)
    base.update((k, v) for k, v in changes.items() if k in NETWORK_KEYS)
    network = EncoderUNetConfig(**base)
    return ModelConfig(
        image_size=64, architecture="encoder_unet", encoder_unet=network,
        decoding=DecodingConfig(**{k: v for k, v in changes.items() if k not in NETWORK_KEYS}),
        text_encoder=TextEncoderConfig(kind="minilm", dim=network.text_dim))


def _decoding(cfg: ModelConfig, **changes) -> ModelConfig:
    """``cfg`` with other decoding settings (the same network)."""
    return dataclasses.replace(cfg, decoding=dataclasses.replace(cfg.decoding, **changes))


def _up(x):
    return torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear",
                                           align_corners=False)


def test_grounding_generator_starts_as_the_one_without_and_hints_reach_the_output():
    torch.manual_seed(0)
    plain_cfg, cfg = _model(grounding=False), _model()
    plain = EncoderUNet(plain_cfg.encoder_unet).eval()
    g = EncoderUNet(cfg.encoder_unet).eval()
    state = plain.state_dict()
    g.load_state_dict({**g.state_dict(), **state})
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    text = torch.randn(1, 6)
    objects = _noun_phrases((3, 0.5, 0.2, grounding.OBJECT))

    def predict(net, config, *phrases):
        return decoding.predict_ab(net, config, L, (text, None, None, *phrases))

    with torch.no_grad():
        assert torch.allclose(predict(g, cfg, *objects), predict(plain, plain_cfg))
        for net in g.hint:
            torch.nn.init.normal_(net[-1].weight)
        other = _noun_phrases((3, -0.5, -0.2, grounding.OBJECT))
        assert not torch.allclose(predict(g, cfg, *objects), predict(g, cfg, *other))
        assert torch.allclose(predict(g, cfg), predict(g, cfg, *_noun_phrases()))  # no phrase
        # the decoder's hint: each phrase's class map (the shipped classifier) with its colour
        feats = g.encode(L)
        classes = grounding.load_classes()
        maps = grounding.class_maps(feats[0], objects[0], (classes["weight"], classes["bias"]))
        torch.testing.assert_close(decoding.grounding_hint(feats, *objects),
                                   grounding.hint_maps(maps, objects[1], objects[2]))


def test_the_empty_text_can_take_the_other_head():
    torch.manual_seed(0)
    cfg = _model(ab_head="bins", ab_head_no_colour="regression")
    g = EncoderUNet(cfg.encoder_unet).eval()
    for net in g.hint:
        torch.nn.init.normal_(net[-1].weight)
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    text = torch.randn(2, 6)
    nouns = torch.zeros(2, 1, 384)
    ab = torch.tensor([[[0.5, 0.2]], [[0.0, 0.0]]])
    for named in (grounding.WHOLE, grounding.PALETTE):
        kind = torch.tensor([[float(named)], [0.0]])  # a colour named; none
        with torch.no_grad():
            out = decoding.predict_ab(g, cfg, L, (text, None, None, nouns, ab, kind))
            feats = g.encode(L)
            hint = decoding.grounding_hint(feats, nouns, ab, kind)
            reg, logits = g.decode(feats, text, None, None, hint)
        bins = decoding.bins_ab(cfg.decoding, g.bin_centers, logits)
        torch.testing.assert_close(out[0], _up(bins)[0])
        torch.testing.assert_close(out[1], _up(reg)[1])
    with pytest.raises(ConfigError, match=r"decoding\.ab_head_no_colour needs encoder_unet"):
        _model(text_dim=384, grounding=False, ab_head_no_colour="regression").validate()


def test_palette_prior_and_palette_chroma_change_only_the_texts_they_are_for():
    """A palette text decodes the bins head with palette_prior's log-weights added to its
    logits and its ab times palette_chroma (clipped to [-1, 1]); another text naming colours is
    decoded as without them; the text naming none keeps the other head at no_colour_chroma."""
    torch.manual_seed(0)
    cfg = _model(ab_head="bins", ab_head_no_colour="regression", palette_prior=5.0,
                 palette_chroma=1.3, no_colour_chroma=0.5)
    g = EncoderUNet(cfg.encoder_unet).eval()
    L = torch.rand(3, 1, 64, 64) * 2 - 1
    text = torch.randn(3, 6)
    nouns = torch.zeros(3, 1, 384)
    ab = torch.tensor([[[0.5, 0.2]], [[0.5, 0.2]], [[0.0, 0.0]]])
    kind = torch.tensor([[grounding.PALETTE], [grounding.WHOLE], [0.0]])
    inputs = (text, None, None, nouns, ab, kind)

    def bins_ab(logits, prior=None):
        return decoding.bins_ab(cfg.decoding, g.bin_centers, logits, prior)

    with torch.no_grad():
        out = decoding.predict_ab(g, cfg, L, inputs)
        feats = g.encode(L)
        reg, logits = g.decode(feats, text, None, None, decoding.grounding_hint(feats, nouns, ab,
                                                                                kind))
        prior = grounding.palette_prior(g.bin_centers.float(), ab, kind, 5.0)
        leaned = bins_ab(logits, prior)
    assert prior[0].abs().sum() > 0 and prior[1:].abs().sum() == 0
    assert (leaned[0] - bins_ab(logits)[0]).abs().max() > 1e-3  # the prior moved the palette's
    torch.testing.assert_close(out[0], _up((leaned * 1.3).clamp(-1, 1))[0])
    torch.testing.assert_close(out[1], _up(bins_ab(logits))[1])
    torch.testing.assert_close(out[2], _up(reg * 0.5)[2])
    # ab_from_heads is that policy at 1/4, before the upsampling
    torch.testing.assert_close(
        decoding.ab_from_heads(cfg.decoding, g.bin_centers, reg, logits, kind, ab)[0],
        (leaned * 1.3).clamp(-1, 1)[0])
    # with palette_hue_width the factor fades from 1.3 near the named hue to 1 away from it
    # (without the prior, which pulls every pixel to the named hue)
    hue_cfg = _decoding(cfg, palette_hue_width=30.0, palette_prior=0.0)
    with torch.no_grad():
        hued = decoding.predict_ab(g, hue_cfg, L, inputs)
    plain = bins_ab(logits)
    near = grounding.palette_hue_weight(plain, ab, kind, 30.0)
    torch.testing.assert_close(hued[0], _up((plain * (1 + 0.3 * near)).clamp(-1, 1))[0])
    torch.testing.assert_close(hued[1:], out[1:])
    assert 0.01 < near[0].min() and near[0].max() < 0.99  # the factor strictly between 1 and 1.3
    for bad, match in ((dict(palette_prior=-1.0), r"decoding\.palette_prior must be >= 0"),
                       (dict(palette_chroma=1.2, palette_hue_width=0.0), "palette_hue_width must"),
                       (dict(palette_hue_width=30.0), "palette_hue_width needs"),
                       (dict(palette_hue_skip=("taupe",)), "unknown colour terms"),
                       (dict(palette_chroma=0.0), r"decoding\.palette_chroma must"),
                       (dict(object_threshold=1.0), r"decoding\.object_threshold must"),
                       (dict(bins_temperature=0.0), r"decoding\.bins_temperature must"),
                       (dict(grounding=False, palette_prior=1.0), "palette_prior needs"),
                       (dict(grounding=False, palette_chroma=1.2), "palette_chroma needs"),
                       (dict(grounding=False, person_nouns=True), "person_nouns needs"),
                       (dict(paint_objects=True), "paint_objects needs"),
                       (dict(person_faces=True), "person_faces needs paint_objects"),
                       (dict(paint_on_automatic=True), "paint_on_automatic needs paint_objects")):
        with pytest.raises(ConfigError, match=match):
            _model(text_dim=384, **bad).validate()
    _model(text_dim=384, object_head=True, paint_objects=True, person_faces=True).validate()


def test_object_weighted_losses_are_weighted_means():
    """``losses_for`` with pixel weights: hand-computed weighted means of the per-pixel losses."""
    from tic.train_config import TrainConfig
    from tic.train_frozen import losses_for

    torch.manual_seed(0)
    g = EncoderUNet(_model(grounding=False).encoder_unet).eval()
    feats = g.encode(torch.rand(2, 1, 64, 64) * 2 - 1)
    text = (torch.randn(2, 6),)
    target = torch.rand(2, 2, 16, 16) * 2 - 1
    w = torch.ones(2, 16, 16)
    w[0, :4, :4] = 5.0
    cfg = TrainConfig()
    plain, weighted = losses_for(g, feats, text, target, cfg), losses_for(
        g, feats, text, target, cfg, pixel_weights=w)
    with torch.no_grad():
        ab, logits = g.decode(feats, *text)
    l1 = torch.nn.functional.smooth_l1_loss(ab, target, beta=0.05, reduction="none").mean(1)
    torch.testing.assert_close(plain["loss_l1"], l1.mean())
    torch.testing.assert_close(weighted["loss_l1"], (l1 * w).sum() / w.sum())
    assert not torch.isclose(plain["loss_bins"], weighted["loss_bins"])


def test_grounding_config_needs_minilm():
    word2vec = TextEncoderConfig(kind="word2vec", dim=8)
    cfg = dataclasses.replace(_model(text_dim=8), text_encoder=word2vec)
    with pytest.raises(ConfigError, match=r"encoder_unet\.grounding needs text_encoder\.kind"):
        cfg.validate()
    cfg = dataclasses.replace(_model(text_dim=8, grounding=False),
                              text_encoder=dataclasses.replace(word2vec, photo_palette=True))
    with pytest.raises(ConfigError, match="photo_palette"):
        cfg.validate()


def test_person_nouns_read_the_classes_that_show_people():
    """Without person_nouns MiniLM's nearest class names rule ("man" is nearest "mantis"); with
    them a noun naming people weighs PERSON_CLASSES evenly, and other nouns keep their classes."""
    from tic.text_minilm import MiniLMEncoder

    classes = grounding.load_classes()
    persons = classes["person_classes"] > 0
    assert int(persons.sum()) == len(grounding.PERSON_CLASSES)
    vec = MiniLMEncoder().sentence_vectors(
        [grounding.CLASS_PROMPT.format(n) for n in ("man", "man jumping", "water buffalo")])
    plain = grounding.class_weights(vec)
    with_persons = grounding.class_weights(vec, person_nouns=True)
    assert float(plain[0][persons].sum()) < 0.01  # mantis, harvestman, ...
    for row in with_persons[:2]:
        assert float(row[persons].sum()) > 0.9
        assert torch.isclose(row.sum(), torch.tensor(1.0))
        assert torch.allclose(row[persons], row[persons][0].expand(int(persons.sum())), atol=1e-6)
    assert torch.allclose(with_persons[2], plain[2])  # "water buffalo" is nearer its own class


def test_person_share_tells_nouns_that_name_people():
    from tic.text_minilm import MiniLMEncoder

    nouns = ("man", "woman jumping", "breakdancer", "giraffe", "fortune cookie", "wig")
    vec = MiniLMEncoder().sentence_vectors([grounding.CLASS_PROMPT.format(n) for n in nouns])
    share = grounding.person_share(torch.cat([vec, torch.zeros(1, vec.shape[1])]))
    assert share[:3].min() > 0.5 and share[3:].max() < 0.5
    assert float(share[-1]) == 0.0  # no noun (the whole picture, padding)


def test_class_asset_must_hold_the_person_nouns(monkeypatch):
    monkeypatch.setattr(grounding, "PERSON_NOUNS", ("man", "astronaut"))
    grounding.load_classes.cache_clear()
    try:
        with pytest.raises(TicError, match="PERSON_NOUNS"):
            grounding.load_classes()
    finally:
        monkeypatch.undo()
        grounding.load_classes.cache_clear()


def test_painting_splits_the_object_head_s_foreground_at_the_decoding_threshold(monkeypatch):
    """With ``decoding.paint_objects`` ``predict_ab`` paints the named colours on the network's
    foreground (``object_logits``): ``tic.binding.split_objects`` is asked once, at
    ``decoding.object_threshold``, and the picture is ``tic.decoding.paint`` of the unpainted
    one; what no phrase owns keeps the decoder's colours, and a text naming no object is not
    split."""
    torch.manual_seed(0)
    cfg = _model(object_head=True, paint_objects=True, object_threshold=0.4)
    g = EncoderUNet(cfg.encoder_unet).eval()
    fg = torch.full((1, 1, 16, 16), -9.0)
    fg[..., 4:12, 1:6] = fg[..., 4:12, 10:15] = 9.0  # two objects, left and right
    monkeypatch.setattr(g, "object_logits", lambda feats: fg)
    seen = []
    real = binding.split_objects

    def split_objects(*args, **kwargs):
        seen.append(kwargs["threshold"])
        return real(*args, **kwargs)

    monkeypatch.setattr(binding, "split_objects", split_objects)
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    text = torch.randn(1, 6)
    objects = _noun_phrases((3, 0.5, 0.2, grounding.OBJECT), (7, -0.4, 0.3, grounding.OBJECT))
    with torch.no_grad():
        out = decoding.predict_ab(g, cfg, L, (text, None, None, *objects))
        assert seen == [0.4]
        unpainted = decoding.predict_ab(g, _decoding(cfg, paint_objects=False), L,
                                        (text, None, None, *objects))
        assert seen == [0.4]
        torch.testing.assert_close(out, decoding.paint(g, cfg.decoding, L, g.encode(L), unpainted,
                                                       *objects))
    assert out.shape == (1, 2, 64, 64) and not torch.allclose(out, unpainted)
    assert torch.equal(out[..., :4, :], unpainted[..., :4, :])  # far from both objects
    seen.clear()
    whole = _noun_phrases((None, 0.5, 0.2, grounding.WHOLE))  # "a photo in red"
    with torch.no_grad():
        painted = decoding.predict_ab(g, cfg, L, (text, None, None, *whole))
        as_is = decoding.predict_ab(g, _decoding(cfg, paint_objects=False), L,
                                    (text, None, None, *whole))
    assert seen == [] and torch.equal(painted, as_is)
