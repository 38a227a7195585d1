"""``tic web``: a browser app (Gradio) for colorizing with words, and the same functions over HTTP.

Three tools, each also an API endpoint (``gradio_client``: ``api_name="/colorize"`` etc.):

- ``/colorize`` (photo, text, hints) -> (gray input, result) for a before/after slider, the result
  as a full-resolution PNG, and a note: the colours the text names, words the model does not know.
  ``hints``: point hints as a JSON string ``[[x, y, "#rrggbb"], ...]`` (x, y the pixel column and
  row in the input photo; "" or "[]": none), passed to ``Colorizer`` as ``hints=[(x, y, colour)]``.
- ``/recolor`` (photo, texts one per line) -> the same photo under each text: a gallery and a zip.
- ``/batch`` (photos, text) -> every photo under one text: a gallery and a zip; a bad file is
  reported and the others are still done, as in ``tic colorize``.

In the page, a click on the photo places a point in the colour picker's colour; the points are
drawn on a gray preview of the photo and listed, "Undo last point" and "Clear points" take them
back, and Colorize sends them (a new photo starts with none). The page keeps them as that JSON
string in a hidden field, the ``hints`` the API takes.

Bad input (not an image, a truncated file, a decompression bomb above the pixel limit, a text over
``MAX_TEXT_CHARS``, a point hint that is not ``[x, y, colour]``, has an unknown colour, lies outside
the photo or is one too many) raises ``gr.Error`` with one line naming the file (or the hint) and
the problem, which the page shows; nothing reaches the user as a traceback. The page is
self-contained: no fonts, scripts or telemetry are fetched from outside (the default theme's fonts
ship with Gradio; analytics are off).

Files: Gradio keeps uploads and results in its cache folder (``GRADIO_TEMP_DIR``); ``serve`` gives
each server a private one and removes it on exit. Each request writes its results (the
full-resolution PNG or zip and the previews the page shows) into a folder of its own that belongs
to the request's browser session (``SessionFiles``): it is deleted when the session ends (the page
is closed or reloaded: Gradio's ``unload``, after its heartbeat stops) or ``keep_files`` seconds
after it was made, whichever comes first. The photos a request read leave Gradio's upload folders
when it is done: each moves into a folder of the session (copied instead while another queued
request names the same upload), where the session's later requests find it by the path Gradio gave
it (the page sends that path again when Colorize is pressed again), and it goes with the session's
results. Gradio's copies of the example photos stay; a request that fails leaves no results. A
sweeper deletes, ``keep_files`` seconds after they were written, the files still there: a kept
upload (its time runs from its upload), a file no request ever claimed (an upload cut off by a
client that went away, the upload of a request that was dropped from the queue).
"""

from __future__ import annotations

import base64
import ctypes
import functools
import html
import importlib.util
import io
import json
import logging
import math
import numbers
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from tic import color
from tic.color_names import colors_in_text, term_rgb
from tic.errors import TicError
from tic.hints import MAX_HINTS, parse_colour
from tic.imageio import IMAGE_SUFFIXES, Photo, load_image, open_image, to_photo

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
POINTS_SIDE = 640  # the preview the points are drawn on: at most this many pixels a side
POINT_COLOUR = "#e8231e"  # the colour picker's first colour
MAX_HINTS_CHARS = 100 * MAX_HINTS  # the hints' JSON: [[4000.5, 3000.5, "#rrggbb"], ...] and spaces
DEFAULT_KEEP_FILES = 900  # seconds a result stays downloadable at most (less if its page closes)
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


def _fail(message: str) -> Exception:
    """``_error`` for plain text (what the user sent, a file name): escaped for the page, quotes
    kept as they are (an API client reads the message as it is)."""
    return _error(html.escape(message, quote=False))


def _warn(message: str) -> None:
    """A message the page shows beside the result."""
    gradio().Warning(message)


