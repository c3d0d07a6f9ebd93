"""The main window as the target of the CCTV keyboard and the joystick (steering.ConsoleControls): camera numbers
go onto the selected panel, presets and moves to the selected dome, the digits being typed to the status bar."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

from .joystick import JoystickControls
from .keyboard import KeyboardControls, install

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)
SPEED = 1000  # setRelativePosition speeds are -1000..1000; the controls give -1..1


class WindowControls:
    """What a key sequence or the joystick asks, done in the window. Installs both on `w`."""

    def __init__(self, w: MainWindow) -> None:
        self.w = w
        self.keyboard: KeyboardControls = install(self, w)
        self.joystick = JoystickControls(self)
        self.joystick.status.connect(lambda text: w.statusBar().showMessage(text, 8000))
        if self.joystick.reader.status:
            log.info("%s", self.joystick.reader.status)
        help_menu = w.menuBar().addMenu("&Help")
        keys = QAction("&Keyboard and joystick…", w)
        keys.triggered.connect(self.show_help)
        help_menu.addAction(keys)

    def show_help(self) -> None:
        from .keyboard_help import KeyboardHelp

        KeyboardHelp(self.w, self.joystick.reader.status or self.joystick.reader.error).show()

    def close(self) -> None:
        self.joystick.close()

    # -- steering.ConsoleControls ------------------------------------------------------------------------

    def call_camera(self, number: int) -> None:
        """Camera NUMBER (its device id, as the site lists it) onto the selected panel."""
        w = self.w
        matches = [c for c in w.site.cameras.values() if c.deviceid == str(number)]
        if not matches:
            w.statusBar().showMessage(f"No camera {number} on this site (camera numbers are the device ids)", 6000)
            return
        if w.selected_panel is None:
            w.statusBar().showMessage(f"Camera {number}: select a panel first (click it, or Alt+1…9)", 6000)
            return
        cam = matches[0]
        w.statusBar().showMessage(f"Camera {number} ({cam.name}) → the selected panel", 4000)
        w.drop_camera(*w.selected_panel, cam.key)
        if cam.ptz:
            w.choose_camera(cam.key)

    def recall_preset(self, number: int) -> None:
        if not self.w.dome:
            self.w.statusBar().showMessage(f"Preset {number}: no dome selected", 5000)
            return
        self.w.ptz.recall.emit(number)

    def ptz_move(self, pan: float, tilt: float, zoom: float) -> None:
        if self.w.dome:
            self.w.ptz.moveRequested.emit(round(pan * SPEED), round(tilt * SPEED), round(zoom * SPEED))

    def ptz_stop(self) -> None:
        if self.w.dome:
            self.w.ptz.moveRequested.emit(0, 0, 0)

    def show_entry(self, text: str) -> None:
        self.w.statusBar().showMessage(f"Number: {text}  (Enter: camera · F-key: preset · Esc: clear)" if text else "")
