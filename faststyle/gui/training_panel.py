"""A new style being made: a line with its step, the time left and Stop; hidden otherwise."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from faststyle.gui.options import duration
from faststyle.gui.trainer import StyleTrainer


class TrainingPanel(QWidget):
    """Shows a StyleTrainer's run; the window handles what the run makes (previews, the style)."""

    def __init__(self, trainer: StyleTrainer, parent=None):
        super().__init__(parent)
        self.trainer = trainer
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFormat("%p %")
        self.stop = QPushButton("Stop training")
        self.stop.clicked.connect(trainer.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.bar, self.stop):
            row.addWidget(w)
        row.setStretchFactor(self.bar, 1)
        trainer.progress.connect(self._progress)
        trainer.finished.connect(self.hide)
        trainer.failed.connect(self.hide)
        self.hide()

    def started(self) -> None:
        self.label.setText(f"New style {self.trainer.name}: starting…")
        self.bar.setValue(0)
        self.show()

    def _progress(self, done: int, total: int, seconds_left: float) -> None:
        self.bar.setMaximum(max(total, 1))
        self.bar.setValue(done)
        left = f", about {duration(seconds_left)} left" if seconds_left >= 0 else ""
        self.label.setText(f"New style {self.trainer.name}: step {done} of {total}{left}")
