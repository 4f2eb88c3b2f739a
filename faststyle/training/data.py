"""Training photos as a stream of batches of random square crops.

The order of photos and the crop positions are a pure function of (seed,
position in the stream), and every batch carries the position after it. A
checkpoint stores that position, so a resumed run sees exactly the batches it
would have seen without the stop. Plain NumPy, so any Keras backend can train on it.
"""

from __future__ import annotations

import fnmatch
import queue
import threading
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from faststyle.errors import FaststyleError
from faststyle.image_io import images_below
from faststyle.preprocess import resize_short_side


def find_images(folder: str | Path, exclude: Sequence[str] = (), option: str = "--content-dir") -> list[Path]:
    """Every file below `folder` (recursively) with an image extension, sorted.

    `exclude` holds glob patterns matched against paths relative to `folder`
    (e.g. "bsds500/val_*"), to keep validation photos out of training. `option` is the
    command-line option the error for a missing folder tells the user to fix.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FaststyleError(f"photo folder not found: {folder}. Pass a folder of photos with {option}.")
    files = [p for p in images_below(folder) if not _matches(p, folder, exclude)]
    if not files:
        raise FaststyleError(f"no images found in {folder}. Put JPEG or PNG photos there (subfolders are searched).")
    return files


def held_out_images(folder: str | Path, exclude: Sequence[str]) -> list[Path]:
    """The images that `find_images` leaves out for these patterns (the validation photos), sorted."""
    folder = Path(folder)
    return [p for p in images_below(folder) if _matches(p, folder, exclude)]


def _matches(path: Path, folder: Path, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path.relative_to(folder).as_posix(), pattern) for pattern in patterns)


def random_crop(path: Path, resize: int, crop: int, rng: np.random.Generator) -> np.ndarray:
    """Reads a photo as RGB, resizes its short side to `resize`, and cuts a random crop x crop square."""
    with Image.open(path) as im:
        im = im.convert("RGB")  # greyscale, palette, alpha and CMYK all become plain RGB
        im = resize_short_side(im, max(resize, crop))
        x, y = rng.integers(0, im.width - crop + 1), rng.integers(0, im.height - crop + 1)
        return np.asarray(im.crop((x, y, x + crop, y + crop)), dtype=np.uint8)


class PhotoStream:
    """An endless, reproducible stream of crops; unreadable files are skipped and counted."""

    def __init__(self, files: list[Path], resize: int, crop: int, seed: int):
        self.files, self.resize, self.crop, self.seed = files, resize, crop, seed
        self.skipped: set[Path] = set()

    def _index(self, position: int) -> int:
        epoch, offset = divmod(position, len(self.files))
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.files))
        return int(order[offset])

    def crops(self, start: int = 0) -> Iterator[tuple[np.ndarray, int]]:
        """Yields (crop, position of the next photo)."""
        position = start
        failures_in_a_row = 0
        while True:
            path = self.files[self._index(position)]
            rng = np.random.default_rng([self.seed, position, 1])
            position += 1
            try:
                crop = random_crop(path, self.resize, self.crop, rng)
            except Exception:  # any file Pillow cannot read is skipped, never fatal
                self.skipped.add(path)
                failures_in_a_row += 1
                if failures_in_a_row >= len(self.files):
                    raise FaststyleError("none of the content images could be read; check the --content-dir folder")
                continue
            failures_in_a_row = 0
            yield crop, position


def batches(stream: PhotoStream, batch_size: int, start: int = 0, prefetch: int = 2
            ) -> Iterator[tuple[np.ndarray, int]]:
    """(float32 RGB 0..255 batch, stream position after it) from `start` on.

    A background thread reads the next batches while the current step runs (Pillow
    decodes without holding the GIL); an error there is raised here, in the training loop.
    """
    ready: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def produce():
        try:
            crops = stream.crops(start)
            while not stop.is_set():
                batch = [next(crops) for _ in range(batch_size)]
                ready.put((np.stack([c for c, _ in batch]).astype(np.float32), batch[-1][1]))
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    threading.Thread(target=produce, daemon=True, name="photo-batches").start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while not ready.empty():  # frees a producer blocked on a full queue
            ready.get_nowait()
