"""Strict config loading: unknown keys and wrong types are named; model configs by section
(``unet``, ``encoder_unet``, ``decoding``), and the flat ``generator`` section of older folders."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tic.config import (
    ConfigError,
    DecodingConfig,
    EncoderUNetConfig,
    ModelConfig,
    TextEncoderConfig,
    UNetConfig,
    apply_overrides,
    from_dict,
    migrate_model_dict,
    model_dict,
    model_preset,
    to_dict,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = ROOT / "src" / "tic" / "assets" / "default" / "config.json"
FORMAT1_CONFIG = ROOT / "tests" / "fixtures" / "model_config_format1.json"


def test_round_trip_through_plain_data():
    cfg = model_preset("tiny")
    assert from_dict(ModelConfig, to_dict(cfg)) == cfg
    assert from_dict(ModelConfig, model_dict(cfg)).validate() == cfg


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="unet.widht"):
        from_dict(ModelConfig, {"unet": {"widht": 3}})
    with pytest.raises(ConfigError, match="decoding.ab_haed"):
        from_dict(ModelConfig, {"decoding": {"ab_haed": "bins"}})


@pytest.mark.parametrize(
    "data, key",
    [
        ({"image_size": "big"}, "image_size"),
        ({"unet": {"width": 2.5}}, "unet.width"),
        ({"unet": {"rrdb_norm": "yes"}}, "unet.rrdb_norm"),
        ({"unet": {"text_fusion": "add"}}, "unet.text_fusion"),
        ({"unet": []}, "unet"),
        ({"architecture": "scratch"}, "architecture"),
        ({"encoder_unet": {"decoder_widths": 5}}, "encoder_unet.decoder_widths"),
        ({"decoding": {"ab_head": "softmax"}}, "decoding.ab_head"),
    ],
)
def test_wrong_type_is_named(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        from_dict(ModelConfig, data)


def test_ints_are_accepted_for_floats():
    cfg = from_dict(ModelConfig, {"unet": {"rrdb_beta": 1}})
    assert cfg.unet.rrdb_beta == 1.0 and isinstance(cfg.unet.rrdb_beta, float)


def test_overrides_parse_yaml_values():
    data = apply_overrides({}, ["unet.width=32", "unet.text_fusion=film", "image_size=128"])
    cfg = from_dict(ModelConfig, data)
    assert (cfg.unet.width, cfg.unet.text_fusion, cfg.image_size) == (32, "film", 128)
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["unet.width"])


# --- sections by architecture ----------------------------------------------------------------


def _encoder_unet(**decoding) -> ModelConfig:
    """A small encoder U-Net config with a MiniLM-sized text pathway (grounding allowed)."""
    return ModelConfig(
        image_size=64, architecture="encoder_unet",
        encoder_unet=EncoderUNetConfig(text_dim=384, grounding=True, object_head=True),
        decoding=DecodingConfig(**decoding),
        text_encoder=TextEncoderConfig(kind="minilm", dim=384),
    )  # fmt: skip


def test_generator_is_the_active_section():
    cfg = model_preset("tiny")
    assert cfg.architecture == "unet" and cfg.generator is cfg.unet
    cfg = _encoder_unet()
    assert cfg.generator is cfg.encoder_unet


def test_model_dict_writes_only_the_active_sections():
    assert sorted(model_dict(model_preset("tiny"))) == [
        "architecture", "image_size", "text_encoder", "unet"]  # fmt: skip
    cfg = _encoder_unet(ab_head="bins", paint_objects=True).validate()
    data = model_dict(cfg)
    assert sorted(data) == ["architecture", "decoding", "encoder_unet", "image_size",
                            "text_encoder"]  # fmt: skip
    assert data["decoding"] == to_dict(cfg.decoding)
    assert from_dict(ModelConfig, data).validate() == cfg


@pytest.mark.parametrize(
    "architecture, section, changes",
    [
        ("unet", "encoder_unet", {"grounding": True}),
        ("unet", "decoding", {"ab_head": "bins"}),
        ("encoder_unet", "unet", {"width": 32}),
    ],
)
def test_a_section_of_the_other_architecture_is_an_error(architecture, section, changes):
    cfg = model_preset("tiny") if architecture == "unet" else _encoder_unet()
    setattr(cfg, section, dataclasses.replace(getattr(cfg, section), **changes))
    with pytest.raises(ConfigError, match=rf"model\.{section} is set but model\.architecture "
                                          rf"is '{architecture}'"):
        cfg.validate()


def test_section_errors_name_their_section():
    cfg = _encoder_unet(paint_objects=True)
    cfg.encoder_unet.object_head = False
    with pytest.raises(ConfigError, match=r"decoding\.paint_objects needs encoder_unet\."):
        cfg.validate()
    cfg = _encoder_unet()
    cfg.encoder_unet.cross_attention = 5
    with pytest.raises(ConfigError, match=r"encoder_unet\.cross_attention must be in 0\.\.4"):
        cfg.validate()
    cfg = model_preset("tiny")
    cfg.unet.width = 0
    with pytest.raises(ConfigError, match=r"unet\.width must be positive"):
        cfg.validate()


# --- the flat generator section of format tic-model/1 ----------------------------------------


def test_migrate_a_scratch_generator_gives_the_unet_section():
    old = {"image_size": 32, "generator": {"width": 8, "depth": 2, "text_dim": 16,
                                           "text_fusion": "film"},
           "text_encoder": {"dim": 16}}  # fmt: skip
    new = migrate_model_dict(old)
    assert new == {"image_size": 32, "architecture": "unet",
                   "unet": {"width": 8, "depth": 2, "text_dim": 16, "text_fusion": "film"},
                   "text_encoder": {"dim": 16}}  # fmt: skip
    assert "generator" in old  # the caller's dict is not changed
    # older scratch folders wrote the encoder U-Net's keys too, at their defaults: dropped
    written = {**old["generator"], "encoder": "scratch", "cross_attention": 0, "ab_head":
               "regression", "hint_logits": False}  # fmt: skip
    assert migrate_model_dict({**old, "generator": written}) == new
    cfg = from_dict(ModelConfig, new).validate()
    assert isinstance(cfg.generator, UNetConfig) and cfg.unet.width == 8


def test_migrate_an_encoder_generator_gives_encoder_unet_and_decoding():
    old = json.loads(FORMAT1_CONFIG.read_text())
    assert old.pop("format") == "tic-model/1"
    old.pop("tic_version")
    new = migrate_model_dict(old)
    assert new["architecture"] == "encoder_unet" and "generator" not in new and "unet" not in new
    assert set(new["encoder_unet"]) <= {f.name for f in dataclasses.fields(EncoderUNetConfig)}
    assert set(new["decoding"]) <= {f.name for f in dataclasses.fields(DecodingConfig)}
    assert new["encoder_unet"]["encoder"] == "mobilenet_v2" and new["encoder_unet"]["grounding"]
    assert new["decoding"]["ab_head"] == "bins" and new["decoding"]["object_threshold"] == 0.4
    # v9.4's old config is the shipped one (v10: v9.4 plus the hint and palette modules, and its
    # own decoding and reading of texts) without those
    shipped = json.loads(SHIPPED_CONFIG.read_text())
    shipped["encoder_unet"].update(hints=False, palette=False)
    shipped["decoding"].update(no_colour_chroma=0.5, palette_prior=10.0, palette_chroma=2.0,
                               paint_on_automatic=False)
    shipped["text_encoder"]["free_text"] = False
    assert from_dict(ModelConfig, new).validate() == from_dict(
        ModelConfig, {k: v for k, v in shipped.items() if k not in ("format", "tic_version")})


@pytest.mark.parametrize(
    "key, on, off",
    [
        ("hint_logits", True, False),
        ("group_crops", 0.5, None),
        ("grounding_maps", "learned", "imagenet"),
        ("grounding_ranks", True, False),
        ("spare_group_margin", 0.1, None),
        ("split_ranker", [1.0, 2.0], []),
        ("instance_dim", 8, 0),
        ("palette_other_chroma", 1.5, 1.0),
    ],
)
def test_a_removed_variant_is_an_error_when_on_and_dropped_when_off(key, on, off):
    old = json.loads(FORMAT1_CONFIG.read_text())
    for drop in ("format", "tic_version"):
        old.pop(drop)
    with pytest.raises(ConfigError, match=rf"model\.generator\.{key}: this variant was removed"):
        migrate_model_dict({**old, "generator": {**old["generator"], key: on}})
    new = migrate_model_dict({**old, "generator": {**old["generator"], key: off}})
    assert new == migrate_model_dict(old)
    # a scratch generator too
    scratch = {"generator": {"width": 8, key: on}}
    with pytest.raises(ConfigError, match=rf"generator\.{key}"):
        migrate_model_dict(scratch)
    assert migrate_model_dict({"generator": {"width": 8, key: off}})["unet"] == {"width": 8}


def test_migrate_rejects_unknown_keys_and_mixed_formats():
    with pytest.raises(ConfigError, match=r"unknown config key model\.generator\.widht"):
        migrate_model_dict({"generator": {"widht": 8}})
    # an encoder U-Net's generator with a key that is neither its own nor the paper U-Net's
    with pytest.raises(ConfigError, match=r"model\.generator\.ab_haed"):
        migrate_model_dict({"generator": {"encoder": "mobilenet_v2", "ab_haed": "bins"}})
    with pytest.raises(ConfigError, match="not both"):
        migrate_model_dict({"generator": {}, "unet": {}})
    new = {"architecture": "unet", "unet": {"width": 8}}
    assert migrate_model_dict(new) is new  # the sections are left as they are


def test_the_shipped_config_is_format_2_with_no_unet_key():
    data = json.loads(SHIPPED_CONFIG.read_text())
    assert data["format"] == "tic-model/2" and data["architecture"] == "encoder_unet"
    assert sorted(data) == ["architecture", "decoding", "encoder_unet", "format", "image_size",
                            "text_encoder", "tic_version"]  # fmt: skip
    unet_only = {f.name for f in dataclasses.fields(UNetConfig)} - {
        f.name for f in dataclasses.fields(EncoderUNetConfig)}  # fmt: skip
    assert not unet_only & {k for section in data.values() if isinstance(section, dict)
                            for k in section}  # fmt: skip
    assert "unet" not in data and "generator" not in data
