"""The desktop app, driven through real Qt widgets offscreen (pytest-qt)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QSettings, QTimer  # noqa: E402

from faststyle.gui.app import MainWindow  # noqa: E402
from faststyle.gui.compare import SPLIT  # noqa: E402
from tests.conftest import photo  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, user_styles):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings, cache_dir=tmp_path / "swatches", load_sample=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.stylizer.cancel()
    w.stylizer.wait()
    w.swatches.pool.waitForDone(10000)


def open_photo(window, path, qtbot):
    assert window.open_image(path)
    qtbot.waitUntil(lambda: window.result is not None, timeout=30000)


def test_open_choose_style_and_see_the_result(window, qtbot, tmp_path):
    src = tmp_path / "holiday.png"
    Image.fromarray(photo(60, 80)).save(src)
    window.select_style("tiny")
    open_photo(window, src, qtbot)
    assert window.result.size == (80, 60)
    assert window.compare.result is not None and window.compare.original is not None
    assert not window.message.isVisible()
    assert window.settings.value("recent_dir") == str(tmp_path)


def test_strength_and_colours_restylize(window, qtbot, tmp_path):
    src = tmp_path / "p.png"
    Image.fromarray(photo(40, 40)).save(src)
    window.select_style("tiny")
    open_photo(window, src, qtbot)
    window.result = None
    window.options.strength.setValue(0)
    qtbot.waitUntil(lambda: window.result is not None, timeout=30000)
    assert np.array_equal(np.asarray(window.result), photo(40, 40))


def test_save_writes_a_valid_image_with_a_sensible_name(window, qtbot, tmp_path):
    src = tmp_path / "cat.png"
    Image.fromarray(photo(32, 48)).save(src)
    window.select_style("tiny")
    open_photo(window, src, qtbot)
    assert window.default_save_name() == "cat.tiny.png"
    target = tmp_path / "out" / window.default_save_name()
    assert window.save_result(target)
    assert Image.open(target).size == (48, 32)
    assert not window.save_result(src)  # never over the original
    assert window.message.isVisible()


def test_bad_file_shows_a_message_not_a_crash(window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    assert not window.open_image(bad)
    assert window.message.isVisible()
    assert "broken.jpg" in window.message.text()


def test_bad_model_shows_a_message(window, qtbot, tmp_path):
    src = tmp_path / "p.png"
    Image.fromarray(photo(32, 32)).save(src)
    window.open_image(src)
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"garbage")
    window.load_style_file(model)
    qtbot.waitUntil(window.message.isVisible, timeout=30000)
    assert "broken.onnx" in window.message.text()


def test_event_loop_runs_while_stylizing_and_cancel_works(window, qtbot, tmp_path):
    src = tmp_path / "big.png"
    Image.fromarray(np.tile(photo(300, 400), (6, 6, 1))).save(src)  # 2400 x 1800: tiled, slow
    window.select_style("tiny")
    window.options.max_size.setCurrentIndex(window.options.max_size.count() - 1)  # full size
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    window.open_image(src)
    assert window.stylizer.busy and window.options.cancel_button.isVisible()
    qtbot.wait(300)
    assert len(ticks) >= 5, "the UI thread was blocked"
    assert window.result is None
    window.options.cancel_button.click()
    assert not window.stylizer.busy and window.status.text() == "Cancelled"
    assert window.stylizer.wait(30000)
    qtbot.wait(100)
    assert window.result is None  # a cancelled run never shows up
    timer.stop()


def test_new_request_supersedes_running_one(window, qtbot, tmp_path):
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    Image.fromarray(np.tile(photo(300, 400), (5, 5, 1))).save(big)
    Image.fromarray(photo(24, 36)).save(small)
    window.select_style("tiny")
    window.options.max_size.setCurrentIndex(window.options.max_size.count() - 1)
    window.open_image(big)
    window.open_image(small)
    qtbot.waitUntil(lambda: window.result is not None, timeout=60000)
    assert window.result.size == (36, 24)
    window.stylizer.wait(60000)
    qtbot.wait(100)
    assert window.result.size == (36, 24)


def test_swatches_are_labelled_with_the_painting_and_tell_what_a_style_has(window):
    items = window.gallery.items()
    assert items["wave"].text() == "The Great Wave off Kanagawa\nKatsushika Hokusai"
    assert "Katsushika Hokusai, c. 1831" in items["wave"].toolTip() and "lite network" in items["wave"].toolTip()
    assert items["tiny"].text() == "Random test style" and "your style: tiny" in items["tiny"].toolTip()
    window.select_style("wave")
    assert window.style.endswith("wave.onnx")


def test_bundled_styles_and_the_users_own_are_two_groups_with_one_choice(window):
    bundled, yours = window.gallery.lists["bundled"], window.gallery.lists["yours"]
    assert {bundled.item(i).text().splitlines()[0] for i in range(bundled.count())} >= {"The Great Wave off Kanagawa"}
    assert [yours.item(i).text() for i in range(yours.count())] == ["Random test style"]
    assert window.gallery.titles["yours"].isVisible() and yours.isVisible()
    window.select_style("tiny")
    assert window.style.endswith("tiny.onnx") and window.gallery.current_name() == "tiny"
    window.select_style("udnie")
    assert window.style.endswith("udnie.onnx") and window.gallery.current_name() == "udnie"
    assert not yours.selectedItems()  # one choice across both groups


def test_split_view_and_swatches(window, qtbot, tmp_path):
    src = tmp_path / "p.png"
    Image.fromarray(photo(50, 50)).save(src)
    window.select_style("tiny")
    open_photo(window, src, qtbot)
    window.compare.mode_box.setCurrentIndex(window.compare.mode_box.findData(SPLIT))
    window.compare.set_split_at(window.compare.width() * 0.25)
    assert window.compare.mode == SPLIT and 0.0 <= window.compare.split < 0.5
    qtbot.waitUntil(lambda: any((tmp_path / "swatches").glob("tiny-*.png")), timeout=30000)
    assert not window.grab().isNull()


def test_the_app_needs_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, faststyle.gui.app; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.fixture
def lite_tiny(user_styles):
    """Gives the user style 'tiny' a lite network (another random net, so its pictures differ)."""
    from faststyle.training.export import export_onnx
    from tests.conftest import random_transform_net

    path = user_styles / "lite" / "tiny.onnx"
    path.parent.mkdir()
    export_onnx(random_transform_net(seed=5, residual_blocks=1, edge_kernel=3), path, {"name": "tiny"})
    return path


@pytest.fixture
def lite_window(qtbot, tmp_path, lite_tiny, user_styles):
    """A window made after the user style 'tiny' got its lite network."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, cache_dir=tmp_path / "swatches", load_sample=False)
    qtbot.addWidget(window)
    yield window
    window.stylizer.cancel()
    window.stylizer.wait()
    window.swatches.pool.waitForDone(10000)


