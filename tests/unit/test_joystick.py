"""The joystick steers the selected dome through SDL's virtual joystick: speed curve, at most 5 commands a second
under a flood, stop on release and on unplug, buttons recall presets, garbage stops the dome."""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.ui import sdl
from app.ui.joystick import JoystickControls, JoystickReader, JoystickSettings
from app.ui.steering import STOP, CommandPacer, HeldMove, Move, SpeedCurve

from .console_input_fakes import RecordingControls

# No window system for SDL (it opens none; the hint keeps it from looking for one).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
FULL = 32767


def sdl2_or_skip() -> ModuleType:
    try:
        return sdl.load()
    except sdl.SdlUnavailable as exc:
        pytest.skip(str(exc))


@dataclass
class Virtual:
    """One virtual device: its own SDL handle to set axes and buttons."""

    sdl2: ModuleType
    index: int
    handle: Any

    def axis(self, axis: int, value: int) -> None:
        assert self.sdl2.SDL_JoystickSetVirtualAxis(self.handle, axis, value) == 0

    def button(self, button: int, down: bool) -> None:
        assert self.sdl2.SDL_JoystickSetVirtualButton(self.handle, button, 1 if down else 0) == 0

    def detach(self) -> None:
        if self.handle is not None:
            self.sdl2.SDL_JoystickClose(self.handle)
            self.handle = None
            self.sdl2.SDL_JoystickDetachVirtual(self.index)


