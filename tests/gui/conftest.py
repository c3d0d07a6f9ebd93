"""The test loop pattern of TESTING.md: one qasync loop for the session on pytest-qt's qapp, a per-test clean-up
of leftover tasks, and run_async() for sync tests. This folder runs in a pytest run of its own (see Makefile):
asyncio.run() in the other tests must not meet a running qasync loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from app.client import RedundantClient
from app.demo import Topology
from app.ui.app import client_settings, make_app
from app.ui.main_window import MainWindow
from app.ui.qtloop import new_loop
from app.ui.settings import ConsoleSettings


@pytest.fixture(scope="session")
def qapp_cls() -> type[QApplication]:
    return QApplication


@pytest.fixture(scope="session")
def loop(qapp: QApplication) -> asyncio.AbstractEventLoop:
    make_app()  # the theme and quit behaviour of the real console
    qapp.setQuitOnLastWindowClosed(False)
    lp = new_loop(qapp, already_running=True)
    asyncio.set_event_loop(lp)
    return lp


@pytest.fixture
def run_async(loop: asyncio.AbstractEventLoop, qtbot: Any) -> Any:
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
def demo(tmp_path: Path) -> Iterator[Topology]:
    with Topology.create(tmp_path) as topo:
        topo.start_system()
        yield topo


def console_window(
    topo: Topology,
    run_async: Any,
    qtbot: Any,
    ready: Callable[[MainWindow], bool],
    timeout: float = 20,
    settings_file: Path | None = None,
    before: Callable[[RedundantClient], None] | None = None,
    **settings: Any,
) -> Iterator[MainWindow]:
    """The real console on `topo`'s managers and servers, shown, once `ready(window)`; closed after. `before(client)`
    runs between the client's start and the window's construction."""
    urls = {k: p.url for k, p in topo.parts.items()}
    s = ConsoleSettings(
        station="Test desk",
        managers=[urls["primary manager"], urls["secondary manager"]],
        servers=[urls["primary server"], urls["secondary server"]],
        **settings,
    )
    client = RedundantClient(client_settings(s))
    run_async(client.start())
    if before is not None:
        before(client)
    extra = {"settings": s, "settings_file": settings_file} if settings_file else {}
    win = MainWindow(client, s.station, topo, **extra)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: ready(win), timeout=int(timeout * 1000))
    yield win
    win.close()
    run_async(win.shutdown())
    run_async(client.close())


@pytest.fixture
def window(demo: Topology, run_async: Any, qtbot: Any) -> Iterator[MainWindow]:
    yield from console_window(
        demo, run_async, qtbot, lambda w: bool(w.wall.monitors) and w.client.view.executing_manager is not None
    )
