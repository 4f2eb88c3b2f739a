"""Floors the instance-norm variance at 0 inside faststyle models, changing nothing else.

    python scripts/floor_norm_variance.py faststyle/models/*.onnx faststyle/models/lite/*.onnx

Models exported before the floor compute var = E[x^2] - mean^2 as a plain difference; on a flat
picture (a white photo) float32 rounding can make it negative, and the lite networks painted
such photos black (issue 28, item 8). `training/export.py` now writes Max(difference, 0); this
script inserts the same node into existing models (their network and their statistics graph)
so that their weights, int8 ranges and pictures of ordinary photos stay exactly as they were.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import helper, numpy_helper

from faststyle.files import atomic_write_bytes
from faststyle.model_file import model_props, set_model_props, stored_stats_graph

ZERO = "variance_floor_zero"


def floor_variance(graph: onnx.GraphProto) -> int:
    """Puts a Max(., 0) after every Sub node whose output is a `*_var` statistic; -> nodes changed."""
    changed = 0
    for i, node in reversed(list(enumerate(graph.node))):
        if node.op_type == "Sub" and node.output[0].endswith("_var"):
            var = node.output[0]
            node.output[0] = node.name = f"{var}_raw"
            graph.node.insert(i + 1, helper.make_node("Max", [f"{var}_raw", ZERO], [var], name=var))
            changed += 1
    if changed and all(init.name != ZERO for init in graph.initializer):
        graph.initializer.append(numpy_helper.from_array(np.array(0.0, np.float32), ZERO))
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    for path in parser.parse_args().models:
        proto = onnx.load(path)
        changed = floor_variance(proto.graph)
        if (encoder := stored_stats_graph(proto)) is not None:
            stats = onnx.load_from_string(encoder)
            changed += floor_variance(stats.graph)
            set_model_props(proto, model_props(None, stats.SerializeToString()))
        onnx.checker.check_model(proto)
        atomic_write_bytes(path, proto.SerializeToString())
        print(f"{path}: {changed} variance node(s) floored at 0")


if __name__ == "__main__":
    main()
