"""Training step time per way of running a step, in one run: XLA, plain graph mode, bfloat16, and
the loss without VGG16's deepest style layer (`--style-depth 3`, the quick schedule's).

    python benchmarks/bench_training.py [--size 256] [--batch 4] [--steps 5]

Each row is a short `faststyle train` run in its own process on generated photos, with the VGG16
loss network at random weights (the time of a step does not depend on the weights' values, and
nothing is downloaded). The table gives the median of the timed steps (the first, which
compiles, is left out) and each row's speed against float32 with XLA, the default until
`--compile auto`. Times mean something only within one run; the CPU's flags are printed.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faststyle.machine import cpu_summary  # noqa: E402

# (compile mode, precision, style layers computed)
MODES = [("xla", "float32", 4), ("graph", "float32", 4), ("graph", "float32", 3), ("graph", "mixed_bfloat16", 4),
         ("graph", "mixed_bfloat16", 3), ("xla", "mixed_bfloat16", 4)]


def step_times(folder: Path, compile_mode: str, precision: str, depth: int, size: int, batch: int,
               steps: int) -> list[float]:
    run = folder / f"run-{compile_mode}-{precision}-{depth}"
    cmd = [sys.executable, "-m", "faststyle", "train", str(folder / "painting.png"), "--content-dir",
           str(folder / "photos"), "--vgg-weights", "random", "--image-size", str(size), "--batch-size", str(batch),
           "--steps", str(steps + 1), "--compile", compile_mode, "--precision", precision, "--style-depth", str(depth),
           "--run-dir", str(run),
           "-o", str(run / "model.onnx"), "--preview-every", "100000", "--checkpoint-every", "100000"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{compile_mode}/{precision} failed: {r.stderr.strip().splitlines()[-1:]}")
    with open(run / "losses.csv") as f:
        return [float(row["seconds"]) for row in csv.DictReader(f)][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="crop side, pixels (default 256)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode (default 5)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "photos").mkdir()
        for i in range(2 * args.batch):
            Image.fromarray(rng.integers(0, 256, (args.size + 32, args.size + 64, 3), np.uint8)).save(
                folder / "photos" / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), np.uint8)).save(folder / "painting.png")
        rows = []
        for compile_mode, precision, depth in MODES:
            times = step_times(folder, compile_mode, precision, depth, args.size, args.batch, args.steps)
            rows.append((compile_mode, precision, depth, statistics.median(times), min(times)))
            print(f"  measured {compile_mode} {precision} {depth}", file=sys.stderr)
    print(f"\n{args.size} px crops, batch {args.batch}, median of {args.steps} steps after the first")
    print(f"CPU: {cpu_summary()}\n")
    print("| step | precision | style layers | median (s) | fastest (s) | speed / XLA float32 |")
    print("|---|---|---:|---:|---:|---:|")
    base = rows[0][3]
    for compile_mode, precision, depth, median, fastest in rows:
        print(f"| {compile_mode} | {precision} | {depth} | {median:.2f} | {fastest:.2f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()
