"""The command line, run as a user runs it: in a subprocess, on real files."""

import io
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faststyle.styles import bundled_style_names

from tests.conftest import png_claiming, photo


def faststyle(*args, env_extra=None, cwd=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "faststyle", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def save(path: Path, array=None, **kw) -> Path:
    Image.fromarray(photo() if array is None else array).save(path, **kw)
    return path


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


def ffmpeg_exe() -> str:
    return pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()


def _heic_photo(path: Path) -> Path:
    """A phone's HEIC photo: 40 wide, 30 high, with the camera's make in its EXIF."""
    pillow_heif = pytest.importorskip("pillow_heif")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    pillow_heif.from_pillow(Image.fromarray(photo(30, 40))).save(path, quality=90, exif=exif.tobytes())
    return path


def test_a_phones_heic_photo_is_painted_to_jpeg_with_its_exif(tmp_path, tiny_model_path):
    (tmp_path / "holiday").mkdir()
    _heic_photo(tmp_path / "holiday" / "IMG_0001.HEIC")
    r = faststyle("stylize", tmp_path / "holiday", "-s", tiny_model_path)  # a folder: HEIC files are found
    assert r.returncode == 0, r.stderr
    out = Image.open(tmp_path / "holiday" / "IMG_0001.tiny.jpg")
    assert out.format == "JPEG" and out.size == (40, 30)
    assert out.getexif().get(0x010F) == "PhoneMaker"


def test_a_heic_photo_without_its_reader_names_the_pip_command(tmp_path, tiny_model_path):
    heic = _heic_photo(tmp_path / "IMG_0002.heic")
    blocked = "import sys; sys.modules['pillow_heif'] = None; from faststyle.cli import main; sys.exit(main())"
    r = subprocess.run([sys.executable, "-c", blocked, "stylize", str(heic), "-s", str(tiny_model_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert 'IMG_0002.heic: a HEIC/HEIF photo' in r.stderr and 'pip install "faststyle[heif]"' in r.stderr
    assert "Traceback" not in r.stderr and files_in(tmp_path) == {"IMG_0002.heic"}


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


def test_styles_verbose_sums_up_the_int8_ranges_in_one_line():
    r = faststyle("styles", "-v")
    assert r.returncode == 0
    assert r.stdout.count("run in int8") == len(bundled_style_names())
    assert len(r.stdout) < 20_000  # not the thousands of range values the cards hold


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


def test_a_video_too_small_for_optical_flow_is_painted_frame_by_frame(tmp_path, tiny_model_path):
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    src = _clip(tmp_path / "tiny.mp4", 5, size=(8, 8))
    r = faststyle("video", src, "-o", tmp_path / "tiny.painted.mp4", "-s", tiny_model_path)
    assert r.returncode == 0, r.stderr  # DIS refuses frames under 12 px: no flow, no traceback
    frames = ffmpeg.read_frames(str(tmp_path / "tiny.painted.mp4"))
    assert next(frames)["size"] == (8, 8) and sum(1 for _ in frames) == 5


def test_a_phone_video_filmed_upright_is_painted_upright_without_warnings(tmp_path, tiny_model_path):
    # Phones store a portrait clip as landscape frames with a rotation tag; ffmpeg turns the frames
    # as it decodes them, and imageio-ffmpeg logged a warning about the two sizes for every read.
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    landscape = tmp_path / "landscape.mp4"
    writer = ffmpeg.write_frames(str(landscape), (64, 48), fps=10, macro_block_size=1,
                                 output_params=["-loglevel", "error", "-crf", "0"])
    writer.send(None)
    for _ in range(4):
        frame = np.full((48, 64, 3), 30, np.uint8)
        frame[:, :32] = 220  # the left half bright
        writer.send(frame)
    writer.close()
    phone = tmp_path / "phone.mp4"
    tagged = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-display_rotation", "90", "-i",
                             str(landscape), "-c", "copy", str(phone)], capture_output=True)
    if tagged.returncode:
        pytest.skip("this ffmpeg cannot tag a rotation (-display_rotation came with ffmpeg 6)")
    frames = ffmpeg.read_frames(str(phone))
    assert next(frames)["size"] == (48, 64)  # decoded upright: portrait
    upright = np.frombuffer(next(frames), np.uint8).reshape(64, 48, 3).astype(int)
    frames.close()

    r = faststyle("video", phone, "-o", tmp_path / "painted.mp4", "-s", tiny_model_path, "--strength", "0",
                  "--crf", "0")
    assert r.returncode == 0, r.stderr
    assert "frame size" not in r.stdout + r.stderr, r.stdout + r.stderr
    frames = ffmpeg.read_frames(str(tmp_path / "painted.mp4"))
    assert next(frames)["size"] == (48, 64)
    painted = np.frombuffer(next(frames), np.uint8).reshape(64, 48, 3).astype(int)
    assert np.abs(painted - upright).mean() < 8  # strength 0: the photo itself, the same way up


def test_video_takes_the_stroke_scale(tmp_path, tiny_model_path):
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    src = _clip(tmp_path / "clip.mp4", 4)
    outs = {}
    for scale in ("1", "2"):
        target = tmp_path / f"clip.{scale}.mp4"
        r = faststyle("video", src, "-o", target, "-s", tiny_model_path, "--stroke-scale", scale, "--crf", "0")
        assert r.returncode == 0, r.stderr
        frames = ffmpeg.read_frames(str(target))
        assert next(frames)["size"] == (64, 48)
        outs[scale] = np.frombuffer(next(frames), np.uint8).astype(int)
    assert np.abs(outs["1"] - outs["2"]).mean() > 1  # larger strokes, another picture at the same size
    r = faststyle("video", src, "-o", tmp_path / "x.mp4", "-s", tiny_model_path, "--stroke-scale", "0.5")
    assert r.returncode == 2 and "between 1 and 16" in r.stderr


def test_video_errors_are_one_line(tmp_path, tiny_model_path):
    pytest.importorskip("imageio_ffmpeg")
    fake = tmp_path / "fake.mp4"
    fake.write_text("no video here")
    r = faststyle("video", fake, "-o", tmp_path / "o.mp4", "-s", tiny_model_path)
    assert r.returncode == 2 and "cannot read this video" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.mp4").exists()
    sound = tmp_path / "voice_memo.mp4"  # an .mp4 with sound and no pictures
    made = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.5",
                           "-c:a", "aac", str(sound)], capture_output=True)
    assert made.returncode == 0, made.stderr
    r = faststyle("video", sound, "-o", tmp_path / "o.mp4", "-s", tiny_model_path)
    assert r.returncode == 2 and "voice_memo.mp4: no pictures in this file, only sound" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "o.mp4").exists()


