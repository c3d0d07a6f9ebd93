"""`sensetwin demo --screenshot` as a user runs it: a picture of the connected window, and nothing left running."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def test_demo_screenshot_then_every_child_is_gone(tmp_path: Path) -> None:
    shot = tmp_path / "demo.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_STATE_HOME": str(tmp_path / "xdg")}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--state-dir", str(tmp_path / "demo"), "--screenshot", str(shot)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"screenshot saved to {shot}" in proc.stdout
    img = QImage(str(shot))
    assert img.width() >= 1200 and img.height() >= 800
    parts = dict(re.findall(r"^  (\S.*?\S) +(http://127\.0\.0\.1:\d+) ", proc.stdout, re.MULTILINE))
    assert sorted(parts) == sorted(
        [
            *("primary server", "secondary server", "primary manager", "secondary manager"),
            *("etcd-p member", "etcd-s member", "etcd-w member"),
        ]
    ), proc.stdout
    for name, url in parts.items():
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as s:
            s.settimeout(0.5)
            assert s.connect_ex((host, int(port))) != 0, f"{name} at {url} still listens after the demo closed"