def test_lite_preview_first_then_the_full_picture(qtbot, tmp_path, lite_tiny, user_styles, lite_window):
    import faststyle

    window = lite_window
    src = tmp_path / "p.png"
    Image.fromarray(photo(40, 56)).save(src)
    shown = []
    window.stylizer.finished.connect(lambda _id, image: shown.append((window.result_is_preview, np.asarray(image))))
    window.select_style("tiny")
    assert window.open_image(src)
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=30000)
    (first_is_preview, first), (last_is_preview, last) = shown
    assert first_is_preview and not last_is_preview
    assert np.array_equal(first, np.asarray(faststyle.stylize(src, lite_tiny)))
    assert np.array_equal(last, np.asarray(faststyle.stylize(src, user_styles / "tiny.onnx")))
    assert window.save_result(tmp_path / "full.png")

    # Dragging the slider: lite previews only; saving one is refused with a message.
    shown.clear()
    window.options.strength.setSliderDown(True)
    window.options.strength.setValue(50)
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=30000)
    assert shown[0][0] and window.result_is_preview
    assert not window.save_result(tmp_path / "preview.png") and window.message.isVisibleTo(window)
    assert not (tmp_path / "preview.png").exists()
    window.options.strength.setSliderDown(False)


def test_save_writes_the_photo_at_full_size_with_its_metadata(window, qtbot, tmp_path):
    """The screen shows the working resolution; Save paints the whole photo again and keeps its EXIF."""
    import faststyle

    src = tmp_path / "big.jpg"
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    Image.fromarray(photo(400, 600)).save(src, exif=exif, quality=95)
    window.options.max_size.setCurrentIndex(0)  # 512 px on the screen
    window.select_style("tiny")
    open_photo(window, src, qtbot)
    assert window.result.size == (512, 341)
    target = tmp_path / "big.tiny.png"
    assert window.save_result(target)
    saved = Image.open(target)
    assert saved.size == (600, 400) and saved.getexif().get(0x010F) == "CameraMaker"
    expected = np.asarray(faststyle.stylize(src, "tiny"), dtype=np.int16)
    assert np.abs(np.asarray(saved.convert("RGB"), dtype=np.int16) - expected).max() <= 1
    assert "600 x 400" in window.status.text()


