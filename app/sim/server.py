"""`sensetwin sim`: one simulated Sense management server as an aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from ..config import DEFAULTS
from ..http_service import error_response, sense_errors, serve, xml_response
from ..security import EPOCH_HEADER, server_tls
from ..sense import ResultCode, SenseError, decode, el, fields, lookup, parse_xml, result_xml, to_bytes
from ..sense.catalogue import Command, Kind, Param, ParamType, validate
from ..sense.events import EventLog, utc_now
from ..sense.login import check_login
from .functions import API_VERSION, Functions
from .journal import Journal
from .pair import MAX_STATE_BYTES, Failback, Pair, PairSettings, Role, State
from .pictures import PICTURE_COMMANDS, Pictures
from .site import load_site
from .world import World

log = logging.getLogger(__name__)

PAIR_KEY = web.AppKey("pair", Pair)
# The simulator's own control (POST /sim/device, not a Sense function and not under /command, so no manager
# forwards it): mark a camera down (active=false: getLiveImage answers -21, nothing is recorded) or up again.
DEVICE_CONTROL = Command(
    "setDeviceActive",
    Kind.ACTION,
    params=(
        Param("serverid", ParamType.UID),
        Param("cameraid", ParamType.UID),
        Param("deviceid", ParamType.UID),
        Param("active", ParamType.BOOL, required=True),
    ),
    one_of=(("cameraid", "deviceid"),),
)


@dataclass
class SimSettings:
    role: Role = Role.PRIMARY
    host: str = "127.0.0.1"
    port: int = 0
    peer_url: str | None = None
    site: str | Path | None = None  # "demo" (None), "big" or a site file: see load_site
    journal: Path | None = None
    state_dir: Path | None = None
    failback: Failback = Failback.AUTO
    interval: float = DEFAULTS.heartbeat_interval
    misses: int = DEFAULTS.heartbeat_misses
    user: str = ""  # when set, /webservice logins are checked against user and password (SENSETWIN_SIM_PASSWORD)
    password: str = field(default="", repr=False)
    tls_cert: Path | None = None  # both set: serve https (a single server; the pair link J stays http)
    tls_key: Path | None = None


class Simulator:
    """One server: its world, its journal, its place in the pair, and the request handlers."""

    def __init__(self, s: SimSettings) -> None:
        self.settings = s
        self.world = World(load_site(s.site), EventLog(DEFAULTS.event_buffer))
        self.journal = Journal(s.journal, s.role.value)
        state_file = (s.state_dir / f"sim-{s.role.value}.json") if s.state_dir else None
        if state_file:
            state_file.parent.mkdir(parents=True, exist_ok=True)
        self.pair = Pair(
            PairSettings(s.role, s.peer_url, s.interval, s.misses, s.failback, DEFAULTS.replicate_timeout, state_file),
            self.world,
        )
        self.functions = Functions(self.world, lambda: self.pair.failover_active)
        self.pictures = Pictures(self.world)
        self.logins = 0

    async def info(self, request: web.Request) -> web.Response:
        q = request.query
        if "from" in q:
            with contextlib.suppress(ValueError):
                self.pair.on_peer_probe(q.get("state", ""), int(q.get("epoch", "0")))
        else:
            async with self.pair.lock:
                await self.pair.confirm()
        p = self.pair
        root = el(
            "apiinfo",
            None,
            el("utc", utc_now()),
            el("version", API_VERSION),
            el("role", p.role.value),
            el("state", p.state.value),
            el("epoch", p.epoch),
            el("since", p.since),
            el("reason", p.reason),
            el("failback", p.settings.failback.value),
            el("stateversion", self.world.version),
            el("peer", "reachable" if p.peer.reachable else "unreachable"),
            el("site", self.world.site.name),
            el("logins", self.logins),
        )
        return xml_response(to_bytes(root))

    async def command(self, request: web.Request) -> web.Response:
        req = decode(request.rel_url.raw_query_string)
        params = dict(req.params)
        cmd = lookup(req.command)
        if request.method == "POST":
            if cmd is None or cmd.name != "executeAction":
                raise SenseError.of(ResultCode.BAD_REQUEST, "only executeAction may be POSTed; use GET")
            params.update(await _action_body(request))
        if cmd is None or cmd.name == "getManagerStatus":
            raise SenseError.of(ResultCode.NOT_IMPLEMENTED, f"Not implemented: unknown command {req.command[:80]!r}")
        values = validate(cmd, params)
        if cmd.name == "getUidStatus":
            if not req.uid:
                raise SenseError.of(ResultCode.NOT_ENOUGH_PARAMETERS, "getUidStatus needs uid=THE_UID_TO_LOOK_UP")
            known = self.world.events.knows_uid(req.uid)
            return xml_response(
                result_xml(0, None, fields("uidstatus", {"uid": req.uid, "executed": str(known).lower()}))
            )
        if cmd.name == "takeOver":
            async with self.pair.lock:
                return xml_response(result_xml(0, await self.pair.take_over()))
        if cmd.name in PICTURE_COMMANDS:  # a JPEG; errors stay Sense XML (the middleware)
            return web.Response(body=await self.pictures.answer(cmd.name, values), content_type="image/jpeg")
        handler = self.functions.handler(cmd)
        if handler is None:
            raise SenseError.of(ResultCode.NOT_IMPLEMENTED, f"Not implemented: {cmd.name} is not simulated")
        if not cmd.is_action:
            return xml_response(result_xml(0, None, *await handler(values)))
        async with self.pair.lock:
            await self.pair.ensure_can_act()
            sent_for = request.headers.get(EPOCH_HEADER)
            if sent_for is not None and sent_for.strip() != str(self.pair.epoch):
                # A fencing token: the sender chose us as the active server of that epoch. Since then we went
                # standby or took the lead again (a pause, a failback): the command may have waited in our socket,
                # and executing it now would be late. It is certainly not executed; the sender may send it again.
                raise SenseError.of(
                    ResultCode.STALE_SERVER,
                    f"this command was sent to the active server of epoch {sent_for[:20]!r}; this server's epoch is "
                    f"now {self.pair.epoch}: not executed, send it again to the active server",
                )
            self.world.current_uid = req.uid
            try:
                await handler(values)
            finally:
                self.world.current_uid = None
            self.journal.append(req.uid, cmd.name, params, self.pair.epoch)
            await self.pair.replicate()
        return xml_response(result_xml(0, "Ok"))

    async def device_control(self, request: web.Request) -> web.Response:
        """POST /sim/device?deviceid=..&active=false: a camera goes down (or up); replicated like other state."""
        values = validate(DEVICE_CONTROL, decode("command=setDeviceActive&" + request.rel_url.raw_query_string).params)
        async with self.pair.lock:
            await self.pair.ensure_can_act()
            serverid = values.get("serverid")
            camera = str(values.get("cameraid") or values["deviceid"])
            cam = self.world.set_device_active(
                None if serverid is None else str(serverid), camera, values["active"] is True
            )
            await self.pair.replicate()
        state = "active" if values["active"] else "not active"
        return xml_response(result_xml(0, f"camera {cam.name!r} is {state}"))

    async def raise_event(self, request: web.Request) -> web.Response:
        """POST /sim/event {"type", "serverid", "deviceid", "value"}: an event as a camera's motion detector or an
        input would raise it (for tests and the demo's alarms); replicated like other state. Bad input: 400."""
        try:
            e = _event_body(await request.read())
            camera = None
            if e["deviceid"] != "0":
                camera = self.world.camera(None if e["serverid"] == "0" else e["serverid"], e["deviceid"])
        except SenseError as exc:
            return error_response(exc, 400)
        async with self.pair.lock:
            await self.pair.ensure_can_act()
            where = {"serverid": e["serverid"], "deviceid": e["deviceid"]}
            if camera is not None:
                where = {"serverid": camera.serverid, "deviceid": camera.deviceid, "devicedescription": camera.name}
            self.world.note(e["type"], f"{e['type']} on {camera.name if camera else 'the site'}", e["value"], **where)
            await self.pair.replicate()
        eventid = self.world.events.last_id
        return xml_response(result_xml(0, f"event {eventid} {e['type']}", fields("event", {"eventid": eventid})))

    async def webservice(self, request: web.Request) -> web.Response:
        """A login (app.sense.login). Without a configured user any well-formed message is accepted."""
        body = await request.read()
        s = self.settings
        if not s.user:
            root = parse_xml(body)
            if root.tag != "authenticateuserdigest":
                raise SenseError.of(ResultCode.BAD_REQUEST, "expected an <AuthenticateUserDigest> message")
            return xml_response(result_xml(0, "Ok"))
        why = check_login(body, s.user, s.password)
        if why is not None:
            log.warning("refused a login from %s: %s", request.remote, why)
            raise SenseError.of(ResultCode.NOT_AUTHORIZED, f"login refused: {why}")
        self.logins += 1
        log.info("login by %r from %s", s.user, request.remote)
        return xml_response(result_xml(0, "Ok"))

    async def pair_state_get(self, request: web.Request) -> web.Response:
        after = int(request.query.get("after", "0") or 0)
        return web.json_response(self.pair.state_payload(after))

    async def pair_state_post(self, request: web.Request) -> web.Response:
        # The whole state, which on a site of real size is far above the app's 64 KiB request limit.
        body = await request.clone(client_max_size=MAX_STATE_BYTES).read()  # above it: aiohttp's 413
        ok = self.pair.accept_state(json.loads(body))
        return web.json_response({"ok": ok}, status=200 if ok else 409)

    async def pair_handover(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self.pair.lock:
            payload = await self.pair.give_up(int(body.get("epoch", 0)))
        if payload is None:
            return web.json_response({"ok": False, "state": self.pair.state.value}, status=409)
        return web.json_response(payload)


async def _action_body(request: web.Request) -> dict[str, str]:
    """executeAction's POST form: <action><actionname/><parameters><parameter name="..">v</parameter>..."""
    data = await request.read()
    if not data.strip():
        return {}
    root = parse_xml(data, max_bytes=65536)
    out: dict[str, str] = {}
    name = root.findtext("actionname")
    if name:
        out["actionname"] = name.strip()
    for p in root.iter("parameter"):
        key = (p.get("name") or "").strip().lower()
        if key:
            out[key] = (p.text or "").strip()
    return out


def _event_body(data: bytes) -> dict[str, str]:
    """The checked fields of a POST /sim/event body; a SenseError that says what is wrong."""

    def bad(text: str) -> SenseError:
        return SenseError.of(ResultCode.BAD_REQUEST, f"POST /sim/event: {text}")

    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise bad('the body is not JSON; send {"type": "Motion", "serverid": "1", "deviceid": "101"}') from None
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    unknown = sorted(set(body) - {"type", "serverid", "deviceid", "value"})
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)}; an event has type, serverid, deviceid and value")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 64 or not kind.isprintable():
        raise bad('type must be the event type, 1 to 64 printable characters (e.g. "Motion")')
    out = {"type": kind.strip()}
    for k in ("serverid", "deviceid"):
        v = body.get(k, "0")
        text = str(v) if isinstance(v, int) and not isinstance(v, bool) else v
        if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 20:
            raise bad(f"{k} must be a decimal id (as a string), not {str(v)[:40]!r}")
        out[k] = str(int(text))
    value = body.get("value", "")
    if not isinstance(value, str) or len(value) > 1024:
        raise bad("value must be a string of at most 1024 characters")
    out["value"] = value
    return out


