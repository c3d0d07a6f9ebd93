"""The command log: every action with its time, command, uid, each manager's answer and latency, and the
result; failed and in-doubt actions stand out and say what to do. Exportable as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from ..client import Outcome

COLUMNS = ["Time", "Command", "Parameters", "UID", "Primary manager", "Secondary manager", "Result"]


class CommandLog(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        for i, w in enumerate((70, 120, 170, 190, 150, 150)):
            self.setColumnWidth(i, w)
        self.rows: dict[tuple[str, str], int] = {}
        self.outcomes: list[Outcome] = []

    def record(self, o: Outcome) -> None:
        key = (o.uid, o.origin)
        row = self.rows.get(key)
        if row is None:
            row = 0
            self.insertRow(0)
            self.rows = {k: r + 1 for k, r in self.rows.items()}
            self.rows[key] = 0
            self.outcomes.insert(0, o)
        params = ", ".join(f"{k}={v}" for k, v in o.params.items())
        answers = []
        for name in ("primary", "secondary"):
            a = o.answers.get(name)
            answers.append("—" if a is None else f"{a.text()}" + (f" · {a.latency_ms:.0f} ms" if a.latency_ms else ""))
        cmd = o.command + (" (mirrored)" if o.origin == "peer" else "")
        values = [o.started, cmd, params, o.uid, *answers, o.message]
        for col, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.setItem(row, col, item)
        colour = None
        if o.in_doubt:
            colour = "#6b4a0f"
        elif o.result is None and o.failure:
            colour = "#5c1e22"
        elif o.result is not None and not o.ok:
            colour = "#4a2a2c"
        if colour:
            for col in range(len(COLUMNS)):
                it = self.item(row, col)
                if it is not None:
                    it.setBackground(QBrush(QColor(colour)))

    def note(self, at: str, kind: str, text: str) -> None:
        """A change of the shared state (an alarm acknowledged, a tour started, at any console): a row of its own
        that says who did it, between this console's actions."""
        self.insertRow(0)
        self.rows = {k: r + 1 for k, r in self.rows.items()}
        for col, value in enumerate([at, kind, "", "", "", "", text]):
            item = QTableWidgetItem(value)
            item.setToolTip(text)
            self.setItem(0, col, item)

    def export_csv(self, path: Path) -> int:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for r in range(self.rowCount()):
                w.writerow([_text(self.item(r, c)) for c in range(len(COLUMNS))])
        return self.rowCount()


def _text(item: QTableWidgetItem | None) -> str:
    return item.text() if item is not None else ""
