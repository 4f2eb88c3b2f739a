"""Measuring a trained style against the Gatys optimisation, under the training loss.

For each validation photo (short side resized to `size`, centre-cropped square),
the model's output and Gatys' image after N L-BFGS iterations are scored with
the same PerceptualLoss the model was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from faststyle.errors import FaststyleError
from faststyle.image_io import load_image
from faststyle.runtime import StyleModel
from faststyle.training.losses import LossWeights, PerceptualLoss, style_image_tensor
from faststyle.training.optimize import optimize_image
from faststyle.training.vgg import LossNetwork

TERMS = ("content", "style", "tv", "range", "total")


def square_photo(path: Path, size: int) -> np.ndarray:
    im = load_image(path).convert("RGB")
    scale = size / min(im.size)
    im = im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))), Image.BICUBIC)
    x, y = (im.width - size) // 2, (im.height - size) // 2
    return np.asarray(im.crop((x, y, x + size, y + size)), np.float32)


def loss_for_model(model: StyleModel, style_image: str, vgg_weights: str | None) -> PerceptualLoss:
    """The loss a model was trained with, rebuilt from its metadata."""
    meta = model.metadata
    w = meta.get("weights", {})
    weights = LossWeights(w.get("content", 1.0), w.get("style", 2.0), w.get("tv", 0.2),
                          style_layers=w.get("style_layers"), range=w.get("range", 1000.0))
    net = LossNetwork(meta.get("loss_net", "vgg16"), vgg_weights)
    return PerceptualLoss(net, style_image_tensor(style_image, int(meta.get("style_size", 512))), weights)


@dataclass
class Report:
    style: str
    model: dict[str, float]
    gatys: dict[int, dict[str, float]] = field(default_factory=dict)
    photos: int = 0
    gatys_photos: int = 0


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in TERMS}


def evaluate(model: StyleModel, photos: list[Path], style_image: str, size: int = 256,
             vgg_weights: str | None = None, gatys_iterations: tuple[int, ...] = (50, 100, 300),
             gatys_photos: int = 3, progress=None) -> Report:
    loss = loss_for_model(model, style_image, vgg_weights)
    model_rows, gatys_rows = [], {n: [] for n in gatys_iterations}
    contents = []
    for path in photos:
        try:
            contents.append(square_photo(path, size))
        except FaststyleError:
            continue  # unreadable photos are left out, as in training
    if not contents:
        raise FaststyleError("none of the evaluation photos could be read")
    for i, content in enumerate(contents):
        stylized = np.clip(model._run(content), 0, 255)  # the uint8 range users get, kept as float
        target = loss.content_targets(tf.constant(content[None]))
        terms = loss.terms(tf.constant(stylized[None]), target)
        model_rows.append({k: float(v[0]) for k, v in terms.items()})
        if i < gatys_photos and gatys_iterations:
            _, recorded = optimize_image(content, loss, iterations=max(gatys_iterations),
                                         record_at=tuple(gatys_iterations))
            for n in gatys_iterations:
                gatys_rows[n].append(recorded[n])
        if progress:
            progress(i + 1, len(contents))
    report = Report(model.name, _mean(model_rows), photos=len(contents),
                    gatys_photos=min(gatys_photos, len(contents)) if gatys_iterations else 0)
    report.gatys = {n: _mean(rows) for n, rows in gatys_rows.items() if rows}
    # The model on the same photos as Gatys, for a like-for-like comparison.
    if report.gatys_photos:
        report.gatys[0] = _mean(model_rows[:report.gatys_photos])
    return report


def format_report(report: Report) -> str:
    lines = [f"style {report.style}: model on {report.photos} photos, Gatys on {report.gatys_photos}",
             f"| {'':<26} | {'content':>10} | {'style':>10} | {'tv':>8} | {'total':>10} |",
             f"|{'-' * 28}|{'-' * 12}|{'-' * 12}|{'-' * 10}|{'-' * 12}|"]

    def row(label: str, t: dict[str, float]) -> str:
        return f"| {label:<26} | {t['content']:>10.4g} | {t['style']:>10.4g} | {t['tv']:>8.3g} | {t['total']:>10.4g} |"

    lines.append(row(f"model ({report.photos} photos)", report.model))
    if 0 in report.gatys:
        lines.append(row(f"model ({report.gatys_photos} Gatys photos)", report.gatys[0]))
    for n in sorted(k for k in report.gatys if k):
        lines.append(row(f"Gatys L-BFGS {n} it", report.gatys[n]))
    return "\n".join(lines)
