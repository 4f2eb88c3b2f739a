"""int8 residual blocks: close to the float network, exact to re-export, clear errors."""

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from faststyle.runtime import StyleModel
from faststyle.styles import read_metadata
from faststyle.training.export import export_onnx, load_onnx_net, reexport_onnx, to_onnx
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
    return calibrate(net, calibration_photos, long_sides=SIDES)


def _run(proto_or_path, x):
    source = proto_or_path if isinstance(proto_or_path, str) else proto_or_path.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(["stylized"], {"image": x})[0]


def test_int8_network_is_close_to_the_float_one_on_an_unseen_photo(net, ranges):
    proto = to_onnx(net, half=False, int8_ranges=ranges)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("QLinearConv") == 2 * net.architecture.residual_blocks
    assert not any(n.op_type == "Conv" and n.name.startswith("res") for n in proto.graph.node)
    x = photo(80, 112, seed=9)[None].astype(np.float32)
    exact, quantised = _run(to_onnx(net, half=False), x), _run(proto, x)
    assert exact.std() > 5.0  # a picture, not a constant any graph would match
    difference = np.abs(np.clip(exact, 0, 255) - np.clip(quantised, 0, 255))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) < 8.0
    assert difference.max() > 0  # it really is quantised


def test_ranges_hold_every_channel_and_the_relu(net, ranges, calibration_photos):
    assert set(ranges) == {f"res{i}" for i in range(1, net.architecture.residual_blocks + 1)}
    channels = 4 * net.architecture.width
    for block in ranges.values():
        for low, high in block.values():
            assert len(low) == len(high) == channels
            assert all(lo <= hi for lo, hi in zip(low, high))
        assert min(block["hidden"][0]) >= 0.0  # measured after the ReLU
    # Wider ranges than needed: never narrower than one photo's own at one size.
    alone = calibrate(net, calibration_photos[:1], long_sides=SIDES[:1])
    for block, parts in alone.items():
        for part, (low, high) in parts.items():
            assert np.all(np.asarray(ranges[block][part][0]) <= low)
            assert np.all(np.asarray(ranges[block][part][1]) >= high)


def test_int8_file_keeps_its_float_weights_and_ranges_for_re_export(net, ranges, tmp_path):
    int8_path, float_path = tmp_path / "int8.onnx", tmp_path / "float.onnx"
    export_onnx(net, int8_path, {"name": "t"}, half=False, int8_ranges=ranges)
    export_onnx(net, float_path, {"name": "t"}, half=False)
    assert read_metadata(int8_path)["int8"] == ranges and "int8" not in read_metadata(float_path)
    x = photo(48, 64, seed=3)[None].astype(np.float32)
    # Loading the int8 file gives back the exact float network ...
    np.testing.assert_allclose(np.asarray(load_onnx_net(int8_path)(x)), np.asarray(net(x)), atol=1e-2)
    # ... so re-exporting keeps it int8 with the same ranges, or drops int8 to the exact float graph.
    again = reexport_onnx(int8_path, tmp_path / "again.onnx", half=False)
    assert read_metadata(again)["int8"] == ranges
    np.testing.assert_allclose(_run(str(again), x), _run(str(int8_path), x), atol=1e-3)
    dropped = reexport_onnx(int8_path, tmp_path / "dropped.onnx", half=False, drop_int8=True)
    assert "int8" not in read_metadata(dropped)
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
    card = read_metadata(quantised)
    assert "int8" in card and card["int8_calibration"].startswith(f"4 photos from {calibration_photos[0].parent.name}")
    assert sum(n.op_type == "QLinearConv" for n in onnx.load(str(quantised)).graph.node) == 10
    back = tmp_path / "back.onnx"
    assert _export(quantised, "-o", back, "--no-int8").returncode == 0
    assert not any(key.startswith("int8") for key in read_metadata(back))
    assert not any(n.op_type == "QLinearConv" for n in onnx.load(str(back)).graph.node)

    empty = tmp_path / "empty"
    empty.mkdir()
    r = _export(source, "-o", tmp_path / "never.onnx", "--int8", empty)
    assert r.returncode != 0 and "no images found" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "never.onnx").exists()

    instance = tmp_path / "instance.onnx"
    export_onnx(random_transform_net(width=4, norm="instance"), instance, {"name": "t"})
    r = _export(instance, "-o", tmp_path / "never.onnx", "--int8", calibration_photos[0].parent)
    assert r.returncode != 0 and "--norm demod" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never.onnx").exists()


@pytest.mark.parametrize("low_scale", [0.0, 0.003, 0.01, 1.0, 5.0])
def test_channel_scales_hold_every_channels_range(low_scale):
    from faststyle.training.export import _channel_scales

    rng = np.random.default_rng(7)
    high = rng.uniform(0.1, 20.0, 64)
    low = -rng.uniform(0.0, 1.0, 64) * high * low_scale
    low[::5] = 0.0  # channels after a ReLU-like cut: one shared zero point must still fit all
    scale, zero = _channel_scales(low, high)
    q_low, q_high = np.round(low / scale) + zero, np.round(high / scale) + zero
    assert q_low.min() >= 0 and q_high.max() <= 255
    assert np.median(q_high - q_low) >= 127  # most channels use at least half of the 256 steps
