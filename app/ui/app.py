"""Start the console: QApplication, the dark theme, the qasync loop, the client and the window; quit by closing
the window, then clean up (tasks, client, demo children) before the loop ends."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtGui import QFont, QFontInfo, QIcon, QPixmap
from PySide6.QtWidgets import QApplication

from ..client import ClientSettings, PairSettings, RedundantClient
from ..config import log_dir, parse_listen
from ..resources_access import read_text, resource
from . import qtloop
from .main_window import MainWindow
from .settings import ConsoleSettings


def display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def make_app(theme: str = "dark") -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("SenseTwin")
    app.setDesktopFileName("sensetwin")  # matches the menu entry of `sensetwin install-desktop`
    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        pixmap = QPixmap()
        if pixmap.loadFromData(resource("icons", f"sensetwin-{size}.png").read_bytes()):
            icon.addPixmap(pixmap)
    app.setWindowIcon(icon)
    app.setQuitOnLastWindowClosed(False)
    app.setStyleSheet(read_text("themes", f"{theme if theme in ('dark', 'light') else 'dark'}.qss"))
    return app


def client_settings(s: ConsoleSettings) -> ClientSettings:
    pair = None
    if s.pair_role:
        pair = PairSettings(s.pair_role, s.pair_name, s.peer_url, parse_listen(s.peer_listen), token=s.pair_token)
    return ClientSettings(
        s.station,
        s.managers,
        s.servers,
        timeout=s.timeout,
        pair=pair,
        verify=s.ca_bundle or True,
        token=s.token,
        ptz_priority=s.ptz_priority,
    )


async def run_window(app: QApplication, s: ConsoleSettings, demo: Any = None, screenshot: Path | None = None) -> int:
    client = RedundantClient(client_settings(s))
    await client.start()
    win = MainWindow(client, s.station, demo, s.viewers, settings=s)
    win.show()
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    shot = asyncio.ensure_future(_screenshot(win, screenshot)) if screenshot is not None else None
    try:
        await closed.wait()
    finally:
        if shot is not None:
            shot.cancel()
        await win.shutdown()
        await client.close()
    return 0


async def _screenshot(win: MainWindow, path: Path) -> None:
    """Save the window once it is connected and the wall is drawn, then close."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        v = win.client.view
        shared = win.ops.state.updated > 0  # the alarms, tours and domes read once
        if v.executing_manager and v.active_server and win.wall.monitors and win.site.cameras and shared:
            break
        await asyncio.sleep(0.1)
    while loop.time() < deadline and not _pictures_shown(win):  # noqa: ASYNC110 - polled, no event to wait on
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.2)  # let the strip's change flash settle
    if not QFontInfo(QFont()).family():
        print("sensetwin: no usable font; install fonts-dejavu-core", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(path))
    print(f"screenshot saved to {path}", flush=True)
    win.close()


def _pictures_shown(win: MainWindow) -> bool:
    panels = [p for p in win.wall.panels() if p.source is not None]
    return bool(panels) and all(p.image is not None or p.failure for p in panels)


def log_to_file() -> Path:
    """The console's log: the user log dir, rotated at 5 MB, 3 files kept. No secrets are ever logged."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "console.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def run_console(s: ConsoleSettings, demo: Any = None, screenshot: Path | None = None) -> int:
    log_to_file()
    app = make_app(s.theme)
    return qtloop.run(app, run_window(app, s, demo, screenshot))