class SessionFiles:
    """The folders of each browser session: its results (what its page can still show and
    download) and the photos it uploaded (what its page can send again).

    Every request writes its results into a fresh folder under ``root`` (``new``), owned by the
    request's session (Gradio's ``session_hash``; ``None`` for a call without one). ``keep`` moves
    an upload into a fresh folder of the session, and ``upload`` finds it there by the path Gradio
    gave it, for that session only: Gradio names uploads by their content, so another session that
    sends the same path (it uploaded the same photo, or guessed) does not get this copy. ``end``
    deletes a session's folders (the page was closed or reloaded); ``expire`` deletes the folders
    made more than ``keep_s`` seconds ago, for sessions that never say they ended (an API client
    that does not close, a browser that vanished). ``forget`` drops deleted paths from the sets
    given to ``track`` (Gradio's ``temp_file_sets``: the paths it remembers in order to delete them
    itself), so that neither the folder nor those sets grow with the number of requests.
    """

    def __init__(self, root: str | Path, keep_s: float):
        self.root = Path(root)
        self.keep_s = keep_s
        self._folders: dict[Path, tuple[str | None, float]] = {}  # folder -> (session, made at)
        self._uploads: dict[tuple[str, str], Path] = {}  # (session, Gradio's path) -> kept copy
        self._tracked: list[set[str]] = []
        self._lock = threading.Lock()

    def track(self, sets: list[set[str]]) -> None:
        self._tracked = sets

    def new(self, session: str | None) -> Path:
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        with self._lock:
            self._folders[folder] = (session, time.monotonic())
        return folder

    def keep(self, session: str, upload: Path, move: bool) -> None:
        """Keep ``upload`` (a file Gradio received) for the later requests of ``session``: moved
        into a folder of the session, or copied when ``move`` is false (another queued request
        names it). When the session has it already, ``upload`` is only deleted (if ``move``)."""
        if self.upload(session, upload) is not None:
            if move:
                upload.unlink()
            return
        folder = self.new(session)
        try:  # move and copy2 keep the upload's time: the sweeper counts from it
            kept = (shutil.move if move else shutil.copy2)(upload, folder / upload.name)
        except OSError:
            self.delete([folder])
            raise
        with self._lock:
            self._uploads[(session, str(upload))] = Path(kept)

    def upload(self, session: str | None, path: str | Path) -> Path | None:
        """The copy ``session`` kept of the upload Gradio named ``path``; None if it has none."""
        with self._lock:
            kept = self._uploads.get((session, str(path)))
        return kept if kept is not None and kept.exists() else None

    def sessions(self) -> dict[str | None, list[Path]]:
        """The folders kept now, by session."""
        out: dict[str | None, list[Path]] = {}
        with self._lock:
            for folder, (session, _) in self._folders.items():
                out.setdefault(session, []).append(folder)
        return out

    def end(self, session: str | None) -> int:
        """Delete the folders of ``session``; returns how many."""
        with self._lock:
            gone = [f for f, (s, _) in self._folders.items() if s == session]
        return self.delete(gone)

    def expire(self) -> int:
        """Delete the folders made more than ``keep_s`` seconds ago; returns how many."""
        now = time.monotonic()
        with self._lock:
            gone = [f for f, (_, made) in self._folders.items() if now - made > self.keep_s]
        return self.delete(gone)

    def delete(self, folders: list[Path]) -> int:
        with self._lock:
            for folder in folders:
                self._folders.pop(folder, None)
            gone = set(folders)
            self._uploads = {k: v for k, v in self._uploads.items() if v.parent not in gone}
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        self.forget([str(f) for f in folders])
        return len(folders)

    def forget(self, paths: list[str]) -> None:
        """Drop ``paths`` (files, or folders with all they held) from the tracked sets. (``list(s)``
        copies a set in one step under the GIL, while Gradio's threads may add to it.)"""
        if not paths:
            return
        exact, folders = set(paths), tuple(p + os.sep for p in paths)
        for tracked in self._tracked:
            tracked.difference_update(
                [p for p in list(tracked) if p in exact or p.startswith(folders)]
            )


