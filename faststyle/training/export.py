"""Keras transform network -> ONNX, built node by node with `onnx.helper`.

Like training/network.py, the graph is built by walking the model's `Architecture`
(faststyle/architecture.py): encoder, residual blocks, decoder, output. Input "image" and output
"stylized" are NHWC float32 RGB on the 0..255 scale with dynamic batch, height and width.

Tiled inference needs every tile normalised with the whole image's statistics, so each instance
norm exposes its statistics as outputs (`<layer>_mean`, `<layer>_var`) and can take given ones
instead: `<layer>_mean_in`, `<layer>_var_in` and the switch `norm_override` (0 = own statistics,
1 = given), optional inputs with defaults, so a plain caller feeds the image only. The phase
maths of the decoder live in training/phases.py; reading a file back, in training/onnx_import.py.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from faststyle.architecture import OUTPUT_OFFSET, OUTPUT_SCALE, Architecture, Conv
from faststyle.model_file import ModelCard, model_props, set_model_props
from faststyle.training.network import NORM_EPSILON, DemodConv2D
from faststyle.training.phases import phase_kernels

OPSET = 17


class _Graph:
    def __init__(self, half: bool):
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.half = half
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def node(self, op: str, inputs: list[str], hint: str, output: str | None = None, **attrs) -> str:
        out = output or self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def const(self, value: np.ndarray, hint: str) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, value: np.ndarray, name: str) -> str:
        """A trained weight under its Keras name; float16 on disk when `half`, cast back on load."""
        if not self.half:
            self.inits.append(numpy_helper.from_array(value.astype(np.float32), name))
            return name
        self.inits.append(numpy_helper.from_array(value.astype(np.float16), name))
        return self.node("Cast", [name], f"{name}_f32", to=TensorProto.FLOAT)

    def keep(self, value: np.ndarray, name: str) -> None:
        """A float weight stored under its usual name but used by no node (ONNX Runtime drops it on
        load): int8 graphs keep their float weights so the file can be fine-tuned and re-exported."""
        dtype = np.float16 if self.half else np.float32
        self.inits.append(numpy_helper.from_array(np.asarray(value).astype(dtype), name))

    def optional_input(self, value: np.ndarray, name: str) -> str:
        self.inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
        return name


# The first conv sees 0..255 in ONNX but 0..1 in Keras (the Rescaling layer), so its kernel is scaled.
INPUT_SCALE = 1.0 / 255.0


def _kernel_bias(layer) -> tuple[np.ndarray, np.ndarray]:
    """A conv layer's kernel as an ordinary conv computes it (demodulation folded in), and its bias."""
    if isinstance(layer, DemodConv2D):
        return np.asarray(layer.effective_kernel()), np.asarray(layer.bias)
    kernel, bias = layer.get_weights()
    return kernel, bias


def _conv(g: _Graph, x: str, layer, stride: int = 1, scale: float = 1.0) -> str:
    kernel, bias = _kernel_bias(layer)
    k = kernel.shape[0]
    p = k // 2
    x = g.node("Pad", [x, g.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64), "pads")],
               f"{layer.name}_pad", mode="reflect")
    w = g.weight(np.transpose(kernel * scale, (3, 2, 0, 1)), f"{layer.name}/kernel")
    b = g.weight(bias, f"{layer.name}/bias")
    return g.node("Conv", [x, w, b], layer.name, kernel_shape=[k, k], strides=[stride, stride])


