"""``tic web``: a browser app (Gradio) for colorizing with words, and the same functions over HTTP.

Three tools, each also an API endpoint (``gradio_client``: ``api_name="/colorize"`` etc.):

- ``/colorize`` (photo, text) -> (gray input, result) for a before/after slider, the result as a
  full-resolution PNG, and a note: the colours the text names, words the model does not know.
- ``/recolor`` (photo, texts one per line) -> the same photo under each text: a gallery and a zip.
- ``/batch`` (photos, text) -> every photo under one text: a gallery and a zip; a bad file is
  reported and the others are still done, as in ``tic colorize``.

Bad input (not an image, a truncated file, a decompression bomb above the pixel limit, a text over
``MAX_TEXT_CHARS``) raises ``gr.Error`` with one line naming the file and the problem, which the page
shows; nothing reaches the user as a traceback. The page is self-contained: no fonts, scripts or
telemetry are fetched from outside (the default theme's fonts ship with Gradio; analytics are off).

Files: Gradio keeps uploads and results in its cache folder (``GRADIO_TEMP_DIR``). ``serve`` gives
each server a private cache folder, deletes every file in it ``keep_files`` seconds after it was
written (results stay downloadable that long), and removes the folder on exit. Results are written
straight into that folder, so no copy of them is left anywhere else.
"""

from __future__ import annotations

import ctypes
import functools
import html
import importlib.util
import io
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from tic import color
from tic.color_names import colors_in_text, term_rgb
from tic.errors import TicError
from tic.imageio import IMAGE_SUFFIXES, open_image

if TYPE_CHECKING:
    from gradio import Blocks

# Gradio is imported only when the page is built (``gradio()``): it reads GRADIO_TEMP_DIR when it
# is first imported, and ``serve`` points that at the server's private folder first.

log = logging.getLogger("tic")

# A web server is shared, so its default pixel limit is lower than the CLI's: a 50 MP photo needs
# about 4 GB of working memory here (12 MP: 0.9 GB), and a few-KB "decompression bomb" can claim more.
DEFAULT_MAX_PIXELS = 50_000_000
MAX_UPLOAD = "200mb"  # Gradio refuses larger uploads before they reach tic
MAX_TEXT_CHARS = 1000  # a colour description is a sentence or two; MiniLM reads 256 tokens at most
MAX_TEXTS = 8  # texts per recolouring: each is a full-resolution pass
MAX_PHOTOS = 32  # photos per batch
PREVIEW_SIDE = 1600  # the slider and the galleries show at most this many pixels a side
DEFAULT_KEEP_FILES = 900  # seconds a result stays downloadable before its files are deleted
MODEL_EVENTS = "tic-model"  # one concurrency group: the model runs one request at a time

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"  # in a source checkout
EXAMPLE_TEXT = "a yellow bird with black wings on a green branch"


def gradio():
    """The ``gradio`` module, or a one-line error naming the extra that installs it."""
    _check_gradio()
    import gradio

    return gradio


def _check_gradio() -> None:
    if importlib.util.find_spec("gradio") is None:
        raise TicError("tic web needs the 'web' extra: pip install 'tic-colorization[web]'")


def _error(message: str) -> Exception:
    """A message the page shows in place of a result (HTML: escape what users wrote)."""
    return gradio().Error(message, duration=None, print_exception=False)


def _warn(message: str) -> None:
    """A message the page shows beside the result."""
    gradio().Warning(message)


