"""`tic colorize`: files, folders, sidecar texts, outputs, and every bad input named in the issue."""

from __future__ import annotations

import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tic.cli import main

from .conftest import photo_paths


def run(capsys, *args) -> tuple[int, str]:
    code = main(["colorize", *map(str, args)])
    return code, capsys.readouterr().err


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for p in photo_paths(3):
        shutil.copy(p, folder / p.name)
    return folder


def test_one_file_to_a_named_output(capsys, tiny_model_dir, tmp_path):
    src = photo_paths(1)[0]
    code, err = run(
        capsys, src, "--model", tiny_model_dir, "--out", tmp_path / "x.png", "--text", "red"
    )
    assert code == 0, err
    assert Image.open(tmp_path / "x.png").size == Image.open(src).size
    assert "colorized 1 of 1" in err


def test_folder_with_sidecar_texts(capsys, tiny_model_dir, photos, tmp_path):
    first = sorted(photos.iterdir())[0]
    first.with_suffix(".txt").write_text("a red fish\n")
    out = tmp_path / "out"
    code, err = run(capsys, photos, "--model", tiny_model_dir, "--out", out, "--batch-size", "2")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.stem + ".png" for p in photos.glob("*.jpg")
    )
    assert "colorized 3 of 3" in err
    # the sidecar text was used: the same image with that text gives the same pixels (up to
    # 8-bit rounding flips from the batched convolutions' summation order), another text does not
    single = {}
    for text in ("a red fish", ""):
        name = f"t{len(single)}.png"
        code, _ = run(
            capsys, first, "--model", tiny_model_dir, "--out", tmp_path / name, "--text", text
        )
        single[text] = np.asarray(Image.open(tmp_path / name), dtype=int)
    batched = np.asarray(Image.open(out / (first.stem + ".png")), dtype=int)
    assert np.abs(single["a red fish"] - batched).max() <= 1
    assert np.abs(single[""] - batched).max() > 1


def test_same_stem_does_not_collide(capsys, tiny_model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("L", (8, 8), 100).save(folder / "a.png")
    Image.new("L", (8, 8), 200).save(folder / "a.jpg")
    code, err = run(capsys, folder, "--model", tiny_model_dir, "--out", tmp_path / "o")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a-2.png", "a.png"]


def test_never_overwrites_an_input(capsys, tiny_model_dir, tmp_path):
    src = tmp_path / "photo.png"
    Image.new("L", (16, 16), 128).save(src)
    before = src.read_bytes()
    code, err = run(capsys, src, "--model", tiny_model_dir, "--out", src)
    assert code != 0 and "refusing to overwrite an input" in err
    code, err = run(capsys, tmp_path, "--model", tiny_model_dir, "--out", tmp_path)
    assert code != 0 and "refusing to overwrite an input" in err
    assert src.read_bytes() == before


def _bad_files(folder):
    good = photo_paths(1)[0]
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not an image\n")
    data = good.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    shutil.copy(good, folder / "good.jpg")


def test_bad_files_in_a_batch_are_reported_and_others_done(capsys, tiny_model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _bad_files(folder)
    out = tmp_path / "out"
    code, err = run(capsys, folder, "--model", tiny_model_dir, "--out", out, "--batch-size", "3")
    assert code == 1
    assert "empty.jpg: empty file (0 bytes)" in err
    assert "text.jpg: not an image file Pillow can read" in err
    assert "truncated.jpg: corrupt or truncated image" in err
    assert "colorized 1 of 4 image(s)" in err and "3 failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]  # nothing half-written


def test_missing_path_and_empty_folder(capsys, tiny_model_dir, tmp_path):
    code, err = run(capsys, tmp_path / "nope.jpg", "--model", tiny_model_dir)
    assert code == 2 and "nope.jpg: no such file or folder" in err
    (tmp_path / "empty").mkdir()
    code, err = run(capsys, tmp_path / "empty", "--model", tiny_model_dir)
    assert code == 2 and "folder has no image files" in err


def _png_header_only(path, width, height):
    """A PNG whose header claims width x height (a decompression bomb needs no more to be refused)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_with_an_option_to_raise_the_limit(
    capsys, tiny_model_dir, tmp_path
):
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 50_000, 50_000)
    code, err = run(capsys, bomb, "--model", tiny_model_dir, "--out", tmp_path / "o")
    assert code == 1 and "2,500,000,000 pixels is above the limit of 100,000,000" in err
    assert "--max-pixels" in err
    small = tmp_path / "small.png"
    Image.new("L", (40, 30)).save(small)
    code, err = run(
        capsys, small, "--model", tiny_model_dir, "--out", tmp_path / "o2", "--max-pixels", "1000"
    )
    assert code == 1 and "above the limit of 1,000" in err
    code, err = run(
        capsys, small, "--model", tiny_model_dir, "--out", tmp_path / "o3", "--max-pixels", "1200"
    )
    assert code == 0, err


@pytest.mark.parametrize("size", [(1, 1), (1, 10000), (10000, 1)])
def test_extreme_shapes(capsys, tiny_model_dir, tmp_path, size):
    src = tmp_path / "thin.png"
    Image.new("L", size, 90).save(src)
    code, err = run(capsys, src, "--model", tiny_model_dir, "--out", tmp_path / "o.png")
    assert code == 0, err
    assert Image.open(tmp_path / "o.png").size == size


@pytest.mark.parametrize(
    "text", ["", "red " * 2500, "красная машина и синее небо", "赤い車", "   \n\t ", "💙🚗"]
)
def test_empty_long_and_non_latin_texts(capsys, tiny_model_dir, tmp_path, text):
    assert len("red " * 2500) == 10_000
    src = photo_paths(1)[0]
    code, err = run(
        capsys, src, "--model", tiny_model_dir, "--out", tmp_path / "o.png", "--text", text
    )
    assert code == 0, err
    assert Image.open(tmp_path / "o.png").size == Image.open(src).size


def test_unknown_words_are_reported(capsys, tiny_model_dir, tmp_path, caplog):
    src = photo_paths(1)[0]
    code, _ = run(
        capsys, src, "--model", tiny_model_dir, "--out", tmp_path / "o.png", "--text", "red zyxwv"
    )
    assert code == 0
    assert "unknown word(s) ignored: zyxwv" in caplog.text


def test_unwritable_output_folder(capsys, tiny_model_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    code, err = run(capsys, photo_paths(1)[0], "--model", tiny_model_dir, "--out", blocker / "out")
    assert code == 2 and "cannot create output folder" in err


def test_bad_model_folders(capsys, tiny_model_dir, tmp_path):
    src = photo_paths(1)[0]
    broken = tmp_path / "m"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").unlink()
    code, err = run(capsys, src, "--model", broken, "--out", tmp_path / "o.png")
    assert code == 2 and "no model.safetensors" in err
    code, err = run(capsys, src, "--model", tmp_path / "nothing", "--out", tmp_path / "o.png")
    assert code == 2 and "model folder does not exist" in err
    assert not (tmp_path / "o.png").exists()


def test_bad_arguments(capsys):
    with pytest.raises(SystemExit) as e:
        main(["colorize", "x.jpg", "--batch-size", "0"])
    assert e.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
