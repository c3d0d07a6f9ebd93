"""`sensetwin manager`: the Sense API towards consoles; the coordination with the peer manager goes through etcd."""

from __future__ import annotations

import asyncio
import logging
import os

import aiohttp
from aiohttp import web

from ..config import DEFAULTS
from ..http_service import BodyTooLarge, read_body, sense_errors, serve, xml_response
from ..security import TOKEN_HEADER, TokenCheck, server_tls
from ..sense import ResultCode, SenseError, classify, decode, el, fields, parse_result, result_xml, to_bytes
from ..sense.catalogue import validate
from ..sense.events import EventLog, answer_get_events, utc_now
from ..tasks import cancel_and_wait
from .coord import CoordinationError
from .core import Manager
from .follower import EventFollower
from .settings import ManagerSettings

log = logging.getLogger(__name__)
MANAGER_KEY = web.AppKey("manager", Manager)
API_VERSION = "2.6.1"
MAX_EVENTS_BYTES = 8 * 1024 * 1024
EVENT_GATHER = 0.05  # seconds between getEvents polls while events keep coming (see _follow_server_events)


class ManagerService:
    def __init__(self, s: ManagerSettings) -> None:
        self.s = s
        self.events = EventLog(DEFAULTS.event_buffer)
        self.manager = Manager(s, self.events)
        self.follower = EventFollower()
        self.tokens = TokenCheck(s.tokens)
        self._follow: asyncio.Task[None] | None = None
        self._survey: asyncio.Task[None] | None = None
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
        self._survey = asyncio.create_task(self._survey_etcd(), name="etcd-survey")

    async def close(self) -> None:
        await cancel_and_wait([self._follow, self._survey])
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
        body, ctype = await self.manager.read(req)
        if ctype.lower().startswith("image/"):
            return web.Response(body=body, content_type=ctype.split(";")[0].strip())
        return xml_response(body)

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
        peer = m.coord.peer()
        peer_el = fields(
            "peer",
            {
                "role": m.role.other.value,
                "reachable": str(peer is not None).lower(),  # alive in etcd: the managers never talk directly
                "mode": peer.mode if peer else "",
                "instance": peer.instance if peer else "",
            },
        )
        h = m.coord.health
        members = [
            fields(
                "member",
                {
                    "url": x["url"],
                    "reachable": str(bool(x.get("reachable"))).lower(),
                    "leader": str(bool(x.get("leader"))).lower(),
                },
            )
            for x in h.members
        ]
        etcd_el = fields(
            "etcd",
            {
                "ok": str(h.ok).lower(),
                "since": h.since,
                "error": h.error,
                "members": len(m.s.etcd),
                "reachable": sum(1 for x in h.members if x.get("reachable")),
                "trial": str(m.s.etcd_trial).lower(),
                "prefix": m.s.etcd_prefix,
                "site": m.s.site,
                "cluster": m.etcd.cluster_id,
                "instance": m.coord.instance,
            },
            el("memberlist", None, *members, count=len(members)),
        )
        c = m.counts
        counts = fields(
            "counts",
            {
                "forwarded": c.forwarded,
                "deduplicated": c.deduplicated,
                "answeredfrompeer": c.answered_from_peer,
                "indoubt": c.in_doubt,
                "recovered": c.recovered,
                "reexecuted": c.reexecuted,
                "unprotected": c.unprotected,
                "reads": c.reads,
                "notexecuted": c.not_executed,
                "expired": c.expired,
                "claims": c.claims,
                "claimslost": c.claims_lost,
                "etcderrors": c.etcd_errors,
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
                "activeserver": active.url if active else "",
                "activeservername": active.name if active else "",
                "epoch": m.servers.max_epoch,
                "queue": len(m.pending),
                "inflight": len(m.inflight),
                "cached": len(m.coord.records),
            },
            el("servers", None, *servers, count=len(servers)),
            peer_el,
            etcd_el,
            counts,
            fields("caller", {"token": caller_token}),
            m.ops.alarms.status_xml(),
            self.follower.status_xml(),
        )
        return result_xml(0, None, body)

    async def _survey_etcd(self) -> None:
        """Each etcd member asked directly once a second: which are reachable from here, which leads."""
        while True:
            try:
                await self.manager.coord.survey()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("etcd survey failed")
            await asyncio.sleep(DEFAULTS.health_poll)

    # -- the active server's events, merged into ours (one id space) -----------------------------------

    async def _follow_server_events(self) -> None:
        follower = self.follower
        wait_ms = int(DEFAULTS.health_poll * 1000)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.manager.tls or True)) as session:
            while True:
                target = self.manager.servers.active
                if target is None:
                    await self.manager.servers.wait_change(DEFAULTS.health_poll)
                    continue
                try:
                    params = follower.request(target.url, wait_ms)
                    async with session.get(
                        target.url + "/command", params=params, timeout=aiohttp.ClientTimeout(total=wait_ms / 1000 + 2)
                    ) as r:
                        res = parse_result(await read_body(r, MAX_EVENTS_BYTES, f"{target.label}'s getEvents"))
                    events = res.root.find("events")
                    if not res.ok or events is None:
                        raise ValueError(res.message())
                    new = follower.take(target.url, events)
                    for e in new:
                        self.manager.ops.alarms.server_event(e)
                        self.events.add(
                            e["eventtype"],
                            e["eventdescription"],
                            e["eventvalue"],
                            serverid=e["serverid"] or "0",
                            deviceid=e["deviceid"] or "0",
                            divaid=e["divaid"] or "0",
                            serverdescription=e["serverdescription"],
                            devicedescription=e["devicedescription"],
                        )
                    if len(events):
                        # Let the next events gather: a busy server otherwise gets a getEvents per event from each
                        # manager (that cost both more CPU than the actions themselves); a quiet one is long-polled.
                        await asyncio.sleep(EVENT_GATHER)
                except asyncio.CancelledError:
                    raise
                except (aiohttp.ClientError, TimeoutError, OSError, SenseError, ValueError, BodyTooLarge):
                    await asyncio.sleep(DEFAULTS.server_poll)


def create_app(s: ManagerSettings) -> web.Application:
    svc = ManagerService(s)
    app = web.Application(middlewares=[sense_errors], client_max_size=65536)
    app[MANAGER_KEY] = svc.manager
    app.router.add_get("/info", svc.info)
    for path in ("/command", "/"):
        app.router.add_route("*", path, svc.command)

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
    if s.etcd_trial:
        log.warning(
            "TRIAL: only %d etcd member(s) (etcd_allow_fewer): a host failure can stop every action", len(s.etcd)
        )
    tls = server_tls(s.tls_cert, s.tls_key)
    try:
        asyncio.run(serve(create_app(s), s.host, s.port, f"sensetwin manager ({s.role.value})", tls))
    except CoordinationError as exc:
        raise SystemExit(f"sensetwin manager ({s.role.value}): {exc}") from None