def test_demo_paints_the_sample_with_every_bundled_style_only(tmp_path, user_styles):
    r = faststyle("demo", "-o", tmp_path / "demo", env_extra={"FASTSTYLE_STYLE_DIR": str(user_styles)})
    assert r.returncode == 0, r.stderr
    from faststyle.styles import bundled_style_names
    assert len(bundled_style_names()) >= 4
    # The user's own (here: a random test model) stays out of the demo.
    assert files_in(tmp_path / "demo") == {f"astronaut.{s}.jpg" for s in bundled_style_names()} | {"sheet.png"}


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
    # Training also runs on JAX, so its message says how.
    r = faststyle("train", tmp_path / "p.png", "--content-dir", tmp_path, "--run-dir", tmp_path / "run",
                  env_extra={**env, "KERAS_BACKEND": "tensorflow"})
    assert r.returncode == 2, r.stderr
    assert 'pip install "faststyle[train]" (or, with JAX installed, set KERAS_BACKEND=jax)' in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "run").exists()


def test_styles_shows_any_model_file(tiny_model_path):
    r = faststyle("styles", "-v", tiny_model_path)
    assert r.returncode == 0 and "Random test style" in r.stdout and str(tiny_model_path) in r.stdout
    r = faststyle("styles", "missing.onnx")
    assert r.returncode == 2 and "not found" in r.stderr


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
            numeric = isinstance(action.default, (int, float)) and not isinstance(action.default, bool)
            if action.option_strings and numeric:
                flag = action.option_strings[-1]
                body = text.split("options:", 1)[1]
                after = body.split(flag, 1)[1].split("\n  -", 1)[0]
                assert "default" in after, f"{name} {flag} does not show its default"
    r = faststyle()
    assert r.returncode == 2 and "commands:" in r.stderr and "stylize" in r.stderr and "train" in r.stderr


