"""Every Sense function the simulator answers: validated parameters in, the documented XML shapes out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..sense import Command, ResultCode, SenseError, el, fields
from ..sense.catalogue import parse_uid
from ..sense.events import answer_get_events
from ..sense.xml import Element
from .dome import AXES
from .playback import Mode, Playback, parse_speed, parse_time, time_text
from .world import World

API_VERSION = "2.6.1"
Handler = Callable[[dict[str, Any]], Awaitable[list[Element]]]


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _camera_id(p: dict[str, Any]) -> str:
    return str(p.get("cameraid") or p.get("deviceid"))


class Functions:
    """Maps a catalogue command to its implementation. Actions change `world`; reads only look at it."""

    def __init__(self, world: World, failover_active: Callable[[], bool]) -> None:
        self.world = world
        self._failover_active = failover_active
        self._devices: Element | None = None
        self._devices_down: frozenset[str] = frozenset()
        self._handlers: dict[str, Handler] = {
            "getdivalist": self.get_diva_list,
            "getdevicelist": self.get_device_list,
            "getlayoutlist": self.get_layout_list,
            "getmultilayoutlist": self.get_multilayout_list,
            "getlayoutstatus": self.get_layout_status,
            "getoptions": self.get_options,
            "getposition": self.get_position,
            "getevents": self.get_events,
            "getactionlist": self.get_action_list,
            "gethardwarestatus": self.get_hardware_status,
            "getserveroptions": self.get_server_options,
            "selectlayout": self.select_layout,
            "selectmultilayout": self.select_multilayout,
            "selectcamera": self.select_camera,
            "setabsoluteposition": self.set_absolute_position,
            "setrelativeposition": self.set_relative_position,
            "setpreset": self.set_preset,
            "gotopreset": self.goto_preset,
            "executeaction": self.execute_action,
            "startplayback": self.start_playback,
            "setplaybackdatetime": self.set_playback_date_time,
            "setplaybackspeed": self.set_playback_speed,
            "stopplayback": self.stop_playback,
        }

    def handler(self, cmd: Command) -> Handler | None:
        return self._handlers.get(cmd.name.lower())

    # -- reads -----------------------------------------------------------------------------------------

    async def get_diva_list(self, p: dict[str, Any]) -> list[Element]:
        site = self.world.site
        rows = [("Diva server", site.management["divaid"], site.management)]
        rows += [("Diva server", s["serverid"], s) for s in site.servers]
        rows += [("Diva client", v["divaid"], v) for v in site.viewers]
        divas = [
            fields(
                "diva",
                {
                    "divaid": i,
                    "name": d["name"],
                    "type": t,
                    "options": "XML",
                    "status": "",
                    "address": d.get("address", ""),
                    "macaddress": d.get("macaddress", ""),
                },
            )
            for t, i, d in rows
        ]
        return [el("divas", None, *divas, count=len(divas))]

    async def get_device_list(self, p: dict[str, Any]) -> list[Element]:
        # A site's cameras never change while it is served: build the tree once (2,000 cameras take ~50 ms,
        # which the server's loop, and so its heartbeat answers, would wait for on every call); again only when
        # a camera goes down or comes back (its status).
        down = frozenset(self.world.down)
        if self._devices is None or down != self._devices_down:
            self._devices, self._devices_down = self._build_device_list(), down
        return [self._devices]

    def _build_device_list(self) -> Element:
        cams = sorted(self.world.site.cameras.values(), key=lambda c: c.name.lower())
        devices = [
            fields(
                "device",
                {
                    "name": c.name,
                    "serverid": c.serverid,
                    "deviceid": c.deviceid,
                    # [I] the "Camera Status" reference is in no stored copy: our words for a camera marked down.
                    "status": "Not active" if c.key in self.world.down else "Ok",
                    "type": "camera",
                    "brand": c.brand,
                    "location": c.location,
                    "ptztype": "VDG" if c.ptz else "",
                    "ipaddress": c.ipaddress,
                    "port": c.port,
                },
            )
            for c in cams
        ]
        return el("devices", None, *devices, count=len(devices))

    async def get_layout_list(self, p: dict[str, Any]) -> list[Element]:
        layouts = []
        for lay in self.world.site.layouts.values():
            panels = [
                fields(
                    "panel",
                    {
                        "panelid": x.panelid,
                        "name": x.name,
                        "deviceid": 0,
                        "serverid": 0,
                        "type": "video",
                        "top": x.top,
                        "left": x.left,
                        "width": x.width,
                        "height": x.height,
                    },
                )
                for x in lay.panels
            ]
            layouts.append(
                fields(
                    "layout",
                    {"layoutid": lay.layoutid, "name": lay.name},
                    el("panels", None, *panels, count=len(panels)),
                )
            )
        return [el("layouts", None, *layouts, count=len(layouts))]

    async def get_multilayout_list(self, p: dict[str, Any]) -> list[Element]:
        rows = [
            fields("multilayout", {"multilayoutid": m["multilayoutid"], "name": m["name"], "divaid": m["divaid"]})
            for m in self.world.site.multilayouts
        ]
        return [el("multilayouts", None, *rows, count=len(rows))]

    async def get_layout_status(self, p: dict[str, Any]) -> list[Element]:
        w = self.world
        divas = []
        for v in w.viewers(p.get("divaid")):
            pb = w.playback_of(v["divaid"])
            mode = pb.mode.value
            monitors = []
            for i, layoutid in enumerate(w.monitors[v["divaid"]]):
                lay = w.layout(layoutid)
                panels = []
                for x in lay.panels:
                    cam = w.camera_on(v["divaid"], i, lay.layoutid, x.panelid)
                    panels.append(
                        fields(
                            "panel",
                            {
                                "panelid": x.panelid,
                                "name": x.name,
                                "serverid": cam.serverid if cam else 0,
                                "deviceid": cam.deviceid if cam else 0,
                            },
                            el("status", None, el("video", mode if cam else "none")),
                        )
                    )
                layout = fields(
                    "layout",
                    {"layoutid": lay.layoutid, "name": lay.name},
                    el("panels", None, *panels, count=len(panels)),
                )
                monitors.append(
                    fields(
                        "monitor",
                        {
                            "index": i,
                            "monitorid": v["monitors"][i]["monitorid"],
                            "name": v["monitors"][i]["name"],
                            "active": "true",
                        },
                        layout,
                    )
                )
            divas.append(
                fields(
                    "diva",
                    {"divaid": v["divaid"], "name": v["name"], "addresses": v.get("address", "")},
                    el("monitors", None, *monitors, count=len(monitors)),
                    _playback_element(pb),
                )
            )
        return [el("layoutstatus", None, el("divas", None, *divas, count=len(divas)))]

    async def get_options(self, p: dict[str, Any]) -> list[Element]:
        cam = self.world.camera(p.get("serverid"), _camera_id(p))
        dome = self.world.domes.get(cam.key)
        ptz = dome is not None
        axes = []
        for axis in ("pan", "tilt", "zoom", "focus", "iris"):
            caps = {"relative": ptz, "absolute": ptz, "position": ptz, "stop": ptz}
            if axis in ("zoom", "focus", "iris"):
                caps["auto"] = ptz
            axes.append(fields(axis, {k: _bool(v) for k, v in caps.items()}))
        presets = [el("preset", d["name"], number=n) for n, d in sorted((dome.presets if dome else {}).items())]
        return [el("options", None, el("positioning", None, *axes), el("presets", None, *presets, count=len(presets)))]

    async def get_position(self, p: dict[str, Any]) -> list[Element]:
        _, dome = self.world.dome(p.get("serverid"), _camera_id(p))
        return [el(k, v) for k, v in dome.position().items()]

    async def get_events(self, p: dict[str, Any]) -> list[Element]:
        return [await answer_get_events(self.world.events, p)]

    async def get_action_list(self, p: dict[str, Any]) -> list[Element]:
        actions = []
        for a in self.world.site.actions:
            params = [
                fields("parameter", {k: _bool(v) if isinstance(v, bool) else v for k, v in x.items()})
                for x in a["parameters"]
            ]
            actions.append(
                fields(
                    "action",
                    {"name": a["name"], "description": a["description"], "type": a["type"]},
                    el("parameters", None, *params, count=len(params)),
                )
            )
        return [el("actions", None, *actions, count=len(actions))]

    async def get_hardware_status(self, p: dict[str, Any]) -> list[Element]:
        if self._failover_active():
            return [fields("hardwarestatus", {"status": "Error", "description": "failover server is active"})]
        return [fields("hardwarestatus", {"status": "Ok", "description": ""})]

    async def get_server_options(self, p: dict[str, Any]) -> list[Element]:
        site = self.world.site
        sid = p.get("serverid") or site.management["divaid"]
        srv = site.server(sid) or (site.management if sid == site.management["divaid"] else None)
        if srv is None:
            raise SenseError.of(ResultCode.NO_SERVER, f"no server with serverid {sid}")
        return [
            fields(
                "serveroptions",
                {
                    "serverid": sid,
                    "description": srv["name"],
                    "title": srv["name"],
                    "version": f"{API_VERSION}.0",
                    "registrationnumber": "SIM",
                    "cameracount": len(site.cameras),
                    "servercount": len(site.servers),
                },
            )
        ]

    # -- actions ---------------------------------------------------------------------------------------

    async def select_layout(self, p: dict[str, Any]) -> list[Element]:
        self.world.select_layout(p.get("divaid"), p["monitorindex"], p["layoutid"])
        return []

    async def select_multilayout(self, p: dict[str, Any]) -> list[Element]:
        self.world.select_multilayout(p.get("divaid"), p.get("multilayoutid"), p.get("name"))
        return []

    async def select_camera(self, p: dict[str, Any]) -> list[Element]:
        self.world.select_camera(p["cameraview"], p["layoutid"], p.get("panelid"), p.get("panelindex"), p.get("divaid"))
        return []

    async def set_absolute_position(self, p: dict[str, Any]) -> list[Element]:
        target: dict[str, int] = {k: p[k] for k in AXES if k in p}
        self.world.set_absolute(p.get("serverid"), _camera_id(p), target)
        return []

    async def set_relative_position(self, p: dict[str, Any]) -> list[Element]:
        speeds: dict[str, int] = {k: p[k] for k in AXES if k in p}
        self.world.set_relative(p.get("serverid"), _camera_id(p), speeds)
        return []

    async def set_preset(self, p: dict[str, Any]) -> list[Element]:
        self.world.set_preset(p.get("serverid"), _camera_id(p), p["preset"], p.get("name"))
        return []

    async def goto_preset(self, p: dict[str, Any]) -> list[Element]:
        self.world.goto_preset(p.get("serverid"), _camera_id(p), p["preset"])
        return []

    async def start_playback(self, p: dict[str, Any]) -> list[Element]:
        self.world.start_playback(p.get("divaid"))
        return []

    async def set_playback_date_time(self, p: dict[str, Any]) -> list[Element]:
        t = parse_time("time", str(p["time"]))
        self.world.set_playback_time(p.get("divaid"), t)
        return []

    async def set_playback_speed(self, p: dict[str, Any]) -> list[Element]:
        speed = parse_speed(p.get("speed"))
        self.world.set_playback_speed(p.get("divaid"), speed)
        return []

    async def stop_playback(self, p: dict[str, Any]) -> list[Element]:
        self.world.stop_playback(p.get("divaid"))
        return []

    async def execute_action(self, p: dict[str, Any]) -> list[Element]:
        w = self.world
        name = str(p["actionname"])
        action = next((a for a in w.site.actions if a["name"].lower() == name.lower()), None)
        if action is None:
            raise SenseError.of(
                ResultCode.ACTION_NAME_DOES_NOT_EXIST, f"no action named {name[:80]!r}; see getActionList"
            )
        for spec in action["parameters"]:
            if spec["required"] and not str(p.get(spec["name"].lower(), "")).strip():
                raise SenseError.of(
                    ResultCode.NOT_ENOUGH_PARAMETERS, f"action {action['name']} needs parameter '{spec['name']}'"
                )
        args = {s["name"].lower(): str(p[s["name"].lower()]) for s in action["parameters"] if s["name"].lower() in p}
        if "divaid" in args:
            w.viewer(parse_uid("divaid", args["divaid"]))
        if "deviceid" in args:
            w.camera(
                parse_uid("serverid", args["serverid"]) if "serverid" in args else None,
                parse_uid("deviceid", args["deviceid"]),
            )
        elif "serverid" in args and w.site.server(parse_uid("serverid", args["serverid"])) is None:
            raise SenseError.of(ResultCode.NO_SERVER, f"no recording server with serverid {args['serverid']}")
        if action["name"].lower().endswith("executemacro"):
            kind = action["type"]
            if not any(m["name"] == args.get("name") and m["type"] == kind for m in w.site.macros):
                raise SenseError.of(ResultCode.NO_MACRO, f"no {kind} macro named {args.get('name', '')[:80]!r}")
        if action["name"] == "server.tagVideoStart":
            w.tags.add(f"{args['serverid']}/{args['deviceid']}")
        elif action["name"] == "server.tagVideoStop":
            w.tags.discard(f"{args['serverid']}/{args['deviceid']}")
        value = ",".join(f"{k}={v}" for k, v in sorted(args.items()))
        w.note(
            "ActionExecuted",
            f"action {action['name']}",
            value,
            serverid=args.get("serverid", "0"),
            deviceid=args.get("deviceid", "0"),
            divaid=args.get("divaid", "0"),
        )
        return []


def _playback_element(pb: Playback) -> Element:
    """Extension of ours in getLayoutStatus (a real server has no such element; clients ignore unknown tags):
    `<playback><mode>live|playback</mode><time>yyyy-mm-dd hh:mm:ss.zzz</time><speed>1</speed></playback>`, the
    time (UTC, empty when live) being the moment shown when this answer was made; it moves on at `speed`."""
    playing = pb.mode is Mode.PLAYBACK
    return el(
        "playback",
        None,
        el("mode", pb.mode.value),
        el("time", time_text(pb.position()) if playing else ""),
        el("speed", f"{pb.speed:g}"),
    )
