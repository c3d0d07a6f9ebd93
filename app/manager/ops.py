"""The shared operator workflows (docs/workflows-protocol.md): alarms, tours and PTZ control, kept in etcd.

`Ops` is owned by the Manager. Its actions run inside the manager's uid machinery (claimed, executed once,
answered from `done`); each state change is a read-modify-write under a compare on the key's mod_revision, and
carries the uid that made it (`lastuid`), so an action executed again after a doubt changes nothing twice.
The reads are answered from a cache this class keeps with its own etcd watch on `alarm/`, `tour/` and `ptz/`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import DEFAULTS
from ..sense import (
    Command,
    CommandRequest,
    ResultCode,
    SenseError,
    classify,
    el,
    encode,
    error_xml,
    parse_result,
    result_xml,
)
from ..sense.catalogue import Param, ParamType, parse_int, validate
from ..sense.xml import Element
from ..tasks import cancel_and_wait
from .alarms import AlarmMaker
from .etcd import (
    EtcdClient,
    EtcdError,
    EtcdUnavailable,
    EtcdUnknown,
    KeyValue,
    WatchCompacted,
    cmp_create,
    cmp_mod,
    op_put,
)
from .servers import MaybeSent, NotSent

if TYPE_CHECKING:
    from .core import Manager

log = logging.getLogger(__name__)

READS = {"getalarms": "alarm", "gettours": "tour", "getptzcontrol": "ptz"}  # and the keys each is answered from
ACTIONS = frozenset({"acknowledgealarm", "closealarm", "starttour", "pausetour", "resumetour", "stoptour", "tourstep"})
# Every PTZ action that moves a dome (gotoPreset and setPreset stay usable by all); holdPosition and setPosition are
# not in the catalogue but are PTZ moves of the Sense API all the same.
PTZ_MOVES = frozenset({"setrelativeposition", "setabsoluteposition", "holdposition", "setposition"})
PTZ_PRESETS = frozenset({"gotopreset", "setpreset"})
SPEEDS = ("pan", "tilt", "zoom", "focus", "iris")  # setRelativePosition's: all given 0 is a full stop
KINDS = ("alarm", "tour", "ptz")
RETRIES = 5
_RUN_OK = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_NAME_OK = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")
MAX_STEPS = 200
_PRIORITY = Param("priority", ParamType.INT, min=1, max=10)


@dataclass
class Entry:
    value: dict[str, Any]
    mod: int


@dataclass
class Change:
    """What an action makes of a key: the new value (None: nothing to write), the answer, the lease."""

    value: dict[str, Any] | None
    answer: bytes
    lease: int = 0


def ok(text: str = "Ok") -> bytes:
    return result_xml(ResultCode.OK, text)


def refuse(code: ResultCode, text: str) -> SenseError:
    return SenseError.of(code, text)


class Ops:
    """Alarms, tours and PTZ control for one manager. Emits events into the manager's event log
    (AlarmRaised, AlarmAcknowledged, AlarmClosed, TourStarted/Paused/Resumed/Stopped, PtzControlTaken) when its
    cache sees a change, so both managers' logs tell the same story whichever of them made it."""

    def __init__(self, manager: Manager) -> None:
        self.m = manager
        self.s = manager.s
        self.cache: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self.loaded: set[str] = set()
        # Each kind's cache version: changes with every change the watch (or our own write) brings; from a random
        # start, so a revision one manager (or process) gave never means anything to another.
        self.version = dict.fromkeys(KINDS, secrets.randbelow(2**52) + 1)
        self._down: dict[str, float] = dict.fromkeys(KINDS, -math.inf)  # since when (monotonic) a watch is not up
        self.alarms = AlarmMaker(self)
        self._tasks: list[asyncio.Task[None]] = []
        self._buckets: dict[int, int] = {}
        self._ptz_lease: tuple[float, int] = (float("-inf"), 0)

    # -- life cycle ------------------------------------------------------------------------------------

    @property
    def client(self) -> EtcdClient:  # the coordination's: one session to the members
        return self.m.coord.client

    @property
    def prefix(self) -> str:
        return self.m.coord.prefix

    def key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}/{name}"

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._watch(k), name=f"ops-watch-{k}") for k in KINDS]
        self._tasks += self.alarms.start()

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)

    def event(self, kind: str, text: str, value: str = "", **where: str) -> None:
        log.info("%s: %s", kind, text)
        self.m.events.add(kind, text, value, **where)

    # -- the cache, by its own watch ---------------------------------------------------------------------

    async def _watch(self, kind: str) -> None:
        start = 0
        prefix = f"{self.prefix}{kind}/"
        while True:
            try:
                if start == 0:
                    kvs, revision = await self.client.get_prefix(prefix)
                    self.cache[kind] = {kv.key[len(prefix) :]: Entry(kv.json(), kv.mod_revision) for kv in kvs}
                    self.version[kind] += 1
                    self.loaded.add(kind)
                    start = revision + 1
                async for ev in self.client.watch(prefix, start):
                    self._down.pop(kind, None)  # the watch streams (its first message tells it was created)
                    start = max(start, ev.revision + 1)
                    if ev.kind == "delete":
                        if self.cache[kind].pop(ev.kv.key[len(prefix) :], None) is not None:
                            self.version[kind] += 1
                    elif ev.kind == "put":
                        self.learn(kind, ev.kv.key[len(prefix) :], ev.kv.json(), ev.kv.mod_revision)
            except WatchCompacted as exc:
                log.warning("%s; reading the %s keys again", exc, kind)
                start = 0
            except EtcdError as exc:
                log.info("etcd watch of %s keys: %s", kind, exc)
            except asyncio.CancelledError:
                raise
            except Exception:  # a dead watch would leave the consoles a stale picture: start it again
                log.exception("etcd watch of %s keys failed; starting it again", kind)
            self._down.setdefault(kind, time.monotonic())
            await asyncio.sleep(0.1)

    def fresh(self, kind: str) -> bool:
        """Whether the cache of `kind` can answer: etcd usable and the watch streaming (a break of up to a
        second, while it connects again, is not a loss)."""
        down = self._down.get(kind)
        return self.m.coord.health.ok and (down is None or time.monotonic() - down < DEFAULTS.health_poll)

    def learn(self, kind: str, name: str, value: dict[str, Any], mod: int) -> None:
        """A key's new value (from the watch, or our own write first): tell the log what changed."""
        old = self.cache[kind].get(name)
        if old is not None and old.mod >= mod:
            return
        self.cache[kind][name] = Entry(value, mod)
        self.version[kind] += 1
        try:
            if kind == "alarm":
                self.alarms.changed(old.value if old else None, value)
            elif kind == "tour":
                _tour_changed(self, old.value if old else None, value)
            else:
                _ptz_changed(self, old.value if old else None, value)
        except (TypeError, ValueError, KeyError):
            log.warning("%s key %s holds a value of an unexpected shape", kind, name)

    # -- leases --------------------------------------------------------------------------------------------

    async def bucket_lease(self) -> int:
        """A lease for the dedup window (one per tenth of it, as the uids have)."""
        window = self.s.dedup_window
        length = max(1.0, window / 10)
        bucket = int(time.time() // length)
        lease = self._buckets.get(bucket)
        if lease is None:
            lease = await self.client.grant(int(window + 2 * length))
            self._buckets = {b: v for b, v in self._buckets.items() if b >= bucket - 1}
            self._buckets[bucket] = lease
        return lease

    async def ptz_lease(self) -> int:
        """A lease of ptz_hold + 1 s, shared by the moves of one second: a key on it lives at least ptz_hold."""
        at, lease = self._ptz_lease
        now = time.monotonic()
        if now - at > 1.0:
            lease = await self.client.grant(math.ceil(self.s.ptz_hold) + 2)
            self._ptz_lease = (now, lease)
        return lease

    async def granted(self, lease: Awaitable[int]) -> int:
        """A lease for an action's write: etcd not granting it means nothing was written (NotSent, as a write)."""
        try:
            return await lease
        except EtcdError as exc:
            raise self._not_written(exc, False) from None

    # -- what the manager asks -----------------------------------------------------------------------------

    @staticmethod
    def answers(req: CommandRequest) -> bool:
        return req.key in READS

    @staticmethod
    def needs_uid(cmd: Command) -> bool:
        return cmd.name.lower() in ACTIONS

    @staticmethod
    def handles(cmd: Command, req: CommandRequest) -> bool:
        """Whether `_execute` hands this action to us instead of the server."""
        name = cmd.name.lower()
        if name in ACTIONS:
            return True
        return name in PTZ_MOVES | PTZ_PRESETS and ("console" in req.params or "priority" in req.params)

    def read(self, req: CommandRequest) -> bytes:
        try:
            values = validate(classify(req.command), req.params)
            if not self.fresh(READS[req.key]):  # not final: the console reads from the other manager
                raise refuse(
                    ResultCode.COORDINATION_UNAVAILABLE,
                    "this manager has lost the etcd cluster: its alarms, tours and PTZ control may be stale",
                )
            if req.key == "getalarms":
                return self.alarms.answer(str(values.get("state", "open")), str(values.get("since", "")))
            if req.key == "gettours":
                return result_xml(0, None, self._tours_xml())
            return result_xml(0, None, self._ptz_xml())
        except SenseError as exc:
            return error_xml(exc)

    async def execute(self, req: CommandRequest, cmd: Command, uid: str, deadline: float) -> bytes:
        """Execute one of our actions under `uid`. Raises NotSent / MaybeSent as ServerFollower.execute does
        (for the etcd write, the tour step's camera switch, the forwarded PTZ move): the manager's in-doubt
        handling stays the same."""
        name = cmd.name.lower()
        try:
            if name in PTZ_MOVES | PTZ_PRESETS:
                return await self._ptz(req, cmd, uid, deadline)
            values = validate(cmd, req.params)
            station = str(values.get("station") or "unknown station")[:80]
            if name in ("acknowledgealarm", "closealarm"):
                return await self.alarms.act(name, values, station, uid)
            if name == "starttour":
                return await self._start_tour(values, station, uid)
            if name == "tourstep":
                return await self._tour_step(values, uid, deadline)
            return await self._tour_state(name, str(values["run"]), station, uid)
        except (NotSent, MaybeSent):
            raise
        except SenseError as exc:
            return error_xml(exc)

    # -- read-modify-write ---------------------------------------------------------------------------------

    async def rmw(
        self, kind: str, name: str, uid: str, decide: Callable[[dict[str, Any] | None], Change]
    ) -> tuple[bytes, bool]:
        """Read the key, let `decide` make the change, write it under a compare on what was read; again on a
        conflict. (answer, True when this call or an earlier attempt of the same uid changed it)."""
        key = self.key(kind, name)
        unknown = False
        for attempt in range(RETRIES):
            try:
                kv = await self.client.get(key)
            except EtcdError as exc:
                if attempt + 1 < RETRIES and isinstance(exc, EtcdUnknown):
                    await asyncio.sleep(0.05)
                    continue
                raise self._not_written(exc, unknown) from None
            cur = _value(kv)
            if cur is not None and cur.get("lastuid") == uid:
                return ok(), True  # an earlier attempt of this uid whose answer was lost made it
            change = decide(cur)  # a refusal raises its SenseError
            if change.value is None:
                return change.answer, False
            value = {**change.value, "lastuid": uid}
            compare = cmp_mod(key, kv.mod_revision) if kv is not None else cmp_create(key, 0)
            try:
                r = await self.client.txn([compare], [op_put(key, json.dumps(value), change.lease)])
            except EtcdUnknown:
                unknown = True  # maybe written: the next read tells (our lastuid)
                continue
            except EtcdError as exc:
                raise self._not_written(exc, unknown) from None
            if r.succeeded:
                self.learn(kind, name, value, r.revision)
                return change.answer, True
        if unknown:
            raise MaybeSent.of(ResultCode.COORDINATION_UNAVAILABLE, "etcd did not confirm the change")
        raise NotSent.of(
            ResultCode.COORDINATION_UNAVAILABLE, f"{kind} {name} changed under {RETRIES} attempts to change it"
        )

    @staticmethod
    def _not_written(exc: EtcdError, unknown: bool) -> SenseError:
        if unknown and not isinstance(exc, EtcdUnavailable):
            return MaybeSent.of(ResultCode.COORDINATION_UNAVAILABLE, f"etcd did not confirm the change ({exc})")
        return NotSent.of(ResultCode.COORDINATION_UNAVAILABLE, f"the managers' etcd cluster cannot be used ({exc})")

    # -- tours -----------------------------------------------------------------------------------------------

    async def _start_tour(self, v: dict[str, object], station: str, uid: str) -> bytes:
        run = str(v["run"])
        if not _RUN_OK.fullmatch(run):
            raise refuse(ResultCode.TOUR_STATE, f"run {run[:60]!r} must be 1 to 40 letters, digits, - or _")
        ids = {k: str(v[k]).strip() for k in ("divaid", "layoutid", "panelid")}
        for k, x in ids.items():
            if not (x.isascii() and x.isdigit()):
                raise refuse(ResultCode.TOUR_STATE, f"{k} {x[:40]!r} is not a decimal id")
        try:
            dwell = int(str(v["dwell"]).strip())
        except ValueError:
            raise refuse(ResultCode.TOUR_STATE, f"dwell {str(v['dwell'])[:20]!r} is not whole seconds") from None
        if not 2 <= dwell <= 3600:
            raise refuse(ResultCode.TOUR_STATE, f"dwell {dwell} s is outside 2..3600 s")
        steps = self._steps(str(v["cameras"]))
        name = str(v.get("name") or run).strip()
        if not _NAME_OK.fullmatch(name):
            raise refuse(ResultCode.TOUR_STATE, "the tour's name must be 1 to 80 characters without control characters")
        now = time.time()
        value = {
            "run": run,
            "name": name,
            "owner": str(v.get("owner") or station)[:80],
            **ids,
            "dwell": dwell,
            "steps": steps,
            "state": "running",
            "step": -1,
            "at": now,
            "due_at": now,
            "left": 0.0,
            "by": station,
        }

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is not None:
                raise refuse(ResultCode.TOUR_STATE, f"tour run {run} was already started ({cur.get('state')})")
            return Change(value, ok(f"tour {name} started"))

        answer, _ = await self.rmw("tour", run, uid, decide)
        return answer

    def _steps(self, text: str) -> list[dict[str, Any]]:
        steps = []
        for part in text.split(","):
            cam, _, preset = part.strip().partition(":")
            if not (cam.isascii() and cam.isdigit()) or (preset and not (preset.isascii() and preset.isdigit())):
                raise refuse(ResultCode.TOUR_STATE, f"cameras part {part[:40]!r} is not CAMERAID or CAMERAID:PRESET")
            if preset and not 1 <= int(preset) <= 64:
                raise refuse(ResultCode.TOUR_STATE, f"preset {preset} of camera {cam} is outside 1..64")
            serverid = self.alarms.lists.serverid_of(cam)
            if serverid is None:
                raise refuse(ResultCode.TOUR_STATE, f"camera {cam} is not in the active server's device list")
            steps.append({"cameraid": str(int(cam)), "serverid": serverid, "preset": int(preset) if preset else 0})
        if not steps or len(steps) > MAX_STEPS:
            raise refuse(ResultCode.TOUR_STATE, f"a tour needs 1 to {MAX_STEPS} cameras (cameras=101,102:3,...)")
        return steps

    async def _tour_state(self, name: str, run: str, station: str, uid: str) -> bytes:
        lease = await self.granted(self.bucket_lease()) if name == "stoptour" else 0
        verb = {"pausetour": "paused", "resumetour": "running", "stoptour": "stopped"}[name]

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is None:
                raise refuse(ResultCode.TOUR_STATE, f"no tour run {run} (see getTours)")
            state = cur.get("state")
            title = f"tour {cur.get('name', run)}"
            if state == verb:
                return Change(None, ok(f"{title} is already {verb} (by {cur.get('by', '?')})"))
            if state == "stopped":
                raise refuse(ResultCode.TOUR_STATE, f"{title} is stopped; start a new run")
            new = {**cur, "state": verb, "by": station}
            now = time.time()
            if verb == "paused":
                new["left"] = max(0.0, float(cur.get("due_at", now)) - now)
            elif verb == "running":
                new["due_at"] = now + float(cur.get("left", 0.0))
            return Change(new, ok(f"{title} {verb}"), lease)

        answer, _ = await self.rmw("tour", run, uid, decide)
        return answer

    async def _tour_step(self, v: dict[str, object], uid: str, deadline: float) -> bytes:
        """Record step N, then show its camera (and preset). Recorded first, so whatever fails after it the tour
        goes on from N + 1 and no step runs twice: another uid for step N (a console trying again after this one
        expired or came back in doubt) is refused once N is recorded, and a manager that held this uid and wakes
        up late finds N recorded by someone else and shows nothing. The camera switch carries this uid, so the
        server tells whether it ran when the answer is lost. A switch that fails leaves step N unshown (the
        failure is the answer); the tour does not wait on it."""
        run, n = str(v["run"]), int(str(v["step"]))
        key = self.key("tour", run)
        written: dict[str, Any] = {}
        before: dict[str, Any] = {}

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is None:
                raise refuse(ResultCode.TOUR_STATE, f"no tour run {run} (see getTours)")
            step, state = int(cur.get("step", -1)), cur.get("state")
            if state != "running":
                raise refuse(ResultCode.TOUR_STATE, f"tour {cur.get('name', run)} is {state}; no step executes")
            if n != step + 1:
                raise refuse(
                    ResultCode.TOUR_STATE, f"step {n} of tour run {run} is out of order: the next step is {step + 1}"
                )
            now = time.time()
            before.update(step=step, at=cur.get("at", now), due_at=cur.get("due_at", now))
            written.update(cur, step=n, at=now, due_at=now + float(cur.get("dwell", 10)))
            return Change(dict(written), b"", 0)

        _, recorded = await self.rmw("tour", run, uid, decide)
        if not recorded:  # pragma: no cover - decide refuses or writes; rmw raises when it cannot write
            raise refuse(ResultCode.TOUR_STATE, f"step {n} of tour run {run} was not recorded")
        tour = written
        if not tour:  # an earlier attempt of this uid recorded the step: show it (again)
            try:
                tour = _value(await self.client.get(key)) or {}
            except EtcdError as exc:
                raise self._not_written(exc, False) from None
        steps = tour.get("steps") or []
        if not steps:
            raise refuse(ResultCode.TOUR_STATE, f"tour run {run} has no steps")
        try:
            return await self._switch(tour, steps[n % len(steps)], uid, deadline)
        except NotSent:
            if written:  # recorded by this call, certainly not shown: the console's next uid for step N shows it
                await self._unrecord(run, n, uid, before)
            raise

    async def _unrecord(self, run: str, n: int, uid: str, before: dict[str, Any]) -> None:
        """Step N back to N - 1 (and its due time), while the run's record is still this uid's step N."""

        def decide(cur: dict[str, Any] | None) -> Change:
            if cur is None or cur.get("lastuid") != uid or int(cur.get("step", -1)) != n:
                return Change(None, b"")  # moved on (paused, stopped, stepped): leave it
            return Change({**cur, **before}, b"")

        try:
            await self.rmw("tour", run, f"{uid}-undo", decide)
        except (NotSent, MaybeSent) as exc:  # step N stays recorded: the tour goes on from N + 1
            log.warning("tour run %s: step %d not shown, and it stays recorded (%s)", run, n, exc.description)

    async def _switch(self, tour: dict[str, Any], target: dict[str, Any], uid: str, deadline: float) -> bytes:
        cam = str(target["cameraid"])
        query = encode(
            "selectCamera",
            {
                "cameraview": f"cameraid:{cam}",
                "divaid": tour["divaid"],
                "layoutid": tour["layoutid"],
                "panelid": tour["panelid"],
            },
            uid,
        )
        body = await self.m.servers.execute(query, deadline)
        preset = int(target.get("preset") or 0)
        if not preset or not parse_result(body).ok:
            return body
        params = {"cameraid": cam, "preset": preset}
        if target.get("serverid"):
            params = {"serverid": target["serverid"], **params}
        try:
            answer = parse_result(
                await self.m.servers.execute(encode("gotoPreset", params, f"{uid}-p"), deadline + 0.5)
            )
        except SenseError as exc:  # the camera is shown; its preset is a detail the next round repeats
            return ok(f"Ok; preset {preset} of camera {cam} not recalled: {exc.description}")
        return body if answer.ok else ok(f"Ok; preset {preset} of camera {cam} not recalled: {answer.message()}")

    def _tours_xml(self) -> Element:
        now = time.time()
        rows = []
        for run, e in sorted(self.cache["tour"].items()):
            t = e.value
            steps = [
                el(
                    "step",
                    None,
                    number=i,
                    cameraid=s.get("cameraid", ""),
                    serverid=s.get("serverid", ""),
                    **({"preset": s["preset"]} if s.get("preset") else {}),
                )
                for i, s in enumerate(t.get("steps") or [])
            ]
            state = str(t.get("state", ""))
            left = float(t.get("left", 0.0)) if state == "paused" else float(t.get("due_at", now)) - now
            rows.append(
                el(
                    "tour",
                    None,
                    *(el(k, t.get(k, "")) for k in ("name", "owner", "divaid", "layoutid", "panelid", "state")),
                    el("step", t.get("step", -1)),
                    el("steps", None, *steps, count=len(steps)),
                    el("dwell", t.get("dwell", "")),
                    el("due", 0 if state == "stopped" else math.ceil(left)),
                )
            )
            rows[-1].insert(0, el("run", run))
        return el("tours", None, *rows, count=len(rows))

    # -- PTZ control ------------------------------------------------------------------------------------------

    async def _ptz(self, req: CommandRequest, cmd: Command, uid: str, deadline: float) -> bytes:
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
            serverid = str(values.get("serverid") or self.alarms.lists.serverid_of(camera) or "0")
            try:
                await self._take(console, int(str(priority)), serverid, camera)
            except MaybeSent as exc:  # the control key's write is in doubt; the move itself certainly was not sent
                raise NotSent.of(ResultCode.COORDINATION_UNAVAILABLE, exc.description) from None
        return await self.m.servers.execute(encode(req.command, params, uid), deadline)

    async def _take(self, console: str, priority: int, serverid: str, camera: str) -> None:
        hold = self.s.ptz_hold
        lease = await self.granted(self.ptz_lease())
        taken: list[str] = []

        def decide(cur: dict[str, Any] | None) -> Change:
            now = time.time()
            holder = str(cur.get("console", "")) if cur else ""
            held = cur is not None and holder != console and now - float(cur.get("at", 0)) < hold
            if held and cur is not None and priority <= int(cur.get("priority", 0)):
                left = math.ceil(float(cur.get("at", 0)) + hold - now)
                raise refuse(ResultCode.PTZ_IN_USE, f"camera {camera} is in use by {holder} ({left} s left)")
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
        await self.rmw("ptz", f"{serverid}-{camera}", f"ptz-{time.monotonic_ns()}", decide)

    def _ptz_xml(self) -> Element:
        now = time.time()
        rows = []
        for e in self.cache["ptz"].values():
            p = e.value
            remaining = math.ceil(float(p.get("at", 0)) + self.s.ptz_hold - now)
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


def _value(kv: KeyValue | None) -> dict[str, Any] | None:
    return None if kv is None else kv.json()


def _tour_changed(ops: Ops, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    state = new.get("state")
    if old is not None and old.get("state") == state:
        return
    kind = {"running": "TourResumed" if old else "TourStarted", "paused": "TourPaused", "stopped": "TourStopped"}
    if state not in kind:
        return
    verb = {"TourStarted": "started", "TourResumed": "resumed", "TourPaused": "paused", "TourStopped": "stopped"}
    k = kind[str(state)]
    run = str(new.get("run", ""))
    ops.event(k, f"tour {new.get('name', run)} (run {run}) {verb[k]} by {new.get('by', '?')}", run)


def _ptz_changed(ops: Ops, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    took = str(new.get("tookfrom", ""))
    if not took or (old is not None and old.get("console") == new.get("console")):
        return
    where = f"{new.get('serverid', '')}/{new.get('cameraid', '')}"
    text = f"{new.get('console')} (priority {new.get('priority')}) took camera {where} from {took}"
    ops.event(
        "PtzControlTaken", text, text, serverid=str(new.get("serverid", "0")), deviceid=str(new.get("cameraid", "0"))
    )