def create_app(settings: SimSettings) -> web.Application:
    sim = Simulator(settings)
    app = web.Application(middlewares=[sense_errors], client_max_size=65536)
    app[PAIR_KEY] = sim.pair
    app.router.add_get("/info", sim.info)
    for path in ("/command", "/"):
        app.router.add_get(path, sim.command)
        app.router.add_post(path, sim.command)
    app.router.add_post("/webservice", sim.webservice)
    app.router.add_get("/pair/state", sim.pair_state_get)
    app.router.add_post("/pair/state", sim.pair_state_post)
    app.router.add_post("/pair/handover", sim.pair_handover)
    app.router.add_post("/sim/device", sim.device_control)
    app.router.add_post("/sim/event", sim.raise_event)

    async def lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
        await sim.pair.start()
        yield
        await sim.pair.close()
        sim.pictures.close()
        sim.journal.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def run(settings: SimSettings) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s sim-{settings.role.value} %(levelname)s %(message)s")
    try:
        tls = server_tls(settings.tls_cert, settings.tls_key)
    except ValueError as exc:
        raise SystemExit(f"sensetwin sim: {exc}") from None
    try:
        app = create_app(settings)
    except ValueError as exc:  # the site: a missing file, bad JSON, a bad shape (load_site says which and where)
        raise SystemExit(f"sensetwin sim: {exc}") from None
    name = f"sensetwin sim ({settings.role.value})"
    asyncio.run(serve(app, settings.host, settings.port, name, tls))


__all__ = ["SimSettings", "Simulator", "State", "create_app", "error_response", "run"]
