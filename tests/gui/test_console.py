"""The console with real demo processes, offscreen: what an operator does, checked against the journal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDropEvent

from app.demo import Topology
from app.ui.main_window import MainWindow
from app.ui.settings import ConsoleSettings, SettingsError, load, save
from app.ui.wall import CAMERA_MIME
from tests.helpers import command, journal_counts


def _first_panel(win: MainWindow) -> tuple[Any, str, Any]:
    _key, mon = next(iter(win.wall.monitors.items()))
    pid, panel = next(iter(mon.area.panels.items()))
    return mon, pid, panel


def _drop(panel: Any, key: str) -> None:
    mime = QMimeData()
    mime.setData(CAMERA_MIME, key.encode())
    ev = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    panel.dropEvent(ev)


def _camera(win: MainWindow, name: str) -> str:
    return next(c.key for c in win.site.cameras.values() if c.name == name)


def test_drop_a_camera_on_a_panel_shows_it_and_executes_once(window: MainWindow, demo: Topology, qtbot: Any) -> None:
    mon, pid, panel = _first_panel(window)
    key = _camera(window, "Fire exit")
    _drop(panel, key)
    qtbot.waitUntil(lambda: mon.area.panels[pid].camera.text() == "Fire exit", timeout=5000)
    counts = journal_counts(demo.journal)
    assert list(counts.values()) == [1]
    entry = next(iter(counts))
    assert entry.startswith("Test-desk-")
    # The command log shows both managers' answers for it.
    qtbot.waitUntil(
        lambda: (
            window.command_log.rowCount() >= 1
            and "waiting" not in (window.command_log.item(0, 4).text() + window.command_log.item(0, 5).text())
        ),
        timeout=5000,
    )
    assert window.command_log.item(0, 3).text() == entry
    assert "Ok" in window.command_log.item(0, 4).text() and "Ok" in window.command_log.item(0, 5).text()
    assert window.command_log.item(0, 6).text() == "Ok"


def test_recall_a_preset_moves_the_dome(window: MainWindow, demo: Topology, qtbot: Any) -> None:
    key = _camera(window, "Main gate")
    window.choose_camera(key)
    qtbot.waitUntil(lambda: 2 in window.ptz.preset_buttons, timeout=5000)
    cam = window.site.cameras[key]
    url = demo.parts["primary server"].url

    def pan() -> str:
        return command(url, "getPosition", serverid=cam.serverid, cameraid=cam.deviceid).text("pan")

    before = pan()
    window.ptz.preset_buttons[2].click()
    qtbot.waitUntil(lambda: pan() != before, timeout=5000)
    qtbot.waitUntil(lambda: f"pan {pan()}" in window.ptz.position.text(), timeout=5000)


def test_switch_a_layout_from_the_monitor_picker(window: MainWindow, demo: Topology, qtbot: Any) -> None:
    mon, _, _ = _first_panel(window)
    i = mon.layout_box.findText("3x3")
    mon.layout_box.setCurrentIndex(i)
    mon.layout_box.activated.emit(i)
    qtbot.waitUntil(lambda: len(mon.area.panels) == 9, timeout=5000)
    st = command(demo.parts["primary server"].url, "getLayoutStatus", divaid=mon.divaid)
    assert st.text("layoutstatus/divas/diva/monitors/monitor/layout/name") == "3x3"


def test_kill_the_primary_server_from_the_demo_menu(window: MainWindow, demo: Topology, qtbot: Any) -> None:
    window.demo_actions[("primary server", "kill")].trigger()  # type: ignore[attr-defined]
    tile = window.strip.tiles["secondary server"]
    qtbot.waitUntil(lambda: "ACTIVE" in tile.state.text(), timeout=2000)
    assert "DOWN" in window.strip.tiles["primary server"].state.text()
    assert "Running on SECONDARY server" in window.strip.banner.text()
    mon, pid, panel = _first_panel(window)
    _drop(panel, _camera(window, "Canteen"))
    qtbot.waitUntil(lambda: mon.area.panels[pid].camera.text() == "Canteen", timeout=5000)
    from app.sim import read_journal

    assert [e["server"] for e in read_journal(demo.journal)] == ["secondary"]


def test_settings_round_trip_through_the_config_file(tmp_path: Path) -> None:
    s = ConsoleSettings(
        station="Desk 7",
        managers=["http://10.0.0.5:9100", "http://10.0.0.6:9100"],
        servers=["http://10.0.0.1"],
        pair_role="secondary",
        pair_name="north",
        peer_url="http://10.0.0.21:9200",
        timeout=1.5,
    )
    p = save(s, tmp_path / "settings.json")
    assert oct(os.stat(p).st_mode & 0o777) == "0o600"
    assert load(p) == s
    os.chmod(p, 0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        load(p)
    with pytest.raises(SettingsError, match="http://"):
        save(ConsoleSettings(managers=["10.0.0.5:9100"]), tmp_path / "bad.json")


def test_pick_a_multilayout_for_a_viewer(window: MainWindow, demo: Topology, qtbot: Any) -> None:
    from PySide6.QtWidgets import QComboBox

    boxes = [b for b in window.wall.findChildren(QComboBox) if b.itemText(0) == "Multilayout…"]
    assert len(boxes) == 2
    box = boxes[0]
    i = next(j for j in range(box.count()) if "incident" in box.itemText(j))
    box.activated.emit(i)
    mons = [w for (d, _), w in sorted(window.wall.monitors.items()) if d == next(iter(window.wall.monitors))[0]]
    qtbot.waitUntil(lambda: [len(m.area.panels) for m in mons] == [1, 6], timeout=5000)


def test_a_refused_token_shows_on_the_manager_tile_and_the_banner(qtbot: Any, tmp_path: Path) -> None:
    from app.client import SystemView
    from app.client.view import ManagerState, ServerState
    from app.ui.strip import RedundancyStrip

    strip = RedundancyStrip()
    qtbot.addWidget(strip)
    view = SystemView(
        servers={"primary": ServerState("primary", "http://s1", state="active", epoch=1)},
        managers={
            "primary": ManagerState("primary", "http://m1", True, "normal", True, token_refused=True),
            "secondary": ManagerState("secondary", "http://m2", True, "failover"),
        },
    )
    strip.show_view(view)
    tile = strip.tiles["primary manager"]
    assert tile.state.text() == "✖ TOKEN REFUSED" and "File › Settings" in tile.detail.text()
    assert strip.tiles["secondary manager"].state.text() == "◐ FAILOVER"
    assert strip.banner.text().startswith("TOKEN REFUSED by the primary manager")
    assert strip.banner.property("level") == "bad"
    strip.resize(1100, 110)
    strip.grab().save(str(tmp_path / "strip-token-refused.png"))


def test_losing_two_etcd_members_shows_no_quorum_and_nothing_executes_until_they_are_back(
    window: MainWindow, demo: Topology, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    warnings: list[str] = []  # the "Action not confirmed" box, recorded instead of waiting for a click
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: warnings.append(f"{title}: {text}"))
    tile, banner = window.strip.tiles["etcd"], window.strip.banner
    qtbot.waitUntil(lambda: "3/3 MEMBERS" in tile.state.text(), timeout=5000)
    window.demo_actions[("etcd-s member", "kill")].trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "2/3 MEMBERS" in tile.state.text(), timeout=5000)  # one down: quorum held
    assert "quorum held" in tile.detail.text()
    window.demo_actions[("etcd-w member", "kill")].trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "NO QUORUM" in tile.state.text(), timeout=10000)
    assert banner.text().startswith("NO QUORUM") and banner.property("level") == "bad"
    mon, pid, panel = _first_panel(window)
    before = mon.area.panels[pid].camera.text()
    _drop(panel, _camera(window, "Canteen"))
    qtbot.waitUntil(lambda: bool(warnings), timeout=10000)
    assert "Action not confirmed" in warnings[0] and "(-113)" in warnings[0] and "not executed" in warnings[0]
    assert journal_counts(demo.journal) == {}
    assert mon.area.panels[pid].camera.text() == before
    for name in ("etcd-s member", "etcd-w member"):
        window.demo_actions[(name, "restart")].trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: "3/3 MEMBERS" in tile.state.text(), timeout=20000)
    qtbot.waitUntil(lambda: not banner.text().startswith("NO QUORUM"), timeout=5000)
    _drop(panel, _camera(window, "Canteen"))
    qtbot.waitUntil(lambda: mon.area.panels[pid].camera.text() == "Canteen", timeout=10000)
    assert list(journal_counts(demo.journal).values()) == [1] and len(warnings) == 1


def test_a_window_built_after_the_first_answers_shows_them_at_once(demo: Topology, run_async: Any, qtbot: Any) -> None:
    """The watch tells of changes only; a window built after the client learnt the system (a console that waited
    on its peer link, a slow start) shows what is known, not "? unknown" until the next change."""
    from app.client import RedundantClient
    from tests.gui.conftest import console_window

    def known(client: RedundantClient) -> None:
        v = client.view
        qtbot.waitUntil(
            lambda: (
                v.executing_manager is not None
                and all(x.state != "unknown" for x in v.servers.values())
                and v.managers["secondary"].reachable
            ),
            timeout=20_000,
        )

    first: list[tuple[dict[str, str], str, list[str]]] = []

    def seen(win: MainWindow) -> bool:  # waitUntil asks at once, before any event is processed
        if not first:
            logged = [win.system_log.item(i).text() for i in range(win.system_log.count())]
            first.append(({n: t.state.text() for n, t in win.strip.tiles.items()}, win.strip.banner.text(), logged))
        return True

    for _win in console_window(demo, run_async, qtbot, seen, before=known):
        pass  # the window is closed and the client too before the checks (console_window has no finally)
    shown, banner, logged = first[0]
    assert shown["primary server"] == "● ACTIVE" and shown["secondary server"] == "◐ STANDBY", shown
    assert shown["primary manager"] == "● EXECUTING", shown
    assert banner != "Connecting…"
    assert any("primary server is active" in t for t in logged), logged
