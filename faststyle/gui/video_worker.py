"""A video from the app: `faststyle video`'s path (video.stylize_video: steady, audio kept, written
to a temporary file that takes the target's name only when finished) in a worker thread, with
progress by frames and Cancel between frames."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from faststyle.errors import FaststyleError
from faststyle.runtime import Cancelled, CancelToken


class _Signals(QObject):
    progress = Signal(int, int)          # frames written, frames in all (as the file says)
    finished = Signal(str, str, bool)    # the video written ('' if none), error line ('' if none), cancelled


class _VideoJob(QRunnable):
    def __init__(self, source: Path, target: Path, style: str, options: dict, token: CancelToken,
                 signals: _Signals):
        super().__init__()
        self.source, self.target, self.style, self.options = source, target, style, options
        self.token, self.signals = token, signals

    def _progress(self, done: int, total: int) -> None:
        self.token.check()  # raises Cancelled: stylize_video removes its unfinished file
        self.signals.progress.emit(done, total)

    def run(self) -> None:
        from faststyle.video import stylize_video

        try:
            written = stylize_video(self.source, self.target, self.style, progress=self._progress, **self.options)
        except Cancelled:
            self.signals.finished.emit("", "", True)
        except FaststyleError as exc:
            self.signals.finished.emit("", str(exc), False)
        except Exception as exc:  # the window must survive anything a file, ffmpeg or a model throws
            self.signals.finished.emit("", f"{self.source}: {type(exc).__name__}: {exc}", False)
        else:
            self.signals.finished.emit(str(written), "", False)


class VideoPainter(QObject):
    """Paints one video at a time in one style."""

    progress = Signal(int, int)
    finished = Signal(str, str, bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _Signals()
        self._signals.progress.connect(self.progress)
        self._signals.finished.connect(self.finished)
        self._token: CancelToken | None = None
        self.finished.connect(lambda *_: setattr(self, "_token", None))

    @property
    def busy(self) -> bool:
        return self._token is not None

    def start(self, source: Path, target: Path, style: str, **options) -> bool:
        """options: stylize_video's (strength, preserve_colors, max_size, crf, stable). False if one is running."""
        if self.busy:
            return False
        self._token = CancelToken()
        self.pool.start(_VideoJob(Path(source), Path(target), style, options, self._token, self._signals))
        return True

    def cancel(self) -> None:
        """Stops after the frame being painted; nothing is left at the target."""
        if self._token is not None:
            self._token.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
