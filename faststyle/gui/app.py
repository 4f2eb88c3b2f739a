"""The faststyle desktop app (Qt 6 / PySide6): open a photo, pick a style, compare, save.

A thin shell over the Python API: the window keeps state and forwards requests to
a Stylizer running in a worker thread.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageQt
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QMainWindow, QToolBar, QVBoxLayout, QWidget

from faststyle import FaststyleError
from faststyle.batch import video_targets
from faststyle.files import same_file
from faststyle.gui.batch_worker import BatchPainter
from faststyle.gui.compare import CompareView
from faststyle.gui.gallery import StyleGallery
from faststyle.gui.options import PaintOptions
from faststyle.gui.trainer import StyleTrainer
from faststyle.gui.training_panel import TrainingPanel
from faststyle.gui.video_worker import VideoPainter
from faststyle.gui.worker import Stylizer, SwatchMaker
from faststyle.image_io import IMAGE_EXTENSIONS, load_image, save_image
from faststyle.styles import StyleInfo, available_styles, describe, sample_image_path
from faststyle.styles import cache_dir as faststyle_cache_dir  # the window's own `cache_dir` is the swatches'
from faststyle.video import VIDEO_EXTENSIONS

OPEN_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)) + ");;All files (*)"
VIDEO_FILTER = "Videos (" + " ".join(f"*{e}" for e in sorted(VIDEO_EXTENSIONS)) + ");;All files (*)"


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
        self._task = "Painting"  # what the request in progress is, for the status line
        if cache_dir is None:
            cache_dir = faststyle_cache_dir() / "swatches"
        self.trainer = StyleTrainer(self)
        self.trainer.preview.connect(self._training_preview)
        self.trainer.finished.connect(self._training_finished)
        self.trainer.failed.connect(self._training_failed)
        self.batch = BatchPainter(self)
        self.batch.started.connect(self._batch_started)
        self.batch.progress.connect(self._batch_progress)
        self.batch.finished.connect(self._batch_finished)
        self.video = VideoPainter(self)
        self.video.progress.connect(self._video_progress)
        self.video.finished.connect(self._video_finished)
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
                                     ("Paint a video…", None, self.choose_video),
                                     ("Load style…", None, self.choose_style_file),
                                     ("New style from a painting…", None, self.choose_painting)]:
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            bar.addAction(action)
        bar.addSeparator()
        self.compare = CompareView()
        self.compare.add_controls(bar)
        self.gallery = StyleGallery()
        self.gallery.chosen.connect(self._style_chosen)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("QLabel { background: #fde8e8; color: #8a1c1c; padding: 8px;"
                                   " border: 1px solid #e8b4b4; border-radius: 4px; }")
        self.message.hide()

        self.options = PaintOptions()
        self.options.changed.connect(self.restylize)
        self.options.dragged.connect(lambda: self.restylize(preview_only=True))
        self.options.cancel.connect(self.cancel)
        self.status = QLabel()
        self.training = TrainingPanel(self.trainer)

        right = QVBoxLayout()
        right.addWidget(self.message)
        right.addWidget(self.compare, 1)
        right.addWidget(self.options)
        right.addWidget(self.training)
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
        self.options.set_styles(styles)
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
        self.training.started()
        return True

    def _training_preview(self, path: str) -> None:
        # The run paints the open photo (or the sample) as it learns: shown as the result meanwhile.
        self.compare.set_images(self.compare.original, QImage(path))
        self.status.setText(f"Preview of the new style {self.trainer.name} as it learns")

    def _training_finished(self, name: str, path: str) -> None:
        self.refresh_styles()
        self.select_style(name)
        self.status.setText(f"New style {name} is ready ({path})")

    def _training_failed(self, message: str) -> None:
        self.show_error(message)

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
        options = {k: v for k, v in self.options.values(None).items() if k != "max_size"}
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
        self.options.set_progress(done, total)
        self.status.setText(f"{self._task}: {done} of {total} done{self.options.time_left(done, total)} ({name})")

    def _batch_finished(self, written: list, errors: list, cancelled: bool) -> None:
        self._set_busy(self.stylizer.busy)
        if errors:
            more = f"\n… and {len(errors) - 5} more" if len(errors) > 5 else ""
            self.show_error(f"{len(errors)} photo(s) could not be painted:\n" + "\n".join(errors[:5]) + more)
        what = "cancelled: " if cancelled else ""
        self.status.setText(f"Batch {what}{len(written)} painted into {self._batch_output}"
                            + (f", {len(errors)} failed" if errors else ""))

    # --- video ----------------------------------------------------------------------
    def choose_video(self) -> None:
        source, _ = QFileDialog.getOpenFileName(self, "A video to paint in the chosen style", self._recent_dir(),
                                                VIDEO_FILTER)
        if not source:
            return
        start = str(video_targets(source, [self._output_label()], str(Path(source).parent) + "/")[0])
        target, _ = QFileDialog.getSaveFileName(self, "Save the painted video", start,
                                                "Videos (*.mp4 *.mov *.mkv *.webm)")
        if target:
            self.paint_video(Path(source), Path(target))

    def paint_video(self, source: Path, target: Path) -> bool:
        """Paints a video at its own size in the chosen style, steadily, as `faststyle video` does,
        with the sound kept; one progress by frames. False if it cannot start."""
        if self.style is None:
            self.show_error("choose a style first, then the video to paint in it")
            return False
        if self.video.busy:
            self.show_error("a video is already being painted; wait for it or cancel it")
            return False
        if same_file(target, source):
            self.show_error(f"{target.name}: the painted video cannot replace the one it is painted from; "
                            "choose another name")
            return False
        self.hide_error()
        values = self.options.values(None)
        if not self.video.start(source, target, self._painting_style(), strength=values["strength"],
                                preserve_colors=values["preserve_colors"], stroke_scale=values["stroke_scale"]):
            return False
        self._set_busy(True)
        self.status.setText(f"Video: starting {source.name}…")
        return True

    def _video_progress(self, done: int, total: int) -> None:
        self.options.set_progress(done, total)
        self.status.setText(f"Video: frame {done} of {total}{self.options.time_left(done, total)}")

    def _video_finished(self, written: str, error: str, cancelled: bool) -> None:
        self._set_busy(self.stylizer.busy)
        if error:
            self.show_error(error)
            self.status.setText("Video: not painted")
        else:
            self.status.setText("Video cancelled: nothing written" if cancelled else f"Video written: {written}")

    # --- stylize --------------------------------------------------------------------
    def restylize(self, preview_only: bool = False) -> None:
        """Paints the photo: first with the style's lite network (at once), then with the full one.

        preview_only: the lite picture only (while a slider is dragged); nothing without a lite network.
        """
        if self.photo is None or self.style is None:
            return
        self.hide_error()
        options = self.options.values(self.options.resolution)
        lite = self._painting_style(preview=True)
        if lite is None and preview_only:
            return
        self._final = None if preview_only else {"style": self._painting_style(), **options}
        if lite is None or self.options.fast.isChecked():  # no quicker picture to show first
            self._submit_final()
            return
        self._preview_id = self.stylizer.submit(self.photo, lite, **options)
        self.status.setText(f"Preview of {Path(self.style).stem} (lite network)…")

    def _painting_style(self, preview: bool = False) -> str | None:
        """What the picture is painted with, as faststyle.stylize takes it: the chosen style's network,
        or a blend spec 'a.onnx:0.6,b.onnx:0.4' with the style in "Blend with"; the lite networks
        when Fast is on (where every part has one). preview: the lite networks' quick picture, or None."""
        partner, mix = self.options.blend()
        parts = [(self.style, 1 - mix)] + ([(partner, mix)] if partner and partner != self.style else [])
        has_lite = all(path in self._lite for path, _ in parts)
        if preview and not has_lite:
            return None
        if (preview or self.options.fast.isChecked()) and has_lite:
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
        self.video.cancel()  # after the frame in progress; the unfinished file is removed
        self.status.setText("Cancelled")

    def _set_busy(self, busy: bool) -> None:
        # A batch or a video keeps the bar while single pictures come and go.
        self.options.set_busy(busy or self.batch.busy or self.video.busy)

    def _progress(self, request_id: int, done: int, total: int) -> None:
        """A picture painted in tiles: a moving percentage and the time left."""
        if total < 2:
            return
        self.options.set_progress(done, total)
        self.status.setText(f"{self._task}: {100 * done // total} %{self.options.time_left(done, total)}")

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
        return f"{stem}.{self._output_label()}.png"

    def _output_label(self) -> str:
        """What a saved picture or video is named after: the style's label, or its file's name."""
        try:
            return self.style_label()
        except FaststyleError:
            return Path(self.style or "style").stem

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
        self._task = f"Saving at full size, {self.photo.width} x {self.photo.height}"
        self.status.setText(f"{self._task}…")
        image = self.stylizer.paint_and_wait(self.photo, self._painting_style(), **self.options.values(None))
        if image is None and not self.message.isVisible():
            self.status.setText("Save cancelled")
        return image

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
        self.video.cancel()
        self.video.wait(30000)
        self.swatches.pool.waitForDone(5000)
        super().closeEvent(event)
