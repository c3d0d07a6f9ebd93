"""A viewer station's playback controls: start playback, go to a UTC date and time, step back 30 s or 5 min,
choose a documented speed, return to live. Each button asks for actions; the window sends them (with uids).

Signals (PlaybackBar):
    requested(str divaid, object steps)   steps: a list of (command, params) to send in order
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDateTime, QTimeZone, Signal
from PySide6.QtWidgets import QComboBox, QDateTimeEdit, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from ..client.playback import SPEEDS, STEPS_BACK, Playback, sense_time, speed_text, utc_now

Step = tuple[str, dict[str, object]]


class PlaybackBar(QWidget):
    requested = Signal(str, object)

    def __init__(self, divaid: str) -> None:
        super().__init__()
        self.divaid = divaid
        self.state: Playback | None = None
        self.start_button = QPushButton("▶ Playback")
        self.start_button.setToolTip("Switch this viewer station to playback (startPlayback)")
        self.start_button.clicked.connect(self._start)
        self.when = QDateTimeEdit()
        self.when.setTimeZone(QTimeZone.utc())
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.when.setCalendarPopup(True)
        self.when.setToolTip("The moment to play back from, in UTC (Go to)")
        self.go = QPushButton("Go to")
        self.go.setToolTip("Play back from this date and time (setPlaybackDateTime)")
        self.go.clicked.connect(lambda: self._goto(self.chosen_time()))
        self.steps: dict[int, QPushButton] = {}
        for label, seconds in STEPS_BACK:
            b = QPushButton(label)
            b.setToolTip(f"Go back {label.lstrip('−')} in playback (setPlaybackDateTime)")
            b.clicked.connect(lambda _=False, s=seconds: self.step_back(s))
            self.steps[seconds] = b
        self.speed = QComboBox()
        self.speed.setToolTip("Playback speed (setPlaybackSpeed)")
        for s in SPEEDS:
            self.speed.addItem(f"×{speed_text(s)}", s)
        self.speed.setCurrentIndex(self.speed.findData(1.0))
        self.speed.activated.connect(lambda i: self.choose_speed(float(self.speed.itemData(i))))
        self.live_button = QPushButton("● Live")
        self.live_button.setToolTip("Return this viewer station to live video (stopPlayback)")
        self.live_button.clicked.connect(self.go_live)
        self.status = QLabel("LIVE")
        self.status.setObjectName("PlaybackState")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for w in (self.start_button, self.when, self.go, *self.steps.values(), self.speed, self.live_button):
            w.setObjectName("PlaybackControl")
            row.addWidget(w)
        row.addWidget(self.status, 1)
        self.show_state(None)

    def chosen_time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.when.dateTime().toSecsSinceEpoch(), dt.UTC)

    def set_time(self, t: dt.datetime) -> None:
        self.when.setDateTime(QDateTime.fromSecsSinceEpoch(int(t.timestamp()), QTimeZone.utc()))

    def show_state(self, state: Playback | None) -> None:
        was_live = self.state is None
        self.state = state
        self.live_button.setEnabled(state is not None)
        self.start_button.setEnabled(state is None)
        if state is None:
            self.status.setText("LIVE")
            self.status.setProperty("state", "live")
            self.set_time(utc_now() - dt.timedelta(minutes=5))
        else:
            self.status.setText(state.label())
            self.status.setToolTip(state.label())
            self.status.setProperty("state", "playback")
            self.speed.setCurrentIndex(max(0, self.speed.findData(state.speed)))
            if was_live:
                self.set_time(state.at())
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _start_steps(self) -> list[Step]:
        return [] if self.state is not None else [("startPlayback", {"divaid": self.divaid})]

    def _start(self) -> None:
        self.requested.emit(self.divaid, self._start_steps())

    def _goto(self, t: dt.datetime) -> None:
        self.requested.emit(
            self.divaid, [*self._start_steps(), ("setPlaybackDateTime", {"divaid": self.divaid, "time": sense_time(t)})]
        )

    def step_back(self, seconds: int) -> None:
        base = self.state.at() if self.state is not None else utc_now()
        self._goto(base - dt.timedelta(seconds=seconds))

    def choose_speed(self, speed: float) -> None:
        self.requested.emit(
            self.divaid,
            [*self._start_steps(), ("setPlaybackSpeed", {"divaid": self.divaid, "speed": speed_text(speed)})],
        )

    def go_live(self) -> None:
        self.requested.emit(self.divaid, [("stopPlayback", {"divaid": self.divaid})])
