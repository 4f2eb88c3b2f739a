"""A bundled style's painting, fetched once from its published address for the swatch: against a
real HTTP server on loopback (no internet needed), and in the app's gallery."""

from __future__ import annotations

import hashlib
import io
import tomllib
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from faststyle.api import painting_swatch
from faststyle.errors import FaststyleError
from faststyle.model_file import ModelCard, card_from_session, model_props, read_card, set_model_props
from faststyle.paintings import OFFLINE_ENV, cached_painting_path, painting
from faststyle.styles import bundled_style_names, resolve_style
from tests.conftest import FileServer

ROOT = Path(__file__).resolve().parents[1]


def _painting_jpeg() -> bytes:
    """A 'painting': left half red, right half blue, 300x200."""
    rgb = np.zeros((200, 300, 3), np.uint8)
    rgb[:, :150] = (220, 30, 30)
    rgb[:, 150:] = (30, 30, 220)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=95)
    return out.getvalue()


def _model_naming(tiny_model_path: Path, target: Path, url: str, sha256: str) -> Path:
    """The tiny model with a card that names a published painting, as the bundled ones do."""
    proto = onnx.load(str(tiny_model_path))
    card = ModelCard.from_dict({**card_from_session(proto).to_dict(), "painting_url": url, "painting_sha256": sha256})
    set_model_props(proto, model_props(card))
    target.write_bytes(proto.SerializeToString())
    return target


@pytest.fixture
def online(monkeypatch, tmp_path):
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    monkeypatch.setenv("FASTSTYLE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def served():
    data = _painting_jpeg()
    server = FileServer(data)
    yield server, hashlib.sha256(data).hexdigest()
    server.close()


def test_the_painting_is_downloaded_once_and_then_read_from_the_cache(online, served, tiny_model_path, tmp_path):
    server, sha = served
    model = _model_naming(tiny_model_path, tmp_path / "styled.onnx", server.url, sha)
    swatch = painting_swatch(model, 64)
    assert swatch.size == (64, 64)
    left, right = np.asarray(swatch)[:, :16].mean(axis=(0, 1)), np.asarray(swatch)[:, -16:].mean(axis=(0, 1))
    assert left[0] > 180 > left[2] and right[2] > 180 > right[0]  # the painting's own colours
    card = read_card(model)
    assert cached_painting_path(card).is_file()
    assert max(Image.open(cached_painting_path(card)).size) == 256  # a thumbnail is kept, not the file
    server.close()
    assert painting_swatch(model, 64) is not None  # from the cache: the server is gone
    assert len(server.requests) == 1


def test_a_wrong_checksum_keeps_nothing(online, served, tiny_model_path, tmp_path):
    server, _ = served
    model = _model_naming(tiny_model_path, tmp_path / "styled.onnx", server.url, "0" * 64)
    with pytest.raises(FaststyleError, match="checksum"):
        painting_swatch(model)
    assert not cached_painting_path(read_card(model)).exists()


def test_offline_nothing_is_fetched(monkeypatch, online, served, tiny_model_path, tmp_path):
    server, sha = served
    model = _model_naming(tiny_model_path, tmp_path / "styled.onnx", server.url, sha)
    monkeypatch.setenv(OFFLINE_ENV, "1")
    assert painting_swatch(model) is None
    assert painting_swatch(model, download=True) is None
    assert server.requests == []


def test_an_unreachable_or_oversized_painting_is_one_clear_error(online, served, tiny_model_path, tmp_path,
                                                                 monkeypatch):
    server, sha = served
    gone = _model_naming(tiny_model_path, tmp_path / "gone.onnx", "http://127.0.0.1:9/painting.jpg", sha)
    with pytest.raises(FaststyleError, match=f"could not download the painting.*{OFFLINE_ENV}=1"):
        painting(read_card(gone))
    monkeypatch.setattr("faststyle.paintings.MAX_BYTES", 1000)
    model = _model_naming(tiny_model_path, tmp_path / "styled.onnx", server.url, sha)
    with pytest.raises(FaststyleError, match="larger than"):
        painting(read_card(model))
    assert not cached_painting_path(read_card(model)).exists()


@pytest.mark.parametrize("name", bundled_style_names())
def test_every_bundled_style_names_its_painting_as_its_recipe_does(name):
    """The address is a file pinned to one commit of a public repository, so its checksum holds."""
    recipe = tomllib.loads((ROOT / "recipes" / f"{name}.toml").read_text())["painting"]
    for fast in (False, True):
        card = read_card(resolve_style(name, fast=fast))
        assert (card.painting_url, card.painting_sha256) == (recipe["painting_url"], recipe["painting_sha256"])
        commit = card.painting_url.split("/")[5]
        assert card.painting_url.startswith("https://raw.githubusercontent.com/") and len(commit) == 40
        assert len(card.painting_sha256) == 64


def test_the_gallery_shows_a_sample_at_once_and_the_painting_when_it_arrives(online, served, tiny_model_path,
                                                                             tmp_path, qtbot):
    from faststyle.gui.worker import SwatchMaker
    from faststyle.styles import StyleInfo, sample_image_path

    server, sha = served
    good = _model_naming(tiny_model_path, tmp_path / "good.onnx", server.url, sha)
    bad = _model_naming(tiny_model_path, tmp_path / "bad.onnx", server.url, "0" * 64)
    maker = SwatchMaker(tmp_path / "swatches", sample_image_path("chelsea"))
    shown = []
    maker.ready.connect(lambda name, file: shown.append((name, file)))
    maker.make([StyleInfo("good", good, "bundled"), StyleInfo("bad", bad, "bundled")])
    qtbot.waitUntil(lambda: maker.pool.activeThreadCount() == 0, timeout=30000)
    names = [name for name, _ in shown]
    assert names[:2] == ["good", "bad"]  # every swatch at once, from the sample
    assert all(file.endswith("-sample.png") for _, file in shown[:2])
    # The good painting arrived and replaced its sample; the bad one failed and the downloads stopped.
    assert shown[2:] == [("good", shown[2][1])] and not shown[2][1].endswith("-sample.png")
    red = np.asarray(Image.open(shown[2][1]).convert("RGB"))[:, :10].mean(axis=(0, 1))
    assert red[0] > 180 > red[2]
    # The next start shows the cached painting at once and tries the failed one again.
    shown.clear()
    maker.make([StyleInfo("good", good, "bundled"), StyleInfo("bad", bad, "bundled")])
    qtbot.waitUntil(lambda: maker.pool.activeThreadCount() == 0, timeout=30000)
    assert shown[0] == ("good", shown[0][1]) and not shown[0][1].endswith("-sample.png")
    assert shown[1][0] == "bad" and shown[1][1].endswith("-sample.png") and len(shown) == 2
    assert len(server.requests) == 3  # good once, bad twice
    # A model file from elsewhere naming an address makes no request: only bundled cards are fetched.
    other = _model_naming(tiny_model_path, tmp_path / "other.onnx", server.url, "1" * 64)
    shown.clear()
    maker.make([StyleInfo("other", other, "user")])
    qtbot.waitUntil(lambda: maker.pool.activeThreadCount() == 0, timeout=30000)
    assert len(shown) == 1 and shown[0][1].endswith(".png") and len(server.requests) == 3
