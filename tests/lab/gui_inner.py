"""The Qt console on the lab, run by tests/lab/test_lab_gui.py as a pytest run of its own inside host con-a's
network namespace under Xvfb (a real xcb window): not collected by the suite (the file name does not match test_*).

The outer test passes, in the environment:
    SENSETWIN_LAB_GUI_MANAGERS, SENSETWIN_LAB_GUI_SERVERS  the lab URLs, comma-separated, primary first
    SENSETWIN_TOKEN                                        the managers' token
    SENSETWIN_LAB_GUI_DIR                                  the folder of the hand-over files and the screenshot
    SENSETWIN_LAB_GUI_OWNER                                the outer test's pid (gone: this run ends)

Hand-over (files in that folder, waited on as conditions): this run writes `pid`, then `before-host-down.json`
once the first action has been shown; the outer test checks the journal, takes mgr-p's host down and writes
`host-down`; this run sees the primary manager DOWN, takes a second action, saves `console-lab.png` and writes
`after-host-down.json`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDropEvent, QFont, QFontInfo, QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from app.client import RedundantClient
from app.client.outcome import Outcome
from app.ui.app import client_settings, make_app
from app.ui.main_window import MainWindow
from app.ui.qtloop import new_loop
from app.ui.settings import ConsoleSettings
from app.ui.wall import CAMERA_MIME

GUI_DIR = Path(os.environ.get("SENSETWIN_LAB_GUI_DIR", "."))
MANAGERS = [u for u in os.environ.get("SENSETWIN_LAB_GUI_MANAGERS", "").split(",") if u]
SERVERS = [u for u in os.environ.get("SENSETWIN_LAB_GUI_SERVERS", "").split(",") if u]
OWNER = int(os.environ.get("SENSETWIN_LAB_GUI_OWNER", "0"))  # the outer test's pid
SHOT = "console-lab.png"
STEP_MS = 20_000  # the longest any one step may take

pytestmark = pytest.mark.skipif(
    len(MANAGERS) != 2 or not OWNER, reason="run by tests/lab/test_lab_gui.py on the lab only"
)


# -- the test loop pattern of TESTING.md (as tests/gui/conftest.py) --------------------------------------------


@pytest.fixture(scope="session")
def qapp_cls() -> type[QApplication]:
    return QApplication


@pytest.fixture(scope="session")
def loop(qapp: QApplication) -> asyncio.AbstractEventLoop:
    make_app()
    qapp.setQuitOnLastWindowClosed(False)
    lp = new_loop(qapp, already_running=True)
    asyncio.set_event_loop(lp)
    return lp


@pytest.fixture
def run_async(loop: asyncio.AbstractEventLoop, qtbot: Any) -> Iterator[Callable[..., Any]]:
    def run(coro: Coroutine[Any, Any, Any], timeout: float = 20) -> Any:
        task = asyncio.ensure_future(coro)
        qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        return task.result()

    yield run
    leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in leftover:
        t.cancel()
    qtbot.waitUntil(lambda: all(t.done() for t in leftover), timeout=5000)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The console's "Action not confirmed" boxes, recorded instead of waiting for a click."""
    seen: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: seen.append(f"{title}: {text}"))
    return seen


@pytest.fixture
def window(run_async: Any, qtbot: Any) -> Iterator[MainWindow]:
    x = {"pid": os.getpid(), "display": os.environ.get("DISPLAY", ""), "xauthority": os.environ.get("XAUTHORITY", "")}
    hand_over("x.json", x)  # what this run's xvfb-run made, for the outer test's checks that it is gone
    s = ConsoleSettings(
        station="Lab desk", managers=MANAGERS, servers=SERVERS, token=os.environ.get("SENSETWIN_TOKEN", "")
    )
    client = RedundantClient(client_settings(s))
    run_async(client.start())
    win = MainWindow(client, s.station)
    qtbot.addWidget(win)
    win.move(0, 0)
    win.show()
    qtbot.waitExposed(win, timeout=STEP_MS)
    qtbot.waitUntil(lambda: bool(win.wall.monitors) and bool(win.site.cameras), timeout=STEP_MS)
    yield win
    win.close()
    run_async(win.shutdown())
    run_async(client.close())


# -- helpers ---------------------------------------------------------------------------------------------------


def tiles(win: MainWindow) -> dict[str, str]:
    return {name: t.state.text() for name, t in win.strip.tiles.items()}


def wait_strip(win: MainWindow, qtbot: Any, cond: Callable[[dict[str, str]], bool]) -> None:
    """Wait until the strip's tiles meet cond; on a timeout, say what they showed."""
    try:
        qtbot.waitUntil(lambda: cond(tiles(win)), timeout=STEP_MS)
    except qtbot.TimeoutError:
        pytest.fail(f"the strip showed {tiles(win)}, banner {win.strip.banner.text()!r}")


def camera(win: MainWindow, name: str) -> str:
    return next(c.key for c in win.site.cameras.values() if c.name == name)


def panels(win: MainWindow) -> list[tuple[Any, str, Any]]:
    """(monitor widget, panel id, panel widget) of every panel on the wall, in order."""
    return [(mon, pid, p) for mon in win.wall.monitors.values() for pid, p in mon.area.panels.items()]


def drop(panel: Any, key: str) -> None:
    """What a drag from the camera tree delivers to a panel (as tests/gui/test_console.py)."""
    mime = QMimeData()
    mime.setData(CAMERA_MIME, key.encode())
    ev = QDropEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    panel.dropEvent(ev)


