"""CCTV-keyboard habits on the PC keyboard: digits then Enter calls a camera onto the selected panel, digits then an
F-key recalls that preset, + and − zoom, arrows steer the selected dome while held.

`KeySequence` is the Qt-free state machine; `KeyboardControls` is the Qt event filter that feeds it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from ..config import DEFAULTS
from .steering import ConsoleControls

__all__ = ["KEY_HELP", "ConsoleControls", "Key", "KeySequence", "KeyboardControls"]


class Key(Enum):
    """The keys the console's keyboard habits know, whatever Qt or a test calls them."""

    ENTER = "enter"
    ESCAPE = "escape"
    BACKSPACE = "backspace"
    PLUS = "plus"
    MINUS = "minus"
    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


STEER: dict[Key, tuple[int, int, int]] = {
    Key.LEFT: (-1, 0, 0),
    Key.RIGHT: (1, 0, 0),
    Key.UP: (0, -1, 0),  # tilt up is negative, as on the PTZ pad
    Key.DOWN: (0, 1, 0),
    Key.PLUS: (0, 0, 1),
    Key.MINUS: (0, 0, -1),
}

# (key, what it does): shown by Help → Keyboard.
KEY_HELP: list[tuple[str, str]] = [
    ("0–9", "type a camera or preset number (shown while typing; forgotten after a few seconds)"),
    ("digits, Enter", "call that camera number onto the selected panel"),
    ("digits, F1–F12", "recall that preset number on the selected dome"),
    ("F1–F12 alone", "recall preset 1–12 on the selected dome"),
    ("Backspace", "remove the last digit typed"),
    ("Esc", "forget the digits typed"),
    ("← → ↑ ↓ (held)", "pan and tilt the selected dome; it stops when the keys are released"),
    ("+ / − (held)", "zoom the selected dome in / out; it stops when the key is released"),
    ("Enter alone", "send the camera selected in the tree to the selected panel"),
    ("Alt+1 … Alt+9", "select panel 1–9 of the selected monitor"),
    ("Ctrl+F", "filter the camera tree"),
]


@dataclass
class KeySequence:
    """Digits buffer and held steering keys. Each method returns nothing; it calls the target."""

    target: ConsoleControls
    timeout: float = DEFAULTS.key_entry_timeout
    max_digits: int = DEFAULTS.key_entry_digits
    speed: float = DEFAULTS.key_speed
    clock: Callable[[], float] = time.monotonic
    digits: str = ""
    held: set[Key] = field(default_factory=set)
    _last: float = 0.0

    @property
    def entry(self) -> str:
        return self.digits

    def expire(self) -> bool:
        """Forget digits typed longer ago than the timeout; True when something was forgotten."""
        if self.digits and self.clock() - self._last >= self.timeout:
            self._set("")
            return True
        return False

    def digit(self, d: int) -> None:
        self.expire()
        if len(self.digits) < self.max_digits:
            self._set(self.digits + str(d))
        self._last = self.clock()

    def press(self, key: Key) -> bool:
        """A key went down (not auto-repeat); True when it meant something here (the caller consumes it)."""
        self.expire()
        if key in STEER:
            if key not in self.held:
                self.held.add(key)
                self._steer()
            return True
        if key is Key.ENTER:
            if not self.digits:
                return False  # Enter alone keeps its ordinary meaning
            n = int(self.digits)
            self._set("")
            if n > 0:
                self.target.call_camera(n)
            return True
        if key is Key.ESCAPE:
            if not self.digits:
                return False
            self._set("")
            return True
        if key is Key.BACKSPACE:
            if not self.digits:
                return False
            self._set(self.digits[:-1])
            self._last = self.clock()
            return True
        return False

    def function_key(self, n: int) -> None:
        """F1–F12: with digits typed, recall that preset; alone, recall preset n."""
        self.expire()
        number = int(self.digits) if self.digits else n
        self._set("")
        if number > 0:
            self.target.recall_preset(number)

    def release(self, key: Key) -> bool:
        if key not in self.held:
            return False
        self.held.discard(key)
        self._steer()
        return True

    def release_all(self) -> None:
        """Focus left the window while keys were held: the release will never come here, so stop now."""
        if self.held:
            self.held.clear()
            self.target.ptz_stop()

    def _steer(self) -> None:
        pan = sum(STEER[k][0] for k in self.held)
        tilt = sum(STEER[k][1] for k in self.held)
        zoom = sum(STEER[k][2] for k in self.held)
        if pan == tilt == zoom == 0:
            self.target.ptz_stop()
        else:
            s = self.speed
            self.target.ptz_move(pan * s, tilt * s, zoom * s)

    def _set(self, digits: str) -> None:
        if digits != self.digits:
            self.digits = digits
            self.target.show_entry(digits)


