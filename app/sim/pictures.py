"""getLiveImage (TP-49) and getHistoricalImage (TP-46): which picture a request asks for, checked against the
world on the event loop, drawn and encoded in the simulator's one picture thread.

Errors are SenseErrors (Sense XML, text/xml): -2 no such camera, -17 no such server, -21 camera down (live),
-22 a size out of bounds or an unknown type, -4 a malformed time, -3 a time in the future, -11 no recording
(older than the retention, or while the camera was down).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..sense import ResultCode, SenseError
from .painter import Canvas, Painter
from .playback import RETENTION_S, parse_time
from .scene import DOME_WIDE_HFOV, Scene, View, build_scene, dome_view
from .site import Camera
from .world import World

PICTURE_COMMANDS = frozenset({"getLiveImage", "getHistoricalImage"})
# [I] With no size asked, the camera's own picture; TP-49 gives no default (it depends on the camera).
DEFAULT_SIZE = (640, 360)
MAX_PIXELS = 1920 * 1080
SCENES_KEPT = 512  # built scenes (about a millisecond each to build; a big site has 2,000 cameras)
# TP-46's `type`: which recorded image a time means. The recording is continuous, so the types only differ at
# its ends: a time after now, before the retention, or inside an outage.
_TYPES = frozenset({"before", "atorbefore", "at", "atorafter", "after", "keyframe"})
_BACKWARD = frozenset({"before", "atorbefore"})
_FORWARD = frozenset({"after", "atorafter"})


@dataclass(frozen=True)
class _Job:
    camera: Camera
    view: View | None  # None: a fixed camera's own view
    canvas: Canvas
    t: float
    mode: str
    ptz: str
    keep: bool


def canvas_of(p: dict[str, Any]) -> Canvas:
    """The asked size (either side alone keeps 16:9), bounded; fittopanel fills it instead of letterboxing."""
    asked_w, asked_h = p.get("imagewidth"), p.get("imageheight")
    if asked_w is None and asked_h is None:
        w, h = DEFAULT_SIZE
    elif asked_w is None:
        h = int(asked_h)  # type: ignore[arg-type]
        w = round(h * 16 / 9)
    elif asked_h is None:
        w = int(asked_w)
        h = round(w * 9 / 16)
    else:
        w, h = int(asked_w), int(asked_h)
    if not (16 <= w <= 1920 and 16 <= h <= 1920) or w * h > MAX_PIXELS:
        raise SenseError.of(
            ResultCode.VALUE_OUT_OF_RANGE,
            f"image size {w}x{h} is out of range: each side 16..1920, at most {MAX_PIXELS} pixels (1920x1080)",
        )
    return Canvas(w, h, bool(p.get("fittopanel", False)))


def ptz_text(pos: dict[str, int]) -> str:
    zoom = DOME_WIDE_HFOV / dome_view(pos["pan"], pos["tilt"], pos["zoom"]).hfov
    return f"P {pos['pan'] / 10:.1f}  T {pos['tilt'] / 10:.1f}  Z {zoom:.1f}x"


class Pictures:
    """The picture functions of one simulated server. `close()` stops its thread."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.painter = Painter()
        self._scenes: OrderedDict[str, Scene] = OrderedDict()  # touched only in the picture thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-pictures")

    async def answer(self, command: str, p: dict[str, Any]) -> bytes:
        job = self.live_job(p) if command == "getLiveImage" else self.historical_job(p)
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.render, job)

    def live_job(self, p: dict[str, Any]) -> _Job:
        cam = self.world.camera(p.get("serverid"), _camera_id(p))
        if cam.key in self.world.down:
            raise SenseError.of(
                ResultCode.DEVICE_NOT_ACTIVE, f"camera {cam.name!r} is not active: it gives no live picture"
            )
        canvas = canvas_of(p)
        dome = self.world.domes.get(cam.key)
        if dome is None:
            return _Job(cam, None, canvas, time.time(), "LIVE", "", True)
        pos = dome.position()
        view = dome_view(pos["pan"], pos["tilt"], pos["zoom"])
        return _Job(cam, view, canvas, time.time(), "LIVE", ptz_text(pos), not dome.moving())

    def historical_job(self, p: dict[str, Any]) -> _Job:
        cam = self.world.camera(p.get("serverid"), _camera_id(p))
        t = parse_time("time", str(p["time"]))
        kind = str(p.get("type") or "at").strip().lower()
        if kind not in _TYPES:
            raise SenseError.of(
                ResultCode.VALUE_OUT_OF_RANGE,
                f"type {kind[:20]!r} is not one of before, atorbefore, at, atorafter, after, keyframe",
            )
        canvas = canvas_of(p)
        t = self._recorded(cam, t, kind, time.time())
        dome = self.world.domes.get(cam.key)
        if dome is None:
            return _Job(cam, None, canvas, t, "PLAYBACK", "", True)
        pos = dome.position_at(t)
        return _Job(cam, dome_view(pos["pan"], pos["tilt"], pos["zoom"]), canvas, t, "PLAYBACK", ptz_text(pos), True)

    def _recorded(self, cam: Camera, t: float, kind: str, now: float) -> float:
        """The moment of the recorded picture `t` and `kind` ask for, or the documented error."""
        oldest = now - RETENTION_S
        if t > now:
            if kind not in _BACKWARD:
                raise SenseError.of(
                    ResultCode.ERROR_HISTORICAL_IMAGE,
                    f"no recorded picture of {cam.name!r} at that time: it is in the future (use getLiveImage)",
                )
            t = now
        if t < oldest:
            if kind not in _FORWARD:
                days = RETENTION_S / 86400
                raise SenseError.of(
                    ResultCode.NO_IMAGE, f"no recording of {cam.name!r} that old: recordings are kept {days:g} days"
                )
            t = oldest
        gap = self.world.outage_at(cam, t)
        if gap is not None:
            start, end = gap
            if kind in _BACKWARD and start > oldest:
                t = start - 0.001
            elif kind in _FORWARD and end is not None:
                t = end
            else:
                raise SenseError.of(
                    ResultCode.NO_IMAGE, f"no recording of {cam.name!r} at that time: the camera was not active"
                )
        return t

    def render(self, job: _Job) -> bytes:
        """In the picture thread (or a benchmark's): the JPEG for a job."""
        scene = self._scenes.get(job.camera.key)
        if scene is None:
            scene = self._scenes[job.camera.key] = build_scene(job.camera)
            if len(self._scenes) > SCENES_KEPT:
                self._scenes.popitem(last=False)
        self._scenes.move_to_end(job.camera.key)
        view = job.view or scene.home
        return self.painter.jpeg(self.painter.frame(scene, view, job.canvas, job.t, job.mode, job.ptz, job.keep))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _camera_id(p: dict[str, Any]) -> str:
    return str(p.get("cameraid") or p.get("deviceid"))
