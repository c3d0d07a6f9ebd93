"""The peer link between paired consoles: each action one console takes goes to the other, which sends the very
same command with the very same uid to both managers; heartbeats tell each console whether its peer is there.

Protocol (JSON over HTTP, each console serves it on its `listen` address):
  POST /peer/hello   {"pair", "station", "role", "at"}                          -> {"pair", "station", "role"}
  POST /peer/action  {"pair", "station", "uid", "command", "params", "at"}      -> {"ok": true}
`at` is the sender's UTC time in seconds. A message of another pair, older than `max_age`, with a uid already
seen (a replay), or malformed is refused with 400/409 and a reason; a refused action is never executed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..config import DEFAULTS, LOOPBACK
from ..security import TOKEN_HEADER, TokenCheck
from ..tasks import cancel_and_wait
from .http import HttpLink, LinkError

log = logging.getLogger(__name__)
_UID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")


@dataclass
class PairSettings:
    role: str  # primary | secondary
    name: str  # the pair's name; both consoles must use the same
    peer_url: str
    listen: tuple[str, int] = (LOOPBACK, 0)
    heartbeat: float = DEFAULTS.peer_heartbeat
    gone_after: float = DEFAULTS.peer_gone
    max_age: float = DEFAULTS.peer_max_age
    token: str = field(default="", repr=False)  # both consoles of a pair share it; required when set


class PeerMessageError(ValueError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class PairLink:
    def __init__(
        self,
        s: PairSettings,
        station: str,
        http: HttpLink,
        on_mirror: Callable[[str, str, dict[str, str]], Coroutine[Any, Any, None]],
        on_change: Callable[[bool, str, str], None],
    ) -> None:
        self.s = s
        self.station = station
        self.http = http
        self._on_mirror = on_mirror
        self._on_change = on_change
        self.reachable = False
        self.peer_station = ""
        self._heard = float("-inf")
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0
        self.refused = 0
        self._check_token = TokenCheck({"peer console": s.token} if s.token else {})

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/peer/hello", self._hello)
        app.router.add_post("/peer/action", self._action)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.s.listen[0], self.s.listen[1])
        await site.start()
        self.port = self._runner.addresses[0][1] if self._runner.addresses else self.s.listen[1]
        self._tasks.add(asyncio.create_task(self._heartbeat(), name="peer-heartbeat"))
        self._tasks.add(asyncio.create_task(self._watch_gone(), name="peer-gone"))

    async def close(self) -> None:
        await cancel_and_wait(list(self._tasks))
        if self._runner:
            await self._runner.cleanup()

    # -- sending ---------------------------------------------------------------------------------------

    def _message(self, **kw: object) -> dict[str, object]:
        return {"pair": self.s.name, "station": self.station, "role": self.s.role, "at": time.time(), **kw}

    async def announce(self, uid: str, command: str, params: dict[str, str]) -> None:
        """Tell the peer about an action we took; if it is gone, the action still went to both managers."""
        self._remember(uid)
        try:
            reply = await self.http.post_json(
                self.s.peer_url + "/peer/action",
                self._message(uid=uid, command=command, params=params),
                timeout=self.s.heartbeat * 2,
            )
            if reply.status != 200:
                log.warning("peer console refused uid %s: %s", uid, reply.body[:200].decode("utf-8", "replace"))
            else:
                self._heard_now("")
        except LinkError as exc:
            log.info("peer console did not take uid %s: %s", uid, exc.reason)

    async def _watch_gone(self) -> None:
        """A peer that stops is reported gone within `gone_after`: its last news is at most one heartbeat old
        when it stops, so silence of `gone_after - heartbeat` is enough."""
        loop = asyncio.get_running_loop()
        silence = max(self.s.gone_after - self.s.heartbeat, self.s.heartbeat * 2)
        while True:
            await asyncio.sleep(0.05)
            if self.reachable and loop.time() - self._heard > silence:
                self.reachable = False
                self._on_change(False, self.peer_station, f"no news for {silence:.1f} s")

    async def _heartbeat(self) -> None:
        while True:
            try:
                reply = await self.http.post_json(
                    self.s.peer_url + "/peer/hello", self._message(), timeout=self.s.heartbeat * 2
                )
                if reply.status == 200:
                    body = json.loads(reply.body)
                    self._heard_now(str(body.get("station", ""))[:64])
            except (LinkError, ValueError):
                pass
            await asyncio.sleep(self.s.heartbeat)

    def _heard_now(self, station: str) -> None:
        self._heard = asyncio.get_running_loop().time()
        if station:
            self.peer_station = station
        if not self.reachable:
            self.reachable = True
            self._on_change(True, self.peer_station, "")

    # -- receiving -------------------------------------------------------------------------------------

    async def _read(self, request: web.Request) -> dict[str, Any]:
        if self._check_token.enabled and self._check_token.identify(request.headers.get(TOKEN_HEADER)) is None:
            raise PeerMessageError(403, f"no valid pair token in {TOKEN_HEADER}; both consoles need the same one")
        return parse_message(await request.read(), self.s.name, self.s.max_age)

    async def _hello(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
        except PeerMessageError as exc:
            self.refused += 1
            return web.json_response({"error": str(exc)}, status=exc.status)
        self._heard_now(str(body.get("station", ""))[:64])
        return web.json_response({"pair": self.s.name, "station": self.station, "role": self.s.role})

    async def _action(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
            uid, command, params = action_fields(body)
            if uid in self._seen:
                raise PeerMessageError(409, f"uid {uid} was already taken: a replay")
        except PeerMessageError as exc:
            self.refused += 1
            log.warning("refused a peer message: %s", exc)
            return web.json_response({"error": str(exc)}, status=exc.status)
        self._remember(uid)
        self._heard_now(str(body.get("station", ""))[:64])
        task = asyncio.create_task(self._on_mirror(uid, command, params))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response({"ok": True})

    def _remember(self, uid: str) -> None:
        self._seen[uid] = None
        while len(self._seen) > 50_000:
            self._seen.popitem(last=False)


def parse_message(raw: bytes, pair: str, max_age: float, now: float | None = None) -> dict[str, Any]:
    """A peer message's JSON object, checked for pair and age; PeerMessageError says why it is refused."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise PeerMessageError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise PeerMessageError(400, "a peer message is a JSON object")
    if body.get("pair") != pair:
        raise PeerMessageError(409, f"message for pair {str(body.get('pair'))[:40]!r}, this is {pair!r}")
    at = body.get("at")
    t = time.time() if now is None else now
    if isinstance(at, bool) or not isinstance(at, int | float) or not abs(t - float(at)) <= max_age:
        raise PeerMessageError(409, f"message time is missing or more than {max_age:.0f} s off: a replay?")
    return body


def action_fields(body: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """uid, command and params of a /peer/action message, or PeerMessageError."""
    uid, command, params = body.get("uid"), body.get("command"), body.get("params")
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        raise PeerMessageError(400, "uid must be 1 to 64 characters of A-Z a-z 0-9 _ -")
    if not isinstance(command, str) or not _NAME.fullmatch(command):
        raise PeerMessageError(400, "command must be a Sense function name")
    if (
        not isinstance(params, dict)
        or len(params) > 32
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) < 64 and len(v) <= 1024 for k, v in params.items()
        )
    ):
        raise PeerMessageError(400, "params must be an object of at most 32 short strings")
    return uid, command, params
