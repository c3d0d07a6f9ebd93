"""The shared operator workflows' machinery (docs/workflows-protocol.md): their etcd cache and its watch, leases,
the dispatch of their reads and actions, read-modify-write; the workflows are alarms.py, tours.py and ptz.py."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import DEFAULTS
from ..sense import Command, CommandRequest, ResultCode, SenseError, classify, error_xml, result_xml
from ..sense.catalogue import PTZ_MOVES, PTZ_PRESETS, validate
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
KINDS = ("alarm", "tour", "ptz")
RETRIES = 5


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
    cache sees a change, so both managers' logs tell the same story whichever of them made it.

    `Ops` is owned by the Manager. Its actions run inside the manager's uid machinery (claimed, executed once,
    answered from `done`); each state change is a read-modify-write under a compare on the key's mod_revision, and
    carries the uid that made it (`lastuid`), so an action executed again after a doubt changes nothing twice.
    The reads are answered from a cache this class keeps with its own etcd watch on `alarm/`, `tour/` and `ptz/`."""

    def __init__(self, manager: Manager) -> None:
        from .ptz import PtzControl  # here, not above: they import Change, ok and refuse from this module
        from .tours import Tours

        self.m = manager
        self.s = manager.s
        self.cache: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self.loaded: set[str] = set()
        # Each kind's cache version: changes with every change the watch (or our own write) brings; from a random
        # start, so a revision one manager (or process) gave never means anything to another.
        self.version = dict.fromkeys(KINDS, secrets.randbelow(2**52) + 1)
        self._down: dict[str, float] = dict.fromkeys(KINDS, -math.inf)  # since when (monotonic) a watch is not up
        self.alarms = AlarmMaker(self)
        self.tours = Tours(self)
        self.ptz = PtzControl(self)
        self._tasks: list[asyncio.Task[None]] = []
        self._buckets: dict[int, int] = {}

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
                self.tours.changed(old.value if old else None, value)
            else:
                self.ptz.changed(old.value if old else None, value)
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

    async def granted(self, lease: Awaitable[int]) -> int:
        """A lease for an action's write: etcd not granting it means nothing was written (NotSent, as a write)."""
        try:
            return await lease
        except EtcdError as exc:
            raise self.not_written(exc, False) from None

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
                return result_xml(0, None, self.tours.xml())
            return result_xml(0, None, self.ptz.xml())
        except SenseError as exc:
            return error_xml(exc)

    async def execute(self, req: CommandRequest, cmd: Command, uid: str, deadline: float, source: str = "") -> bytes:
        """Execute one of our actions under `uid`. Raises NotSent / MaybeSent as ServerFollower.execute does
        (for the etcd write, the tour step's camera switch, the forwarded PTZ move): the manager's in-doubt
        handling stays the same."""
        name = cmd.name.lower()
        try:
            if name in PTZ_MOVES | PTZ_PRESETS:
                return await self.ptz.move(req, cmd, uid, deadline, source)
            values = validate(cmd, req.params)
            station = str(values.get("station") or "unknown station")[:80]
            if name in ("acknowledgealarm", "closealarm"):
                return await self.alarms.act(name, values, station, uid)
            if name == "starttour":
                return await self.tours.start(values, station, uid)
            if name == "tourstep":
                return await self.tours.step(values, uid, deadline)
            return await self.tours.set_state(name, str(values["run"]), station, uid)
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
                raise self.not_written(exc, unknown) from None
            cur = value_of(kv)
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
                raise self.not_written(exc, unknown) from None
            if r.succeeded:
                self.learn(kind, name, value, r.revision)
                return change.answer, True
        if unknown:
            raise MaybeSent.of(ResultCode.COORDINATION_UNAVAILABLE, "etcd did not confirm the change")
        raise NotSent.of(
            ResultCode.COORDINATION_UNAVAILABLE, f"{kind} {name} changed under {RETRIES} attempts to change it"
        )

    @staticmethod
    def not_written(exc: EtcdError, unknown: bool) -> SenseError:
        """An etcd error as an action's write: in doubt (MaybeSent) after an unconfirmed attempt, else NotSent."""
        if unknown and not isinstance(exc, EtcdUnavailable):
            return MaybeSent.of(ResultCode.COORDINATION_UNAVAILABLE, f"etcd did not confirm the change ({exc})")
        return NotSent.of(ResultCode.COORDINATION_UNAVAILABLE, f"the managers' etcd cluster cannot be used ({exc})")


def value_of(kv: KeyValue | None) -> dict[str, Any] | None:
    return None if kv is None else kv.json()
