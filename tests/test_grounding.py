"""Grounding: the text's colour-naming phrases, their ImageNet classes, the hint maps built from
class activation maps (hand-made features and classifier), rebalancing weights, and the
generator and training loop with grounding on."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tic import ab_bins, binding, grounding
from tic.backbones import assets_dir
from tic.checkpoint import default_model_dir, load_model_config
from tic.color import AB_SCALE
from tic.color_names import COLOR_TERMS, name_color, term_lab
from tic.config import ConfigError, GeneratorConfig, ModelConfig, TextEncoderConfig
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
    assert f(text) == [("bicycle", "green", O)]  # as v2-v4 read it
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


def test_phrase_targets_match_nouns_to_the_named_objects():
    left, right = torch.zeros(4, 4), torch.zeros(4, 4)
    left[:, :2], right[:, 2:] = 1, 1
    objects = [[("red umbrella", left), ("girl", right)],  # the label's last word need not match
               [("cat", left), ("cat", right)],  # two objects one name: which is unknown
               []]
    texts = ["a blue girl and a green umbrella on a red background", "a red cat", "a red car"]
    targets, valid = grounding.phrase_targets(texts, objects, 3)
    assert valid.tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 0]]
    assert torch.equal(targets[0, 0], right) and torch.equal(targets[0, 1], left)
    assert grounding.phrase_targets(["a red car"], [[]], 1)[0] is None


def test_oracle_maps_are_the_true_masks_on_the_grid():
    """Hand-computed: a mask's area fractions per cell of the grid, divided by their maximum;
    the phrases without a known mask, and the texts not picked, keep their maps (resized)."""
    maps = torch.rand(2, 2, 2, 2)
    targets = torch.zeros(2, 2, 8, 8)
    targets[:, 0, :4, :4] = 1  # the top-left cell of a 2x2 grid
    targets[:, 0, :2, 4:] = 1  # half of the top-right cell
    valid = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    out = grounding.oracle_maps(maps, targets, valid, torch.tensor([True, False]), 2)
    assert out.tolist()[0][0] == [[1.0, 0.5], [0.0, 0.0]]
    assert torch.equal(out[0, 1], maps[0, 1]) and torch.equal(out[1], maps[1])
    fine = grounding.oracle_maps(maps, targets, valid, torch.tensor([True, True]), 4)
    assert fine.shape == (2, 2, 4, 4)
    assert fine[0, 0].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    up = torch.nn.functional.interpolate(maps, size=(4, 4), mode="bilinear", align_corners=False)
    torch.testing.assert_close(fine[:, 1], up[:, 1])


def test_rank_maps_rank_each_map_within_its_image():
    maps = torch.tensor([[[[0.1, 0.5], [0.3, 0.9]], [[0.0, 0.02], [0.01, 0.005]]]])
    ranks = grounding.rank_maps(maps)
    third = 1 / 3
    torch.testing.assert_close(ranks[0, 0], torch.tensor([[0, 2 * third], [third, 1]]))
    torch.testing.assert_close(ranks[0, 1], torch.tensor([[0, 1], [2 * third, third]]))
    # a model with grounding_ranks hands the ranked class maps to the hints
    torch.manual_seed(0)
    g = EncoderUNet(_cfg(grounding_ranks=True)).eval()
    feats = g.encode(torch.rand(1, 1, 64, 64) * 2 - 1)
    nouns = torch.nn.functional.normalize(torch.randn(1, 2, grounding.NOUN_DIM), dim=-1)
    torch.testing.assert_close(g.phrase_maps(feats, nouns),
                               grounding.rank_maps(g.class_maps(feats, nouns)))
    one = nouns.clone()
    one[:, 1] = 0  # one object phrase (and a picture-wide one): nothing to arbitrate
    torch.testing.assert_close(g.phrase_maps(feats, one), g.class_maps(feats, one))


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
    objects = _noun_phrases((3, 0.5, 0.2, grounding.OBJECT))
    with torch.no_grad():
        assert torch.allclose(g(L, text, None, None, *objects), plain(L, text))
        for net in g.hint:
            torch.nn.init.normal_(net[-1].weight)
        other = _noun_phrases((3, -0.5, -0.2, grounding.OBJECT))
        assert not torch.allclose(g(L, text, None, None, *objects), g(L, text, None, None, *other))
        assert torch.allclose(g(L, text), g(L, text, None, None, *_noun_phrases()))  # no phrase


def test_hint_gate_raises_the_hinted_colour_where_the_hint_points():
    """``hint_logits``: hand-computed at one position, the logits minus gate * s * squared
    distance / (2 sigma^2); where the hint's weight is 0 nothing changes; an open gate makes the
    hinted colour's bin the most likely."""
    from tic.models.encoder_unet import HINT_SIGMA, HintGate

    centers = ab_bins.bin_centers()
    gate = HintGate(4)
    logits, feat = torch.zeros(1, len(centers), 1, 2), torch.zeros(1, 4, 1, 2)
    target = centers[40]
    s = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    hint = torch.cat([target.view(1, 2, 1, 1) / AB_SCALE * s, s], dim=1)
    out = gate(logits, feat, hint, centers)
    g = torch.nn.functional.softplus(torch.tensor(gate.conv.bias.item()))
    d2 = (centers - target).pow(2).sum(1)
    torch.testing.assert_close(out[0, :, 0, 0], -g * d2 / (2 * HINT_SIGMA**2))
    assert torch.equal(out[..., 1], logits[..., 1])  # no hint there
    assert out[0, :, 0, 0].argmax() == 40
    # a model with the option has the same weights plus the gate's two tensors
    torch.manual_seed(0)
    plain = EncoderUNet(_cfg()).eval()
    gated = EncoderUNet(_cfg(hint_logits=True)).eval()
    gated.load_state_dict(plain.state_dict(), strict=False)
    assert set(gated.state_dict()) - set(plain.state_dict()) == {"hint_gate.conv.weight",
                                                                 "hint_gate.conv.bias"}
    with pytest.raises(ConfigError, match="hint_logits needs grounding"):
        ModelConfig(image_size=64, generator=_cfg(text_dim=8, grounding=False, hint_logits=True),
                    text_encoder=TextEncoderConfig(kind="word2vec", dim=8)).validate()