def test_a_tiled_picture_shows_a_moving_percentage_and_time_left(window, qtbot, tmp_path):
    src = tmp_path / "p.png"
    Image.fromarray(photo(1800, 2400)).save(src)  # 4.3 megapixels at full size: painted in tiles
    window.select_style("tiny")
    window.options.max_size.setCurrentIndex(window.options.max_size.count() - 1)  # full size
    seen = []
    window.stylizer.progress.connect(lambda _id, done, total: seen.append(
        (done, total, window.options.busy.value(), window.options.busy.maximum(), window.status.text())))
    open_photo(window, src, qtbot)
    totals = {total for _, total, _, _, _ in seen}
    assert len(totals) == 1 and totals.pop() > 2
    assert [v for _, _, v, _, _ in seen] == sorted(v for _, _, v, _, _ in seen) and len({v for *_, v, _, _ in seen}) > 2
    assert any("%" in text and "left" in text for *_, text in seen)


def test_fast_and_stroke_controls_paint_as_the_api_does(qtbot, tmp_path, lite_tiny, user_styles, lite_window):
    import faststyle

    window = lite_window
    src = tmp_path / "p.png"
    Image.fromarray(photo(48, 64)).save(src)
    window.select_style("tiny")
    window.options.fast.setChecked(True)
    open_photo(window, src, qtbot)
    qtbot.waitUntil(lambda: not window.stylizer.busy and not window.result_is_preview, timeout=30000)
    assert np.array_equal(np.asarray(window.result), np.asarray(faststyle.stylize(src, lite_tiny)))
    window.options.fast.setChecked(False)
    window.result = None
    window.options.strokes.setCurrentIndex(1)  # 2x
    qtbot.waitUntil(lambda: window.result is not None and not window.result_is_preview, timeout=30000)
    expected = faststyle.stylize(src, user_styles / "tiny.onnx", stroke_scale=2.0)
    assert np.array_equal(np.asarray(window.result), np.asarray(expected))
    # A control's signal argument (an index, a checked state) once made it a preview-only request,
    # so the full picture never came after the lite one.
    window.result = None
    window.options.preserve.setChecked(True)
    qtbot.waitUntil(lambda: window.result is not None and not window.result_is_preview, timeout=30000)


