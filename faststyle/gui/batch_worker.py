"""Many photos from the app: the command line's folder run (batch.py: names, skipping, one-line
errors) in a worker thread, with one progress for the whole batch and Cancel between photos."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal

from faststyle.api import as_model
from faststyle.batch import DiskFull, find_inputs, is_output_of, paint_job, plan_outputs, skip_existing
from faststyle.errors import FaststyleError
from faststyle.gui.jobs import OneJobAtATime
from faststyle.runtime import CancelToken


class _Signals(QObject):
    started = Signal(int, int)            # photos to paint, photos skipped (their output exists)
    progress = Signal(int, int, str)      # photos done, in all, the one being painted
    finished = Signal(list, list, bool)   # outputs written, error lines, cancelled


class _BatchJob(QRunnable):
    def __init__(self, inputs: list[Path], style: str, label: str, output: Path, options: dict,
                 token: CancelToken, signals: _Signals):
        super().__init__()
        self.inputs, self.style, self.label, self.output = inputs, style, label, output
        self.options, self.token, self.signals = options, token, signals

    def run(self) -> None:
        written, errors = [], []
        try:
            found, _ = find_inputs([str(p) for p in self.inputs], skip=lambda p: is_output_of(p, {self.label}))
            jobs, skipped = skip_existing(plan_outputs(found, [self.label], str(self.output) + "/"))
            model = as_model(self.style)
        except FaststyleError as exc:
            self.signals.finished.emit([], [str(exc)], False)
            return
        self.signals.started.emit(len(jobs), skipped)
        for i, job in enumerate(jobs):
            if self.token.cancelled:
                break
            self.signals.progress.emit(i, len(jobs), job.source.name)
            try:
                error = paint_job(job, model, **self.options)
            except DiskFull as exc:
                errors.append(str(exc))
                break
            except Exception as exc:  # the window must survive anything a file or model throws
                error = f"{job.source}: {type(exc).__name__}: {exc}"
            if error:
                errors.append(error)
            else:
                written.append(str(job.target))
            self.signals.progress.emit(i + 1, len(jobs), job.source.name)
        self.signals.finished.emit(written, errors, self.token.cancelled)


class BatchPainter(OneJobAtATime):
    """Paints many photos in one style into a folder, one batch at a time; cancel() stops after the
    photo being painted (which is finished, not left half-written)."""

    started = Signal(int, int)
    progress = Signal(int, int, str)
    finished = Signal(list, list, bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._signals = _Signals()
        for name in ("started", "progress", "finished"):
            getattr(self._signals, name).connect(getattr(self, name))

    def start(self, inputs: list[Path], style: str, label: str, output: Path, **options) -> bool:
        """Files and folders (searched through) -> output/NAME.LABEL.EXT; False if one is running."""
        return self._run(lambda token: _BatchJob(list(inputs), style, label, Path(output), options, token,
                                                 self._signals))
