"""Load test of ``tic web``: many clients at once against one server process on this machine.

    python benchmarks/web_load.py [--clients 8] [--requests 200] [--model DIR]

Starts ``tic web`` (the shipped model unless ``--model``) on a free port of 127.0.0.1 and sends
``--requests`` ``/colorize`` calls from ``--clients`` threads at once, each its own
``gradio_client.Client``, on photos of mixed sizes up to 12 MP (made here with numpy: gray and
colour, JPEG and PNG). Every answer is checked afterwards: the PNG has the photo's size and its
L* (8-bit rounding allowed), and the texts' colours are named. It reports the latency each client
saw (upload, queue, colorization, download of the result) and the time the server spent on each
request, and the server's resident memory: its peak in each block of ``--block`` requests (the
kernel's high-water mark, VmHWM, reset at each block's start) and its RSS sampled every 0.1 s, to
show whether it grows with their number.

Then it disconnects two clients on purpose, one in the middle of its upload and one while the
server works on its request (the event stream is closed as soon as the server says it started),
and checks that the server still answers the next request correctly. Files: right after the
requests the server's folder holds the results and each session's copy of each photo it sent
(``uploads_kept_after_requests``: at most one per client and photo); once the clients have closed
(their sessions end), only the files of the session that vanished mid-request may be left, and
after ``--keep-files`` nothing. Everything stays on 127.0.0.1, and the run is bounded:
``--requests`` calls, each with a timeout.

Writes ``benchmarks/results/web_load.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# (width, height, mode, format): 0.3 to 12 megapixels, gray and colour, JPEG and PNG
SIZES = [
    (640, 480, "L", "JPEG"),
    (1280, 960, "RGB", "JPEG"),
    (2048, 1536, "L", "PNG"),
    (3000, 2250, "RGB", "JPEG"),
    (4000, 3000, "L", "JPEG"),
]
TEXTS = [
    "a red car under a blue sky",
    "a yellow bird with black wings on a green branch",
    "a brown dog on green grass",
    "white houses by blue water",
]
TIMEOUT = 600  # seconds one request may take before it counts as an error


def make_photo(folder: Path, width: int, height: int, mode: str, fmt: str, seed: int) -> Path:
    """A photo-like test image: smooth shading, a few shapes and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = 90 + 60 * np.sin(x / width * 3 + seed) * np.cos(y / height * 2)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.05, 0.2) * width
        img += rng.uniform(-60, 60) * (((x - cx) ** 2 + (y - cy) ** 2) < r * r)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    gray = np.clip(img, 0, 255).astype(np.uint8)
    if mode == "RGB":  # a colour photo: tic turns it to gray first
        rgb = np.stack([gray, np.clip(gray * 0.8 + 30, 0, 255), gray[:, ::-1]], -1)
        image = Image.fromarray(rgb.astype(np.uint8), "RGB")
    else:
        image = Image.fromarray(gray, "L")
    path = folder / f"photo-{width}x{height}-{mode}.{'jpg' if fmt == 'JPEG' else 'png'}"
    image.save(path, format=fmt, **({"quality": 92} if fmt == "JPEG" else {"compress_level": 1}))
    return path


def lightness(path: Path) -> np.ndarray:
    from tic.color import srgb8_to_l

    with Image.open(path) as im:
        return srgb8_to_l(np.asarray(im.convert("RGB"), dtype=np.uint8))[0, 0].numpy()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def loadavg() -> list[float]:
    return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]


def machine() -> dict:
    info = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", info)
    flags = set(re.search(r"flags\s*:\s*(.*)", info).group(1).split())
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "gpu": "none (CPU only)",
        "python": platform.python_version(),
    }


def other_processes(exclude: set[int]) -> list[str]:
    """The busiest other processes now (what else was using the CPU during the run)."""
    out = subprocess.run(
        ["ps", "-eo", "pid,ni,pcpu,args", "--sort=-pcpu"], capture_output=True, text=True
    ).stdout.splitlines()[1:]
    rows = []
    for line in out:
        pid = int(line.split()[0])
        if pid not in exclude and float(line.split()[2]) >= 5:
            rows.append(" ".join(line.split()[:3]) + " " + " ".join(line.split()[3:6])[:100])
    return rows[:5]


def peak_rss_mb(pid: int, reset: bool = False) -> float:
    """The process's peak RSS (VmHWM) since it started or since the last reset."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    if reset:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    return peak


class Monitor(threading.Thread):
    """Samples the server's RSS and the load average every 0.1 s; at the end of each block of
    ``block`` requests, records the block's peak RSS (VmHWM) and resets it."""

    def __init__(self, pid: int, block: int):
        super().__init__(daemon=True)
        self.pid, self.block, self.samples, self.stop = pid, block, [], threading.Event()
        self.done = 0  # requests finished so far, set by the clients
        self.block_peaks: list[float] = []
        peak_rss_mb(pid, reset=True)

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                self.samples.append((time.time(), rss_mb(self.pid), self.done, loadavg()[0]))
                if self.done >= self.block * (len(self.block_peaks) + 1):
                    self.block_peaks.append(peak_rss_mb(self.pid, reset=True))
            except (FileNotFoundError, ProcessLookupError):
                return


