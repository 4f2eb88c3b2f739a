"""`faststyle serve`: the API through FastAPI's test client, then a real server process on a loopback
port (limits under load, a 60 MB upload, SIGTERM), then the web page in a real headless Chromium."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import photo, png_claiming

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


def png(h: int = 48, w: int = 64) -> bytes:
    out = io.BytesIO()
    Image.fromarray(photo(h, w)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def client(user_styles):
    from fastapi.testclient import TestClient

    from faststyle.serve import ServeSettings, create_app

    with TestClient(create_app(ServeSettings(painters=1, queue=2, max_upload_mb=1, max_megapixels=2))) as c:
        yield c


def post(client, query: str, body: bytes | None = None, name: str = "a.png", **kw):
    files = {"image": (name, png() if body is None else body, "image/png")}
    return client.post(f"/stylize?{query}", files=files, **kw)


# 1. The API, in process --------------------------------------------------------------------------

def test_health_and_styles_list_bundled_and_user_styles(client):
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["auth"] is False
    styles = {s["name"]: s for s in client.get("/styles").json()}
    assert styles["wave"]["title"] == "The Great Wave off Kanagawa" and styles["wave"]["artist"] == "Katsushika Hokusai"
    assert styles["wave"]["has_lite"] is True and styles["wave"]["source"] == "bundled"
    assert styles["tiny"]["source"] == "user" and styles["tiny"]["has_lite"] is False
    swatch = client.get(styles["wave"]["swatch"])
    assert swatch.status_code == 200 and swatch.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(swatch.content)).size == (128, 128)


def test_stylize_paints_the_photo_as_the_python_api_does(client):
    import faststyle

    r = post(client, "style=tiny&format=png&strength=0.7")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert 'filename="a.tiny.png"' in r.headers["content-disposition"]
    served = np.asarray(Image.open(io.BytesIO(r.content)))
    expected = np.asarray(faststyle.stylize(photo(48, 64), "tiny", strength=0.7))
    assert served.shape == (48, 64, 3) and np.abs(served.astype(int) - expected).max() <= 1


def test_options_size_format_fast_and_a_raw_body(client):
    big = png(300, 400)
    r = post(client, "style=wave&fast=true&max_size=200&format=webp", big)
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).format == "WEBP"
    assert Image.open(io.BytesIO(r.content)).size == (200, 150)
    raw = client.post("/stylize?style=wave&fast=true", content=png(), headers={"content-type": "image/png"})
    assert raw.status_code == 200 and Image.open(io.BytesIO(raw.content)).format == "JPEG"


def test_a_phones_heic_upload_is_painted(client):
    pillow_heif = pytest.importorskip("pillow_heif")
    heic = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(photo(48, 64))).save(heic, quality=90)
    r = post(client, "style=tiny", heic.getvalue(), name="IMG_0003.heic")
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (64, 48)


def truncated_jpeg() -> bytes:
    out = io.BytesIO()
    Image.fromarray(photo(64, 64)).save(out, "JPEG")
    return out.getvalue()[:300]


@pytest.mark.parametrize("query, body, status, words", [
    ("style=nope", None, 404, "unknown style"),
    ("style=wave&strength=nan", None, 422, "strength"),
    ("style=wave&strength=1.5", None, 422, "strength"),
    ("style=wave&max_size=5", None, 422, "max_size"),
    ("style=wave&max_size=100000", None, 422, "max_size"),
    ("style=wave&format=gif", None, 422, "format"),
    ("", None, 422, "style"),
    ("style=wave", b"", 422, "not an image"),
    ("style=wave", b"GIF89a this is not a picture", 422, "not an image"),
    ("style=wave", truncated_jpeg(), 422, "damaged"),
    ("style=wave", png_claiming(20000, 20000), 413, "megapixels"),
])
def test_bad_requests_get_a_4xx_with_a_json_error(client, query, body, status, words):
    r = post(client, query, body)
    assert r.status_code == status and words in r.json()["error"], r.text


def test_missing_field_wrong_type_and_oversized_upload(client):
    r = client.post("/stylize?style=wave", files={"photo": ("a.png", png(), "image/png")})
    assert r.status_code == 422 and "'image'" in r.json()["error"]
    r = client.post("/stylize?style=wave", content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "multipart" in r.json()["error"]
    r = post(client, "style=wave", b"\0" * (2 << 20))  # the limit here is 1 MB
    assert r.status_code == 413 and "larger than 1 MB" in r.json()["error"]
    assert client.get("/healthz").json()["in_progress"] == 0  # refused requests gave their places back


def test_a_token_guards_the_api_but_not_the_page(user_styles):
    from fastapi.testclient import TestClient

    from faststyle.serve import ServeSettings, create_app

    with TestClient(create_app(ServeSettings(token="s3cret"))) as c:
        assert c.get("/healthz").json()["auth"] is True and c.get("/").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = c.get("/styles", headers=headers)
            assert r.status_code == 401 and "token" in r.json()["error"]
            assert post(c, "style=tiny", headers=headers).status_code == 401
        assert post(c, "style=tiny", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_the_pool_refuses_past_its_capacity_and_frees_places():
    import asyncio

    from faststyle.serve.painters import Busy, PainterPool, TimedOut

    pool = PainterPool(painters=1, queue=1, timeout_s=0.5)
    first, second = pool.admit(), pool.admit()
    with pytest.raises(Busy):
        pool.admit()
    second.close()
    second.close()  # twice is once
    assert pool.admitted == 1

    def slow(cancel):
        for _ in range(100):  # a long painting that checks for cancellation, as tiles do
            cancel.check()
            time.sleep(0.05)
        return b"late"

    with pytest.raises(TimedOut):
        asyncio.run(first.run(slow))
    deadline = time.monotonic() + 5
    while pool.admitted and time.monotonic() < deadline:  # the painter stops at its next check
        time.sleep(0.02)
    assert pool.admitted == 0
    assert asyncio.run(pool.admit().run(lambda cancel: b"done")) == b"done" and pool.painted == 1
    pool.shutdown()


def test_cli_refuses_bad_settings_in_one_line():
    r = subprocess.run([sys.executable, "-m", "faststyle", "serve", "--queue", "-1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "--queue" in r.stderr and "Traceback" not in r.stderr


# 2. A real server process on a loopback port -----------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *args: str, env_extra: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(os.environ["FASTSTYLE_STYLE_DIR"]).parent / f"serve-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faststyle", "serve", "--port", str(self.port), *args],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env_extra or {})})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
            assert self.process.poll() is None, self.output()
        raise AssertionError("server did not start: " + self.output())

    def get(self, path: str) -> tuple[int, bytes]:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def paint(self, query: str, body: bytes, timeout: float = 120) -> tuple[int, dict, bytes]:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", f"/stylize?{query}", body=body, headers={"Content-Type": "image/png"})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code


@pytest.fixture
def server(user_styles):
    s = Server("--painters", "1", "--queue", "3", "--max-upload-mb", "4")
    yield s
    s.stop()


def test_a_burst_of_requests_is_painted_or_told_to_come_back(server):
    """24 at once on 1 painter with a queue of 3: every answer is 200 or 503 with Retry-After."""
    body = png(256, 320)
    answers: list[tuple[int, dict, bytes]] = []
    threads = [threading.Thread(target=lambda: answers.append(server.paint("style=wave", body))) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    codes = sorted(a[0] for a in answers)
    assert len(answers) == 24 and set(codes) <= {200, 503}, codes
    assert codes.count(200) >= 4 and codes.count(503) >= 1  # painter + queue served; the rest refused
    assert all("retry-after" in h and "busy" in json.loads(b)["error"] for c, h, b in answers if c == 503)
    status, health = server.get("/healthz")
    assert status == 200 and json.loads(health)["in_progress"] == 0


def raw_request(port: int, head: bytes, chunks, total_limit: int) -> tuple[int, int]:
    """Sends a request head, then body chunks until the server answers or stops reading;
    -> (status, bytes of body sent). Blocking sends: a slow server only makes it wait."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:  # an answer (or a close) is waiting
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):  # the server answered and closed
                break
            sent += len(chunk)
            if sent > total_limit:
                break
        reply = b""
        try:
            while b"\r\n" not in reply:
                more = sock.recv(65536)
                if not more:
                    break
                reply += more
        except ConnectionResetError:
            pass
    assert reply, "no answer"
    return int(reply.split(b" ")[1]), sent


