"""One camera picture on screen: PictureView paints it under its labels and says how old it is (LIVE; FROZEN with
its age once it has not changed for a while; the moment it shows in playback) or why there is none. A
PictureFeed (app.ui.pictures) fills it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..client.playback import Playback, sense_time, speed_text
from ..client.site import Camera
from ..config import DEFAULTS

SIZE_STEP = 16  # asked sizes are rounded to this, so a server can cache what repeats while a panel is resized


def asked_size(width: int, height: int) -> tuple[int, int]:
    """The picture size to ask for a view of width×height: rounded up to SIZE_STEP, within the configured box."""
    w = min(DEFAULTS.picture_max_width, max(64, -(-width // SIZE_STEP) * SIZE_STEP))
    h = min(DEFAULTS.picture_max_height, max(48, -(-height // SIZE_STEP) * SIZE_STEP))
    return w, h


@dataclass(frozen=True)
class Ask:
    """One picture request of a view: the command, its parameters, the size asked for and, in playback, the
    moment asked for (and the speed the station plays at)."""

    command: str
    params: dict[str, object]
    width: int
    height: int
    moment: dt.datetime | None = None
    speed: float = 1.0


_COMPACT = {"live": "●", "frozen": "{} s", "playback": "▶"}


def _restyle(w: QWidget, name: str, value: str) -> None:
    if w.property(name) != value:
        w.setProperty(name, value)
        w.style().unpolish(w)
        w.style().polish(w)


class PictureView(QFrame):
    """A camera's picture with a title (top left), a badge (top right: LIVE, FROZEN 4 s, PLAYBACK …), a message in
    the middle (why there is no picture) and the camera's name (bottom). The feed fills it; `interval` says how
    often it wants a new picture; `playback` says whether (and where) its viewer station plays back."""

    def __init__(self, title: str = "", object_name: str = "Picture", interval: float = DEFAULTS.picture_interval):
        super().__init__()
        self.setObjectName(object_name)
        self.interval = interval
        self.playback: Callable[[], Playback | None] = lambda: None
        self.title = QLabel(title)
        self.title.setObjectName("PanelHint")
        self.title.setVisible(bool(title))
        self.badge = QLabel("")
        self.badge.setObjectName("PictureBadge")
        self.badge.hide()
        self.message = QLabel("")
        self.message.setObjectName("PictureMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.hide()
        self.camera = QLabel("— empty —")
        self.camera.setObjectName("PanelName")
        self.camera.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Names take one line and give way (clipped) in a narrow panel; the badge never does: it is what says
        # whether the picture is live.
        for label in (self.title, self.camera, self.message):
            label.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(1)
        self.badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        top.addStretch(1)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 3, 4, 3)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addStretch(1)
        lay.addWidget(self.message)
        lay.addStretch(1)
        lay.addWidget(self.camera, 0, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        self.camera_key = ""
        self.source: Camera | None = None
        # The feed's bookkeeping: when the next request is due, whether one is out, which picture an answer is for.
        self.due = 0.0
        self.in_flight = False
        self.generation = 0
        self.requests = 0
        self.frames = 0
        self._mode = "live"
        self.image: QImage | None = None
        self._digest = b""
        self.changed_at: float | None = None  # monotonic time the picture last changed
        self.failure = ""
        self.moment: dt.datetime | None = None  # in playback, the moment the picture shown is of
        self._speed = 1.0
        self._badge_text = ""
        self._badge_age = 0

    # -- what to show ---------------------------------------------------------------------------------

    def show_camera(self, key: str, label: str, cam: Camera | None = None) -> None:
        self.camera.setText(label or "— empty —")
        if key != self.camera_key:
            self.camera_key = key
            self.source = cam
            self._reset("waiting for a picture…" if cam else "")

    def _reset(self, message: str) -> None:
        """Forget the picture (another camera, or live ↔ playback): never show one moment as another."""
        self.generation += 1
        self.image, self._digest, self.changed_at, self.failure, self.moment = None, b"", None, "", None
        self.due = 0.0
        self._show_message(message)
        self._set_badge("", "none")
        self.update()

    def mode(self) -> str:
        return "playback" if self.playback() is not None else "live"

    def sync_mode(self) -> None:
        m = self.mode()
        if m != self._mode:
            self._mode = m
            self._reset("waiting for a picture…" if self.source else "")

    def on_screen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty() and not self.window().isMinimized()

    def query(self) -> Ask:
        """The picture this view wants now: live, or its station's playback moment."""
        cam = self.source
        assert cam is not None
        w, h = asked_size(self.contentsRect().width(), self.contentsRect().height())
        params: dict[str, object] = {
            "serverid": cam.serverid,
            "cameraid": cam.deviceid,
            "imagewidth": w,
            "imageheight": h,
            "fittopanel": "true",
        }
        pb = self.playback()
        if pb is None:
            return Ask("getLiveImage", params, w, h)
        moment = pb.at()
        return Ask("getHistoricalImage", {**params, "time": sense_time(moment, millis=True)}, w, h, moment, pb.speed)

    # -- what the feed found --------------------------------------------------------------------------

    def take(self, image: QImage, digest: bytes, now: float, ask: Ask | None = None) -> None:
        if ask is not None:
            self.moment, self._speed = ask.moment, ask.speed
        if digest != self._digest or self.mode() == "playback":
            # In playback a still scene is expected (a slow speed asks for the same second twice); live, the same
            # bytes again mean the camera's picture does not move: its age keeps counting.
            self.changed_at = now
        self._digest = digest
        self.image = image
        self.failure = ""
        self.frames += 1
        self._show_message("")
        self.refresh_badge(now)
        self.update()

    def fail(self, reason: str, detail: str, final: bool, now: float) -> None:
        """No picture: the server said why (final: the old picture goes) or the way to it failed (it stays, aging)."""
        self.failure = reason
        if final:
            self.image, self._digest, self.changed_at = None, b"", None
            self.update()
        self._show_message(f"no picture: {reason}" if self.image is None else f"no new picture: {reason}")
        self.message.setToolTip(detail)
        self.refresh_badge(now)

    def age(self, now: float) -> float | None:
        return None if self.changed_at is None else now - self.changed_at

    def frozen(self, now: float) -> bool:
        age = self.age(now)
        return self.image is not None and age is not None and age > DEFAULTS.picture_frozen_after

    def refresh_badge(self, now: float) -> None:
        if self.image is None:
            self._set_badge("", "none")
            return
        age = self.age(now) or 0.0
        if self.frozen(now):
            self._badge_age = round(age)
            self._set_badge(f"FROZEN {age:.0f} s", "frozen")
            self.badge.setToolTip(f"This picture has not changed for {age:.0f} s: it is not live")
            return
        if self.moment is not None and self.mode() == "playback":
            # The moment this picture is of (not the station's moment now: a picture is never labelled later);
            # the date only when it is not today's (UTC).
            today = self.moment.date() == dt.datetime.now(dt.UTC).date()
            stamp = self.moment.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M:%S")
            self._set_badge(f"▶ {stamp} ×{speed_text(self._speed)}", "playback")
            self.badge.setToolTip(f"Playback: a recorded picture of {self.moment:%Y-%m-%d %H:%M:%S} UTC")
        elif self.mode() == "live":
            self._set_badge("● LIVE", "live")
            self.badge.setToolTip(f"A live picture, less than {DEFAULTS.picture_frozen_after:g} s old")
        else:
            self._set_badge("", "none")

    def _set_badge(self, text: str, state: str) -> None:
        if text and self.badge.fontMetrics().horizontalAdvance(text) + 24 > self.width():
            text = _COMPACT.get(state, text)  # a narrow panel: the short form (the amber frame says FROZEN too)
            if state == "frozen":
                text = text.format(self._badge_age)
        if text != self._badge_text:
            self._badge_text = text
            self.badge.setText(text)
            self.badge.setVisible(bool(text))
        _restyle(self.badge, "state", state)
        _restyle(self, "frozen", "true" if state == "frozen" else "false")

    def _show_message(self, text: str) -> None:
        if self.message.text() != text:
            self.message.setText(text)
            self.message.setVisible(bool(text))

    def paintEvent(self, e: QPaintEvent) -> None:
        super().paintEvent(e)
        if self.image is None:
            return
        box = self.contentsRect()
        size = self.image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(box.center())
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self.image)
        p.end()
