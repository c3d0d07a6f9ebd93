"""The site a simulated server serves: servers, viewers, monitors, layouts, cameras, presets, actions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..resources_access import read_text


@dataclass(frozen=True)
class Panel:
    panelid: str
    name: str
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class Layout:
    layoutid: str
    name: str
    panels: tuple[Panel, ...]

    def panel(self, panelid: str) -> Panel | None:
        return next((p for p in self.panels if p.panelid == panelid), None)


@dataclass(frozen=True)
class Camera:
    serverid: str
    deviceid: str
    name: str
    location: str
    ptz: bool
    brand: str = "VDG"
    ipaddress: str = ""
    port: int = 80
    presets: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.serverid}/{self.deviceid}"


@dataclass(frozen=True)
class Site:
    name: str
    management: dict[str, str]
    servers: tuple[dict[str, str], ...]
    viewers: tuple[dict[str, Any], ...]
    layouts: dict[str, Layout]
    multilayouts: tuple[dict[str, Any], ...]
    cameras: dict[str, Camera]
    initial: tuple[dict[str, Any], ...]
    macros: tuple[dict[str, str], ...]
    actions: tuple[dict[str, Any], ...]

    def viewer(self, divaid: str) -> dict[str, Any] | None:
        return next((v for v in self.viewers if v["divaid"] == divaid), None)

    def server(self, serverid: str) -> dict[str, str] | None:
        return next((s for s in self.servers if s["serverid"] == serverid), None)


def parse_site(data: dict[str, Any]) -> Site:
    layouts = {
        lay["layoutid"]: Layout(lay["layoutid"], lay["name"], tuple(Panel(**p) for p in lay["panels"]))
        for lay in data["layouts"]
    }
    cameras = {}
    for c in data["cameras"]:
        presets = {int(k): v for k, v in c.get("presets", {}).items()}
        cam = Camera(**{**c, "presets": presets})
        cameras[cam.key] = cam
    return Site(
        name=data.get("name", "site"),
        management=data["management"],
        servers=tuple(data["servers"]),
        viewers=tuple(data["viewers"]),
        layouts=layouts,
        multilayouts=tuple(data.get("multilayouts", ())),
        cameras=cameras,
        initial=tuple(data.get("initial", ())),
        macros=tuple(data.get("macros", ())),
        actions=tuple(data.get("actions", ())),
    )


def load_site(path: str | Path | None = None) -> Site:
    """A built-in site by name ("demo", the default, or "big": 20 servers and 2,000 cameras) or a site file.

    Raises ValueError with one line that says what is wrong and where (a missing file, bad JSON, a bad shape).
    """
    name = "demo" if path is None else str(path)
    if name == "big":
        from .bigsite import big_site

        return parse_site(big_site())
    where = "the built-in demo site" if name == "demo" else f"site file {name}"
    try:
        text = read_text("sites", "demo.json") if name == "demo" else Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {where}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    try:
        return parse_site(data)
    except KeyError as exc:
        raise ValueError(f"{where} is not a valid site description: missing {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{where} is not a valid site description: {exc}") from None
