"""Before/after view: side by side, or one over the other with a draggable split line."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QSizePolicy, QToolBar, QWidget

SIDE_BY_SIDE, SPLIT = "side", "split"


ZOOM_STEP, MIN_ZOOM, MAX_ZOOM = 1.25, 0.05, 16.0


class CompareView(QWidget):
    """Paints the original and the result; fit, or a zoom (the wheel, zoom_by) with panning by dragging.

    A zoom is screen pixels per pixel of the original photo: the result, which may have been painted
    smaller, is drawn over the same area."""

    split_moved = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.original: QImage | None = None
        self.result: QImage | None = None
        self.mode = SIDE_BY_SIDE
        self.zoom: float | None = None  # None: fit the pane
        self.split = 0.5  # position of the split line, 0..1 of the image width
        self.placeholder = "Open a photo (Ctrl+O) or drop one here"
        self._offset = QPointF(0, 0)
        self._drag: str | None = None
        self._drag_start = QPointF()
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    # --- state ------------------------------------------------------------------------
    def add_controls(self, bar: QToolBar) -> None:
        """The view's controls on a toolbar: side by side or split, fit or 100 %, zoom in and out."""
        self.mode_box = QComboBox()
        self.mode_box.addItem("Side by side", SIDE_BY_SIDE)
        self.mode_box.addItem("Split", SPLIT)
        self.mode_box.currentIndexChanged.connect(lambda: self.set_mode(self.mode_box.currentData()))
        bar.addWidget(self.mode_box)
        self.zoom_box = QComboBox()
        self.zoom_box.addItems(["Fit", "100 %"])
        self.zoom_box.currentIndexChanged.connect(lambda i: self.set_fit(i == 0))
        bar.addWidget(self.zoom_box)
        for text, shortcut, factor in [("Zoom in", QKeySequence.StandardKey.ZoomIn, 1.25),
                                       ("Zoom out", QKeySequence.StandardKey.ZoomOut, 1 / 1.25)]:
            action = QAction(text, bar)
            action.setShortcut(shortcut)
            action.triggered.connect(lambda _=False, f=factor: self.zoom_by(f))
            bar.addAction(action)

    def set_images(self, original: QImage | None, result: QImage | None) -> None:
        self.original, self.result = original, result
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.update()

    @property
    def fit(self) -> bool:
        return self.zoom is None

    def set_fit(self, fit: bool) -> None:
        """Fit the pane, or 100 % (one photo pixel per screen pixel)."""
        self.set_zoom(None if fit else 1.0)

    def set_zoom(self, zoom: float | None) -> None:
        self.zoom = None if zoom is None else min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if zoom is None:
            self._offset = QPointF(0, 0)
        self.update()

    def zoom_by(self, factor: float) -> None:
        """Zooms in (factor > 1) or out from what is shown now, fitted or not."""
        if self.original is not None:
            self.set_zoom(self._scale(self._panes()[0], self.original) * self.devicePixelRatioF() * factor)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps and self.original is not None:
            self.zoom_by(ZOOM_STEP ** steps)

    # --- geometry ---------------------------------------------------------------------
    def _panes(self) -> list[QRectF]:
        """Screen rectangles of the panes: two for side by side, one for split."""
        r = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        if self.mode == SIDE_BY_SIDE and self.result is not None:
            half = (r.width() - 8) / 2
            return [QRectF(r.left(), r.top(), half, r.height()), QRectF(r.left() + half + 8, r.top(), half, r.height())]
        return [r]

    def _scale(self, pane: QRectF, image: QImage) -> float:
        """Widget units per pixel of the original photo."""
        reference = self.original or image
        w, h = reference.width(), reference.height()
        if self.fit:
            return min(pane.width() / w, pane.height() / h)
        return self.zoom / self.devicePixelRatioF()

    def _image_rect(self, pane: QRectF, image: QImage) -> QRectF:
        reference = self.original or image
        scale = self._scale(pane, image)
        size = QRectF(0, 0, reference.width() * scale, reference.height() * scale)  # a smaller result fills it too
        size.moveCenter(pane.center() + (QPointF(0, 0) if self.fit else self._offset))
        return size

    # --- painting ---------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(115))
        if self.original is None:
            p.setPen(self.palette().color(self.foregroundRole()))
            font = p.font()
            font.setPointSizeF(font.pointSizeF() * 1.3)
            p.setFont(font)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        panes = self._panes()
        if self.mode == SIDE_BY_SIDE or self.result is None:
            for pane, image in zip(panes, [self.original, self.result]):
                if image is not None:
                    p.save()
                    p.setClipRect(pane)
                    p.drawImage(self._image_rect(pane, image), image)
                    p.restore()
            return
        target = self._image_rect(panes[0], self.original)
        p.save()
        p.setClipRect(panes[0])
        p.drawImage(target, self.result)
        x = target.left() + target.width() * self.split
        p.setClipRect(QRectF(target.left(), target.top(), x - target.left(), target.height()).intersected(panes[0]))
        p.drawImage(target, self.original)
        p.restore()
        p.setPen(QPen(QColor(255, 255, 255, 230), 2))
        p.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        p.setBrush(QColor(255, 255, 255, 230))
        p.drawEllipse(QPointF(x, target.center().y()), 7, 7)

    # --- mouse: drag the split line, or pan at 100 % ---------------------------------
    def _split_x(self) -> float | None:
        if self.mode != SPLIT or self.original is None or self.result is None:
            return None
        target = self._image_rect(self._panes()[0], self.original)
        return target.left() + target.width() * self.split

    def mousePressEvent(self, event) -> None:
        x = self._split_x()
        if x is not None and abs(event.position().x() - x) < 12:
            self._drag = "split"
        elif not self.fit:
            self._drag = "pan"
            self._drag_start = event.position() - self._offset

    def mouseMoveEvent(self, event) -> None:
        x = self._split_x()
        near = x is not None and abs(event.position().x() - x) < 12
        self.setCursor(Qt.CursorShape.SplitHCursor if near or self._drag == "split" else Qt.CursorShape.ArrowCursor)
        if self._drag == "split":
            self.set_split_at(event.position().x())
        elif self._drag == "pan":
            self._offset = event.position() - self._drag_start
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        self._drag = None

    def set_split_at(self, x: float) -> None:
        """Moves the split line to widget x-coordinate `x`."""
        if self.original is None:
            return
        target = self._image_rect(self._panes()[0], self.original)
        self.split = min(1.0, max(0.0, (x - target.left()) / max(1.0, target.width())))
        self.split_moved.emit(self.split)
        self.update()
