"""The app's style gallery: one swatch per style, bundled styles and the user's own in two groups.

A swatch is the painting the style was trained on: the card's own thumbnail (styles made with
`faststyle train`), or the published photograph of a bundled style's painting once fetched
(paintings.py); until then, or offline, a sample painted in the style. Its label: the painting's title and
artist; its tooltip what the style has. The gallery only shows and reports choices: swatches are
made by worker.SwatchMaker, choosing is handled by the window.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from faststyle.gui.worker import SWATCH_SIZE

STYLE_NAME_ROLE = Qt.ItemDataRole.UserRole + 1  # a swatch's style name (its text is the painting's title)
GROUPS = (("bundled", "Bundled styles"), ("yours", "Your styles"))  # user styles and loaded files: "yours"
STRETCH = {"bundled": 2, "yours": 1}  # shares of the column's height when both are shown


class StyleGallery(QWidget):
    """Two lists of swatches; `chosen(path)` when the user picks a style in either."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.lists: dict[str, QListWidget] = {}
        self.titles: dict[str, QLabel] = {}
        for group, title in GROUPS:
            self.titles[group] = QLabel(title)
            self.lists[group] = _swatch_list()
            self.lists[group].currentItemChanged.connect(lambda item, _old, g=group: self._picked(g, item))
            layout.addWidget(self.titles[group])
            layout.addWidget(self.lists[group], STRETCH[group])
        self.setFixedWidth(2 * (SWATCH_SIZE + 28) + 28)

    def clear(self) -> None:
        for view in self.lists.values():
            view.blockSignals(True)
            view.clear()
            view.blockSignals(False)
        self._show_groups()

    def add(self, name: str, path: str, card: dict | None = None) -> QListWidgetItem:
        """A swatch (grey until worker.SwatchMaker has made its picture): the painting's title and
        artist under it; the tooltip tells where the style comes from and what it has."""
        card = card or {}
        item = QListWidgetItem(_label(card.get("title") or name, card.get("artist")))
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setData(STYLE_NAME_ROLE, name)
        facts = [card.get("title") or name, ", ".join(str(v) for v in (card.get("artist"), card.get("year")) if v),
                 {"bundled": "bundled style", "user": "your style"}.get(card.get("source"), "style file") + f": {name}",
                 "has a lite network (Fast)" if card.get("has_lite") else "no lite network: Fast paints the full one",
                 f"trained {card['steps']} steps" + (f", {card['date']}" if card.get("date") else "")
                 if card.get("steps") else "", path]
        item.setToolTip("\n".join(f for f in facts if f))
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
        placeholder = QPixmap(SWATCH_SIZE, SWATCH_SIZE)
        placeholder.fill(Qt.GlobalColor.lightGray)
        item.setIcon(QIcon(placeholder))
        view = self.lists["bundled" if card.get("source") == "bundled" else "yours"]
        view.blockSignals(True)
        view.addItem(item)
        view.blockSignals(False)
        self._show_groups()
        return item

    def items(self) -> dict[str, QListWidgetItem]:
        """Every swatch by style name, bundled first."""
        return {view.item(i).data(STYLE_NAME_ROLE): view.item(i)
                for view in self.lists.values() for i in range(view.count())}

    def set_swatch(self, name: str, file: str) -> None:
        item = self.items().get(name)
        if item is not None:
            item.setIcon(QIcon(QPixmap(file)))

    def select(self, name: str) -> None:
        """Picks a style as a click would (emits `chosen`); KeyError if there is none of that name."""
        item = self.items()[name]
        item.listWidget().setCurrentItem(item)

    def select_first(self) -> None:
        for view in self.lists.values():
            if view.count():
                view.setCurrentRow(0)
                return

    def current_name(self) -> str | None:
        for view in self.lists.values():
            if view.currentItem() is not None and view.currentItem().isSelected():
                return view.currentItem().data(STYLE_NAME_ROLE)
        return None

    def _picked(self, group: str, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        for other, view in self.lists.items():  # one choice across both groups
            if other != group:
                view.blockSignals(True)
                view.clearSelection()
                view.setCurrentItem(None)
                view.blockSignals(False)
        self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def _show_groups(self) -> None:
        for group, view in self.lists.items():
            shown = view.count() > 0
            view.setVisible(shown)
            self.titles[group].setVisible(shown)


def _swatch_list() -> QListWidget:
    view = QListWidget()
    view.setViewMode(QListWidget.ViewMode.IconMode)
    view.setIconSize(QSize(SWATCH_SIZE, SWATCH_SIZE))
    view.setGridSize(QSize(SWATCH_SIZE + 28, SWATCH_SIZE + 48))  # two lines: title, artist
    view.setResizeMode(QListWidget.ResizeMode.Adjust)
    view.setMovement(QListWidget.Movement.Static)
    return view


def _label(title: str, artist: str | None) -> str:
    """Two lines under a swatch, the title and the artist (the list cuts what does not fit)."""
    return f"{title}\n{artist}" if artist else title
