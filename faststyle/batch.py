"""Many images, many styles: input discovery, output naming and the progress loop of `stylize`."""

from __future__ import annotations

import errno
import glob
import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image
from tqdm import tqdm

from faststyle.api import stylize_file
from faststyle.errors import FaststyleError
from faststyle.files import real_path, remove_stale_temp_files, same_file
from faststyle.image_io import HEIF_EXTENSIONS, IMAGE_EXTENSIONS, images_below


@dataclass(frozen=True)
class Job:
    source: Path
    style: str
    target: Path | None
    problem: str | None = None  # known before running: reported as this job's error


def find_inputs(patterns: list[str], skip: Callable[[Path], bool] | None = None
                ) -> tuple[list[tuple[Path, Path | None]], int]:
    """Files, folders (recursive) and globs -> ([(file, folder it was found in or None)], files skipped).

    Files found by searching a folder or a glob are left out when `skip(file)` says so
    (earlier outputs of faststyle); files named one by one are always kept. Missing paths are
    kept, so they are reported as failed jobs with their name.
    """
    found: list[tuple[Path, Path | None]] = []
    skip = skip or (lambda path: False)
    skipped = 0
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir() and path.suffix.lower() not in IMAGE_EXTENSIONS:
            images = images_below(path)
            if not images:
                raise FaststyleError(f"{path}: no images in this folder")
            kept = [p for p in images if not skip(p)]
            skipped += len(images) - len(kept)
            found += [(p, path) for p in kept]
        elif not path.exists() and glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
            if not matches:
                raise FaststyleError(f"{pattern}: no files match")
            kept = [p for p in matches if not skip(p)]
            skipped += len(matches) - len(kept)
            found += [(p, None) for p in kept]
        else:
            found.append((path, None))
    return list(dict.fromkeys(found)), skipped


def is_output_of(path: Path, style_names: set[str]) -> bool:
    """Whether a file is named like a faststyle output, NAME.STYLE.EXT, for one of these styles."""
    parts = path.stem.rsplit(".", 1)
    return len(parts) == 2 and parts[1] in style_names


def skip_existing(jobs: list[Job]) -> tuple[list[Job], int]:
    """Leaves out jobs whose output is already there -> (jobs to run, how many were left out)."""
    todo = [job for job in jobs if job.problem or job.target is None or not job.target.exists()]
    return todo, len(jobs) - len(todo)


def _output_suffix(source: Path) -> str:
    """The output's extension for a source: the source's own where Pillow writes it; a phone's
    HEIC photo is painted to JPEG, which every program opens (its EXIF kept); others to PNG."""
    if source.suffix.lower() in HEIF_EXTENSIONS:
        return ".jpg"
    fmt = Image.registered_extensions().get(source.suffix.lower())
    return source.suffix if fmt in Image.SAVE else ".png"


def video_targets(source: str | os.PathLike, styles: list[str], output: str) -> list[Path]:
    """Where `faststyle video` writes each style's video: -o FILE for one style; -o FOLDER (a
    trailing slash, an existing folder or a name without extension) gets SOURCE.STYLE.mp4 each."""
    out = Path(output)
    as_folder = not out.suffix or out.is_dir() or output.endswith(("/", os.sep))
    if not as_folder and len(styles) == 1:
        return [out]
    if not as_folder:
        raise FaststyleError(f"{out}: {len(styles)} videos to write, so -o must be a folder")
    return [out / f"{Path(source).stem}.{style}.mp4" for style in styles]


def plan_outputs(inputs: list, styles: list[str], output: str | None) -> list[Job]:
    """Names every output so that none overwrites an input: `photo.STYLE.jpg`.

    No -o: beside each input. -o FOLDER: inside it, keeping subfolders of folder inputs.
    -o FILE: only for one input and one style.
    """
    pairs = [(p if isinstance(p, tuple) else (Path(p), None)) for p in inputs]
    n = len(pairs) * len(styles)
    out = Path(output) if output else None
    # A trailing slash always means a folder, even for a new one named like "out.v2/".
    # So does a name without an image extension ("out", "run.v2") when there are several outputs.
    looks_like_image = out is not None and out.suffix.lower() in IMAGE_EXTENSIONS
    as_folder = out is not None and (out.is_dir() or output.endswith(("/", os.sep)) or out.suffix == ""
                                     or (n > 1 and not looks_like_image and not out.is_file()))
    single_file = out is not None and n == 1 and not as_folder
    if out is not None and not as_folder and n > 1:
        raise FaststyleError(f"{out}: {n} images to write, so -o must be a folder")
    jobs = []
    inputs_real = {real_path(source): source for source, _ in pairs}
    planned: dict[Path, Path] = {}  # real target -> the input that writes it
    for source, root in pairs:
        for style in styles:
            name = f"{source.stem}.{style}{_output_suffix(source)}"
            if out is None:
                target = source.with_name(name)
            elif single_file:
                target = out
            else:
                sub = source.parent.relative_to(root) if root is not None else Path()
                target = out / sub / name
            jobs.append(Job(source, style, target, _clash(source, target, inputs_real, planned)))
    return jobs


