"""Shared fixtures: tiny random-weight style models and generated images.

Nothing here needs network access or ../shared; tests that use ../shared are
marked `shared` and skip without it.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED = Path(__file__).resolve().parents[2] / "shared"
VGG16_WEIGHTS = SHARED / "data" / "vgg16" / "vgg16_imagenet_notop.weights.h5"


def random_transform_net(width: int = 4, seed: int = 0, norm: str = "demod", **shape):
    """A transform network with random weights, its norm parameters and gains randomised too."""
    import keras

    from faststyle.architecture import Architecture
    from faststyle.training.network import DemodConv2D, InstanceNorm, build_transform_net

    keras.utils.set_random_seed(seed)
    net = build_transform_net(Architecture(width=width, norm=norm, **shape))
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if isinstance(layer, InstanceNorm):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c).astype("float32"), rng.normal(0, 0.5, c).astype("float32")])
        elif isinstance(layer, DemodConv2D):
            kernel, bias, gain = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.3, bias.shape).astype("float32"),
                               (gain * rng.uniform(0.5, 1.5, gain.shape)).astype("float32")])
    return net


@pytest.fixture(scope="session", autouse=True)
def _sandbox(tmp_path_factory):
    """Every test runs in a scratch folder with a scratch user style folder and cache, so nothing a
    test writes (runs/, models, outputs, measured choices) lands in the project root or the user's
    real folders."""
    root = tmp_path_factory.mktemp("sandbox")
    (root / "styles").mkdir()
    # Offline: the bundled styles' paintings are fetched from the internet for swatches; tests that
    # test the download clear this and serve the file on loopback.
    scratch = {"FASTSTYLE_STYLE_DIR": str(root / "styles"), "FASTSTYLE_CACHE_DIR": str(root / "cache"),
               "FASTSTYLE_OFFLINE": "1"}
    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in scratch}
    os.chdir(root)
    os.environ.update(scratch)
    yield root
    os.chdir(old_cwd)
    for key, value in old_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def tiny_net():
    return random_transform_net()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory, tiny_net) -> Path:
    """A real faststyle ONNX model (float16 weights) with random weights."""
    from faststyle.training.export import export_onnx

    path = tmp_path_factory.mktemp("models") / "tiny.onnx"
    export_onnx(tiny_net, path, {"name": "tiny", "title": "Random test style"})
    return path


@pytest.fixture(scope="session")
def tiny_folded_model_path(tmp_path_factory) -> Path:
    """Like tiny_model_path, with the lite preset's half-resolution (folded) layout."""
    from faststyle.training.export import export_onnx

    path = tmp_path_factory.mktemp("models") / "tiny_folded.onnx"
    export_onnx(random_transform_net(seed=1, residual_blocks=1, edge_kernel=3, fold=True), path, {"name": "tiny_folded"})
    return path


@pytest.fixture
def user_styles(tmp_path, monkeypatch, tiny_model_path) -> Path:
    """A user style folder holding the tiny model as style 'tiny'."""
    folder = tmp_path / "user-styles"
    folder.mkdir()
    (folder / "tiny.onnx").write_bytes(tiny_model_path.read_bytes())
    monkeypatch.setenv("FASTSTYLE_STYLE_DIR", str(folder))
    return folder


def photo(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like RGB uint8 image: gradients plus a few shapes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / max(w - 1, 1) * 255, y / max(h - 1, 1) * 255, np.full_like(x, 128)], axis=-1)
    for _ in range(3):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(5, max(6, min(h, w) / 3))
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    return img.astype(np.uint8)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims a huge picture: a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


needs_shared = pytest.mark.skipif(not VGG16_WEIGHTS.is_file(), reason="../shared (VGG16 weights) not available")


class FileServer:
    """A real HTTP server on loopback serving one file (any path), with range requests; `cut_after` bytes of a response, then drops the connection."""

    def __init__(self, data: bytes):
        self.data, self.cut_after, self.requests = data, None, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append(self.headers.get("Range"))
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    if start >= len(outer.data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                else:
                    self.send_response(200)
                body = outer.data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_after is not None:
                    body = body[:outer.cut_after]
                    outer.cut_after = None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/set.tgz"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
