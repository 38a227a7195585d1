"""The U-Net on a pretrained encoder: MobileNetV2 weights, shapes, frozen encoder, token attention,
the ab-bins head, model folders that rebuild it, and a network package that holds networks only."""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

import tic.models
from tic import ab_bins, decoding
from tic.backbones import assets_dir, load_pretrained_encoder
from tic.config import (
    ConfigError,
    DecodingConfig,
    EncoderUNetConfig,
    ModelConfig,
    TextEncoderConfig,
)
from tic.models import EncoderUNet, build_generator
from tic.models.encoder_unet import TextCrossAttention
from tic.models.mobilenet import MobileNetV2Features


def _cfg(**changes) -> EncoderUNetConfig:
    base = dict(encoder="mobilenet_v2", decoder_widths=(40, 12, 8, 8), text_dim=6, text_hidden=8,
                cross_attention=2, token_dim=5, attention_dim=8, attention_heads=2)
    base.update(changes)
    return EncoderUNetConfig(**base)


def _model(decoding_cfg: DecodingConfig | None = None, image_size: int = 64,
           **changes) -> ModelConfig:
    """A tiny encoder U-Net's whole config (MiniLM-sized text unless ``text_dim`` is given)."""
    g = _cfg(**{"text_dim": 384, **changes})
    return ModelConfig(image_size=image_size, architecture="encoder_unet", encoder_unet=g,
                       decoding=decoding_cfg or DecodingConfig(),
                       text_encoder=TextEncoderConfig(kind="minilm", dim=g.text_dim))


def test_mobilenet_v2_has_torchvision_names_and_the_shipped_weights_load():
    net = MobileNetV2Features()
    keys = net.state_dict().keys()
    # torchvision's names for the first conv, an expanding block and the last 1x1 conv
    for k in ("features.0.0.weight", "features.0.1.running_var", "features.1.conv.0.0.weight",
              "features.1.conv.1.weight", "features.2.conv.0.0.weight",
              "features.2.conv.3.running_mean", "features.18.0.weight"):
        assert k in keys
    g = load_pretrained_encoder(EncoderUNet(_cfg()))
    w = g.encoder.features[0][0].weight
    assert (assets_dir() / "mobilenet_v2.safetensors").is_file()
    assert w.dtype == torch.float32 and w.abs().sum() > 0
    # ImageNet BatchNorm statistics, not the defaults
    assert not torch.allclose(g.encoder.features[0][1].running_var, torch.ones(32))


def test_feature_taps_have_the_documented_sizes():
    feats = MobileNetV2Features()(torch.zeros(1, 3, 64, 96))
    assert [tuple(f.shape[1:]) for f in feats] == [
        (16, 32, 48), (24, 16, 24), (32, 8, 12), (96, 4, 6), (1280, 2, 3)]


@pytest.mark.parametrize("head", ["regression", "bins"])
def test_shapes_range_and_encode_decode_split(head):
    """The network gives both heads at 1/4 (``forward`` is ``decode(encode(L))``); decoding
    (``tic.decoding.predict_ab``) turns them into ab at the input's size: the head the config
    picks (``ab_from_heads``), upsampled bilinearly."""
    torch.manual_seed(0)
    config = _model(DecodingConfig(ab_head=head), text_dim=6)
    g = EncoderUNet(config.encoder_unet).eval()
    L = torch.rand(2, 1, 64, 96) * 2 - 1
    text, tokens, mask = torch.randn(2, 6), torch.randn(2, 3, 5), torch.ones(2, 3)
    with torch.no_grad():
        ab = decoding.predict_ab(g, config, L, (text, tokens, mask))
        ab_low, logits = g.decode(g.encode(L), text, tokens, mask)
        forward = g(L, text, tokens, mask)
    assert ab.shape == (2, 2, 64, 96) and ab.abs().max() <= 1
    assert ab_low.shape == (2, 2, 16, 24)
    assert logits.shape == (2, len(ab_bins.bin_centers()), 16, 24)
    torch.testing.assert_close(forward, (ab_low, logits))
    heads = decoding.ab_from_heads(config.decoding, g.bin_centers, ab_low, logits)
    manual = torch.nn.functional.interpolate(heads, size=(64, 96), mode="bilinear",
                                             align_corners=False)
    torch.testing.assert_close(ab, manual)
    if head == "regression":
        torch.testing.assert_close(heads, ab_low)
    else:
        torch.testing.assert_close(heads, decoding.bins_ab(config.decoding, g.bin_centers, logits))


