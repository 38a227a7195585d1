"""``tic web`` in a real browser: Debian's Chromium, headless, driven by Playwright.

Starts ``tic web`` (the shipped model) on a free port, uploads a photo, types a text, clicks,
downloads the PNG and checks its size and L* against the input; clicks again with another text
(the same upload); clicks twice on the photo (the second time in another colour of the picker),
sees two points drawn and listed in the photo's pixels, undoes one, and checks that Colorize sends
that one point; then one bad file and its message; once the page is closed, its results and
uploads are deleted from the server. Every request the
page makes must stay on 127.0.0.1, and the server must connect nowhere else (an audit hook in the
server process records every connection it opens).

Skipped when Playwright or Chromium is missing, unless TIC_REQUIRE_BROWSER=1 (as `.ci/run` sets),
which makes that a failure. ``TIC_WEB_SCREENSHOT=PATH`` also saves the page with its result there
(how docs/web.png was made), ``TIC_WEB_HINTS_SCREENSHOT=PATH`` the page with two points placed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from tests.test_web import (
    EXAMPLES,
    files_under,
    free_port,
    lightness,
    start_server,
    stop_server,
    wait_for,
)
from tic.web import POINT_COLOUR

pytestmark = pytest.mark.browser

BLUE = "#1e90ff"  # the second point's colour, typed into the colour picker

CHROMIUM = os.environ.get("TIC_CHROMIUM", "/usr/bin/chromium")
# the flags this machine's headless Chromium needs (root, no GPU, no network)
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# Runs in the server process before tic: records every connection and name lookup that does not
# stay on this machine.
AUDIT = """
import json, sys
out = open(sys.argv.pop(1), "a")
def hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
    elif event == "socket.getaddrinfo":
        host = str(args[0]) if args[0] is not None else "localhost"
    else:
        return
    if host not in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::"):
        out.write(json.dumps([event, host]) + "\\n"); out.flush()
