"""ONNX Runtime inference: any size, tiling without seams."""

import base64

import numpy as np
import onnx
import pytest

from faststyle.model_file import STATS_GRAPH_KEY
from faststyle.measures import shift_consistency
from faststyle.preprocess import grid_anchor, pad_to_multiple
from faststyle.runtime import MARGIN, StyleModel
from tests.conftest import photo


@pytest.fixture(scope="module", params=["plain", "folded"])
def model(request):
    """Each runtime test runs on both layouts: full-resolution, and folded (the lite preset's)."""
    path = request.getfixturevalue("tiny_model_path" if request.param == "plain" else "tiny_folded_model_path")
    return StyleModel.load(path, threads=1)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (17, 31), (64, 64), (99, 130)])
def test_any_size_comes_back_the_same_size(model, shape):
    out = model.transform(photo(*shape))
    assert out.shape == (*shape, 3) and out.dtype == np.uint8


def test_padding_reaches_a_multiple_of_four():
    assert pad_to_multiple(np.zeros((5, 9, 3))).shape == (16, 16, 3)
    assert pad_to_multiple(np.zeros((33, 18, 3))).shape == (36, 20, 3)
    assert pad_to_multiple(np.zeros((1, 1, 3))).shape == (16, 16, 3)


def test_the_grid_anchor_follows_the_picture_when_it_is_cropped():
    """Cropping d columns (rows) moves the anchor point d px, and its padding with it, modulo 4."""
    rng = np.random.default_rng(3)
    image = np.clip(photo(160, 200, seed=3) + rng.normal(0, 12, (160, 200, 3)), 0, 255).astype(np.uint8)
    top, left = grid_anchor(image)
    assert 0 <= top < 4 and 0 <= left < 4
    for d in range(1, 9):
        assert grid_anchor(image[:, d:]) == (top, (left + d) % 4)
        assert grid_anchor(image[d:, :]) == ((top + d) % 4, left)
    assert grid_anchor(np.zeros((3, 3, 3), np.uint8)) == (0, 0)  # too small to look: as it is


def test_the_same_strokes_at_every_shift(model):
    """Painted on the anchor's grid (the default), a moved photo gets the moved picture at any
    shift, as on a fixed grid it does only at multiples of the stride (4 px)."""
    rng = np.random.default_rng(5)
    image = np.clip(photo(160, 200, seed=5) + rng.normal(0, 12, (160, 200, 3)), 0, 255).astype(np.uint8)
    anchored = shift_consistency(model.transform, image)
    fixed = shift_consistency(lambda x: model.transform(x, grid=(0, 0)), image)
    off_grid = [1, 2, 3, 5, 6, 7]
    assert max(anchored[d] for d in off_grid) < 1.5 * max(anchored[4], anchored[8]) + 0.5
    assert min(fixed[d] for d in off_grid) > 3 * max(anchored[d] for d in off_grid)
    assert model.transform(image).shape == image.shape


def test_with_the_statistics_held_a_moved_photo_gets_the_moved_picture(model):
    """What the crop leaves of the shift error is the normalisation statistics (d columns fewer):
    held at the unmoved photo's, as a video's running average holds them, the picture moves with
    the photo to float rounding at every shift; on a fixed grid it still does not."""
    rng = np.random.default_rng(6)
    image = np.clip(photo(160, 200, seed=6) + rng.normal(0, 12, (160, 200, 3)), 0, 255).astype(np.uint8)
    held = model.norm_stats(image)
    steady = shift_consistency(lambda x: model.transform(x, stats=held), image)
    fixed = shift_consistency(lambda x: model.transform(x, stats=held, grid=(0, 0)), image)
    assert max(steady.values()) < 0.1, steady
    assert min(fixed[d] for d in (1, 2, 3, 5, 6, 7)) > 10 * max(steady.values()) + 0.1


