"""A viewer station's playback in the simulator: live or playback, the moment it shows, and its speed.

Positions are UTC seconds since the epoch, anchored to the wall clock (not the monotonic one) so that the
standby server of a pair, which gets the state as data, moves them on the same way.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import time
from dataclasses import dataclass
from typing import Any

from ..sense import ResultCode, SenseError
from ..sense.catalogue import PLAYBACK_FORWARD_SPEEDS as FORWARD_SPEEDS

# setPlaybackSpeed's documented values (TP-22): 0.5, 1, 2, 4, 8, 16 forwards, the same negated backwards.
SPEEDS = frozenset(FORWARD_SPEEDS) | frozenset(-s for s in FORWARD_SPEEDS)
# [I] startPlayback documents no start time: a viewer that was live starts this far back (our choice).
START_BACK_S = 60.0
# How far back the simulated recorders keep video (our choice); older times have no image (-11).
RETENTION_S = 7 * 24 * 3600.0
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})?")


class Mode(enum.Enum):
    LIVE = "live"
    PLAYBACK = "playback"


def parse_time(name: str, raw: str) -> float:
    """A Sense UTC time `yyyy-mm-dd hh:mm:ss[.zzz]` (TP-46 allows the milliseconds) as epoch seconds; -4 if not."""
    text = raw.strip()
    try:
        if not _TIME.fullmatch(text):
            raise ValueError(text)
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
        return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        raise SenseError.of(
            ResultCode.INVALID_TIMESTAMP,
            f"parameter '{name}' must be a UTC time as yyyy-mm-dd hh:mm:ss[.zzz], not {raw[:40]!r}",
        ) from None


def time_text(t: float, millis: bool = True) -> str:
    u = dt.datetime.fromtimestamp(t, dt.UTC)
    text = u.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{u.microsecond // 1000:03d}" if millis else text


def parse_speed(raw: object) -> float:
    """-23 when missing (TP-22 says so), -22 when not one of the documented values."""
    if raw is None or not str(raw).strip():
        raise SenseError.of(ResultCode.EMPTY_VALUE, "setPlaybackSpeed needs speed= one of ±0.5, 1, 2, 4, 8, 16")
    try:
        speed = float(str(raw).strip())
    except ValueError:
        speed = float("nan")
    if speed not in SPEEDS:
        raise SenseError.of(
            ResultCode.VALUE_OUT_OF_RANGE,
            f"speed {str(raw)[:20]!r} is not one of 0.5, 1, 2, 4, 8, 16 or their negatives",
        )
    return speed


@dataclass
class Playback:
    """What one viewer plays: in playback it showed `at` when the wall clock read `anchor`, and moves on
    `speed` seconds per second, never past now and never before the oldest recording."""

    mode: Mode = Mode.LIVE
    at: float = 0.0
    anchor: float = 0.0
    speed: float = 1.0

    def position(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        if self.mode is Mode.LIVE:
            return now
        t = self.at + (now - self.anchor) * self.speed
        return min(now, max(now - RETENTION_S, t))

    def start(self, now: float) -> None:
        if self.mode is Mode.PLAYBACK:
            return  # already playing: a repeated startPlayback does not jump
        self.mode, self.at, self.anchor = Mode.PLAYBACK, now - START_BACK_S, now

    def seek(self, t: float, now: float) -> None:
        """[I] TP-21 only sets the time; we also switch a live viewer to playback, where the time means
        something. The time is not checked against the recordings (TP-21 says so): it is clamped when read."""
        self.mode, self.at, self.anchor = Mode.PLAYBACK, t, now

    def set_speed(self, speed: float, now: float) -> None:
        """Keeps the mode: a live viewer plays at this speed once playback starts."""
        self.at, self.anchor, self.speed = self.position(now), now, speed

    def stop(self, now: float) -> None:
        self.mode, self.at, self.anchor = Mode.LIVE, self.position(now), now

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "at": self.at, "anchor": self.anchor, "speed": self.speed}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Playback:
        return cls(Mode(d["mode"]), float(d["at"]), float(d["anchor"]), float(d["speed"]))