def _clip(path: Path, frames: int = 6, size: tuple[int, int] = (64, 48)) -> Path:
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    writer = ffmpeg.write_frames(str(path), size, fps=10, macro_block_size=1, output_params=["-loglevel", "error"])
    writer.send(None)
    for i in range(frames):
        writer.send(photo(size[1], size[0], seed=i))
    writer.close()
    return path


def test_video_with_several_styles_writes_one_file_each_and_crf_sets_the_size(tmp_path, tiny_model_path, user_styles):
    clip = _clip(tmp_path / "clip.mp4")
    env = {"FASTSTYLE_STYLE_DIR": str(user_styles)}
    r = faststyle("video", clip, "-o", tmp_path / "out", "-s", f"tiny,{tiny_model_path}", "--crf", "40",
                  env_extra=env)
    assert r.returncode == 0, r.stderr
    assert files_in(tmp_path / "out") == {"clip.tiny.mp4"}  # the same style twice is one file
    r = faststyle("video", clip, "-o", tmp_path / "fine.mp4", "-s", tiny_model_path, "--crf", "5")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fine.mp4").stat().st_size > (tmp_path / "out" / "clip.tiny.mp4").stat().st_size


def test_video_json_reports_each_written_video(tmp_path, tiny_model_path):
    clip = _clip(tmp_path / "clip.mp4")
    r = faststyle("video", clip, "-o", tmp_path / "v.mp4", "-s", tiny_model_path, "--json")
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    report = json.loads(line)
    assert report["output"] == str(tmp_path / "v.mp4") and report["style"] == "tiny" and report["ok"]
    assert report["frames"] == 6  # _clip writes six


