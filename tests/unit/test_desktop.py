"""`sensetwin install-desktop` writes a valid menu entry and every icon size per user, and removes them again."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from app.cli import main
from app.desktop import SIZES


def test_install_and_uninstall_the_menu_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["install-desktop"]) == 0
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(tmp_path / "applications" / "sensetwin.desktop")
    e = entry["Desktop Entry"]
    assert e["Type"] == "Application" and e["Icon"] == "sensetwin" and e["Name"] == "SenseTwin"
    assert "@" not in e["Exec"] and Path(e["TryExec"]).exists()
    assert entry["Desktop Action Demo"]["Exec"].endswith(" demo")
    icons = tmp_path / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / "sensetwin.svg").read_text().startswith("<?xml")
    for n in SIZES:
        png = (icons / f"{n}x{n}" / "apps" / "sensetwin.png").read_bytes()
        assert png[:4] == b"\x89PNG" and int.from_bytes(png[16:20], "big") == n
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not (tmp_path / "applications" / "sensetwin.desktop").exists()
    assert not any(p.is_file() for p in icons.rglob("*"))