def test_frozen_encoder_gets_no_gradient_and_keeps_imagenet_statistics():
    torch.manual_seed(0)
    g = load_pretrained_encoder(EncoderUNet(_cfg())).train()
    before = g.encoder.features[3].conv[1][1].running_mean.clone()
    feats = g.encode(torch.rand(2, 1, 64, 64) * 2 - 1)
    ab, logits = g.decode(feats, torch.randn(2, 6), torch.randn(2, 3, 5), torch.ones(2, 3))
    (ab.square().mean() + logits.square().mean()).backward()
    assert all(p.grad is None for p in g.encoder.parameters())
    trainable = [n for n, p in g.named_parameters() if p.requires_grad]
    assert trainable and not any(n.startswith("encoder.") for n in trainable)
    assert all(p.grad is not None for n, p in g.named_parameters() if p.requires_grad and
               not n.startswith("attn"))  # attention gets gradients once its output is non-zero
    torch.testing.assert_close(g.encoder.features[3].conv[1][1].running_mean, before)


def test_cross_attention_starts_as_identity_and_padding_is_ignored():
    torch.manual_seed(0)
    block = TextCrossAttention(channels=8, token_dim=5, dim=8, heads=2)
    feat = torch.randn(2, 8, 4, 4)
    tokens = torch.randn(2, 3, 5)
    torch.testing.assert_close(block(feat, tokens, torch.ones(2, 3)), feat)
    torch.nn.init.normal_(block.out.weight)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    other = tokens.clone()
    other[0, 2] = 100.0  # padding: must not matter
    other[1, 1:] = -100.0
    torch.testing.assert_close(block(feat, tokens, mask), block(feat, other, mask))
    # no tokens at all (the empty text): only the learned "no word" token is attended
    out = block(feat, torch.zeros(2, 0, 5), torch.zeros(2, 0))
    assert out.shape == feat.shape and torch.isfinite(out).all()


def test_words_reach_the_place_they_name_through_attention():
    """A token's colour features change the output; a different token with the same colours in
    another order does not change it in the same way (the model sees per-token features)."""
    torch.manual_seed(0)
    g = EncoderUNet(_cfg()).eval()
    for block in g.attn:
        torch.nn.init.normal_(block.out.weight, std=0.5)
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    text = torch.zeros(1, 6)
    a, _ = g(L, text, torch.tensor([[[1.0, 0, 0, 0, 0]]]), torch.ones(1, 1))
    b, _ = g(L, text, torch.tensor([[[0, 0, 0, 0, 1.0]]]), torch.ones(1, 1))
    assert (a - b).abs().max() > 1e-3


def test_ab_bins_are_in_gamut_cells_and_soft_encoding_decodes_back():
    centers = ab_bins.bin_centers()
    assert len(centers) == 255
    torch.testing.assert_close(centers, ab_bins.gamut_cells())  # the table is the computation
    assert (centers.abs() <= ab_bins.GRID_MAX).all()
    # every cell holds an sRGB colour at some lightness; skimage is the independent reference:
    # a Lab colour is in gamut when lab2rgb (which clips) -> rgb2lab gives it back
    offsets = np.arange(-5.0, 5.1, 1.0)
    da, db, L = np.meshgrid(offsets, offsets, np.arange(2.0, 99.0, 2.0), indexing="ij")
    for a, b in centers[::7].tolist():
        lab = np.stack([L.ravel(), a + da.ravel(), b + db.ravel()], 1)[None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            back = rgb2lab(lab2rgb(lab))
        assert (np.abs(back - lab).max(-1) < 0.5).any(), (a, b)
    ab = torch.tensor([[[[23.0]], [[-41.0]]]])
    soft = ab_bins.soft_encode(ab, centers)
    assert soft.shape == (1, len(centers), 1, 1)
    torch.testing.assert_close(soft.sum(1), torch.ones(1, 1, 1))
    assert int((soft > 0).sum()) == 5
    # the plain mean of the soft target is near the true ab; a low temperature picks the mode
    mean = ab_bins.annealed_mean(torch.log(soft + 1e-12), centers, 1.0).flatten()
    assert (mean - torch.tensor([23.0, -41.0])).abs().max() < 3
    mode = ab_bins.annealed_mean(torch.log(soft + 1e-12), centers, 0.01).flatten()
    assert torch.allclose(mode, torch.tensor([20.0, -40.0]))
    with pytest.raises(ValueError):
        ab_bins.annealed_mean(soft, centers, 0.0)


def test_config_checks_for_the_encoder_unet():
    _model().validate()
    with pytest.raises(ConfigError, match=r"encoder_unet\.decoder_widths"):
        _model(decoder_widths=(8, 8)).validate()
    with pytest.raises(ConfigError, match="multiple of 32"):
        _model(image_size=48).validate()
    with pytest.raises(ConfigError, match="minilm"):
        ModelConfig(image_size=64, architecture="encoder_unet", encoder_unet=_cfg(text_dim=16),
                    text_encoder=TextEncoderConfig(dim=16)).validate()
    assert isinstance(build_generator(_model(text_dim=6)), EncoderUNet)
    assert build_generator(_model(text_dim=6)).cfg == _cfg()  # built from its own section


def test_model_folders_leave_the_frozen_encoder_out_and_older_ones_still_load(tmp_path):
    from safetensors.torch import load_file, save_file

    from tic.checkpoint import load_model, save_model_folder
    from tic.text_minilm import MiniLMEncoder

    cfg = _model(cross_attention=0).validate()
    torch.manual_seed(0)
    g = load_pretrained_encoder(build_generator(cfg)).eval()
    save_model_folder(tmp_path / "m", g, MiniLMEncoder(), cfg)
    stored = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert stored and not any(k.startswith("encoder.") for k in stored)
    written = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "encoder_unet" in written and "decoding" in written and "unet" not in written
    L, text = torch.rand(1, 1, 64, 64) * 2 - 1, torch.randn(1, 384)
    config, loaded, _ = load_model(tmp_path / "m")
    assert config == cfg
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(L, text), g(L, text))
    # a folder written with the encoder inside (tic 0.x before this) loads the same
    full = {k: v.contiguous() for k, v in g.state_dict().items()}
    save_file(full, str(tmp_path / "m" / "model.safetensors"))
    _, loaded, _ = load_model(tmp_path / "m")
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(L, text), g(L, text))


