"""The alarm list: every console's shared alarms (new, acknowledged, closed; new first, high first, newest first)
in priority colours, unacknowledged high alarms flashing, a flood group as one row with its count; the selected
alarm's camera picture beside it, Acknowledge (with a comment) and Close; the alarm sound and its silence.

Signals (AlarmPanel):
    acknowledgeRequested(str alarm_id, str comment)
    closeRequested(str alarm_id, str comment)
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..client.ops_model import Alarm, OpsState
from ..client.site import Site
from ..config import DEFAULTS
from .picture_view import PictureView

COLUMNS = ["Priority", "Time", "Alarm", "Camera", "State", "Who"]
SILENCE_SECONDS = 120  # the "Silence 2 min" button
FLASH_MS = 500  # unacknowledged high alarms flash at this half-period

# priority -> (row background, text colour, flash background): readable on the dark theme, and on the light one
# because each row sets both its background and its text.
COLOURS = {
    "high": ("#5c1e22", "#ffd0cc", "#b3262d"),
    "medium": ("#4a3a12", "#ffe2a0", "#4a3a12"),
    "low": ("#1f2a36", "#c4d2e2", "#1f2a36"),
}
SYMBOL = {"high": "✖ HIGH", "medium": "▲ MEDIUM", "low": "● LOW"}
ACKED = ("#1b2028", "#c9d1dc")  # acknowledged: calm background, the priority shows in its own cell
CLOSED = ("#15181d", "#7d8898")


class Sound(Protocol):
    """What the panel needs of app.ui.sound.AlarmSound."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def silence(self, seconds: float) -> None: ...


def alarm_text(a: Alarm) -> str:
    if a.flood:
        return f"⚑ {a.count} × {a.title} (flood group, last {a.lasttime[-8:] or '—'})"
    return a.title + (f" (×{a.count})" if a.count > 1 else "")


def who_text(a: Alarm) -> str:
    if a.state == "closed":
        return f"closed by {a.closedby} {a.closedat[-8:]}" + (f": {a.comment}" if a.comment else "")
    if a.state == "acknowledged":
        return f"acknowledged by {a.ackedby} {a.ackedat[-8:]}" + (f": {a.comment}" if a.comment else "")
    return ""


