"""The photo pool -> manifest, cut-out composites, and manifest bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tic.color import rgb_to_lab
from tic.color_names import colors_in_text, dominant_color_term
from tic.data.composites import make_composites, turn_hue
from tic.data.dataset import ColorizationDataset
from tic.data.manifest import read_manifest
from tic.data.photos import load_photos, read_pool
from tic.errors import TicError

SHARED_POOL = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos" / "manifest.jsonl"


def write_pool(tmp_path):
    """A pool in the shared pool's form: two cut-outs (RGBA, colour zeroed outside) and two photos."""
    root = tmp_path / "pool"
    (root / "images").mkdir(parents=True)
    entries = []
    # a red disc cut-out and a yellow square cut-out
    for name, colour, label in (("disc", (220, 20, 20), "A red ball."), ("box", (240, 220, 20), "box")):
        rgba = np.zeros((40, 40, 4), dtype=np.uint8)
        yy, xx = np.mgrid[:40, :40]
        inside = (yy - 20) ** 2 + (xx - 20) ** 2 < 15**2 if name == "disc" else (abs(yy - 20) < 14) & (abs(xx - 20) < 14)
        rgba[inside] = (*colour, 255)
        Image.fromarray(rgba, "RGBA").save(root / "images" / f"tuxpaint__{name}.png")
        entries.append({"file": f"images/tuxpaint__{name}.png", "has_alpha": True, "label": label,
                        "license": "GPL-2", "source_package": "tuxpaint-stamps-default", "caption": None})
    for name, colour in (("sea", (20, 60, 200)), ("grass", (30, 160, 40))):
        Image.new("RGB", (64, 48), colour).save(root / "images" / f"photo__{name}.jpg", quality=95)
        entries.append({"file": f"images/photo__{name}.jpg", "has_alpha": False, "label": name,
                        "license": "CC0-1.0", "source_package": "x", "caption": None})
    (root / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return root / "manifest.jsonl"


def test_pool_to_captioned_manifest(tmp_path):
    recs = load_photos(write_pool(tmp_path))
    by_id = {r.id: r for r in recs}
    assert by_id["tuxpaint__disc"].text == "a red ball on a black background"
    assert by_id["tuxpaint__box"].text == "a yellow box on a black background"
    assert by_id["photo__sea"].text == "a photo of a sea in blue"
    assert by_id["photo__grass"].extra == {
        "label": "grass", "license": "CC0-1.0", "source_package": "x", "has_alpha": False
    }
    split = load_photos(write_pool(tmp_path / "b"), test_fraction=0.5, seed=0)
    assert sorted(r.split for r in split) == ["test", "test", "train", "train"]


def test_pool_bad_input(tmp_path):
    pool = write_pool(tmp_path)
    lines = pool.read_text().splitlines()
    pool.write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    with pytest.raises(TicError, match=r"manifest.jsonl:2: not valid JSON"):
        read_pool(pool)
    pool.write_text("\n".join(lines) + "\n")
    (pool.parent / "images" / "photo__sea.jpg").unlink()
    with pytest.raises(TicError, match=r"1 listed file\(s\) missing: .*photo__sea.jpg"):
        read_pool(pool)
    assert len(read_pool(pool, skip_missing=True)) == 3


@pytest.mark.pool
def test_shared_pool_reads():
    entries = read_pool(SHARED_POOL)
    assert len(entries) == 534 and sum(bool(e["has_alpha"]) for e in entries) == 224


def test_turn_hue_keeps_lightness_and_moves_hue():
    rgb = np.zeros((4, 4, 3), dtype=np.float32)
    rgb[:] = (0.8, 0.15, 0.1)  # red
    weight = np.ones((4, 4), dtype=np.float32)
    out, angle = turn_hue(rgb, weight, 250.0)  # towards blue's hue (about 250-300 in Lab)
    lab_in = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].double())[0]
    lab_out = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None].double())[0]
    assert (lab_in[0] - lab_out[0]).abs().max() < 0.5  # the gray image is unchanged
    hue = float(torch.rad2deg(torch.atan2(lab_out[2, 0, 0], lab_out[1, 0, 0]))) % 360
    assert abs(hue - 250.0) < 2.0
    assert dominant_color_term(torch.from_numpy(out).permute(2, 0, 1)) == "blue"
    assert 0 < angle < 360


def test_turn_hue_gives_dull_objects_chroma_but_keeps_lightness():
    rgb = np.zeros((4, 4, 3), dtype=np.float32)
    rgb[:] = (0.55, 0.5, 0.45)  # a dull beige: chroma about 9
    weight = np.ones((4, 4), dtype=np.float32)
    lab_in = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0]
    out, _ = turn_hue(rgb, weight, 140.0, min_chroma=35.0)
    lab_out = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None])[0]
    chroma_in = float(torch.hypot(lab_in[1], lab_in[2]).mean())
    chroma_out = float(torch.hypot(lab_out[1], lab_out[2]).mean())
    assert 8 < chroma_in < 10 and chroma_out == pytest.approx(35.0, rel=0.02)
    assert (lab_in[0] - lab_out[0]).abs().max() < 0.5
    out, _ = turn_hue(rgb, weight, 140.0, min_chroma=100.0)  # the gain is capped at 4x
    lab_out = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None])[0]
    assert float(torch.hypot(lab_out[1], lab_out[2]).mean()) == pytest.approx(4 * chroma_in, rel=0.02)
    out, _ = turn_hue(rgb, weight, 140.0)  # without min_chroma the chroma is kept
    lab_out = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None])[0]
    assert float(torch.hypot(lab_out[1], lab_out[2]).mean()) == pytest.approx(chroma_in, rel=0.05)


