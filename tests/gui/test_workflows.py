"""The shared operator workflows in the console (issue 15), offscreen, on the real demo processes with the demo's
alarm rules: an alarm raised from the Demo menu in the list and the strip, acknowledged with a comment; a tour
started from a panel's menu advancing on the wall, paused and stopped; a dome another console steers "in use" on
the pad. Screenshots of each go to docs/ (console-alarms.png, console-tour.png, console-ptz-in-use.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontInfo

from app.client.ops_model import Alarm, OpsState, TourDefinition
from app.demo import DEMO_ALARMS, Topology
from app.ui.alarms import AlarmPanel
from app.ui.main_window import MainWindow
from app.ui.settings import ConsoleSettings, SettingsError, load, save, tour_to_dict
from app.ui.strip import RedundancyStrip
from app.ui.tours import TourEditor
from app.ui.wall import PanelWidget
from tests.gui.conftest import console_window
from tests.helpers import command

DOCS = Path(__file__).resolve().parents[2] / "docs"
TOUR = TourDefinition("Perimeter", [("113", None), ("116", None), ("114", None)], 2.0)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Topology]:
    with Topology.create(tmp_path, alarms=DEMO_ALARMS) as topo:
        topo.start_system()
        yield topo


@pytest.fixture
def window(demo: Topology, run_async: Any, qtbot: Any, tmp_path: Path) -> Iterator[MainWindow]:
    def ready(w: MainWindow) -> bool:  # and its first poll of the shared state is in
        return (
            bool(w.wall.monitors)
            and bool(w.site.cameras)
            and w.client.view.executing_manager is not None
            and w.ops.state.updated > 0
        )

    yield from console_window(
        demo, run_async, qtbot, ready, settings_file=tmp_path / "settings.json", tours=[tour_to_dict(TOUR)]
    )


def _shot(win: MainWindow, qtbot: Any, name: str) -> Path:
    assert QFontInfo(QFont()).family(), "no usable font: the screenshot would show empty boxes"
    qtbot.wait(300)  # let the strip's change flash settle
    DOCS.mkdir(exist_ok=True)
    path = DOCS / name
    assert win.grab().save(str(path))
    return path


def _rows(win: MainWindow) -> list[list[str]]:
    t = win.alarms.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def _camera(win: MainWindow, deviceid: str) -> str:
    return next(c.key for c in win.site.cameras.values() if c.deviceid == deviceid)


def _panel(win: MainWindow, deviceid: str) -> tuple[Any, str, PanelWidget]:
    for mon in win.wall.monitors.values():
        for pid, p in mon.area.panels.items():
            if p.camera_key.endswith(f"/{deviceid}"):
                return mon, pid, p
    raise AssertionError(f"camera {deviceid} is on no panel")


# -- alarms -----------------------------------------------------------------------------------------------


def test_a_raised_alarm_shows_in_the_list_and_the_strip_and_acknowledging_it_changes_it(
    window: MainWindow, demo: Topology, qtbot: Any
) -> None:
    window.demo_actions[("alarm", "high")].trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: any("Motion at the main gate" in r[2] for r in _rows(window)), timeout=10000)
    tile = window.strip.alarms
    qtbot.waitUntil(lambda: tile.state.text() == "✖ 1 NEW", timeout=5000)
    assert tile.level == "down" and "1 high" in tile.detail.text()
    row = _rows(window)[0]
    assert row[0] == "✖ HIGH" and row[3] == "Main gate" and row[4] == "● NEW"
    assert window.alarms.flashing_rows() == [0]
    assert window.alarms.ringing  # the sound is asked for (whether a device plays it is the sound's business)
    # The selected alarm's camera beside the list, its picture coming in.
    assert window.alarms.view.camera_key == _camera(window, "101")
    qtbot.waitUntil(lambda: window.alarms.view.image is not None, timeout=10000)

    window.demo_actions[("alarm", "low")].trigger()  # type: ignore[attr-defined]
    window.demo_actions[("alarm", "high")].trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: len(_rows(window)) == 3, timeout=10000)
    assert [r[0] for r in _rows(window)] == ["✖ HIGH", "✖ HIGH", "● LOW"]  # high first, then newest first
    qtbot.waitUntil(lambda: tile.state.text() == "✖ 3 NEW", timeout=5000)

    # Acknowledge the older high alarm with a comment.
    older = window.ops.state.alarms[1]
    window.alarms.select(older.id)
    window.alarms.comment.setText("guard sent to the gate")
    qtbot.mouseClick(window.alarms.ack, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any(a.id == older.id and a.state == "acknowledged" for a in window.ops.state.alarms), timeout=5000
    )
    qtbot.waitUntil(lambda: any("ACKNOWLEDGED" in r[4] for r in _rows(window)), timeout=5000)
    acked = next(r for r in _rows(window) if "ACKNOWLEDGED" in r[4])
    assert "acknowledged by Test desk" in acked[5] and "guard sent to the gate" in acked[5]
    assert window.alarms.selected_id == older.id and not window.alarms.ack.isEnabled()
    assert window.alarms.close_btn.isEnabled() and window.alarms.comment.text() == ""
    qtbot.waitUntil(lambda: tile.state.text() == "✖ 2 NEW", timeout=5000)
    # The command log says who acknowledged it.
    log = window.command_log
    notes = [log.item(r, 6).text() for r in range(log.rowCount()) if log.item(r, 1).text() == "⚑ alarm"]
    assert any("acknowledged by Test desk: guard sent to the gate" in n for n in notes), notes
    window.alarm_dock.raise_()
    path = _shot(window, qtbot, "console-alarms.png")
    assert path.stat().st_size > 10000

    # Close everything that is open: the strip goes green, the sound stops.
    for a in list(window.ops.state.alarms):
        window.alarms.select(a.id)
        qtbot.mouseClick(window.alarms.close_btn, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda a=a: window.ops.state.alarm(a.id).state == "closed", timeout=5000)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: tile.state.text() == "● NONE", timeout=5000)
    assert not window.alarms.ringing and window.alarms.flashing_rows() == []
    assert all("CLOSED" in r[4] for r in _rows(window))


def test_a_flood_group_is_one_row_with_its_count(qtbot: Any) -> None:
    panel = AlarmPanel()
    qtbot.addWidget(panel)
    flood = Alarm("f1", "Motion", "high", "Motion at the main gate", "1", "101", "2026-01-01 10:00:00", count=14)
    flood.flood, flood.lasttime = True, "2026-01-01 10:04:12"
    low = Alarm("l1", "VideoLost", "low", "VideoLost on Loading dock", "1", "103", "2026-01-01 09:00:00")
    panel.show_state(OpsState(alarms=[flood, low], unacknowledged=2, unacknowledged_high=1))
    assert panel.table.rowCount() == 2
    assert panel.table.item(0, 2).text() == "⚑ 14 × Motion at the main gate (flood group, last 10:04:12)"
    assert panel.summary.text() == "2 unacknowledged · 1 HIGH"
    assert panel.flashing_rows() == [0]
    panel.show_closed.setChecked(False)
    low.state = "closed"
    panel.show_state(OpsState(alarms=[flood, low], unacknowledged=1, unacknowledged_high=1))
    assert panel.table.rowCount() == 1


class FakeSound:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.available, self.error = True, ""

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")

    def silence(self, seconds: float) -> None:
        self.calls.append(f"silence {seconds:g}")


def test_an_unacknowledged_high_alarm_flashes_and_sounds_until_silenced_or_acknowledged(qtbot: Any) -> None:
    from app.ui.alarms import COLOURS

    sound = FakeSound()
    panel = AlarmPanel(sound)
    qtbot.addWidget(panel)
    low = Alarm("l1", "VideoLost", "low", "VideoLost on Loading dock", "1", "103", "2026-01-01 09:00:00")
    panel.show_state(OpsState(alarms=[low], unacknowledged=1))
    assert sound.calls == [] and not panel.silence.isEnabled()  # a low alarm is seen, not heard
    high = Alarm("h1", "Motion", "high", "Motion at the main gate", "1", "101", "2026-01-01 10:00:00")
    panel.show_state(OpsState(alarms=[high, low], unacknowledged=2, unacknowledged_high=1))
    assert sound.calls == ["start"] and panel.ringing and panel.silence.isEnabled()
    flash = COLOURS["high"][2]
    qtbot.waitUntil(lambda: panel.table.item(0, 2).background().color().name() == flash, timeout=2000)
    qtbot.waitUntil(lambda: panel.table.item(0, 2).background().color().name() != flash, timeout=2000)
    assert panel.table.item(1, 2).background().color().name() == COLOURS["low"][0]  # low rows do not flash
    panel.silence.click()
    assert sound.calls[-1] == "silence 120" and not panel.ringing and "silenced 1:5" in panel.sound_state.text()
    assert not panel.silence.isEnabled()
    high.state, high.ackedby = "acknowledged", "Desk 2"
    panel.show_state(OpsState(alarms=[high, low], unacknowledged=1))
    assert sound.calls[-1] == "stop" and panel.sound_state.text() == "" and panel.flashing_rows() == []


def test_the_strip_alarm_tile_is_red_only_for_high_alarms(qtbot: Any) -> None:
    strip = RedundancyStrip()
    qtbot.addWidget(strip)
    strip.show_alarms(2, 0)
    assert strip.alarms.level == "warn" and strip.alarms.state.text() == "▲ 2 NEW"
    strip.show_alarms(3, 1)
    assert strip.alarms.level == "down" and strip.alarms.state.text() == "✖ 3 NEW"
    strip.show_alarms(0, 0)
    assert strip.alarms.level == "ok"


# -- tours ------------------------------------------------------------------------------------------------


def test_a_tour_started_from_the_panel_menu_advances_on_the_wall(
    window: MainWindow, demo: Topology, qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QDialog

    # Tours › Edit tours…: a new tour is saved into the settings file and offered on the panels at once.
    def operator_adds_a_tour(editor: TourEditor) -> int:
        editor.new_tour()
        editor.name.setText("Car park")
        editor.add_camera("102", 2)
        assert editor.check()
        editor.try_accept()
        return int(QDialog.DialogCode.Accepted.value)

    monkeypatch.setattr(TourEditor, "exec", operator_adds_a_tour)
    next(a for a in window.tours_menu.actions() if a.text() == "&Edit tours…").trigger()
    assert window.wall.tour_names == ["Perimeter", "Car park"]
    assert [t.name for t in load(tmp_path / "settings.json").tour_definitions()] == ["Perimeter", "Car park"]

    mon, pid, panel = _panel(window, "101")
    menu = window.wall.panel_menu(mon.divaid, mon.layoutid, pid)
    start = next(a.menu() for a in menu.actions() if a.menu() is not None and a.menu().objectName() == "StartTour")
    assert [a.text() for a in start.actions()] == ["Perimeter", "Car park"]
    start.actions()[0].trigger()
    names = [window.site.cameras[_camera(window, c)].name for c, _ in TOUR.cameras]
    qtbot.waitUntil(lambda: panel.tour_tag.isVisible() and "TOUR Perimeter" in panel.tour_tag.text(), timeout=10000)
    qtbot.waitUntil(lambda: panel.camera.text().startswith(names[0]), timeout=10000)
    qtbot.waitUntil(lambda: panel.tour_tag.text() == "▶ TOUR Perimeter 1/3", timeout=5000)
    qtbot.waitUntil(lambda: panel.camera.text().startswith(names[1]), timeout=10000)  # the dwell is 2 s
    qtbot.waitUntil(lambda: panel.tour_tag.text() == "▶ TOUR Perimeter 2/3", timeout=5000)
    qtbot.waitUntil(lambda: panel.image is not None, timeout=10000)
    _shot(window, qtbot, "console-tour.png")

    # A panel running a tour offers Pause and Stop, not another start.
    menu = window.wall.panel_menu(mon.divaid, mon.layoutid, pid)
    labels = [a.text() for a in menu.actions() if a.text()]
    assert labels[1:] == ["Pause tour Perimeter", "Stop tour Perimeter"] and labels[0].startswith("Start tour (stop")
    next(a for a in menu.actions() if a.data() == "pause").trigger()
    qtbot.waitUntil(lambda: panel.tour_tag.text().endswith("PAUSED"), timeout=5000)
    assert panel.tour_tag.text().startswith("‖ TOUR Perimeter")
    paused_on = panel.camera.text()
    qtbot.wait(3000)  # longer than the dwell: a paused tour does not move
    assert panel.camera.text() == paused_on
    menu = window.wall.panel_menu(mon.divaid, mon.layoutid, pid)
    assert [a.data() for a in menu.actions() if a.data()] == ["resume", "stop"]
    next(a for a in menu.actions() if a.data() == "stop").trigger()
    qtbot.waitUntil(lambda: not panel.tour_tag.isVisible(), timeout=5000)
    assert all(t.state == "stopped" for t in window.ops.state.tours)


def test_a_tour_whose_console_is_gone_shows_stalled_on_its_panel(
    window: MainWindow, demo: Topology, qtbot: Any
) -> None:
    """A console that started a tour and died leaves it 'running' in the managers with nobody stepping it: every
    console shows STALLED on the panel (red) and says so once in the command log."""
    mon, pid, panel = _panel(window, "101")
    wall = {"divaid": mon.divaid, "layoutid": mon.layoutid, "panelid": pid}
    pm = demo.parts["primary manager"].url
    tour = {"run": "ws9-gone-t1", "name": "Night round", "owner": "ws9", "dwell": "2", "cameras": "113,116"}
    assert command(pm, "startTour", uid="ws9-start-t1", station="ws9", **wall, **tour).ok
    qtbot.waitUntil(lambda: "TOUR Night round" in panel.tour_tag.text(), timeout=5000)
    assert "STALLED" not in panel.tour_tag.text()
    qtbot.waitUntil(
        lambda: panel.tour_tag.text().startswith("⚠ TOUR STALLED Night round"), timeout=20000
    )  # 10 s grace after it was due
    assert "#c0262d" in panel.tour_tag.styleSheet() and "ws9" in panel.tour_tag.toolTip()
    assert "Stop it from this panel's menu".lower() in panel.tour_tag.toolTip().lower()
    log = window.command_log
    notes = [log.item(r, 6).text() for r in range(log.rowCount()) if log.item(r, 1).text() == "⟳ tour"]
    stalled = [n for n in notes if "stalled" in n]
    assert len(stalled) == 1 and re.fullmatch(
        r"tour Night round stalled: no step for 1\d s \(ws9 is not stepping it\)", stalled[0]
    )
    _shot(window, qtbot, "console-tour-stalled.png")
    menu = window.wall.panel_menu(mon.divaid, mon.layoutid, pid)
    next(a for a in menu.actions() if a.data() == "stop").trigger()  # any console may stop it
    qtbot.waitUntil(lambda: not panel.tour_tag.isVisible(), timeout=5000)


def test_the_tour_editor_shows_what_is_wrong_and_never_saves_an_invalid_tour(qtbot: Any, tmp_path: Path) -> None:
    editor = TourEditor([TOUR], [])
    qtbot.addWidget(editor)
    save_button = editor.buttons.buttons()[0]
    assert editor.name.text() == "Perimeter" and editor.table.rowCount() == 3 and editor.error.text() == ""
    editor.dwell.setValue(1)
    assert "dwell" in editor.error.text() and not save_button.isEnabled()
    assert editor.tours[0].dwell == 2.0  # the invalid form is not taken
    editor.dwell.setValue(5)
    assert editor.error.text() == "" and save_button.isEnabled() and editor.tours[0].dwell == 5
    editor.new_tour()
    assert editor.name.text() == "Tour 1"
    editor.table.setRowCount(0)
    editor.check()
    assert "no cameras" in editor.error.text()
    editor.add_camera("102", 3)
    editor.name.setText("Perimeter")
    editor.check()
    assert "already called" in editor.error.text()
    editor.name.setText("Car park")
    assert editor.check()
    assert [(t.name, t.cameras) for t in editor.tours] == [("Perimeter", TOUR.cameras), ("Car park", [("102", 3)])]

    # In the settings file: round trip, and an invalid tour is refused with the reason.
    s = ConsoleSettings(station="Desk 7", tours=[tour_to_dict(t) for t in editor.tours], ptz_priority=8)
    p = save(s, tmp_path / "settings.json")
    assert load(p) == s and load(p).tour_definitions() == editor.tours
    with pytest.raises(SettingsError, match="dwell"):
        save(ConsoleSettings(tours=[{"name": "x", "cameras": [["101", None]], "dwell": 0}]), tmp_path / "b.json")
    with pytest.raises(SettingsError, match="PTZ priority"):
        save(ConsoleSettings(ptz_priority=11), tmp_path / "c.json")


# -- PTZ control ------------------------------------------------------------------------------------------


def _moved_by(demo: Topology, cam: Any, console: str, priority: int, pan: int = 0, tilt: int = 0) -> None:
    """Another console (straight to the manager, as its client would) steers the dome."""
    r = command(
        demo.parts["primary manager"].url,
        "setRelativePosition",
        uid=f"{console.replace(' ', '-')}-{pan}-{tilt}",
        serverid=cam.serverid,
        deviceid=cam.deviceid,
        pan=pan,
        tilt=tilt,
        zoom=0,
        console=console,
        priority=priority,
    )
    assert r.ok, r.message()


def test_a_dome_held_by_another_console_shows_in_use_and_steering_is_off(
    window: MainWindow, demo: Topology, qtbot: Any, run_async: Any
) -> None:
    key = _camera(window, "101")
    cam = window.site.cameras[key]
    _moved_by(demo, cam, "Other desk", 7, pan=200)
    window.choose_camera(key)
    pad = window.ptz
    qtbot.waitUntil(lambda: pad.in_use.isVisible() and "in use by Other desk" in pad.in_use.text(), timeout=5000)
    assert "priority 7" in pad.in_use.text() and "steering is off" in pad.in_use.text()
    first = pad.in_use.text()
    qtbot.waitUntil(lambda: pad.in_use.text() != first, timeout=3000)  # the seconds left count down
    assert not any(b.isEnabled() for b in pad.buttons.values())
    qtbot.waitUntil(lambda: 2 in pad.preset_buttons, timeout=5000)
    assert all(b.isEnabled() for b in pad.preset_buttons.values())  # presets stay usable by all
    _, _, panel = _panel(window, "101")
    qtbot.waitUntil(lambda: panel.ptz_tag.isVisible() and "in use by Other desk" in panel.ptz_tag.text(), timeout=5000)
    # A move sent anyway (a joystick, a keyboard) is refused by the manager, in its words, on the pad.
    o = run_async(window.ptz_move(key, 300, 0, 0))
    assert o.result is not None and o.result.errorcode == -115
    assert pad.refused.isVisible() and "Other desk" in pad.refused.text()
    qtbot.waitUntil(lambda: panel.image is not None and pad.view.image is not None, timeout=10000)
    _shot(window, qtbot, "console-ptz-in-use.png")


def test_a_console_of_higher_priority_taking_our_dome_is_told_to_this_operator(
    window: MainWindow, demo: Topology, qtbot: Any, run_async: Any
) -> None:
    key = _camera(window, "101")
    cam = window.site.cameras[key]
    window.choose_camera(key)
    qtbot.waitUntil(lambda: window.dome == key, timeout=5000)
    assert run_async(window.ptz_move(key, 200, 0, 0)).ok  # ours now
    _moved_by(demo, cam, "Boss desk", 9, tilt=300)
    words = "Boss desk (priority 9) took"
    qtbot.waitUntil(lambda: words in window.statusBar().currentMessage(), timeout=5000)
    assert words in window.ptz.refused.text() and "from this console" in window.ptz.refused.text()
