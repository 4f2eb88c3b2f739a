"""Replaces only the statistics graph inside faststyle models, keeping their network byte for byte.

    python scripts/refresh_stats_graph.py faststyle/models/*.onnx faststyle/models/lite/*.onnx

`faststyle export OLD.onnx -o NEW.onnx` rebuilds a whole model with this version's graphs; its
float16 weights round-trip through Keras, so an int8 network can come back a few grey levels
apart. This script is for models whose pictures have been evaluated and must not move: it
swaps in the statistics graph that tiling uses (training/export.stats_graph) and nothing else.
"""

from __future__ import annotations

import argparse

import onnx

from faststyle.files import atomic_write_bytes
from faststyle.model_file import model_props, set_model_props
from faststyle.model_file import stored_stats_graph
from faststyle.training.export import stats_graph
from faststyle.training.onnx_import import load_onnx_net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    for path in parser.parse_args().models:
        proto = onnx.load(path)
        if stored_stats_graph(proto) is None:
            print(f"{path}: no statistics graph (instance norm throughout), left as it is")
            continue
        set_model_props(proto, model_props(None, stats_graph(load_onnx_net(path)).SerializeToString()))
        atomic_write_bytes(path, proto.SerializeToString())
        print(f"{path}: statistics graph replaced")


if __name__ == "__main__":
    main()
