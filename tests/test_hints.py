"""Point hints (``tic.hints``): colours, the CLI's X,Y,COLOUR, points against the image's size
(ab checked against skimage), batches, the JSON file, and ``tic colorize --hint / --hints``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab

from tic import Colorizer
from tic.cli import main
from tic.color import AB_SCALE
from tic.color_names import name_color
from tic.errors import TicError
from tic.hints import (
    MAX_HINTS,
    batch_points,
    hint_points,
    parse_colour,
    parse_hint,
    read_hints_file,
)

# --- colours ----------------------------------------------------------------------------------


def test_parse_colour_hex_any_case():
    assert parse_colour("#ff8000") == (255, 128, 0)
    assert parse_colour("#FF8000") == (255, 128, 0)
    assert parse_colour(" #0a0B0c ") == (10, 11, 12)


@pytest.mark.parametrize(
    ("name", "term"),
    [("red", "red"), ("Blue", "blue"), ("navy", "blue"), ("crimson", "red"), ("grey", "gray")],
)
def test_parse_colour_names_and_synonyms_give_their_terms_colour(name, term):
    rgb = parse_colour(name)
    assert all(isinstance(v, int) and 0 <= v <= 255 for v in rgb)
    assert name_color([v / 255 for v in rgb], space="rgb") == term


def test_parse_colour_tuples_and_lists():
    assert parse_colour((255, 0, 0)) == (255, 0, 0)
    assert parse_colour([0, 128, 255]) == (0, 128, 255)
    assert parse_colour((np.int64(1), 2, 3)) == (1, 2, 3)


@pytest.mark.parametrize(
    "bad",
    ["blu", "#ff00", "#gg0000", "ff0000", "", (255, 0), (255, 0, 0, 0), (1.0, 0, 0),
     (256, 0, 0), (-1, 0, 0), (True, 0, 0), 12, None],
)  # fmt: skip
def test_parse_colour_errors_are_one_line_naming_it(bad):
    with pytest.raises(TicError) as e:
        parse_colour(bad)
    message = str(e.value)
    assert "\n" not in message and repr(bad) in message


def test_parse_hint():
    assert parse_hint("120,40,#ff0000") == (120.0, 40.0, "#ff0000")
    assert parse_hint(" 3.5 , 7 , navy ") == (3.5, 7.0, "navy")
    for bad in ["120,40", "x,40,red", "1,2,", "1,2,blu", "nan,2,red", "1,inf,red", ""]:
        with pytest.raises(TicError, match="bad hint") as e:
            parse_hint(bad)
        assert "\n" not in str(e.value)


# --- points -----------------------------------------------------------------------------------


def test_hint_points_fractions_and_ab_against_skimage():
    colours = [(255, 0, 0), (10, 200, 30), (40, 60, 220), (128, 128, 128)]
    hints = [(0, 0, "#ff0000"), (9, 4, colours[1]), (3.5, 2, list(colours[2])), (5, 1, "#808080")]
    yx, ab = hint_points(hints, (10, 5))  # W = 10, H = 5
    assert yx.shape == ab.shape == (4, 2) and yx.dtype == ab.dtype == torch.float32
    expected_yx = [((y + 0.5) / 5, (x + 0.5) / 10) for x, y, _ in hints]
    assert torch.allclose(yx, torch.tensor(expected_yx))
    reference = rgb2lab(np.array([colours], dtype=np.float64) / 255)[0, :, 1:] / AB_SCALE
    assert np.abs(ab.numpy() - reference).max() < 1e-4
    assert ab[3].abs().max() < 1e-4  # gray has no chroma


def test_hint_points_named_colour_ab_is_the_terms_colour():
    _, ab = hint_points([(1, 1, "crimson")], (4, 4))
    reference = rgb2lab(np.array([[parse_colour("red")]], dtype=np.float64) / 255)
    assert np.abs(ab.numpy() - reference[0, :, 1:] / AB_SCALE).max() < 1e-4


@pytest.mark.parametrize(("x", "y"), [(-1, 0), (0, -0.5), (10, 0), (0, 5), (10.2, 4)])
def test_hint_outside_the_image(x, y):
    with pytest.raises(TicError, match=r"is outside the image \(10 x 5\)") as e:
        hint_points([(x, y, "red")], (10, 5))
    assert f"hint ({x:g}, {y:g})" in str(e.value)


def test_too_many_hints_and_bad_hints():
    point = (1, 1, "red")
    assert hint_points([point] * MAX_HINTS, (4, 4))[0].shape == (MAX_HINTS, 2)
    with pytest.raises(TicError, match=f"{MAX_HINTS + 1} hints for one image; at most {MAX_HINTS}"):
        hint_points([point] * (MAX_HINTS + 1), (4, 4))
    for bad in [[(1, 1)], [(1, "a", "red")], [(1, 1, "blu")], [(float("nan"), 1, "red")], (1, 1)]:
        with pytest.raises(TicError):
            hint_points(bad, (4, 4))
    yx, ab = hint_points([], (4, 4))
    assert yx.shape == ab.shape == (0, 2)


def test_batch_points_pads_to_the_most_points():
    one = hint_points([(1, 1, "red")], (4, 4))
    three = hint_points([(0, 0, "blue"), (1, 2, "green"), (3, 3, "#ffffff")], (4, 4))
    none = hint_points([], (4, 4))
    yx, ab, valid = batch_points([one, none, three])
    assert yx.shape == ab.shape == (3, 3, 2) and valid.shape == (3, 3) and valid.dtype == torch.bool
    assert valid.tolist() == [[True, False, False], [False] * 3, [True] * 3]
    assert torch.equal(yx[0, 0], one[0][0]) and torch.equal(ab[2], three[1])
    assert not yx[~valid].any() and not ab[~valid].any()
    yx, ab, valid = batch_points([none, none])
    assert yx.shape == (2, 0, 2) and valid.shape == (2, 0)


# --- the JSON file ----------------------------------------------------------------------------


def test_read_hints_file(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text(json.dumps({
        "a.jpg": [[1, 2, "#ff0000"], [3.5, 4, "navy"], [5, 6, [0, 255, 0]]],
        "sub/b.png": [],
    }))  # fmt: skip
    table = read_hints_file(path)
    assert table == {
        "a.jpg": [
            (1.0, 2.0, (255, 0, 0)),
            (3.5, 4.0, parse_colour("navy")),
            (5.0, 6.0, (0, 255, 0)),
        ],
        "sub/b.png": [],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a.jpg": [[1, 2, "blu"]]}', "entry 'a.jpg', hint 1: unknown colour 'blu'"),
        ('{"a.jpg": [[1, 2, "red"], [1, 2]]}', "entry 'a.jpg', hint 2: expected [x, y, colour]"),
        ('{"a.jpg": [["1", 2, "red"]]}', "entry 'a.jpg', hint 1: bad hint"),
        ('{"a.jpg": [[1, 2, [1.5, 0, 0]]]}', "entry 'a.jpg', hint 1: bad colour"),
        ('{"a.jpg": "red"}', "entry 'a.jpg': expected a list"),
        ('[[1, 2, "red"]]', "expected a JSON object"),
        ('{"a.jpg": [[1, 2, "red"]', "not valid JSON"),
    ],
)
def test_read_hints_file_errors_name_the_file_and_entry(tmp_path, content, message):
    path = tmp_path / "hints.json"
    path.write_text(content)
    with pytest.raises(TicError) as e:
        read_hints_file(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)
    assert "\n" not in str(e.value)
    with pytest.raises(TicError, match="no such hints file"):
        read_hints_file(tmp_path / "missing.json")


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def colorizer(tiny_model_dir):
    return Colorizer.from_pretrained(tiny_model_dir, device="cpu")


def test_api_checks_hints_before_the_network(colorizer, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network ran")

    monkeypatch.setattr(colorizer, "predict_ab", no_network)
    image = np.zeros((5, 10), np.uint8)
    with pytest.raises(TicError, match=r"hint \(10, 0\) is outside the image \(10 x 5\)"):
        colorizer(image, "", hints=[(10, 0, "red")])
    with pytest.raises(TicError, match=r"image 2 of 2: unknown colour"):
        colorizer.colorize_batch([image, image], ["", ""], hints=[[], [(0, 0, "blu")]])
    with pytest.raises(ValueError, match="2 images but 1 hint lists"):
        colorizer.colorize_batch([image, image], ["", ""], hints=[[]])


def test_api_no_points_is_automatic_colorization(colorizer):
    image = np.full((12, 16), 120, np.uint8)
    plain = np.asarray(colorizer(image, "red"))
    assert np.array_equal(np.asarray(colorizer(image, "red", hints=[])), plain)
    batch = colorizer.colorize_batch([image, image], ["red", "red"], hints=[[], None])
    assert all(np.array_equal(np.asarray(out), plain) for out in batch)


def test_api_model_without_hint_module_refuses_points(colorizer):
    # needs the lead's tic.decoding.predict_ab(..., hints=...) (the tiny model is a paper U-Net)
    with pytest.raises(TicError, match="takes no point hints"):
        colorizer(np.full((12, 16), 120, np.uint8), "", hints=[(3, 4, "#00ff00")])


# --- tic colorize -----------------------------------------------------------------------------


def _run(capsys, *args) -> tuple[int, str]:
    code = main(["colorize", *map(str, args)])
    return code, capsys.readouterr().err


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, size in [("a.png", (20, 10)), ("b.png", (8, 8))]:
        Image.new("L", size, 100).save(folder / name)
    return folder


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("hint", "message"),
    [("5,5,blu", "bad hint '5,5,blu': unknown colour 'blu'"),
     ("20,5,red", "a.png: hint (20, 5) is outside the image (20 x 10)"),
     ("5,red", "bad hint '5,red'")],
)  # fmt: skip
def test_cli_bad_hint_writes_nothing(capsys, tiny_model_dir, inputs, tmp_path, hint, message):
    out = tmp_path / "out"
    code, err = _run(capsys, inputs / "a.png", "--model", tiny_model_dir, "--out", out,
                     "--hint", "1,1,red", "--hint", hint)  # fmt: skip
    assert code != 0
    line = _one_error_line(err)
    assert line.startswith("tic: error: ") and message in line
    assert not out.exists()


def test_cli_hint_with_several_inputs_is_refused(capsys, tiny_model_dir, inputs, tmp_path):
    out = tmp_path / "out"
    code, err = _run(capsys, inputs, "--model", tiny_model_dir, "--out", out, "--hint", "1,1,red")
    assert code == 2
    assert "--hint needs exactly one input image, got 2" in _one_error_line(err)
    assert not out.exists()


def test_cli_hints_file_errors(capsys, tiny_model_dir, inputs, tmp_path):
    out = tmp_path / "out"
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps({"a.png": [[1, 1, "red"]], "c.png": [[1, 1, "blue"]]}))
    code, err = _run(capsys, inputs, "--model", tiny_model_dir, "--out", out, "--hints", hints)
    assert code == 2
    assert f"{hints}: entry 'c.png' names no input image" in _one_error_line(err)
    # a point outside the second image: named with its file, nothing written for the first
    hints.write_text(json.dumps({"in/a.png": [[1, 1, "red"]], "b.png": [[8, 0, "blue"]]}))
    code, err = _run(capsys, inputs, "--model", tiny_model_dir, "--out", out, "--hints", hints)
    assert code == 2
    assert "b.png: hint (8, 0) is outside the image (8 x 8)" in _one_error_line(err)
    code, err = _run(capsys, inputs, "--model", tiny_model_dir, "--out", out, "--hints", hints,
                     "--hint", "1,1,red")  # fmt: skip
    assert code == 2 and "not both" in _one_error_line(err)
    assert not out.exists()


def test_cli_hints_to_a_model_without_a_hint_module_write_nothing(capsys, tiny_model_dir, inputs, tmp_path):
    # the tiny model has no hint module: refused before any image is colorized, nothing written
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps({"a.png": [[1, 1, "red"]]}))
    out = tmp_path / "out"
    code, err = _run(capsys, inputs / "a.png", inputs / "b.png", "--model", tiny_model_dir,
                     "--out", out, "--hints", hints, "--batch-size", "1")  # fmt: skip
    assert code == 2 and "takes no point hints" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_cli_checks_points_in_the_photo_as_shown(capsys, tiny_model_dir, tmp_path):
    # EXIF orientation 6 (turned 90 degrees): stored 20 x 10, shown and colorized 10 x 20
    src = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("L", (20, 10), 100).save(src, exif=exif)
    out = tmp_path / "out.png"
    code, err = _run(capsys, src, "--model", tiny_model_dir, "--out", out, "--hint", "15,2,red")
    assert code == 2 and "hint (15, 2) is outside the image (10 x 20)" in err
    assert not out.exists()
