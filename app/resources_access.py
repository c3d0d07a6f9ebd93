"""Read the files shipped in resources/ (installed as app.resources), from a clone, a wheel or a bundle."""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable


def resource(*parts: str) -> Traversable:
    node: Traversable = resources.files("app.resources")
    for p in parts:
        node = node.joinpath(p)
    return node


def read_text(*parts: str) -> str:
    return resource(*parts).read_text(encoding="utf-8")