class WebColorizer:
    """The app's three functions around one ``Colorizer``; results go to folders of ``files``.

    Inputs are what Gradio passes with ``preprocess=False``: a file payload (a dict with ``path``
    and ``orig_name``), or a plain path. Every user error raises ``gr.Error`` with one line.
    A lock runs the model one request at a time: two would only share the same cores, and each
    holds a full-resolution photo in memory (a 12 MP one needs about 0.9 GB).

    When a request is done, the uploads it read (the paths for which ``uploaded`` is true:
    ``build_app`` says which files Gradio received from users) go into its session's files, where
    its later requests find them by the same path; ``wanted`` says whether another queued request
    names an upload (``build_app``: Gradio's queue), which then stays where it is for that request.
    A request that fails leaves no result folder (but its uploads are kept all the same: the user
    may correct the text and press the button again).
    """

    def __init__(
        self,
        colorizer,
        files: SessionFiles,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        uploaded=lambda path: False,
        wanted=lambda path: False,
    ):
        self.colorizer = colorizer
        self.files = files
        self.max_pixels = max_pixels
        self._uploaded = uploaded  # (path str) -> a file Gradio received from a user?
        self._wanted = wanted  # (path str) -> does another queued request name it?
        self._lock = threading.Lock()  # the model: one request at a time
        self._read_lock = threading.Lock()  # open_image swaps Pillow's global pixel limit
        # the gray previews the points are drawn on, by (session, the path the page sends): a click
        # redraws without reading the photo again; a few sessions' worth, dropped when one ends
        self._grays: OrderedDict[tuple[str | None, str], tuple] = OrderedDict()
        self._grays_lock = threading.Lock()

    # --- the three tools ------------------------------------------------------------------------

    def colorize(self, photo, text: str | None, hints: str | None = None, session=None):
        """(photo, text, hints) -> ((gray, result) preview paths, full-resolution PNG path, note
        HTML). ``hints``: point hints as JSON, ``[[x, y, "#rrggbb"], ...]`` ("" or None: none)."""
        with self._request([photo], session) as folder:
            path, name = _input(photo)
            text = _check_text(text, "the text")
            points = parse_hints(hints)
            start = time.perf_counter()
            with self._lock:
                result, unknown = self._colorize(self._open(path, name, session), text, points)
                png = folder() / f"{_stem(name)}-colorized.png"
                _save_png(result, png)
                gray, colour = _previews(result, PREVIEW_SIDE)
                previews = (
                    _save_preview(gray, png.with_name(f"{_stem(name)}-gray.webp")),
                    _save_preview(colour, png.with_suffix(".webp")),
                )
            seconds = time.perf_counter() - start
            if not text and not points:
                _warn(_EMPTY_TEXT)
            if unknown:
                _warn(_unknown_message(unknown))
            note = _note(text, unknown, points) + _p(
                f"{result.width} x {result.height} px, {seconds:.1f} s"
            )
            return previews, str(png), note

    # --- the page's point tools (no model: they answer while a colorization runs) ---------------

    def add_point(self, photo, hints, x, y, colour, session=None) -> tuple[str, str]:
        """A click on the photo at pixel ``(x, y)`` with the colour picker at ``colour`` ->
        (the hints with the point added, as JSON; the points' HTML)."""
        points = parse_hints(hints)
        if len(points) >= MAX_HINTS:
            _warn(f"At most {MAX_HINTS} points on one photo: undo one to place another.")
        else:
            try:
                if not isinstance(colour, str):
                    raise TicError(f"expected '#rrggbb', got {colour!r}")
                parse_colour(colour)
            except TicError as e:
                raise _fail(f"The point colour: {e}") from None
            points.append((x, y, colour.strip().lower()))
        return hints_json(points), self.points_html(photo, points, session)

    def undo_point(self, photo, hints, session=None) -> tuple[str, str]:
        """-> (the hints without their last point, as JSON; the points' HTML)."""
        points = parse_hints(hints)[:-1]
        return hints_json(points), self.points_html(photo, points, session)

    def points_html(self, photo, points: list, session=None) -> str:
        """HTML: ``points`` drawn on a gray preview of ``photo`` (circles in their colours, a
        white and a dark ring round each so that it shows on any gray), and listed."""
        if not points:
            return _NO_POINTS
        try:
            gray, size = self._gray(photo, session)
        except TicError as e:
            raise _fail(str(e)) from None
        return _points_html(gray, size, points)

    def end(self, session: str | None) -> None:
        """The page of ``session`` was closed: its files and previews go."""
        self.files.end(session)
        with self._grays_lock:
            for key in [k for k in self._grays if k[0] == session]:
                del self._grays[key]

    def recolor(self, photo, texts: str | None, session: str | None = None):
        """(photo, texts one per line) -> (gallery of (preview path, text), zip path, note HTML)."""
        with self._request([photo], session) as folder:
            path, name = _input(photo)
            lines = [t.strip() for t in (texts or "").splitlines() if t.strip()]
            if not lines:
                raise _error("Type one text per line: each gives one version of the photo.")
            if len(lines) > MAX_TEXTS:
                raise _error(f"{len(lines)} texts: at most {MAX_TEXTS} at once.")
            for i, line in enumerate(lines, 1):
                _check_text(line, f"text {i}")
            gallery, notes, unknown_all = [], [], []
            with self._lock:
                image = self._open(path, name, session)
                zip_path = folder() / f"{_stem(name)}-recolored.zip"
                with _zip(zip_path) as archive:
                    for i, line in enumerate(lines, 1):
                        result, unknown = self._colorize(image, line)
                        stem = f"{_stem(name)}-{i}-{_slug(line)}"
                        archive.writestr(f"{stem}.png", _png_bytes(result))
                        preview = _save_preview(
                            _preview(result, PREVIEW_SIDE), zip_path.with_name(f"{stem}.webp")
                        )
                        gallery.append((preview, line))
                        notes.append(_p(f"<b>{html.escape(line)}</b>") + _note(line, unknown))
                        unknown_all += unknown
            if unknown_all:
                _warn(_unknown_message(unknown_all))
            return gallery, str(zip_path), "".join(notes)

    def batch(self, photos, text: str | None, session: str | None = None):
        """(photos, one text) -> (gallery of (preview path, file name), zip path, note HTML).

        A file that cannot be read is reported and the others are still done; only when none
        can be done is it an error.
        """
        with self._request(list(photos or []), session) as folder:
            items = [_input(p) for p in (photos or [])]
            if not items:
                raise _error("Drop one or more photos first.")
            if len(items) > MAX_PHOTOS:
                raise _error(f"{len(items)} photos: at most {MAX_PHOTOS} at once.")
            text = _check_text(text, "the text")
            gallery, failures, unknown, used = [], [], [], set()
            with self._lock:
                zip_path = folder() / "tic-colorized.zip"
                with _zip(zip_path) as archive:
                    for path, name in items:
                        try:
                            result, unknown = self._colorize(self._open(path, name, session), text)
                        except TicError as e:
                            failures.append(str(e))
                            continue
                        png_name = _unique(f"{_stem(name)}.png", used)
                        archive.writestr(png_name, _png_bytes(result))
                        preview = zip_path.with_name(Path(png_name).with_suffix(".webp").name)
                        gallery.append(
                            (_save_preview(_preview(result, PREVIEW_SIDE), preview), name)
                        )
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

    @contextmanager
    def _request(self, photos: list, session: str | None) -> Iterator:
        """Around each request. Yields ``folder()``: this request's result folder, made on first
        use. TicError -> gr.Error (one line, escaped: it is shown as HTML); anything unexpected is
        logged with its traceback on the server and shown as one line in the page. Afterwards the
        uploads it read go into the session's files (and its result folder is deleted if it
        failed), and the memory it freed goes back to the system."""
        started = time.time()
        made: list[Path] = []

        def folder() -> Path:
            if not made:
                made.append(self.files.new(session))
            return made[0]

        try:
            yield folder
        except BaseException as e:
            self.files.delete(made)
            if isinstance(e, gradio().Error) or not isinstance(e, Exception):
                raise
            if isinstance(e, TicError):
                raise _fail(str(e)) from None
            log.exception("tic web: unexpected error")
            line = (str(e).splitlines() or [type(e).__name__])[0]
            raise _fail(
                f"Internal error ({type(e).__name__}: {line}); see the server log."
            ) from None
        finally:
            self._keep_uploads(photos, session, started)
            _malloc_trim()

    def _keep_uploads(self, photos: list, session: str | None, since: float) -> None:
        """Take the uploads among ``photos`` out of Gradio's upload folders: into the files of
        ``session`` (``SessionFiles.keep``), or deleted for a call without a session (no later
        request can name it). An upload that another queued request names, or that was uploaded
        again after ``since`` (Gradio names an upload by its content, so a second client sending
        the same photo gets the same path), stays for that request; the session gets a copy."""
        paths = [p.get("path") if isinstance(p, dict) else p for p in photos]
        for path in dict.fromkeys(Path(p) for p in paths if isinstance(p, (str, Path))):
            try:
                if self._uploaded(str(path)):
                    move = not self._wanted(str(path)) and path.stat().st_ctime <= since
                    if session is not None:
                        self.files.keep(session, path, move)
                    elif move:
                        path.unlink()
                    if move:
                        path.parent.rmdir()  # Gradio's folder for this upload, named by its content
            except OSError:  # gone already, or the folder holds another file
                pass
            if not path.exists():  # Gradio remembers each path a request named
                self.files.forget([str(path)])

    def _open(self, path: Path, name: str, session: str | None, read=open_image) -> Image.Image:
        # a path the session sent before is in its files now (the page sends it again when
        # the button is pressed again)
        path = self.files.upload(session, path) or path
        if not path.exists():  # another session's, or deleted after --keep-files
            raise TicError(f"{name}: the upload is no longer on the server; upload it again")
        try:
            with self._read_lock:
                return read(path, self.max_pixels)
        except TicError as e:  # name the user's file, not Gradio's cache path
            raise TicError(str(e).replace(str(path), name)) from None

    def _gray(self, photo, session: str | None) -> tuple[Image.Image, tuple[int, int]]:
        """The gray preview of ``photo`` the points are drawn on (made on the first click), and
        the photo's own size (W, H): the points are in its pixels."""
        path, name = _input(photo)
        key = (session, str(path))
        with self._grays_lock:
            if key in self._grays:
                self._grays.move_to_end(key)
                return self._grays[key]
        try:
            # EXIF orientation applied, as the page shows the photo and Colorizer reads it
            image = self._open(path, name, session, read=load_image)
            size = image.size
            image.thumbnail((POINTS_SIDE, POINTS_SIDE))  # first: L* of 12 MP takes a second
            gray = (_gray_preview(to_photo(image, None, name=name), POINTS_SIDE), size)
            del image
        finally:
            _malloc_trim()  # the full-resolution photo is gone again
        with self._grays_lock:
            self._grays[key] = gray
            while len(self._grays) > 16:
                self._grays.popitem(last=False)
        return gray

    # Runs under ``self._lock``: the model runs one request at a time.

    def _colorize(
        self, image: Image.Image, text: str, hints: list | None = None
    ) -> tuple[Image.Image, list[str]]:
        """One colorization; also returns the words the text encoder did not know. Without
        hints the colorizer is called as before hints existed (any model takes that)."""
        with _unknown_words() as unknown:
            try:
                if hints:
                    result = self.colorizer(image, text, hints=hints)
                else:
                    result = self.colorizer(image, text)
            except RuntimeError as e:  # out of memory and the like: a message, not a traceback
                raise TicError(f"colorization failed ({str(e).splitlines()[0]})") from None
        return result, unknown


