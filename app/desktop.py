"""`sensetwin install-desktop`: put SenseTwin in this user's application menu (freedesktop.org, no root needed).

Writes ~/.local/share/applications/sensetwin.desktop (or under $XDG_DATA_HOME) and the icons into the hicolor
theme (scalable SVG and PNGs from 16 to 512 px). `--uninstall` removes exactly those files.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .resources_access import resource

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def command_line() -> list[str]:
    """How the menu starts the console: the bundle's binary, the installed script, or this interpreter."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = shutil.which("sensetwin")
    return [script] if script else [sys.executable, "-m", "app"]


def targets(home: Path) -> dict[Path, str]:
    """Installed file -> the resource it comes from."""
    out = {home / "icons" / "hicolor" / "scalable" / "apps" / "sensetwin.svg": "sensetwin.svg"}
    for n in SIZES:
        out[home / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "sensetwin.png"] = f"sensetwin-{n}.png"
    return out


def install() -> int:
    home = data_home()
    cmd = command_line()
    entry = (
        resource("desktop", "sensetwin.desktop")
        .read_text(encoding="utf-8")
        .replace("@EXEC@", " ".join(shlex.quote(c) for c in cmd))
        .replace("@TRYEXEC@", cmd[0])
    )
    desktop = home / "applications" / "sensetwin.desktop"
    try:
        desktop.parent.mkdir(parents=True, exist_ok=True)
        desktop.write_text(entry, encoding="utf-8")
        for path, name in targets(home).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(resource("icons", name).read_bytes())
    except OSError as exc:
        print(f"sensetwin install-desktop: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    _refresh(home)
    print(f"installed {desktop} (starts: {' '.join(cmd)}) and {len(SIZES) + 1} icons under {home / 'icons'}")
    return 0


def uninstall() -> int:
    home = data_home()
    removed = 0
    for path in [home / "applications" / "sensetwin.desktop", *targets(home)]:
        if path.exists():
            path.unlink()
            removed += 1
    _refresh(home)
    print(f"removed {removed} files")
    return 0


def _refresh(home: Path) -> None:
    """Menus pick the change up sooner with these; both are optional."""
    for tool, arg in (
        ("update-desktop-database", home / "applications"),
        ("gtk-update-icon-cache", home / "icons" / "hicolor"),
    ):
        if shutil.which(tool) and arg.exists():
            subprocess.run([tool, "-q", str(arg)], check=False, capture_output=True)
