"""The view model: RedundantClient callbacks turned into Qt signals (the client knows nothing of Qt).

Signals:
    viewChanged(object)     a SystemView snapshot after any change
    changed(object)         one Change (part, text, at) to log and flash
    outcome(object)         an Outcome, when sent and each time an answer arrives
    eventArrived(object)    an EventRecord from the executing manager
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..client import Outcome, RedundantClient, SystemView
from ..client.view import Change
from ..client.watch import EventRecord


class ClientBridge(QObject):
    viewChanged = Signal(object)
    changed = Signal(object)
    outcome = Signal(object)
    eventArrived = Signal(object)

    def __init__(self, client: RedundantClient) -> None:
        super().__init__()
        self.client = client
        client.subscribe(self._on_view)
        client.subscribe_outcomes(self.outcome.emit)
        client.subscribe_events(self._on_event)

    def _on_view(self, view: SystemView, changes: list[Change]) -> None:
        self.viewChanged.emit(view)
        for c in changes:
            self.changed.emit(c)

    def _on_event(self, e: EventRecord) -> None:
        self.eventArrived.emit(e)

    def emit_outcome(self, o: Outcome) -> None:
        self.outcome.emit(o)
