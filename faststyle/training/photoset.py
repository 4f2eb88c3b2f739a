"""Training photos for users without a folder of their own: a public set, downloaded once.

`faststyle train PAINTING` without --content-dir uses `DEFAULT_SET`, fetched into the user
cache folder the first time: the download is checksummed, shows a progress bar, and
continues where it stopped when interrupted (an HTTP range request on the partial file).
No TensorFlow here; plain urllib, so any HTTP server (and a test's loopback one) will do.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from faststyle.errors import FaststyleError
from faststyle.styles import CACHE_ENV, cache_dir

CHUNK = 1 << 20


@dataclass(frozen=True)
class PhotoSet:
    name: str          # folder name in the cache
    url: str
    sha256: str        # of the archive
    approx_size: int   # bytes of the archive, about: for the disk check before downloading
    licence: str
    image_size: int    # short side the photos are trained at (their own size: no upscaling)


# Imagenette (fast.ai, Jeremy Howard): 13,394 ImageNet photos of 10 classes, short side 160 px,
# 94 MB. Checksum as published for this archive by FastAI.jl's dataset registry (docs/training.md).
DEFAULT_SET = PhotoSet(
    name="imagenette2-160",
    url="https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
    sha256="88daccb09b6fce93f45e6c09ddeb269cce705549e6bff322092a2a5a11489863",
    approx_size=95_000_000,
    licence="ImageNet photos: research and non-commercial use (ImageNet's terms)",
    image_size=160,
)
DONE_MARKER = ".complete"


def photo_folder(photo_set: PhotoSet = DEFAULT_SET, progress: bool = True, root: Path | None = None) -> Path:
    """The set's photos, downloaded and unpacked on first use; returns their folder."""
    folder = (root or cache_dir()) / "photos" / photo_set.name
    if (folder / DONE_MARKER).is_file():
        return folder
    archive = download(photo_set, folder.parent / f"{photo_set.name}.archive", progress)
    _unpack(archive, folder)
    archive.unlink()
    return folder


def download(photo_set: PhotoSet, target: Path, progress: bool = True) -> Path:
    """Downloads `photo_set`'s archive to `target`, resuming a partial `target.part`; checks its sha256."""
    from tqdm import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and _sha256(target) == photo_set.sha256:
        return target
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    free = shutil.disk_usage(target.parent).free
    if free < photo_set.approx_size - have:
        raise FaststyleError(f"not enough disk space for the training photos in {target.parent}: "
                             f"about {(photo_set.approx_size - have) / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free. "
                             f"Free some space, set {CACHE_ENV}, or pass your own photos with --content-dir")
    request = urllib.request.Request(photo_set.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code != 416:  # 416: nothing left past `have`, the partial file is whole
            raise _download_error(photo_set, exc) from None
        response = None
    except (urllib.error.URLError, OSError) as exc:
        raise _download_error(photo_set, exc) from None
    if response is not None:
        with response:
            if have and response.status != 206:  # the server ignored the range: start over
                have = 0
            length = response.headers.get("Content-Length")
            with open(part, "ab" if have else "wb") as out, tqdm(
                    total=have + int(length) if length else None, initial=have, unit="B", unit_scale=True,
                    disable=not progress, desc=f"downloading {photo_set.name} photos (once)") as bar:
                received = 0
                try:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                    raise _download_error(photo_set, exc, resumable=True) from None
                if length and received < int(length):
                    raise _download_error(photo_set, "connection closed early", resumable=True)
    if _sha256(part) != photo_set.sha256:
        part.unlink()
        raise FaststyleError(f"the downloaded training photos ({photo_set.url}) do not match their checksum "
                             "and were deleted; run again to download them anew, or pass --content-dir")
    part.replace(target)
    return target


def _download_error(photo_set: PhotoSet, exc: Exception | str, resumable: bool = False) -> FaststyleError:
    again = "run again to continue the download" if resumable else "check the connection and run again"
    return FaststyleError(f"could not download the training photos from {photo_set.url} ({exc}); {again}, "
                          "or pass a folder of your own photos with --content-dir")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _safe(name: str) -> bool:
    parts = Path(name).parts
    return not Path(name).is_absolute() and ".." not in parts


def _unpack(archive: Path, folder: Path) -> None:
    """Unpacks a .tar(.gz) archive into `folder` (regular files and folders only), then marks it complete."""
    staging = folder.with_name(folder.name + ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, filter="data")  # no links out, no absolute paths, no devices
            else:  # Python before 3.10.12 / 3.11.4: regular files and folders with safe names only
                members = [m for m in tar.getmembers() if (m.isfile() or m.isdir()) and _safe(m.name)]
                tar.extractall(staging, members=members)
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink(missing_ok=True)
        raise FaststyleError(f"could not unpack the training photos ({exc}); run again to download them anew") from None
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    (folder / DONE_MARKER).write_text("")