def test_a_batch_of_photos_paints_with_one_progress_and_lists_failures(window, qtbot, tmp_path):
    import faststyle

    folder = tmp_path / "holiday"
    (folder / "day2").mkdir(parents=True)
    sources = [folder / f"p{i:02d}.png" for i in range(18)] + [folder / "day2" / f"q{i}.jpg" for i in range(2)]
    for i, path in enumerate(sources):
        Image.fromarray(photo(40 + 4 * (i % 3), 56, seed=i)).save(path)
    (folder / "broken.jpg").write_bytes(b"not a photo")
    window.select_style("tiny")
    progress = []
    window.batch.progress.connect(lambda done, total, name: progress.append((done, total, window.options.busy.value())))
    out = tmp_path / "painted"
    with qtbot.waitSignal(window.batch.finished, timeout=120000) as finished:
        assert window.paint_batch([folder], out)
    written, errors, cancelled = finished.args
    assert len(written) == 20 and len(errors) == 1 and "broken.jpg" in errors[0] and not cancelled
    assert (out / "p00.tiny.png").is_file() and (out / "day2" / "q1.tiny.jpg").is_file()  # subfolders kept
    assert {total for _, total, _ in progress} == {21} and progress[-1][0] == 21  # one progress for all
    assert [d for d, _, _ in progress] == sorted(d for d, _, _ in progress)
    assert window.message.isVisible() and "broken.jpg" in window.message.text()
    assert "20 painted" in window.status.text()
    expected = np.asarray(faststyle.stylize(sources[0], "tiny"))
    assert np.array_equal(np.asarray(Image.open(out / "p00.tiny.png")), expected)
    # Again: what is there is skipped, as `faststyle stylize` does.
    skipped = []
    window.batch.started.connect(lambda count, already: skipped.append((count, already)))
    with qtbot.waitSignal(window.batch.finished, timeout=120000):
        assert window.paint_batch([folder], out)
    assert skipped == [(1, 20)]


def _video(path: Path, frames: int) -> Path:
    ffmpeg = pytest.importorskip("imageio_ffmpeg")
    pytest.importorskip("cv2")
    scene = photo(96, 160, seed=3)
    writer = ffmpeg.write_frames(str(path), (96, 64), fps=10, macro_block_size=1, output_params=["-loglevel", "error"])
    writer.send(None)
    for i in range(frames):  # a pan over a photo
        writer.send(np.ascontiguousarray(scene[i:i + 64, 2 * i:2 * i + 96]))
    writer.close()
    return path


def test_a_video_paints_in_a_worker_with_progress_by_frames(window, qtbot, tmp_path):
    import imageio_ffmpeg

    source = _video(tmp_path / "walk.mp4", 12)
    window.select_style("tiny")
    progress = []
    window.video.progress.connect(lambda done, total: progress.append((done, total)))
    target = tmp_path / "out" / "walk.tiny.mp4"
    target.parent.mkdir()
    with qtbot.waitSignal(window.video.finished, timeout=120000) as finished:
        assert window.paint_video(source, target)
        assert window.options.busy.isVisible()  # the window answers while the frames are painted
    written, error, cancelled = finished.args
    assert written == str(target) and not error and not cancelled, error
    frames = imageio_ffmpeg.read_frames(str(target))
    assert next(frames)["size"] == (96, 64) and sum(1 for _ in frames) == 12
    assert progress == [(i, 12) for i in range(1, 13)]  # one step a frame, out of the file's count
    assert "Video written" in window.status.text() and not window.options.busy.isVisible()
    assert sorted(p.name for p in target.parent.iterdir()) == ["walk.tiny.mp4"]  # no temporary left


def test_a_cancelled_video_leaves_nothing_and_errors_are_one_line(window, qtbot, tmp_path):
    source = _video(tmp_path / "walk.mp4", 40)
    window.select_style("tiny")
    window.video.progress.connect(lambda done, total: window.cancel() if done == 2 else None)
    with qtbot.waitSignal(window.video.finished, timeout=120000) as finished:
        assert window.paint_video(source, tmp_path / "walk.tiny.mp4")
    assert finished.args == ["", "", True]
    assert sorted(p.name for p in tmp_path.iterdir() if "walk" in p.name) == ["walk.mp4"]  # nothing half-written
    assert "nothing written" in window.status.text()
    # The input itself as the target: refused in one line, the input untouched.
    before = source.read_bytes()
    assert not window.paint_video(source, source)
    assert "walk.mp4" in window.message.text() and "another name" in window.message.text()
    assert source.read_bytes() == before and not window.video.busy


