"""The site as the console needs it, read through the client: cameras, layouts, multilayouts, actions and what
every monitor shows now. Plain dataclasses; the UI draws them."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sense import Result
from .playback import Playback, parse_sense_time


@dataclass(frozen=True)
class Camera:
    serverid: str
    deviceid: str
    name: str
    location: str
    ptz: bool
    status: str
    server_name: str

    @property
    def key(self) -> str:
        return f"{self.serverid}/{self.deviceid}"


@dataclass(frozen=True)
class PanelShape:
    panelid: str
    name: str
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class LayoutShape:
    layoutid: str
    name: str
    panels: tuple[PanelShape, ...]


@dataclass
class MonitorState:
    divaid: str
    index: int
    name: str
    layoutid: str
    cameras: dict[str, str] = field(default_factory=dict)  # panelid -> "serverid/deviceid" ("" = empty)


@dataclass
class ViewerState:
    divaid: str
    name: str
    monitors: list[MonitorState]
    # Its playback as the server reported it (our getLayoutStatus extension `<playback>`): None = live. A real
    # Sense server reports nothing: `playback_known` is then False and the console keeps its own account.
    playback: Playback | None = None
    playback_known: bool = False


@dataclass
class ActionSpec:
    name: str
    description: str
    kind: str
    parameters: list[dict[str, str]]


@dataclass
class Site:
    cameras: dict[str, Camera] = field(default_factory=dict)
    layouts: dict[str, LayoutShape] = field(default_factory=dict)
    multilayouts: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, divaid)
    actions: list[ActionSpec] = field(default_factory=list)
    presets: dict[str, dict[int, str]] = field(default_factory=dict)  # camera key -> number -> name


def _t(el: object, tag: str) -> str:
    return (el.findtext(tag) or "").strip()  # type: ignore[attr-defined]


def parse_site(divas: Result, devices: Result, layouts: Result, multis: Result, actions: Result) -> Site:
    s = Site()
    names = {_t(d, "divaid"): _t(d, "name") for d in divas.root.iterfind("divas/diva")}
    for d in devices.root.iterfind("devices/device"):
        c = Camera(
            _t(d, "serverid"),
            _t(d, "deviceid"),
            _t(d, "name"),
            _t(d, "location"),
            bool(_t(d, "ptztype")),
            _t(d, "status") or "Ok",
            names.get(_t(d, "serverid"), f"server {_t(d, 'serverid')}"),
        )
        s.cameras[c.key] = c
    for lay in layouts.root.iterfind("layouts/layout"):
        panels = tuple(
            PanelShape(
                _t(p, "panelid"),
                _t(p, "name"),
                int(_t(p, "left") or 0),
                int(_t(p, "top") or 0),
                int(_t(p, "width") or 1000),
                int(_t(p, "height") or 1000),
            )
            for p in lay.iterfind("panels/panel")
        )
        s.layouts[_t(lay, "layoutid")] = LayoutShape(_t(lay, "layoutid"), _t(lay, "name"), panels)
    s.multilayouts = [
        (_t(m, "multilayoutid"), _t(m, "name"), _t(m, "divaid"))
        for m in multis.root.iterfind("multilayouts/multilayout")
    ]
    for a in actions.root.iterfind("actions/action"):
        params = [{c.tag: (c.text or "") for c in p} for p in a.iterfind("parameters/parameter")]
        s.actions.append(ActionSpec(_t(a, "name"), _t(a, "description"), _t(a, "type"), params))
    return s


def parse_wall(status: Result) -> list[ViewerState]:
    viewers = []
    for d in status.root.iterfind("layoutstatus/divas/diva"):
        mons = []
        for m in d.iterfind("monitors/monitor"):
            ms = MonitorState(_t(d, "divaid"), int(_t(m, "index") or 0), _t(m, "name"), _t(m, "layout/layoutid"))
            for p in m.iterfind("layout/panels/panel"):
                sid, did = _t(p, "serverid"), _t(p, "deviceid")
                ms.cameras[_t(p, "panelid")] = "" if did in ("", "0") else f"{sid}/{did}"
            mons.append(ms)
        v = ViewerState(_t(d, "divaid"), _t(d, "name"), mons)
        pb = d.find("playback")
        if pb is not None:
            v.playback_known, v.playback = True, _playback(pb)
        viewers.append(v)
    return viewers


def _playback(el: object) -> Playback | None:
    """`<playback><mode>playback</mode><time>2026-11-24 19:05:55.120</time><speed>2</speed></playback>`."""
    if _t(el, "mode").lower() != "playback":
        return None
    try:
        return Playback(parse_sense_time(_t(el, "time")), float(_t(el, "speed") or 1))
    except ValueError:
        return None


def parse_presets(options: Result) -> dict[int, str]:
    return {int(p.get("number", "0")): (p.text or "").strip() for p in options.root.iterfind("options/presets/preset")}


def own_viewers(viewers: list[ViewerState], wanted: list[str], show_all_up_to: int) -> list[str]:
    """This workstation's viewer stations (divaids, in the site's order): the ones `wanted` names (by name,
    case-insensitive, or by divaid); with none named (or none found), all of them on a site with at most
    `show_all_up_to` stations, else the first one."""
    keys = {w.strip().lower() for w in wanted if w.strip()}
    picked = [v.divaid for v in viewers if v.divaid in keys or v.name.strip().lower() in keys]
    if picked:
        return picked
    if len(viewers) <= show_all_up_to:
        return [v.divaid for v in viewers]
    return [viewers[0].divaid] if viewers else []
