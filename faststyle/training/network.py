"""The transform network of Johnson et al. 2016, in Keras 3, built from its
`Architecture` (faststyle/architecture.py, where the layout is written out).
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

from faststyle.architecture import OUTPUT_OFFSET, OUTPUT_SCALE, Architecture, Conv

NORM_EPSILON = 1e-5


@keras.saving.register_keras_serializable("faststyle")
class ReflectionPad(layers.Layer):
    """Pads height and width by mirroring the border (without repeating it)."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = pad

    def call(self, x):
        p = self.pad
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        # Said outright: JAX cannot trace a reflection pad over unknown sizes to find it.
        b, h, w, c = input_shape
        return (b, None if h is None else h + 2 * self.pad, None if w is None else w + 2 * self.pad, c)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable("faststyle")
class Fold(layers.Layer):
    """Space-to-depth by `factor` (factor=-f: depth-to-space), with ONNX's channel order:
    channel (row_in_block * f + col_in_block) * C + c."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def _hwc(self, h, w, c):
        """Output height, width and channels for an input of h x w x c."""
        f = abs(self.factor)
        return (h // f, w // f, c * f * f) if self.factor > 0 else (h * f, w * f, c // (f * f))

    def call(self, x):
        _, h, w, c = ops.shape(x)
        f = abs(self.factor)
        # Both directions swap the block-row axis with the column axis; only the split differs.
        blocks = (h // f, f, w // f, f, c) if self.factor > 0 else (h, w, f, f, c // (f * f))
        x = ops.transpose(ops.reshape(x, (-1, *blocks)), (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, *self._hwc(h, w, c)))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        oh, ow, oc = self._hwc(h or 0, w or 0, c)
        return (b, oh if h is not None else None, ow if w is not None else None, oc)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


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


def _conv(x, conv: Conv, init="glorot_uniform", initial_gain: float = 2 ** 0.5):
    """Reflection pad, conv, then the conv's norm and ReLU."""
    if conv.upsample:
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"{conv.name}_resize")(x)
    x = ReflectionPad(conv.kernel // 2, name=f"{conv.name}_pad")(x)
    if conv.norm == "demod":
        x = DemodConv2D(conv.filters, conv.kernel, strides=conv.stride, padding="valid", name=conv.name,
                        initial_gain=initial_gain)(x)
    else:
        x = layers.Conv2D(conv.filters, conv.kernel, strides=conv.stride, padding="valid", name=conv.name,
                          kernel_initializer=init)(x)
    if conv.norm == "instance":
        x = InstanceNorm(name=f"{conv.name}_norm")(x)
    return layers.ReLU(name=f"{conv.name}_relu")(x) if conv.relu else x


def build_transform_net(arch: Architecture | None = None) -> keras.Model:
    """Returns the transform network of the given shape (default: the full one)."""
    arch = arch or Architecture()
    image = keras.Input(shape=(None, None, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit")(image)
    if arch.fold:
        x = Fold(arch.fold_factor, name="fold")(x)
    for conv in arch.encoder():
        x = _conv(x, conv)
    for a, b in arch.residual_pairs():
        # Each block starts close to the identity, so activations do not grow block by block.
        y = _conv(_conv(x, a), b, initial_gain=0.2)
        x = layers.Add(name=f"{b.name[:-2]}_add")([x, y])
    for conv in arch.decoder():
        x = _conv(x, conv)
    # A small start keeps tanh in its linear range: with the default init the first, large
    # updates push some regions deep into saturation, where the gradient vanishes and they
    # stay black for good (the "black blob" artifact).
    x = _conv(x, arch.output(), init=keras.initializers.VarianceScaling(1e-2, "fan_avg", "uniform"))
    if arch.fold:
        x = Fold(-arch.fold_factor, name="unfold")(x)
    # Pixels in float32 under any precision policy: bfloat16 keeps 8 significant bits, steps of
    # a whole grey level above 128, too coarse for the TV and range terms and the VGG input.
    x = layers.Activation("tanh", name="out_tanh", dtype="float32")(x)
    out = layers.Rescaling(OUTPUT_SCALE, offset=OUTPUT_OFFSET, name="to_pixels", dtype="float32")(x)
    net = keras.Model(image, out, name=f"transform_net_w{arch.width}_b{arch.residual_blocks}_{arch.norm}")
    net.architecture = arch  # the ONNX builder walks the same description
    return net
