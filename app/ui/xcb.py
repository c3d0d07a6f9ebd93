"""Can Qt's xcb platform plugin load here? On a fresh Linux desktop it often cannot (libxcb-cursor0, libxcb-icccm4,
…), and Qt then aborts the whole process. We ask `ldd` first, without importing Qt, and say which packages to install.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The libraries libqxcb.so loads that a minimal Debian/Ubuntu desktop may lack, and the package of each.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
}


def plugin_path() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.exists() else None


def uses_xcb() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    return sys.platform.startswith("linux") and (platform in ("", "xcb")) and bool(os.environ.get("DISPLAY"))


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """The libraries the xcb plugin needs that this machine lacks ([] when all are there, or when we cannot tell)."""
    plugin = plugin or plugin_path()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split()[0] for line in out.splitlines() if "not found" in line]


def install_command(missing: list[str]) -> str:
    packages = sorted({PACKAGES.get(lib, lib) for lib in missing})
    return "sudo apt-get install " + " ".join(packages)


def problem() -> str:
    """'' when a window can open as far as we can tell; else one line saying what to install."""
    if not uses_xcb():
        return ""
    missing = missing_libraries()
    if not missing:
        return ""
    return (
        f"the console cannot open a window: Qt's xcb plugin needs {', '.join(missing)}, which this machine lacks. "
        f"Install them with: {install_command(missing)}"
    )
