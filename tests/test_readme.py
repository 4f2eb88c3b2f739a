"""The README's examples run as written (on small generated photos, with the bundled styles)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

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
    for made in ["photo.wave.jpg", "painted/a.wave.jpg", "painted/b.the_scream.jpg", "out/x.composition_vii.png",
                 "big.png", "me.png", "photo.my_model.jpg", "painted.png", "photos/p.wave.jpg", "sheet.png"]:
        assert (root / made).is_file() and (root / made).stat().st_size > 0, made


def test_python_api_example_runs_as_written(tmp_path, tiny_model_path, monkeypatch):
    root = example_folder(tmp_path, tiny_model_path)
    monkeypatch.chdir(root)
    (block,) = code_blocks("Stylize", "python")
    exec(compile(block, "README.md", "exec"), {})
    assert (root / "photo.wave.png").is_file()
    assert {p.name for p in (root / "holiday").glob("*.wave.png")} == {"a.wave.png", "b.wave.png"}
