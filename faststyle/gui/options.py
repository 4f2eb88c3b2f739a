"""The row under the picture: how it is painted, and the progress of what is being painted."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSlider, QWidget

from faststyle.styles import StyleInfo

MAX_SIZES = [("512 px (fastest)", 512), ("1024 px", 1024), ("2048 px", 2048), ("Full size", None)]
STROKES = [("Strokes 1x", 1.0), ("Strokes 2x", 2.0), ("Strokes 3x", 3.0)]


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


class PaintOptions(QWidget):
    """Strength, colours, the lite network, stroke size, a second style to blend in, resolution;
    then a progress bar and Cancel while something is painted.

    changed: paint again (a control was set; a dragged slider once it rests for a moment).
    dragged: the strength slider is moving: a quick preview, where a lite network makes it quick.
    cancel: Cancel was pressed.
    """

    changed = Signal()
    dragged = Signal()
    cancel = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setValue(100)
        self.strength_label = QLabel("Strength 100 %")
        self.strength.valueChanged.connect(lambda v: self.strength_label.setText(f"Strength {v} %"))
        self.strength.sliderReleased.connect(self.changed)
        self.strength.valueChanged.connect(self._strength_moved)
        self.preserve = QCheckBox("Preserve colours")
        self.fast = QCheckBox("Fast")
        self.fast.setToolTip("Paint with the style's lite network: several times faster, a little less detail")
        self.blend_with = QComboBox()  # filled with the styles by set_styles
        self.blend_with.setToolTip("Mix a second style into the chosen one")
        self.blend_mix = QSlider(Qt.Orientation.Horizontal)
        self.blend_mix.setRange(0, 100)
        self.blend_mix.setValue(50)
        self.blend_mix.setFixedWidth(90)
        self.blend_mix.setToolTip("How much of the second style")
        self.blend_mix.sliderReleased.connect(self.changed)
        self.strokes = QComboBox()
        for text, value in STROKES:
            self.strokes.addItem(text, value)
        self.strokes.setToolTip("Larger strokes: the picture is painted smaller and brought back to full size "
                                "with the photo's own fine detail")
        self.max_size = QComboBox()
        for text, value in MAX_SIZES:
            self.max_size.addItem(text, value)
        self.max_size.setCurrentIndex(1)
        for toggled in (self.preserve.toggled, self.fast.toggled):
            toggled.connect(self.changed)
        for combo in (self.blend_with, self.strokes, self.max_size):
            combo.currentIndexChanged.connect(self.changed)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate until the tiles of a large picture are counted
        self.busy.setFormat("%p %")
        self.busy.setFixedWidth(120)
        self.busy.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.changed)
        self._started = time.monotonic()  # of the job in progress, for the time left

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.strength_label, self.strength, self.preserve, self.fast, self.strokes, self.blend_with,
                  self.blend_mix, QLabel("Resolution"), self.max_size, self.busy, self.cancel_button):
            row.addWidget(w)
        row.setStretchFactor(self.strength, 1)

    def _strength_moved(self) -> None:
        if self.strength.isSliderDown():
            self.dragged.emit()
        else:
            self._debounce.start()

    def set_styles(self, styles: list[StyleInfo]) -> None:
        """The styles offered in "Blend with" (no signal: the picture has not changed)."""
        self.blend_with.blockSignals(True)
        self.blend_with.clear()
        self.blend_with.addItem("No blend", None)
        for style in styles:
            self.blend_with.addItem(f"Blend with {style.name}", str(style.path))
        self.blend_with.blockSignals(False)

    def values(self, max_size: int | None) -> dict:
        """faststyle.stylize's options as the controls say (the same for the screen and for saving)."""
        return {"strength": self.strength.value() / 100, "preserve_colors": self.preserve.isChecked(),
                "max_size": max_size, "stroke_scale": self.strokes.currentData()}

    @property
    def resolution(self) -> int | None:
        """The long side the screen's picture is painted at (None: the photo's own)."""
        return self.max_size.currentData()

    def blend(self) -> tuple[str | None, float]:
        """The second style's model path (None: no blend) and its share."""
        return self.blend_with.currentData(), self.blend_mix.value() / 100

    # --- progress ---------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        self.busy.setRange(0, 0)
        self.busy.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self._started = time.monotonic()

    def set_progress(self, done: int, total: int) -> None:
        self.busy.setRange(0, max(total, 1))
        self.busy.setValue(done)

    def time_left(self, done: int, total: int) -> str:
        """', about 20 s left' from the pace since the job started ('' before the first step)."""
        if not 0 < done < total:
            return ""
        return f", about {duration((time.monotonic() - self._started) / done * (total - done))} left"
