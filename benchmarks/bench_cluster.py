"""`faststyle stylize --ray` against the plain folder run, on this machine, start-up included.

    python benchmarks/bench_cluster.py [--photos "DIR/*.jpg"] [--count 40] [--style wave] [--max-size 640]

Each way is the real command in its own process, painting the same --count photos into a fresh
folder: plain (one process, ONNX Runtime on every core), --ray with 1 worker, --ray with 2 workers
(a local Ray, started by the command). Prints pictures a second, the ratio to the plain run, and how
many of the --ray pictures differ from the plain run's by more than 2 grey levels. Without --photos
the bundled sample photos are cut into --count different crops. Times compare only within one run.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faststyle.machine import cpu_summary  # noqa: E402


def sample_photos(folder: Path, count: int) -> list[Path]:
    from faststyle.styles import sample_images

    samples = [Image.open(p).convert("RGB") for p in sample_images()]
    paths = []
    for i in range(count):
        im = samples[i % len(samples)]
        w, h = im.size
        box = (i * 7 % max(1, w // 4), i * 5 % max(1, h // 4))
        crop = im.crop((box[0], box[1], box[0] + w * 3 // 4, box[1] + h * 3 // 4))
        path = folder / f"photo{i:03d}.jpg"
        crop.save(path, quality=92)
        paths.append(path)
    return paths


def run(label: str, photos_dir: Path, out: Path, extra: list[str], args) -> float:
    cmd = [sys.executable, "-m", "faststyle", "stylize", str(photos_dir), "-s", args.style, "-o", str(out),
           "--max-size", str(args.max_size), *extra]
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if r.returncode:
        raise SystemExit(f"{label} failed: {r.stderr.strip().splitlines()[-1:]}")
    return wall


def differing(a: Path, b: Path) -> int:
    count = 0
    for path in a.iterdir():
        x = np.asarray(Image.open(path), dtype=np.int16)
        y = np.asarray(Image.open(b / path.name), dtype=np.int16)
        count += int(np.abs(x - y).max() > 2)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", help="a glob of photos (default: crops of the bundled samples)")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--style", default="wave")
    parser.add_argument("--max-size", type=int, default=640)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        photos_dir = scratch / "photos"
        photos_dir.mkdir()
        if args.photos:
            for i, p in enumerate(sorted(glob.glob(args.photos))[: args.count]):
                os.symlink(os.path.abspath(p), photos_dir / f"{i:03d}-{Path(p).name}")
        else:
            sample_photos(photos_dir, args.count)
        count = len(list(photos_dir.iterdir()))
        print(f"CPU: {cpu_summary()}; {os.cpu_count()} cores")
        print(f"{count} photos painted at {args.max_size} px with {args.style}, start-up included\n")
        ways = {"plain": [], "--ray, 1 worker": ["--ray", "--workers", "1"], "--ray, 2 workers": ["--ray", "--workers", "2"]}
        walls = {label: run(label, photos_dir, scratch / f"out{i}", extra, args) for i, (label, extra) in enumerate(ways.items())}
        print("| way | wall (s) | pictures/s | vs plain | pictures off by > 2 grey levels |")
        print("|---|---:|---:|---:|---:|")
        for i, (label, wall) in enumerate(walls.items()):
            off = "-" if i == 0 else str(differing(scratch / "out0", scratch / f"out{i}"))
            print(f"| {label} | {wall:.1f} | {count / wall:.2f} | {walls['plain'] / wall:.2f}x | {off} |")


if __name__ == "__main__":
    main()
