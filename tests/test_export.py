"""Keras network and its ONNX export compute the same function."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from faststyle.training.export import load_onnx_weights, to_onnx
from faststyle.training.network import build_transform_net


@pytest.mark.parametrize("size", [(64, 64), (37, 53)])
def test_onnx_matches_keras(tiny_net, size):
    session = ort.InferenceSession(to_onnx(tiny_net, half=False).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(0, 255, (2, *size, 3)).astype(np.float32)
    expected = np.asarray(tiny_net(x))
    got = session.run(["stylized"], {"image": x})[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 0.5


def test_width_is_a_parameter():
    assert build_transform_net(16).count_params() < build_transform_net(32).count_params()
    layer = build_transform_net(16).get_layer("down2")
    assert layer.filters == 64


def test_export_is_standard_onnx_with_dynamic_size_and_metadata(tiny_net):
    model = to_onnx(tiny_net, {"name": "tiny", "steps": 3})
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "height", "width", 3]
    props = {p.key: p.value for p in model.metadata_props}
    assert '"steps": 3' in props["faststyle"]


def test_half_precision_file_is_smaller_and_close(tiny_net):
    full, half = to_onnx(tiny_net, half=False), to_onnx(tiny_net, half=True)
    assert len(half.SerializeToString()) < 0.7 * len(full.SerializeToString())
    x = np.random.default_rng(2).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    a, b = (ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            .run(["stylized"], {"image": x})[0] for m in (full, half))
    assert np.abs(a - b).mean() < 2.0


def test_weights_round_trip_through_onnx(tmp_path, tiny_net):
    path = tmp_path / "m.onnx"
    path.write_bytes(to_onnx(tiny_net, half=False).SerializeToString())
    other = build_transform_net(4)
    load_onnx_weights(other, path)
    x = np.random.default_rng(3).uniform(0, 255, (1, 24, 24, 3)).astype(np.float32)
    assert np.abs(np.asarray(other(x)) - np.asarray(tiny_net(x))).max() < 1e-2
