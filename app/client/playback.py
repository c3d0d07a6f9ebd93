"""A viewer station's playback as the console follows it: the moment it shows, moving at its speed, so a panel
can ask getHistoricalImage for "now" in that station's time between two reads of the wall.

Speeds are the documented ones of setPlaybackSpeed (TP-22: 0.5, 1, 2, 4, 8, 16 "or negatives"); times are UTC
`yyyy-mm-dd hh:mm:ss` (TP-01), getHistoricalImage also takes milliseconds (TP-46).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from time import monotonic

from ..sense.catalogue import PLAYBACK_FORWARD_SPEEDS as FORWARD_SPEEDS

SPEEDS = tuple(-s for s in reversed(FORWARD_SPEEDS)) + FORWARD_SPEEDS
SENSE_TIME = "%Y-%m-%d %H:%M:%S"
STEPS_BACK = (("−30 s", 30), ("−5 min", 300))  # the operator's quick steps back, label and seconds


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sense_time(t: dt.datetime, millis: bool = False) -> str:
    """UTC text as Sense wants it: `2026-11-24 19:05:55` (or `.123` with milliseconds)."""
    u = t.astimezone(dt.UTC)
    text = u.strftime(SENSE_TIME)
    return f"{text}.{u.microsecond // 1000:03d}" if millis else text


def parse_sense_time(text: str) -> dt.datetime:
    """`yyyy-mm-dd hh:mm:ss[.zzz]` (UTC) to an aware datetime; ValueError names what is wrong."""
    t = text.strip()
    for fmt in (SENSE_TIME + ".%f", SENSE_TIME):
        try:
            return dt.datetime.strptime(t, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise ValueError(f"{t[:40]!r} is not a UTC time like 2026-11-24 19:05:55")


def speed_text(speed: float) -> str:
    """0.5 → '0.5', 2.0 → '2', -1.0 → '-1': the value setPlaybackSpeed takes and the label a person reads."""
    return f"{speed:g}"


@dataclass(frozen=True)
class Playback:
    """A station in playback: it showed `time` at monotonic `anchor` and moves `speed` seconds a second."""

    time: dt.datetime
    speed: float = 1.0
    anchor: float = field(default_factory=monotonic)

    def at(self, now: float | None = None) -> dt.datetime:
        """The moment shown now; never later than the present (fast forward catches up with live, and waits)."""
        elapsed = (monotonic() if now is None else now) - self.anchor
        return min(utc_now(), self.time + dt.timedelta(seconds=elapsed * self.speed))

    def moved_to(self, t: dt.datetime, now: float | None = None) -> Playback:
        return replace(self, time=t, anchor=monotonic() if now is None else now)

    def with_speed(self, speed: float, now: float | None = None) -> Playback:
        mono = monotonic() if now is None else now
        return Playback(self.at(mono), speed, mono)

    def label(self, now: float | None = None) -> str:
        return f"PLAYBACK {self.at(now).strftime('%Y-%m-%d %H:%M:%S')} UTC ×{speed_text(self.speed)}"


def after_action(
    state: Playback | None, command: str, params: dict[str, str], now: float | None = None
) -> Playback | None:
    """A station's playback once `command` with `params` was executed on it (what the console shows until the
    wall is read again): startPlayback from now at ×1 (kept if already playing), setPlaybackDateTime moves it,
    setPlaybackSpeed changes its speed, stopPlayback returns it to live."""
    mono = monotonic() if now is None else now
    if command == "startPlayback":
        return state or Playback(utc_now(), 1.0, mono)
    if command == "stopPlayback":
        return None
    base = state or Playback(utc_now(), 1.0, mono)
    if command == "setPlaybackDateTime":
        return base.moved_to(parse_sense_time(params["time"]), mono)
    if command == "setPlaybackSpeed":
        return base.with_speed(float(params["speed"]), mono)
    return state
