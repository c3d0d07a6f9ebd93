"""The server's actions (getActionList) with a small form for their parameters; Execute sends executeAction.

Signal: execute(str actionname, dict params)
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ..client.site import ActionSpec


class ActionPanel(QWidget):
    execute = Signal(str, dict)

    def __init__(self) -> None:
        super().__init__()
        self.pick = QComboBox()
        self.pick.currentIndexChanged.connect(self._show_form)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.form = QFormLayout()
        self.fields: dict[str, QLineEdit] = {}
        self.run = QPushButton("Execute action")
        self.run.clicked.connect(self._execute)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff7b72;")
        lay = QVBoxLayout(self)
        lay.addWidget(self.pick)
        lay.addWidget(self.description)
        lay.addLayout(self.form)
        lay.addWidget(self.run)
        lay.addWidget(self.error)
        lay.addStretch(1)
        self.specs: list[ActionSpec] = []

    def show_actions(self, specs: list[ActionSpec]) -> None:
        self.specs = specs
        self.pick.clear()
        for a in specs:
            self.pick.addItem(f"{a.name} ({a.kind})")
        self._show_form()

    def _show_form(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        i = self.pick.currentIndex()
        if not 0 <= i < len(self.specs):
            return
        a = self.specs[i]
        self.description.setText(a.description)
        for p in a.parameters:
            edit = QLineEdit(p.get("default", ""))
            required = p.get("required") in ("true", "1", "yes")
            edit.setPlaceholderText(("required · " if required else "optional · ") + p.get("description", ""))
            self.form.addRow(p.get("name", "?") + (" *" if required else ""), edit)
            self.fields[p.get("name", "")] = edit

    def _execute(self) -> None:
        i = self.pick.currentIndex()
        if not 0 <= i < len(self.specs):
            return
        a = self.specs[i]
        params = {k: e.text().strip() for k, e in self.fields.items() if e.text().strip()}
        missing = [
            p["name"] for p in a.parameters if p.get("required") in ("true", "1", "yes") and p["name"] not in params
        ]
        if missing:
            self.error.setText("Fill in: " + ", ".join(missing))
            return
        self.error.setText("")
        self.execute.emit(a.name, params)
