"""``tic web``: the app's functions on a tiny model, and one real server over HTTP (gradio_client).

The browser itself is driven in ``test_web_browser.py`` (marked ``browser``).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tic import Colorizer
from tic.cli import build_parser
from tic.color import srgb8_to_l

gr = pytest.importorskip("gradio", reason="the 'web' extra is not installed")
web = pytest.importorskip("tic.web")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def lightness(image: Image.Image) -> np.ndarray:
    """CIE L* of an 8-bit image, (H, W)."""
    return srgb8_to_l(np.asarray(image.convert("RGB"), dtype=np.uint8))[0, 0].numpy()


@pytest.fixture(scope="module")
def colorizer(tiny_model_dir) -> Colorizer:
    return Colorizer.from_pretrained(tiny_model_dir, device="cpu")


@pytest.fixture
def app(colorizer, tmp_path) -> web.WebColorizer:
    return web.WebColorizer(colorizer, web.SessionFiles(tmp_path / "cache", 900))


@pytest.fixture
def gray_photo(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    pixels = np.linspace(0, 255, 90)[None, :] * np.ones((70, 1)) * 0.8 + rng.integers(
        0, 50, (70, 90)
    )
    path = tmp_path / "street.png"
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(path)
    return path


def payload(path: Path, name: str | None = None) -> dict:
    """What Gradio hands the functions (preprocess=False): a file payload."""
    return {"path": str(path), "orig_name": name or path.name, "meta": {"_type": "gradio.FileData"}}


def no_warnings():
    return warnings.catch_warnings(record=True)


# --- the functions --------------------------------------------------------------------------


def test_colorize_keeps_size_and_lightness_and_names_the_colours(app, gray_photo):
    (gray, colour), png, note = app.colorize(payload(gray_photo), "a red bird over blue sky")
    out = Image.open(png)
    assert Path(png).parent.parent == app.files.root  # written straight into the cache folder
    assert app.files.sessions() == {None: [Path(png).parent]}  # a folder of its own
    assert Path(png).name == "street-colorized.png" and out.format == "PNG"
    assert out.size == (90, 70)
    assert np.abs(lightness(out) - lightness(Image.open(gray_photo))).max() < 0.8
    # the previews for the slider: WebP files beside the PNG (lossy, so L* only roughly)
    assert {Path(gray).parent, Path(colour).parent} == {Path(png).parent}
    for preview in (gray, colour):
        image = Image.open(preview)
        assert image.format == "WEBP" and image.size == (90, 70)
        assert np.abs(lightness(image) - lightness(Image.open(gray_photo))).mean() < 1.5
    assert 'data-color="red"' in note and 'data-color="blue"' in note
    assert "90 x 70 px" in note


def test_previews_before_is_the_inputs_lightness_without_colour(app, gray_photo):
    (_, _), png, _ = app.colorize(payload(gray_photo), "a red bird over blue sky")
    gray, colour = web._previews(Image.open(png), web.PREVIEW_SIDE)
    assert gray.size == colour.size == (90, 70)
    assert np.abs(lightness(gray) - lightness(Image.open(gray_photo))).max() < 0.8
    assert np.ptp(np.asarray(gray.convert("RGB"), dtype=int), axis=2).max() <= 1


def test_colour_photo_is_turned_to_gray_and_alpha_kept(app, tmp_path):
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 3] = 200, 90, 255
    rgba[:10, :, 3] = 0
    path = tmp_path / "logo.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    (gray, colour), png, _ = app.colorize(str(path), "green")
    out = Image.open(png)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    assert np.abs(lightness(out) - lightness(Image.fromarray(rgba[..., :3]))).max() < 0.8
    assert Image.open(gray).mode == "RGBA"
    assert path.exists()  # a file that is not one of Gradio's uploads is never deleted


def test_empty_text_warns_and_still_colorizes(app, gray_photo):
    with pytest.warns(UserWarning, match="text is empty"):
        _, png, note = app.colorize(payload(gray_photo), "   ")
    assert Image.open(png).size == (90, 70)
    assert "text is empty" in note


def test_unknown_words_are_shown(app, gray_photo):
    # the tiny model's word2vec knows only its training texts
    with pytest.warns(UserWarning, match="does not know.*zorblax"):
        _, _, note = app.colorize(payload(gray_photo), "a red zorblax bird")
    assert "zorblax" in note and 'data-color="red"' in note


def _bomb(path: Path) -> Path:
    Image.new("1", (12_000, 10_000)).save(path)  # 120 MP, a few KB as a PNG
    assert path.stat().st_size < 100_000
    return path


def _truncated(path: Path, source: Path) -> Path:
    buf = io.BytesIO()
    Image.open(source).convert("L").save(buf, format="JPEG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d, src: (d / "notes.jpg").write_text("not an image") and d / "notes.jpg",
         "notes.jpg: not an image file"),
        (lambda d, src: _truncated(d / "half.jpg", src), "half.jpg: corrupt or truncated"),
        (lambda d, src: _bomb(d / "bomb.png"), "bomb.png: 12000x10000 = 120,000,000 pixels is above the limit of 50,000,000"),
        (lambda d, src: (d / "empty.png").write_bytes(b"") or d / "empty.png", "empty.png: empty file"),
    ],
    ids=["not-an-image", "truncated", "decompression-bomb", "empty-file"],
)  # fmt: skip
def test_bad_files_get_one_line_naming_the_file(app, gray_photo, tmp_path, make, expected):
    uploads = tmp_path / "cache" / "abc123"  # as Gradio stores uploads: cache/HASH/name
    uploads.mkdir(parents=True)
    path = make(uploads, gray_photo)
    with pytest.raises(gr.Error) as err:
        app.colorize(payload(path), "a red car")
    message = err.value.message
    assert message.startswith(expected.split(":")[0]) and expected in message
    assert str(uploads) not in message and "\n" not in message and "Traceback" not in message
    assert list(app.files.root.rglob("*.png")) == ([path] if path.suffix == ".png" else [])
    assert app.files.sessions() == {}  # a failed request leaves no result folder


@pytest.mark.parametrize(
    "photo, text, expected",
    [
        (None, "a red car", "Drop a photo first"),
        ("photo", "x" * 10_000, "10,000 characters long; the limit is 1,000"),
        ({"orig_name": "a.png"}, "red", "did not arrive"),
        ({"path": "/no/such/x.png", "orig_name": "x.png"}, "red", "x.png: the upload is no longer"),
    ],
)
def test_bad_requests_get_a_message(app, gray_photo, photo, text, expected):
    with pytest.raises(gr.Error, match=expected):
        app.colorize(payload(gray_photo) if photo == "photo" else photo, text)


# --- point hints -------------------------------------------------------------------------------


class RecordingColorizer:
    """The tiny model, recording the hints each call was given (None: called without any)."""

    def __init__(self, colorizer: Colorizer):
        self.colorizer, self.hints = colorizer, []

    def __call__(self, image, text, **kwargs):
        self.hints.append(kwargs.pop("hints", None))
        assert not kwargs
        return self.colorizer(image, text)


@pytest.fixture
def recording(colorizer, tmp_path) -> web.WebColorizer:
    return web.WebColorizer(
        RecordingColorizer(colorizer), web.SessionFiles(tmp_path / "cache", 900)
    )


def test_hints_reach_the_colorizer_as_given(recording, gray_photo):
    hints = '[[10, 20, "#FF0000"], [89.5, 0, "navy"], [0, 69, [0, 128, 255]]]'
    _, png, note = recording.colorize(payload(gray_photo), "a bird", hints)
    assert recording.colorizer.hints == [
        [(10, 20, "#FF0000"), (89.5, 0, "navy"), (0, 69, (0, 128, 255))]
    ]
    assert Image.open(png).size == (90, 70) and "3 point hints" in note
    # no hints: the colorizer is called as before hints existed
    for none in (None, "", "  ", "[]"):
        recording.colorize(payload(gray_photo), "a bird", none)
    assert recording.colorizer.hints[1:] == [None] * 4


def test_points_and_no_text_give_no_empty_text_warning(recording, gray_photo):
    with no_warnings() as caught:
        _, _, note = recording.colorize(payload(gray_photo), "", '[[1, 2, "#00ff00"]]')
    assert not [w for w in caught if "text is empty" in str(w.message)]
    assert "1 point hint" in note and "text is empty" not in note


@pytest.mark.parametrize(
    "hints, expected",
    [
        ("[[1, 2, #ff0000]]", "not valid JSON (Expecting value at column 9)"),
        ('{"x": 1}', 'must be a JSON list [[x, y, "#rrggbb"], ...], got {"x": 1}'),
        ("[[1, 2]]", 'Point hint 1: expected [x, y, "#rrggbb"], got [1, 2]'),
        ('[[1, 2, "#ff0000"], [1, "2", "#ff0000"]]',
         'Point hint 2 ([1, "2", "#ff0000"]): x and y must be numbers'),
        ('[[true, 2, "#ff0000"]]', 'Point hint 1 ([true, 2, "#ff0000"]): x and y must be numbers'),
        ('[[NaN, 2, "#ff0000"]]', "x and y must be numbers"),
        ('[[1, 2, "#ff00"]]', "Point hint 1: unknown colour '#ff00'"),
        ('[[1, 2, "blurple"]]', "Point hint 1: unknown colour 'blurple'"),
        ('[[1, 2, [255, 0, 300]]]', "Point hint 1: bad colour [255, 0, 300]"),
        (json.dumps([[1, 2, "#ff0000"]] * 33), "33 point hints; at most 32 on one photo"),
        ("[" + " " * 4000 + "]", "4,002 characters long; the limit is 3,200"),
        (["#ff0000"], "must be a JSON string, got list"),
    ],
    ids=["not-json", "not-a-list", "two-values", "string-y", "bool-x", "nan", "short-hex",
         "unknown-name", "rgb-out-of-range", "too-many", "too-long", "not-a-string"],
)  # fmt: skip
def test_bad_hints_get_one_line_and_nothing_is_written(recording, gray_photo, hints, expected):
    with pytest.raises(gr.Error) as err:
        recording.colorize(payload(gray_photo), "a red car", hints)
    message = err.value.message
    assert message.startswith(("Point hint", "The point hints", "33 point"))
    assert expected in message and "\n" not in message
    assert recording.colorizer.hints == []  # refused before the model ran
    assert recording.files.sessions() == {} and not list(recording.files.root.rglob("*.png"))


def test_a_hint_outside_the_photo_and_a_model_without_hints_are_one_line(app, gray_photo):
    """The real pipeline's checks, through the page: the point against the photo's size, then the
    model (the tiny preset is a plain U-Net: it takes no point hints)."""
    with pytest.raises(gr.Error) as err:
        app.colorize(payload(gray_photo), "a red car", '[[90, 10, "#ff0000"]]')
    assert err.value.message == "hint (90, 10) is outside the image (90 x 70)"
    with pytest.raises(gr.Error) as err:
        app.colorize(payload(gray_photo), "a red car", '[[89, 69, "#ff0000"]]')
    assert err.value.message.startswith("this model takes no point hints")
    assert app.files.sessions() == {} and not list(app.files.root.rglob("*.png"))


def points_image(points_html: str) -> Image.Image:
    """The preview the points are drawn on, from the points' HTML (an inline WebP)."""
    (data,) = re.findall(r'src="data:image/webp;base64,([^"]+)"', points_html)
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def test_clicks_place_points_drawn_on_the_photo_and_undo_takes_the_last_back(app, tmp_path):
    big = tmp_path / "wide.png"
    Image.new("L", (1280, 640), 128).save(big)  # mid-gray: a preview of 640 x 320
    hints, shown = app.add_point(payload(big), "[]", 100, 600, "#FF0000", session="a")
    assert json.loads(hints) == [[100, 600, "#ff0000"]]
    hints, shown = app.add_point(payload(big), hints, 1279, 0, "#0000ff", session="a")
    assert json.loads(hints) == [[100, 600, "#ff0000"], [1279, 0, "#0000ff"]]
    assert shown.count('<li class="tic-point"') == 2 and "2 points" in shown
    assert 'data-x="1279" data-y="0" data-color="#0000ff"' in shown
    preview = np.asarray(points_image(shown), dtype=int)
    assert preview.shape == (320, 640, 3)
    # each point is a disc of its colour at its place (the photo's pixel / 2), ringed in white
    assert np.abs(preview[300, 50] - (255, 0, 0)).max() < 40
    assert np.abs(preview[0, 639] - (0, 0, 255)).max() < 60
    assert np.abs(preview[300, 64] - 255).max() < 40  # the white ring (radius 13-15 here)
    assert np.abs(preview[160, 320] - preview[160, 320].mean()).max() <= 2  # the rest: gray

    hints, shown = app.undo_point(payload(big), hints, session="a")
    assert json.loads(hints) == [[100, 600, "#ff0000"]] and shown.count('class="tic-point"') == 1
    hints, shown = app.undo_point(payload(big), hints, session="a")
    assert hints == "[]" and shown == web._NO_POINTS and "No points" in shown
    assert app.undo_point(payload(big), hints, session="a")[0] == "[]"