def put_camera(win: MainWindow, qtbot: Any, index: int, name: str) -> Outcome:
    """Drop camera `name` on the index-th panel of the wall; wait until the wall shows it (read back from the
    server) and the command log has the operator's result; return that action's outcome."""
    key = camera(win, name)
    mon, pid, panel = panels(win)[index]
    assert panel.camera_key != key, f"panel {pid} shows {name} already"
    known = {o.uid for o in win.command_log.outcomes}
    drop(panel, key)
    qtbot.waitUntil(lambda: mon.area.panels[pid].camera_key == key, timeout=STEP_MS)
    new = lambda: [o for o in win.command_log.outcomes if o.uid not in known and o.command == "selectCamera"]  # noqa: E731
    qtbot.waitUntil(lambda: len(new()) == 1 and new()[0].result is not None, timeout=STEP_MS)
    o = new()[0]
    assert o.ok, o.message
    return o


def record(o: Outcome) -> dict[str, Any]:
    return {
        "uid": o.uid,
        "params": o.params,
        "first": o.first,
        "answers": {k: a.text() for k, a in o.answers.items()},
        "message": o.message,
    }


def owner_gone() -> bool:
    """The outer test died (kill -9): end now, so xvfb-run stops its Xvfb and removes its files itself."""
    try:
        os.kill(OWNER, 0)
    except ProcessLookupError:
        return True
    return False


def answered(name: str) -> bool:
    if owner_gone():
        pytest.fail("the outer test is gone")
    return (GUI_DIR / name).exists()


def hand_over(name: str, data: dict[str, Any]) -> None:
    tmp = GUI_DIR / f".{name}"
    tmp.write_text(json.dumps(data, indent=1))
    tmp.rename(GUI_DIR / name)  # the outer test never reads half a file


def flashing(win: MainWindow) -> bool:
    return any(t.property("flash") == "true" for t in win.strip.tiles.values())


def screenshot(win: MainWindow, qtbot: Any, path: Path) -> None:
    """The window as the X server shows it (grabbed from Xvfb's screen, not rendered again), once the strip's
    change flash has settled."""
    qtbot.waitUntil(lambda: not flashing(win), timeout=5000)
    assert QFontInfo(QFont()).family(), "no usable font: every glyph would be an empty box"
    shot = win.screen().grabWindow(win.winId())
    assert not shot.isNull() and shot.width() >= win.width() * 0.9, (shot.width(), win.width())
    assert shot.save(str(path))
    print(f"screenshot of the console on con-a, primary manager host down: {path}")


# -- the test --------------------------------------------------------------------------------------------------


def test_console_on_the_lab(window: MainWindow, qtbot: Any, warnings: list[str]) -> None:
    win = window
    assert QGuiApplication.platformName() == "xcb", "a real X window, not offscreen"
    assert win.windowHandle() is not None and win.windowHandle().isExposed()

    # 1. the strip: both servers, both managers, etcd with its three members
    want = {
        "primary server": "● ACTIVE",
        "secondary server": "◐ STANDBY",
        "primary manager": "● EXECUTING",
        "secondary manager": "◐ FAILOVER",
        "etcd": "● 3/3 MEMBERS",
        "peer console": "? NOT PAIRED",
    }
    wait_strip(win, qtbot, lambda t: t == want)
    assert win.strip.banner.text().startswith("Normal operation · primary server"), win.strip.banner.text()
    for role, url in zip(("primary", "secondary"), MANAGERS, strict=True):
        assert win.client.view.managers[role].url == url  # over the LAN, not a loopback stand-in
    assert "quorum · every member reached" in win.strip.tiles["etcd"].detail.text()

    # 2. a camera dropped on a panel: shown, Ok
    first = put_camera(win, qtbot, 0, "Fire exit")
    hand_over("before-host-down.json", {"action": record(first), "tiles": tiles(win)})

    # 3. the outer test takes mgr-p's host down (links silent, processes killed) and says so. The secondary
    # manager stays in failover mode (it claims an action nobody claimed within its queue timeout) until the
    # first action after the cut: its tile says FAILOVER, the console sees no manager executing yet.
    qtbot.waitUntil(lambda: answered("host-down"), timeout=STEP_MS)
    wait_strip(win, qtbot, lambda t: t["primary manager"] == "✖ DOWN" and t["etcd"] == "▲ 2/3 MEMBERS")
    down = {"tiles": tiles(win), "banner": win.strip.banner.text()}  # etcd-p was on mgr-p too
    assert down["tiles"]["secondary manager"] in ("◐ FAILOVER", "● EXECUTING"), down
    assert down["tiles"]["primary server"] == "● ACTIVE" and down["tiles"]["secondary server"] == "◐ STANDBY", down

    # 4. the next action, on another panel: through the secondary manager, the primary's send unanswered
    second = put_camera(win, qtbot, 1, "Canteen")
    assert second.first == "secondary", record(second)
    assert second.answers["primary"].state in ("pending", "failed"), record(second)
    row = next(r for r in range(win.command_log.rowCount()) if win.command_log.item(r, 3).text() == second.uid)
    assert win.command_log.item(row, 6).text() == "Ok"
    assert warnings == []
    wait_strip(win, qtbot, lambda t: t["secondary manager"] == "● EXECUTING" and t["primary manager"] == "✖ DOWN")
    banner = win.strip.banner.text()
    assert banner.startswith("Primary server active · SECONDARY manager executing"), banner

    path = GUI_DIR / SHOT
    screenshot(win, qtbot, path)
    hand_over(
        "after-host-down.json",
        {"action": record(second), "down": down, "tiles": tiles(win), "banner": banner, "screenshot": str(path)},
    )
