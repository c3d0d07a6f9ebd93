"""What the keyboard and the joystick drive (`ConsoleControls`), the stick's speed curve, the pacer that keeps
a device to a few PTZ commands a second, and `HeldMove`, which keeps a held move alive (sent again every 5 s) so
the managers' PTZ control does not lapse under the operator's hand. Qt-free."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..config import DEFAULTS


class ConsoleControls(Protocol):
    """The console's side of operator input: the main window implements it for the selected panel and dome."""

    def call_camera(self, number: int) -> None: ...

    def recall_preset(self, number: int) -> None: ...

    def ptz_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Speeds −1..1 each; the dome keeps moving until ptz_stop (or a move with all three zero)."""

    def ptz_stop(self) -> None: ...

    def show_entry(self, text: str) -> None:
        """The digits being typed (empty: nothing is being typed)."""


@dataclass(frozen=True)
class SpeedCurve:
    """Stick travel −1..1 → speed −1..1: a dead zone round the centre, then travel ** exponent, rounded to step."""

    dead_zone: float = DEFAULTS.joystick_dead_zone
    exponent: float = DEFAULTS.joystick_curve
    step: float = DEFAULTS.joystick_step

    def __call__(self, travel: float) -> float:
        if not math.isfinite(travel):
            return 0.0
        a = min(abs(travel), 1.0)
        if a <= self.dead_zone:
            return 0.0
        s = ((a - self.dead_zone) / (1.0 - self.dead_zone)) ** self.exponent
        # Rounded so a stick trembling in place gives the same speed (no new command); never rounded to a stop.
        s = max(self.step, round(s / self.step) * self.step) if self.step > 0 else s
        return math.copysign(min(s, 1.0), travel)


@dataclass(frozen=True)
class Move:
    pan: float
    tilt: float
    zoom: float

    @property
    def still(self) -> bool:
        return self.pan == 0 and self.tilt == 0 and self.zoom == 0


STOP = Move(0.0, 0.0, 0.0)


class CommandPacer:
    """Sends a device's PTZ wishes to ConsoleControls at most `rate` times a second, one every 1/rate s.

    Between sends only the latest wish is kept (positions coalesce); a stop is never dropped, only delayed to the
    next free slot, and is sent before a waiting preset, which is sent before a waiting move. Call `flush()` often
    (every poll): it sends what is due.
    """

    def __init__(
        self,
        target: ConsoleControls,
        rate: float = DEFAULTS.ptz_command_rate,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.gap = 1.0 / rate
        self.clock = clock
        self.sent_motion = STOP  # what the dome was last told (it starts still)
        self.wanted_motion = STOP
        self.force_stop = False
        self.wanted_preset: int | None = None
        self.last_send = -math.inf
        self.sent = 0

    @property
    def pending(self) -> bool:
        return self.force_stop or self.wanted_preset is not None or self.wanted_motion != self.sent_motion

    def move(self, pan: float, tilt: float, zoom: float) -> None:
        self.wanted_motion = Move(pan, tilt, zoom)

    def stop(self, force: bool = False) -> None:
        """Stop the dome; `force` sends the stop even if the dome is believed still (a device went away)."""
        self.wanted_motion = STOP
        self.force_stop = self.force_stop or force

    def preset(self, number: int) -> None:
        self.wanted_preset = number

    def flush(self) -> None:
        if not self.pending or self.clock() - self.last_send < self.gap:
            return
        if self.force_stop or (self.wanted_motion.still and not self.sent_motion.still):
            self.force_stop = False
            self.sent_motion = STOP
            self.wanted_motion = STOP
            self.target.ptz_stop()
        elif self.wanted_preset is not None:
            n, self.wanted_preset = self.wanted_preset, None
            self.target.recall_preset(n)
        else:
            m = self.sent_motion = self.wanted_motion
            self.target.ptz_move(m.pan, m.tilt, m.zoom)
        self.sent += 1
        # Read after the call, so the gap is measured from when the command left, never less.
        self.last_send = self.clock()


PTZ_REPEAT = 5.0  # seconds between re-sends of a held move: well inside the managers' ptz_hold (15 s)


class HeldMove:
    """Keeps a held move alive. Pressing and holding a pad button, an arrow key or the stick sends one move, but
    the managers' PTZ control lapses `ptz_hold` (15 s) after a console's last command: another console may then
    take the dome and refuse our stop. So the current non-zero move goes again every `every` seconds until a
    stop (all zero) is sent or the dome changes. A stop sent always ends it.

    `sent(dome, move)` for every move the window sends; `tick(dome)` often (with the dome selected now), which
    calls `send(dome, move)` when one is due.
    """

    def __init__(
        self,
        send: Callable[[str, Move], object],
        every: float = PTZ_REPEAT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send = send
        self.every = every
        self.clock = clock
        self.dome = ""
        self.move = STOP
        self.at = -math.inf  # when the move last left
        self.repeated = 0

    @property
    def active(self) -> bool:
        return bool(self.dome) and not self.move.still

    def sent(self, dome: str, move: Move) -> None:
        if move.still or not dome:
            self.clear()
            return
        self.dome, self.move, self.at = dome, move, self.clock()

    def clear(self) -> None:
        self.dome, self.move = "", STOP

    def tick(self, dome: str) -> None:
        if not self.active:
            return
        if dome != self.dome:
            self.clear()  # another dome is selected: the held one is not ours to keep moving
            return
        if self.clock() - self.at < self.every:
            return
        self.at = self.clock()
        self.repeated += 1
        self.send(self.dome, self.move)
