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


# The grid anchor looks for its point in the centre of the photo, at most this many pixels a side:
# bounded memory, and a point far from the edges, which a crop or a shift changes first.
ANCHOR_WINDOW = 2048


def grid_anchor(rgb: np.ndarray, window: int = ANCHOR_WINDOW) -> tuple[int, int]:
    """(top, left) padding, each 0..3, that puts the photo's most distinctive point on the
    networks' 4 px grid; painted that way, a moved or cropped copy of the photo lines up on the same
    phase of the grid, so the network paints the same strokes on it (adaptive polyphase sampling,
    Chaman & Dokmanic 2021, done once at the input).

    The point: the strongest response of a Laplacian of the 3x3-blurred luminance, in integers so
    that equal pixels give equal answers; the first in reading order on a tie, which a shift keeps.
    In 16-bit integers (luminance (R + 2G + B) / 4): about 10 ms a megapixel.
    """
    h, w = rgb.shape[:2]
    y0, x0 = max(0, (h - window) // 2), max(0, (w - window) // 2)
    part = rgb[y0:y0 + window, x0:x0 + window].astype(np.int16)
    if min(part.shape[:2]) < 5:
        return 0, 0
    lum = (part[..., 0] + 2 * part[..., 1] + part[..., 2]) >> 2  # 0..255: the sums below stay within 16 bits
    box = lum[:-2] + lum[1:-1] + lum[2:]
    box = box[:, :-2] + box[:, 1:-1] + box[:, 2:]  # the 3x3 sum centred on (1.., 1..)
    laplacian = np.abs(4 * box[1:-1, 1:-1] - box[:-2, 1:-1] - box[2:, 1:-1] - box[1:-1, :-2] - box[1:-1, 2:])
    y, x = np.unravel_index(int(np.argmax(laplacian)), laplacian.shape)
    return int(-(y0 + y + 2) % PAD_MULTIPLE), int(-(x0 + x + 2) % PAD_MULTIPLE)


def onto_grid(image: np.ndarray, grid: tuple[int, int] | None = None) -> tuple[np.ndarray, int, int]:
    """-> (image mirror-padded by `top` rows and `left` columns, top, left): the picture placed on
    the grid phase `grid` asks for, or grid_anchor's when None. Crop [top:, left:] off after painting."""
    top, left = grid_anchor(image) if grid is None else grid
    if not top and not left:
        return image, 0, 0
    mode = "reflect" if image.shape[0] > top and image.shape[1] > left else "edge"
    return np.pad(image, ((top, 0), (left, 0), (0, 0)), mode=mode), top, left
