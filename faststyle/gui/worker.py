"""Background work for the window: stylization and swatches, off the UI thread.

Widgets never call the network themselves; they ask a Stylizer and get Qt signals back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QEventLoop, QObject, QRunnable, QThreadPool, Signal

import faststyle
from faststyle.api import painting_swatch
from faststyle.errors import FaststyleError
from faststyle.image_io import save_image
from faststyle.model_file import read_card
from faststyle.paintings import cached_painting_path, offline
from faststyle.runtime import Cancelled, CancelToken


@dataclass(frozen=True)
class Request:
    """Everything one stylization needs; the id tells stale results from current ones."""

    id: int
    image: Image.Image
    style: str  # name or .onnx path
    strength: float = 1.0
    preserve_colors: bool = False
    max_size: int | None = None
    stroke_scale: float = 1.0


class _Signals(QObject):
    finished = Signal(int, object)  # request id, PIL image
    failed = Signal(int, str)       # request id, one-line message
    progress = Signal(int, int, int)  # request id, steps done, steps in all (tiles)


class _Job(QRunnable):
    def __init__(self, request: Request, token: CancelToken, signals: _Signals):
        super().__init__()
        self.request, self.token, self.signals = request, token, signals

    def run(self) -> None:
        r = self.request
        try:
            result = faststyle.stylize(r.image, r.style, r.strength, r.preserve_colors, r.max_size,
                                       cancel=self.token, stroke_scale=r.stroke_scale,
                                       progress=lambda done, total: self.signals.progress.emit(r.id, done, total))
        except Cancelled:
            return  # the Stylizer reported it when cancel() was called
        except faststyle.FaststyleError as exc:
            self.signals.failed.emit(r.id, str(exc))
        except Exception as exc:  # the window must survive anything a model or file throws
            self.signals.failed.emit(r.id, f"{type(exc).__name__}: {exc}")
        else:
            self.signals.finished.emit(r.id, result)


class Stylizer(QObject):
    """Runs one stylization at a time; a new request cancels the one in progress."""

    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    busy_changed = Signal(bool)
    progress = Signal(int, int, int)  # request id, done, total: the current request's only

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # ONNX Runtime already uses every core
        self._signals = _Signals()
        self._signals.finished.connect(self._on_finished)
        self._signals.failed.connect(self._on_failed)
        self._signals.progress.connect(self._on_progress)
        self._current: tuple[int, CancelToken] | None = None
        self._next_id = 0

    @property
    def busy(self) -> bool:
        return self._current is not None

    def submit(self, image: Image.Image, style: str, **options) -> int:
        self.cancel()
        self._next_id += 1
        token = CancelToken()
        self._current = (self._next_id, token)
        self.pool.start(_Job(Request(self._next_id, image, style, **options), token, self._signals))
        self.busy_changed.emit(True)
        return self._next_id

    def paint_and_wait(self, image: Image.Image, style: str, **options) -> Image.Image | None:
        """Submits a request and runs Qt's events until it ends (the window stays live and can
        cancel it) -> its picture, or None if it was cancelled or failed (signalled as usual)."""
        request, outcome, loop = self.submit(image, style, **options), {}, QEventLoop()

        def finished(rid: int, image) -> None:
            if rid == request:
                outcome["image"] = image
                loop.quit()

        def ended(rid: int, *_) -> None:
            if rid == request:
                loop.quit()

        signals = [(self.finished, finished), (self.failed, ended), (self.cancelled, ended)]
        for signal, slot in signals:
            signal.connect(slot)
        if self.busy:  # not finished before the loop starts
            loop.exec()
        for signal, slot in signals:
            signal.disconnect(slot)
        return outcome.get("image")

    def cancel(self) -> None:
        if self._current:
            self._current[1].cancel()
            self.cancelled.emit(self._current[0])
            self._current = None
            self.busy_changed.emit(False)

    def _is_current(self, request_id: int) -> bool:
        return self._current is not None and self._current[0] == request_id

    def _on_finished(self, request_id: int, image) -> None:
        if self._is_current(request_id):
            self._current = None
            self.busy_changed.emit(False)
            self.finished.emit(request_id, image)

    def _on_progress(self, request_id: int, done: int, total: int) -> None:
        if self._is_current(request_id):
            self.progress.emit(request_id, done, total)

    def _on_failed(self, request_id: int, message: str) -> None:
        if self._is_current(request_id):
            self._current = None
            self.busy_changed.emit(False)
            self.failed.emit(request_id, message)

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)


# --- swatches -------------------------------------------------------------------------

SWATCH_SIZE = 96


def swatch_path(cache_dir: Path, style_path: Path) -> Path:
    """Cache file for a style's swatch; changes when the model file changes."""
    stat = style_path.stat()
    key = hashlib.sha1(f"{style_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir / f"{style_path.stem}-{key}.png"


class _SwatchSignals(QObject):
    ready = Signal(str, str)  # style name, swatch file


class _SwatchJob(QRunnable):
    def __init__(self, styles: list, sample: Path, cache_dir: Path, signals: _SwatchSignals):
        super().__init__()
        self.styles, self.sample, self.cache_dir, self.signals = styles, sample, cache_dir, signals

    def run(self) -> None:
        """Every swatch at once from what is at hand (the painting's own or cached thumbnail, else a
        sample painted in the style); then the paintings that need a download, each replacing its
        sample when it arrives. The first failed download ends the downloads; the next start tries
        again, as the samples stand in under another name."""
        downloads = []
        for style in self.styles:
            target = swatch_path(self.cache_dir, style.path)
            try:
                if target.exists():
                    self.signals.ready.emit(style.name, str(target))
                    continue
                card = read_card(style.path)
                if self._save(painting_swatch(card, SWATCH_SIZE, download=False), target):
                    self.signals.ready.emit(style.name, str(target))
                    continue
                # Only the bundled cards' addresses are fetched: a model file from elsewhere makes no requests.
                wanted = style.source == "bundled" and not offline() and cached_painting_path(card) is not None
                sample = target.with_name(f"{target.stem}-sample.png") if wanted else target
                if not sample.exists():
                    self._save(faststyle.swatch(style.path, SWATCH_SIZE, self.sample), sample)
            except Exception:
                continue  # a broken style simply gets no swatch; choosing it shows the error
            self.signals.ready.emit(style.name, str(sample))
            if wanted:
                downloads.append((style, card, target))
        for style, card, target in downloads:
            try:
                picture = painting_swatch(card, SWATCH_SIZE)
            except FaststyleError:
                return  # offline, or the address is blocked: the samples stay
            if self._save(picture, target):
                self.signals.ready.emit(style.name, str(target))

    @staticmethod
    def _save(picture: Image.Image | None, target: Path) -> bool:
        if picture is None:
            return False
        save_image(picture, target)
        return True


class SwatchMaker(QObject):
    """Makes (or loads from cache) a small stylized sample for each style, in the background."""

    ready = Signal(str, str)

    def __init__(self, cache_dir: Path, sample: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.cache_dir, self.sample = cache_dir, sample
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _SwatchSignals()
        self._signals.ready.connect(self.ready)

    def make(self, styles: list) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.pool.start(_SwatchJob(list(styles), self.sample, self.cache_dir, self._signals))