def _instance_norm(g: _Graph, x: str, layer, apply: bool = True, pooled: bool = False) -> str | None:
    """Instance norm with its statistics as graph outputs; `apply=False` stops after them.
    `pooled` (the statistics graph) takes one set of statistics over the whole batch: its images
    are crops of one picture, normalised together as that picture would be."""
    gamma, beta = (v.reshape(1, -1, 1, 1).astype(np.float32) for v in layer.get_weights())
    c = gamma.shape[1]
    name = layer.name
    axes = [0, 2, 3] if pooled else [2, 3]
    # Two read-only passes for the statistics: var = E[x^2] - mean^2, floored at 0. On a flat
    # picture (a white photo) the two terms are equal and large, and float32 rounding can leave
    # their difference below -epsilon: sqrt of a negative number, and a black picture from NaNs.
    mean = g.node("ReduceMean", [x], "", output=f"{name}_mean", axes=axes, keepdims=1)
    square_sum = g.node("ReduceSumSquare", [x], f"{name}_sumsq", axes=axes, keepdims=1)
    difference = g.node("Sub", [g.node("Div", [square_sum, _pixel_count(g, x, axes)], "msq"),
                                g.node("Mul", [mean, mean], "mean_sq")], "var_raw")
    var = g.node("Max", [difference, g.const(np.array(0.0, np.float32), "zero")], "", output=f"{name}_var")
    for stat in (mean, var):
        g.outputs.append(helper.make_tensor_value_info(stat, TensorProto.FLOAT, [1 if pooled else "batch", c, 1, 1]))
    if not apply:
        return None
    if pooled:
        # One set of statistics for the batch, so one BatchNormalization node can apply them: a
        # single pass over x where the Mul and Add below are two (5 % of this graph's time). The
        # statistics themselves must come from the same ops as in the full graph: E[x^2] as a
        # ReduceMean of x * x, equally valid in float32, moved pictures by 0.9 grey levels.
        flat = g.const(np.array([-1], np.int64), "flat")
        per_channel = [g.node("Reshape", [v, flat], "c") for v in
                       (g.weight(gamma, f"{name}/gamma"), g.weight(beta, f"{name}/beta"), mean, var)]
        return g.node("BatchNormalization", [x, *per_channel], f"{name}_out", epsilon=NORM_EPSILON)
    # blend = own + override * (given - own): the switch is 0 or 1.
    switch = "norm_override"
    mean_in = g.optional_input(np.zeros((1, c, 1, 1)), f"{name}_mean_in")
    var_in = g.optional_input(np.ones((1, c, 1, 1)), f"{name}_var_in")
    used_mean = g.node("Add", [mean, g.node("Mul", [switch, g.node("Sub", [mean_in, mean], "d")], "m")], "mean")
    used_var = g.node("Add", [var, g.node("Mul", [switch, g.node("Sub", [var_in, var], "d")], "m")], "var")
    # y = x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a: two passes over x.
    eps = g.const(np.array(NORM_EPSILON, np.float32), "eps")
    a = g.node("Mul", [g.weight(gamma, f"{name}/gamma"),
                       g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [used_var, eps], "v")], "s")], "r")], "a")
    b = g.node("Sub", [g.weight(beta, f"{name}/beta"), g.node("Mul", [used_mean, a], "ma")], "b")
    return g.node("Add", [g.node("Mul", [x, a], f"{name}_scaled"), b], f"{name}_out")