def test_tiled_result_matches_one_pass(model):
    image = photo(300, 420, seed=4)
    whole = model.transform(image)
    tiled = model.transform(image, max_untiled_pixels=0, max_tile_pixels=(2 * MARGIN + 64) ** 2)
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    # Same statistics, margins wider than the receptive field: only float rounding
    # (summation order) differs, so at most 1-2 grey levels anywhere.
    assert diff.max() <= 2
    assert diff.mean() < 0.05


def test_statistics_pass_runs_the_encoder_alone_with_the_same_numbers(model):
    # ONNX Runtime runs every node of a graph; the model carries an encoder-only graph for this pass
    assert model.stats_session is not None
    stat_outputs = [o.name for o in model.stats_session.get_outputs()]
    assert sorted(stat_outputs) == sorted(model._stat_names) and "stylized" not in stat_outputs
    stats = model.session.get_modelmeta().custom_metadata_map[STATS_GRAPH_KEY]
    last = model.architecture.encoder()[-1].name  # the graph ends at its statistics: no norm or ReLU after
    tail = (f"{last}_relu", f"{last}_norm_out")
    assert not [n for n in onnx.load_from_string(base64.b64decode(stats)).graph.node if n.name.startswith(tail)]
    image = photo(120, 160, seed=6)
    alone = model.norm_stats(image)
    names = model._stat_names
    whole = model.session.run(names, {"image": pad_to_multiple(image)[None].astype(np.float32)})
    for name, value in zip(names, whole):
        np.testing.assert_allclose(alone[name], value, rtol=1e-5, atol=1e-6)


