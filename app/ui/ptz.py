"""The PTZ pad for the selected dome: its live picture (faster while the pad is pressed, so the operator sees it
move), press to move (setRelativePosition), release to stop; zoom; the position readout (getPosition); presets
as buttons (gotoPreset, F1–F12) and storing one (setPreset, confirmed).

Signals:
    moveRequested(int pan, int tilt, int zoom)     speeds −1000..1000; all zero = stop
    recall(int preset)   store(int preset)
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..config import DEFAULTS
from .picture_view import PictureView

SPEED = 500


class PtzPad(QWidget):
    moveRequested = Signal(int, int, int)
    recall = Signal(int)
    store = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.title = QLabel("No dome selected — pick a PTZ camera (⟲) in the tree or on the wall")
        self.title.setWordWrap(True)
        self.position = QLabel("pan — · tilt — · zoom —")
        self.position.setObjectName("TileDetail")
        self.view = PictureView("", "Picture", DEFAULTS.preview_interval)
        self.view.setMinimumSize(256, 144)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.moveRequested.connect(self._steering)
        pad = QGridLayout()
        arrows = {
            (0, 0): ("↖", -1, -1),
            (0, 1): ("↑", 0, -1),
            (0, 2): ("↗", 1, -1),
            (1, 0): ("←", -1, 0),
            (1, 2): ("→", 1, 0),
            (2, 0): ("↙", -1, 1),
            (2, 1): ("↓", 0, 1),
            (2, 2): ("↘", 1, 1),
        }
        self.buttons: dict[str, QPushButton] = {}
        for (r, c), (text, p, t) in arrows.items():
            b = QPushButton(text)
            b.setFixedSize(44, 36)
            b.setToolTip("Hold to move the dome; release to stop")
            b.pressed.connect(lambda p=p, t=t: self.moveRequested.emit(p * SPEED, t * SPEED, 0))
            b.released.connect(lambda: self.moveRequested.emit(0, 0, 0))
            pad.addWidget(b, r, c)
            self.buttons[text] = b
        stop = QPushButton("■")
        stop.setFixedSize(44, 36)
        stop.setToolTip("Stop")
        stop.clicked.connect(lambda: self.moveRequested.emit(0, 0, 0))
        pad.addWidget(stop, 1, 1)
        zoom = QVBoxLayout()
        for text, z in (("Zoom +", SPEED), ("Zoom −", -SPEED)):
            b = QPushButton(text)
            b.pressed.connect(lambda z=z: self.moveRequested.emit(0, 0, z))
            b.released.connect(lambda: self.moveRequested.emit(0, 0, 0))
            zoom.addWidget(b)
            self.buttons[text] = b
        row = QHBoxLayout()
        row.addLayout(pad)
        row.addLayout(zoom)
        self.presets_box = QGroupBox("Presets (F1–F12)")
        self.presets_grid = QGridLayout(self.presets_box)
        store_row = QHBoxLayout()
        self.store_number = QSpinBox()
        self.store_number.setRange(1, 64)
        store_btn = QPushButton("Store current position as preset…")
        store_btn.clicked.connect(self._confirm_store)
        store_row.addWidget(self.store_number)
        store_row.addWidget(store_btn, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.position)
        lay.addLayout(row)
        lay.addWidget(self.presets_box)
        lay.addLayout(store_row)
        self.preset_buttons: dict[int, QPushButton] = {}
        self.setEnabled(False)

    def show_dome(self, name: str, presets: dict[int, str]) -> None:
        self.title.setText(f"⟲ {name}")
        self.setEnabled(True)
        while self.presets_grid.count():
            item = self.presets_grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        self.preset_buttons = {}
        for i, (n, label) in enumerate(sorted(presets.items())):
            b = QPushButton(f"{n}. {label}" + (f"  (F{n})" if n <= 12 else ""))
            b.clicked.connect(lambda _=False, n=n: self.recall.emit(n))
            self.presets_grid.addWidget(b, i // 2, i % 2)
            self.preset_buttons[n] = b

    def _steering(self, pan: int, tilt: int, zoom: int) -> None:
        """While the dome moves, its picture is asked for more often (and at once)."""
        moving = bool(pan or tilt or zoom)
        self.view.interval = DEFAULTS.steer_interval if moving else DEFAULTS.preview_interval
        if moving:
            self.view.due = 0.0

    def show_position(self, pan: str, tilt: str, zoom: str) -> None:
        self.position.setText(f"pan {pan} · tilt {tilt} · zoom {zoom}")

    def _confirm_store(self) -> None:
        n = self.store_number.value()
        answer = QMessageBox.question(
            self,
            "Store preset",
            f"Overwrite preset {n} with the dome's current position?\n"
            "Every operator recalling it will see the new position.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.store.emit(n)
