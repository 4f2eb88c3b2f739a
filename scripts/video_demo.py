"""The steady-video demo in docs/: a pan over the bundled coffee photo, painted frame by frame
(left) and with --stable (right), side by side.

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
from faststyle.styles import sample_image_path  # noqa: E402
from faststyle.temporal import camera_clip, warping_error  # noqa: E402
from faststyle.video import FramePainter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--png-dir", type=Path)
    args = parser.parse_args()
    import imageio_ffmpeg

    photo = np.asarray(Image.open(sample_image_path("coffee")).convert("RGB"))
    clip = camera_clip(photo, "pan", args.frames, size=(304, 224))
    plain, steady = FramePainter(args.style, stable=False), FramePainter(args.style)
    painted = {"frame by frame": [plain(f) for f in clip], "--stable": list(steady.paint_all(clip))}
    for name, frames in painted.items():
        print(f"{args.style}, {name}: warping error {warping_error(clip, frames):.2f} (input {warping_error(clip):.2f})")
    pairs = [np.concatenate([a, np.full((a.shape[0], 8, 3), 255, np.uint8), b], axis=1)
             for a, b in zip(painted["frame by frame"], painted["--stable"])]
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
