"""The tour editor: this console's camera tours (a name, cameras each with an optional preset, a dwell time),
checked by TourDefinition.validate() as they are typed, the error shown beside the form; a tour that does not
validate is never saved. Tours are kept in the console's settings file (`tours`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ..client.ops_model import TourDefinition
from ..client.site import Camera
from .settings import ConsoleSettings, load, save, tour_to_dict

NO_PRESET = 0  # the preset box's "—"
DEFAULT_DWELL = 10


def save_tours(tours: list[TourDefinition], path: Path | None = None) -> Path:
    """Put these tours in the settings file, leaving every other setting as it is there."""
    s = load(path)  # a SettingsError says what is wrong with the file
    s.tours = [tour_to_dict(t) for t in tours]
    return save(s, path)


class TourEditor(QDialog):
    """Edit a list of tours; `tours` holds the result once accepted (only valid tours, names unique)."""

    def __init__(self, tours: list[TourDefinition], cameras: list[Camera], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Camera tours")
        self.resize(760, 460)
        self.tours = [TourDefinition(t.name, list(t.cameras), t.dwell) for t in tours]
        self.cameras = sorted(cameras, key=lambda c: c.name)
        self.current = -1
        self.names = QListWidget()
        self.names.currentRowChanged.connect(self._pick)
        new = QPushButton("New tour")
        new.clicked.connect(self.new_tour)
        delete = QPushButton("Delete")
        delete.clicked.connect(self.delete_tour)
        left = QVBoxLayout()
        left.addWidget(QLabel("Tours"))
        left.addWidget(self.names, 1)
        row = QHBoxLayout()
        row.addWidget(new)
        row.addWidget(delete)
        left.addLayout(row)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Perimeter")
        self.dwell = QDoubleSpinBox()
        self.dwell.setDecimals(1)
        self.dwell.setRange(0, 86400)
        self.dwell.setSuffix(" s")
        self.dwell.setToolTip("How long each camera stays on the panel")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Camera", "Preset"])
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setColumnWidth(0, 300)
        self.table.setColumnWidth(1, 90)
        self.table.verticalHeader().setVisible(True)
        add = QPushButton("Add camera")
        add.clicked.connect(lambda: self.add_camera())
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_camera)
        up = QPushButton("▲")
        up.clicked.connect(lambda: self._move(-1))
        down = QPushButton("▼")
        down.clicked.connect(lambda: self._move(1))
        cam_buttons = QHBoxLayout()
        for b in (add, remove, up, down):
            cam_buttons.addWidget(b)
        cam_buttons.addStretch(1)
        self.error = QLabel("")
        self.error.setObjectName("TourError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff7b72; font-weight: bold;")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Dwell per camera", self.dwell)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(QLabel("Cameras, in order (a preset is recalled when the camera comes on)"))
        right.addWidget(self.table, 1)
        right.addLayout(cam_buttons)
        right.addWidget(self.error)
        self.form = QWidget()
        self.form.setLayout(right)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addWidget(self.form, 3)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(body, 1)
        lay.addWidget(self.buttons)
        self.name.textEdited.connect(lambda _: self.check())
        self.dwell.valueChanged.connect(lambda _: self.check())
        for t in self.tours:
            self.names.addItem(t.name)
        self.form.setEnabled(False)
        if self.tours:
            self.names.setCurrentRow(0)

    # -- the form ------------------------------------------------------------------------------------

    def _load(self, t: TourDefinition) -> None:
        self.name.setText(t.name)
        self.dwell.blockSignals(True)
        self.dwell.setValue(float(t.dwell))
        self.dwell.blockSignals(False)
        self.table.setRowCount(0)
        for cameraid, preset in t.cameras:
            self.add_camera(cameraid, preset, check=False)
        self.check()

    def add_camera(self, cameraid: str = "", preset: int | None = None, check: bool = True) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        box = QComboBox()
        box.setEditable(True)
        for c in self.cameras:
            box.addItem(f"{c.name} ({c.deviceid})" + ("  ⟲" if c.ptz else ""), c.deviceid)
        i = box.findData(cameraid) if cameraid else (0 if self.cameras else -1)
        if i >= 0:
            box.setCurrentIndex(i)
        else:
            box.setEditText(cameraid)
        box.currentTextChanged.connect(lambda _: self.check())
        spin = QSpinBox()
        spin.setRange(NO_PRESET, 64)
        spin.setSpecialValueText("—")
        spin.setToolTip("The preset to recall on this camera; — for none")
        spin.setValue(preset or NO_PRESET)
        spin.valueChanged.connect(lambda _: self.check())
        self.table.setCellWidget(r, 0, box)
        self.table.setCellWidget(r, 1, spin)
        if check:
            self.check()

    def _remove_camera(self) -> None:
        r = self.table.currentRow()
        if r < 0:
            r = self.table.rowCount() - 1
        if r >= 0:
            self.table.removeRow(r)
            self.check()

    def _move(self, step: int) -> None:
        cams = self._cameras()
        r = self.table.currentRow()
        j = r + step
        if r < 0 or not 0 <= j < len(cams):
            return
        cams[r], cams[j] = cams[j], cams[r]
        self.table.setRowCount(0)
        for c, p in cams:
            self.add_camera(c, p, check=False)
        self.table.setCurrentCell(j, 0)
        self.check()

    def _cameras(self) -> list[tuple[str, int | None]]:
        out: list[tuple[str, int | None]] = []
        for r in range(self.table.rowCount()):
            box = self.table.cellWidget(r, 0)
            spin = self.table.cellWidget(r, 1)
            assert isinstance(box, QComboBox) and isinstance(spin, QSpinBox)
            text = box.currentText().strip()
            i = box.findText(text)
            cameraid = str(box.itemData(i)) if i >= 0 else text
            out.append((cameraid, spin.value() or None))
        return out

    def definition(self) -> TourDefinition:
        return TourDefinition(self.name.text().strip(), self._cameras(), self.dwell.value())

    def check(self) -> bool:
        """Validate the tour in the form; store it in the list when valid, else say why beside the form."""
        if self.current < 0:
            return True
        t = self.definition()
        problem = ""
        try:
            t.validate()
        except ValueError as exc:
            problem = str(exc)
        if not problem and any(o.name == t.name for i, o in enumerate(self.tours) if i != self.current):
            problem = f"another tour is already called {t.name!r}"
        self.error.setText(f"✖ {problem}" if problem else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not problem)
        self.names.setEnabled(not problem)
        if not problem:
            self.tours[self.current] = t
            item = self.names.item(self.current)
            if item is not None:
                item.setText(t.name)
        return not problem

    # -- the list ------------------------------------------------------------------------------------

    def _pick(self, row: int) -> None:
        if row == self.current or row < 0:
            return
        self.current = row
        self.form.setEnabled(True)
        self._load(self.tours[row])

    def new_tour(self) -> None:
        if self.current >= 0 and not self.check():
            return
        n = 1
        while any(t.name == f"Tour {n}" for t in self.tours):
            n += 1
        first: list[tuple[str, int | None]] = [(self.cameras[0].deviceid, None)] if self.cameras else []
        self.tours.append(TourDefinition(f"Tour {n}", first, DEFAULT_DWELL))
        self.names.addItem(f"Tour {n}")
        self.names.setCurrentRow(len(self.tours) - 1)
        self.name.setFocus()
        self.name.selectAll()

    def delete_tour(self) -> None:
        row = self.current
        if row < 0:
            return
        del self.tours[row]
        self.current = -1
        self.names.takeItem(row)
        self.error.setText("")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)
        self.names.setEnabled(True)
        if self.tours:
            self.names.setCurrentRow(min(row, len(self.tours) - 1))
        else:
            self.form.setEnabled(False)
            self.name.clear()
            self.table.setRowCount(0)

    def try_accept(self) -> None:
        if self.check():
            self.accept()


def edit_tours(
    parent: QWidget | None, s: ConsoleSettings, cameras: list[Camera], path: Path | None = None
) -> list[TourDefinition] | None:
    """Open the editor on the console's tours; when saved, write them into the settings file and return them."""
    editor = TourEditor(s.tour_definitions(), cameras, parent)
    editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    if editor.exec() != QDialog.DialogCode.Accepted:
        return None
    save_tours(editor.tours, path)
    s.tours = [tour_to_dict(t) for t in editor.tours]
    return editor.tours