def test_a_click_past_the_limit_warns_and_a_bad_colour_is_refused(app, gray_photo):
    full = web.hints_json([(1, 1, "#ff0000")] * web.MAX_HINTS)
    with pytest.warns(UserWarning, match="At most 32 points"):
        hints, shown = app.add_point(payload(gray_photo), full, 5, 5, "#00ff00")
    assert hints == full and shown.count('class="tic-point"') == 32
    with pytest.raises(gr.Error, match="The point colour: unknown colour 'rgba"):
        app.add_point(payload(gray_photo), "[]", 5, 5, "rgba(1, 2, 3, 1)")


def test_the_points_preview_is_read_once_per_session_and_dropped_when_it_ends(app, gray_photo):
    app.add_point(payload(gray_photo), "[]", 5, 5, "#ff0000", session="a")
    app.add_point(payload(gray_photo), "[]", 5, 5, "#ff0000", session="b")
    assert set(app._grays) == {("a", str(gray_photo)), ("b", str(gray_photo))}
    app.end("a")
    assert set(app._grays) == {("b", str(gray_photo))}


def test_recolor_gives_one_full_resolution_version_per_text(app, gray_photo):
    texts = "a red bird\n\n  a blue bird  \na green bird over yellow grass\n"
    gallery, zip_path, note = app.recolor(payload(gray_photo), texts)
    assert [caption for _, caption in gallery] == [
        "a red bird", "a blue bird", "a green bird over yellow grass",
    ]  # fmt: skip
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        images = [Image.open(io.BytesIO(z.read(n))) for n in names]
    assert names == ["street-1-a-red-bird.png", "street-2-a-blue-bird.png",
                     "street-3-a-green-bird-over-yellow-grass.png"]  # fmt: skip
    assert all(im.size == (90, 70) for im in images)
    assert not np.array_equal(np.asarray(images[0]), np.asarray(images[1]))  # the text matters
    previews = [Path(preview) for preview, _ in gallery]
    assert [p.name for p in previews] == [n.replace(".png", ".webp") for n in names]
    assert all(
        p.parent == Path(zip_path).parent and Image.open(p).size == (90, 70) for p in previews
    )
    assert note.count("tic-note") == 3


