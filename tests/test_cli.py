"""The command line, run as a user runs it: in a subprocess, on real files."""

import io
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import photo


def faststyle(*args, env_extra=None, cwd=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "faststyle", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def save(path: Path, array=None, **kw) -> Path:
    Image.fromarray(photo() if array is None else array).save(path, **kw)
    return path


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims a huge picture: a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_stylize_one_file_beside_the_input(tmp_path, tiny_model_path):
    src = save(tmp_path / "photo.jpg")
    r = faststyle("stylize", src, "--style", tiny_model_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "photo.tiny.jpg"
    assert Image.open(out).size == Image.open(src).size
    assert "1 done, 0 failed" in r.stdout


def test_folder_recursive_with_several_styles_into_output_dir(tmp_path, tiny_model_path, user_styles):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    save(tmp_path / "in" / "a.png", photo(40, 60))
    save(tmp_path / "in" / "sub" / "b.jpg", photo(70, 30))
    r = faststyle("stylize", tmp_path / "in", "--style", "tiny," + str(tiny_model_path), "-o", tmp_path / "out",
                  env_extra={"FASTSTYLE_STYLE_DIR": str(user_styles)})
    assert r.returncode == 0, r.stderr
    assert files_in(tmp_path / "out") == {"a.tiny.png", "sub"}
    assert files_in(tmp_path / "out" / "sub") == {"b.tiny.jpg"}
    assert Image.open(tmp_path / "out" / "sub" / "b.tiny.jpg").size == (30, 70)


def test_output_format_follows_extension_and_never_overwrites_input(tmp_path, tiny_model_path):
    src = save(tmp_path / "p.png")
    before = src.read_bytes()
    assert faststyle("stylize", src, "-s", tiny_model_path, "-o", tmp_path / "p.webp").returncode == 0
    assert Image.open(tmp_path / "p.webp").format == "WEBP"
    r = faststyle("stylize", src, "-s", tiny_model_path, "-o", src)
    assert r.returncode == 1 and "overwrite the input" in r.stderr
    assert src.read_bytes() == before


def test_globs_are_expanded(tmp_path, tiny_model_path):
    for name in ("x1.png", "x2.png", "y.png"):
        save(tmp_path / name, photo(20, 20))
    r = faststyle("stylize", tmp_path / "x*.png", "-s", tiny_model_path, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert files_in(tmp_path / "out") == {"x1.tiny.png", "x2.tiny.png"}


def _bad_inputs(folder: Path) -> dict[str, Path]:
    """Every kind of bad or awkward input, generated on the spot."""
    jpeg = io.BytesIO()
    Image.fromarray(photo(64, 64)).save(jpeg, "JPEG")
    png = io.BytesIO()
    Image.fromarray(photo(64, 64)).save(png, "PNG")
    cases = {
        "empty": folder / "empty.jpg",
        "truncated_jpeg": folder / "truncated.jpg",
        "truncated_png": folder / "truncated.png",
        "text": folder / "notes.jpg",
        "folder": folder / "album.jpg",
        "bomb": folder / "bomb.png",
    }
    cases["empty"].write_bytes(b"")
    cases["truncated_jpeg"].write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    cases["truncated_png"].write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    cases["text"].write_text("not a picture\n")
    cases["folder"].mkdir()
    cases["bomb"].write_bytes(png_claiming(20000, 20000))
    return cases


@pytest.mark.parametrize("case", ["empty", "truncated_jpeg", "truncated_png", "text", "folder", "bomb"])
def test_bad_image_gives_one_clear_line_and_no_output(tmp_path, tiny_model_path, case):
    src = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    r = faststyle("stylize", src, "-s", tiny_model_path, "-o", out)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("faststyle: error:")]
    assert len(errors) == 1 and str(src) in errors[0]
    assert not out.exists() or not any(out.rglob("*"))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path, tiny_model_path):
    src = save(tmp_path / "secret.png")
    src.chmod(0)
    r = faststyle("stylize", src, "-s", tiny_model_path, "-o", tmp_path / "o")
    assert r.returncode == 1 and "permission denied" in r.stderr and "Traceback" not in r.stderr


def test_folder_run_skips_and_counts_bad_files(tmp_path, tiny_model_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _bad_inputs(folder)
    save(folder / "good.png", photo(24, 24))
    r = faststyle("stylize", folder, "-s", tiny_model_path, "-o", tmp_path / "out")
    assert r.returncode == 1
    assert "1 done, 5 failed" in r.stdout
    assert "Traceback" not in r.stderr
    assert files_in(tmp_path / "out") == {"good.tiny.png"}


def test_awkward_but_valid_images(tmp_path, tiny_model_path):
    """1x1, CMYK, 16-bit, palette with transparency, EXIF-rotated: all come out right."""
    save(tmp_path / "dot.png", photo(1, 1))
    Image.fromarray(photo(30, 40)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray((photo(30, 40)[..., 0].astype(np.uint16) * 257)).save(tmp_path / "deep.png")
    pal = Image.fromarray(photo(30, 40)).convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    rotated = Image.fromarray(photo(30, 40))
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    rotated.save(tmp_path / "rotated.jpg", exif=exif)
    r = faststyle("stylize", tmp_path, "-s", tiny_model_path, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    assert Image.open(out / "dot.tiny.png").size == (1, 1)
    assert Image.open(out / "cmyk.tiny.jpg").mode == "RGB"
    assert Image.open(out / "deep.tiny.png").mode == "RGB"
    assert Image.open(out / "pal.tiny.png").mode == "RGBA"
    assert Image.open(out / "rotated.tiny.jpg").size == (30, 40)  # upright: 40 wide became 30 wide


@pytest.mark.parametrize("args, message", [
    (["missing.jpg", "-s", "{model}"], "file not found"),
    (["{photo}", "-s", "no_such_style"], "unknown style"),
    (["{photo}", "-s", "{corrupt}"], "not a valid ONNX style model"),
    (["{photo}", "-s", "{model}", "-o", "{tmp}/x.notaformat"], "cannot write"),
    (["{photo}", "-s", "{model}", "--strength", "2"], "--strength: must be between 0 and 1"),
])
def test_bad_arguments_give_one_line(tmp_path, tiny_model_path, args, message):
    corrupt = tmp_path / "broken.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 50)
    fill = {"model": tiny_model_path, "photo": save(tmp_path / "p.png"), "corrupt": corrupt, "tmp": tmp_path}
    r = faststyle("stylize", *[a.format(**fill) for a in args], cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len([line for line in r.stderr.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "x.notaformat").exists()


def test_styles_lists_user_styles_with_metadata(user_styles):
    r = faststyle("styles", "-v", env_extra={"FASTSTYLE_STYLE_DIR": str(user_styles)})
    assert r.returncode == 0
    assert "tiny" in r.stdout and "Random test style" in r.stdout


def test_video_keeps_frame_count_and_size(tmp_path, tiny_model_path):
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    src = tmp_path / "clip.mp4"
    writer = ffmpeg.write_frames(str(src), (64, 48), fps=10, macro_block_size=1, output_params=["-loglevel", "error"])
    writer.send(None)
    for i in range(8):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[8:30, i * 6:i * 6 + 12] = 255
        writer.send(frame)
    writer.close()
    r = faststyle("video", src, "-o", tmp_path / "out" / "painted.mp4", "-s", tiny_model_path)
    assert r.returncode == 0, r.stderr
    frames = ffmpeg.read_frames(str(tmp_path / "out" / "painted.mp4"))
    meta = next(frames)
    assert meta["size"] == (64, 48) and sum(1 for _ in frames) == 8
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["painted.mp4"]  # no temporary left behind


def test_video_errors_are_one_line(tmp_path, tiny_model_path):
    pytest.importorskip("imageio_ffmpeg")
    fake = tmp_path / "fake.mp4"
    fake.write_text("no video here")
    r = faststyle("video", fake, "-o", tmp_path / "o.mp4", "-s", tiny_model_path)
    assert r.returncode == 2 and "cannot read this video" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_demo_paints_the_sample_with_every_bundled_style_only(tmp_path, user_styles):
    r = faststyle("demo", "-o", tmp_path / "demo", env_extra={"FASTSTYLE_STYLE_DIR": str(user_styles)})
    assert r.returncode == 0, r.stderr
    from faststyle.styles import bundled_style_names
    assert len(bundled_style_names()) >= 4
    # The user's own (here: a random test model) stays out of the demo.
    assert files_in(tmp_path / "demo") == {f"astronaut.{s}.jpg" for s in bundled_style_names()}


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
    ("optimize", "--iterations", "0", "--iterations: must be at least 1"),
    ("evaluate", "--size", "x", "--size: expected a whole number"),
])
def test_numeric_options_are_range_checked_in_one_line(tmp_path, command, option, value, message):
    required = {"stylize": ["p.jpg", "-s", "wave"], "video": ["c.mp4", "-o", "o.mp4", "-s", "wave"],
                "train": ["style.jpg", "--content-dir", "photos"], "optimize": ["p.jpg", "s.jpg", "-o", "o.png"],
                "evaluate": ["wave", "photos", "--style-image", "s.jpg"]}[command]
    r = faststyle(command, *required, option, value, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def test_a_trailing_slash_means_a_new_folder_even_with_a_dot(tmp_path, tiny_model_path):
    for name in ("a.png", "b.png"):
        save(tmp_path / name)
    r = faststyle("stylize", tmp_path / "a.png", tmp_path / "b.png", "-s", tiny_model_path,
                  "-o", f"{tmp_path / 'new.v2'}/")
    assert r.returncode == 0, r.stderr
    assert files_in(tmp_path / "new.v2") == {"a.tiny.png", "b.tiny.png"}


def test_training_commands_without_the_extra_name_the_install_line(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # Stands in for a machine without TensorFlow: importing it fails the way a missing package does.
    (blocker / "tensorflow.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    save(tmp_path / "p.png")
    for args in (["optimize", tmp_path / "p.png", tmp_path / "p.png", "-o", tmp_path / "o.png"],
                 ["evaluate", "wave", tmp_path, "--style-image", tmp_path / "p.png"]):
        r = faststyle(*args, env_extra=env)
        assert r.returncode == 2, r.stderr
        assert 'pip install "faststyle[train]"' in r.stderr and "Traceback" not in r.stderr


def test_styles_shows_any_model_file(tiny_model_path):
    r = faststyle("styles", "-v", tiny_model_path)
    assert r.returncode == 0 and "Random test style" in r.stdout and str(tiny_model_path) in r.stdout
    r = faststyle("styles", "missing.onnx")
    assert r.returncode == 2 and "not found" in r.stderr


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


def test_stale_temporary_files_of_dead_runs_are_removed(tmp_path, tiny_model_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = out / f".p.tiny.png.fs{_pid_of_a_finished_process()}.abcd1234.part"
    live = out / f".q.tiny.png.fs{os.getpid()}.abcd1234.part"  # another run, still writing
    foreign = out / ".notes.txt.part"  # not faststyle's naming
    for p in (dead, live, foreign):
        p.write_bytes(b"partial")
    r = faststyle("stylize", save(tmp_path / "p.png"), "-s", tiny_model_path, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "removed 1 unfinished output file" in r.stderr
    assert not dead.exists() and live.exists() and foreign.exists()


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


def test_a_rerun_skips_its_own_outputs_and_finished_work(tmp_path, tiny_model_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        save(folder / name)
    r = faststyle("stylize", folder, "-s", tiny_model_path)
    assert r.returncode == 0 and "2 done" in r.stdout
    assert files_in(folder) == {"a.png", "b.png", "a.tiny.png", "b.tiny.png"}

    save(folder / "c.png")
    before = (folder / "a.tiny.png").stat().st_mtime_ns
    r = faststyle("stylize", folder, "-s", tiny_model_path)
    assert r.returncode == 0, r.stderr
    assert "skipped 2 earlier faststyle output(s)" in r.stderr  # no a.tiny.tiny.png
    assert "skipped 2 image(s) whose output already exists" in r.stderr and "1 done" in r.stdout
    assert files_in(folder) == {"a.png", "b.png", "c.png", "a.tiny.png", "b.tiny.png", "c.tiny.png"}
    assert (folder / "a.tiny.png").stat().st_mtime_ns == before

    r = faststyle("stylize", folder, "-s", tiny_model_path, "--overwrite")
    assert r.returncode == 0 and "3 done" in r.stdout
    assert (folder / "a.tiny.png").stat().st_mtime_ns != before


def test_help_shows_every_option_with_its_default():
    import argparse

    from faststyle.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        text = command.format_help()
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
            if action.option_strings and isinstance(action.default, (int, float)) and not isinstance(action.default, bool):
                flag = action.option_strings[-1]
                body = text.split("options:", 1)[1]
                after = body.split(flag, 1)[1].split("\n  -", 1)[0]
                assert "default" in after, f"{name} {flag} does not show its default"
    r = faststyle()
    assert r.returncode == 2 and "commands:" in r.stderr and "stylize" in r.stderr and "train" in r.stderr