# --- memory -----------------------------------------------------------------------------------
# A server that colorizes 12 MP photos one after another in Gradio's worker threads grew with every
# request under glibc's defaults (one malloc arena per thread, freed blocks kept): 2.3 GB after 10
# mixed requests, 3.6 GB after 40 (benchmarks/web_load.py's photos, in one process). With two arenas
# and the freed memory handed back after each request it stayed at 0.44-0.46 GB, at the same speed.
# (A fixed 1 MB mmap threshold also kept it flat but took twice as long.)
# Measured again over HTTP with those settings (the code before session files; 8 clients, 120
# requests of 0.3-12 MP, a probe in the server): the Python objects (366.8k -> 366.9k) and the bytes
# malloc had handed out (167-171 MB) stayed flat, Gradio's sets of files bounded, and the peak RSS
# per 30 requests went 1143 / 1269 / 1063 / 1143 MB: it varies with which large buffers are alive
# at once and where they fit in the arenas (500-650 MB free inside them, given back by malloc_trim
# between requests), but does not grow; 400 requests peaked at 1.04-1.20 GB per 50 (README). In one
# process, a fixed 4 MB (16 MB) mmap threshold lowered the peak per 10 requests from 1.00-1.15 GB
# to 0.86-0.94 GB (0.98) but took 1.9x (1.7x) as long on the shared machine, so it is not used.

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


