"""The painting a style was trained on, as a small picture (the app's swatches, `painting_swatch`).

A style made with `faststyle train` carries a thumbnail of its painting in its card. The bundled
styles cannot: the photographs of their paintings are not the project's to ship. Their cards say
where each photograph is published (`painting_url`, a file pinned to one commit of a public
repository) and its sha256. The first time the painting is asked for, it is downloaded, checked and
kept in the cache as a thumbnail; after that no network is needed. FASTSTYLE_OFFLINE=1 turns the
download off, and callers then show a sample painted in the style instead.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image

from faststyle.errors import FaststyleError
from faststyle.files import atomic_write_bytes
from faststyle.image_io import decode_image
from faststyle.model_file import ModelCard
from faststyle.styles import cache_dir

OFFLINE_ENV = "FASTSTYLE_OFFLINE"
MAX_BYTES = 16 << 20    # a painting's photograph: the bundled ones are 0.1-0.7 MB
TIMEOUT_S = 15          # per connection attempt and per read
THUMBNAIL_SIDE = 256    # what is kept: larger than any swatch


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def cached_painting_path(card: ModelCard, root: Path | None = None) -> Path | None:
    """Where a downloaded painting's thumbnail is kept (named by its checksum); None without a URL."""
    if not (card.painting_url and card.painting_sha256):
        return None
    return (root or cache_dir()) / "paintings" / f"{card.painting_sha256[:32]}.png"


def painting(card: ModelCard, download: bool = True) -> Image.Image | None:
    """The card's painting, small: its own thumbnail, else the published photograph (cached after
    the first download). None when the card names none, or it is not cached and downloading is off
    (`download=False` or FASTSTYLE_OFFLINE). A failed download raises FaststyleError."""
    own = card.painting()
    if own is not None:
        return own
    cached = cached_painting_path(card)
    if cached is None:
        return None
    if cached.is_file():
        try:
            return decode_image(cached, cached)
        except FaststyleError:
            cached.unlink(missing_ok=True)  # a damaged cache file is fetched again
    if not download or offline():
        return None
    data = _fetch(card.painting_url, MAX_BYTES)
    if hashlib.sha256(data).hexdigest() != card.painting_sha256:
        raise FaststyleError(f"the painting downloaded from {card.painting_url} does not match its checksum; "
                             "nothing was kept")
    image = decode_image(io.BytesIO(data), card.painting_url).convert("RGB")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cached, buffer.getvalue())
    return image


def _fetch(url: str, max_bytes: int) -> bytes:
    """The body of `url`, at most `max_bytes`; FaststyleError on any failure."""
    if not url.startswith(("https://", "http://")):
        raise FaststyleError(f"the painting's address {url!r} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            data = response.read(max_bytes + 1)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise FaststyleError(f"could not download the painting from {url} ({exc}); "
                             f"check the connection, or set {OFFLINE_ENV}=1 to stop trying") from None
    if len(data) > max_bytes:
        raise FaststyleError(f"the painting at {url} is larger than {max_bytes >> 20} MB; it was not kept")
    return data
