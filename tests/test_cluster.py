"""`faststyle stylize --ray` and `stylize_dataset` on a local Ray with 2 CPUs: the same pictures, names,
skipping and failure counts as a plain folder run."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import photo

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    from faststyle.cluster import connect

    connect("local", workers=2)
    yield ray
    ray.shutdown()


def photos(folder, count: int):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(photo(72 + 8 * (i % 3), 96, seed=i)).save(folder / f"p{i:02d}.png")
    return folder


def cli(*args: str) -> int:
    from faststyle.cli import main

    return main([str(a) for a in args])


def test_while_the_run_starts_ray_it_paints_the_first_photos_itself(tmp_path, capsys, monkeypatch):
    """First in this file: the command must start Ray itself (the other tests share one Ray)."""
    import faststyle.cluster as cluster

    if ray.is_initialized():
        ray.shutdown()
    painted_here = []
    real = cluster.paint_job  # the Ray workers import the module afresh, so this counts this process only
    monkeypatch.setattr(cluster, "paint_job", lambda job, *a, **k: painted_here.append(job.source.name)
                        or real(job, *a, **k))
    folder = photos(tmp_path / "in", 6)
    assert cli("stylize", folder, "-s", "wave", "--fast", "-o", tmp_path / "plain") == 0
    assert cli("stylize", folder, "-s", "wave", "--fast", "-o", tmp_path / "ray", "--ray", "--workers", "1") == 0
    assert "6 done, 0 failed" in capsys.readouterr().out.splitlines()[-1]
    assert painted_here and len(set(painted_here)) == len(painted_here)  # some here, none twice
    assert not ray.is_initialized()  # the run shut down the Ray it started
    for name in sorted(p.name for p in (tmp_path / "plain").iterdir()):
        a = np.asarray(Image.open(tmp_path / "plain" / name), dtype=np.int16)
        b = np.asarray(Image.open(tmp_path / "ray" / name), dtype=np.int16)
        assert np.abs(a - b).max() <= 2, name


def test_ray_paints_a_folder_as_a_plain_run_does(local_ray, tmp_path, capsys):
    folder = photos(tmp_path / "in", 8)
    (folder / "broken.jpg").write_bytes(b"not a picture")
    assert cli("stylize", folder, "-s", "wave", "-o", tmp_path / "plain") == 1
    plain = capsys.readouterr()
    assert cli("stylize", folder, "-s", "wave", "-o", tmp_path / "ray", "--ray") == 1
    ray_run = capsys.readouterr()
    # Same summary and the same one-line error for the broken file.
    assert "8 done, 1 failed" in plain.out and "8 done, 1 failed" in ray_run.out
    assert "broken.jpg: not an image" in ray_run.err and ray_run.err.count("faststyle: error:") == 1
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "ray").iterdir()) and len(names) == 8
    for name in names:
        a = np.asarray(Image.open(tmp_path / "plain" / name), dtype=np.int16)
        b = np.asarray(Image.open(tmp_path / "ray" / name), dtype=np.int16)
        assert np.abs(a - b).max() <= 2, name
    # A second run skips what is there, as a plain run does; --overwrite repaints.
    assert cli("stylize", folder / "p00.png", folder / "p01.png", "-s", "wave", "-o", tmp_path / "ray", "--ray") == 0
    assert "every output already exists" in capsys.readouterr().out


def test_ray_with_a_blend_and_the_lite_networks(local_ray, tmp_path, capsys):
    folder = photos(tmp_path / "in", 3)
    assert cli("stylize", folder, "-s", "wave:0.5,udnie:0.5", "--fast", "-o", tmp_path / "ray", "--ray",
               "--workers", "2") == 0
    assert "3 done, 0 failed" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == [f"p{i:02d}.wave50+udnie50-lite.png"
                                                                   for i in range(3)]


def test_stylize_dataset_adds_the_paintings_to_the_rows(local_ray):
    import faststyle
    from faststyle.cluster import stylize_dataset

    images = [photo(64, 80, seed=i) for i in range(3)]
    ds = ray.data.from_items([{"id": i, "image": image} for i, image in enumerate(images)])
    rows = sorted(stylize_dataset(ds, "wave", fast=True, strength=0.8).take_all(), key=lambda r: r["id"])
    for row, image in zip(rows, images):
        expected = np.asarray(faststyle.stylize(image, "wave", fast=True, strength=0.8), dtype=np.int16)
        assert row["stylized"].shape == (64, 80, 3)
        assert np.abs(row["stylized"].astype(np.int16) - expected).max() <= 2


def test_without_ray_the_option_names_the_extra(tmp_path, capsys, monkeypatch):
    photos(tmp_path / "in", 1)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert cli("stylize", tmp_path / "in", "-s", "wave", "--ray") == 2
    err = capsys.readouterr().err
    assert 'pip install "faststyle[cluster]"' in err and "Traceback" not in err