@pytest.mark.parametrize(
    "texts, expected",
    [("", "one text per line"), ("\n".join(["red"] * 9), "9 texts: at most 8"),
     ("red\n" + "y" * 2000, "Text 2 is 2,000 characters")],
)  # fmt: skip
def test_recolor_bad_texts(app, gray_photo, texts, expected):
    with pytest.raises(gr.Error, match=expected):
        app.recolor(payload(gray_photo), texts)


def test_batch_reports_a_bad_file_and_does_the_others(app, gray_photo, tmp_path):
    other = tmp_path / "other.jpg"
    Image.open(gray_photo).resize((64, 48)).save(other)
    bad = tmp_path / "bad.png"
    bad.write_text("no")
    photos = [payload(gray_photo), payload(bad), payload(other), payload(gray_photo)]
    with pytest.warns(UserWarning, match="1 of 4 photo"):
        gallery, zip_path, note = app.batch(photos, "a yellow flower")
    assert [name for _, name in gallery] == ["street.png", "other.jpg", "street.png"]
    previews = [Path(preview) for preview, _ in gallery]
    assert [p.name for p in previews] == ["street.webp", "other.webp", "street-2.webp"]
    assert {p.parent for p in previews} == {Path(zip_path).parent}
    with zipfile.ZipFile(zip_path) as z:
        assert z.namelist() == ["street.png", "other.png", "street-2.png"]
        assert Image.open(io.BytesIO(z.read("other.png"))).size == (64, 48)
    assert "bad.png: not an image file" in note and "3 of 4 photo(s) done" in note