class AlarmPanel(QWidget):
    acknowledgeRequested = Signal(str, str)
    closeRequested = Signal(str, str)

    def __init__(self, sound: Sound | None = None) -> None:
        super().__init__()
        self.sound = sound
        self.site = Site()
        self.alarms: list[Alarm] = []
        self.selected_id = ""
        self.silenced_until = 0.0
        self._sound_on = False  # start() was called and stop() not since
        self._flash_on = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("AlarmTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for i, w in enumerate((88, 76, 250, 110, 135)):
            self.table.setColumnWidth(i, w)
        # The selected row keeps its priority colours; a frame says which one it is.
        self.table.setStyleSheet(
            "QTableWidget#AlarmTable::item:selected "
            "{ border-top: 2px solid #7fb0ea; border-bottom: 2px solid #7fb0ea; }"
        )
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.show_closed = QCheckBox("Show closed")
        self.show_closed.setChecked(True)
        self.show_closed.toggled.connect(lambda _: self._fill())
        self.summary = QLabel("No alarms")
        self.summary.setObjectName("AlarmSummary")
        self.summary.setMinimumWidth(1)
        self.sound_state = QLabel("")
        self.sound_state.setObjectName("TileDetail")
        self.sound_state.setMinimumWidth(1)
        self.silence = QPushButton("Silence 2 min")
        self.silence.setToolTip("Silence the alarm sound for two minutes; it rings again if high alarms are left")
        self.silence.clicked.connect(self.silence_sound)
        head = QHBoxLayout()
        head.addWidget(self.summary, 1)
        head.addWidget(self.sound_state)
        head.addWidget(self.silence)
        foot = QHBoxLayout()
        foot.addWidget(self.show_closed)
        foot.addStretch(1)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(head)
        ll.addWidget(self.table, 1)
        ll.addLayout(foot)

        self.view = PictureView("", "Picture", DEFAULTS.preview_interval)
        self.view.setMinimumSize(240, 135)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.detail = QLabel("Select an alarm")
        self.detail.setWordWrap(True)
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Comment (optional): what you saw, what you did")
        self.ack = QPushButton("✔ Acknowledge")
        self.ack.setToolTip("Acknowledge the selected alarm for every console (with the comment)")
        self.ack.clicked.connect(lambda: self._request(self.acknowledgeRequested))
        self.close_btn = QPushButton("Close alarm")
        self.close_btn.setToolTip("Close the selected alarm for every console (with the comment)")
        self.close_btn.clicked.connect(lambda: self._request(self.closeRequested))
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setObjectName("TileDetail")
        buttons = QHBoxLayout()
        buttons.addWidget(self.ack)
        buttons.addWidget(self.close_btn)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 0, 0, 0)
        rl.addWidget(self.view, 1)
        rl.addWidget(self.detail)
        rl.addWidget(self.comment)
        rl.addLayout(buttons)
        rl.addWidget(self.result)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)
        self._flash = QTimer(self)
        self._flash.timeout.connect(self._blink)
        self._flash.start(FLASH_MS)
        self._sound_clock = QTimer(self)
        self._sound_clock.timeout.connect(self._update_sound)
        self._sound_clock.start(1000)
        self._buttons()

    # -- what the managers say ---------------------------------------------------------------------------

    def show_state(self, state: OpsState, site: Site | None = None) -> None:
        if site is not None:
            self.site = site
        self.alarms = list(state.alarms)
        high, unacked = state.unacknowledged_high, state.unacknowledged
        text = f"{unacked} unacknowledged" + (f" · {high} HIGH" if high else "")
        if not unacked:
            text = "No unacknowledged alarms"
        if state.error:
            text += f" · ⚠ {state.error}"
        self.summary.setText(text)
        self.summary.setStyleSheet("color: #ff7b72; font-weight: bold;" if high else "")
        self._fill()
        self._update_sound()

    def _visible(self) -> list[Alarm]:
        return [a for a in self.alarms if self.show_closed.isChecked() or a.state != "closed"]

    def _fill(self) -> None:
        rows = self._visible()
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        selected_row = -1
        for r, a in enumerate(rows):
            cam = self.site.cameras.get(f"{a.serverid}/{a.cameraid}")
            values = [
                SYMBOL.get(a.priority, a.priority),
                a.time[-8:],
                alarm_text(a),
                cam.name if cam else a.cameraid or "—",
                {"new": "● NEW", "acknowledged": "✔ ACKNOWLEDGED", "closed": "CLOSED"}.get(a.state, a.state.upper()),
                who_text(a),
            ]
            for c, text in enumerate(values):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                item.setText(text)
                item.setToolTip(f"{a.title}\n{a.type} · {a.priority} · {a.time} UTC\n{who_text(a)}".strip())
                item.setData(Qt.ItemDataRole.UserRole, a.id)
            if a.id == self.selected_id:
                selected_row = r
        self._paint()
        if selected_row >= 0:
            self.table.selectRow(selected_row)
        else:
            self.table.clearSelection()
        self.table.blockSignals(False)
        if selected_row < 0 and self.selected_id:
            self.selected_id = ""
        if not self.selected_id and rows:
            self.select(rows[0].id)  # the newest highest alarm, with its picture, unless the operator chose one
        self._show_detail()

    def _paint(self) -> None:
        for r, a in enumerate(self._visible()):
            if a.state == "closed":
                bg, fg = CLOSED
            elif a.state == "acknowledged":
                bg, fg = ACKED
            else:
                bg, fg, flash = COLOURS.get(a.priority, COLOURS["low"])
                if a.priority == "high" and self._flash_on:
                    bg, fg = flash, "#ffffff"
            for c in range(len(COLUMNS)):
                item = self.table.item(r, c)
                if item is None:
                    continue
                item.setBackground(QBrush(QColor(bg)))
                if c == 0 and a.state != "closed":
                    item.setForeground(QBrush(QColor(COLOURS.get(a.priority, COLOURS["low"])[1])))
                else:
                    item.setForeground(QBrush(QColor(fg)))
                font = item.font()
                font.setBold(a.state == "new")
                item.setFont(font)

    def _blink(self) -> None:
        if any(a.state == "new" and a.priority == "high" for a in self.alarms):
            self._flash_on = not self._flash_on
            self._paint()
        elif self._flash_on:
            self._flash_on = False
            self._paint()

    def flashing_rows(self) -> list[int]:
        """Rows that flash (unacknowledged high alarms)."""
        return [r for r, a in enumerate(self._visible()) if a.state == "new" and a.priority == "high"]

    # -- the selected alarm ------------------------------------------------------------------------------

    def select(self, alarm_id: str) -> None:
        for r, a in enumerate(self._visible()):
            if a.id == alarm_id:
                self.selected_id = alarm_id
                self.table.selectRow(r)
                self._show_detail()
                return

    def selected(self) -> Alarm | None:
        return next((a for a in self.alarms if a.id == self.selected_id), None)

    def _selection_changed(self) -> None:
        items = self.table.selectedItems()
        if items:
            self.selected_id = str(items[0].data(Qt.ItemDataRole.UserRole))
            self.result.setText("")
        self._show_detail()

    def _show_detail(self) -> None:
        a = self.selected()
        if a is None:
            self.detail.setText("Select an alarm")
            self.view.show_camera("", "")
        else:
            key = f"{a.serverid}/{a.cameraid}"
            cam = self.site.cameras.get(key)
            self.view.show_camera(key if cam else "", cam.name if cam else (a.cameraid or "no camera"), cam)
            lines = [f"<b>{alarm_text(a)}</b>", f"{SYMBOL.get(a.priority, a.priority)} · {a.type} · {a.time} UTC"]
            if who_text(a):
                lines.append(who_text(a))
            self.detail.setText("<br>".join(lines))
        self._buttons()

    def _buttons(self) -> None:
        a = self.selected()
        self.ack.setEnabled(a is not None and a.state == "new")
        self.close_btn.setEnabled(a is not None and a.state in ("new", "acknowledged"))
        self.comment.setEnabled(a is not None and a.state != "closed")

    def _request(self, signal: Any) -> None:
        a = self.selected()
        if a is not None:
            self.result.setText("sending…")
            signal.emit(a.id, self.comment.text().strip())

    def show_outcome(self, ok: bool, message: str) -> None:
        """What became of an Acknowledge or Close: the comment goes once it is recorded."""
        self.result.setText(("✔ " if ok else "✖ ") + message)
        self.result.setStyleSheet("" if ok else "color: #ff7b72;")
        if ok:
            self.comment.clear()

    # -- sound ---------------------------------------------------------------------------------------

    def silence_sound(self) -> None:
        self.silenced_until = time.monotonic() + SILENCE_SECONDS
        if self.sound is not None:
            self.sound.silence(SILENCE_SECONDS)
        self._update_sound()

    @property
    def ringing(self) -> bool:
        """The alarm sound is asked for and not silenced (whether a device plays it is the sound's business)."""
        return self._sound_on and time.monotonic() >= self.silenced_until

    def _update_sound(self) -> None:
        wants = any(a.state == "new" and a.priority == "high" for a in self.alarms)
        left = self.silenced_until - time.monotonic()
        if not wants:
            self.silenced_until = 0.0
            if self._sound_on and self.sound is not None:
                self.sound.stop()
            self._sound_on = False
            self.sound_state.setText("")
        else:
            if not self._sound_on and self.sound is not None:
                self.sound.start()  # the sound keeps its own silence: it starts again when that is over
            self._sound_on = True
            if left > 0:
                self.sound_state.setText(f"♪ silenced {int(left) // 60}:{int(left) % 60:02d}")
            else:
                self.sound_state.setText(self._sound_words())
        self.silence.setEnabled(wants and left <= 0)

    def _sound_words(self) -> str:
        if self.sound is None:
            return "♪ no sound"
        if not getattr(self.sound, "available", True):
            self.sound_state.setToolTip(getattr(self.sound, "error", "") or "no audio output")
            return "♪ no sound (no audio device)"
        return "♪ SOUNDING"

    def stop_sound(self) -> None:
        """The console closes: no sound rings on, the audio device is freed."""
        self._sound_clock.stop()
        self._flash.stop()
        if self.sound is not None:
            if self._sound_on:
                self.sound.stop()
            close = getattr(self.sound, "close", None)
            if close is not None:
                close()
        self._sound_on = False
