"""The steady-video demo in docs/: a pan over the bundled coffee photo, painted as faststyle
painted video before issue 31 (left: each frame on its own on a fixed grid, the tone averaged at
0.9) and as `faststyle video` paints it now (right: --stable, the default), side by side.

    python scripts/video_demo.py [--style starry_night] [--frames 48] [--png-dir /tmp/frames]

Writes docs/video/pan.STYLE.mp4 and prints both clips' warping errors; --png-dir also writes
every side-by-side frame as a PNG, to look at one by one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from faststyle.api import load_style  # noqa: E402
from faststyle.styles import sample_image_path  # noqa: E402
from faststyle.temporal import camera_clip, warping_error  # noqa: E402
from faststyle.video import SMOOTHING, FramePainter  # noqa: E402


def fixed_grid(model, clip: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame painted on its own on the network's fixed grid, with a running average (SMOOTHING)
    of the statistics: how video was painted before issue 31."""
    stats, out = None, []
    for frame in clip:
        now = model.norm_stats(frame)
        stats = now if stats is None else {k: SMOOTHING * stats[k] + (1 - SMOOTHING) * v for k, v in now.items()}
        out.append(model.transform(frame, stats=stats, grid=(0, 0)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--png-dir", type=Path)
    args = parser.parse_args()
    import imageio_ffmpeg

    photo = np.asarray(Image.open(sample_image_path("coffee")).convert("RGB"))
    clip = camera_clip(photo, "pan", args.frames, size=(304, 224))
    painted = {"frame by frame, fixed grid": fixed_grid(load_style(args.style), clip),
               "--stable": list(FramePainter(args.style).paint_all(clip))}
    for name, frames in painted.items():
        print(f"{args.style}, {name}: warping error {warping_error(clip, frames):.2f} (input {warping_error(clip):.2f})")
    pairs = [np.concatenate([a, np.full((a.shape[0], 8, 3), 255, np.uint8), b], axis=1)
             for a, b in zip(painted["frame by frame, fixed grid"], painted["--stable"])]
    out = ROOT / "docs" / "video" / f"pan.{args.style}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    h, w = pairs[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(out), (w, h), fps=12, quality=None, macro_block_size=8,
                                         output_params=["-loglevel", "error", "-crf", "26"])
    writer.send(None)
    for frame in pairs:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    if args.png_dir:
        args.png_dir.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(pairs):
            Image.fromarray(frame).save(args.png_dir / f"{i:03d}.png")
        print(f"wrote {len(pairs)} PNGs to {args.png_dir}")


if __name__ == "__main__":
    main()