def test_video_refuses_a_picture(tmp_path, tiny_model_path):
    r = faststyle("video", save(tmp_path / "p.jpg"), "-o", tmp_path / "o.mp4", "-s", tiny_model_path)
    assert r.returncode == 2 and "not a video file" in r.stderr and "faststyle stylize" in r.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_pipes_carry_image_bytes_in_and_out(tmp_path, tiny_model_path):
    source = save(tmp_path / "p.png", photo(40, 56))
    r = subprocess.run([sys.executable, "-m", "faststyle", "stylize", "-", "-s", str(tiny_model_path)],
                       input=source.read_bytes(), capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = Image.open(io.BytesIO(r.stdout))
    assert out.format == "PNG" and out.size == (56, 40)
    r = subprocess.run([sys.executable, "-m", "faststyle", "stylize", str(source), "-s", str(tiny_model_path),
                        "-o", "-", "--format", "jpg"], capture_output=True, timeout=300)
    assert r.returncode == 0 and Image.open(io.BytesIO(r.stdout)).format == "JPEG"
    r = subprocess.run([sys.executable, "-m", "faststyle", "stylize", "-", "-s", str(tiny_model_path)],
                       input=b"not an image", capture_output=True, timeout=300)
    assert r.returncode == 2 and r.stdout == b"" and b"stdin: not an image" in r.stderr
    assert b"Traceback" not in r.stderr
    assert os.listdir(tmp_path) == ["p.png"]


def test_json_output_is_one_parsable_object_per_result(tmp_path, tiny_model_path, user_styles):
    import json

    env = {"FASTSTYLE_STYLE_DIR": str(user_styles)}
    r = faststyle("styles", "--json", env_extra=env)
    assert r.returncode == 0, r.stderr
    styles = [json.loads(line) for line in r.stdout.splitlines()]
    tiny = next(s for s in styles if s["name"] == "tiny")
    assert tiny["source"] == "user" and tiny["metadata"]["title"] == "Random test style"

    r = faststyle("stylize", save(tmp_path / "a.png"), tmp_path / "missing.png", "-s", "tiny", "-o", tmp_path / "out",
                  "--json", env_extra=env)
    assert r.returncode == 1
    results = [json.loads(line) for line in r.stdout.splitlines()]  # stdout holds JSON only
    assert [(x["ok"], Path(x["input"]).name) for x in results] == [(True, "a.png"), (False, "missing.png")]
    assert Path(results[0]["output"]).is_file() and "file not found" in results[1]["error"]
    assert "1 done, 1 failed" in r.stderr


def test_style_sheet_lays_out_the_photo_and_every_style(tmp_path, tiny_model_path, user_styles):
    source = save(tmp_path / "p.png", photo(60, 80))
    r = faststyle("sheet", source, "-o", tmp_path / "sheet.png", "-s", f"tiny,{tiny_model_path}", "--cell", "80",
                  env_extra={"FASTSTYLE_STYLE_DIR": str(user_styles)})
    assert r.returncode == 0, r.stderr
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB")).astype(int)
    # photo + one style (the same model twice is one style): two 80x60 cells side by side, with labels above
    from faststyle.sheet import GAP, LABEL_HEIGHT
    assert sheet.shape == (GAP + 60 + LABEL_HEIGHT + GAP, GAP + 2 * (80 + GAP), 3)
    label = sheet[GAP:GAP + LABEL_HEIGHT - 4, GAP:GAP + 80]
    assert (label < 128).any()  # the label is drawn
    r = faststyle("sheet", source, "-o", tmp_path / "sheet.xyz", "-s", tiny_model_path)
    assert r.returncode == 2 and "cannot write" in r.stderr


def test_styles_add_rename_remove_and_fast(tmp_path, tiny_model_path):
    folder = tmp_path / "mine"
    env = {"FASTSTYLE_STYLE_DIR": str(folder)}
    r = faststyle("styles", "add", tiny_model_path, "--name", "pastel", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert (folder / "pastel.onnx").read_bytes() == tiny_model_path.read_bytes()
    r = faststyle("styles", "add", tiny_model_path, "--name", "pastel", "--lite", env_extra=env)
    assert r.returncode == 0, r.stderr
    listing = faststyle("styles", env_extra=env).stdout
    assert re.search(r"pastel\s+user\s+full\+lite", listing)
    src = save(tmp_path / "p.png")
    r = faststyle("stylize", src, "-s", "pastel", "--fast", "-o", tmp_path / "fast.png", env_extra=env)
    assert r.returncode == 0, r.stderr
    r = faststyle("styles", "rename", "pastel", "dusk", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert files_in(folder) == {"dusk.onnx", "lite"} and files_in(folder / "lite") == {"dusk.onnx"}
    r = faststyle("styles", "remove", "dusk", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert files_in(folder) == {"lite"} and files_in(folder / "lite") == set()


@pytest.mark.parametrize("args,message", [
    (["add", "{model}", "--name", "wave"], "'wave' is a bundled style"),
    (["add", "{bad}"], "not a valid ONNX style model"),
    (["add", "{model}", "--name", "../x"], "cannot be a style name"),
    (["remove", "wave"], "only your own styles"),
    (["remove", "nothing"], "no user style 'nothing'"),
    (["rename", "the_scream", "x"], "only your own styles"),
])
def test_styles_management_errors_are_one_line(tmp_path, tiny_model_path, args, message):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    args = [a.format(model=tiny_model_path, bad=bad) for a in args]
    r = faststyle("styles", *args, env_extra={"FASTSTYLE_STYLE_DIR": str(tmp_path / "mine")})
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "mine").exists() or not list((tmp_path / "mine").glob("*.onnx"))


def test_blend_on_the_command_line(tmp_path, tiny_model_path, user_styles):
    src = save(tmp_path / "p.png")
    env = {"FASTSTYLE_STYLE_DIR": str(user_styles)}
    r = faststyle("stylize", src, "-s", f"tiny:0.7,{tiny_model_path}:0.3", "-o", tmp_path / "out/", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert files_in(tmp_path / "out") == {"p.tiny70+tiny30.png"}
    r = faststyle("stylize", src, "-s", "tiny:x,wave:1", env_extra=env)
    assert r.returncode != 0 and "not a number" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _run_on_a_terminal(args, timeout=300) -> str:
    """Runs faststyle with a pseudo-terminal as its stderr; -> what it wrote there."""
    import pty
    import select

    import fcntl
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))  # a real terminal has a size
    proc = subprocess.Popen([sys.executable, "-m", "faststyle", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=follower, env={**os.environ, "COLUMNS": "100"})
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], timeout)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout)
    os.close(leader)
    return out.decode(errors="replace")


