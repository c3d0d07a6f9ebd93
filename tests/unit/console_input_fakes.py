"""A ConsoleControls that records what the keyboard or joystick asked, with when (time.monotonic)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingControls:
    calls: list[tuple[float, str, tuple[Any, ...]]] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)

    def _rec(self, name: str, *args: Any) -> None:
        self.calls.append((time.monotonic(), name, args))

    def call_camera(self, number: int) -> None:
        self._rec("call_camera", number)

    def recall_preset(self, number: int) -> None:
        self._rec("recall_preset", number)

    def ptz_move(self, pan: float, tilt: float, zoom: float) -> None:
        self._rec("ptz_move", pan, tilt, zoom)

    def ptz_stop(self) -> None:
        self._rec("ptz_stop")

    def show_entry(self, text: str) -> None:
        self.entries.append(text)

    def names(self) -> list[str]:
        return [name for _, name, _ in self.calls]

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [args for _, n, args in self.calls if n == name]

    def commands(self) -> list[tuple[float, str, tuple[Any, ...]]]:
        """The calls that reach a dome or a panel (show_entry is local)."""
        return list(self.calls)

    def last(self) -> tuple[str, tuple[Any, ...]] | None:
        return (self.calls[-1][1], self.calls[-1][2]) if self.calls else None

    def max_in_any_second(self) -> int:
        """The most commands in any window of one second (closed at both ends)."""
        ts = [t for t, _, _ in self.calls]
        best = 0
        j = 0
        for i in range(len(ts)):
            while ts[i] - ts[j] > 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best
