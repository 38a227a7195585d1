"""Colorizer: model folders (save/load, errors) and full-resolution inference on any image mode."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from skimage.color import rgb2lab

from tic import Colorizer
from tic.checkpoint import CONFIG_NAME, WEIGHTS_NAME
from tic.errors import TicError

from .conftest import photo_paths


@pytest.fixture(scope="module")
def colorizer(tiny_model_dir):
    return Colorizer.from_pretrained(tiny_model_dir, device="cpu")


def _lab_l(img: Image.Image) -> np.ndarray:
    return rgb2lab(np.asarray(img.convert("RGB"), dtype=np.float64) / 255)[..., 0]


def test_save_load_gives_bit_identical_outputs(colorizer, tmp_path):
    photo = photo_paths(1)[0]
    first = np.asarray(colorizer(photo, "a red bird"))
    colorizer.save_pretrained(tmp_path / "copy")
    again = Colorizer.from_pretrained(tmp_path / "copy", device="cpu")
    np.testing.assert_array_equal(np.asarray(again(photo, "a red bird")), first)
    for a, b in zip(
        colorizer.generator.state_dict().values(),
        again.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_save_is_atomic_and_replaces_an_old_folder(colorizer, tmp_path):
    target = tmp_path / "model"
    colorizer.save_pretrained(target)
    colorizer.save_pretrained(target)  # overwrite an existing folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp or old folders left
    assert json.loads((target / CONFIG_NAME).read_text())["format"] == "tic-model/2"


def test_output_keeps_size_and_the_inputs_lightness(colorizer):
    src = Image.open(photo_paths(1)[0]).convert("L")
    out = colorizer(src, "blue sky")
    assert out.size == src.size and out.mode == "RGB"
    expected = rgb2lab(np.repeat(np.asarray(src, dtype=np.float64)[..., None] / 255, 3, -1))[..., 0]
    # 8-bit rounding of R, G, B moves L* by well under one unit
    assert np.abs(_lab_l(out) - expected).max() < 0.8


def test_colour_photo_is_turned_to_gray_first(colorizer):
    rgb = Image.open(photo_paths(2)[1]).convert("RGB")
    out_colour = np.asarray(colorizer(rgb, "red"))
    assert np.abs(_lab_l(Image.fromarray(out_colour)) - _lab_l(rgb)).max() < 0.8


def test_full_resolution_detail_is_kept(colorizer):
    # a 1-pixel checkerboard survives: it is the input's L, not an upsampled 32x32 prediction
    board = (np.indices((300, 200)).sum(0) % 2 * 255).astype(np.uint8)
    out = colorizer(Image.fromarray(board), "")
    L = _lab_l(out)
    assert out.size == (200, 300)
    assert L[board == 255].min() > 99 and L[board == 0].max() < 1


def _modes(base: Image.Image) -> dict[str, Image.Image]:
    rgb = base.convert("RGB")
    g16 = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    exif_img = rgb.copy()
    exif = exif_img.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buf = io.BytesIO()
    exif_img.save(buf, "JPEG", exif=exif.tobytes())
    return {
        "RGB": rgb,
        "RGBA": rgb.convert("RGBA"),
        "L": base.convert("L"),
        "LA": base.convert("LA"),
        "P": rgb.convert("P"),
        "CMYK": rgb.convert("CMYK"),
        "1": base.convert("1"),
        "I;16": g16,
        "I": base.convert("I"),
        "F": base.convert("F").point(lambda v: v / 255.0),
        "EXIF": Image.open(io.BytesIO(buf.getvalue())),
    }


@pytest.mark.parametrize(
    "mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "1", "I;16", "I", "F", "EXIF"]
)
def test_every_image_mode(colorizer, mode):
    base = Image.open(photo_paths(1)[0])
    img = _modes(base)[mode]
    out = colorizer(img, "green")
    w, h = base.size
    assert out.size == ((h, w) if mode == "EXIF" else (w, h))
    assert out.mode == ("RGBA" if mode in ("RGBA", "LA") else "RGB")


def test_sixteen_bit_gray_uses_full_precision(colorizer):
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    out = colorizer(Image.fromarray(ramp), "")
    expected = rgb2lab(np.repeat((ramp / 65535.0)[..., None], 3, -1))[..., 0]
    assert np.abs(_lab_l(out) - expected).max() < 0.8


def test_alpha_is_kept(colorizer):
    cutout = Image.open(photo_paths(1, alpha=True)[0])
    assert cutout.mode == "RGBA"
    out = colorizer(cutout, "a red apple")
    np.testing.assert_array_equal(
        np.asarray(out.getchannel("A")), np.asarray(cutout.getchannel("A"))
    )


def test_batch_equals_single(colorizer):
    paths = photo_paths(3)
    texts = ["red", "blue sky", ""]
    batch = colorizer.colorize_batch(paths, texts)
    for p, t, b in zip(paths, texts, batch, strict=True):
        # batched convolutions may sum in another order: float noise can flip an 8-bit rounding
        diff = np.abs(np.asarray(colorizer(p, t), dtype=int) - np.asarray(b, dtype=int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_text_changes_colours(colorizer):
    img = Image.open(photo_paths(1)[0])
    a = np.asarray(colorizer(img, "a red bird with black wings"), dtype=int)
    b = np.asarray(colorizer(img, "blue sky over green grass"), dtype=int)
    assert np.abs(a - b).max() > 0


def test_numpy_input_and_bad_types(colorizer):
    arr = np.zeros((10, 20, 3), dtype=np.uint8)
    assert colorizer(arr, "").size == (20, 10)
    with pytest.raises(TicError, match="uint8"):
        colorizer(np.zeros((4, 4), dtype=np.float32), "")
    with pytest.raises(TypeError):
        colorizer(42, "")
    with pytest.raises(TypeError):
        colorizer(arr, None)


def test_shipped_model_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("tic.checkpoint.default_model_dir", lambda: tmp_path / "none")
    with pytest.raises(TicError, match="no shipped default model"):
        Colorizer.from_pretrained()


def _copy(src, tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(src, dst)
    return dst


def test_model_folder_errors(tiny_model_dir, tmp_path):
    with pytest.raises(TicError, match="does not exist"):
        Colorizer.from_pretrained(tmp_path / "nope")
    with pytest.raises(TicError, match="not a model folder"):
        Colorizer.from_pretrained(tmp_path)
    m = _copy(tiny_model_dir, tmp_path)
    (m / WEIGHTS_NAME).unlink()
    with pytest.raises(TicError, match="no model.safetensors"):
        Colorizer.from_pretrained(m)
    (m / WEIGHTS_NAME).write_bytes(b"not a safetensors file")
    with pytest.raises(TicError, match="unreadable weight file"):
        Colorizer.from_pretrained(m)


def test_mismatched_weights_are_named(tiny_model_dir, tmp_path):
    m = _copy(tiny_model_dir, tmp_path)
    state = load_file(str(m / WEIGHTS_NAME))
    state["to_ab.weight"] = torch.zeros(3, 8, 1, 1)
    save_file(state, str(m / WEIGHTS_NAME))
    with pytest.raises(TicError, match=r"to_ab.weight: \(3, 8, 1, 1\) in the file"):
        Colorizer.from_pretrained(m)
    del state["to_ab.weight"]
    save_file(state, str(m / WEIGHTS_NAME))
    with pytest.raises(TicError, match="missing to_ab.weight"):
        Colorizer.from_pretrained(m)


def test_bad_config_json_is_named(tiny_model_dir, tmp_path):
    m = _copy(tiny_model_dir, tmp_path)
    (m / CONFIG_NAME).write_text("{not json")
    with pytest.raises(TicError, match="not valid JSON"):
        Colorizer.from_pretrained(m)
    cfg = json.loads((tiny_model_dir / CONFIG_NAME).read_text())
    cfg["unet"]["widht"] = 8
    (m / CONFIG_NAME).write_text(json.dumps(cfg))
    with pytest.raises(TicError, match=r"config\.json: unknown config key unet\.widht"):
        Colorizer.from_pretrained(m)
    del cfg["unet"]["widht"]
    cfg["encoder_unet"] = {"grounding": True}  # a section the folder's architecture does not use
    (m / CONFIG_NAME).write_text(json.dumps(cfg))
    with pytest.raises(TicError, match=r"model\.encoder_unet is set but model\.architecture is "
                                       "'unet'"):
        Colorizer.from_pretrained(m)


def test_inference_precision_auto_is_fp32_training_auto_follows_the_hardware(monkeypatch):
    """tic.device: bf16 cost binding in inference (module doc), so auto never picks it there."""
    import tic.device as device

    cpu = torch.device("cpu")
    for amx in (True, False):
        monkeypatch.setattr(device, "bf16_supported", lambda d, amx=amx: amx)
        assert device.use_bf16("auto", cpu) is amx
        assert device.use_bf16("auto", cpu, inference=True) is False
        assert device.use_bf16("bf16", cpu, inference=True) is True
        assert device.use_bf16("fp32", cpu) is False
