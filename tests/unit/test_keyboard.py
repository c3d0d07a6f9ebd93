"""CCTV keyboard habits: the digit/Enter/F-key state machine, and the Qt filter that feeds it without stealing
keys from text fields."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.ui.keyboard import KEY_HELP, Key, KeyboardControls, KeySequence
from app.ui.keyboard_help import KeyboardHelp

from .console_input_fakes import RecordingControls


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def machine() -> tuple[KeySequence, RecordingControls, Clock]:
    fake, clock = RecordingControls(), Clock()
    return KeySequence(fake, timeout=4.0, max_digits=4, speed=0.5, clock=clock), fake, clock


def type_digits(seq: KeySequence, digits: str) -> None:
    for d in digits:
        seq.digit(int(d))


def test_digits_then_enter_call_that_camera_and_show_what_is_typed() -> None:
    seq, fake, _ = machine()
    type_digits(seq, "12")
    assert seq.press(Key.ENTER)
    assert fake.of("call_camera") == [(12,)]
    assert fake.entries == ["1", "12", ""]


def test_digits_then_a_function_key_recall_that_preset_and_a_function_key_alone_its_own() -> None:
    seq, fake, _ = machine()
    type_digits(seq, "23")
    seq.function_key(1)
    seq.function_key(7)
    assert fake.of("recall_preset") == [(23,), (7,)]
    assert seq.digits == ""


def test_escape_forgets_and_backspace_removes_one_digit() -> None:
    seq, fake, _ = machine()
    type_digits(seq, "45")
    assert seq.press(Key.BACKSPACE)
    assert seq.digits == "4"
    assert seq.press(Key.ESCAPE)
    assert seq.digits == ""
    assert not seq.press(Key.ENTER)  # Enter alone: not ours
    assert not seq.press(Key.ESCAPE)
    assert fake.calls == []


def test_digits_typed_long_ago_are_forgotten() -> None:
    seq, fake, clock = machine()
    type_digits(seq, "9")
    clock.now += 4.1
    type_digits(seq, "3")
    seq.press(Key.ENTER)
    assert fake.of("call_camera") == [(3,)]
    type_digits(seq, "5")
    clock.now += 5
    assert seq.expire()
    assert fake.entries[-1] == ""


def test_more_digits_than_kept_are_ignored_and_zero_calls_nothing() -> None:
    seq, fake, _ = machine()
    type_digits(seq, "123456")
    assert seq.digits == "1234"
    seq.press(Key.ESCAPE)
    type_digits(seq, "00")
    seq.press(Key.ENTER)
    assert fake.of("call_camera") == []


def test_held_arrows_steer_combine_and_stop_on_release() -> None:
    seq, fake, _ = machine()
    seq.press(Key.LEFT)
    seq.press(Key.UP)
    seq.press(Key.UP)  # a second press of a held key changes nothing
    seq.release(Key.LEFT)
    seq.release(Key.UP)
    seq.press(Key.PLUS)
    seq.release(Key.PLUS)
    seq.press(Key.MINUS)
    seq.release_all()
    assert fake.calls and [(n, a) for _, n, a in fake.calls] == [
        ("ptz_move", (-0.5, 0, 0)),
        ("ptz_move", (-0.5, -0.5, 0)),
        ("ptz_move", (0, -0.5, 0)),
        ("ptz_stop", ()),
        ("ptz_move", (0, 0, 0.5)),
        ("ptz_stop", ()),
        ("ptz_move", (0, 0, -0.5)),
        ("ptz_stop", ()),
    ]
    assert not seq.release(Key.LEFT)


def test_key_help_lists_every_habit() -> None:
    keys = " ".join(k for k, _ in KEY_HELP)
    for word in ("Enter", "F1–F12", "Esc", "←", "+"):
        assert word in keys


# -- the Qt event filter ---------------------------------------------------------------------------------


class Window(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.field = QLineEdit()
        self.spin = QSpinBox()
        self.button = QPushButton("a focusable button")
        self.enter_shortcut = 0
        lay = QVBoxLayout(self)
        for w in (self.field, self.spin, self.button):
            lay.addWidget(w)
        QShortcut(QKeySequence("Return"), self, self._enter)

    def _enter(self) -> None:
        self.enter_shortcut += 1


@pytest.fixture
def console(qtbot: QtBot) -> Iterator[tuple[Window, RecordingControls, KeyboardControls]]:
    w = Window()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    fake = RecordingControls()
    controls = KeyboardControls(fake, w)
    app = QApplication.instance()
    assert app is not None
    app.installEventFilter(controls)
    yield w, fake, controls
    app.removeEventFilter(controls)


def test_digits_and_enter_on_the_console_call_the_camera_not_the_enter_shortcut(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    w, fake, _ = console
    w.button.setFocus()
    qtbot.waitUntil(w.button.hasFocus)
    for key in (Qt.Key.Key_4, Qt.Key.Key_2, Qt.Key.Key_Return):
        qtbot.keyClick(w.button, key)
    assert fake.of("call_camera") == [(42,)]
    assert w.enter_shortcut == 0
    qtbot.keyClick(w.button, Qt.Key.Key_Return)  # Enter alone keeps its meaning
    assert w.enter_shortcut == 1
    assert fake.of("call_camera") == [(42,)]


def test_keys_typed_into_text_fields_are_not_stolen(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    w, fake, _ = console
    w.field.setFocus()
    qtbot.waitUntil(w.field.hasFocus)
    qtbot.keyClicks(w.field, "17+-")
    for key in (Qt.Key.Key_Left, Qt.Key.Key_F3, Qt.Key.Key_Return):
        qtbot.keyClick(w.field, key)
    assert w.field.text() == "17+-"
    w.spin.setFocus()
    qtbot.keyClick(w.spin, Qt.Key.Key_Up)
    qtbot.keyClick(w.spin, Qt.Key.Key_Up)
    qtbot.keyClick(w.spin, Qt.Key.Key_Down)
    assert w.spin.value() == 1
    assert fake.calls == []
    assert fake.entries == []


def test_function_key_after_digits_recalls_the_preset(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    w, fake, _ = console
    w.button.setFocus()
    for key in (Qt.Key.Key_1, Qt.Key.Key_5, Qt.Key.Key_F2, Qt.Key.Key_F4):
        qtbot.keyClick(w.button, key)
    assert fake.of("recall_preset") == [(15,), (4,)]


def test_arrow_held_steers_until_released_even_if_focus_moved_to_a_field(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    w, fake, _ = console
    w.button.setFocus()
    qtbot.keyPress(w.button, Qt.Key.Key_Right)
    # Auto-repeat while held: nothing new.
    QApplication.sendEvent(
        w.button, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, "", True)
    )
    assert fake.of("ptz_move") == [(0.5, 0, 0)]
    w.field.setFocus()
    qtbot.keyRelease(w.field, Qt.Key.Key_Right)
    assert fake.names() == ["ptz_move", "ptz_stop"]


def test_the_window_losing_focus_stops_a_held_arrow(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    w, fake, _ = console
    w.button.setFocus()
    qtbot.keyPress(w.button, Qt.Key.Key_Up)
    QApplication.sendEvent(w, QEvent(QEvent.Type.WindowDeactivate))
    assert fake.names() == ["ptz_move", "ptz_stop"]


def test_keys_in_another_window_are_left_alone(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    _, fake, _ = console
    dialog = QDialog()
    qtbot.addWidget(dialog)
    b = QPushButton("ok", dialog)
    dialog.show()
    qtbot.keyClick(b, Qt.Key.Key_3)
    qtbot.keyClick(b, Qt.Key.Key_Left)
    assert fake.calls == [] and fake.entries == []


def test_ctrl_combinations_are_left_to_the_window(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    w, fake, _ = console
    w.button.setFocus()
    qtbot.keyClick(w.button, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert fake.entries == []
    qtbot.keyClick(w.button, Qt.Key.Key_1)
    assert fake.entries == ["1"]


def test_the_typed_digits_are_cleared_on_screen_after_the_timeout(
    qtbot: QtBot, console: tuple[Window, RecordingControls, KeyboardControls]
) -> None:
    w, fake, controls = console
    controls.sequence.timeout = 0.2
    w.button.setFocus()
    qtbot.keyClick(w.button, Qt.Key.Key_8)
    assert fake.entries == ["8"]
    qtbot.waitUntil(lambda: fake.entries[-1] == "", timeout=2000)


def test_help_window_lists_keys_and_joystick(qtbot: QtBot) -> None:
    help_ = KeyboardHelp(joystick_status="joystick Pad connected")
    qtbot.addWidget(help_)
    assert help_.keys.rowCount() == len(KEY_HELP)
    assert help_.joystick.rowCount() > 0
    item = help_.keys.item(1, 0)
    assert item is not None and "Enter" in item.text()
    assert "Pad" in help_.status.text()
