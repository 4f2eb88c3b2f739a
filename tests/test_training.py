"""Training end to end on tiny data with a random-weight VGG: train, kill -9, resume, export."""

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from faststyle.runtime import StyleModel
from faststyle.training.train import _preview_array
from tests.conftest import VGG16_WEIGHTS, needs_shared, photo

TINY = ["--vgg-weights", "random", "--image-size", "64", "--style-size", "64", "--batch-size", "2",
        "--width", "4", "--checkpoint-every", "2", "--preview-every", "2", "--no-jit", "--schedule", "long"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "photos" / "nested").mkdir(parents=True)
    for i in range(5):
        Image.fromarray(photo(80 + 8 * i, 96, seed=i)).save(root / "photos" / f"p{i}.jpg")
    Image.fromarray(photo(90, 70, seed=9)[..., 0]).save(root / "photos" / "nested" / "grey.png")
    (root / "photos" / "broken.jpg").write_bytes(b"not an image")
    Image.fromarray(photo(64, 64, seed=7)).save(root / "style.png")
    return root


def train_cmd(data: Path, run: Path, *extra):
    return [sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--content-dir",
            str(data / "photos"), "--run-dir", str(run), "-o", str(run / "model.onnx"), *TINY, *extra]


def log_steps(run: Path) -> list[int]:
    with open(run / "losses.csv") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def test_train_exports_a_working_model(data, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run(train_cmd(data, run, "--steps", "3", "--name", "tiny", "--exclude", "p4.jpg"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 unreadable" in r.stdout
    assert log_steps(run) == [1, 2, 3]
    # The blob and layout measures are logged at every checkpoint, on the held-out photo.
    with open(run / "quality.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["step"]) for row in rows] == [2, 3] and all(row["photos"] == "1" for row in rows)
    assert all(0.0 <= float(row["blown_white_mean"]) <= float(row["blown_white_max"]) <= 1.0 for row in rows)
    assert all(-1.0 <= float(row["tonal_layout"]) <= 1.0 for row in rows)
    assert "blown white" in r.stdout + r.stderr and "tonal layout kept" in r.stdout + r.stderr
    assert (run / "preview.jpg").is_file()
    # The last preview is the exported network's picture of the preview photo, as the runtime paints it.
    photo_array = _preview_array(None).astype(np.uint8)
    painted = StyleModel.load(run / "model.onnx").transform(photo_array).astype(np.float32)
    previewed = np.asarray(Image.open(run / "preview.jpg").convert("RGB"), np.float32)
    assert previewed.shape == painted.shape
    assert np.abs(previewed - painted).mean() < 2.0  # JPEG's rounding
    assert np.abs(previewed - photo_array).mean() > 10 * np.abs(previewed - painted).mean()
    session = ort.InferenceSession(str(run / "model.onnx"), providers=["CPUExecutionProvider"])
    out = session.run(["stylized"], {"image": np.full((1, 36, 52, 3), 100, np.float32)})[0]
    assert out.shape == (1, 36, 52, 3)
    assert -22.5 <= out.min() and out.max() <= 277.5  # tanh * 150 + 127.5
    meta = session.get_modelmeta().custom_metadata_map["faststyle"]
    for key in ('"name": "tiny"', '"steps": 3', '"loss_net": "vgg16"', '"style_image": "style.png"', '"final_losses"',
                '"norm": "demod"', '"content": "block2_conv2"', '"style_weight": 2.0'):
        assert key in meta

    # `faststyle export` of the same run writes the same model card (but its date).
    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(run), "-o", str(run / "again.onnx")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    again = ort.InferenceSession(str(run / "again.onnx"), providers=["CPUExecutionProvider"])
    assert again.get_modelmeta().custom_metadata_map["faststyle"] == meta


def test_lite_student_learns_its_teachers_pictures(data, tmp_path, tiny_model_path, user_styles):
    """--arch lite --teacher: distillation; VGG terms only on every 3rd step; lands where --fast looks."""
    run = tmp_path / "lite"
    cmd = train_cmd(data, run, "--steps", "12", "--name", "tiny", "--arch", "lite", "--teacher",
                    str(tiny_model_path), "--perceptual-every", "3", "--lr", "3e-3")
    cmd.remove("-o"), cmd.remove(str(run / "model.onnx"))
    del cmd[cmd.index("--width"):cmd.index("--width") + 2]  # the lite preset's own width
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with open(run / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    perceptual = [int(row["step"]) for row in rows if row["style"]]
    assert perceptual == [3, 6, 9, 12]
    distill = [float(row["distill"]) for row in rows]
    assert np.mean(distill[-3:]) < 0.7 * np.mean(distill[:3])
    path = user_styles / "lite" / "tiny.onnx"  # beside the user's full "tiny", where --fast finds it
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
    meta = meta.custom_metadata_map["faststyle"]
    assert '"residual_blocks": 3' in meta and '"fold": true' in meta and '"teacher": "' in meta

    from faststyle.styles import resolve_style

    assert resolve_style("tiny", fast=True) == path
    assert resolve_style("tiny") == user_styles / "tiny.onnx"


@pytest.mark.parametrize("lite_perceptual_every,distill_weight", [(0, 30), (1, 30), (1, 0)])
def test_quick_schedule_adapts_a_bundled_network_and_distils_a_lite_network(data, tmp_path, user_styles,
                                                                           lite_perceptual_every, distill_weight):
    """The default path end to end: a bundled network as the start, a preview at once, then
    a lite network distilled from the new full one; both land in the user style folder. Without the
    VGG loss in its stage (--lite-perceptual-every 0) the lite network first learns beside the full one;
    with --distill-weight 0 the lite stage has no teacher, only the VGG loss."""
    from faststyle.architecture import PRESETS
    from faststyle.styles import resolve_style
    from faststyle.training.config import schedule_defaults

    run = tmp_path / "quick"
    cmd = [sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--content-dir", str(data / "photos"),
           "--run-dir", str(run), "--name", "mine", "--vgg-weights", "random", "--image-size", "40",
           "--crop-size", "32", "--style-size", "48", "--batch-size", "2", "--steps", "3", "--lite-steps", "2",
           "--lite-perceptual-every", str(lite_perceptual_every), "--distill-weight", str(distill_weight),
           "--compile", "graph", "--white-weight", "5", "--lite-white-weight", "11", "--lite-content-weight", "0.25"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    full, lite = user_styles / "mine.onnx", user_styles / "lite" / "mine.onnx"
    cards = [json.loads(ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).get_modelmeta()
                        .custom_metadata_map["faststyle"]) for p in (full, lite)]
    start = cards[0]["init_from"]
    # The measured best start (STYLES.md): the base networks, made to adapt fast.
    assert start == schedule_defaults("quick")["init_from"] == "base"
    assert cards[0]["steps"] == 3 and cards[0]["learning_rate_end"] and cards[0]["architecture"] == PRESETS["full"].to_dict()
    assert cards[1]["architecture"] == PRESETS["lite"].to_dict() and cards[1]["steps"] == 2
    assert cards[1].get("teacher") == ("mine" if distill_weight else None)  # a name, not this machine's path
    assert cards[1]["init_from"] == start
    assert [c["loss_layers"]["style"] for c in cards] == [["block1_conv2", "block2_conv2", "block3_conv3"]] * 2
    assert [c["loss"]["white_weight"] for c in cards] == [5, 11]  # the lite stage's own near-white weight
    assert [c["loss"]["content_weight"] for c in cards] == \
        [schedule_defaults("quick")["loss"]["content_weight"], 0.25]  # and its own content weight
    assert (run / "preview.jpg").is_file() and (run / "lite" / "preview.jpg").is_file()
    assert log_steps(run / "lite") == [1, 2]
    with open(run / "lite" / "losses.csv") as f:  # the full network's pictures if weighed, the VGG loss if asked
        rows = list(csv.DictReader(f))
    assert all(bool(row["distill"]) == bool(distill_weight) for row in rows)
    assert all(float(row["distill"] or 1) > 0 and bool(row["style"]) == bool(lite_perceptual_every) for row in rows)
    # Distilled from pictures only, the lite network learned beside the full one first (its loss
    # logged, its weights in the full run's checkpoints under their own names).
    with open(run / "losses.csv") as f:
        assert all(bool(row["lite"]) != bool(lite_perceptual_every) for row in csv.DictReader(f))
    with np.load(sorted(run.glob("ckpt-*.npz"))[-1]) as ckpt:
        assert any(k.startswith("net/lite/") for k in ckpt.files) != bool(lite_perceptual_every)
        assert any(k.startswith("net/conv1") for k in ckpt.files)
    assert resolve_style("mine", fast=True) == lite and resolve_style("mine") == full
    # Both cards carry the painting, small, and the style's swatch is that painting, not a painted cat.
    from faststyle.api import swatch

    painting = np.asarray(Image.open(data / "style.png").convert("RGB").resize((32, 32), Image.LANCZOS), np.float32)
    for style in ("mine", lite):
        shown = np.asarray(swatch(style, 32), np.float32)
        assert np.abs(shown - painting).mean() < 12  # JPEG at 85 %, shrunk twice


def test_nearest_style_ranks_bundled_styles_by_the_style_distance_of_their_pictures(
        tmp_path, tiny_model_path, monkeypatch):
    from faststyle import styles
    from faststyle.architecture import Architecture
    from faststyle.training.export import export_onnx
    from faststyle.training.train import nearest_style
    from tests.conftest import random_transform_net

    grey = random_transform_net()
    for layer in grey.layers:
        if layer.name == "out":  # paints flat grey: 127.5 everywhere
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    export_onnx(grey, tmp_path / "grey.onnx", {"name": "grey"})
    found = [styles.StyleInfo("tiny", tiny_model_path, "bundled"), styles.StyleInfo("grey", tmp_path / "grey.onnx",
                                                                                     "bundled"),
             styles.StyleInfo("mine", tiny_model_path, "user")]
    monkeypatch.setattr(styles, "available_styles", lambda: found)

    class GreyLovingLoss:  # nearer the painting the closer a picture is to flat grey
        def style_term(self, pictures):
            return float(np.abs(pictures - 127.5).mean())

    photos = [photo(32, 32, seed=i).astype(np.float32) for i in range(2)]
    assert nearest_style(GreyLovingLoss(), Architecture(width=4), photos) == ["grey", "tiny"]  # user styles: never
    assert nearest_style(GreyLovingLoss(), Architecture(width=8), photos) == []  # no network of this shape


def test_a_card_names_a_bundled_start_by_its_style_and_keeps_any_other_path(data, tmp_path):
    from faststyle.styles import BUNDLED_DIR
    from faststyle.training.config import TrainConfig
    from faststyle.training.run_folder import model_card

    config = TrainConfig(style_image=str(data / "style.png"), content_dir=str(data / "photos"), name="mine")
    for start, named in [(BUNDLED_DIR / "wave.onnx", "wave"), (BUNDLED_DIR / "lite" / "udnie.onnx", "udnie"),
                         (tmp_path / "wave.onnx", str(tmp_path / "wave.onnx")), ("wave", "wave")]:
        config.init_from = str(start)
        assert model_card(config, 1, {}).init_from == named


def test_init_from_starts_from_a_model_of_the_same_shape_and_refuses_another(
        data, tmp_path, tiny_model_path, tiny_folded_model_path):
    run = tmp_path / "init"
    r = subprocess.run(train_cmd(data, run, "--steps", "1", "--lr", "1e-9", "--init-from", str(tiny_model_path)),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    x = {"image": np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)}
    start, trained = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(["stylized"], x)[0]
                      for p in (tiny_model_path, run / "model.onnx"))
    assert np.abs(start - trained).max() < 1.0  # one step at a tiny rate: still the start's picture

    other = tmp_path / "init-other"
    r = subprocess.run(train_cmd(data, other, "--steps", "1", "--init-from", str(tiny_folded_model_path)),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "another shape" in r.stderr and "--init-from" in r.stderr
    assert not (other / "config.json").exists()  # refused before the run folder was written


def test_killed_run_resumes_to_the_same_weights(data, tmp_path):
    """kill -9 mid-run, --resume: same step count and the same weights as an unbroken run."""
    straight = tmp_path / "straight"
    subprocess.run(train_cmd(data, straight, "--steps", "6"), check=True, capture_output=True, timeout=600)

    broken = tmp_path / "broken"
    proc = subprocess.Popen(train_cmd(data, broken, "--steps", "6"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (broken / "ckpt-000004.npz").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (broken / "model.onnx").exists(), "the run finished before it could be killed"

    r = subprocess.run([sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--resume",
                        "--checkpoint-dir", str(broken)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert log_steps(broken) == [1, 2, 3, 4, 5, 6]
    a = np.load(straight / "ckpt-000006.npz")
    b = np.load(broken / "ckpt-000006.npz")
    assert [int(v) for v in a["state"]] == [int(v) for v in b["state"]]
    assert {k for k in a.files if k.startswith("net/")} == {k for k in b.files if k.startswith("net/")}
    for key in a.files:
        if key == "config":  # each checkpoint describes its run: the same settings, another folder
            config_a, config_b = (json.loads(str(x["config"])) for x in (a, b))
            assert {**config_a, "run_dir": "", "output": ""} == {**config_b, "run_dir": "", "output": ""}
            continue
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_existing_run_is_not_overwritten(data, tmp_path):
    run = tmp_path / "run"
    subprocess.run(train_cmd(data, run, "--steps", "2"), check=True, capture_output=True, timeout=600)
    r = subprocess.run(train_cmd(data, run, "--steps", "2"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "--resume" in r.stderr and "Traceback" not in r.stderr


def test_folder_without_images_is_a_clear_error(data, tmp_path):
    (tmp_path / "empty").mkdir()
    r = subprocess.run([sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--content-dir",
                        str(tmp_path / "empty"), "--vgg-weights", "random"], capture_output=True, text=True)
    assert r.returncode == 2 and "no images found" in r.stderr and "Traceback" not in r.stderr


def test_a_damaged_or_thin_painting_is_named_and_a_thumbnail_gets_a_note(data, tmp_path):
    def with_painting(painting: Path, run: Path) -> list[str]:
        args = train_cmd(data, run, "--steps", "1")
        args[args.index(str(data / "style.png"))] = str(painting)
        return args

    (tmp_path / "painting.jpg").write_bytes(b"\xff\xd8 cut short")
    r = subprocess.run(with_painting(tmp_path / "painting.jpg", tmp_path / "r"), capture_output=True, text=True)
    assert r.returncode == 2 and "painting.jpg: not an image" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()
    # a strip (a scroll, a frieze): VGG would pool it to nothing; said in one line, not a traceback
    Image.fromarray(photo(8, 600, seed=4)).save(tmp_path / "strip.png")
    r = subprocess.run(with_painting(tmp_path / "strip.png", tmp_path / "s"), capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "strip.png: 600x8 px is too long and thin" in r.stderr and "crop" in r.stderr
    assert not (tmp_path / "s").exists()
    # 40 px, read at 256: trained, with a line saying why a larger picture would paint better
    Image.fromarray(photo(30, 40, seed=3)).save(tmp_path / "thumb.png")
    args = with_painting(tmp_path / "thumb.png", tmp_path / "t")
    args[args.index("--style-size") + 1] = "256"
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "thumb.png is 40x30 px, small for a painting" in r.stderr and (tmp_path / "t" / "model.onnx").is_file()
    r = subprocess.run(train_cmd(data, tmp_path / "big", "--steps", "1"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "small for a painting" not in r.stderr  # 64 px read at 64: no note


def test_missing_vgg_file_names_the_flag_and_variable(data, tmp_path):
    r = subprocess.run(train_cmd(data, tmp_path / "r", "--steps", "1") + ["--vgg-weights", str(tmp_path / "nope.h5")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "--vgg-weights" in r.stderr and "FASTSTYLE_VGG_WEIGHTS" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()  # a run that could not start leaves no run folder behind


def test_download_failure_names_the_flag_and_variable(data, tmp_path):
    """No network: Keras' download of the ImageNet weights fails, and the user is told what to do."""
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras"), "FASTSTYLE_VGG_WEIGHTS": "",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    args = [a for a in train_cmd(data, tmp_path / "r", "--steps", "1")]
    i = args.index("random")
    args[i] = "imagenet"
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2
    assert "could not download" in r.stderr and "--vgg-weights" in r.stderr and "FASTSTYLE_VGG_WEIGHTS" in r.stderr
    assert "Connection refused" in r.stderr  # the real reason, not just an exception class


@needs_shared
def test_real_vgg16_style_loss_decreases(data, tmp_path):
    from faststyle.architecture import Architecture
    from faststyle.training.config import LossConfig, TrainConfig
    from faststyle.training.train import train

    run = tmp_path / "real"
    config = TrainConfig(style_image=str(data / "style.png"), content_dir=str(data / "photos"), name="real",
                         output=str(run / "m.onnx"), run_dir=str(run), image_size=64, loss=LossConfig(style_size=64),
                         batch_size=2, steps=12, vgg_weights=str(VGG16_WEIGHTS),
                         architecture=Architecture(width=8), checkpoint_every=100,
                         preview_every=100, learning_rate=5e-3)
    train(config, progress=False)
    with open(run / "losses.csv") as f:
        style = [float(row["style"]) for row in csv.DictReader(f)]
    assert np.mean(style[-3:]) < 0.5 * np.mean(style[:3])


def test_gatys_optimisation_lowers_the_loss(data):
    import tensorflow as tf  # noqa: F401

    from faststyle.training.config import LossConfig
    from faststyle.training.evaluate import square_photo
    from faststyle.training.losses import build_loss
    from faststyle.training.optimize import optimize_image

    loss = build_loss(LossConfig(style_size=48), str(data / "style.png"), "random")
    content = square_photo(data / "photos" / "p0.jpg", 48)
    for method in ("lbfgs", "adam"):
        image, recorded = optimize_image(content, loss, iterations=10, method=method, record_at=(1, 10))
        assert image.shape == content.shape and 0 <= image.min() and image.max() <= 255
        assert recorded[10]["total"] < recorded[1]["total"], method


def test_optimize_and_evaluate_commands(data, tmp_path, tiny_model_path):
    out = tmp_path / "gatys.png"
    r = subprocess.run([sys.executable, "-m", "faststyle", "optimize", str(data / "photos" / "p1.jpg"),
                        str(data / "style.png"), "-o", str(out), "--size", "40", "--iterations", "3",
                        "--vgg-weights", "random"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size[0] == 40 and "loss: content" in r.stdout
    r = subprocess.run([sys.executable, "-m", "faststyle", "evaluate", str(tiny_model_path), str(data / "photos"),
                        "--style-image", str(data / "style.png"), "--size", "30", "--gatys-photos", "1",
                        "--gatys-iterations", "2,4", "--vgg-weights", "random"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Gatys L-BFGS 4 it" in r.stdout and "model (" in r.stdout
    # 30 px is not a multiple of 4: the model's padded output must still be scored at the photo's size.
    assert "blown white (model, 6 photos)" in r.stdout and "at 1024 px" in r.stdout
    assert "tonal layout kept" in r.stdout and "stride pattern at 1024 px" in r.stdout
    assert "detail painted flat" in r.stdout
    assert ("video, pan over p" in r.stdout) == bool(importlib.util.find_spec("cv2"))
    r = subprocess.run([sys.executable, "-m", "faststyle", "evaluate", str(tiny_model_path), str(data / "photos"),
                        "--style-image", str(data / "style.png"), "--crop-size", "80", "--gatys-photos", "0",
                        "--vgg-weights", "random", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    import json
    report = json.loads(r.stdout)
    assert report["photos"] == 6 and len(report["blown"]) == 6 and set(report["model"]) >= {"content", "style"}
    assert len(report["flat"]) == 6 and all(0 <= v <= 1 for v in report["flat"])
    assert sorted(map(int, report["shift"])) == list(range(1, 9)) and all(v >= 0 for v in report["shift"].values())
    assert sorted(map(int, report["stride"])) == [2, 4] and all(len(v) == 6 for v in report["stride"].values())
    # the same with the statistics held (what that leaves: tests/test_runtime.py)
    assert sorted(map(int, report["shift_held"])) == list(range(1, 9)) and min(report["shift_held"].values()) >= 0
    if importlib.util.find_spec("cv2"):  # the video measure needs the [video] extra
        assert set(report["video"]) == {"pan", "handheld"}
        assert all(set(v) == {"input", "painted", "steady", "glued"} and min(v.values()) >= 0
                   for v in report["video"].values())
        assert report["video_photo"] in {f"p{i}.jpg" for i in range(5)} | {"grey.png"}
    # A missing folder is named before anything slow (the VGG weights, perhaps a download) starts.
    r = subprocess.run([sys.executable, "-m", "faststyle", "evaluate", str(tiny_model_path), str(tmp_path / "nowhere"),
                        "--style-image", str(data / "style.png")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"faststyle: error: {tmp_path / 'nowhere'}: not found; pass a folder of validation photos (or one photo)"]


def test_resume_honours_todays_output_and_refuses_changes_it_cannot_make(data, tmp_path):
    run = tmp_path / "run"
    subprocess.run(train_cmd(data, run, "--steps", "2"), check=True, capture_output=True, timeout=600)
    resume = [sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--resume", "--checkpoint-dir",
              str(run)]
    r = subprocess.run(resume + ["--steps", "3", "-o", str(tmp_path / "today.onnx")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "today.onnx").is_file() and log_steps(run) == [1, 2, 3]

    other = tmp_path / "other.png"
    Image.fromarray(photo(64, 64, seed=99)).save(other)
    r = subprocess.run([*resume[:4], str(other), *resume[5:], "--steps", "4", "--style-weight", "9"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--style-weight (run: 2.0, now: 9.0)" in r.stderr and "the painting" in r.stderr
    assert log_steps(run) == [1, 2, 3]


def test_compile_auto_times_xla_and_graph_mode_and_keeps_the_faster(data, tmp_path):
    run = tmp_path / "run"
    cmd = [arg for arg in train_cmd(data, run, "--steps", "7") if arg != "--no-jit"]  # auto is the default
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    report = [line for line in (r.stdout + r.stderr).splitlines() if "training goes on with" in line]
    assert len(report) == 1 and " s with XLA, " in report[0] and " s with graph mode: " in report[0]
    assert log_steps(run) == list(range(1, 8))  # the trial steps are steps of the run
    assert json.loads((run / "config.json").read_text())["compile_mode"] == "auto"


def test_mixed_bfloat16_trains_float32_weights_and_says_so_in_the_card(data, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run(train_cmd(data, run, "--steps", "2", "--precision", "mixed_bfloat16"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with open(run / "losses.csv") as f:
        assert all(np.isfinite(float(row["total"])) for row in csv.DictReader(f))
    session = ort.InferenceSession(str(run / "model.onnx"), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map["faststyle"])["precision"] == "mixed_bfloat16"
    assert session.get_inputs()[0].type == "tensor(float)"  # the exported model is the usual float one


def test_dtype_policy_holds_while_networks_are_built_and_is_restored():
    import keras

    from faststyle.architecture import Architecture
    from faststyle.training.network import build_transform_net
    from faststyle.training.train import dtype_policy

    with dtype_policy("mixed_bfloat16"):
        net = build_transform_net(Architecture(width=4, residual_blocks=1))
    assert keras.mixed_precision.global_policy().name == "float32"
    conv = net.get_layer("conv1")
    assert (conv.compute_dtype, conv.variable_dtype) == ("bfloat16", "float32")
    # the picture comes out in float32: bfloat16 would round it to whole grey levels above 128
    out = net(np.full((1, 16, 16, 3), 200.0, np.float32))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_losses_of_bfloat16_features_are_computed_in_float32():
    import keras

    from faststyle.training.losses import content_loss, gram_matrix

    rng = np.random.default_rng(0)
    features = rng.uniform(0, 10, (1, 8, 8, 16)).astype(np.float32)
    as_bf16 = keras.ops.cast(features, "bfloat16")  # what a bfloat16 loss network hands over
    exact = keras.ops.convert_to_numpy(keras.ops.cast(as_bf16, "float32"))
    gram = gram_matrix(as_bf16)
    assert keras.backend.standardize_dtype(gram.dtype) == "float32"
    # The same values multiplied in float32: a bfloat16 Gram matrix would be off by ~0.4 %.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gram), keras.ops.convert_to_numpy(gram_matrix(exact)),
                               rtol=1e-6)
    nearby = exact * 1.001  # a 0.1 % difference, below bfloat16's resolution
    loss = keras.ops.convert_to_numpy(content_loss(as_bf16, keras.ops.convert_to_tensor(nearby)))
    np.testing.assert_allclose(loss, np.mean((exact - nearby) ** 2), rtol=1e-4)


@pytest.mark.parametrize("bfloat16, precision, expected", [
    # An AVX2 CPU: 3 crops of 112 px (the pixels of 4 of 96), the base, a VGG-taught lite stage.
    (False, None, (140, 112, 3, 220, 1, 0.0, "base", 3.6)),
    (True, None, (170, 128, 4, 390, 1, 0.0, "base", 1.85)),  # bfloat16 maths: cheaper steps, bigger crops, more steps
    (True, "float32", (140, 112, 3, 220, 1, 0.0, "base", 3.6)),  # float32 asked for: steps cost what they do elsewhere
    (False, "mixed_bfloat16", (170, 128, 4, 390, 1, 0.0, "base", 1.85)),
])
def test_quick_schedule_takes_bigger_crops_and_more_steps_where_bfloat16_makes_them_cheap(
        data, monkeypatch, user_styles, bfloat16, precision, expected):
    from faststyle import cli
    from faststyle.training import config as config_module
    from faststyle.training import train as train_module
    from faststyle.training.config import LossConfig

    monkeypatch.setattr(config_module, "bfloat16_cpu", lambda: bfloat16)
    starts = []
    monkeypatch.setattr(train_module, "train",
                        lambda config, resume, started=None: (starts.append(config), Path("x.onnx"))[1])
    argv = ["train", str(data / "style.png"), "--content-dir", str(data / "photos"), "--name", "mine"]
    assert cli.main(argv + (["--precision", precision] if precision else [])) == 0
    config = starts[0]
    schedule = (config.steps, config.crop_size, config.batch_size, config.lite_steps, config.lite_perceptual_every,
                config.distill_weight, config.init_from, config.time_budget)
    assert schedule == expected
    assert config.learning_rate_end == 1e-4  # the rest of the schedule as it was
    # The lite stage takes its own crops and batch: 4 of 96 px.
    lite = train_module._lite_config(config, Path("full.onnx"))
    assert (lite.crop_size, lite.batch_size, lite.steps) == (96, 4, expected[3])
    # The schedule's loss keeps the photo's light and dark, pale paintings from flat white and flat
    # areas from the stride's dashes, so that it can ask less of the photo's content.
    assert config.loss.layout_weight > 0 and config.loss.white_weight > 0 and config.loss.stride_weight > 0
    assert config.loss.content_weight < LossConfig.content_weight
    assert config.loss.style_depth == 3  # relu4_3 weighs ~1e-4 of the style term, a third of VGG's work
    assert config.lite_white_weight > config.loss.white_weight  # the lite network blew pale objects to white
    # Both stages came nearer the painting with less of the photo: the lite stage takes the full one's.
    assert config.loss.content_weight <= 0.3 and config.lite_content_weight is None
    assert (lite.loss.white_weight, lite.loss.content_weight) == (config.lite_white_weight, config.loss.content_weight)
    # An option given still wins over the schedule, for the loss too.
    assert cli.main(argv + ["--steps", "7", "--crop-size", "64", "--layout-weight", "0", "--distill-weight", "5"]) == 0
    assert (starts[1].steps, starts[1].crop_size, starts[1].loss.layout_weight, starts[1].distill_weight) == \
        (7, 64, 0, 5)
    assert starts[1].time_budget is None  # steps asked for by number are all trained
    assert cli.main(argv + ["--schedule", "long"]) == 0 and starts[2].loss.layout_weight == 0
    assert starts[2].loss == LossConfig(loss_net=starts[2].loss.loss_net)  # long: the field defaults
    assert starts[2].time_budget is None
    assert cli.main(argv + ["--lite-steps", "9", "--time-budget", "2.5"]) == 0 and starts[3].time_budget == 2.5
    assert cli.main(argv + ["--white-weight", "6"]) == 0  # one near-white weight given: both stages take it
    assert (starts[4].loss.white_weight, starts[4].lite_white_weight) == (6, None)
    assert cli.main(argv + ["--white-weight", "6", "--lite-white-weight", "8"]) == 0
    assert (starts[5].loss.white_weight, starts[5].lite_white_weight) == (6, 8)
    # --batch-size alone sets both stages' batch; --lite-batch-size the lite stage's.
    assert cli.main(argv + ["--batch-size", "6"]) == 0
    assert [c.batch_size for c in (starts[6], train_module._lite_config(starts[6], Path("f.onnx")))] == [6, 6]
    assert cli.main(argv + ["--batch-size", "6", "--lite-batch-size", "2"]) == 0
    assert [c.batch_size for c in (starts[7], train_module._lite_config(starts[7], Path("f.onnx")))] == [6, 2]
    # --content-weight alone sets both stages' content term; --lite-content-weight the lite stage's.
    assert cli.main(argv + ["--content-weight", "0.7"]) == 0
    assert [c.loss.content_weight for c in (starts[8], train_module._lite_config(starts[8], Path("f.onnx")))] == \
        [0.7, 0.7]
    assert cli.main(argv + ["--content-weight", "0.7", "--lite-content-weight", "0.2"]) == 0
    assert [c.loss.content_weight for c in (starts[9], train_module._lite_config(starts[9], Path("f.onnx")))] == \
        [0.7, 0.2]


def test_a_run_folder_of_an_older_version_keeps_its_compile_choice(tmp_path):
    from faststyle.training.config import TrainConfig

    fields = TrainConfig("style.png", content_dir="photos", name="x").to_dict()
    del fields["compile_mode"]
    assert TrainConfig.from_dict({**fields, "jit_compile": False}).compile_mode == "graph"  # it ran with --no-jit
    assert TrainConfig.from_dict({**fields, "jit_compile": True}).compile_mode == "auto"  # XLA was only the default


def test_gatys_reference_is_cached_by_what_it_depends_on(data, tmp_path, tiny_model_path):
    from faststyle.api import load_style
    from faststyle.training.evaluate import evaluate

    photos = sorted((data / "photos").glob("p*.jpg"))[:2]
    args = dict(style_image=str(data / "style.png"), size=32, vgg_weights="random", gatys_iterations=(2, 4),
                gatys_photos=1, cache_dir=tmp_path / "cache")
    first = evaluate(load_style(tiny_model_path), photos, **args)
    assert len(list((tmp_path / "cache").glob("gatys-*.json"))) == 1
    again = evaluate(load_style(tiny_model_path), photos, **args)
    # (gatys[0] is the model's own loss on those photos: "random" VGG weights differ per run)
    assert {n: again.gatys[n] for n in (2, 4)} == {n: first.gatys[n] for n in (2, 4)}
    np.testing.assert_equal(again.gatys_tone, first.gatys_tone)  # NaN at this size: too small for two blocks
    other = evaluate(load_style(tiny_model_path), photos, **{**args, "size": 28})  # another photo size: new result
    assert len(list((tmp_path / "cache").glob("gatys-*.json"))) == 2 and other.photos == 2


def test_a_checkpoint_describes_itself_and_export_names_what_is_missing(data, tmp_path):
    run = tmp_path / "run"
    subprocess.run(train_cmd(data, run, "--steps", "2"), check=True, capture_output=True, timeout=600)
    lone = tmp_path / "elsewhere" / "ckpt-000002.npz"  # no config.json beside it
    lone.parent.mkdir()
    lone.write_bytes((run / "ckpt-000002.npz").read_bytes())
    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(lone), "-o", str(tmp_path / "m.onnx")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    meta = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert '"width": 4' in meta.custom_metadata_map["faststyle"]  # the run's architecture, from the checkpoint
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(empty), "-o", str(tmp_path / "x.onnx")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "not a faststyle training run folder" in r.stderr


def test_max_minutes_stops_early_with_a_checkpoint_and_a_model_and_resume_goes_on(data, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run(train_cmd(data, run, "--steps", "4", "--max-minutes", "0.00001"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "--max-minutes 1e-05 reached" in r.stdout + r.stderr
    stopped_at = len(log_steps(run))
    assert stopped_at < 4 and (run / f"ckpt-{stopped_at:06d}.npz").is_file()
    assert (run / "model.onnx").is_file()  # what it had learned is exported, as at the last step

    r = subprocess.run([sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--resume",
                        "--run-dir", str(run), "--max-minutes", "60"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert log_steps(run) == [1, 2, 3, 4]


def test_batches_resume_at_a_position_and_reader_errors_reach_the_loop(data):
    from faststyle.errors import FaststyleError
    from faststyle.training.data import PhotoStream, batches, find_images

    stream = PhotoStream(find_images(data / "photos", ["broken.jpg"]), 64, 32, seed=3)
    stream_iter = batches(stream, 2)
    first = [next(stream_iter) for _ in range(3)]
    assert all(b.shape == (2, 32, 32, 3) and b.dtype == np.float32 for b, _ in first)
    assert [position for _, position in first] == [2, 4, 6]
    images, position = next(batches(stream, 2, start=first[0][1]))  # a resumed run's next batch
    np.testing.assert_array_equal(images, first[1][0])
    assert position == first[1][1]

    unreadable = PhotoStream([data / "photos" / "broken.jpg"], 64, 32, seed=3)
    with pytest.raises(FaststyleError, match="none of the content images could be read"):
        next(batches(unreadable, 2))


def test_loss_network_leaves_a_numpy_input_as_it_was():
    from faststyle.training.vgg import LossNetwork

    net = LossNetwork("vgg16", "random")
    x = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    before = x.copy()
    first, second = np.asarray(net(x)[0]), np.asarray(net(x)[0])
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(first, second)


@needs_shared
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")
def test_jax_backend_takes_the_same_steps_as_tensorflow(data, tmp_path, tiny_model_path):
    """KERAS_BACKEND=jax (GPU machines without TensorFlow) trains the same: same loss, same update."""
    rows = {}
    for backend in ("tensorflow", "jax"):
        run = tmp_path / backend
        cmd = [*train_cmd(data, run, "--steps", "2", "--init-from", str(tiny_model_path)), "--vgg-weights",
               str(VGG16_WEIGHTS)]  # (the last --vgg-weights wins: random VGG weights differ by backend)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "KERAS_BACKEND": backend})
        assert r.returncode == 0, r.stderr
        with open(run / "losses.csv") as f:
            rows[backend] = [{k: float(v) for k, v in row.items() if v and k != "seconds"}  # blank: a term not in this run
                             for row in csv.DictReader(f)]
    tf_rows, jax_rows = rows["tensorflow"], rows["jax"]
    for key in ("content", "style", "tv", "total"):
        assert jax_rows[0][key] == pytest.approx(tf_rows[0][key], rel=1e-4), key  # same weights, same loss
        assert jax_rows[1][key] == pytest.approx(tf_rows[1][key], rel=1e-2), key  # after the same update
    assert jax_rows[1]["total"] != pytest.approx(jax_rows[0]["total"], rel=1e-3)  # the update did something


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX not installed")
def test_two_devices_take_the_same_step_as_one(data, tmp_path, tiny_model_path):
    """--devices 2 (two virtual CPU devices of XLA's host platform) splits the batch of 4 in two and
    sums the gradients: the same step as one device, to float tolerance."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    weights, losses = {}, {}
    for devices in ("1", "2"):
        run = tmp_path / f"devices{devices}"
        cmd = [*train_cmd(data, run, "--steps", "2", "--init-from", str(tiny_model_path), "--devices", devices),
               "--batch-size", "4"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stderr
        assert ("data-parallel on 2 devices" in r.stdout) == (devices == "2")
        with np.load(run / "ckpt-000002.npz") as ckpt:
            weights[devices] = {k: ckpt[k] for k in ckpt.files if k.startswith("net/")}
        with open(run / "losses.csv") as f:
            losses[devices] = [float(row["total"]) for row in csv.DictReader(f)]
    assert weights["1"].keys() == weights["2"].keys() and weights["1"]
    # The biases of the convolutions an instance norm follows get a gradient of exactly zero in exact
    # arithmetic (the norm subtracts them again): what they get is rounding noise, which Adam scales up
    # to full-size steps of either sign. Every other weight must agree.
    normed = {f"net/{name}/bias" for name in ("conv1", "down1", "down2")}
    assert normed <= weights["1"].keys()
    for key in weights["1"].keys() - normed:
        np.testing.assert_allclose(weights["2"][key], weights["1"][key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert losses["2"] == pytest.approx(losses["1"], rel=1e-4)  # the same loss at both steps
    assert losses["1"][1] != pytest.approx(losses["1"][0], rel=1e-3)  # and the first step did change the weights


def test_devices_needs_jax_and_a_batch_that_splits(data, tmp_path):
    r = subprocess.run(train_cmd(data, tmp_path / "run", "--steps", "1", "--devices", "2"), capture_output=True,
                       text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert r.returncode == 2 and "KERAS_BACKEND=jax" in r.stderr and "Traceback" not in r.stderr


def test_lr_end_falls_along_a_cosine_and_a_resumed_run_goes_on_down_it(data, tmp_path):
    from faststyle.training.config import TrainConfig
    from faststyle.training.train import learning_rate

    config = TrainConfig(style_image="s.png", content_dir="photos", name="s", steps=100,
                         learning_rate=1e-3, learning_rate_end=1e-5)
    assert [learning_rate(config, s) for s in (0, 50, 100, 150)] == pytest.approx([1e-3, 5.05e-4, 1e-5, 1e-5], rel=1e-4)
    config.steps = 50  # fewer steps (a --time-budget's): the same fall, over them
    assert [learning_rate(config, s) for s in (0, 25, 50)] == pytest.approx([1e-3, 5.05e-4, 1e-5], rel=1e-4)
    config.learning_rate_end = None
    assert learning_rate(config, 50) == 1e-3

    # The fall goes by the steps done, which the checkpoint keeps for --resume.
    run = tmp_path / "run"
    r = subprocess.run(train_cmd(data, run, "--steps", "2", "--lr-end", "1e-5"), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--resume",
                        "--run-dir", str(run), "--steps", "3"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    checkpoint = dict(np.load(run / "ckpt-000003.npz"))
    assert int(checkpoint["opt/adam/iteration"]) == 3
    config.steps, config.learning_rate_end = 3, 1e-5  # the third step ran at the fall's rate for step 2 of 3
    assert float(checkpoint["opt/adam/learning_rate"]) == pytest.approx(learning_rate(config, 2), rel=1e-5)
    card = json.loads(ort.InferenceSession(str(run / "model.onnx")).get_modelmeta().custom_metadata_map["faststyle"])
    assert card["learning_rate_end"] == 1e-5
    # A checkpoint from before the rate was a variable of Adam's still resumes.
    del checkpoint["opt/adam/learning_rate"]
    np.savez(run / "ckpt-000003.npz", **checkpoint)
    r = subprocess.run([sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--resume",
                        "--run-dir", str(run), "--steps", "4"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert log_steps(run) == [1, 2, 3, 4]


def test_evaluate_films_its_clips_over_the_photo_with_the_most_detail(data, tmp_path, tiny_model_path):
    """A flat sky first in the folder gives the input's own warping error about 0: nothing to judge a
    painted clip against. The clips are filmed over the photo with the most detail where they film."""
    pytest.importorskip("cv2")
    from faststyle.runtime import StyleModel
    from faststyle.training.evaluate import evaluate, filmed_detail

    sky, leaves = tmp_path / "a_sky.png", tmp_path / "b_leaves.png"
    Image.fromarray(np.full((600, 800, 3), 235, np.uint8)).save(sky)
    blocks = np.random.default_rng(3).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    Image.fromarray(np.kron(blocks, np.ones((4, 4, 1), np.uint8))).save(leaves)  # foliage-like detail
    assert filmed_detail(np.asarray(Image.open(sky))) == 0 < filmed_detail(np.asarray(Image.open(leaves)))
    assert filmed_detail(np.zeros((40, 40, 3), np.uint8)) == 0  # too small to film over: no detail, no error
    report = evaluate(StyleModel.load(tiny_model_path), [sky, leaves], str(data / "style.png"), size=32,
                      vgg_weights="random", gatys_iterations=(), gatys_photos=0, large_size=600)
    assert report.video_photo == "b_leaves.png"
    assert report.video["handheld"]["input"] > 1  # over the sky it reads about 0


def test_time_budget_plans_fewer_steps_in_both_stages_and_no_more_than_asked():
    from faststyle.training.budget import LEAST_SHARE, LITE_STEP_SHARE, OVERHEAD, STAGE_SECONDS, Budget, fit

    # 1 s steps, 10 done of 100, 200 lite steps at 0.45 s: 90 + 90 s to go, times the overhead,
    # and the seconds between the stages.
    need = OVERHEAD * (90 + 0.45 * 200)
    enough = need + STAGE_SECONDS
    assert fit(10, 100, 200, 1.0, enough, 0.45) == fit(10, 100, 200, 1.0, 10 * enough, 0.45)
    assert fit(10, 100, 200, 1.0, 10 * enough, 0.45).steps == 100  # never more than asked
    half = fit(10, 100, 200, 1.0, need / 2 + STAGE_SECONDS, 0.45)
    # One share of each stage's steps (100 of 190 step-costs in all: 10 done, 90 paid for)...
    assert (half.steps, half.later_steps) == (52, 106)
    assert abs(half.steps / 100 - half.later_steps / 200) < 0.02  # to a step of rounding
    assert OVERHEAD * ((half.steps - 10) + 0.45 * half.later_steps) <= need / 2 + 1e-9  # ...that fits
    # The same pace planned 40 steps later, with 40 steps' less time: the same steps in each stage
    # (a share of the steps *left* would hand the full stage more of the time the later it planned).
    assert fit(50, 100, 200, 1.0, need / 2 - OVERHEAD * 40 + STAGE_SECONDS, 0.45) == half
    # Cheaper lite steps: more of both stages fit in the same seconds.
    cheaper = fit(10, 100, 200, 1.0, need / 2 + STAGE_SECONDS, 0.25)
    assert cheaper.steps > half.steps and cheaper.later_steps > half.later_steps
    assert fit(10, 100, 0, 1.0, OVERHEAD * 90, 0.45).steps == 100  # no lite stage: no seconds between
    assert fit(10, 100, 0, 1.0, OVERHEAD * 45, 0.45).steps == 55
    late = fit(10, 100, 200, 1.0, -5.0, 0.45)  # past the deadline already: a least share, not nothing
    assert (late.steps, late.later_steps) == (int(100 * LEAST_SHARE), int(200 * LEAST_SHARE))
    assert fit(99, 100, 0, 1.0, 0.0, 0.45).steps == 100  # at least the step under way
    # A stage that has run past its share: one more step, and the lite stage what the time still pays for.
    behind = fit(60, 100, 200, 1.0, OVERHEAD * 10 + STAGE_SECONDS, 0.45)
    assert behind.steps == 61 and behind.later_steps == int(200 * LEAST_SHARE)
    # A stage plans with its precision's lite share (the quick schedule's lite stage costs differ).
    assert Budget(0, 1, 1, "mixed_bfloat16").later_share == LITE_STEP_SHARE["mixed_bfloat16"]
    assert Budget(0, 1, 1, "float32").later_share == LITE_STEP_SHARE["float32"] > LITE_STEP_SHARE["mixed_bfloat16"]


def test_a_budget_plans_on_its_first_steps_and_again_on_later_ones():
    from faststyle.training.budget import OVERHEAD, PLAN_AT, RESERVE_SECONDS, Budget

    now = [0.0]
    budget = Budget(deadline=RESERVE_SECONDS + OVERHEAD * 100, steps=200, later_steps=0, clock=lambda: now[0])
    assert budget.observe(9.0, 1, ready=False) is None  # the compiling step is not timed
    plans = []
    for done in range(2, 200):
        timed = done - 1
        # The first steps slowest, then a slow spell, then the machine's own pace.
        seconds = 1.0 if timed <= PLAN_AT[0] else 0.6 if timed <= PLAN_AT[1] else 0.5
        now[0] += seconds
        plan = budget.observe(seconds, done)
        if plan:
            plans.append((done, plan.steps, now[0]))
    assert [at for at, _, _ in plans] == [1 + n for n in PLAN_AT]
    (at, steps, _), (_, again, _), (last_at, last, then) = plans
    assert steps == at + int((OVERHEAD * 100 - PLAN_AT[0]) / OVERHEAD)  # 1 s a step
    # Each later plan takes the recent steps' pace, not the slow ones before: more, never over what was asked,
    # and the last fills the time left at 0.5 s a step.
    assert steps < again < last <= 200
    assert last - last_at == int((OVERHEAD * 100 - then) / (OVERHEAD * 0.5))


def test_a_time_budget_trims_both_stages_of_a_real_run(data, tmp_path, user_styles):
    """A budget already spent when the steps are timed (start-up counts): the least share of each stage."""
    from faststyle.training.budget import LEAST_SHARE, PLAN_AT

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--content-dir", str(data / "photos"),
           "--run-dir", str(run), "--name", "budget", "--vgg-weights", "random", "--image-size", "40",
           "--crop-size", "32", "--style-size", "48", "--batch-size", "2", "--steps", "40", "--lite-steps", "20",
           "--compile", "graph", "--time-budget", "0.01", "--checkpoint-every", "3"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    done = 1 + PLAN_AT[0]  # the first step compiles; then the timed ones
    steps, lite_steps = max(done + 1, int(40 * LEAST_SHARE)), int(20 * LEAST_SHARE)
    assert f"{steps} of 40 steps and {lite_steps} of 20 lite steps fit the 0.01-minute --time-budget" in r.stdout
    assert log_steps(run) == list(range(1, steps + 1))
    assert json.loads((run / "config.json").read_text())["steps"] == steps  # what the app and --resume read
    assert log_steps(run / "lite")[-1] == lite_steps  # too few for the lite stage to time and plan again
    with open(run / "losses.csv") as f:
        assert len(list(csv.DictReader(f))) == steps
    # Checkpoints as asked; the quality check, whose seconds the budget would rather spend on steps, at the end.
    assert (run / f"ckpt-{3 * (steps // 3):06d}.npz").is_file()
    for stage, last in ((run, steps), (run / "lite", lite_steps)):
        with open(stage / "quality.csv") as f:
            assert [int(row["step"]) for row in csv.DictReader(f)] == [last]
    assert (user_styles / "budget.onnx").is_file() and (user_styles / "lite" / "budget.onnx").is_file()


def test_the_shift_term_is_trained_and_logged(data, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run(train_cmd(data, run, "--steps", "2", "--shift-weight", "10"), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    with open(run / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(float(row["shift"]) > 0 for row in rows)


def test_shift_term_by_stride_sees_only_statistics_and_by_any_sees_the_grid_too():
    """--shift-by stride moves crops by multiples of the stride: a picture painted on a grid of 4 px
    blocks costs nothing there, and one that depends on the crop's mean still does."""
    from keras import ops

    from faststyle.training.losses import shift_loss

    images = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)

    def blocks(x, training=None):  # each 4x4 block painted one grey: the strokes of a stride-4 network
        n, h, w, c = x.shape
        means = ops.mean(ops.reshape(x, (n, h // 4, 4, w // 4, 4, c)), axis=(2, 4), keepdims=True)
        return ops.reshape(ops.broadcast_to(means, (n, h // 4, 4, w // 4, 4, c)), (n, h, w, c))

    def normalised(x, training=None):  # per pixel, but against the crop's own statistics
        return 127.5 + 40.0 * (x - ops.mean(x, axis=(1, 2), keepdims=True)) / ops.std(x, axis=(1, 2), keepdims=True)

    def term(net, by):
        return ops.convert_to_numpy(shift_loss(net, images, net(images), by))

    assert np.all(term(blocks, "stride") < 1e-6)
    assert np.all(term(blocks, "any") > 10)
    assert np.all(term(normalised, "stride") > 1e-3)


def test_the_layout_term_is_the_judged_tonal_correlation_and_leaves_the_palette_free():
    from keras import ops

    from faststyle.measures import tonal_correlation
    from faststyle.training.losses import LAYOUT_BLOCK, block_luminance, layout_loss

    rng = np.random.default_rng(1)
    photos = np.stack([photo(64, 64, seed=s) for s in (2, 3)]).astype(np.float32)

    def term(pictures):
        return ops.convert_to_numpy(layout_loss(pictures.astype(np.float32), block_luminance(photos)))

    # The same number the judge computes, at the training scale's block.
    mixed = 0.5 * photos + 0.5 * photo(64, 64, seed=5) + rng.uniform(0, 30, photos.shape)
    judged = [1 - tonal_correlation(mixed[i], photos[i], LAYOUT_BLOCK) for i in range(2)]
    assert min(judged) > 0.05  # a layout partly kept: the term has something to measure
    np.testing.assert_allclose(term(mixed), judged, atol=1e-5)
    # Another palette, darker and with more contrast, keeps the layout: it costs nothing.
    repainted = (photos @ [0.299, 0.587, 0.114])[..., None] * [1.0, 0.8, 0.5] - 20
    assert np.all(term(repainted) < 1e-3)
    # The photo's light and dark moved elsewhere (blocks mirrored) costs most of the range.
    assert np.all(term(photos[:, ::-1, ::-1]) > 0.5)


def test_the_near_white_term_counts_only_pixels_white_in_every_channel():
    from keras import ops

    from faststyle.training.losses import NEAR_WHITE, white_loss

    pictures = np.full((3, 8, 8, 3), 200.0, np.float32)
    pictures[1, :2, :2] = 255.0             # a white patch: 4 of 64 pixels, each 10 over the level
    pictures[2, :, :, :2] = 255.0           # yellow-white, its blue channel far below: not blown
    pictures[2, :2, :2, 2] = NEAR_WHITE     # at the level: costs nothing yet
    np.testing.assert_allclose(ops.convert_to_numpy(white_loss(pictures)), [0, 4 / 64 * 10 ** 2, 0], atol=1e-6)


def test_the_stride_term_costs_dashes_on_the_4px_grid_and_not_smooth_pictures_or_ramps():
    from keras import ops

    from faststyle.training.losses import stride_loss

    y, x = np.mgrid[0:64, 0:64]
    smooth = np.stack([128 + 90 * np.sin(x / 11.0 + c) * np.cos(y / 17.0) for c in range(3)], axis=-1)
    ramp = np.repeat((2.5 * x)[..., None], 3, axis=-1)  # a ramp's 4x4 places differ, its detail does not
    flat = np.full((64, 64, 3), 100.0)
    dashes = flat.copy()
    dashes[:, ::4] += 6  # on the grid: 4.5 over the box mean on one place of four, 1.5 under on the others
    pictures = np.stack([smooth, ramp, dashes, dashes + smooth - 100]).astype(np.float32)
    cost = ops.convert_to_numpy(stride_loss(pictures))
    assert cost[0] < 0.3 and cost[1] < 1e-6
    assert cost[2] == pytest.approx((4.5 ** 2 + 3 * 1.5 ** 2) / 4, rel=1e-4) and cost[3] > 6
    # A crop smaller than one area is one area; one smaller than the grid has nothing to measure.
    small = ops.convert_to_numpy(stride_loss(pictures[:, :20, :20]))
    assert small[2] == pytest.approx(cost[2], rel=1e-4) and small[1] < 1e-6
    assert np.all(ops.convert_to_numpy(stride_loss(pictures[:, :5, :5])) == 0)


def test_descending_the_stride_term_removes_the_dashes_the_judge_measures():
    """The term and the judged measure (measures.stride_pattern) see the same thing: following the
    term's gradient takes dashes on the 4 px grid out of a picture and leaves the rest of it."""
    import tensorflow as tf

    from faststyle.measures import LUMA, stride_pattern
    from faststyle.training.losses import stride_loss

    y, x = np.mgrid[0:131, 0:131]  # 128 px of detail after the 4x4 box: four 32 px areas a side
    smooth = np.stack([128 + 60 * np.sin(x / 9.0 + c) * np.cos(y / 13.0) for c in range(3)], axis=-1)
    dashes = smooth.copy()
    dashes[:, ::4] += 8
    picture = tf.Variable(dashes[None].astype(np.float32))
    for _ in range(100):  # plain gradient steps: they move each place of the grid as one
        with tf.GradientTape() as tape:
            cost = tf.reduce_sum(stride_loss(picture))
        picture.assign_sub(5000 * tape.gradient(cost, picture))
    inner = np.s_[3:, 3:]  # where the box's detail reaches (its first 3 rows and columns only feed boxes)
    cleaned = picture.numpy()[0][inner]
    assert stride_pattern(dashes[inner], 4) > 2 and stride_pattern(cleaned, 4) < 0.1
    # What went is the wave: the dashes' mean (2 grey levels) stays, and so does the picture.
    assert np.abs((cleaned - smooth[inner] - 2) @ np.array(LUMA)).mean() < 0.5


def test_the_layout_white_and_stride_terms_are_trained_logged_and_recorded_in_the_card(data, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run(train_cmd(data, run, "--steps", "2", "--layout-weight", "100", "--white-weight", "5",
                                 "--stride-weight", "7"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with open(run / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(0 < float(row["layout"]) <= 200 and float(row["white"]) >= 0 for row in rows)
    assert all(float(row["stride"]) > 0 for row in rows)  # a random network's picture is not free of the grid
    card = json.loads(ort.InferenceSession(str(run / "model.onnx")).get_modelmeta().custom_metadata_map["faststyle"])
    assert card["loss"]["layout_weight"] == 100 and card["loss"]["white_weight"] == 5
    assert card["loss"]["stride_weight"] == 7


def test_a_reweighted_loss_shares_the_loss_network_and_scales_only_its_terms(data):
    """The lite stage's loss: the full stage's VGG and Gram targets under other weights."""
    import dataclasses

    from faststyle.training.config import LossConfig
    from faststyle.training.losses import build_loss

    loss = build_loss(LossConfig(style_size=48, style_depth=3, white_weight=5.0), str(data / "style.png"), "random")
    lite = loss.reweighted(dataclasses.replace(loss.config, white_weight=20.0))
    assert lite.loss_net is loss.loss_net and lite.style_grams is loss.style_grams and loss.config.white_weight == 5
    images = np.random.default_rng(1).uniform(200, 275, (2, 40, 40, 3)).astype(np.float32)  # some past 245
    targets = loss.content_targets(images)
    before, after = loss.terms(images, targets), lite.terms(images, targets)
    np.testing.assert_allclose(after["white"], 4 * np.asarray(before["white"]), rtol=1e-5)
    assert float(np.min(before["white"])) > 0
    np.testing.assert_allclose(after["style"], before["style"], rtol=1e-6)
    with pytest.raises(ValueError, match="only term weights"):
        loss.reweighted(dataclasses.replace(loss.config, style_depth=2))


def test_a_shallower_style_depth_computes_fewer_layers_and_drops_only_their_terms(data):
    """--style-depth 3 leaves VGG16's block 4 out of the loss network, and the loss is the full one
    with relu4_3's term taken away."""
    from faststyle.training.config import LossConfig
    from faststyle.training.losses import build_loss, style_loss

    full = build_loss(LossConfig(style_size=48), str(data / "style.png"), "random")
    shallow = build_loss(LossConfig(style_size=48, style_depth=3), str(data / "style.png"), "random")
    assert not any(layer.name.startswith("block4") for layer in shallow.loss_net.model.layers)
    assert any(layer.name.startswith("block4") for layer in full.loss_net.model.layers)
    shallow.loss_net.model.set_weights(full.loss_net.model.get_weights()[:len(shallow.loss_net.model.get_weights())])
    shallow.style_grams = full.style_grams[:3]  # the same painting's targets from the same weights
    images = np.random.default_rng(0).uniform(0, 255, (2, 40, 40, 3)).astype(np.float32)
    _, feats = full.loss_net(images)
    without_relu4_3 = style_loss(feats[:3], full.style_grams[:3], full.layer_weights[:3])
    assert len(shallow.layer_weights) == 3 and shallow.layer_weights == full.layer_weights[:3]
    np.testing.assert_allclose(shallow.terms(images, shallow.content_targets(images))["style"],
                               LossConfig().style_weight * np.asarray(without_relu4_3), rtol=1e-5)
    assert float(np.min(style_loss(feats, full.style_grams, full.layer_weights) - without_relu4_3)) > 0


def test_a_log_from_before_a_new_column_resumes_with_its_values_in_their_columns(tmp_path):
    from faststyle.training import run_folder

    old = tmp_path / "losses.csv"
    old.write_text("step,content,style,tv,range,distill,total,seconds\n1,10,20,3,0,,33,0.5\n2,11,21,3,0,,35,0.5\n")
    f, writer = run_folder.open_log(old, run_folder.LOSS_COLUMNS, 1)
    f.close()
    with open(old) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["total"] == "33" and rows[0]["shift"] == "" and rows[0]["seconds"] == "0.5"
