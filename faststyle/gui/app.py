"""The faststyle desktop app (Qt 6 / PySide6): open a photo, pick a style, compare, save.

A thin shell over the Python API: the window keeps state and forwards requests to
a Stylizer running in a worker thread.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from PIL import Image, ImageQt
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from faststyle import FaststyleError
from faststyle.gui.batch_worker import BatchPainter
from faststyle.gui.compare import SIDE_BY_SIDE, SPLIT, CompareView
from faststyle.gui.gallery import StyleGallery
from faststyle.gui.trainer import StyleTrainer
from faststyle.gui.worker import Stylizer, SwatchMaker
from faststyle.image_io import IMAGE_EXTENSIONS, load_image, save_image
from faststyle.styles import StyleInfo, available_styles, describe, sample_image_path
from faststyle.styles import cache_dir as faststyle_cache_dir  # the window's own `cache_dir` is the swatches'

MAX_SIZES = [("512 px (fastest)", 512), ("1024 px", 1024), ("2048 px", 2048), ("Full size", None)]
STROKES = [("Strokes 1x", 1.0), ("Strokes 2x", 2.0), ("Strokes 3x", 3.0)]
OPEN_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)) + ");;All files (*)"


def _to_qimage(image: Image.Image) -> QImage:
    return ImageQt.ImageQt(image.convert("RGBA" if image.mode == "RGBA" else "RGB")).copy()


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, cache_dir: Path | None = None,
                 load_sample: bool = True):
        super().__init__()
        self.setWindowTitle("faststyle")
        self.settings = settings or QSettings("faststyle", "faststyle")
        self.photo: Image.Image | None = None
        self.photo_path: Path | None = None
        self.result: Image.Image | None = None
        self.style: str | None = None  # name or .onnx path of the chosen style
        self._lite: dict[str, str] = {}  # a style's path -> its lite network's, for instant previews
        self._preview_id: int | None = None  # the request whose result is a lite preview
        self._final: dict | None = None  # the full render to start once the preview is shown
        self.result_is_preview = False
        self.stylizer = Stylizer(self)
        self.stylizer.finished.connect(self._show_result)
        self.stylizer.failed.connect(lambda _id, message: self.show_error(message))
        self.stylizer.busy_changed.connect(self._set_busy)
        self.stylizer.progress.connect(self._progress)
        self._started = time.monotonic()  # of the request in progress, for the time left
        self._task = "Painting"  # what the request in progress is, for the status line
        if cache_dir is None:
            cache_dir = faststyle_cache_dir() / "swatches"
        self.trainer = StyleTrainer(self)
        self.trainer.progress.connect(self._training_progress)
        self.trainer.preview.connect(self._training_preview)
        self.trainer.finished.connect(self._training_finished)
        self.trainer.failed.connect(self._training_failed)
        self.batch = BatchPainter(self)
        self.batch.started.connect(self._batch_started)
        self.batch.progress.connect(self._batch_progress)
        self.batch.finished.connect(self._batch_finished)
        self.swatches = SwatchMaker(cache_dir, sample_image_path("chelsea"), self)
        self.swatches.ready.connect(lambda name, file: self.gallery.set_swatch(name, file))
        self._build()
        self.setAcceptDrops(True)
        self.resize(1180, 760)
        self.refresh_styles()
        if load_sample:
            self.open_image(sample_image_path())

    # --- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        bar = QToolBar("Main", self)
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(bar)
        for text, shortcut, slot in [("Open…", QKeySequence.StandardKey.Open, self.choose_image),
                                     ("Save…", QKeySequence.StandardKey.Save, self.choose_save),
                                     ("Paste", QKeySequence.StandardKey.Paste, self.paste_image),
                                     ("Paint many photos…", None, self.choose_batch),
                                     ("Load style…", None, self.choose_style_file),
                                     ("New style from a painting…", None, self.choose_painting)]:
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            bar.addAction(action)
        bar.addSeparator()
        self.view_mode = QComboBox()
        self.view_mode.addItem("Side by side", SIDE_BY_SIDE)
        self.view_mode.addItem("Split", SPLIT)
        self.view_mode.currentIndexChanged.connect(lambda: self.compare.set_mode(self.view_mode.currentData()))
        bar.addWidget(self.view_mode)
        self.zoom = QComboBox()
        self.zoom.addItems(["Fit", "100 %"])
        self.zoom.currentIndexChanged.connect(lambda i: self.compare.set_fit(i == 0))
        bar.addWidget(self.zoom)
        for text, shortcut, factor in [("Zoom in", QKeySequence.StandardKey.ZoomIn, 1.25),
                                       ("Zoom out", QKeySequence.StandardKey.ZoomOut, 1 / 1.25)]:
            action = QAction(text, self)
            action.setShortcut(shortcut)
            action.triggered.connect(lambda _=False, f=factor: self.compare.zoom_by(f))
            bar.addAction(action)

        self.gallery = StyleGallery()
        self.gallery.chosen.connect(self._style_chosen)

        self.compare = CompareView()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("QLabel { background: #fde8e8; color: #8a1c1c; padding: 8px;"
                                   " border: 1px solid #e8b4b4; border-radius: 4px; }")
        self.message.hide()

        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setValue(100)
        self.strength_label = QLabel("Strength 100 %")
        self.strength.valueChanged.connect(lambda v: self.strength_label.setText(f"Strength {v} %"))
        self.strength.sliderReleased.connect(self._restylize_all)
        self.strength.valueChanged.connect(self._strength_moved)
        self.preserve = QCheckBox("Preserve colours")
        self.preserve.toggled.connect(self._restylize_all)
        self.fast = QCheckBox("Fast")
        self.fast.setToolTip("Paint with the style's lite network: several times faster, a little less detail")
        self.fast.toggled.connect(self._restylize_all)
        self.blend_with = QComboBox()  # filled with the styles by refresh_styles
        self.blend_with.setToolTip("Mix a second style into the chosen one")
        self.blend_with.currentIndexChanged.connect(self._restylize_all)
        self.blend_mix = QSlider(Qt.Orientation.Horizontal)
        self.blend_mix.setRange(0, 100)
        self.blend_mix.setValue(50)
        self.blend_mix.setFixedWidth(90)
        self.blend_mix.setToolTip("How much of the second style")
        self.blend_mix.sliderReleased.connect(self._restylize_all)
        self.strokes = QComboBox()
        for text, value in STROKES:
            self.strokes.addItem(text, value)
        self.strokes.setToolTip("Larger strokes: the picture is painted smaller and brought back to full size "
                                "with the photo's own fine detail")
        self.strokes.currentIndexChanged.connect(self._restylize_all)
        self.max_size = QComboBox()
        for text, value in MAX_SIZES:
            self.max_size.addItem(text, value)
        self.max_size.setCurrentIndex(1)
        self.max_size.currentIndexChanged.connect(self._restylize_all)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate until the tiles of a large picture are counted
        self.busy.setFormat("%p %")
        self.busy.setFixedWidth(120)
        self.busy.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel()
        self.training_bar = QProgressBar()
        self.training_bar.setFormat("%p %")
        self.training_label = QLabel()
        self.training_stop = QPushButton("Stop training")
        self.training_stop.clicked.connect(self.trainer.cancel)
        training = QHBoxLayout()
        for w in (self.training_label, self.training_bar, self.training_stop):
            training.addWidget(w)
            w.setVisible(False)
        training.setStretchFactor(self.training_bar, 1)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self._restylize_all)

        controls = QHBoxLayout()
        for w in (self.strength_label, self.strength, self.preserve, self.fast, self.strokes, self.blend_with,
                  self.blend_mix, QLabel("Resolution"), self.max_size, self.busy, self.cancel_button):
            controls.addWidget(w)
        controls.setStretchFactor(self.strength, 1)
        right = QVBoxLayout()
        right.addWidget(self.message)
        right.addWidget(self.compare, 1)
        right.addLayout(controls)
        right.addLayout(training)
        right.addWidget(self.status)
        left = QVBoxLayout()
        left.addWidget(self.gallery, 1)
        root = QHBoxLayout()
        root.addLayout(left)
        root.addLayout(right, 1)
        central = QWidget()
        central.setLayout(root)
        self.setCentralWidget(central)

    # --- styles -----------------------------------------------------------------------
    def refresh_styles(self, extra: list[Path] = ()) -> None:
        styles = available_styles()
        self.gallery.clear()
        self._lite = {str(s.path): str(s.lite) for s in styles if s.lite}
        self.blend_with.blockSignals(True)
        self.blend_with.clear()
        self.blend_with.addItem("No blend", None)
        for style in styles:
            self.blend_with.addItem(f"Blend with {style.name}", str(style.path))
        self.blend_with.blockSignals(False)
        for style in styles:
            self.gallery.add(style.name, str(style.path), describe(style))
        for path in extra:
            self.gallery.add(path.stem, str(path))
        self.swatches.make(styles)
        if self.style is None:
            self.gallery.select_first()

    def _style_chosen(self, path: str) -> None:
        self.style = path
        self.restylize()

    def select_style(self, name: str) -> None:
        self.gallery.select(name)

    def choose_style_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a style model", self._recent_dir(), "ONNX models (*.onnx)")
        if path:
            self.load_style_file(Path(path))

    def load_style_file(self, path: Path) -> None:
        self.gallery.add(path.stem, str(path))
        self.swatches.make([StyleInfo(path.stem, path, "file")])
        self.gallery.select(path.stem)

    # --- a new style ------------------------------------------------------------------
    def choose_painting(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A painting to make a style from", self._recent_dir(), OPEN_FILTER)
        if path:
            self.train_style(Path(path))

    def train_style(self, painting: Path, name: str | None = None) -> bool:
        """Starts making a style from `painting` in a separate process; the window stays usable."""
        self.hide_error()
        if not self.trainer.start(painting, name, self.photo_path):
            return False
        self.training_label.setText(f"New style {self.trainer.name}: starting…")
        self.training_bar.setValue(0)
        for w in (self.training_label, self.training_bar, self.training_stop):
            w.setVisible(True)
        return True

    def _training_progress(self, done: int, total: int, seconds_left: float) -> None:
        self.training_bar.setMaximum(max(total, 1))
        self.training_bar.setValue(done)
        left = f", about {_duration(seconds_left)} left" if seconds_left >= 0 else ""
        self.training_label.setText(f"New style {self.trainer.name}: step {done} of {total}{left}")

    def _training_preview(self, path: str) -> None:
        # The run paints the open photo (or the sample) as it learns: shown as the result meanwhile.
        self.compare.set_images(self.compare.original, QImage(path))
        self.status.setText(f"Preview of the new style {self.trainer.name} as it learns")

    def _training_finished(self, name: str, path: str) -> None:
        self._end_training()
        self.refresh_styles()
        self.select_style(name)
        self.status.setText(f"New style {name} is ready ({path})")

    def _training_failed(self, message: str) -> None:
        self._end_training()
        self.show_error(message)

    def _end_training(self) -> None:
        for w in (self.training_label, self.training_bar, self.training_stop):
            w.setVisible(False)

    # --- photo in -------------------------------------------------------------------
    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", self._recent_dir(), OPEN_FILTER)
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> bool:
        try:
            image = load_image(path)
        except FaststyleError as exc:
            self.show_error(str(exc))
            return False
        self.photo_path = Path(path)
        self.settings.setValue("recent_dir", str(self.photo_path.parent))
        self._set_photo(image, self.photo_path.name)
        return True

    def paste_image(self) -> None:
        qimage = QGuiApplication.clipboard().image()
        if qimage.isNull():
            self.show_error("the clipboard holds no image")
            return
        self.photo_path = None
        self._set_photo(ImageQt.fromqimage(qimage).convert("RGB"), "pasted image")

    def _set_photo(self, image: Image.Image, label: str) -> None:
        self.photo, self.result = image, None
        self.hide_error()
        self.compare.set_images(_to_qimage(image), None)
        self.setWindowTitle(f"faststyle — {label}")
        self.restylize()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if len(paths) == 1 and not paths[0].is_dir():
            self.open_image(paths[0])
        elif paths:  # several photos or a folder: a batch, into "painted" beside them
            self.paint_batch(paths, paths[0].parent / "painted")

    # --- many photos ----------------------------------------------------------------
    def choose_batch(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Photos to paint in the chosen style", self._recent_dir(),
                                                OPEN_FILTER)
        if not files:
            return
        start = str(Path(files[0]).parent / "painted")
        folder = QFileDialog.getExistingDirectory(self, "Folder for the paintings", start)
        if folder:
            self.paint_batch([Path(f) for f in files], Path(folder))

    def paint_batch(self, inputs: list[Path], output: Path) -> bool:
        """Paints photos (and the photos in folders) at full size in the chosen style into `output`,
        named and skipped as `faststyle stylize` does; one progress for all. False if it cannot start."""
        if self.style is None:
            self.show_error("choose a style first, then the photos to paint in it")
            return False
        self.hide_error()
        try:
            label = self.style_label()
        except FaststyleError as exc:
            self.show_error(str(exc))
            return False
        options = {k: v for k, v in self._options(None).items() if k != "max_size"}
        if not self.batch.start(inputs, self._painting_style(), label, output, **options):
            self.show_error("a batch is already running; wait for it or cancel it")
            return False
        self._batch_output = output
        self._set_busy(True)
        self.status.setText("Batch: finding the photos…")
        return True

    def _batch_started(self, count: int, skipped: int) -> None:
        self._task = f"Batch of {count}" + (f" ({skipped} already painted, skipped)" if skipped else "")

    def _batch_progress(self, done: int, total: int, name: str) -> None:
        self.busy.setRange(0, max(total, 1))
        self.busy.setValue(done)
        self.status.setText(f"{self._task}: {done} of {total} done{self._time_left(done, total)} ({name})")

    def _batch_finished(self, written: list, errors: list, cancelled: bool) -> None:
        self._set_busy(self.stylizer.busy)
        if errors:
            more = f"\n… and {len(errors) - 5} more" if len(errors) > 5 else ""
            self.show_error(f"{len(errors)} photo(s) could not be painted:\n" + "\n".join(errors[:5]) + more)
        what = "cancelled: " if cancelled else ""
        self.status.setText(f"Batch {what}{len(written)} painted into {self._batch_output}"
                            + (f", {len(errors)} failed" if errors else ""))

    # --- stylize --------------------------------------------------------------------
    def _strength_moved(self) -> None:
        if self.strength.isSliderDown():
            self.restylize(preview_only=True)  # live while dragging, where a lite network makes it quick
        else:
            self._debounce.start()

    def _restylize_all(self, *_signal_arguments) -> None:
        """For controls' signals, whose argument (an index, a checked state) is no `preview_only`."""
        self.restylize()

    def restylize(self, preview_only: bool = False) -> None:
        """Paints the photo: first with the style's lite network (at once), then with the full one.

        preview_only: the lite picture only (while a slider is dragged); nothing without a lite network.
        """
        if self.photo is None or self.style is None:
            return
        self.hide_error()
        options = self._options(self.max_size.currentData())
        lite = self._painting_style(preview=True)
        if lite is None and preview_only:
            return
        self._final = None if preview_only else {"style": self._painting_style(), **options}
        if lite is None or self.fast.isChecked():  # no quicker picture to show first
            self._submit_final()
            return
        self._preview_id = self.stylizer.submit(self.photo, lite, **options)
        self.status.setText(f"Preview of {Path(self.style).stem} (lite network)…")

    def _options(self, max_size: int | None) -> dict:
        """How the picture is painted, as the controls say (the same for the screen and for saving)."""
        return {"strength": self.strength.value() / 100, "preserve_colors": self.preserve.isChecked(),
                "max_size": max_size, "stroke_scale": self.strokes.currentData()}

    def _painting_style(self, preview: bool = False) -> str | None:
        """What the picture is painted with, as faststyle.stylize takes it: the chosen style's network,
        or a blend spec 'a.onnx:0.6,b.onnx:0.4' with the style in "Blend with"; the lite networks
        when Fast is on (where every part has one). preview: the lite networks' quick picture, or None."""
        mix = self.blend_mix.value() / 100
        partner = self.blend_with.currentData()
        parts = [(self.style, 1 - mix)] + ([(partner, mix)] if partner and partner != self.style else [])
        has_lite = all(path in self._lite for path, _ in parts)
        if preview and not has_lite:
            return None
        if (preview or self.fast.isChecked()) and has_lite:
            parts = [(self._lite[path], weight) for path, weight in parts]
        return parts[0][0] if len(parts) == 1 else ",".join(f"{path}:{weight:g}" for path, weight in parts)

    def style_label(self) -> str:
        """How outputs are named after the style: 'wave', 'wave-lite', 'wave60+udnie40'."""
        from faststyle.api import as_model

        model = as_model(self._painting_style())
        return model.name + ("-lite" if model.is_lite and not model.name.endswith("-lite") else "")

    def _submit_final(self) -> None:
        final, self._final, self._preview_id = self._final, None, None
        self.stylizer.submit(self.photo, final.pop("style"), **final)
        self._task = f"Painting in {Path(self.style).stem}"
        self.status.setText(f"{self._task}…")

    def cancel(self) -> None:
        self.stylizer.cancel()
        self.batch.cancel()  # after the photo in progress: no half-written output
        self.status.setText("Cancelled")

    def _set_busy(self, busy: bool) -> None:
        busy = busy or self.batch.busy  # a batch keeps the bar while single pictures come and go
        self.busy.setRange(0, 0)
        self.busy.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self._started = time.monotonic()

    def _progress(self, request_id: int, done: int, total: int) -> None:
        """A picture painted in tiles: a moving percentage and the time left."""
        if total < 2:
            return
        self.busy.setRange(0, total)
        self.busy.setValue(done)
        self.status.setText(f"{self._task}: {100 * done // total} %{self._time_left(done, total)}")

    def _time_left(self, done: int, total: int) -> str:
        """', about 20 s left' from the pace since the job started ('' before the first step)."""
        if not 0 < done < total:
            return ""
        return f", about {_duration((time.monotonic() - self._started) / done * (total - done))} left"

    def _show_result(self, request_id: int, image: Image.Image) -> None:
        self.result = image
        self.result_is_preview = request_id == self._preview_id
        self.compare.set_images(self.compare.original, _to_qimage(image))
        if self.result_is_preview and self._final:
            self._submit_final()
            self.status.setText(f"{Path(self.style).stem}: preview shown, painting the full picture…")
        elif self.result_is_preview:
            self.status.setText(f"{Path(self.style).stem}: preview (lite network)")
        else:
            self.status.setText(f"{Path(self.style).stem}: {image.width} x {image.height}")

    # --- result out -----------------------------------------------------------------
    def default_save_name(self) -> str:
        stem = self.photo_path.stem if self.photo_path else "pasted"
        try:
            label = self.style_label()
        except FaststyleError:
            label = Path(self.style or "style").stem
        return f"{stem}.{label}.png"

    def choose_save(self) -> None:
        if self.result is None:
            self.show_error("nothing to save yet: open a photo and pick a style first")
            return
        w, h = self.photo.size
        start = str(Path(self._recent_dir()) / self.default_save_name())
        path, _ = QFileDialog.getSaveFileName(self, f"Save the painting at the photo's full size, {w} x {h}", start,
                                              "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)")
        if path:
            self.save_result(Path(path))

    def save_result(self, path: Path) -> bool:
        """Writes the painting at the photo's full size (painted again if the screen shows a smaller
        one, in tiles, with progress and Cancel), with the photo's metadata; True once written."""
        if self.result is None:
            return False
        if self.result_is_preview:
            self.show_error("this is the quick preview; the full picture is still being painted, save it when it shows")
            return False
        if self.photo_path is not None and path.resolve() == self.photo_path.resolve():
            self.show_error(f"{path}: that is the original photo; choose another name")
            return False
        image = self.result if self.result.size == self.photo.size else self._paint_full_size()
        if image is None:
            return False
        try:
            save_image(image, path)
        except (FaststyleError, OSError) as exc:
            self.show_error(str(exc))
            return False
        self.status.setText(f"Saved {path} ({image.width} x {image.height})")
        return True

    def _paint_full_size(self) -> Image.Image | None:
        """Paints the photo at its full size in the worker while the window stays live; None if
        cancelled or failed (the message is shown)."""
        request = self.stylizer.submit(self.photo, self._painting_style(), **self._options(None))
        self._task = f"Saving at full size, {self.photo.width} x {self.photo.height}"
        self.status.setText(f"{self._task}…")
        outcome: dict = {}
        loop = QEventLoop()

        def finished(rid: int, image) -> None:
            if rid == request:
                outcome["image"] = image
                loop.quit()

        def ended(rid: int, *_) -> None:
            if rid == request:
                loop.quit()

        signals = [(self.stylizer.finished, finished), (self.stylizer.failed, ended), (self.stylizer.cancelled, ended)]
        for signal_, slot in signals:
            signal_.connect(slot)
        if self.stylizer.busy:  # not finished before the loop starts
            loop.exec()
        for signal_, slot in signals:
            signal_.disconnect(slot)
        if "image" not in outcome and not self.message.isVisible():
            self.status.setText("Save cancelled")
        return outcome.get("image")

    # --- messages -------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.message.setText(message)
        self.message.show()
        self.status.setText("Error")

    def hide_error(self) -> None:
        self.message.hide()

    def _recent_dir(self) -> str:
        return str(self.settings.value("recent_dir", str(Path.home())))

    def closeEvent(self, event) -> None:
        self.trainer.cancel()  # the run keeps its checkpoints: the next start goes on from them
        self.trainer.wait(10000)
        self.stylizer.cancel()
        self.stylizer.wait(5000)
        self.batch.cancel()
        self.batch.wait(30000)
        self.swatches.pool.waitForDone(5000)
        super().closeEvent(event)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def quit_on_signals(app: QApplication) -> QTimer:
    """Ctrl-C and SIGTERM (a logout, `kill`) close the app as its window's close button does.

    Python runs a signal handler only when the interpreter gets control, which Qt's event loop
    never gives it while idle: a timer hands it over a few times a second.
    """
    def close(*_):
        for widget in app.topLevelWidgets():
            widget.close()  # the window's closeEvent stops the workers and a training run
        app.quit()

    signal.signal(signal.SIGINT, close)
    signal.signal(signal.SIGTERM, close)
    timer = QTimer(app, interval=200)
    timer.timeout.connect(lambda: None)
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("faststyle")
    quit_on_signals(app)
    window = MainWindow()
    if len(argv) > 1:
        window.open_image(Path(argv[1]))
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