class WebColorizer:
    """The app's three functions around one ``Colorizer``; results go to ``out_dir``.

    Inputs are what Gradio passes with ``preprocess=False``: a file payload (a dict with ``path``
    and ``orig_name``), or a plain path. Every user error raises ``gr.Error`` with one line.
    A lock runs the model one request at a time: two would only share the same cores, and each
    holds a full-resolution photo in memory (a 12 MP one needs about 0.9 GB).
    """

    def __init__(self, colorizer, out_dir: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS):
        self.colorizer = colorizer
        self.out_dir = Path(out_dir)
        self.max_pixels = max_pixels
        self._lock = threading.Lock()

    # --- the three tools ------------------------------------------------------------------------

    def colorize(self, photo, text: str | None):
        """(photo, text) -> ((gray, result) previews, full-resolution PNG path, note HTML)."""
        with _request():
            path, name = _input(photo)
            text = _check_text(text, "the text")
            start = time.perf_counter()
            with self._lock:
                result, unknown = self._colorize(self._open(path, name), text)
                png = self._new_file(f"{_stem(name)}-colorized.png")
                _save_png(result, png)
                previews = _previews(result, PREVIEW_SIDE)
            seconds = time.perf_counter() - start
            if not text:
                _warn(_EMPTY_TEXT)
            if unknown:
                _warn(_unknown_message(unknown))
            note = _note(text, unknown) + _p(
                f"{result.width} x {result.height} px, {seconds:.1f} s"
            )
            return previews, str(png), note

    def recolor(self, photo, texts: str | None):
        """(photo, texts one per line) -> (gallery of (preview, text), zip path, note HTML)."""
        with _request():
            path, name = _input(photo)
            lines = [t.strip() for t in (texts or "").splitlines() if t.strip()]
            if not lines:
                raise _error("Type one text per line: each gives one version of the photo.")
            if len(lines) > MAX_TEXTS:
                raise _error(f"{len(lines)} texts: at most {MAX_TEXTS} at once.")
            for i, line in enumerate(lines, 1):
                _check_text(line, f"text {i}")
            gallery, notes, unknown_all = [], [], []
            with self._lock, self._zip(f"{_stem(name)}-recolored.zip") as (archive, zip_path):
                image = self._open(path, name)
                for i, line in enumerate(lines, 1):
                    result, unknown = self._colorize(image, line)
                    archive.writestr(f"{_stem(name)}-{i}-{_slug(line)}.png", _png_bytes(result))
                    gallery.append((_preview(result, PREVIEW_SIDE), line))
                    notes.append(_p(f"<b>{html.escape(line)}</b>") + _note(line, unknown))
                    unknown_all += unknown
            if unknown_all:
                _warn(_unknown_message(unknown_all))
            return gallery, str(zip_path), "".join(notes)

    def batch(self, photos, text: str | None):
        """(photos, one text) -> (gallery of (preview, file name), zip path, note HTML).

        A file that cannot be read is reported and the others are still done; only when none
        can be done is it an error.
        """
        with _request():
            items = [_input(p) for p in (photos or [])]
            if not items:
                raise _error("Drop one or more photos first.")
            if len(items) > MAX_PHOTOS:
                raise _error(f"{len(items)} photos: at most {MAX_PHOTOS} at once.")
            text = _check_text(text, "the text")
            gallery, failures, unknown, used = [], [], [], set()
            with self._lock, self._zip("tic-colorized.zip") as (archive, zip_path):
                for path, name in items:
                    try:
                        result, unknown = self._colorize(self._open(path, name), text)
                    except TicError as e:
                        failures.append(str(e))
                        continue
                    archive.writestr(_unique(f"{_stem(name)}.png", used), _png_bytes(result))
                    gallery.append((_preview(result, PREVIEW_SIDE), name))
                if not gallery:
                    raise _error(_failures_html(failures, len(items)))
            if failures:
                _warn(_failures_html(failures, len(items)))
            if not text:
                _warn(_EMPTY_TEXT)
            if unknown:
                _warn(_unknown_message(unknown))
            note = _note(text, unknown) + _p(f"{len(gallery)} of {len(items)} photo(s) done.")
            if failures:
                note += _failures_html(failures, len(items))
            return gallery, str(zip_path), note

    # --- helpers --------------------------------------------------------------------------------

    # The helpers run under ``self._lock``: the model runs one request at a time, and
    # ``open_image`` swaps Pillow's global pixel limit while it reads.

    def _open(self, path: Path, name: str) -> Image.Image:
        if not path.exists():  # deleted by age while the request waited in the queue
            raise TicError(f"{name}: the upload is no longer on the server; upload it again")
        try:
            return open_image(path, self.max_pixels)
        except TicError as e:  # name the user's file, not Gradio's cache path
            raise TicError(str(e).replace(str(path), name)) from None

    def _colorize(self, image: Image.Image, text: str) -> tuple[Image.Image, list[str]]:
        """One colorization; also returns the words the text encoder did not know."""
        with _unknown_words() as unknown:
            try:
                result = self.colorizer(image, text)
            except RuntimeError as e:  # out of memory and the like: a message, not a traceback
                raise TicError(f"colorization failed ({str(e).splitlines()[0]})") from None
        return result, unknown

    def _new_file(self, name: str) -> Path:
        """A fresh path in the cache folder, so Gradio serves the file without copying it."""
        folder = self.out_dir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder / name

    @contextmanager
    def _zip(self, name: str) -> Iterator[tuple[zipfile.ZipFile, Path]]:
        path = self._new_file(name)
        try:
            # PNGs are compressed already: stored, not deflated again
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
                yield archive, path
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise


