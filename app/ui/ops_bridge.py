"""The view model of the shared operator workflows: OpsClient callbacks (alarms, tours, PTZ control) turned into
Qt signals; the client knows nothing of Qt.

Signals:
    stateChanged(object)    an OpsState snapshot after any change
    lines(object)           list[str]: what changed, in words ("Alarm … acknowledged by Desk 2"), for the log
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal


class OpsBridge(QObject):
    stateChanged = Signal(object)
    lines = Signal(object)

    def __init__(self, ops: Any) -> None:
        super().__init__()
        self.ops = ops
        ops.subscribe(self._on_state)

    def _on_state(self, state: Any, change_lines: list[str]) -> None:
        self.stateChanged.emit(state)
        if change_lines:
            self.lines.emit(list(change_lines))
