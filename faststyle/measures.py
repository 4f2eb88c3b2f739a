"""Numbers for what a person sees in a stylized picture (numpy only, no TensorFlow).

- `blown_white_share`: flat white blobs, the artifact users notice first.
- `tonal_correlation`: whether the picture keeps the photo's light and dark layout.
- `flattened_share`: textured parts of the photo (rock, bark, foliage) painted as one flat tone,
  the photo's detail lost there.
- `block_grid_ratio`: a visible grid of 2x2 blocks, the risk of painting at half resolution
  and unfolding (architecture.py, `fold`).
- `stride_pattern`: fine dashes repeating every 2 or 4 pixels, the networks' strides, which a
  network can paint into flat areas.
- `shift_consistency`: whether the same strokes are painted when the picture moves by a few
  pixels, as in a camera pan (video shimmers where they are not).
"""

from __future__ import annotations

import numpy as np

WHITE_LEVEL = 250  # every channel at or above this counts as blown to white
TONE_BLOCK = 32    # box size for the tonal layout, in pixels
LUMA = (0.299, 0.587, 0.114)  # RGB weights of luminance (ITU-R BT.601), here and in the training loss's layout term


def _same_shape(stylized: np.ndarray, photo: np.ndarray) -> None:
    if np.shape(stylized) != np.shape(photo):
        raise ValueError(f"shapes differ: stylized {np.shape(stylized)}, photo {np.shape(photo)}")


def blown_white_share(stylized: np.ndarray, photo: np.ndarray, level: int = WHITE_LEVEL) -> float:
    """Share of pixels the model blew to white where the photo itself was not white.

    Both are HxWx3 arrays on the 0..255 scale (the stylized one as users get it, i.e. clipped).
    """
    _same_shape(stylized, photo)
    blown = np.all(np.asarray(stylized) >= level, axis=-1)
    white_in_photo = np.all(np.asarray(photo) >= level, axis=-1)
    return float(np.mean(blown & ~white_in_photo))


def detail(picture: np.ndarray) -> float:
    """Mean absolute difference of neighbouring pixels, down and across: what blurring takes away,
    and what a flat sky lacks."""
    picture = np.asarray(picture, np.float32)
    return float(np.mean([np.abs(np.diff(picture, axis=a)).mean() for a in (0, 1)]))


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, np.float64) @ np.array(LUMA)


