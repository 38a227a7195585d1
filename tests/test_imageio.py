"""``tic.imageio``: the one image reader (modes, 16-bit and float, EXIF) and the one mask rule,
as captions, the training dataset and evaluation see it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tic.data.captions import caption_file
from tic.data.dataset import ColorizationDataset
from tic.data.manifest import Record
from tic.errors import TicError
from tic.evaluate import load_sample
from tic.imageio import (
    load_image,
    mask_from_alpha,
    read_mask,
    read_rgb,
    save_image,
    to_photo,
    to_rgb,
    to_rgb_image,
)

SIZE = 32


def soft_cutout(path) -> np.ndarray:
    """A square whose alpha ramps from 0 to 255 across its 32 columns, blue where alpha < 100 and
    red from there on; returns the alpha."""
    alpha = np.tile(np.linspace(0, 255, SIZE).round().astype(np.uint8), (SIZE, 1))
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[..., :3] = np.where((alpha < 100)[..., None], (40, 60, 200), (200, 30, 30))
    rgba[..., 3] = alpha
    Image.fromarray(rgba, "RGBA").save(path)
    return alpha


def test_the_mask_rule_is_above_half():
    alpha = np.array([[0, 1, 127, 128, 255]], np.uint8)
    assert mask_from_alpha(alpha).tolist() == [[False, False, False, True, True]]


def test_one_mask_rule_for_captions_training_and_evaluation(tmp_path):
    """A soft-edged cut-out is split at half opacity by every reader (before: alpha > 0 when
    judged, > 127 when captioned)."""
    alpha = soft_cutout(tmp_path / "cut.png")
    expected = alpha > 127
    _, mask = read_rgb(tmp_path / "cut.png")
    assert np.array_equal(mask.numpy(), expected)
    sample = load_sample(Record(image=tmp_path / "cut.png", text="a red square"), tmp_path)
    assert np.array_equal(sample.mask.numpy(), expected)
    item = ColorizationDataset([Record(image=tmp_path / "cut.png")], SIZE, train=False)[0]
    assert np.array_equal(item["mask"][0].numpy() > 0, expected)
    assert set(np.unique(item["mask"].numpy())) == {0, 255}
    # a mask file follows the same rule: value 128 is in, 127 is out
    Image.fromarray(alpha, "L").save(tmp_path / "mask.png")
    assert np.array_equal(read_mask(tmp_path / "mask.png").numpy(), expected)
    record = Record(image=tmp_path / "cut.png", mask=tmp_path / "mask.png")
    item = ColorizationDataset([record], SIZE, train=False)[0]
    assert np.array_equal(item["mask"][0].numpy() > 0, expected)
    # captions: the object is the opaque (red) half, the rest (mostly blue) its background
    assert caption_file(tmp_path / "cut.png") == "a red object on a blue background"


def test_mask_files_are_resized_to_the_image(tmp_path):
    Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8), "L").save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png", (4, 2))  # (width, height)
    assert mask.tolist() == [[False, False, True, True], [True, True, False, False]]
    sixteen = (np.array([[0, 40000]], np.uint16))
    Image.fromarray(sixteen).save(tmp_path / "m16.png")
    assert read_mask(tmp_path / "m16.png").tolist() == [[False, True]]


def test_sixteen_bit_and_float_gray_keep_their_precision(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 4).reshape(4, 64).astype(np.uint16)
    img = Image.fromarray(ramp)
    rgb = to_rgb(img)
    assert rgb.shape == (3, 4, 64) and rgb.is_contiguous()
    assert torch.allclose(rgb[1], torch.from_numpy(ramp / 65535.0).float())
    assert np.array_equal(np.asarray(to_rgb_image(img))[..., 0], (ramp / 257 + 0.5).astype(np.uint8))
    floats = Image.fromarray(np.array([[0.25, 2.0, -1.0]], np.float32), "F")
    assert to_rgb(floats)[0].tolist() == [[0.25, 1.0, 0.0]]
    nan = Image.fromarray(np.array([[0.5, np.nan]], np.float32), "F")
    with pytest.raises(TicError, match="photo.tif: image contains NaN"):
        to_rgb(nan, "photo.tif")
    assert torch.isfinite(to_photo(nan).L).all()  # colorizing tolerates it (as 0)


def test_rgb_of_every_mode_matches_pillows(tmp_path):
    base = Image.fromarray(np.random.RandomState(0).randint(0, 256, (8, 8, 3), np.uint8))
    for img in (base, base.convert("L"), base.convert("P"), base.convert("CMYK"), base.convert("1")):
        want = np.asarray(img.convert("RGB"), np.float32) / 255
        assert np.array_equal(to_rgb(img).permute(1, 2, 0).numpy(), want), img.mode
    rgba = base.copy()
    rgba.putalpha(128)
    assert np.array_equal(to_rgb(rgba).numpy(), to_rgb(base).numpy())  # alpha dropped


def test_exif_orientation_is_applied_once(tmp_path):
    img = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    (tmp_path / "r.jpg").write_bytes(buf.getvalue())
    loaded = load_image(tmp_path / "r.jpg")
    assert loaded.size == (10, 20)
    assert to_photo(loaded).size == (10, 20)  # to_photo does not turn it again
    rgb, _ = read_rgb(tmp_path / "r.jpg")
    assert rgb.shape == (3, 20, 10)


@pytest.mark.parametrize("suffix", [".png", ".JPG", ".tif", ".webp"])
def test_save_image_takes_the_format_from_the_suffix(tmp_path, suffix):
    # .png / .jpg are PIL's preloaded formats, .tif / .webp need its other plugins
    img = Image.new("RGB", (8, 6), (200, 30, 40))
    save_image(img, tmp_path / f"out{suffix}")
    with Image.open(tmp_path / f"out{suffix}") as back:
        assert back.size == (8, 6)
        assert back.format == Image.registered_extensions()[suffix.lower()]


def test_save_image_refuses_an_unknown_suffix(tmp_path):
    with pytest.raises(TicError, match=r"unknown image file type '\.xyz'"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "out.xyz")
    assert not list(tmp_path.iterdir())  # nothing half-written
