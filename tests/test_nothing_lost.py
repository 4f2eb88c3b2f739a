"""Issue 28, "nothing lost": every output path is compared with every input by where it really
leads, and one run's jobs never write over each other. Each case ran wrong before its fix."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import photo
from tests.test_cli import faststyle, save


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# 1. An output path that leads to an input through '..' or a link is refused, existing or not.

@pytest.mark.parametrize("route", ["nonexist/../a.jpg", "sub/link/a.jpg", "sub/hard.jpg"])
def test_an_output_that_leads_back_to_the_input_is_refused(tmp_path, tiny_model_path, route):
    a = save(tmp_path / "a.jpg")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "link")
    os.link(a, tmp_path / "sub" / "hard.jpg")
    before = digest(a)
    r = faststyle("stylize", a, "-s", tiny_model_path, "-o", route, cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "overwrite the input" in r.stderr
    assert digest(a) == before


def test_video_output_through_dotdot_is_refused(tmp_path, tiny_model_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 64)  # refused before it is read
    r = faststyle("video", video, "-s", tiny_model_path, "-o", "nonexist/../v.mp4", cwd=tmp_path)
    assert r.returncode != 0 and "overwrite the input" in r.stderr and "Traceback" not in r.stderr
    assert video.read_bytes() == b"\0" * 64


# 2. Every command that writes from inputs checks them.

def test_sheet_optimize_export_and_pipe_refuse_their_own_input(tmp_path, tiny_model_path):
    a, p = save(tmp_path / "a.jpg"), save(tmp_path / "p.jpg", photo(seed=3))
    sums = {x: digest(x) for x in (a, p, tiny_model_path)}
    cases = [("sheet", a, "-o", a, "-s", tiny_model_path),
             ("optimize", a, p, "-o", a), ("optimize", a, p, "-o", p),
             ("export", tiny_model_path, "-o", tiny_model_path)]
    for args in cases:
        r = faststyle(*args)
        assert r.returncode != 0 and "Traceback" not in r.stderr, (args, r.stderr)
        assert "overwrite the input" in r.stderr, (args, r.stderr)
    r = faststyle("stylize", a, "-s", tiny_model_path, "-o", "./a.jpg", cwd=tmp_path)
    assert r.returncode != 0
    assert {x: digest(x) for x in sums} == sums


def test_export_of_a_checkpoint_onto_itself_is_refused(tmp_path):
    ck = tmp_path / "ckpt-000001.npz"
    np.savez(ck, state=np.array([1, 0]))
    before = digest(ck)
    r = faststyle("export", ck, "-o", ck)
    assert r.returncode != 0 and "overwrite the input" in r.stderr and digest(ck) == before


def test_train_refuses_to_write_over_its_painting(tmp_path):
    painting = save(tmp_path / "p.jpg")
    (tmp_path / "photos").mkdir()
    save(tmp_path / "photos" / "x.jpg")
    before = digest(painting)
    r = faststyle("train", painting, "--content-dir", tmp_path / "photos", "-o", painting, "--run-dir",
                  tmp_path / "run", "--schedule", "long", "--steps", "1", "--vgg-weights", "random")
    assert r.returncode != 0 and "overwrite the input" in r.stderr and "Traceback" not in r.stderr
    assert digest(painting) == before


# 3. One run's jobs: no output is another job's input or another job's output.

def test_an_input_named_like_another_inputs_output_is_not_overwritten(tmp_path, tiny_model_path, user_styles):
    a = save(tmp_path / "a.jpg")
    b = save(tmp_path / "a.tiny.jpg", photo(seed=5))
    before = digest(b)
    r = faststyle("stylize", a, b, "-s", "tiny", "--overwrite")
    assert r.returncode == 1
    assert "overwrite the input" in r.stderr and digest(b) == before
    assert (tmp_path / "a.tiny.tiny.jpg").is_file()  # the other job still ran


def test_two_inputs_with_one_name_do_not_share_an_output(tmp_path, tiny_model_path):
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        save(tmp_path / d / "x.jpg", photo(seed=len(d)))
    r = faststyle("stylize", tmp_path / "d1" / "x.jpg", tmp_path / "d2" / "x.jpg", "-s", tiny_model_path,
                  "-o", str(tmp_path / "out") + "/")
    assert r.returncode == 1
    assert "1 done, 1 failed" in r.stdout and "already writes this output" in r.stderr


def test_two_styles_of_one_name_are_refused_before_painting(tmp_path, tiny_folded_model_path, user_styles):
    a = save(tmp_path / "a.jpg")
    other = tmp_path / "elsewhere" / "tiny.onnx"  # another network under the same name (a copy would be the same style)
    other.parent.mkdir()
    other.write_bytes(tiny_folded_model_path.read_bytes())
    r = faststyle("stylize", a, "-s", "tiny", "-s", other)
    assert r.returncode != 0 and "two styles are named tiny" in r.stderr
    assert not (tmp_path / "a.tiny.jpg").exists()


def test_lite_outputs_have_their_own_name_and_a_full_run_does_not_skip_them(tmp_path, tiny_model_path,
                                                                           tiny_folded_model_path, user_styles):
    (user_styles / "lite").mkdir()
    (user_styles / "lite" / "tiny.onnx").write_bytes(tiny_folded_model_path.read_bytes())
    a = save(tmp_path / "a.jpg")
    r = faststyle("stylize", a, "-s", "tiny", "--fast")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.tiny-lite.jpg").is_file() and not (tmp_path / "a.tiny.jpg").exists()
    r = faststyle("stylize", tmp_path, "-s", "tiny")  # a folder run: the lite picture is an earlier output
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.tiny.jpg").is_file() and not (tmp_path / "a.tiny-lite.tiny.jpg").exists()


# 4. A video ffmpeg could not finish (a full disk fails its trailer) is not reported done.

def test_a_video_that_does_not_read_back_whole_is_refused_and_leaves_nothing(tmp_path, tiny_model_path, monkeypatch):
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    from faststyle import video
    from faststyle.errors import FaststyleError
    from tests.test_faults import _tiny_clip

    clip = _tiny_clip(tmp_path / "clip.mp4")
    real = ffmpeg.write_frames

    def losing_its_trailer(path, *args, **kwargs):  # what ENOSPC at the end does: a file that will not play
        writer = real(path, *args, **kwargs)

        class Writer:
            def send(self, frame):
                return writer.send(frame)

            def close(self):
                writer.close()
                file = Path(str(path).removeprefix("file:"))  # ffmpeg is handed paths as file: URLs
                data = file.read_bytes()
                file.write_bytes(data[: len(data) // 3])
        return Writer()

    monkeypatch.setattr(ffmpeg, "write_frames", losing_its_trailer)
    out = tmp_path / "out" / "v.mp4"
    with pytest.raises(FaststyleError, match="could not be finished"):
        video.stylize_video(clip, out, str(tiny_model_path))
    assert not out.exists() and not list(out.parent.iterdir())


# 6. A run folder holds one training; its logs survive kill -9; checkpoints sort by number.

def test_a_second_training_on_a_busy_run_folder_is_refused(tmp_path):
    import fcntl

    from faststyle.errors import FaststyleError
    from faststyle.training import run_folder

    held = run_folder.lock(tmp_path / "run")
    try:
        with pytest.raises(FaststyleError, match="another training is running"):
            run_folder.lock(tmp_path / "run")
    finally:
        run_folder.unlock(held)
    again = run_folder.lock(tmp_path / "run")  # free once the first has ended
    run_folder.unlock(again)
    assert fcntl  # the lock is an flock: released by the kernel when a process dies, kill -9 included


def test_a_resumed_log_keeps_its_rows_on_disk_before_any_new_step(tmp_path):
    from faststyle.training import run_folder

    log = tmp_path / "losses.csv"
    log.write_text("step,total\n1,5\n2,4\n3,3\n4,")  # the last row half-written by a killed run
    f, writer = run_folder.open_log(log, ["step", "total"], start_step=2)
    assert log.read_text().splitlines() == ["step,total", "1,5", "2,4"]  # on disk already, not in memory
    writer.writerow([3, 2.5])
    f.close()
    assert log.read_text().splitlines()[-1] == "3,2.5"


def test_checkpoints_past_a_million_steps_sort_by_number(tmp_path):
    from faststyle.training import run_folder

    for step in (999_998, 999_999, 1_000_000):
        (tmp_path / f"ckpt-{step:06d}.npz").write_bytes(b"")
    assert [p.name for p in run_folder.checkpoints(tmp_path)][-1] == "ckpt-1000000.npz"


# 7. Removing a style never deletes files outside the user style folder.

def test_styles_remove_does_not_follow_a_linked_lite_folder(tmp_path, tiny_model_path, user_styles):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "tiny.onnx").write_bytes(tiny_model_path.read_bytes())
    os.symlink(outside, user_styles / "lite")
    r = faststyle("styles", "remove", "tiny")
    assert r.returncode == 0, r.stderr
    assert not (user_styles / "tiny.onnx").exists()
    assert (outside / "tiny.onnx").is_file()


# 8. A flat white photo is a picture like any other, not black (float32 cancellation in the norm).

@pytest.mark.parametrize("fast", [False, True])
def test_every_bundled_network_paints_a_white_photo_like_a_nearly_white_one(fast):
    import warnings

    from faststyle.api import load_style
    from faststyle.styles import bundled_style_names

    for name in bundled_style_names():
        model = load_style(name, fast=fast)
        tiled = [(1100, 1960, 3)] if name == "wave" else []  # above full HD: the statistics graph too
        for shape in [(64, 64, 3), (1, 300, 3), *tiled]:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # NaN cast to uint8 warns
                white = model.transform(np.full(shape, 255, np.uint8)).astype(float)
                near = model.transform(np.full(shape, 250, np.uint8)).astype(float)
            assert np.abs(white - near).mean() < 8, (name, fast, shape)


# 9. A variable-frame-rate video keeps its length: frames come out at the rate they are written at.

def test_a_variable_frame_rate_video_keeps_its_length(tmp_path, tiny_model_path):
    import subprocess

    from imageio_ffmpeg import count_frames_and_secs, get_ffmpeg_exe

    # Seven frames over three seconds: four in the first 0.2 s, then one a second. The stream's
    # guessed rate (24) is six times its average one; frames were painted at the one and played
    # at the other.
    clip = tmp_path / "vfr.mp4"
    subprocess.run([get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=24:duration=4", "-vf", r"select='lt(n\,4)+not(mod(n\,24))'",
                    "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)], check=True)
    frames_in, secs_in = count_frames_and_secs(str(clip))
    assert frames_in == 7 and secs_in > 2.5
    r = faststyle("video", clip, "-s", tiny_model_path, "-o", tmp_path / "out.mp4", "--no-stable")
    assert r.returncode == 0, r.stderr
    frames_out, secs_out = count_frames_and_secs(str(tmp_path / "out.mp4"))
    assert abs(secs_out - secs_in) < 1.0, (secs_in, secs_out)  # the last frame's hold may differ
    assert frames_out <= 6 * frames_in  # at the average rate (6.2), not every 1/24 s (115 frames)


# 10 and 15. Numbers: every one a user gives is checked and bounded, in one line.

@pytest.mark.parametrize("args, message", [
    (["stylize", "x.jpg", "-s", "wave", "--threads", "100000"], "--threads: must be between 1 and"),
    (["train", "x.jpg", "--seed", "4294967296"], "--seed: must be between 0 and 4294967295"),
    (["sheet", "x.jpg", "-o", "y.png", "--columns", "100000"], "--columns: must be between 1 and 64"),
    (["evaluate", "wave", "x", "--style-image", "y", "--gatys-iterations=-5"], "must be at least 1"),
    (["train", "x.jpg", "--style-layer-weights", "nan,1,1,1"], "expected numbers of zero or more"),
    (["stylize", "x.jpg", "-s", "wave", "--max-size", "10000000"], "--max-size: must be between 16 and 65535"),
])
def test_numbers_out_of_range_are_one_line(tmp_path, args, message):
    r = faststyle(*args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_lr_end_above_lr_is_refused(tmp_path):
    save(tmp_path / "p.jpg")
    r = faststyle("train", tmp_path / "p.jpg", "--content-dir", tmp_path, "--lr", "1e-3", "--lr-end", "1e-2",
                  "--vgg-weights", "random", cwd=tmp_path)
    assert r.returncode == 2 and "--lr-end" in r.stderr and "Traceback" not in r.stderr


def test_huge_blend_weights_mix_like_equal_ones(tmp_path, tiny_model_path, tiny_folded_model_path):
    from faststyle.api import BlendedStyle, load_style
    from faststyle.errors import FaststyleError

    a, b = load_style(tiny_model_path), load_style(tiny_folded_model_path)
    assert BlendedStyle([a, b], [1e308, 1e308]).weights == [0.5, 0.5]
    for bad in ([float("nan"), 1.0], [float("inf"), 1.0], [-1.0, 2.0]):
        with pytest.raises(FaststyleError, match="finite, non-negative"):
            BlendedStyle([a, b], bad)


# 11. A damaged EXIF block or a name too long for an output: that file only, the run goes on.

def test_a_damaged_exif_block_is_painted_and_a_too_long_name_is_counted(tmp_path, tiny_model_path):
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.fromarray(photo()).save(tmp_path / "in" / "a.jpg", exif=b"Exif\x00\x00garbage-not-tiff")
    save(tmp_path / "in" / "b.jpg")
    save(tmp_path / "in" / ("x" * 245 + ".jpg"))
    r = faststyle("stylize", tmp_path / "in", "-s", tiny_model_path, "-o", str(tmp_path / "out") + "/")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "2 done, 1 failed" in r.stdout and "File name too long" in r.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"a.tiny.jpg", "b.tiny.jpg"}


# 12. Checkpoints that are whole zips with the wrong arrays in them: named as damaged, one line.

def test_checkpoints_with_wrong_arrays_are_named_damaged(tmp_path):
    import json

    good_config = json.dumps({"style_image": "p.jpg", "content_dir": "photos", "name": "x"})
    cases = {
        "no-state": {"config": np.array(good_config)},
        "bad-state": {"state": np.array(["a", "b"]), "config": np.array(good_config)},
        "bad-config": {"state": np.array([1, 0]), "config": np.array("{not json")},
        "list-config": {"state": np.array([1, 0]), "config": np.array("[1, 2, 3]")},
        "no-weights": {"state": np.array([1, 0]), "config": np.array(good_config)},
    }
    for name, arrays in cases.items():
        ck = tmp_path / name / "ckpt-000001.npz"
        ck.parent.mkdir()
        np.savez(ck, **arrays)
        for args in (["export", ck, "-o", tmp_path / f"{name}.onnx"], ["export", ck.parent, "-o", tmp_path / "y.onnx"]):
            r = faststyle(*args)
            assert r.returncode == 2 and "damaged" in r.stderr and "Traceback" not in r.stderr, (name, r.stderr)
        assert not (tmp_path / f"{name}.onnx").exists()


# 13. A model whose card is not an object, or whose network fails while running: one line.

def test_a_model_with_a_card_that_is_not_an_object_is_usable_and_listed(tmp_path, tiny_model_path, user_styles):
    import onnx

    proto = onnx.load(tiny_model_path)
    for prop in proto.metadata_props:
        if prop.key == "faststyle":
            prop.value = "[1, 2, 3]"
    odd = tmp_path / "odd.onnx"
    onnx.save(proto, odd)
    r = faststyle("styles", "add", odd)
    assert r.returncode == 0, r.stderr
    for args in (["styles"], ["sheet", save(tmp_path / "a.jpg"), "-o", tmp_path / "s.png", "-s", "odd"]):
        r = faststyle(*args)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)


def test_an_error_inside_onnx_runtime_while_painting_is_one_line(tmp_path, tiny_model_path, monkeypatch):
    from faststyle.api import load_style
    from faststyle.errors import FaststyleError

    model = load_style(tiny_model_path)

    class Failing:
        def run(self, *args):
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : bad allocation\nmore lines")

    monkeypatch.setattr(model, "session", Failing())
    with pytest.raises(FaststyleError, match="could not run this model .*bad allocation"):
        model.transform(photo())


# 14. Writing to a full device, or with stdin or stdout closed: one line, no traceback.

def _run(args, **kwargs):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "faststyle", *map(str, args)], capture_output=False,
                          stderr=subprocess.PIPE, text=True, timeout=300, **kwargs)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_device_and_closed_streams_are_one_line(tmp_path, tiny_model_path):
    a = save(tmp_path / "a.jpg")
    with open("/dev/full", "wb") as full:
        r = _run(["stylize", a, "-s", tiny_model_path, "-o", "-"], stdout=full)
    assert r.returncode == 1 and "No space left" in r.stderr and "Traceback" not in r.stderr
    r = _run(["stylize", "-", "-s", tiny_model_path, "-o", "-"], preexec_fn=lambda: os.close(0),
             stdout=open(os.devnull, "wb"))
    assert r.returncode == 2 and "stdin is closed" in r.stderr
    with open(a, "rb") as stdin:
        r = _run(["stylize", "-", "-s", tiny_model_path], stdin=stdin, preexec_fn=lambda: os.close(1))
    assert r.returncode == 2 and "stdout is closed" in r.stderr


# 17. Pixels are counted before decoding: a small file claiming a huge picture, or many large frames.

def test_a_small_file_claiming_a_huge_picture_is_refused_before_decoding(tmp_path, tiny_model_path):
    from tests.conftest import png_claiming

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(18000, 18000))  # 324 MP declared in a few bytes
    r = faststyle("stylize", bomb, "-s", tiny_model_path)
    assert r.returncode == 1 and "larger than 178 megapixels" in r.stderr and "Traceback" not in r.stderr


def test_frames_count_against_the_pixel_budget_after_max_size(tmp_path, tiny_model_path):
    from PIL import Image

    frames = [Image.new("P", (1500, 1500), i) for i in range(90)]  # 202 MP in all
    gif = tmp_path / "long.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=40)
    r = faststyle("stylize", gif, "-s", tiny_model_path)
    assert r.returncode == 1 and "90 frames of 1500x1500" in r.stderr
    r = faststyle("stylize", gif, "-s", tiny_model_path, "--max-size", "64")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "long.tiny.gif") as out:
        assert max(out.size) == 64
        total = 0
        for i in range(out.n_frames):  # GIF merges repeated frames, keeping the timing
            out.seek(i)
            total += out.info["duration"]
    assert total == 90 * 40


# 18. Style names usable everywhere a name goes; file names that look like ffmpeg protocols.

@pytest.mark.parametrize("name", ["co,mma", "x.onnx", "a.b", "w:1", "n" * 250, "all", "wave-lite"])
def test_unusable_style_names_are_refused(tmp_path, tiny_model_path, user_styles, name):
    r = faststyle("styles", "add", tiny_model_path, "--name", name)
    assert r.returncode == 2 and "cannot be a style name" in r.stderr and "Traceback" not in r.stderr


def test_a_painting_file_name_becomes_a_usable_style_name():
    from faststyle.styles import check_style_name, name_from_file

    for path in ("My painting (2).jpg", "a.b.c.png", "x" * 300 + ".jpg", "...jpg"):
        check_style_name(name_from_file(path))


def test_a_video_named_like_an_ffmpeg_protocol_is_read_as_a_file(tmp_path, tiny_model_path):
    from tests.test_faults import _tiny_clip

    clip = _tiny_clip(tmp_path / "concat:ok.mp4")
    r = faststyle("video", clip.name, "-s", tiny_model_path, "-o", "out/", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "concat:ok.tiny.mp4").is_file()


# 16. Every accepted video extension writes a video.

def test_webm_output_is_a_playable_video(tmp_path, tiny_model_path):
    from imageio_ffmpeg import count_frames_and_secs

    from tests.test_faults import _tiny_clip

    clip = _tiny_clip(tmp_path / "clip.mp4")
    r = faststyle("video", clip, "-s", tiny_model_path, "-o", tmp_path / "out.webm")
    assert r.returncode == 0, r.stderr
    assert count_frames_and_secs(str(tmp_path / "out.webm"))[0] == 3


def test_a_fifo_and_dev_stdin_are_read_once_as_images(tmp_path, tiny_model_path):
    import subprocess
    import sys
    import threading

    a = save(tmp_path / "a.jpg")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(a.read_bytes()), daemon=True)
    writer.start()
    r = faststyle("stylize", fifo, "-s", tiny_model_path, "-o", tmp_path / "from_fifo.png")
    writer.join(timeout=5)
    assert r.returncode == 0, r.stderr
    with open(a, "rb") as stdin:
        r = subprocess.run([sys.executable, "-m", "faststyle", "stylize", "/dev/stdin", "-s", str(tiny_model_path),
                            "-o", str(tmp_path / "from_stdin.png")], stdin=stdin, capture_output=True, text=True,
                           timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "from_fifo.png").is_file() and (tmp_path / "from_stdin.png").is_file()


# A new style's name is checked before training: hidden behind a bundled style of that name, or
# written over the user's own style, its minutes (or hours) of training would be lost.

def test_a_new_style_never_hides_behind_a_bundled_one_nor_replaces_a_users(tmp_path, tiny_model_path):
    import shutil

    styles = tmp_path / "styles"
    (styles / "lite").mkdir(parents=True)
    for path in (styles / "mine.onnx", styles / "lite" / "mine.onnx"):
        shutil.copy(tiny_model_path, path)
    before = digest(styles / "mine.onnx")
    save(tmp_path / "wave.jpg")
    train = ["train", tmp_path / "wave.jpg", "--content-dir", tmp_path, "--vgg-weights", "random"]
    for extra, message in (([], "'wave' is a bundled style"), (["--name", "mine"], "a style named 'mine' exists already"),
                           (["--name", "mine", "--arch", "lite"], "'mine' has a lite network already")):
        r = faststyle(*train, *extra, env_extra={"FASTSTYLE_STYLE_DIR": str(styles)}, cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert digest(styles / "mine.onnx") == digest(styles / "lite" / "mine.onnx") == before
    assert not (tmp_path / "runs").exists()


def test_a_free_name_is_found_beside_taken_ones(tmp_path, tiny_model_path, monkeypatch):
    import shutil

    from faststyle.styles import free_name

    monkeypatch.setenv("FASTSTYLE_STYLE_DIR", str(tmp_path))
    for name in ("mine", "mine_2"):
        shutil.copy(tiny_model_path, tmp_path / f"{name}.onnx")
    assert (free_name("wave"), free_name("mine"), free_name("new")) == ("wave_2", "mine_3", "new")
