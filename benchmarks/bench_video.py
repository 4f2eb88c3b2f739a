"""Steady video: warping error of painted clips, frame by frame against --stable, beside the input's own.

    python benchmarks/bench_video.py PHOTO [PHOTO ...] [--styles wave,udnie] [--fast] [--frames 32] [--flow dis-fast]

For each photo, a pan of (3, 1) px a frame and a hand-held clip (temporal.camera_clip, 320x240)
are filmed over it; each style paints them frame by frame (video.FramePainter with stable=False:
the running-average statistics only) and with the flow carry (stable=True, the default of
`faststyle video`). Printed per style and motion, averaged over the photos: the warping error
(temporal.warping_error, grey levels) of the input, of each painting, of the photo painted once
and filmed by the same camera ("glued": a painting that moves exactly with the scene, the least a
painted clip can score on this measure), the steady one's ratio to the input's, to frame by frame
and to glued, how much detail it keeps (mean gradient against frame by frame), and milliseconds a
frame for each. --flow: the flow the measure follows (Farneback by default; DIS at the preset the
steady path itself uses, or a faster one: how much of the floor is the estimator's, docs/video.md).
Use photos the styles never saw (not their training photos).
Times mean something only within one run on one host; the CPU is printed.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faststyle import measures  # noqa: E402
from faststyle.api import load_style  # noqa: E402
from faststyle.image_io import load_image  # noqa: E402
from faststyle.machine import cpu_summary  # noqa: E402
from faststyle.styles import bundled_style_names  # noqa: E402
from faststyle.temporal import MEASURING_FLOWS, camera_clip, warping_error  # noqa: E402
from faststyle.video import FramePainter  # noqa: E402


def detail(frames: list[np.ndarray]) -> float:
    """measures.detail over a clip's frames."""
    return float(np.mean([measures.detail(f) for f in frames]))


def paint(model, clip: list[np.ndarray], stable: bool) -> tuple[list[np.ndarray], float]:
    painter = FramePainter(model, stable=stable)
    start = time.perf_counter()
    frames = list(painter.paint_all(clip))
    return frames, 1000 * (time.perf_counter() - start) / len(clip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+", help="landscape photos of at least 480x320 the styles never saw")
    parser.add_argument("--styles", default="all", help="comma-separated names (default: every bundled style)")
    parser.add_argument("--fast", action="store_true", help="the lite networks")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--flow", choices=MEASURING_FLOWS, default="farneback", help="the measure's flow estimator")
    args = parser.parse_args()
    styles = bundled_style_names() if args.styles == "all" else args.styles.split(",")
    photos = [np.asarray(load_image(p).convert("RGB")) for p in args.photos]
    clips = {(i, m): camera_clip(p, m, args.frames) for i, p in enumerate(photos) for m in ("pan", "handheld")}
    error = functools.partial(warping_error, flow=args.flow)
    floor = {key: error(clip) for key, clip in clips.items()}
    print(cpu_summary())
    print(f"{len(photos)} photo(s), {args.frames} frames of 320x240 each, {'lite' if args.fast else 'full'} networks, "
          f"{args.flow} flow")
    print("| style | motion | input | frame by frame | steady | glued | steady / input | steady / frame by frame "
          "| steady / glued | glued / input | detail kept | ms/frame plain | ms/frame steady |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for style in styles:
        model = load_style(style, fast=args.fast)
        painted_once = [model.transform(p) for p in photos]
        for motion in ("pan", "handheld"):
            rows = []
            for i in range(len(photos)):
                clip = clips[(i, motion)]
                plain, ms_plain = paint(model, clip, stable=False)
                steady, ms_steady = paint(model, clip, stable=True)
                glued = camera_clip(painted_once[i], motion, args.frames)
                rows.append((floor[(i, motion)], error(clip, plain), error(clip, steady), error(clip, glued),
                             detail(steady[8:]) / detail(plain[8:]), ms_plain, ms_steady))
            f, p, s, g, kept, msp, mss = np.mean(rows, axis=0)
            print(f"| {style} | {motion} | {f:.2f} | {p:.2f} | {s:.2f} | {g:.2f} | {s / f:.2f}x | {s / p:.2f}x "
                  f"| {s / g:.2f}x | {g / f:.2f}x | {kept:.2f} | {msp:.0f} | {mss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
