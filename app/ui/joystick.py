"""A USB joystick or game controller steers the selected dome, read through SDL2 (PySDL2).

`JoystickReader` (no Qt) polls SDL: stick → pan/tilt, a zoom axis, buttons → presets, all through a
`CommandPacer` (at most a few commands a second, the stop never lost). `JoystickControls` polls it from a QTimer.

Signals (JoystickControls):
    status(str)   "joystick X connected", "joystick unplugged: dome stopped", ... (one line, for the status bar)
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ..config import DEFAULTS
from . import sdl
from .steering import CommandPacer, ConsoleControls, SpeedCurve

log = logging.getLogger(__name__)

# Game controllers (SDL's standard layout): left stick pans and tilts, right stick up/down zooms, the face and
# shoulder buttons recall presets 1–6. Plain joysticks: axes 0/1 pan/tilt, axis 2 (twist or throttle) zooms,
# buttons 1–12 recall presets 1–12.
CONTROLLER_PRESET_BUTTONS = (0, 1, 2, 3, 9, 10)  # A, B, X, Y, left shoulder, right shoulder
JOYSTICK_HELP: list[tuple[str, str]] = [
    ("stick (left stick)", "pan and tilt the selected dome, slowly near the centre; centred = stop"),
    ("right stick up/down, or twist/throttle", "zoom in / out"),
    ("A B X Y LB RB (game controller)", "recall preset 1–6"),
    ("buttons 1–12 (joystick)", "recall preset 1–12"),
    ("unplugged", "the dome stops"),
]


@dataclass(frozen=True)
class JoystickSettings:
    curve: SpeedCurve = field(default_factory=SpeedCurve)
    rate: float = DEFAULTS.ptz_command_rate
    pan_axis: int = 0
    tilt_axis: int = 1
    zoom_axis: int = 2  # plain joysticks; a game controller zooms with its right stick
    preset_buttons: int = 12  # plain joysticks: buttons 0..n-1 recall presets 1..n
    erratic_jumps: int = DEFAULTS.joystick_erratic_jumps
    calm: float = DEFAULTS.joystick_calm
    preset_holdoff: float = DEFAULTS.joystick_preset_holdoff
    max_events: int = DEFAULTS.joystick_max_events
    flood_rate: float = DEFAULTS.joystick_flood_rate


def _travel(raw: int) -> float:
    """SDL's −32768..32767 as −1..1 (both ends reach ±1)."""
    return max(-1.0, min(1.0, raw / 32767.0))


class _Device:
    """One opened joystick or game controller."""

    def __init__(self, sdl2: ModuleType, index: int, settings: JoystickSettings) -> None:
        self.sdl2 = sdl2
        self.controller: Any = None
        if sdl2.SDL_IsGameController(index):
            self.controller = sdl2.SDL_GameControllerOpen(index)
        self.joystick: Any = (
            sdl2.SDL_GameControllerGetJoystick(self.controller) if self.controller else sdl2.SDL_JoystickOpen(index)
        )
        if not self.joystick:
            raise sdl.SdlUnavailable(f"joystick {index} could not be opened: {sdl.error_text(sdl2)}")
        self.instance = int(sdl2.SDL_JoystickInstanceID(self.joystick))
        name = sdl2.SDL_JoystickName(self.joystick) or b"joystick"
        self.name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        self.axes = int(sdl2.SDL_JoystickNumAxes(self.joystick))
        self.settings = settings
        self.zoom_note = ""
        self.zoom_axis: int | None = None
        if self.controller is None and self.axes > settings.zoom_axis:
            # A throttle resting at one end would zoom for ever: such an axis is not used.
            if abs(_travel(self._raw_axis(settings.zoom_axis))) > 0.9:
                self.zoom_note = f" (axis {settings.zoom_axis + 1} rests at its end: not used for zoom)"
            else:
                self.zoom_axis = settings.zoom_axis

    @property
    def attached(self) -> bool:
        return bool(self.sdl2.SDL_JoystickGetAttached(self.joystick))

    def _raw_axis(self, axis: int) -> int:
        return int(self.sdl2.SDL_JoystickGetAxis(self.joystick, axis))

    def position(self) -> tuple[float, float, float]:
        """Stick travel (pan, tilt, zoom), −1..1 each; zoom positive = in."""
        s = self.sdl2
        if self.controller is not None:
            get = s.SDL_GameControllerGetAxis
            c = self.controller
            return (
                _travel(get(c, s.SDL_CONTROLLER_AXIS_LEFTX)),
                _travel(get(c, s.SDL_CONTROLLER_AXIS_LEFTY)),
                -_travel(get(c, s.SDL_CONTROLLER_AXIS_RIGHTY)),
            )
        pan = _travel(self._raw_axis(self.settings.pan_axis)) if self.axes > self.settings.pan_axis else 0.0
        tilt = _travel(self._raw_axis(self.settings.tilt_axis)) if self.axes > self.settings.tilt_axis else 0.0
        zoom = -_travel(self._raw_axis(self.zoom_axis)) if self.zoom_axis is not None else 0.0
        return pan, tilt, zoom

    def preset_for(self, button: int) -> int | None:
        if self.controller is not None:
            return CONTROLLER_PRESET_BUTTONS.index(button) + 1 if button in CONTROLLER_PRESET_BUTTONS else None
        return button + 1 if 0 <= button < self.settings.preset_buttons else None

    def close(self) -> None:
        if self.controller is not None:
            self.sdl2.SDL_GameControllerClose(self.controller)
        else:
            self.sdl2.SDL_JoystickClose(self.joystick)