def test_a_big_image_shows_tile_progress_on_a_terminal_only(tmp_path, tiny_model_path):
    big = save(tmp_path / "big.png", np.asarray(Image.fromarray(photo(60, 100)).resize((2400, 1300))))
    shown = _run_on_a_terminal(["stylize", big, "-s", tiny_model_path, "-o", tmp_path / "on-tty.png"])
    assert "tiles" in shown and ("tile/s" in shown or "s/tile" in shown), shown[-400:]
    assert (tmp_path / "on-tty.png").is_file()
    r = faststyle("stylize", big, "-s", tiny_model_path, "-o", tmp_path / "piped.png")
    assert r.returncode == 0 and "tiles" not in r.stderr + r.stdout


def _complete(line: str, tmp_path: Path, env_extra=None) -> list[str]:
    """What tab completion offers for `line`, asked the way the shell asks (argcomplete's protocol)."""
    out = tmp_path / "completions.txt"
    env = {**os.environ, **(env_extra or {}), "_ARGCOMPLETE": "1", "COMP_LINE": line,
           "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "_ARGCOMPLETE_IFS": "\n"}
    subprocess.run([sys.executable, "-m", "faststyle"], env=env, capture_output=True, timeout=120)
    return out.read_text().split("\n") if out.exists() else []


def test_tab_completion_of_commands_options_and_style_names(tmp_path, user_styles):
    for shell in ("bash", "zsh", "fish"):
        r = faststyle("completion", shell)
        assert r.returncode == 0 and "faststyle" in r.stdout and len(r.stdout) > 100, shell
    assert {"stylize", "styles", "sheet"} <= set(_complete("faststyle s", tmp_path))
    assert "--stroke-scale" in _complete("faststyle stylize x.jpg --str", tmp_path)
    offered = _complete("faststyle stylize x.jpg -s ", tmp_path, {"FASTSTYLE_STYLE_DIR": str(user_styles)})
    assert {"wave", "the_scream", "tiny", "all"} <= set(offered)


def test_painting_and_training_find_the_same_images_in_a_folder(tmp_path):
    from faststyle.batch import find_inputs
    from faststyle.training.data import find_images

    for name in ["a.jpg", "sub/b.png", "._a.jpg", ".hidden.png", "notes.txt", ".x.fs1.abcd1234.part"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        save(tmp_path / name) if name.endswith((".jpg", ".png")) else (tmp_path / name).write_text("x")
    painted = [p for p, _ in find_inputs([str(tmp_path)])[0]]
    assert painted == find_images(tmp_path) == [tmp_path / "a.jpg", tmp_path / "sub" / "b.png"]


def test_native_load_chatter_is_kept_off_stderr_and_errors_are_not(tmp_path):
    """TensorFlow's libraries print start-up lines to file descriptor 2 while loading, past any
    Python-level redirection; import_quietly filters them, as `train` and friends import Keras."""
    (tmp_path / "noisy.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'I0000 00:00:1795716007.457632    8422 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'W0000 00:00:1795716007.457632    8422 cpu.cc:12] a warning while loading\\n')\n"
        "os.write(2, b'E0000 00:00:1795716007.457632    8422 cuda.cc:99] an error stays\\n')\n"
        "os.write(2, b'plain text stays\\n')\n")
    code = ("import sys; from faststyle.cli import import_quietly; import_quietly('noisy'); "
            "print('after', file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["E0000 00:00:1795716007.457632    8422 cuda.cc:99] an error stays",
                                     "plain text stays", "after"]

    (tmp_path / "broken.py").write_text("import os\nos.write(2, b'I0000 00:00:1.0 1 a.cc:1] loading line\\n')\nimport nothing_here\n")
    r = subprocess.run([sys.executable, "-c", "from faststyle.cli import import_quietly; import_quietly('broken')"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 1 and "No module named 'nothing_here'" in r.stderr and "loading line" not in r.stderr
