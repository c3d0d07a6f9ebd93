"""The settings dialog: manager and server addresses, station name, pair role and peer, timeout, theme, PTZ
priority and the camera tours (their own editor); validated with clear messages, saved per user with mode 0600.
Changes apply at the next start (tours edited from the Tours menu apply at once)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..client.site import Camera
from .settings import ConsoleSettings, SettingsError, load, save, settings_path, tour_to_dict


class SettingsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, cameras: list[Camera] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("SenseTwin settings")
        try:
            s = load()
        except SettingsError:
            s = ConsoleSettings()
        self.loaded = s
        self.cameras = list(cameras or [])
        self.tours = list(s.tours)
        self.ptz_priority = QSpinBox()
        self.ptz_priority.setRange(1, 10)
        self.ptz_priority.setValue(s.ptz_priority)
        self.ptz_priority.setToolTip(
            "A dome another console steers stays with it unless this console's priority is higher (1 lowest, 10)"
        )
        self.tours_button = QPushButton(self._tours_text())
        self.tours_button.clicked.connect(self.edit_tours)
        self.station = QLineEdit(s.station)
        self.managers = QLineEdit(", ".join(s.managers))
        self.servers = QLineEdit(", ".join(s.servers))
        self.pair_role = QComboBox()
        for label, value in (("not paired", ""), ("primary", "primary"), ("secondary", "secondary")):
            self.pair_role.addItem(label, value)
        self.pair_role.setCurrentIndex(max(0, self.pair_role.findData(s.pair_role)))
        self.pair_name = QLineEdit(s.pair_name)
        self.peer_url = QLineEdit(s.peer_url)
        self.peer_listen = QLineEdit(s.peer_listen)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0.2, 30)
        self.timeout.setValue(s.timeout)
        self.theme = QComboBox()
        self.theme.addItems(["dark", "light"])
        self.theme.setCurrentText(s.theme)
        self.token = QLineEdit(s.token)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.pair_token = QLineEdit(s.pair_token)
        self.pair_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.ca_bundle = QLineEdit(s.ca_bundle)
        self.ca_bundle.setPlaceholderText("empty: the system's trusted CAs")
        self.viewers = QLineEdit(", ".join(s.viewers))
        self.viewers.setPlaceholderText("empty: all stations of a small site, else the first")
        form = QFormLayout()
        for label, w in (
            ("Station name", self.station),
            ("Managers (primary, secondary)", self.managers),
            ("Servers to watch (primary, secondary)", self.servers),
            ("Pair role", self.pair_role),
            ("Pair name", self.pair_name),
            ("Peer console address", self.peer_url),
            ("Peer link listens on", self.peer_listen),
            ("Timeout per manager (s)", self.timeout),
            ("Theme", self.theme),
            ("Access token (from the installer)", self.token),
            ("Pair token (same on both consoles)", self.pair_token),
            ("CA bundle for https (PEM file)", self.ca_bundle),
            ("This workstation's viewer stations (names or ids)", self.viewers),
            ("PTZ priority (1–10)", self.ptz_priority),
            ("Camera tours", self.tours_button),
        ):
            form.addRow(label, w)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff7b72;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_save)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(QLabel(f"Saved in {settings_path()} (readable by you only); applied at the next start."))
        lay.addWidget(self.error)
        lay.addWidget(buttons)

    def values(self) -> ConsoleSettings:
        def split(t: str) -> list[str]:
            return [u.strip().rstrip("/") for u in t.split(",") if u.strip()]

        return ConsoleSettings(
            station=self.station.text().strip(),
            managers=split(self.managers.text()),
            servers=split(self.servers.text()),
            pair_role=str(self.pair_role.currentData()),
            pair_name=self.pair_name.text().strip(),
            peer_url=self.peer_url.text().strip().rstrip("/"),
            peer_listen=self.peer_listen.text().strip(),
            timeout=self.timeout.value(),
            theme=self.theme.currentText(),
            token=self.token.text().strip(),
            pair_token=self.pair_token.text().strip(),
            ca_bundle=self.ca_bundle.text().strip(),
            viewers=[v.strip() for v in self.viewers.text().split(",") if v.strip()],
            ptz_priority=self.ptz_priority.value(),
            tours=list(self.tours),
        )

    def _tours_text(self) -> str:
        n = len(self.tours)
        return f"Edit tours… ({n} tour{'s' if n != 1 else ''})"

    def edit_tours(self) -> None:
        """The tour editor on this dialog's tours; they are saved with the dialog's Save."""
        from .tours import TourEditor

        editor = TourEditor(ConsoleSettings(tours=self.tours).tour_definitions(), self.cameras, self)
        if editor.exec() == QDialog.DialogCode.Accepted:
            self.tours = [tour_to_dict(t) for t in editor.tours]
            self.tours_button.setText(self._tours_text())

    def try_save(self) -> None:
        try:
            save(self.values())
        except (SettingsError, OSError) as exc:
            self.error.setText(str(exc))
            return
        self.accept()
