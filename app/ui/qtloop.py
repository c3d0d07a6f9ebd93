"""The only module that imports qasync: an asyncio loop driven by Qt's event loop.

qasync is thinly maintained; keeping it here keeps the choice one file away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import qasync
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


def new_loop(app: QApplication, already_running: bool = False) -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop = qasync.QEventLoop(app, already_running=already_running)
    return loop


def run(app: QApplication, main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on a Qt-driven asyncio loop until it returns."""
    loop = new_loop(app)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


asyncSlot = qasync.asyncSlot
