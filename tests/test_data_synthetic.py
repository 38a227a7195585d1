"""The isoluminant benchmark set (tic.data.synthetic)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tic.color import rgb_to_lab
from tic.color_names import colors_in_text, dominant_color_term
from tic.data.manifest import read_manifest
from tic.data.synthetic import core_colors, make_synthetic


def _lab(path):
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0]  # (3, H, W)


def test_isoluminant_masks_and_captions(tmp_path):
    records = make_synthetic(tmp_path / "iso", n=6, size=32, seed=3)
    assert len(records) == 6
    back = read_manifest(tmp_path / "iso" / "manifest.jsonl")
    assert [r.text for r in back] == [r.text for r in records]
    for rec in back:
        lab = _lab(rec.image)
        regions = rec.extra["regions"]
        assert regions[-1]["shape"] == "background"
        assert rec.mask == tmp_path / "iso" / regions[0]["mask"]
        # the caption names the regions' colours in order, background last
        assert colors_in_text(rec.text) == [r["color"] for r in regions]
        shapes = [r["shape"] for r in regions[:-1]]
        assert len(set(shapes)) == len(shapes)  # never two circles
        union = np.zeros(lab.shape[1:], dtype=bool)
        rgb = torch.from_numpy(np.asarray(Image.open(rec.image), dtype=np.float32) / 255)
        for region in regions:
            m = np.asarray(Image.open(tmp_path / "iso" / region["mask"])) > 0
            assert m.any()
            assert not (union & m).any()  # regions are disjoint
            union |= m
            # every filled pixel has L* = 60 up to 8-bit rounding
            assert (lab[0][torch.from_numpy(m)] - 60).abs().max() < 0.5
            # an independent check of the colour: the namer on the region's pixels
            assert dominant_color_term(rgb.permute(2, 0, 1), torch.from_numpy(m)) == region["color"]
        # what is left are the dark outlines that show where the shapes are
        outline = lab[0][torch.from_numpy(~union)]
        assert outline.numel() > 0 and (outline < 25).all()


def test_deterministic_by_seed_and_prefix_stable(tmp_path):
    a = make_synthetic(tmp_path / "a", n=3, size=32, seed=7)
    b = make_synthetic(tmp_path / "b", n=5, size=32, seed=7)
    c = make_synthetic(tmp_path / "c", n=3, size=32, seed=8)
    for ra, rb in zip(a, b[:3], strict=True):
        assert ra.text == rb.text
        assert ra.image.read_bytes() == rb.image.read_bytes()
    assert [r.text for r in a] != [r.text for r in c]
    line = json.loads((tmp_path / "a" / "manifest.jsonl").read_text().splitlines()[0])
    assert line["id"] == "iso-000000" and line["lightness"] == 60.0


def test_core_colours_are_the_term_and_isoluminant():
    cores = core_colors(60.0)
    for term, pool in cores.items():
        lab = rgb_to_lab(torch.from_numpy(pool.astype(np.float64) / 255).T[None, :, :, None])
        assert (lab[0, 0] - 60).abs().max() < 0.5
        rgb = torch.from_numpy(pool[:50].astype(np.float32) / 255).T[:, :, None]  # (3, N, 1)
        assert dominant_color_term(rgb) == term


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="too few clear yellow"):
        core_colors(60.0, ("yellow",))
    with pytest.raises(ValueError, match="n must be positive"):
        make_synthetic(tmp_path, n=0)
    with pytest.raises(ValueError, match="max_shapes"):
        make_synthetic(tmp_path, n=1, max_shapes=5)
