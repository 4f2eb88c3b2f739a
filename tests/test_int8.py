"""int8 residual blocks and upsampling convs: close to the float network, exact to re-export, clear errors."""

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from faststyle.model_file import read_card
from faststyle.runtime import StyleModel
from faststyle.training.export import export_onnx, to_onnx
from faststyle.training.onnx_import import load_onnx_net, reexport_onnx
from faststyle.training.quantize import calibrate
from tests.conftest import photo, random_transform_net

SIDES = (64, 96)  # calibration sizes: small, so the test is quick


@pytest.fixture(scope="module")
def calibration_photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration")
    paths = []
    for seed in range(4):
        path = folder / f"photo{seed}.png"
        Image.fromarray(photo(72, 96, seed=seed)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def net():
    return random_transform_net(width=8, seed=2)


@pytest.fixture(scope="module")
def ranges(net, calibration_photos):
    return calibrate(net, calibration_photos, long_sides=SIDES, decoder=True)


def test_by_default_the_upsampling_convs_stay_float(net, calibration_photos):
    """Their int8 rounding would reach the output pixels and not move with the picture (video)."""
    assert set(calibrate(net, calibration_photos[:1], long_sides=SIDES[:1])) == {
        f"res{i}" for i in range(1, net.architecture.residual_blocks + 1)}


def _run(proto_or_path, x):
    source = proto_or_path if isinstance(proto_or_path, str) else proto_or_path.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(["stylized"], {"image": x})[0]


# QLinearConvs of an int8 network: two per residual block, four phases per upsampling conv.
def _int8_convs(blocks: int, upsampling: int = 2) -> int:
    return 2 * blocks + 4 * upsampling


def test_int8_network_is_close_to_the_float_one_on_an_unseen_photo(net, ranges):
    proto = to_onnx(net, half=False, int8_ranges=ranges)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("QLinearConv") == _int8_convs(net.architecture.residual_blocks)
    float_convs = [n.name.rsplit("_", 1)[0] for n in proto.graph.node if n.op_type == "Conv"]  # names end in _<n>
    assert float_convs == ["conv1", "down1", "down2", "out"]
    x = photo(80, 112, seed=9)[None].astype(np.float32)
    exact, quantised = _run(to_onnx(net, half=False), x), _run(proto, x)
    assert exact.std() > 5.0  # a picture, not a constant any graph would match
    difference = np.abs(np.clip(exact, 0, 255) - np.clip(quantised, 0, 255))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) < 8.0
    assert difference.max() > 0  # it really is quantised


def test_a_folded_lite_network_runs_its_residual_blocks_in_int8(calibration_photos):
    lite = random_transform_net(width=8, seed=4, residual_blocks=3, edge_kernel=3, fold=True)
    lite_ranges = calibrate(lite, calibration_photos, long_sides=SIDES)
    assert set(lite_ranges) == {"res1", "res2", "res3"}  # its one upsampling conv feeds the output, in float
    proto = to_onnx(lite, half=False, int8_ranges=lite_ranges)
    assert sum(n.op_type == "QLinearConv" for n in proto.graph.node) == 6
    x = photo(80, 112, seed=8)[None].astype(np.float32)
    exact = _run(to_onnx(lite, half=False), x)
    difference = np.abs(np.clip(exact, 0, 255) - np.clip(_run(proto, x), 0, 255))
    assert exact.std() > 5.0 and difference.mean() < 1.5 and np.percentile(difference, 99) < 8.0


def test_older_ranges_without_the_upsampling_convs_keep_a_float_decoder(net, ranges):
    blocks_only = {name: parts for name, parts in ranges.items() if name.startswith("res")}
    proto = to_onnx(net, half=False, int8_ranges=blocks_only)
    assert sum(n.op_type == "QLinearConv" for n in proto.graph.node) == 2 * net.architecture.residual_blocks
    x = photo(48, 64, seed=4)[None].astype(np.float32)
    difference = np.abs(np.clip(_run(to_onnx(net, half=False), x), 0, 255) - np.clip(_run(proto, x), 0, 255))
    assert difference.mean() < 1.5


