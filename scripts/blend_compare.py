"""Two ways to blend styles, side by side: mixing the pictures (what faststyle ships) and
interpolating the networks' weights (one pass; possible because the bundled styles share the
`wave` ancestor). Writes docs/blends.jpg.

    python scripts/blend_compare.py [--photo PATH] [--styles wave,starry_night] [-o docs/blends.jpg]

Needs the [train] extra (onnx, Keras) to read and write weights.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from PIL import Image, ImageDraw

import faststyle
from faststyle.styles import resolve_style, sample_image_path
from faststyle.training.onnx_import import reexport_onnx

ROOT = Path(__file__).resolve().parents[1]


def interpolated_model(a: Path, b: Path, t: float, out: Path) -> Path:
    """A model whose every weight is (1 - t) * a's + t * b's (same architecture and names)."""
    first, second = onnx.load(str(a)), onnx.load(str(b))
    others = {init.name: numpy_helper.to_array(init) for init in second.graph.initializer}
    for init in first.graph.initializer:
        x = numpy_helper.to_array(init)
        if x.dtype.kind == "f" and x.size > 1:  # weights, not the scalar constants of the graph
            mixed = ((1 - t) * x.astype(np.float32) + t * others[init.name].astype(np.float32)).astype(x.dtype)
            init.CopyFrom(numpy_helper.from_array(mixed, init.name))
    onnx.save(first, str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=str(sample_image_path("chelsea")))
    parser.add_argument("--styles", default="wave,starry_night")
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "blends.jpg"))
    args = parser.parse_args()
    a, b = args.styles.split(",")
    photo = Image.open(args.photo).convert("RGB")
    photo.thumbnail((320, 320))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # Float graphs: the bundled models' int8 residual blocks have per-model scales, not mixable.
        a_float, b_float = (reexport_onnx(resolve_style(s), Path(tmp) / f"{s}.onnx", drop_int8=True) for s in (a, b))
        for t in (0.0, 0.25, 0.5, 0.75, 1.0):
            mixed_pictures = faststyle.stylize(photo, faststyle.blend({a: 1 - t, b: t}) if 0 < t < 1 else (a if t == 0 else b))
            model = interpolated_model(a_float, b_float, t, Path(tmp) / f"m{t}.onnx")
            mixed_weights = faststyle.stylize(photo, faststyle.load_style(model))
            rows.append((t, mixed_pictures, mixed_weights))
    w, h = photo.size
    sheet = Image.new("RGB", (w * len(rows), 2 * h + 60), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (t, pictures, weights) in enumerate(rows):
        sheet.paste(pictures, (i * w, 20))
        sheet.paste(weights, (i * w, h + 50))
        draw.text((i * w + 4, 4), f"pictures mixed, {b} {round(100 * t)} %", fill="black")
        draw.text((i * w + 4, h + 34), f"weights mixed, {b} {round(100 * t)} %", fill="black")
    sheet.save(args.output, quality=90)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