def test_without_the_video_extra_the_app_names_the_pip_command(window, qtbot, monkeypatch, tmp_path):
    import sys

    source = _video(tmp_path / "walk.mp4", 2)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    window.select_style("tiny")
    with qtbot.waitSignal(window.video.finished, timeout=60000) as finished:
        assert window.paint_video(source, tmp_path / "walk.tiny.mp4")
    assert 'pip install "faststyle[video]"' in finished.args[1] and window.message.isVisible()


def test_zoom_with_the_wheel_and_buttons_and_pan_by_dragging(window, qtbot, tmp_path):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QAction, QWheelEvent

    src = tmp_path / "p.png"
    Image.fromarray(photo(300, 400)).save(src)
    window.options.max_size.setCurrentIndex(0)
    window.select_style("tiny")
    open_photo(window, src, qtbot)
    view = window.compare
    pane = view._panes()[1]
    # The result (painted smaller or not) covers the same area as the photo beside it.
    assert view._image_rect(pane, view.result).size() == view._image_rect(pane, view.original).size()
    fitted = view._image_rect(pane, view.original).width()
    centre = QPointF(view.width() / 2, view.height() / 2)
    wheel = QWheelEvent(centre, view.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    view.wheelEvent(wheel)
    assert not view.fit and view._image_rect(pane, view.original).width() == pytest.approx(fitted * 1.25, rel=1e-3)
    zoom_out = next(a for a in window.findChildren(QAction) if a.text() == "Zoom out")
    zoom_out.trigger()
    assert view._image_rect(pane, view.original).width() == pytest.approx(fitted, rel=1e-3)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(view, QPoint(140, 120))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(140, 120))
    assert view._offset == QPointF(40, 20)  # panned with the mouse
    window.compare.zoom_box.setCurrentIndex(1)
    window.compare.zoom_box.setCurrentIndex(0)
    assert view.fit and view._offset == QPointF(0, 0)


def test_blend_two_styles_with_a_mix(window, qtbot, tmp_path, user_styles):
    import faststyle
    from faststyle.styles import resolve_style

    src = tmp_path / "p.png"
    Image.fromarray(photo(48, 64)).save(src)
    window.select_style("tiny")
    open_photo(window, src, qtbot)
    window.options.blend_mix.setValue(30)
    window.result = None
    window.options.blend_with.setCurrentIndex(window.options.blend_with.findText("Blend with wave"))
    qtbot.waitUntil(lambda: window.result is not None and not window.result_is_preview and not window.stylizer.busy,
                    timeout=30000)
    expected = faststyle.stylize(src, faststyle.blend({str(user_styles / "tiny.onnx"): 0.7,
                                                       str(resolve_style("wave")): 0.3}))
    assert np.abs(np.asarray(window.result, dtype=np.int16) - np.asarray(expected, dtype=np.int16)).max() <= 1
    assert window.style_label() == "tiny70+wave30" and window.default_save_name() == "p.tiny70+wave30.png"


# --- a new style from a painting -----------------------------------------------------------

def _tiny_training(tmp_path) -> list[str]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        Image.fromarray(photo(56, 64, seed=i)).save(photos / f"p{i}.jpg")
    return ["--content-dir", str(photos), "--vgg-weights", "random", "--image-size", "40", "--batch-size", "2",
            "--crop-size", "32", "--style-size", "48", "--steps", "6", "--lite-steps", "2", "--compile", "graph",
            "--checkpoint-every", "2", "--preview-every", "2"]


