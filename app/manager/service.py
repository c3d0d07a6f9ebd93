"""`sensetwin manager`: the Sense API towards consoles, the status feed towards the peer manager."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import aiohttp
from aiohttp import web

from ..config import DEFAULTS
from ..http_service import sense_errors, serve, xml_response
from ..security import TOKEN_HEADER, TokenCheck, server_tls
from ..sense import ResultCode, SenseError, classify, decode, el, fields, parse_result, result_xml, to_bytes
from ..sense.catalogue import validate
from ..sense.events import EventLog, answer_get_events, utc_now
from ..tasks import cancel_and_wait
from .core import Manager
from .feed import record_to_json
from .settings import ManagerSettings, Role

log = logging.getLogger(__name__)
MANAGER_KEY = web.AppKey("manager", Manager)
API_VERSION = "2.6.1"


class ManagerService:
    def __init__(self, s: ManagerSettings) -> None:
        self.s = s
        self.events = EventLog(DEFAULTS.event_buffer)
        self.manager = Manager(s, self.events)
        self.tokens = TokenCheck(s.tokens)
        self._follow: asyncio.Task[None] | None = None
        self._refusal_logged: dict[str, float] = {}

    def who(self, request: web.Request, *, need: bool) -> tuple[str, str]:
        """The sender's name (its token's name, else its address) and whether its token would let it act:
        "not required", "valid", "missing" or "invalid" (never which token). Refuses a request that needs a valid
        token and has none: a Sense-style -104, logged with the address and the reason, never with the token."""
        addr = request.remote or "unknown address"
        if not self.tokens.enabled:
            return addr, "not required"
        presented = request.headers.get(TOKEN_HEADER)
        name = self.tokens.identify(presented)
        if name is not None:
            return name, "valid"
        state = "missing" if presented is None else "invalid"
        if not need:
            return addr, state
        self.manager.counts.refused += 1
        loop = asyncio.get_running_loop()
        if loop.time() - self._refusal_logged.get(addr, float("-inf")) > 10:  # a flood is not a flood of log lines
            if len(self._refusal_logged) > 1000:
                self._refusal_logged.clear()
            self._refusal_logged[addr] = loop.time()
            why = "no token" if state == "missing" else "a token that matches none configured"
            log.warning("refused %s %s from %s: %s", request.method, request.path, addr, why)
        raise SenseError.of(
            ResultCode.NOT_AUTHORIZED,
            f"this manager needs a valid access token in the {TOKEN_HEADER} header; nothing was executed. "
            "Set the console's token (File > Settings, or SENSETWIN_TOKEN) to one listed in the manager's tokens",
        )

    async def start(self) -> None:
        await self.manager.start()
        self._follow = asyncio.create_task(self._follow_server_events(), name="server-events")

    async def close(self) -> None:
        await cancel_and_wait([self._follow])
        await self.manager.close()

    # -- Sense API -------------------------------------------------------------------------------------

    async def info(self, request: web.Request) -> web.Response:
        m = self.manager
        active = m.servers.active
        root = el(
            "apiinfo",
            None,
            el("utc", utc_now()),
            el("version", API_VERSION),
            el("product", "sensetwin-manager"),
            el("role", m.role.value),
            el("mode", m.mode_label),
            el("activeserver", active.url if active else ""),
            el("epoch", active.epoch if active else 0),
        )
        return xml_response(to_bytes(root))

    async def command(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            raise SenseError.of(ResultCode.BAD_REQUEST, "a manager takes commands as GET /command?command=...")
        req = decode(request.rel_url.raw_query_string)
        cmd = classify(req.command)
        source, token_state = self.who(request, need=cmd.is_action or self.s.reads_need_token)
        if cmd.name == "getManagerStatus":
            return xml_response(self.status_xml(token_state))
        if cmd.name == "getEvents":
            values = validate(cmd, req.params)
            return xml_response(result_xml(0, None, await answer_get_events(self.events, values)))
        if cmd.is_action:
            return xml_response(await self.manager.action(req, cmd, source))
        return xml_response(await self.manager.read(req))

    def status_xml(self, caller_token: str = "") -> bytes:
        """`caller_token`: whether the caller's token would let it act (for `sensetwin check` and the console)."""
        m = self.manager
        active = m.servers.active
        servers = [
            fields(
                "server",
                {
                    "name": v.name,
                    "url": v.url,
                    "reachable": str(v.reachable).lower(),
                    "state": v.state,
                    "epoch": v.epoch,
                    "since": v.since,
                    "active": str(v is active).lower(),
                },
            )
            for v in m.servers.views
        ]
        peer = m.peer
        peer_el = fields(
            "peer",
            {
                "url": peer.url if peer else "",
                "reachable": str(bool(peer and peer.state.reachable)).lower(),
                "mode": peer.state.mode if peer else "",
                "role": m.role.other.value,
            },
        )
        c = m.counts
        counts = fields(
            "counts",
            {
                "forwarded": c.forwarded,
                "deduplicated": c.deduplicated,
                "answeredfromfeed": c.answered_from_feed,
                "indoubt": c.in_doubt,
                "reexecuted": c.reexecuted,
                "unprotected": c.unprotected,
                "reads": c.reads,
                "notexecuted": c.not_executed,
            },
        )
        body = fields(
            "managerstatus",
            {
                "role": m.role.value,
                "mode": m.mode_label,
                "since": m.state.since,
                "reason": m.state.reason,
                "forwarding": str(m.may_forward()).lower(),
                "fenced": str(m.fenced).lower(),
                "activeserver": active.url if active else "",
                "activeservername": active.name if active else "",
                "epoch": m.servers.max_epoch,
                "queue": len(m.pending),
                "inflight": len(m.inflight),
                "dedupsize": len(m.store),
                "feedseq": m.feed.last_seq,
            },
            el("servers", None, *servers, count=len(servers)),
            peer_el,
            counts,
            fields("caller", {"token": caller_token}),
        )
        return result_xml(0, None, body)

    # -- the feed (E) ----------------------------------------------------------------------------------

    def _peer_refusal(self, request: web.Request) -> web.Response | None:
        try:
            self.who(request, need=True)
        except SenseError as exc:
            if request.query.get("from") == self.manager.role.other.value:
                self.manager.peer_poll_refused_at = asyncio.get_running_loop().time()
            return web.json_response({"error": exc.description}, status=403)
        return None

    async def feed(self, request: web.Request) -> web.Response:
        refused = self._peer_refusal(request)
        if refused is not None:
            return refused
        q = request.query
        try:
            after = int(q.get("after", "0"))
            wait = min(max(int(q.get("wait", "0")), 0), 30_000) / 1000
        except ValueError:
            raise SenseError.of(ResultCode.BAD_REQUEST, "after and wait must be whole numbers") from None
        f = self.manager.feed
        if q.get("instance") not in (None, "", f.instance):
            after = 0  # the follower knew an earlier process: give it everything from the start
        elif q.get("instance") == f.instance and q.get("from") == self.manager.role.other.value:
            f.ack(after)  # the peer manager holds every record up to `after`
        peer_poll = q.get("from") == self.manager.role.other.value
        if peer_poll:
            f.touch()
        records, gap = await f.wait_since(after, wait)
        if peer_poll:
            f.touch()
        payload: dict[str, Any] = {
            "instance": f.instance,
            "role": self.manager.role.value,
            "mode": self.manager.mode_label,
            "healthy": self.manager.servers.active is not None,
            "last": f.last_seq,
            "gap": gap,
            "records": [record_to_json(r) for r in records[:2000]],
        }
        return web.json_response(payload)

    async def fence(self, request: web.Request) -> web.Response:
        refused = self._peer_refusal(request)
        if refused is not None:
            return refused
        if self.manager.role is not Role.PRIMARY:
            return web.json_response({"error": "only a primary manager can be fenced"}, status=409)
        return web.json_response(self.manager.fence())

    # -- the active server's events, merged into ours (one id space) -----------------------------------

    async def _follow_server_events(self) -> None:
        last: int | None = None
        wait_ms = int(DEFAULTS.health_poll * 1000)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.manager.tls or True)) as session:
            while True:
                target = self.manager.servers.active
                if target is None:
                    await self.manager.servers.wait_change(DEFAULTS.health_poll)
                    continue
                try:
                    params = {"command": "getEvents", "limit": "500"}
                    if last is not None:
                        params.update(startid=str(last), wait=str(wait_ms))
                    async with session.get(
                        target.url + "/command", params=params, timeout=aiohttp.ClientTimeout(total=wait_ms / 1000 + 2)
                    ) as r:
                        res = parse_result(await r.content.read(8 * 1024 * 1024))
                    events = res.root.find("events")
                    if not res.ok or events is None:
                        raise ValueError(res.message())
                    server_last = int(events.get("lasteventid", "0"))
                    if last is None or server_last < last:
                        last = server_last  # first contact, or a server with its own id space
                        continue
                    for e in events.iterfind("event"):
                        last = max(last, int(e.findtext("eventid") or 0))
                        self.events.add(
                            e.findtext("eventtype") or "",
                            e.findtext("eventdescription") or "",
                            e.findtext("eventvalue") or "",
                            serverid=e.findtext("serverid") or "0",
                            deviceid=e.findtext("deviceid") or "0",
                            divaid=e.findtext("divaid") or "0",
                            serverdescription=e.findtext("serverdescription") or "",
                            devicedescription=e.findtext("devicedescription") or "",
                        )
                except asyncio.CancelledError:
                    raise
                except (aiohttp.ClientError, TimeoutError, OSError, SenseError, ValueError):
                    await asyncio.sleep(DEFAULTS.server_poll)


def create_app(s: ManagerSettings) -> web.Application:
    svc = ManagerService(s)
    app = web.Application(middlewares=[sense_errors], client_max_size=65536)
    app[MANAGER_KEY] = svc.manager
    app.router.add_get("/info", svc.info)
    for path in ("/command", "/"):
        app.router.add_route("*", path, svc.command)
    app.router.add_get("/manager/feed", svc.feed)
    app.router.add_post("/manager/fence", svc.fence)

    async def lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
        await svc.start()
        yield
        await svc.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def run(s: ManagerSettings) -> None:
    logging.basicConfig(
        level=os.environ.get("SENSETWIN_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s manager-{s.role.value} %(levelname)s %(message)s",
    )
    log.info("starting with %r", s)  # secrets show as '***', tokens by name only
    if not s.tokens:
        log.warning("no tokens configured: any program that reaches %s can act (see SECURITY.md)", s.host)
    elif s.peer_url and not s.peer_token:
        log.warning("tokens are set but peer_token is not: the peer manager will refuse our feed polls")
    tls = server_tls(s.tls_cert, s.tls_key)
    asyncio.run(serve(create_app(s), s.host, s.port, f"sensetwin manager ({s.role.value})", tls))
