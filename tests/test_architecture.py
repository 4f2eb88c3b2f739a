"""The network's shape as data: cost, receptive field, presets, metadata round trip."""

import numpy as np
import pytest

from faststyle.architecture import PRESETS, Architecture, preset


def test_cost_of_the_full_network_matches_a_hand_count():
    # conv1 9x9x3x32 + down1 3x3x32x64/4 + down2 3x3x64x128/16 + 10 x 3x3x128x128/16
    # + up1 3x3x128x64/4 + up2 3x3x64x32 + out 9x9x32x3, per output pixel
    by_hand = 81 * 3 * 32 + 9 * 32 * 64 / 4 + 9 * 64 * 128 / 16 + 10 * 9 * 128 * 128 / 16 \
        + 9 * 128 * 64 / 4 + 9 * 64 * 32 + 81 * 32 * 3
    assert preset("full").macs_per_pixel() == pytest.approx(by_hand)


def test_lite_costs_at_most_a_sixth_of_full():
    assert PRESETS["lite"].macs_per_pixel() <= PRESETS["full"].macs_per_pixel() / 5.8


def test_a_fold_moves_the_first_and_last_convs_to_half_resolution():
    folded, plain = preset("lite"), preset("lite", fold=False)
    w = plain.width
    # plain: conv1 3x3x3xw + down1 3x3xwx2w/4 + up2 3x3x2wxw + out 3x3xwx3 at full or half size;
    # folded: conv1 3x3x12x2w/4 replaces conv1 and down1, out 3x3x2wx12/4 replaces up2 and out.
    removed = 9 * 3 * w + 9 * w * 2 * w / 4 + 9 * 2 * w * w + 9 * w * 3
    added = 9 * 12 * 2 * w / 4 + 9 * 2 * w * 12 / 4
    assert folded.macs_per_pixel() == pytest.approx(plain.macs_per_pixel() - removed + added)
    assert [c.name for c in folded.convs()][:2] == ["conv1", "down1"] and folded.output().filters == 12


@pytest.mark.parametrize("fold", [False, True])
def test_receptive_field_matches_the_network(fold):
    """With the norm statistics held fixed (as tiling does), changing one input pixel changes
    outputs up to the receptive field's half-width away and no further."""
    import onnxruntime as ort

    from faststyle.training.export import to_onnx
    from tests.conftest import random_transform_net

    net = random_transform_net(width=4, residual_blocks=1, edge_kernel=3, fold=fold)
    arch = net.architecture
    session = ort.InferenceSession(to_onnx(net, half=False).SerializeToString(), providers=["CPUExecutionProvider"])
    stats = [o.name for o in session.get_outputs() if o.name.endswith(("_mean", "_var"))]
    size, centre = 96, 48
    x = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    y = x.copy()
    y[0, centre, centre] += 100.0
    feeds = {f"{name}_in": value for name, value in zip(stats, session.run(stats, {"image": x}))}
    feeds["norm_override"] = np.array(1.0, np.float32)
    out_x, out_y = (session.run(["stylized"], {**feeds, "image": image})[0] for image in (x, y))
    rows = np.nonzero(np.abs(out_y - out_x).max(axis=(0, 2, 3)) > 1e-4)[0]
    # The span is the field, plus up to 3 rows where the stride-4 grid falls unevenly.
    assert arch.receptive_field() <= rows.max() - rows.min() + 1 <= arch.receptive_field() + 3


def test_tile_margin_covers_three_quarters_of_the_reach():
    # the trained networks' tiles against one pass: test_bundled.py
    for arch in PRESETS.values():
        half = arch.receptive_field() / 2
        assert arch.tile_margin() % 4 == 0 and 0.75 * half <= arch.tile_margin() < 0.75 * half + 4
    assert PRESETS["full"].tile_margin() == 44 and PRESETS["lite"].tile_margin() == 28


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        preset("huge")
    with pytest.raises(ValueError):
        Architecture(edge_kernel=4)
