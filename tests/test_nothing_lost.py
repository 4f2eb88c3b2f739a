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


def test_two_styles_of_one_name_are_refused_before_painting(tmp_path, tiny_model_path, user_styles):
    a = save(tmp_path / "a.jpg")
    other = tmp_path / "elsewhere" / "tiny.onnx"
    other.parent.mkdir()
    other.write_bytes(tiny_model_path.read_bytes())
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