def test_batch_with_only_bad_files_is_an_error_and_leaves_no_zip(app, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("no")
    with pytest.raises(gr.Error, match="1 of 1 photo.*bad.png: not an image"):
        app.batch([payload(bad)], "red")
    assert not list(app.files.root.rglob("*.zip")) and app.files.sessions() == {}
    with pytest.raises(gr.Error, match="Drop one or more photos"):
        app.batch([], "red")


def test_sweep_deletes_old_files_and_emptied_folders_but_not_kept_ones(tmp_path):
    old, new, kept = (tmp_path / "a" / "old.png", tmp_path / "b" / "new.png", tmp_path / "c.jpg")
    for p in (old, new, kept):
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
    fresh = tmp_path / "d"  # an empty folder just made: a file may be on its way into it
    fresh.mkdir()
    for p in (old, kept, old.parent):
        os.utime(p, (time.time() - 100, time.time() - 100))
    assert web.sweep(tmp_path, 50, keep={str(kept)}) == [str(old)]
    assert not old.parent.exists() and new.exists() and kept.exists() and fresh.exists()


def test_session_files_end_with_their_session_or_their_time(tmp_path):
    files = web.SessionFiles(tmp_path / "cache", keep_s=0.5)
    a1, a2, b = files.new("a"), files.new("a"), files.new("b")
    for folder in (a1, a2, b):
        (folder / "result.png").write_bytes(b"x")
    tracked = {str(a1 / "result.png"), str(b / "result.png"), "/elsewhere/x.png"}
    files.track([tracked])
    assert files.sessions() == {"a": [a1, a2], "b": [b]}
    assert files.end("a") == 2  # the page of session a was closed
    assert not a1.exists() and not a2.exists() and b.exists()
    assert tracked == {str(b / "result.png"), "/elsewhere/x.png"}  # Gradio's set, kept in step
    assert files.end("no-such-session") == 0 and files.expire() == 0
    time.sleep(0.6)
    assert files.expire() == 1 and not b.exists()  # session b never ended: its time did
    assert files.sessions() == {} and tracked == {"/elsewhere/x.png"}
    assert list((tmp_path / "cache").iterdir()) == []


def test_session_files_keep_an_upload_for_its_session_only(tmp_path):
    files = web.SessionFiles(tmp_path / "cache", keep_s=900)
    upload = tmp_path / "cache" / "h1" / "street.png"  # as Gradio stores an upload
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"photo")
    files.keep("a", upload, move=False)  # another queued request names it: a copy
    kept = files.upload("a", upload)
    assert upload.exists() and kept.read_bytes() == b"photo" and kept.name == "street.png"
    assert kept.parent in files.sessions()["a"]
    assert files.upload("b", upload) is None and files.upload(None, upload) is None
    files.keep("a", upload, move=True)  # a has it already: only the upload goes
    assert not upload.exists() and files.upload("a", upload) == kept
    upload.write_bytes(b"photo")  # session b uploads the same photo: Gradio's same path
    files.keep("b", upload, move=True)
    assert not upload.exists() and files.upload("b", upload).parent in files.sessions()["b"]
    assert files.end("a") == 1 and not kept.exists() and files.upload("a", upload) is None
    assert files.upload("b", upload).read_bytes() == b"photo"


