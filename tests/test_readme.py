"""The README's examples run as written (on small generated photos, with the bundled styles)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import photo

README = Path(__file__).resolve().parents[1] / "README.md"


def code_blocks(section: str, language: str) -> list[str]:
    """The fenced `language` blocks under the README heading `## section`."""
    text = README.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def example_folder(root: Path, tiny_model_path: Path) -> Path:
    """The files the examples name: photo.jpg, holiday/, shots/*.png, big.tif, me.jpg, photos/, my_model.onnx."""
    for i, name in enumerate(["photo.jpg", "holiday/a.jpg", "holiday/b.jpg", "shots/x.png", "big.tif", "me.jpg",
                              "photos/p.jpg"]):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo(48, 64, seed=i)).save(root / name)
    (root / "my_model.onnx").write_bytes(tiny_model_path.read_bytes())
    # `faststyle` on PATH is this checkout's, whatever is installed elsewhere.
    (root / "bin").mkdir()
    wrapper = root / "bin" / "faststyle"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m faststyle "$@"\n')
    wrapper.chmod(0o755)
    return root


def test_stylize_examples_run_as_written(tmp_path, tiny_model_path):
    root = example_folder(tmp_path, tiny_model_path)
    env = {**os.environ, "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(README.parent), "FASTSTYLE_STYLE_DIR": str(root / "no-user-styles")}
    (block,) = code_blocks("Stylize", "bash")
    ran = 0
    for line in block.splitlines():
        command = line.split("  #")[0].strip()
        if not command or "--device cuda" in command:  # needs a GPU build of ONNX Runtime
            continue
        r = subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True, timeout=300)
        assert r.returncode == 0, f"{command}: {r.stderr.decode()[-500:]}"
        ran += 1
    assert ran >= 10
    # Each picture is the one the Python API paints with the options the line gives: exactly for
    # PNG, within JPEG's loss for JPEG; and it is painted, not the photo passed through.
    import faststyle

    expected = [("photo.wave.jpg", "photo.jpg", "wave", {}), ("painted/a.wave.jpg", "holiday/a.jpg", "wave", {}),
                ("painted/b.the_scream.jpg", "holiday/b.jpg", "the_scream", {}),
                ("out/x.composition_vii.png", "shots/x.png", "composition_vii", {}),
                ("big.png", "big.tif", "starry_night", {"max_size": 2048}),
                ("me.png", "me.jpg", "the_scream", {"strength": 0.6, "preserve_colors": True}),
                ("photo.my_model.jpg", "photo.jpg", str(root / "my_model.onnx"), {}),
                ("painted.png", "photo.jpg", "wave", {}), ("photos/p.wave.jpg", "photos/p.jpg", "wave", {}),
                ("photo.wave-lite.jpg", "photo.jpg", "wave", {"fast": True}),
                ("photo.wave60+the_scream40.jpg", "photo.jpg", "wave:0.6,the_scream:0.4", {})]
    for made, source, style, options in expected:
        picture = np.asarray(Image.open(root / made).convert("RGB"), np.float32)
        want = np.asarray(faststyle.stylize(root / source, style, **options), np.float32)
        original = np.asarray(Image.open(root / source).convert("RGB"), np.float32)
        assert picture.shape == want.shape == original.shape, made
        tolerance = 0 if made.endswith(".png") else 8  # JPEG at quality 92, on small noisy photos
        assert np.abs(picture - want).mean() <= tolerance, made
        assert np.abs(picture - original).mean() > 3 * tolerance + 5, made
    sheet = Image.open(root / "sheet.png")  # the photo and each bundled style, labelled
    assert sheet.width > 3 * 64 and sheet.height > 3 * 48


def test_python_api_example_runs_as_written(tmp_path, tiny_model_path, monkeypatch):
    root = example_folder(tmp_path, tiny_model_path)
    monkeypatch.chdir(root)
    (block,) = code_blocks("Stylize", "python")
    exec(compile(block, "README.md", "exec"), {})
    assert {p.name for p in (root / "holiday").glob("*.wave.png")} == {"a.wave.png", "b.wave.png"}
    import faststyle

    for made, source, options in (("photo.wave.png", "photo.jpg", {}),
                                  ("holiday/a.wave.png", "holiday/a.jpg", {"strength": 0.8, "preserve_colors": True})):
        picture = np.asarray(Image.open(root / made).convert("RGB"))
        assert np.array_equal(picture, np.asarray(faststyle.stylize(root / source, "wave", **options))), made
