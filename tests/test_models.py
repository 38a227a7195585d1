"""Generator and PatchDiscriminator: shapes, text conditioning, gradients, parameter counts."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tic.config import ConfigError, DiscriminatorConfig, UNetConfig, model_preset
from tic.models import Generator, PatchDiscriminator, build_generator

from .conftest import calibrate_batchnorm


def _tiny(**changes) -> UNetConfig:
    if changes.get("text_fusion") == "film-all":  # FiLM at the bottleneck and every decoder level
        changes.update(text_fusion="film", text_levels="all")
    return dataclasses.replace(model_preset("tiny").unet, **changes)


@pytest.mark.parametrize("fusion", ["multiply", "film", "film-all"])
@pytest.mark.parametrize("size", [(32, 32), (16, 48)])
def test_generator_shapes_and_range(fusion, size):
    torch.manual_seed(0)
    g = Generator(_tiny(text_fusion=fusion))
    ab = g(torch.rand(3, 1, *size) * 2 - 1, torch.randn(3, 16))
    assert ab.shape == (3, 2, *size)
    assert ab.abs().max() <= 1


@pytest.mark.parametrize("fusion", ["multiply", "film", "film-all"])
def test_text_changes_output(fusion):
    torch.manual_seed(0)
    g = Generator(_tiny(text_fusion=fusion))
    calibrate_batchnorm(g, text_dim=16)
    L = torch.rand(1, 1, 32, 32) * 2 - 1
    a = g(L, torch.randn(1, 16))
    b = g(L, torch.randn(1, 16))
    assert (a - b).abs().max() > 1e-4


@pytest.mark.parametrize("fusion", ["multiply", "film", "film-all"])
def test_gradients_reach_every_parameter(fusion):
    torch.manual_seed(0)
    g = Generator(_tiny(text_fusion=fusion))
    g(torch.rand(2, 1, 32, 32) * 2 - 1, torch.randn(2, 16)).square().mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    d = PatchDiscriminator(DiscriminatorConfig(widths=(4, 8, 16)))
    d.score(torch.rand(2, 1, 32, 32), torch.rand(2, 2, 32, 32)).sum().backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _paper_count_by_hand() -> int:
    """The paper preset's parameters, counted from the architecture description."""
    w, k = 64, 9
    bn = 2 * w
    down = (1 * w * k + bn + w * w * k + bn) + 2 * (2 * (w * w * k + bn))
    text = (256 * 256 + 256) + (256 * 4096 + 4096)
    rdb_in = [64, 96, 128, 160, 192]
    rdb_out = [32, 32, 32, 32, 64]
    rdb = sum(i * o * k + 2 * o for i, o in zip(rdb_in, rdb_out, strict=True))
    rrdb = 3 * rdb
    up = 3 * ((w * w * 16 + bn) + (2 * w * w * k + bn) + (w * w * k + bn))
    head = w * 2 + 2
    return down + text + rrdb + up + head


def test_paper_preset_parameter_count():
    g = build_generator(model_preset("paper"))
    assert type(g) is Generator
    n = sum(p.numel() for p in g.parameters())
    assert n == _paper_count_by_hand() == 2_553_794


def test_paper_discriminator_output_size():
    d = PatchDiscriminator()
    logits = d(torch.zeros(1, 1, 256, 256), torch.zeros(1, 2, 256, 256))
    # 256 -> 128 -> 64 (stride 2, 2) -> 63 (4x4 stride 1) -> 62 (final 4x4)
    assert logits.shape == (1, 1, 62, 62)
    assert d.score(torch.zeros(2, 1, 64, 64), torch.zeros(2, 2, 64, 64)).shape == (2,)


def test_paper_generator_runs_at_working_sizes():
    g = Generator(model_preset("paper").unet).eval()
    with torch.no_grad():
        for s in (128, 256):
            assert g(torch.zeros(1, 1, s, s), torch.zeros(1, 256)).shape == (1, 2, s, s)


def test_bad_inputs_raise():
    g = Generator(_tiny())
    with pytest.raises(ValueError, match="multiples of 4"):
        g(torch.zeros(1, 1, 30, 32), torch.zeros(1, 16))
    with pytest.raises(ValueError, match=r"text_emb must have shape \(1, 16\)"):
        g(torch.zeros(1, 1, 32, 32), torch.zeros(1, 8))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        g(torch.zeros(1, 3, 32, 32), torch.zeros(1, 16))
    with pytest.raises(ValueError):
        PatchDiscriminator()(torch.zeros(1, 3, 32, 32), torch.zeros(1, 2, 32, 32))


def test_config_validation():
    cfg = model_preset("tiny")
    cfg.unet.text_dim = 8
    with pytest.raises(ConfigError, match=r"unet\.text_dim \(8\) must equal text_encoder\.dim"):
        cfg.validate()
    cfg = model_preset("tiny")
    cfg.image_size = 30
    with pytest.raises(ConfigError, match="multiple of 2\\*\\*depth"):
        cfg.validate()
    with pytest.raises(ConfigError, match="unknown model preset"):
        model_preset("huge")
    cfg = model_preset("tiny")
    cfg.unet.text_levels = "all"  # with the paper's multiply map
    with pytest.raises(ConfigError, match="text_levels 'all' needs text_fusion 'film'"):
        cfg.validate()


def test_decoder_film_adds_one_text_pathway_per_level():
    base, full = Generator(_tiny(text_fusion="film")), Generator(_tiny(text_fusion="film-all"))
    per_level = sum(p.numel() for p in base.text.parameters())
    extra = sum(p.numel() for p in full.parameters()) - sum(p.numel() for p in base.parameters())
    assert extra == base.cfg.depth * per_level
