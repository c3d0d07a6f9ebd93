"""PySide6-Essentials 6.12.0 on Python 3.11 aborts a qasync program after ~20,000 loop callbacks
(`Fatal Python error: none_dealloc`). This runs 50,000 callbacks and 50,000 signal emits in a fresh
process, on the versions this project installs; it must exit 0."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
import asyncio, sys
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication
from app.ui.qtloop import run

class Emitter(QObject):
    fired = Signal(bool)

async def main():
    loop = asyncio.get_running_loop()
    for _ in range(50_000):
        fut = loop.create_future()
        loop.call_soon(fut.set_result, None)
        await fut
    e = Emitter()
    seen = [0]
    e.fired.connect(lambda v: seen.__setitem__(0, seen[0] + 1))
    for _ in range(50_000):
        e.fired.emit(True)
    return seen[0]

app = QApplication(sys.argv)
print("emits", run(app, main()))
"""


def test_fifty_thousand_qasync_callbacks_and_signal_emits_survive() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "emits 50000" in proc.stdout
