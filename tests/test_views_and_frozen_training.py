"""Training views (fixed images, colours drawn per step) and the frozen-encoder training loop:
L is kept when objects are painted, captions name the painted colours, a run resumes exactly,
and its model folder loads into a Colorizer that gives the same output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tic import Colorizer, color
from tic.checkpoint import latest_checkpoint
from tic.color_names import dominant_color_term
from tic.config import ConfigError
from tic.data.manifest import Record, write_manifest
from tic.data.views import batch_targets, build_views, draw, paint_region
from tic.errors import TicError
from tic.text_minilm import phrase_colors
from tic.train_config import load_train_config
from tic.train_frozen import train_frozen


def _images(root, n_photos=3, n_cutouts=3):
    rng = np.random.default_rng(0)
    photos, cutouts = [], []
    for i in range(n_photos):
        arr = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
        arr[:, :32] = (200, 40, 40)  # a red half, so the caption names red
        path = root / f"photo{i}.png"
        Image.fromarray(arr).save(path)
        photos.append(Record(image=path, text=f"a photo {i} in red", extra={"label": "wall"}))
    for i, name in enumerate(["cat", "bus", "apple"][:n_cutouts]):
        arr = np.zeros((40, 40, 4), dtype=np.uint8)
        arr[8:32, 8:32] = (120, 120, 120, 255)  # a mid-gray square object
        arr[8:32, 8:32, i] = 180
        path = root / f"cut{i}.png"
        Image.fromarray(arr, "RGBA").save(path)
        cutouts.append(Record(image=path, extra={"label": name}))
    return photos, cutouts


def test_views_photos_crops_flips_and_scenes(tmp_path):
    photos, cutouts = _images(tmp_path)
    views = build_views(photos, cutouts, size=64, n_scenes=4, crops_per_photo=1, seed=0)
    assert len(views) == 3 * 2 * 2 + 4
    assert views.L.shape == (16, 1, 64, 64) and views.rgb.shape == (16, 16, 16, 3)
    assert views.texts[0] == "a photo 0 in red"  # the whole photo keeps its own text
    assert views.texts[2] is not None and views.texts[2] != views.texts[0]  # crop: re-captioned
    assert all(t is None for t in views.texts[-4:]) and all(len(m) for m in views.masks[-4:])
    # the mirrored view is the mirror image
    torch.testing.assert_close(views.L[1], views.L[0].flip(-1))
    # only scenes can be on a plain colour; a scene on a plain colour is one colour around its
    # objects, a scene on a photo crop is not
    assert views.plain[:12] == [False] * 12
    for i in range(12, 16):
        bg = views.rgb[i][~views.masks[i].any(0)]
        assert (np.ptp(bg, axis=0).max() < 1e-3) == views.plain[i]


def test_object_loss_weighs_down_only_the_background_of_scenes_on_photos(tmp_path):
    from tic.train_frozen import _foreground

    photos, cutouts = _images(tmp_path)
    views = build_views(photos, cutouts, size=64, n_scenes=12, crops_per_photo=1, seed=0)
    scenes = np.arange(12, 24)
    assert 0 < sum(views.plain[12:]) < 12  # both kinds drawn
    fg, has, weight = _foreground(views, scenes, (16, 16), background_weight=0.25)
    assert has.tolist() == [1.0] * 12
    for k, i in enumerate(scenes):
        on_photo = (fg[k] == 0) & torch.tensor(not views.plain[i])
        torch.testing.assert_close(weight[k], torch.where(on_photo, 0.25, 1.0))
    photo_views = np.arange(4)  # photos: no masks, not counted
    fg, has, weight = _foreground(views, photo_views, (16, 16), background_weight=0.25)
    assert has.tolist() == [0.0] * 4 and fg.sum() == 0


def test_paint_keeps_L_and_names_the_colour():
    rng = np.random.default_rng(0)
    rgb = np.full((16, 16, 3), 0.5, dtype=np.float32)  # gray, L* about 53
    mask = np.zeros((16, 16), dtype=bool)
    mask[4:12, 4:12] = True
    for term in ("red", "green", "blue", "purple"):
        out = paint_region(rgb, mask, term, rng)
        L_in = color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0, 0]
        L_out = color.rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None])[0, 0]
        assert (L_in - L_out).abs().max() < 0.5
        assert dominant_color_term(torch.from_numpy(out).permute(2, 0, 1),
                                   torch.from_numpy(mask)) == term
        np.testing.assert_array_equal(out[~mask], rgb[~mask])


def test_draw_captions_every_object_with_its_measured_colour(tmp_path):
    photos, cutouts = _images(tmp_path)
    views = build_views(photos, cutouts, size=64, n_scenes=6, crops_per_photo=0, flip=False)
    rng = np.random.default_rng(1)
    for i in range(len(views) - 6, len(views)):
        rgb, text, objects = draw(views, i, rng, recolor_prob=1.0, empty_prob=0.0)
        t = torch.from_numpy(rgb).permute(2, 0, 1)
        said = dict((lab, c[0]) for lab, c in _named(text))
        # the objects handed back are the ones named, with their masks
        assert sorted(lab for lab, _ in objects) == sorted(said)
        for label, mask in objects:
            k = views.labels[i].index(label)
            np.testing.assert_array_equal(mask, views.masks[i][k])
        for mask, label in zip(views.masks[i], views.labels[i], strict=True):
            if mask.any():
                assert said[label] == dominant_color_term(t, torch.from_numpy(mask))
        # the gray image is the view's: L kept
        L = color.rgb_to_lab(t[None])[0, 0]
        L_view = color.rgb_to_lab(torch.from_numpy(views.rgb[i]).permute(2, 0, 1)[None])[0, 0]
        assert (L - L_view).abs().max() < 0.5
    # no words: nothing repainted (a colour no word names cannot be learned)
    last = len(views) - 1
    rgb, text, objects = draw(views, last, rng, 1.0, empty_prob=1.0)
    assert (text, objects) == ("", []) and np.array_equal(rgb, views.rgb[last])
    # v2 and v3's way: painted first, then the text emptied (the same draws as then)
    rgb, text, objects = draw(views, last, np.random.default_rng(5), 1.0, 1.0, paint_empty=True)
    assert (text, objects) == ("", []) and not np.array_equal(rgb, views.rgb[last])
    # scenes kept named (v5): only photos' texts are emptied
    rgb, text, objects = draw(views, last, rng, 1.0, empty_prob=1.0, empty_scenes=False)
    assert text and objects
    assert draw(views, 0, rng, 1.0, empty_prob=1.0, empty_scenes=False)[1] == ""
    target = batch_targets([views.rgb[0], views.rgb[1]])
    assert target.shape == (2, 2, 16, 16) and target.abs().max() <= 1


def _named(text):
    """[(label, colours)] from "a red cat, a blue bus and a green apple on a ... background"."""
    out = []
    for lo, hi, colours in phrase_colors(text):
        words = text[lo:hi].split()
        if colours and words and words[-1] != "background":
            out.append((words[-1], colours))
    return out


def test_phrase_colors_bind_colours_to_their_phrases():
    def spans(t):
        return [(t[a:b].strip(), c) for a, b, c in phrase_colors(t)]

    assert spans("a red car and a blue house") == [("a red car", ["red"]),
                                                  ("a blue house", ["blue"])]
    assert spans("a yellow bird with black wings on a green branch") == [
        ("a yellow bird", ["yellow"]), ("black wings", ["black"]), ("a green branch", ["green"])]
    # colours standing alone go to the thing named before them
    assert spans("a photo of a folding chair, mostly red and brown")[1] == (
        "a folding chair", ["red", "brown"])
    assert spans("a red camel on a green background")[-1] == ("a green background", ["green"])
    assert phrase_colors("") == []
    # tic caption's "in <colours>" after "a photo of": the photo's colours, with photo_palette
    t = "a photo of an eagle in gray and green"
    assert [c for _, _, c in phrase_colors(t)][1] == ["gray", "green"]  # "an eagle"
    assert [(t[a:b].strip(), c) for a, b, c in phrase_colors(t, photo_palette=True) if c] == [
        ("a photo", ["gray", "green"])]


@pytest.fixture(scope="module")
def minilm():
    from tic.text_minilm import MiniLMEncoder

    return MiniLMEncoder()


def test_token_features_carry_their_phrase_colour(minilm):
    tokens, mask = minilm.encode_tokens(["a red car and a blue house", ""])
    assert tokens.shape[0] == 2 and tokens.shape[-1] == minilm.TOKEN_DIM
    assert mask[1].sum() == 0 and mask[0].sum() == 7  # a red car and a blue house: 7 tokens
    colours = tokens[0, :7, minilm.SENTENCE_DIM:]
    red, blue = 3, 7  # COLOR_TERMS indices
    assert colours[:3, red].eq(1).all() and colours[4:, blue].eq(1).all()  # "a red car", "a blue house"
    assert colours[3].sum() == 0  # "and"
    # photo_palette: tic caption's "a photo of a dog in green" colours "a photo", not "a dog"
    from tic.text_minilm import MiniLMEncoder

    green = 6
    for palette, coloured in ((False, [3, 4]), (True, [0, 1])):
        tokens, _ = MiniLMEncoder(photo_palette=palette).encode_tokens(["a photo of a dog in green"])
        colours = tokens[0, :, minilm.SENTENCE_DIM:]  # a photo of a dog in green
        assert colours[:, green].nonzero().flatten().tolist() == coloured


FROZEN_MODEL = (
    "model:\n  image_size: 64\n  architecture: encoder_unet\n  encoder_unet:\n"
    "    encoder: mobilenet_v2\n    decoder_widths: [16, 12, 8, 8]\n    cross_attention: 2\n"
    "    attention_dim: 8\n    attention_heads: 2\n    text_hidden: 8\n"
    "  decoding:\n    ab_head: bins\n"
    "  text_encoder:\n    kind: minilm\n    dim: 384\n"
)
# the same model in the flat generator section of configs written before the sections
OLD_FROZEN_MODEL = (
    "model:\n  image_size: 64\n  generator:\n    encoder: mobilenet_v2\n"
    "    decoder_widths: [16, 12, 8, 8]\n    cross_attention: 2\n    attention_dim: 8\n"
    "    attention_heads: 2\n    text_hidden: 8\n    ab_head: bins\n"
    "  text_encoder:\n    kind: minilm\n    dim: 384\n"
)


def _frozen_config(tmp_path, photos, cutouts, model=FROZEN_MODEL, **sets):
    write_manifest(tmp_path / "photos.jsonl", photos)
    write_manifest(tmp_path / "cutouts.jsonl", cutouts)
    cfg_path = tmp_path / "frozen.yaml"
    cfg_path.write_text(
        model
        + f"data:\n  train: {tmp_path / 'photos.jsonl'}\n  cutouts: {tmp_path / 'cutouts.jsonl'}\n"
        "  scenes: 4\n  recolor_prob: 0.8\n  empty_text_prob: 0.2\n"
        "loss:\n  lambda_bins: 0.3\nbatch_size: 4\nsteps: 4\nlog_every: 1\neval_every: 2\n"
        "save_every: 2\nkeep_last: 5\n"
    )
    return load_train_config(cfg_path, [f"{k}={v}" for k, v in sets.items()])


def test_frozen_config_in_the_old_generator_section_is_migrated(tmp_path):
    from tic.config import to_dict

    photos, cutouts = _images(tmp_path)
    new = _frozen_config(tmp_path, photos, cutouts)
    old = _frozen_config(tmp_path, photos, cutouts, model=OLD_FROZEN_MODEL)
    assert to_dict(old) == to_dict(new)
    assert new.model.architecture == "encoder_unet" and new.model.decoding.ab_head == "bins"
    # the text sizes follow MiniLM in both
    assert new.model.encoder_unet.text_dim == 384 and new.model.encoder_unet.token_dim > 0


def _run(cfg, run, photos, cutouts, minilm, resume=False):
    views = build_views(photos, cutouts, 64, cfg.data.scenes, 1, seed=cfg.seed)
    val = build_views(photos, [], 64, 0, 0, flip=False)
    return train_frozen(cfg, run, views, minilm, val, resume=resume, progress=False)


GROUNDED = {"model.encoder_unet.grounding": "true", "loss.rebalance": 0.5}
WEIGHTED = {**GROUNDED, "loss.object_weight": 4.0}
OBJECTS = {**GROUNDED, "model.encoder_unet.object_head": "true",
           "model.decoding.paint_objects": "true", "loss.lambda_objects": 1.0}
UNMASKED = {**OBJECTS, "loss.object_background_weight": 0.25}
HINTS = {**GROUNDED, "model.encoder_unet.hints": "true", "loss.lambda_hints": 1.0}
PALETTE = {**GROUNDED, "model.encoder_unet.palette": "true", "loss.lambda_palette": 1.0,
           "model.text_encoder.photo_palette": "true", "data.scenes": 0,
           "data.empty_text_prob": 0.0}


@pytest.mark.parametrize("extra", [{}, GROUNDED, WEIGHTED, OBJECTS, UNMASKED, HINTS, PALETTE],
                         ids=["plain", "grounding", "object-weighted", "objects",
                              "objects-background-weighted", "hints", "palette"])
def test_frozen_training_resumes_exactly_and_its_model_loads(tmp_path, minilm, extra):
    photos, cutouts = _images(tmp_path)
    cfg = _frozen_config(tmp_path, photos, cutouts, **extra)
    full = _run(cfg, tmp_path / "full", photos, cutouts, minilm)
    assert full.step == 4 and (tmp_path / "full" / "model" / "model.safetensors").is_file()
    lines = (tmp_path / "full" / "losses.jsonl").read_text().splitlines()
    assert any("val_l1_bins" in ln for ln in lines)
    if extra is OBJECTS:  # 4 scenes among 16 views: most steps see one, the loss is a BCE
        found = [json.loads(ln)["loss_objects"] for ln in lines if "loss_objects" in ln]
        assert len(found) == 4 and any(v > 0 for v in found) and all(0 <= v < 5 for v in found)
    if extra is PALETTE:  # every photo's caption names its palette: a cross-entropy each step
        found = [json.loads(ln)["loss_palette"] for ln in lines if "loss_palette" in ln]
        assert len(found) == 4 and all(0 < v < 20 for v in found)

    half = _frozen_config(tmp_path, photos, cutouts, steps=2, **extra)
    _run(half, tmp_path / "resumed", photos, cutouts, minilm)
    assert latest_checkpoint(tmp_path / "resumed").name == "step-00000002"
    with pytest.raises(Exception, match="--resume"):
        _run(half, tmp_path / "resumed", photos, cutouts, minilm)
    resumed = _run(cfg, tmp_path / "resumed", photos, cutouts, minilm, resume=True)
    assert resumed.losses == full.losses  # the same batches and weights, step for step

    colorizer = Colorizer.from_pretrained(tmp_path / "full" / "model", device="cpu")
    img = Image.fromarray((np.random.default_rng(0).random((40, 50)) * 255).astype(np.uint8))
    out = colorizer(img, "a red cat and a blue bus")
    assert out.size == (50, 40)
    L_in = color.srgb8_to_l(np.asarray(img.convert("RGB")))
    L_out = color.srgb8_to_l(np.asarray(out))
    assert (L_in - L_out).abs().max() < 1.0


def test_init_from_a_model_without_grounding_keeps_its_weights(tmp_path, minilm):
    from tic.checkpoint import read_weights

    photos, cutouts = _images(tmp_path)
    first = _run(_frozen_config(tmp_path, photos, cutouts), tmp_path / "first", photos, cutouts,
                 minilm)
    assert first.step == 4
    # one step at a learning rate too small to move a weight: what init_from loaded
    cfg = _frozen_config(tmp_path, photos, cutouts, steps=1, init_from=tmp_path / "first" / "model",
                         **{"optim.lr": 1e-12}, **GROUNDED)
    second = _run(cfg, tmp_path / "second", photos, cutouts, minilm)
    old = read_weights(tmp_path / "first" / "model" / "model.safetensors")
    new = second.generator.state_dict()
    params = dict(second.generator.named_parameters())  # (BatchNorm statistics move in a step)
    assert all(torch.allclose(params[k], v, atol=1e-9) for k, v in old.items() if k in params)
    fresh = [k for k in new if k not in old]  # the hints; the frozen encoder is not in folders
    assert any(k.startswith("hint.") for k in fresh)
    assert all(k.startswith(("hint.", "encoder.")) for k in fresh)
    # tic.checkpoint.init_from, which the loop calls, on a freshly built grounding model: the
    # folder's tensors exactly, the hints as built, the encoder the shipped ImageNet one
    from tic.backbones import load_pretrained_encoder
    from tic.checkpoint import init_from
    from tic.models import build_generator

    torch.manual_seed(0)
    G = load_pretrained_encoder(build_generator(cfg.model))
    built = {k: v.clone() for k, v in G.state_dict().items()}
    init_from(tmp_path / "first" / "model", G)
    state = G.state_dict()
    assert all(torch.equal(state[k], v.to(state[k].dtype)) for k, v in old.items())
    assert all(torch.equal(state[k], built[k]) for k in fresh)
    bad = _frozen_config(tmp_path, photos, cutouts, steps=1, init_from=tmp_path)
    with pytest.raises(TicError, match="init_from: .* has no model.safetensors"):
        _run(bad, tmp_path / "third", photos, cutouts, minilm)


def test_object_head_alone_leaves_the_decoder_as_it_was(tmp_path, minilm):
    """lambda_l1 = lambda_bins = 0: only the object head learns; the decoder's weights and its
    BatchNorm statistics stay those of init_from (the decoder is not run)."""
    from tic.checkpoint import read_weights

    photos, cutouts = _images(tmp_path)
    first = _run(_frozen_config(tmp_path, photos, cutouts, **GROUNDED), tmp_path / "first",
                 photos, cutouts, minilm)
    cfg = _frozen_config(tmp_path, photos, cutouts, init_from=tmp_path / "first" / "model",
                         **{**OBJECTS, "loss.lambda_l1": 0, "loss.lambda_bins": 0,
                            "optim.lr": 1e-2})
    second = _run(cfg, tmp_path / "second", photos, cutouts, minilm)
    old = read_weights(tmp_path / "first" / "model" / "model.safetensors")
    new = second.generator.state_dict()
    assert first.step == second.step == 4
    assert all(torch.equal(new[k].to(v.dtype), v) for k, v in old.items())  # buffers too
    head = {k: v for k, v in new.items() if k.startswith("objects.")}
    assert head and all(k not in old for k in head)
    lines = (tmp_path / "second" / "losses.jsonl").read_text().splitlines()
    losses = [json.loads(ln) for ln in lines if "loss_objects" in ln]
    assert losses and all("loss_l1" not in row for row in losses)
    with pytest.raises(Exception, match="nothing to train"):
        _frozen_config(tmp_path, photos, cutouts, **{"loss.lambda_l1": 0, "loss.lambda_bins": 0})


@pytest.mark.parametrize(("sets", "key"), [
    ({"data.oracle_maps": 0.5}, "data.oracle_maps"),
    ({"loss.lambda_grounding": 1.0}, "loss.lambda_grounding"),
    ({"loss.lambda_instances": 1.0}, "loss.lambda_instances"),
    ({"model.encoder_unet.instance_dim": 4}, "model.encoder_unet.instance_dim"),
    ({"model.encoder_unet.grounding_maps": "learned"}, "model.encoder_unet.grounding_maps"),
])
def test_removed_training_keys_are_named(tmp_path, sets, key):
    """The variants removed from tic (docs/HISTORY.md) are unknown keys, named as such."""
    photos, cutouts = _images(tmp_path)
    with pytest.raises(ConfigError, match=f"unknown config key {key.replace('.', '[.]')}"):
        _frozen_config(tmp_path, photos, cutouts, **{**GROUNDED, **sets})


def test_removed_variant_in_an_old_generator_section_is_named(tmp_path):
    photos, cutouts = _images(tmp_path)
    old = OLD_FROZEN_MODEL.replace("    ab_head: bins\n", "    ab_head: bins\n    instance_dim: 4\n")
    with pytest.raises(ConfigError, match="model.generator.instance_dim: this variant was removed"):
        _frozen_config(tmp_path, photos, cutouts, model=old)
    # switched off, as older folders wrote them, they are dropped
    off = OLD_FROZEN_MODEL.replace("    ab_head: bins\n", "    ab_head: bins\n    instance_dim: 0\n")
    assert _frozen_config(tmp_path, photos, cutouts, model=off).model.decoding.ab_head == "bins"


def test_losses_for_weights_heads_and_objects(tmp_path, minilm):
    """``train_frozen.losses_for``: uniform pixel weights give the plain means, a weight on some
    pixels moves them; with lambda_l1 = lambda_bins = 0 only the object loss is computed."""
    from tic.backbones import load_pretrained_encoder
    from tic.models import build_generator
    from tic.train_frozen import losses_for
    from tic.training import TextCache

    photos, cutouts = _images(tmp_path)
    cfg = _frozen_config(tmp_path, photos, cutouts, **OBJECTS)
    torch.manual_seed(0)
    G = load_pretrained_encoder(build_generator(cfg.model)).eval()
    with torch.no_grad():
        feats = G.encode(torch.rand(2, 1, 64, 64) * 2 - 1)
        text = TextCache(minilm, cfg.model).batch(["a red cat on a blue background", ""])
        target = torch.rand(2, 2, 16, 16) * 2 - 1
        plain = losses_for(G, feats, text, target, cfg)
        assert sorted(plain) == ["loss_bins", "loss_l1"]  # no foreground given: no object loss
        ones = losses_for(G, feats, text, target, cfg, pixel_weights=torch.ones(2, 16, 16))
        torch.testing.assert_close(ones, plain)
        weights = torch.ones(2, 16, 16)
        weights[:, :8] = 5.0
        weighted = losses_for(G, feats, text, target, cfg, pixel_weights=weights)
        assert weighted["loss_l1"] != plain["loss_l1"]
        fg = torch.zeros(2, 16, 16)
        fg[0, 4:12, 4:12] = 1.0
        foreground = (fg, torch.tensor([1.0, 0.0]), torch.ones(2, 16, 16))
        out = losses_for(G, feats, text, target, cfg, foreground=foreground)
        assert sorted(out) == ["loss_bins", "loss_l1", "loss_objects"] and out["loss_objects"] > 0
        alone = _frozen_config(tmp_path, photos, cutouts,
                               **{**OBJECTS, "loss.lambda_l1": 0, "loss.lambda_bins": 0})
        only = losses_for(G, feats, None, target, alone, foreground=foreground)
        assert list(only) == ["loss_objects"]
        torch.testing.assert_close(only["loss_objects"], out["loss_objects"])


@pytest.mark.parametrize("weight", [0, 1.5])
def test_object_background_weight_out_of_range_is_named(tmp_path, weight):
    photos, cutouts = _images(tmp_path)
    with pytest.raises(ConfigError, match=r"loss\.object_background_weight must be in \(0, 1\]"):
        _frozen_config(tmp_path, photos, cutouts,
                       **{**OBJECTS, "loss.object_background_weight": weight})


def test_paste_of_an_object_larger_than_the_canvas_is_cut_by_the_frame():
    from tic.data.composites import paste

    canvas = np.zeros((8, 8, 3), dtype=np.float32)
    obj = np.ones((12, 6, 3), dtype=np.float32)  # taller than the canvas, narrower
    alpha = np.zeros((12, 6), dtype=np.float32)
    alpha[:, 1:5] = 1.0  # opaque columns 1-4 of the object, every row
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        canvas[:] = 0
        mask = paste(canvas, obj, alpha, rng)
        rows, cols = np.nonzero(mask)
        # it covers the canvas's whole height (overhanging), 4 columns wide at a place that fits
        assert set(rows) == set(range(8))
        assert len(set(cols)) == 4 and cols.min() >= 1 and cols.max() <= 6
        np.testing.assert_array_equal(canvas[..., 0] == 1, mask)
        seen.add(int(cols.min()))
    assert len(seen) > 1  # the place is drawn


def test_large_objects_fill_the_frame_and_zero_keeps_the_old_scenes(tmp_path):
    photos, cutouts = _images(tmp_path)
    old = build_views(photos, cutouts, size=64, n_scenes=12, crops_per_photo=1, seed=0)
    same = build_views(photos, cutouts, size=64, n_scenes=12, crops_per_photo=1, seed=0,
                       large_objects=0.0)
    torch.testing.assert_close(same.L, old.L)  # 0 draws nothing more: the same scenes
    large = build_views(photos, cutouts, size=64, n_scenes=12, crops_per_photo=1, seed=0,
                        large_objects=1.0)
    lone = [i for i in range(12, 24) if len(large.masks[i]) == 1]
    assert lone
    # the cut-outs are 24 of 40 pixels square: drawn at 0.9-1.5 of the side they cover most of
    # the 16x16 mask grid, at 0.45-0.9 (the old scenes) at most 0.9^2 of it
    share = [float(large.masks[i][0].mean()) for i in lone]
    assert min(share) > 0.75
    assert max(float(old.masks[i][0].mean()) for i in range(12, 24) if len(old.masks[i]) == 1) < 0.82


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_large_objects_out_of_range_is_named(tmp_path, value):
    photos, cutouts = _images(tmp_path)
    with pytest.raises(ConfigError, match=r"data\.large_objects must be in \[0, 1\], got"):
        _frozen_config(tmp_path, photos, cutouts, **{**OBJECTS, "data.large_objects": value})