_QT_KEYS: dict[int, Key] = {
    Qt.Key.Key_Return.value: Key.ENTER,
    Qt.Key.Key_Enter.value: Key.ENTER,
    Qt.Key.Key_Escape.value: Key.ESCAPE,
    Qt.Key.Key_Backspace.value: Key.BACKSPACE,
    Qt.Key.Key_Plus.value: Key.PLUS,
    Qt.Key.Key_Equal.value: Key.PLUS,  # + without Shift on most layouts
    Qt.Key.Key_Minus.value: Key.MINUS,
    Qt.Key.Key_Left.value: Key.LEFT,
    Qt.Key.Key_Right.value: Key.RIGHT,
    Qt.Key.Key_Up.value: Key.UP,
    Qt.Key.Key_Down.value: Key.DOWN,
}
_ARROWS = {Key.LEFT, Key.RIGHT, Key.UP, Key.DOWN}
# Widgets the operator types into: every key stays theirs.
_TEXT = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
_MODIFIERS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier


class KeyboardControls(QObject):
    """Application event filter: the keyboard habits for one window (`window`), calling `target`.

    Install with `QApplication.instance().installEventFilter(controls)`. Keys go to text fields as usual; keys in
    other windows (dialogs) are left alone; Ctrl/Alt combinations are left to the window's shortcuts.
    """

    def __init__(self, target: ConsoleControls, window: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent or window)
        self.window = window
        self.sequence = KeySequence(target)
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.timeout.connect(self.sequence.expire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.WindowDeactivate and watched is self.window:
            self.sequence.release_all()
            return False
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride):
            return False
        if not isinstance(event, QKeyEvent) or not isinstance(watched, QWidget) or watched.window() is not self.window:
            return False
        key = _QT_KEYS.get(event.key())
        if kind == QEvent.Type.KeyRelease:
            # A release always counts, even in a text field: a dome must not keep moving because focus moved.
            if key is None or event.isAutoRepeat():
                return False
            return self.sequence.release(key)
        if not self._ours(watched, event, key):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            # Accepting the override keeps a window shortcut on the same key from firing: the KeyPress comes here.
            event.accept()
            return True
        if event.isAutoRepeat():
            return True  # held keys act once, on the first press
        handled = self._press(event, key)
        if self.sequence.digits:
            self._expiry.start(int(self.sequence.timeout * 1000) + 50)
        return handled

    def _ours(self, widget: QWidget, event: QKeyEvent, key: Key | None) -> bool:
        """Whether this key press is one of the habits here, rather than the focused widget's."""
        if event.modifiers() & _MODIFIERS:
            return False
        # The focused widget, not the receiver: a key a text field ignores climbs to its parents, still typed there.
        focus = QApplication.focusWidget()
        for w in (widget, focus):
            if isinstance(w, _TEXT) or (isinstance(w, QComboBox) and w.isEditable()):
                return False
        if self._digit(event) is not None or self._fkey(event) is not None:
            return True
        if key is None:
            return False
        if key in (Key.ENTER, Key.ESCAPE, Key.BACKSPACE):
            return bool(self.sequence.digits)
        # A closed combo box steps through its items with the arrows.
        return not (key in _ARROWS and isinstance(widget, QComboBox))

    def _press(self, event: QKeyEvent, key: Key | None) -> bool:
        d = self._digit(event)
        if d is not None:
            self.sequence.digit(d)
            return True
        f = self._fkey(event)
        if f is not None:
            self.sequence.function_key(f)
            return True
        return key is not None and self.sequence.press(key)

    @staticmethod
    def _digit(event: QKeyEvent) -> int | None:
        k = event.key()
        return k - Qt.Key.Key_0.value if Qt.Key.Key_0.value <= k <= Qt.Key.Key_9.value else None

    @staticmethod
    def _fkey(event: QKeyEvent) -> int | None:
        k = event.key()
        return k - Qt.Key.Key_F1.value + 1 if Qt.Key.Key_F1.value <= k <= Qt.Key.Key_F12.value else None


def install(target: ConsoleControls, window: QWidget) -> KeyboardControls:
    """Create the filter for `window` and install it on the application."""
    controls = KeyboardControls(target, window)
    app = QApplication.instance()
    if app is not None:
        app.installEventFilter(controls)
    return controls
