"""Measuring a trained style against the Gatys optimisation, under the training loss.

For each validation photo (short side resized to `size`, centre-cropped square),
the model's output and Gatys' image after N L-BFGS iterations are scored with
the same PerceptualLoss the model was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faststyle.errors import FaststyleError
from faststyle.image_io import load_image
from faststyle.measures import (FLAT_BLOCK, SHIFT_BORDER, SHIFTS, STRIDE_PERIODS, block_grid_ratio, blown_white_share,
                                detail, flattened_share, shift_consistency, stride_pattern, tonal_correlation)
from faststyle.model_file import ModelCard
from faststyle.preprocess import centre_square, resize_long_side
from faststyle.runtime import StyleModel
from faststyle.training.config import LossConfig
from faststyle.training.losses import PerceptualLoss, build_loss

TERMS = ("content", "style", "tv", "range", "total")
LARGE_SIZE = 1024  # blobs are also counted with the photo's long side at this size
SHIFT_PHOTOS = 3  # photos the shift consistency is measured on (17 paintings each)


def square_photo(path: Path, size: int) -> np.ndarray:
    """The photo's centre square at `size` x `size`, as float RGB 0..255."""
    return np.asarray(centre_square(load_image(path).convert("RGB"), size), np.float32)


def loss_for_model(model: StyleModel, style_image: str, vgg_weights: str | None) -> PerceptualLoss:
    """The loss a model was trained with, rebuilt from its card."""
    return build_loss(LossConfig.from_card(model.card), style_image, vgg_weights)


def long_side_photo(path: Path, size: int) -> np.ndarray:
    """The whole photo, resized so its long side is `size` pixels, as uint8 RGB."""
    return np.asarray(resize_long_side(load_image(path).convert("RGB"), size))


