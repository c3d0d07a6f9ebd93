"""A desktop without the libraries of Qt's xcb plugin: one line saying which packages, never Qt's abort."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.ui import xcb


@pytest.fixture
def fake_ldd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `ldd` that reports two libraries of the xcb plugin missing, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ldd = bin_dir / "ldd"
    ldd.write_text(
        "#!/bin/sh\necho '\tlibxcb-cursor.so.0 => not found'\necho '\tlibxcb-icccm.so.4 => not found'\n"
        "echo '\tlibc.so.6 => /lib/libc.so.6 (0x0)'\n"
    )
    ldd.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":97")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    return bin_dir


def test_missing_xcb_libraries_are_named_with_their_packages(fake_ldd: Path) -> None:
    assert xcb.missing_libraries() == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    why = xcb.problem()
    assert "libxcb-cursor.so.0" in why and "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in why


def test_offscreen_or_no_display_needs_no_xcb(fake_ldd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert xcb.problem() == ""
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("DISPLAY")
    assert xcb.problem() == ""


@pytest.mark.slow
def test_the_demo_says_what_to_install_and_keeps_running_headless(fake_ldd: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "demo", "--state-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "Press Ctrl+C" in line:
                break
        text = "".join(seen)
        assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in text, text[-2000:]
        assert "keeps running headless" in text and proc.poll() is None  # the system runs, no Qt abort
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        proc.stdout.close()
