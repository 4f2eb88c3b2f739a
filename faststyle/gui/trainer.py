"""A new style from a painting, for the window: `faststyle train` in a separate process.

TensorFlow never loads into the app: the training runs as the command line's own `faststyle
train` in a child process (QProcess), and this object follows its run folder: steps done (the
loss logs), the preview picture, and the process's end. Cancel sends SIGTERM; the run keeps a
checkpoint of the steps done, and starting the same style again resumes it.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from faststyle.styles import free_name, name_from_file, user_style_dir

POLL_MS = 500
INSTALL_LINE = 'pip install "faststyle[train]"'


def training_available() -> bool:
    """Whether this Python can train (the [train] extra: Keras with TensorFlow or JAX)."""
    has = lambda name: importlib.util.find_spec(name) is not None  # noqa: E731
    return has("keras") and has("onnx") and (has("tensorflow") or has("jax"))


def runs_dir() -> Path:
    """Where the app keeps training runs: beside the user style folder, so they survive restarts."""
    return user_style_dir().parent / "runs"


def _resumable(run: Path) -> bool:
    """Whether a run folder holds checkpoints of either stage to go on from."""
    return any(run.glob("ckpt-*.npz")) or any((run / "lite").glob("ckpt-*.npz"))


class StyleTrainer(QObject):
    """One training at a time; signals report what the run folder shows."""

    progress = Signal(int, int, float)  # steps done, steps in all (full + lite), seconds left (-1: unknown)
    preview = Signal(str)               # path of a new preview picture
    finished = Signal(str, str)         # style name, model path
    failed = Signal(str)                # one line

    def __init__(self, parent: QObject | None = None, extra_args: list[str] | None = None):
        super().__init__(parent)
        self.extra_args = list(extra_args or [])  # e.g. --content-dir, or tiny settings in tests
        self.process: QProcess | None = None
        self.name: str | None = None
        self.run: Path | None = None
        self._preview_mtime = 0.0
        self._started = 0.0
        self._first_step: tuple[float, int] | None = None
        self._stderr = b""
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        return self.process is not None

    def start(self, painting: Path, name: str | None = None, preview_photo: Path | None = None) -> bool:
        """Starts (or resumes, when its run folder holds checkpoints) training a style from `painting`."""
        if self.busy:
            self.failed.emit("a style is already being trained; wait for it or cancel it")
            return False
        if not training_available():
            self.failed.emit(f"making a new style needs the training extra: {INSTALL_LINE}")
            return False
        self.name = name or name_from_file(painting)
        if not _resumable(runs_dir() / self.name):
            self.name = free_name(self.name)  # a painting named like a style there already: a new one beside it
        self.run = runs_dir() / self.name
        resume = _resumable(self.run)
        args = ["-m", "faststyle", "train", str(painting), "--name", self.name, "--run-dir", str(self.run)]
        if resume:
            args.append("--resume")
        else:
            args += self.extra_args + (["--preview-image", str(preview_photo)] if preview_photo else [])
        self.process = QProcess(self)
        self.process.setProgram(sys.executable)
        self.process.setArguments(args)
        self.process.setStandardOutputFile(QProcess.nullDevice())  # progress comes from the run folder
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._ended)
        self._stderr, self._started, self._first_step, self._preview_mtime = b"", time.monotonic(), None, 0.0
        self.process.start()
        self._timer.start()
        return True

    def cancel(self) -> None:
        """Stops the training; its checkpoints stay, so starting the same style again goes on."""
        if self.process is not None:
            self.process.terminate()  # SIGTERM: the run saves its steps and exits 143

    def wait(self, msecs: int = 30000) -> bool:
        return self.process is None or self.process.waitForFinished(msecs)

    # --- following the run -------------------------------------------------------
    def _read_stderr(self) -> None:
        self._stderr = (self._stderr + bytes(self.process.readAllStandardError()))[-8192:]

    def _steps(self) -> tuple[int, int]:
        """(steps done, steps in all) from the run's config and loss logs."""
        total = done = 0
        for folder in (self.run, self.run / "lite"):
            config = folder / "config.json"
            if config.is_file():
                try:
                    total += int(json.loads(config.read_text())["steps"])
                except (ValueError, KeyError, OSError):
                    pass
            done += _logged_steps(folder / "losses.csv")
        if not (self.run / "lite" / "config.json").is_file() and (self.run / "config.json").is_file():
            try:
                total += int(json.loads((self.run / "config.json").read_text()).get("lite_steps", 0))
            except (ValueError, OSError):
                pass
        return done, max(total, done)

    def _poll(self) -> None:
        if self.run is None:
            return
        done, total = self._steps()
        now = time.monotonic()
        if done and self._first_step is None:
            self._first_step = (now, done)
        left = -1.0
        if self._first_step and done > self._first_step[1]:
            rate = (now - self._first_step[0]) / (done - self._first_step[1])
            left = rate * (total - done)
        self.progress.emit(done, total, left)
        for picture in (self.run / "lite" / "preview.jpg", self.run / "preview.jpg"):
            if picture.is_file() and picture.stat().st_mtime > self._preview_mtime:
                self._preview_mtime = picture.stat().st_mtime
                self.preview.emit(str(picture))
                break

    def _ended(self, code: int, status) -> None:
        self._timer.stop()
        self._read_stderr()
        self._poll()
        process, self.process = self.process, None
        process.deleteLater()
        lines = [ln for ln in self._stderr.decode(errors="replace").splitlines() if ln.startswith("faststyle:")]
        if code == 0:
            self.finished.emit(self.name, str(user_style_dir() / f"{self.name}.onnx"))
        elif code == 143:
            self.failed.emit(f"training of {self.name} stopped; start it again to go on where it stopped")
        else:
            self.failed.emit(lines[-1].removeprefix("faststyle: error: ") if lines
                             else f"training of {self.name} failed (exit code {code})")


def _logged_steps(path: Path) -> int:
    """Rows in a loss log (its steps), 0 while it does not exist yet."""
    try:
        with open(path, newline="") as f:
            return max(0, sum(1 for _ in csv.reader(f)) - 1)
    except OSError:
        return 0
