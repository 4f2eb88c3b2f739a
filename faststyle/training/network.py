"""The transform network of Johnson et al. 2016, in Keras 3.

Layout (width w = 32 by default):
    c9s1-w, d2w, d4w, 5 x residual(4w), u2w, uw, c9s1-3
Every conv except the last is followed by instance normalization and ReLU.
Input and output are RGB floats on the 0..255 scale, any height and width.

Two departures from the original code, both to remove well-known artifacts:
- Reflection padding before every conv instead of zero padding: zero padding
  makes the network see a black frame and paint dark or odd borders.
- Nearest-neighbour 2x upsampling followed by a 3x3 conv instead of a
  transposed conv: strided transposed convs overlap unevenly and leave
  checkerboard patterns (Odena et al. 2016, "Deconvolution and Checkerboard
  Artifacts").
"""

from __future__ import annotations

import keras
from keras import layers, ops

NORM_EPSILON = 1e-5
NUM_RESIDUAL_BLOCKS = 5


@keras.saving.register_keras_serializable("faststyle")
class ReflectionPad(layers.Layer):
    """Pads height and width by mirroring the border (without repeating it)."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, x):
        p = self.pad
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable("faststyle")
class InstanceNorm(layers.Layer):
    """Normalizes each image's channels over height and width, then scales and shifts."""

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=(1, 2), keepdims=True)
        return (x - mean) * ops.rsqrt(var + NORM_EPSILON) * self.gamma + self.beta


def _conv(x, filters: int, kernel: int, stride: int = 1, name: str = "", init="glorot_uniform"):
    x = ReflectionPad(kernel // 2, name=f"{name}_pad")(x)
    return layers.Conv2D(filters, kernel, strides=stride, padding="valid", name=name,
                         kernel_initializer=init)(x)


def _conv_norm_relu(x, filters: int, kernel: int, stride: int = 1, name: str = ""):
    x = _conv(x, filters, kernel, stride, name)
    x = InstanceNorm(name=f"{name}_norm")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(x, filters: int, name: str):
    y = _conv_norm_relu(x, filters, 3, name=f"{name}_a")
    y = _conv(y, filters, 3, name=f"{name}_b")
    y = InstanceNorm(name=f"{name}_b_norm")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def build_transform_net(width: int = 32) -> keras.Model:
    """Returns the transform network; `width` is the channel count of the first conv."""
    image = keras.Input(shape=(None, None, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit")(image)
    x = _conv_norm_relu(x, width, 9, name="conv1")
    x = _conv_norm_relu(x, width * 2, 3, stride=2, name="down1")
    x = _conv_norm_relu(x, width * 4, 3, stride=2, name="down2")
    for i in range(NUM_RESIDUAL_BLOCKS):
        x = _residual_block(x, width * 4, name=f"res{i + 1}")
    x = layers.UpSampling2D(2, interpolation="nearest", name="up1_resize")(x)
    x = _conv_norm_relu(x, width * 2, 3, name="up1")
    x = layers.UpSampling2D(2, interpolation="nearest", name="up2_resize")(x)
    x = _conv_norm_relu(x, width, 3, name="up2")
    # A small start keeps tanh in its linear range: with the default init the first, large
    # updates push some regions deep into saturation, where the gradient vanishes and they
    # stay black for good (the "black blob" artifact).
    x = _conv(x, 3, 9, name="out", init=keras.initializers.VarianceScaling(1e-2, "fan_avg", "uniform"))
    # tanh keeps the output in a known range; 150 lets it reach 0 and 255 without saturating.
    x = layers.Activation("tanh", name="out_tanh")(x)
    out = layers.Rescaling(150.0, offset=127.5, name="to_pixels")(x)
    return keras.Model(image, out, name=f"transform_net_w{width}")
