"""Pixel-wise finishing of the network output: colour preservation and strength.

Both work on any piece of the image, so tiled runs apply them tile by tile.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

# How a piece of the network's float picture becomes pixels: finish(source, stylized) -> uint8.
# The network step takes one, so that this pixel-wise work runs tile by tile on large pictures.
Finish = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Full-range BT.601 (JPEG) conversion between RGB and YCbCr.
_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                      [-0.168736, -0.331264, 0.5],
                      [0.5, -0.418688, -0.081312]], np.float32)
_TO_RGB = np.linalg.inv(_TO_YCBCR).astype(np.float32)


def luminance_transfer(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The stylized image's luminance with the original's colour (chroma).

    Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer",
    luminance-only transfer: the painting's strokes, the photo's colours.
    """
    luma = stylized.astype(np.float32) @ _TO_YCBCR[0]
    ycbcr = original.astype(np.float32) @ _TO_YCBCR.T
    ycbcr[..., 0] = luma
    return ycbcr @ _TO_RGB.T


def finish(original: np.ndarray, stylized: np.ndarray, strength: float = 1.0,
           preserve_colors: bool = False) -> np.ndarray:
    """Network output (float, any range) -> uint8 image, blended with the original by `strength`."""
    out = stylized.astype(np.float32, copy=False)
    if preserve_colors:
        out = luminance_transfer(original, out)
    if strength < 1.0:
        out = strength * out + (1.0 - strength) * original.astype(np.float32)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def check_strength(strength: float) -> float:
    from faststyle.errors import FaststyleError

    if not 0.0 <= strength <= 1.0:
        raise FaststyleError(f"strength must be between 0 and 1, got {strength}")
    return float(strength)


def upsample_with_detail(stylized: np.ndarray, photo: np.ndarray, detail: float = 1.0) -> np.ndarray:
    """A stylized picture painted at a lower resolution, brought to the photo's size (float RGB).

    Plain upsampling blurs every edge. The photo's own fine detail (what its downscaled copy lost)
    is added back to the luminance, so edges stay as sharp as the photo's while the strokes keep
    their larger size and the colours stay the painting's.
    """
    from PIL import Image

    h, w = photo.shape[:2]
    small_h, small_w = stylized.shape[:2]
    up = np.asarray(Image.fromarray(stylized).resize((w, h), Image.BICUBIC), np.float32)
    blurred = Image.fromarray(photo).resize((small_w, small_h), Image.LANCZOS).resize((w, h), Image.BICUBIC)
    high = (photo.astype(np.float32) - np.asarray(blurred, np.float32)) @ _TO_YCBCR[0]  # luminance detail
    return up + detail * high[..., None]