# int8 (`int8_ranges`, measured by training/quantize.py; why and how fast: docs/speed.md): only the
# residual convs, the bulk of the multiply-adds (the residual sum stays float32), and the upsampling
# convs when the ranges have them (quantize.calibrate(decoder=True); the bundled models keep a float
# decoder, whose pictures move with the photo: see calibrate).
def _channel_scales(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel steps and zero points that map each channel's [low, high] (widened to hold 0)
    onto 0..255."""
    low, high = np.minimum(low, 0.0), np.maximum(high, 1e-6)
    scale = (high - low) / 255.0
    return scale, np.clip(np.round(-low / scale), 0, 255).astype(np.uint8)


def _relu_scales(low_high) -> np.ndarray:
    """Per-channel steps of a ReLU's output, 0..highest onto 0..255 (zero point 0)."""
    return np.maximum(np.asarray(low_high[1], np.float64), 1e-6) / 255.0


def _int8_conv(g: _Graph, x: str, name: str, kernel: np.ndarray, bias: np.ndarray, x_zero: np.ndarray,
               y_zero: np.ndarray) -> str:
    """Reflection pad and 3x3 conv of an NHWC uint8 tensor. The transposes around the NCHW
    QLinearConv cancel in ONNX Runtime, which runs it channels-last."""
    x = g.node("Pad", [x, g.const(np.array([0, 1, 1, 0, 0, 1, 1, 0], np.int64), "pads")], f"{name}_pad",
               mode="reflect")
    x = g.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    y = _qlinear_conv(g, x, name, kernel, bias, x_zero, y_zero, kernel_size=3)
    return g.node("Transpose", [y], "nhwc", perm=[0, 2, 3, 1])


def _qlinear_conv(g: _Graph, x: str, name: str, kernel: np.ndarray, bias: np.ndarray, x_zero: np.ndarray,
                  y_zero: np.ndarray, kernel_size: int) -> str:
    """A conv of an NCHW uint8 tensor. `kernel` (out, in, k, k) and `bias` are in units of the
    input's and output's steps (their per-channel scales folded in), so the conv's own scales are 1.
    QLinearConv takes one zero point per tensor; the per-channel ones (`x_zero`, `y_zero`) go into
    the int32 bias instead, exactly: no padding here adds zeros, so every input pixel carries its
    channel's zero point. Weights: int8 per output channel with 7 bits, as AVX2's u8 x s8
    multiply-add saturates at 16 bits with 8."""
    w_scale = np.maximum(np.abs(kernel).reshape(len(kernel), -1).max(axis=1), 1e-12) / 63.0
    wq = np.clip(np.round(kernel / w_scale[:, None, None, None]), -63, 63).astype(np.int8)
    bias_q = (np.round((bias + np.asarray(y_zero, np.float64)) / w_scale)
              - np.einsum("oiyx,i->o", wq.astype(np.int64), np.broadcast_to(np.asarray(x_zero, np.int64), wq.shape[1])))
    return g.node("QLinearConv", [x, _f32(g, 1.0), _u8(g, 0), g.const(wq, f"{name}/kernel_q"),
                                  _f32(g, w_scale), g.const(np.zeros(len(w_scale), np.int8), "w_zero"),
                                  _f32(g, 1.0), _u8(g, 0), g.const(bias_q.astype(np.int32), f"{name}/bias_q")],
                  name, kernel_shape=[kernel_size, kernel_size])


def _f32(g: _Graph, value) -> str:
    return g.const(np.array(value, np.float32), "scale")


def _u8(g: _Graph, value) -> str:
    return g.const(np.array(value, np.uint8), "zero_point")


def _int8_trunk(g: _Graph, x: str, model, arch: Architecture, ranges: dict) -> str:
    """The residual blocks with uint8 activations, channels-last. Each activation has per-channel
    steps, folded into the weights on either side, and zero points, folded into the biases (both
    exact in real numbers); the first conv's ReLU is its output clamping at zero point 0."""
    x = g.node("Transpose", [x], "trunk_nhwc", perm=[0, 2, 3, 1])
    for a, b in arch.residual_pairs():
        block = ranges[b.name[:-2]]
        s_in, z_in = _channel_scales(*np.asarray(block["in"], np.float64))
        s_hidden = _relu_scales(block["hidden"])
        s_out, z_out = _channel_scales(*np.asarray(block["out"], np.float64))
        (w_a, b_a), (w_b, b_b) = (_stored_conv(g, model.get_layer(c.name)) for c in (a, b))
        w_a = w_a * s_in[None, :, None, None] / s_hidden[:, None, None, None]
        w_b = w_b * s_hidden[None, :, None, None] / s_out[:, None, None, None]
        x_q = g.node("QuantizeLinear", [x, _f32(g, s_in), _u8(g, z_in)], f"{a.name}_q", axis=3)
        hidden = _int8_conv(g, x_q, a.name, w_a, b_a / s_hidden, z_in, 0)
        y = _int8_conv(g, hidden, b.name, w_b, b_b / s_out, 0, z_out)
        y = g.node("DequantizeLinear", [y, _f32(g, s_out), _u8(g, z_out)], f"{b.name}_dq", axis=3)
        x = g.node("Add", [x, y], f"{b.name[:-2]}_add")
    return g.node("Transpose", [x], "trunk_nchw", perm=[0, 3, 1, 2])


def _stored_conv(g: _Graph, layer) -> tuple[np.ndarray, np.ndarray]:
    """A conv's (out, in, k, k) kernel and bias, also kept under the names the float graph uses."""
    kernel, bias = _kernel_bias(layer)
    kernel = np.transpose(kernel, (3, 2, 0, 1))
    g.keep(kernel, f"{layer.name}/kernel")
    g.keep(bias, f"{layer.name}/bias")
    return kernel.astype(np.float64), np.asarray(bias, np.float64)


def _pixel_count(g: _Graph, x: str, axes: list[int]) -> str:
    """How many values of an NCHW tensor a statistic over `axes` averages, as a float scalar."""
    sizes = g.node("Gather", [g.node("Shape", [x], "shape"), g.const(np.array(axes, np.int64), "axes")], "sizes")
    return g.node("Cast", [g.node("ReduceProd", [sizes], "n", keepdims=0)], "n_f", to=TensorProto.FLOAT)


def _layer(g: _Graph, x: str, model, conv: Conv, scale: float = 1.0, stats_only: bool = False,
           pooled: bool = False) -> str:
    """One conv of the architecture with its norm and ReLU (demodulation is folded into the kernel).
    `stats_only` stops at its instance norm's statistics and returns the conv's output; `pooled`
    normalises the batch as one image (see `_instance_norm`)."""
    layer = model.get_layer(conv.name)
    x = _upsample_conv(g, x, layer) if conv.upsample else _conv(g, x, layer, conv.stride, scale)
    if conv.norm == "instance":
        norm = model.get_layer(f"{conv.name}_norm")
        if stats_only:
            _instance_norm(g, x, norm, apply=False, pooled=pooled)
            return x
        x = _instance_norm(g, x, norm, pooled=pooled)
    return g.node("Relu", [x], f"{conv.name}_relu") if conv.relu else x


# Nearest 2x upsampling then a reflection-padded 3x3 conv, in four low-resolution phases
# (training/phases.py); reflecting the upsampled image by one pixel repeats its edge: edge padding.



def _upsample_conv(g: _Graph, x: str, layer) -> str:
    phases = g.node("Concat", _upsample_conv_phases(g, x, layer), f"{layer.name}_phases", axis=1)
    return g.node("DepthToSpace", [phases], layer.name, blocksize=2, mode="DCR")


def _upsample_conv_phases(g: _Graph, x: str, layer, relu: bool = False) -> list[str]:
    """The four phases (a, b) of the upsampled conv's output, each at the input's resolution."""
    kernel, bias = _kernel_bias(layer)  # (3, 3, cin, cout)
    x = g.node("Pad", [x, g.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")],
               f"{layer.name}_pad", mode="edge")
    phases = []
    for (a, b), k in phase_kernels(kernel):
        y = g.node("Conv", [x, g.weight(k, f"{layer.name}/phase{a}{b}"), g.weight(bias, f"{layer.name}/bias{a}{b}")],
                   f"{layer.name}_phase{a}{b}", kernel_shape=[2, 2])
        if relu:  # straight after the conv, where ONNX Runtime fuses it
            y = g.node("Relu", [y], f"{layer.name}_relu{a}{b}")
        phases.append(_phase_crop(g, y, a, b))
    return phases


def _phase_crop(g: _Graph, y: str, a: int, b: int) -> str:
    """Phase (a, b) reads the edge-padded input from row a, column b on: its output is one row and
    column too big, so drop the far edge (a=0) or the near one (a=1)."""
    last = np.iinfo(np.int64).max
    starts = g.const(np.array([a, b], np.int64), "c")
    ends = g.const(np.array([last if a else -1, last if b else -1], np.int64), "c")
    return g.node("Slice", [y, starts, ends, g.const(np.array([2, 3], np.int64), "c")], "phase")


def _int8_upsample_conv(g: _Graph, x: str, x_scale: np.ndarray, x_zero: np.ndarray | int, layer,
                        y_scale: np.ndarray) -> list[str]:
    """An upsampling conv and its ReLU in int8: the four phases (as `_upsample_conv_phases`) of
    NCHW uint8 `x` with per-channel steps and zero points, each uint8 with per-channel steps
    `y_scale` and zero point 0. The float phase kernels are kept under their usual names."""
    kernel, bias = _kernel_bias(layer)
    x = g.node("Pad", [x, g.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")],
               f"{layer.name}_pad", mode="edge")
    phases = []
    for (a, b), k in phase_kernels(kernel):
        g.keep(k, f"{layer.name}/phase{a}{b}")
        g.keep(bias, f"{layer.name}/bias{a}{b}")
        k = k.astype(np.float64) * x_scale[None, :, None, None] / y_scale[:, None, None, None]
        y = _qlinear_conv(g, x, f"{layer.name}_phase{a}{b}", k, bias / y_scale, x_zero, 0, kernel_size=2)
        phases.append(_phase_crop(g, y, a, b))
    return phases


def _int8_decoder(g: _Graph, x: str, model, arch: Architecture, ranges: dict) -> str:
    """Both upsampling convs in int8, uint8 between them, and the output conv in float on the
    second one's phases (as `_phase_output_conv`): NCHW float features in, NCHW pixels out."""
    up1, up2 = (model.get_layer(conv.name) for conv in arch.decoder())
    s_in, z_in = _channel_scales(*np.asarray(ranges[up1.name]["in"], np.float64))
    s_up1, s_up2 = _relu_scales(ranges[up1.name]["out"]), _relu_scales(ranges[up2.name]["out"])
    x = g.node("QuantizeLinear", [x, _f32(g, s_in), _u8(g, z_in)], f"{up1.name}_q", axis=1)
    phases = _int8_upsample_conv(g, x, s_in, z_in, up1, s_up1)
    x = g.node("DepthToSpace", [g.node("Concat", phases, f"{up1.name}_phases", axis=1)], up1.name,
               blocksize=2, mode="DCR")
    phases = _int8_upsample_conv(g, x, s_up1, 0, up2, s_up2)
    x = _phase_output_conv(g, phases, model.get_layer(arch.output().name), phase_scale=s_up2)
    return g.node("DepthToSpace", [x], "unfold", blocksize=2, mode="DCR")


# The output conv after the last upsampling, also at low resolution: output phase (a, b)
# of a KxK conv reads input phase (a', b') at offsets d with full-resolution tap
# 2d + a' - a, so it is a (K+1)/2-square conv over the four input phases together, giving
# 4 x 3 channels that DepthToSpace unfolds. The full-resolution reflection padding becomes,
# per phase, a reflection at one end and a mirror that repeats the edge at the other.
# Same result; the 3-channel KxK conv at full size was the slowest node of the network.
def _phase_output_conv(g: _Graph, phases: list[str], layer, phase_scale: np.ndarray | None = None) -> str:
    """`phase_scale`: the phases are uint8 with these per-channel steps (zero point 0); they are
    padded and concatenated as uint8, a quarter of the float traffic, then dequantised."""
    kernel, bias = _kernel_bias(layer)  # (K, K, cin, cout)
    k, _, cin, cout = kernel.shape
    r = k // 2
    radius = (r + 1) // 2
    w = np.zeros((2, 2, cout, 2, 2, cin, 2 * radius + 1, 2 * radius + 1), np.float32)
    for a, b, a_in, b_in in np.ndindex(2, 2, 2, 2):
        for dy, dx in np.ndindex(2 * radius + 1, 2 * radius + 1):
            ty, tx = 2 * (dy - radius) + a_in - a, 2 * (dx - radius) + b_in - b
            if abs(ty) <= r and abs(tx) <= r:
                w[a, b, :, a_in, b_in, :, dy, dx] = kernel[ty + r, tx + r].T
    padded = [_mirror_pad(g, _mirror_pad(g, phases[2 * a_in + b_in], 2, a_in, radius), 3, b_in, radius)
              for a_in in (0, 1) for b_in in (0, 1)]
    x = g.node("Concat", padded, "phases_padded", axis=1)
    if phase_scale is not None:
        x = g.node("DequantizeLinear", [x, _f32(g, np.tile(phase_scale, 4)), _u8(g, np.zeros(4 * len(phase_scale)))],
                   "phases_dq", axis=1)
    w = g.weight(w.reshape(4 * cout, 4 * cin, 2 * radius + 1, 2 * radius + 1), f"{layer.name}/phase_kernel")
    return g.node("Conv", [x, w, g.weight(np.tile(bias, 4), f"{layer.name}/phase_bias")], layer.name,
                  kernel_shape=[2 * radius + 1] * 2)


def _mirror_pad(g: _Graph, x: str, axis: int, phase: int, n: int) -> str:
    """Pads n rows (axis 2) or columns (axis 3) of a phase as the full-resolution reflection does:
    phase 0 reflects at the start and repeats its edge at the end, phase 1 the other way round."""
    first = np.iinfo(np.int64).min  # as a Slice end with step -1: up to and including index 0

    def rows(start: int, end: int) -> str:  # x[start:end:-1] along the axis
        return g.node("Slice", [x, g.const(np.array([start], np.int64), "c"), g.const(np.array([end], np.int64), "c"),
                                g.const(np.array([axis], np.int64), "c"), g.const(np.array([-1], np.int64), "c")], "m")

    before = rows(n, 0) if phase == 0 else rows(n - 1, first)
    after = rows(-1, -1 - n) if phase == 0 else rows(-2, -2 - n)
    return g.node("Concat", [before, x, after], "mirrored", axis=axis)


def _encoder(g: _Graph, model, stats: bool = False) -> str:
    """The graph's inputs and the encoder: NHWC pixels in, NCHW features out. `stats` builds
    `stats_graph`'s: crops in, pooled statistics out, ending at the last layer's statistics."""
    arch: Architecture = model.architecture
    g.inputs.append(helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", "height", "width", 3]))
    if not stats:
        g.optional_input(np.array(0.0), "norm_override")
    x = g.node("Transpose", ["image"], "to_nchw", perm=[0, 3, 1, 2])
    if arch.fold:
        x = g.node("SpaceToDepth", [x], "fold", blocksize=arch.fold_factor)
    convs = arch.encoder()
    for i, conv in enumerate(convs):
        # The statistics graph stops at the last statistics: normalising and rectifying after
        # them would be work nobody reads (ONNX Runtime runs every node, fetched or not).
        x = _layer(g, x, model, conv, scale=INPUT_SCALE if i == 0 else 1.0,
                   stats_only=stats and i == len(convs) - 1, pooled=stats)
    return x


def to_onnx(model: keras.Model, card: ModelCard | dict | None = None, half: bool = True,
            phase_output: bool = True, int8_ranges: dict | None = None) -> onnx.ModelProto:
    """Builds the ONNX graph of a transform network made by `build_transform_net`.

    `phase_output=False` builds the output conv at full resolution, as earlier versions did
    (the same function, about 1.2x slower; kept for benchmarks and tests). `int8_ranges`
    (from `quantize.calibrate`, kept in the model card) runs the residual blocks in int8, and the
    upsampling convs when the ranges have them.
    """
    arch: Architecture = model.architecture
    g = _Graph(half)
    x = _encoder(g, model)
    if int8_ranges and arch.norm != "demod":
        raise ValueError("int8 residual blocks need a network without instance norm in them (norm='demod')")
    if int8_ranges:
        x = _int8_trunk(g, x, model, arch, int8_ranges)
    else:
        for a, b in arch.residual_pairs():
            x = g.node("Add", [x, _layer(g, _layer(g, x, model, a), model, b)], f"{b.name[:-2]}_add")
    *decoder, last = arch.decoder()
    if int8_ranges and last.name in int8_ranges and phase_output:  # calibrated with the upsampling convs too
        x = _int8_decoder(g, x, model, arch, int8_ranges)
    else:
        for conv in decoder:
            x = _layer(g, x, model, conv)
        if phase_output and last.upsample and last.relu and last.norm != "instance" and not arch.fold:
            phases = _upsample_conv_phases(g, x, model.get_layer(last.name), relu=True)
            x = _phase_output_conv(g, phases, model.get_layer(arch.output().name))
            x = g.node("DepthToSpace", [x], "unfold", blocksize=2, mode="DCR")
        else:
            x = _layer(g, _layer(g, x, model, last), model, arch.output())
            if arch.fold:
                x = g.node("DepthToSpace", [x], "unfold", blocksize=arch.fold_factor, mode="DCR")
    x = g.node("Tanh", [x], "tanh")
    x = g.node("Add", [g.node("Mul", [x, g.const(np.array(OUTPUT_SCALE, np.float32), "c")], "m"),
                       g.const(np.array(OUTPUT_OFFSET, np.float32), "c")], "pixels")
    g.nodes.append(helper.make_node("Transpose", [x], ["stylized"], name="to_nhwc", perm=[0, 2, 3, 1]))
    g.outputs.insert(0, helper.make_tensor_value_info("stylized", TensorProto.FLOAT, ["batch", "height", "width", 3]))
    card = card if isinstance(card, ModelCard) else ModelCard.from_dict(card or {})
    # The card keeps int8 ranges (and their calibration note) only on an int8 graph.
    card = dataclasses.replace(card, architecture=arch.to_dict(), int8=int8_ranges or None,
                               int8_calibration=card.int8_calibration if int8_ranges else None)
    proto = _model(g, "faststyle_transform_net")
    encoder = stats_graph(model, half).SerializeToString() if arch.norm != "instance" else None
    set_model_props(proto, model_props(card, encoder))
    onnx.checker.check_model(proto)
    return proto


# Tiled inference first measures the instance-norm statistics of the whole image. ONNX Runtime runs
# every node of a graph even when only some outputs are fetched, so that pass would cost a whole
# network run; the encoder alone (where all instance norms are when norm != "instance") is about
# a tenth of it. It travels in the model file beside the card (model_file.STATS_GRAPH_KEY).
# It takes a batch of crops of one image (runtime.stats_crops) and gives one set of statistics
# for all of them, each layer normalised with the pooled statistics of the layer before, as the
# whole image would be: a sample at full resolution, where a downscaled copy would shift them.
def stats_graph(model: keras.Model, half: bool = True) -> onnx.ModelProto:
    """The encoder only, from "image" (a batch of crops of one picture) to its instance norms'
    `<layer>_mean` / `<layer>_var` outputs over the whole batch, computed as the full graph does."""
    g = _Graph(half)
    _encoder(g, model, stats=True)
    return _model(g, "faststyle_pooled_norm_stats")


def _model(g: _Graph, name: str) -> onnx.ModelProto:
    proto = helper.make_model(helper.make_graph(g.nodes, name, g.inputs, g.outputs, g.inits),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name="faststyle")
    proto.ir_version = 8  # opset 17 needs IR 8; keeps the file loadable by older runtimes
    return proto


def export_onnx(model: keras.Model, path, card: ModelCard | dict | None = None, half: bool = True,
                phase_output: bool = True, int8_ranges: dict | None = None) -> None:
    from faststyle.files import atomic_write_bytes

    atomic_write_bytes(path, to_onnx(model, card, half, phase_output, int8_ranges).SerializeToString())
