"""The PTZ pad for the selected dome: its live picture (faster while the pad is pressed, so the operator sees it
move), press to move (setRelativePosition), release to stop; zoom; the position readout (getPosition); presets
as buttons (gotoPreset, F1–F12) and storing one (setPreset, confirmed). A dome another console steers says
"in use by NAME (12 s)"; when that console's priority is not lower than ours, steering is off (presets stay on),
and a move the manager refused (−115) shows the manager's words.

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
IN_USE_STYLE = "background: #7a1f24; color: #ffe3e0; font-weight: bold; border-radius: 4px; padding: 4px 8px;"


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
        self.buttons["■"] = stop
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
        self.in_use = QLabel("")
        self.in_use.setObjectName("PtzInUse")
        self.in_use.setWordWrap(True)
        self.in_use.setStyleSheet(IN_USE_STYLE)
        self.in_use.hide()
        self.refused = QLabel("")
        self.refused.setObjectName("PtzRefused")
        self.refused.setWordWrap(True)
        self.refused.setStyleSheet("color: #ff9b92; font-weight: bold;")
        self.refused.hide()
        self.holder = ""  # the console holding the dome, "" when free or ours
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.in_use)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.position)
        lay.addLayout(row)
        lay.addWidget(self.refused)
        lay.addWidget(self.presets_box)
        lay.addLayout(store_row)
        self.preset_buttons: dict[int, QPushButton] = {}
        self.setEnabled(False)

    def show_dome(self, name: str, presets: dict[int, str]) -> None:
        self.title.setText(f"⟲ {name}")
        self.setEnabled(True)
        self.show_refusal("")
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

    def show_holder(self, console: str, remaining: int, priority: int, ours: int) -> None:
        """Another console steers this dome ("" = free or ours). Steering stays on only when our priority is
        higher, and then a move takes the dome over."""
        freed = bool(self.holder) and not console
        self.holder = console
        steer = not console or ours > priority
        if console:
            take = " — your priority is higher: moving takes it over" if steer else " — steering is off, presets work"
            self.in_use.setText(f"⟲ in use by {console} ({remaining} s) · priority {priority}{take}")
        self.in_use.setVisible(bool(console))
        for b in self.buttons.values():
            b.setEnabled(steer)
            b.setToolTip("Hold to move the dome; release to stop" if steer else f"In use by {console}")
        if freed:
            self.show_refusal("")

    def show_refusal(self, message: str) -> None:
        """A move the manager refused (PTZ in use, −115): its words, until the dome is free or another is chosen."""
        self.refused.setText(f"✖ {message}" if message else "")
        self.refused.setVisible(bool(message))

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
