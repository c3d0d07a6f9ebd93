"""Read the files shipped in resources/ (installed as app.resources), from a clone, a wheel or a bundle."""

from __future__ import annotations

import sys
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path


def resource(*parts: str) -> Traversable:
    node: Traversable
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: the spec puts resources/ at app/resources
        node = Path(getattr(sys, "_MEIPASS", ".")) / "app" / "resources"
    else:
        node = resources.files("app.resources")
    for p in parts:
        node = node.joinpath(p)
    return node


def read_text(*parts: str) -> str:
    return resource(*parts).read_text(encoding="utf-8")