def parse_hints(hints) -> list[tuple]:
    """The page's and the API's point hints -> ``[(x, y, colour), ...]`` for ``Colorizer``.

    ``hints``: a JSON list ``[[x, y, "#rrggbb"], ...]``, x and y the pixel column and row in the
    input photo (numbers: a click gives ints), the colour ``"#rrggbb"`` or anything else
    ``tic.hints.parse_colour`` takes (a colour name, ``[r, g, b]`` in 0-255, made a tuple); ""
    or None: no hints. Raises ``gr.Error`` with one line naming the bad hint. Whether a point lies
    inside the photo is the colorizer's check (``tic.hints.hint_points``): it knows the photo's
    size after its EXIF orientation, which is how the page shows it.
    """
    if hints is None:
        return []
    if not isinstance(hints, str):
        raise _error(f"The point hints must be a JSON string, got {type(hints).__name__}.")
    hints = hints.strip()
    if not hints:
        return []
    if len(hints) > MAX_HINTS_CHARS:
        raise _error(
            f"The point hints are {len(hints):,} characters long; the limit is "
            f"{MAX_HINTS_CHARS:,} (at most {MAX_HINTS} points)."
        )
    try:
        data = json.loads(hints)
    except json.JSONDecodeError as e:
        raise _fail(
            f"The point hints are not valid JSON ({e.msg} at column {e.colno}); expected "
            '[[x, y, "#rrggbb"], ...].'
        ) from None
    if not isinstance(data, list):
        raise _fail(
            f'The point hints must be a JSON list [[x, y, "#rrggbb"], ...], got {_short(data)}.'
        )
    if len(data) > MAX_HINTS:
        raise _error(f"{len(data)} point hints; at most {MAX_HINTS} on one photo.")
    points = []
    for i, entry in enumerate(data, 1):
        if not isinstance(entry, list) or len(entry) != 3:
            raise _fail(f'Point hint {i}: expected [x, y, "#rrggbb"], got {_short(entry)}.')
        x, y, colour = entry
        if not all(_is_number(v) for v in (x, y)):
            raise _fail(
                f"Point hint {i} ({_short(entry)}): x and y must be numbers, the pixel column "
                "and row in the photo."
            )
        try:
            parse_colour(colour)
        except TicError as e:
            raise _fail(f"Point hint {i}: {e}") from None
        points.append((x, y, tuple(colour) if isinstance(colour, list) else colour))
    return points


