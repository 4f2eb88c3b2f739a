"""One long job at a time (a batch of photos, a video) in a worker thread, with Cancel: what
BatchPainter and VideoPainter share. A subclass makes the QRunnable, which checks the token
between its steps and ends by emitting the subclass's `finished`."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool

from faststyle.runtime import CancelToken


class OneJobAtATime(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._token: CancelToken | None = None
        self.finished.connect(self._done)  # each subclass declares its own `finished` signal

    @property
    def busy(self) -> bool:
        return self._token is not None

    def _run(self, job: Callable[[CancelToken], QRunnable]) -> bool:
        """Starts job(token) unless one is running (then False)."""
        if self.busy:
            return False
        self._token = CancelToken()
        self.pool.start(job(self._token))
        return True

    def _done(self, *_) -> None:
        self._token = None

    def cancel(self) -> None:
        """Stops the job at its next step (a photo, a frame); what it finished is kept."""
        if self._token is not None:
            self._token.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