def test_statistics_graph_pools_a_batch_of_crops_as_one_picture(model):
    a, b = (pad_to_multiple(photo(64, 96, seed=seed)).astype(np.float32) for seed in (1, 2))
    names = model._stat_names

    def stats(*crops):
        return dict(zip(names, model.stats_session.run(names, {"image": np.stack(crops)})))

    one, twice, both = stats(a), stats(a, a), stats(a, b)
    for name in names:  # the same crop twice is the same sample
        np.testing.assert_allclose(twice[name], one[name], rtol=1e-4, atol=1e-5)
    # Before any normalisation the moments of two crops simply pool; after it, each layer is
    # normalised with the pooled statistics (checked by the tiling tests below).
    first = f"{model.architecture.encoder()[0].name}_norm"
    mean_a, mean_b = stats(a)[f"{first}_mean"], stats(b)[f"{first}_mean"]
    var_a, var_b = stats(a)[f"{first}_var"], stats(b)[f"{first}_var"]
    mean = (mean_a + mean_b) / 2
    np.testing.assert_allclose(both[f"{first}_mean"], mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(both[f"{first}_var"], (var_a + mean_a**2 + var_b + mean_b**2) / 2 - mean**2,
                               rtol=1e-3, atol=1e-4)


def test_stats_crops_spread_evenly_over_the_image():
    from faststyle.runtime import stats_crops

    budget = 700 * 1024
    (ch, cw), corners = stats_crops(1088, 1920, budget, side=96)
    assert (ch, cw) == (96, 96) and 0.8 * budget <= len(corners) * 96 * 96 <= budget
    ys, xs = sorted({y for y, _ in corners}), sorted({x for _, x in corners})
    assert len(corners) == len(ys) * len(xs)  # a grid
    assert all(v % 4 == 0 for v in ys + xs)  # strided convs sample the whole-image grid
    assert ys[0] == xs[0] == 0 and 1088 - 96 - 4 < ys[-1] <= 1088 - 96 and 1920 - 96 - 4 < xs[-1] <= 1920 - 96
    assert max(np.diff(ys)) - min(np.diff(ys)) <= 4 and max(np.diff(xs)) - min(np.diff(xs)) <= 4
    assert 0.5 < (len(xs) / len(ys)) / (1920 / 1088) < 2  # rows and columns follow the aspect ratio
    (ch, cw), corners = stats_crops(16, 40000, budget, side=96)  # a strip lower than a crop
    assert (ch, cw) == (16, 96) and all(x + 96 <= 40000 for _, x in corners) and len(corners) > 1


def test_sampled_statistics_give_nearly_the_whole_images_picture(model, monkeypatch):
    from faststyle import runtime

    image = photo(480, 640, seed=2)
    whole = model.transform(image).astype(int)  # within STATS_PIXELS: the whole image's statistics
    monkeypatch.setattr(runtime, "STATS_PIXELS", image.shape[0] * image.shape[1] // 4)
    sampled, corner = model.norm_stats(image), model.norm_stats(image[:96, :96])  # crops; one place only

    def moved(stats):  # how far these statistics move the picture, in grey levels
        return np.abs(model.transform(image, stats=stats).astype(int) - whole).mean()

    # Random tiny networks amplify statistics errors far more than trained ones (8 grey levels
    # here where trained styles move 2), so this checks the sample is spread, not its accuracy.
    assert moved(sampled) < moved(corner) / 2, (moved(sampled), moved(corner))


def test_an_older_model_takes_statistics_from_a_downscaled_copy(tiny_model_path, tmp_path, monkeypatch):
    from faststyle import runtime

    # Before the pooled statistics graph, each image of a batch had its own statistics, as the
    # full graph computes them (it stands in for that older graph here).
    proto = onnx.load(tiny_model_path)
    network = onnx.load(tiny_model_path)
    del network.metadata_props[:]
    next(p for p in proto.metadata_props if p.key == STATS_GRAPH_KEY).value = \
        base64.b64encode(network.SerializeToString()).decode()
    onnx.save(proto, tmp_path / "older.onnx")
    older, current = StyleModel.load(tmp_path / "older.onnx", threads=1), StyleModel.load(tiny_model_path, threads=1)
    assert not older._stats_from_crops and current._stats_from_crops
    image = photo(480, 640, seed=2)
    whole = older.transform(image).astype(int)
    monkeypatch.setattr(runtime, "STATS_PIXELS", image.shape[0] * image.shape[1] // 4)
    stats = older.norm_stats(image)  # one set (a batch of crops would give one per crop)
    assert all(v.shape[0] == 1 for v in stats.values())
    tiled = older.transform(image, max_untiled_pixels=0, max_tile_pixels=(2 * MARGIN + 64) ** 2)
    corner = older.transform(image, stats=older.norm_stats(image[:96, :96]))
    assert np.abs(tiled - whole).mean() < np.abs(corner - whole).mean() / 2


def test_a_model_without_a_statistics_graph_still_tiles(tmp_path):
    from faststyle.training.export import export_onnx
    from tests.conftest import random_transform_net

    path = tmp_path / "instance.onnx"  # instance norm throughout: its statistics need the whole network
    export_onnx(random_transform_net(norm="instance"), path, {"name": "instance"})
    model = StyleModel.load(path, threads=1)
    assert model.stats_session is None
    image = photo(100, 140, seed=2)
    tile = (2 * model.architecture.tile_margin() + 64) ** 2
    tiled = model.transform(image, max_untiled_pixels=0, max_tile_pixels=tile)
    assert np.abs(model.transform(image).astype(int) - tiled.astype(int)).mean() < 0.1


def test_naive_tiles_would_differ(model):
    """Guards the test above: without shared statistics, tiles change tone."""
    image = photo(300, 420, seed=4)
    whole = model.transform(image).astype(int)
    tile = model.transform(image[:120, :120]).astype(int)  # normalised with this tile's own statistics
    assert np.abs(tile - whole[:120, :120]).mean() > 1.0


def test_progress_reports_every_tile(model):
    calls = []
    model.transform(photo(200, 200), max_untiled_pixels=0, max_tile_pixels=(2 * MARGIN + 32) ** 2,
                    progress=lambda i, n: calls.append((i, n)))
    assert calls[-1][0] == calls[-1][1] > 1


def test_tile_grid_computes_the_fewest_pixels_within_budget():
    from faststyle.runtime import MAX_TILE_PIXELS, MAX_UNTILED_PIXELS, PAD_MULTIPLE, _ceil_to, _tile_span, tile_grid

    assert 1088 * 1920 <= MAX_UNTILED_PIXELS  # a full-HD frame runs in one pass

    def computed(h, w, cy, cx):  # every tile's pixels, margins included, as transform cuts them
        return sum((min(h, y + cy + MARGIN) - max(0, y - MARGIN)) * (min(w, x + cx + MARGIN) - max(0, x - MARGIN))
                   for y in range(0, h, cy) for x in range(0, w, cx))

    for h, w in [(2160, 3840), (3000, 4000), (6000, 8000), (1200, 1201)]:
        cy, cx = tile_grid(h, w, MAX_TILE_PIXELS)
        assert cy % 4 == 0 and cx % 4 == 0
        # Brute force over grids whose largest tile (two margins inside, one at the edges) fits.
        grids = [(_ceil_to(-(-h // ny), PAD_MULTIPLE), _ceil_to(-(-w // nx), PAD_MULTIPLE))
                 for ny in range(1, 20) for nx in range(1, 20)]
        fitting = [(y, x) for y, x in grids if _tile_span(y, -(-h // y), MARGIN) * _tile_span(x, -(-w // x), MARGIN)
                   <= MAX_TILE_PIXELS]
        assert computed(h, w, cy, cx) == min(computed(h, w, y, x) for y, x in fitting), (h, w)
    # 12 MP: squarish 3x5 tiles, not the 2x7 tall ones that would be one tile fewer
    cy, cx = tile_grid(3000, 4000, MAX_TILE_PIXELS)
    assert (-(-3000 // cy), -(-4000 // cx)) == (3, 5)


def test_every_tile_stays_within_the_budget(model, monkeypatch):
    from faststyle.runtime import MAX_TILE_PIXELS

    shapes = []

    def record(rgb, stats=None, cancel=None):  # the network itself is not what this checks
        shapes.append(rgb.shape[:2])
        return np.zeros(rgb.shape, np.float32)

    monkeypatch.setattr(model, "_run", record)
    monkeypatch.setattr(model, "norm_stats", lambda rgb, cancel=None: {"x": np.zeros(1)})
    out = model.transform(np.zeros((2160, 3840, 3), np.uint8))
    assert out.shape == (2160, 3840, 3) and len(shapes) > 1
    assert max(h * w for h, w in shapes) <= MAX_TILE_PIXELS


def test_device_choice_and_a_clear_line_for_one_not_installed(tiny_model_path):
    import onnxruntime as ort

    from faststyle.errors import FaststyleError
    from faststyle.runtime import execution_providers

    assert execution_providers("cpu") == ["CPUExecutionProvider"]
    assert execution_providers("auto")[-1] == "CPUExecutionProvider"
    assert StyleModel.load(tiny_model_path, device="auto").transform(photo(20, 24)).shape == (20, 24, 3)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(FaststyleError, match="install onnxruntime-gpu"):
            StyleModel.load(tiny_model_path, device="cuda")
    with pytest.raises(FaststyleError, match="unknown device"):
        execution_providers("tpu")


def test_sessions_share_one_arena_and_compute_what_a_plain_session_does(model):
    # Every session reuses memory from one shared arena (runtime._share_one_arena) instead of
    # a memory pattern per image size: sizes in turn must still give a plain session's numbers.
    import onnxruntime as ort

    for session in (model.session, model.stats_session):
        options = session.get_session_options()
        assert options.get_session_config_entry("session.use_env_allocators") == "1"
        assert options.enable_cpu_mem_arena and not options.enable_mem_pattern
    plain = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    for shape in [(64, 96), (128, 64), (64, 96), (32, 32)]:
        image = pad_to_multiple(photo(*shape, seed=shape[0]))
        ours = model._run(image)
        theirs = plain.run(["stylized"], {"image": image[None].astype(np.float32)})[0][0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3)