def test_requests_naming_an_upload_are_counted_in_gradios_queue():
    from types import SimpleNamespace as NS

    def event(*inputs):
        return NS(data=NS(data=list(inputs)))

    queue = NS(event_ids_to_events={
        "1": event(payload(Path("/c/h1/a.png")), "red"),  # /colorize
        "2": event([payload(Path("/c/h2/b.png")), payload(Path("/c/h1/a.png"))], "red"),  # /batch
        "3": event(payload(Path("/c/h2/b.png")), "a\nb"),
        "4": NS(data=None),  # joined, its data not there yet
    })  # fmt: skip
    demo = NS(_queue=queue)
    assert web._requests_naming(demo, "/c/h1/a.png") == 2
    assert web._requests_naming(demo, "/c/h2/b.png") == 2
    assert web._requests_naming(demo, "/c/h3/c.png") == 0


def test_examples_are_the_repository_photos_with_their_texts():
    examples = web.find_examples(EXAMPLES)
    assert len(examples) == 6
    assert (str(EXAMPLES / "owl.jpg"), "a brown owl on a gray branch") in examples
    assert web.find_examples(None) == [] and web.find_examples(ROOT / "no-such") == []


def test_cli_defaults_match_the_module():
    args = build_parser().parse_args(["web"])
    assert (args.host, args.port, args.device) == ("127.0.0.1", 7860, "auto")
    assert args.max_pixels == web.DEFAULT_MAX_PIXELS and args.keep_files == web.DEFAULT_KEEP_FILES