def test_a_new_style_from_a_painting_trains_in_a_process_and_appears_as_a_swatch(window, qtbot, tmp_path):
    painting = tmp_path / "My painting.png"
    Image.fromarray(photo(64, 64, seed=9)).save(painting)
    window.trainer.extra_args = _tiny_training(tmp_path)
    progress, previews = [], []
    window.trainer.progress.connect(lambda done, total, left: progress.append((done, total)))
    window.trainer.preview.connect(previews.append)
    with qtbot.waitSignal(window.trainer.finished, timeout=300000) as done:
        assert window.train_style(painting)
        assert window.training.bar.isVisible()
    assert done.args[0] == "My_painting"
    assert progress[-1] == (8, 8) and any(0 < d < 8 for d, _ in progress)  # it moved, and reached the end
    assert previews and not window.message.isVisible()
    assert window.gallery.current_name() == "My_painting"
    # Its swatch is the painting itself (from the new model's card), not a painted sample.
    from faststyle.gui.worker import SWATCH_SIZE, swatch_path

    swatch = swatch_path(window.swatches.cache_dir, Path(window.style))
    qtbot.waitUntil(swatch.exists, timeout=30000)
    expected = np.asarray(Image.open(painting).convert("RGB").resize((SWATCH_SIZE, SWATCH_SIZE), Image.LANCZOS), float)
    assert np.abs(np.asarray(Image.open(swatch).convert("RGB"), float) - expected).mean() < 12
    assert window.style.endswith("My_painting.onnx") and window._lite.get(window.style)
    assert not window.training.bar.isVisible()


def test_stopping_a_training_keeps_its_steps_and_starting_again_resumes(window, qtbot, tmp_path):
    painting = tmp_path / "p.png"
    Image.fromarray(photo(64, 64, seed=9)).save(painting)
    args = _tiny_training(tmp_path)
    args[args.index("--steps") + 1], args[args.index("--checkpoint-every") + 1] = "400", "1000"
    window.trainer.extra_args = args
    progress = []
    window.trainer.progress.connect(lambda done, total, left: progress.append(done))
    assert window.train_style(painting)
    qtbot.waitUntil(lambda: bool(progress) and progress[-1] >= 3, timeout=300000)
    with qtbot.waitSignal(window.trainer.failed, timeout=60000) as stopped:
        window.training.stop.click()
    assert "start it again" in stopped.args[0]
    run = window.trainer.run
    assert list(run.glob("ckpt-*.npz"))  # saved on SIGTERM, though no checkpoint was due
    assert window.train_style(painting)
    assert "--resume" in window.trainer.process.arguments()
    window.trainer.cancel()
    window.trainer.wait()


def test_a_painting_named_like_a_style_makes_a_new_one_beside_it(window, qtbot, tmp_path):
    painting = tmp_path / "wave.png"  # the bundled style's name: the new one would hide behind it
    Image.fromarray(photo(64, 64, seed=9)).save(painting)
    window.trainer.extra_args = _tiny_training(tmp_path)
    with qtbot.waitSignal(window.trainer.finished, timeout=300000) as done:
        assert window.train_style(painting)
    assert done.args[0] == "wave_2" and window.gallery.current_name() == "wave_2"
    assert window.style.endswith("wave_2.onnx")


def test_without_the_training_extra_the_app_names_the_pip_command(window, monkeypatch, tmp_path):
    import faststyle.gui.trainer as trainer

    monkeypatch.setattr(trainer, "training_available", lambda: False)
    assert not window.train_style(tmp_path / "p.png")
    assert window.message.isVisible() and 'pip install "faststyle[train]"' in window.message.text()


def test_the_app_ends_on_sigterm_and_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    for sig in (signal.SIGTERM, signal.SIGINT):
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path),
               "XDG_CACHE_HOME": str(tmp_path)}
        proc = subprocess.Popen([sys.executable, "-m", "faststyle.gui"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(8)  # the window is up and painting the sample
        assert proc.poll() is None, "the app ended by itself"
        proc.send_signal(sig)
        try:
            assert proc.wait(timeout=30) is not None
        finally:
            proc.kill()
