"""Files written safely: an output never replaces an input, and is whole or absent.

Every output (pictures, videos, checkpoints, models) is written to a hidden temporary file beside
its target and renamed into place when complete; the writer holds an flock on it, so a later run
can tell a killed writer's leftovers from a live one's file, in any container or machine sharing
the folder (docs/reliability.md).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

try:
    import fcntl
except ImportError:  # Windows: no flock; stale temporaries are told by their writer's pid
    fcntl = None

from faststyle.errors import FaststyleError


def real_path(path: str | os.PathLike) -> Path:
    """Where a path really leads: symlinks followed, '..' taken after them, missing parts kept as
    written (as a later mkdir would create them). Outputs and inputs are compared by this."""
    return Path(os.path.realpath(path))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether writing `a` would replace the bytes of `b` (same real path, or a hard link to them)."""
    if real_path(a) == real_path(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def refuse_overwriting_inputs(output: str | os.PathLike, *inputs: str | os.PathLike | None) -> None:
    """Raises a one-line error when writing `output` would replace any of `inputs`."""
    for source in filter(None, inputs):
        if same_file(output, source):
            raise FaststyleError(f"{output}: output would overwrite the input {source}; choose another -o")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Calls `write(file)` on a temporary file beside `path`, then renames it into place."""
    path = Path(path)
    fd, tmp = temp_file_beside(path, ".part")
    lock = os.dup(fd)  # the writer's lock lives as long as this descriptor: past the rename
    try:
        with os.fdopen(fd, "w+b") as f:  # readable too: multi-page TIFF writers seek back and read
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(lock)
    return path


def temp_file_beside(path: Path, suffix: str) -> tuple[int, str]:
    """A hidden temporary file in `path`'s folder (same file system, so renaming is atomic),
    locked by its writer for as long as the returned descriptor (or a dup of it) is open.

    The lock (flock), not the process id in the name, tells a later run whether the file is
    still being written: process ids mean nothing across containers or machines sharing a
    folder. Its name, `.NAME.fsPID.XXXXXXXX.SUFFIX`, says what it is and who made it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.fs{os.getpid()}.", suffix=suffix, dir=path.parent)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a brand-new file: nobody else holds it
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual mode
    return fd, tmp


_TEMP_NAME = re.compile(r"^\..+\.fs(\d+)\.[A-Za-z0-9_]{8}\.[A-Za-z0-9]+$")


def remove_stale_temp_files(folder: str | os.PathLike) -> int:
    """Deletes temporary files of faststyle's naming that no live writer holds; -> how many."""
    folder = Path(folder)
    removed = 0
    for path in folder.glob(".*.fs*") if folder.is_dir() else []:
        match = _TEMP_NAME.match(path.name)
        if match and path.is_file() and _abandoned(path, int(match.group(1))):
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass  # not ours to remove after all (permissions): leave it
    return removed


def _abandoned(path: Path, pid: int) -> bool:
    """Whether no process is writing `path`: its lock is free (or, without flock, its writer's pid is gone)."""
    if fcntl is None:
        return not _process_alive(pid)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: a live writer, whichever machine or container it runs in
    finally:
        os.close(fd)
    return True


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))
