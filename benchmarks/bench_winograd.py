"""Would Winograd convolutions make the full network faster? A measured "no" (docs/speed.md).

    python benchmarks/bench_winograd.py [--style wave] [--size 1024] [--threads 2] [--repeats 3]

ONNX Runtime's CPU conv does every multiplication of a 3x3 conv. Winograd's F(4x4, 3x3)
(Lavin & Gray 2016) computes each 4x4 output tile from a 6x6 input tile with 36 products
per channel pair instead of 144: 4x fewer. Written as plain ONNX ops it is

    input transform   two grouped convs with fixed +-1/2/4/5 taps (rows, then columns)
    products          36 batched matrix products [Cout, Cin] x [Cin, tiles]
    output transform  one [16, 36] matrix product, then depth-to-space into 4x4 tiles

with the transformed weights computed once here. Prints the time of one residual conv
(direct vs Winograd) and of the whole network with its ten residual convs rewritten,
against the same network as exported, in one run. The pictures must agree within a grey level.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from faststyle.machine import cpu_summary  # noqa: E402

# F(4x4, 3x3): input transform B^T, weight transform G, output transform A^T.
BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)


def shared_constants(channels: int) -> list[onnx.TensorProto]:
    """The transforms every rewritten conv of `channels` channels uses."""
    rows = np.tile(BT.reshape(6, 1, 6, 1), (channels, 1, 1, 1))       # out c*6+i, tap a: BT[i, a]
    cols = np.tile(BT.reshape(6, 1, 1, 6), (6 * channels, 1, 1, 1))   # out (c*6+i)*6+j
    out = np.einsum("pi,qj->pqij", AT, AT).reshape(16, 36)
    consts = {"wg_rows": rows, "wg_cols": cols, "wg_out": out}
    tensors = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in consts.items()]
    ints = {"wg_by_tile": [channels, 36, -1], "wg_flat": [36, -1], "wg_head": [1, 16 * channels],
            "wg_2": [2], "wg_4": [4]}
    return tensors + [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in ints.items()]


def winograd_conv(x: str, y: str, kernel: np.ndarray, bias: str, prefix: str) -> tuple[list, list]:
    """Nodes and weights computing y = conv3x3(x) + bias, for x already padded by one pixel.

    x's height and width minus 2 must be multiples of 4 (the output tiles)."""
    cout, cin = kernel.shape[:2]
    u = np.einsum("ka,ocab,lb->kloc", G, kernel.astype(np.float64), G).reshape(36, cout, cin)
    p = prefix
    nodes = [
        helper.make_node("Conv", [x, "wg_rows"], [p + "rows"], group=cin, strides=[4, 1], kernel_shape=[6, 1]),
        helper.make_node("Conv", [p + "rows", "wg_cols"], [p + "v"], group=6 * cin, strides=[1, 4],
                         kernel_shape=[1, 6]),
        helper.make_node("Reshape", [p + "v", "wg_by_tile"], [p + "v3"]),             # [Cin, 36, tiles]
        helper.make_node("Transpose", [p + "v3"], [p + "vt"], perm=[1, 0, 2]),          # [36, Cin, tiles]
        helper.make_node("MatMul", [p + "u", p + "vt"], [p + "m"]),                    # [36, Cout, tiles]
        helper.make_node("Reshape", [p + "m", "wg_flat"], [p + "m2"]),
        helper.make_node("MatMul", ["wg_out", p + "m2"], [p + "o"]),                   # [16, Cout*tiles]
        helper.make_node("Shape", [p + "v"], [p + "shape"]),
        helper.make_node("Slice", [p + "shape", "wg_2", "wg_4"], [p + "yx"]),
        helper.make_node("Concat", ["wg_head", p + "yx"], [p + "oshape"], axis=0),
        helper.make_node("Reshape", [p + "o", p + "oshape"], [p + "o4"]),              # [1, 16 Cout, Y, X]
        helper.make_node("DepthToSpace", [p + "o4"], [p + "tiles"], blocksize=4, mode="DCR"),
        helper.make_node("Add", [p + "tiles", bias], [y]),
    ]
    return nodes, [numpy_helper.from_array(u.astype(np.float32), p + "u")]