def test_cached_training_features_are_the_inference_features():
    """Features cached for training come from the encoder in eval mode (ImageNet BatchNorm
    statistics, as at inference) and leave its stored statistics as they were."""
    from tic.train_frozen import cache_features

    g = load_pretrained_encoder(EncoderUNet(_cfg()))  # a new module is in train mode
    before = {k: v.clone() for k, v in g.encoder.state_dict().items()}
    L = torch.rand(3, 1, 64, 64) * 2 - 1
    feats = cache_features(g, L)
    assert all(torch.equal(before[k], v) for k, v in g.encoder.state_dict().items())
    assert g.encoder.training  # its mode is given back
    with torch.no_grad():
        ref = g.eval().encode(L)
    for f, r in zip(feats, ref, strict=True):
        assert f.dtype == torch.float16
        torch.testing.assert_close(f.float(), r, atol=2e-3 * float(r.abs().max()), rtol=1e-2)


def test_fused_batchnorm_gives_the_same_outputs_and_leaves_the_model_alone():
    from tic.models.blocks import fuse_batchnorm

    torch.manual_seed(0)
    g = load_pretrained_encoder(EncoderUNet(_cfg()))
    for m in g.modules():  # decoder BatchNorms with statistics and affine terms of their own
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    for net in g.attn:
        torch.nn.init.normal_(net.out.weight, std=0.1)
    g.eval()
    fused = fuse_batchnorm(g)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules())
    assert n_bn > 50 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert g.state_dict().keys() != fused.state_dict().keys()  # g keeps what a folder stores
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    text, tokens, mask = torch.randn(2, 6), torch.randn(2, 3, 5), torch.ones(2, 3)
    with torch.no_grad():
        torch.testing.assert_close(fused(L, text, tokens, mask), g(L, text, tokens, mask),
                                   atol=1e-5, rtol=1e-4)



def _imports(source: str, package: str) -> set[str]:
    """The modules (and ``module.name`` for ``from module import name``) that ``source``, a file
    of ``package``, imports, relative imports resolved."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) + 1 - node.level] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
    return out


def test_the_network_package_imports_no_decoding_policy():
    """``tic.models`` holds networks only: none of its files imports the decoding policy
    (``tic.decoding``) or what only decoding uses (``tic.binding``, ``tic.faces``,
    ``tic.grounding``), read from the import lines of its source files."""
    policy = ("tic.binding", "tic.faces", "tic.grounding", "tic.decoding")

    def offending(names):
        return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in policy))

    # the check sees every way of writing such an import
    written = ("import tic.faces\nfrom tic import ab_bins, binding\nfrom ..grounding import OBJECT"
               "\nfrom .. import decoding\nfrom tic.color import AB_SCALE\nfrom . import blocks")
    assert offending(_imports(written, "tic.models")) == [
        "tic.binding", "tic.decoding", "tic.faces", "tic.grounding", "tic.grounding.OBJECT"]
    files = sorted(Path(tic.models.__file__).parent.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "encoder_unet.py", "generator.py"}
    found = {f.name: offending(_imports(f.read_text(), "tic.models")) for f in files}
    assert found == {f.name: [] for f in files}
