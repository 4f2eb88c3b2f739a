"""What a training run's pictures of its own network cost: the previews and the quality check.

    python benchmarks/bench_previews.py [--repeats 5]

A quick run paints its preview photo (384 px on the long side) every 15 steps, about 25 times over
its two stages, and its 8 held-out photos (256 px squares) at the end of each stage. This times one
such picture by the layer-by-layer call the trainer made before (`net(x, training=False)`) against
Keras' predict function (`net.predict_on_batch(x)`, traced once per picture size), for the full and
the lite network at random weights (a picture's time does not depend on the weights' values), in
float32 and, where the CPU does bfloat16 maths, under the mixed_bfloat16 policy the quick schedule
takes there. The first call (which traces) is shown apart; the others' median is the row's time.
Times mean something only within one run; the CPU's flags are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from faststyle.machine import cpu_summary  # noqa: E402

SIZES = {"preview 384x288": (288, 384), "held-out 256x256": (256, 256)}


def timed(fn, x, repeats: int) -> tuple[float, float]:
    """(first call, median of the next `repeats`) in seconds."""
    start = time.perf_counter()
    np.asarray(fn(x))
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(fn(x))
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per row after the first (default 5)")
    args = parser.parse_args()

    from faststyle.architecture import PRESETS
    from faststyle.training.config import bfloat16_cpu
    from faststyle.training.network import build_transform_net
    from faststyle.training.train import dtype_policy

    precisions = ["float32"] + (["mixed_bfloat16"] if bfloat16_cpu() else [])
    rng = np.random.default_rng(0)
    print(f"CPU: {cpu_summary()}\n")
    print("| network | precision | picture | layer by layer: first / then (s) | predict function: first / then (s) "
          "| speed-up |")
    print("|---|---|---|---:|---:|---:|")
    for arch in ("full", "lite"):
        for precision in precisions:
            with dtype_policy(precision):
                net = build_transform_net(PRESETS[arch])
            for label, (h, w) in SIZES.items():
                x = (rng.random((1, h, w, 3)) * 255).astype(np.float32)
                eager = timed(lambda v: net(v, training=False), x, args.repeats)
                predict = timed(net.predict_on_batch, x, args.repeats)
                print(f"| {arch} | {precision} | {label} | {eager[0]:.3f} / {eager[1]:.3f} | "
                      f"{predict[0]:.3f} / {predict[1]:.3f} | {eager[1] / predict[1]:.2f}x |")


if __name__ == "__main__":
    main()