def test_ranges_hold_every_channel_and_the_relu(net, ranges, calibration_photos):
    w, blocks = net.architecture.width, net.architecture.residual_blocks
    assert set(ranges) == {f"res{i}" for i in range(1, blocks + 1)} | {"up1", "up2"}
    channels = {"in": 4 * w, "hidden": 4 * w, "out": 4 * w}
    for name, block in ranges.items():
        if name.startswith("up"):
            channels = {"up1": {"in": 4 * w, "out": 2 * w}, "up2": {"in": 2 * w, "out": w}}[name]
        for part, (low, high) in block.items():
            assert len(low) == len(high) == channels[part]
            assert all(lo <= hi for lo, hi in zip(low, high))
        assert min(block.get("hidden", block["out"])[0]) >= 0.0  # measured after the ReLU
    # Wider ranges than needed: never narrower than one photo's own at one size.
    alone = calibrate(net, calibration_photos[:1], long_sides=SIDES[:1], decoder=True)
    for block, parts in alone.items():
        for part, (low, high) in parts.items():
            assert np.all(np.asarray(ranges[block][part][0]) <= low)
            assert np.all(np.asarray(ranges[block][part][1]) >= high)


def test_int8_file_keeps_its_float_weights_and_ranges_for_re_export(net, ranges, tmp_path):
    int8_path, float_path = tmp_path / "int8.onnx", tmp_path / "float.onnx"
    export_onnx(net, int8_path, {"name": "t"}, half=False, int8_ranges=ranges)
    export_onnx(net, float_path, {"name": "t"}, half=False)
    assert read_card(int8_path).int8 == ranges and read_card(float_path).int8 is None
    x = photo(48, 64, seed=3)[None].astype(np.float32)
    # Loading the int8 file gives back the exact float network ...
    np.testing.assert_allclose(np.asarray(load_onnx_net(int8_path)(x)), np.asarray(net(x)), atol=1e-2)
    # ... so re-exporting keeps it int8 with the same ranges, or drops int8 to the exact float graph.
    again = reexport_onnx(int8_path, tmp_path / "again.onnx", half=False)
    assert read_card(again).int8 == ranges
    np.testing.assert_allclose(_run(str(again), x), _run(str(int8_path), x), atol=1e-3)
    dropped = reexport_onnx(int8_path, tmp_path / "dropped.onnx", half=False, drop_int8=True)
    assert read_card(dropped).int8 is None
    np.testing.assert_allclose(_run(str(dropped), x), _run(str(float_path), x), atol=0.05)


def test_tiles_of_an_int8_model_match_one_pass(net, ranges, tmp_path):
    path = tmp_path / "int8.onnx"
    export_onnx(net, path, {"name": "t"}, int8_ranges=ranges)
    model = StyleModel.load(path, threads=1)
    image = photo(200, 240, seed=5)
    margin = model.architecture.tile_margin()
    whole = model.transform(image).astype(int)
    tiled = model.transform(image, max_untiled_pixels=0, max_tile_pixels=(2 * margin + 64) ** 2).astype(int)
    assert np.abs(whole - tiled).mean() < 1.0