def hints_json(points: list[tuple]) -> str:
    """``[(x, y, colour), ...]`` -> the JSON ``parse_hints`` reads."""
    return json.dumps([[x, y, list(c) if isinstance(c, tuple) else c] for x, y, c in points])


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


@contextmanager
def _zip(path: Path) -> Iterator[zipfile.ZipFile]:
    # PNGs are compressed already: stored, not deflated again
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        yield archive


def _save_preview(image: Image.Image, path: Path) -> str:
    """A preview for the page, as WebP (what Gradio would write for a PIL image, but into the
    request's own folder: Gradio's copies are named by content and shared between sessions)."""
    image.save(path, format="WEBP")
    return str(path)


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


def _gray_preview(photo: Photo, side: int) -> Image.Image:
    """The photo as the model sees it (its L*, no colour), at most ``side`` pixels a side, RGB:
    what the points are drawn on."""
    W, H = photo.size
    scale = min(1.0, side / max(W, H))
    size = (max(1, round(H * scale)), max(1, round(W * scale)))
    L = photo.L
    if scale < 1:
        L = F.interpolate(L, size=size, mode="bilinear", antialias=True, align_corners=False)
    lab = torch.cat([L, torch.zeros_like(L), torch.zeros_like(L)], dim=1)  # (1, 3, h, w)
    rgb = (color.lab_to_rgb(lab)[0] * 255).round().to(torch.uint8)  # (3, h, w)
    return Image.fromarray(rgb.permute(1, 2, 0).numpy(), mode="RGB")


def _points_html(gray: Image.Image, size: tuple[int, int], points: list[tuple]) -> str:
    """HTML: ``points`` (in the pixels of a photo of ``size`` (W, H)) drawn on ``gray``, its
    preview (an inline WebP: nothing is written to disk), then listed with their colours and
    pixel coordinates."""
    W, H = size
    image = gray.copy()
    draw = ImageDraw.Draw(image)
    r = max(5, round(max(image.size) / 50))
    for x, y, colour in points:
        cx = (x + 0.5) * image.width / W - 0.5
        cy = (y + 0.5) * image.height / H - 0.5
        for radius, fill in (
            (r + 3, (20, 20, 20)),
            (r + 2, (255, 255, 255)),
            (r, parse_colour(colour)),
        ):
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    buf = io.BytesIO()
    image.save(buf, format="WEBP", quality=90)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    items = "".join(
        f'<li class="tic-point" data-x="{_num(x)}" data-y="{_num(y)}" '
        f'data-color="{html.escape(_hex(colour))}">{_swatch_rgb(parse_colour(colour))}'
        f"&nbsp;({_num(x)}, {_num(y)}) {html.escape(_hex(colour))}</li>"
        for x, y, colour in points
    )
    n = len(points)
    s = "s" if n != 1 else ""
    return (
        '<div class="tic-points" style="display:flex;flex-wrap:wrap;gap:1em;align-items:start">'
        f'<img src="data:image/webp;base64,{data}" alt="the photo with {n} point{s}" '
        'style="max-width:min(100%,360px);max-height:320px;height:auto">'
        f"<div><p>{n} point{s} (x, y in the photo's pixels):</p><ol>{items}</ol></div></div>"
    )


_NO_POINTS = (
    '<div class="tic-points"><p>No points. Click on the photo to place one in the colour above: '
    "Colorize spreads its colour over what it touches.</p></div>"
)


def _hex(colour) -> str:
    return "#{:02x}{:02x}{:02x}".format(*parse_colour(colour))


def _num(v) -> str:
    return f"{v:g}"


def _swatch_rgb(rgb: tuple[int, int, int]) -> str:
    r, g, b = rgb
    return (
        '<span class="tic-swatch" style="display:inline-block;width:1em;height:1em;'
        f'border:1px solid #888;vertical-align:middle;background:rgb({r},{g},{b})"></span>'
    )


_EMPTY_TEXT = (
    "The text is empty, so the colours are the model's own guess. "
    "Describe them for control, e.g. 'a red car under a blue sky'."
)