# --- the page's functions over HTTP, served in this process -----------------------------------


class SlowColorizer:
    """The tiny model, taking at least ``seconds`` per photo: requests overlap in the queue.
    Records the hints each call was given (None: called without any)."""

    def __init__(self, colorizer: Colorizer, seconds: float):
        self.colorizer, self.seconds, self.hints = colorizer, seconds, []

    def __call__(self, image, text, **kwargs):
        self.hints.append(kwargs.pop("hints", None))
        assert not kwargs
        time.sleep(self.seconds)
        return self.colorizer(image, text)


def wait_for(condition, seconds: float = 20) -> bool:
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.2)
    return condition()


@pytest.fixture
def live_app(colorizer, tmp_path, monkeypatch):
    """``build_app`` (with one example photo) served on a free port of 127.0.0.1 in this process,
    with its own Gradio cache folder; yields (url, cache folder, SessionFiles, SlowColorizer)."""
    pytest.importorskip("gradio_client")
    cache = (tmp_path / "gradio-cache").resolve()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "1")  # a closed client is noticed within 1 s
    files = web.SessionFiles(cache, 900)
    model = SlowColorizer(colorizer, 0.3)
    demo = web.build_app(model, examples=[(str(EXAMPLES / "owl.jpg"), "a brown owl")], files=files)
    demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
        show_error=False, ssr_mode=False,
    )  # fmt: skip
    try:
        yield demo.local_url, cache, files, model
    finally:
        demo.close()


def session_files(files: web.SessionFiles, client) -> list[Path]:
    """The files in the folders of ``client``'s session."""
    return [p for f in files.sessions().get(client.session_hash, []) for p in files_under(f)]


def test_after_a_request_only_its_results_and_uploads_are_left_and_closing_the_page_deletes_them(
    live_app, gray_photo, tmp_path
):
    from gradio_client import Client, handle_file

    url, cache, files, _ = live_app
    example = files_under(cache)  # Gradio's copy of the example photo: it stays
    assert [p.name for p in example] == ["owl.jpg"]
    client = Client(url, download_files=str(tmp_path / "downloads"), verbose=False)
    client.predict(handle_file(gray_photo), "a red car", api_name="/colorize")
    client.predict(handle_file(gray_photo), "red\nblue", api_name="/recolor")
    client.predict([handle_file(gray_photo)], "red", api_name="/batch")
    # the example's bytes, uploaded: Gradio names this upload as it named its copy of the example
    client.predict(handle_file(EXAMPLES / "owl.jpg"), "a brown owl", api_name="/colorize")
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    with pytest.raises(Exception, match="notes.jpg: not an image file"):
        client.predict(handle_file(bad), "red", api_name="/colorize")

    # the results the page shows and downloads, one folder per request that succeeded, and the
    # uploads (street.png, notes.jpg: once each, though sent 3 times and once) in folders of the
    # session: nothing is left in Gradio's upload folders
    results = [p for p in files_under(cache) if p not in example]
    assert sorted(p.name for p in results) == sorted([
        "street-colorized.png", "street-colorized.webp", "street-gray.webp",
        "street-recolored.zip", "street-1-red.webp", "street-2-blue.webp",
        "tic-colorized.zip", "street.webp",
        "owl-colorized.png", "owl-colorized.webp", "owl-gray.webp",
        "street.png", "notes.jpg",
    ])  # fmt: skip
    assert sorted(results) == sorted(session_files(files, client))
    assert len({p.parent for p in results}) == 6
    assert all(p.exists() for p in example)

    client.close()  # the session ends: its results and uploads go, the example stays
    assert wait_for(lambda: files_under(cache) == example), files_under(cache)
    assert [p for p in cache.rglob("*") if p.is_dir()] == [example[0].parent]
    assert files.sessions() == {}


