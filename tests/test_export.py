"""Keras network and its ONNX export compute the same function."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from faststyle.architecture import Architecture
from faststyle.training.export import to_onnx
from faststyle.training.onnx_import import load_onnx_weights
from faststyle.training.network import build_transform_net

from tests.conftest import random_transform_net


LITE_LIKE = {"residual_blocks": 3, "edge_kernel": 3}
FOLDED = {**LITE_LIKE, "fold": True}


@pytest.mark.parametrize("size,norm,shape", [
    *((size, norm, shape) for size in [(64, 64), (37, 53)]
      for norm, shape in [("demod", {}), ("instance", {}), ("demod", LITE_LIKE)]),
    # A folded network needs sides divisible by its fold and stride (the runtime pads to 4).
    *(((64, 64), norm, FOLDED) for norm in ("demod", "instance")), ((36, 52), "demod", FOLDED)])
def test_onnx_matches_keras(size, norm, shape):
    net = random_transform_net(norm=norm, **shape)
    session = ort.InferenceSession(to_onnx(net, half=False).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(0, 255, (2, *size, 3)).astype(np.float32)
    expected = np.asarray(net(x))
    got = session.run(["stylized"], {"image": x})[0]
    assert got.shape == expected.shape
    assert expected.std() > 1.0  # a real picture, not a constant that any graph would match
    assert np.abs(got - expected).max() < 0.5


def test_fold_is_onnx_space_to_depth_and_unfold_inverts_it():
    from onnx import TensorProto, helper

    from faststyle.training.network import Fold

    x = np.random.default_rng(4).normal(size=(2, 8, 12, 3)).astype(np.float32)
    folded = np.asarray(Fold(2)(x))
    assert folded.shape == (2, 4, 6, 12)
    np.testing.assert_array_equal(np.asarray(Fold(-2)(folded)), x)
    # ONNX's SpaceToDepth on the NCHW view must give the same channels in the same order.
    node = helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=2)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_folded = session.run(["y"], {"x": x.transpose(0, 3, 1, 2)})[0].transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(onnx_folded, folded)


def test_a_folded_network_has_no_full_resolution_feature_maps():
    import keras

    arch = Architecture(width=8, residual_blocks=2, edge_kernel=3, fold=True)
    net = build_transform_net(arch)
    x = np.zeros((1, 32, 32, 3), np.float32)
    probe = keras.Model(net.input, [net.get_layer(c.name).output for c in arch.convs()])
    sizes = {c.name: out.shape[1:] for c, out in zip(arch.convs(), probe(x))}
    assert sizes["conv1"] == (16, 16, 16) and sizes["out"] == (16, 16, 12)
    assert max(h * w for h, w, _ in sizes.values()) == 16 * 16
    assert net(x).shape == (1, 32, 32, 3)


def test_full_network_runs_its_last_two_convs_at_half_resolution():
    """up2 and the 9x9 output conv work on the four pixel phases; only the 12-channel result is unfolded."""
    net = random_transform_net(width=4)
    graph = to_onnx(net, half=False).graph
    session = ort.InferenceSession(to_onnx(net, half=False).SerializeToString(), providers=["CPUExecutionProvider"])
    def named(node):  # node names carry a counter: "up1_149"
        return node.name.rsplit("_", 1)[0]

    assert [named(n) for n in graph.node if n.op_type == "DepthToSpace"] == ["up1", "unfold"]
    out = next(n for n in graph.node if named(n) == "out")
    kernel = next(t for t in graph.initializer if t.name == "out/phase_kernel")
    assert list(kernel.dims) == [12, 16, 5, 5]  # 4 phases x 3 colours from 4 phases x 4 channels, 5x5
    assert out.op_type == "Conv"
    assert session.run(["stylized"], {"image": np.zeros((1, 32, 48, 3), np.float32)})[0].shape == (1, 32, 48, 3)


def test_demodulated_layers_have_no_instance_norm():
    demod, instance = (build_transform_net(Architecture(width=4, norm=n)) for n in ("demod", "instance"))
    names = lambda net: {layer.name for layer in net.layers if layer.name.endswith("_norm")}  # noqa: E731
    assert names(demod) == {"conv1_norm", "down1_norm", "down2_norm"}
    assert {"res3_b_norm", "up2_norm"} <= names(instance)
    with pytest.raises(ValueError, match="norm"):
        Architecture(width=4, norm="batch")


def test_the_network_has_the_shape_its_architecture_states():
    arch = Architecture(width=8, residual_blocks=2, edge_kernel=5)
    net = build_transform_net(arch)
    for conv in arch.convs():
        layer = net.get_layer(conv.name)
        assert (layer.filters, layer.kernel_size[0], layer.strides[0]) == (conv.filters, conv.kernel, conv.stride)
    assert not any(layer.name.startswith("res3") for layer in net.layers)
    # Weights per conv = k*k*cin*cout + biases (+ gains): the count follows from the description.
    assert net.count_params() < build_transform_net(Architecture(width=8)).count_params()


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


@pytest.mark.parametrize("norm,shape", [("demod", {}), ("instance", {}), ("demod", FOLDED), ("demod", LITE_LIKE)])
def test_weights_round_trip_through_onnx(tmp_path, norm, shape):
    net = random_transform_net(norm=norm, **shape)
    path = tmp_path / "m.onnx"
    path.write_bytes(to_onnx(net, half=False).SerializeToString())
    other = build_transform_net(net.architecture)
    load_onnx_weights(other, path)
    x = np.random.default_rng(3).uniform(0, 255, (1, 24, 24, 3)).astype(np.float32)
    assert np.abs(np.asarray(other(x)) - np.asarray(net(x))).max() < 1e-2


def test_export_rebuilds_an_older_model_with_the_faster_graph_and_never_over_its_input(tmp_path):
    import subprocess
    import sys

    from faststyle.training.export import export_onnx

    old = tmp_path / "old.onnx"
    export_onnx(random_transform_net(width=4), old, {"name": "x", "title": "Old layout"}, phase_output=False)
    new = tmp_path / "new.onnx"
    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(old), "-o", str(new)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    inits = {name: {t.name for t in onnx.load(str(p)).graph.initializer} for name, p in (("old", old), ("new", new))}
    assert "out/kernel" in inits["old"] and "out/phase_kernel" in inits["new"]
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (old, new)]
    x = np.random.default_rng(5).uniform(0, 255, (1, 40, 52, 3)).astype(np.float32)
    a, b = (s.run(["stylized"], {"image": x})[0] for s in sessions)
    assert np.abs(a - b).max() < 0.5
    cards = [s.get_modelmeta().custom_metadata_map["faststyle"] for s in sessions]
    assert cards[0] == cards[1]

    before = old.read_bytes()
    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(old), "-o", str(old)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "overwrite the input" in r.stderr and "Traceback" not in r.stderr
    assert old.read_bytes() == before

    missing = tmp_path / "missing.onnx"
    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(missing), "-o", str(new)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr == f"faststyle: error: {missing}: model file not found\n"


def test_phase_maths_round_trip_exactly():
    """training/phases.py: each split of a kernel and its inverse give the kernel back (pure numpy)."""
    from faststyle.training.phases import kernel_from_phases, phase_kernels, phase_map

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 5, 7)).astype(np.float32)  # Keras (3, 3, cin, cout)
    phases = [k for _, k in phase_kernels(kernel)]
    assert [p.shape for p in phases] == [(7, 5, 2, 2)] * 4
    np.testing.assert_allclose(kernel_from_phases(phases), kernel, atol=1e-5)
    assert np.linalg.matrix_rank(phase_map()) == 9  # injective: the inverse is exact