def _unknown_message(words: list[str]) -> str:
    return html.escape("Words the model does not know (ignored): " + ", ".join(sorted(set(words))))


def _note(text: str, unknown: list[str], points: list[tuple] = ()) -> str:
    """HTML: the colours the text names as swatches, the point hints, and the unknown words."""
    terms = list(dict.fromkeys(colors_in_text(text)))
    if terms:
        swatches = " ".join(_swatch(t) for t in terms)
        out = _p(f"Colours named in the text: {swatches}")
    elif text:
        out = _p("The text names no colour: the model chooses them.")
    elif points:
        out = _p("No text: the colours are the points' and the model's.")
    else:
        out = _p(html.escape(_EMPTY_TEXT))
    if points:
        swatches = " ".join(_swatch_rgb(parse_colour(c)) for _, _, c in points)
        n = len(points)
        out += _p(
            f'<span class="tic-hints">{n} point hint{"s" if n != 1 else ""}</span>: {swatches}'
        )
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
    files: SessionFiles | None = None,
) -> Blocks:
    """The Gradio page around ``colorizer``. Results go to ``files`` (default: folders in Gradio's
    cache folder, ``GRADIO_TEMP_DIR`` when the app is built, kept ``keep_files`` seconds at most);
    a session's results and uploads are deleted when its page is closed.
    """
    gr = gradio()
    from gradio.utils import get_upload_folder

    if files is None:
        files = SessionFiles(get_upload_folder(), keep_files)

    def uploaded(path: str) -> bool:
        """A file Gradio received from a user, not its copy of an example photo."""
        return path in demo.upload_file_set and not any(
            path in getattr(block, "keep_in_cache", ()) for block in list(demo.blocks.values())
        )

    def wanted(path: str) -> bool:
        return _requests_naming(demo, path) > 1  # this request's own event is in the queue too

    web = WebColorizer(colorizer, files, max_pixels, uploaded, wanted)

    # Gradio hands a gr.Request (and so the session) to a parameter it recognises by its type; this
    # module's annotations are strings (``from __future__ import annotations``), so the type is set
    # here. The parameter names are the API's: /colorize(photo, text, hints) and so on.
    def colorize(photo, text, hints, request):
        return web.colorize(photo, text, hints, _session(request))

    def colorize_example(photo, text, request):  # an example photo comes with no points
        return web.colorize(photo, text, None, _session(request))

    def add_point(photo, hints, colour, event, request):
        if event.index is None:  # a click beside the picture
            return hints, gr.skip()
        x, y = event.index
        return web.add_point(photo, hints, x, y, colour, _session(request))

    def undo_point(photo, hints, request):
        return web.undo_point(photo, hints, _session(request))

    def clear_points():
        return "[]", _NO_POINTS

    def recolor(photo, texts, request):
        return web.recolor(photo, texts, _session(request))

    def batch(photos, text, request):
        return web.batch(photos, text, _session(request))

    def end_session(request):
        web.end(_session(request))

    for fn in (colorize, colorize_example, add_point, undo_point, recolor, batch, end_session):
        fn.__annotations__["request"] = gr.Request
    add_point.__annotations__["event"] = gr.SelectData

    model_events = {"concurrency_id": MODEL_EVENTS, "concurrency_limit": 1, "preprocess": False}
    # the point tools read the photo (once) but never run the model: apart from its queue
    point_events = {
        "concurrency_id": "tic-points", "concurrency_limit": 1, "preprocess": False,
        "api_visibility": "private", "show_progress": "hidden",
    }  # fmt: skip
    # no delete_cache: the files are deleted here (files, WebColorizer, serve's sweeper)
    with gr.Blocks(title="tic: colorize with words", analytics_enabled=False) as demo:
        gr.Markdown(
            "# tic: colorize with words\n"
            "Drop a photo (gray or colour: a colour photo is turned to gray first), describe its "
            "colours, and press Colorize; to put a colour at a spot, click there on the photo. "
            "The result keeps the photo's full resolution and "
            f"lightness. Model: {html.escape(model_name)}. "
            "Your photos and results are deleted from the server when this page is closed or "
            f"reloaded, or {_duration(keep_files)} after they were uploaded or made."
        )
        with gr.Tab("Colorize", id="colorize"):
            with gr.Row():
                with gr.Column():
                    photo = gr.Image(
                        type="filepath", image_mode=None, sources=["upload", "clipboard"],
                        label="Photo", elem_id="photo",
                    )  # fmt: skip
                    with gr.Row(equal_height=True):
                        colour = gr.ColorPicker(
                            POINT_COLOUR, label="Point colour", elem_id="point-colour", scale=2,
                            info="Click on the photo to place a point in this colour.",
                        )  # fmt: skip
                        with gr.Column(scale=1, min_width=120):
                            undo = gr.Button("Undo last point", size="sm", elem_id="undo-point")
                            clear = gr.Button("Clear points", size="sm", elem_id="clear-points")
                    points = gr.HTML(_NO_POINTS, label="Points", elem_id="points")
                    # the points as the API takes them: [[x, y, "#rrggbb"], ...]
                    hints = gr.Textbox("[]", visible=False, elem_id="hints")
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
                colorize, [photo, text, hints], [slider, png, note], api_name="colorize",
                **model_events,
            )  # fmt: skip
            photo.select(add_point, [photo, hints, colour], [hints, points], **point_events)
            undo.click(undo_point, [photo, hints], [hints, points], **point_events)
            clear.click(clear_points, None, [hints, points], **point_events)
            # points belong to one photo: another photo (or none) starts with none
            photo.change(clear_points, None, [hints, points], **point_events)
            if examples:
                shown = gr.Examples(
                    examples=[list(e) for e in examples], inputs=[photo, text],
                    label="Example photos (click one)", examples_per_page=6,
                )  # fmt: skip
                # one click fills the inputs and colorizes, through the same function and queue
                shown.load_input_event.then(
                    colorize_example, [photo, text], [slider, png, note],
                    api_visibility="private", **model_events,
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
                recolor, [photo2, texts2], [gallery2, zip2, note2], api_name="recolor",
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
                batch, [photos3, text3], [gallery3, zip3, note3], api_name="batch",
                **model_events,
            )  # fmt: skip
        demo.unload(end_session)
    files.track(demo.temp_file_sets)
    demo.queue(max_size=64, default_concurrency_limit=1)
    return demo


