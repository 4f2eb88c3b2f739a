"""How far tiling's shared statistics move a picture: tiled against one pass, in grey levels.

    python scripts/stats_sample.py PHOTO_FOLDER [--styles wave the_scream]

Each style (full and lite) stylizes the folder's largest photos cut to full HD, and those over
2 MP at their own size, in one pass and in two tiles, the tiles normalised with statistics from
crops at full resolution (runtime.stats_crops, what faststyle does) or from a 1 MP downscaled
copy (what it did before). Prints the mean absolute difference to one pass and the time of the
crops' statistics pass on the full-HD images.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from faststyle.preprocess import pad_to_multiple
from faststyle.runtime import StyleModel, downscaled_copy
from faststyle.styles import available_styles

COPY_PIXELS = 1024 * 1024


def copy_stats(model: StyleModel, rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The earlier statistics: the whole network's, on the image downscaled to COPY_PIXELS."""
    small = pad_to_multiple(downscaled_copy(rgb, COPY_PIXELS))
    names = model._stat_names
    return dict(zip(names, model.session.run(names, {"image": small[None].astype(np.float32)})))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--styles", nargs="*")
    parser.add_argument("--count", type=int, default=4, help="photos cut to full HD")
    args = parser.parse_args()
    files = sorted((p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")),
                   key=lambda p: -np.prod(Image.open(p).size))[:args.count]
    photos = [Image.open(p).convert("RGB") for p in files]
    images = [np.asarray(ImageOps.fit(p, (1920, 1080))) for p in photos]
    images += [np.asarray(p) for p in photos if p.width * p.height > 2 * 1024 * 1024]
    print(f"{len(images)} images: {args.count} at 1920x1080, the rest at their own size (of {len(files)} photos)")
    print("| model | grey levels from one pass, crops | the same, copy | statistics pass, crops |")
    print("|---|---:|---:|---:|")
    for style in available_styles():
        if args.styles and style.name not in args.styles:
            continue
        for kind, path in (("full", style.path), ("lite", style.lite)):
            if path is None:
                continue
            model = StyleModel.load(path)
            moved = {"crops": [], "copy": []}
            times = []
            for rgb in images:
                one = model.transform(rgb, max_untiled_pixels=10**9).astype(np.int16)
                half = rgb.shape[0] * (rgb.shape[1] // 2 + 2 * model.architecture.tile_margin())
                start = time.perf_counter()
                crops = model.norm_stats(rgb)
                times.append(time.perf_counter() - start)
                for method, stats in (("crops", crops), ("copy", copy_stats(model, rgb))):
                    tiled = model.transform(rgb, max_untiled_pixels=0, max_tile_pixels=half, stats=stats)
                    moved[method].append(np.abs(tiled - one).mean())
            print(f"| `{style.name}` {kind} | {np.mean(moved['crops']):.2f} | {np.mean(moved['copy']):.2f} "
                  f"| {statistics.median(times[:args.count]) * 1000:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