def test_composites_masks_captions_determinism(tmp_path):
    pool = write_pool(tmp_path)
    recs = make_composites(pool, tmp_path / "c", n=8, size=32, seed=5, recolor_prob=0.5)
    back = read_manifest(tmp_path / "c" / "manifest.jsonl")
    assert [r.text for r in back] == [r.text for r in recs]
    recoloured = 0
    for rec in back:
        rgb = torch.from_numpy(np.asarray(Image.open(rec.image), dtype=np.float32) / 255).permute(2, 0, 1)
        mask = torch.from_numpy(np.asarray(Image.open(rec.mask)) > 0)
        obj, bg = rec.extra["regions"]
        assert obj["shape"] == "object" and bg["shape"] == "background"
        assert mask.any() and (~mask).any()
        # the caption names the colours the pixels have now (checked independently per region)
        assert dominant_color_term(rgb, mask) == obj["color"]
        assert dominant_color_term(rgb, ~mask) == bg["color"]
        named = colors_in_text(rec.text)
        assert named[0] == obj["color"] and named[-1] == bg["color"]
        bg_mask = np.asarray(Image.open(tmp_path / "c" / bg["mask"])) > 0
        assert np.array_equal(bg_mask, ~mask.numpy())
        recoloured += rec.extra["hue_shift"] != 0
        if rec.extra["hue_shift"] == 0:
            assert obj["color"] in ("red", "yellow")  # the cut-outs' own colours
    assert 0 < recoloured < 8
    again = make_composites(pool, tmp_path / "d", n=8, size=32, seed=5)
    assert [r.image.read_bytes() for r in again] == [r.image.read_bytes() for r in recs]


def test_composites_split_keeps_sources_apart(tmp_path):
    pool = write_pool(tmp_path)
    recs = make_composites(pool, tmp_path / "c", n=12, size=32, seed=0, test_fraction=0.5)
    cut = {s: {r.extra["cutout"] for r in recs if r.split == s} for s in ("train", "test")}
    assert cut["train"] and cut["test"] and not cut["train"] & cut["test"]
    with pytest.raises(TicError, match="n must be positive"):
        make_composites(pool, tmp_path / "e", n=0)


def test_manifest_bad_input(tmp_path, caplog):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    m = tmp_path / "m.jsonl"
    m.write_text('{"image": "a.png", "text": "red"}\nnot json\n')
    with pytest.raises(TicError, match=r"m.jsonl:2: not valid JSON"):
        read_manifest(m)
    m.write_text('{"image": "a.png"}\n{"image": "gone.png"}\n{"image": "gone2.png"}\n')
    with pytest.raises(TicError, match=r"2 listed file\(s\) missing: .*gone.png, .*gone2.png"):
        read_manifest(m)
    with caplog.at_level("WARNING", logger="tic"):
        assert [r.image.name for r in read_manifest(m, skip_missing=True)] == ["a.png"]
    assert "skipped 2 record(s) with missing files" in caplog.text


def test_on_the_fly_recolouring_keeps_L_and_rewrites_the_text(tmp_path):
    pool = write_pool(tmp_path)
    recs = make_composites(pool, tmp_path / "c", n=6, size=32, seed=1, recolor_prob=0.0)
    plain = ColorizationDataset(recs, 32, train=True, seed=3)
    always = ColorizationDataset(recs, 32, train=True, seed=3, recolor_prob=1.0)
    changed = 0
    for i, rec in enumerate(recs):
        a, b = plain[i], always[i]
        assert not a["recolored"] and a["text"] == rec.text
        assert torch.equal(a["mask"], b["mask"])  # same crop and flip
        if not b["recolored"]:
            continue
        changed += 1
        rgb_a, rgb_b = (x["rgb"].float() / 255 for x in (a, b))
        mask = b["mask"][0] > 127
        # only the object changes, and its lightness is kept (up to 8-bit rounding)
        assert torch.equal(rgb_a[:, ~mask], rgb_b[:, ~mask])
        L_a, L_b = rgb_to_lab(rgb_a[None])[0, 0], rgb_to_lab(rgb_b[None])[0, 0]
        assert (L_a - L_b).abs().max() < 1.5
        # the new text names the object's new colour (measured independently) and keeps the rest
        assert colors_in_text(b["text"])[0] == dominant_color_term(rgb_b, mask)
        assert colors_in_text(b["text"])[0] != dominant_color_term(rgb_a, mask)
        assert b["text"].endswith(f"{rec.extra['regions'][1]['color']} background")
    assert changed >= 4
    # photos without an object region are never recoloured; validation sets never are
    photos = load_photos(pool)
    assert not any(ColorizationDataset(photos, 32, recolor_prob=1.0)[i]["recolored"] for i in range(2))
    assert not ColorizationDataset(recs, 32, train=False, recolor_prob=1.0)[0]["recolored"]
    with pytest.raises(TicError, match="recolor_prob"):
        ColorizationDataset(recs, 32, recolor_prob=1.5)


def test_reachable_terms_follow_the_objects_lightness():
    """A light object can be turned yellow but not brown; a dark one brown-ish but not yellow."""
    from tic.data.composites import reachable_terms

    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    light = np.full((16, 16, 3), 0.5, np.float32)
    light[mask] = (0.85, 0.8, 0.75)  # a light, dull object
    dark = np.full((16, 16, 3), 0.5, np.float32)
    dark[mask] = (0.2, 0.17, 0.15)
    assert "yellow" in reachable_terms(light, mask) and "yellow" not in reachable_terms(dark, mask)
    assert "blue" in reachable_terms(dark, mask)
