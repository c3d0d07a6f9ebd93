"""Help → Keyboard: the console's keys and the joystick's mapping, in two tables (styled by the app's theme)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .joystick import JOYSTICK_HELP
from .keyboard import KEY_HELP


def _table(rows: list[tuple[str, str]], first: str) -> QTableWidget:
    t = QTableWidget(len(rows), 2)
    t.setHorizontalHeaderLabels([first, "What it does"])
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setAlternatingRowColors(True)
    t.setWordWrap(True)
    for r, (key, meaning) in enumerate(rows):
        t.setItem(r, 0, QTableWidgetItem(key))
        t.setItem(r, 1, QTableWidgetItem(meaning))
    h = t.horizontalHeader()
    h.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    t.resizeRowsToContents()
    return t


class KeyboardHelp(QDialog):
    def __init__(self, parent: QWidget | None = None, joystick_status: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and joystick")
        self.resize(680, 560)
        lay = QVBoxLayout(self)
        intro = QLabel(
            "As on a CCTV keyboard: type a number, then Enter for a camera or an F-key for a preset. "
            "Keys typed into text fields stay there."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.keys = _table(KEY_HELP, "Key")
        lay.addWidget(self.keys, 3)
        title = QLabel("Joystick or game controller (the selected dome)")
        title.setObjectName("TileTitle")
        lay.addWidget(title)
        self.joystick = _table(JOYSTICK_HELP, "Control")
        lay.addWidget(self.joystick, 2)
        self.status = QLabel(joystick_status or "No joystick connected")
        self.status.setObjectName("TileDetail")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)
