"""The activation ranges an int8 export quantises with, measured on photos.

For each residual block: its input (the running sum), the first conv's output after ReLU ("hidden")
and the second conv's output; for each upsampling conv (when asked), its input and its output after ReLU. Per
channel, as the lowest and highest value seen. The extremes, not percentiles: clipping the largest
activations put the quantisation error on the photo's subject.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from PIL import Image
from tqdm import tqdm

from faststyle.errors import FaststyleError
from faststyle.image_io import load_image
from faststyle.model_file import ModelCard

CALIBRATION_PHOTOS = 16
LONG_SIDES = (512, 1024)  # each photo at both sizes: activations depend on the scale of the detail


def calibration_sample(photos: Sequence[Path], count: int = CALIBRATION_PHOTOS) -> list[Path]:
    """`count` photos spread evenly over the sorted list (neighbouring files are often alike)."""
    photos = sorted(photos)
    step = max(1, len(photos) // count)
    return photos[::step][:count]


def calibration_note(photos: Sequence[Path], long_sides: Sequence[int] = LONG_SIDES) -> str:
    """What the model card says about the ranges' photos."""
    folders = sorted({Path(p).parent.name for p in photos})
    return (f"{len(photos)} photos from {', '.join(folders)}, each at "
            f"{' and '.join(str(s) for s in long_sides)} px on the long side")


def calibrated(net: keras.Model, photos: Sequence[Path], card: ModelCard, source: str) -> tuple[dict, ModelCard]:
    """The int8 ranges measured on `photos`, and the model card with a note of those photos."""
    return calibrate(net, photos, source=source), dataclasses.replace(card, int8_calibration=calibration_note(photos))


def _probe_layers(net: keras.Model, decoder: bool = False) -> dict[str, dict[str, str]]:
    """The Keras layer whose output is each measured activation, per quantised conv or block."""
    arch = net.architecture
    before = f"{arch.encoder()[-1].name}_relu"
    taps = {}
    for a, b in arch.residual_pairs():
        block = b.name[:-2]
        taps[block] = {"in": before, "hidden": f"{a.name}_relu", "out": b.name}
        before = f"{block}_add"
    if decoder and not arch.fold:  # the int8 decoder works on the two upsampling convs' phases (export._int8_decoder)
        for conv in arch.decoder():
            taps[conv.name] = {"in": before, "out": f"{conv.name}_relu"}
            before = f"{conv.name}_relu"
    return taps


def calibrate(net: keras.Model, photos: Sequence[Path], long_sides: Sequence[int] = LONG_SIDES,
              source: str = "this network", decoder: bool = False) -> dict:
    """{block or conv: {"in" | "hidden" | "out": [per-channel lows, per-channel highs]}} over the photos.
    `source` names the model in the error a network with instance norm in its blocks gets.

    `decoder`: the two upsampling convs too, so that they run in int8 (export._int8_decoder). Off:
    their rounding reaches the output pixels nearly as it is, and it does not move with the picture
    (a photo moved by 1-8 px: 1.2-1.5 grey levels apart with them in int8, 0.6-1.0 without, 0.2-0.7
    in float; starry_night at 512 px), for about 7 % of the speed (docs/video.md)."""
    if net.architecture.norm != "demod":
        raise FaststyleError(f"{source}: int8 needs a model without instance norm in its residual blocks "
                             "(one trained with --norm demod)")
    if not photos:
        raise ValueError("calibration needs at least one photo")
    taps = _probe_layers(net, decoder)
    names = [layer for parts in taps.values() for layer in parts.values()]
    probe = keras.Model(net.inputs, [net.get_layer(name).output for name in names])
    low = {name: np.inf for name in names}
    high = {name: -np.inf for name in names}
    for path in tqdm(photos, desc="int8 ranges", unit="photo", disable=None):  # a bar on terminals only
        image = load_image(path).convert("RGB")
        for side in long_sides:
            scale = side / max(image.size)
            w, h = (max(4, round(v * scale / 4) * 4) for v in image.size)
            pixels = np.asarray(image.resize((w, h), Image.BICUBIC), np.float32)[None]
            for name, value in zip(names, probe([pixels], training=False)):
                value = np.asarray(value)
                low[name] = np.minimum(low[name], value.min(axis=(0, 1, 2)))
                high[name] = np.maximum(high[name], value.max(axis=(0, 1, 2)))
    # Rounded to 5 digits: they go into the model card as JSON.
    return {block: {part: [np.round(low[name], 5).tolist(), np.round(high[name], 5).tolist()]
                    for part, name in parts.items()}
            for block, parts in taps.items()}
