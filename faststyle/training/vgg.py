"""The frozen ImageNet VGG loss network.

Weights come from Keras' own download cache (`weights="imagenet"`) or from a
local file (`--vgg-weights PATH` or the FASTSTYLE_VGG_WEIGHTS variable), for
machines without network access.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import ops

from faststyle.errors import FaststyleError

WEIGHTS_ENV = "FASTSTYLE_VGG_WEIGHTS"
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # what the ImageNet VGG weights were trained on


@dataclass(frozen=True)
class LossNetSpec:
    content_layer: str
    style_layers: tuple[str, ...]

    def computed_style_layers(self, depth: int = 0) -> tuple[str, ...]:
        """The style layers a loss of --style-depth `depth` computes: the first `depth` (0: all)."""
        return self.style_layers[:depth or None]


# VGG16: the layers of Johnson et al. 2016 (relu2_2; relu1_2, relu2_2, relu3_3, relu4_3).
# VGG19: the layers of the TensorFlow reference implementation (relu4_2; relu1_1..relu5_1).
# Keras' conv layers include their ReLU, so blockN_convM is reluN_M.
SPECS = {
    "vgg16": LossNetSpec(
        "block2_conv2", ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")
    ),
    "vgg19": LossNetSpec(
        "block4_conv2",
        ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"),
    ),
}


def default_style_layer_weights(spec: LossNetSpec) -> list[float]:
    """1/C^2 per style layer (C: its channels), which makes each layer's term a mean over Gram entries."""
    channels = {"block1": 64, "block2": 128, "block3": 256, "block4": 512, "block5": 512}  # VGG16 and VGG19
    return [1.0 / channels[name.split("_")[0]] ** 2 for name in spec.style_layers]


def resolve_weights(weights: str | None) -> str | None:
    """Picks the weights: an explicit argument, then the environment variable, then 'imagenet'.

    `weights="random"` gives an untrained network (for tests).
    """
    weights = weights or os.environ.get(WEIGHTS_ENV) or "imagenet"
    if weights == "random":
        return None
    if weights != "imagenet" and not Path(weights).is_file():
        raise FaststyleError(
            f"VGG weights file not found: {weights}. Pass an existing .weights.h5 file "
            f"with --vgg-weights or {WEIGHTS_ENV}."
        )
    return weights


def _load_backbone(name: str, weights: str | None) -> keras.Model:
    app = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}[name]
    try:
        return app(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as exc:  # download failures come as several exception types
        if weights == "imagenet":
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            reason = reason if len(reason) <= 160 else "..." + reason[-120:]  # the end says what failed
            raise FaststyleError(
                f"could not download the ImageNet {name.upper()} weights ({reason}). "
                f"Without network access, pass a local weights file with --vgg-weights PATH "
                f"or set {WEIGHTS_ENV}."
            ) from None
        raise FaststyleError(f"could not load VGG weights from {weights}: {exc}") from None


class LossNetwork:
    """Maps RGB 0..255 images to (content features, [style features...])."""

    def __init__(self, name: str = "vgg16", weights: str | None = None, style_depth: int = 0):
        """`style_depth`: how many of the spec's style layers to compute, shallow first (0: all)."""
        if name not in SPECS:
            raise FaststyleError(f"unknown loss network {name!r}; choose one of {sorted(SPECS)}")
        self.name = name
        self.spec = SPECS[name]
        backbone = _load_backbone(name, resolve_weights(weights))
        names = [self.spec.content_layer, *self.spec.computed_style_layers(style_depth)]
        # A functional model over these outputs holds only the layers up to the deepest one.
        self.model = keras.Model(backbone.input, [backbone.get_layer(n).output for n in names])
        self.model.trainable = False

    def __call__(self, images):
        # Keras' "caffe" preprocessing (RGB -> BGR, minus the ImageNet channel means), written with
        # ops: keras.applications' preprocess_input edits a NumPy input in place.
        x = ops.flip(ops.convert_to_tensor(images, "float32"), axis=-1) - ops.convert_to_tensor(IMAGENET_BGR_MEAN)
        content, *style = self.model(x, training=False)
        return content, style