def test_pressing_the_button_again_colorizes_the_same_upload_for_its_session_only(
    live_app, gray_photo, tmp_path, monkeypatch
):
    """The page uploads a photo once and sends the path Gradio gave it with every click.
    (gradio_client uploads a file again for every call: here the photo is uploaded by hand, and
    the clients send its payload as it is.)"""
    import httpx
    from gradio_client import Client
    from gradio_client.client import Endpoint

    monkeypatch.setattr(Endpoint, "_upload_file", lambda self, f, data_index: f)
    url, cache, files, _ = live_app
    example = files_under(cache)
    a, b = (Client(url, download_files=str(tmp_path / n), verbose=False) for n in "ab")
    with gray_photo.open("rb") as f:
        (path,) = httpx.post(a.upload_url, files={"files": (gray_photo.name, f)}).json()
    photo = payload(Path(path))
    for text in ("a red car", "a blue car"):  # the second text: the button pressed again
        (_, _), png, _ = a.predict(photo, text, api_name="/colorize")
        assert Image.open(png).size == (90, 70)
    # the upload left Gradio's upload folder: one copy is left, in a folder of session a
    assert not Path(path).exists()
    kept = [p for p in files_under(cache) if p.name == "street.png"]
    assert len(kept) == 1 and kept[0] in session_files(files, a)
    gallery, _, _ = a.predict(photo, "red\nblue", api_name="/recolor")
    assert len(gallery) == 2

    # another session sending the same path does not get session a's copy
    with pytest.raises(Exception, match="street.png: the upload is no longer on the server"):
        b.predict(photo, "a red car", api_name="/colorize")
    assert b.session_hash not in files.sessions()

    a.close()  # session a ends: its results and its upload go
    assert wait_for(lambda: files_under(cache) == example), files_under(cache)
    assert files.sessions() == {} and files.upload(a.session_hash, path) is None
    b.close()


