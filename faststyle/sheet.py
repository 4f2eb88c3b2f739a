"""A style sheet: one photo painted in many styles, labelled, on one image to choose from."""

from __future__ import annotations

import math
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

from faststyle.api import StyleLike, as_model, stylize
from faststyle.image_io import ImageLike, load_image
from faststyle.preprocess import shrink_to

LABEL_HEIGHT = 28
GAP = 8


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # scalable where Pillow has FreeType
    except TypeError:
        return ImageFont.load_default()


def style_sheet(photo: ImageLike, styles: list[StyleLike], cell: int = 320, columns: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> Image.Image:
    """The photo and its picture in each style, `cell` pixels on the long side, each with its name."""
    original = shrink_to(load_image(photo).convert("RGB"), cell)
    models = [as_model(s) for s in styles]
    tiles = [("photo", original)]
    for i, model in enumerate(models):
        title = model.card.title
        tiles.append((f"{model.name}: {title}" if title else model.name, stylize(original, model)))
        if progress:
            progress(i + 1, len(models))
    columns = columns or min(len(tiles), max(1, math.ceil(math.sqrt(len(tiles)))))
    rows = math.ceil(len(tiles) / columns)
    w, h = original.size
    sheet = Image.new("RGB", (columns * (w + GAP) + GAP, rows * (h + LABEL_HEIGHT + GAP) + GAP), "white")
    draw, font = ImageDraw.Draw(sheet), _font(15)
    for i, (label, image) in enumerate(tiles):
        x = GAP + (i % columns) * (w + GAP)
        y = GAP + (i // columns) * (h + LABEL_HEIGHT + GAP)
        draw.text((x + 2, y + 5), label, fill=(30, 30, 30), font=font)
        sheet.paste(image, (x, y + LABEL_HEIGHT))
    return sheet