class Rig:
    def __init__(self, sdl2: ModuleType, controller: bool) -> None:
        self.sdl2 = sdl2
        self.fake = RecordingControls()
        self.statuses: list[str] = []
        self.reader = JoystickReader(self.fake, JoystickSettings(), on_status=self.statuses.append)
        assert self.reader.available, self.reader.error
        kind = sdl2.SDL_JOYSTICK_TYPE_GAMECONTROLLER if controller else sdl2.SDL_JOYSTICK_TYPE_UNKNOWN
        index = sdl2.SDL_JoystickAttachVirtual(kind, 4, 12, 0)
        assert index >= 0, sdl.error_text(sdl2)
        self.dev = Virtual(sdl2, index, sdl2.SDL_JoystickOpen(index))
        self.until(lambda: self.reader.device is not None, "the reader opens the virtual device")

    def until(self, cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Poll the reader (as its 50 Hz timer would) until cond holds."""
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting until {what}; calls {self.fake.calls[-5:]}")
            self.reader.poll()
            time.sleep(0.005)  # the reader's own poll interval stands in for the QTimer; the condition decides

    def close(self) -> None:
        self.dev.detach()
        self.reader.close()


@pytest.fixture(params=[True, False], ids=["game-controller", "joystick"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    r = Rig(sdl2_or_skip(), controller=request.param)
    yield r
    r.close()


def test_the_speed_curve_has_a_dead_zone_is_cubic_and_survives_garbage() -> None:
    c = SpeedCurve(dead_zone=0.15, exponent=3.0, step=0.05)
    assert c(0.1) == 0.0 and c(-0.15) == 0.0
    assert c(1.0) == 1.0 and c(-1.0) == -1.0
    assert c(0.2) == 0.05  # just outside the dead zone: slow, never a stop
    assert c(0.6) == pytest.approx(round(((0.45 / 0.85) ** 3) / 0.05) * 0.05)
    assert c(0.6) < 0.6
    for garbage in (math.nan, math.inf, -math.inf):
        assert c(garbage) == 0.0 or abs(c(garbage)) <= 1.0
    assert c(math.nan) == 0.0
    assert c(7.0) == 1.0


def test_the_pacer_keeps_the_latest_move_and_never_loses_the_stop() -> None:
    fake = RecordingControls()
    now = [0.0]
    p = CommandPacer(fake, rate=5.0, clock=lambda: now[0])
    p.move(0.5, 0, 0)
    p.flush()
    for i in range(100):
        p.move(i / 100, 0, 0)
        p.flush()
    p.stop()
    p.flush()
    assert fake.names() == ["ptz_move"]  # still inside the first 0.2 s
    now[0] = 0.2
    p.flush()
    now[0] = 0.4
    p.flush()
    assert fake.names() == ["ptz_move", "ptz_stop"]


def test_a_held_move_is_sent_again_every_five_seconds_until_a_stop() -> None:
    """Held (pad, arrow key, stick): one move leaves; the managers' control lapses 15 s after the last command,
    so it goes again every 5 s, never sooner, and a stop ends it for good."""
    sent: list[tuple[str, Move]] = []
    now = [0.0]
    h = HeldMove(lambda dome, m: sent.append((dome, m)), clock=lambda: now[0])
    h.tick("1:104")  # nothing held: nothing sent
    h.sent("1:104", Move(500, 0, 0))
    for t in (1.0, 4.9):
        now[0] = t
        h.tick("1:104")
    assert sent == []
    now[0] = 5.0
    h.tick("1:104")
    h.tick("1:104")  # once, not once a tick
    assert sent == [("1:104", Move(500, 0, 0))]
    now[0] = 7.0
    h.sent("1:104", Move(0, -300, 0))  # the move changed: the 5 s count from it
    now[0] = 11.9
    h.tick("1:104")
    now[0] = 12.0
    h.tick("1:104")
    assert sent[1:] == [("1:104", Move(0, -300, 0))]
    now[0] = 13.0
    h.sent("1:104", STOP)
    assert not h.active
    for t in (18.0, 30.0, 100.0):
        now[0] = t
        h.tick("1:104")
    assert len(sent) == 2 and h.repeated == 2


def test_a_held_move_ends_when_the_dome_changes_or_is_gone() -> None:
    sent: list[tuple[str, Move]] = []
    now = [0.0]
    h = HeldMove(lambda dome, m: sent.append((dome, m)), clock=lambda: now[0])
    h.sent("1:104", Move(0, 0, 400))
    now[0] = 6.0
    h.tick("1:105")  # another dome selected: the old one is not moved again, nor the new one
    now[0] = 20.0
    h.tick("1:105")
    h.tick("1:104")
    assert sent == [] and not h.active
    h.sent("", Move(1, 0, 0))  # no dome: nothing to keep
    now[0] = 40.0
    h.tick("")
    assert sent == []


def test_moving_the_stick_moves_the_dome_along_the_curve_and_centring_stops_it(rig: Rig) -> None:
    curve = SpeedCurve()
    rig.dev.axis(0, FULL // 2)
    rig.until(lambda: bool(rig.fake.of("ptz_move")), "a move")
    pan, tilt, zoom = rig.fake.of("ptz_move")[-1]
    assert pan == pytest.approx(curve((FULL // 2) / FULL)) and 0 < pan < 0.5
    assert tilt == 0 and zoom == 0
    rig.dev.axis(1, -FULL)  # stick forward: tilt up (negative, as on the PTZ pad)
    rig.until(lambda: rig.fake.of("ptz_move")[-1][1] == -1.0, "tilt up at full speed")
    rig.dev.axis(0, 0)
    rig.dev.axis(1, 1000)  # inside the dead zone
    rig.until(lambda: rig.fake.names()[-1] == "ptz_stop", "the stop")
    assert rig.fake.max_in_any_second() <= 5


def test_the_zoom_axis_zooms(rig: Rig) -> None:
    zoom_axis = 3 if rig.reader.device and rig.reader.device.controller is not None else 2
    rig.dev.axis(zoom_axis, -FULL)  # pushed up / forward: zoom in
    rig.until(lambda: bool(rig.fake.of("ptz_move")) and rig.fake.of("ptz_move")[-1][2] == 1.0, "zoom in")
    rig.dev.axis(zoom_axis, 0)
    rig.until(lambda: rig.fake.names()[-1] == "ptz_stop", "the stop")


def test_a_flood_of_axis_changes_gives_at_most_5_commands_a_second_and_ends_with_the_stop(rig: Rig) -> None:
    rnd = random.Random(15)
    end = time.monotonic() + 2.5
    changes = 0
    while time.monotonic() < end:
        for _ in range(200):  # thousands of small, real-looking changes a second
            rig.dev.axis(0, rnd.randint(8000, FULL))
            rig.dev.axis(1, rnd.randint(-FULL, -8000))
            changes += 2
        rig.reader.poll()
    assert changes > 5000
    rig.dev.axis(0, 0)
    rig.dev.axis(1, 0)
    rig.until(lambda: rig.fake.names()[-1] == "ptz_stop", "the final stop")
    assert rig.fake.max_in_any_second() <= 5
    assert len(rig.fake.of("ptz_move")) >= 8  # it kept steering, at the pace
    assert rig.fake.names().count("ptz_stop") == 1


def test_unplugging_stops_the_dome_and_says_so(rig: Rig) -> None:
    rig.dev.axis(0, FULL)
    rig.until(lambda: bool(rig.fake.of("ptz_move")), "a move")
    rig.dev.detach()
    rig.until(lambda: rig.fake.names()[-1] == "ptz_stop", "the stop after the unplug")
    assert rig.reader.device is None
    assert "unplugged: dome stopped" in rig.statuses[-1]
    assert any("connected" in s for s in rig.statuses)
    for _ in range(20):
        rig.reader.poll()
    assert rig.fake.names().count("ptz_stop") == 1  # and nothing after


def test_a_button_recalls_its_preset_once_even_if_it_bounces(rig: Rig) -> None:
    controller = rig.reader.device is not None and rig.reader.device.controller is not None
    button, preset = (2, 3) if controller else (4, 5)  # X on a controller = preset 3; joystick button 5 = preset 5
    for _ in range(3):  # contact bounce
        rig.dev.button(button, True)
        rig.reader.poll()
        rig.dev.button(button, False)
        rig.reader.poll()
    rig.until(lambda: bool(rig.fake.of("recall_preset")), "the recall")
    t0 = time.monotonic()
    rig.until(lambda: time.monotonic() - t0 > 0.5, "a while")
    assert rig.fake.of("recall_preset") == [(preset,)]


def test_garbage_end_to_end_values_stop_the_dome_say_so_and_stay_bounded(rig: Rig) -> None:
    rig.dev.axis(0, FULL)
    rig.until(lambda: bool(rig.fake.of("ptz_move")), "a move")
    end = time.monotonic() + 1.5
    flip = False
    while time.monotonic() < end:
        flip = not flip
        rig.dev.axis(0, -32768 if flip else FULL)
        rig.dev.axis(1, FULL if flip else -32768)
        rig.reader.poll()
        time.sleep(0.005)
    assert any("erratic" in s and "dome stopped" in s for s in rig.statuses)
    assert rig.fake.names()[-1] == "ptz_stop" or rig.reader.pacer.wanted_motion.still
    rig.until(lambda: rig.fake.names()[-1] == "ptz_stop" and not rig.reader.pacer.pending, "the stop")
    assert rig.fake.max_in_any_second() <= 5
    # Calm again: it steers again.
    rig.dev.axis(1, 0)
    rig.dev.axis(0, FULL)
    rig.until(lambda: rig.fake.names()[-1] == "ptz_move", "steering again", timeout=4.0)
    assert "steady again" in rig.statuses[-1]


def test_a_button_flood_is_ignored_and_bounded(rig: Rig) -> None:
    for i in range(300):
        rig.dev.button((i // 2) % 4, i % 2 == 0)  # press and release buttons 1-4 in turn, 150 presses
        rig.reader.poll()
    rig.until(lambda: not rig.reader.pacer.pending, "nothing pending")
    assert len(rig.fake.of("recall_preset")) <= 5
    assert any("erratic button presses" in s for s in rig.statuses)
    assert rig.fake.max_in_any_second() <= 5


def test_the_qt_controls_poll_on_their_own_and_report_status(qtbot: QtBot) -> None:
    sdl2 = sdl2_or_skip()
    fake = RecordingControls()
    controls = JoystickControls(fake)
    seen: list[str] = []
    controls.status.connect(seen.append)
    index = sdl2.SDL_JoystickAttachVirtual(sdl2.SDL_JOYSTICK_TYPE_GAMECONTROLLER, 4, 12, 0)
    dev = Virtual(sdl2, index, sdl2.SDL_JoystickOpen(index))
    try:
        qtbot.waitUntil(lambda: any("connected" in s for s in seen), timeout=3000)
        dev.axis(0, -FULL)
        qtbot.waitUntil(lambda: bool(fake.of("ptz_move")), timeout=3000)
        dev.detach()
        qtbot.waitUntil(lambda: any("unplugged" in s for s in seen), timeout=3000)
        qtbot.waitUntil(lambda: fake.names()[-1] == "ptz_stop", timeout=3000)
    finally:
        dev.detach()
        controls.close()


def test_without_sdl_the_reader_says_so_in_one_line_and_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> ModuleType:
        raise sdl.SdlUnavailable("SDL2 could not be loaded (no library); install PySDL2 and pysdl2-dll")

    monkeypatch.setattr(sdl, "load", broken)
    fake = RecordingControls()
    statuses: list[str] = []
    reader = JoystickReader(fake, on_status=statuses.append)
    assert not reader.available
    assert "\n" not in reader.error and "SDL2 could not be loaded" in reader.error
    assert statuses == [f"No joystick: {reader.error}"]
    reader.poll()
    reader.close()
    assert fake.calls == []
