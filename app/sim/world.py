"""The state of a simulated Sense system: what each monitor shows, where each dome points (and pointed), its
presets, which viewers play back and where, and which cameras are down.

Every change goes through a method here, bumps `version` and adds an event; `snapshot`/`restore` carry the
whole state to the standby server.
"""

from __future__ import annotations

import time
from typing import Any

from ..sense import ResultCode, SenseError
from ..sense.events import EventLog, utc_text
from .dome import Dome
from .playback import Mode, Playback
from .site import Camera, Layout, Site

OUTAGE_HISTORY = 32  # ended outages remembered per camera (no recording while a camera was down)


class World:
    def __init__(self, site: Site, events: EventLog) -> None:
        self.site = site
        self.events = events
        self.version = 0
        self.monitors: dict[str, list[str]] = {
            v["divaid"]: [m["layoutid"] for m in v["monitors"]] for v in site.viewers
        }
        # (divaid, monitorindex, layoutid, panelid) -> camera key "serverid/deviceid"
        self.panels: dict[tuple[str, int, str, str], str] = {}
        for p in site.initial:
            key = (p["divaid"], int(p["monitorindex"]), p["layoutid"], p["panelid"])
            self.panels[key] = f"{p['serverid']}/{p['deviceid']}"
        self.domes: dict[str, Dome] = {
            c.key: Dome(presets={n: dict(v) for n, v in c.presets.items()}) for c in site.cameras.values() if c.ptz
        }
        self.playback: dict[str, Playback] = {}  # divaid -> its playback (absent: live at speed 1)
        self.down: dict[str, float] = {}  # camera key -> wall time it went down (sim control, /sim/device)
        self.outages: dict[str, list[tuple[float, float]]] = {}  # camera key -> ended outages (start, end)
        self.tags: set[str] = set()
        self.current_uid: str | None = None  # the uid of the action being executed, for its events

    # -- lookups that raise the documented codes ------------------------------------------------------

    def viewer(self, divaid: str) -> dict[str, Any]:
        v = self.site.viewer(divaid)
        if v is None:
            if divaid == self.site.management["divaid"] or self.site.server(divaid):
                raise SenseError.of(ResultCode.NOT_A_DIVA_CLIENT, f"diva {divaid} is a server, not a viewer station")
            raise SenseError.of(ResultCode.NO_DIVA, f"no viewer station with divaid {divaid}; see getDivaList")
        return v

    def viewers(self, divaid: str | None) -> list[dict[str, Any]]:
        if divaid is None or divaid == "-1":
            return list(self.site.viewers)
        return [self.viewer(divaid)]

    def layout(self, layoutid: str) -> Layout:
        lay = self.site.layouts.get(layoutid)
        if lay is None:
            raise SenseError.of(ResultCode.NO_LAYOUT, f"no layout with layoutid {layoutid}; see getLayoutList")
        return lay

    def camera(self, serverid: str | None, deviceid: str) -> Camera:
        if serverid is not None and self.site.server(serverid) is None:
            raise SenseError.of(ResultCode.NO_SERVER, f"no recording server with serverid {serverid}")
        for cam in self.site.cameras.values():
            if cam.deviceid == deviceid and (serverid is None or cam.serverid == serverid):
                return cam
        raise SenseError.of(
            ResultCode.NO_DEVICE, f"no camera {deviceid} on server {serverid or '(any)'}; see getDeviceList"
        )

    def dome(self, serverid: str | None, deviceid: str) -> tuple[Camera, Dome]:
        cam = self.camera(serverid, deviceid)
        if cam.key not in self.domes:
            raise SenseError.of(ResultCode.NO_DOME, f"camera {cam.name!r} is not a PTZ dome")
        return cam, self.domes[cam.key]

    def _changed(self, eventtype: str, description: str, value: str, **where: str) -> None:
        self.version += 1
        self.events.add(eventtype, description, value, uid=self.current_uid or "", **where)

    # -- actions ---------------------------------------------------------------------------------------

    def select_layout(self, divaid: str | None, monitorindex: int, layoutid: str) -> None:
        lay = self.layout(layoutid)
        targets = self.viewers(divaid)
        if divaid not in (None, "-1") and monitorindex >= len(self.monitors[targets[0]["divaid"]]):
            raise SenseError.of(ResultCode.NO_MONITOR, f"viewer {targets[0]['name']!r} has no monitor {monitorindex}")
        changed = False
        for v in targets:
            mons = self.monitors[v["divaid"]]
            if monitorindex < len(mons):
                mons[monitorindex] = lay.layoutid
                changed = True
        if not changed:
            raise SenseError.of(ResultCode.NO_MONITOR, f"no viewer has a monitor {monitorindex}")
        self._changed("LayoutSelected", f"layout {lay.name} on monitor {monitorindex}", lay.name, divaid=divaid or "-1")

    def select_multilayout(self, divaid: str | None, multilayoutid: str | None, name: str | None) -> None:
        if divaid not in (None, "-1"):
            self.viewer(divaid)  # raises for an unknown viewer
        found = [
            m
            for m in self.site.multilayouts
            if (multilayoutid is not None and m["multilayoutid"] == multilayoutid)
            or (multilayoutid is None and m["name"] == name)
        ]
        if divaid not in (None, "-1"):
            found = [m for m in found if m["divaid"] == divaid]
        if not found:
            raise SenseError.of(
                ResultCode.NO_MULTILAYOUT,
                f"no multilayout {multilayoutid or name!r} for this viewer; see getMultiLayoutList",
            )
        for m in found:
            mons = self.monitors[m["divaid"]]
            for i, layoutid in enumerate(m["layouts"][: len(mons)]):
                mons[i] = layoutid
        self._changed(
            "MultiLayoutSelected", f"multilayout {found[0]['name']}", found[0]["name"], divaid=found[0]["divaid"]
        )

    def select_camera(
        self, view: dict[str, str], layoutid: str, panelid: str | None, panelindex: int | None, divaid: str | None
    ) -> None:
        lay = self.layout(layoutid)
        if panelid is not None:
            panel = lay.panel(panelid)
            if panel is None:
                raise SenseError.of(ResultCode.NO_PANEL, f"layout {lay.name!r} has no panel {panelid}")
        else:
            assert panelindex is not None
            if panelindex >= len(lay.panels):
                raise SenseError.of(ResultCode.NO_PANEL, f"layout {lay.name!r} has no panel index {panelindex}")
            panel = lay.panels[panelindex]
        cam_key = ""
        if view["camera"] != "0":  # cameraid 0 blanks the panel
            cam_key = self.camera(view.get("serverid"), view["camera"]).key
        hits = [
            (v["divaid"], i)
            for v in self.viewers(divaid)
            for i, lid in enumerate(self.monitors[v["divaid"]])
            if lid == lay.layoutid
        ]
        if not hits:
            raise SenseError.of(
                ResultCode.NO_LAYOUT,
                f"layout {lay.name!r} is not shown on any monitor; select it with selectLayout first",
            )
        for d, i in hits:
            key = (d, i, lay.layoutid, panel.panelid)
            if cam_key:
                self.panels[key] = cam_key
            else:
                self.panels.pop(key, None)
        cam = self.site.cameras.get(cam_key)
        self._changed(
            "CameraSelected",
            f"{cam.name if cam else 'nothing'} on {lay.name} {panel.name}",
            cam.name if cam else "",
            serverid=cam.serverid if cam else "0",
            deviceid=cam.deviceid if cam else "0",
            divaid=hits[0][0],
        )

    def camera_on(self, divaid: str, monitorindex: int, layoutid: str, panelid: str) -> Camera | None:
        key = self.panels.get((divaid, monitorindex, layoutid, panelid))
        return self.site.cameras.get(key) if key else None

    def set_absolute(self, serverid: str | None, deviceid: str, target: dict[str, int]) -> None:
        if not target:
            raise SenseError.of(
                ResultCode.NOT_ENOUGH_PARAMETERS,
                "setAbsolutePosition needs at least one of pan, tilt, zoom, focus, iris",
            )
        cam, dome = self.dome(serverid, deviceid)
        dome.settle()
        dome.speed = {}
        dome.pos.update({k: float(v) for k, v in target.items()})
        dome.remember()
        self._changed(
            "PositionChanged",
            f"{cam.name} moved",
            _pos_text(dome.position()),
            serverid=cam.serverid,
            deviceid=cam.deviceid,
        )

    def set_relative(self, serverid: str | None, deviceid: str, speeds: dict[str, int]) -> None:
        cam, dome = self.dome(serverid, deviceid)
        dome.settle()
        dome.speed.update(speeds)
        dome.speed = {k: v for k, v in dome.speed.items() if v}
        dome.remember()
        text = ",".join(f"{k}={v}" for k, v in sorted(dome.speed.items())) or "stopped"
        self._changed("PtzMove", f"{cam.name} {text}", text, serverid=cam.serverid, deviceid=cam.deviceid)

    def set_preset(self, serverid: str | None, deviceid: str, preset: int, name: str | None) -> None:
        cam, dome = self.dome(serverid, deviceid)
        pos = dome.position()
        old = dome.presets.get(preset, {})
        dome.presets[preset] = {
            "name": name or old.get("name") or f"Preset {preset}",
            **{k: pos[k] for k in ("pan", "tilt", "zoom")},
        }
        self._changed(
            "PresetStored",
            f"{cam.name} preset {preset} stored",
            str(preset),
            serverid=cam.serverid,
            deviceid=cam.deviceid,
        )

    def goto_preset(self, serverid: str | None, deviceid: str, preset: int) -> None:
        cam, dome = self.dome(serverid, deviceid)
        stored = dome.presets.get(preset)
        if stored is None:
            raise SenseError.of(
                ResultCode.PRESET_OUT_OF_RANGE, f"{cam.name!r} has no preset {preset}; store it with setPreset first"
            )
        dome.settle()
        dome.speed = {}
        dome.pos.update({k: float(stored[k]) for k in ("pan", "tilt", "zoom")})
        dome.remember()
        self._changed(
            "PresetRecalled",
            f"{cam.name} to preset {preset} {stored['name']}",
            str(preset),
            serverid=cam.serverid,
            deviceid=cam.deviceid,
        )

    # -- playback (TP-21..23, and our stopPlayback) ------------------------------------------------------

    def playback_of(self, divaid: str) -> Playback:
        return self.playback.get(divaid) or Playback()

    def _each_playback(self, divaid: str | None) -> list[Playback]:
        return [self.playback.setdefault(v["divaid"], Playback()) for v in self.viewers(divaid)]

    def start_playback(self, divaid: str | None) -> None:
        now = time.time()
        for pb in self._each_playback(divaid):
            pb.start(now)
        self._changed("PlaybackStarted", "playback started", "", divaid=divaid or "-1")

    def set_playback_time(self, divaid: str | None, t: float) -> None:
        now = time.time()
        for pb in self._each_playback(divaid):
            pb.seek(t, now)
        self._changed("PlaybackTimeSet", "playback time set", utc_text(t), divaid=divaid or "-1")

    def set_playback_speed(self, divaid: str | None, speed: float) -> None:
        now = time.time()
        for pb in self._each_playback(divaid):
            pb.set_speed(speed, now)
        self._changed("PlaybackSpeedSet", f"playback speed {speed:g}", f"{speed:g}", divaid=divaid or "-1")

    def stop_playback(self, divaid: str | None) -> None:
        now = time.time()
        for pb in self._each_playback(divaid):
            pb.stop(now)
        self._changed("PlaybackStopped", "back to live", "", divaid=divaid or "-1")

    # -- cameras going down (a simulator control, not a Sense function) --------------------------------

    def set_device_active(self, serverid: str | None, deviceid: str, active: bool) -> Camera:
        cam = self.camera(serverid, deviceid)
        now = time.time()
        if active and cam.key in self.down:
            ended = self.outages.setdefault(cam.key, [])
            ended.append((self.down.pop(cam.key), now))
            del ended[:-OUTAGE_HISTORY]
            self._changed(
                "VideoRestored", f"{cam.name} active again", cam.name, serverid=cam.serverid, deviceid=cam.deviceid
            )
        elif not active and cam.key not in self.down:
            self.down[cam.key] = now
            self._changed("VideoLost", f"{cam.name} not active", cam.name, serverid=cam.serverid, deviceid=cam.deviceid)
        return cam

    def outage_at(self, cam: Camera, t: float) -> tuple[float, float | None] | None:
        """The time the camera was down around wall time `t` (start, end or None while still down), or None."""
        since = self.down.get(cam.key)
        if since is not None and t >= since:
            return since, None
        return next(((a, b) for a, b in self.outages.get(cam.key, ()) if a <= t < b), None)

    def note(self, eventtype: str, description: str, value: str = "", **where: str) -> None:
        """A state change that is not part of the wall (an executed action, a takeover)."""
        self._changed(eventtype, description, value, **where)

    # -- replication -----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "monitors": self.monitors,
            "panels": [[*k, v] for k, v in self.panels.items()],
            "domes": {
                k: {"pos": d.position(), "speed": d.speed, "presets": d.presets, "history": d.history}
                for k, d in self.domes.items()
            },
            "playback": {k: p.to_json() for k, p in self.playback.items()},
            "down": self.down,
            "outages": self.outages,
            "tags": sorted(self.tags),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.version = int(snap["version"])
        self.monitors = {k: list(v) for k, v in snap["monitors"].items()}
        self.panels = {(d, int(i), lay, p): cam for d, i, lay, p, cam in snap["panels"]}
        now = time.monotonic()
        for key, d in snap["domes"].items():
            self.domes[key] = Dome(
                pos={k: float(v) for k, v in d["pos"].items()},
                speed=dict(d["speed"]),
                since=now,
                presets={int(n): v for n, v in d["presets"].items()},
                history=[(float(t), dict(p), dict(v)) for t, p, v in d.get("history", ())],
            )
        pb = snap["playback"]
        if isinstance(pb, list):  # a peer from before per-viewer positions: playing, from now
            pb = {k: Playback(Mode.PLAYBACK, time.time(), time.time()).to_json() for k in pb}
        self.playback = {k: Playback.from_json(v) for k, v in pb.items()}
        self.down = {k: float(v) for k, v in snap.get("down", {}).items()}
        self.outages = {k: [(float(a), float(b)) for a, b in v] for k, v in snap.get("outages", {}).items()}
        self.tags = set(snap["tags"])


def _pos_text(pos: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in pos.items())