def start_server(args, tmpdir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1"}
    env.pop("GRADIO_TEMP_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "tic.cli", "web", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"tic web exited with {proc.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit(f"tic web did not answer in 180 s:\n{log.read_text()}")


def colorize(client, photo: Path, text: str) -> dict:
    from gradio_client import handle_file

    start = time.perf_counter()
    (_, _), png, note = client.predict(handle_file(photo), text, api_name="/colorize")
    latency = time.perf_counter() - start
    server_s = float(re.search(r"px, ([0-9.]+) s", note).group(1))
    return {"latency_s": latency, "server_s": server_s, "png": png, "note": note}


def check(result: dict, photo: Path, text: str, expected_l: dict) -> str | None:
    """None if the answer is right, else what is wrong."""
    try:
        with Image.open(result["png"]) as out:
            size, fmt = out.size, out.format
        with Image.open(photo) as src:
            want = src.size
        if fmt != "PNG" or size != want:
            return f"{fmt} {size}, expected PNG {want}"
        diff = float(np.abs(lightness(Path(result["png"])) - expected_l[photo]).max())
        if diff >= 0.8:
            return f"L* differs from the input's by {diff:.2f}"
        from tic.color_names import colors_in_text

        for term in set(colors_in_text(text)):
            if f'data-color="{term}"' not in result["note"]:
                return f"the note does not name {term}"
    except Exception as e:  # noqa: BLE001 - report any failure as an error of this request
        return f"{type(e).__name__}: {e}"
    return None


def fn_index(base: str, api_name: str) -> int:
    config = json.load(urllib.request.urlopen(base + "config", timeout=10))
    for dep in config["dependencies"]:
        if dep.get("api_name") == api_name:
            return dep["id"]
    raise KeyError(api_name)


def disconnect_during_processing(base: str, photo: Path) -> dict:
    """Upload a photo, join the queue, and close the connection once the server starts on it."""
    import httpx

    with httpx.Client(base_url=base, timeout=60) as http:
        with photo.open("rb") as f:
            (path,) = http.post("gradio_api/upload", files={"files": (photo.name, f)}).json()
        session = uuid.uuid4().hex[:11]
        payload = {
            "data": [
                {"path": path, "orig_name": photo.name, "meta": {"_type": "gradio.FileData"}},
                "a red car",
            ],
            "fn_index": fn_index(base, "colorize"),
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        }
        http.post("gradio_api/queue/join", json=payload).raise_for_status()
        seen = []
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])["msg"]
                    seen.append(msg)
                    if msg == "process_starts":
                        break  # leaving the block closes the stream mid-request
    return {"messages_before_disconnect": seen}


def disconnect_during_upload(base: str, photo: Path) -> dict:
    """Send half of a multipart upload of ``photo``, then close the socket."""
    data = photo.read_bytes()
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{photo.name}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body_len = len(head) + len(data) + len(f"\r\n--{boundary}--\r\n")
    port = int(base.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            (
                f"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {body_len}\r\n\r\n"
            ).encode()
            + head
            + data[: len(data) // 2]
        )
        time.sleep(0.5)
    return {"bytes_sent": len(head) + len(data) // 2, "bytes_expected": body_len}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--block", type=int, default=50, help="requests per block of the RSS peaks")
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    # longer than a request waits in the queue (about 8 x the time of one): uploads are deleted
    # this long after they arrive, waiting or not
    ap.add_argument("--keep-files", type=int, default=120, help="the server's --keep-files")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "web_load.json"))
    args = ap.parse_args()
    from gradio_client import Client

    work = Path(tempfile.mkdtemp(prefix="tic-web-load-"))
    proc = None
    try:
        photos = [make_photo(work, w, h, m, f, seed=i) for i, (w, h, m, f) in enumerate(SIZES)]
        expected_l = {p: lightness(p) for p in photos}
        server_tmp = work / "server-tmp"
        server_tmp.mkdir()
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        server_args = ["--keep-files", str(args.keep_files)]
        if args.model:
            server_args += ["--model", args.model]
        log = work / "tic-web.log"
        t0 = time.time()
        proc = start_server(server_args, server_tmp, port, log)
        startup_s = time.time() - t0
        time.sleep(2)
        idle_rss = rss_mb(proc.pid)
        monitor = Monitor(proc.pid, args.block)
        monitor.start()
        load_start = loadavg()

        jobs = [(photos[i % len(photos)], TEXTS[i % len(TEXTS)]) for i in range(args.requests)]
        per_client = [jobs[c :: args.clients] for c in range(args.clients)]
        results: list[dict] = []
        lock = threading.Lock()
        clients = [
            Client(base, download_files=str(work / f"client-{c}"), verbose=False)
            for c in range(args.clients)
        ]

        def client_loop(c: int) -> None:
            client = clients[c]
            for photo, text in per_client[c]:
                try:
                    r = colorize(client, photo, text)
                    r["error"] = None
                except Exception as e:  # noqa: BLE001 - every failure is counted
                    r = {"error": f"{type(e).__name__}: {e}"}
                r.update(photo=photo, text=text, client=c)
                with lock:
                    results.append(r)
                    monitor.done += 1

        wall = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client_loop, range(args.clients)))
        wall = time.perf_counter() - wall
        load_end = loadavg()
        busy = other_processes({os.getpid(), proc.pid})
        idle_rss_after = rss_mb(proc.pid)
        cache = next(server_tmp.iterdir())
        examples = {p.name for p in (ROOT / "examples").glob("*.jpg")}

        def leftovers():
            return [p for p in cache.rglob("*") if p.is_file() and p.name not in examples]

        photo_names = {p.name for p in photos}
        left_after_requests = leftovers()
        uploads_kept = [p for p in left_after_requests if p.name in photo_names]

        # disconnects, then one more request that must be answered correctly
        big = photos[-1]
        disconnects = {
            "during_upload": disconnect_during_upload(base, big),
            "during_processing": disconnect_during_processing(base, big),
        }
        time.sleep(3)
        clients.append(Client(base, download_files=str(work / "after"), verbose=False))
        after = colorize(clients[-1], big, TEXTS[0])
        disconnects["next_request_error"] = check(after, big, TEXTS[0], expected_l)
        disconnects["next_request_latency_s"] = round(after["latency_s"], 2)
        monitor.stop.set()
        # the clients close: their sessions end (the server sees it within its heartbeat, 15 s)
        for client in clients:
            client.close()
        time.sleep(20)
        left_after_close = leftovers()

        # check every answer (after the timed run, so the checks do not slow the server)
        errors = []
        for r in results:
            problem = r["error"] or check(r, r["photo"], r["text"], expected_l)
            if problem:
                errors.append(f"{r['photo'].name}: {problem}")
            r.pop("note", None)

        # what no session claimed goes --keep-files seconds after it was made (sweeper: + period)
        deadline = time.time() + args.keep_files + 90
        while leftovers() and time.time() < deadline:
            time.sleep(2)
        left = leftovers()
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(timeout=60)
        left_after_exit = [str(p) for p in server_tmp.rglob("*")]

        ok = [r for r in results if not r["error"]]
        n = args.requests
        blocks = []
        for b, peak in enumerate(monitor.block_peaks):
            lo, hi = b * args.block, min(n, (b + 1) * args.block)
            rss = [s[1] for s in monitor.samples if lo <= s[2] < hi]
            blocks.append(
                {
                    "requests": f"{lo + 1}-{hi}",
                    "peak_rss_mb": round(peak, 1),
                    "sampled_peak_rss_mb": round(max(rss), 1) if rss else None,
                    "rss_when_block_done_mb": round(
                        next((s[1] for s in monitor.samples if s[2] >= hi), float("nan")), 1
                    ),
                }
            )
        by_size = {}
        for w, h, m, f in SIZES:
            rs = [r for r in ok if Image.open(r["photo"]).size == (w, h)]
            by_size[f"{w}x{h} {m} {f}"] = {
                "megapixels": round(w * h / 1e6, 2),
                "requests": len(rs),
                "median_latency_s": round(percentile([r["latency_s"] for r in rs], 50), 2),
                "median_server_s": round(percentile([r["server_s"] for r in rs], 50), 2),
            }
        report = {
            "what": f"{args.clients} clients at once, {n} /colorize requests against one tic web "
            "process on 127.0.0.1; latency = what a client saw (upload, queue, colorization, "
            "download); server_s = time in the request handler",
            "machine": machine(),
            "model": args.model or "shipped default",
            "load_average_1_5_15": {"start": load_start, "end": load_end},
            "load_average_1min_max_during": max(s[3] for s in monitor.samples),
            "other_busy_processes_at_end": busy,
            "server_startup_s": round(startup_s, 1),
            "requests": n,
            "errors": len(errors),
            "error_examples": errors[:10],
            "wall_s": round(wall, 1),
            "throughput_per_s": round(n / wall, 3),
            "latency_s": {
                "median": round(percentile([r["latency_s"] for r in ok], 50), 2),
                "p95": round(percentile([r["latency_s"] for r in ok], 95), 2),
                "max": round(max(r["latency_s"] for r in ok), 2),
            },
            "server_s": {
                "median": round(percentile([r["server_s"] for r in ok], 50), 2),
                "p95": round(percentile([r["server_s"] for r in ok], 95), 2),
            },
            "by_size": by_size,
            "server_rss_mb": {
                "idle_before": round(idle_rss, 1),
                "peak": round(max(monitor.block_peaks), 1),
                f"by_block_of_{args.block}": blocks,
                "idle_after_requests": round(idle_rss_after, 1),
            },
            "disconnects": disconnects,
            "uploads_kept_after_requests": len(uploads_kept),
            "uploads_kept_at_most": args.clients * len(photos),
            "files_left_after_requests": len(left_after_requests),
            "files_left_after_clients_closed": sorted(
                str(p.relative_to(cache)) for p in left_after_close
            ),
            "files_left_after_keep_files": len(left),
            "server_exit_code": exit_code,
            "files_left_after_exit": left_after_exit,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
