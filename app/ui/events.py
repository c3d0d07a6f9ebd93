"""The live event list (from the executing manager's getEvents: the server's events and the managers' own), with
a filter by type."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ..client.watch import EventRecord

MAX_ROWS = 2000


class EventList(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.types = QComboBox()
        self.types.addItem("All event types", "")
        self.types.currentIndexChanged.connect(self._refilter)
        self.list = QListWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.types)
        lay.addWidget(self.list)
        self.records: list[EventRecord] = []

    def add(self, e: EventRecord) -> None:
        self.records.append(e)
        del self.records[:-MAX_ROWS]
        if self.types.findData(e.eventtype) < 0:
            self.types.addItem(e.eventtype, e.eventtype)
        if self._visible(e):
            self.list.insertItem(0, self._item(e))
            while self.list.count() > MAX_ROWS:
                self.list.takeItem(self.list.count() - 1)

    def _visible(self, e: EventRecord) -> bool:
        want = self.types.currentData()
        return not want or e.eventtype == want

    def _item(self, e: EventRecord) -> QListWidgetItem:
        mark = "▲ " if e.eventtype in ("ActionInDoubt", "ServerTakeover", "ManagerMode", "ActiveServerChanged") else ""
        item = QListWidgetItem(f"{e.time[-8:]}  {mark}{e.eventtype}: {e.description}")
        item.setToolTip(f"{e.eventtype} #{e.eventid} via {e.manager} manager\n{e.description}\nvalue: {e.value}")
        return item

    def _refilter(self) -> None:
        self.list.clear()
        for e in reversed(self.records):
            if self._visible(e):
                self.list.addItem(self._item(e))
