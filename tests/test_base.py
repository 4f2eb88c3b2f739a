"""The base networks new styles start from (training/base.py): Reptile rounds across paintings."""

import json
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from PIL import Image

from tests.conftest import photo


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    (root / "photos").mkdir()
    (root / "paintings" / "held").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(photo(48, 56, seed=i)).save(root / "photos" / f"p{i}.jpg")
    for i in range(2):
        Image.fromarray(photo(40, 40, seed=20 + i)).save(root / "paintings" / f"s{i}.png")
    Image.fromarray(photo(40, 40, seed=30)).save(root / "paintings" / "held" / "judged.png")
    return root


def weights(path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t).astype(np.float32) for t in onnx.load(str(path)).graph.initializer}


@pytest.mark.parametrize("outer_step", [0.0, 0.5])
def test_a_round_moves_the_base_part_of_the_way_to_where_its_steps_ended(folders, tmp_path, tiny_model_path,
                                                                         outer_step):
    from faststyle.model_file import read_card
    from faststyle.training.base import BaseRun, train_base
    from faststyle.training.config import schedule_defaults
    from faststyle.training.data import find_images

    arch = read_card(tiny_model_path).network()
    run = BaseRun(paintings=find_images(folders / "paintings", ["held/*"]), content_dir=str(folders / "photos"),
                  output=tmp_path / "out", rounds=2, inner_steps=2, outer_step=outer_step, outer_step_end=outer_step,
                  start=str(tiny_model_path), vgg_weights="random", precision="float32", image_size=32,
                  architectures={"full": arch, "lite": arch}, crop_sizes={"full": 32, "lite": 24},
                  save_every=1)
    assert [p.name for p in run.paintings] == ["s0.png", "s1.png"]  # the held-out painting is left out
    written = train_base(run, progress=False)
    assert set(written) == {"full", "lite"}
    start = weights(tiny_model_path)
    for path in written.values():
        mine = weights(path)
        moved = max(np.abs(mine[k] - start[k]).max() for k in start if k.endswith("/kernel"))
        # A zero outer step keeps the start (float16 storage aside); a half step moves it.
        assert (moved < 1e-3) == (outer_step == 0.0), moved
        card = json.loads(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                          .get_modelmeta().custom_metadata_map["faststyle"])
        assert card["steps"] == 4 and "2 rounds of 2 steps across 2 paintings" in card["trained_on"]
    # Without a batch size, each network's rounds take its stage's batch, as a new style trains.
    quick = schedule_defaults("quick", "float32")
    assert [read_card(written[kind]).batch_size for kind in ("full", "lite")] == \
        [quick["batch_size"], quick["lite_batch_size"]] == [3, 4]
    # ...and its stage's loss, which the card records: the lite stage's near-white and content weights.
    losses = [read_card(written[kind]).loss for kind in ("full", "lite")]
    assert [(loss["white_weight"], loss["content_weight"]) for loss in losses] == \
        [(quick["loss"]["white_weight"], quick["loss"]["content_weight"]),
         (quick["lite_white_weight"], quick.get("lite_content_weight") or quick["loss"]["content_weight"])]


def test_a_base_of_one_network_trains_it_and_copies_the_other_from_the_start(folders, tmp_path, tiny_model_path):
    """train-base --only lite: the rounds train the lite network; full.onnx is the start's own file."""
    from faststyle.errors import FaststyleError
    from faststyle.model_file import read_card
    from faststyle.training.base import BaseRun, train_base
    from faststyle.training.data import find_images

    arch = read_card(tiny_model_path).network()
    settings = dict(paintings=find_images(folders / "paintings", ["held/*"]), content_dir=str(folders / "photos"),
                    output=tmp_path / "out", rounds=1, inner_steps=2, outer_step=0.5, outer_step_end=0.5,
                    vgg_weights="random", precision="float32", image_size=32, batch_size=2,
                    architectures={"full": arch, "lite": arch}, crop_sizes={"full": 32, "lite": 24},
                    networks=("lite",), compile_mode="graph")
    written = train_base(BaseRun(start=str(tiny_model_path), **settings), progress=False)
    assert written["full"].read_bytes() == tiny_model_path.read_bytes()
    start, lite = weights(tiny_model_path), weights(written["lite"])
    assert max(np.abs(lite[k] - start[k]).max() for k in start if k.endswith("/kernel")) > 1e-3
    with pytest.raises(FaststyleError, match="keeps the other \\(full\\) as --start gives it"):
        train_base(BaseRun(start=None, **{**settings, "output": tmp_path / "none"}), progress=False)
    assert not (tmp_path / "none").exists()


def test_train_base_needs_paintings_to_train_across(folders, tmp_path):
    r = subprocess.run([sys.executable, "-m", "faststyle", "train-base", str(folders / "paintings"), "--hold-out",
                        "s1.png", "--hold-out", "held/*", "--content-dir", str(folders / "photos"),
                        "-o", str(tmp_path / "out"), "--vgg-weights", "random"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "1 found, give a folder with at least two and at most" in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_train_base_names_a_painting_too_thin_to_learn_from(folders, tmp_path):
    paintings = tmp_path / "paintings"
    shutil.copytree(folders / "paintings", paintings)
    Image.fromarray(photo(6, 400, seed=5)).save(paintings / "frieze.png")
    r = subprocess.run([sys.executable, "-m", "faststyle", "train-base", str(paintings), "--content-dir",
                        str(folders / "photos"), "-o", str(tmp_path / "out"), "--vgg-weights", "random"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "frieze.png: 400x6 px is too long and thin" in r.stderr
    assert not (tmp_path / "out").exists()


def test_train_base_takes_an_outer_step_between_0_and_1(folders, tmp_path):
    r = subprocess.run([sys.executable, "-m", "faststyle", "train-base", str(folders / "paintings"), "--content-dir",
                        str(folders / "photos"), "-o", str(tmp_path / "out"), "--outer-step", "1.5"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--outer-step: must be between 0 and 1, got 1.5" in r.stderr
    assert not (tmp_path / "out").exists()


def test_the_base_start_has_networks_of_the_two_presets_only(tmp_path):
    from faststyle.architecture import PRESETS, preset
    from faststyle.errors import FaststyleError
    from faststyle.training.base import base_model

    assert base_model(PRESETS["full"]).name == "full.onnx" and base_model(PRESETS["lite"]).name == "lite.onnx"
    with pytest.raises(FaststyleError, match="--init-from base: there is a base network for --arch full and lite"):
        base_model(preset("full", width=8))


@pytest.mark.parametrize("kind", ["full", "lite"])
def test_init_from_base_starts_from_the_bundled_base_network_of_the_runs_shape(tmp_path, kind):
    from faststyle.architecture import PRESETS
    from faststyle.runtime import StyleModel
    from faststyle.training.base import base_model
    from faststyle.training.export import export_onnx
    from faststyle.training.network import build_transform_net
    from faststyle.training.train import init_weights

    net = build_transform_net(PRESETS[kind])
    init_weights(net, "base")
    export_onnx(net, tmp_path / "again.onnx")
    image = photo(64, 80, seed=3)
    bundled, again = (StyleModel.load(p).transform(image).astype(int) for p in (base_model(PRESETS[kind]),
                                                                               tmp_path / "again.onnx"))
    assert np.abs(bundled - again).max() <= 1
