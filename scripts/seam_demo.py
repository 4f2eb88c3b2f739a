"""Shows why tiles share normalisation statistics: a crop across a tile boundary, three ways.

    python scripts/seam_demo.py --style wave -o docs/seams.png

Left: naive tiles, each normalised on its own. Middle: faststyle's tiles (shared statistics).
Right: the whole image in one pass. Also prints the mean difference of each to the one-pass result.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from faststyle.api import load_style
from faststyle.preprocess import pad_to_multiple
from faststyle.runtime import MARGIN
from faststyle.styles import sample_image_path

TILE = 512


def naive_tiles(model, rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    step = TILE - 2 * MARGIN
    out = np.empty_like(rgb)
    padded = pad_to_multiple(rgb)
    for y in range(0, h, step):
        for x in range(0, w, step):
            y0, x0 = max(0, y - MARGIN), max(0, x - MARGIN)
            tile = padded[y0:y + step + MARGIN, x0:x + step + MARGIN]
            styled = model.transform(tile, max_untiled_pixels=tile.shape[0] * tile.shape[1])  # this tile's statistics
            cy1, cx1 = min(y + step, h), min(x + step, w)
            out[y:cy1, x:cx1] = styled[y - y0:cy1 - y0, x - x0:cx1 - x0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--style", default="wave")
    parser.add_argument("-o", "--output", default="docs/seams.png")
    args = parser.parse_args()
    model = load_style(args.style)
    photo = Image.open(sample_image_path()).convert("RGB").resize((1000, 1000), Image.LANCZOS)
    rgb = np.asarray(photo)
    whole = model.transform(rgb)
    shared = model.transform(rgb, max_untiled_pixels=0, max_tile_pixels=TILE * TILE)
    naive = naive_tiles(model, rgb)
    for name, img in (("naive tiles", naive), ("shared statistics", shared)):
        print(f"{name}: mean |difference| to one pass = {np.abs(img.astype(int) - whole).mean():.2f} grey levels")
    boundary = TILE - 2 * MARGIN  # first tile edge
    crop = (slice(boundary - 128, boundary + 128), slice(boundary - 128, boundary + 128))
    strip = np.concatenate([naive[crop], np.full((256, 6, 3), 255, np.uint8), shared[crop],
                            np.full((256, 6, 3), 255, np.uint8), whole[crop]], axis=1)
    Image.fromarray(strip).save(args.output)
    print(f"wrote {args.output}: naive | shared statistics | one pass (crop centred on a tile corner)")


if __name__ == "__main__":
    main()
