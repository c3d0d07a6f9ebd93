"""PTZ control (docs/workflows-protocol.md): which console holds a dome, for ptz_hold after its last move, kept in
etcd under `ptz/`; a move of higher priority takes it over."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from ..config import DEFAULTS
from ..sense import Command, CommandRequest, ResultCode, el, encode
from ..sense.catalogue import PTZ_MOVES, Param, ParamType, parse_int, validate
from ..sense.xml import Element
from .ops import Change, refuse
from .servers import MaybeSent, NotSent

if TYPE_CHECKING:
    from .ops import Ops

SPEEDS = ("pan", "tilt", "zoom", "focus", "iris")  # setRelativePosition's: all given 0 is a full stop
_PRIORITY = Param("priority", ParamType.INT, min=1, max=10)


class PtzControl:
    """The PTZ moves and presets a console sends through one manager's Ops (a move first takes the dome's control
    key) and getPtzControl."""

    def __init__(self, ops: Ops) -> None:
        self.ops = ops
        self._lease: tuple[float, int] = (float("-inf"), 0)

    async def move(self, req: CommandRequest, cmd: Command, uid: str, deadline: float, source: str = "") -> bytes:
        values = validate(cmd, req.params)  # the catalogue's checks of console and priority (and the rest)
        params = {k: v for k, v in req.params.items() if k not in ("console", "priority")}
        # holdPosition and setPosition are not in the catalogue: their console and camera come from the request.
        raw = req.params
        console = str(values.get("console", raw.get("console", ""))).strip()[:80]
        name = cmd.name.lower()
        # A full stop always passes and takes nothing: a dome is never left moving because its stop was refused.
        stop = name == "holdposition" or (name == "setrelativeposition" and not any(values.get(a) for a in SPEEDS))
        if console and name in PTZ_MOVES and not stop:
            priority = values.get("priority")
            if priority is None:
                given = raw.get("priority")
                priority = DEFAULTS.ptz_priority if given is None else parse_int(_PRIORITY, given)
            camera = str(
                values.get("cameraid") or values.get("deviceid") or raw.get("cameraid") or raw.get("deviceid") or ""
            )
            serverid = str(values.get("serverid") or self.ops.alarms.lists.serverid_of(camera) or "0")
            priority, capped_by = int(str(priority)), ""
            limit = self.ops.s.ptz_priority_max.get(source)
            if limit is not None and priority > limit:
                priority, capped_by = limit, source
            try:
                await self._take(console, priority, serverid, camera, capped_by)
            except MaybeSent as exc:  # the control key's write is in doubt; the move itself certainly was not sent
                raise NotSent.of(ResultCode.COORDINATION_UNAVAILABLE, exc.description) from None
        return await self.ops.m.servers.execute(encode(req.command, params, uid), deadline)

    async def _take(self, console: str, priority: int, serverid: str, camera: str, capped_by: str = "") -> None:
        hold = self.ops.s.ptz_hold
        lease = await self.ops.granted(self._hold_lease())
        taken: list[str] = []

        def decide(cur: dict[str, Any] | None) -> Change:
            now = time.time()
            holder = str(cur.get("console", "")) if cur else ""
            held = cur is not None and holder != console and now - float(cur.get("at", 0)) < hold
            if held and cur is not None and priority <= int(cur.get("priority", 0)):
                left = math.ceil(float(cur.get("at", 0)) + hold - now)
                why = f"camera {camera} is in use by {holder} ({left} s left)"
                if capped_by:
                    why += f"; token {capped_by} may steer with priority {priority} at most (ptz_priority_max)"
                raise refuse(ResultCode.PTZ_IN_USE, why)
            tookfrom = holder if held else (str(cur.get("tookfrom", "")) if cur and holder == console else "")
            if held:
                taken.append(holder)
            value = {
                "console": console,
                "priority": priority,
                "at": now,
                "tookfrom": tookfrom,
                "serverid": serverid,
                "cameraid": camera,
            }
            return Change(value, b"", lease)

        # A fresh uid per write: a move is never "already done" by an earlier move of the same console.
        await self.ops.rmw("ptz", f"{serverid}-{camera}", f"ptz-{time.monotonic_ns()}", decide)

    async def _hold_lease(self) -> int:
        """A lease of ptz_hold + 1 s, shared by the moves of one second: a key on it lives at least ptz_hold."""
        at, lease = self._lease
        now = time.monotonic()
        if now - at > 1.0:
            lease = await self.ops.client.grant(math.ceil(self.ops.s.ptz_hold) + 2)
            self._lease = (now, lease)
        return lease

    def xml(self) -> Element:
        now = time.time()
        rows = []
        for e in self.ops.cache["ptz"].values():
            p = e.value
            remaining = math.ceil(float(p.get("at", 0)) + self.ops.s.ptz_hold - now)
            if remaining <= 0:
                continue
            rows.append(
                el(
                    "ptzcontrol",
                    None,
                    *(el(k, p.get(k, "")) for k in ("serverid", "cameraid", "console", "priority")),
                    el("remaining", remaining),
                    el("tookfrom", p.get("tookfrom", "")),
                )
            )
        return el("ptzcontrols", None, *rows, count=len(rows))

    def changed(self, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """Our cache saw a dome's control change: the manager's event log tells of a console that took it."""
        took = str(new.get("tookfrom", ""))
        if not took or (old is not None and old.get("console") == new.get("console")):
            return
        where = f"{new.get('serverid', '')}/{new.get('cameraid', '')}"
        text = f"{new.get('console')} (priority {new.get('priority')}) took camera {where} from {took}"
        self.ops.event(
            "PtzControlTaken",
            text,
            text,
            serverid=str(new.get("serverid", "0")),
            deviceid=str(new.get("cameraid", "0")),
        )
