"""Preprocess: every change of a picture's size or shape on its way to a network, in one place.

The pipeline: image_io (decode) -> preprocess -> runtime (the network) -> postprocess -> image_io
(encode). Training, evaluation and calibration size their photos here too, so a picture is
shrunk the same way wherever it is painted.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from faststyle.architecture import PAD_MULTIPLE

# Shrinking a photo for painting: Lanczos keeps its fine detail, which the strokes follow.
SHRINK = Image.LANCZOS


def shrink_to(image: Image.Image, max_size: int | None, resample=SHRINK) -> Image.Image:
    """A copy whose long side is at most `max_size` (aspect kept; never enlarged). None: as it is."""
    if not max_size or max(image.size) <= max_size:
        return image
    image = image.copy()
    image.thumbnail((max_size, max_size), resample)
    return image


def prepare(image: Image.Image, max_size: int | None = None) -> tuple[np.ndarray, Image.Image | None]:
    """Shrinks to `max_size` (long side) and splits off alpha -> (RGB uint8 array, alpha or None)."""
    image = shrink_to(image, max_size)
    alpha = image.getchannel("A") if image.mode == "RGBA" else None
    return np.asarray(image.convert("RGB")), alpha


def resize_array(rgb: np.ndarray, size: tuple[int, int], resample=SHRINK) -> np.ndarray:
    """An HxWx3 uint8 array resized to `size` (width, height)."""
    return np.asarray(Image.fromarray(rgb).resize(size, resample))


def resize_short_side(im: Image.Image, size: int, resample=Image.BICUBIC) -> Image.Image:
    """Scaled so the short side is `size` pixels, the other side at least `size` too."""
    scale = size / min(im.size)
    return im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))), resample)


def resize_long_side(im: Image.Image, size: int, resample=Image.BICUBIC) -> Image.Image:
    """Scaled so the long side is `size` pixels (up or down)."""
    scale = size / max(im.size)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), resample)


def centre_square(im: Image.Image, size: int | None = None, resample=Image.BICUBIC) -> Image.Image:
    """The centre square of the picture, resized to `size` when given."""
    side = min(im.size)
    x, y = (im.width - side) // 2, (im.height - side) // 2
    square = im.crop((x, y, x + side, y + side))
    return square.resize((size, size), resample) if size and size != side else square


def pad_to_multiple(image: np.ndarray, multiple: int = PAD_MULTIPLE, minimum: int = 16) -> np.ndarray:
    """Mirror-pads an HxWxC array at the bottom and right to a size the network accepts."""
    h, w = image.shape[:2]
    ph = max(minimum, -(-h // multiple) * multiple) - h
    pw = max(minimum, -(-w // multiple) * multiple) - w
    if ph == 0 and pw == 0:
        return image
    # "reflect" needs at least two pixels and a pad shorter than the side; tiny images repeat.
    mode = "reflect" if min(h, w) > 1 and ph < h and pw < w else "edge"
    return np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)
