"""A video from the app: `faststyle video`'s path (video.stylize_video: steady, audio kept, written
to a temporary file that takes the target's name only when finished) in a worker thread, with
progress by frames and Cancel between frames."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal

from faststyle.errors import FaststyleError
from faststyle.gui.jobs import OneJobAtATime
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


class VideoPainter(OneJobAtATime):
    """Paints one video at a time in one style; cancel() stops after the frame being painted, and
    nothing is left at the target."""

    progress = Signal(int, int)
    finished = Signal(str, str, bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._signals = _Signals()
        self._signals.progress.connect(self.progress)
        self._signals.finished.connect(self.finished)

    def start(self, source: Path, target: Path, style: str, **options) -> bool:
        """options: stylize_video's (strength, preserve_colors, stroke_scale, max_size, crf, stable). False if
        one is running."""
        return self._run(lambda token: _VideoJob(Path(source), Path(target), style, options, token, self._signals))
