"""Fault injection: every way a run can be hurt ends in one line, a non-zero exit, whole outputs.

One section per item of the fault probe: write failures, interrupted runs and their debris,
damaged checkpoints, bad arguments, malformed models, a broken model among the user's styles,
multi-frame images, and output paths that look like files.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from faststyle.runtime import StyleModel
from tests.conftest import photo
from tests.test_cli import faststyle, files_in, save
from tests.test_training import data, log_steps, train_cmd  # noqa: F401  (data is a fixture)


# 1. Write failures: counted per file; a full disk stops the run.

def test_write_failures_are_counted_and_a_full_disk_stops_the_run(tmp_path, tiny_model_path, monkeypatch, capsys):
    import errno

    from faststyle import batch
    from faststyle.api import load_style

    sources = [save(tmp_path / f"p{i}.png") for i in range(4)]
    jobs = batch.plan_outputs(sources, ["tiny"], str(tmp_path / "out"))
    models = {"tiny": load_style(tiny_model_path)}
    real = batch.stylize_file

    def failing(errno_code, on):
        def stylize_file(source, target, *args, **kwargs):
            if Path(source).name in on:
                raise OSError(errno_code, os.strerror(errno_code), str(target))
            return real(source, target, *args, **kwargs)
        return stylize_file

    # A folder that refuses one file: counted, the others still written.
    monkeypatch.setattr(batch, "stylize_file", failing(errno.EACCES, {"p1.png"}))
    assert batch.run_jobs(jobs, models) == 1
    out = capsys.readouterr()
    assert "p1.tiny.png: cannot write (Permission denied)" in out.err and "3 done, 1 failed" in out.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.tiny.png", "p2.tiny.png", "p3.tiny.png"]

    # A full disk after the second file: one line, the rest not tried, a non-zero exit.
    for p in (tmp_path / "out").iterdir():
        p.unlink()
    monkeypatch.setattr(batch, "stylize_file", failing(errno.ENOSPC, {"p2.png", "p3.png"}))
    assert batch.run_jobs(jobs, models) == 1
    out = capsys.readouterr()
    assert out.err.count("no space left") == 1 and "2 done, 1 failed, 1 not tried" in out.out


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_one_line_per_file(tmp_path, tiny_model_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        r = faststyle("stylize", save(tmp_path / "a.png"), save(tmp_path / "b.png"), "-s", tiny_model_path, "-o", out)
    finally:
        out.chmod(0o755)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.count("cannot write") == 2 and "0 done, 2 failed" in r.stdout


# 2 and 9. Interrupted runs: SIGTERM cleans up; temporaries of dead processes are removed.

def _pid_of_a_finished_process() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)


def test_sigterm_mid_run_cleans_up_and_exits_143(tmp_path, tiny_model_path):
    """SIGTERM at several moments of a folder run: never a half-written image, exit 143."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        save(src / f"p{i:02d}.png", photo(600, 800, seed=i))
    for delay in (0.0, 0.2, 0.7):
        out = tmp_path / f"out{delay}"
        proc = subprocess.Popen([sys.executable, "-m", "faststyle", "stylize", str(src), "-s", str(tiny_model_path),
                                 "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not (out.exists() and any(out.iterdir())) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)  # until the first output is being written
        time.sleep(delay)
        proc.terminate()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, err
        assert "faststyle: terminated" in err and "Traceback" not in err
        left = list(out.iterdir())
        assert not [p for p in left if p.name.startswith(".")], left  # no temporary left behind
        assert len(left) < 12
        for p in left:
            assert Image.open(p).size == (800, 600)  # every file there is whole


def test_sigkill_mid_run_then_a_rerun_leaves_whole_outputs_and_no_debris(tmp_path, tiny_model_path):
    """kill -9 at several moments: whatever is left is whole, and the next run cleans up and finishes."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(10):
        save(src / f"p{i:02d}.png", photo(600, 800, seed=i))
    out = tmp_path / "out"
    for delay in (0.0, 0.3, 0.9):
        proc = subprocess.Popen([sys.executable, "-m", "faststyle", "stylize", str(src), "-s", str(tiny_model_path),
                                 "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not (out.exists() and any(out.iterdir())) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        for p in out.iterdir():
            if not p.name.startswith("."):
                assert Image.open(p).size == (800, 600)  # renamed into place only when whole
    r = faststyle("stylize", src, "-s", tiny_model_path, "-o", out)
    assert r.returncode == 0, r.stderr
    assert files_in(out) == {f"p{i:02d}.tiny.png" for i in range(10)}  # finished, and no .part debris left


def test_stale_temporary_files_of_dead_runs_are_removed(tmp_path, tiny_model_path):
    """A temporary file is left alone while its writer holds its lock, whatever the process id in its
    name says: a run in another container or on another machine sharing the folder (issue 28, item 5)."""
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    dead = out / f".p.tiny.png.fs{_pid_of_a_finished_process()}.abcd1234.part"
    live = out / f".q.tiny.png.fs{os.getpid()}.abcd1234.part"  # another run, still writing
    elsewhere = out / f".r.tiny.png.fs{_pid_of_a_finished_process()}.abcd1234.part"  # pid from another namespace
    foreign = out / ".notes.txt.part"  # not faststyle's naming
    for p in (dead, live, elsewhere, foreign):
        p.write_bytes(b"partial")
    locks = [os.open(p, os.O_RDWR) for p in (live, elsewhere)]
    for fd in locks:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        r = faststyle("stylize", save(tmp_path / "p.png"), "-s", tiny_model_path, "-o", out)
    finally:
        for fd in locks:
            os.close(fd)
    assert r.returncode == 0, r.stderr
    assert "removed 1 unfinished output file" in r.stderr
    assert not dead.exists() and live.exists() and elsewhere.exists() and foreign.exists()



def _tiny_clip(path: Path) -> Path:
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    writer = ffmpeg.write_frames(str(path), (32, 32), fps=5, macro_block_size=1, output_params=["-loglevel", "error"])
    writer.send(None)
    for i in range(3):
        writer.send(np.full((32, 32, 3), 60 * i, np.uint8))
    writer.close()
    return path


def test_video_removes_a_dead_runs_half_video_and_refuses_unwritable_targets(tmp_path, tiny_model_path):
    clip = _tiny_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    out.mkdir()
    half = out / f".painted.mp4.fs{_pid_of_a_finished_process()}.abcd1234.mp4"  # what kill -9 left
    half.write_bytes(b"\x00" * 100)
    r = faststyle("video", clip, "-o", out / "painted.mp4", "-s", tiny_model_path)
    assert r.returncode == 0, r.stderr
    assert files_in(out) == {"painted.mp4"} and "removed 1 unfinished video file" in r.stderr

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    r = faststyle("video", clip, "-o", blocker / "painted.mp4", "-s", tiny_model_path)
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

# 3. Damaged checkpoints.

def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(data, tmp_path):  # noqa: F811 (fixture)
    run = tmp_path / "run"
    subprocess.run(train_cmd(data, run, "--steps", "4"), check=True, capture_output=True, timeout=600)
    latest = run / "ckpt-000004.npz"
    latest.write_bytes(latest.read_bytes()[:1000])  # a write cut short by a full disk or a crash
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / f".ckpt-000006.npz.fs{dead.stdout.strip()}.abcd1234.part").write_bytes(b"half")  # a killed run's

    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(run), "-o", str(tmp_path / "m.onnx")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "ckpt-000004.npz is damaged" in r.stdout and "using ckpt-000002.npz" in r.stdout
    meta = ort.InferenceSession(str(tmp_path / "m.onnx")).get_modelmeta().custom_metadata_map["faststyle"]
    assert '"steps": 2' in meta

    r = subprocess.run([sys.executable, "-m", "faststyle", "train", str(data / "style.png"), "--resume",
                        "--checkpoint-dir", str(run), "--steps", "5"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "using ckpt-000002.npz" in r.stdout and "removed 1 unfinished checkpoint" in r.stdout
    assert log_steps(run) == [1, 2, 3, 4, 5]
    assert not list(run.glob(".*.part"))


def test_export_of_a_folder_that_is_no_run_says_so(tmp_path):
    r = subprocess.run([sys.executable, "-m", "faststyle", "export", str(tmp_path), "-o", str(tmp_path / "m.onnx")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not a faststyle training run folder" in r.stderr


# 4. Arguments out of range.

@pytest.mark.parametrize("command, option, value, message", [
    ("stylize", "--max-size", "-5", "--max-size: must be at least 16"),
    ("stylize", "--quality", "200", "--quality: must be between 1 and 100"),
    ("stylize", "--threads", "0", "--threads: must be at least 1"),
    ("stylize", "--strength", "nan", "--strength: must be between 0 and 1"),
    ("video", "--smoothing", "5", "--smoothing: must be between 0 and 1"),
    ("train", "--steps", "0", "--steps: must be at least 1"),
    ("train", "--steps", "-3", "--steps: must be at least 1"),
    ("train", "--batch-size", "0", "--batch-size: must be at least 1"),
    ("train", "--lr", "-1", "--lr: must be a positive number"),
    ("train-base", "--rounds", "0", "--rounds: must be at least 1"),
    ("train-base", "--inner-steps", "0", "--inner-steps: must be at least 1"),
    ("optimize", "--iterations", "0", "--iterations: must be at least 1"),
    ("evaluate", "--crop-size", "x", "--crop-size/--size: expected a whole number"),
])
def test_numeric_options_are_range_checked_in_one_line(tmp_path, command, option, value, message):
    required = {"stylize": ["p.jpg", "-s", "wave"], "video": ["c.mp4", "-o", "o.mp4", "-s", "wave"],
                "train": ["style.jpg", "--content-dir", "photos"],
                "train-base": ["paintings", "--content-dir", "p", "-o", "b"], "optimize": ["p.jpg", "s.jpg", "-o", "o.png"],
                "evaluate": ["wave", "photos", "--style-image", "s.jpg"]}[command]
    r = faststyle(command, *required, option, value, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


# 5. Models with the right names but the wrong tensors.

@pytest.mark.parametrize("in_shape, in_type, out_channels, what", [
    (["h", "w", 3], "FLOAT", 3, "input 'image' is tensor(float) of shape"),
    (["b", "h", "w", 3], "UINT8", 3, "input 'image' is tensor(uint8)"),
    (["b", "h", "w", 3], "FLOAT", 1, "output 'stylized' is tensor(float)"),
])
def test_model_with_the_right_names_but_wrong_tensors_is_refused_on_load(tmp_path, in_shape, in_type, out_channels,
                                                                          what):
    from onnx import TensorProto, helper

    from faststyle.errors import FaststyleError

    dtype = getattr(TensorProto, in_type)
    if out_channels == 3:
        nodes = [helper.make_node("Cast", ["image"], ["stylized"], to=TensorProto.FLOAT)]
    else:
        axes = helper.make_tensor("axes", TensorProto.INT64, [1], [3])
        nodes = [helper.make_node("ReduceMean", ["image", "axes"], ["stylized"], keepdims=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", dtype, in_shape)],
                              [helper.make_tensor_value_info("stylized", TensorProto.FLOAT,
                                                             [*in_shape[:-1], out_channels])],
                              [axes] if out_channels != 3 else [])
    path = tmp_path / "odd.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString())
    with pytest.raises(FaststyleError, match="not a faststyle model") as info:
        StyleModel.load(path)
    assert what in str(info.value)


def test_a_model_this_onnx_runtime_cannot_run_asks_for_an_upgrade(tmp_path):
    # A valid graph whose operator has no kernel here (DepthToSpace on uint16), as the bundled int8
    # models are for ONNX Runtime 1.20 and older (DepthToSpace on uint8): say to upgrade, not "damaged".
    from onnx import TensorProto, helper

    from faststyle.errors import FaststyleError
    from faststyle.model_file import read_card

    nodes = [helper.make_node("Cast", ["image"], ["u16"], to=TensorProto.UINT16),
             helper.make_node("Transpose", ["u16"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("DepthToSpace", ["nchw"], ["same"], blocksize=1),
             helper.make_node("Transpose", ["same"], ["nhwc"], perm=[0, 2, 3, 1]),
             helper.make_node("Cast", ["nhwc"], ["stylized"], to=TensorProto.FLOAT)]
    shape = ["b", "h", "w", 3]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, shape)])
    path = tmp_path / "newer.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    for load in (StyleModel.load, read_card):
        with pytest.raises(FaststyleError, match="cannot run this model") as info:
            load(path)
        assert "pip install -U onnxruntime" in str(info.value) and "not a valid" not in str(info.value)


# 6. One broken model among the user's styles.

def test_a_broken_user_model_is_listed_as_broken_and_skipped_by_all(tmp_path, user_styles):
    (user_styles / "zz_broken.onnx").write_bytes(b"\x08\x07garbage" * 50)
    env = {"FASTSTYLE_STYLE_DIR": str(user_styles)}
    r = faststyle("styles", env_extra=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "zz_broken" in r.stdout and "BROKEN" in r.stdout and "tiny" in r.stdout  # the others still listed
    r = faststyle("stylize", save(tmp_path / "p.png"), "-s", "all", "-o", tmp_path / "out", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert "skipping style zz_broken" in r.stderr
    assert "p.tiny.png" in files_in(tmp_path / "out") and not any("zz_broken" in n for n in files_in(tmp_path / "out"))


# 7. Animated and multi-page images.

def test_animated_gif_is_painted_frame_by_frame_with_its_timing(tmp_path, tiny_model_path):
    frames = [Image.fromarray(photo(48, 64, seed=i)) for i in range(3)]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=[80, 120, 200], loop=0)
    r = faststyle("stylize", src, "-s", tiny_model_path)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "anim.tiny.gif") as out:
        assert out.n_frames == 3 and out.size == (64, 48)
        durations = []
        for i in range(3):
            out.seek(i)
            durations.append(out.info["duration"])
    assert durations == [80, 120, 200]
    # A format that holds one picture: refused in one line, nothing written.
    r = faststyle("stylize", src, "-s", tiny_model_path, "-o", tmp_path / "still.jpg")
    assert r.returncode == 1 and "has 3 frames" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "still.jpg").exists()


def test_multi_page_tiff_keeps_every_page(tmp_path, tiny_model_path):
    pages = [Image.fromarray(photo(40, 40, seed=i)) for i in range(2)]
    src = tmp_path / "scan.tif"
    pages[0].save(src, save_all=True, append_images=pages[1:])
    r = faststyle("stylize", src, "-s", tiny_model_path)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "scan.tiny.tif") as out:
        assert out.n_frames == 2


# 8. Output paths.

def test_a_trailing_slash_means_a_new_folder_even_with_a_dot(tmp_path, tiny_model_path):
    for name in ("a.png", "b.png"):
        save(tmp_path / name)
    r = faststyle("stylize", tmp_path / "a.png", tmp_path / "b.png", "-s", tiny_model_path,
                  "-o", f"{tmp_path / 'new.v2'}/")
    assert r.returncode == 0, r.stderr
    assert files_in(tmp_path / "new.v2") == {"a.tiny.png", "b.tiny.png"}