def _gatys_key(photo: Path, size: int, style_image: str, card: ModelCard, iterations) -> str:
    """What a Gatys result depends on: the photo, the painting, the loss and the iterations."""
    import hashlib
    import json

    digest = hashlib.sha256()
    for path in (photo, style_image):
        digest.update(Path(path).read_bytes())
    loss_fields = LossConfig.from_card(card).to_dict()
    digest.update(json.dumps([size, loss_fields, sorted(iterations)], sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _gatys(content: np.ndarray, loss: PerceptualLoss, iterations: tuple[int, ...], cache_dir: Path | None,
           key: str) -> tuple[dict[int, dict[str, float]], float]:
    """Gatys' loss terms after each of `iterations`, and the tonal layout it kept; cached when asked."""
    import json

    cached = Path(cache_dir) / f"gatys-{key}.json" if cache_dir else None
    if cached and cached.is_file():
        data = json.loads(cached.read_text())
        return {int(n): terms for n, terms in data["recorded"].items()}, data["tone"]
    from faststyle.training.optimize import optimize_image  # TensorFlow: kept out of training's imports

    image, recorded = optimize_image(content, loss, iterations=max(iterations), record_at=iterations)
    tone = tonal_correlation(np.clip(image, 0, 255), content)
    if cached:
        from faststyle.files import atomic_write_bytes

        atomic_write_bytes(cached, json.dumps({"recorded": recorded, "tone": tone}).encode())
    return recorded, tone


@dataclass
class Report:
    style: str
    model: dict[str, float]
    gatys: dict[int, dict[str, float]] = field(default_factory=dict)
    photos: int = 0
    gatys_photos: int = 0
    # Share of blown-white pixels per photo, at the evaluation size and at LARGE_SIZE.
    blown: list[float] = field(default_factory=list)
    blown_large: list[float] = field(default_factory=list)
    tone: list[float] = field(default_factory=list)        # tonal_correlation, model vs photo
    flat: list[float] = field(default_factory=list)        # flattened_share at LARGE_SIZE
    gatys_tone: list[float] = field(default_factory=list)  # the same for Gatys' images
    grid: list[float] = field(default_factory=list)        # block_grid_ratio at LARGE_SIZE
    stride: dict[int, list[float]] = field(default_factory=dict)  # stride_pattern per period, at LARGE_SIZE
    shift: dict[int, float] = field(default_factory=dict)  # shift_consistency by shift, first SHIFT_PHOTOS photos
    # The same with the unmoved photo's normalisation statistics, as a video's running average holds
    # them: what is left is the strokes alone (the crop's few columns no longer move the statistics).
    shift_held: dict[int, float] = field(default_factory=dict)
    # Warping error (temporal.warping_error) of clips filmed over one photo (video_photo, the one
    # with the most detail where the clips film), per motion: the input's own, painted frame by
    # frame, and painted with --stable. Empty without OpenCV.
    video: dict[str, dict[str, float]] = field(default_factory=dict)
    video_photo: str = ""


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in TERMS}


def _shift_with_held_statistics(model: StyleModel, photo: np.ndarray) -> dict[int, float]:
    held = model.norm_stats(photo)
    return shift_consistency(lambda moved: model.transform(moved, stats=held), photo)


def _mean_shift(per_photo: list[dict[int, float]]) -> dict[int, float]:
    return {d: float(np.mean([s[d] for s in per_photo])) for d in per_photo[0]} if per_photo else {}


def evaluate(model: StyleModel, photos: list[Path], style_image: str, size: int = 256,
             vgg_weights: str | None = None, gatys_iterations: tuple[int, ...] = (50, 100, 300),
             gatys_photos: int = 3, progress=None, large_size: int = LARGE_SIZE,
             cache_dir: Path | None = None) -> Report:
    """Scores `model` on `photos`; `cache_dir` keeps Gatys results, which depend on the loss only."""
    loss = loss_for_model(model, style_image, vgg_weights)
    model_rows, gatys_rows = [], {n: [] for n in gatys_iterations}
    readable = []
    for path in photos:
        try:
            readable.append((path, square_photo(path, size)))
        except FaststyleError:
            continue  # unreadable photos are left out, as in training
    if not readable:
        raise FaststyleError("none of the evaluation photos could be read")
    blown, blown_large, tone, gatys_tone, grid, flat = [], [], [], [], [], []
    filmed, most_detail = None, -1.0  # (path, large photo, its picture): the photo the video clips film
    stride = {period: [] for period in STRIDE_PERIODS}
    for i, (path, content) in enumerate(readable):
        stylized = model.transform(content.astype(np.uint8)).astype(np.float32)  # what users get
        target = loss.content_targets(content[None])
        terms = loss.terms(stylized[None], target)
        model_rows.append({k: float(v[0]) for k, v in terms.items()})
        blown.append(blown_white_share(stylized, content))
        tone.append(tonal_correlation(stylized, content))
        large = long_side_photo(path, large_size)
        stylized_large = model.transform(large)
        blown_large.append(blown_white_share(stylized_large, large))
        flat.append(flattened_share(stylized_large, large))
        grid.append(block_grid_ratio(stylized_large))
        if (shown := filmed_detail(large)) > most_detail:
            filmed, most_detail = (path, large, stylized_large), shown
        for period, values in stride.items():
            values.append(stride_pattern(stylized_large, period))
        if i < gatys_photos and gatys_iterations:
            recorded, gatys_tone_i = _gatys(content, loss, tuple(gatys_iterations), cache_dir,
                                            _gatys_key(path, size, style_image, model.card, gatys_iterations))
            gatys_tone.append(gatys_tone_i)
            for n in gatys_iterations:
                gatys_rows[n].append(recorded[n])
        if progress:
            progress(i + 1, len(readable))
    report = Report(model.name, _mean(model_rows), photos=len(readable),
                    gatys_photos=min(gatys_photos, len(readable)) if gatys_iterations else 0,
                    blown=blown, blown_large=blown_large, tone=tone, gatys_tone=gatys_tone, grid=grid,
                    stride=stride, flat=flat)
    big_enough = size > 2 * SHIFT_BORDER + max(SHIFTS)  # else no pixels far enough from the borders
    shift_photos = [content.astype(np.uint8) for _, content in readable[:SHIFT_PHOTOS]] if big_enough else []
    report.shift = _mean_shift([shift_consistency(model.transform, p) for p in shift_photos])
    try:
        report.shift_held = _mean_shift([_shift_with_held_statistics(model, p) for p in shift_photos])
    except FaststyleError:  # a model exported before the statistics outputs: it cannot hold them
        report.shift_held = {}
    report.video = video_steadiness(model, *filmed[1:])
    report.video_photo = filmed[0].name if report.video else ""
    report.gatys = {n: _mean(rows) for n, rows in gatys_rows.items() if rows}
    # The model on the same photos as Gatys, for a like-for-like comparison.
    if report.gatys_photos:
        report.gatys[0] = _mean(model_rows[:report.gatys_photos])
    return report


VIDEO_FRAMES = 24


def filmed_detail(photo: np.ndarray) -> float:
    """measures.detail of what a clip over `photo` films (temporal.camera_clip's first frame); 0
    without OpenCV or where the photo is too small. A flat sky there gives the input's own warping
    error about 0, and the painted clip's nothing to be measured against."""
    from faststyle.temporal import camera_clip

    try:
        return detail(camera_clip(photo, "pan", 1)[0])
    except (FaststyleError, ValueError):
        return 0.0


def video_steadiness(model: StyleModel, photo: np.ndarray, painted_once: np.ndarray,
                     frames: int = VIDEO_FRAMES) -> dict[str, dict[str, float]]:
    """Warping errors of a pan and a hand-held clip filmed over `photo` (temporal.camera_clip):
    the input's own, painted frame by frame, painted steadily (video.FramePainter's default), and
    glued: `painted_once` (the model's picture of the whole photo) filmed by the same camera, a
    painting that moves exactly with the scene, the least a painted clip can score (the measure's
    own floor on the painting's texture). Empty when OpenCV is missing or the photo is too small."""
    from faststyle.temporal import camera_clip, warping_error
    from faststyle.video import FramePainter

    result = {}
    try:
        for motion in ("pan", "handheld"):
            clip = camera_clip(photo, motion, frames)
            painted = {name: list(painter.paint_all(clip)) for name, painter in
                       (("painted", FramePainter(model, stable=False)), ("steady", FramePainter(model)))}
            painted["glued"] = camera_clip(painted_once, motion, frames)
            result[motion] = {"input": warping_error(clip), **{k: warping_error(clip, v) for k, v in painted.items()}}
    except (FaststyleError, ValueError):  # no OpenCV, or a photo too small to film over
        return {}
    return result


def style_distance_ratio(loss: PerceptualLoss, stylized: np.ndarray, photo: np.ndarray) -> float:
    """How far a picture's Gram statistics are from the painting's, relative to the photo's own.

    The ratio of the loss's style term (its layers and weights) for the stylized picture to the
    same term for the unpainted photo: 0 matches the painting, 1 is no nearer than the photo.
    """
    terms = [loss.style_term(np.asarray(x, np.float32)[None]) for x in (stylized, photo)]
    return float(terms[0] / terms[1])


NEW_STYLE_SIZE = 512  # long side the photos are painted at when a new style is judged


@dataclass
class StyleDistance:
    """A style judged on photos it never saw: per photo, its pictures' style distance ratio, tonal
    layout kept, blown-white share (0..1) and stride pattern per period; the painting's own Gram
    matrices are the target."""

    ratio: list[float] = field(default_factory=list)
    tone: list[float] = field(default_factory=list)
    blown: list[float] = field(default_factory=list)
    flat: list[float] = field(default_factory=list)  # flattened_share
    stride: dict[int, list[float]] = field(default_factory=lambda: {period: [] for period in STRIDE_PERIODS})

    def summary(self) -> dict[str, float]:
        return {"style_distance": float(np.mean(self.ratio)), "tone": nanmean(self.tone),
                "blown_mean_pct": 100 * float(np.mean(self.blown)), "blown_max_pct": 100 * float(np.max(self.blown)),
                "flat_mean_pct": 100 * float(np.mean(self.flat)), "flat_max_pct": 100 * float(np.max(self.flat)),
                **{f"stride_{period}px": float(np.median(v)) for period, v in self.stride.items()}}


def style_distance(paint, photos: list[Path], loss: PerceptualLoss, size: int = NEW_STYLE_SIZE) -> StyleDistance:
    """`paint(uint8 HxWx3) -> HxWx3 picture` judged on `photos` (long side `size`) against `loss`'s painting.

    `paint` may be any painter, e.g. another project's arbitrary-style network, so that both are
    measured alike.
    """
    result = StyleDistance()
    for path in photos:
        photo = long_side_photo(path, size)
        picture = np.asarray(paint(photo), np.float32)
        result.ratio.append(style_distance_ratio(loss, picture, photo))
        result.tone.append(tonal_correlation(picture, photo))
        result.blown.append(blown_white_share(picture, photo))
        result.flat.append(flattened_share(picture, photo))
        for period, values in result.stride.items():
            values.append(stride_pattern(picture, period))
    return result


def nanmean(values: list[float]) -> float:
    """Mean of the defined values (photos too small for two tone blocks are NaN); NaN if none."""
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


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
    lines.append(f"blown white (model, {report.photos} photos): "
                 f"{100 * np.mean(report.blown):.2f} % mean, {100 * np.max(report.blown):.2f} % worst "
                 f"at the evaluation size; "
                 f"{100 * np.mean(report.blown_large):.2f} % mean, {100 * np.max(report.blown_large):.2f} % worst "
                 f"at {LARGE_SIZE} px")
    tone = f"tonal layout kept (correlation with the photo): model {nanmean(report.tone):.2f}"
    if report.gatys_tone:
        tone += f", Gatys ({len(report.gatys_tone)} photos) {nanmean(report.gatys_tone):.2f}"
    lines.append(tone)
    if report.flat:
        lines.append(f"detail painted flat (the photo's textured {FLAT_BLOCK} px squares painted as one tone) "
                     f"at {LARGE_SIZE} px: {100 * np.mean(report.flat):.2f} % mean, {100 * np.max(report.flat):.2f} % worst")
    if report.shift:
        lines.append("shift consistency (grey levels between the picture of a moved photo and the moved picture, "
                     "0 = strokes move with it): " + ", ".join(f"{d} px {e:.2f}" for d, e in report.shift.items()))
    if report.shift_held:
        lines.append("the same with the statistics held, as in a video: "
                     + ", ".join(f"{d} px {e:.2f}" for d, e in report.shift_held.items()))
    for motion, errors in report.video.items():
        lines.append(f"video, {motion} over {report.video_photo} (warping error, grey levels): "
                     f"input {errors['input']:.2f}, "
                     f"painted frame by frame {errors['painted']:.2f}, steady (--stable) {errors['steady']:.2f}, "
                     f"glued (painted once, moving with the scene: the floor) {errors['glued']:.2f}")
    if report.grid:
        lines.append(f"2x2 block grid (steps across / within blocks at {LARGE_SIZE} px, 1 = none): "
                     f"{np.mean(report.grid):.2f} mean, {np.max(report.grid):.2f} worst")
    if report.stride:
        lines.append(f"stride pattern at {LARGE_SIZE} px (grey levels repeating every 2 or 4 px; photos 0-0.7): "
                     + "; ".join(f"{period} px {np.median(v):.1f} median, {np.max(v):.1f} worst"
                                 for period, v in report.stride.items()))
    return "\n".join(lines)