def _blocks(plane: np.ndarray, block: int) -> np.ndarray:
    """The plane's whole block x block squares, as (rows, block, columns, block)."""
    h, w = (plane.shape[0] // block) * block, (plane.shape[1] // block) * block
    return plane[:h, :w].reshape(h // block, block, w // block, block)


def _box_average(plane: np.ndarray, block: int) -> np.ndarray:
    return _blocks(plane, block).mean(axis=(1, 3))


def tonal_correlation(stylized: np.ndarray, photo: np.ndarray, block: int = TONE_BLOCK) -> float:
    """Pearson correlation of block-averaged luminance, stylized vs photo (1 = same layout).

    NaN when the photo is too small for two blocks or flat.
    """
    a = _box_average(_luminance(stylized), block).ravel()
    b = _box_average(_luminance(photo), block).ravel()
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


FLAT_BLOCK = 16      # pixels: the squares flattened_share looks at
TEXTURED_LEVEL = 12  # grey levels of spread inside a square: texture anyone sees in the photo...
FLAT_LEVEL = 4       # ...and a spread below this reads as one flat tone


def flattened_share(stylized: np.ndarray, photo: np.ndarray, block: int = FLAT_BLOCK) -> float:
    """Share of the photo's textured squares (luminance spread >= TEXTURED_LEVEL) that the picture
    paints nearly flat (spread < FLAT_LEVEL): detail the painting wiped out, such as a granite
    cliff painted as a plain pale wall. Flat parts of the photo (sky) do not count. 0 where the
    photo has no texture."""
    _same_shape(stylized, photo)
    textured = _blocks(_luminance(photo), block).std(axis=(1, 3)) >= TEXTURED_LEVEL
    flat = _blocks(_luminance(stylized), block).std(axis=(1, 3)) < FLAT_LEVEL
    return float(np.mean(flat[textured])) if textured.any() else 0.0


def block_grid_ratio(stylized: np.ndarray, block: int = 2) -> float:
    """Mean luminance step between neighbours in different blocks over that within a block.

    Blocks start at the top-left pixel, as the network's folds do. About 1 for a picture
    without a 2-pixel pattern (a photo is alike everywhere at this scale); a grid with a jump
    at every block edge gives well above 1, a pattern inside the blocks below 1 (the 2x
    upsampling's phases leave a faint one: 0.8 for the unfolded networks).
    """
    lum = _luminance(stylized)
    steps = []
    for axis in (0, 1):
        d = np.abs(np.diff(lum, axis=axis))
        across = np.take(d, np.arange(block - 1, d.shape[axis], block), axis=axis)
        within = np.delete(d, np.arange(block - 1, d.shape[axis], block), axis=axis)
        steps.append((across.mean(), within.mean()))
    across, within = sum(a for a, _ in steps), sum(w for _, w in steps)
    if within == 0:  # flat inside every block: all grid, or (across == 0 too) a flat picture
        return float("inf") if across > 0 else float("nan")
    return float(across / within)


STRIDE_PERIODS = (2, 4)  # pixels: the networks' strides (the lite networks fold 2x2 blocks, then stride 2)


def stride_pattern(picture: np.ndarray, period: int = 4, reach: int = 8) -> float:
    """Grey levels of luminance that repeat every `period` pixels along rows or columns.

    Each row's spectrum, averaged over the rows (then the same for the columns): the power at
    that period above the median of the `reach` frequencies on either side of it (below it only,
    for 2 px: the highest frequency there is), as the amplitude of a wave; the larger of the two
    axes. A photo has no such period (0-0.7, JPEG's 8 px blocks included); dashes every 4 px,
    6 grey levels high, over half of each row, score 1.5.
    """
    lum = _luminance(picture)
    amplitudes = []
    for plane in (lum, lum.T):
        n = plane.shape[1]
        power = (np.abs(np.fft.rfft(plane - plane.mean(axis=1, keepdims=True), axis=1)) ** 2).mean(axis=0)
        k = min(round(n / period), power.size - 1)  # an odd width has no exact 2 px bin
        if k < reach + 1:
            raise ValueError(f"a {n} px side is too short to find a {period} px period")
        nearby = np.r_[power[k - reach:k], power[k + 1:k + reach + 1]]
        excess = max(float(power[k] - np.median(nearby)), 0.0)
        amplitudes.append((1 if 2 * k == n else 2) * np.sqrt(excess) / n)  # the 2 px bin holds a wave once
    return float(max(amplitudes))


SHIFTS = tuple(range(1, 9))  # pixels: one to two steps of the networks' stride of 4
SHIFT_BORDER = 32            # pixels left out at the edges, where a shift changes what the network sees


def shift_consistency(paint, rgb: np.ndarray, shifts: tuple[int, ...] = SHIFTS,
                      border: int = SHIFT_BORDER) -> dict[int, float]:
    """Per shift d: mean absolute grey levels between paint(the photo moved d px) and paint(the photo)
    moved the same way, in x and in y (their mean), away from the borders. 0: the strokes move
    with the picture; the networks' stride makes shifts that are not multiples of 4 the test.

    paint: uint8 HxWx3 -> HxWx3 picture (e.g. StyleModel.transform).
    """
    base = np.asarray(paint(rgb), dtype=np.float32)
    h, w = rgb.shape[:2]
    errors = {}
    for d in shifts:
        if min(h, w) <= 2 * border + d:
            raise ValueError(f"a {w}x{h} picture is too small to shift by {d} px with a {border} px border")
        moved_x = np.asarray(paint(np.ascontiguousarray(rgb[:, d:])), dtype=np.float32)  # content moves left by d
        moved_y = np.asarray(paint(np.ascontiguousarray(rgb[d:, :])), dtype=np.float32)
        ex = np.abs(moved_x[border:-border, border:-border] - base[border:-border, d + border:-border])
        ey = np.abs(moved_y[border:-border, border:-border] - base[d + border:-border, border:-border])
        errors[d] = float((ex.mean() + ey.mean()) / 2)
    return errors