def test_the_api_takes_hints_as_a_json_string(live_app, gray_photo, tmp_path):
    from gradio_client import Client, handle_file

    url, _, _, model = live_app
    client = Client(url, download_files=str(tmp_path / "downloads"), verbose=False)
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(api) == {"/colorize", "/recolor", "/batch"}  # the point tools are the page's
    parameters = api["/colorize"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == ["photo", "text", "hints"]
    assert parameters[2]["parameter_has_default"] and parameters[2]["parameter_default"] == "[]"

    (_, _), png, note = client.predict(
        handle_file(gray_photo), "a red car", '[[10, 20, "#ff0000"], [0.5, 69, "blue"]]',
        api_name="/colorize",
    )  # fmt: skip
    assert Image.open(png).size == (90, 70) and "2 point hints" in note
    client.predict(handle_file(gray_photo), "a red car", api_name="/colorize")  # none given
    assert model.hints == [[(10, 20, "#ff0000"), (0.5, 69, "blue")], None]
    with pytest.raises(Exception, match="Point hint 1: unknown colour 'blurple'"):
        client.predict(handle_file(gray_photo), "red", '[[1, 2, "blurple"]]', api_name="/colorize")
    assert len(model.hints) == 2
    client.close()


def test_two_clients_sending_the_same_photo_at_once_both_get_answers(
    live_app, gray_photo, tmp_path
):
    """Gradio names an upload by its content: both clients' requests name the same file, and the
    first one done must not delete it from under the other."""
    from gradio_client import Client, handle_file

    url, cache, files, _ = live_app
    example = files_under(cache)
    clients = [Client(url, download_files=str(tmp_path / f"c{i}"), verbose=False) for i in range(3)]
    jobs = [
        c.submit(handle_file(gray_photo), text, api_name="/colorize")
        for c in clients
        for text in ("a red car", "a blue car")
    ]
    for job in jobs:
        (_, _), png, _ = job.result(timeout=120)
        assert Image.open(png).size == (90, 70)
    # each session keeps its own copy; none is left in Gradio's upload folder
    kept = [p for p in files_under(cache) if p.name == "street.png"]
    assert len(kept) == 3
    assert all(len([p for p in session_files(files, c) if p.name == "street.png"]) == 1
               for c in clients)  # fmt: skip
    for c in clients:
        c.close()
    assert wait_for(lambda: files_under(cache) == example), files_under(cache)


# --- one real server, over HTTP ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    args: list[str],
    tmpdir: Path,
    port: int,
    log: Path,
    launcher: tuple[str, ...] = ("-m", "tic.cli"),
    env: dict[str, str] | None = None,
):
    """``tic web`` in its own process with TMPDIR at ``tmpdir``; returns once it answers.
    ``launcher``: how Python starts the ``tic`` command; ``env``: more environment variables."""
    import urllib.request

    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1", **(env or {})}
    env.pop("GRADIO_TEMP_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, *launcher, "web", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tic web exited with {proc.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError(f"tic web did not answer in 120 s:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    return proc.returncode


def files_under(folder: Path) -> list[Path]:
    """The files under ``folder``, looked at again when the server deletes a folder meanwhile."""
    for _ in range(10):
        try:
            return sorted(p for p in folder.rglob("*") if p.is_file())
        except FileNotFoundError:
            time.sleep(0.05)
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    pytest.importorskip("gradio_client")
    tmpdir = tmp_path_factory.mktemp("server-tmp")
    port = free_port()
    log = tmp_path_factory.mktemp("server-log") / "tic-web.log"
    keep = 600  # the results must go when the client closes, long before this
    proc = start_server(
        ["--model", str(tiny_model_dir), "--keep-files", str(keep)], tmpdir, port, log,
        env={"GRADIO_HEARTBEAT_INTERVAL": "1"},  # a closed client is noticed within 1 s
    )  # fmt: skip
    yield {
        "proc": proc,
        "url": f"http://127.0.0.1:{port}/",
        "tmpdir": tmpdir,
        "log": log,
        "keep": keep,
    }
    stop_server(proc)


def test_server_answers_the_api_and_leaves_nothing_behind(server, gray_photo, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(server["url"], download_files=str(tmp_path / "downloads"), verbose=False)
    (gray, colour), png, note = client.predict(
        handle_file(gray_photo), "a red car under a blue sky", api_name="/colorize"
    )
    out = Image.open(png)
    assert (
        out.size == (90, 70)
        and np.abs(lightness(out) - lightness(Image.open(gray_photo))).max() < 0.8
    )
    assert Image.open(colour).size == (90, 70) and "red" in note
    # the result lives in the server's private folder under TMPDIR, nowhere else; so does the
    # upload, kept for the session
    tmpdir = server["tmpdir"]
    (cache,) = [p for p in tmpdir.iterdir()]
    assert cache.name.startswith("tic-web-")
    examples = {p.name for p in EXAMPLES.glob("*.jpg")}
    made = {p.name for p in files_under(cache)} - examples
    assert made == {"street-colorized.png", "street-colorized.webp", "street-gray.webp",
                    "street.png"}  # fmt: skip
    gallery, zip_path, _ = client.predict(handle_file(gray_photo), "red\nblue", api_name="/recolor")
    assert len(gallery) == 2 and len(zipfile.ZipFile(zip_path).namelist()) == 2
    gallery, zip_path, _ = client.predict([handle_file(gray_photo)], "red", api_name="/batch")
    assert len(gallery) == 1

    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    with pytest.raises(Exception, match="notes.jpg: not an image file Pillow can read"):
        client.predict(handle_file(bad), "red", api_name="/colorize")
    with pytest.raises(Exception, match="10,000 characters long"):
        client.predict(handle_file(gray_photo), "x" * 10_000, api_name="/colorize")

    # after the requests: their results and one copy of each upload; when the client closes,
    # they go too
    made = [p for p in files_under(cache) if p.name not in examples]
    assert len(made) == 10
    assert [p.name for p in made].count("street.png") == 1 and "notes.jpg" in {p.name for p in made}
    client.close()
    assert wait_for(lambda: [p for p in files_under(cache) if p.name not in examples] == [])
    # the example photos stay while the server runs; the whole folder goes when it stops
    assert {p.name for p in files_under(cache)} == examples
    assert stop_server(server["proc"]) == 0, server["log"].read_text()
    assert list(tmpdir.iterdir()) == []
    assert "Traceback" not in server["log"].read_text()