def _clash(source: Path, target: Path, inputs_real: dict[Path, Path], planned: dict[Path, Path]) -> str | None:
    """Why `target` must not be written (it is an input, or another job's output), or None."""
    real = real_path(target)
    hit = inputs_real.get(real)
    if hit is None and target.exists():  # hard links and other routes to an input's bytes
        hit = next((p for p in inputs_real.values() if same_file(target, p)), None)
    if hit is not None:
        return f"{target}: output would overwrite the input {hit}; choose another -o"
    if real in planned:
        return (f"{target}: {planned[real]} already writes this output in this run; "
                "give the inputs different names or write them to different folders")
    planned[real] = source
    return None


class DiskFull(Exception):
    """No space left: every later write would fail too, so a run stops."""


def paint_job(job: Job, model, quality: int = 92, progress=None, **options) -> str | None:
    """Paints one job; -> None, or the one-line error a run reports and counts. Raises DiskFull.

    The one place a job's failures are worded: a plain run and a Ray worker both come here.
    """
    try:
        if job.problem:
            raise FaststyleError(job.problem)
        stylize_file(job.source, job.target, model, quality=quality, progress=progress, **options)
        return None
    except FaststyleError as exc:
        return str(exc)
    except MemoryError:
        return f"{job.source}: out of memory; try --max-size"
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(f"{job.target}: no space left on the disk; stopping (free some space and run again)") \
                from None
        return f"{job.target}: cannot write ({exc.strerror or type(exc).__name__}); choose another output folder with -o"


def run_jobs(jobs: list[Job], models: dict, quality: int = 92, as_json: bool = False, **options) -> int:
    """Runs every job with a progress bar; one line per failure, a summary at the end.

    A file that cannot be written is counted and the run goes on; a full disk stops the run,
    since every later write would fail too. `as_json`: one JSON object per job on stdout
    (for scripts); messages and the summary then go to stderr.
    """
    remove_stale_outputs(jobs)
    report = Report(len(jobs), as_json)
    tiles = _TileBar()
    for job in report.bar(jobs):
        try:
            error = paint_job(job, models[job.style], quality, tiles.update, **options)
        except DiskFull as exc:
            error, report.stopped = str(exc), True
        tiles.close()
        report.add(job, error)
        if report.stopped:
            break
    return report.finish()


def remove_stale_outputs(jobs: list[Job]) -> None:
    stale = sum(remove_stale_temp_files(folder) for folder in {job.target.parent for job in jobs if job.target})
    if stale:
        print(f"removed {stale} unfinished output file(s) left by an interrupted run", file=sys.stderr)


class Report:
    """A run's progress bar, its error lines (and JSON lines), and the summary at the end: the
    same for a plain run and a Ray run."""

    def __init__(self, total: int, as_json: bool = False):
        self.total, self.as_json = total, as_json
        self.done: list[Path] = []
        self.failed, self.stopped = 0, False
        self._bar: tqdm | None = None
        self._lock = threading.Lock()

    def bar(self, items=None):
        """The progress bar: over `items`, or (None) one that record() moves."""
        self._bar = tqdm(items, total=self.total, desc="stylize", unit="image", disable=self.total < 2 or None,
                         file=sys.stderr)
        return self._bar

    def record(self, job: Job, error: str | None) -> None:
        """add() and one step of the bar, from any thread (a Ray run paints in two)."""
        with self._lock:
            self.add(job, error)
            self._bar.update()

    def add(self, job: Job, error: str | None) -> None:
        if error:
            self.failed += 1
            tqdm.write(f"faststyle: error: {error}", file=sys.stderr)
        else:
            self.done.append(job.target)
        if self.as_json:
            print(json.dumps({"input": str(job.source), "style": job.style, "output": str(job.target),
                              "ok": error is None, "error": error}), flush=True)

    def finish(self) -> int:
        if self._bar is not None:
            self._bar.close()
        done = self.done
        not_tried = self.total - len(done) - self.failed
        where = str(done[0]) if len(done) == 1 else (str(Path(*_common_parts(done))) if done else "-")
        skipped = f", {not_tried} not tried" if not_tried else ""
        print(f"{len(done)} done, {self.failed} failed{skipped}; "
              + (f"written to {where}" if done else "nothing written"),
              file=sys.stderr if self.as_json else sys.stdout)
        return 1 if self.failed else 0


class _TileBar:
    """A bar of tiles for an image big enough to be painted in pieces (on a terminal only)."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def update(self, done: int, total: int) -> None:
        if total < 2:
            return  # one pass: nothing to count
        if self.bar is None:
            self.bar = tqdm(total=total, desc="  tiles", unit="tile", leave=False, file=sys.stderr, disable=None)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _common_parts(paths: list[Path]) -> tuple[str, ...]:
    parts = [p.parent.parts for p in paths]
    common = []
    for items in zip(*parts):
        if len(set(items)) != 1:
            break
        common.append(items[0])
    return tuple(common) or (".",)
