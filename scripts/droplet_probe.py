"""Looks inside a style model for the instance-norm "droplet" behind white blobs.

    python scripts/droplet_probe.py MODEL.onnx PHOTO [PHOTO...] [--size 512]

For every layer that feeds a normalisation (or, in a demodulated model, would have),
it reads the conv output and reports the channel that puts the largest share of its
variance into the blob area (pixels the model blew to white), and that channel's peak z-score.
A droplet (Karras et al. 2020, section 2.1) shows as one channel with most of its
variance in a few per cent of the picture.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

from faststyle.image_io import load_image
from faststyle.measures import WHITE_LEVEL
from faststyle.preprocess import pad_to_multiple

LAYER = re.compile(r"^(conv1|down1|down2|res\d+_[ab]|up1|up2)(_\d+)?$")


def probed_session(path: str) -> tuple[ort.InferenceSession, list[tuple[str, str]]]:
    """A session whose outputs also hold each layer's conv output (before any norm)."""
    model = onnx.load(path)
    probes = []
    for node in model.graph.node:
        match = LAYER.match(node.name)
        if match and node.op_type in ("Conv", "DepthToSpace"):
            probes.append((match.group(1), node.output[0]))
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(t) for _, t in probes)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options), probes


def probe(session, probes, rgb: np.ndarray) -> tuple[float, dict[str, tuple[float, float]]]:
    """-> (blob share of the picture, {layer: (largest variance share in the blob area, its peak z)})."""
    h, w = rgb.shape[:2]
    outs = session.run(["stylized"] + [t for _, t in probes], {"image": pad_to_multiple(rgb)[None].astype(np.float32)})
    stylized = outs[0][0, :h, :w]
    photo_white = np.all(rgb >= WHITE_LEVEL, axis=-1)
    blob = np.all(stylized >= WHITE_LEVEL, axis=-1) & ~photo_white
    full = np.pad(blob, ((0, outs[0].shape[1] - h), (0, outs[0].shape[2] - w)))
    result = {}
    for (layer, _), act in zip(probes, outs[1:]):
        act = act[0]  # (C, h, w)
        factor = full.shape[0] // act.shape[1]
        mask = full.reshape(act.shape[1], factor, act.shape[2], factor).mean(axis=(1, 3)) > 0.5
        centred = act - act.mean(axis=(1, 2), keepdims=True)
        energy = np.square(centred)
        share = energy[:, mask].sum(axis=1) / np.maximum(energy.sum(axis=(1, 2)), 1e-12)
        c = int(np.argmax(share))
        z = np.abs(centred[c]) / max(float(np.sqrt(energy[c].mean())), 1e-12)
        result[layer] = (float(share[c]), float(z.max()))
    return float(blob.mean()), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--size", type=int, default=512, help="long side of the photos (default 512)")
    args = parser.parse_args()
    session, probes = probed_session(args.model)
    rows = []
    for path in args.photos:
        im = load_image(path).convert("RGB")
        im.thumbnail((args.size, args.size), Image.BICUBIC)
        blob, layers = probe(session, probes, np.asarray(im))
        if blob >= 0.005:  # only pictures with a visible blob say anything about it
            rows.append(layers)
        print(f"{path}: {100 * blob:.2f} % blown white")
    if not rows:
        print("no photo with at least 0.5 % blown white")
        return
    print(f"\n{len(rows)} photos with blobs; per layer, mean over them of the channel with most variance in the blob:")
    print("| layer | variance share in blob area | peak z |\n|---|---:|---:|")
    for layer in rows[0]:
        share, peak = (np.mean([r[layer][k] for r in rows]) for k in (0, 1))
        print(f"| {layer} | {100 * share:.0f} % | {peak:.1f} |")


if __name__ == "__main__":
    main()
