"""The CCTV keyboard in the real console (demo processes, offscreen): typed camera numbers reach the wall once,
arrows steer the selected dome and stop on release, F-keys recall presets, Help lists it all."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableWidget

from app.demo import Topology
from app.sim import read_journal
from app.ui.keyboard_help import KeyboardHelp
from app.ui.main_window import MainWindow


def _journal(demo: Topology, command: str) -> list[dict[str, Any]]:
    return [e for e in read_journal(demo.journal) if e["command"] == command]


def _type(qtbot: Any, win: MainWindow, text: str) -> None:
    for ch in text:
        qtbot.keyClick(win, getattr(Qt.Key, f"Key_{ch}"))


def test_digits_then_enter_put_that_camera_on_the_selected_panel_once(
    window: MainWindow, demo: Topology, qtbot: Any
) -> None:
    cam = next(c for c in window.site.cameras.values() if not c.ptz)
    window.activateWindow()
    window._pick_panel(2)
    assert window.selected_panel is not None
    _type(qtbot, window, cam.deviceid)
    qtbot.waitUntil(lambda: cam.deviceid in window.statusBar().currentMessage(), timeout=2000)  # the entry shows
    qtbot.keyClick(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(_journal(demo, "selectCamera")), timeout=5000)
    (entry,) = _journal(demo, "selectCamera")
    assert entry["params"]["cameraview"].endswith(f"cameraid:{cam.deviceid}")
    assert entry["params"]["panelid"] == window.selected_panel[3]
    _type(qtbot, window, "99999")
    qtbot.keyClick(window, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "No camera 99999" in window.statusBar().currentMessage(), timeout=2000)
    assert len(_journal(demo, "selectCamera")) == 1  # an unknown number sends nothing


def test_arrows_steer_the_selected_dome_and_release_stops_it_and_f_keys_recall_presets(
    window: MainWindow, demo: Topology, qtbot: Any
) -> None:
    dome = next(c for c in window.site.cameras.values() if c.ptz)
    window.choose_camera(dome.key)
    qtbot.waitUntil(lambda: 2 in window.ptz.preset_buttons, timeout=5000)
    window.activateWindow()
    window._held.every = 0.3  # a held move goes again every 5 s (the managers' control lapses after 15 s): faster here

    def panning() -> int:
        return sum(1 for e in _journal(demo, "setRelativePosition") if int(e["params"].get("pan", 0)) > 0)

    qtbot.keyPress(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: panning() >= 2, timeout=5000)  # held: the move went again, not only once
    qtbot.keyRelease(window, Qt.Key.Key_Right)

    def stopped() -> bool:
        moves = _journal(demo, "setRelativePosition")
        return bool(moves) and all(int(moves[-1]["params"].get(k, 0)) == 0 for k in ("pan", "tilt", "zoom"))

    qtbot.waitUntil(stopped, timeout=5000)
    qtbot.wait(1000)
    assert stopped() and not window._held.active  # the stop ended the re-sending
    qtbot.keyClick(window, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: any(e["params"].get("preset") == "2" for e in _journal(demo, "gotoPreset")), timeout=5000)


def test_help_lists_the_keys_and_the_joystick(window: MainWindow, qtbot: Any) -> None:
    menu = next(a for a in window.menuBar().actions() if a.text() == "&Help").menu()
    menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: any(isinstance(w, KeyboardHelp) for w in QApplication.topLevelWidgets()), timeout=2000)
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, KeyboardHelp) and w.isVisible())
    texts = [t.item(r, 0).text() for t in dialog.findChildren(QTableWidget) for r in range(t.rowCount())]
    assert "digits, Enter" in texts
    dialog.close()


def test_selecting_another_dome_while_a_move_is_held_stops_the_first(
    window: MainWindow, demo: Topology, qtbot: Any
) -> None:
    first, second = [c for c in window.site.cameras.values() if c.ptz][:2]
    window.choose_camera(first.key)
    qtbot.waitUntil(lambda: window.dome == first.key, timeout=5000)
    window.activateWindow()
    qtbot.keyPress(window, Qt.Key.Key_Left)

    def moves(cam: Any) -> list[dict[str, Any]]:
        return [e for e in _journal(demo, "setRelativePosition") if e["params"].get("deviceid") == cam.deviceid]

    qtbot.waitUntil(lambda: any(int(e["params"].get("pan", 0)) < 0 for e in moves(first)), timeout=5000)
    window.choose_camera(second.key)  # the key is still held
    qtbot.waitUntil(lambda: bool(moves(first)) and int(moves(first)[-1]["params"].get("pan", 0)) == 0, timeout=5000)
    qtbot.keyRelease(window, Qt.Key.Key_Left)
