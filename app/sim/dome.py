"""A PTZ dome in the simulator: where it points, how it moves (integrated lazily), its presets, and where it
pointed at a past moment (for recorded pictures)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

AXES = ("pan", "tilt", "zoom", "focus", "iris")
RANGES = {"pan": (-1800, 1800), "tilt": (-1800, 1800), "zoom": (-1, 1000), "focus": (-1, 1000), "iris": (-1, 1000)}
# Units per second at full speed (1000): pan 90 degrees/s, tilt 45 degrees/s, lens 50 %/s. A positive tilt
# speed (down, TP-18) lowers the tilt: [I] negative tilts look down (getPosition's example dome is at -450).
FULL_SPEED = {"pan": 900.0, "tilt": -450.0, "zoom": 500.0, "focus": 500.0, "iris": 500.0}
# Moves remembered per dome, so a recorded picture shows where the dome pointed then (older: the oldest known).
# Bounded: the whole world goes to the standby with every action.
PTZ_HISTORY = 32


@dataclass
class Dome:
    """Where a camera points; moving axes are integrated lazily from `since`."""

    pos: dict[str, float] = field(default_factory=lambda: {"pan": 0, "tilt": 0, "zoom": 0, "focus": -1, "iris": -1})
    speed: dict[str, int] = field(default_factory=dict)
    since: float = field(default_factory=time.monotonic)
    presets: dict[int, dict[str, Any]] = field(default_factory=dict)
    # (wall time, pos, speed) from each move on, oldest first: where the dome pointed at a past moment.
    history: list[tuple[float, dict[str, float], dict[str, int]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.history:  # where it stood before its first move, for pictures of earlier moments
            self.history.append((0.0, dict(self.pos), dict(self.speed)))

    def position(self, now: float | None = None) -> dict[str, int]:
        now = time.monotonic() if now is None else now
        return _integrate(self.pos, self.speed, now - self.since)

    def position_at(self, wall: float) -> dict[str, int]:
        """Where the dome pointed at wall-clock time `wall` (before the first remembered move: where it was then)."""
        earlier = [h for h in self.history if h[0] <= wall]
        if earlier:
            t0, pos, speed = earlier[-1]
            return _integrate(pos, speed, wall - t0)
        return _integrate(self.history[0][1], {}, 0.0)  # older than what is remembered: the oldest known

    def moving(self) -> bool:
        return any(self.speed.get(a) for a in ("pan", "tilt", "zoom"))

    def settle(self) -> None:
        """Fold the motion so far into `pos`, so speeds can change from here."""
        now = time.monotonic()
        self.pos = {k: float(v) for k, v in self.position(now).items()}
        self.since = now

    def remember(self) -> None:
        """Called after every move: the history starts again from here."""
        self.history.append((time.time(), dict(self.pos), dict(self.speed)))
        del self.history[:-PTZ_HISTORY]


def _integrate(pos: dict[str, float], speed: dict[str, int], elapsed: float) -> dict[str, int]:
    out = {}
    for axis in AXES:
        value = pos[axis]
        s = speed.get(axis, 0)
        if s:
            if value < 0 and axis != "pan" and axis != "tilt":
                value = 500  # leaving auto starts from the middle
            lo, hi = RANGES[axis]
            lo = max(lo, 0) if axis not in ("pan", "tilt") else lo
            value = min(hi, max(lo, value + s / 1000 * FULL_SPEED[axis] * elapsed))
        out[axis] = round(value)
    return out
