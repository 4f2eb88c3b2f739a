"""Reading a faststyle .onnx file back into Keras: to fine-tune it (--init-from), to distil from
it (--teacher), or to rebuild it with this version's graph (`faststyle export MODEL.onnx`).

The inverse of training/export.py: every conv's ordinary kernel is recovered from however the
graph stores it (phase kernels, the phase output conv, or plain), then set on the network.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import onnx
from onnx import numpy_helper

from faststyle.model_file import ModelCard, read_card
from faststyle.training.export import INPUT_SCALE, export_onnx
from faststyle.training.network import DemodConv2D, InstanceNorm
from faststyle.training.phases import kernel_from_phase_output, kernel_from_phases


def reexport_onnx(source, output, half: bool = True, calibration_photos: list | None = None,
                  drop_int8: bool = False) -> Path:
    """Rebuilds a faststyle model with this version's graph: the same weights and model card,
    so an older file gets today's faster layout. Its int8 residual blocks are kept (same ranges),
    measured afresh on `calibration_photos`, or dropped (`drop_int8`)."""
    from faststyle.errors import FaststyleError
    from faststyle.model_file import read_card
    from faststyle.training.quantize import calibrated

    source, output = Path(source), Path(output)
    if not source.is_file():
        raise FaststyleError(f"{source}: model file not found")
    from faststyle.files import refuse_overwriting_inputs

    refuse_overwriting_inputs(output, source)
    card = read_card(source)
    net = load_onnx_net(source, card)
    ranges = None if drop_int8 else card.int8
    if calibration_photos:
        ranges, card = calibrated(net, calibration_photos, card, str(source))
    export_onnx(net, output, card, half, int8_ranges=ranges)
    return output


def load_onnx_net(path, card: ModelCard | None = None) -> keras.Model:
    """A faststyle .onnx file as a Keras network of the architecture its card records."""
    from faststyle.training.network import build_transform_net

    net = build_transform_net((card or read_card(path)).network())
    load_onnx_weights(net, path)
    return net


def load_onnx_weights(model: keras.Model, path) -> None:
    """Sets a Keras transform network's weights from an ONNX file written by `to_onnx`."""
    stored = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in onnx.load(str(path)).graph.initializer}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and f"{layer.name}/phase_kernel" in stored:
            kernel, bias = kernel_from_phase_output(stored[f"{layer.name}/phase_kernel"],
                                                     stored[f"{layer.name}/phase_bias"], layer.kernel_size[0])
            _set_conv(layer, kernel, bias)
        elif isinstance(layer, keras.layers.Conv2D) and f"{layer.name}/phase00" in stored:
            phases = [stored[f"{layer.name}/phase{a}{b}"] for a in (0, 1) for b in (0, 1)]
            _set_conv(layer, kernel_from_phases(phases), stored[f"{layer.name}/bias00"])
        elif isinstance(layer, keras.layers.Conv2D):
            kernel = np.transpose(stored[f"{layer.name}/kernel"], (2, 3, 1, 0))
            if layer.name == model.architecture.encoder()[0].name:
                kernel = kernel / INPUT_SCALE
            _set_conv(layer, kernel, stored[f"{layer.name}/bias"])
        elif isinstance(layer, InstanceNorm):
            layer.set_weights([stored[f"{layer.name}/gamma"].reshape(-1), stored[f"{layer.name}/beta"].reshape(-1)])


def _set_conv(layer, kernel: np.ndarray, bias: np.ndarray) -> None:
    """Sets a conv from an ordinary kernel; a demodulated conv stores it as direction and gain."""
    if isinstance(layer, DemodConv2D):
        layer.set_weights([kernel, bias, np.sqrt(np.sum(np.square(kernel), axis=(0, 1, 2)) + 1e-8)])
    else:
        layer.set_weights([kernel, bias])