def _export(*args):
    return subprocess.run([sys.executable, "-m", "faststyle", "export", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_cli_int8_export_and_its_errors(tmp_path, calibration_photos):
    source = tmp_path / "float.onnx"
    export_onnx(random_transform_net(width=4), source, {"name": "t"})
    quantised = tmp_path / "int8.onnx"
    r = _export(source, "-o", quantised, "--int8", calibration_photos[0].parent)
    assert r.returncode == 0, r.stderr
    card = read_card(quantised)
    assert card.int8 and card.int8_calibration.startswith(f"4 photos from {calibration_photos[0].parent.name}")
    assert sum(n.op_type == "QLinearConv" for n in onnx.load(str(quantised)).graph.node) == _int8_convs(5, upsampling=0)  # the decoder stays float
    back = tmp_path / "back.onnx"
    assert _export(quantised, "-o", back, "--no-int8").returncode == 0
    assert not any(key.startswith("int8") for key in read_card(back).to_dict())
    assert not any(n.op_type == "QLinearConv" for n in onnx.load(str(back)).graph.node)

    empty = tmp_path / "empty"
    empty.mkdir()
    r = _export(source, "-o", tmp_path / "never.onnx", "--int8", empty)
    assert r.returncode != 0 and "no images found" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "never.onnx").exists()
    r = _export(source, "-o", tmp_path / "never.onnx", "--int8", tmp_path / "missing")
    assert r.returncode != 0 and "Pass a folder of photos with --int8" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "never.onnx").exists()

    instance = tmp_path / "instance.onnx"
    export_onnx(random_transform_net(width=4, norm="instance"), instance, {"name": "t"})
    r = _export(instance, "-o", tmp_path / "never.onnx", "--int8", calibration_photos[0].parent)
    assert r.returncode != 0 and "--norm demod" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never.onnx").exists()


@pytest.mark.parametrize("low_scale", [0.0, 0.003, 0.01, 1.0, 5.0])
def test_channel_scales_give_every_channel_all_256_steps(low_scale):
    from faststyle.training.export import _channel_scales

    rng = np.random.default_rng(7)
    high = rng.uniform(0.1, 20.0, 64)
    low = -rng.uniform(0.0, 1.0, 64) * high * low_scale
    low[::5] = 0.0  # channels after a ReLU-like cut
    scale, zero = _channel_scales(low, high)
    q_low, q_high = np.round(low / scale) + zero, np.round(high / scale) + zero
    assert q_low.min() >= 0 and q_high.max() <= 255
    assert np.all(q_high - q_low >= 254)


def test_per_channel_zero_points_folded_into_the_bias_are_exact():
    """QLinearConv takes one zero point per tensor; _qlinear_conv folds per-channel ones into
    its bias. Checked against the same quantised conv computed in numpy."""
    from onnx import TensorProto, helper

    from faststyle.training.export import _Graph, _qlinear_conv

    rng = np.random.default_rng(3)
    kernel = rng.normal(0, 0.05, (4, 3, 2, 2))
    bias = rng.normal(0, 5, 4)
    x_zero, y_zero = np.array([0, 100, 255], np.uint8), np.array([0, 20, 128, 250], np.uint8)
    g = _Graph(half=False)
    _qlinear_conv(g, "x", "conv", kernel, bias, x_zero, y_zero, kernel_size=2)
    g.nodes[-1].output[0] = "y"
    graph = helper.make_graph(g.nodes, "t", [helper.make_tensor_value_info("x", TensorProto.UINT8, None)],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    x = rng.integers(0, 256, (1, 3, 9, 7)).astype(np.uint8)
    got = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    w_scale = np.abs(kernel).reshape(4, -1).max(axis=1) / 63.0
    quantised = np.round(kernel / w_scale[:, None, None, None]) * w_scale[:, None, None, None]
    real = x.astype(np.float64) - x_zero[None, :, None, None]  # input in its own steps
    windows = np.lib.stride_tricks.sliding_window_view(real, (2, 2), axis=(2, 3))  # (1, 3, 8, 6, 2, 2)
    conv = np.einsum("bihwyx,oiyx->bohw", windows, quantised) + bias[None, :, None, None]
    want = np.clip(np.round(conv + y_zero[None, :, None, None]), 0, 255)
    assert np.abs(got.astype(int) - want).max() <= 1  # rounding of the bias into weight steps
    assert np.mean(got == want) > 0.9
