"""The Python API, one pipeline:

    image in -> preprocess -> network -> postprocess -> image out
    (image_io)  (here)       (runtime)   (postprocess)  (image_io)
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from faststyle.errors import FaststyleError
from faststyle.image_io import (MULTI_FRAME_FORMATS, ImageLike, copy_photo_metadata, frame_count, load_image,
                                output_format, read_frames, save_frames, save_image)
from faststyle.model_file import ModelCard, read_card
from faststyle.paintings import painting
from faststyle.postprocess import Finish, check_strength, finish, upsample_with_detail
from faststyle.preprocess import centre_square, grid_anchor, prepare, resize_array
from faststyle.runtime import DEFAULT_DEVICE, CancelToken, StyleModel
from faststyle.styles import resolve_style, sample_image_path



class BlendedStyle:
    """Several styles mixed by weight: each paints the photo and the pictures are averaged.

    Works wherever a StyleModel does for pictures (stylize, folders, the sheet); weights sum to 1.
    """

    def __init__(self, models: list[StyleModel], weights: list[float]):
        if (len(models) < 2 or len(models) != len(weights) or not all(math.isfinite(w) and w >= 0 for w in weights)
                or max(weights) <= 0):
            raise FaststyleError("a blend needs two or more styles with finite, non-negative weights, "
                                 "e.g. wave:0.6,the_scream:0.4")
        scaled = [w / max(weights) for w in weights]  # 1e308 + 1e308 would overflow to inf
        self.models, self.weights = models, [w / sum(scaled) for w in scaled]

    @property
    def name(self) -> str:
        """e.g. wave60+the_scream40: the percentages, for output names."""
        return "+".join(f"{m.name}{round(100 * w)}" for m, w in zip(self.models, self.weights))

    @property
    def is_lite(self) -> bool:
        return all(m.is_lite for m in self.models)

    @property
    def card(self) -> ModelCard:
        return ModelCard(title=" + ".join(f"{round(100 * w)} % {m.name}" for m, w in zip(self.models, self.weights)))

    def transform(self, rgb: np.ndarray, finish: Finish = finish, progress: Callable[[int, int], None] | None = None,
                  cancel: CancelToken | None = None, **options) -> np.ndarray:
        mixed = np.zeros(rgb.shape, np.float32)
        if options.get("grid") is None:
            options["grid"] = grid_anchor(rgb)  # the same phase for every style, found once
        for i, (model, weight) in enumerate(zip(self.models, self.weights)):
            def step(done: int, total: int, i=i) -> None:
                if progress:
                    progress(i * total + done, len(self.models) * total)
            mixed += weight * model.transform(rgb, progress=step, cancel=cancel, **options)
        return finish(rgb, mixed)


def parse_blend(spec: str) -> dict[str, float]:
    """'wave:0.6,the_scream:0.4' -> {'wave': 0.6, 'the_scream': 0.4}; a name without a weight counts 1."""
    weights: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, _, weight = part.rpartition(":") if ":" in part else (part, "", "1")
        try:
            weights[name] = weights.get(name, 0.0) + float(weight)
        except ValueError:
            raise FaststyleError(f"bad blend {spec!r}: {weight!r} is not a number (use e.g. wave:0.6,the_scream:0.4)") from None
    return weights


def blend(spec: str | dict[str, float], *, fast: bool = False, device: str = DEFAULT_DEVICE,
          threads: int | None = None) -> BlendedStyle:
    """A blend of styles: 'wave:0.6,the_scream:0.4' or {'wave': 0.6, 'the_scream': 0.4}."""
    weights = parse_blend(spec) if isinstance(spec, str) else dict(spec)
    return BlendedStyle([load_style(n, fast=fast, device=device, threads=threads) for n in weights],
                        list(weights.values()))


StyleLike = str | os.PathLike | StyleModel | BlendedStyle


def load_style(name_or_path: str | os.PathLike, *, fast: bool = False, device: str = DEFAULT_DEVICE,
               threads: int | None = None) -> StyleModel:
    """A style by bundled/user name or .onnx path, ready for many images (one session).

    The one way to load a style: the command line, the app, `stylize` and `blend` all come here
    with the same options and defaults.
    fast: the style's lite network (6-7x faster, a little less detailed) where it has one.
    device: "auto" (a GPU or other accelerator when the installed ONNX Runtime has one, else the
    CPU), "cpu", or "cuda", "directml", "coreml", "openvino".
    threads: CPU threads (default: all cores).
    """
    return StyleModel.load(resolve_style(name_or_path, fast), threads, device)


@functools.lru_cache(maxsize=16)  # every bundled style, full and lite: what a server keeps warm
def _cached_style(path: Path, device: str, threads: int | None) -> StyleModel:
    return StyleModel.load(path, threads, device)


def as_model(style: StyleLike, *, fast: bool = False, device: str = DEFAULT_DEVICE,
             threads: int | None = None) -> StyleModel | BlendedStyle:
    """A loaded style as it is; a name or path loaded once and kept (the last few, by path and
    options, are cached); 'a:0.6,b:0.4' is a blend."""
    if isinstance(style, (StyleModel, BlendedStyle)):
        return style
    if isinstance(style, str) and ":" in style and not Path(style).exists():
        return blend(style, fast=fast, device=device, threads=threads)
    return _cached_style(resolve_style(style, fast).resolve(), device, threads)


def painting_swatch(style: StyleLike | ModelCard, size: int = 96, download: bool = True) -> Image.Image | None:
    """A square of the painting a style was trained on, `size` px: the card's own thumbnail, or
    (bundled styles) the published photograph, downloaded once into the cache (paintings.py).
    None if the card names none (a blend has none either), or it would need a download and
    `download` is False or FASTSTYLE_OFFLINE is set; a failed download raises FaststyleError."""
    if isinstance(style, BlendedStyle) or (isinstance(style, str) and ":" in style and not Path(style).exists()):
        return None
    if isinstance(style, ModelCard):
        card = style
    else:
        card = style.card if isinstance(style, StyleModel) else read_card(resolve_style(style))
    picture = painting(card, download)
    return None if picture is None else centre_square(picture, size, Image.LANCZOS)


def stylize(image: ImageLike, style: StyleLike, strength: float = 1.0, preserve_colors: bool = False,
            max_size: int | None = None, progress: Callable[[int, int], None] | None = None,
            cancel: CancelToken | None = None, stroke_scale: float = 1.0, fast: bool = False,
            device: str = DEFAULT_DEVICE, threads: int | None = None) -> Image.Image:
    """Paints `image` (path, PIL image or numpy array) in `style` (name, .onnx path or loaded style).

    strength: 0 keeps the photo (without running the network), 1 is the full style.
    preserve_colors: keep the photo's colours. max_size: downscale the long side first. Transparency is kept as it is.
    cancel: a CancelToken another thread may cancel (raises Cancelled).
    stroke_scale: paint with strokes this many times larger (the picture is painted at a lower
    resolution and brought back to full size with the photo's own fine detail).
    fast, device, threads: how a style given by name or path is loaded (see `load_style`).
    """
    strength = check_strength(strength)
    if not stroke_scale >= 1.0:
        raise FaststyleError(f"stroke scale must be 1 or more, got {stroke_scale}")
    model = as_model(style, fast=fast, device=device, threads=threads)
    source = load_image(image)
    rgb, alpha = prepare(source, max_size)
    if strength == 0.0:  # the photo as read and resized: nothing of the painting would show
        out = rgb
    elif stroke_scale > 1.0:
        h, w = rgb.shape[:2]
        size = (max(1, round(w / stroke_scale)), max(1, round(h / stroke_scale)))
        small = resize_array(rgb, size)
        painted = model.transform(small, progress=progress, cancel=cancel)
        out = finish(rgb, upsample_with_detail(painted, rgb), strength, preserve_colors)
    else:
        out = model.transform(rgb, lambda src, styl: finish(src, styl, strength, preserve_colors),
                              progress=progress, cancel=cancel)
    result = Image.fromarray(out, "RGB")
    if alpha is not None:
        result.putalpha(alpha)
    return copy_photo_metadata(source, result)


def stylize_file(source: str | os.PathLike, target: str | os.PathLike, style: StyleLike,
                 quality: int = 92, **options) -> Path:
    """Stylizes an image file into `target` (format from its extension), never half-written.

    Animated images (GIF, APNG, WebP) and multi-page TIFFs are painted frame by frame, with their
    timing kept, when the target format holds several frames; otherwise they are refused.
    """
    fmt = output_format(target)  # fail on a bad extension before the slow part
    frames = frame_count(source)
    if frames == 1:
        return save_image(stylize(source, style, **options), target, quality)
    if fmt not in MULTI_FRAME_FORMATS:
        raise FaststyleError(f"{source}: has {frames} frames and {Path(target).suffix} holds one; "
                             "write to .gif, .png, .webp or .tiff to keep them all")
    images, durations, loop = read_frames(source, options.get("max_size"))
    model = as_model(style, **{k: options[k] for k in ("fast", "device", "threads") if k in options})
    return save_frames([stylize(im, model, **options) for im in images], target, durations, loop, quality)


def swatch(style: StyleLike, size: int = 96, photo: ImageLike | None = None, **options) -> Image.Image:
    """A small square sample of a style (the app's and the web page's buttons): the painting it
    was trained on where its card holds one, else a photo (the bundled cat by default) painted
    at twice `size`, then shrunk, so that the strokes stay visible."""
    if photo is None and (painting := painting_swatch(style, size)) is not None:
        return painting
    square = centre_square(load_image(photo if photo is not None else sample_image_path("chelsea")),
                           size * 2, Image.LANCZOS)
    return stylize(square, style, **options).resize((size, size), Image.LANCZOS)
