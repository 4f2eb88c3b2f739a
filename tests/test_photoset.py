"""The training-photo download, against a real HTTP server on loopback (no internet needed)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from faststyle.errors import FaststyleError
from faststyle.training import photoset
from tests.conftest import FileServer


def _archive() -> bytes:
    """A .tgz of 3 small JPEGs in a subfolder, as the real set is laid out."""
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(3):
            jpeg = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(jpeg, "JPEG")
            info = tarfile.TarInfo(f"set/train/photo{i}.jpg")
            info.size = len(jpeg.getvalue())
            tar.addfile(info, io.BytesIO(jpeg.getvalue()))
    return buf.getvalue()


@pytest.fixture
def served():
    data = _archive()
    server = FileServer(data)
    photo_set = replace(photoset.DEFAULT_SET, name="testset", url=server.url,
                        sha256=hashlib.sha256(data).hexdigest(), approx_size=len(data))
    yield server, photo_set
    server.close()


def test_download_unpacks_the_photos_once(served, tmp_path):
    server, photo_set = served
    folder = photoset.photo_folder(photo_set, progress=False, root=tmp_path)
    assert sorted(p.name for p in folder.rglob("*.jpg")) == ["photo0.jpg", "photo1.jpg", "photo2.jpg"]
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.archive"))
    assert photoset.photo_folder(photo_set, progress=False, root=tmp_path) == folder
    assert len(server.requests) == 1  # the second call found the photos in the cache


def test_a_bad_checksum_is_refused_and_leaves_nothing(served, tmp_path):
    _, photo_set = served
    with pytest.raises(FaststyleError, match="checksum"):
        photoset.photo_folder(replace(photo_set, sha256="0" * 64), progress=False, root=tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_an_interrupted_download_resumes_where_it_stopped(served, tmp_path):
    server, photo_set = served
    server.cut_after = len(server.data) // 2
    with pytest.raises(FaststyleError, match="run again"):
        photoset.photo_folder(photo_set, progress=False, root=tmp_path)
    part = next(tmp_path.rglob("*.part"))
    assert part.stat().st_size == len(server.data) // 2
    folder = photoset.photo_folder(photo_set, progress=False, root=tmp_path)
    assert len(list(folder.rglob("*.jpg"))) == 3
    assert server.requests == [None, f"bytes={len(server.data) // 2}-"]


def test_no_server_is_one_clear_error(tmp_path):
    photo_set = replace(photoset.DEFAULT_SET, url="http://127.0.0.1:9/none.tgz")
    with pytest.raises(FaststyleError, match="--content-dir"):
        photoset.photo_folder(photo_set, progress=False, root=tmp_path)
