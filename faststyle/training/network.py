"""The transform network of Johnson et al. 2016, in Keras 3.

Layout (width w = 32 by default):
    c9s1-w, d2w, d4w, 5 x residual(4w), u2w, uw, c9s1-3
Every conv except the last is followed by instance normalization and ReLU.
Input and output are RGB floats on the 0..255 scale, any height and width.

Three departures from the original code, each to remove a well-known artifact:
- Reflection padding before every conv instead of zero padding: zero padding
  makes the network see a black frame and paint dark or odd borders.
- Nearest-neighbour 2x upsampling followed by a 3x3 conv instead of a
  transposed conv: strided transposed convs overlap unevenly and leave
  checkerboard patterns (Odena et al. 2016, "Deconvolution and Checkerboard
  Artifacts").
- With norm="demod" (the default), only the encoder (conv1, down1, down2) uses
  instance norm. The residual blocks and the upsampling convs normalise their
  weights instead of their activations (weight demodulation, Karras et al. 2020,
  "Analyzing and Improving the Image Quality of StyleGAN", section 2.2). With
  instance norm there, the network learned to paint a strong local spike into a
  channel to dominate its mean and variance and so rescale the rest of it; the
  spike came out as a flat white blob (docs/white-blobs.md). norm="instance" is the
  paper's layout, kept for comparison and for older models.
"""

from __future__ import annotations

import keras
from keras import layers, ops

NORM_EPSILON = 1e-5
NUM_RESIDUAL_BLOCKS = 5
NORMS = ("demod", "instance")


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


@keras.saving.register_keras_serializable("faststyle")
class DemodConv2D(layers.Conv2D):
    """A conv whose kernel is scaled to unit norm per output channel, times a learned gain.

    The output's scale then follows from the weights, not from the data: no statistic
    of the image is computed, so no spot in the image can steer it. At export the
    effective kernel is an ordinary conv kernel (`effective_kernel`).
    """

    def __init__(self, *args, initial_gain: float = 2 ** 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        # sqrt(2) keeps the second moment of ReLU'd unit-variance inputs (He et al. 2015).
        self.initial_gain = initial_gain

    def build(self, input_shape):
        super().build(input_shape)
        self.gain = self.add_weight(shape=(self.filters,), initializer=keras.initializers.Constant(self.initial_gain),
                                    name="gain")

    def get_config(self):
        return {**super().get_config(), "initial_gain": self.initial_gain}

    def effective_kernel(self):
        norm = ops.sqrt(ops.sum(ops.square(self.kernel), axis=(0, 1, 2)) + 1e-8)
        return self.kernel * (self.gain / norm)

    def call(self, x):
        y = ops.conv(x, self.effective_kernel(), strides=self.strides, padding=self.padding)
        return y + self.bias


def _conv(x, filters: int, kernel: int, stride: int = 1, name: str = "", init="glorot_uniform",
          demod: bool = False, **demod_args):
    x = ReflectionPad(kernel // 2, name=f"{name}_pad")(x)
    if demod:
        return DemodConv2D(filters, kernel, strides=stride, padding="valid", name=name, **demod_args)(x)
    return layers.Conv2D(filters, kernel, strides=stride, padding="valid", name=name, kernel_initializer=init)(x)


def _conv_norm_relu(x, filters: int, kernel: int, stride: int = 1, name: str = "", norm: str = "instance"):
    x = _conv(x, filters, kernel, stride, name, demod=norm == "demod")
    if norm == "instance":
        x = InstanceNorm(name=f"{name}_norm")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(x, filters: int, name: str, norm: str):
    y = _conv_norm_relu(x, filters, 3, name=f"{name}_a", norm=norm)
    # Each block starts close to the identity, so activations do not grow block by block.
    y = _conv(y, filters, 3, name=f"{name}_b", demod=norm == "demod", initial_gain=0.2)
    if norm == "instance":
        y = InstanceNorm(name=f"{name}_b_norm")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def build_transform_net(width: int = 32, norm: str = "demod") -> keras.Model:
    """Returns the transform network; `width` is the channel count of the first conv.

    `norm` says how the layers after the encoder are normalised: "demod" (weights)
    or "instance" (activations, as in the paper).
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    image = keras.Input(shape=(None, None, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit")(image)
    # The encoder keeps instance norm: it removes the photo's contrast, and no spike formed there.
    x = _conv_norm_relu(x, width, 9, name="conv1")
    x = _conv_norm_relu(x, width * 2, 3, stride=2, name="down1")
    x = _conv_norm_relu(x, width * 4, 3, stride=2, name="down2")
    for i in range(NUM_RESIDUAL_BLOCKS):
        x = _residual_block(x, width * 4, name=f"res{i + 1}", norm=norm)
    x = layers.UpSampling2D(2, interpolation="nearest", name="up1_resize")(x)
    x = _conv_norm_relu(x, width * 2, 3, name="up1", norm=norm)
    x = layers.UpSampling2D(2, interpolation="nearest", name="up2_resize")(x)
    x = _conv_norm_relu(x, width, 3, name="up2", norm=norm)
    # A small start keeps tanh in its linear range: with the default init the first, large
    # updates push some regions deep into saturation, where the gradient vanishes and they
    # stay black for good (the "black blob" artifact).
    x = _conv(x, 3, 9, name="out", init=keras.initializers.VarianceScaling(1e-2, "fan_avg", "uniform"))
    # tanh keeps the output in a known range; 150 lets it reach 0 and 255 without saturating.
    x = layers.Activation("tanh", name="out_tanh")(x)
    out = layers.Rescaling(150.0, offset=127.5, name="to_pixels")(x)
    return keras.Model(image, out, name=f"transform_net_w{width}_{norm}")
