"""Watch both servers (/info) and both managers (getManagerStatus, getEvents) on tasks of their own, and keep
a SystemView that subscribers hear about as it changes, with a reason."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import DEFAULTS
from ..sense import Result, ResultCode, SenseError, encode, parse_result, parse_xml
from ..tasks import cancel_and_wait
from .http import HttpLink, LinkError
from .view import Change, ManagerState, ServerState, SystemView, now_text

log = logging.getLogger(__name__)
Listener = Callable[[SystemView, list[Change]], None]
NAMES = ("primary", "secondary")


@dataclass
class EventRecord:
    manager: str
    eventid: int
    eventtype: str
    description: str
    value: str
    time: str
    serverid: str
    deviceid: str


class SystemWatch:
    def __init__(
        self,
        http: HttpLink,
        managers: list[str],
        servers: list[str],
        interval: float = DEFAULTS.watch_interval,
        timeout: float = DEFAULTS.watch_timeout,
    ) -> None:
        self.http = http
        self.interval = interval
        self.timeout = timeout
        self.view = SystemView(
            servers={NAMES[i]: ServerState(NAMES[i], u.rstrip("/")) for i, u in enumerate(servers[:2])},
            managers={NAMES[i]: ManagerState(NAMES[i], u.rstrip("/")) for i, u in enumerate(managers[:2])},
        )
        self._listeners: list[Listener] = []
        self._event_listeners: list[Callable[[EventRecord], None]] = []
        self._queues: list[asyncio.Queue[tuple[SystemView, list[Change]]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.changes: list[Change] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def subscribe_events(self, listener: Callable[[EventRecord], None]) -> None:
        self._event_listeners.append(listener)

    async def updates(self) -> Any:
        """Async iterator of (view snapshot, changes)."""
        q: asyncio.Queue[tuple[SystemView, list[Change]]] = asyncio.Queue()
        self._queues.append(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.remove(q)

    def start(self) -> None:
        for s in self.view.servers.values():
            self._tasks.append(asyncio.create_task(self._watch_server(s), name=f"watch-{s.label}"))
        for m in self.view.managers.values():
            self._tasks.append(asyncio.create_task(self._watch_manager(m), name=f"watch-{m.label}"))
        self._tasks.append(asyncio.create_task(self._follow_events(), name="watch-events"))

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)

    def emit(self, changes: list[Change]) -> None:
        if not changes:
            return
        self.changes.extend(changes)
        del self.changes[:-500]
        for c in changes:
            log.info("%s: %s", c.part, c.text)
        snap = self.view.snapshot()
        for fn in list(self._listeners):
            try:
                fn(snap, changes)
            except Exception:  # a broken listener must not stop the watch
                log.exception("system view listener failed")
        for q in self._queues:
            q.put_nowait((snap, changes))

    # -- servers ---------------------------------------------------------------------------------------

    async def _watch_server(self, s: ServerState) -> None:
        while True:
            state, epoch, reason = "unreachable", s.epoch, ""
            try:
                reply = await self.http.get(s.url + "/info", timeout=self.timeout)
                root = parse_xml(reply.body)
                if root.tag != "apiinfo":
                    raise SenseError(0, f"/info answered <{root.tag}>")
                state = root.findtext("state") or "reachable"  # a real Sense server: reachable is all we know
                epoch = int(root.findtext("epoch") or 0)
                reason = root.findtext("reason") or ""
            except (LinkError, SenseError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or getattr(exc, "description", None) or str(exc)
            self._set_server(s, state, epoch, reason)
            await asyncio.sleep(self.interval)

    def _set_server(self, s: ServerState, state: str, epoch: int, reason: str) -> None:
        if state == s.state and epoch == s.epoch:
            return
        old = s.state
        s.state, s.epoch, s.since, s.reason = state, epoch, now_text(), reason
        if old == "unknown" and state != "unreachable":
            text = f"{s.label} is {state}"
        elif state == "unreachable":
            text = f"{s.label} unreachable ({reason})"
        elif state == "active":
            text = f"{s.label} is active (epoch {epoch})" + (f": {reason}" if reason and old != "unknown" else "")
        else:
            text = f"{s.label} is {state}"
        self.emit([Change(s.since, s.label, text)])

    # -- managers --------------------------------------------------------------------------------------

    async def _watch_manager(self, m: ManagerState) -> None:
        while True:
            try:
                reply = await self.http.get(m.url + "/command?" + encode("getManagerStatus"), timeout=self.timeout)
                r = parse_result(reply.body)
                refused = r.errorcode == ResultCode.NOT_AUTHORIZED
                self._set_token(m, refused or r.text("managerstatus/caller/token") in ("missing", "invalid"))
                if refused:  # reads need a token too, and ours is refused
                    self._set_manager(m, True, "unknown", False, 0, "", r.message(), m.in_doubt)
                    await asyncio.sleep(self.interval)
                    continue
                if not r.ok:
                    raise SenseError(r.errorcode, r.message())
                self._set_manager(
                    m,
                    True,
                    r.text("managerstatus/mode"),
                    r.text("managerstatus/forwarding") == "true",
                    int(r.text("managerstatus/queue", "0") or 0),
                    r.text("managerstatus/activeservername"),
                    r.text("managerstatus/reason"),
                    int(r.text("managerstatus/counts/indoubt", "0") or 0),
                )
                self._set_etcd(m, r)
            except (LinkError, SenseError, ValueError) as exc:
                why = getattr(exc, "reason", None) or getattr(exc, "description", None) or str(exc)
                self._set_manager(m, False, "down", False, 0, "", why, m.in_doubt)
            await asyncio.sleep(self.interval)

    def _set_etcd(self, m: ManagerState, r: Result) -> None:
        ok = r.text("managerstatus/etcd/ok") == "true"
        up = int(r.text("managerstatus/etcd/reachable", "0") or 0)
        members = int(r.text("managerstatus/etcd/members", "0") or 0)
        trial = r.text("managerstatus/etcd/trial") == "true"
        if ok != m.etcd_ok or up != m.etcd_up:
            text = (
                f"{m.label}: etcd {up} of {members} members reached"
                if ok
                else f"{m.label}: etcd has no quorum ({r.text('managerstatus/etcd/error')[:120]}); "
                "actions cannot execute"
            )
            m.etcd_ok, m.etcd_up, m.etcd_members, m.etcd_trial = ok, up, members, trial
            m.etcd_error = r.text("managerstatus/etcd/error")
            self.emit([Change(now_text(), m.label, text)])
        m.etcd_members, m.etcd_trial = members, trial

    def _set_token(self, m: ManagerState, refused: bool) -> None:
        if refused != m.token_refused:
            m.token_refused = refused
            text = (
                f"{m.label} refuses this console's access token: actions through it are refused. "
                "Set the token in File > Settings (or SENSETWIN_TOKEN)"
                if refused
                else f"{m.label} accepts this console's access token"
            )
            self.emit([Change(now_text(), m.label, text)])

    def _set_manager(
        self,
        m: ManagerState,
        reachable: bool,
        mode: str,
        forwarding: bool,
        queue: int,
        server: str,
        reason: str,
        in_doubt: int,
    ) -> None:
        changes = []
        if reachable != m.reachable or mode != m.mode:
            when = now_text()
            if not reachable:
                text = f"{m.label} stopped answering ({reason})"
            elif not m.reachable and m.mode in ("unknown",):
                text = f"{m.label} is in {mode} mode"
            elif not m.reachable:
                text = f"{m.label} is back, in {mode} mode"
            else:
                text = f"{m.label} switched to {mode} mode" + (f": {reason}" if reason else "")
            m.since = when
            changes.append(Change(when, m.label, text))
        if server != m.server and reachable and server:
            changes.append(Change(now_text(), m.label, f"{m.label} now sends to the {server} server"))
        if in_doubt > m.in_doubt:
            changes.append(Change(now_text(), m.label, f"{m.label} reports {in_doubt - m.in_doubt} action(s) in doubt"))
        m.reachable, m.mode, m.forwarding, m.queue, m.reason, m.in_doubt = (
            reachable,
            mode,
            forwarding,
            queue,
            reason,
            in_doubt,
        )
        if server:
            m.server = server
        if changes or forwarding != m.forwarding:
            self.emit(changes)

    # -- events ----------------------------------------------------------------------------------------

    async def _follow_events(self) -> None:
        """Long-poll getEvents on the manager that executes now (its events merge the server's and its own)."""
        source: str | None = None
        last = 0
        while True:
            m = self.view.executing_manager or next((x for x in self.view.managers.values() if x.reachable), None)
            if m is None:
                await asyncio.sleep(self.interval)
                continue
            try:
                if m.name != source:
                    r = parse_result(
                        (await self.http.get(m.url + "/command?" + encode("getEvents"), timeout=self.timeout)).body
                    )
                    events = r.root.find("events")
                    last = int(events.get("lasteventid", "0")) if events is not None else 0
                    source = m.name
                    continue
                wait_ms = int(DEFAULTS.health_poll * 1000)
                reply = await self.http.get(
                    m.url + "/command?" + encode("getEvents", {"startid": last, "limit": 200, "wait": wait_ms}),
                    timeout=DEFAULTS.health_poll + self.timeout,
                )
                r = parse_result(reply.body)
                for e in r.root.iterfind("events/event"):
                    rec = EventRecord(
                        m.name,
                        int(e.findtext("eventid") or 0),
                        e.findtext("eventtype") or "",
                        e.findtext("eventdescription") or "",
                        e.findtext("eventvalue") or "",
                        e.findtext("eventtime") or "",
                        e.findtext("serverid") or "",
                        e.findtext("deviceid") or "",
                    )
                    last = max(last, rec.eventid)
                    for fn in list(self._event_listeners):
                        fn(rec)
            except (LinkError, SenseError, ValueError):
                source = None
                await asyncio.sleep(self.interval)