def test_learned_maps_start_as_the_class_maps_order_and_learn_from_masks():
    torch.manual_seed(0)
    g = EncoderUNet(_cfg(grounding_maps="learned")).eval()
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    feats = g.encode(L)
    nouns = torch.nn.functional.normalize(torch.randn(2, 3, 384), dim=-1)
    cams = g.class_maps(feats, nouns)
    logits = g.phrase_logits(feats, nouns)
    assert logits.shape == (2, 3, 4, 4)  # 1/16 of 64
    up = torch.nn.functional.interpolate(cams, size=(4, 4), mode="bilinear", align_corners=False)
    torch.testing.assert_close(logits, 6.0 * (up - 0.5))  # untrained: the class maps alone
    assert g.phrase_maps(feats, nouns[:, :0]).shape == (2, 0, 2, 2)
    # a few steps of the mask loss move the maps toward a known mask
    target = torch.zeros(2, 3, 4, 4)
    target[:, 0, :, :2] = 1
    opt = torch.optim.Adam(g.locate.parameters(), lr=1e-2)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    first = bce(g.phrase_logits(feats, nouns), target).item()
    for _ in range(30):
        loss = bce(g.phrase_logits(feats, nouns), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_the_empty_text_can_take_the_other_head():
    torch.manual_seed(0)
    g = EncoderUNet(_cfg(ab_head="bins", ab_head_no_colour="regression")).eval()
    for net in g.hint:
        torch.nn.init.normal_(net[-1].weight)
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    text = torch.randn(2, 6)
    nouns = torch.zeros(2, 1, 384)
    ab = torch.tensor([[[0.5, 0.2]], [[0.0, 0.0]]])
    for named in (grounding.WHOLE, grounding.PALETTE):
        kind = torch.tensor([[float(named)], [0.0]])  # a colour named; none
        with torch.no_grad():
            out = g(L, text, None, None, nouns, ab, kind)
            reg, logits = g.decode(g.encode(L), text, None, None, nouns, ab, kind)
        up = lambda x: torch.nn.functional.interpolate(  # noqa: E731
            x, size=(64, 64), mode="bilinear", align_corners=False)
        torch.testing.assert_close(out[0], up(g.bins_ab(logits))[0])
        torch.testing.assert_close(out[1], up(reg)[1])
    with pytest.raises(ConfigError, match="ab_head_no_colour"):
        ModelConfig(image_size=64, generator=_cfg(text_dim=384, grounding=False,
                                                  ab_head_no_colour="regression"),
                    text_encoder=TextEncoderConfig(kind="minilm", dim=384)).validate()


def test_palette_prior_and_palette_chroma_change_only_the_texts_they_are_for():
    """A palette text decodes the bins head with palette_prior's log-weights added to its
    logits and its ab times palette_chroma (clipped to [-1, 1]); another text naming colours is
    decoded as without them; the text naming none keeps the other head at no_colour_chroma."""
    torch.manual_seed(0)
    cfg = _cfg(ab_head="bins", ab_head_no_colour="regression", palette_prior=5.0,
               palette_chroma=1.3, no_colour_chroma=0.5)
    g = EncoderUNet(cfg).eval()
    L = torch.rand(3, 1, 64, 64) * 2 - 1
    text = torch.randn(3, 6)
    nouns = torch.zeros(3, 1, 384)
    ab = torch.tensor([[[0.5, 0.2]], [[0.5, 0.2]], [[0.0, 0.0]]])
    kind = torch.tensor([[grounding.PALETTE], [grounding.WHOLE], [0.0]])
    up = lambda x: torch.nn.functional.interpolate(  # noqa: E731
        x, size=(64, 64), mode="bilinear", align_corners=False)
    with torch.no_grad():
        out = g(L, text, None, None, nouns, ab, kind)
        reg, logits = g.decode(g.encode(L), text, None, None, nouns, ab, kind)
        prior = grounding.palette_prior(g.bin_centers.float(), ab, kind, 5.0)
        leaned = g.bins_ab(logits, prior)
    assert prior[0].abs().sum() > 0 and prior[1:].abs().sum() == 0
    assert (leaned[0] - g.bins_ab(logits)[0]).abs().max() > 1e-3  # the prior moved the palette's
    torch.testing.assert_close(out[0], up((leaned * 1.3).clamp(-1, 1))[0])
    torch.testing.assert_close(out[1], up(g.bins_ab(logits))[1])
    torch.testing.assert_close(out[2], up(reg * 0.5)[2])
    # with palette_hue_width the factor fades from 1.3 near the named hue to 1 away from it
    # (without the prior, which pulls every pixel to the named hue)
    cfg.palette_hue_width, cfg.palette_prior = 30.0, 0.0
    g.cfg = cfg
    with torch.no_grad():
        hued = g(L, text, None, None, nouns, ab, kind)
    plain = g.bins_ab(logits)
    near = grounding.palette_hue_weight(plain, ab, kind, 30.0)
    torch.testing.assert_close(hued[0], up((plain * (1 + 0.3 * near)).clamp(-1, 1))[0])
    torch.testing.assert_close(hued[1:], out[1:])
    assert 0.01 < near[0].min() and near[0].max() < 0.99  # the factor strictly between 1 and 1.3
    cfg.palette_other_chroma = 0.8  # and away from the named hue it fades to 0.8 instead
    with torch.no_grad():
        fainter = g(L, text, None, None, nouns, ab, kind)
    torch.testing.assert_close(fainter[0], up((plain * (0.8 + 0.5 * near)).clamp(-1, 1))[0])
    torch.testing.assert_close(fainter[1:], out[1:])
    for bad, match in ((dict(palette_prior=-1.0), "palette_prior"),
                       (dict(palette_chroma=1.2, palette_hue_width=0.0), "palette_hue_width must"),
                       (dict(palette_hue_width=30.0), "palette_hue_width needs"),
                       (dict(palette_chroma=1.2, palette_hue_width=30.0,
                             palette_other_chroma=0.0), "palette_other_chroma must"),
                       (dict(palette_chroma=1.2, palette_other_chroma=0.8),
                        "palette_other_chroma needs"),
                       (dict(palette_hue_skip=("taupe",)), "unknown colour terms"),
                       (dict(palette_chroma=0.0), "palette_chroma"),
                       (dict(object_threshold=1.0), "object_threshold"),
                       (dict(spare_group_margin=-1.0), r"spare_group_margin must be >= 0 or null, got -1"),
                       (dict(group_crops=-0.5), r"group_crops must be a margin in \[0, 4\] or null"),
                       (dict(group_crop_size=100), "group_crop_size must be a multiple of 32"),
                       (dict(grounding=False, palette_prior=1.0), "palette_prior"),
                       (dict(grounding=False, palette_chroma=1.2), "palette_chroma"),
                       (dict(grounding=False, person_nouns=True), "person_nouns needs"),
                       (dict(person_faces=True), "person_faces needs object_head")):
        with pytest.raises(ConfigError, match=match):
            ModelConfig(image_size=64, generator=_cfg(text_dim=384, **bad),
                        text_encoder=TextEncoderConfig(kind="minilm", dim=384)).validate()


def test_object_weighted_losses_are_weighted_means():
    """``losses_for`` with pixel weights: hand-computed weighted means of the per-pixel losses."""
    from tic.train_config import TrainConfig
    from tic.train_frozen import losses_for

    torch.manual_seed(0)
    g = EncoderUNet(_cfg(grounding=False)).eval()
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
    cfg = ModelConfig(image_size=64, generator=_cfg(text_dim=8),
                      text_encoder=TextEncoderConfig(kind="word2vec", dim=8))
    with pytest.raises(ConfigError, match="grounding"):
        cfg.validate()
    cfg = ModelConfig(image_size=64, generator=_cfg(text_dim=8, grounding=False),
                      text_encoder=TextEncoderConfig(kind="word2vec", dim=8, photo_palette=True))
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


@pytest.mark.parametrize("margin", [None, 0.5])
def test_group_crops_classify_the_split_s_groups_on_their_own_pictures(monkeypatch, margin):
    """With ``generator.group_crops`` the object split asks ``EncoderUNet.crop_logp`` for its
    two groups' classes, once per image (each group on a crop of the gray input); without it the
    whole picture's features decide and no crop is made."""
    torch.manual_seed(0)
    g = EncoderUNet(_cfg(object_head=True, paint_objects=True, group_crops=margin,
                         group_crop_size=64)).eval()
    fg = torch.full((1, 1, 16, 16), -9.0)
    fg[..., 4:12, 1:6] = fg[..., 4:12, 10:15] = 9.0  # two objects, left and right
    monkeypatch.setattr(g, "object_logits", lambda feats: fg)
    calls = []
    real = g.crop_logp

    def crop_logp(L, b, regions):
        calls.append((L.shape, b, regions.shape))
        return real(L, b, regions)

    monkeypatch.setattr(g, "crop_logp", crop_logp)
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    objects = _noun_phrases((3, 0.5, 0.2, grounding.OBJECT), (7, -0.4, 0.3, grounding.OBJECT))
    with torch.no_grad():
        out = g(L, torch.randn(1, 6), None, None, *objects)
    assert out.shape == (1, 2, 64, 64)
    assert calls == ([] if margin is None else [((1, 1, 64, 64), 0, (2, 16, 16))])


def test_a_split_ranker_reaches_the_object_split_and_a_wrong_one_is_refused(monkeypatch,
                                                                            tmp_path):
    """``generator.split_ranker`` is passed to ``tic.binding.split_objects`` as its weights; a
    config with the wrong number of weights or a non-finite one is refused, naming the key."""
    ranker = tuple(float(i) for i in range(binding.RANKER_FEATURES))
    g = EncoderUNet(_cfg(object_head=True, paint_objects=True, split_ranker=ranker)).eval()
    fg = torch.full((1, 1, 16, 16), -9.0)
    fg[..., 4:12, 1:6] = fg[..., 4:12, 10:15] = 9.0
    monkeypatch.setattr(g, "object_logits", lambda feats: fg)
    seen = []
    real = binding.split_objects

    def split_objects(*args, **kwargs):
        seen.append(kwargs["ranker"])
        return real(*args, **kwargs)

    monkeypatch.setattr(binding, "split_objects", split_objects)
    objects = _noun_phrases((3, 0.5, 0.2, grounding.OBJECT), (7, -0.4, 0.3, grounding.OBJECT))
    with torch.no_grad():
        g(torch.rand(1, 1, 64, 64) * 2 - 1, torch.randn(1, 6), None, None, *objects)
    assert len(seen) == 1 and seen[0].tolist() == list(ranker)
    with pytest.raises(ValueError, match="split_ranker needs 16 weights"):
        EncoderUNet(_cfg(object_head=True, paint_objects=True, split_ranker=(1.0, 2.0)))
    data = json.loads((default_model_dir() / "config.json").read_text())
    data["generator"]["split_ranker"] = [float("nan")] * binding.RANKER_FEATURES
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(TicError, match="generator.split_ranker must be finite"):
        load_model_config(tmp_path)
    data["generator"].update(split_ranker=list(ranker), paint_objects=False, person_faces=False)
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(TicError, match="split_ranker needs object_head and paint_objects"):
        load_model_config(tmp_path)