def test_60_mb_uploads_get_413_without_being_read(server):
    before = server.peak_rss_mb()
    megabyte = b"\0" * (1 << 20)
    head = (b"POST /stylize?style=wave HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            b"Content-Length: 62914560\r\n\r\n")
    status, sent = raw_request(server.port, head, (megabyte for _ in range(60)), 60 << 20)
    assert status == 413 and sent < 60 << 20  # answered from the header, before the body
    chunked = b"POST /stylize?style=wave HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
    framed = (b"100000\r\n" + megabyte + b"\r\n" for _ in range(60))
    status, sent = raw_request(server.port, chunked, framed, 60 << 20)
    assert status == 413 and sent < 30 << 20  # stopped a few MB past the 4 MB limit
    assert server.peak_rss_mb() - before < 40  # never held the upload
    assert server.get("/healthz")[0] == 200


def test_sigterm_lets_the_painting_in_progress_finish(user_styles):
    s = Server("--painters", "1")
    answer = []
    t = threading.Thread(target=lambda: answer.append(s.paint("style=wave&max_size=1500", png(1200, 1500))))
    t.start()
    deadline = time.monotonic() + 30
    while json.loads(s.get("/healthz")[1])["in_progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    s.process.send_signal(signal.SIGTERM)
    t.join(timeout=120)
    assert answer and answer[0][0] == 200 and Image.open(io.BytesIO(answer[0][2])).size == (1500, 1200)
    assert s.stop() == 0
    with pytest.raises(OSError):
        s.get("/healthz")


def test_binding_beyond_loopback_is_stated(user_styles):
    s = Server("--host", "0.0.0.0")
    try:
        assert "reachable from other machines" in s.output() and "--token" in s.output()
    finally:
        s.stop()


# 3. The web page in a real headless Chromium ------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def page_of(server):
    """The server's web page in a headless Chromium, its swatches loaded: (page, its JavaScript errors)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        page.wait_for_selector(".style[data-name='wave'] img[src^='blob:']")  # swatches loaded
        yield page, errors
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt install chromium)")
def test_the_page_paints_a_photo_end_to_end(server, tmp_path):
    photo_file = tmp_path / "street.png"
    Image.fromarray(photo(240, 320)).save(photo_file)
    with page_of(server) as (page, errors):
        assert "Katsushika Hokusai" in page.inner_text(".style[data-name='wave']")
        page.set_input_files("#file", str(photo_file))
        page.click(".style[data-name='wave']")
        page.wait_for_selector("#download:not([hidden])", timeout=60_000)
        assert "Painted in" in page.inner_text("#status")
        size = page.evaluate("() => [document.getElementById('after').naturalWidth, "
                             "document.getElementById('after').naturalHeight]")
        assert size == [320, 240]
        assert page.get_attribute("#download", "download") == "street.wave.jpg"
        with page.expect_download() as download:
            page.click("#download")
        saved = tmp_path / "saved.jpg"
        download.value.save_as(saved)
        assert Image.open(saved).size == (320, 240)
        page.fill("#split", "20")
        page.dispatch_event("#split", "input")
        assert page.evaluate("() => document.getElementById('before-clip').style.width") == "20%"
        page.screenshot(path=str(tmp_path / "page.png"))
    assert errors == []


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt install chromium)")
def test_the_page_shows_a_heic_photo_chrome_cannot_decode(server, tmp_path):
    """Chrome shows no HEIC: the page's "before" comes from the server, which reads it (strength 0)."""
    pillow_heif = pytest.importorskip("pillow_heif")
    photo_file = tmp_path / "IMG_0007.heic"
    pillow_heif.from_pillow(Image.fromarray(photo(240, 320))).save(photo_file, quality=90)
    with page_of(server) as (page, errors):
        page.set_input_files("#file", str(photo_file))
        page.click(".style[data-name='wave']")
        page.wait_for_selector("#download:not([hidden])", timeout=60_000)
        page.wait_for_function("() => document.getElementById('before').naturalWidth > 0", timeout=30_000)
        size = page.evaluate("() => ['before', 'after'].map((id) => [document.getElementById(id).naturalWidth, "
                             "document.getElementById(id).naturalHeight])")
        assert size == [[320, 240], [320, 240]]
        assert "url(\"blob:" in page.evaluate("() => document.getElementById('drop').style.backgroundImage")
        page.screenshot(path=str(tmp_path / "page.png"))
    assert errors == []