# --- memory -----------------------------------------------------------------------------------
# A server that colorizes 12 MP photos one after another in Gradio's worker threads grew with every
# request under glibc's defaults (one malloc arena per thread, freed blocks kept): 2.3 GB after 10
# mixed requests, 3.6 GB after 40 (benchmarks/web_load.py's photos, in one process). With two arenas
# and the freed memory handed back after each request it stayed at 0.44-0.46 GB, at the same speed.
# (A fixed 1 MB mmap threshold also kept it flat but took twice as long.)

_M_ARENA_MAX = -8  # mallopt parameter numbers, from glibc's malloc.h


@functools.cache
def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): its own allocator's behaviour applies
        return None


def limit_malloc_arenas(n: int = 2) -> None:
    """At most ``n`` glibc malloc arenas; call before the worker threads start."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, n)


def _malloc_trim() -> None:
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


# --- inputs -----------------------------------------------------------------------------------


def _input(photo) -> tuple[Path, str]:
    """A Gradio file payload or a path -> (path on disk, the name the user knows it by)."""
    if photo is None:
        raise _error("Drop a photo first.")
    if isinstance(photo, dict):
        path = photo.get("path")
        if not path:
            raise _error("The photo did not arrive (no file path); upload it again.")
        return Path(path), Path(photo.get("orig_name") or path).name
    if isinstance(photo, (str, Path)):
        return Path(photo), Path(photo).name
    raise _error(f"Expected a photo file, got {type(photo).__name__}.")


def _check_text(text, what: str) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise _error(f"{what} must be a string, got {type(text).__name__}.")
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise _error(
            f"{what.capitalize()} is {len(text):,} characters long; the limit is "
            f"{MAX_TEXT_CHARS:,}. Describe the colours in a sentence or two."
        )
    return text


@contextmanager
def _request() -> Iterator[None]:
    """Around each request: TicError -> gr.Error (one line, escaped: it is shown as HTML);
    anything unexpected is logged with its traceback on the server and shown as one line in the
    page; afterwards the memory the request freed goes back to the system."""
    try:
        yield
    except gradio().Error:
        raise
    except TicError as e:
        raise _error(html.escape(str(e))) from None
    except Exception as e:
        log.exception("tic web: unexpected error")
        line = (str(e).splitlines() or [type(e).__name__])[0]
        raise _error(
            html.escape(f"Internal error ({type(e).__name__}: {line}); see the server log.")
        ) from None
    finally:
        _malloc_trim()


@contextmanager
def _unknown_words() -> Iterator[list[str]]:
    """Collect the words the text encoder reports as unknown (the ``tic`` logger's warnings) in
    this thread. Word2vec models report them; MiniLM reads any word."""
    words: list[str] = []
    thread = threading.get_ident()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread and "unknown word" in record.getMessage():
                words.extend(str(record.args[-1]).split(", ") if record.args else [])

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("tic")
    logger.addHandler(handler)
    try:
        yield words
    finally:
        logger.removeHandler(handler)


# --- outputs ----------------------------------------------------------------------------------


def _save_png(image: Image.Image, path: Path) -> None:
    try:
        image.save(path, format="PNG", compress_level=1)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _png_bytes(image: Image.Image) -> bytes:
    with io.BytesIO() as buf:
        image.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()


def _preview(image: Image.Image, side: int) -> Image.Image:
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


def _previews(result: Image.Image, side: int) -> tuple[Image.Image, Image.Image]:
    """(gray, colour) previews of one size: the gray one is the result's own L* with a = b = 0,
    which is the input's L* (the model never changes lightness)."""
    small = _preview(result, side)
    rgb = torch.from_numpy(np.array(small.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    lab = color.rgb_to_lab(rgb)  # (1, 3, h, w)
    lab[:, 1:] = 0
    gray = (color.lab_to_rgb(lab)[0, 0] * 255).round().to(torch.uint8).numpy()
    gray_image = Image.fromarray(gray, mode="L")
    if small.mode == "RGBA":
        gray_image = gray_image.convert("RGBA")
        gray_image.putalpha(small.getchannel("A"))
    return gray_image, small


_EMPTY_TEXT = (
    "The text is empty, so the colours are the model's own guess. "
    "Describe them for control, e.g. 'a red car under a blue sky'."
)


def _unknown_message(words: list[str]) -> str:
    return html.escape("Words the model does not know (ignored): " + ", ".join(sorted(set(words))))


def _note(text: str, unknown: list[str]) -> str:
    """HTML: the colours the text names as swatches, and the unknown words."""
    terms = list(dict.fromkeys(colors_in_text(text)))
    if terms:
        swatches = " ".join(_swatch(t) for t in terms)
        out = _p(f"Colours named in the text: {swatches}")
    elif text:
        out = _p("The text names no colour: the model chooses them.")
    else:
        out = _p(html.escape(_EMPTY_TEXT))
    if unknown:
        out += _p(f"<b>{_unknown_message(unknown)}</b>")
    return f'<div class="tic-note">{out}</div>'


def _swatch(term: str) -> str:
    r, g, b = (round(255 * v) for v in term_rgb(term))
    return (
        f'<span class="tic-swatch" data-color="{term}" style="display:inline-block;width:1em;'
        f"height:1em;border:1px solid #888;vertical-align:middle;background:rgb({r},{g},{b})"
        f'"></span>&nbsp;{term}'
    )


def _duration(seconds: int) -> str:
    if seconds % 60 == 0:
        return f"{seconds // 60} minute{'s' if seconds != 60 else ''}"
    return f"{seconds} seconds"


def _p(inner: str) -> str:
    return f"<p>{inner}</p>"


def _failures_html(failures: list[str], n: int) -> str:
    items = "".join(f"<li>{html.escape(f)}</li>" for f in failures)
    return f"<p>{len(failures)} of {n} photo(s) could not be colorized:</p><ul>{items}</ul>"


def _stem(name: str) -> str:
    return _safe(Path(name).stem) or "photo"


def _slug(text: str) -> str:
    return _safe(text.lower().replace(" ", "-"))[:40] or "text"


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._")[:80]


def _unique(name: str, used: set[str]) -> str:
    stem, suffix, n, out = Path(name).stem, Path(name).suffix, 2, name
    while out in used:
        out, n = f"{stem}-{n}{suffix}", n + 1
    used.add(out)
    return out


# --- the page ---------------------------------------------------------------------------------


def find_examples(folder: Path | None) -> list[tuple[str, str]]:
    """(photo, text) pairs of a folder of photos with sidecar ``.txt`` texts, sorted by name."""
    if folder is None or not folder.is_dir():
        return []
    pairs = []
    for photo in sorted(folder.iterdir()):
        if photo.suffix.lower() in IMAGE_SUFFIXES:
            sidecar = photo.with_suffix(".txt")
            text = sidecar.read_text(encoding="utf-8").strip() if sidecar.is_file() else ""
            pairs.append((str(photo), text))
    return pairs


def build_app(
    colorizer,
    *,
    examples: list[tuple[str, str]] = (),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    keep_files: int = DEFAULT_KEEP_FILES,
    model_name: str = "the shipped model",
) -> Blocks:
    """The Gradio page around ``colorizer``. Results are written into Gradio's cache folder
    (``GRADIO_TEMP_DIR`` when the app is built), whose files Gradio deletes ``keep_files``
    seconds after they were written."""
    gr = gradio()
    from gradio.utils import get_upload_folder

    web = WebColorizer(colorizer, get_upload_folder(), max_pixels)
    period = max(1, min(60, keep_files // 2))
    model_events = {"concurrency_id": MODEL_EVENTS, "concurrency_limit": 1, "preprocess": False}
    with gr.Blocks(
        title="tic: colorize with words", analytics_enabled=False, delete_cache=(period, keep_files)
    ) as demo:
        gr.Markdown(
            "# tic: colorize with words\n"
            "Drop a photo (gray or colour: a colour photo is turned to gray first), describe its "
            "colours, and press Colorize. The result keeps the photo's full resolution and "
            f"lightness. Model: {html.escape(model_name)}. "
            f"Uploads and results are deleted from the server {_duration(keep_files)} after "
            "they are made."
        )
        with gr.Tab("Colorize", id="colorize"):
            with gr.Row():
                with gr.Column():
                    photo = gr.Image(
                        type="filepath", image_mode=None, sources=["upload", "clipboard"],
                        label="Photo", elem_id="photo",
                    )  # fmt: skip
                    text = gr.Textbox(
                        label="Text: the colours", lines=2, elem_id="text",
                        placeholder=EXAMPLE_TEXT,
                    )  # fmt: skip
                    go = gr.Button("Colorize", variant="primary", elem_id="colorize")
                with gr.Column():
                    slider = gr.ImageSlider(
                        label="Gray input | result (drag the handle)", type="pil",
                        format="webp", interactive=False, buttons=["fullscreen"], elem_id="slider",
                    )  # fmt: skip
                    png = gr.File(label="Result: full-resolution PNG", elem_id="png")
                    note = gr.HTML(label="Note", elem_id="note")
            go.click(
                web.colorize, [photo, text], [slider, png, note], api_name="colorize",
                **model_events,
            )  # fmt: skip
            if examples:
                shown = gr.Examples(
                    examples=[list(e) for e in examples], inputs=[photo, text],
                    label="Example photos (click one)", examples_per_page=6,
                )  # fmt: skip
                # one click fills the inputs and colorizes, through the same function and queue
                shown.load_input_event.then(
                    web.colorize, [photo, text], [slider, png, note], api_visibility="private",
                    **model_events,
                )  # fmt: skip
        with gr.Tab("Try several texts", id="recolor"):
            with gr.Row():
                with gr.Column():
                    photo2 = gr.Image(
                        type="filepath", image_mode=None, sources=["upload", "clipboard"],
                        label="Photo", elem_id="photo2",
                    )  # fmt: skip
                    texts2 = gr.Textbox(
                        label=f"Texts, one per line (at most {MAX_TEXTS})", lines=4,
                        elem_id="texts2",
                        placeholder="a red car under a blue sky\na yellow car under a gray sky",
                    )  # fmt: skip
                    go2 = gr.Button("Colorize with each text", variant="primary", elem_id="go2")
                with gr.Column():
                    gallery2 = gr.Gallery(label="One version per text", columns=2, format="webp")
                    zip2 = gr.File(label="All versions: zip of full-resolution PNGs")
                    note2 = gr.HTML(label="Note")
            go2.click(
                web.recolor, [photo2, texts2], [gallery2, zip2, note2], api_name="recolor",
                **model_events,
            )  # fmt: skip
        with gr.Tab("Several photos", id="batch"):
            with gr.Row():
                with gr.Column():
                    photos3 = gr.File(
                        file_count="multiple", label=f"Photos (at most {MAX_PHOTOS})",
                        elem_id="photos3",
                    )  # fmt: skip
                    text3 = gr.Textbox(label="Text for every photo", lines=2, elem_id="text3")
                    go3 = gr.Button("Colorize all", variant="primary", elem_id="go3")
                with gr.Column():
                    gallery3 = gr.Gallery(label="Results", columns=3, format="webp")
                    zip3 = gr.File(label="All results: zip of full-resolution PNGs")
                    note3 = gr.HTML(label="Note")
            go3.click(
                web.batch, [photos3, text3], [gallery3, zip3, note3], api_name="batch",
                **model_events,
            )  # fmt: skip
    demo.queue(max_size=64, default_concurrency_limit=1)
    return demo


# --- the server -------------------------------------------------------------------------------


def sweep(folder: Path, older_than: float, keep: set[str] = frozenset()) -> int:
    """Delete the files under ``folder`` last written more than ``older_than`` seconds ago, but
    those in ``keep`` (the example photos). Returns how many files were deleted.

    Gradio deletes the files it tracks; this also catches what it does not track (an upload cut
    off by a client that went away).
    """
    now, n = time.time(), 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and str(path) not in keep and now - path.stat().st_mtime > older_than:
                path.unlink()
                n += 1
        except FileNotFoundError:  # deleted by Gradio meanwhile
            continue
    return n


def serve(
    model: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    keep_files: int = DEFAULT_KEEP_FILES,
    examples_dir: Path | None = EXAMPLES_DIR,
) -> None:
    """Load the model, start the page on ``host:port`` and serve until Ctrl-C or SIGTERM."""
    from tic import Colorizer

    _check_gradio()
    limit_malloc_arenas()
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # no telemetry, no version check
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own startup requests
    colorizer = Colorizer.from_pretrained(model, device=device, max_pixels=max_pixels)
    examples = find_examples(examples_dir)
    if examples_dir is not None and not examples:
        log.info("no example photos in %s: the page shows none", examples_dir)

    # a private cache folder: every upload and result lives here, and it goes away on exit
    # (set before Gradio is first imported: it reads the variable then)
    cache = Path(tempfile.mkdtemp(prefix="tic-web-", dir=os.environ.get("GRADIO_TEMP_DIR")))
    cache = cache.resolve()
    os.environ["GRADIO_TEMP_DIR"] = str(cache)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        demo = build_app(
            colorizer,
            examples=examples,
            max_pixels=max_pixels,
            keep_files=keep_files,
            model_name=str(model) if model else "the shipped model",
        )
        sweeper = threading.Thread(
            target=_sweep_until, args=(demo, cache, keep_files, stop), daemon=True
        )
        sweeper.start()
        try:
            demo.launch(
                server_name=host, server_port=port, share=False, ssr_mode=False,
                max_file_size=MAX_UPLOAD, show_error=False, inbrowser=False, quiet=True,
                prevent_thread_lock=True, footer_links=["api"], run_history=False,
            )  # fmt: skip
        except OSError as e:
            raise TicError(f"cannot serve on {host}:{port} ({str(e).splitlines()[0]})") from None
        print(f"tic web: serving on http://{_url_host(host)}:{demo.server_port}/ (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("tic web: stopping")
        finally:
            demo.close()
    finally:
        stop.set()
        shutil.rmtree(cache, ignore_errors=True)


def _sweep_until(demo: Blocks, folder: Path, keep_files: int, stop: threading.Event) -> None:
    period = max(1, min(60, keep_files // 2))
    while not stop.wait(period):
        kept = set()
        for block in list(demo.blocks.values()):
            kept |= {str(Path(p).resolve()) for p in getattr(block, "keep_in_cache", ())}
        try:
            sweep(folder, keep_files + period, kept)  # after Gradio's own deletion had its turn
        except OSError as e:  # never let the sweeper die on a transient error
            log.warning("tic web: cleaning %s: %s", folder, e)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