class JoystickReader:
    """Reads the first joystick SDL finds (and the next one plugged in) on each `poll()`; drives `target`.

    `available` is False (and `error` says why) when SDL could not be started: then `poll()` does nothing.
    """

    def __init__(
        self,
        target: ConsoleControls,
        settings: JoystickSettings | None = None,
        on_status: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or JoystickSettings()
        self.pacer = CommandPacer(target, self.settings.rate, clock)
        self.on_status = on_status
        self.clock = clock
        self.status = ""
        self.error = ""
        self.device: _Device | None = None
        self._jumps: deque[float] = deque()  # when the stick jumped end to end (garbage), last second
        self._presses: deque[float] = deque()  # preset button presses, last second
        self._last_travel = (0.0, 0.0, 0.0)
        self._erratic_until = 0.0
        self._erratic = False
        self._last_preset: dict[int, float] = {}
        self._events = 0
        self._events_since = clock()
        self._flooding = False
        self._sdl: ModuleType | None = None
        try:
            sdl2 = sdl.load()
            # Read the stick while another program (or no SDL window at all: the console is Qt) has the focus.
            sdl2.SDL_SetHint(sdl2.SDL_HINT_JOYSTICK_ALLOW_BACKGROUND_EVENTS, b"1")
            self._sdl = sdl.init_subsystem(sdl2.SDL_INIT_JOYSTICK | sdl2.SDL_INIT_GAMECONTROLLER, "joystick")
        except sdl.SdlUnavailable as exc:
            self.error = str(exc)
            self._say(f"No joystick: {exc}")
            return
        if self._sdl.SDL_NumJoysticks() > 0:
            self._open(0)

    @property
    def available(self) -> bool:
        return self._sdl is not None

    def poll(self) -> None:
        s = self._sdl
        if s is None:
            return
        now = self.clock()
        s.SDL_PumpEvents()
        # The stick's position is read as state below, so its motion events are only counted, then dropped:
        # a device sending thousands a second costs nothing more.
        for first, last in ((s.SDL_JOYAXISMOTION, s.SDL_JOYAXISMOTION), (s.SDL_CONTROLLERAXISMOTION,) * 2):
            self._events += max(0, int(s.SDL_PeepEvents(None, 0, s.SDL_PEEKEVENT, first, last)))
            s.SDL_FlushEvents(first, last)
        event = s.SDL_Event()
        handled = 0
        while handled < self.settings.max_events and s.SDL_PollEvent(event):
            handled += 1
            self._event(s, event, now)
        self._events += handled
        if handled >= self.settings.max_events:
            # Still more: dropped (device arrival and removal are found below without their events).
            s.SDL_FlushEvents(s.SDL_JOYAXISMOTION, s.SDL_CONTROLLERSENSORUPDATE)
        self._watch_flood(now)
        if self.device is not None and not self.device.attached:
            self._unplugged()
        elif self.device is None and s.SDL_NumJoysticks() > 0 and handled >= self.settings.max_events:
            self._open(0)
        if self.device is not None:
            self._steer(now)
        self.pacer.flush()

    def close(self) -> None:
        """Stop the dome if this device moved it, close the device and SDL's joystick subsystem."""
        if self.device is not None:
            self.pacer.stop()
            self.pacer.last_send = -1e18  # the stop goes now, whatever the pace
            self.pacer.flush()
            self.device.close()
            self.device = None
        if self._sdl is not None:
            self._sdl.SDL_QuitSubSystem(self._sdl.SDL_INIT_JOYSTICK | self._sdl.SDL_INIT_GAMECONTROLLER)
            self._sdl = None

    # -- internals -------------------------------------------------------------------------------------

    def _event(self, s: ModuleType, event: Any, now: float) -> None:
        t = event.type
        if t == s.SDL_JOYDEVICEADDED and self.device is None:
            self._open(int(event.jdevice.which))
        elif t == s.SDL_JOYDEVICEREMOVED and self.device is not None and event.jdevice.which == self.device.instance:
            self._unplugged()
        elif self.device is None:
            return
        elif t == s.SDL_CONTROLLERBUTTONDOWN and self.device.controller is not None:
            if event.cbutton.which == self.device.instance:
                self._button(int(event.cbutton.button), now)
        elif (
            t == s.SDL_JOYBUTTONDOWN and self.device.controller is None and event.jbutton.which == self.device.instance
        ):
            self._button(int(event.jbutton.button), now)

    def _open(self, index: int) -> None:
        assert self._sdl is not None
        try:
            self.device = _Device(self._sdl, index, self.settings)
        except sdl.SdlUnavailable as exc:
            self._say(str(exc))
            return
        self._last_travel = (0.0, 0.0, 0.0)
        self._erratic, self._erratic_until = False, 0.0
        self._jumps.clear()
        self._presses.clear()
        self._say(f"joystick {self.device.name} connected{self.device.zoom_note}")

    def _unplugged(self) -> None:
        assert self.device is not None
        name = self.device.name
        self.device.close()
        self.device = None
        self.pacer.stop(force=True)
        self._say(f"joystick {name} unplugged: dome stopped")

    def _steer(self, now: float) -> None:
        assert self.device is not None
        travel = self.device.position()
        if max(abs(a - b) for a, b in zip(travel, self._last_travel, strict=True)) > 1.2:
            self._jumps.append(now)  # end to end between two polls 20 ms apart: no hand does that
        self._last_travel = travel
        while self._jumps and now - self._jumps[0] > 1.0:
            self._jumps.popleft()
        if len(self._jumps) > self.settings.erratic_jumps:
            self._ignore(now, "positions")
        if now < self._erratic_until:
            return
        if self._erratic:
            self._erratic = False
            self._say(f"joystick {self.device.name} steady again: steering")
        curve = self.settings.curve
        pan, tilt, zoom = (curve(a) for a in travel)
        if pan == tilt == zoom == 0:
            self.pacer.stop()
        else:
            self.pacer.move(pan, tilt, zoom)

    def _button(self, button: int, now: float) -> None:
        assert self.device is not None
        preset = self.device.preset_for(button)
        if preset is None:
            return
        self._presses.append(now)
        while self._presses and now - self._presses[0] > 1.0:
            self._presses.popleft()
        if len(self._presses) > self.settings.erratic_jumps:
            self._ignore(now, "button presses")
            self.pacer.wanted_preset = None
            return
        if now < self._erratic_until or now - self._last_preset.get(preset, -1e18) < self.settings.preset_holdoff:
            return  # contact bounce, or a second press of the same preset: recalled once
        self._last_preset[preset] = now
        self.pacer.preset(preset)

    def _ignore(self, now: float, what: str) -> None:
        """Garbage from the device: stop the dome and ignore it until it has been calm for a while."""
        assert self.device is not None
        if not self._erratic:
            self._erratic = True
            self.pacer.stop()
            self._say(f"joystick {self.device.name} sends erratic {what}: ignored, dome stopped")
        self._erratic_until = now + self.settings.calm

    def _watch_flood(self, now: float) -> None:
        span = now - self._events_since
        if span < 1.0:
            return
        rate = self._events / span
        self._events, self._events_since = 0, now
        flooding = rate > self.settings.flood_rate
        if flooding and not self._flooding and self.device is not None:
            self._say(f"joystick {self.device.name} floods {rate:.0f} events a second: reading its position only")
        self._flooding = flooding

    def _say(self, text: str) -> None:
        if text != self.status:
            self.status = text
            log.info("%s", text)
            if self.on_status is not None:
                self.on_status(text)


class JoystickControls(QObject):
    """Polls a JoystickReader from a QTimer (50 Hz) on the UI thread; `close()` stops the dome and SDL."""

    status = Signal(str)

    def __init__(self, target: ConsoleControls, settings: JoystickSettings | None = None) -> None:
        super().__init__()
        self.reader = JoystickReader(target, settings, on_status=self.status.emit)
        self._timer = QTimer(self)
        self._timer.setInterval(round(DEFAULTS.joystick_poll * 1000))
        self._timer.timeout.connect(self.reader.poll)
        if self.reader.available:
            self._timer.start()

    def close(self) -> None:
        self._timer.stop()
        self.reader.close()
