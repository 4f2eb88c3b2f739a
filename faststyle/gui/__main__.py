"""The desktop app's entry point: `faststyle gui`, `faststyle-gui` or `python -m faststyle.gui`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from faststyle.gui.app import MainWindow


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
