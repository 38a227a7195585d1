"""Strict config loading: unknown keys and wrong types are named."""

from __future__ import annotations

import pytest

from tic.config import ConfigError, ModelConfig, apply_overrides, from_dict, model_preset, to_dict


def test_round_trip_through_plain_data():
    cfg = model_preset("tiny")
    assert from_dict(ModelConfig, to_dict(cfg)) == cfg


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="generator.widht"):
        from_dict(ModelConfig, {"generator": {"widht": 3}})


@pytest.mark.parametrize(
    "data, key",
    [
        ({"image_size": "big"}, "image_size"),
        ({"generator": {"width": 2.5}}, "generator.width"),
        ({"generator": {"rrdb_norm": "yes"}}, "generator.rrdb_norm"),
        ({"generator": {"text_fusion": "add"}}, "generator.text_fusion"),
        ({"generator": []}, "generator"),
    ],
)
def test_wrong_type_is_named(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        from_dict(ModelConfig, data)


def test_ints_are_accepted_for_floats():
    cfg = from_dict(ModelConfig, {"generator": {"rrdb_beta": 1}})
    assert cfg.generator.rrdb_beta == 1.0 and isinstance(cfg.generator.rrdb_beta, float)


def test_overrides_parse_yaml_values():
    data = apply_overrides(
        {}, ["generator.width=32", "generator.text_fusion=film", "image_size=128"]
    )
    cfg = from_dict(ModelConfig, data)
    assert (cfg.generator.width, cfg.generator.text_fusion, cfg.image_size) == (32, "film", 128)
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["generator.width"])