def one_conv_models(channels: int, side: int) -> tuple[bytes, bytes, np.ndarray]:
    rng = np.random.default_rng(0)
    kernel = rng.normal(0, 0.05, (channels, channels, 3, 3)).astype(np.float32)
    bias = rng.normal(0, 0.1, (1, channels, 1, 1)).astype(np.float32)
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, channels, side + 2, side + 2])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    direct = helper.make_graph([helper.make_node("Conv", ["x", "k", "b"], ["y"], kernel_shape=[3, 3])], "direct",
                               [x], [y], [numpy_helper.from_array(kernel, "k"),
                                          numpy_helper.from_array(bias.ravel(), "b")])
    nodes, weights = winograd_conv("x", "y", kernel, "bias", "c_")
    wino = helper.make_graph(nodes, "winograd", [x], [y], weights + shared_constants(channels)
                             + [numpy_helper.from_array(bias, "bias")])
    feed = rng.normal(0, 1, (1, channels, side + 2, side + 2)).astype(np.float32)
    return (helper.make_model(direct).SerializeToString(), helper.make_model(wino).SerializeToString(), feed)


def rewrite_residual_convs(model: onnx.ModelProto) -> onnx.ModelProto:
    """The exported network with each residual conv (Conv on a res*/kernel) done the Winograd way."""
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    nodes, extra, channels = [], [], None
    for node in graph.node:
        if node.op_type != "Conv" or not node.input[1].startswith("res"):
            nodes.append(node)
            continue
        cast = producer[node.input[1]]  # float16 weights are cast to float32 in the graph
        kernel = numpy_helper.to_array(weights[cast.input[0]]).astype(np.float32)
        channels = kernel.shape[1]
        prefix = node.input[1].split("/")[0] + "_wg_"
        bias = prefix + "bias"
        nodes.append(helper.make_node("Unsqueeze", [node.input[2], "wg_bias_axes"], [bias]))
        conv_nodes, conv_weights = winograd_conv(node.input[0], node.output[0], kernel, bias, prefix)
        nodes += conv_nodes
        extra += conv_weights
    extra += shared_constants(channels) + [numpy_helper.from_array(np.array([0, 2, 3], np.int64), "wg_bias_axes")]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(extra)
    return model


def median_time(run: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Median seconds of `run` after a warm-up, and its result."""
    out = run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def conv_runner(model: bytes, feed: np.ndarray) -> Callable[[], np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"x": feed})[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="wave", help="bundled style or .onnx path (default wave)")
    parser.add_argument("--size", type=int, default=1024, help="image side, a multiple of 16 (default 1024)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from faststyle.runtime import StyleModel
    from faststyle.styles import resolve_style
    from faststyle.training.onnx_import import reexport_onnx

    print(f"CPU: {cpu_summary()}; ONNX Runtime {ort.__version__}; {args.threads} thread(s)\n")
    print("| what | direct | Winograd | direct / Winograd | max difference |\n|---|---:|---:|---:|---:|")
    side = args.size // 4  # the residual blocks work at a quarter of the image's side
    direct, wino, feed = one_conv_models(128, side)
    t_direct, y_direct = median_time(conv_runner(direct, feed), args.repeats)
    t_wino, y_wino = median_time(conv_runner(wino, feed), args.repeats)
    print(f"| one residual conv, 128 ch at {side}x{side}, 1 thread | {1000 * t_direct:.0f} ms | "
          f"{1000 * t_wino:.0f} ms | {t_direct / t_wino:.2f}x | {np.abs(y_direct - y_wino).max():.1e} |")

    image = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:  # StyleModel loads from a file
        # The float32 graph: Winograd rewrites its float convs (the bundled model's are int8).
        path = reexport_onnx(resolve_style(args.style), Path(tmp) / "float.onnx", drop_int8=True)
        rewritten = Path(tmp) / "winograd.onnx"
        onnx.save(rewrite_residual_convs(onnx.load(path)), rewritten)
        for name, p in (("direct", path), ("winograd", rewritten)):
            model = StyleModel.load(p, threads=args.threads)
            results[name] = median_time(lambda model=model: model.transform(image), args.repeats)
    (t_direct, y_direct), (t_wino, y_wino) = results["direct"], results["winograd"]
    diff = np.abs(y_direct.astype(int) - y_wino.astype(int)).max()
    print(f"| whole network, {args.size}x{args.size}, {args.threads} thread(s) | {t_direct:.2f} s | "
          f"{t_wino:.2f} s | {t_direct / t_wino:.2f}x | {diff} grey level(s) |")


if __name__ == "__main__":
    main()