def _session(request) -> str | None:
    return getattr(request, "session_hash", None)


def _requests_naming(demo: Blocks, path: str) -> int:
    """How many requests in Gradio's queue (waiting or running) name the file ``path``."""
    events = list(getattr(demo._queue, "event_ids_to_events", {}).values())
    return sum(_names(getattr(event.data, "data", None), path) for event in events)


def _names(value, path: str) -> bool:
    if isinstance(value, dict):
        return value.get("path") == path
    if isinstance(value, (list, tuple)):
        return any(_names(v, path) for v in value)
    return False


# --- the server -------------------------------------------------------------------------------


def sweep(folder: Path, older_than: float, keep: set[str] = frozenset()) -> list[str]:
    """Delete the files under ``folder`` last written more than ``older_than`` seconds ago, but
    those in ``keep`` (the example photos), and the folders under it left empty as long (a new
    one may be about to receive a file). Returns the deleted files.

    This catches what no request claimed (an upload cut off by a client that went away, the
    upload of a request that was dropped from the queue or waited longer than ``older_than``), and
    bounds the time a session keeps an upload: it is moved with its time of upload.
    """
    now, deleted, old = time.time(), [], []
    for path in folder.rglob("*"):
        try:
            if now - path.stat().st_mtime > older_than and str(path) not in keep:
                old.append(path)
        except OSError:  # deleted meanwhile
            continue
    for path in sorted(old, reverse=True):  # a folder's files before the folder
        try:
            if path.is_dir():
                path.rmdir()  # only when empty
            else:
                path.unlink()
                deleted.append(str(path))
        except OSError:  # deleted meanwhile, or a folder that is not empty
            continue
    return deleted


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
        files = SessionFiles(cache, keep_files)
        demo = build_app(
            colorizer,
            examples=examples,
            max_pixels=max_pixels,
            keep_files=keep_files,
            model_name=str(model) if model else "the shipped model",
            files=files,
        )
        sweeper = threading.Thread(
            target=_sweep_until, args=(demo, files, keep_files, stop), daemon=True
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


def _sweep_until(demo: Blocks, files: SessionFiles, keep_files: int, stop: threading.Event) -> None:
    """Every ``period`` seconds: the result folders older than ``keep_files`` go, and then any
    other file that old (all but the example photos)."""
    period = max(1, min(60, keep_files // 2))
    while not stop.wait(period):
        kept = set()
        for block in list(demo.blocks.values()):
            kept |= {str(Path(p).resolve()) for p in getattr(block, "keep_in_cache", ())}
        try:
            files.expire()
            files.forget(sweep(files.root, keep_files, kept))
        except OSError as e:  # never let the sweeper die on a transient error
            log.warning("tic web: cleaning %s: %s", files.root, e)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
