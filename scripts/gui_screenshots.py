"""Writes screenshots of the desktop app's main states to PNG (offscreen, no display needed).

    python scripts/gui_screenshots.py [-o docs/screenshots] [--painting P.jpg --content-dir PHOTOS]

States: empty start, result side by side, split view, error message; with --painting, a new style
being made from it (a real training process, stopped after the shot; its run folder is a temporary one).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The committed screenshots show the bundled swatches' samples: the paintings' pictures are not
# the project's to ship, so the app may not fetch them here.
os.environ["FASTSTYLE_OFFLINE"] = "1"
os.environ["FASTSTYLE_CACHE_DIR"] = tempfile.mkdtemp()  # nor take them from this machine's cache

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from faststyle.gui.app import MainWindow  # noqa: E402
from faststyle.gui.compare import SPLIT  # noqa: E402


def settle(app: QApplication, window: MainWindow, timeout: float = 120) -> None:
    """Processes events until no stylization or swatch is in progress."""
    end = time.time() + timeout
    while time.time() < end:
        app.processEvents()
        if not window.stylizer.busy and window.swatches.pool.activeThreadCount() == 0:
            break
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-o", "--output", default="docs/screenshots")
    parser.add_argument("--painting", help="make a new style from this painting for the 'new-style' shot")
    parser.add_argument("--content-dir", help="training photos for it (default: the downloaded set)")
    args = parser.parse_args()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    cache = Path(tempfile.mkdtemp())

    empty = MainWindow(settings, cache, load_sample=False)
    empty.show()
    settle(app, empty)
    empty.grab().save(str(out / "empty.png"))

    window = MainWindow(settings, cache)
    window.show()
    settle(app, window)
    window.grab().save(str(out / "result.png"))

    window.compare.mode_box.setCurrentIndex(window.compare.mode_box.findData(SPLIT))
    window.compare.set_split_at(window.compare.width() * 0.45)
    settle(app, window)
    window.grab().save(str(out / "split.png"))

    broken = Path(tempfile.mkdtemp()) / "holiday.jpg"
    broken.write_bytes(b"not really a photo")
    window.open_image(broken)
    settle(app, window)
    window.grab().save(str(out / "error.png"))
    if args.painting:
        new_style_shot(app, window, Path(args.painting), args.content_dir, out / "new-style.png")
    print(f"wrote {', '.join(p.name for p in sorted(out.glob('*.png')))} to {out}")


def new_style_shot(app: QApplication, window: MainWindow, painting: Path, content_dir: str | None, path: Path) -> None:
    """The app while a new style learns: progress, time left and the preview, after the second preview."""
    os.environ["FASTSTYLE_STYLE_DIR"] = tempfile.mkdtemp()  # runs and the model go to a scratch folder
    window.trainer.extra_args = ["--content-dir", content_dir] if content_dir else []
    previews = []
    window.trainer.preview.connect(previews.append)
    window.open_image(Path(__file__).resolve().parents[1] / "faststyle" / "samples" / "coffee.jpg")
    settle(app, window)
    window.train_style(painting)
    end = time.time() + 600
    while len(previews) < 2 and time.time() < end and window.trainer.busy:
        app.processEvents()
        time.sleep(0.05)
    window.grab().save(str(path))
    window.trainer.cancel()
    window.trainer.wait()


if __name__ == "__main__":
    main()