sys.addaudithook(hook)
sys.argv[0] = "tic"
from tic.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _playwright():
    required = os.environ.get("TIC_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        if required:
            raise AssertionError(f"{CHROMIUM} not found (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    return sync_playwright


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _playwright()
    root = tmp_path_factory.mktemp("browser-server")
    tmpdir, audit_log = root / "tmp", root / "egress.jsonl"
    tmpdir.mkdir()
    audit_log.touch()
    port = free_port()
    proc = start_server(
        ["--keep-files", "600"], tmpdir, port, root / "tic-web.log",
        launcher=("-c", AUDIT, str(audit_log)),
    )  # fmt: skip
    info = {"proc": proc, "url": f"http://127.0.0.1:{port}/", "tmpdir": tmpdir,
            "audit": audit_log, "log": root / "tic-web.log"}  # fmt: skip
    yield info
    stop_server(proc)


def place_points_and_colorize(page) -> list:
    """Click twice on the photo (the second time in ``BLUE``), check both points are shown where
    they were clicked, in the photo's own pixels; undo the second; press Colorize. Returns the
    hints the page sent. The shipped model may take no point hints: then the page shows that
    error, and the message is closed again."""
    photo = page.locator("#photo img")
    photo.scroll_into_view_if_needed()
    box = photo.bounding_box()
    natural = photo.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    clicks = [(0.3, 0.45), (0.72, 0.6)]
    for n, (fx, fy) in enumerate(clicks, 1):
        if n == 2:  # the picker's own text field, as a user types a colour
            page.click("#point-colour button.dialog-button")
            page.fill("#point-colour input[type=text]", BLUE)
            page.press("#point-colour input[type=text]", "Enter")
            page.locator("#points").click(position={"x": 2, "y": 2})  # closes the picker
        photo.click(position={"x": fx * box["width"], "y": fy * box["height"]})
        page.wait_for_function(
            f"document.querySelectorAll('#points li.tic-point').length == {n}", timeout=30_000
        )
    shown = page.locator("#points li.tic-point")
    points = [
        (float(li.get_attribute("data-x")), float(li.get_attribute("data-y")),
         li.get_attribute("data-color"))
        for li in shown.all()
    ]  # fmt: skip
    # the points are in the photo's own pixels (the page may show it scaled), one per click
    scale = natural[0] / box["width"]
    for (fx, fy), (x, y, _) in zip(clicks, points, strict=True):
        assert abs(x - fx * natural[0]) <= scale + 1 and abs(y - fy * natural[1]) <= scale + 1
    assert [c for _, _, c in points] == [POINT_COLOUR, BLUE]
    # drawn on a preview of the photo: one picture, inline (nothing written on the server)
    assert page.locator("#points img[src^='data:image/webp']").count() == 1
    if os.environ.get("TIC_WEB_HINTS_SCREENSHOT"):
        page.mouse.move(0, 0)
        page.screenshot(path=os.environ["TIC_WEB_HINTS_SCREENSHOT"], full_page=True)

    page.click("#undo-point")
    page.wait_for_function(
        "document.querySelectorAll('#points li.tic-point').length == 1", timeout=30_000
    )
    with page.expect_request(lambda r: "/gradio_api/queue/join" in r.url) as joined:
        page.click("#colorize")
    photo_sent, _, hints = json.loads(joined.value.post_data)["data"]
    assert photo_sent["orig_name"] == "bird.jpg"
    sent = json.loads(hints)
    assert [tuple(p) for p in sent] == [(int(points[0][0]), int(points[0][1]), POINT_COLOUR)]

    answer = page.wait_for_selector("#note .tic-hints, .toast-body", timeout=120_000)
    if "toast-body" in (answer.get_attribute("class") or ""):
        # a model without a hint module: one clean line, no traceback
        assert "this model takes no point hints" in answer.inner_text()
        page.click(".toast-close")
        page.wait_for_selector(".toast-body", state="detached", timeout=10_000)
    else:
        assert "1 point hint" in page.inner_text("#note")
    return sent


def test_colorize_in_a_real_browser(server, tmp_path):
    sync_playwright = _playwright()
    # an example photo, saved again: bytes of its own, so that Gradio does not take it for its
    # copy of the example (which stays on the server)
    photo = tmp_path / "bird.jpg"
    Image.open(EXAMPLES / "owl.jpg").save(photo, quality=90)
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is a text file with a .jpg name\n")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 860}, accept_downloads=True
            )
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server["url"])
            page.wait_for_selector("#colorize", timeout=60_000)

            # a photo, a text, a click
            page.set_input_files("#photo input[type=file]", str(photo))
            page.fill("#text textarea", "a brown owl on a gray branch")
            page.wait_for_selector("#photo img", timeout=30_000)  # the upload is shown
            page.click("#colorize")
            link = page.wait_for_selector("#png a[download]", timeout=120_000)
            assert "bird-colorized" in page.inner_text("#png")
            with page.expect_download() as download:
                link.click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)

            # the before/after slider shows two pictures; the note shows the colours named
            assert page.locator("#slider img").count() == 2
            note = page.inner_text("#note")
            assert "brown" in note and "gray" in note
            assert page.locator('#note .tic-swatch[data-color="brown"]').count() == 1
            if os.environ.get("TIC_WEB_SCREENSHOT"):
                page.mouse.move(0, 0)
                page.screenshot(path=os.environ["TIC_WEB_SCREENSHOT"])

            # the button again with another text: the page sends the same upload, which the
            # server kept for this page (in a folder of the session, not Gradio's upload folder)
            page.fill("#text textarea", "a white owl on a blue branch")
            page.click("#colorize")
            page.wait_for_selector(
                '#note .tic-swatch[data-color="blue"], .toast-body', timeout=120_000
            )
            toasts = page.locator(".toast-body")
            assert toasts.count() == 0, toasts.first.inner_text()
            assert page.locator('#note .tic-swatch[data-color="blue"]').count() == 1
            (cache,) = server["tmpdir"].iterdir()
            assert [p.name for p in files_under(cache)].count("bird.jpg") == 1

            # point hints: two clicks on the photo, the second in another colour
            sent = place_points_and_colorize(page)
            assert len(sent) == 1 and sent[0][2] == POINT_COLOUR  # the second point was undone

            # one bad file: its message appears in the page, no traceback
            page.click("#photo button[aria-label='Remove Image']")
            page.set_input_files("#photo input[type=file]", str(bad))
            page.click("#colorize")
            toast = page.wait_for_selector(".toast-body", timeout=60_000)
            message = toast.inner_text()
            assert "holiday.jpg: not an image file Pillow can read" in message
            assert "Traceback" not in page.content()
        finally:
            browser.close()

    # the downloaded PNG: the input's exact size and lightness
    out, src = Image.open(saved), Image.open(photo)
    assert saved.name == "bird-colorized.png" and out.format == "PNG"
    assert out.size == src.size
    assert np.abs(lightness(out) - lightness(src)).max() < 0.8
    assert np.asarray(out.convert("RGB"), dtype=int).std(axis=2).mean() > 1  # it has colour

    # everything the page loaded came from the server on 127.0.0.1
    hosts = {urlparse(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(u for u in requests if "127.0.0.1" not in u)
    assert any(urlparse(u).path.endswith(".woff2") for u in requests)  # fonts: served locally

    # the page is closed: its session's results and uploads go (Gradio's unload), long before
    # --keep-files; Gradio's copies of the example photos stay
    examples = {p.name for p in EXAMPLES.glob("*.jpg")}

    def only_examples() -> bool:
        left = [p.name for p in files_under(cache)]
        return set(left) == examples and len(left) == len(examples)

    assert wait_for(only_examples, 30), files_under(cache)

    # the server opened no connection beyond this machine; it leaves nothing in TMPDIR
    assert stop_server(server["proc"]) == 0, server["log"].read_text()
    egress = [json.loads(line) for line in server["audit"].read_text().splitlines()]
    assert egress == [], egress
    assert files_under(server["tmpdir"]) == [] and list(server["tmpdir"].iterdir()) == []
    assert "Traceback" not in server["log"].read_text()
